//! The run's events: what the engine tells every reporter (terminal, `--log-json`, history), in order.
//!
//! The engine emits facts — a task started, a host's result with its steps, the recap, how the run ended — and
//! never formats text; each reporter decides how to show them. Keeping that split is what lets a JSON log, a
//! terminal and a merged recap of shards agree on one run.

use std::time::Duration;

use serde::Serialize;

/// The outcome of one task on one host, as Ansible users read it in a recap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Changed,
    Failed,
    Skipped,
    Unreachable,
}

/// One primitive call inside a task (`run`, `write`, `sysctl`, ...), as the host reported it.
#[derive(Debug, Clone, Serialize)]
pub struct StepReport {
    /// The primitive: "run", "upload", "write", "template", "sysctl", "wait_port", "reboot", ...
    pub primitive: String,
    /// What it acted on: the command, the destination path, the keys.
    pub target: String,
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rc: Option<i32>,
    /// Command output, kept for `-v` and failures. Already redacted.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub stdout: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub stderr: String,
    /// Unified diff (files) or `key: old -> new` lines (sysctl), when `--diff` is on. Already redacted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
    /// A human note: why it was skipped, what check mode would have done, why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(serialize_with = "as_secs")]
    pub duration: Duration,
}

/// The result of one task on one host.
#[derive(Debug, Clone, Serialize)]
pub struct HostResult {
    pub task: String,
    pub host: String,
    pub status: Status,
    pub changed: bool,
    /// The failing command's exit code, when a command failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rc: Option<i32>,
    /// Why it failed or was skipped (with playbook:line:col when the script raised the error).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    pub steps: Vec<StepReport>,
    #[serde(serialize_with = "as_secs")]
    pub duration: Duration,
}

/// Per-host totals at the end of a run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct HostRecap {
    pub host: String,
    pub ok: u32,
    pub changed: u32,
    pub failed: u32,
    pub skipped: u32,
    pub unreachable: u32,
    #[serde(serialize_with = "as_secs")]
    pub time: Duration,
    /// For a host that failed or became unreachable: the task it was in, so the end of the run says where
    /// each host stopped (and what is left to do there).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped_in: Option<String>,
    /// For a host the play stopped for (a `serial` batch that failed entirely, `max_fail_percentage`,
    /// `any_errors_fatal`, a `fatal` task) before it finished the play: the task where the play stopped. It ran
    /// nothing after it, so its `ok` does not mean the play is done there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub play_stopped_at: Option<String>,
}

/// Everything a run reports, in order.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    RunStart {
        playbook: String,
        hosts: Vec<String>,
        check: bool,
        diff: bool,
    },
    TaskStart {
        task: String,
        hosts: Vec<String>,
    },
    /// Progress within a task: `done` of `total` hosts finished.
    TaskProgress {
        task: String,
        done: usize,
        total: usize,
    },
    HostResult(HostResult),
    TaskEnd {
        task: String,
        #[serde(serialize_with = "as_secs")]
        elapsed: Duration,
    },
    /// A task left out by --tags/--skip-tags/--start-at-task, or with no host left to run on.
    TaskSkipped {
        task: String,
        reason: String,
    },
    /// The play ended for every host at `task` (`reason`); `hosts` had not failed and run nothing after it.
    PlayStopped {
        task: String,
        reason: String,
        hosts: Vec<String>,
    },
    Warning {
        #[serde(skip_serializing_if = "Option::is_none")]
        host: Option<String>,
        message: String,
    },
    /// Text the playbook printed (`print`, `debug`).
    Print {
        #[serde(skip_serializing_if = "Option::is_none")]
        host: Option<String>,
        message: String,
    },
    Recap {
        hosts: Vec<HostRecap>,
        #[serde(serialize_with = "as_secs")]
        elapsed: Duration,
        interrupted: bool,
    },
    /// The last event of every run that reached the engine, recap or not: how the run ended, so that a log alone
    /// (`runbook recap merge` of `--shard` logs) tells the exit code the run had.
    RunEnd {
        /// The playbook's error (file:line:col: message), redacted, when it stopped on one.
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<String>,
        /// It stopped because a `fatal` task failed.
        fatal: bool,
        interrupted: bool,
    },
}

fn as_secs<S: serde::Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64((duration.as_secs_f64() * 1000.0).round() / 1000.0)
}

/// Receives the run's events. Implementations must be cheap: they are called from the host threads.
pub trait Reporter: Send + Sync {
    fn event(&self, event: &Event);
    /// Called once at the end; flushes files and clears progress bars.
    fn finish(&self) {}
}
