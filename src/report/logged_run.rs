//! A `--log-json` file read back into the run it records: `runbook recap merge` judges shards by it and
//! `runbook history import` records it. One reader, so both agree on what a log says (and on what makes one
//! unreadable, with the file and line).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::event::HostRecap;

/// Why a log cannot be read as a run.
#[derive(Debug, thiserror::Error)]
pub enum LogReadError {
    #[error("{path}: {source}")]
    Unreadable { path: PathBuf, source: std::io::Error },
    #[error("{path}:{line}: not a JSON event: {source}")]
    NotJson { path: PathBuf, line: usize, source: serde_json::Error },
    #[error("{path}:{line}: {message}")]
    BadEvent { path: PathBuf, line: usize, message: String },
    #[error("{path}: no run_start event: not the --log-json of a runbook run")]
    NotARun { path: PathBuf },
}

/// One task on one host, as the log has it.
#[derive(Debug, Clone, PartialEq)]
pub struct LoggedResult {
    pub task: String,
    pub host: String,
    /// ok, changed, failed, skipped, unreachable.
    pub status: String,
    pub changed: bool,
    pub rc: Option<i32>,
    pub message: Option<String>,
    /// The steps' diffs, joined.
    pub diff: Option<String>,
    /// Seconds after the run started (from the lines' times), and how long it took.
    pub started: f64,
    pub duration: f64,
}

/// How the run ended (`run_end`).
#[derive(Debug, Clone, PartialEq)]
pub struct LoggedEnd {
    pub error: Option<String>,
    pub fatal: bool,
    pub interrupted: bool,
}

/// The recap (`recap`), and when it was logged.
#[derive(Debug, Clone)]
pub struct LoggedRecap {
    pub hosts: Vec<HostRecap>,
    pub elapsed: Duration,
    pub interrupted: bool,
    pub logged_at: Option<String>,
}

/// A run as its `--log-json` file records it.
#[derive(Debug, Clone)]
pub struct LoggedRun {
    pub path: PathBuf,
    /// SHA-256 of the file: the same log imported twice is one run.
    pub digest: String,
    pub started_at: Option<String>,
    pub playbook: String,
    pub hosts: Vec<String>,
    pub check: bool,
    pub results: Vec<LoggedResult>,
    pub recap: Option<LoggedRecap>,
    /// `None`: the run did not finish (killed, or stopped before its hosts were contacted).
    pub end: Option<LoggedEnd>,
}

impl LoggedRun {
    pub fn read(path: &Path) -> Result<LoggedRun, LogReadError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| LogReadError::Unreadable { path: path.to_path_buf(), source })?;
        LoggedRun::parse(path, &text)
    }

    pub fn parse(path: &Path, text: &str) -> Result<LoggedRun, LogReadError> {
        let bad = |line: usize, message: String| LogReadError::BadEvent { path: path.to_path_buf(), line, message };
        let missing =
            |line: usize, event: &Value, key: &str| bad(line, format!("a {} event without `{key}`", event["event"]));
        let mut run = LoggedRun {
            path: path.to_path_buf(),
            digest: format!("sha256:{:x}", Sha256::digest(text.as_bytes())),
            started_at: None,
            playbook: String::new(),
            hosts: Vec::new(),
            check: false,
            results: Vec::new(),
            recap: None,
            end: None,
        };
        let mut started = false;
        let mut start_seconds = None;
        for (index, line) in text.lines().enumerate().filter(|(_, line)| !line.trim().is_empty()) {
            let number = index + 1;
            let event: Value = serde_json::from_str(line).map_err(|source| LogReadError::NotJson {
                path: path.to_path_buf(),
                line: number,
                source,
            })?;
            let time = event["time"].as_str().map(str::to_string);
            match event["event"].as_str() {
                Some("run_start") => {
                    started = true;
                    start_seconds = time.as_deref().and_then(seconds_of);
                    run.started_at = time;
                    run.playbook = event["playbook"].as_str().unwrap_or_default().to_string();
                    run.hosts = strings(&event["hosts"]);
                    run.check = event["check"].as_bool().unwrap_or(false);
                }
                Some("host_result") => {
                    let duration = event["duration"].as_f64().unwrap_or(0.0).max(0.0);
                    let logged = time.as_deref().and_then(seconds_of);
                    let started = match (logged, start_seconds) {
                        (Some(logged), Some(start)) => (logged - start - duration).max(0.0),
                        _ => 0.0,
                    };
                    let diffs: Vec<&str> = event["steps"]
                        .as_array()
                        .map(|steps| steps.iter().filter_map(|step| step["diff"].as_str()).collect())
                        .unwrap_or_default();
                    run.results.push(LoggedResult {
                        task: text_of(&event, "task").ok_or_else(|| missing(number, &event, "task"))?,
                        host: text_of(&event, "host").ok_or_else(|| missing(number, &event, "host"))?,
                        status: text_of(&event, "status").ok_or_else(|| missing(number, &event, "status"))?,
                        changed: event["changed"].as_bool().unwrap_or(false),
                        rc: event["rc"].as_i64().and_then(|rc| i32::try_from(rc).ok()),
                        message: event["message"].as_str().map(str::to_string),
                        diff: (!diffs.is_empty()).then(|| diffs.join("\n")),
                        started,
                        duration,
                    });
                }
                Some("recap") => {
                    let hosts = event["hosts"].as_array().cloned().unwrap_or_default();
                    let hosts = hosts
                        .iter()
                        .map(|host| {
                            host_recap(host).ok_or_else(|| {
                                bad(number, format!("a recap host without a name or a whole count: {host}"))
                            })
                        })
                        .collect::<Result<Vec<_>, _>>()?;
                    run.recap = Some(LoggedRecap {
                        hosts,
                        elapsed: Duration::from_secs_f64(event["elapsed"].as_f64().unwrap_or(0.0).max(0.0)),
                        interrupted: event["interrupted"].as_bool().unwrap_or(false),
                        logged_at: time,
                    });
                }
                Some("run_end") => {
                    run.end = Some(LoggedEnd {
                        error: event["error"].as_str().map(str::to_string),
                        fatal: event["fatal"].as_bool().unwrap_or(false),
                        interrupted: event["interrupted"].as_bool().unwrap_or(false),
                    });
                }
                _ => {}
            }
        }
        if !started {
            return Err(LogReadError::NotARun { path: path.to_path_buf() });
        }
        Ok(run)
    }
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|items| items.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
        .unwrap_or_default()
}

