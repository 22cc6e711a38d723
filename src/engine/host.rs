use std::sync::Arc;

use rhai::{Dynamic, EvalAltResult, Map};

use super::host_state::HostState;
use super::runtime::{INTERRUPT_GRACE, Runtime};
use super::step_recorder;
use crate::transport::{CommandOutput, RemoteCommand, TransportError};

/// A host as a playbook sees it (`h` in `task(..., |h| ...)`): cheap to clone, shared by every thread.
#[derive(Clone)]
pub struct Host {
    pub state: Arc<HostState>,
    pub runtime: Arc<Runtime>,
}

/// Why a primitive could not do its work on a host.
#[derive(Debug)]
pub enum HostError {
    /// The host stopped answering (or never did): it is unreachable, not failed.
    Unreachable(String),
    /// The host answered, but the step failed.
    Failed(String),
}

impl HostError {
    /// Turns the error into a Rhai error (so the script's try/catch sees it), remembering on this thread
    /// whether the host became unreachable.
    pub fn into_script_error(self) -> Box<EvalAltResult> {
        let message = match self {
            HostError::Unreachable(message) => {
                step_recorder::mark_unreachable(&message);
                message
            }
            HostError::Failed(message) => message,
        };
        message.into()
    }
}

impl From<TransportError> for HostError {
    fn from(error: TransportError) -> HostError {
        if error.is_unreachable() {
            HostError::Unreachable(error.to_string())
        } else {
            HostError::Failed(error.to_string())
        }
    }
}

impl Host {
    pub fn name(&self) -> &str {
        &self.state.name
    }

    pub fn check_mode(&self) -> bool {
        self.runtime.options.check
    }

    pub fn diff_mode(&self) -> bool {
        self.runtime.options.diff
    }

    /// Runs a command on the host, connecting first if needed.
    pub fn exec(&self, command: &RemoteCommand) -> Result<CommandOutput, HostError> {
        if self.runtime.options.verbosity >= 2 {
            self.runtime.emit(crate::report::Event::Print {
                host: Some(self.state.name.clone()),
                message: self.runtime.redactor.redact(&format!("$ {}", for_display(&command.script))),
            });
        }
        // After Ctrl-C no new command starts; one already running gets INTERRUPT_GRACE to finish.
        if self.runtime.is_interrupted() {
            return Err(HostError::Failed("interrupted (Ctrl-C): command not started".into()));
        }
        self.runtime.block_on(async {
            let connection =
                self.state.connection().await.map_err(|error| HostError::Unreachable(error.to_string()))?;
            tokio::select! {
                output = connection.exec(command) => Ok(output?),
                () = self.runtime.interrupt_grace_over() => Err(HostError::Failed(format!(
                    "interrupted (Ctrl-C): the command was still running after the {}s grace period",
                    INTERRUPT_GRACE.as_secs()
                ))),
            }
        })
    }

    /// Runs a shell snippet that only looks at the host; fails the step if it exits non-zero.
    pub fn query(&self, script: impl Into<String>) -> Result<CommandOutput, HostError> {
        self.exec(&RemoteCommand::new(script))
    }

    pub fn vars_map(&self) -> Map {
        to_map(&self.state.vars)
    }

    pub fn redact(&self, text: &str) -> String {
        self.runtime.redactor.redact(text)
    }
}

/// A script as -vv shows it: file content that a primitive inlines as a base64 heredoc is left out. It is
/// noise, and the redactor, which knows secrets only as written, would not recognise one encoded there.
fn for_display(script: &str) -> String {
    let mut shown = String::new();
    let mut lines = script.lines();
    while let Some(line) = lines.next() {
        shown.push_str(line);
        shown.push('\n');
        if let Some(at) = line.find("<<'RUNBOOK_EOF_") {
            let marker = line[at + 3..].trim_end_matches('\'');
            let mut bytes = 0;
            for content in lines.by_ref() {
                if content == marker {
                    break;
                }
                bytes += content.len();
            }
            shown.push_str(&format!("  ({bytes} characters of base64 content not shown)\n{marker}\n"));
        }
    }
    shown.trim_end().to_string()
}

/// Inventory values (JSON-shaped) as a Rhai map.
pub fn to_map(vars: &indexmap::IndexMap<String, serde_json::Value>) -> Map {
    vars.iter()
        .map(|(key, value)| (key.as_str().into(), rhai::serde::to_dynamic(value).unwrap_or(Dynamic::UNIT)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::for_display;

    #[test]
    fn inlined_content_is_not_shown() {
        let script = "set -e\nbase64 -d > \"$t\" <<'RUNBOOK_EOF_00ff'\nc2VjcmV0\nRUNBOOK_EOF_00ff\nmv -f -- \"$t\" /x";
        let shown = for_display(script);
        assert!(!shown.contains("c2VjcmV0"), "{shown}");
        assert!(shown.contains("(8 characters of base64 content not shown)"), "{shown}");
        assert!(shown.ends_with("RUNBOOK_EOF_00ff\nmv -f -- \"$t\" /x"), "{shown}");
    }
}
