//! Feeds a run's events into the history database, so `runbook history` can list and show it afterwards.
//!
//! Every string is passed through the run's [`Redactor`] before it is written, as the terminal's are: a value
//! from `secret()` or a vault never reaches the file. A write that fails warns once and the run goes on; history
//! is a record, not a reason to stop a deploy.

use std::sync::Mutex;
use std::time::{Instant, SystemTime};

use std::path::Path;

use super::event::{Event, Reporter};
use super::history_store::{HistoryStore, NewRun, ResultRow};
use super::json_log::rfc3339_utc;
use super::redactor::Redactor;
use super::source_excerpt::failure_excerpt;

/// Writes one run into a [`HistoryStore`].
pub struct HistoryRecorder {
    state: Mutex<State>,
    redactor: Redactor,
    command_line: String,
    git_commit: Option<String>,
}

struct State {
    store: HistoryStore,
    run_id: Option<i64>,
    started: Instant,
    failed: bool,
}

impl HistoryRecorder {
    /// `command_line` is redacted again when the run ends, when every secret of the run is known.
    pub fn new(store: HistoryStore, redactor: Redactor, command_line: String, git_commit: Option<String>) -> Self {
        let state = State { store, run_id: None, started: Instant::now(), failed: false };
        HistoryRecorder { state: Mutex::new(state), redactor, command_line, git_commit }
    }

    /// The id of the run being recorded, once it has started.
    pub fn run_id(&self) -> Option<i64> {
        self.lock().run_id
    }

    /// Records the exit code once the run is over.
    pub fn close(&self, exit_code: i32) {
        let command_line = self.redactor.redact(&self.command_line);
        let mut state = self.lock();
        if let Some(run_id) = state.run_id {
            let result = state.store.close_run(run_id, exit_code, &command_line);
            warn_once(&mut state, result);
        }
    }

    /// Reads the run back from the same open database (`run --report`), once it is recorded: no second open.
    pub fn with_recorded_run<T>(&self, read: impl FnOnce(&HistoryStore, i64) -> T) -> Option<T> {
        let state = self.lock();
        state.run_id.map(|run_id| read(&state.store, run_id))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn warn_once(state: &mut State, result: rusqlite::Result<()>) {
    if let Err(error) = result
        && !state.failed
    {
        state.failed = true;
        eprintln!("warning: history: cannot record this run: {error}");
    }
}

impl Reporter for HistoryRecorder {
    fn event(&self, event: &Event) {
        let mut state = self.lock();
        if state.failed {
            return;
        }
        let redact = |text: &str| self.redactor.redact(text);
        let result = match event {
            Event::RunStart { playbook, hosts, check, .. } => {
                state.started = Instant::now();
                let hosts: Vec<String> = hosts.iter().map(|h| redact(h)).collect();
                let command_line = redact(&self.command_line);
                let run = NewRun {
                    started_at: &rfc3339_utc(SystemTime::now()),
                    playbook: &redact(playbook),
                    command_line: &command_line,
                    git_commit: self.git_commit.as_deref(),
                    hosts: &hosts,
                    check: *check,
                };
                state.store.start_run(&run).map(|id| state.run_id = Some(id))
            }
            Event::HostResult(result) => match state.run_id {
                Some(run_id) => {
                    let duration = result.duration.as_secs_f64();
                    let ended = state.started.elapsed().as_secs_f64();
                    let diffs: Vec<&str> = result.steps.iter().filter_map(|s| s.diff.as_deref()).collect();
                    let status = serde_json::to_value(result.status)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default();
                    let row = ResultRow {
                        task: redact(&result.task),
                        host: redact(&result.host),
                        changed: result.changed,
                        rc: result.rc,
                        message: result.message.as_deref().map(redact),
                        diff: (!diffs.is_empty()).then(|| redact(&diffs.join("\n"))),
                        excerpt: failure_excerpt(&status, result.message.as_deref(), Path::new("."))
                            .map(|excerpt| redact(&excerpt)),
                        status,
                        started: (ended - duration).max(0.0),
                        duration,
                    };
                    state.store.add_result(run_id, &row)
                }
                None => Ok(()),
            },
            Event::Recap { elapsed, interrupted, .. } => match state.run_id {
                Some(run_id) => {
                    state.store.end_run(run_id, &rfc3339_utc(SystemTime::now()), elapsed.as_secs_f64(), *interrupted)
                }
                None => Ok(()),
            },
            _ => Ok(()),
        };
        warn_once(&mut state, result);
    }
}

/// Lets the run keep a handle on the recorder (for [`HistoryRecorder::close`]) while the fan-out owns a box.
impl Reporter for std::sync::Arc<HistoryRecorder> {
    fn event(&self, event: &Event) {
        self.as_ref().event(event);
    }
}
