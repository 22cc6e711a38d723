use rhai::{EvalAltResult, Position};

/// A Rhai error as a user reads it: `playbook.rhai:12:5: message`, pointing at the innermost place that
/// went wrong (inside the closure or module function, not the `task(...)` call that ran it).
pub fn describe(error: &EvalAltResult, default_source: &str) -> String {
    let (source, position, message) = innermost(error, default_source.to_string());
    match (position.line(), position.position()) {
        (Some(line), Some(column)) => format!("{source}:{line}:{column}: {message}"),
        (Some(line), None) => format!("{source}:{line}: {message}"),
        _ => format!("{source}: {message}"),
    }
}

fn innermost(error: &EvalAltResult, source: String) -> (String, Position, String) {
    match error {
        EvalAltResult::ErrorInFunctionCall(_, inner_source, inner, position)
        | EvalAltResult::ErrorInModule(inner_source, inner, position) => {
            let source = if inner_source.is_empty() { source } else { inner_source.to_string() };
            let (inner_src, inner_position, message) = innermost(inner, source.clone());
            if inner_position.is_none() { (source, *position, message) } else { (inner_src, inner_position, message) }
        }
        EvalAltResult::ErrorRuntime(value, position) => {
            let message =
                value.clone().into_immutable_string().map(|s| s.to_string()).unwrap_or_else(|_| value.to_string());
            (source, *position, message)
        }
        other => {
            let position = other.position();
            let text = other.to_string();
            // Rhai appends " (line N, position M)"; the position is reported in front instead.
            let message = match text.rfind(" (line ") {
                Some(at) if text.ends_with(')') => text[..at].to_string(),
                _ => text,
            };
            (source, position, message)
        }
    }
}

/// A message for the user with no script position (the error was raised by the runtime, not the script).
pub fn message_only(error: &EvalAltResult) -> String {
    innermost(error, String::new()).2
}
