//! A Rhai error as a user reads it. Two things matter: the position is the user's own line — for an error
//! raised inside a stdlib (or any imported) module function, the user's call comes first and the module's
//! line follows — and the message speaks the playbook's language: the function the user called and the
//! kinds of values it got, never Rust type names (`&str | ImmutableString | String`).

use rhai::{EvalAltResult, Position};

use super::fatal_stop::FatalStop;
use super::playbook_error::LocatedError;

/// `site.rhai:12:5: message`, or, when the error was raised inside a module function,
/// `site.rhai:12:5: message (in stdlib/packages.rhai:44:11)`.
pub fn describe(error: &EvalAltResult, default_source: &str) -> String {
    locate(error, default_source).to_string()
}

/// As [`describe`], with the place (the user's line) apart from the message.
pub fn locate(error: &EvalAltResult, default_source: &str) -> LocatedError {
    let mut walk = Walk { source: default_source.to_string(), user_call: None };
    let (source, position, message) = walk.innermost(error);
    match walk.user_call {
        Some((user_source, user_position)) if !user_position.is_none() => LocatedError {
            place: place(&user_source, user_position),
            message: format!("{message} (in {})", place(&source, position)),
        },
        _ => LocatedError { place: place(&source, position), message },
    }
}

fn place(source: &str, position: Position) -> String {
    match (position.line(), position.position()) {
        (Some(line), Some(column)) => format!("{source}:{line}:{column}"),
        (Some(line), None) => format!("{source}:{line}"),
        _ => source.to_string(),
    }
}

struct Walk {
    /// The source the error chain is in at this depth.
    source: String,
    /// The user's call into module code: where the chain first left the user's files through a function call.
    user_call: Option<(String, Position)>,
}

impl Walk {
    fn innermost(&mut self, error: &EvalAltResult) -> (String, Position, String) {
        match error {
            EvalAltResult::ErrorInFunctionCall(_, function_source, inner, position) => {
                let caller = self.source.clone();
                if !function_source.is_empty() && *function_source != caller {
                    self.source = function_source.clone();
                }
                if super::module_resolver::is_module_source(function_source) {
                    // A function of an imported module: the user's call into it is the line to show first.
                    if self.user_call.is_none() {
                        self.user_call = Some((caller.clone(), *position));
                    }
                }
                let (source, inner_position, message) = self.innermost(inner);
                if inner_position.is_none() { (caller, *position, message) } else { (source, inner_position, message) }
            }
            // An included stage: the user's own file, so its line is the one to show.
            EvalAltResult::ErrorInModule(module_source, inner, position) => {
                let caller = self.source.clone();
                if !module_source.is_empty() {
                    self.source = module_source.clone();
                }
                let (source, inner_position, message) = self.innermost(inner);
                if inner_position.is_none() { (caller, *position, message) } else { (source, inner_position, message) }
            }
            EvalAltResult::ErrorRuntime(value, position) => {
                let message = match value.clone().try_cast::<FatalStop>() {
                    Some(stop) => stop.to_string(),
                    None => value
                        .clone()
                        .into_immutable_string()
                        .map(|s| s.to_string())
                        .unwrap_or_else(|_| value.to_string()),
                };
                (self.source.clone(), *position, message)
            }
            EvalAltResult::ErrorFunctionNotFound(signature, position) => {
                (self.source.clone(), *position, function_not_found(signature))
            }
            EvalAltResult::ErrorDataRace(variable, position) => {
                let name =
                    if variable.is_empty() { "a captured variable".to_string() } else { format!("`{variable}`") };
                let message = format!(
                    "{name} is changed by several hosts at once: task closures run in parallel and must not assign to \
                     variables from outside the closure; return the value instead (`let results = task(...)` maps each \
                     host to what its closure returned)"
                );
                (self.source.clone(), *position, message)
            }
            other => {
                let text = other.to_string();
                // Rhai appends " (line N, position M)"; the position is reported in front instead.
                let message = match text.rfind(" (line ") {
                    Some(at) if text.ends_with(')') => text[..at].to_string(),
                    _ => text,
                };
                (self.source.clone(), other.position(), plain_types(&message))
            }
        }
    }
}

