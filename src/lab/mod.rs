//! The lab: a local fleet of real Linux hosts to try and test playbooks on, without VMs or docker.
//!
//! Ansible users reach for Molecule, which needs docker; runbook's own integration tests and CI need real hosts
//! too. A lab host is a systemd-nspawn container booting a shared Debian base through its own overlay, so it
//! has real systemd as PID 1, a real OpenSSH server and one address on a private bridge with no way out.
//! `lab up` writes an inventory pointing at those hosts, with a key and known_hosts, so a playbook runs against
//! the lab exactly as against the real fleet.
//!
//! Layout: `base_image` (the cached root filesystem), `bridge` and `cgroup` (what the lab puts on the machine),
//! `host` (one host's identity and nspawn command), `supervisor` (keeps hosts running, restarts on reboot),
//! `lab_inventory` (which hosts, which addresses, the lab inventory), `lifecycle` (up and down),
//! `status` (status and ssh), `lab_state` (what is on disk). `light_host` is the other kind of host (`--light`):
//! sshd alone in its own namespaces, for labs of hundreds or thousands of hosts; `neighbour_limits` raises the
//! machine's ARP table limits for such labs.

mod base_image;
mod bridge;
mod cgroup;
mod lab_error;
mod lab_inventory;
mod lab_name;
mod lab_state;
mod lab_subnet;
mod lifecycle;
mod light_host;
mod neighbour_limits;
mod nspawn_machine;
mod readiness;
mod required_tools;
mod status;
mod supervisor;

pub use base_image::{BASE_PACKAGES, base_path};
pub use lab_error::{LabError, LabResult};
pub use lab_inventory::{AddressMap, SourceHost, SourceInventory};
pub use lab_name::LabName;
pub use lab_state::{LABS_ROOT, LabMachine, LabState};
pub use lab_subnet::LabSubnet;
pub use lifecycle::{LabSummary, UpOptions, down, down_all, up};
pub use status::{ssh, status};

/// `lab base [--rebuild]`: builds the cached base image if missing, stale, or asked to.
pub fn base(rebuild: bool) -> LabResult<std::path::PathBuf> {
    required_tools::require_root("base")?;
    if !base_image::state(&base_path()).eq(&base_image::BaseState::Current) || rebuild {
        required_tools::require_tools(&[required_tools::DEBOOTSTRAP])?;
    }
    base_image::ensure(rebuild, &lifecycle::running_labs(None))
}

/// `lab supervise`: the detached process `lab up` starts.
pub fn supervise(name: &str) -> LabResult<()> {
    required_tools::require_root("supervise")?;
    supervisor::supervise(&LabName::parse(name)?)
}
