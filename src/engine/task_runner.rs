use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use rhai::{AST, Dynamic, Engine, EvalAltResult, FnPtr, Map, NativeCallContext};

use super::host_handle::HostHandle;
use super::host_state::HostHealth;
use super::runtime::Runtime;
use super::script_error;
use super::step_recorder;
use super::task_options::TaskOptions;
use crate::analysis::tag_selection::selected_by_tags;
use crate::report::{Event, HostResult, Status, StepReport};

/// How a host closure is called: from inside the script (a task, `flush_handlers()`), or after the script
/// ended (the handlers still pending at the end of the playbook).
pub(super) enum Caller<'c, 'a> {
    Within(&'c NativeCallContext<'a>),
    After(&'c Engine, &'c AST),
    /// In the context the closure was declared in (a handler declared in an imported module): its functions
    /// — the closure itself is one — are found only there.
    Declared(&'c Engine, &'c super::handlers::DeclaredContext),
}

impl Caller<'_, '_> {
    pub(super) fn engine(&self) -> &Engine {
        match self {
            Caller::Within(context) => context.engine(),
            Caller::After(engine, _) | Caller::Declared(engine, _) => engine,
        }
    }

    fn call(&self, body: &FnPtr, host: &HostHandle) -> Result<Dynamic, Box<EvalAltResult>> {
        match self {
            Caller::Within(context) => body.call_within_context::<Dynamic>(context, (Dynamic::from(host.clone()),)),
            Caller::After(engine, ast) => body.call::<Dynamic>(engine, ast, (Dynamic::from(host.clone()),)),
            Caller::Declared(engine, stored) => {
                #[allow(deprecated)] // "volatile", not deprecated: Rhai's only way to call back into a saved context
                let context = NativeCallContext::from_stored_data(engine, stored);
                body.call_within_context::<Dynamic>(&context, (Dynamic::from(host.clone()),))
            }
        }
    }
}

/// `task(name, hosts, opts, closure)`: runs the closure on every host at once (bounded by --forks and
/// `serial`), waits for all, reports each host, and hands the closures' return values back to the script.
pub fn run_task(
    context: &NativeCallContext,
    runtime: &Arc<Runtime>,
    name: &str,
    hosts: Vec<HostHandle>,
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
    for handler in &options.notify {
        super::handlers::check_declared(runtime, handler)?;
    }
    let mut hosts: Vec<HostHandle> = hosts
        .into_iter()
        .filter(|host| runtime.selected.contains(&host.state.name) && host.state.is_active())
        .collect();
    if options.run_once {
        hosts.truncate(1);
    }
    if hosts.is_empty() {
        return skipped(runtime, name, "no hosts left to run on");
    }

    let body = detach_host_handles(&body);
    runtime.task_results.lock().unwrap().shift_remove(name);
    let started = Instant::now();
    let total = hosts.len();
    runtime
        .emit(Event::TaskStart { task: name.to_string(), hosts: hosts.iter().map(|h| h.state.name.clone()).collect() });
    let done = AtomicUsize::new(0);
    let mut returned = Map::new();
    let mut failures = Vec::new();
    let batch_size = options.serial.map(|serial| serial.batch_size(total)).unwrap_or(total);
    let batches = total.div_ceil(batch_size);
    let mut policy_stop = None;
    for (number, batch) in hosts.chunks(batch_size).enumerate() {
        if runtime.is_interrupted() {
            break;
        }
        // A rolling update says which hosts each batch holds, as ansible-playbook's per-batch play headers do.
        if options.serial.is_some() {
            let names: Vec<&str> = batch.iter().map(|h| h.state.name.as_str()).collect();
            let message = format!("{name}: batch {}/{batches}: {}", number + 1, names.join(", "));
            runtime.emit(Event::Print { host: None, message });
        }
        let results = run_batch(&Caller::Within(context), runtime, name, batch, &options, &body, &done, total);
        let mut batch_failures = 0;
        for (host, outcome) in batch.iter().zip(results) {
            match outcome {
                Some(value) => {
                    returned.insert(host.state.name.as_str().into(), value);
                }
                None => {
                    batch_failures += 1;
                    failures.push(host.state.name.clone());
                }
            }
        }
        policy_stop = failure_policy_stop(&options, batch_failures, batch.len());
        // Ansible's serial rule: a batch in which every host failed ends the play — for the later batches' hosts
        // too, which neither run this task nor any after it.
        if policy_stop.is_none() && options.serial.is_some() && batch_failures == batch.len() {
            let names: Vec<&str> = batch.iter().map(|h| h.state.name.as_str()).collect();
            policy_stop = Some(format!(
                "batch {}/{batches} ({}) failed on every host, which ends a serial rollout",
                number + 1,
                names.join(", ")
            ));
        }
        if policy_stop.is_some() {
            break;
        }
        if options.flush_handlers {
            super::handlers::flush(runtime, &Caller::Within(context))?;
        }
    }
    runtime.emit(Event::TaskEnd { task: name.to_string(), elapsed: started.elapsed() });
    if let Some(results) = runtime.task_results.lock().unwrap().get_mut(name) {
        for (host, value) in &returned {
            if let Some(mut entry) = results.get(host).and_then(|entry| entry.clone().try_cast::<Map>()) {
                entry.insert("value".into(), value.clone());
                results.insert(host.clone(), entry.into());
            }
        }
    }
    if runtime.is_interrupted() {
        return Err("interrupted".into());
    }
    if let Some(reason) = policy_stop {
        return Err(stop_play(runtime, name, &reason, &hosts, failures));
    }
    if options.fatal && !failures.is_empty() {
        let reason = format!("the task is fatal and failed on {}", failures.join(", "));
        return Err(stop_play(runtime, name, &reason, &hosts, failures));
    }
    Ok(returned)
}

