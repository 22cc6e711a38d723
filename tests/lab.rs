//! The lab for real: hosts boot, answer over SSH as themselves, keep their state across a reboot, and leave
//! nothing behind. These need root (bridges, cgroups, nspawn): without it they fail, unless the run says
//! `RUNBOOK_TESTS_WITHOUT_LAB=1` (the one lab policy of every test file: `require_lab!`).

use crate::support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::Value;

use support::{RUNBOOK, Test, is_root};

/// `runbook ARGS` in `cwd` (the lab's user files go under `cwd/.runbook/`).
fn runbook(cwd: &Path, args: &[&str]) -> Test {
    Test::new().in_dir(cwd).args(args)
}

fn check(output: &Output, what: &str) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{what} failed ({}):\nstdout:\n{stdout}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// A lab that goes down (purged) however the test ends.
struct Lab {
    name: &'static str,
    cwd: PathBuf,
}

impl Lab {
    fn user_dir(&self) -> PathBuf {
        self.cwd.join(".runbook").join(self.name)
    }

    /// The system ssh client with the lab key and strict host-key checking: independent of runbook's transport.
    fn ssh(&self, address: &str, command: &str) -> Output {
        let dir = self.user_dir();
        Command::new("ssh")
            .args(["-F", "/dev/null", "-i"])
            .arg(dir.join("id_ed25519"))
            .arg("-o")
            .arg(format!("UserKnownHostsFile={}", dir.join("known_hosts").display()))
            .args(["-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-o", "ConnectTimeout=5"])
            .args(["-o", "IdentitiesOnly=yes", "-o", "GlobalKnownHostsFile=/dev/null"])
            .arg(format!("root@{address}"))
            .arg(command)
            .output()
            .expect("ssh runs")
    }

    /// `lab down --purge`, which must succeed: the step a test checks.
    fn down(&self) {
        runbook(&self.cwd, &["lab", "down", "--purge", "--name", self.name]).run();
    }

    /// `lab down --purge` whatever state the lab is in, asserting nothing: before a test and from `Drop`.
    fn down_quietly(&self) {
        // The lab's own teardown: it runs where a panic must not (Drop) and on labs that may not exist.
        let _ =
            Command::new(RUNBOOK).args(["lab", "down", "--purge", "--name", self.name]).current_dir(&self.cwd).output();
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.down_quietly();
    }
}

fn bridge_ports(bridge: &str) -> Vec<String> {
    let output = Command::new("ip").args(["-j", "link", "show", "master", bridge]).output().expect("ip runs");
    let links: Value = serde_json::from_slice(&output.stdout).unwrap_or(Value::Array(Vec::new()));
    links.as_array().into_iter().flatten().filter_map(|link| link["ifname"].as_str().map(str::to_string)).collect()
}

fn link_exists(name: &str) -> bool {
    Command::new("ip").args(["link", "show", "dev", name]).output().is_ok_and(|output| output.status.success())
}

fn nspawn_processes_of(lab: &str) -> Vec<String> {
    let needle = format!("/var/lib/runbook/labs/{lab}/");
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|entry| std::fs::read(entry.path().join("cmdline")).ok())
        .map(|cmdline| String::from_utf8_lossy(&cmdline).replace('\0', " "))
        .filter(|cmdline| cmdline.contains("systemd-nspawn") && cmdline.contains(&needle))
        .collect()
}

fn assert_gone(lab: &Lab, ports: &[String]) {
    let name = lab.name;
    assert_eq!(nspawn_processes_of(name), Vec::<String>::new(), "nspawn processes left");
    assert!(!link_exists(&format!("rb-{name}")), "bridge rb-{name} left");
    for port in ports {
        assert!(!link_exists(port), "veth {port} left");
    }
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let state_dir = format!("/var/lib/runbook/labs/{name}");
    assert!(!mounts.contains(&state_dir), "mounts left under {state_dir}");
    for hierarchy in std::fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
        let dir = hierarchy.path().join("runbook").join(name);
        assert!(!dir.exists(), "cgroup {} left", dir.display());
    }
    assert!(!Path::new(&state_dir).exists(), "{state_dir} left after --purge");
    assert!(!lab.user_dir().exists(), "{} left after --purge", lab.user_dir().display());
}

fn boot_id(lab: &Lab, address: &str) -> Option<String> {
    let output = lab.ssh(address, "cat /proc/sys/kernel/random/boot_id");
    output.status.success().then(|| String::from_utf8_lossy(&output.stdout).trim().to_string())
}

