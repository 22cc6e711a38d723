//! `local_run(cmd, opts)`: a shell command on the controller — what Ansible's `delegate_to: localhost` and
//! `local_action` are used for (curl the VIP, kubectl on the operator's machine). Same options and result as
//! `h.run` (`creates`/`removes`/`unless`/`onlyif` guards, `timeout`, `env`, `stdin`, `cwd`, `ok_codes`,
//! `check_safe`), so a step moves between a host and the controller without rewriting it. It changes the
//! controller unless `check_safe`, so under --check it only says it would run. The command runs in the
//! playbook's folder unless `cwd` says otherwise (relative paths read like a template's or an upload's).

use std::process::Stdio;
use std::time::{Duration, Instant};

use rhai::{Dynamic, EvalAltResult, Map};
use tokio::io::AsyncWriteExt;

use super::runtime::{INTERRUPT_GRACE, Runtime};
use super::step_recorder;
use crate::primitives::catalog::LOCAL_RUN_OPTIONS;
use crate::primitives::run_result;
use crate::report::{Status, StepReport};

type Result<T> = std::result::Result<T, Box<EvalAltResult>>;

/// Where the step is reported when `local_run` is called outside any task.
const CONTROLLER: &str = "localhost";

struct Options {
    creates: Option<String>,
    removes: Option<String>,
    unless: Option<String>,
    onlyif: Option<String>,
    timeout: Option<Duration>,
    env: Vec<(String, String)>,
    stdin: Option<String>,
    cwd: Option<String>,
    ok_codes: Vec<i64>,
    check_safe: bool,
}

fn parse(map: &Map) -> Result<Options> {
    let wrong = |key: &str, expected: &str, value: &Dynamic| -> Box<EvalAltResult> {
        format!("local_run: option `{key}` must be {expected}, not a {}", value.type_name()).into()
    };
    let mut options = Options {
        creates: None,
        removes: None,
        unless: None,
        onlyif: None,
        timeout: None,
        env: Vec::new(),
        stdin: None,
        cwd: None,
        ok_codes: vec![0],
        check_safe: false,
    };
    for (key, value) in map.iter().filter(|(_, value)| !value.is_unit()) {
        let text = || value.is_string().then(|| value.to_string()).ok_or_else(|| wrong(key, "a string", value));
        match key.as_str() {
            "creates" => options.creates = Some(text()?),
            "removes" => options.removes = Some(text()?),
            "unless" => options.unless = Some(text()?),
            "onlyif" => options.onlyif = Some(text()?),
            "stdin" => options.stdin = Some(text()?),
            "cwd" => options.cwd = Some(text()?),
            "timeout" => {
                let secs = value.as_int().map_err(|_| wrong(key, "a number of seconds", value))?;
                options.timeout = Some(Duration::from_secs(secs.max(1) as u64));
            }
            "check_safe" => options.check_safe = value.as_bool().map_err(|_| wrong(key, "true or false", value))?,
            "ok_codes" => {
                let items = value.clone().try_cast::<rhai::Array>().ok_or_else(|| wrong(key, "an array", value))?;
                options.ok_codes = items
                    .iter()
                    .map(|item| item.as_int().map_err(|_| wrong(key, "an array of numbers", item)))
                    .collect::<Result<_>>()?;
            }
            "env" => {
                let env = value.clone().try_cast::<Map>().ok_or_else(|| wrong(key, "a map", value))?;
                for (name, value) in env {
                    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                        return Err(format!("local_run: option `env`: `{name}` is not a valid variable name").into());
                    }
                    options.env.push((name.to_string(), value.to_string()));
                }
            }
            other => {
                let hint = crate::did_you_mean::did_you_mean(other, LOCAL_RUN_OPTIONS.iter().copied())
                    .map(|near| format!(" Did you mean `{near}`?"))
                    .unwrap_or_default();
                return Err(format!(
                    "local_run has no option `{other}`.{hint} Known: {}",
                    LOCAL_RUN_OPTIONS.join(", ")
                )
                .into());
            }
        }
    }
    Ok(options)
}

struct Output {
    rc: i32,
    stdout: String,
    stderr: String,
}

pub fn register(engine: &mut rhai::Engine, runtime: &std::sync::Arc<Runtime>) {
    let rt = runtime.clone();
    engine.register_fn("local_run", move |command: &str| local_run(&rt, command, &Map::new()));
    let rt = runtime.clone();
    engine.register_fn("local_run", move |command: &str, options: Map| local_run(&rt, command, &options));
}

