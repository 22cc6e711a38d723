//! What one run shares between the playbook thread and the host threads: the options, the hosts, the
//! reporters, the tokio runtime the SSH work runs on, the handlers declared and the task results so far. One
//! `Arc<Runtime>` a run; the engine's functions are closures over it.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use indexmap::IndexMap;
use serde_json::Value;

use super::host_pool::HostPool;
use super::host_state::HostState;
use super::interrupt_watch::InterruptWatch;
use super::task_result::TaskResult;
use crate::report::{Event, HostRecap, RecapBuilder, Redactor, Reporter};

/// How long a command that was running when Ctrl-C came may go on before the host is given up (a second
/// Ctrl-C stops at once). Long enough for a package step to finish, short enough that an operator waits.
pub const INTERRUPT_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// Stack of a thread running host closures: the playbook thread's, for Rhai calls as deep (roles, stdlib).
const HOST_THREAD_STACK: usize = 16 * 1024 * 1024;

/// How the user asked the run to behave (from the command line).
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub check: bool,
    pub diff: bool,
    pub forks: usize,
    pub tags: Vec<String>,
    pub skip_tags: Vec<String>,
    pub start_at_task: Option<String>,
    pub verbosity: u8,
    /// Run notified handlers on hosts that failed after the notification too (Ansible's --force-handlers).
    pub force_handlers: bool,
    /// The pre-flight found no file that may call `results(task)`: the closures' values are not kept for it
    /// (`results` then shows `value` as `()`). Off by default: keeping them is always right.
    pub drop_task_values: bool,
}

/// Everything a run shares between the script thread and the host threads.
pub struct Runtime {
    pub(super) options: RunOptions,
    pub(super) playbook: PathBuf,
    /// Folder of the playbook: templates and uploads are relative to it.
    pub(super) playbook_dir: PathBuf,
    /// Every inventory host (a playbook may name a host outside --limit with `host()`).
    pub(super) hosts: IndexMap<String, Arc<HostState>>,
    /// The hosts --limit selected, in inventory order.
    pub(super) selected: Vec<String>,
    /// Group name → host names, in inventory order.
    pub(super) groups: IndexMap<String, Vec<String>>,
    /// `all` vars merged with extra vars: the playbook's `vars`.
    pub(super) global_vars: IndexMap<String, Value>,
    pub(super) reporter: Arc<dyn Reporter>,
    pub(super) redactor: Redactor,
    pub(super) tokio: tokio::runtime::Handle,
    pub(super) started: Instant,
    /// Set once --start-at-task's task has been reached.
    pub(super) reached_start_task: AtomicBool,
    pub(super) interrupted: Arc<AtomicBool>,
    interrupt_watch: InterruptWatch,
    pub(super) task_names: Mutex<Vec<String>>,
    /// Tags that `include(file, #{tags})` adds to every task of the included file.
    pub(super) include_tags: Mutex<Vec<String>>,
    /// Set when a `fatal` task stopped the run (a host failure, not a script error).
    pub(super) fatal_stop: AtomicBool,
    /// Handlers the playbook declared, in declaration order (the order they run in).
    pub(super) handlers: Mutex<IndexMap<String, super::declared_handler::DeclaredHandler>>,
    /// The threads host closures run on, for the whole run (up to `-f`).
    pub(super) host_pool: HostPool,
    /// Per task name, per host: what the task did there (`results(name)`), the last run of a name winning.
    pub(super) task_results: Mutex<IndexMap<String, IndexMap<String, TaskResult>>>,
    recap: Mutex<RecapBuilder>,
    /// Values that are never templates (decrypted inline `!vault` values), set once the inventory is known.
    pub(super) literal_values: std::sync::OnceLock<Arc<std::collections::HashSet<String>>>,
    /// `groups` and `omit` as every host's variables see them, built once for the run.
    shared_names: std::sync::OnceLock<Arc<serde_json::Map<String, Value>>>,
}

impl Runtime {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        options: RunOptions,
        playbook: PathBuf,
        hosts: IndexMap<String, Arc<HostState>>,
        selected: Vec<String>,
        groups: IndexMap<String, Vec<String>>,
        global_vars: IndexMap<String, Value>,
        reporter: Arc<dyn Reporter>,
        redactor: Redactor,
        tokio: tokio::runtime::Handle,
        interrupted: Arc<AtomicBool>,
    ) -> Runtime {
        let recap = RecapBuilder::new(&selected);
        Runtime {
            reached_start_task: AtomicBool::new(options.start_at_task.is_none()),
            playbook_dir: playbook.parent().map(PathBuf::from).unwrap_or_else(|| PathBuf::from(".")),
            host_pool: HostPool::new(options.forks, HOST_THREAD_STACK),
            options,
            playbook,
            hosts,
            selected,
            groups,
            global_vars,
            reporter,
            redactor,
            interrupt_watch: InterruptWatch::new(interrupted.clone(), INTERRUPT_GRACE, &tokio),
            tokio,
            started: Instant::now(),
            interrupted,
            task_names: Mutex::new(Vec::new()),
            include_tags: Mutex::new(Vec::new()),
            fatal_stop: AtomicBool::new(false),
            handlers: Mutex::new(IndexMap::new()),
            task_results: Mutex::new(IndexMap::new()),
            recap: Mutex::new(recap),
            literal_values: std::sync::OnceLock::new(),
            shared_names: std::sync::OnceLock::new(),
        }
    }

    pub fn emit(&self, event: Event) {
        match &event {
            Event::HostResult(result) => {
                self.recap.lock().unwrap().add(result);
                self.record_result(result);
            }
            Event::PlayStopped { task, hosts, .. } => self.recap.lock().unwrap().play_stopped(task, hosts),
            _ => {}
        }
        self.reporter.event(&event);
    }

    /// Keeps a host's result of a task for `results(task)`: the facts later code acts on.
    fn record_result(&self, result: &crate::report::HostResult) {
        let mut results = self.task_results.lock().unwrap();
        let task = results.entry(result.task.clone()).or_default();
        task.insert(result.host.clone(), TaskResult::of(result));
    }

    pub fn warn(&self, host: Option<&str>, message: &str) {
        self.emit(Event::Warning { host: host.map(str::to_string), message: self.redactor.redact(message) });
    }

    pub fn recap(&self) -> Vec<HostRecap> {
        self.recap.lock().unwrap().build()
    }

    pub fn is_interrupted(&self) -> bool {
        self.interrupted.load(Ordering::SeqCst)
    }

    /// Resolves INTERRUPT_GRACE after the first Ctrl-C; never before.
    pub async fn interrupt_grace_over(&self) {
        self.interrupt_watch.grace_over().await;
    }

    pub fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.tokio.block_on(future)
    }

    pub(super) fn literal_values(&self) -> Arc<std::collections::HashSet<String>> {
        self.literal_values.get().cloned().unwrap_or_default()
    }

    pub(super) fn shared_names(&self) -> Arc<serde_json::Map<String, Value>> {
        self.shared_names
            .get_or_init(|| {
                let groups = self.groups.iter().map(|(group, members)| (group.clone(), serde_json::json!(members)));
                let mut names = serde_json::Map::new();
                names.insert("groups".into(), Value::Object(groups.collect()));
                names.insert("omit".into(), serde_json::json!(crate::template::omit()));
                Arc::new(names)
            })
            .clone()
    }

    pub fn host(&self, name: &str) -> Option<&Arc<HostState>> {
        self.hosts.get(name)
    }
}
