//! `runbook run`: load the inventory, build the engine, run the playbook, print the recap.

use super::RunArgs;

pub fn run(_args: RunArgs) -> i32 {
    eprintln!("runbook run: not built yet");
    super::exit_code::USAGE
}
