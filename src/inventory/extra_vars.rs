//! `-e` values: `k=v` pairs, `@file.yaml`/`@file.json`, or inline YAML/JSON — Ansible's three spellings.

use std::path::Path;
use std::sync::Arc;

use indexmap::IndexMap;

use super::inventory_error::InventoryError;
use super::yaml_source::{self, Vars};

/// Parses one `-e` argument. `@path` is relative to `cwd`. `k=v` values are strings (`k=` is empty).
pub fn parse_extra_vars(arg: &str, cwd: &Path) -> Result<IndexMap<String, serde_json::Value>, InventoryError> {
    let trimmed = arg.trim();
    if let Some(file) = trimmed.strip_prefix('@') {
        let path = cwd.join(file);
        let text = std::fs::read_to_string(&path)
            .map_err(|error| InventoryError::new(format!("cannot read extra vars: {error}")).in_file(&path))?;
        // `-e @vault.yml`: Ansible decrypts a vaulted vars file given this way too.
        let (text, vaulted) = yaml_source::open_file_text(text, &path)?;
        let source = Arc::new(text);
        let vars = yaml_source::vars_from_str(&source, &path).map_err(|error| match vaulted {
            true => error.with_source_text(&Arc::new(yaml_source::masked(&source))),
            false => error,
        })?;
        if vaulted {
            vars.values().for_each(yaml_source::record_vaulted);
        }
        return Ok(vars);
    }
    if trimmed.starts_with('{') {
        return yaml_source::vars_from_str(&Arc::new(trimmed.to_string()), Path::new("-e"));
    }
    key_values(trimmed)
}

/// Parses every `-e` argument in order; a later value replaces an earlier one of the same name.
pub fn merge_extra_vars(args: &[String], cwd: &Path) -> Result<IndexMap<String, serde_json::Value>, InventoryError> {
    let mut vars = Vars::new();
    for arg in args {
        vars.extend(parse_extra_vars(arg, cwd)?);
    }
    Ok(vars)
}

fn key_values(arg: &str) -> Result<Vars, InventoryError> {
    let words = split_words(arg).ok_or_else(|| InventoryError::new(format!("-e {arg:?}: unbalanced quotes")))?;
    if words.is_empty() {
        return Err(InventoryError::new("-e needs key=value, @file.yaml or {...}"));
    }
    let mut vars = Vars::new();
    for word in words {
        let Some((key, value)) = word.split_once('=') else {
            return Err(InventoryError::new(format!("-e {word:?}: expected key=value, @file.yaml or {{...}}")));
        };
        if !is_identifier(key) {
            return Err(InventoryError::new(format!(
                "-e {word:?}: {key:?} is not a valid variable name (letters, digits, _; not starting with a digit)"
            )));
        }
        vars.insert(key.to_string(), serde_json::Value::String(value.to_string()));
    }
    Ok(vars)
}

/// Splits `k=v` words as shell words, except that a Jinja block (`{{ ... }}`, `{% ... %}`, `{# ... #}`) stays one
/// piece with its spaces and quotes, as Ansible's `split_args` keeps it: `-e "fqdn={{ name }}.{{ domain }}"`.
fn split_words(arg: &str) -> Option<Vec<String>> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut started = false;
    let (mut depth, mut quote) = (0usize, None::<char>);
    let mut chars = arg.chars().peekable();
    while let Some(c) = chars.next() {
        let next = chars.peek().copied();
        if depth == 0 && quote.is_none() && c.is_whitespace() {
            if started {
                words.push(std::mem::take(&mut word));
                started = false;
            }
            continue;
        }
        started = true;
        match (c, next) {
            ('{', Some('{' | '%' | '#')) => {
                depth += 1;
                word.push(c);
                word.push(chars.next().expect("peeked"));
            }
            ('}' | '%' | '#', Some('}')) if depth > 0 => {
                depth -= 1;
                word.push(c);
                word.push(chars.next().expect("peeked"));
            }
            _ if depth > 0 => word.push(c),
            ('\\', Some(escaped)) if quote != Some('\'') => {
                chars.next();
                word.push(escaped);
            }
            ('\'' | '"', _) if quote.is_none() => quote = Some(c),
            _ if quote == Some(c) => quote = None,
            _ => word.push(c),
        }
    }
    if quote.is_some() {
        return None;
    }
    if started {
        words.push(word);
    }
    Some(words)
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(arg: &str) -> serde_json::Value {
        serde_json::Value::Object(parse_extra_vars(arg, Path::new("/")).unwrap().into_iter().collect())
    }

    #[test]
    fn key_value_pairs_are_strings() {
        assert_eq!(parse("a=1 b=yes c= d='x y' e=k=v"), json!({"a": "1", "b": "yes", "c": "", "d": "x y", "e": "k=v"}));
    }

    #[test]
    fn a_jinja_block_stays_one_word_as_in_ansible() {
        assert_eq!(
            parse("fqdn={{ name }}.{{ domain | default('x y') }} b=\"q r\" c={% if a %}1{% endif %}"),
            json!({"fqdn": "{{ name }}.{{ domain | default('x y') }}", "b": "q r", "c": "{% if a %}1{% endif %}"})
        );
    }

    #[test]
    fn inline_yaml_and_json_keep_types_but_strict() {
        assert_eq!(parse(r#"{"port": 22, "on": true}"#), json!({"port": 22, "on": true}));
        assert_eq!(parse("{mode: 0755, flag: yes, n: 3}"), json!({"mode": "0755", "flag": "yes", "n": 3}));
    }

    #[test]
    fn files_are_read_relative_to_cwd() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("v.yaml"), "harbor_password: s3cret\nlist: [1, 2]\n").unwrap();
        std::fs::write(dir.path().join("v.json"), r#"{"a": {"b": null}}"#).unwrap();
        let vars = parse_extra_vars("@v.yaml", dir.path()).unwrap();
        assert_eq!(vars["harbor_password"], json!("s3cret"));
        assert_eq!(vars["list"], json!([1, 2]));
        let vars = parse_extra_vars("@v.json", dir.path()).unwrap();
        assert_eq!(vars["a"], json!({"b": null}));
    }

    #[test]
    fn bad_values_are_refused() {
        let err = parse_extra_vars("novalue", Path::new("/")).unwrap_err();
        assert_eq!(err.to_string(), "-e \"novalue\": expected key=value, @file.yaml or {...}");
        let err = parse_extra_vars("1x=2", Path::new("/")).unwrap_err();
        assert!(err.to_string().contains("not a valid variable name"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("l.yaml"), "- a\n- b\n").unwrap();
        let err = parse_extra_vars("@l.yaml", dir.path()).unwrap_err();
        assert!(
            err.to_string().ends_with("l.yaml:1:1: extra vars must be a mapping of names to values, found a list"),
            "{err}"
        );
        let err = parse_extra_vars("{a: [}", Path::new("/")).unwrap_err();
        assert!(err.to_string().starts_with("-e:1:"), "{err}");
        let err = parse_extra_vars("@missing.yaml", dir.path()).unwrap_err();
        assert!(err.to_string().contains("missing.yaml: cannot read extra vars"), "{err}");
    }

    #[test]
    fn later_wins() {
        let vars = merge_extra_vars(&["a=1 b=2".into(), "{a: 3}".into()], Path::new("/")).unwrap();
        assert_eq!(serde_json::to_value(&vars).unwrap(), json!({"a": 3, "b": "2"}));
    }
}
