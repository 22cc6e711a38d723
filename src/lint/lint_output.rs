//! How findings are shown: for people (miette: the source line, a caret under the spot, the hint), for
//! GitHub Actions (workflow commands that annotate the pull request), for machines (one JSON object per
//! line) and for code-scanning UIs (a SARIF 2.1.0 log). The same findings in the same order in each.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;

use miette::{Diagnostic, GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource, SourceCode};

use crate::analysis::{Finding, Severity};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Human { color: bool },
    Github,
    Json,
    Sarif,
}

/// The whole report as text.
pub fn render(findings: &[Finding], format: Format) -> String {
    match format {
        Format::Human { color } => human(findings, color),
        Format::Github => findings.iter().map(|finding| github(finding) + "\n").collect(),
        Format::Json => findings.iter().map(|finding| json(finding) + "\n").collect(),
        Format::Sarif => super::sarif_output::sarif(findings),
    }
}

/// "2 errors, 1 warning in 7 files".
pub fn summary(findings: &[Finding], files: usize) -> String {
    let errors = findings.iter().filter(|f| f.severity == Severity::Error).count();
    let warnings = findings.len() - errors;
    let files = format!("{files} file{}", if files == 1 { "" } else { "s" });
    if findings.is_empty() {
        return format!("no problems found in {files}");
    }
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    format!("{}, {} in {files}", plural(errors, "error"), plural(warnings, "warning"))
}

fn human(findings: &[Finding], color: bool) -> String {
    let theme = if color { GraphicalTheme::unicode() } else { GraphicalTheme::unicode_nocolor() };
    let handler = GraphicalReportHandler::new_themed(theme).with_context_lines(1);
    let mut sources: HashMap<PathBuf, Option<std::sync::Arc<String>>> = HashMap::new();
    let mut out = String::new();
    for finding in findings {
        out.push_str(&format!(
            "{}: {}[{}]: {}\n",
            finding.location(),
            finding.severity.as_str(),
            finding.rule,
            finding.message
        ));
        let text = finding.file.as_ref().and_then(|file| {
            sources
                .entry(file.clone())
                .or_insert_with(|| std::fs::read_to_string(file).ok().map(std::sync::Arc::new))
                .clone()
        });
        let span = text.as_ref().and_then(|text| span_of(text, finding.line, finding.column));
        match (text, span) {
            (Some(text), Some(span)) => {
                let diagnostic = Snippet {
                    finding,
                    source: NamedSource::new(
                        finding.file.as_ref().map(|f| f.display().to_string()).unwrap_or_default(),
                        text,
                    ),
                    span,
                };
                let mut rendered = String::new();
                if handler.render_report(&mut rendered, &diagnostic).is_ok() {
                    out.push_str(&rendered);
                    if !rendered.ends_with('\n') {
                        out.push('\n');
                    }
                }
            }
            _ => {
                if let Some(hint) = &finding.hint {
                    out.push_str(&format!("  help: {hint}\n"));
                }
            }
        }
        out.push('\n');
    }
    out
}

/// The source under a finding: the word (or quoted string) starting at line:col.
fn span_of(text: &str, line: usize, column: usize) -> Option<(usize, usize)> {
    if line == 0 {
        return None;
    }
    let line_start = if line == 1 { 0 } else { text.match_indices('\n').nth(line - 2).map(|(i, _)| i + 1)? };
    let rest = &text[line_start..];
    let rest = &rest[..rest.find('\n').unwrap_or(rest.len())];
    let start = rest.char_indices().nth(column.saturating_sub(1)).map(|(i, _)| i).unwrap_or(rest.len());
    let tail = &rest[start..];
    let length = match tail.chars().next() {
        Some(quote @ ('"' | '`' | '\'')) => tail[1..].find(quote).map(|end| end + 2).unwrap_or(tail.len()),
        Some(c) if c.is_alphanumeric() || c == '_' => {
            tail.find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-' || c == '.')).unwrap_or(tail.len())
        }
        Some(c) => c.len_utf8(),
        None => 0,
    };
    Some((line_start + start, length))
}

/// One finding as miette draws it: the snippet with the spot underlined, and the hint.
struct Snippet<'a> {
    finding: &'a Finding,
    source: NamedSource<std::sync::Arc<String>>,
    span: (usize, usize),
}

impl fmt::Debug for Snippet<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.finding.message)
    }
}

impl fmt::Display for Snippet<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.finding.message)
    }
}

impl std::error::Error for Snippet<'_> {}

impl Diagnostic for Snippet<'_> {
    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.finding.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.finding.hint.as_ref().map(|hint| Box::new(hint) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        Some(&self.source)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        Some(Box::new(std::iter::once(LabeledSpan::new_with_span(Some("here".to_string()), self.span))))
    }
}

/// `::error file=..,line=..,col=..,title=rule::message`
fn github(finding: &Finding) -> String {
    let mut properties = Vec::new();
    if let Some(file) = &finding.file {
        properties.push(format!("file={}", escape_property(&file.display().to_string())));
        if finding.line > 0 {
            properties.push(format!("line={}", finding.line));
        }
        if finding.column > 0 {
            properties.push(format!("col={}", finding.column));
        }
    }
    properties.push(format!("title={}", escape_property(finding.rule.id())));
    let message = match &finding.hint {
        Some(hint) => format!("{} ({hint})", finding.message),
        None => finding.message.clone(),
    };
    format!("::{} {}::{}", finding.severity.as_str(), properties.join(","), escape_data(&message))
}

fn escape_data(text: &str) -> String {
    text.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

fn json(finding: &Finding) -> String {
    serde_json::json!({
        "file": finding.file.as_ref().map(|file| file.display().to_string()),
        "line": finding.line,
        "col": finding.column,
        "rule": finding.rule.id(),
        "severity": finding.severity.as_str(),
        "message": finding.message,
        "hint": finding.hint,
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::Rule;

    #[test]
    fn github_escapes() {
        let finding = Finding::new("a,b.rhai", 3, 7, Rule::Syntax, "50% bad\nthing");
        assert_eq!(github(&finding), "::error file=a%2Cb.rhai,line=3,col=7,title=syntax::50%25 bad%0Athing");
    }

    #[test]
    fn spans_cover_words_and_strings() {
        let text = "let a = 1;\nh.run(\"ls -l\");\n";
        assert_eq!(span_of(text, 2, 3), Some((13, 3)));
        assert_eq!(span_of(text, 2, 7), Some((17, 7)));
    }
}
