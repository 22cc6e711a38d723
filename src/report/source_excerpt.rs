//! The playbook lines around a failure, kept with it in the history: a report read weeks later shows the code
//! that failed as it was then, not as the file reads now (or on another machine).

use std::path::Path;

/// Lines shown before and after the failing one.
const CONTEXT: usize = 2;

/// For a message that starts with `file:line:col: ` (how runbook locates a playbook's errors), the lines around
/// that line of that file, numbered, the failing one marked with `>` and a caret under its column. `None` when the
/// message is not located or the file cannot be read (relative paths are taken from `base`).
pub fn source_excerpt(message: &str, base: &Path) -> Option<String> {
    let (file, line, column) = location(message)?;
    let path = Path::new(file);
    let text = std::fs::read_to_string(if path.is_absolute() { path.to_path_buf() } else { base.join(path) }).ok()?;
    let lines: Vec<&str> = text.lines().collect();
    if line == 0 || line > lines.len() {
        return None;
    }
    let first = line.saturating_sub(CONTEXT).max(1);
    let last = (line + CONTEXT).min(lines.len());
    let width = last.to_string().len();
    let mut excerpt = String::new();
    for number in first..=last {
        let marker = if number == line { '>' } else { ' ' };
        excerpt.push_str(&format!("{marker} {number:>width$} | {}\n", lines[number - 1]));
        if number == line && column > 0 {
            excerpt.push_str(&format!("  {:width$} | {}^\n", "", " ".repeat(column - 1)));
        }
    }
    Some(excerpt)
}

/// The source lines kept with a result: only a failed or unreachable one has them, when its message is located.
pub fn failure_excerpt(status: &str, message: Option<&str>, base: &Path) -> Option<String> {
    match status {
        "failed" | "unreachable" => message.and_then(|message| source_excerpt(message, base)),
        _ => None,
    }
}

/// `file`, line and column of a `file:line:col: message`.
fn location(message: &str) -> Option<(&str, usize, usize)> {
    let (head, _) = message.split_once(": ")?;
    let mut parts = head.rsplitn(3, ':');
    let column = parts.next()?.parse().ok()?;
    let line = parts.next()?.parse().ok()?;
    let file = parts.next().filter(|file| !file.is_empty() && !file.contains(char::is_whitespace))?;
    Some((file, line, column))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_failing_line_is_marked_with_its_neighbours_and_a_caret() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("site.rhai"), "a\nb\nc\nd\ne\nf\n").unwrap();
        let excerpt = source_excerpt("site.rhai:4:3: boom", dir.path()).unwrap();
        assert_eq!(excerpt, "  2 | b\n  3 | c\n> 4 | d\n    |   ^\n  5 | e\n  6 | f\n");
        let first = source_excerpt("site.rhai:1:1: boom", dir.path()).unwrap();
        assert!(first.starts_with("> 1 | a\n    | ^\n  2 | b\n"), "{first}");
    }

    #[test]
    fn messages_without_a_location_or_a_readable_file_have_none() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(source_excerpt("command failed: exit 4", dir.path()), None);
        assert_eq!(source_excerpt("missing.rhai:3:1: boom", dir.path()), None);
        assert_eq!(source_excerpt("rc 2: see log: x", dir.path()), None);
        std::fs::write(dir.path().join("short.rhai"), "one\n").unwrap();
        assert_eq!(source_excerpt("short.rhai:9:1: boom", dir.path()), None);
    }
}
