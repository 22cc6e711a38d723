//! `task(...)`: the unit of a run as Ansible has it. Decides whether the task runs (tags, `when`,
//! `--start-at-task`), cuts its hosts into `serial` batches, runs each batch, applies Ansible's failure policy
//! (`any_errors_fatal`, `max_fail_percentage`, a serial batch failing everywhere) and hands the closures' values
//! back to the script.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use rhai::{EvalAltResult, FnPtr, Map, NativeCallContext};

use super::caller::Caller;
use super::captured_values::detach_host_handles;
use super::host_batch::run_batch;
use super::host_handle::HostHandle;
use super::runtime::Runtime;
use super::task_options::TaskOptions;
use crate::analysis::tag_selection::selected_by_tags;
use crate::report::Event;

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
    if !runtime.options.drop_task_values
        && let Some(results) = runtime.task_results.lock().unwrap().get_mut(name)
    {
        for (host, value) in &returned {
            if let Some(entry) = results.get_mut(host.as_str()) {
                entry.value = value.clone();
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

fn skipped(runtime: &Runtime, name: &str, reason: &str) -> Result<Map, Box<EvalAltResult>> {
    runtime.emit(Event::TaskSkipped { task: name.to_string(), reason: reason.to_string() });
    Ok(Map::new())
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
