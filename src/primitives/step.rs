//! One primitive call being carried out, and the options map it was given. A step is timed, redacted and
//! handed to the host's `record`: the engine decides where it goes (the host's task result, or a result of its
//! own for a call made outside any task).

use std::time::Instant;

use rhai::{Dynamic, Map};

use super::primitive_error::PrimitiveError;
use super::remote_host::RemoteHost;
use crate::report::{Status, StepReport};

/// One primitive call being carried out: times it and reports it when it ends.
pub struct Step<'a> {
    pub host: &'a dyn RemoteHost,
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
    pub fn new(host: &'a dyn RemoteHost, primitive: &'static str, target: impl Into<String>) -> Step<'a> {
        Step { host, primitive, target: target.into(), started: Instant::now() }
    }

    pub fn finish(self, status: Status, outcome: StepOutcome) {
        let redact = |text: &str| self.host.redact(text);
        self.host.record(StepReport {
            primitive: self.primitive.to_string(),
            target: redact(&self.target),
            status,
            rc: outcome.rc,
            stdout: redact(&outcome.stdout),
            stderr: redact(&outcome.stderr),
            diff: outcome.diff.as_deref().map(redact),
            message: outcome.message.as_deref().map(redact),
            duration: self.started.elapsed(),
        });
    }

    /// Reports the step failed and returns the error that fails the host.
    pub fn fail(self, message: String, outcome: StepOutcome) -> PrimitiveError {
        self.fail_with_detail(message, "", outcome)
    }

    /// As [`Step::fail`], with more detail (an stderr tail) in the error than in the step line, which the
    /// console already shows with its output.
    pub fn fail_with_detail(self, message: String, detail: &str, outcome: StepOutcome) -> PrimitiveError {
        let rc = outcome.rc;
        let error = self.error_text(&message, detail);
        self.finish(Status::Failed, StepOutcome { message: Some(message), ..outcome });
        PrimitiveError::Failed { message: error, rc }
    }

    /// Reports the step failed because the host stopped answering: the host is unreachable, not failed.
    pub fn unreachable(self, message: String) -> PrimitiveError {
        let error = self.error_text(&message, "");
        self.finish(Status::Failed, StepOutcome { message: Some(message), ..StepOutcome::default() });
        PrimitiveError::Unreachable(error)
    }

    fn error_text(&self, message: &str, detail: &str) -> String {
        let detail = if detail.is_empty() { String::new() } else { format!(": {detail}") };
        let target = self.target.lines().next().unwrap_or("");
        let error = format!("{} `{target}` failed on {}: {message}{detail}", self.primitive, self.host.name());
        self.host.redact(&error)
    }
}

/// The options map of a primitive, checked against the names it accepts.
pub struct Options<'m> {
    map: &'m Map,
    primitive: &'static str,
}

impl<'m> Options<'m> {
    pub fn new(map: &'m Map, primitive: &'static str, known: &[&str]) -> Result<Options<'m>, PrimitiveError> {
        for key in map.keys() {
            if !known.contains(&key.as_str()) {
                return Err(PrimitiveError::Usage(format!(
                    "{primitive}: unknown option `{key}` (known: {})",
                    known.join(", ")
                )));
            }
        }
        Ok(Options { map, primitive })
    }

    fn get(&self, key: &str) -> Option<&Dynamic> {
        self.map.get(key).filter(|value| !value.is_unit())
    }

    fn wrong(&self, key: &str, expected: &str, value: &Dynamic) -> PrimitiveError {
        PrimitiveError::Usage(format!(
            "{}: option `{key}` must be {expected}, not a {}",
            self.primitive,
            value.type_name()
        ))
    }

    pub fn bool(&self, key: &str) -> Result<bool, PrimitiveError> {
        match self.get(key) {
            None => Ok(false),
            Some(value) => value.as_bool().map_err(|_| self.wrong(key, "true or false", value)),
        }
    }

    pub fn string(&self, key: &str) -> Result<Option<String>, PrimitiveError> {
        match self.get(key) {
            None => Ok(None),
            Some(value) if value.is_string() => Ok(Some(value.to_string())),
            Some(value) => Err(self.wrong(key, "a string", value)),
        }
    }

    pub fn int(&self, key: &str) -> Result<Option<i64>, PrimitiveError> {
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

    pub fn ints(&self, key: &str) -> Result<Option<Vec<i64>>, PrimitiveError> {
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

    pub fn map(&self, key: &str) -> Result<Option<Map>, PrimitiveError> {
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