#[test]
fn three_hosts_answer_as_themselves_survive_a_reboot_and_leave_nothing_behind() {
    require_lab!();
    let temp = tempfile::tempdir().unwrap();
    let lab = Lab { name: "t-lab", cwd: temp.path().to_path_buf() };
    lab.down_quietly();
    runbook(&lab.cwd, &["lab", "up", "--name", "t-lab", "--hosts", "3", "--subnet", "10.251.0.0/24"]).run();

    let hosts = [("lab-h01", "10.251.0.11"), ("lab-h02", "10.251.0.12"), ("lab-h03", "10.251.0.13")];
    for (name, address) in hosts {
        let output = lab.ssh(address, "hostname; ip -4 -o addr show dev host0; systemctl is-system-running");
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.first(), Some(&name), "hostname of {address}: {text}");
        assert!(text.contains(&format!("inet {address}/24")), "{name} address: {text}");
        if lines.last() != Some(&"running") {
            let failed = lab.ssh(address, "systemctl --failed --no-legend");
            panic!("{name} is {:?}; failed units:\n{}", lines.last(), String::from_utf8_lossy(&failed.stdout));
        }
    }
    // No way out of the lab: no default route on any host.
    let routes = lab.ssh("10.251.0.12", "ip route show default");
    assert_eq!(String::from_utf8_lossy(&routes.stdout).trim(), "");

    check(&lab.ssh("10.251.0.11", "echo only-here > /root/marker"), "writing the marker");
    for (_, address) in &hosts[1..] {
        check(&lab.ssh(address, "test ! -e /root/marker"), "marker absent on the other hosts");
    }

    let status = runbook(&lab.cwd, &["lab", "status", "--name", "t-lab"]).run().stdout;
    assert_eq!(status.matches("running").count(), 4, "three running hosts and the supervisor:\n{status}");
    let again = runbook(&lab.cwd, &["lab", "up", "--name", "t-lab", "--hosts", "3"]).run().stdout;
    assert!(again.contains("already up"), "{again}");

    let before = boot_id(&lab, "10.251.0.11").expect("boot id before reboot");
    let _ = lab.ssh("10.251.0.11", "systemctl reboot");
    let deadline = Instant::now() + Duration::from_secs(90);
    let after = loop {
        match boot_id(&lab, "10.251.0.11") {
            Some(id) if id != before => break id,
            _ if Instant::now() > deadline => {
                panic!("lab-h01 did not come back within 90 s of `systemctl reboot`")
            }
            _ => std::thread::sleep(Duration::from_millis(500)),
        }
    };
    assert_ne!(before, after);
    let marker = lab.ssh("10.251.0.11", "cat /root/marker");
    assert_eq!(String::from_utf8_lossy(&marker.stdout).trim(), "only-here", "state kept across the reboot");

    let ports = bridge_ports("rb-t-lab");
    assert_eq!(ports.len(), 3, "one veth per host on the bridge: {ports:?}");
    lab.down();
    assert_gone(&lab, &ports);
}

#[test]
fn an_inventory_lab_maps_host_addresses_and_the_vip() {
    require_lab!();
    let temp = tempfile::tempdir().unwrap();
    let lab = Lab { name: "t-inv", cwd: temp.path().to_path_buf() };
    lab.down_quietly();
    let inventory = temp.path().join("inventory.yaml");
    std::fs::write(
        &inventory,
        "all:\n  vars:\n    vip: 172.31.3.188\n  children:\n    ha:\n      hosts:\n        \
         k8s-ha01: {address: 172.31.3.104}\n        k8s-ha02: {address: 172.31.3.105}\n      vars:\n        \
         peers: \"172.31.3.104 172.31.3.105\"\n    masters:\n      hosts:\n        \
         k8s-master01: {ansible_host: 172.31.3.101}\n",
    )
    .unwrap();
    runbook(&lab.cwd, &["lab", "up", "--name", "t-inv", "-i", "inventory.yaml", "--subnet", "10.252.0.0/24"]).run();

    let written = std::fs::read_to_string(lab.user_dir().join("inventory.yaml")).unwrap();
    let written: Value = serde_saphyr::from_str(&written).expect("the lab inventory is valid YAML");
    assert_eq!(written["all"]["vars"]["vip"], "10.252.0.188");
    assert_eq!(written["all"]["vars"]["user"], "root");
    let key = written["all"]["vars"]["key"].as_str().unwrap();
    assert!(Path::new(key).is_absolute() && Path::new(key).exists(), "key {key}");
    // Hosts carry their merged vars under `all: hosts:`; groups keep their members.
    let hosts = &written["all"]["hosts"];
    assert_eq!(hosts["k8s-ha01"]["address"], "10.252.0.104");
    assert_eq!(hosts["k8s-ha02"]["address"], "10.252.0.105");
    assert_eq!(hosts["k8s-ha01"]["peers"], "10.252.0.104 10.252.0.105");
    assert_eq!(hosts["k8s-master01"]["ansible_host"], "10.252.0.101");
    assert_eq!(written["all"]["children"]["ha"]["hosts"], serde_json::json!({"k8s-ha01": null, "k8s-ha02": null}));

    for (name, address) in
        [("k8s-ha01", "10.252.0.104"), ("k8s-ha02", "10.252.0.105"), ("k8s-master01", "10.252.0.101")]
    {
        let output = lab.ssh(address, "hostname");
        assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), name);
    }
    let through_lab_ssh = runbook(&lab.cwd, &["lab", "ssh", "--name", "t-inv", "k8s-ha02", "hostname"]).run().stdout;
    assert_eq!(through_lab_ssh.trim(), "k8s-ha02");

    let ports = bridge_ports("rb-t-inv");
    lab.down();
    assert_gone(&lab, &ports);
}

