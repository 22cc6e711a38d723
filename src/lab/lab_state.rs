//! What a lab is, written to disk before anything boots, so `down`, `status`, `ssh` and the supervisor all
//! work from the same facts, even after a crash of whatever started it.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::lab_error::{LabError, LabResult};
use super::lab_name::LabName;

/// Where every lab keeps its machine state.
pub const LABS_ROOT: &str = "/var/lib/runbook/labs";

pub const NEIGHBOUR_MARKER: &str = "neighbour-limits-raised";

/// One host of a lab.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LabMachine {
    /// The inventory name, also the hostname inside.
    pub name: String,
    /// systemd-nspawn's machine name: unique across labs.
    pub machine: String,
    pub address: Ipv4Addr,
}

/// A lab, as `up` decided it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LabState {
    pub name: String,
    pub subnet: String,
    pub bridge: String,
    pub base: PathBuf,
    /// `.runbook/<name>` where `up` ran: inventory, key, known_hosts.
    pub user_dir: PathBuf,
    pub hosts: Vec<LabMachine>,
    /// Light hosts (sshd in namespaces, see `light_host`) rather than systemd-nspawn containers.
    #[serde(default)]
    pub light: bool,
}

/// The files of one lab under [`LABS_ROOT`].
#[derive(Debug, Clone)]
pub struct LabDir {
    pub root: PathBuf,
}

impl LabDir {
    pub fn new(name: &LabName) -> Self {
        LabDir { root: Path::new(LABS_ROOT).join(name.as_str()) }
    }

    pub fn state_file(&self) -> PathBuf {
        self.root.join("state.json")
    }

    pub fn supervisor_pid_file(&self) -> PathBuf {
        self.root.join("supervisor.pid")
    }

    pub fn supervisor_log(&self) -> PathBuf {
        self.root.join("supervisor.log")
    }

    pub fn host_dir(&self, host: &str) -> PathBuf {
        self.root.join("hosts").join(host)
    }

    /// The host's overlay upper directory: everything it changed relative to the base.
    pub fn upper(&self, host: &str) -> PathBuf {
        self.host_dir(host).join("upper")
    }

    /// Present while this lab needs the raised neighbour table limits (see `neighbour_limits`).
    pub fn neighbour_marker(&self) -> PathBuf {
        self.root.join(NEIGHBOUR_MARKER)
    }

    pub fn host_pid_file(&self, host: &str) -> PathBuf {
        self.host_dir(host).join("nspawn.pid")
    }

    pub fn host_log(&self, host: &str) -> PathBuf {
        self.host_dir(host).join("console.log")
    }

    pub fn load(&self) -> LabResult<Option<LabState>> {
        let path = self.state_file();
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(LabError::io(format!("reading {}", path.display()), error)),
        };
        serde_json::from_str(&text).map(Some).map_err(|error| LabError::Command {
            command: format!("reading {}", path.display()),
            message: error.to_string(),
        })
    }

    pub fn save(&self, state: &LabState) -> LabResult<()> {
        let path = self.state_file();
        let text = serde_json::to_string_pretty(state).expect("state serialises");
        write_atomic(&path, text.as_bytes())
    }
}

/// Writes through a temporary file and a rename, so a crash never leaves half a file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> LabResult<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|error| LabError::io(format!("creating {}", parent.display()), error))?;
    }
    let temporary = path.with_extension("tmp");
    std::fs::write(&temporary, bytes)
        .and_then(|()| std::fs::rename(&temporary, path))
        .map_err(|error| LabError::io(format!("writing {}", path.display()), error))
}

/// Reads a pid file; a missing or garbled one is no process.
pub fn read_pid(path: &Path) -> Option<i32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Whether `pid` is alive and its command line contains `needle` (guards against a recycled pid).
pub fn process_matches(pid: i32, needle: &str) -> bool {
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
    // A zombie has an empty command line: it is as good as gone.
    !cmdline.is_empty() && cmdline.contains(needle)
}
