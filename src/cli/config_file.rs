//! An `ansible.cfg` read the way Ansible reads it: Python's `configparser` with `;` as the only inline comment
//! prefix, so a file Ansible accepts means the same here and a file Ansible refuses is refused, with `file:line`.
//!
//! The dialect, from CPython's `configparser.RawConfigParser._read` (strict mode, Ansible's settings):
//! - `[section]` headers (names are case-sensitive); an option line before any header is an error.
//! - `key = value` or `key: value`: the key is everything before the first `=` or `:`, lower-cased; both sides
//!   trimmed. A line that is neither a header nor an option is an error. A duplicate section or option is an
//!   error.
//! - Whole-line comments start with `#` or `;`; an inline comment starts with `;` at the start of the line or
//!   after whitespace (`#` inside a value is text).
//! - A line indented deeper than its option line continues the value (joined with newlines).
//! - `[DEFAULT]` holds fallbacks for every section.
//! - Ansible then strips one pair of matching quotes around a value.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// A parsed config file: sections → options → (value, line of the option).
#[derive(Debug, Clone, Default)]
pub struct ConfigFile {
    pub path: PathBuf,
    sections: HashMap<String, HashMap<String, (String, usize)>>,
    /// Sections and options in file order, for notes that name what is there.
    order: Vec<(String, String)>,
}

/// A line the parser refuses, with where it is (the file is named by whoever read it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ConfigError {
    pub line: usize,
    pub message: String,
}

const DEFAULT_SECTION: &str = "DEFAULT";

impl ConfigFile {
    /// Parses `text` (read from `path`, which only names it).
    pub fn parse(text: &str, path: &Path) -> Result<ConfigFile, ConfigError> {
        let mut file = ConfigFile { path: path.to_path_buf(), ..ConfigFile::default() };
        let mut section: Option<String> = None;
        // The option a continuation line would extend, its indent, and its accumulated lines.
        let mut option: Option<(String, usize)> = None;
        let mut lines_of: HashMap<(String, String), Vec<String>> = HashMap::new();
        let mut seen_sections: Vec<String> = Vec::new();
        for (index, raw) in text.lines().enumerate() {
            let number = index + 1;
            let comment_start = comment_start(raw);
            let value = raw[..comment_start.unwrap_or(raw.len())].trim();
            if value.is_empty() {
                // An empty line inside a multi-line value is kept (unless it held a comment).
                if comment_start.is_none()
                    && let (Some(section), Some((name, _))) = (&section, &option)
                    && let Some(lines) = lines_of.get_mut(&(section.clone(), name.clone()))
                {
                    lines.push(String::new());
                }
                continue;
            }
            let indent = raw.len() - raw.trim_start().len();
            if let (Some(section_name), Some((name, option_indent))) = (&section, &option)
                && indent > *option_indent
            {
                lines_of.get_mut(&(section_name.clone(), name.clone())).expect("option started").push(value.into());
                continue;
            }
            if let Some(header) = section_header(value) {
                if seen_sections.contains(&header) {
                    return Err(ConfigError { line: number, message: format!("section [{header}] already exists") });
                }
                seen_sections.push(header.clone());
                file.sections.entry(header.clone()).or_default();
                section = Some(header);
                option = None;
                continue;
            }
            let Some(section_name) = &section else {
                return Err(ConfigError {
                    line: number,
                    message: format!("{value:?} comes before any [section] header"),
                });
            };
            let Some(delimiter) = value.find(['=', ':']) else {
                return Err(ConfigError {
                    line: number,
                    message: format!("expected `key = value` or a [section] header, found {value:?}"),
                });
            };
            let name = value[..delimiter].trim_end().to_lowercase();
            if name.is_empty() {
                return Err(ConfigError { line: number, message: format!("an option without a name: {value:?}") });
            }
            let key = (section_name.clone(), name.clone());
            if lines_of.contains_key(&key) {
                return Err(ConfigError {
                    line: number,
                    message: format!("option `{name}` in section [{section_name}] already exists"),
                });
            }
            lines_of.insert(key, vec![value[delimiter + 1..].trim().to_string()]);
            file.order.push((section_name.clone(), name.clone()));
            file.sections.get_mut(section_name).expect("section exists").insert(name.clone(), (String::new(), number));
            option = Some((name, indent));
        }
        for ((section, name), lines) in lines_of {
            let joined = lines.join("\n");
            let entry = file.sections.get_mut(&section).and_then(|options| options.get_mut(&name));
            if let Some((value, _)) = entry {
                *value = unquote(joined.trim_end()).to_string();
            }
        }
        Ok(file)
    }

