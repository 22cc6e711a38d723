//! One cgroup per lab host, made by the lab itself because this kind of machine may have no systemd as PID 1 to
//! make them: without it every host shares one cgroup and `systemctl status` inside fails to list processes.
//! The memory hierarchy's group is also where `lab status` reads a host's memory.

use std::ffi::CString;
use std::fs;
use std::path::{Path, PathBuf};

use walkdir::WalkDir;

use super::lab_error::{LabError, LabResult};

const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// The hierarchies a host's nspawn joins: the unified one alone on a pure cgroup2 machine; on a hybrid or
/// legacy one, systemd's named hierarchy, the cgroup2 mount and the memory controller.
pub fn hierarchies() -> Vec<PathBuf> {
    let root = Path::new(CGROUP_ROOT);
    if root.join("cgroup.controllers").exists() {
        return vec![root.to_path_buf()];
    }
    ["systemd", "unified", "memory"]
        .iter()
        .map(|name| root.join(name))
        .filter(|path| path.join("cgroup.procs").exists())
        .collect()
}

fn lab_relative(lab: &str) -> PathBuf {
    Path::new("runbook").join(lab)
}

/// Creates the host's cgroup in every hierarchy; returns the `cgroup.procs` files a process writes itself into.
pub fn create(lab: &str, host: &str) -> LabResult<Vec<CString>> {
    let mut procs = Vec::new();
    for hierarchy in hierarchies() {
        let dir = hierarchy.join(lab_relative(lab)).join(host);
        fs::create_dir_all(&dir).map_err(|error| LabError::io(format!("creating cgroup {}", dir.display()), error))?;
        let file = dir.join("cgroup.procs");
        procs.push(CString::new(file.to_string_lossy().into_owned()).expect("no NUL in a cgroup path"));
    }
    Ok(procs)
}

/// Moves the calling process into the given cgroups. Meant for between fork and exec: no allocation.
pub fn join_self(procs: &[CString]) -> std::io::Result<()> {
    for file in procs {
        // SAFETY: `file` is a valid NUL-terminated path; the buffer is a static byte string.
        unsafe {
            let fd = libc::open(file.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
            if fd < 0 {
                return Err(std::io::Error::last_os_error());
            }
            let written = libc::write(fd, b"0".as_ptr().cast(), 1);
            libc::close(fd);
            if written != 1 {
                return Err(std::io::Error::last_os_error());
            }
        }
    }
    Ok(())
}

/// Every process still in any of the lab's cgroups.
pub fn lab_pids(lab: &str) -> Vec<i32> {
    let mut pids = Vec::new();
    for hierarchy in hierarchies() {
        let dir = hierarchy.join(lab_relative(lab));
        for entry in WalkDir::new(&dir).into_iter().flatten() {
            if entry.file_name() == "cgroup.procs"
                && let Ok(text) = fs::read_to_string(entry.path())
            {
                pids.extend(text.lines().filter_map(|line| line.trim().parse::<i32>().ok()));
            }
        }
    }
    pids.sort_unstable();
    pids.dedup();
    pids
}

/// The lab's cgroup directories that still exist.
pub fn lab_dirs(lab: &str) -> Vec<PathBuf> {
    hierarchies().into_iter().map(|hierarchy| hierarchy.join(lab_relative(lab))).filter(|dir| dir.exists()).collect()
}

/// Removes the lab's cgroups, deepest first (a cgroup goes only once it has no children and no processes).
pub fn remove_lab(lab: &str) -> LabResult<()> {
    for dir in lab_dirs(lab) {
        for entry in WalkDir::new(&dir).contents_first(true).into_iter().flatten() {
            if entry.file_type().is_dir() {
                remove_when_empty(entry.path())
                    .map_err(|error| LabError::io(format!("removing cgroup {}", entry.path().display()), error))?;
            }
        }
        // The shared `runbook` parent goes when the last lab does; another lab may still use it.
        if let Some(parent) = dir.parent() {
            let _ = fs::remove_dir(parent);
        }
    }
    Ok(())
}

/// A cgroup whose last processes were just killed stays busy for a moment while the kernel finishes their exit
/// (a light host's whole PID namespace dies at once): retried for a few seconds.
fn remove_when_empty(path: &Path) -> std::io::Result<()> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        match fs::remove_dir(path) {
            Err(error) if error.raw_os_error() == Some(libc::EBUSY) && std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            result => return result,
        }
    }
}

/// Memory the host uses, without page cache it could drop: what `docker stats` shows. None when unknown.
pub fn memory(lab: &str, host: &str) -> Option<u64> {
    let relative = lab_relative(lab).join(host);
    let unified = Path::new(CGROUP_ROOT).join(&relative);
    if let Ok(current) = fs::read_to_string(unified.join("memory.current")) {
        let current: u64 = current.trim().parse().ok()?;
        return Some(current.saturating_sub(stat(&unified, "inactive_file").unwrap_or(0)));
    }
    let legacy = Path::new(CGROUP_ROOT).join("memory").join(&relative);
    let usage: u64 = fs::read_to_string(legacy.join("memory.usage_in_bytes")).ok()?.trim().parse().ok()?;
    Some(usage.saturating_sub(stat(&legacy, "total_inactive_file").unwrap_or(0)))
}

fn stat(dir: &Path, key: &str) -> Option<u64> {
    let text = fs::read_to_string(dir.join("memory.stat")).ok()?;
    text.lines().find_map(|line| line.strip_prefix(key)?.strip_prefix(' ')?.trim().parse().ok())
}
