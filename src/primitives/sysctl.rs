//! `h.sysctl`: kernel parameters persisted to a sysctl.d file, applied, and read back.
//!
//! `sysctl -w`'s exit code is not trusted (an "Invalid argument" may exit 0), so each key is read back and a
//! key the kernel did not take fails the step with its name.

use rhai::{Dynamic, Map};

use super::file_writer::{FileSpec, put_file_then};
use super::malformed_reply::MalformedReply;
use super::primitive_error::PrimitiveError;
use super::remote_host::RemoteHost;
use super::step::{Options, Step, StepOutcome};
use crate::report::Status;
use crate::transport::quote;

pub const SYSCTL_OPTIONS: &[&str] = &["file", "persist_only"];
const DEFAULT_FILE: &str = "/etc/sysctl.d/99-runbook.conf";

/// `h.sysctl(#{ key: value }, opts)`: persists the keys to a file, applies each, and reads each back —
/// `sysctl`'s exit code is not trusted (an "Invalid argument" can exit 0). File and keys are one round trip.
pub fn sysctl(host: &dyn RemoteHost, keys: &Map, options: &Map) -> Result<Map, PrimitiveError> {
    let parsed = Options::new(options, "sysctl", SYSCTL_OPTIONS)?;
    let file = parsed.string("file")?.unwrap_or_else(|| DEFAULT_FILE.to_string());
    let persist_only: Box<dyn Fn(&str) -> bool> = match parsed.raw("persist_only") {
        None => Box::new(|_| false),
        Some(value) if value.is_bool() => {
            let all = value.as_bool().unwrap_or(false);
            Box::new(move |_| all)
        }
        Some(value) => {
            let names: Vec<String> = value
                .clone()
                .try_cast::<rhai::Array>()
                .ok_or_else(|| PrimitiveError::usage("sysctl: option `persist_only` must be true or an array of keys"))?
                .into_iter()
                .map(|item| item.to_string())
                .collect();
            Box::new(move |key| names.iter().any(|name| name == key))
        }
    };

    let mut desired: Vec<(String, String)> = Vec::new();
    for (key, value) in keys {
        validate_key(key)?;
        desired.push((key.to_string(), value_text(value)?));
    }

    let content: String = desired.iter().map(|(key, value)| format!("{key} = {value}\n")).collect();
    let spec = FileSpec::from_options(&file, &Map::new(), "sysctl")?;
    // The file and the keys in one round trip: the keys' script runs right after the file part.
    let applying: Vec<bool> = desired.iter().map(|(key, _)| !persist_only(key) && !host.check_mode()).collect();
    let (file_result, keys_output) = put_file_then(
        Step::new(host, "write", file.clone()),
        content.as_bytes(),
        &spec,
        &keys_script(&desired, &applying),
    )?;
    let file_changed = file_result["changed"].as_bool().unwrap_or(false);

    let step = Step::new(host, "sysctl", desired.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>().join(" "));
    let (current, mut applied) = match parse_keys(&keys_output, &desired, &applying) {
        Ok(parsed) => parsed,
        Err(bad) => return Err(step.fail(format!("sysctl: {bad}"), StepOutcome::default())),
    };

    let mut report = Map::new();
    let mut changes = Vec::new();
    let mut skipped_keys = Vec::new();
    let mut to_apply = Vec::new();
    for ((key, value), now) in desired.iter().zip(&current) {
        let mut entry = Map::new();
        entry.insert("new".into(), Dynamic::from(value.clone()));
        match now {
            Ok(old) => {
                entry.insert("old".into(), Dynamic::from(old.clone()));
                if !same_value(old, value) {
                    if persist_only(key) {
                        skipped_keys.push(format!("{key} (persisted only)"));
                    } else {
                        changes.push(format!("{key}: {old} -> {value}"));
                        to_apply.push((key.clone(), value.clone()));
                    }
                }
            }
            Err(reason) => {
                entry.insert("old".into(), Dynamic::UNIT);
                entry.insert("error".into(), Dynamic::from(reason.to_string()));
                if persist_only(key) {
                    skipped_keys.push(format!("{key} ({reason})"));
                } else {
                    to_apply.push((key.clone(), value.clone()));
                }
            }
        }
        report.insert(key.as_str().into(), Dynamic::from(entry));
    }

    let diff = (host.diff_mode() && !changes.is_empty()).then(|| changes.join("\n"));
    let mut failures = Vec::new();
    if !to_apply.is_empty() && !host.check_mode() {
        let after: Vec<KeyRead> = to_apply
            .iter()
            .map(|(key, _)| applied.remove(key).unwrap_or_else(|| Err(Unreadable("not applied".to_string()))))
            .collect();
        for ((key, value), result) in to_apply.iter().zip(after) {
            let entry = report.get_mut(key.as_str()).and_then(|e| {
                e.write_lock::<Map>().map(|mut m| match &result {
                    Ok(now) => {
                        m.insert("applied".into(), Dynamic::from(now.clone()));
                    }
                    Err(reason) => {
                        m.insert("error".into(), Dynamic::from(reason.to_string()));
                    }
                })
            });
            let _ = entry;
            match result {
                Ok(now) if same_value(&now, value) => {}
                Ok(now) => failures.push(format!("{key}: set to {value} but reads back {now}")),
                Err(reason) => failures.push(format!("{key}: {reason}")),
            }
        }
    } else if host.check_mode() {
        for (key, _) in &to_apply {
            if let Some(Err(reason)) = desired.iter().position(|(k, _)| k == key).map(|i| &current[i]) {
                failures.push(format!("{key}: {reason}"));
            }
        }
    }

    let mut result = Map::new();
    let changed = file_changed || !changes.is_empty();
    result.insert("changed".into(), Dynamic::from(changed));
    result.insert("keys".into(), Dynamic::from(report));
    let mut notes = Vec::new();
    if !skipped_keys.is_empty() {
        notes.push(format!("not applied: {}", skipped_keys.join(", ")));
    }
    if !failures.is_empty() {
        let message = format!("cannot apply {}", failures.join("; "));
        return Err(step.fail(message, StepOutcome { diff, ..StepOutcome::default() }));
    }
    if host.check_mode() && !changes.is_empty() {
        notes.push("check mode: would apply".into());
    }
    let status = if changes.is_empty() { Status::Ok } else { Status::Changed };
    step.finish(
        status,
        StepOutcome { diff, message: (!notes.is_empty()).then(|| notes.join("; ")), ..StepOutcome::default() },
    );
    Ok(result)
}

