use std::time::Instant;

use rhai::{Dynamic, EvalAltResult, Map};

use crate::engine::{Host, mark_failed_rc, record_step, recording_steps};
use crate::report::{Event, HostResult, Status, StepReport};

/// One primitive call being carried out: times it and reports it into the host's task result (or, for a
/// call made outside any task, as a result of its own).
pub struct Step<'a> {
    pub host: &'a Host,
    primitive: &'static str,
    target: String,
    started: Instant,
}

/// What a finished step reports.
#[derive(Default)]
pub struct StepOutcome {
    pub rc: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub diff: Option<String>,
    pub message: Option<String>,
}

impl<'a> Step<'a> {
    pub fn new(host: &'a Host, primitive: &'static str, target: impl Into<String>) -> Step<'a> {
        Step { host, primitive, target: target.into(), started: Instant::now() }
    }

    pub fn finish(self, status: Status, outcome: StepOutcome) {
        let redact = |text: &str| self.host.redact(text);
        let report = StepReport {
            primitive: self.primitive.to_string(),
            target: redact(&self.target),
            status,
            rc: outcome.rc,
            stdout: redact(&outcome.stdout),
            stderr: redact(&outcome.stderr),
            diff: outcome.diff.as_deref().map(redact),
            message: outcome.message.as_deref().map(redact),
            duration: self.started.elapsed(),
        };
        if recording_steps() {
            record_step(report);
        } else {
            let runtime = &self.host.runtime;
            runtime.emit(Event::HostResult(HostResult {
                task: format!("{} {}", report.primitive, report.target),
                host: self.host.name().to_string(),
                status,
                changed: status == Status::Changed,
                rc: report.rc,
                message: report.message.clone(),
                duration: report.duration,
                steps: vec![report],
            }));
        }
    }

    /// Reports the step failed and returns the script error that fails the host.
    pub fn fail(self, message: String, outcome: StepOutcome) -> Box<EvalAltResult> {
        self.fail_with_detail(message, "", outcome)
    }

    /// As [`Step::fail`], with more detail (an stderr tail) in the error than in the step line, which the
    /// console already shows with its output.
    pub fn fail_with_detail(self, message: String, detail: &str, outcome: StepOutcome) -> Box<EvalAltResult> {
        if let Some(rc) = outcome.rc {
            mark_failed_rc(rc);
        }
        let detail = if detail.is_empty() { String::new() } else { format!(": {detail}") };
        let target = self.target.lines().next().unwrap_or("");
        let error = format!("{} `{target}` failed on {}: {message}{detail}", self.primitive, self.host.name());
        let error = self.host.redact(&error);
        self.finish(Status::Failed, StepOutcome { message: Some(message), ..outcome });
        error.into()
    }
}

/// The options map of a primitive, checked against the names it accepts.
pub struct Options<'m> {
    map: &'m Map,
    primitive: &'static str,
}

impl<'m> Options<'m> {
    pub fn new(map: &'m Map, primitive: &'static str, known: &[&str]) -> Result<Options<'m>, Box<EvalAltResult>> {
        for key in map.keys() {
            if !known.contains(&key.as_str()) {
                return Err(format!("{primitive}: unknown option `{key}` (known: {})", known.join(", ")).into());
            }
        }
        Ok(Options { map, primitive })
    }

    fn get(&self, key: &str) -> Option<&Dynamic> {
        self.map.get(key).filter(|value| !value.is_unit())
    }

    fn wrong(&self, key: &str, expected: &str, value: &Dynamic) -> Box<EvalAltResult> {
        format!("{}: option `{key}` must be {expected}, not a {}", self.primitive, value.type_name()).into()
    }

    pub fn bool(&self, key: &str) -> Result<bool, Box<EvalAltResult>> {
        match self.get(key) {
            None => Ok(false),
            Some(value) => value.as_bool().map_err(|_| self.wrong(key, "true or false", value)),
        }
    }

    pub fn string(&self, key: &str) -> Result<Option<String>, Box<EvalAltResult>> {
        match self.get(key) {
            None => Ok(None),
            Some(value) if value.is_string() => Ok(Some(value.to_string())),
            Some(value) => Err(self.wrong(key, "a string", value)),
        }
    }

    pub fn int(&self, key: &str) -> Result<Option<i64>, Box<EvalAltResult>> {
        match self.get(key) {
            None => Ok(None),
            Some(value) => {
                if let Ok(number) = value.as_int() {
                    Ok(Some(number))
                } else if let Ok(number) = value.as_float() {
                    Ok(Some(number.ceil() as i64))
                } else {
                    Err(self.wrong(key, "a number", value))
                }
            }
        }
    }

    pub fn ints(&self, key: &str) -> Result<Option<Vec<i64>>, Box<EvalAltResult>> {
        match self.get(key) {
            None => Ok(None),
            Some(value) => {
                let Some(array) = value.clone().try_cast::<rhai::Array>() else {
                    return Err(self.wrong(key, "an array of numbers", value));
                };
                array
                    .iter()
                    .map(|item| item.as_int().map_err(|_| self.wrong(key, "an array of numbers", item)))
                    .collect::<Result<_, _>>()
                    .map(Some)
            }
        }
    }

    pub fn map(&self, key: &str) -> Result<Option<Map>, Box<EvalAltResult>> {
        match self.get(key) {
            None => Ok(None),
            Some(value) => value.clone().try_cast::<Map>().map(Some).ok_or_else(|| self.wrong(key, "a map", value)),
        }
    }

    pub fn raw(&self, key: &str) -> Option<&Dynamic> {
        self.get(key)
    }
}

/// The last lines of some output, for a failure message.
pub fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.trim_end().lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
