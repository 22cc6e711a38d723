//! `runbook lab`: bring a local fleet of real hosts up and down.

use super::LabCommand;

pub fn run(_command: LabCommand) -> i32 {
    eprintln!("runbook lab: not built yet");
    super::exit_code::USAGE
}
