//! Filters on text: Python-style regular expressions, base64, shell quoting, comments, and POSIX path parts.

use base64::Engine;
use minijinja::value::{Kwargs, Rest, Value};
use minijinja::{Error, ErrorKind};

use super::invalid;

fn compile(pattern: &str, kwargs: &Kwargs) -> Result<fancy_regex::Regex, Error> {
    let ignorecase = kwargs.get::<Option<bool>>("ignorecase")?.unwrap_or(false);
    let multiline = kwargs.get::<Option<bool>>("multiline")?.unwrap_or(false);
    crate::template::python_regex::compile(pattern, ignorecase, multiline)
}

use crate::template::python_regex::failed;

/// Python's replacement syntax (`\1`, `\g<1>`, `\g<name>`) in the regex crate's (`${1}`, `${name}`).
fn python_replacement(replacement: &str) -> String {
    let mut out = String::new();
    let mut chars = replacement.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '$' => out.push_str("$$"),
            '\\' => match chars.peek().copied() {
                Some(d) if d.is_ascii_digit() => {
                    let mut group = String::new();
                    while let Some(d) = chars.peek().copied().filter(|d| d.is_ascii_digit() && group.len() < 2) {
                        group.push(d);
                        chars.next();
                    }
                    out.push_str(&format!("${{{group}}}"));
                }
                Some('g') => {
                    chars.next();
                    if chars.peek() == Some(&'<') {
                        chars.next();
                        let name: String = chars.by_ref().take_while(|c| *c != '>').collect();
                        out.push_str(&format!("${{{name}}}"));
                    } else {
                        out.push_str("\\g");
                    }
                }
                Some('n') => {
                    chars.next();
                    out.push('\n');
                }
                Some('t') => {
                    chars.next();
                    out.push('\t');
                }
                Some('\\') => {
                    chars.next();
                    out.push('\\');
                }
                _ => out.push('\\'),
            },
            c => out.push(c),
        }
    }
    out
}

pub fn regex_replace(
    value: String,
    pattern: Option<String>,
    replacement: Option<String>,
    kwargs: Kwargs,
) -> Result<String, Error> {
    let pattern = kwargs.get::<Option<String>>("pattern")?.or(pattern).unwrap_or_default();
    let replacement = kwargs.get::<Option<String>>("replacement")?.or(replacement).unwrap_or_default();
    let count = kwargs.get::<Option<usize>>("count")?.unwrap_or(0);
    let mandatory_count = kwargs.get::<Option<usize>>("mandatory_count")?.unwrap_or(0);
    let regex = compile(&pattern, &kwargs)?;
    kwargs.assert_all_used()?;
    if mandatory_count > 0 {
        let mut found = 0;
        for m in regex.find_iter(&value) {
            m.map_err(|e| failed(&pattern, e))?;
            found += 1;
        }
        if found != mandatory_count {
            return Err(invalid(format!("regex_replace: {found} matches of {pattern:?}, {mandatory_count} required")));
        }
    }
    let replaced = regex.try_replacen(&value, count, python_replacement(&replacement).as_str());
    Ok(replaced.map_err(|e| failed(&pattern, e))?.into_owned())
}

/// `regex_search`: the match (or the groups named by `'\\1'` / `'\\g<name>'` arguments, as a list), or None.
pub fn regex_search(value: String, pattern: String, groups: Rest<String>, kwargs: Kwargs) -> Result<Value, Error> {
    let regex = compile(&pattern, &kwargs)?;
    kwargs.assert_all_used()?;
    let Some(captures) = regex.captures(&value).map_err(|e| failed(&pattern, e))? else {
        return Ok(Value::from(()));
    };
    if groups.is_empty() {
        return Ok(Value::from(captures.get(0).map_or("", |m| m.as_str())));
    }
    let mut out = Vec::new();
    for group in groups.iter() {
        let text = if let Some(name) = group.strip_prefix("\\g<").and_then(|g| g.strip_suffix('>')) {
            match name.parse::<usize>() {
                Ok(index) => captures.get(index),
                Err(_) => captures.name(name),
            }
        } else if let Some(index) = group.strip_prefix('\\').and_then(|g| g.parse::<usize>().ok()) {
            captures.get(index)
        } else {
            return Err(invalid(format!("regex_search: unknown argument {group:?}")));
        };
        out.push(text.map(|m| Value::from(m.as_str())).unwrap_or(Value::from(())));
    }
    Ok(Value::from(out))
}