    /// The value of `option` in `section` (else in `[DEFAULT]`), with its line.
    pub fn get(&self, section: &str, option: &str) -> Option<(&str, usize)> {
        [section, DEFAULT_SECTION]
            .iter()
            .find_map(|name| self.sections.get(*name)?.get(option))
            .map(|(value, line)| (value.as_str(), *line))
    }

    /// Every `(section, option)` written, in file order.
    pub fn options(&self) -> impl Iterator<Item = (&str, &str)> {
        self.order.iter().map(|(section, option)| (section.as_str(), option.as_str()))
    }
}

/// Where a comment starts on `line`: the whole line for `#`/`;` first, else a `;` at the start or after
/// whitespace (configparser's `inline_comment_prefixes=(';',)`).
fn comment_start(line: &str) -> Option<usize> {
    let trimmed = line.trim_start();
    if trimmed.starts_with('#') || trimmed.starts_with(';') {
        return Some(0);
    }
    line.char_indices().find_map(|(at, c)| {
        (c == ';' && (at == 0 || line[..at].chars().next_back().is_some_and(char::is_whitespace))).then_some(at)
    })
}

/// `[name]` at the start of the (comment-stripped) line: configparser's `\[(?P<header>.+)\]`, greedy.
fn section_header(value: &str) -> Option<String> {
    let rest = value.strip_prefix('[')?;
    let end = rest.rfind(']')?;
    (end > 0).then(|| rest[..end].to_string())
}

/// Ansible's `unquote`: one pair of matching `'` or `"` around the whole value goes.
fn unquote(value: &str) -> &str {
    for quote in ['"', '\''] {
        if value.len() >= 2 && value.starts_with(quote) && value.ends_with(quote) {
            return &value[1..value.len() - 1];
        }
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> ConfigFile {
        ConfigFile::parse(text, Path::new("ansible.cfg")).unwrap()
    }

    fn error(text: &str) -> (usize, String) {
        let error = ConfigFile::parse(text, Path::new("ansible.cfg")).unwrap_err();
        (error.line, error.message)
    }

    #[test]
    fn keys_values_and_comments_as_configparser_reads_them() {
        let file = parse(
            "# a comment\n; another\n[defaults]\nInventory = ./inventory ; trailing\nforks: 20\n\
             remote_user=deploy#not-a-comment\nprivate_key_file = \"~/.ssh/id x\"\nempty =\n\
             [ssh_connection]\nssh_args = -C\n    -o ControlMaster=auto\n\n    -o ControlPersist=60s\n",
        );
        assert_eq!(file.get("defaults", "inventory"), Some(("./inventory", 4)));
        assert_eq!(file.get("defaults", "forks"), Some(("20", 5)));
        assert_eq!(file.get("defaults", "remote_user"), Some(("deploy#not-a-comment", 6)));
        assert_eq!(file.get("defaults", "private_key_file"), Some(("~/.ssh/id x", 7)));
        assert_eq!(file.get("defaults", "empty"), Some(("", 8)));
        assert_eq!(
            file.get("ssh_connection", "ssh_args"),
            Some(("-C\n-o ControlMaster=auto\n\n-o ControlPersist=60s", 10))
        );
        assert_eq!(file.get("Defaults", "forks"), None);
        let options: Vec<_> = file.options().collect();
        assert_eq!(options[0], ("defaults", "inventory"));
    }

    #[test]
    fn the_default_section_is_a_fallback() {
        let file = parse("[DEFAULT]\nforks = 3\n[defaults]\ntimeout = 5\n");
        assert_eq!(file.get("defaults", "forks"), Some(("3", 2)));
        assert_eq!(file.get("privilege_escalation", "forks"), Some(("3", 2)));
    }

    #[test]
    fn mistakes_name_the_line() {
        assert_eq!(error("forks = 5\n").0, 1);
        assert!(error("forks = 5\n").1.contains("before any [section]"));
        assert_eq!(
            error("[defaults]\nforks 5\n"),
            (2, "expected `key = value` or a [section] header, found \"forks 5\"".into())
        );
        assert_eq!(
            error("[defaults]\nforks=1\nFORKS=2\n"),
            (3, "option `forks` in section [defaults] already exists".into())
        );
        assert_eq!(error("[a]\n[b]\n[a]\n"), (3, "section [a] already exists".into()));
        assert_eq!(error("[a]\n= 1\n").0, 2);
    }
}
