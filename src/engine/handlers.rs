//! Handlers, as Ansible has them: a named closure declared once (`handler("restart nginx", |h| ...)`), notified
//! per host by a step or a task that changed something (`#{ notify: "restart nginx" }`, `h.notify(...)`), and
//! run once per notified host — at `flush_handlers()` or at the end of the playbook, in declaration order. A
//! host that failed after the notification keeps it pending unless --force-handlers, so the restart a changed
//! config needs is not lost silently: the run ends with a warning naming what was left.

use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Instant;

use rhai::{Dynamic, Engine, EvalAltResult, FnPtr, Map, NativeCallContext};

use super::caller::Caller;
use super::captured_values::detach_host_handles;
use super::declared_handler::{DeclaredContext, DeclaredHandler};
use super::host_batch::run_batch;
use super::host_handle::HostHandle;
use super::host_result::report_result;
use super::runtime::Runtime;
use super::step_recorder;
use super::task_options::TaskOptions;
use crate::report::{Event, Status};

/// How a handler's results are named in the console, the JSON log and the recap.
pub fn task_name(handler: &str) -> String {
    format!("handler: {handler}")
}

pub fn register(engine: &mut Engine, runtime: &Arc<Runtime>) {
    let rt = runtime.clone();
    engine.register_fn("handler", move |context: NativeCallContext, name: &str, body: FnPtr| {
        declare(&rt, &context, name, body)
    });
    let rt = runtime.clone();
    engine.register_fn("flush_handlers", move |context: NativeCallContext| {
        if step_recorder::active() {
            return Err(
                "flush_handlers() runs between tasks, at the top level of the playbook, not inside a task".into()
            );
        }
        flush(&rt, &Caller::Within(&context))
    });
    engine.register_fn("notify", |h: &mut HostHandle, name: &str| -> Result<(), Box<EvalAltResult>> {
        check_declared(&h.runtime, name)?;
        h.state.notify(name);
        Ok(())
    });
}

fn declare(runtime: &Runtime, context: &NativeCallContext, name: &str, body: FnPtr) -> Result<(), Box<EvalAltResult>> {
    if step_recorder::active() {
        return Err(format!("handler \"{name}\" is declared inside a task: declare handlers at the top level").into());
    }
    let mut handlers = runtime.handlers.lock().unwrap();
    if handlers.contains_key(name) {
        return Err(format!("handler \"{name}\" is declared twice").into());
    }
    #[allow(deprecated)] // "volatile", not deprecated: Rhai's only way to keep a context for later calls
    let declared_in = context.store_data();
    handlers.insert(name.to_string(), DeclaredHandler { body: detach_host_handles(&body), declared_in });
    Ok(())
}

/// A notification of a handler the playbook has not declared (yet) is an error at the line that sends it,
/// not a restart that silently never happens.
pub fn check_declared(runtime: &Runtime, name: &str) -> Result<(), Box<EvalAltResult>> {
    let handlers = runtime.handlers.lock().unwrap();
    if handlers.contains_key(name) {
        return Ok(());
    }
    let hint = crate::did_you_mean::did_you_mean(name, handlers.keys().map(String::as_str))
        .map(|near| format!(" Did you mean \"{near}\"?"))
        .unwrap_or_default();
    Err(format!("no handler \"{name}\" is declared (declare it with handler(\"{name}\", |h| ...) before the tasks that notify it).{hint}").into())
}

/// `notify:` in a primitive's options: names (one or an array), taken out of the map the primitive sees.
pub fn take_notify(options: &Map) -> Result<(Map, Vec<String>), Box<EvalAltResult>> {
    let mut options = options.clone();
    let Some(value) = options.remove(crate::primitives::catalog::NOTIFY_OPTION) else {
        return Ok((options, Vec::new()));
    };
    let names = if value.is_string() {
        vec![value.to_string()]
    } else if let Some(items) = value.clone().try_cast::<rhai::Array>() {
        items
            .into_iter()
            .map(|item| {
                item.into_immutable_string()
                    .map(|name| name.to_string())
                    .map_err(|t| format!("option `notify` must hold handler names, found a {t}"))
            })
            .collect::<Result<_, _>>()?
    } else {
        return Err(
            format!("option `notify` must be a handler name or an array of them, not a {}", value.type_name()).into()
        );
    };
    Ok((options, names))
}

/// Runs the pending handlers, each on the hosts it was notified on, in declaration order.
pub(super) fn flush(runtime: &Arc<Runtime>, caller: &Caller) -> Result<(), Box<EvalAltResult>> {
    let declared: Vec<(String, FnPtr, DeclaredContext)> = runtime
        .handlers
        .lock()
        .unwrap()
        .iter()
        .map(|(name, handler)| (name.clone(), handler.body.clone(), handler.declared_in.clone()))
        .collect();
    for (name, body, declared_in) in declared {
        if runtime.is_interrupted() {
            return Err("interrupted".into());
        }
        let hosts: Vec<HostHandle> = runtime
            .selected
            .iter()
            .filter_map(|host| runtime.host(host))
            .filter(|state| state.is_notified(&name))
            .filter(|state| state.is_active() || (runtime.options.force_handlers && state.has_failed()))
            .map(|state| HostHandle::new(state.clone(), runtime.clone()))
            .collect();
        if hosts.is_empty() {
            continue;
        }
        // Taken before it runs: a handler that notifies itself would run again, not loop here.
        for host in &hosts {
            host.state.take_notified(&name);
        }
        run_handler(runtime, &Caller::Declared(caller.engine(), &declared_in), &name, &hosts, &body);
    }
    Ok(())
}

/// At the end of the run: the notifications no handler run took, per host, as warnings (Ansible drops them
/// silently; a restart a changed config needed is worth a line).
pub(super) fn report_left(runtime: &Runtime) {
    for state in runtime.selected.iter().filter_map(|host| runtime.host(host)) {
        let left = state.pending_handlers();
        if !left.is_empty() {
            let names: Vec<String> = left.iter().map(|name| format!("\"{name}\"")).collect();
            runtime.warn(
                Some(&state.name),
                &format!(
                    "notified handler(s) not run: {} (the host failed or the run stopped; --force-handlers runs them on a failed host)",
                    names.join(", ")
                ),
            );
        }
    }
}

fn run_handler(runtime: &Arc<Runtime>, caller: &Caller, name: &str, hosts: &[HostHandle], body: &FnPtr) {
    let task = task_name(name);
    let started = Instant::now();
    runtime.emit(Event::TaskStart { task: task.clone(), hosts: hosts.iter().map(|h| h.state.name.clone()).collect() });
    if runtime.options.check {
        // Ansible's check mode reports the handler as what would run; nothing of it is run.
        for host in hosts {
            host.state.plan_change();
            let message = Some("check mode: would run".to_string());
            report_result(
                runtime,
                &task,
                &host.state.name,
                Status::Changed,
                None,
                message,
                Vec::new(),
                started.elapsed(),
            );
        }
    } else {
        let options = TaskOptions { when: true, ..TaskOptions::default() };
        let done = AtomicUsize::new(0);
        let _: Vec<Option<Dynamic>> = run_batch(caller, runtime, &task, hosts, &options, body, &done, hosts.len());
    }
    runtime.emit(Event::TaskEnd { task, elapsed: started.elapsed() });
}