/// Python's `re.findall`: the matches, or the one group's text, or a list of the groups per match.
pub fn regex_findall(value: String, pattern: String, kwargs: Kwargs) -> Result<Value, Error> {
    let regex = compile(&pattern, &kwargs)?;
    kwargs.assert_all_used()?;
    let groups = regex.captures_len() - 1;
    let mut out = Vec::new();
    for captures in regex.captures_iter(&value) {
        let captures = captures.map_err(|e| failed(&pattern, e))?;
        let text = |i: usize| Value::from(captures.get(i).map_or("", |m| m.as_str()));
        out.push(match groups {
            0 => text(0),
            1 => text(1),
            n => Value::from((1..=n).map(text).collect::<Vec<_>>()),
        });
    }
    Ok(Value::from(out))
}

/// Python's `re.escape`: everything but ASCII letters, digits and `_` is backslashed.
pub fn regex_escape(value: String) -> String {
    let mut out = String::new();
    for c in value.chars() {
        if !(c.is_ascii_alphanumeric() || c == '_' || !c.is_ascii()) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

pub fn b64encode(value: String) -> String {
    base64::engine::general_purpose::STANDARD.encode(value.as_bytes())
}

pub fn b64decode(value: String) -> Result<String, Error> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(value.trim().as_bytes())
        .map_err(|e| invalid(format!("b64decode: {e}")))?;
    String::from_utf8(bytes).map_err(|e| Error::new(ErrorKind::InvalidOperation, format!("b64decode: not UTF-8: {e}")))
}

/// Python's `shlex.quote`, which Ansible's `quote` is.
pub fn quote(value: &Value) -> String {
    let text = if value.is_none() { String::new() } else { crate::template::output::python_str(value) };
    if text.is_empty() {
        return "''".into();
    }
    if text.chars().all(|c| c.is_alphanumeric() && c.is_ascii() || "@%+=:,./-_".contains(c)) {
        return text;
    }
    format!("'{}'", text.replace('\'', "'\"'\"'"))
}

/// Ansible's `comment`: the text as a comment block in one of its styles (plain, erlang, c, cblock, xml),
/// with `decoration`, `prefix`, `postfix`, `beginning`, `end` and their counts overridable.
pub fn comment(text: String, style: Option<String>, kwargs: Kwargs) -> Result<String, Error> {
    let style = kwargs.get::<Option<String>>("style")?.or(style).unwrap_or_else(|| "plain".into());
    let (beginning, decoration, end) = match style.as_str() {
        "plain" => ("", "# ", ""),
        "erlang" => ("", "% ", ""),
        "c" => ("", "// ", ""),
        "cblock" => ("/*", " * ", " */"),
        "xml" => ("<!--", " - ", "-->"),
        other => return Err(invalid(format!("comment: invalid style {other:?} (plain, erlang, c, cblock, xml)"))),
    };
    let get = |name: &str, default: &str| -> Result<String, Error> {
        Ok(kwargs.get::<Option<String>>(name)?.unwrap_or_else(|| default.to_string()))
    };
    let prepostfix = get("decoration", decoration)?;
    let newline = get("newline", "\n")?;
    let beginning = get("beginning", beginning)?;
    let prefix = get("prefix", prepostfix.trim_end())?;
    let prefix_count = kwargs.get::<Option<usize>>("prefix_count")?.unwrap_or(1);
    let decoration = get("decoration", decoration)?;
    let postfix = get("postfix", prepostfix.trim_end())?;
    let postfix_count = kwargs.get::<Option<usize>>("postfix_count")?.unwrap_or(1);
    let end = get("end", end)?;
    kwargs.assert_all_used()?;
    // Ansible's default decoration for the body is the style's, not the stripped prefix.
    let mut out = String::new();
    if !beginning.is_empty() {
        out.push_str(&beginning);
        out.push_str(&newline);
    }
    if !prefix.is_empty() {
        if prefix != newline {
            out.push_str(&format!("{prefix}{newline}").repeat(prefix_count));
        } else {
            out.push_str(&newline.repeat(prefix_count));
        }
    }
    let body = format!("{decoration}{}", text.replace(&newline, &format!("{newline}{decoration}")))
        .replace(&format!("{decoration}{newline}"), &format!("{}{newline}", decoration.trim_end()));
    out.push_str(&body);
    for _ in 0..postfix_count {
        out.push_str(&newline);
        out.push_str(&postfix);
    }
    if !end.is_empty() {
        out.push_str(&newline);
        out.push_str(&end);
    }
    Ok(out)
}

/// Jinja2's `indent` exactly (`do_indent`): `width` is a count of spaces or the indentation string itself, and
/// the text gets a newline appended before it is split into lines (Python's `splitlines`), so a trailing newline
/// survives: `{{ x | to_nice_yaml | indent(2) }}` followed by a newline leaves a blank line, as in Ansible.
pub fn indent(
    text: &Value,
    width: Option<Value>,
    first: Option<bool>,
    blank: Option<bool>,
    kwargs: Kwargs,
) -> Result<String, Error> {
    let width = match width {
        Some(width) => Some(width),
        None => kwargs.get::<Option<Value>>("width")?,
    };
    let first = first.or(kwargs.get::<Option<bool>>("first")?).unwrap_or(false);
    let blank = blank.or(kwargs.get::<Option<bool>>("blank")?).unwrap_or(false);
    kwargs.assert_all_used()?;
    let indention = match &width {
        None => "    ".to_string(),
        Some(width) => match width.as_str() {
            Some(text) => text.to_string(),
            None if width.is_integer() || width.kind() == minijinja::value::ValueKind::Bool => {
                " ".repeat(i64::try_from(width.clone()).unwrap_or(0).max(0) as usize)
            }
            None => return Err(invalid(format!("indent: width must be a number or a string, not {width}"))),
        },
    };
    let mut text = crate::template::output::python_str(text);
    text.push('\n');
    let lines = python_splitlines(&text);
    let mut out = if blank {
        lines.join(&format!("\n{indention}"))
    } else {
        let mut rest = lines.into_iter();
        let mut out = rest.next().unwrap_or_default().to_string();
        for line in rest {
            out.push('\n');
            if !line.is_empty() {
                out.push_str(&indention);
            }
            out.push_str(line);
        }
        out
    };
    if first {
        out.insert_str(0, &indention);
    }
    Ok(out)
}

/// Python's `str.splitlines()`: every line boundary Python knows, the last line without an empty string after it.
fn python_splitlines(text: &str) -> Vec<&str> {
    let mut lines = Vec::new();
    let mut start = 0;
    let mut chars = text.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        let end = match c {
            '\r' => match chars.peek() {
                Some((_, '\n')) => chars.next().map(|(i, _)| i + 1),
                _ => Some(at + 1),
            },
            '\n' | '\x0b' | '\x0c' | '\x1c' | '\x1d' | '\x1e' | '\u{85}' | '\u{2028}' | '\u{2029}' => {
                Some(at + c.len_utf8())
            }
            _ => None,
        };
        if let Some(end) = end {
            lines.push(&text[start..at]);
            start = end;
        }
    }
    if start < text.len() {
        lines.push(&text[start..]);
    }
    lines
}

