//! Runs a closure on one batch of hosts: the run's host pool (up to `-f` threads) takes the hosts, each host's
//! steps are recorded into its result, and a failure or an unreachable host is counted as Ansible counts it.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use rhai::{Dynamic, FnPtr};

use super::caller::Caller;
use super::host_handle::HostHandle;
use super::host_result::report_result;
use super::host_state::HostHealth;
use super::runtime::Runtime;
use super::script_error;
use super::step_recorder;
use super::task_options::TaskOptions;
use crate::report::{Event, Status};

/// Runs one batch on the run's host pool; returns each host's closure value, or None where the host failed (or
/// was not started: Ctrl-C came first).
#[allow(clippy::too_many_arguments)]
pub(super) fn run_batch(
    caller: &Caller,
    runtime: &Arc<Runtime>,
    name: &str,
    batch: &[HostHandle],
    options: &TaskOptions,
    body: &FnPtr,
    done: &AtomicUsize,
    total: usize,
) -> Vec<Option<Dynamic>> {
    let results: Vec<std::sync::Mutex<Option<Dynamic>>> = batch.iter().map(|_| std::sync::Mutex::new(None)).collect();
    runtime.host_pool.run_all(batch.len(), &|index| {
        if runtime.is_interrupted() {
            return;
        }
        let value = run_on_host(caller, runtime, name, &batch[index], options, body);
        *results[index].lock().unwrap() = value;
        let finished = done.fetch_add(1, Ordering::SeqCst) + 1;
        runtime.emit(Event::TaskProgress { task: name.to_string(), done: finished, total });
    });
    results.into_iter().map(|slot| slot.into_inner().unwrap()).collect()
}

fn run_on_host(
    caller: &Caller,
    runtime: &Arc<Runtime>,
    name: &str,
    host: &HostHandle,
    options: &TaskOptions,
    body: &FnPtr,
) -> Option<Dynamic> {
    let started = Instant::now();
    let state = &host.state;
    let report = |status: Status, rc: Option<i32>, message: Option<String>, steps| {
        report_result(runtime, name, &state.name, status, rc, message, steps, started.elapsed());
    };

    if let Err(error) = runtime.block_on(state.connection()) {
        let reason = error.to_string();
        state.set_health(HostHealth::Unreachable { task: name.to_string(), reason: reason.clone() });
        report(Status::Unreachable, None, Some(reason), Vec::new());
        return None;
    }

    let previous = step_recorder::begin();
    let outcome = caller.call(body, host);
    let record = step_recorder::end(previous);
    let changed = record.steps.iter().any(|step| step.status == Status::Changed);
    match outcome {
        Ok(value) => {
            let all_skipped =
                !record.steps.is_empty() && record.steps.iter().all(|step| step.status == Status::Skipped);
            let status = if changed {
                Status::Changed
            } else if all_skipped {
                Status::Skipped
            } else {
                Status::Ok
            };
            // Ansible's `notify:` on a task: the handlers hear of it only when the task changed the host.
            if changed {
                options.notify.iter().for_each(|handler| state.notify(handler));
            }
            report(status, None, None, record.steps);
            Some(value)
        }
        Err(error) => {
            let message = script_error::describe(&error, &runtime.playbook.display().to_string());
            if let Some(reason) = record.unreachable {
                state.set_health(HostHealth::Unreachable { task: name.to_string(), reason });
                report(Status::Unreachable, None, Some(message), record.steps);
                None
            } else if options.ignore_errors {
                report(
                    if changed { Status::Changed } else { Status::Ok },
                    record.failed_rc,
                    Some(format!("error ignored: {message}")),
                    record.steps,
                );
                Some(Dynamic::UNIT)
            } else {
                state.set_health(HostHealth::Failed { task: name.to_string() });
                report(Status::Failed, record.failed_rc, Some(message), record.steps);
                None
            }
        }
    }
}
