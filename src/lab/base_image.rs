//! The base root filesystem every lab host boots from: Debian bookworm by debootstrap, built once and shared
//! read-only (each host writes only to its own overlay upper directory).

use std::fs::{self, File};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use sha2::{Digest, Sha256};

use super::lab_error::{LabError, LabResult};
use super::required_tools::{self, DEBOOTSTRAP};

/// What the shipped playbooks need offline: apt cannot reach a mirror from inside the lab.
pub const BASE_PACKAGES: &[&str] = &[
    "systemd",
    "systemd-sysv",
    "dbus",
    "libpam-systemd",
    "openssh-server",
    "iproute2",
    "procps",
    "kmod",
    "haproxy",
    "keepalived",
    "chrony",
    "curl",
    "python3",
    "sudo",
    "iptables",
    "ca-certificates",
    "iputils-ping",
    "netbase",
    "jq",
    "tzdata",
    "ipvsadm",
    "ipset",
    "conntrack",
    "sysstat",
    "libseccomp2",
    "tree",
    "lrzsz",
    "less",
];

pub const SUITE: &str = "bookworm";
pub const DEFAULT_MIRROR: &str = "http://deb.debian.org/debian";
pub const DEFAULT_BASE: &str = "/var/lib/runbook/lab/base";

/// Bump when [`post_process`] changes: the marker then no longer matches and the base is processed again.
const POST_PROCESS_REVISION: u32 = 1;

/// Services a playbook must enable itself: the base must not hand them over already running.
const DISABLED_SERVICES: &[&str] = &["haproxy.service", "keepalived.service", "chrony.service"];

/// Inside the base, records what it was built from.
const MARKER: &str = "etc/runbook-lab-base";

const SSHD_DROP_IN: &str = "\
# runbook lab: root logs in with the lab key only; each host has its own ed25519 host key.
HostKey /etc/ssh/ssh_host_ed25519_key
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UseDNS no
";

/// nspawn does not grant CAP_SYS_TIME, so Debian's unit would silently never start; `-x` keeps chronyd from
/// touching the clock (the hosts share the machine's) while it still serves and follows time.
const CHRONY_DROP_IN: &str = "\
# runbook lab: containers cannot set the clock.
[Unit]
ConditionCapability=

[Service]
ExecStart=
ExecStart=!/usr/sbin/chronyd $DAEMON_OPTS -x
";

/// Where the base lives: `RUNBOOK_LAB_BASE`, or the default cache.
pub fn base_path() -> PathBuf {
    std::env::var_os("RUNBOOK_LAB_BASE").map_or_else(|| PathBuf::from(DEFAULT_BASE), PathBuf::from)
}

fn mirror() -> String {
    std::env::var("RUNBOOK_LAB_MIRROR").unwrap_or_else(|_| DEFAULT_MIRROR.to_string())
}

fn packages_digest() -> String {
    hex::encode(Sha256::digest(BASE_PACKAGES.join(",").as_bytes()))
}

fn marker_text() -> String {
    format!("packages={}\npost-process={POST_PROCESS_REVISION}\n", packages_digest())
}

/// What state a base directory is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BaseState {
    Missing,
    /// Built from the same package list, but an older post-processing.
    Stale,
    /// Built from another package list.
    Outdated,
    Current,
}

pub fn state(base: &Path) -> BaseState {
    if !base.join("usr/lib/systemd/systemd").exists() && !base.join("lib/systemd/systemd").exists() {
        return BaseState::Missing;
    }
    match fs::read_to_string(base.join(MARKER)) {
        Ok(text) if text == marker_text() => BaseState::Current,
        Ok(text) if text.contains(&format!("packages={}\n", packages_digest())) => BaseState::Stale,
        _ if has_all_packages(base) => BaseState::Stale,
        _ => BaseState::Outdated,
    }
}

