//! Jinja2 as Ansible renders it: one environment (minijinja with Ansible's block handling, end-of-file rule,
//! filters, tests, lookups and Python methods) shared by the template primitive, the pre-flight and lint, so
//! a template that renders under `ansible -m template` renders the same bytes here and is checked the same way.

mod chained;
#[cfg(test)]
mod documented;
mod filters;
pub mod lazy_vars;
mod lookups;
mod mutable_dict;
mod mutable_list;
mod output;
mod overrides;
mod percent_format;
mod python_random;
mod python_regex;
mod python_syntax;
mod render_error;
mod template_usage;
mod tests;
mod variables;
pub mod yaml;

use std::collections::HashSet;

use serde_json::Value;

pub use filters::by_name::{has_filter, has_test};
pub use overrides::Overrides;
pub use render_error::RenderError;
pub use template_usage::{Place, TemplateUsage, Use};
pub use variables::{CONTEXT_NAMES, HostView, ansible_facts, ansible_variables, omit};

/// The environment templates compile in, with Ansible's default block handling.
pub fn environment<'source>() -> minijinja::Environment<'source> {
    environment_with(&Overrides::default())
}

/// The environment with a template's `#jinja2:` first-line overrides applied.
pub fn environment_with<'source>(overrides: &Overrides) -> minijinja::Environment<'source> {
    let mut environment = minijinja::Environment::new();
    environment.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    // Ansible's block handling: trim_blocks (a tag's own newline is not output), no lstrip_blocks, and
    // Jinja2's default of dropping the source's last newline, which `render_text` then puts back as Ansible
    // does, so templates written for Ansible render the same files here.
    environment.set_syntax(overrides.syntax());
    environment.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    environment.set_formatter(output::format);
    minijinja_contrib::add_to_environment(&mut environment);
    environment.set_unknown_method_callback(mutable_list::python_method);
    filters::register(&mut environment);
    tests::register(&mut environment);
    lookups::register(&mut environment);
    environment.add_function(chained::FUNCTION, chained::lookup_path);
    environment.add_function(python_syntax::PERCENT, percent_format::percent);
    environment.add_function(python_syntax::LIST, mutable_list::new);
    environment.add_function(python_syntax::DICT, mutable_dict::new);
    environment
}

/// Renders template source as Ansible's `template` module does; errors read `name:line: message`.
pub fn render_text(name: &str, text: &str, context: &Value) -> Result<String, RenderError> {
    render_with(name, text, minijinja::Value::from(minijinja::value::Serde(context)))
}

/// [`render_text`] with any minijinja context (a host's lazily resolved variables among its maps). A variable
/// whose own value failed to resolve is reported as that failure, which names the real culprit.
pub fn render_with(name: &str, text: &str, context: minijinja::Value) -> Result<String, RenderError> {
    lazy_vars::take_inner_error();
    render_context(name, text, context).map_err(|error| match lazy_vars::take_inner_error() {
        Some(inner) => RenderError::Variable { name: name.to_string(), inner },
        None => error,
    })
}

fn render_context(name: &str, text: &str, context: minijinja::Value) -> Result<String, RenderError> {
    // Ansible 2.19 hands back text that cannot be a template (no `{{`, `{%`, `{#`, no `#jinja2:` line) as it is.
    if !text.starts_with("#jinja2:") && !["{{", "{%", "{#"].iter().any(|start| text.contains(start)) {
        return Ok(text.to_string());
    }
    let (body, overrides) = header(name, text)?;
    let body = prepared(body, &overrides);
    let mut environment = environment_with(&overrides);
    environment.add_template(name, &body).map_err(|e| describe(name, &e))?;
    let template = environment.get_template(name).map_err(|e| describe(name, &e))?;
    let (out, emitted) = output::counting_emits(|| template.render(&context));
    let out = out.map_err(|e| describe(name, &e))?;
    Ok(match Rendered::of(&out, emitted) {
        Rendered::Nothing => String::new(),
        Rendered::OneValue => out,
        Rendered::Text => with_source_trailing_newlines(text, out),
    })
}

/// What Ansible 2.19's own join of a template's output nodes makes of a render (`AnsibleEnvironment.concat`):
/// no node at all is `None`, written as an empty file; a single node that is not a string (`{{ 5 }}`,
/// `{{ none }}`) is that value, written without the source's trailing newlines; anything else is text.
#[derive(Debug, PartialEq)]
enum Rendered {
    Nothing,
    OneValue,
    Text,
}

