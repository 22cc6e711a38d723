//! `h.read`: a file's content (and, on request, its stat and matching lines) in one round trip.
//!
//! Read-only, so it runs in `--check` too: the stdlib's edit helpers (lineinfile, blockinfile, ...) are built
//! on it — read, change in Rhai, write back with `known` so an edit that changes nothing costs only the read.

use rhai::{Array, Dynamic, Map};
use sha2::{Digest, Sha256};

use super::primitive_error::PrimitiveError;
use super::remote_host::RemoteHost;
use super::step::{Options, Step, StepOutcome};
use crate::report::Status;
use crate::transport::quote;

/// Exit code the read script uses for "no such file": distinct from cat's own errors.
const ABSENT: i32 = 44;

/// Options of `h.read(path, opts)`: what else to learn in the same round trip.
pub const READ_OPTIONS: &[&str] = &["stat", "grep"];

/// `h.read(path)`: the file's content, or `()` when it does not exist. Read-only, so it runs in --check too;
/// stdlib modules build "edit a file" on it (read, change in Rhai, `h.write`).
pub fn read(host: &dyn RemoteHost, path: &str) -> Result<Dynamic, PrimitiveError> {
    let mut found = read_with(host, path, &Map::new())?;
    Ok(found.remove("content").unwrap_or(Dynamic::UNIT))
}

/// `h.read(path, #{ stat, grep })`: everything a read-edit-write helper needs to decide, in one round trip — a
/// map `#{ path, exists, content, sha256 }` (content and sha256 `()` when the file is absent; sha256 of the
/// bytes as they are on the host), with `stat: true` also `mode` ("644"), `owner` and `group`, and with
/// `grep: regex | [regex, ...]` a map `matches` from each POSIX ERE to the 1-based numbers of the lines that
/// match it (grep -E on the host, as the stdlib always matched lines). Handing this map to `h.write` as its
/// `known` option lets an unchanged write skip its own round trip.
pub fn read_with(host: &dyn RemoteHost, path: &str, options: &Map) -> Result<Map, PrimitiveError> {
    let options = Options::new(options, "read", READ_OPTIONS)?;
    let stat = options.bool("stat")?;
    let regexes = match options.raw("grep") {
        None => Vec::new(),
        Some(value) if value.is_string() => vec![value.to_string()],
        Some(value) => {
            let wrong = || PrimitiveError::Usage("read: option `grep` must be a string or an array of strings".into());
            let array = value.clone().try_cast::<Array>().ok_or_else(wrong)?;
            array
                .iter()
                .map(|item| item.is_string().then(|| item.to_string()).ok_or_else(wrong))
                .collect::<Result<_, _>>()?
        }
    };
    let output = host.query(script(path, stat, &regexes))?;
    let step = Step::new(host, "read", path);
    let mut result = Map::new();
    result.insert("path".into(), Dynamic::from(path.to_string()));
    let mut matches = Map::new();
    for regex in &regexes {
        matches.insert(regex.as_str().into(), Dynamic::from(Array::new()));
    }
    match output.rc {
        0 => {
            let Some(reply) = parse(&output.stdout, stat, &regexes) else {
                let message = format!("unexpected output: {}", String::from_utf8_lossy(&output.stdout).trim());
                return Err(step.fail(message, StepOutcome::default()));
            };
            step.finish(Status::Ok, StepOutcome::default());
            result.insert("exists".into(), Dynamic::TRUE);
            result.insert("sha256".into(), Dynamic::from(hex::encode(Sha256::digest(reply.content))));
            result.insert("content".into(), Dynamic::from(String::from_utf8_lossy(reply.content).into_owned()));
            if let Some((mode, owner, group)) = reply.metadata {
                result.insert("mode".into(), Dynamic::from(mode));
                result.insert("owner".into(), Dynamic::from(owner));
                result.insert("group".into(), Dynamic::from(group));
            }
            for (regex, lines) in regexes.iter().zip(reply.matches) {
                matches.insert(
                    regex.as_str().into(),
                    Dynamic::from(lines.into_iter().map(Dynamic::from).collect::<Array>()),
                );
            }
        }
        ABSENT => {
            step.finish(Status::Ok, StepOutcome { message: Some("absent".into()), ..StepOutcome::default() });
            result.insert("exists".into(), Dynamic::FALSE);
            result.insert("sha256".into(), Dynamic::UNIT);
            result.insert("content".into(), Dynamic::UNIT);
        }
        rc => {
            return Err(step.fail(
                output.stderr_text().trim().to_string(),
                StepOutcome { rc: Some(rc), ..StepOutcome::default() },
            ));
        }
    }
    if !regexes.is_empty() {
        result.insert("matches".into(), Dynamic::from(matches));
    }
    Ok(result)
}