fn text_of(event: &Value, key: &str) -> Option<String> {
    event[key].as_str().map(str::to_string)
}

/// A recap's host entry; `None` without its name or a whole count.
fn host_recap(value: &Value) -> Option<HostRecap> {
    let count = |key: &str| value[key].as_u64().and_then(|n| u32::try_from(n).ok());
    Some(HostRecap {
        host: value["host"].as_str()?.to_string(),
        ok: count("ok")?,
        changed: count("changed")?,
        failed: count("failed")?,
        skipped: count("skipped")?,
        unreachable: count("unreachable")?,
        time: Duration::from_secs_f64(value["time"].as_f64().unwrap_or(0.0).max(0.0)),
        stopped_in: value["stopped_in"].as_str().map(str::to_string),
        play_stopped_at: value["play_stopped_at"].as_str().map(str::to_string),
    })
}

/// Seconds since the epoch of the log's own time format (`2026-11-27T18:23:14.123Z`, see json_log).
fn seconds_of(time: &str) -> Option<f64> {
    let (date, clock) = time.strip_suffix('Z')?.split_once('T')?;
    let mut date = date.split('-').map(|part| part.parse::<i64>().ok());
    let (year, month, day) = (date.next()??, date.next()??, date.next()??);
    let mut clock = clock.split(':');
    let (hour, minute) = (clock.next()?.parse::<f64>().ok()?, clock.next()?.parse::<f64>().ok()?);
    let second = clock.next()?.parse::<f64>().ok()?;
    Some(days_from_civil(year, month, day) as f64 * 86_400.0 + hour * 3600.0 + minute * 60.0 + second)
}

/// Howard Hinnant's `days_from_civil`: the inverse of json_log's `civil_from_days`.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year.rem_euclid(400);
    let doy = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = concat!(
        r#"{"time":"2026-12-05T10:00:00.000Z","event":"run_start","playbook":"site.rhai","hosts":["a","b"],"check":false,"diff":true}"#,
        "\n",
        r#"{"time":"2026-12-05T10:00:02.500Z","event":"host_result","task":"conf","host":"a","status":"changed","changed":true,"steps":[{"primitive":"write","target":"/etc/x","status":"changed","diff":"-1\n+2","duration":0.1}],"duration":0.5}"#,
        "\n",
        r#"{"time":"2026-12-05T10:00:03.000Z","event":"host_result","task":"conf","host":"b","status":"failed","changed":false,"rc":3,"message":"site.rhai:4:5: boom","steps":[],"duration":1.0}"#,
        "\n",
        r#"{"time":"2026-12-05T10:00:04.000Z","event":"recap","hosts":[{"host":"a","ok":0,"changed":1,"failed":0,"skipped":0,"unreachable":0,"time":0.5}],"elapsed":4.0,"interrupted":false}"#,
        "\n",
        r#"{"time":"2026-12-05T10:00:04.001Z","event":"run_end","fatal":false,"interrupted":false}"#,
        "\n"
    );

    #[test]
    fn a_log_reads_back_as_its_run_with_results_placed_in_time() {
        let run = LoggedRun::parse(Path::new("run.json"), LOG).unwrap();
        assert_eq!((run.playbook.as_str(), run.hosts.len(), run.check), ("site.rhai", 2, false));
        assert_eq!(run.results.len(), 2);
        let a = &run.results[0];
        assert_eq!((a.status.as_str(), a.changed, a.diff.as_deref()), ("changed", true, Some("-1\n+2")));
        assert!((a.started - 2.0).abs() < 1e-6, "{}", a.started);
        assert_eq!(run.results[1].rc, Some(3));
        assert_eq!(run.recap.as_ref().unwrap().hosts[0].changed, 1);
        assert_eq!(run.end, Some(LoggedEnd { error: None, fatal: false, interrupted: false }));
        assert!(run.digest.starts_with("sha256:"));
    }

    #[test]
    fn an_unfinished_log_has_no_end_and_a_broken_line_is_named() {
        let unfinished: String = LOG.lines().take(3).map(|line| format!("{line}\n")).collect();
        let run = LoggedRun::parse(Path::new("run.json"), &unfinished).unwrap();
        assert!(run.end.is_none() && run.recap.is_none());
        let broken = LoggedRun::parse(Path::new("d.json"), "{\"event\":\"run_start\"}\nnot json\n").unwrap_err();
        assert!(broken.to_string().starts_with("d.json:2: not a JSON event"), "{broken}");
        let other = LoggedRun::parse(Path::new("e.json"), "{\"event\":\"print\"}\n").unwrap_err();
        assert!(matches!(other, LogReadError::NotARun { .. }), "{other}");
    }

    #[test]
    fn log_times_read_back_to_the_instant_they_were_written_at() {
        let now = std::time::SystemTime::now();
        let written = super::super::json_log::rfc3339_utc(now);
        let since_epoch = now.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64();
        assert!((seconds_of(&written).unwrap() - since_epoch).abs() < 0.002, "{written}");
    }
}