/// Python's `os.path.basename`: what follows the last `/`.
pub fn basename(path: String) -> String {
    path.rsplit('/').next().unwrap_or_default().to_string()
}

/// Python's `os.path.dirname`: what precedes the last `/`, without trailing slashes unless it is all slashes.
pub fn dirname(path: String) -> String {
    let Some(index) = path.rfind('/') else { return String::new() };
    let head = &path[..=index];
    let trimmed = head.trim_end_matches('/');
    if trimmed.is_empty() { head.to_string() } else { trimmed.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_replacements_become_regex_crate_ones() {
        assert_eq!(python_replacement(r"\1-\g<name>$"), "${1}-${name}$$");
    }

    #[test]
    fn quote_is_shlex_quote() {
        assert_eq!(quote(&Value::from("abc-1.2/x")), "abc-1.2/x");
        assert_eq!(quote(&Value::from("it's here")), "'it'\"'\"'s here'");
        assert_eq!(quote(&Value::from("")), "''");
    }

    #[test]
    fn paths_split_as_posixpath_does() {
        assert_eq!(basename("/etc/hosts".into()), "hosts");
        assert_eq!(basename("/etc/".into()), "");
        assert_eq!(dirname("/etc/hosts".into()), "/etc");
        assert_eq!(dirname("/hosts".into()), "/");
        assert_eq!(dirname("hosts".into()), "");
    }

    #[test]
    fn indent_is_jinja2_do_indent() {
        let kw = || Kwargs::from_iter(std::iter::empty::<(&str, Value)>());
        let two = Some(Value::from(2));
        assert_eq!(indent(&Value::from("a\nb\n"), two.clone(), None, None, kw()).unwrap(), "a\n  b\n");
        assert_eq!(indent(&Value::from("a\n\nb"), two.clone(), None, None, kw()).unwrap(), "a\n\n  b");
        assert_eq!(indent(&Value::from("a\n\nb"), two.clone(), Some(true), Some(true), kw()).unwrap(), "  a\n  \n  b");
        assert_eq!(indent(&Value::from("a\r\nb"), Some(Value::from("> ")), None, None, kw()).unwrap(), "a\n> b");
        assert_eq!(indent(&Value::from("a"), None, None, None, kw()).unwrap(), "a");
        assert_eq!(indent(&Value::from(""), two, Some(true), None, kw()).unwrap(), "  ");
    }

    #[test]
    fn regex_escape_is_python_re_escape() {
        assert_eq!(regex_escape("a.b*c_1 ".into()), "a\\.b\\*c_1\\ ");
    }
}