/// The read script: header lines (`M mode:owner:group`, one `G n n ...` per regex), a `C` line, then the file.
/// Line numbers come out of grep's `-n` through the shell's own `read`, not another process.
fn script(path: &str, stat: bool, regexes: &[String]) -> String {
    let mut s = format!("f={}\nif [ ! -e \"$f\" ]; then exit {ABSENT}; fi\n", quote(path));
    if stat {
        s.push_str("m=$(stat -c '%a:%U:%G' -- \"$f\") || exit $?\nprintf 'M %s\\n' \"$m\"\n");
    }
    for regex in regexes {
        s.push_str(&format!(
            "printf G; grep -nE -- {} \"$f\" 2>/dev/null | while IFS=: read -r n _; do printf ' %s' \"$n\"; done; echo\n",
            quote(regex)
        ));
    }
    s.push_str("echo C\ncat -- \"$f\"\n");
    s
}

struct Reply<'a> {
    metadata: Option<(String, String, String)>,
    matches: Vec<Vec<i64>>,
    content: &'a [u8],
}

fn parse<'a>(stdout: &'a [u8], stat: bool, regexes: &[String]) -> Option<Reply<'a>> {
    let mut rest = stdout;
    let mut line = || {
        let at = rest.iter().position(|b| *b == b'\n')?;
        let text = std::str::from_utf8(&rest[..at]).ok()?;
        rest = &rest[at + 1..];
        Some(text)
    };
    let metadata = if stat {
        let fields: Vec<String> = line()?.strip_prefix("M ")?.splitn(3, ':').map(str::to_string).collect();
        let [mode, owner, group] = <[String; 3]>::try_from(fields).ok()?;
        Some((mode, owner, group))
    } else {
        None
    };
    let mut matches = Vec::new();
    for _ in regexes {
        // An old grep's "Binary file ... matches" is not a line number: it is left out, as no line matched.
        let numbers = line()?.strip_prefix('G')?.split(' ').filter_map(|n| n.parse::<i64>().ok()).collect();
        matches.push(numbers);
    }
    (line()? == "C").then_some(())?;
    Some(Reply { metadata, matches, content: rest })
}

/// `h.exists(path)`.
pub fn exists(host: &dyn RemoteHost, path: &str) -> Result<bool, PrimitiveError> {
    let output = host.query(format!("test -e {}", quote(path)))?;
    Ok(output.rc == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reply_splits_into_metadata_matches_and_content() {
        let regexes = vec!["^a".to_string(), "x".to_string()];
        let reply = parse(b"M 644:root:adm\nG 1 3\nG\nC\na\nb\na2", true, &regexes).unwrap();
        assert_eq!(reply.metadata, Some(("644".into(), "root".into(), "adm".into())));
        assert_eq!(reply.matches, vec![vec![1, 3], vec![]]);
        assert_eq!(reply.content, b"a\nb\na2");
        assert!(parse(b"G 1\nC\n", false, &[]).is_none(), "a header line out of place");
        assert_eq!(parse(b"C\n", false, &[]).unwrap().content, b"");
    }
}
