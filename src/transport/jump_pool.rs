//! The run's connections to jump hosts: one per hop (per user, address, port and path), opened by the first
//! host behind it and shared by all the others, so 50 hosts behind a bastion cost it one SSH login, not 50.
//!
//! A hop that cannot be reached is tried once for everyone waiting on it at that moment: the hosts queued
//! behind a dead bastion get its error at once instead of each waiting out its own timeout in turn.

//!
//! The pool only keeps connections; the caller opens them (it hands over the opening, run only when needed),
//! so the pool needs to know nothing of how a hop is reached, and the options that carry the pool do not
//! lead back to it.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use super::host_key_verifier::HostKeyVerifier;
use super::transport_error::ConnectError;

type Handle = russh::client::Handle<HostKeyVerifier>;

#[derive(Default)]
struct Slot {
    /// Bumped by every finished attempt: a waiter that sees it move got its answer from someone else's try.
    attempts: u64,
    last: Option<Result<Arc<Handle>, ConnectError>>,
}

/// Shared jump connections, keyed by route (who, where, and by which path). Cloning shares the pool.
#[derive(Clone, Default)]
pub struct JumpPool {
    slots: Arc<Mutex<HashMap<String, Arc<tokio::sync::Mutex<Slot>>>>>,
}

impl std::fmt::Debug for JumpPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "JumpPool({} hops)", self.slots.lock().unwrap().len())
    }
}

impl JumpPool {
    /// The authenticated connection of `route`, made by `open` (run only then) if there is none or the last one
    /// died.
    pub(crate) async fn handle(
        &self,
        route: String,
        open: impl Future<Output = Result<Handle, ConnectError>>,
    ) -> Result<Arc<Handle>, ConnectError> {
        let slot = self.slots.lock().unwrap().entry(route).or_default().clone();
        let seen = slot.try_lock().map(|slot| slot.attempts).ok();
        let mut slot = slot.lock().await;
        match &slot.last {
            Some(Ok(handle)) if !handle.is_closed() => return Ok(handle.clone()),
            // Someone else's attempt ended while this host waited: its failure is this host's answer too.
            Some(Err(error)) if seen.is_none_or(|seen| seen != slot.attempts) => return Err(error.clone()),
            _ => {}
        }
        let result = open.await.map(Arc::new);
        slot.attempts += 1;
        slot.last = Some(result.clone());
        result
    }

    /// Closes every jump connection (at the end of the run).
    pub async fn close(&self) {
        let slots: Vec<_> = self.slots.lock().unwrap().drain().map(|(_, slot)| slot).collect();
        for slot in slots {
            if let Some(Ok(handle)) = slot.lock().await.last.take() {
                let _ = handle.disconnect(russh::Disconnect::ByApplication, "", "en").await;
            }
        }
    }
}
