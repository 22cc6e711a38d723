use base64::Engine as _;
use rhai::{Dynamic, Map};
use sha2::{Digest, Sha256};

use super::host_error::HostError;
use super::primitive_error::PrimitiveError;
use super::remote_host::RemoteHost;
use super::step::{Options, Step, StepOutcome};
use crate::report::Status;
use crate::transport::{RemoteCommand, quote};

pub const FILE_OPTIONS: &[&str] = &["mode", "owner", "group", "backup", "sensitive", "mkdir"];

/// Content up to this size travels inside the shell as base64 (one round trip for the whole replace);
/// larger content is streamed on its own channel.
const INLINE_LIMIT: usize = 4 * 1024 * 1024;

/// How the destination file should end up.
pub struct FileSpec {
    pub dest: String,
    pub mode: Option<u32>,
    pub owner: Option<String>,
    pub group: Option<String>,
    pub backup: bool,
    pub sensitive: bool,
    pub mkdir: bool,
}

impl FileSpec {
    pub fn from_options(dest: &str, options: &Map, primitive: &'static str) -> Result<FileSpec, PrimitiveError> {
        let options = Options::new(options, primitive, FILE_OPTIONS)?;
        let mode = match options.raw("mode") {
            None => None,
            Some(value) => Some(parse_mode(value).ok_or_else(|| {
                PrimitiveError::Usage(format!(
                    "{primitive}: option `mode` must be an octal string like \"0644\" or a number, not {value}"
                ))
            })?),
        };
        if !dest.starts_with('/') {
            return Err(format!("{primitive}: destination must be an absolute path, not \"{dest}\"").into());
        }
        Ok(FileSpec {
            dest: dest.to_string(),
            mode,
            owner: options.string("owner")?,
            group: options.string("group")?,
            backup: options.bool("backup")?,
            sensitive: options.bool("sensitive")?,
            mkdir: options.bool("mkdir")?,
        })
    }
}

/// "0644", "644" and 0o644 (written 420 in Rhai) all mean rw-r--r--.
fn parse_mode(value: &Dynamic) -> Option<u32> {
    if let Ok(number) = value.as_int() {
        return (0..=0o7777).contains(&number).then_some(number as u32);
    }
    let text = value.clone().into_immutable_string().ok()?;
    let text = text.trim();
    if text.is_empty() || text.len() > 5 || !text.chars().all(|c| ('0'..='7').contains(&c)) {
        return None;
    }
    u32::from_str_radix(text, 8).ok()
}

/// What is on the host now.
struct Current {
    exists: bool,
    mode: u32,
    owner: String,
    group: String,
    sha256: String,
    parent_exists: bool,
}

fn inspect(host: &dyn RemoteHost, dest: &str) -> Result<Current, HostError> {
    let q = quote(dest);
    let script = format!(
        "if [ -f {q} ]; then stat -c '%a %U %G' -- {q} && sha256sum < {q} | cut -c1-64; \
         elif [ -e {q} ]; then echo 'not-a-file'; exit 3; \
         else echo absent; if [ -d \"$(dirname -- {q})\" ]; then echo parent; fi; fi"
    );
    let output = host.query(script)?;
    let text = output.stdout_text();
    if output.rc == 3 {
        return Err(HostError::Failed(format!("{dest} exists and is not a regular file")));
    }
    if output.rc != 0 {
        return Err(HostError::Failed(format!("cannot inspect {dest}: {}", output.stderr_text().trim())));
    }
    let mut lines = text.lines();
    let first = lines.next().unwrap_or("");
    if first == "absent" {
        return Ok(Current {
            exists: false,
            mode: 0,
            owner: String::new(),
            group: String::new(),
            sha256: String::new(),
            parent_exists: lines.next() == Some("parent"),
        });
    }
    let mut fields = first.split_whitespace();
    let mode = u32::from_str_radix(fields.next().unwrap_or("0"), 8).unwrap_or(0);
    Ok(Current {
        exists: true,
        mode,
        owner: fields.next().unwrap_or("").to_string(),
        group: fields.next().unwrap_or("").to_string(),
        sha256: lines.next().unwrap_or("").trim().to_string(),
        parent_exists: true,
    })
}

