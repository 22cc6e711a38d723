//! `runbook inventory`: show what an inventory means before running anything against it.

use super::InventoryArgs;

pub fn run(_args: InventoryArgs) -> i32 {
    eprintln!("runbook inventory: not built yet");
    super::exit_code::USAGE
}
