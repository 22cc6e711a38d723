//! A host as a playbook sees it, and the engine's side of what primitives may ask of it ([`RemoteHost`]).

use std::path::PathBuf;
use std::sync::Arc;

use rhai::{Dynamic, Map};

use super::host_state::HostState;
use super::runtime::{INTERRUPT_GRACE, Runtime};
use super::step_recorder;
use super::vars_map::{Fallback, VarsMap};
use crate::primitives::{HostError, PeerHost, RemoteHost};
use crate::report::{Event, Status, StepReport};
use crate::template::lazy_vars::{FactSource, HostvarsSource, LazyVars, Sources};
use crate::transport::{CommandOutput, RemoteCommand};

/// A host as a playbook sees it (`h` in `task(..., |h| ...)`): cheap to clone, shared by every thread.
#[derive(Clone)]
pub struct HostHandle {
    pub(super) state: Arc<HostState>,
    pub(super) runtime: Arc<Runtime>,
    /// Handed out by `inventory_group`, runbook's `delegate_to`: the one way a playbook says it means to
    /// drive a host outside --limit. Every other handle to such a host is refused before connecting.
    beyond_limit: bool,
}

impl HostHandle {
    pub(super) fn new(state: Arc<HostState>, runtime: Arc<Runtime>) -> HostHandle {
        HostHandle { state, runtime, beyond_limit: false }
    }

    /// A handle that may connect even when --limit left the host out (see `beyond_limit`).
    pub(super) fn beyond_limit(state: Arc<HostState>, runtime: Arc<Runtime>) -> HostHandle {
        HostHandle { state, runtime, beyond_limit: true }
    }

    /// Refuses a connection --limit does not allow, before anything is sent: `--limit mon1` must never
    /// reach db1 because top-level code asked for `host("db1")`.
    fn check_limit(&self) -> Result<(), HostError> {
        if self.beyond_limit || self.runtime.selected.contains(&self.state.name) {
            return Ok(());
        }
        Err(HostError::Failed(format!(
            "host {} is outside this run's hosts (--limit): not contacted. To drive it on purpose, as Ansible's \
             delegate_to, take it from inventory_group(\"...\")",
            self.state.name
        )))
    }

    pub fn name(&self) -> &str {
        &self.state.name
    }

    pub fn check_mode(&self) -> bool {
        self.runtime.options.check
    }

    pub fn vars_map(&self) -> Map {
        to_map(&self.state.vars)
    }

    /// `h.vars`: the inventory's vars, over Ansible's names for the host (`inventory_hostname`, `group_names`,
    /// and — read on first use, which gathers the facts once — `ansible_facts` and every `ansible_*` fact), so
    /// a ported task reads `h.vars.ansible_distribution` without calling `h.facts()` first. A value holding a
    /// template resolves when read, as in Ansible (see `template::lazy_vars`).
    pub fn vars_view(&self) -> VarsMap {
        let mut map = Map::new();
        for (key, value) in self.ansible_names(None) {
            map.insert(key.as_str().into(), rhai::serde::to_dynamic(&value).unwrap_or(Dynamic::UNIT));
        }
        map.extend(self.vars_map());
        let lazy = self.lazy_vars();
        let fallback: Fallback = Arc::new(move |key: &str| {
            if key != "ansible_facts" && !key.starts_with("ansible_") {
                return Ok(None);
            }
            Ok(lazy.get(key)?.map(|value| rhai::serde::to_dynamic(&value).unwrap_or(Dynamic::UNIT)))
        });
        VarsMap::new(format!("host {}", self.state.name), map).with_fallback(fallback).with_resolver(self.lazy_vars())
    }

    /// The host's variables as Ansible resolves them: built on first use, kept for the run. Its fact names gather
    /// the facts when first read; `hostvars[...]` reads other hosts' own resolved variables.
    pub fn lazy_vars(&self) -> Arc<LazyVars> {
        self.state
            .lazy_vars
            .get_or_init(|| {
                let base = self.ansible_names(None);
                let (state, runtime) = (Arc::downgrade(&self.state), Arc::downgrade(&self.runtime));
                let facts: FactSource = Arc::new(move |key: &str| {
                    if key != "ansible_facts" && !key.starts_with("ansible_") {
                        return Ok(None);
                    }
                    let (Some(state), Some(runtime)) = (state.upgrade(), runtime.upgrade()) else {
                        return Ok(None);
                    };
                    let host = HostHandle::new(state, runtime);
                    let facts = crate::primitives::gather_facts(&host)?;
                    let facts = rhai::serde::from_dynamic(&Dynamic::from(facts)).unwrap_or(serde_json::Value::Null);
                    Ok(host.ansible_names(Some(facts)).get(key).cloned())
                });
                let runtime = Arc::downgrade(&self.runtime);
                let hostvars: HostvarsSource = Arc::new(move |name: &str| {
                    let runtime = runtime.upgrade()?;
                    let state = runtime.host(name)?.clone();
                    let mut extra = serde_json::Map::new();
                    extra.insert("address".into(), state.address.clone().into());
                    Some((HostHandle::new(state, runtime).lazy_vars(), extra))
                });
                LazyVars::new(
                    format!("host {}", self.state.name),
                    self.state.vars.clone(),
                    base,
                    self.state.origins.clone(),
                    self.runtime.literal_values(),
                    Sources { shared: self.runtime.shared_names(), facts: Some(facts), hostvars: Some(hostvars) },
                )
            })
            .clone()
    }

