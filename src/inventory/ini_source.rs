//! An INI inventory (Ansible's oldest and still most common shape) read into groups, hosts and vars, before any
//! meaning is given to them — the INI twin of `yaml_source`.
//!
//! Ansible's `ini` inventory plugin is the reference: `[group]` lists hosts (`name key=value ...`, the line split
//! like a shell would, `#` comments), `[group:vars]` has `key = value` lines, `[group:children]` names child
//! groups, lines before any section are `ungrouped` hosts. Values are typed the way Ansible types them (Python's
//! `ast.literal_eval`): `8080` is a number, `True` a boolean, `'x'` a string without its quotes, `true`, `yes`
//! and `0755` stay strings. A group named in `[x:vars]` or `[x:children]` must be defined by a section of its own.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

use super::inventory_error::Position;

/// A variable as written: name, typed value, where the name is.
pub(crate) type IniVar = (String, Value, Option<Position>);

/// One host line of a `[group]` section.
#[derive(Debug, Clone)]
pub(crate) struct IniHost {
    /// The host pattern as written (`web[01:03]`, `db:2222`), expanded by the caller.
    pub key: String,
    pub position: Option<Position>,
    pub vars: Vec<IniVar>,
}

/// A group as the file defines it, across all its sections.
#[derive(Debug, Clone, Default)]
pub(crate) struct IniGroup {
    pub name: String,
    pub hosts: Vec<IniHost>,
    pub children: Vec<(String, Option<Position>)>,
    pub vars: Vec<IniVar>,
    /// Whether a `[name]` or `[name:children]` section defines it (a `:vars` section alone does not).
    defined: bool,
}

/// The groups of an INI inventory in order of first mention (`ungrouped` first when hosts come before any section).
#[derive(Debug, Clone, Default)]
pub(crate) struct IniInventory {
    pub groups: Vec<IniGroup>,
}

/// A problem at a line of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IniError {
    pub message: String,
    pub position: Option<Position>,
}