/// `lab up -i` reads the inventory with `runbook run`'s loader: a host range, `ansible_host`, `group_vars/`
/// beside the inventory; `runbook run -i` the lab's inventory then reaches every host.
#[test]
fn a_lab_from_a_host_range_is_reached_by_run() {
    require_lab!();
    let temp = tempfile::tempdir().unwrap();
    let lab = Lab { name: "t-li1", cwd: temp.path().to_path_buf() };
    lab.down_quietly();
    std::fs::write(
        temp.path().join("inventory.yaml"),
        "all:\n  children:\n    web:\n      hosts:\n        web[01:03]:\n    db:\n      hosts:\n        \
         db1: {ansible_host: 172.31.9.41, ansible_port: 2222, ansible_user: ops}\n",
    )
    .unwrap();
    std::fs::create_dir(temp.path().join("group_vars")).unwrap();
    std::fs::write(temp.path().join("group_vars/all.yml"), "vip: 172.31.9.200\n").unwrap();
    runbook(&lab.cwd, &["lab", "up", "--name", "t-li1", "-i", "inventory.yaml", "--subnet", "10.250.80.0/24"]).run();

    let written = std::fs::read_to_string(lab.user_dir().join("inventory.yaml")).unwrap();
    let written: Value = serde_saphyr::from_str(&written).expect("the lab inventory is valid YAML");
    let hosts = &written["all"]["hosts"];
    assert_eq!(hosts["db1"]["ansible_host"], "10.250.80.41", "{written:#?}");
    assert_eq!(hosts["web01"]["address"], "10.250.80.10");
    assert_eq!(hosts["web03"]["address"], "10.250.80.12");
    assert_eq!(hosts["web02"]["vip"], "10.250.80.200", "group_vars/ beside the inventory map too");

    std::fs::write(
        temp.path().join("site.rhai"),
        r#"task("mark", hosts(), |h| h.run("echo " + h.vars.vip + " > /root/t-li-vip"));"#,
    )
    .unwrap();
    let lab_inventory = lab.user_dir().join("inventory.yaml").display().to_string();
    runbook(&lab.cwd, &["run", "site.rhai", "-i", &lab_inventory]).run();
    for (name, address) in
        [("web01", "10.250.80.10"), ("web02", "10.250.80.11"), ("web03", "10.250.80.12"), ("db1", "10.250.80.41")]
    {
        let output = lab.ssh(address, "hostname; cat /root/t-li-vip");
        assert_eq!(String::from_utf8_lossy(&output.stdout), format!("{name}\n10.250.80.200\n"), "{name}");
    }

    let ports = bridge_ports("rb-t-li1");
    lab.down();
    assert_gone(&lab, &ports);
}

/// A broken inventory fails `lab up` with the loader's `file:line:col`, before anything is created.
#[test]
fn lab_up_reports_inventory_errors_where_they_are() {
    require_lab!();
    let temp = tempfile::tempdir().unwrap();
    std::fs::write(temp.path().join("inventory.yaml"), "all:\n  hosts:\n    web[01:03]:\n  hostz:\n    a:\n").unwrap();
    runbook(temp.path(), &["lab", "up", "--name", "t-li2", "-i", "inventory.yaml", "--subnet", "10.250.81.0/24"])
        .code(1)
        .stderr_has("inventory.yaml:4:")
        .stderr_has("hostz")
        .run();
    assert!(!link_exists("rb-t-li2"), "no bridge for a refused inventory");
}

#[test]
fn bad_names_and_subnets_are_refused_with_a_reason() {
    let temp = tempfile::tempdir().unwrap();
    let bad_name = runbook(temp.path(), &["lab", "up", "--name", "Bad_Name", "--hosts", "1"]).code(1);
    if is_root() {
        bad_name.stderr_has("invalid lab name").run();
        runbook(temp.path(), &["lab", "up", "--name", "t-bad", "--hosts", "1", "--subnet", "10.1.2.3"])
            .code(1)
            .stderr_has("invalid subnet")
            .run();
    } else {
        bad_name.stderr_has("must run as root").run();
    }
}
