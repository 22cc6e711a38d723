use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use rhai::{Dynamic, EvalAltResult, FnPtr, Map, NativeCallContext};

use super::host::Host;
use super::host_state::HostHealth;
use super::runtime::Runtime;
use super::script_error;
use super::step_recorder;
use super::task_options::{TaskOptions, selected_by_tags};
use crate::report::{Event, HostResult, Status};

/// `task(name, hosts, opts, closure)`: runs the closure on every host at once (bounded by --forks and
/// `serial`), waits for all, reports each host, and hands the closures' return values back to the script.
pub fn run_task(
    context: &NativeCallContext,
    runtime: &Arc<Runtime>,
    name: &str,
    hosts: Vec<Host>,
    options: TaskOptions,
    body: FnPtr,
    inherited_tags: &[String],
) -> Result<Map, Box<EvalAltResult>> {
    if runtime.is_interrupted() {
        return Err("interrupted".into());
    }
    runtime.task_names.lock().unwrap().push(name.to_string());
    if !runtime.reached_start_task.load(Ordering::SeqCst) {
        if runtime.options.start_at_task.as_deref() == Some(name) {
            runtime.reached_start_task.store(true, Ordering::SeqCst);
        } else {
            return skipped(runtime, name, "before --start-at-task");
        }
    }
    let mut tags = options.tags.clone();
    tags.extend(inherited_tags.iter().cloned());
    if !selected_by_tags(&tags, &runtime.options.tags, &runtime.options.skip_tags) {
        return skipped(runtime, name, "not selected by tags");
    }
    if !options.when {
        return skipped(runtime, name, "`when` is false");
    }
    let mut hosts: Vec<Host> = hosts
        .into_iter()
        .filter(|host| runtime.selected.contains(&host.state.name) && host.state.is_active())
        .collect();
    if options.run_once {
        hosts.truncate(1);
    }
    if hosts.is_empty() {
        return skipped(runtime, name, "no hosts left to run on");
    }

    let started = Instant::now();
    let total = hosts.len();
    runtime
        .emit(Event::TaskStart { task: name.to_string(), hosts: hosts.iter().map(|h| h.state.name.clone()).collect() });
    let done = AtomicUsize::new(0);
    let mut returned = Map::new();
    let mut failures = Vec::new();
    let batch_size = options.serial.map(|serial| serial.batch_size(total)).unwrap_or(total);
    for batch in hosts.chunks(batch_size) {
        if runtime.is_interrupted() {
            break;
        }
        let results = run_batch(context, runtime, name, batch, &options, &body, &done, total);
        for (host, outcome) in batch.iter().zip(results) {
            match outcome {
                Some(value) => {
                    returned.insert(host.state.name.as_str().into(), value);
                }
                None => failures.push(host.state.name.clone()),
            }
        }
        // A batch that failed entirely stops the rolling update, as Ansible's serial does.
        if options.serial.is_some() && batch.iter().all(|h| failures.contains(&h.state.name)) {
            break;
        }
    }
    runtime.emit(Event::TaskEnd { task: name.to_string(), elapsed: started.elapsed() });
    if runtime.is_interrupted() {
        return Err("interrupted".into());
    }
    if options.fatal && !failures.is_empty() {
        return Err(super::fatal_stop::FatalStop { task: name.to_string(), hosts: failures }.into_error());
    }
    Ok(returned)
}

fn skipped(runtime: &Runtime, name: &str, reason: &str) -> Result<Map, Box<EvalAltResult>> {
    runtime.emit(Event::TaskSkipped { task: name.to_string(), reason: reason.to_string() });
    Ok(Map::new())
}

/// Runs one batch; returns each host's closure value, or None where the host failed.
#[allow(clippy::too_many_arguments)]
fn run_batch(
    context: &NativeCallContext,
    runtime: &Arc<Runtime>,
    name: &str,
    batch: &[Host],
    options: &TaskOptions,
    body: &FnPtr,
    done: &AtomicUsize,
    total: usize,
) -> Vec<Option<Dynamic>> {
    let next = AtomicUsize::new(0);
    let results: Vec<std::sync::Mutex<Option<Dynamic>>> = batch.iter().map(|_| std::sync::Mutex::new(None)).collect();
    let workers = runtime.options.forks.max(1).min(batch.len());
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let index = next.fetch_add(1, Ordering::SeqCst);
                    let Some(host) = batch.get(index) else { break };
                    if runtime.is_interrupted() {
                        break;
                    }
                    let value = run_on_host(context, runtime, name, host, options, body);
                    *results[index].lock().unwrap() = value;
                    let finished = done.fetch_add(1, Ordering::SeqCst) + 1;
                    runtime.emit(Event::TaskProgress { task: name.to_string(), done: finished, total });
                }
            });
        }
    });
    results.into_iter().map(|slot| slot.into_inner().unwrap()).collect()
}

fn run_on_host(
    context: &NativeCallContext,
    runtime: &Arc<Runtime>,
    name: &str,
    host: &Host,
    options: &TaskOptions,
    body: &FnPtr,
) -> Option<Dynamic> {
    let started = Instant::now();
    let state = &host.state;
    let report = |status: Status, changed: bool, rc: Option<i32>, message: Option<String>, steps| {
        runtime.emit(Event::HostResult(HostResult {
            task: name.to_string(),
            host: state.name.clone(),
            status,
            changed,
            rc,
            message: message.map(|m| runtime.redactor.redact(&m)),
            steps,
            duration: started.elapsed(),
        }));
    };

    if let Err(error) = runtime.block_on(state.connection()) {
        let reason = error.to_string();
        state.set_health(HostHealth::Unreachable { task: name.to_string(), reason: reason.clone() });
        report(Status::Unreachable, false, None, Some(reason), Vec::new());
        return None;
    }

    let previous = step_recorder::begin();
    let outcome = body.call_within_context::<Dynamic>(context, (Dynamic::from(host.clone()),));
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
            report(status, changed, None, None, record.steps);
            Some(value)
        }
        Err(error) => {
            let message = script_error::describe(&error, &runtime.playbook.display().to_string());
            if let Some(reason) = record.unreachable {
                state.set_health(HostHealth::Unreachable { task: name.to_string(), reason });
                report(Status::Unreachable, changed, None, Some(message), record.steps);
                None
            } else if options.ignore_errors {
                report(
                    if changed { Status::Changed } else { Status::Ok },
                    changed,
                    record.failed_rc,
                    Some(format!("error ignored: {message}")),
                    record.steps,
                );
                Some(Dynamic::UNIT)
            } else {
                state.set_health(HostHealth::Failed { task: name.to_string() });
                report(Status::Failed, changed, record.failed_rc, Some(message), record.steps);
                None
            }
        }
    }
}
