//! `a.missing.deeper | default('d')` and `a.missing.deeper is defined`, as Ansible 2.19 allows them, under
//! strict undefined: minijinja fails on an attribute of an undefined value before `default` or `defined` sees
//! it, so a dotted path right before `| default`, `| d` or `is [not] defined/undefined` is rewritten into a
//! call that walks the path and yields undefined at the first missing step. Everywhere else strictness stays
//! (a misspelt name is still an error). The rewrite keeps every line where it was, so errors keep their line.

use minijinja::value::{Rest, Value};

pub const FUNCTION: &str = "__runbook_path";

pub fn rewrite(text: &str) -> String {
    static PATH: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let path = PATH.get_or_init(|| {
        regex::Regex::new(
            r#"(?P<path>\b[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*|\[(?:'[^'\n]*'|"[^"\n]*"|\d+)\])+)(?P<tail>\s*(?:\|\s*(?:default|d)\b|is\s+(?:not\s+)?(?:defined|undefined)\b))"#,
        )
        .expect("a valid pattern")
    });
    let step = regex::Regex::new(r#"\.([A-Za-z_][A-Za-z0-9_]*)|\[('[^']*'|"[^"]*"|\d+)\]"#).expect("a valid pattern");
    path.replace_all(text, |caps: &regex::Captures| {
        let full = &caps["path"];
        let base_end = full.find(['.', '[']).unwrap_or(full.len());
        let mut args = vec![full[..base_end].to_string()];
        for s in step.captures_iter(&full[base_end..]) {
            match (s.get(1), s.get(2)) {
                (Some(attr), _) => args.push(format!("'{}'", attr.as_str())),
                (_, Some(key)) => args.push(key.as_str().to_string()),
                _ => {}
            }
        }
        format!("{FUNCTION}({}){}", args.join(", "), &caps["tail"])
    })
    .into_owned()
}

/// Walks `base` through `keys`; undefined at the first step that is missing (or on None).
pub fn lookup_path(base: Value, keys: Rest<Value>) -> Value {
    let mut current = base;
    for key in keys.iter() {
        if current.is_undefined() || current.is_none() {
            return Value::UNDEFINED;
        }
        current = current.get_item(key).unwrap_or(Value::UNDEFINED);
    }
    current
}

#[cfg(test)]
mod tests {
    use super::rewrite;

    #[test]
    fn paths_before_default_or_defined_are_walked_leniently() {
        assert_eq!(rewrite("{{ a.b['c'][0] | default('d') }}"), "{{ __runbook_path(a, 'b', 'c', 0) | default('d') }}");
        assert_eq!(rewrite("{% if a.b is not defined %}"), "{% if __runbook_path(a, 'b') is not defined %}");
        assert_eq!(rewrite("{{ a.b | upper }} {{ x | default(1) }}"), "{{ a.b | upper }} {{ x | default(1) }}");
        let out =
            crate::template::render_text("t", "{{ a.missing.deeper | default('d') }}", &serde_json::json!({"a": {}}));
        assert_eq!(out.unwrap(), "d");
        let out = crate::template::render_text("t", "{{ a.missing.deeper }}", &serde_json::json!({"a": {}}));
        assert!(out.is_err());
    }
}
