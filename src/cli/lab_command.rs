//! `runbook lab`: bring a local fleet of real hosts up and down.

use super::{LabCommand, exit_code};
use crate::lab;

pub fn run(command: LabCommand) -> i32 {
    let result = match command {
        LabCommand::Up(args) => lab::up(&lab::UpOptions {
            name: args.lab.name,
            inventory: args.inventory,
            hosts: args.hosts,
            subnet: args.subnet,
            light: args.light,
        })
        .map(|summary| print_summary(&summary)),
        LabCommand::Status(select) => lab::status(&select.name).map(|table| print!("{table}")),
        LabCommand::Ssh { lab: select, host, command } => Err(lab::ssh(&select.name, &host, &command)),
        LabCommand::Down { lab: select, purge, all } => {
            if all {
                lab::down_all(purge)
            } else {
                lab::down(&select.name, purge)
            }
        }
        LabCommand::Base { rebuild } => lab::base(rebuild).map(|path| println!("{}", path.display())),
        LabCommand::Supervise(select) => lab::supervise(&select.name),
    };
    match result {
        Ok(()) => exit_code::OK,
        Err(error) => {
            eprintln!("error: {error}");
            exit_code::USAGE
        }
    }
}

fn print_summary(summary: &lab::LabSummary) {
    let state = &summary.state;
    let verb = if summary.already_running { "is already up" } else { "is up" };
    println!(
        "Lab `{}` {verb}: {} host{} on {} ({}) in {:.1} s",
        state.name,
        state.hosts.len(),
        if state.hosts.len() == 1 { "" } else { "s" },
        state.subnet,
        state.bridge,
        summary.elapsed.as_secs_f64()
    );
    for host in &state.hosts {
        println!("  {:<20} {}", host.name, host.address);
    }
    println!("Inventory: {}", summary.inventory.display());
    println!("Try:       runbook run PLAYBOOK -i {}", summary.inventory.display());
    println!("           runbook lab ssh --name {} {}", state.name, state.hosts.first().map_or("HOST", |h| &h.name));
}
