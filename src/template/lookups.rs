//! `lookup()` / `query()` / `q()` with the lookups templates use most: `file` and `template` (relative to the
//! playbook's folder, as Ansible searches `files/` / `templates/` then the folder itself), `env`, `vars`.

use std::path::{Path, PathBuf};

use minijinja::value::{Kwargs, Rest, Value};
use minijinja::{Environment, Error, ErrorKind, State};

pub fn register(env: &mut Environment) {
    env.add_function("lookup", lookup);
    env.add_function("query", query);
    env.add_function("q", query);
}

fn invalid(message: String) -> Error {
    Error::new(ErrorKind::InvalidOperation, message)
}

/// `lookup(name, terms...)`: the values joined with commas (Ansible's default), or the list with `wantlist=True`.
fn lookup(state: &State, name: String, terms: Rest<Value>, kwargs: Kwargs) -> Result<Value, Error> {
    let wantlist = kwargs.get::<Option<bool>>("wantlist")?.unwrap_or(false);
    let values = run(state, &name, &terms, &kwargs)?;
    kwargs.assert_all_used()?;
    if wantlist {
        return Ok(Value::from(values));
    }
    Ok(match values.len() {
        0 => Value::from(()),
        1 => values.into_iter().next().unwrap_or_default(),
        _ => Value::from(values.iter().map(crate::template::output::python_str).collect::<Vec<_>>().join(",")),
    })
}

/// `query(name, terms...)`: always the list.
fn query(state: &State, name: String, terms: Rest<Value>, kwargs: Kwargs) -> Result<Value, Error> {
    let values = run(state, &name, &terms, &kwargs)?;
    kwargs.assert_all_used()?;
    Ok(Value::from(values))
}

fn run(state: &State, name: &str, terms: &[Value], kwargs: &Kwargs) -> Result<Vec<Value>, Error> {
    let name = name.strip_prefix("ansible.builtin.").unwrap_or(name);
    let text = |term: &Value| crate::template::output::python_str(term);
    match name {
        "env" => {
            let default = kwargs.get::<Option<String>>("default")?.unwrap_or_default();
            Ok(terms.iter().map(|t| Value::from(std::env::var(text(t)).unwrap_or_else(|_| default.clone()))).collect())
        }
        "vars" => {
            let default = kwargs.get::<Option<Value>>("default")?;
            terms
                .iter()
                .map(|t| {
                    let name = text(t);
                    match state.lookup(&name).filter(|v| !v.is_undefined()) {
                        Some(value) => Ok(value),
                        None => default.clone().ok_or_else(|| invalid(format!("lookup('vars'): no variable {name:?}"))),
                    }
                })
                .collect()
        }
        "file" => {
            let rstrip = kwargs.get::<Option<bool>>("rstrip")?.unwrap_or(true);
            let lstrip = kwargs.get::<Option<bool>>("lstrip")?.unwrap_or(false);
            terms
                .iter()
                .map(|t| {
                    let path = find(state, &text(t), "files")?;
                    let content = std::fs::read_to_string(&path)
                        .map_err(|e| invalid(format!("lookup('file'): cannot read {}: {e}", path.display())))?;
                    let content = if rstrip { content.trim_end() } else { content.as_str() };
                    let content = if lstrip { content.trim_start() } else { content };
                    Ok(Value::from(content))
                })
                .collect()
        }
        "template" => terms
            .iter()
            .map(|t| {
                let path = find(state, &text(t), "templates")?;
                let source = std::fs::read_to_string(&path)
                    .map_err(|e| invalid(format!("lookup('template'): cannot read {}: {e}", path.display())))?;
                let mut context = serde_json::Map::new();
                for name in state.known_variables() {
                    if let Some(value) = state.lookup(&name) {
                        let value = serde_json::to_value(&value).map_err(|e| invalid(format!("{e}")))?;
                        context.insert(name.to_string(), value);
                    }
                }
                let rendered = crate::template::render_text(&text(t), &source, &serde_json::Value::Object(context))
                    .map_err(|error| invalid(error.to_string()))?;
                Ok(Value::from(rendered))
            })
            .collect(),
        other => Err(invalid(format!(
            "lookup plugin {other:?} is not supported in templates (supported: file, template, env, vars)"
        ))),
    }
}

/// Ansible's search path for a task's file: `<playbook_dir>/<kind>/<path>`, then `<playbook_dir>/<path>`.
fn find(state: &State, path: &str, kind: &str) -> Result<PathBuf, Error> {
    let given = Path::new(path);
    if given.is_absolute() {
        return Ok(given.to_path_buf());
    }
    let base =
        state.lookup("playbook_dir").and_then(|v| v.as_str().map(PathBuf::from)).unwrap_or_else(|| PathBuf::from("."));
    let candidates = [base.join(kind).join(path), base.join(path)];
    candidates.iter().find(|c| c.exists()).cloned().ok_or_else(|| {
        invalid(format!("lookup: {path:?} not found in {} or {}", candidates[0].display(), candidates[1].display()))
    })
}
