//! Literal option maps checked against what the engine accepts: task options (names and value types) and each
//! primitive's option names. Only literals are judged; an option computed at run time is the engine's to check.

use std::path::Path;

use rhai::{Expr, Ident};

use super::finding::{Finding, did_you_mean_hint};
use super::rules::Rule;
use crate::primitives::catalog::TASK_OPTIONS as TASK_OPTION_NAMES;
use crate::primitives::catalog::{NOTIFY_OPTION, NOTIFYING_PRIMITIVES};

/// What the literal task options say about tags.
#[derive(Debug, Default)]
pub struct TaskTags {
    pub tags: Vec<String>,
    /// Some tags are not literals: the full set is not known.
    pub dynamic: bool,
}

/// `task(name, hosts, #{ ... }, body)`: each key known, each literal value of the right type.
pub fn check_task_options(
    file: &Path,
    entries: &[(Ident, Expr)],
    allowed: &[&str],
    what: &str,
) -> (Vec<Finding>, TaskTags) {
    let mut findings = Vec::new();
    let mut tags = TaskTags::default();
    for (key, value) in entries {
        let name = key.name.as_str();
        if !allowed.contains(&name) {
            let known = allowed.join(", ");
            findings.push(
                Finding::at(file, key.pos, Rule::UnknownTaskOption, format!("unknown {what} option `{name}`")).hint(
                    did_you_mean_hint(name, allowed.iter().copied())
                        .map(|near| format!("{near} (known: {known})"))
                        .unwrap_or_else(|| format!("known: {known}")),
                ),
            );
            continue;
        }
        let wrong = match name {
            "serial" => serial_problem(value),
            "run_once" | "fatal" | "ignore_errors" | "when" | "any_errors_fatal" => literal_type(value)
                .filter(|kind| *kind != "a boolean")
                .map(|kind| format!("task option `{name}` must be true or false, not {kind}")),
            "tags" => tags_problem(value, &mut tags),
            _ => None,
        };
        if let Some(message) = wrong {
            findings.push(Finding::at(file, value.position(), Rule::TaskOptionType, message));
        }
    }
    (findings, tags)
}

/// A primitive's literal options map: every key one the primitive takes.
pub fn check_primitive_options(
    file: &Path,
    primitive: &str,
    entries: &[(Ident, Expr)],
    allowed: &[&str],
) -> Vec<Finding> {
    // `notify:` is the engine's, taken out before the primitive sees its options.
    let engine_option = |key: &str| key == NOTIFY_OPTION && NOTIFYING_PRIMITIVES.contains(&primitive);
    entries
        .iter()
        .filter(|(key, _)| !allowed.contains(&key.name.as_str()) && !engine_option(key.name.as_str()))
        .map(|(key, _)| {
            let known = allowed.join(", ");
            Finding::at(
                file,
                key.pos,
                Rule::UnknownPrimitiveOption,
                format!("`{primitive}` has no option `{}`", key.name),
            )
            .hint(
                did_you_mean_hint(&key.name, allowed.iter().copied())
                    .map(|near| format!("{near} (known: {known})"))
                    .unwrap_or_else(|| format!("known: {known}")),
            )
        })
        .collect()
}

/// A module function's literal options map: every key one its `check_options` list declares.
pub fn check_module_options(
    file: &Path,
    function: &str,
    entries: &[(Ident, Expr)],
    allowed: &[String],
) -> Vec<Finding> {
    let known = allowed.join(", ");
    entries
        .iter()
        .filter(|(key, _)| !allowed.iter().any(|name| name == key.name.as_str()))
        .map(|(key, _)| {
            Finding::at(file, key.pos, Rule::UnknownModuleOption, format!("`{function}` has no option `{}`", key.name))
                .hint(
                    did_you_mean_hint(&key.name, allowed.iter().map(String::as_str))
                        .map(|near| format!("{near} (known: {known})"))
                        .unwrap_or_else(|| format!("known: {known}")),
                )
        })
        .collect()
}

/// The type of a literal value ("a string", ...); `None` for anything computed.
pub fn literal_type(value: &Expr) -> Option<&'static str> {
    Some(match value {
        Expr::BoolConstant(..) => "a boolean",
        Expr::IntegerConstant(..) => "an integer",
        Expr::FloatConstant(..) => "a float",
        Expr::StringConstant(..) | Expr::InterpolatedString(..) => "a string",
        Expr::CharConstant(..) => "a character",
        Expr::Array(..) => "an array",
        Expr::Map(..) => "a map",
        Expr::Unit(..) => "()",
        _ => return None,
    })
}

fn serial_problem(value: &Expr) -> Option<String> {
    match value {
        Expr::IntegerConstant(count, _) if *count >= 1 => None,
        Expr::IntegerConstant(count, _) => Some(format!("task option `serial` must be at least 1, not {count}")),
        Expr::StringConstant(text, _) => {
            let percent = text.trim().strip_suffix('%').and_then(|n| n.trim().parse::<f64>().ok());
            match percent {
                Some(p) if p > 0.0 && p <= 100.0 => None,
                _ => {
                    Some(format!("task option `serial` must be a count (2) or a percentage (\"30%\"), not \"{text}\""))
                }
            }
        }
        other => literal_type(other)
            .map(|kind| format!("task option `serial` must be a count (2) or a percentage (\"30%\"), not {kind}")),
    }
}

fn tags_problem(value: &Expr, tags: &mut TaskTags) -> Option<String> {
    match value {
        Expr::StringConstant(text, _) => {
            tags.tags.push(text.to_string());
            None
        }
        Expr::Array(items, _) => {
            for item in items.iter() {
                match item {
                    Expr::StringConstant(text, _) => tags.tags.push(text.to_string()),
                    other => match literal_type(other) {
                        Some(kind) if kind != "a string" => {
                            return Some(format!("task option `tags` must hold strings, found {kind}"));
                        }
                        _ => tags.dynamic = true,
                    },
                }
            }
            None
        }
        other => match literal_type(other) {
            Some("a string") | None => {
                tags.dynamic = true;
                None
            }
            Some(kind) => Some(format!("task option `tags` must be an array of strings, not {kind}")),
        },
    }
}

/// Task option names, for callers outside this file.
pub fn task_option_names() -> &'static [&'static str] {
    TASK_OPTION_NAMES
}
