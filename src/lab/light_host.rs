//! A light lab host (`lab up --light`): a real OpenSSH server in its own network, mount, UTS and PID namespaces,
//! chrooted into its own overlay of the lab base image, with no systemd and no container manager.
//!
//! A systemd-nspawn host costs ~25 MiB and seconds of CPU to boot, so a lab of 1000 hosts does not fit a small
//! machine; sshd alone costs a few MiB and boots in milliseconds. What a light host lacks is everything systemd
//! gives (services, journald, `systemctl`, reboot): it is for measuring and testing at scale, not for roles.
//!
//! Every namespace belongs to one `unshare` process per host, which the supervisor owns: killing it kills the
//! host's PID namespace (its sshd and every session), which frees its network namespace (and the veth with it)
//! and its mount namespace (the overlay, /proc and /dev/pts). Nothing the host mounts is visible on the machine.

use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::lab_error::LabResult;
use super::lab_state::LabDir;
use super::lab_subnet::LabSubnet;
use super::required_tools::{self, UNSHARE};

/// Runs as PID 1 of the host's fresh namespaces, before the chroot, with the machine's tools: mounts the host's
/// root, waits until the supervisor has plugged its veth in (a line on stdin), configures the network and
/// becomes sshd. Everything host-specific comes in as positional parameters, never pasted into the script.
const SCRIPT: &str = r#"set -e
base=$1 upper=$2 work=$3 root=$4 name=$5 cidr=$6 mac=$7 gateway=$8 gateway_mac=$9
mount -t overlay overlay -o "lowerdir=$base,upperdir=$upper,workdir=$work" "$root"
mount -t proc proc "$root/proc"
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts "$root/dev/pts"
echo "$name" > /proc/sys/kernel/hostname
read -r _ignored
{
    printf 'link set lo up\naddr add %s dev eth0\nlink set eth0 up\n' "$cidr"
    [ -z "$gateway_mac" ] || printf 'neigh replace %s lladdr %s dev eth0 nud permanent\n' "$gateway" "$gateway_mac"
} | ip -batch -
exec chroot "$root" /usr/sbin/sshd -D -e < /dev/null
"#;

/// Where a light host keeps its overlay's work directory and its root's mount point.
pub fn work_dir(dir: &LabDir, host: &str) -> PathBuf {
    dir.host_dir(host).join("work")
}

pub fn root_dir(dir: &LabDir, host: &str) -> PathBuf {
    dir.host_dir(host).join("root")
}

/// The command that starts one light host; it waits for a line on its stdin once its veth exists.
///
/// Neighbours are permanent both ways (the bridge's entry for each host in [`veth_batch`], each host's for the
/// bridge here, when the bridge's MAC is fixed): otherwise every first packet is an ARP broadcast that the
/// bridge copies to all its ports in the sender's CPU time — 1000 copies per host on a 1000-host lab, the
/// quadratic cost a profile of the controller showed (16 % of its CPU). A switch does that in hardware.
pub fn command(
    base: &Path,
    dir: &LabDir,
    host: &str,
    address: Ipv4Addr,
    subnet: &LabSubnet,
    bridge_mac: Option<&str>,
) -> LabResult<Command> {
    let unshare = required_tools::find(&UNSHARE)?;
    for path in [work_dir(dir, host), root_dir(dir, host)] {
        std::fs::create_dir_all(&path)
            .map_err(|error| super::lab_error::LabError::io(format!("creating {}", path.display()), error))?;
    }
    let mut command = Command::new(unshare);
    command
        .args(["--net", "--mount", "--uts", "--pid", "--fork", "--kill-child", "--", "/bin/sh", "-c", SCRIPT, "sh"])
        .arg(base)
        .arg(dir.upper(host))
        .arg(work_dir(dir, host))
        .arg(root_dir(dir, host))
        .arg(host)
        .arg(subnet.with_prefix(address))
        .arg(LabSubnet::mac_of(address))
        .arg(subnet.gateway().to_string())
        .arg(bridge_mac.unwrap_or(""));
    Ok(command)
}

/// The machine-side name of a light host's veth: unique per lab and host within Linux's 15 characters.
pub fn veth_name(lab: &str, index: usize) -> String {
    // FNV-1a: a stable short tag for the lab name, so two labs' veths never clash.
    let tag = lab.bytes().fold(0x811c_9dc5u32, |hash, byte| (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193));
    format!("rbv{:04x}{index:x}", tag & 0xffff)
}

/// `ip -batch` lines that give each started host (veth name, pid of its `unshare`, address) a veth on `bridge`,
/// its end already inside the host's network namespace as eth0 with the address's MAC, and the bridge a
/// permanent neighbour entry for it (see [`command`]).
pub fn veth_batch(bridge: &str, hosts: &[(String, u32, Ipv4Addr)]) -> String {
    let mut batch = String::new();
    for (veth, pid, address) in hosts {
        let mac = LabSubnet::mac_of(*address);
        let _ = writeln!(batch, "link add {veth} type veth peer name eth0 address {mac} netns {pid}");
        let _ = writeln!(batch, "link set {veth} master {bridge} up");
        let _ = writeln!(batch, "neigh replace {address} lladdr {mac} dev {bridge} nud permanent");
    }
    batch
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn veth_names_fit_linux_and_differ_per_lab_and_host() {
        let name = veth_name("t-llab", 1020);
        assert!(name.len() <= 15, "{name}");
        assert_ne!(veth_name("t-llab", 1), veth_name("t-llab", 2));
        assert_ne!(veth_name("t-llab", 1), veth_name("b-llab", 1));
        assert!(veth_name("0123456789", 0xfffff).len() <= 15);
    }

    #[test]
    fn batch_plugs_each_host_into_the_bridge() {
        let batch = veth_batch("rb-x", &[("rbv0001".into(), 42, Ipv4Addr::new(10, 250, 80, 11))]);
        assert_eq!(
            batch,
            "link add rbv0001 type veth peer name eth0 address 02:6c:0a:fa:50:0b netns 42\n\
             link set rbv0001 master rb-x up\n\
             neigh replace 10.250.80.11 lladdr 02:6c:0a:fa:50:0b dev rb-x nud permanent\n"
        );
    }
}
