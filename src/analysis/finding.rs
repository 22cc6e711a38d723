//! One thing lint found: where (file:line:col), which rule, how bad, what to do about it.

use std::path::PathBuf;

use super::rules::Rule;
use super::severity::Severity;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// `None` for a problem with the command line itself (a `--tags` value).
    pub file: Option<PathBuf>,
    /// 1-based; 0 when unknown.
    pub line: usize,
    /// 1-based, in characters; 0 when unknown.
    pub column: usize,
    pub rule: Rule,
    pub severity: Severity,
    pub message: String,
    pub hint: Option<String>,
}

impl Finding {
    pub fn new(
        file: impl Into<PathBuf>,
        line: usize,
        column: usize,
        rule: Rule,
        message: impl Into<String>,
    ) -> Finding {
        Finding {
            file: Some(file.into()),
            line,
            column,
            rule,
            severity: rule.severity(),
            message: message.into(),
            hint: None,
        }
    }

    /// A finding at a Rhai position in `file`.
    pub fn at(file: &std::path::Path, position: rhai::Position, rule: Rule, message: impl Into<String>) -> Finding {
        Finding::new(file, position.line().unwrap_or(0), position.position().unwrap_or(0), rule, message)
    }

    pub fn without_file(rule: Rule, message: impl Into<String>) -> Finding {
        Finding { file: None, line: 0, column: 0, rule, severity: rule.severity(), message: message.into(), hint: None }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Finding {
        self.hint = Some(hint.into());
        self
    }

    pub fn maybe_hint(self, hint: Option<String>) -> Finding {
        match hint {
            Some(hint) => self.hint(hint),
            None => self,
        }
    }

    /// `file:line:col`, leaving out what is unknown.
    pub fn location(&self) -> String {
        let Some(file) = &self.file else {
            return "<command line>".to_string();
        };
        match (self.line, self.column) {
            (0, _) => file.display().to_string(),
            (line, 0) => format!("{}:{line}", file.display()),
            (line, column) => format!("{}:{line}:{column}", file.display()),
        }
    }
}

/// A "did you mean" hint, when a known name is close to the wrong one.
pub fn did_you_mean_hint<'a>(wrong: &str, known: impl Iterator<Item = &'a str>) -> Option<String> {
    crate::did_you_mean::did_you_mean(wrong, known).map(|near| format!("did you mean `{near}`?"))
}