/// Ends the play at task `name`: says so loudly, names the task's hosts that had not failed (they run nothing
/// more, and the recap marks them so a stopped rollout never reads as done), and returns the stop to raise.
fn stop_play(
    runtime: &Runtime,
    name: &str,
    reason: &str,
    hosts: &[HostHandle],
    failures: Vec<String>,
) -> Box<EvalAltResult> {
    let stopped: Vec<String> = hosts
        .iter()
        .filter(|host| host.state.is_active() && !failures.contains(&host.state.name))
        .map(|host| host.state.name.clone())
        .collect();
    runtime.emit(Event::PlayStopped {
        task: name.to_string(),
        reason: runtime.redactor.redact(reason),
        hosts: stopped,
    });
    super::fatal_stop::FatalStop { task: name.to_string(), hosts: failures }.into_error()
}

/// Whether a batch's failures stop the play, by Ansible's rules: `any_errors_fatal` on any failure;
/// `max_fail_percentage` when the failed share of the batch is strictly greater than it.
fn failure_policy_stop(options: &TaskOptions, failed: usize, batch: usize) -> Option<String> {
    if failed == 0 {
        return None;
    }
    if options.any_errors_fatal {
        return Some(format!("{failed} host(s) failed and any_errors_fatal is set"));
    }
    let limit = options.max_fail_percentage?;
    let percent = failed as f64 * 100.0 / batch.max(1) as f64;
    (percent > limit).then(|| {
        format!("{failed} of {batch} host(s) in the batch failed ({percent:.0}% > max_fail_percentage {limit})")
    })
}

/// A closure's captured variables reach it as Rhai *shared* values, and Rhai write-locks a shared value for the
/// whole of a method call or property read on it (`checker.run(..)` holds the lock while the command runs). Ten
/// host threads calling a captured host therefore collide, and Rhai gives up after ~50 ms with "Data race
/// detected" — whatever the method's receiver type. Host handles and function pointers are immutable to the
/// script, so every captured value that holds one is handed to the host closures as a plain copy: calls and
/// reads on it need no lock. Captured values without one (counters, lists the closures fill) stay shared.
pub(super) fn detach_host_handles(body: &FnPtr) -> FnPtr {
    detach_curried(body, 0)
}

/// How deep captured values are followed: a recursive closure captures itself, a cycle to stop somewhere.
const DETACH_DEPTH: usize = 8;

fn detach_curried(body: &FnPtr, depth: usize) -> FnPtr {
    let mut body = body.clone();
    if depth > DETACH_DEPTH {
        return body;
    }
    for value in body.iter_curry_mut() {
        if let Some(plain) = detached(value, depth) {
            *value = plain;
        }
    }
    body
}

/// A plain copy of a value that holds a host or a function pointer (at any depth of arrays and maps), with the
/// same done to a function pointer's own captured values; `None` for any other value.
fn detached(value: &Dynamic, depth: usize) -> Option<Dynamic> {
    let value = deep_flatten(value, depth);
    holds_handle(&value, depth).then_some(value)
}

