//! How a file reaches a host, for `write`, `upload` and `template` alike: compare by SHA-256, send only a
//! changed file, write a temp file beside the destination, validate it, set mode/owner, rename into place.
//!
//! One path for every file-writing primitive so that all of them are idempotent the same way, never leave a
//! half-written destination, and show the same diff and `validated by` messages.

use base64::Engine as _;
use rhai::{Dynamic, Map};
use sha2::{Digest, Sha256};

use super::host_error::HostError;
use super::malformed_reply::MalformedReply;
use super::primitive_error::PrimitiveError;
use super::remote_host::RemoteHost;
use super::step::{Options, Step, StepOutcome};
use crate::report::Status;
use crate::transport::{RemoteCommand, quote};

pub const FILE_OPTIONS: &[&str] = &["mode", "owner", "group", "backup", "sensitive", "mkdir", "validate"];
/// `h.write`'s options: the file options, and `known` (what `h.read(path, opts)` just found at the path).
pub const WRITE_OPTIONS: &[&str] = &["mode", "owner", "group", "backup", "sensitive", "mkdir", "validate", "known"];

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
    /// A command that must accept the new content (`%s`: the temp file) before it replaces the old.
    pub validate: Option<String>,
}

impl FileSpec {
    pub fn from_options(dest: &str, options: &Map, primitive: &'static str) -> Result<FileSpec, PrimitiveError> {
        FileSpec::from_options_of(dest, options, primitive, FILE_OPTIONS)
    }