impl Rendered {
    fn of(out: &str, emitted: output::Emitted) -> Rendered {
        // Raw template text is never an empty node, so output made only of expressions is `bytes == len`.
        let only_expressions = emitted.bytes == out.len();
        match emitted.count {
            0 if out.is_empty() => Rendered::Nothing,
            1 if only_expressions && !emitted.first_is_text => Rendered::OneValue,
            _ => Rendered::Text,
        }
    }
}

/// A template's text as minijinja must compile it (Python syntax brought in, lines kept), for lint's syntax
/// check, so that lint accepts what a render accepts.
pub fn minijinja_source(text: &str) -> String {
    prepared(text, &Overrides::default())
}

/// The template body with the Python syntax Jinja2 accepts brought to minijinja (`chained.rs`,
/// `python_syntax.rs`); lines stay where they were.
fn prepared(body: &str, overrides: &Overrides) -> String {
    python_syntax::rewrite(&chained::rewrite(body), &overrides.syntax())
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
pub fn undeclared_names(name: &str, text: &str) -> Result<HashSet<String>, RenderError> {
    let (body, overrides) = header(name, text)?;
    let body = prepared(body, &overrides);
    let mut environment = environment_with(&overrides);
    environment.add_template(name, &body).map_err(|e| describe(name, &e))?;
    let template = environment.get_template(name).map_err(|e| describe(name, &e))?;
    let mut names = template.undeclared_variables(false);
    // A name set by `{% set %}` in a branch (say inside `{% if %}`) is still the template's own: Jinja2 reads
    // it from the template, and only the render knows whether the branch ran.
    for assigned in assigned_names(&body) {
        names.remove(&assigned);
    }
    // Names the environment provides (lookup, query, range, ...) are not the context's to supply.
    names.retain(|name| environment.globals().all(|(global, _)| global != name.as_str()));
    Ok(names)
}

/// What a template uses, for the pre-flight and lint: the context variables it reads (each with whether every
/// render reads it), and the filters and tests it calls, at their template lines; or its syntax error
/// (`name:line: ...`). Names the template sets anywhere (`{% set %}`, even in a branch) and names the environment
/// provides (`lookup`, `range`, ...) are not context variables.
pub fn usage(name: &str, text: &str) -> Result<TemplateUsage, RenderError> {
    let (body, overrides) = header(name, text)?;
    let header_lines = usize::from(body.len() != text.len());
    let body = prepared(body, &overrides);
    let environment = environment_with(&overrides);
    let tree = minijinja::machinery::parse(&body, name, overrides.syntax()).map_err(|e| describe(name, &e))?;
    let mut usage = TemplateUsage::of(&tree);
    for assigned in assigned_names(&body) {
        usage.variables.remove(&assigned);
    }
    usage.variables.retain(|name, _| environment.globals().all(|(global, _)| global != name.as_str()));
    // The rewrites' own functions are not the template's.
    usage.filters.retain(|name, _| !name.starts_with("__runbook_"));
    if header_lines > 0 {
        let shift = |place: &mut Place| place.line += header_lines;
        for used in usage.variables.values_mut().chain(usage.filters.values_mut()).chain(usage.tests.values_mut()) {
            shift(&mut used.first);
            used.always.iter_mut().for_each(shift);
        }
    }
    Ok(usage)
}

/// The filters and tests of `usage` that the template environment does not have: (`"filter"` or `"test"`,
/// name, first use). A render would fail on each where it is evaluated; Ansible fails such a template at once.
pub fn unknown_filters_and_tests(usage: &TemplateUsage) -> Vec<(&'static str, String, Use)> {
    let environment = environment();
    let mut state = environment.empty_state();
    let mut unknown = Vec::new();
    for (name, used) in &usage.filters {
        if !filters::by_name::has_filter(&mut state, name) {
            unknown.push(("filter", name.clone(), *used));
        }
    }
    for (name, used) in &usage.tests {
        if !filters::by_name::has_test(&mut state, name) {
            unknown.push(("test", name.clone(), *used));
        }
    }
    unknown
}

/// Every name a `{% set name = ... %}` / `{% set a, b = ... %}` / `{% set name %}` assigns, anywhere.
fn assigned_names(text: &str) -> Vec<String> {
    static SET: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let set = SET.get_or_init(|| {
        regex::Regex::new(r"\{%[-+]?\s*set\s+([A-Za-z_][A-Za-z0-9_]*(?:\s*,\s*[A-Za-z_][A-Za-z0-9_]*)*)").unwrap()
    });
    set.captures_iter(text).flat_map(|c| c[1].split(',').map(|n| n.trim().to_string()).collect::<Vec<_>>()).collect()
}

fn describe(name: &str, error: &minijinja::Error) -> RenderError {
    RenderError::Jinja {
        name: error.name().unwrap_or(name).to_string(),
        line: error.line(),
        kind: error.kind().to_string(),
        detail: error.detail().map(str::to_string),
    }
}

/// The `#jinja2:` header split off the body.
fn header<'t>(name: &str, text: &'t str) -> Result<(&'t str, Overrides), RenderError> {
    Overrides::split(text).map_err(|source| RenderError::Header { name: name.to_string(), source })
}

