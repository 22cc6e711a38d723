//! Why `h.template` could not render: the template file unreadable on the controller, the variables passed not
//! convertible to Jinja's values, or the template's own error (which names template:line already).

use std::path::PathBuf;

/// A template that could not be rendered for a host; nothing reaches the host.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("cannot read template {}: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("template vars: {0}")]
    Vars(#[source] Box<rhai::EvalAltResult>),
    /// The template engine's message, `templates/x.j2:12: message`.
    #[error("{0}")]
    Render(#[source] crate::template::RenderError),
}
