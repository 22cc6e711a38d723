//! `runbook lint`: check playbooks without touching a host.

use super::LintArgs;

pub fn run(_args: LintArgs) -> i32 {
    eprintln!("runbook lint: not built yet");
    2
}
