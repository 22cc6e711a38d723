//! Ansible's Jinja tests: `version` (LooseVersion comparison, Ansible's default), `match`, `search`,
//! `regex` (Python `re` semantics: `match` is anchored at the start), and `truthy`/`falsy`.

use std::cmp::Ordering;

use minijinja::value::{Kwargs, Value};
use minijinja::{Environment, Error, ErrorKind};

pub fn register(env: &mut Environment) {
    for prefix in ["", "ansible.builtin."] {
        env.add_test(format!("{prefix}version"), version);
        env.add_test(format!("{prefix}version_compare"), version);
        env.add_test(format!("{prefix}match"), matches);
        env.add_test(format!("{prefix}search"), search);
        env.add_test(format!("{prefix}regex"), regex);
        env.add_test(format!("{prefix}truthy"), |v: &Value| v.is_true());
        env.add_test(format!("{prefix}falsy"), |v: &Value| !v.is_true());
    }
}

fn invalid(message: String) -> Error {
    Error::new(ErrorKind::InvalidOperation, message)
}

#[derive(Debug, PartialEq)]
enum Part {
    Number(u64),
    Text(String),
}

/// Python's `LooseVersion`: runs of digits (numbers), of lowercase letters, and of anything else but dots.
fn loose(version: &str) -> Vec<Part> {
    let mut parts = Vec::new();
    let mut chars = version.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c == '.' {
            chars.next();
            continue;
        }
        let class = |c: char| {
            if c.is_ascii_digit() {
                0
            } else if c.is_ascii_lowercase() {
                1
            } else if c == '.' {
                3
            } else {
                2
            }
        };
        let kind = class(c);
        let mut run = String::new();
        while let Some(&next) = chars.peek() {
            if class(next) != kind {
                break;
            }
            run.push(next);
            chars.next();
        }
        parts.push(if kind == 0 { Part::Number(run.parse().unwrap_or(u64::MAX)) } else { Part::Text(run) });
    }
    parts
}

fn compare_loose(a: &str, b: &str) -> Result<Ordering, Error> {
    let (a_parts, b_parts) = (loose(a), loose(b));
    for (x, y) in a_parts.iter().zip(&b_parts) {
        let ordering = match (x, y) {
            (Part::Number(x), Part::Number(y)) => x.cmp(y),
            (Part::Text(x), Part::Text(y)) => x.cmp(y),
            _ => {
                return Err(invalid(format!(
                    "version comparison failed: {a:?} and {b:?} mix numbers and letters at the same place"
                )));
            }
        };
        if ordering != Ordering::Equal {
            return Ok(ordering);
        }
    }
    Ok(a_parts.len().cmp(&b_parts.len()))
}

/// `value is version('1.6', '>=')`.
pub fn version(value: &Value, other: &Value, operator: Option<String>, kwargs: Kwargs) -> Result<bool, Error> {
    let operator = kwargs.get::<Option<String>>("operator")?.or(operator).unwrap_or_else(|| "eq".into());
    let strict = kwargs.get::<Option<bool>>("strict")?.unwrap_or(false);
    let version_type = kwargs.get::<Option<String>>("version_type")?.unwrap_or_else(|| "loose".into());
    kwargs.assert_all_used()?;
    if strict || version_type != "loose" {
        return Err(invalid(format!(
            "version test: only the default LooseVersion comparison is supported, not {}",
            if strict { "strict".to_string() } else { version_type }
        )));
    }
    let text = |v: &Value| crate::template::output::python_str(v);
    let (a, b) = (text(value), text(other));
    if a.is_empty() {
        return Err(invalid("version test: the version to compare is empty".into()));
    }
    let ordering = compare_loose(&a, &b)?;
    Ok(match operator.as_str() {
        "==" | "=" | "eq" => ordering == Ordering::Equal,
        "<" | "lt" => ordering == Ordering::Less,
        "<=" | "le" => ordering != Ordering::Greater,
        ">" | "gt" => ordering == Ordering::Greater,
        ">=" | "ge" => ordering != Ordering::Less,
        "!=" | "<>" | "ne" => ordering != Ordering::Equal,
        other => return Err(invalid(format!("version test: invalid operator {other:?}"))),
    })
}

fn regex_test(value: &Value, pattern: &str, kwargs: &Kwargs, anchored: bool) -> Result<bool, Error> {
    let ignorecase = kwargs.get::<Option<bool>>("ignorecase")?.unwrap_or(false);
    let multiline = kwargs.get::<Option<bool>>("multiline")?.unwrap_or(false);
    let source = if anchored { format!(r"\A(?:{pattern})") } else { pattern.to_string() };
    let regex = crate::template::python_regex::compile(&source, ignorecase, multiline)?;
    regex
        .is_match(&crate::template::output::python_str(value))
        .map_err(|e| crate::template::python_regex::failed(pattern, e))
}

/// `value is match(pattern)`: Python's `re.match`, anchored at the start.
pub fn matches(value: &Value, pattern: String, kwargs: Kwargs) -> Result<bool, Error> {
    let result = regex_test(value, &pattern, &kwargs, true);
    kwargs.assert_all_used()?;
    result
}

/// `value is search(pattern)`: Python's `re.search`, anywhere.
pub fn search(value: &Value, pattern: String, kwargs: Kwargs) -> Result<bool, Error> {
    let result = regex_test(value, &pattern, &kwargs, false);
    kwargs.assert_all_used()?;
    result
}

/// `value is regex(pattern, match_type='search')`.
pub fn regex(value: &Value, pattern: String, kwargs: Kwargs) -> Result<bool, Error> {
    let match_type = kwargs.get::<Option<String>>("match_type")?.unwrap_or_else(|| "search".into());
    let result = match match_type.as_str() {
        "match" => regex_test(value, &pattern, &kwargs, true),
        "search" => regex_test(value, &pattern, &kwargs, false),
        "fullmatch" => regex_test(value, &format!("(?:{pattern})\\z"), &kwargs, true),
        other => Err(invalid(format!("regex test: match_type {other:?} (match, search, fullmatch)"))),
    };
    kwargs.assert_all_used()?;
    result
}

#[cfg(test)]
mod unit {
    use super::*;

    fn v(a: &str, b: &str, op: &str) -> bool {
        version(&Value::from(a), &Value::from(b), Some(op.into()), Kwargs::from_iter(Vec::<(&str, Value)>::new()))
            .unwrap()
    }

    #[test]
    fn versions_compare_as_loose_version() {
        assert!(v("1.10.0", "1.9", ">="));
        assert!(v("1.6", "1.6.0", "lt"));
        assert!(v("v1.28.2", "v1.28.10", "<"));
        assert!(v("2.0", "2.0", "eq"));
        assert!(v("1.2.3", "1.2.4", "!="));
        assert!(
            version(
                &Value::from("1.0a"),
                &Value::from("1.0.1"),
                Some(">".into()),
                Kwargs::from_iter(Vec::<(&str, Value)>::new())
            )
            .is_err()
        );
    }

    #[test]
    fn match_is_anchored_and_search_is_not() {
        let test = |f: fn(&Value, String, Kwargs) -> Result<bool, Error>, value: &str, pattern: &str| {
            f(&Value::from(value), pattern.into(), Kwargs::from_iter(Vec::<(&str, Value)>::new())).unwrap()
        };
        assert!(test(matches, "http://example.com", "http://"));
        assert!(!test(matches, "see http://example.com", "http://"));
        assert!(test(search, "see http://example.com", "example"));
        assert!(test(regex, "abc", "b"));
    }
}