fn deep_flatten(value: &Dynamic, depth: usize) -> Dynamic {
    let value = value.flatten_clone();
    let depth = depth + 1;
    if depth > DETACH_DEPTH {
        value
    } else if value.is_array() {
        Dynamic::from_array(value.cast::<rhai::Array>().iter().map(|item| deep_flatten(item, depth)).collect())
    } else if value.is_map() {
        Dynamic::from_map(
            value.cast::<Map>().iter().map(|(key, item)| (key.clone(), deep_flatten(item, depth))).collect(),
        )
    } else if value.is::<FnPtr>() {
        Dynamic::from(detach_curried(&value.cast::<FnPtr>(), depth))
    } else {
        value
    }
}

fn holds_handle(value: &Dynamic, depth: usize) -> bool {
    if value.is::<HostHandle>() || value.is::<FnPtr>() {
        true
    } else if depth > DETACH_DEPTH {
        false
    } else if let Some(items) = value.read_lock::<rhai::Array>() {
        items.iter().any(|item| holds_handle(item, depth + 1))
    } else if let Some(map) = value.read_lock::<Map>() {
        map.values().any(|item| holds_handle(item, depth + 1))
    } else {
        false
    }
}

/// Reports one host's result of a task (or of a primitive called outside any task): the one place a
/// [`HostResult`] is made. `changed` follows from the steps: a task changed the host if any step did, even
/// when it then failed.
#[allow(clippy::too_many_arguments)]
pub(super) fn report_result(
    runtime: &Runtime,
    task: &str,
    host: &str,
    status: Status,
    rc: Option<i32>,
    message: Option<String>,
    steps: Vec<StepReport>,
    duration: std::time::Duration,
) {
    let changed = status == Status::Changed || steps.iter().any(|step| step.status == Status::Changed);
    runtime.emit(Event::HostResult(HostResult {
        task: task.to_string(),
        host: host.to_string(),
        status,
        changed,
        rc,
        message: message.map(|m| runtime.redactor.redact(&m)),
        steps,
        duration,
    }));
}

fn skipped(runtime: &Runtime, name: &str, reason: &str) -> Result<Map, Box<EvalAltResult>> {
    runtime.emit(Event::TaskSkipped { task: name.to_string(), reason: reason.to_string() });
    Ok(Map::new())
}

/// Stack of a thread running host closures: the playbook thread's, for Rhai calls as deep (roles, stdlib).
const HOST_THREAD_STACK: usize = 16 * 1024 * 1024;

/// Runs one batch; returns each host's closure value, or None where the host failed.
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
    let next = AtomicUsize::new(0);
    let results: Vec<std::sync::Mutex<Option<Dynamic>>> = batch.iter().map(|_| std::sync::Mutex::new(None)).collect();
    let workers = runtime.options.forks.max(1).min(batch.len());
    let work = || {
        loop {
            let index = next.fetch_add(1, Ordering::SeqCst);
            let Some(host) = batch.get(index) else { break };
            if runtime.is_interrupted() {
                break;
            }
            let value = run_on_host(caller, runtime, name, host, options, body);
            *results[index].lock().unwrap() = value;
            let finished = done.fetch_add(1, Ordering::SeqCst) + 1;
            runtime.emit(Event::TaskProgress { task: name.to_string(), done: finished, total });
        }
    };
    std::thread::scope(|scope| {
        let started = (0..workers)
            .filter(|_| std::thread::Builder::new().stack_size(HOST_THREAD_STACK).spawn_scoped(scope, work).is_ok())
            .count();
        // A worker the system had no thread for leaves its hosts to the others; with none at all, this thread
        // works through the batch itself rather than leave its hosts unrun and unreported.
        if started == 0 {
            work();
        }
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

#[cfg(test)]
mod tests {
    use super::{TaskOptions, failure_policy_stop};

    #[test]
    fn the_failure_policy_is_ansibles() {
        let options = |percent: Option<f64>, fatal: bool| TaskOptions {
            when: true,
            max_fail_percentage: percent,
            any_errors_fatal: fatal,
            ..TaskOptions::default()
        };
        assert!(failure_policy_stop(&options(None, false), 3, 3).is_none(), "no policy: the play goes on");
        assert!(failure_policy_stop(&options(None, true), 0, 3).is_none());
        assert!(failure_policy_stop(&options(None, true), 1, 3).is_some());
        // Strictly greater: 1 of 4 is 25%, not over 25%.
        assert!(failure_policy_stop(&options(Some(25.0), false), 1, 4).is_none());
        assert!(failure_policy_stop(&options(Some(25.0), false), 2, 4).is_some());
        assert!(failure_policy_stop(&options(Some(0.0), false), 1, 10).is_some());
    }
}