static SECTION: LazyLock<Regex> = LazyLock::new(|| {
    // Ansible's pattern: no spaces or colons in the name, an optional `:type`, a trailing comment allowed.
    Regex::new(r"^\[([^:\]\s]+)(?::(\w+))?\]\s*(?:[#;].*)?$").expect("section regex")
});
static GROUP_NAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^([^:\]\s]+)\s*(?:[#;].*)?$").expect("group name regex"));

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Hosts,
    Vars,
    Children,
}

impl IniInventory {
    pub(crate) fn parse(source: &str) -> Result<IniInventory, IniError> {
        let mut inventory = IniInventory::default();
        let mut current = "ungrouped".to_string();
        let mut state = State::Hosts;
        // Where a group was first named without being defined, for the error if it never is.
        let mut pending: Vec<(String, &'static str, Option<Position>)> = Vec::new();
        for (index, raw_line) in source.lines().enumerate() {
            let number = index + 1;
            let line = raw_line.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            let column = raw_line.len() - raw_line.trim_start().len() + 1;
            let here = Some(Position { line: number, column, offset: None });
            if line.starts_with('[') {
                let captures = SECTION.captures(line).ok_or_else(|| IniError {
                    message: format!(
                        "invalid section {line:?}: a section is `[group]`, `[group:vars]` or `[group:children]`, \
                         with no spaces in the name"
                    ),
                    position: here,
                })?;
                current = captures[1].to_string();
                state = match captures.get(2).map(|m| m.as_str()) {
                    None | Some("hosts") => State::Hosts,
                    Some("vars") => State::Vars,
                    Some("children") => State::Children,
                    Some(other) => {
                        return Err(IniError {
                            message: format!(
                                "section [{current}:{other}] has an unknown type `{other}` (known: vars, children)"
                            ),
                            position: here,
                        });
                    }
                };
                let group = inventory.group_mut(&current);
                if state == State::Vars {
                    if !group.defined {
                        pending.push((current.clone(), "vars", here));
                    }
                } else {
                    group.defined = true;
                }
                continue;
            }
            match state {
                State::Hosts => {
                    let host = parse_host_line(raw_line, number)?;
                    inventory.group_mut(&current).defined = true;
                    inventory.group_mut(&current).hosts.push(host);
                }
                State::Vars => {
                    let Some((name, value)) = line.split_once('=') else {
                        return Err(IniError {
                            message: format!("expected `name = value` in [{current}:vars], found {line:?}"),
                            position: here,
                        });
                    };
                    let name = name.trim();
                    if name.is_empty() {
                        return Err(IniError { message: "a variable name must not be empty".into(), position: here });
                    }
                    let value = typed_value(value.trim());
                    inventory.group_mut(&current).vars.push((name.to_string(), value, here));
                }
                State::Children => {
                    let captures = GROUP_NAME.captures(line).ok_or_else(|| IniError {
                        message: format!("expected a group name in [{current}:children], found {line:?}"),
                        position: here,
                    })?;
                    let child = captures[1].to_string();
                    if child == "all" {
                        return Err(IniError {
                            message: format!(
                                "group `all` cannot be a child of `{current}`: every group is already in `all`"
                            ),
                            position: here,
                        });
                    }
                    if !inventory.groups.iter().any(|group| group.name == child && group.defined) {
                        pending.push((child.clone(), "children", here));
                    }
                    inventory.group_mut(&child);
                    let parent = inventory.group_mut(&current);
                    if !parent.children.iter().any(|(name, _)| *name == child) {
                        parent.children.push((child, here));
                    }
                }
            }
        }
        for (name, kind, position) in pending {
            let defined = name == "all" || inventory.groups.iter().any(|group| group.name == name && group.defined);
            if !defined {
                let message = match kind {
                    "vars" => format!("section [{name}:vars] is for a group that no section defines: add [{name}]"),
                    _ => {
                        format!("a [..:children] section names group `{name}`, which no section defines: add [{name}]")
                    }
                };
                return Err(IniError { message, position });
            }
        }
        Ok(inventory)
    }

    fn group_mut(&mut self, name: &str) -> &mut IniGroup {
        let index = match self.groups.iter().position(|group| group.name == name) {
            Some(index) => index,
            None => {
                self.groups.push(IniGroup { name: name.to_string(), ..IniGroup::default() });
                self.groups.len() - 1
            }
        };
        &mut self.groups[index]
    }
}

/// `name key=value key="two words" # comment`: split like a shell, as Ansible does.
fn parse_host_line(raw_line: &str, number: usize) -> Result<IniHost, IniError> {
    let column = raw_line.len() - raw_line.trim_start().len() + 1;
    let here = Some(Position { line: number, column, offset: None });
    let text = strip_comment(raw_line);
    let tokens = shlex::split(text)
        .ok_or_else(|| IniError { message: "unbalanced quotes in this host line".into(), position: here })?;
    let mut tokens = tokens.into_iter();
    let key = tokens.next().ok_or_else(|| IniError { message: "expected a host name".into(), position: here })?;
    let mut vars = Vec::new();
    for token in tokens {
        let Some((name, value)) = token.split_once('=') else {
            return Err(IniError {
                message: format!("expected `name=value` after the host name, found {token:?}"),
                position: token_position(raw_line, &token, number).or(here),
            });
        };
        if name.is_empty() {
            return Err(IniError {
                message: format!("a variable name must not be empty (in {token:?})"),
                position: token_position(raw_line, &token, number).or(here),
            });
        }
        let position = token_position(raw_line, &format!("{name}="), number).or(here);
        vars.push((name.to_string(), typed_value(value), position));
    }
    Ok(IniHost { key, position: here, vars })
}

/// The line up to a `#` that starts a word outside quotes (Python's `shlex` with `comments=True`).
fn strip_comment(line: &str) -> &str {
    let mut quote: Option<char> = None;
    let mut previous_blank = true;
    let mut escaped = false;
    for (index, c) in line.char_indices() {
        if escaped {
            escaped = false;
            previous_blank = false;
            continue;
        }
        match quote {
            Some(open) if c == open => quote = None,
            Some('"') if c == '\\' => escaped = true,
            Some(_) => {}
            None if c == '\\' => escaped = true,
            None if c == '\'' || c == '"' => quote = Some(c),
            None if c == '#' && previous_blank => return &line[..index],
            None => {}
        }
        previous_blank = quote.is_none() && c.is_whitespace();
    }
    line
}

fn token_position(line: &str, needle: &str, number: usize) -> Option<Position> {
    let at = line.find(needle)?;
    Some(Position { line: number, column: line[..at].chars().count() + 1, offset: None })
}

static INTEGER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[+-]?(?:0+|[1-9](?:_?[0-9])*)$").expect("integer regex"));
static RADIX: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^([+-]?)0(?:([xX])((?:_?[0-9a-fA-F])+)|([oO])((?:_?[0-7])+)|([bB])((?:_?[01])+))$")
        .expect("radix regex")
});
static FLOAT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[+-]?(?:[0-9](?:_?[0-9])*\.(?:[0-9](?:_?[0-9])*)?|\.[0-9](?:_?[0-9])*|[0-9](?:_?[0-9])*)(?:[eE][+-]?[0-9]+)?$")
        .expect("float regex")
});

