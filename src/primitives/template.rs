use rhai::{Dynamic, EvalAltResult, Map};
use serde_json::Value;

use super::file_writer::{FileSpec, put_file};
use super::step::{Step, StepOutcome};
use crate::engine::Host;

/// `h.template(src, dest, vars, opts)`: renders a Jinja2 template (minijinja, strict: an undefined variable
/// is an error naming template:line and the host), then writes it as `write` does.
pub fn template(host: &Host, source: &str, dest: &str, vars: &Map, options: &Map) -> Result<Map, Box<EvalAltResult>> {
    let spec = FileSpec::from_options(dest, options, "template")?;
    let step = Step::new(host, "template", dest);
    match render(host, source, vars) {
        Ok(text) => put_file(step, text.as_bytes(), &spec),
        Err(message) => Err(step.fail(message, StepOutcome::default())),
    }
}

/// Renders a template file for a host; errors read `templates/x.j2:12: message`.
pub fn render(host: &Host, source: &str, vars: &Map) -> Result<String, String> {
    let path = host.runtime.playbook_dir.join(source);
    let text = std::fs::read_to_string(&path).map_err(|e| format!("cannot read template {}: {e}", path.display()))?;
    let context = context(host, vars)?;
    render_text(source, &text, &context)
}

pub fn render_text(name: &str, text: &str, context: &Value) -> Result<String, String> {
    let mut environment = environment();
    environment.add_template(name, text).map_err(|e| describe(name, &e))?;
    let template = environment.get_template(name).map_err(|e| describe(name, &e))?;
    let out = template.render(minijinja::value::Serde(context)).map_err(|e| describe(name, &e))?;
    Ok(with_source_trailing_newlines(text, out))
}

/// Ansible's rule for the end of the file: if the source ends with more newlines than the output, the output
/// gets the missing ones (so `...{% endif %}\n` still ends with its newline, which trim_blocks alone would eat).
fn with_source_trailing_newlines(source: &str, mut out: String) -> String {
    let trailing = |text: &str| text.len() - text.trim_end_matches('\n').len();
    let missing = trailing(source).saturating_sub(trailing(&out));
    out.extend(std::iter::repeat_n('\n', missing));
    out
}

/// Compiles a template without rendering it: its syntax errors (`name:line: ...`), or the top-level names it
/// reads that it does not define itself (what the context must provide). For the pre-flight check.
pub fn undeclared_names(name: &str, text: &str) -> Result<std::collections::HashSet<String>, String> {
    let mut environment = environment();
    environment.add_template(name, text).map_err(|e| describe(name, &e))?;
    let template = environment.get_template(name).map_err(|e| describe(name, &e))?;
    Ok(template.undeclared_variables(false))
}

/// The template environment `template` renders with (lint and the pre-flight compile templates in the same one).
pub fn environment<'source>() -> minijinja::Environment<'source> {
    let mut environment = minijinja::Environment::new();
    environment.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    // Ansible's block handling: trim_blocks (a tag's own newline is not output), no lstrip_blocks, and
    // Jinja2's default of dropping the source's last newline, which `render_text` then puts back as Ansible
    // does, so templates written for Ansible render the same files here.
    environment.set_syntax(
        minijinja::syntax::SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(false)
            .keep_trailing_newline(false)
            .build()
            .expect("a valid syntax config"),
    );
    environment.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    environment
}

fn describe(name: &str, error: &minijinja::Error) -> String {
    let line = error.line().map(|line| format!(":{line}")).unwrap_or_default();
    let detail = error.detail().map(|d| format!(": {d}")).unwrap_or_default();
    format!("{}{line}: {}{detail}", error.name().unwrap_or(name), error.kind())
}

/// Names every template context has, whatever the host: see [`context`].
pub const CONTEXT_NAMES: &[&str] = &["inventory_hostname", "host", "groups", "hostvars", "facts"];

/// What a template sees: the host's vars, the vars passed, and Ansible's usual names.
fn context(host: &Host, vars: &Map) -> Result<Value, String> {
    let runtime = &host.runtime;
    let mut context = serde_json::Map::new();
    for (key, value) in &host.state.vars {
        context.insert(key.clone(), value.clone());
    }
    let passed: Value =
        rhai::serde::from_dynamic(&Dynamic::from(vars.clone())).map_err(|e| format!("template vars: {e}"))?;
    if let Value::Object(passed) = passed {
        context.extend(passed);
    }
    context.insert("inventory_hostname".into(), Value::String(host.state.name.clone()));
    context.insert(
        "host".into(),
        serde_json::json!({ "name": host.state.name, "address": host.state.address, "groups": host.state.groups }),
    );
    let groups: serde_json::Map<String, Value> =
        runtime.groups.iter().map(|(group, members)| (group.clone(), serde_json::json!(members))).collect();
    context.insert("groups".into(), Value::Object(groups));
    let hostvars: serde_json::Map<String, Value> = runtime
        .hosts
        .values()
        .map(|other| {
            let mut vars: serde_json::Map<String, Value> = other.vars.clone().into_iter().collect();
            vars.insert("address".into(), Value::String(other.address.clone()));
            vars.insert("inventory_hostname".into(), Value::String(other.name.clone()));
            (other.name.clone(), Value::Object(vars))
        })
        .collect();
    context.insert("hostvars".into(), Value::Object(hostvars));
    if let Some(facts) = host.state.facts.lock().unwrap().as_ref() {
        let facts: Value = rhai::serde::from_dynamic(&Dynamic::from(facts.clone())).unwrap_or(Value::Null);
        context.insert("facts".into(), facts);
    }
    Ok(Value::Object(context))
}

#[cfg(test)]
mod tests {
    use super::render_text;

    #[test]
    fn undefined_variables_name_the_template_line() {
        let error = render_text("t.j2", "ok\n{{ missing }}\n", &serde_json::json!({})).unwrap_err();
        assert!(error.starts_with("t.j2:2: "), "{error}");
        assert!(error.contains("undefined"), "{error}");
    }

    #[test]
    fn block_tags_on_their_own_line_output_nothing_and_the_last_newline_stays() {
        let text = "a\n{% if x %}\n  b\n{% endif %}\n";
        assert_eq!(render_text("t", text, &serde_json::json!({"x": true})).unwrap(), "a\n  b\n");
        assert_eq!(render_text("t", text, &serde_json::json!({"x": false})).unwrap(), "a\n");
        assert_eq!(render_text("t", "a{% if x %}b{% endif %}\n\n", &serde_json::json!({"x": true})).unwrap(), "ab\n\n");
    }

    #[test]
    fn renders_without_html_escaping_and_keeps_the_last_newline() {
        let out = render_text("t.j2", "{{ a }}\n", &serde_json::json!({"a": "<x & 'y'>"})).unwrap();
        assert_eq!(out, "<x & 'y'>\n");
    }
}
