//! The static table of everything runbook adds to Rhai: each primitive (a method of a host), each global
//! function, the methods of the strict variables map, how many arguments each takes and the names of its
//! options. `runbook lint` and run's pre-flight read this table instead of building a throw-away engine over
//! a fake run; a unit test in the engine checks that the engine registers exactly what is listed here, so the
//! table cannot drift from the functions a playbook really has.

use super::fetch::FETCH_OPTIONS;
use super::file_writer::{FILE_OPTIONS, WRITE_OPTIONS};
use super::read::READ_OPTIONS;
use super::run::RUN_OPTIONS;
use super::sysctl::SYSCTL_OPTIONS;
use super::wait_port::WAIT_PORT_OPTIONS;

/// Options of `task(name, hosts, #{ ... }, |h| ...)`.
pub const TASK_OPTIONS: &[&str] = &[
    "serial",
    "flush_handlers",
    "run_once",
    "tags",
    "fatal",
    "ignore_errors",
    "when",
    "notify",
    "max_fail_percentage",
    "any_errors_fatal",
];
/// Options of `local_run(cmd, opts)`: `h.run`'s, less `sudo` (the controller runs as the operator).
pub const LOCAL_RUN_OPTIONS: &[&str] =
    &["creates", "removes", "unless", "onlyif", "timeout", "env", "stdin", "cwd", "ok_codes", "check_safe"];
/// The option every primitive that reports `changed` accepts besides its own: the engine takes it out of the
/// map before the primitive sees it, and notifies those handlers when the result says `changed`.
pub const NOTIFY_OPTION: &str = "notify";
/// The primitives that take [`NOTIFY_OPTION`] (the ones with an options map whose result has `changed`).
pub const NOTIFYING_PRIMITIVES: &[&str] = &["run", "write", "upload", "template", "sysctl", "fetch"];
/// Options of `include(file, #{ ... })`.
pub const INCLUDE_OPTIONS: &[&str] = &["tags", "params"];

/// What a function is called on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Receiver {
    /// A global function: `task(...)`.
    None,
    /// A method of a host: `h.run(...)`.
    Host,
    /// A method of a strict variables map (`h.vars`, `vars`, `h.facts()`): `vars.get(...)`.
    Vars,
}

/// One function a playbook may call.
#[derive(Debug, Clone, Copy)]
pub struct Function {
    pub name: &'static str,
    pub receiver: Receiver,
    /// The numbers of arguments accepted, not counting the receiver of a method.
    pub arities: &'static [usize],
    /// Which argument (0-based, receiver not counted) is an options map, and the names it accepts.
    pub options: Option<(usize, &'static [&'static str])>,
}

const fn global(name: &'static str, arities: &'static [usize]) -> Function {
    Function { name, receiver: Receiver::None, arities, options: None }
}

const fn host(name: &'static str, arities: &'static [usize]) -> Function {
    Function { name, receiver: Receiver::Host, arities, options: None }
}

const fn vars(name: &'static str, arities: &'static [usize]) -> Function {
    Function { name, receiver: Receiver::Vars, arities, options: None }
}

const fn with_options(function: Function, index: usize, names: &'static [&'static str]) -> Function {
    Function { options: Some((index, names)), ..function }
}

pub const FUNCTIONS: &[Function] = &[
    // Globals.
    global("hosts", &[0]),
    global("group", &[1]),
    global("host", &[1]),
    with_options(global("task", &[3, 4]), 2, TASK_OPTIONS),
    with_options(global("include", &[1, 2]), 1, INCLUDE_OPTIONS),
    global("secret", &[1]),
    global("warn", &[1]),
    global("results", &[1]),
    global("tagged", &[2]),
    global("wait_port", &[2, 3]),
    global("inventory_group", &[1]),
    global("handler", &[2]),
    global("flush_handlers", &[0]),
    with_options(global("local_run", &[1, 2]), 1, LOCAL_RUN_OPTIONS),
    global("local_exists", &[1]),
    // Rhai's own `trim` returns nothing; runbook's returns the trimmed string too.
    // Called as `text.trim()`: the string is its one parameter.
    global("trim", &[1]),
    // Primitives: methods of a host.
    with_options(host("run", &[1, 2]), 1, RUN_OPTIONS),
    with_options(host("read", &[1, 2]), 1, READ_OPTIONS),
    host("exists", &[1]),
    with_options(host("write", &[2, 3]), 2, WRITE_OPTIONS),
    with_options(host("upload", &[2, 3]), 2, FILE_OPTIONS),
    with_options(host("template", &[2, 3, 4]), 3, FILE_OPTIONS),
    with_options(host("wait_port", &[1, 2]), 1, WAIT_PORT_OPTIONS),
    with_options(host("sysctl", &[1, 2]), 1, SYSCTL_OPTIONS),
    with_options(host("fetch", &[2, 3]), 2, FETCH_OPTIONS),
    host("reboot", &[0, 1]),
    host("facts", &[0]),
    host("in_group", &[1]),
    host("notify", &[1]),
    host("to_string", &[0]),
    host("to_debug", &[0]),
    // The strict variables map.
    vars("contains", &[1]),
    vars("get", &[1, 2]),
    vars("keys", &[0]),
    vars("values", &[0]),
    vars("len", &[0]),
    vars("is_empty", &[0]),
    vars("to_map", &[0]),
    vars("to_string", &[0]),
    vars("to_debug", &[0]),
];

/// Properties of a host (`h.name`), read-only.
pub const HOST_PROPERTIES: &[&str] = &["name", "address", "vars", "groups", "check_mode"];

/// Every entry with this name.
pub fn lookup(name: &str) -> impl Iterator<Item = &'static Function> + '_ {
    FUNCTIONS.iter().filter(move |function| function.name == name)
}

/// The option names of the call `name` with `count` arguments (receiver not counted) at argument `index`.
pub fn options_of(name: &str, method: bool, count: usize, index: usize) -> Option<&'static [&'static str]> {
    lookup(name)
        .filter(|function| (function.receiver != Receiver::None) == method && function.arities.contains(&count))
        .find_map(|function| function.options.filter(|(at, _)| *at == index).map(|(_, names)| names))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_found_by_call_shape() {
        assert_eq!(options_of("run", true, 2, 1), Some(RUN_OPTIONS));
        assert_eq!(options_of("run", false, 2, 1), None);
        assert_eq!(options_of("template", true, 4, 3), Some(FILE_OPTIONS));
        assert_eq!(options_of("task", false, 4, 2), Some(TASK_OPTIONS));
        assert_eq!(options_of("wait_port", false, 3, 1), None);
    }
}