/// A value as Ansible's INI plugin types it: what Python's `ast.literal_eval` makes of it, else the text itself.
/// Numbers (`8080`, `1.5`, `0x1F`, `1_000`), `True`/`False`/`None`, quoted strings, and lists or dicts
/// (`[1, 'a']`, `{'k': 'v'}`, read as YAML flow) — anything else, `true`, `yes` and `0755` among it, is a string.
pub(crate) fn typed_value(text: &str) -> Value {
    let trimmed = text.trim();
    match trimmed {
        "True" => return Value::Bool(true),
        "False" => return Value::Bool(false),
        "None" => return Value::Null,
        _ => {}
    }
    if INTEGER.is_match(trimmed) {
        if let Ok(number) = trimmed.replace('_', "").parse::<i64>() {
            return Value::from(number);
        }
        return Value::String(text.to_string());
    }
    if let Some(captures) = RADIX.captures(trimmed) {
        let negative = &captures[1] == "-";
        let (radix, digits) = if captures.get(2).is_some() {
            (16, &captures[3])
        } else if captures.get(4).is_some() {
            (8, &captures[5])
        } else {
            (2, &captures[7])
        };
        if let Ok(number) = i64::from_str_radix(&digits.replace('_', ""), radix) {
            return Value::from(if negative { -number } else { number });
        }
        return Value::String(text.to_string());
    }
    // A float has a point or an exponent (`0755` is no number in Python 3: it stays text).
    if FLOAT.is_match(trimmed)
        && trimmed.contains(['.', 'e', 'E'])
        && let Ok(number) = trimmed.replace('_', "").parse::<f64>()
        && let Some(number) = serde_json::Number::from_f64(number)
    {
        return Value::Number(number);
    }
    if let Some(inner) = quoted(trimmed) {
        return Value::String(inner);
    }
    if (trimmed.starts_with('[') && trimmed.ends_with(']')) || (trimmed.starts_with('{') && trimmed.ends_with('}')) {
        let parsed: Result<Value, _> = serde_saphyr::from_str(trimmed);
        if let Ok(value @ (Value::Array(_) | Value::Object(_))) = parsed {
            return value;
        }
    }
    Value::String(text.to_string())
}

