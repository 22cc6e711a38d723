//! The engine: a Rhai interpreter with the runbook surface (`task`, `hosts`, `group`, the HostHandle type and its
//! primitives), and the run loop that fans a task out over hosts on threads and gathers what they report.
//!
//! Rhai is synchronous and the transport is async: the script and each host closure run on plain threads that
//! block on the shared tokio runtime, so a playbook reads as straight-line code while hosts work in parallel.

mod caller;
mod captured_values;
mod connect_plan;
mod declared_handler;
mod fatal_stop;
mod futex_hash;
mod handlers;
mod host_batch;
mod host_handle;
mod host_pool;
mod host_result;
mod host_state;
mod interrupt_watch;
mod local_file;
mod local_run;
mod module_resolver;
mod playbook;
mod playbook_error;
mod primitive_bindings;
mod runtime;
mod script_error;
mod script_stop;
mod step_recorder;
mod task_option_error;
mod task_options;
mod task_result;
mod task_runner;
mod vars_map;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use indexmap::IndexMap;

pub use connect_plan::ConnectSettings;
pub use fatal_stop::FatalStop;
pub use host_handle::{HostHandle, to_map};
pub use host_state::{HostHealth, HostState};
pub use module_resolver::StdlibResolver;
pub use playbook::{build_engine, compile, standard_scope};
pub use playbook_error::{LocatedError, PlaybookError};
pub use runtime::{INTERRUPT_GRACE, RunOptions, Runtime};
pub use script_error::describe as describe_script_error;
pub use script_stop::ScriptStop;
pub use step_recorder::StepRecord;
pub use task_options::{Serial, TaskOptions};
pub use vars_map::VarsMap;

use crate::inventory::Inventory;
use crate::report::{Event, HostRecap, Redactor, Reporter};
use crate::transport::{HostKeyPolicy, JumpPool};

/// What `runbook run` asks of the engine.
pub struct RunRequest {
    pub playbook: PathBuf,
    pub inventory: Inventory,
    /// Host names to run on (after --limit), inventory order.
    pub selected: Vec<String>,
    pub options: RunOptions,
    pub host_key_policy: HostKeyPolicy,
    pub connect_timeout: Duration,
    pub connect_retries: u32,
    pub ssh_password: Option<String>,
    pub become_password: Option<String>,
    pub reporter: Arc<dyn Reporter>,
    pub redactor: Redactor,
    pub interrupted: Arc<AtomicBool>,
}

/// How a run ended.
pub struct RunOutcome {
    pub recap: Vec<HostRecap>,
    /// Why the script stopped before its end, if it did (its error redacted, as the reporters show it).
    pub stop: Option<ScriptStop>,
    pub interrupted: bool,
    /// Where each host ended, inventory order: still in the play, failed in a task, or unreachable (with the
    /// task and the reason).
    pub hosts: Vec<(String, HostHealth)>,
}

impl RunOutcome {
    /// Hosts that failed or could not be reached, for --retry-failed.
    pub fn failed_hosts(&self) -> Vec<&str> {
        self.hosts.iter().filter(|(_, health)| *health != HostHealth::Active).map(|(name, _)| name.as_str()).collect()
    }
}

pub fn run(request: RunRequest) -> RunOutcome {
    // The host pool's threads, tokio's and the playbook's.
    futex_hash::size_for(request.options.forks + 8);
    let tokio =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("a tokio runtime");
    let inventory = &request.inventory;
    // What Ansible Vault revealed while the inventory loaded is secret from the first event on.
    inventory.vault_secrets().iter().for_each(|secret| request.redactor.add(secret));
    let mut hosts = IndexMap::new();
    let settings = ConnectSettings {
        host_key_policy: request.host_key_policy,
        connect_timeout: request.connect_timeout,
        connect_retries: request.connect_retries,
        jumps: JumpPool::default(),
        ssh_password: request.ssh_password.clone(),
        become_password: request.become_password.clone(),
        redactor: request.redactor.clone(),
    };
    for host in inventory.hosts() {
        let connect = connect_plan::connect_options(inventory, host, &settings);
        let state = HostState::new(host.name.clone(), host.groups.clone(), host.vars.clone(), connect)
            .with_origins(host.origins.clone());
        hosts.insert(host.name.clone(), Arc::new(state));
    }
    let mut groups: IndexMap<String, Vec<String>> = IndexMap::new();
    for group in inventory.group_names() {
        let members = inventory.group_hosts(group).unwrap_or_default();
        groups.insert(group.to_string(), members.iter().map(|h| h.name.clone()).collect());
    }
    let runtime = Arc::new(Runtime::new(
        request.options,
        request.playbook.clone(),
        hosts,
        request.selected.clone(),
        groups,
        inventory.global_vars(),
        request.reporter.clone(),
        request.redactor,
        tokio.handle().clone(),
        request.interrupted,
    ));
    let _ = runtime.literal_values.set(Arc::new(inventory.inline_vault_values().iter().cloned().collect()));
    runtime.emit(Event::RunStart {
        playbook: request.playbook.display().to_string(),
        hosts: request.selected.clone(),
        check: runtime.options.check,
        diff: runtime.options.diff,
    });

    let script_runtime = runtime.clone();
    let playbook = request.playbook.clone();
    // A plain thread, not a tokio worker: the script blocks on the runtime for every host round trip.
    let result = std::thread::Builder::new()
        .name("playbook".into())
        .stack_size(16 * 1024 * 1024)
        .spawn(move || playbook::run_file(&script_runtime, &playbook))
        .expect("a thread for the playbook")
        .join()
        .unwrap_or(Err(PlaybookError::Panicked));

    if let Some(start) = &runtime.options.start_at_task
        && !runtime.reached_start_task.load(Ordering::SeqCst)
    {
        runtime.warn(None, &format!("--start-at-task: no task named \"{start}\" was found"));
    }
    let interrupted = runtime.is_interrupted();
    let recap = runtime.recap();
    // A playbook that stopped before any task ran has nothing to recap ("10 hosts: 10 ok" would be a lie).
    if recap.iter().any(|host| host.ok + host.failed + host.skipped + host.unreachable > 0) {
        runtime.emit(Event::Recap { hosts: recap.clone(), elapsed: runtime.started.elapsed(), interrupted });
    }
    let fatal = runtime.fatal_stop.load(Ordering::SeqCst);
    // The script's error is printed by the caller, outside the reporters: redact it here, as they would.
    let stop = result.err().map(|error| {
        let error = error.redacted(&runtime.redactor);
        if fatal { ScriptStop::Fatal(error) } else { ScriptStop::Error(error) }
    });
    runtime.emit(Event::RunEnd { error: stop.as_ref().map(|stop| stop.error().to_string()), fatal, interrupted });
    runtime.reporter.finish();
    let host_ends =
        runtime.hosts.values().map(|host| (host.name.clone(), host.health.lock().unwrap().clone())).collect();
    // All at once: one by one, closing 100 connections took longer than a rerun's real work.
    tokio.block_on(async {
        let closing: Vec<_> = runtime
            .hosts
            .values()
            .map(|host| {
                let host = host.clone();
                tokio::spawn(async move { host.finish().await })
            })
            .collect();
        for handle in closing {
            let _ = handle.await;
        }
        let _ = tokio::time::timeout(Duration::from_secs(3), settings.jumps.close()).await;
    });
    RunOutcome { recap, stop, interrupted, hosts: host_ends }
}