/// Makes sure a current base exists (building it if needed) and returns its path.
///
/// `rebuild` runs debootstrap again even when the base is current. `in_use` lists the running labs: a base they
/// boot from is never replaced under them.
pub fn ensure(rebuild: bool, in_use: &[String]) -> LabResult<PathBuf> {
    let base = base_path();
    // Two `up`s at once (parallel tests) must not both build into the same staging directory.
    let _lock = lock(&base)?;
    let current = state(&base);
    if current == BaseState::Current && !rebuild {
        return Ok(base);
    }
    if current != BaseState::Missing && !in_use.is_empty() {
        if rebuild {
            return Err(LabError::BaseInUse(in_use.join(", ")));
        }
        eprintln!(
            "warning: the base image {} is {current:?} but labs {} use it; keeping it until they are down",
            base.display(),
            in_use.join(", ")
        );
        return Ok(base);
    }
    if current == BaseState::Stale && !rebuild {
        eprintln!("Updating the base image {} (post-processing changed)", base.display());
        post_process(&base)?;
        return Ok(base);
    }
    let staging = sibling(&base, "tmp");
    if rebuild || !is_complete_debootstrap(&staging) {
        remove_tree(&staging)?;
        debootstrap(&staging)?;
    } else {
        eprintln!("Adopting the already debootstrapped {}", staging.display());
    }
    post_process(&staging)?;
    let old = sibling(&base, "old");
    remove_tree(&old)?;
    if base.exists() {
        fs::rename(&base, &old).map_err(|error| LabError::io(format!("moving {} aside", base.display()), error))?;
    }
    fs::rename(&staging, &base)
        .map_err(|error| LabError::io(format!("moving {} to {}", staging.display(), base.display()), error))?;
    remove_tree(&old)?;
    eprintln!("Base image ready: {}", base.display());
    Ok(base)
}

/// An exclusive lock beside the base, held until the returned file is dropped.
fn lock(base: &Path) -> LabResult<File> {
    let path = sibling(base, "lock");
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(|error| LabError::io(format!("creating {}", parent.display()), error))?;
    }
    let file = File::create(&path).map_err(|error| LabError::io(format!("creating {}", path.display()), error))?;
    // SAFETY: flock on a descriptor we own.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } != 0 {
        return Err(LabError::io(format!("locking {}", path.display()), std::io::Error::last_os_error()));
    }
    Ok(file)
}

fn sibling(base: &Path, suffix: &str) -> PathBuf {
    let mut name = base.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{suffix}"));
    base.with_file_name(name)
}

fn remove_tree(path: &Path) -> LabResult<()> {
    match fs::remove_dir_all(path) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(LabError::io(format!("removing {}", path.display()), error)),
    }
}

/// debootstrap deletes its `debootstrap/` work directory only when it succeeds.
fn is_complete_debootstrap(dir: &Path) -> bool {
    dir.join("etc/os-release").exists() && !dir.join("debootstrap").exists() && has_all_packages(dir)
}

fn has_all_packages(dir: &Path) -> bool {
    let Ok(status) = fs::read_to_string(dir.join("var/lib/dpkg/status")) else {
        return false;
    };
    let installed: std::collections::HashSet<&str> = status
        .split("\n\n")
        .filter(|stanza| stanza.contains("\nStatus: install ok installed"))
        .filter_map(|stanza| stanza.lines().find_map(|line| line.strip_prefix("Package: ")))
        .collect();
    BASE_PACKAGES.iter().all(|package| installed.contains(package))
}

