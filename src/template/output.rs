//! How a value prints in a template, as in Ansible (Python's `str()`): `None` prints nothing, booleans print
//! `True`/`False`, lists and dicts print as Python's repr (`['a', 'b']`, `{'k': 1}`).

use minijinja::value::{Value, ValueKind};
use minijinja::{Error, Output, State};

pub fn format(out: &mut Output, _state: &mut State, value: &Value) -> Result<(), Error> {
    let text = python_str(value);
    EMITTED.with(|emitted| {
        let mut e = emitted.get();
        if e.count == 0 {
            e.first_is_text = value.kind() == ValueKind::String;
        }
        e.count += 1;
        e.bytes += text.len();
        emitted.set(e);
    });
    out.write_str(&text).map_err(Error::from)
}

/// What the `{{ }}` expressions of one render emitted: Ansible 2.19 joins a template's output nodes itself, and
/// a render with no node at all is `None` (an empty file, no trailing newline), one node that is not a string is
/// that value (no trailing newline either), anything else a string that gets the source's trailing newlines.
#[derive(Clone, Copy, Default, Debug, PartialEq)]
pub struct Emitted {
    pub count: usize,
    pub first_is_text: bool,
    pub bytes: usize,
}

thread_local! {
    static EMITTED: std::cell::Cell<Emitted> = const { std::cell::Cell::new(Emitted { count: 0, first_is_text: false, bytes: 0 }) };
}

/// Runs a render and reports what its expressions emitted (a render nested in it, `lookup('template')`, keeps
/// its own count).
pub fn counting_emits<T>(render: impl FnOnce() -> T) -> (T, Emitted) {
    let outer = EMITTED.with(|e| e.replace(Emitted::default()));
    let result = render();
    let emitted = EMITTED.with(|e| e.replace(outer));
    (result, emitted)
}

/// Python's `str(value)`.
pub fn python_str(value: &Value) -> String {
    match value.kind() {
        ValueKind::None | ValueKind::Undefined => String::new(),
        ValueKind::String => value.as_str().unwrap_or_default().to_string(),
        _ => python_repr(value),
    }
}

/// Python's `repr(value)`, for values inside lists and dicts.
pub fn python_repr(value: &Value) -> String {
    match value.kind() {
        ValueKind::None | ValueKind::Undefined => "None".into(),
        ValueKind::Bool => if value.is_true() { "True" } else { "False" }.into(),
        ValueKind::String => repr_str(value.as_str().unwrap_or_default()),
        ValueKind::Number if value.is_integer() => value.to_string(),
        ValueKind::Number => f64::try_from(value.clone()).map(python_float).unwrap_or_else(|_| value.to_string()),
        ValueKind::Seq | ValueKind::Iterable => {
            let items: Vec<String> =
                value.try_iter().map(|it| it.map(|v| python_repr(&v)).collect()).unwrap_or_default();
            format!("[{}]", items.join(", "))
        }
        ValueKind::Map => {
            let mut items = Vec::new();
            if let Ok(keys) = value.try_iter() {
                for key in keys {
                    let item = value.get_item(&key).unwrap_or_default();
                    items.push(format!("{}: {}", python_repr(&key), python_repr(&item)));
                }
            }
            format!("{{{}}}", items.join(", "))
        }
        _ => value.to_string(),
    }
}

/// Python's float repr: shortest round-trip digits, always with a `.0` or an exponent.
pub fn python_float(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf" } else { "-inf" }.into();
    }
    let abs = f.abs();
    if abs != 0.0 && !(1e-4..1e16).contains(&abs) {
        // Rust's `{:e}` gives `1e20` / `1.5e-7`; Python writes `1e+20` / `1.5e-07`.
        let text = format!("{f:e}");
        let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
        let (sign, digits) = exponent.strip_prefix('-').map(|d| ("-", d)).unwrap_or(("+", exponent));
        return format!("{mantissa}e{sign}{digits:0>2}");
    }
    let text = format!("{f}");
    if text.contains('.') { text } else { format!("{text}.0") }
}

/// Python's `repr(str)`: single quotes unless the text has a single quote and no double quote.
pub fn repr_str(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') { '"' } else { '\'' };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_print_as_python_prints_them() {
        assert_eq!(python_str(&Value::from(())), "");
        assert_eq!(python_str(&Value::from(true)), "True");
        assert_eq!(python_str(&Value::from(vec!["a", "b"])), "['a', 'b']");
        assert_eq!(
            python_str(&Value::from(minijinja::value::Serde(serde_json::json!({"k": 1, "n": null})))),
            "{'k': 1, 'n': None}"
        );
        assert_eq!(repr_str("it's"), "\"it's\"");
        assert_eq!(python_float(1.0), "1.0");
        assert_eq!(python_float(0.5), "0.5");
        assert_eq!(python_float(1e20), "1e+20");
    }
}