fn validate_key(key: &str) -> Result<(), PrimitiveError> {
    let valid = !key.is_empty()
        && !key.starts_with('.')
        && !key.ends_with('.')
        && !key.contains("..")
        && key.chars().all(|c| c.is_ascii_alphanumeric() || "._-/".contains(c));
    if valid { Ok(()) } else { Err(PrimitiveError::usage(format!("sysctl: \"{key}\" is not a sysctl key"))) }
}

fn value_text(value: &Dynamic) -> Result<String, PrimitiveError> {
    let text = value.to_string();
    if text.contains('\n') || text.trim().is_empty() {
        return Err(PrimitiveError::usage(format!("sysctl: value {value:?} must be one non-empty line")));
    }
    Ok(text.trim().to_string())
}

/// Kernel values print with tabs between fields; compare field by field.
fn same_value(a: &str, b: &str) -> bool {
    a.split_whitespace().eq(b.split_whitespace())
}

/// For each key: read it (`sysctl -n`: /proc/sys files cannot be read a byte at a time, as the shell's `read`
/// does), compare it field by field (the shell's word splitting does what `same_value` does) and, where
/// `applying` and different or unreadable, set it with `sysctl -w` and read it back — `sysctl`'s exit code is not
/// trusted. Lines: `C<TAB>ok|err<TAB>..` per key, then `A<TAB>ok|err<TAB>..` for a key it set.
fn keys_script(keys: &[(String, String)], applying: &[bool]) -> String {
    let mut script = String::from("set -f\n");
    for ((key, value), apply) in keys.iter().zip(applying) {
        let wanted: Vec<&str> = value.split_whitespace().collect();
        let k = quote(key);
        script.push_str(&format!("w={}\n", quote(&wanted.join(" "))));
        script.push_str(&format!(
            "if v=$(sysctl -n -- {k} 2>&1); then set -- $v; v=\"$*\"; if [ \"$v\" = \"$w\" ]; then r=0; else r=1; fi; \
             printf 'C\\tok\\t%s\\n' \"$v\"; else r=1; set -- $v; printf 'C\\terr\\t%s\\n' \"$*\"; fi\n"
        ));
        if *apply {
            script.push_str(&format!(
                "if [ $r = 1 ]; then e=$(sysctl -w -- {} 2>&1 >/dev/null) || true; \
                 if v=$(sysctl -n -- {k} 2>&1); then if [ -n \"$e\" ]; then set -- $e; printf 'A\\terr\\t%s\\n' \"$*\"; \
                 else set -- $v; printf 'A\\tok\\t%s\\n' \"$*\"; fi; else set -- $v; printf 'A\\terr\\t%s\\n' \"$*\"; fi; fi\n",
                quote(&format!("{key}={value}"))
            ));
        }
    }
    script
}

/// Why the kernel would not give a key's value (or take it), said plainly: reported per key, it fails the step
/// only where the key was to be set.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Unreadable(String);

/// A key's value as the host read it, or why it could not.
type KeyRead = Result<String, Unreadable>;

type KeyValues = (Vec<KeyRead>, std::collections::HashMap<String, KeyRead>);

/// What the keys' script printed: each key's value before, and the value read back of each key it set.
fn parse_keys(output: &str, keys: &[(String, String)], applying: &[bool]) -> Result<KeyValues, MalformedReply> {
    let mut lines = output.lines();
    let mut current = Vec::new();
    let mut applied = std::collections::HashMap::new();
    let bad = || MalformedReply::of(output);
    let value = |line: Option<&str>, tag: &str| -> Result<KeyRead, MalformedReply> {
        let line = line.ok_or_else(bad)?;
        match line.strip_prefix(tag).and_then(|rest| rest.split_once('\t')) {
            Some(("ok", value)) => Ok(Ok(value.to_string())),
            Some((_, reason)) => Ok(Err(Unreadable(explain(reason)))),
            None => Err(bad()),
        }
    };
    for ((key, value_wanted), apply) in keys.iter().zip(applying) {
        let now = value(lines.next(), "C\t")?;
        let differs = match &now {
            Ok(old) => !same_value(old, value_wanted),
            Err(_) => true,
        };
        if *apply && differs {
            applied.insert(key.clone(), value(lines.next(), "A\t")?);
        }
        current.push(now);
    }
    Ok((current, applied))
}

/// sysctl's messages, said plainly.
fn explain(reason: &str) -> String {
    let reason = reason.trim().trim_start_matches("sysctl: ");
    if reason.contains("cannot stat") || reason.contains("No such file") {
        "not present in this kernel".to_string()
    } else if reason.to_lowercase().contains("permission denied") || reason.contains("Read-only") {
        format!("read-only here ({reason})")
    } else {
        reason.to_string()
    }
}