/// Puts `content` at `spec.dest`, only if it differs, atomically: a temp file in the same folder, fsync,
/// mode and owner, then rename. A run killed half-way leaves the old file (the shell only runs the replace
/// once it has received all of it). Returns the result map of the primitive.
pub fn put_file(step: Step, content: &[u8], spec: &FileSpec) -> Result<Map, PrimitiveError> {
    let host = step.host;
    let current = match inspect(host, &spec.dest) {
        Ok(current) => current,
        Err(HostError::Failed(message)) => return Err(step.fail(message, StepOutcome::default())),
        Err(unreachable) => return Err(unreachable.into()),
    };
    let sha256 = hex::encode(Sha256::digest(content));
    let content_changes = !current.exists || current.sha256 != sha256;
    let mode_changes = spec.mode.is_some_and(|mode| !current.exists || current.mode != mode);
    let owner_changes = current.exists
        && (spec.owner.as_ref().is_some_and(|o| *o != current.owner)
            || spec.group.as_ref().is_some_and(|g| *g != current.group));
    // In --check, a folder that an earlier step would create is not there yet: the plan says what this step
    // would do once it is, rather than failing a host a real run would not fail.
    let folder_planned = !current.exists && !current.parent_exists && host.check_mode() && host.planned_changes();
    if !current.exists && !current.parent_exists && !spec.mkdir && !folder_planned {
        return Err(step.fail(
            format!("the folder of {} does not exist (pass `mkdir: true` to create it)", spec.dest),
            StepOutcome::default(),
        ));
    }
    let changed = content_changes || mode_changes || owner_changes;
    let result = |changed: bool| {
        let mut map = Map::new();
        map.insert("changed".into(), Dynamic::from(changed));
        map.insert("path".into(), Dynamic::from(spec.dest.clone()));
        map.insert("sha256".into(), Dynamic::from(sha256.clone()));
        map
    };
    if !changed {
        step.finish(Status::Ok, StepOutcome::default());
        return Ok(result(false));
    }

    let diff = if host.diff_mode() {
        Some(if spec.sensitive {
            "(sensitive: diff hidden)".to_string()
        } else if content_changes {
            let old =
                if current.exists { host.query(format!("cat -- {}", quote(&spec.dest)))?.stdout } else { Vec::new() };
            unified_diff(&spec.dest, &old, content)
        } else {
            describe_metadata(&current, spec)
        })
    } else {
        None
    };

    if host.check_mode() {
        let message = if folder_planned && !spec.mkdir {
            "check mode: would write (its folder does not exist yet: an earlier step would create it)".to_string()
        } else if current.exists {
            "check mode: would change".to_string()
        } else {
            "check mode: would create".to_string()
        };
        step.finish(Status::Changed, StepOutcome { diff, message: Some(message), ..StepOutcome::default() });
        return Ok(result(true));
    }

    let applied =
        if content_changes { replace(host, content, &sha256, spec, &current) } else { set_metadata(host, spec) };
    match applied {
        Ok(()) => {
            step.finish(Status::Changed, StepOutcome { diff, ..StepOutcome::default() });
            Ok(result(true))
        }
        Err(HostError::Failed(message)) => Err(step.fail(message, StepOutcome { diff, ..StepOutcome::default() })),
        Err(unreachable) => Err(unreachable.into()),
    }
}

/// chmod/chown lines for the temp file or the file itself.
fn metadata_commands(target: &str, spec: &FileSpec) -> String {
    let mut script = String::new();
    if let Some(mode) = spec.mode {
        script.push_str(&format!("chmod {:o} {target}\n", mode));
    }
    match (&spec.owner, &spec.group) {
        (Some(owner), Some(group)) => {
            script.push_str(&format!("chown {} {target}\n", quote(&format!("{owner}:{group}"))))
        }
        (Some(owner), None) => script.push_str(&format!("chown {} {target}\n", quote(owner))),
        (None, Some(group)) => script.push_str(&format!("chgrp {} {target}\n", quote(group))),
        (None, None) => {}
    }
    script
}

fn set_metadata(host: &dyn RemoteHost, spec: &FileSpec) -> Result<(), HostError> {
    let script = format!("set -e\n{}", metadata_commands(&quote(&spec.dest), spec));
    let output = host.query(script)?;
    if output.rc != 0 {
        return Err(HostError::Failed(output.stderr_text().trim().to_string()));
    }
    Ok(())
}