/// The content of a whole-value Python string literal (`'a b'`, `"it's"`), with its common escapes.
fn quoted(text: &str) -> Option<String> {
    let quote = text.chars().next().filter(|c| *c == '\'' || *c == '"')?;
    if text.len() < 2 || !text.ends_with(quote) {
        return None;
    }
    let inner = &text[1..text.len() - 1];
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == quote {
            return None; // the quote closes earlier: not one literal
        }
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next()? {
            'n' => out.push('\n'),
            't' => out.push('\t'),
            'r' => out.push('\r'),
            '0' => out.push('\0'),
            other @ ('\\' | '\'' | '"') => out.push(other),
            other => {
                out.push('\\');
                out.push(other);
            }
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_are_typed_like_ansible() {
        let cases = [
            ("8080", json!(8080)),
            ("-3", json!(-3)),
            ("1_000", json!(1000)),
            ("0x1F", json!(31)),
            ("0o755", json!(493)),
            ("1.5", json!(1.5)),
            ("True", json!(true)),
            ("False", json!(false)),
            ("None", json!(null)),
            ("true", json!("true")),
            ("yes", json!("yes")),
            ("0755", json!("0755")),
            ("1e3", json!(1000.0)),
            ("'quoted text'", json!("quoted text")),
            ("\"it's\"", json!("it's")),
            ("'a' 'b'", json!("'a' 'b'")),
            ("[1, 'a']", json!([1, "a"])),
            ("{'k': 'v'}", json!({"k": "v"})),
            ("/usr/bin/python3", json!("/usr/bin/python3")),
            ("10.0.0.1", json!("10.0.0.1")),
        ];
        for (text, expected) in cases {
            assert_eq!(typed_value(text), expected, "{text}");
        }
    }

    #[test]
    fn sections_hosts_vars_and_children() {
        let inventory = IniInventory::parse(
            "solo ansible_host=10.0.0.9\n\
             # a comment\n\
             [web]\n\
             web[01:02] http_port=8080 motd=\"hello there\" # trailing\n\
             [web:vars]\n\
             ntp = time.example.com\n\
             [prod:children]\n\
             web\n",
        )
        .unwrap();
        let names: Vec<&str> = inventory.groups.iter().map(|g| g.name.as_str()).collect();
        assert_eq!(names, ["ungrouped", "web", "prod"]);
        let web = &inventory.groups[1];
        assert_eq!(web.hosts[0].key, "web[01:02]");
        let vars: Vec<(&str, &Value)> = web.hosts[0].vars.iter().map(|(k, v, _)| (k.as_str(), v)).collect();
        assert_eq!(vars, [("http_port", &json!(8080)), ("motd", &json!("hello there"))]);
        assert_eq!(web.vars[0].0, "ntp");
        assert_eq!(web.vars[0].2.unwrap().line, 6);
        assert_eq!(inventory.groups[2].children[0].0, "web");
    }

    #[test]
    fn mistakes_point_at_the_line() {
        let err = |text: &str| {
            let error = IniInventory::parse(text).unwrap_err();
            (error.position.map(|p| p.line), error.message)
        };
        assert_eq!(err("[web]\nh1 port\n").0, Some(2));
        assert!(err("[web]\nh1 port\n").1.contains("expected `name=value`"));
        assert!(err("[we b]\n").1.contains("invalid section"));
        assert!(err("[web:hostz]\n").1.contains("unknown type `hostz`"));
        assert_eq!(err("[db:vars]\nx=1\n"), (Some(1), err("[db:vars]\nx=1\n").1));
        assert!(err("[db:vars]\nx=1\n").1.contains("no section defines"));
        assert!(err("[all:children]\nweb\n").1.contains("`web`"));
        assert!(err("[g:vars]\nnovalue\n").1.contains("expected `name = value`"));
        assert!(err("[g]\nh1 x='unclosed\n").1.contains("unbalanced quotes"));
        // A group defined after it is named is fine.
        assert!(IniInventory::parse("[all:children]\nweb\n[web]\nh1\n").is_ok());
        assert!(IniInventory::parse("[all:vars]\nx=1\n").is_ok());
    }

    #[test]
    fn comments_start_only_at_a_word() {
        assert_eq!(strip_comment("h x=a#b # c"), "h x=a#b ");
        assert_eq!(strip_comment("h x='# not' #c"), "h x='# not' ");
    }
}
