//! What a primitive may ask of the host it works on, and nothing more. The engine implements it (its `HostHandle`),
//! so primitives never reach into the run's state: every command goes through the engine's `exec` (with the
//! Ctrl-C grace and `-vv`), every step is reported through `record`, and the modes come from the run.

use std::path::PathBuf;
use std::sync::Arc;

use indexmap::IndexMap;
use rhai::{Dynamic, Map};
use serde_json::Value;

use super::host_error::HostError;
use crate::report::StepReport;
use crate::transport::{CommandOutput, RemoteCommand};

/// Another inventory host as a template sees it (`hostvars`).
pub struct PeerHost {
    pub name: String,
    pub address: String,
    pub vars: IndexMap<String, Value>,
}

pub trait RemoteHost: Send + Sync {
    fn name(&self) -> &str;
    fn address(&self) -> &str;
    /// The inventory groups the host is in.
    fn groups(&self) -> &[String];
    /// The host's inventory variables.
    fn vars(&self) -> &IndexMap<String, Value>;
    /// The host's variables resolved as Ansible resolves them (values holding templates rendered when read).
    fn lazy_vars(&self) -> Option<std::sync::Arc<crate::template::lazy_vars::LazyVars>> {
        None
    }

    /// --check: look, decide and report, never change.
    fn check_mode(&self) -> bool;
    /// --diff: show what changes (or would).
    fn diff_mode(&self) -> bool;
    /// In --check, whether an earlier step on this host reported that it *would* change something: a
    /// precondition missing now (a folder, a package) may be what that step creates.
    fn planned_changes(&self) -> bool;
    /// Secrets known to the run, masked.
    fn redact(&self, text: &str) -> String;
    /// Ctrl-C was pressed: a primitive that waits stops waiting.
    fn interrupted(&self) -> bool;

    /// Runs a command on the host (connecting first if needed).
    fn exec(&self, command: &RemoteCommand) -> Result<CommandOutput, HostError>;
    /// Runs `script` with `input` streamed to its stdin on a channel of its own (large uploads).
    fn exec_streaming(&self, script: &str, input: &[u8]) -> Result<CommandOutput, HostError>;
    /// Drops the connection; the next command connects again (after a reboot).
    fn reconnect(&self);

    /// The host's facts: gathered on first use (one round trip, once per run), kept after that.
    fn facts(&self) -> Option<Map>;
    /// Facts already gathered earlier in the run, if any, never gathering: for a step that only may use them.
    fn gathered_facts(&self) -> Option<Map>;
    fn keep_facts(&self, facts: Map);

    /// Reports a finished step: the engine adds it to the host's task result.
    fn record(&self, step: StepReport);

    /// A controller file named relative to the playbook (templates, uploads).
    fn local_file(&self, relative: &str) -> PathBuf;
    /// Group name → member host names, inventory order.
    fn inventory_groups(&self) -> IndexMap<String, Vec<String>>;
    /// Every inventory host.
    fn inventory_hosts(&self) -> Vec<PeerHost>;
    /// The host a script value names (an option such as wait_port's `from`), if it is one.
    fn host_in(&self, value: &Dynamic) -> Option<Arc<dyn RemoteHost>>;

    /// Runs a command that only looks at the host.
    fn query(&self, script: String) -> Result<CommandOutput, HostError> {
        self.exec(&RemoteCommand::new(script))
    }
}