fn replace(
    host: &dyn RemoteHost,
    content: &[u8],
    sha256: &str,
    spec: &FileSpec,
    current: &Current,
) -> Result<(), HostError> {
    let dest = quote(&spec.dest);
    let nonce: u64 = rand::random();
    let mut script = String::from("set -e\n");
    script.push_str(&format!("d=$(dirname -- {dest})\n"));
    if spec.mkdir {
        script.push_str("mkdir -p -- \"$d\"\n");
    }
    let streamed = content.len() > INLINE_LIMIT;
    if streamed {
        // Already written by the upload channel under this name.
        script.push_str(&format!("t=\"$d/.runbook.{nonce:016x}\"\n"));
    } else {
        script.push_str("t=$(mktemp \"$d/.runbook.XXXXXX\")\n");
    }
    script.push_str("trap 'rm -f \"$t\"' EXIT\n");
    if !streamed {
        let encoded = base64::engine::general_purpose::STANDARD.encode(content);
        script.push_str(&format!("base64 -d > \"$t\" <<'RUNBOOK_EOF_{nonce:016x}'\n"));
        for chunk in encoded.as_bytes().chunks(76) {
            script.push_str(std::str::from_utf8(chunk).unwrap());
            script.push('\n');
        }
        script.push_str(&format!("RUNBOOK_EOF_{nonce:016x}\n"));
    }
    // The temp file starts 0600 (mktemp, or umask 077 when streamed). A mode given in the options is set
    // straight away: going through the old file's mode or 0644 first would leave a secret meant to be 0600
    // readable by others for a moment.
    match (spec.mode, current.exists) {
        (Some(_), true) => script.push_str(&format!("chown --reference={dest} \"$t\" 2>/dev/null || true\n")),
        (Some(_), false) => {}
        (None, true) => script.push_str(&format!(
            "chmod --reference={dest} \"$t\"\nchown --reference={dest} \"$t\" 2>/dev/null || true\n"
        )),
        (None, false) => script.push_str("chmod 644 \"$t\"\n"),
    }
    script.push_str(&metadata_commands("\"$t\"", spec));
    script.push_str(&format!(
        "[ \"$(sha256sum < \"$t\" | cut -c1-64)\" = {sha256} ] || {{ echo 'content arrived damaged' >&2; exit 1; }}\n"
    ));
    script.push_str("sync \"$t\" 2>/dev/null || true\n");
    if spec.backup && current.exists {
        script.push_str(&format!("cp -p -- {dest} {dest}.$(date +%Y%m%d%H%M%S)~\n"));
    }
    script.push_str(&format!("mv -f -- \"$t\" {dest}\ntrap - EXIT\n"));

    if streamed {
        let connection_script = format!(
            // A connection lost half-way ends stdin early, which `cat` cannot tell from the end of the data:
            // a short temp file is removed here rather than left beside the destination.
            "set -e; d=$(dirname -- {dest}); {} umask 077; t=\"$d/.runbook.{nonce:016x}\"; cat > \"$t\"; \
             [ \"$(stat -c %s \"$t\")\" = {len} ] || {{ rm -f \"$t\"; echo 'upload cut short' >&2; exit 1; }}",
            if spec.mkdir { "mkdir -p -- \"$d\";" } else { "" },
            len = content.len()
        );
        let output = host.exec_streaming(&connection_script, content)?;
        if output.rc != 0 {
            return Err(HostError::Failed(format!("upload failed: {}", output.stderr_text().trim())));
        }
    }
    let output = host.exec(&RemoteCommand::new(script))?;
    if output.rc != 0 {
        return Err(HostError::Failed(output.stderr_text().trim().to_string()));
    }
    Ok(())
}

fn describe_metadata(current: &Current, spec: &FileSpec) -> String {
    let mut lines = Vec::new();
    if let Some(mode) = spec.mode.filter(|m| *m != current.mode) {
        lines.push(format!("mode: {:04o} -> {:04o}", current.mode, mode));
    }
    if let Some(owner) = spec.owner.as_ref().filter(|o| **o != current.owner) {
        lines.push(format!("owner: {} -> {owner}", current.owner));
    }
    if let Some(group) = spec.group.as_ref().filter(|g| **g != current.group) {
        lines.push(format!("group: {} -> {group}", current.group));
    }
    lines.join("\n")
}

/// A unified diff of old and new content, or a note when either is not text.
pub fn unified_diff(path: &str, old: &[u8], new: &[u8]) -> String {
    match (std::str::from_utf8(old), std::str::from_utf8(new)) {
        (Ok(old), Ok(new)) => similar::TextDiff::from_lines(old, new)
            .unified_diff()
            .context_radius(3)
            .header(&format!("{path} (before)"), &format!("{path} (after)"))
            .to_string(),
        _ => format!("binary file {path}: {} bytes -> {} bytes", old.len(), new.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse_from_strings_and_numbers() {
        assert_eq!(parse_mode(&Dynamic::from("0644")), Some(0o644));
        assert_eq!(parse_mode(&Dynamic::from("600")), Some(0o600));
        assert_eq!(parse_mode(&Dynamic::from(0o755_i64)), Some(0o755));
        assert_eq!(parse_mode(&Dynamic::from("rw")), None);
        assert_eq!(parse_mode(&Dynamic::from("0999")), None);
    }

    #[test]
    fn diffs_are_unified() {
        let diff = unified_diff("/etc/x", b"a\nb\n", b"a\nc\n");
        assert!(diff.contains("--- /etc/x (before)"), "{diff}");
        assert!(diff.contains("-b\n+c\n"), "{diff}");
    }
}
