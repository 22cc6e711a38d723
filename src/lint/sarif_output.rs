//! Findings as a SARIF 2.1.0 log (OASIS Static Analysis Results Interchange Format): what code-scanning UIs
//! (GitHub code scanning, GitLab, IDE viewers) import, so lint's findings show where other analyzers' do.
//!
//! One run, tool `runbook` with every rule listed (id and default level), one result per finding in lint's
//! order. Columns are counted in characters, as lint counts them (`columnKind: unicodeCodePoints`; SARIF's
//! default would be UTF-16 code units). Paths are relative URIs against `%SRCROOT%`, the folder lint ran in.

use std::path::Path;

use serde_json::{Value, json};

use crate::analysis::{Finding, Rule, Severity};

const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

/// The whole log, pretty-printed, with a final newline.
pub fn sarif(findings: &[Finding]) -> String {
    let rules: Vec<Value> = Rule::ALL
        .iter()
        .map(|rule| json!({ "id": rule.id(), "defaultConfiguration": { "level": level(rule.severity()) } }))
        .collect();
    let results: Vec<Value> = findings.iter().map(result).collect();
    let mut run = json!({
        "tool": { "driver": {
            "name": "runbook",
            "version": env!("CARGO_PKG_VERSION"),
            "semanticVersion": env!("CARGO_PKG_VERSION"),
            "rules": rules,
        } },
        "columnKind": "unicodeCodePoints",
        "results": results,
    });
    if let Some(root) = std::env::current_dir().ok().and_then(|dir| directory_uri(&dir)) {
        run["originalUriBaseIds"] = json!({ "%SRCROOT%": { "uri": root } });
    }
    let log = json!({ "$schema": SCHEMA, "version": "2.1.0", "runs": [run] });
    serde_json::to_string_pretty(&log).expect("a JSON value serializes") + "\n"
}

fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    }
}

fn result(finding: &Finding) -> Value {
    let text = match &finding.hint {
        Some(hint) => format!("{} ({hint})", finding.message),
        None => finding.message.clone(),
    };
    let mut result = json!({
        "ruleId": finding.rule.id(),
        "ruleIndex": Rule::ALL.iter().position(|rule| *rule == finding.rule).expect("every rule is in Rule::ALL"),
        "level": level(finding.severity),
        "message": { "text": text },
    });
    // A finding about the command line (an unknown --tags value) has no place in a file: no location.
    if let Some(file) = &finding.file {
        let mut artifact = json!({ "uri": file_uri(file) });
        if file.is_relative() {
            artifact["uriBaseId"] = json!("%SRCROOT%");
        }
        let mut physical = json!({ "artifactLocation": artifact });
        if finding.line > 0 {
            let mut region = json!({ "startLine": finding.line });
            if finding.column > 0 {
                region["startColumn"] = json!(finding.column);
            }
            physical["region"] = region;
        }
        result["locations"] = json!([{ "physicalLocation": physical }]);
    }
    result
}

/// A relative path as a relative URI reference (`playbooks/site.rhai`), an absolute one as a `file://` URI;
/// bytes outside RFC 3986's unreserved set (and `/`) are percent-encoded.
fn file_uri(path: &Path) -> String {
    let text = path.to_string_lossy();
    let text = text.strip_prefix("./").unwrap_or(&text);
    if path.is_absolute() { format!("file://{}", percent_encode(text)) } else { percent_encode(text) }
}

/// `file:///abs/dir/` (the trailing slash makes relative URIs resolve inside it).
fn directory_uri(dir: &Path) -> Option<String> {
    let text = dir.to_str()?;
    let text = text.trim_end_matches('/');
    Some(format!("file://{}/", percent_encode(text)))
}

fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => out.push(byte as char),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_are_encoded_and_relative_paths_stay_relative() {
        assert_eq!(file_uri(Path::new("./play books/site#1.rhai")), "play%20books/site%231.rhai");
        assert_eq!(file_uri(Path::new("/srv/ü.rhai")), "file:///srv/%C3%BC.rhai");
        assert_eq!(directory_uri(Path::new("/srv/site")).unwrap(), "file:///srv/site/");
    }

    #[test]
    fn a_finding_becomes_a_result_with_its_rule_and_place() {
        let finding =
            Finding::new("site.rhai", 3, 7, Rule::UnknownFunction, "unknown function `fo`").hint("did you mean `foo`?");
        let log: Value =
            serde_json::from_str(&sarif(&[finding, Finding::without_file(Rule::UnknownTag, "no task has tag x")]))
                .unwrap();
        let run = &log["runs"][0];
        let result = &run["results"][0];
        assert_eq!(result["ruleId"], "unknown-function");
        assert_eq!(
            run["tool"]["driver"]["rules"][result["ruleIndex"].as_u64().unwrap() as usize]["id"],
            "unknown-function"
        );
        assert_eq!(result["level"], "error");
        assert_eq!(result["message"]["text"], "unknown function `fo` (did you mean `foo`?)");
        let location = &result["locations"][0]["physicalLocation"];
        assert_eq!(location["artifactLocation"]["uri"], "site.rhai");
        assert_eq!(location["region"]["startLine"], 3);
        assert_eq!(location["region"]["startColumn"], 7);
        assert!(run["results"][1].get("locations").is_none());
    }
}
