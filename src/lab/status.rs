//! `lab status` and `lab ssh`: read-only views of a running lab, from its state on disk.

use std::os::unix::process::CommandExt;
use std::process::Command;

use comfy_table::{Table, presets::NOTHING};

use super::cgroup;
use super::lab_error::{LabError, LabResult};
use super::lab_name::LabName;
use super::lab_state::{LabDir, LabState, process_matches, read_pid};
use super::readiness::ssh_options;
use super::required_tools::{self, SSH};

fn load(name: &str) -> LabResult<(LabName, LabDir, LabState)> {
    let name = LabName::parse(name)?;
    let dir = LabDir::new(&name);
    let state = dir.load()?.ok_or_else(|| LabError::NoSuchLab(name.to_string()))?;
    Ok((name, dir, state))
}

/// Whether the host's nspawn (or a light host's `unshare`) runs (it may be between a reboot's exit and its new
/// start for a moment). Both name the host's upper directory on their command line.
pub fn host_running(dir: &LabDir, host: &str) -> bool {
    let upper = dir.upper(host).display().to_string();
    read_pid(&dir.host_pid_file(host)).is_some_and(|pid| process_matches(pid, &upper))
}

/// The `lab status` table.
pub fn status(name: &str) -> LabResult<String> {
    let (name, dir, state) = load(name)?;
    let supervisor = read_pid(&dir.supervisor_pid_file()).is_some_and(|pid| process_matches(pid, "supervise"));
    let mut table = Table::new();
    table.load_preset(NOTHING).set_header(["HOST", "ADDRESS", "STATE", "MEMORY"]);
    let mut total = 0u64;
    for host in &state.hosts {
        let running = host_running(&dir, &host.name);
        let memory = running.then(|| cgroup::memory(name.as_str(), &host.name)).flatten();
        total += memory.unwrap_or(0);
        table.add_row([
            host.name.clone(),
            host.address.to_string(),
            if running { "running" } else { "stopped" }.to_string(),
            match (running, memory) {
                (false, _) => "-".to_string(),
                (true, Some(bytes)) => format!("{:.1} MiB", bytes as f64 / 1_048_576.0),
                (true, None) => "unknown (no memory cgroup)".to_string(),
            },
        ]);
    }
    Ok(format!(
        "Lab `{name}`: {} hosts on {} ({}), supervisor {}\nInventory: {}\n{table}\nTotal memory: {:.1} MiB\n",
        state.hosts.len(),
        state.subnet,
        state.bridge,
        if supervisor { "running" } else { "not running (run `runbook lab up` to start the hosts)" },
        state.user_dir.join("inventory.yaml").display(),
        total as f64 / 1_048_576.0,
    ))
}

/// Replaces this process with `ssh` to the host; returns only when that fails.
pub fn ssh(name: &str, host: &str, command: &[String]) -> LabError {
    let (name, _dir, state) = match load(name) {
        Ok(loaded) => loaded,
        Err(error) => return error,
    };
    let Some(target) = state.hosts.iter().find(|candidate| candidate.name == host) else {
        let known = state.hosts.iter().map(|host| host.name.as_str()).collect::<Vec<_>>().join(", ");
        return LabError::NoSuchHost { lab: name.to_string(), host: host.to_string(), known };
    };
    let program = match required_tools::find(&SSH) {
        Ok(program) => program,
        Err(error) => return error,
    };
    let mut ssh = Command::new(program);
    ssh.args(ssh_options(&state.user_dir.join("id_ed25519"), &state.user_dir.join("known_hosts")));
    ssh.arg(format!("root@{}", target.address));
    if !command.is_empty() {
        ssh.arg("--").args(command);
    }
    LabError::io("running ssh", ssh.exec())
}
