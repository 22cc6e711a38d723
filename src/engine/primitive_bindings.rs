//! The primitives as methods of the script's `HostHandle`: the engine adapts each one to Rhai here, so primitives
//! know nothing of Rhai's registration or of the engine, and their typed errors become script errors in one
//! place — where an unreachable host and a failed command's exit code are noted for the task's result.

use std::sync::Arc;
use std::time::Duration;

use rhai::{Dynamic, Engine, EvalAltResult, FnPtr, Map, NativeCallContext};

use super::host_handle::HostHandle;
use super::runtime::Runtime;
use super::step_recorder;
use super::vars_map::VarsMap;
use crate::primitives::{self, PrimitiveError};
use crate::report::{Event, Status};

type Result<T> = std::result::Result<T, Box<EvalAltResult>>;

/// A primitive's error as the script sees it (a message its `try`/`catch` can read), noting on this thread
/// what the task runner must know about the host.
fn script_error(error: PrimitiveError) -> Box<EvalAltResult> {
    match error {
        PrimitiveError::Unreachable(message) => {
            step_recorder::mark_unreachable(&message);
            message.into()
        }
        PrimitiveError::Failed { message, rc } => {
            if let Some(rc) = rc {
                step_recorder::mark_failed_rc(rc);
            }
            message.into()
        }
        // A host's unreadable answer fails the host with no exit code to note.
        malformed @ PrimitiveError::Malformed(_) => malformed.to_string().into(),
        PrimitiveError::Usage(message) => message.into(),
    }
}

fn adapt<T>(result: std::result::Result<T, PrimitiveError>) -> Result<T> {
    result.map_err(script_error)
}

/// A primitive called with an options map that may say `notify:`. The engine takes it out (the primitive
/// knows nothing of handlers and refuses options it does not have), and notifies when the result changed.
fn notifying(
    host: &HostHandle,
    options: &Map,
    call: impl FnOnce(&HostHandle, &Map) -> std::result::Result<Map, PrimitiveError>,
) -> Result<Map> {
    let (options, handlers) = super::handlers::take_notify(options)?;
    for handler in &handlers {
        super::handlers::check_declared(&host.runtime, handler)?;
    }
    let result = adapt(call(host, &options))?;
    if result.get("changed").and_then(|changed| changed.as_bool().ok()) == Some(true) {
        handlers.iter().for_each(|handler| host.state.notify(handler));
    }
    Ok(result)
}

/// `h.run(cmd, #{ changed_when, failed_when, ... })`, Ansible's meanings: each is a bool or a closure given the
/// result (`|r| r.rc == 2`). `failed_when` replaces the exit code rule (any exit code is then judged by it
/// alone); `changed_when` says whether the step changed the host, and the step is reported so. A command
/// --check did not run has no result to judge: it stays planned.
fn run_judged(context: &NativeCallContext, host: &HostHandle, command: &str, options: Map) -> Result<Map> {
    let mut options = options;
    let changed_when = options.remove("changed_when");
    let failed_when = options.remove("failed_when");
    if failed_when.is_some() && !options.contains_key("ok_codes") {
        options.insert("ok_codes".into(), Dynamic::from_array((0..=255).map(Dynamic::from_int).collect()));
    }
    let (options, handlers) = super::handlers::take_notify(&options)?;
    for handler in &handlers {
        super::handlers::check_declared(&host.runtime, handler)?;
    }
    let mut result = adapt(primitives::run(host, command, &options))?;
    let ran = result.get("skipped").and_then(|skipped| skipped.as_bool().ok()) != Some(true);
    if ran {
        if let Some(condition) = failed_when
            && judge(context, "failed_when", &condition, &result)?
        {
            let rc = result.get("rc").and_then(|rc| rc.as_int().ok()).unwrap_or(0);
            step_recorder::mark_failed_rc(rc as i32);
            // Failed as a command with a bad exit code is: not counted as a change of the host.
            step_recorder::set_last_status(Status::Failed);
            return Err(format!("failed_when is true for `{command}` (exit code {rc})").into());
        }
        if let Some(condition) = changed_when {
            let changed = judge(context, "changed_when", &condition, &result)?;
            result.insert("changed".into(), Dynamic::from_bool(changed));
            step_recorder::set_last_status(if changed { Status::Changed } else { Status::Ok });
        }
    }
    if result.get("changed").and_then(|changed| changed.as_bool().ok()) == Some(true) {
        handlers.iter().for_each(|handler| host.state.notify(handler));
    }
    Ok(result)
}

/// A `changed_when`/`failed_when` value: a bool, or a closure called with the result that returns one.
fn judge(context: &NativeCallContext, option: &str, condition: &Dynamic, result: &Map) -> Result<bool> {
    let verdict = match condition.clone().try_cast::<FnPtr>() {
        Some(closure) => closure.call_within_context::<Dynamic>(context, (Dynamic::from_map(result.clone()),))?,
        None => condition.clone(),
    };
    verdict.as_bool().map_err(|found| {
        format!("option `{option}` must be true/false or a closure returning one (|r| r.rc == 0), got a {found}").into()
    })
}

