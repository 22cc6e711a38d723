//! `h.template`: a Jinja2 template rendered on the controller as Ansible renders it (`src/template`), then
//! written as `h.write` writes. Rendering errors name template:line and the host; nothing reaches the host.

use rhai::{Dynamic, Map};
use serde_json::Value;

use super::file_writer::{FileSpec, put_file};
use super::primitive_error::PrimitiveError;
use super::remote_host::RemoteHost;
use super::step::{Step, StepOutcome};
use super::template_error::TemplateError;
use crate::template::{HostView, ansible_variables, render_text, undeclared_names};

/// `h.template(src, dest, vars, opts)`: renders a Jinja2 template (minijinja, strict: an undefined variable
/// is an error naming template:line and the host), then writes it as `write` does.
pub fn template(
    host: &dyn RemoteHost,
    source: &str,
    dest: &str,
    vars: &Map,
    options: &Map,
) -> Result<Map, PrimitiveError> {
    let spec = FileSpec::from_options(dest, options, "template")?;
    let step = Step::new(host, "template", dest);
    match render(host, source, dest, vars) {
        Ok(text) => put_file(step, text.as_bytes(), &spec),
        Err(error) => Err(step.fail(error.to_string(), StepOutcome::default())),
    }
}

/// Renders a template file for a host; errors read `templates/x.j2:12: message`.
pub fn render(host: &dyn RemoteHost, source: &str, dest: &str, vars: &Map) -> Result<String, TemplateError> {
    let path = host.local_file(source);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(source) => return Err(TemplateError::Read { path, source }),
    };
    let Value::Object(mut context) = context(host, source, &text, dest, vars)? else {
        unreachable!("a template context is a map")
    };
    let Some(lazy) = host.lazy_vars() else {
        return render_text(source, &text, &Value::Object(context)).map_err(TemplateError::Render);
    };
    // Values holding templates resolve when the template reads them, against the host (as in Ansible): the
    // host's resolved variables sit under the context, which keeps only the values that need no resolving.
    for key in lazy.raw().keys() {
        if lazy.is_templated(key) && !vars.contains_key(key.as_str()) {
            context.remove(key);
        }
    }
    context.remove("hostvars");
    let layers = vec![lazy.as_jinja(), minijinja::Value::from(minijinja::value::Serde(Value::Object(context)))];
    crate::template::render_with(source, &text, minijinja::value::merge_maps(layers)).map_err(TemplateError::Render)
}

/// What a template sees: Ansible's variables for the host (`inventory_hostname`, `group_names`, `groups`,
/// `hostvars`, `ansible_managed`, `omit`, `ansible_facts` / `ansible_*` once facts are gathered), runbook's own
/// names (`host`, `facts`, `playbook_dir`, `template_*`), then the host's vars and the vars passed, which win.
fn context(host: &dyn RemoteHost, source: &str, text: &str, dest: &str, vars: &Map) -> Result<Value, TemplateError> {
    let hostvars: serde_json::Map<String, Value> = host
        .inventory_hosts()
        .into_iter()
        .map(|other| {
            let mut vars: serde_json::Map<String, Value> = other.vars.into_iter().collect();
            vars.insert("address".into(), Value::String(other.address));
            vars.insert("inventory_hostname".into(), Value::String(other.name.clone()));
            (other.name, Value::Object(vars))
        })
        .collect();
    // Facts cost a round trip to gather: only a template that reads them pays it (a template that compiles
    // badly gathers too, so that the render reports the template's error, not a missing fact).
    // Facts already gathered are simply used: the template is compiled a second time only to decide whether to
    // gather them.
    let reads_facts =
        || undeclared_names(source, text).map_or(true, |names| names.iter().any(|name| names_facts(name)));
    let facts = match host.gathered_facts() {
        Some(facts) => Some(facts),
        None if reads_facts() => host.facts(),
        None => None,
    };
    let facts = facts.map(|facts| rhai::serde::from_dynamic(&Dynamic::from(facts)).unwrap_or(Value::Null));
    let groups = host.inventory_groups();
    let view = HostView { name: host.name(), groups: &groups, hostvars, facts: facts.clone() };
    let mut context = ansible_variables(&view);
    context.insert(
        "host".into(),
        serde_json::json!({ "name": host.name(), "address": host.address(), "groups": host.groups() }),
    );
    if let Some(facts) = facts {
        context.insert("facts".into(), facts);
    }
    // `local_file("")` ends in a separator; Ansible's playbook_dir does not.
    let playbook_dir = host.local_file("").display().to_string();
    let playbook_dir = playbook_dir.strip_suffix('/').filter(|dir| !dir.is_empty()).unwrap_or(&playbook_dir);
    let fullpath = host.local_file(source).display().to_string();
    context.insert("playbook_dir".into(), Value::String(playbook_dir.to_string()));
    context.insert("template_path".into(), Value::String(source.to_string()));
    context.insert("template_fullpath".into(), Value::String(fullpath));
    context.insert("template_destpath".into(), Value::String(dest.to_string()));
    context.insert("template_host".into(), Value::String(controller_hostname()));
    for (key, value) in host.vars() {
        context.insert(key.clone(), value.clone());
    }
    let passed: Value = rhai::serde::from_dynamic(&Dynamic::from(vars.clone())).map_err(TemplateError::Vars)?;
    if let Value::Object(passed) = passed {
        context.extend(passed);
    }
    Ok(Value::Object(context))
}

/// The controller's host name, as Ansible's `template_host`.
fn controller_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").map(|h| h.trim().to_string()).unwrap_or_default()
}

/// Whether a name a template reads can only be answered with the host's facts: runbook's `facts`, Ansible's
/// `ansible_facts` and `ansible_*` fact names, and the maps that carry them (`hostvars`, `vars`).
fn names_facts(name: &str) -> bool {
    matches!(name, "facts" | "ansible_facts" | "hostvars" | "vars")
        || (name.starts_with("ansible_") && name != "ansible_managed")
}
