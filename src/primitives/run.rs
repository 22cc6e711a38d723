//! `h.run`: a shell command on the host, with Ansible's guards (`creates`, `removes`, `unless`, `onlyif`) so a
//! rerun changes nothing, and `--check` semantics: a command that could change the host is reported, not run,
//! unless it is marked `check_safe`.

use std::time::Duration;

use rhai::{Dynamic, Map};

use super::primitive_error::PrimitiveError;
use super::remote_host::RemoteHost;
use super::step::{Options, Step, StepOutcome, tail};
use crate::report::Status;
use crate::transport::{RemoteCommand, quote};

pub const RUN_OPTIONS: &[&str] = &[
    "creates",
    "removes",
    "unless",
    "onlyif",
    "timeout",
    "sudo",
    "env",
    "stdin",
    "cwd",
    "ok_codes",
    "check_safe",
    // Judged by the engine on the result (closures may be given); taken out before the primitive runs.
    "changed_when",
    "failed_when",
];

/// `h.run(cmd, opts)`: a shell command on the host. It changes the host unless marked `check_safe`, so in
/// --check it is not run but reported as what would run; `creates`/`unless` make it idempotent.
pub fn run(host: &dyn RemoteHost, command: &str, options: &Map) -> Result<Map, PrimitiveError> {
    let options = Options::new(options, "run", RUN_OPTIONS)?;
    let check_safe = options.bool("check_safe")?;
    let ok_codes = options.ints("ok_codes")?.unwrap_or_else(|| vec![0]);
    let mut remote = RemoteCommand::new(command);
    remote.sudo = options.bool("sudo")?;
    remote.cwd = options.string("cwd")?;
    remote.timeout = options.int("timeout")?.map(|secs| Duration::from_secs(secs.max(1) as u64));
    remote.stdin = options.string("stdin")?.map(String::into_bytes);
    if let Some(env) = options.map("env")? {
        for (name, value) in env {
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(PrimitiveError::usage(format!("run: option `env`: `{name}` is not a valid variable name")));
            }
            remote.env.push((name.to_string(), value.to_string()));
        }
    }

    let step = Step::new(host, "run", command);
    // Guards are read-only: they run in --check too, so the plan is accurate.
    let guard = guard_script(&options)?;
    let mut skip_marker = None;
    if let Some((script, reason)) = &guard {
        if host.check_mode() && !check_safe {
            let mut probe = remote.clone();
            probe.script = script.clone();
            probe.stdin = None;
            probe.timeout = None;
            let output = host.exec(&probe)?;
            // The work is already done: ok, as Ansible reports a `creates` that exists (`skipped` is for steps
            // that `when`, tags or --limit leave out).
            if output.rc == 0 {
                step.finish(Status::Ok, StepOutcome { message: Some(reason.clone()), ..StepOutcome::default() });
                return Ok(run_result(0, "", "", false, true));
            }
        } else {
            // Guard and command in one round trip: the guard decides on the host, and says so with a marker
            // no command prints (a fresh random nonce); it reads no stdin, so the command still gets all of it.
            let marker = format!("RUNBOOK_SKIP_{:016x}", rand::random::<u64>());
            remote.script = format!(
                "if ( {script} ) </dev/null; then printf '%s\\n' {marker}; exit 0; fi\neval {}",
                quote(&remote.script)
            );
            skip_marker = Some((marker, reason.clone()));
        }
    }

    if host.check_mode() && !check_safe {
        step.finish(
            Status::Changed,
            StepOutcome { message: Some("check mode: would run".into()), ..StepOutcome::default() },
        );
        return Ok(run_result(0, "", "", true, true));
    }

    let output = host.exec(&remote)?;
    if let Some((marker, reason)) = skip_marker
        && output.rc == 0
        && output.stdout.strip_suffix(b"\n") == Some(marker.as_bytes())
    {
        step.finish(Status::Ok, StepOutcome { message: Some(reason), ..StepOutcome::default() });
        return Ok(run_result(0, "", "", false, true));
    }
    let stdout = output.stdout_text();
    let stderr = output.stderr_text();
    let outcome =
        StepOutcome { rc: Some(output.rc), stdout: stdout.clone(), stderr: stderr.clone(), ..StepOutcome::default() };
    if !ok_codes.contains(&(output.rc as i64)) {
        let message = match remote.timeout {
            Some(timeout) if output.rc == 124 => format!("timed out after {}s (killed on the host)", timeout.as_secs()),
            _ => format!("exit code {}", output.rc),
        };
        let detail = if stderr.trim().is_empty() { tail(&stdout, 3) } else { tail(&stderr, 3) };
        return Err(step.fail_with_detail(message, &detail, outcome));
    }
    let changed = !check_safe;
    step.finish(if changed { Status::Changed } else { Status::Ok }, outcome);
    Ok(run_result(output.rc, &stdout, &stderr, changed, false))
}

/// One shell test combining `creates`, `removes`, `unless` and `onlyif`: exit 0 means "skip".
fn guard_script(options: &Options) -> Result<Option<(String, String)>, PrimitiveError> {
    let mut tests = Vec::new();
    let mut reasons = Vec::new();
    if let Some(path) = options.string("creates")? {
        tests.push(format!("test -e {}", quote(&path)));
        reasons.push(format!("{path} exists"));
    }
    if let Some(path) = options.string("removes")? {
        tests.push(format!("! test -e {}", quote(&path)));
        reasons.push(format!("{path} is absent"));
    }
    if let Some(command) = options.string("unless")? {
        tests.push(format!("( eval {} ) >/dev/null 2>&1", quote(&command)));
        reasons.push("`unless` succeeded".to_string());
    }
    if let Some(command) = options.string("onlyif")? {
        tests.push(format!("! ( eval {} ) >/dev/null 2>&1", quote(&command)));
        reasons.push("`onlyif` failed".to_string());
    }
    if tests.is_empty() {
        return Ok(None);
    }
    Ok(Some((tests.join(" || "), format!("nothing to do: {}", reasons.join(" or ")))))
}

/// The map `h.run` returns, and `local_run` on the controller with it: one shape for both.
pub fn run_result(rc: i32, stdout: &str, stderr: &str, changed: bool, skipped: bool) -> Map {
    let mut map = Map::new();
    map.insert("rc".into(), Dynamic::from(rc as i64));
    map.insert("stdout".into(), Dynamic::from(stdout.to_string()));
    map.insert("stderr".into(), Dynamic::from(stderr.to_string()));
    map.insert("changed".into(), Dynamic::from(changed));
    map.insert("skipped".into(), Dynamic::from(skipped));
    map
}