    /// As [`FileSpec::from_options`], for a primitive that accepts `names` (the file options and its own).
    pub fn from_options_of(
        dest: &str,
        options: &Map,
        primitive: &'static str,
        names: &[&str],
    ) -> Result<FileSpec, PrimitiveError> {
        let options = Options::new(options, primitive, names)?;
        let mode = match options.raw("mode") {
            None => None,
            Some(value) => Some(parse_mode(value).ok_or_else(|| {
                PrimitiveError::Usage(format!(
                    "{primitive}: option `mode` must be an octal string like \"0644\" or a number, not {value}"
                ))
            })?),
        };
        if !dest.starts_with('/') {
            return Err(PrimitiveError::usage(format!(
                "{primitive}: destination must be an absolute path, not \"{dest}\""
            )));
        }
        if dest.ends_with('/') {
            return Err(PrimitiveError::usage(format!(
                "{primitive}: destination must name a file, not a folder (\"{dest}\")"
            )));
        }
        let validate = options.string("validate")?;
        if validate.as_deref().is_some_and(|command| !command.contains("%s")) {
            // As Ansible: a validator that does not look at the new file would check the old one.
            return Err(PrimitiveError::usage(format!(
                "{primitive}: option `validate` must contain %s (the file to check)"
            )));
        }
        Ok(FileSpec {
            dest: dest.to_string(),
            mode,
            owner: options.string("owner")?,
            group: options.string("group")?,
            backup: options.bool("backup")?,
            sensitive: options.bool("sensitive")?,
            mkdir: options.bool("mkdir")?,
            validate,
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

/// What was on the host when the step's script looked, from its first output line.
struct Current {
    exists: bool,
    mode: u32,
    owner: String,
    group: String,
    parent_exists: bool,
}

/// Content up to this size travels with the compare-and-replace script itself, so a step is one round trip
/// whether or not the file changes; larger content is only sent once a first look says it is needed.
const ONE_TRIP_LIMIT: usize = 256 * 1024;

/// How the content reaches the script.
enum Payload<'a> {
    /// In the script (a base64 heredoc, decoded only on the branch that replaces).
    Inline(&'a [u8]),
    /// Already on the host, in the temp file (streamed on its own channel).
    Streamed,
    /// Not sent: the script only looks and reports (--check, or a first look before a large upload).
    Probe,
}

/// The one remote script of a file step: look (checksum, and mode/owner/group when asked for), report, and —
/// unless it only looks — replace atomically when needed. Everything the step does on the host is here, so an
/// unchanged file costs one round trip and one `sha256sum` (plus one `stat` when mode/owner/group are given).
///
/// Its stdout: `S <exists> <sha256|-> <mode:owner:group|-> <parent exists>`, then (when the old content was
/// asked for) the old file and a marker line, then `R ok|would|meta|changed`. Exit codes: 3 the destination is
/// not a regular file, 4 the validator refused the new content (its output on stderr), 5 the folder is
/// missing, anything else a failure with the message on stderr.
pub(crate) struct FileScript {
    pub script: String,
    marker: String,
}

impl FileScript {
    fn new(spec: &FileSpec, sha256: &str, payload: Payload, want_old: bool, nonce: u64) -> FileScript {
        let marker = format!("RUNBOOK_OLD_{nonce:016x}");
        let dir = match spec.dest.rfind('/') {
            Some(0) | None => "/".to_string(),
            Some(at) => spec.dest[..at].to_string(),
        };
        let temp = format!("{}/.runbook.{nonce:016x}", dir.trim_end_matches('/'));
        let metadata_wanted = spec.mode.is_some() || spec.owner.is_some() || spec.group.is_some();
        let mut s = String::from("set -e\n");
        s.push_str(&format!("f={}; d={}; h={sha256}; e=0; s=-; m=-; p=1\n", quote(&spec.dest), quote(&dir)));
        let temp_line = format!("t={}\ntrap 'rm -f \"$t\"' EXIT\n", quote(&temp));
        if matches!(payload, Payload::Streamed) {
            // Whatever this script decides, the streamed temp file does not outlive it.
            s.push_str(&temp_line);
        }
        s.push_str("if [ -f \"$f\" ]; then\n  e=1; s=$(sha256sum < \"$f\"); s=${s%% *}\n");
        if metadata_wanted {
            s.push_str("  m=$(stat -c '%a:%U:%G' -- \"$f\")\n");
        }
        s.push_str(
            "elif [ -e \"$f\" ]; then echo \"$f exists and is not a regular file\" >&2; exit 3\n\
             elif [ ! -d \"$d\" ]; then p=0\nfi\n\
             printf 'S %s %s %s %s\\n' \"$e\" \"$s\" \"$m\" \"$p\"\n\
             c=0; if [ \"$s\" != \"$h\" ]; then c=1; fi\nx=0\n",
        );
        if metadata_wanted {
            // A case pattern of quoted words matches literally: names cannot act as globs.
            let pattern = format!(
                "{}:{}:{}",
                spec.mode.map_or("*".to_string(), |mode| quote(&format!("{mode:o}"))),
                spec.owner.as_deref().map_or("*".to_string(), quote),
                spec.group.as_deref().map_or("*".to_string(), quote),
            );
            s.push_str(&format!("if [ $e = 1 ]; then case \"$m\" in {pattern}) ;; *) x=1 ;; esac; fi\n"));
        }
        if want_old {
            s.push_str(&format!("if [ $c = 1 ] && [ $e = 1 ]; then cat -- \"$f\"; fi\nprintf '\\n{marker}\\n'\n"));
        }
        s.push_str("if [ $c = 0 ] && [ $x = 0 ]; then echo 'R ok'; exit 0; fi\n");
        let content = match payload {
            Payload::Probe => {
                s.push_str("echo 'R would'\nexit 0\n");
                return FileScript { script: s, marker };
            }
            Payload::Inline(content) => Some(content),
            Payload::Streamed => None,
        };
        s.push_str(&format!("if [ $c = 0 ]; then\n{}echo 'R meta'; exit 0\nfi\n", metadata_commands("\"$f\"", spec)));
        if spec.mkdir {
            s.push_str("if [ $p = 0 ]; then mkdir -p -- \"$d\"; fi\n");
        } else {
            s.push_str("if [ $p = 0 ]; then exit 5; fi\n");
        }
        if content.is_some() {
            s.push_str(&temp_line);
        }
        match content {
            Some(content) => {
                // Created 0600 and never over an existing name (noclobber opens with O_EXCL).
                let encoded = base64::engine::general_purpose::STANDARD.encode(content);
                s.push_str(&format!("(umask 077; set -C; base64 -d > \"$t\") <<'RUNBOOK_EOF_{nonce:016x}'\n"));
                for chunk in encoded.as_bytes().chunks(76) {
                    s.push_str(std::str::from_utf8(chunk).unwrap());
                    s.push('\n');
                }
                s.push_str(&format!("RUNBOOK_EOF_{nonce:016x}\n"));
            }
            None => s.push_str("[ -f \"$t\" ]\n"),
        }
        // The temp file starts 0600. A mode given in the options is set straight away: going through the old
        // file's mode or 0644 first would leave a secret meant to be 0600 readable by others for a moment.
        // The old file's owner is only copied when the options do not name both owner and group (the chown
        // below sets them): one process less per changed file.
        let inherit_owner = spec.owner.is_none() || spec.group.is_none();
        s.push_str(match (spec.mode, inherit_owner) {
            (Some(_), true) => "if [ $e = 1 ]; then chown --reference=\"$f\" \"$t\" 2>/dev/null || true; fi\n",
            (Some(_), false) => "",
            (None, true) => {
                "if [ $e = 1 ]; then chmod --reference=\"$f\" \"$t\"; chown --reference=\"$f\" \"$t\" 2>/dev/null || true; \
                 else chmod 644 \"$t\"; fi\n"
            }
            (None, false) => "if [ $e = 1 ]; then chmod --reference=\"$f\" \"$t\"; else chmod 644 \"$t\"; fi\n",
        });
        s.push_str(&metadata_commands("\"$t\"", spec));
        s.push_str(
            "v=$(sha256sum < \"$t\"); if [ \"${v%% *}\" != \"$h\" ]; then echo 'content arrived damaged' >&2; exit 1; fi\n",
        );
        if let Some(validate) = &spec.validate {
            let command = validate.replace("%s", &quote(&temp));
            s.push_str(&format!(
                "if ! o=$( (eval {}) 2>&1 </dev/null); then printf '%s\\n' \"$o\" >&2; exit 4; fi\n",
                quote(&command)
            ));
        }
        s.push_str("sync \"$t\" 2>/dev/null || true\n");
        if spec.backup {
            s.push_str("if [ $e = 1 ]; then cp -p -- \"$f\" \"$f.$(date +%Y%m%d%H%M%S)~\"; fi\n");
        }
        s.push_str("mv -f -- \"$t\" \"$f\"\ntrap - EXIT\necho 'R changed'\n");
        FileScript { script: s, marker }
    }
}

/// What the script reported, and whatever the caller's own script printed after it.
struct Reply {
    current: Current,
    sha256: Option<String>,
    old: Option<Vec<u8>>,
    outcome: String,
    rest: String,
}

fn parse_reply(stdout: &[u8], marker: &str, want_old: bool) -> Result<Reply, MalformedReply> {
    let bad = || MalformedReply::of(&String::from_utf8_lossy(stdout));
    let newline = stdout.iter().position(|b| *b == b'\n').ok_or_else(bad)?;
    let state = std::str::from_utf8(&stdout[..newline]).map_err(|_| bad())?;
    let mut after = &stdout[newline + 1..];
    let fields: Vec<&str> = state.split(' ').collect();
    if fields.len() != 5 || fields[0] != "S" {
        return Err(bad());
    }
    let mut old = None;
    if want_old {
        let end = format!("\n{marker}\n");
        let at = after.windows(end.len()).position(|w| w == end.as_bytes()).ok_or_else(bad)?;
        old = Some(after[..at].to_vec());
        after = &after[at + end.len()..];
    }
    let text = String::from_utf8_lossy(after);
    let (outcome, rest) = text.split_once('\n').ok_or_else(bad)?;
    let outcome = outcome.strip_prefix("R ").ok_or_else(bad)?.to_string();
    let mut metadata = fields[3].splitn(3, ':');
    let current = Current {
        exists: fields[1] == "1",
        mode: u32::from_str_radix(metadata.next().unwrap_or("0"), 8).unwrap_or(0),
        owner: metadata.next().unwrap_or("").to_string(),
        group: metadata.next().unwrap_or("").to_string(),
        parent_exists: fields[4] == "1",
    };
    let sha256 = (fields[2] != "-").then(|| fields[2].to_string());
    Ok(Reply { current, sha256, old, outcome, rest: rest.to_string() })
}

/// Puts `content` at `spec.dest`, only if it differs, atomically: a temp file in the same folder, fsync,
/// checksum verified, validated when asked, mode and owner, then rename. A run killed half-way leaves the old
/// file (the shell only runs the replace once it has received all of it). Returns the result map of the
/// primitive.
pub fn put_file(step: Step, content: &[u8], spec: &FileSpec) -> Result<Map, PrimitiveError> {
    put_file_then(step, content, spec, "").map(|(result, _)| result)
}

/// `put_file`, with `then` (shell code of the caller) run in the same round trip once the file is in place
/// (or found unchanged; in --check, after the look). Returns the result map and what `then` printed.
pub fn put_file_then(step: Step, content: &[u8], spec: &FileSpec, then: &str) -> Result<(Map, String), PrimitiveError> {
    let host = step.host;
    let sha256 = hex::encode(Sha256::digest(content));
    let want_old = host.diff_mode() && !spec.sensitive;
    let check = host.check_mode();
    let nonce: u64 = rand::random();
    let small = content.len() <= ONE_TRIP_LIMIT;
    let payload = if check || !small { Payload::Probe } else { Payload::Inline(content) };
    let first = FileScript::new(spec, &sha256, payload, want_old, nonce);
    // `then` must run whatever the file part did: the file part runs in a subshell of its own, so its `exit`
    // ends only that part, and a failure stops the script with the file part's code.
    let script = |file: &FileScript| {
        if then.is_empty() { file.script.clone() } else { format!("(\n{}) || exit $?\n{then}", file.script) }
    };
    let result = |changed: bool| {
        let mut map = Map::new();
        map.insert("changed".into(), Dynamic::from(changed));
        map.insert("path".into(), Dynamic::from(spec.dest.clone()));
        map.insert("sha256".into(), Dynamic::from(sha256.clone()));
        map
    };
    let run = |file: &FileScript, step: &Step| -> Result<Result<Reply, (String, i32)>, PrimitiveError> {
        let output = step.host.exec(&RemoteCommand::new(script(file))).map_err(PrimitiveError::from)?;
        match output.rc {
            0 => parse_reply(&output.stdout, &file.marker, want_old).map(Ok).map_err(PrimitiveError::from),
            rc => Ok(Err((output.stderr_text().trim().to_string(), rc))),
        }
    };
    let failure = |message: String, rc: i32| match rc {
        4 => format!("validation failed (`{}`): {message}", spec.validate.as_deref().unwrap_or("")),
        5 => format!("the folder of {} does not exist (pass `mkdir: true` to create it)", spec.dest),
        _ if message.is_empty() => format!("cannot write {} (exit code {rc})", spec.dest),
        _ => message,
    };
    let mut reply = match run(&first, &step)? {
        Ok(reply) => reply,
        Err((message, rc)) => return Err(step.fail(failure(message, rc), StepOutcome::default())),
    };
    let changed = reply.outcome != "ok";
    let content_changes = reply.sha256.as_deref() != Some(sha256.as_str());
    let diff = |reply: &Reply| {
        (host.diff_mode() && changed).then(|| {
            if spec.sensitive {
                "(sensitive: diff hidden)".to_string()
            } else if content_changes {
                unified_diff(&spec.dest, reply.old.as_deref().unwrap_or_default(), content)
            } else {
                describe_metadata(&reply.current, spec)
            }
        })
    };
    if !changed {
        step.finish(Status::Ok, StepOutcome::default());
        return Ok((result(false), reply.rest));
    }
    // In --check, a folder that an earlier step would create is not there yet: the plan says what this step
    // would do once it is, rather than failing a host a real run would not fail.
    let no_folder = !reply.current.exists && !reply.current.parent_exists && !spec.mkdir;
    let folder_planned = no_folder && check && host.planned_changes();
    if no_folder && !folder_planned {
        let message = failure(String::new(), 5);
        return Err(step.fail(message, StepOutcome { diff: diff(&reply), ..StepOutcome::default() }));
    }
    if check {
        let message = if folder_planned {
            "check mode: would write (its folder does not exist yet: an earlier step would create it)"
        } else if reply.current.exists {
            "check mode: would change"
        } else {
            "check mode: would create"
        };
        let outcome = StepOutcome { diff: diff(&reply), message: Some(message.into()), ..StepOutcome::default() };
        step.finish(Status::Changed, outcome);
        return Ok((result(true), reply.rest));
    }
    let diff = diff(&reply);
    if reply.outcome == "would" {
        // Large content: the first look said it is needed; now send it and replace.
        let payload = if content.len() > INLINE_LIMIT {
            if let Err(error) = stream_to_temp(host, content, spec, nonce) {
                return match error {
                    HostError::Failed(message) => Err(step.fail(message, StepOutcome { diff, ..Default::default() })),
                    unreachable => Err(unreachable.into()),
                };
            }
            Payload::Streamed
        } else {
            Payload::Inline(content)
        };
        let second = FileScript::new(spec, &sha256, payload, false, nonce);
        reply = match run(&second, &step)? {
            Ok(reply) => reply,
            Err((message, rc)) => {
                return Err(step.fail(failure(message, rc), StepOutcome { diff, ..StepOutcome::default() }));
            }
        };
    }
    // Which command accepted the new content: the one line that tells a reader the check really ran.
    let message = spec.validate.as_ref().filter(|_| content_changes).map(|command| format!("validated by `{command}`"));
    step.finish(Status::Changed, StepOutcome { diff, message, ..StepOutcome::default() });
    Ok((result(true), reply.rest))
}

/// Whether what a read just found at `spec.dest` (`h.read(path, opts)`'s map, handed over as `known`) already is
/// the file the step wants: the same content (by the sha256 of the bytes on the host) and, when the step sets
/// them, the same mode, owner and group — so the step is ok without asking the host again. Anything the map does
/// not say (no `stat: true` while a mode is wanted, an absent file) means "not known": the normal script runs and
/// decides on the host, as it does when the file changed since the read.
pub fn known_unchanged(known: &Map, spec: &FileSpec, sha256: &str, primitive: &str) -> Result<bool, PrimitiveError> {
    let text = |key: &str| known.get(key).and_then(|value| value.clone().into_immutable_string().ok());
    match text("path") {
        Some(path) if path.as_str() == spec.dest => {}
        _ => {
            return Err(PrimitiveError::Usage(format!(
                "{primitive}: option `known` must be what h.read({:?}, #{{ ... }}) returned for this path",
                spec.dest
            )));
        }
    }
    if known.get("exists").and_then(|value| value.as_bool().ok()) != Some(true) {
        return Ok(false);
    }
    if text("sha256").as_deref() != Some(sha256) {
        return Ok(false);
    }
    if let Some(mode) = spec.mode
        && text("mode").and_then(|found| u32::from_str_radix(&found, 8).ok()) != Some(mode)
    {
        return Ok(false);
    }
    if spec.owner.is_some() && text("owner").as_deref() != spec.owner.as_deref() {
        return Ok(false);
    }
    if spec.group.is_some() && text("group").as_deref() != spec.group.as_deref() {
        return Ok(false);
    }
    Ok(true)
}

/// The result of a file step that found nothing to do, recorded without a round trip (see [`known_unchanged`]).
pub fn unchanged(step: Step, spec: &FileSpec, sha256: &str) -> Map {
    step.finish(Status::Ok, StepOutcome::default());
    let mut map = Map::new();
    map.insert("changed".into(), Dynamic::from(false));
    map.insert("path".into(), Dynamic::from(spec.dest.clone()));
    map.insert("sha256".into(), Dynamic::from(sha256.to_string()));
    map
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

/// Content too large for the script travels on a channel of its own into the temp file the script expects.
/// A connection lost half-way ends stdin early, which `cat` cannot tell from the end of the data: a short
/// temp file is removed here rather than left beside the destination.
fn stream_to_temp(host: &dyn RemoteHost, content: &[u8], spec: &FileSpec, nonce: u64) -> Result<(), HostError> {
    let script = format!(
        "set -e; d=$(dirname -- {dest}); {mkdir} umask 077; t=\"$d/.runbook.{nonce:016x}\"; cat > \"$t\"; \
         [ \"$(stat -c %s \"$t\")\" = {len} ] || {{ rm -f \"$t\"; echo 'upload cut short' >&2; exit 1; }}",
        dest = quote(&spec.dest),
        mkdir = if spec.mkdir { "mkdir -p -- \"$d\";" } else { "" },
        len = content.len()
    );
    let output = host.exec_streaming(&script, content)?;
    if output.rc != 0 {
        return Err(HostError::Failed(format!("upload failed: {}", output.stderr_text().trim())));
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
    fn the_old_owner_is_only_copied_when_the_options_do_not_name_both() {
        let spec = |mode: Option<u32>, owner: Option<&str>, group: Option<&str>| FileSpec {
            dest: "/etc/x".into(),
            mode,
            owner: owner.map(Into::into),
            group: group.map(Into::into),
            backup: false,
            sensitive: false,
            mkdir: false,
            validate: None,
        };
        let script = |spec: &FileSpec| FileScript::new(spec, "00", Payload::Inline(b"x"), false, 1).script;
        assert!(!script(&spec(Some(0o644), Some("root"), Some("adm"))).contains("--reference"));
        let both = script(&spec(None, Some("root"), Some("adm")));
        assert!(both.contains("chmod --reference") && !both.contains("chown --reference"), "{both}");
        assert!(script(&spec(Some(0o644), Some("root"), None)).contains("chown --reference"));
        assert!(script(&spec(None, None, None)).contains("chown --reference"));
    }

    #[test]
    fn diffs_are_unified() {
        let diff = unified_diff("/etc/x", b"a\nb\n", b"a\nc\n");
        assert!(diff.contains("--- /etc/x (before)"), "{diff}");
        assert!(diff.contains("-b\n+c\n"), "{diff}");
    }
}
