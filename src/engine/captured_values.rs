//! Why a task's closure gets plain copies of the hosts it captured (see [`detach_host_handles`]).

use rhai::{Dynamic, FnPtr, Map};

use super::host_handle::HostHandle;

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
