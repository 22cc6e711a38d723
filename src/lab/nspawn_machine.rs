//! One lab host: its identity written into its overlay upper directory before it boots, and the
//! systemd-nspawn command that boots it.

use std::fs;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::Path;
use std::process::Command;

use rand::RngCore;

use super::lab_error::{LabError, LabResult};
use super::lab_state::LabMachine;
use super::lab_subnet::LabSubnet;
use super::required_tools::{self, NSPAWN, SSH_KEYGEN};

/// nspawn's exit code when the host ran `systemctl reboot`: start it again.
pub const REBOOT_EXIT_CODE: i32 = 133;

fn io(path: &Path, error: std::io::Error) -> LabError {
    LabError::io(format!("writing {}", path.display()), error)
}

fn make_dir(path: &Path, mode: u32) -> LabResult<()> {
    fs::DirBuilder::new().recursive(true).mode(mode).create(path).map_err(|error| io(path, error))?;
    // An existing directory keeps its mode otherwise; in the upper layer it overrides the base's.
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).map_err(|error| io(path, error))
}

fn write(path: &Path, text: &str, mode: u32) -> LabResult<()> {
    fs::write(path, text).map_err(|error| io(path, error))?;
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).map_err(|error| io(path, error))
}

/// Writes the host's hostname, machine-id, SSH host key, network, /etc/hosts and authorized key into `upper`.
/// A host that booted before keeps its machine-id and host key. Returns the host's public host key line.
pub fn prepare(upper: &Path, host: &LabMachine, subnet: &LabSubnet, lab_public_key: &str) -> LabResult<String> {
    make_dir(upper, 0o755)?;
    for dir in ["etc", "etc/ssh", "etc/systemd", "etc/systemd/network"] {
        make_dir(&upper.join(dir), 0o755)?;
    }
    make_dir(&upper.join("root"), 0o700)?;
    // sshd's privilege separation directory: systemd makes it on a booted host, a light host has no systemd.
    make_dir(&upper.join("run/sshd"), 0o755)?;
    make_dir(&upper.join("root/.ssh"), 0o700)?;

    let machine_id = upper.join("etc/machine-id");
    let known_id = fs::read_to_string(&machine_id).unwrap_or_default();
    if known_id.trim().len() != 32 {
        let mut bytes = [0u8; 16];
        rand::rng().fill_bytes(&mut bytes);
        write(&machine_id, &format!("{}\n", hex::encode(bytes)), 0o444)?;
    }
    write(&upper.join("etc/hostname"), &format!("{}\n", host.name), 0o644)?;

    let host_key = upper.join("etc/ssh/ssh_host_ed25519_key");
    if !host_key.exists() {
        let path = host_key.to_string_lossy();
        let comment = format!("root@{}", host.name);
        required_tools::run(&SSH_KEYGEN, &["-q", "-t", "ed25519", "-N", "", "-C", &comment, "-f", &path])?;
    }
    let public = host_key.with_extension("pub");
    let public =
        fs::read_to_string(&public).map_err(|error| LabError::io(format!("reading {}", public.display()), error))?;

    let network = format!(
        "# runbook lab: a static address on the lab bridge and, by design, no gateway.\n\
         [Match]\nName=host0\n\n[Network]\nAddress={}\nLinkLocalAddressing=no\nIPv6AcceptRA=no\n",
        subnet.with_prefix(host.address)
    );
    write(&upper.join("etc/systemd/network/10-runbook-lab.network"), &network, 0o644)?;
    let hosts =
        format!("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n{}\t{}\n", host.address, host.name);
    write(&upper.join("etc/hosts"), &hosts, 0o644)?;
    write(&upper.join("root/.ssh/authorized_keys"), lab_public_key, 0o600)?;
    Ok(public.trim().to_string())
}

/// The command that boots `host` from `base` with `upper` as its writable layer, on `bridge`.
pub fn nspawn_command(base: &Path, upper: &Path, host: &LabMachine, bridge: &str) -> LabResult<Command> {
    let program = required_tools::find(&NSPAWN)?;
    let mut command = Command::new(program);
    command
        .arg("--quiet")
        .arg("--boot")
        .arg(format!("--directory={}", base.display()))
        .arg(format!("--overlay={}:{}:/", base.display(), upper.display()))
        .arg(format!("--machine={}", host.machine))
        .arg(format!("--network-bridge={bridge}"))
        // No systemd on the machine to register with; the supervisor put us in our own cgroup already.
        .arg("--register=no")
        .arg("--keep-unit")
        .arg("--link-journal=no")
        .arg("--console=read-only")
        // Every host boots the same base directory at once: it is never written, so no lock is needed.
        .env("SYSTEMD_NSPAWN_LOCK", "0");
    Ok(command)
}
