//! `--log-json FILE`: every event as one JSON object per line, for CI systems and scripts that want the run's
//! facts without parsing terminal text.
//!
//! Each line is the serde form of [`Event`] (internally tagged: `"event": "host_result"`, ...) with a `"time"`
//! field put first: the wall-clock time the event was logged, RFC 3339 in UTC with milliseconds
//! (`2026-11-27T18:23:14.123Z`), chosen over a unix float because people read these logs too. Durations inside
//! events are seconds as floats. Every line is written with one `write` call and flushed before `event` returns,
//! so a run that crashes or is killed leaves every earlier line intact.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};

use super::event::{Event, Reporter};
use super::redactor::Redactor;

/// Writes events as JSON lines to a file.
pub struct JsonLog {
    path: PathBuf,
    state: Mutex<State>,
    redactor: Option<Redactor>,
}

struct State {
    file: File,
    /// After the first write error, logging stops (one warning, not one per event).
    failed: bool,
}

impl JsonLog {
    /// Creates (or truncates) `path`; one run, one file.
    pub fn create(path: impl AsRef<Path>) -> io::Result<JsonLog> {
        let path = path.as_ref().to_path_buf();
        let file = File::create(&path)?;
        Ok(JsonLog { path, state: Mutex::new(State { file, failed: false }), redactor: None })
    }

    /// Also hides these secrets from every string in every event (a second line of defence: the engine already
    /// redacts what it puts in events).
    pub fn with_redactor(mut self, redactor: Redactor) -> Self {
        self.redactor = Some(redactor);
        self
    }

    fn line(&self, event: &Event) -> serde_json::Result<String> {
        let mut value = serde_json::to_value(event)?;
        if let Some(redactor) = self.redactor.as_ref().filter(|r| !r.is_empty()) {
            // Redact the values, not the serialized text: a secret containing `"` or `\` is escaped in JSON
            // text, and masking inside an escape sequence would break the line.
            redact_value(&mut value, redactor);
        }
        let mut object = Map::new();
        object.insert("time".into(), Value::String(rfc3339_utc(SystemTime::now())));
        match value {
            Value::Object(fields) => object.extend(fields),
            other => {
                object.insert("value".into(), other);
            }
        }
        let mut line = serde_json::to_string(&Value::Object(object))?;
        line.push('\n');
        Ok(line)
    }
}

impl Reporter for JsonLog {
    fn event(&self, event: &Event) {
        let line = match self.line(event) {
            Ok(line) => line,
            Err(error) => {
                eprintln!("warning: --log-json: cannot encode an event: {error}");
                return;
            }
        };
        let mut state = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if state.failed {
            return;
        }
        if let Err(error) = state.file.write_all(line.as_bytes()).and_then(|()| state.file.flush()) {
            state.failed = true;
            eprintln!("warning: --log-json {}: write failed, no further events logged: {error}", self.path.display());
        }
    }

    fn finish(&self) {
        let state = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if !state.failed {
            // Durable at the end of the run; per-line durability against a process crash comes from write+flush.
            let _ = state.file.sync_all();
        }
    }
}

fn redact_value(value: &mut Value, redactor: &Redactor) {
    redactor.redact_json(value);
}

/// `2026-11-27T18:23:14.123Z`, without a date-time dependency.
pub(crate) fn rfc3339_utc(time: SystemTime) -> String {
    let since_epoch = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since_epoch.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days as i64);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        since_epoch.subsec_millis()
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::report::event::{HostResult, Status, StepReport};

    #[test]
    fn rfc3339_known_instants() {
        assert_eq!(rfc3339_utc(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        // 2000-02-29 (leap day) 12:34:56.789
        let t = UNIX_EPOCH + Duration::from_millis(951_827_696_789);
        assert_eq!(rfc3339_utc(t), "2000-02-29T12:34:56.789Z");
        let t = UNIX_EPOCH + Duration::from_secs(1_795_803_794);
        assert_eq!(rfc3339_utc(t), "2026-11-27T18:23:14.000Z");
    }

    fn host_result() -> Event {
        Event::HostResult(HostResult {
            task: "install".into(),
            host: "node1".into(),
            status: Status::Failed,
            changed: false,
            rc: Some(100),
            message: Some("site.rhai:3:5: failed with \"s3cr\\et\"".into()),
            steps: vec![StepReport {
                primitive: "run".into(),
                target: "apt-get install x".into(),
                status: Status::Failed,
                rc: Some(100),
                stdout: String::new(),
                stderr: "E: no s3cr\\et here".into(),
                diff: None,
                message: None,
                duration: Duration::from_millis(1234),
            }],
            duration: Duration::from_millis(1500),
        })
    }

    #[test]
    fn writes_one_parseable_line_per_event_with_time_first() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.jsonl");
        let log = JsonLog::create(&path).unwrap();
        log.event(&Event::RunStart {
            playbook: "site.rhai".into(),
            hosts: vec!["node1".into()],
            check: false,
            diff: true,
        });
        log.event(&host_result());
        // Lines are on disk before finish: a crash would not lose them.
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 2);
        log.event(&Event::Recap { hosts: Vec::new(), elapsed: Duration::from_millis(2000), interrupted: false });
        log.finish();

        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<Value> = text.lines().map(|line| serde_json::from_str(line).unwrap()).collect();
        assert_eq!(lines.len(), 3);
        for line in &lines {
            let keys: Vec<_> = line.as_object().unwrap().keys().take(2).cloned().collect();
            assert_eq!(keys, ["time", "event"]);
            assert!(line["time"].as_str().unwrap().ends_with('Z'));
        }
        assert_eq!(lines[0]["event"], "run_start");
        assert_eq!(lines[0]["diff"], true);
        assert_eq!(lines[1]["event"], "host_result");
        assert_eq!(lines[1]["status"], "failed");
        assert_eq!(lines[1]["rc"], 100);
        assert_eq!(lines[1]["duration"], 1.5);
        assert_eq!(lines[1]["steps"][0]["duration"], 1.234);
        assert_eq!(lines[2]["event"], "recap");
        assert_eq!(lines[2]["interrupted"], false);
    }

    #[test]
    fn secrets_with_json_special_characters_are_redacted_and_lines_stay_valid() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.jsonl");
        let redactor = Redactor::new();
        redactor.add("\"s3cr\\et\"");
        redactor.add("s3cr\\et");
        let log = JsonLog::create(&path).unwrap().with_redactor(redactor);
        log.event(&host_result());
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains("s3cr"), "{text}");
        let line: Value = serde_json::from_str(text.trim_end()).unwrap();
        assert_eq!(line["message"], "site.rhai:3:5: failed with ***");
        assert_eq!(line["steps"][0]["stderr"], "E: no *** here");
    }

    #[test]
    fn unusable_paths_are_errors_not_panics() {
        let dir = tempfile::tempdir().unwrap();
        assert!(JsonLog::create(dir.path().join("missing/run.jsonl")).is_err());
        // A full disk: the run goes on, logging stops after one warning.
        if let Ok(log) = JsonLog::create("/dev/full") {
            log.event(&host_result());
            log.event(&host_result());
            assert!(log.state.lock().unwrap().failed);
            log.finish();
        }
    }
}