fn local_run(runtime: &Runtime, command: &str, map: &Map) -> Result<Map> {
    let options = parse(map)?;
    let started = Instant::now();
    // `site.rhai` has the folder "": the current one.
    let base = match runtime.playbook_dir.as_os_str().is_empty() {
        true => std::path::PathBuf::from("."),
        false => runtime.playbook_dir.clone(),
    };
    let cwd = match &options.cwd {
        Some(cwd) => base.join(cwd),
        None => base,
    };
    let record = |status: Status, output: Option<&Output>, message: Option<String>| {
        let redact = |text: &str| runtime.redactor.redact(text);
        let step = StepReport {
            primitive: "local_run".into(),
            target: redact(command),
            status,
            rc: output.map(|o| o.rc),
            stdout: output.map(|o| redact(&o.stdout)).unwrap_or_default(),
            stderr: output.map(|o| redact(&o.stderr)).unwrap_or_default(),
            diff: None,
            message: message.as_deref().map(redact),
            duration: started.elapsed(),
        };
        if step_recorder::active() {
            step_recorder::push(step);
        } else {
            let task = format!("local_run {}", step.target);
            let (status, rc, message) = (step.status, step.rc, step.message.clone());
            super::host_result::report_result(
                runtime,
                &task,
                CONTROLLER,
                status,
                rc,
                message,
                vec![step],
                started.elapsed(),
            );
        }
    };

    // Guards only read: they run in --check too, so the plan is accurate.
    let mut reasons = Vec::new();
    if let Some(path) = &options.creates
        && cwd.join(path).exists()
    {
        reasons.push(format!("{path} exists"));
    }
    if let Some(path) = &options.removes
        && !cwd.join(path).exists()
    {
        reasons.push(format!("{path} is absent"));
    }
    if reasons.is_empty()
        && let Some(test) = &options.unless
        && execute(runtime, test, &cwd, &options.env, None, None)?.rc == 0
    {
        reasons.push("`unless` succeeded".into());
    }
    if reasons.is_empty()
        && let Some(test) = &options.onlyif
        && execute(runtime, test, &cwd, &options.env, None, None)?.rc != 0
    {
        reasons.push("`onlyif` failed".into());
    }
    if !reasons.is_empty() {
        record(Status::Ok, None, Some(format!("nothing to do: {}", reasons.join(" or "))));
        return Ok(run_result(0, "", "", false, true));
    }
    if runtime.options.check && !options.check_safe {
        record(Status::Changed, None, Some("check mode: would run".into()));
        return Ok(run_result(0, "", "", true, true));
    }

    let output = execute(runtime, command, &cwd, &options.env, options.stdin.as_deref(), options.timeout)?;
    if !options.ok_codes.contains(&(output.rc as i64)) {
        let message = match options.timeout {
            Some(timeout) if output.rc == 124 => format!("timed out after {}s (killed)", timeout.as_secs()),
            _ => format!("exit code {}", output.rc),
        };
        let detail = if output.stderr.trim().is_empty() { &output.stdout } else { &output.stderr };
        let lines: Vec<&str> = detail.trim_end().lines().collect();
        let detail = lines[lines.len().saturating_sub(3)..].join("\n");
        record(Status::Failed, Some(&output), Some(message.clone()));
        let first = command.lines().next().unwrap_or("");
        let error = format!("local_run `{first}` failed on the controller: {message}: {detail}");
        return Err(runtime.redactor.redact(error.trim_end_matches(": ")).into());
    }
    let changed = !options.check_safe;
    record(if changed { Status::Changed } else { Status::Ok }, Some(&output), None);
    Ok(run_result(output.rc, &output.stdout, &output.stderr, changed, false))
}

/// `sh -c command` on the controller, given up after `timeout` (rc 124, as `timeout(1)` says) and
/// INTERRUPT_GRACE after Ctrl-C.
fn execute(
    runtime: &Runtime,
    command: &str,
    cwd: &std::path::Path,
    env: &[(String, String)],
    stdin: Option<&str>,
    timeout: Option<Duration>,
) -> Result<Output> {
    if runtime.is_interrupted() {
        return Err("interrupted (Ctrl-C): local_run not started".into());
    }
    let mut process = tokio::process::Command::new("sh");
    process
        .arg("-c")
        .arg(command)
        .current_dir(cwd)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    runtime.block_on(async {
        let mut child =
            process.spawn().map_err(|error| format!("local_run: cannot start sh in {}: {error}", cwd.display()))?;
        let input = child.stdin.take();
        let feed = async move {
            if let (Some(mut pipe), Some(text)) = (input, stdin) {
                // A command that does not read its stdin closes the pipe: not an error of the command.
                let _ = pipe.write_all(text.as_bytes()).await;
            }
        };
        let wait = async {
            let (_, output) = tokio::join!(feed, child.wait_with_output());
            output
        };
        // No timeout: a century is as good as none (tokio's timer wants a deadline).
        let limit = timeout.unwrap_or(Duration::from_secs(100 * 365 * 24 * 3600));
        tokio::select! {
            output = tokio::time::timeout(limit, wait) => match output {
                Ok(Ok(output)) => Ok(Output {
                    rc: output.status.code().unwrap_or(-1),
                    stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
                    stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
                }),
                Ok(Err(error)) => Err(format!("local_run: {error}").into()),
                Err(_) => Ok(Output { rc: 124, stdout: String::new(), stderr: String::new() }),
            },
            () = runtime.interrupt_grace_over() => Err(format!(
                "interrupted (Ctrl-C): local_run was still running after the {}s grace period",
                INTERRUPT_GRACE.as_secs()
            ).into()),
        }
    })
}