    /// Ansible's variables for this host that cost nothing to know (no `hostvars`: h.vars is read often).
    fn ansible_names(&self, facts: Option<serde_json::Value>) -> serde_json::Map<String, serde_json::Value> {
        let view = crate::template::HostView {
            name: &self.state.name,
            groups: &self.runtime.groups,
            hostvars: serde_json::Map::new(),
            facts,
        };
        let mut names = crate::template::ansible_variables(&view);
        for heavy in ["hostvars", "groups", "omit", "ansible_managed"] {
            names.remove(heavy);
        }
        names
    }

    /// Runs `work` on the host's connection the way every remote command runs: shown with -vv, refused after
    /// Ctrl-C, and given up INTERRUPT_GRACE after it.
    fn remote<F>(
        &self,
        shown: &str,
        work: impl FnOnce(Arc<crate::transport::Connection>) -> F,
    ) -> Result<CommandOutput, HostError>
    where
        F: std::future::Future<Output = Result<CommandOutput, crate::transport::TransportError>>,
    {
        self.check_limit()?;
        if self.runtime.options.verbosity >= 2 {
            self.runtime.emit(Event::Print {
                host: Some(self.state.name.clone()),
                message: self.runtime.redactor.redact(&format!("$ {}", for_display(shown))),
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
                output = work(connection) => Ok(output?),
                () = self.runtime.interrupt_grace_over() => Err(HostError::Failed(format!(
                    "interrupted (Ctrl-C): the command was still running after the {}s grace period",
                    INTERRUPT_GRACE.as_secs()
                ))),
            }
        })
    }
}

impl RemoteHost for HostHandle {
    fn name(&self) -> &str {
        &self.state.name
    }

    fn address(&self) -> &str {
        &self.state.address
    }

    fn groups(&self) -> &[String] {
        &self.state.groups
    }

    fn vars(&self) -> &indexmap::IndexMap<String, serde_json::Value> {
        &self.state.vars
    }

    fn lazy_vars(&self) -> Option<Arc<LazyVars>> {
        Some(HostHandle::lazy_vars(self))
    }

    fn check_mode(&self) -> bool {
        self.runtime.options.check
    }

    fn diff_mode(&self) -> bool {
        self.runtime.options.diff
    }

    fn planned_changes(&self) -> bool {
        self.state.has_planned_changes()
    }

    fn redact(&self, text: &str) -> String {
        self.runtime.redactor.redact(text)
    }

    fn interrupted(&self) -> bool {
        self.runtime.is_interrupted()
    }

    fn exec(&self, command: &RemoteCommand) -> Result<CommandOutput, HostError> {
        self.remote(&command.script, |connection| async move { connection.exec(command).await })
    }

    fn exec_streaming(&self, script: &str, input: &[u8]) -> Result<CommandOutput, HostError> {
        let shown = format!("{script}\n  (stdin: {} bytes streamed)", input.len());
        self.remote(&shown, |connection| async move { connection.exec_streaming(script, input).await })
    }

    fn reconnect(&self) {
        self.runtime.block_on(self.state.disconnect());
    }

    /// The facts, gathered on first use: a template reads `ansible_distribution` without a prior `h.facts()`.
    /// (Gathering asks this first for the cache: the flag answers that question with `None`.)
    fn facts(&self) -> Option<Map> {
        if let Some(facts) = self.state.facts.lock().unwrap().clone() {
            return Some(facts);
        }
        if GATHERING.with(|gathering| gathering.replace(true)) {
            return None;
        }
        let gathered = crate::primitives::gather_facts(self).ok();
        GATHERING.with(|gathering| gathering.set(false));
        gathered
    }

    fn gathered_facts(&self) -> Option<Map> {
        self.state.facts.lock().unwrap().clone()
    }

    fn keep_facts(&self, facts: Map) {
        *self.state.facts.lock().unwrap() = Some(facts);
    }

    fn record(&self, step: StepReport) {
        if self.runtime.options.check && step.status == Status::Changed {
            self.state.plan_change();
        }
        if step_recorder::active() {
            step_recorder::push(step);
        } else {
            // A primitive called outside any task (at the top of a playbook) is a result of its own.
            let task = format!("{} {}", step.primitive, step.target);
            let (status, rc, message, duration) = (step.status, step.rc, step.message.clone(), step.duration);
            super::host_result::report_result(
                &self.runtime,
                &task,
                &self.state.name,
                status,
                rc,
                message,
                vec![step],
                duration,
            );
        }
    }

    fn local_file(&self, relative: &str) -> PathBuf {
        self.runtime.playbook_dir.join(relative)
    }

    fn inventory_groups(&self) -> indexmap::IndexMap<String, Vec<String>> {
        self.runtime.groups.clone()
    }

    fn inventory_hosts(&self) -> Vec<PeerHost> {
        self.runtime
            .hosts
            .values()
            .map(|other| PeerHost {
                name: other.name.clone(),
                address: other.address.clone(),
                vars: other.vars.clone(),
            })
            .collect()
    }

    fn host_in(&self, value: &Dynamic) -> Option<Arc<dyn RemoteHost>> {
        let host = value.clone().try_cast::<HostHandle>()?;
        Some(Arc::new(host))
    }
}

thread_local! {
    /// This thread is gathering a host's facts (see `RemoteHost::facts`).
    static GATHERING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
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