fn debootstrap(target: &Path) -> LabResult<()> {
    let program = required_tools::find(&DEBOOTSTRAP)?;
    let mirror = mirror();
    let parent = target.parent().unwrap_or(Path::new("/"));
    fs::create_dir_all(parent).map_err(|error| LabError::io(format!("creating {}", parent.display()), error))?;
    let log = parent.join("debootstrap.log");
    let log_file =
        fs::File::create(&log).map_err(|error| LabError::io(format!("creating {}", log.display()), error))?;
    let log_err = log_file.try_clone().map_err(|error| LabError::io("duplicating the log", error))?;
    eprintln!("Building the base image with debootstrap from {mirror} (a few minutes; log: {})", log.display());
    let status = Command::new(program)
        .arg("--variant=minbase")
        .arg(format!("--include={}", BASE_PACKAGES.join(",")))
        .arg(SUITE)
        .arg(target)
        .arg(&mirror)
        .stdin(Stdio::null())
        .stdout(log_file)
        .stderr(log_err)
        .status()
        .map_err(|error| LabError::io("running debootstrap", error))?;
    if status.success() {
        Ok(())
    } else {
        let status = status.code().map_or_else(|| "by a signal".to_string(), |code| code.to_string());
        Err(LabError::Debootstrap { mirror, status, log })
    }
}

/// Turns a fresh debootstrap into a lab base. Idempotent: it runs again when [`POST_PROCESS_REVISION`] changes.
fn post_process(root: &Path) -> LabResult<()> {
    let io = |what: &str, error| LabError::io(format!("{what} in {}", root.display()), error);
    if let Ok(entries) = fs::read_dir(root.join("var/cache/apt/archives")) {
        for entry in entries.flatten() {
            if entry.path().extension().is_some_and(|ext| ext == "deb") {
                fs::remove_file(entry.path()).map_err(|error| io("removing cached packages", error))?;
            }
        }
    }
    let root_text = root.to_string_lossy().into_owned();
    let systemctl = |verb: &str, units: &[&str]| -> LabResult<()> {
        let output = Command::new("systemctl")
            .arg(format!("--root={root_text}"))
            .arg(verb)
            .args(units)
            .output()
            .map_err(|error| LabError::io("running systemctl --root", error))?;
        if output.status.success() {
            Ok(())
        } else {
            Err(LabError::Command {
                command: format!("systemctl --root={root_text} {verb} {}", units.join(" ")),
                message: String::from_utf8_lossy(&output.stderr).trim().to_string(),
            })
        }
    };
    systemctl("disable", DISABLED_SERVICES)?;
    systemctl("enable", &["systemd-networkd.service"])?;
    // Nothing in the lab can reach a mirror; these would only fail or wait.
    systemctl("disable", &["apt-daily.timer", "apt-daily-upgrade.timer"])?;

    if let Ok(entries) = fs::read_dir(root.join("etc/ssh")) {
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().starts_with("ssh_host_") {
                fs::remove_file(entry.path()).map_err(|error| io("removing ssh host keys", error))?;
            }
        }
    }
    // An empty machine-id: each host gets its own in its upper directory.
    fs::write(root.join("etc/machine-id"), "").map_err(|error| io("clearing machine-id", error))?;
    let dbus_id = root.join("var/lib/dbus/machine-id");
    let _ = fs::remove_file(&dbus_id);
    if dbus_id.parent().is_some_and(Path::exists) {
        std::os::unix::fs::symlink("/etc/machine-id", &dbus_id)
            .map_err(|error| io("linking dbus machine-id", error))?;
    }
    write(root, "etc/ssh/sshd_config.d/runbook-lab.conf", SSHD_DROP_IN)?;
    write(root, "etc/systemd/system/chrony.service.d/runbook-lab.conf", CHRONY_DROP_IN)?;
    write(root, MARKER, &marker_text())
}

fn write(root: &Path, relative: &str, text: &str) -> LabResult<()> {
    let path = root.join(relative);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(|error| LabError::io(format!("creating {}", parent.display()), error))?;
    }
    fs::write(&path, text).map_err(|error| LabError::io(format!("writing {}", path.display()), error))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sibling_paths() {
        assert_eq!(sibling(Path::new("/var/lib/runbook/lab/base"), "tmp"), Path::new("/var/lib/runbook/lab/base.tmp"));
    }

    #[test]
    fn an_empty_directory_is_missing() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(state(dir.path()), BaseState::Missing);
        assert!(!is_complete_debootstrap(dir.path()));
    }
}