#[cfg(test)]
mod render_tests {
    use super::{render_text, undeclared_names};
    use serde_json::json;

    #[test]
    fn undefined_variables_name_the_template_line() {
        let error = render_text("t.j2", "ok\n{{ missing }}\n", &json!({})).unwrap_err().to_string();
        assert!(error.starts_with("t.j2:2: "), "{error}");
        assert!(error.contains("undefined"), "{error}");
    }

    #[test]
    fn renders_without_html_escaping_and_keeps_the_last_newline() {
        let out = render_text("t.j2", "{{ a }}\n", &json!({"a": "<x & 'y'>"})).unwrap();
        assert_eq!(out, "<x & 'y'>\n");
    }

    #[test]
    fn block_tags_on_their_own_line_output_nothing_as_with_trim_blocks() {
        let text = "a\n{% if x %}\n  b\n{% endif %}\nc\n";
        assert_eq!(render_text("t", text, &json!({"x": true})).unwrap(), "a\n  b\nc\n");
        assert_eq!(render_text("t", text, &json!({"x": false})).unwrap(), "a\nc\n");
    }

    #[test]
    fn the_source_trailing_newlines_are_kept_as_ansible_keeps_them() {
        assert_eq!(render_text("t", "a\n{% if x %}\nb\n{% endif %}\n", &json!({"x": true})).unwrap(), "a\nb\n");
        assert_eq!(render_text("t", "a{% if x %}b{% endif %}\n", &json!({"x": true})).unwrap(), "ab\n");
        assert_eq!(render_text("t", "a\n\n\n", &json!({})).unwrap(), "a\n\n\n");
        assert_eq!(render_text("t", "a", &json!({})).unwrap(), "a");
    }

    #[test]
    fn an_empty_render_is_an_empty_file_and_a_lone_value_gets_no_newline_as_in_ansible() {
        let empty = "{% for x in [] %}\n{{ x }}\n{% endfor %}\n";
        assert_eq!(render_text("t", empty, &json!({})).unwrap(), "");
        assert_eq!(render_text("t", "{% if false %}x{% endif %}\n\n", &json!({})).unwrap(), "");
        assert_eq!(render_text("t", "{{ '' }}\n", &json!({})).unwrap(), "\n");
        assert_eq!(render_text("t", "\n", &json!({})).unwrap(), "\n");
        assert_eq!(render_text("t", "{{ 5 }}\n", &json!({})).unwrap(), "5");
        assert_eq!(render_text("t", "{{ none }}\n", &json!({})).unwrap(), "");
        assert_eq!(render_text("t", "{{ 5 }}{{ 6 }}\n", &json!({})).unwrap(), "56\n");
        assert_eq!(render_text("t", "x\n{{ 5 }}\n", &json!({})).unwrap(), "x\n5\n");
    }

    #[test]
    fn a_jinja2_first_line_overrides_the_block_handling() {
        let text = "#jinja2: trim_blocks: False, lstrip_blocks: True\na\n  {% if x %}\nb\n{% endif %}\n";
        assert_eq!(render_text("t", text, &json!({"x": true})).unwrap(), "a\n\nb\n");
    }

    #[test]
    fn a_name_set_inside_an_if_is_not_undeclared() {
        let names =
            undeclared_names("t", "{% if a %}{% set b = 1 %}{% endif %}{{ b }}{{ lookup('env', 'X') }}").unwrap();
        assert_eq!(names, ["a".to_string()].into_iter().collect());
    }
}
