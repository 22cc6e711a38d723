//! A template's failure to parse or render, kept as its parts (template, line, minijinja's kind and detail)
//! until it is shown, where it reads as Ansible's errors do: `name:line: message`.

/// Why a template did not render (or parse); its text reads `name:line: message`, as Ansible's errors name the
/// template and line.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RenderError {
    /// A bad `#jinja2:` header (always line 1).
    #[error("{name}:1: {source}")]
    Header { name: String, source: super::overrides::HeaderError },
    /// minijinja's syntax or render error, at its line when it knows it.
    #[error("{name}{}: {kind}{}", line.map(|line| format!(":{line}")).unwrap_or_default(), detail.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
    Jinja { name: String, line: Option<usize>, kind: String, detail: Option<String> },
    /// A variable the template read failed to resolve (its own value is a template): that failure, which names
    /// the real culprit.
    #[error("{name}: {inner}")]
    Variable {
        name: String,
        #[source]
        inner: std::sync::Arc<super::lazy_vars::VarsError>,
    },
}
