//! One inventory host for the length of a run: its variables, its connection (opened on first use and kept),
//! its gathered facts, the handlers notified on it and whether it is still in the play.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use indexmap::IndexMap;
use serde_json::Value;

use crate::transport::{ConnectError, ConnectOptions, Connection};

/// Where a host stands in the run. A host that failed or could not be reached is left out of later tasks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostHealth {
    Active,
    Failed { task: String },
    Unreachable { task: String, reason: String },
}

/// One inventory host during a run: its variables, its connection (opened on first use and kept), its facts.
pub struct HostState {
    pub name: String,
    pub address: String,
    pub groups: Vec<String>,
    pub vars: IndexMap<String, Value>,
    /// Where each variable's winning value was written (`path:line`), for errors resolving it.
    pub origins: std::collections::HashMap<String, String>,
    /// The variables resolved as Ansible resolves them, built on first read (see `HostHandle::lazy_vars`).
    pub(super) lazy_vars: std::sync::OnceLock<Arc<crate::template::lazy_vars::LazyVars>>,
    pub connect_options: ConnectOptions,
    connection: tokio::sync::Mutex<Option<Arc<Connection>>>,
    pub facts: Mutex<Option<rhai::Map>>,
    pub health: Mutex<HostHealth>,
    /// --check: a step reported it would change this host (what later steps' missing preconditions may be).
    planned_changes: AtomicBool,
    /// Handlers notified on this host and not run yet (Ansible's pending notifications).
    notified: Mutex<indexmap::IndexSet<String>>,
}

impl HostState {
    pub fn new(
        name: String,
        groups: Vec<String>,
        vars: IndexMap<String, Value>,
        connect_options: ConnectOptions,
    ) -> HostState {
        HostState {
            address: connect_options.address.clone(),
            name,
            groups,
            vars,
            origins: std::collections::HashMap::new(),
            lazy_vars: std::sync::OnceLock::new(),
            connect_options,
            connection: tokio::sync::Mutex::new(None),
            facts: Mutex::new(None),
            health: Mutex::new(HostHealth::Active),
            planned_changes: AtomicBool::new(false),
            notified: Mutex::new(indexmap::IndexSet::new()),
        }
    }

    pub fn with_origins(mut self, origins: std::collections::HashMap<String, String>) -> HostState {
        self.origins = origins;
        self
    }

    /// The host's connection, opened on first use. Concurrent callers wait for the same handshake.
    pub async fn connection(&self) -> Result<Arc<Connection>, ConnectError> {
        let mut slot = self.connection.lock().await;
        if let Some(connection) = slot.as_ref()
            && !connection.is_closed()
        {
            return Ok(connection.clone());
        }
        let connection = Arc::new(Connection::connect(self.connect_options.clone()).await?);
        *slot = Some(connection.clone());
        Ok(connection)
    }

    /// Drops the connection (after a reboot); the next use connects again.
    pub async fn disconnect(&self) {
        if let Some(connection) = self.connection.lock().await.take() {
            // A connection to a host that vanished can block on its socket: saying goodbye is not worth a hang.
            let _ = tokio::time::timeout(std::time::Duration::from_secs(3), connection.close()).await;
        }
    }

    /// At the end of the run: closes the connection, or leaves it to the connection holder (`--persist`).
    pub async fn finish(&self) {
        if let Some(connection) = self.connection.lock().await.take() {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(3), connection.finish()).await;
        }
    }

    pub fn plan_change(&self) {
        self.planned_changes.store(true, Ordering::SeqCst);
    }

    pub fn has_planned_changes(&self) -> bool {
        self.planned_changes.load(Ordering::SeqCst)
    }

    pub fn is_active(&self) -> bool {
        *self.health.lock().unwrap() == HostHealth::Active
    }

    /// Failed in a task (not unreachable): --force-handlers still runs its pending handlers.
    pub fn has_failed(&self) -> bool {
        matches!(*self.health.lock().unwrap(), HostHealth::Failed { .. })
    }

    pub fn notify(&self, handler: &str) {
        self.notified.lock().unwrap().insert(handler.to_string());
    }

    /// Whether `handler` was pending here; it no longer is.
    pub fn take_notified(&self, handler: &str) -> bool {
        self.notified.lock().unwrap().shift_remove(handler)
    }

    pub fn is_notified(&self, handler: &str) -> bool {
        self.notified.lock().unwrap().contains(handler)
    }

    /// The handlers still pending here, in the order they were notified.
    pub fn pending_handlers(&self) -> Vec<String> {
        self.notified.lock().unwrap().iter().cloned().collect()
    }

    pub fn set_health(&self, health: HostHealth) {
        let mut current = self.health.lock().unwrap();
        if *current == HostHealth::Active {
            *current = health;
        }
    }
}
