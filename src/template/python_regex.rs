//! Python's `re` as the templates of Ansible roles use it (`regex_replace`, `regex_search`, `regex_findall`, the
//! `match` / `search` / `regex` tests): look-ahead and look-behind (`(?!...)`, `(?=...)`, `(?<=...)`,
//! `(?<!...)`) and backreferences (`\1`, `(?P=name)`) need a backtracking engine, so patterns compile with
//! fancy-regex, which hands every pattern without them to the regex crate's engine. Python's `\Z` (the very end)
//! is the regex crate's `\z`.

use minijinja::{Error, ErrorKind};

fn invalid_operation(message: String) -> Error {
    Error::new(ErrorKind::InvalidOperation, message)
}

/// Compiles a Python pattern with Ansible's `ignorecase` / `multiline` options.
pub fn compile(pattern: &str, ignorecase: bool, multiline: bool) -> Result<fancy_regex::Regex, Error> {
    fancy_regex::RegexBuilder::new(&translated(pattern))
        .case_insensitive(ignorecase)
        .multi_line(multiline)
        .build()
        .map_err(|e| invalid_operation(format!("regular expression {pattern:?}: {e}")))
}

/// A match could not be decided (fancy-regex gives up past its backtracking limit).
pub fn failed(pattern: &str, error: fancy_regex::Error) -> Error {
    invalid_operation(format!("regular expression {pattern:?}: {error}"))
}

/// `\Z` → `\z` outside character classes; everything else is the same syntax.
fn translated(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    let mut chars = pattern.chars();
    let mut in_class = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let next = chars.next();
                match next {
                    Some('Z') if !in_class => out.push_str("\\z"),
                    Some(n) => {
                        out.push('\\');
                        out.push(n);
                    }
                    None => out.push('\\'),
                }
            }
            '[' if !in_class => {
                in_class = true;
                out.push(c);
                // A `]` right after `[` or `[^` is a literal in Python.
                let rest = chars.as_str();
                let lead = if rest.starts_with("^]") {
                    2
                } else if rest.starts_with(']') {
                    1
                } else {
                    0
                };
                for _ in 0..lead {
                    out.push(chars.next().expect("peeked"));
                }
            }
            ']' if in_class => {
                in_class = false;
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn look_around_and_backreferences_compile_and_plain_patterns_stay_plain() {
        let regex = compile(r"^(?!registry\.k8s\.io/)(.*)$", false, false).unwrap();
        assert!(regex.is_match("docker.io/x").unwrap() && !regex.is_match("registry.k8s.io/x").unwrap());
        assert!(compile(r"(?<=v)\d+", false, false).unwrap().is_match("v12").unwrap());
        assert!(compile(r"(\w)\1", false, false).unwrap().is_match("aa").unwrap());
        assert!(compile(r"(?P<q>['\x22])x(?P=q)", false, false).unwrap().is_match("'x'").unwrap());
        assert!(!compile(r"a\Z", false, false).unwrap().is_match("a\n").unwrap());
        assert_eq!(translated(r"[\Z]\Z[]\Z]"), r"[\Z]\z[]\Z]");
    }
}