pub fn register(engine: &mut Engine, runtime: &Arc<Runtime>) {
    engine.register_fn("run", |h: &mut HostHandle, cmd: &str| adapt(primitives::run(h, cmd, &Map::new())));
    engine.register_fn("run", |context: NativeCallContext, h: &mut HostHandle, cmd: &str, opts: Map| {
        run_judged(&context, h, cmd, opts)
    });
    engine.register_fn("read", |h: &mut HostHandle, path: &str| adapt(primitives::read(h, path)));
    engine
        .register_fn("read", |h: &mut HostHandle, path: &str, opts: Map| adapt(primitives::read_with(h, path, &opts)));
    engine.register_fn("exists", |h: &mut HostHandle, path: &str| adapt(primitives::exists(h, path)));
    engine.register_fn("write", |h: &mut HostHandle, content: &str, dest: &str| {
        adapt(primitives::write(h, content, dest, &Map::new()))
    });
    engine.register_fn("write", |h: &mut HostHandle, content: &str, dest: &str, opts: Map| {
        notifying(h, &opts, |h, o| primitives::write(h, content, dest, o))
    });
    engine.register_fn("upload", |h: &mut HostHandle, src: &str, dest: &str| {
        adapt(primitives::upload(h, src, dest, &Map::new()))
    });
    engine.register_fn("upload", |h: &mut HostHandle, src: &str, dest: &str, opts: Map| {
        notifying(h, &opts, |h, o| primitives::upload(h, src, dest, o))
    });
    engine.register_fn("template", |h: &mut HostHandle, src: &str, dest: &str| {
        adapt(primitives::template(h, src, dest, &Map::new(), &Map::new()))
    });
    engine.register_fn("template", |h: &mut HostHandle, src: &str, dest: &str, vars: Map| {
        adapt(primitives::template(h, src, dest, &vars, &Map::new()))
    });
    engine.register_fn("template", |h: &mut HostHandle, src: &str, dest: &str, vars: Map, opts: Map| {
        notifying(h, &opts, |h, o| primitives::template(h, src, dest, &vars, o))
    });
    engine.register_fn("wait_port", |h: &mut HostHandle, port: i64| adapt(primitives::wait_port(h, port, &Map::new())));
    engine.register_fn("wait_port", |h: &mut HostHandle, port: i64, opts: Map| {
        adapt(primitives::wait_port(h, port, &opts))
    });
    engine.register_fn("sysctl", |h: &mut HostHandle, keys: Map| adapt(primitives::sysctl(h, &keys, &Map::new())));
    engine.register_fn("sysctl", |h: &mut HostHandle, keys: Map, opts: Map| {
        notifying(h, &opts, |h, o| primitives::sysctl(h, &keys, o))
    });
    engine.register_fn("fetch", |h: &mut HostHandle, remote: &str, local: &str| {
        adapt(primitives::fetch(h, remote, local, &Map::new()))
    });
    engine.register_fn("fetch", |h: &mut HostHandle, remote: &str, local: &str, opts: Map| {
        notifying(h, &opts, |h, o| primitives::fetch(h, remote, local, o))
    });
    engine.register_fn("reboot", |h: &mut HostHandle| adapt(primitives::reboot(h, 300)));
    engine.register_fn("reboot", |h: &mut HostHandle, timeout: i64| adapt(primitives::reboot(h, timeout)));
    // Facts are strict like vars: `h.facts().os_vesion` is an error naming the key, not `()`.
    engine.register_fn("facts", |h: &mut HostHandle| {
        adapt(primitives::gather_facts(h)).map(|facts| VarsMap::new(format!("the facts of host {}", h.name()), facts))
    });

    let rt = runtime.clone();
    engine.register_fn("wait_port", move |address: &str, port: i64| wait_global(&rt, address, port, 60));
    let rt = runtime.clone();
    engine.register_fn("wait_port", move |address: &str, port: i64, timeout: i64| {
        wait_global(&rt, address, port, timeout)
    });
}

/// `wait_port(address, port, timeout)`: from the controller, not tied to a host. In --check it looks once and
/// says what it would wait for.
fn wait_global(runtime: &Runtime, address: &str, port: i64, timeout: i64) -> Result<Dynamic> {
    let timeout = Duration::from_secs(timeout.max(1) as u64);
    let interrupted = || runtime.is_interrupted();
    if runtime.options.check {
        if primitives::wait_from_controller(address, port, Duration::ZERO, &interrupted).is_err() {
            runtime.emit(Event::Print {
                host: None,
                message: format!("check mode: would wait for {address}:{port} (up to {}s)", timeout.as_secs()),
            });
        }
        return Ok(Dynamic::UNIT);
    }
    primitives::wait_from_controller(address, port, timeout, &interrupted)
        .map(|_| Dynamic::UNIT)
        .map_err(|error| error.to_string().into())
}