/// Rhai's "Function not found: tempalte (Host, &str | ImmutableString | String)" as the user would say it:
/// the call they wrote, the kinds of values it got, and the nearest function runbook has.
fn function_not_found(signature: &str) -> String {
    let (name, arguments) = match signature.split_once(" (") {
        Some((name, rest)) => (name.trim(), rest.trim_end_matches(')')),
        None => (signature.trim(), ""),
    };
    let kinds: Vec<String> =
        arguments.split(", ").filter(|a| !a.trim().is_empty()).map(|a| plain_type(a.trim()).to_string()).collect();
    let method = kinds.first().is_some_and(|kind| kind == "host" || kind == "vars map");
    let bare = name.rsplit("::").next().unwrap_or(name);
    let shown = if method {
        format!("{}.{name}({})", kinds[0], kinds[1..].join(", "))
    } else {
        format!("{name}({})", kinds.join(", "))
    };
    let known: Vec<&crate::primitives::catalog::Function> = crate::primitives::catalog::lookup(bare).collect();
    if !known.is_empty() {
        let mut counts: Vec<usize> = known.iter().flat_map(|f| f.arities.iter().copied()).collect();
        counts.sort_unstable();
        counts.dedup();
        let counts: Vec<String> = counts.iter().map(usize::to_string).collect();
        return format!(
            "`{name}` cannot be called as `{shown}`: it takes {} argument(s) of other kinds (see docs/playbooks.md, Primitives)",
            counts.join(" or ")
        );
    }
    let names = crate::primitives::catalog::FUNCTIONS.iter().map(|f| f.name);
    let hint = crate::did_you_mean::did_you_mean(bare, names)
        .map(|near| format!("; did you mean `{near}`?"))
        .unwrap_or_default();
    format!("no function `{name}` can be called as `{shown}`{hint}")
}

/// The name a playbook author knows for a Rust type Rhai reports.
fn plain_type(rust: &str) -> &str {
    let rust = rust.trim();
    if rust.contains("ImmutableString") || rust == "&str" || rust == "String" || rust == "string" {
        return "string";
    }
    match rust.rsplit("::").next().unwrap_or(rust) {
        "i64" | "i32" | "INT" => "int",
        "f64" | "f32" | "FLOAT" => "float",
        "bool" => "bool",
        "char" => "char",
        "Map" => "map",
        "Array" => "array",
        "FnPtr" => "closure",
        "Host" => "host",
        "VarsMap" => "vars map",
        "()" => "()",
        other => other,
    }
}

/// Rust type names in any other Rhai message, replaced by the playbook's names.
fn plain_types(message: &str) -> String {
    message
        .replace("&str | ImmutableString | String", "string")
        .replace("ImmutableString", "string")
        .replace("runbook::engine::host_handle::HostHandle", "host")
        .replace("runbook::engine::vars_map::VarsMap", "vars map")
        .replace("rhai::Map", "map")
        .replace("rhai::Array", "array")
        .replace("i64", "int")
        .replace("f64", "float")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_misspelt_primitive_is_named_without_rust_types() {
        let message =
            function_not_found("tempalte (Host, &str | ImmutableString | String, &str | ImmutableString | String)");
        assert_eq!(
            message,
            "no function `tempalte` can be called as `host.tempalte(string, string)`; did you mean `template`?"
        );
        let message = function_not_found("run (Host, i64)");
        assert!(message.starts_with("`run` cannot be called as `host.run(int)`"), "{message}");
    }

    #[test]
    fn an_error_in_a_module_function_shows_the_users_call_first() {
        super::super::module_resolver::remember_module_source("stdlib/packages.rhai");
        let raised: Box<EvalAltResult> =
            Box::new(EvalAltResult::ErrorRuntime("apt failed".into(), Position::new(44, 11)));
        let in_module = EvalAltResult::ErrorInFunctionCall(
            "install".into(),
            "stdlib/packages.rhai".into(),
            raised,
            Position::new(12, 5),
        );
        let in_closure = EvalAltResult::ErrorInFunctionCall(
            "anon$1".into(),
            "site.rhai".into(),
            in_module.into(),
            Position::new(3, 1),
        );
        assert_eq!(describe(&in_closure, "site.rhai"), "site.rhai:12:5: apt failed (in stdlib/packages.rhai:44:11)");
    }

    #[test]
    fn an_error_in_the_playbook_itself_points_at_its_line() {
        let raised: Box<EvalAltResult> = Box::new(EvalAltResult::ErrorRuntime("boom".into(), Position::new(7, 3)));
        let in_closure =
            EvalAltResult::ErrorInFunctionCall("anon$1".into(), "site.rhai".into(), raised, Position::new(3, 1));
        assert_eq!(describe(&in_closure, "site.rhai"), "site.rhai:7:3: boom");
    }
}
