//! Reaching hosts the controller cannot reach itself: through a bastion, a two-hop chain, ssh_config's
//! ProxyJump, and surviving sshd restarting under the first connect. Real OpenSSH on lab hosts throughout.
//!
//! The topology: lab `t-ssh-near` (10.255.30.0/24, the controller's own bridge) holds `bastion` and
//! `direct1`; lab `t-ssh-far` (10.255.31.0/24) holds `far1`, `far2` and `hop2`; lab `t-ssh-deep`
//! (10.255.32.0/24) holds `deep1`. The bastion gets a second leg on the far bridge, hop2 a second leg on the
//! deep bridge. The controller keeps no address on the far and deep bridges, and both subnets are fenced in
//! its routing table (`unreachable`) before anything boots, so no packet to them can leave by the default
//! route; the fence goes when the test binary exits.

use crate::support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{OnceLock, RwLock};
use std::time::{Duration, Instant, SystemTime};

use support::{Lab, Test, repo_root};

const NEAR: &str = "t-ssh-near";
const FAR: &str = "t-ssh-far";
const DEEP: &str = "t-ssh-deep";
const NEAR_SUBNET: &str = "10.255.30.0/24";
const FAR_SUBNET: &str = "10.255.31.0/24";
const DEEP_SUBNET: &str = "10.255.32.0/24";
/// The bastion's address on the far bridge, hop2's on the deep bridge.
const BASTION_FAR_LEG: &str = "10.255.31.250";
const HOP2_DEEP_LEG: &str = "10.255.32.250";
/// The fence's metric: above the kernel's connected route (0), so the labs boot normally, and the only route
/// left for the subnet once the controller's address is taken off the bridge.
const FENCE_METRIC: &str = "4242";

/// Tests that only read the topology share it; the one that takes the bastion down has it alone.
static TOPOLOGY_USE: RwLock<()> = RwLock::new(());

struct Topology {
    near: &'static Lab,
    far: &'static Lab,
    deep: &'static Lab,
    /// An inventory with every host, each with its lab's key and a known_hosts that knows all hosts.
    dir: PathBuf,
}

fn ip(args: &[&str]) -> (bool, String) {
    let output = Command::new("ip").args(args).output().expect("ip runs");
    (output.status.success(), String::from_utf8_lossy(&output.stderr).into_owned())
}

fn fence(subnet: &str) {
    let _ = ip(&["route", "del", "unreachable", subnet, "metric", FENCE_METRIC]);
    let (ok, error) = ip(&["route", "add", "unreachable", subnet, "metric", FENCE_METRIC]);
    assert!(ok, "cannot fence {subnet}: {error}");
}

extern "C" fn unfence() {
    for subnet in [FAR_SUBNET, DEEP_SUBNET] {
        let _ = ip(&["route", "del", "unreachable", subnet, "metric", FENCE_METRIC]);
    }
}

/// The pid of a process inside the lab host (its network namespace differs from ours).
fn netns_pid(lab: &str, host: &str) -> u32 {
    let pid_file = format!("/var/lib/runbook/labs/{lab}/hosts/{host}/nspawn.pid");
    let nspawn: u32 = std::fs::read_to_string(&pid_file).expect("nspawn pid").trim().parse().unwrap();
    let ours = std::fs::read_link("/proc/self/ns/net").unwrap();
    let mut queue = vec![nspawn];
    while let Some(pid) = queue.pop() {
        if std::fs::read_link(format!("/proc/{pid}/ns/net")).is_ok_and(|ns| ns != ours) {
            return pid;
        }
        let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
        queue.extend(children.split_whitespace().filter_map(|c| c.parse::<u32>().ok()));
    }
    panic!("no process of {host} runs in its own network namespace");
}

/// Gives `host` of `lab` a second interface on `bridge` with `address`/24.
fn second_leg(lab: &Lab, host: &str, bridge: &str, address: &str, link: &str) {
    let _ = ip(&["link", "del", link]);
    let pid = netns_pid(lab.name, host).to_string();
    let (ok, error) = ip(&["link", "add", link, "type", "veth", "peer", "name", "leg1", "netns", &pid]);
    assert!(ok, "veth for {host}: {error}");
    let (ok, error) = ip(&["link", "set", link, "master", bridge, "up"]);
    assert!(ok, "{link} on {bridge}: {error}");
    lab.sh(host, &format!("ip addr add {address}/24 dev leg1 && ip link set leg1 up"));
}

fn lab_dir(name: &str) -> PathBuf {
    repo_root().join(".runbook").join(name)
}

fn topology() -> &'static Topology {
    static CELL: OnceLock<Topology> = OnceLock::new();
    CELL.get_or_init(|| {
        fence(FAR_SUBNET);
        fence(DEEP_SUBNET);
        // SAFETY: registering a plain function with atexit.
        unsafe { libc::atexit(unfence) };
        let sources = tempfile::tempdir().unwrap().keep();
        let source = |name: &str, hosts: &[&str]| {
            let path = sources.join(format!("{name}.yaml"));
            let hosts: String = hosts.iter().map(|h| format!("        {h}:\n")).collect();
            std::fs::write(&path, format!("all:\n  children:\n    {}:\n      hosts:\n{hosts}", name.replace('-', "_")))
                .unwrap();
            path
        };
        let mut labs = Vec::new();
        for (name, subnet, hosts) in [
            (NEAR, NEAR_SUBNET, &["bastion", "direct1"][..]),
            (FAR, FAR_SUBNET, &["far1", "far2", "hop2"][..]),
            (DEEP, DEEP_SUBNET, &["deep1"][..]),
        ] {
            support::lab_down(name);
            let cell = Box::leak(Box::new(OnceLock::new()));
            labs.push(Lab::get_from_inventory(cell, name, &source(name, hosts), subnet));
        }
        let deep = labs.pop().unwrap();
        let far = labs.pop().unwrap();
        let near = labs.pop().unwrap();

        second_leg(near, "bastion", &format!("rb-{FAR}"), BASTION_FAR_LEG, "rbt-bastion");
        second_leg(far, "hop2", &format!("rb-{DEEP}"), HOP2_DEEP_LEG, "rbt-hop2");
        // The hops let every lab's key in: ProxyJump hops that are not inventory hosts log in with the target's.
        let key = |lab: &str| std::fs::read_to_string(lab_dir(lab).join("id_ed25519.pub")).unwrap();
        near.sh("bastion", &format!("printf '%s' '{}{}' >> /root/.ssh/authorized_keys", key(FAR), key(DEEP)));
        far.sh("hop2", &format!("printf '%s' '{}' >> /root/.ssh/authorized_keys", key(DEEP)));
        // From now on the controller has no way to the far and deep subnets but the fence.
        for lab in [FAR, DEEP] {
            let (ok, error) = ip(&["addr", "flush", "dev", &format!("rb-{lab}")]);
            assert!(ok, "{error}");
        }

        let dir = tempfile::tempdir().unwrap().keep();
        let known_hosts: String = [NEAR, FAR, DEEP]
            .iter()
            .map(|lab| std::fs::read_to_string(lab_dir(lab).join("known_hosts")).unwrap())
            .collect();
        std::fs::write(dir.join("known_hosts"), known_hosts).unwrap();
        Topology { near, far, deep, dir }
    })
}

impl Topology {
    fn lab_of(&self, host: &str) -> &Lab {
        [self.near, self.far, self.deep].into_iter().find(|lab| lab.hosts.iter().any(|h| h == host)).unwrap()
    }

    fn address(&self, host: &str) -> &str {
        self.lab_of(host).address(host)
    }

    /// An inventory of `hosts`, each `(name, extra YAML vars)`, with its lab's key and the shared known_hosts.
    fn inventory(&self, file: &str, hosts: &[(&str, &str)]) -> PathBuf {
        let mut text = String::from("all:\n  vars:\n    user: root\n");
        text.push_str(&format!("    known_hosts: {}\n  hosts:\n", self.dir.join("known_hosts").display()));
        for (host, extra) in hosts {
            let lab = self.lab_of(host);
            text.push_str(&format!(
                "    {host}:\n      address: {}\n      key: {}\n",
                lab.address(host),
                lab_dir(lab.name).join("id_ed25519").display()
            ));
            for line in extra.lines().filter(|l| !l.trim().is_empty()) {
                text.push_str(&format!("      {}\n", line.trim()));
            }
        }
        let path = self.dir.join(file);
        std::fs::write(&path, text).unwrap();
        path
    }

    /// Logins the bastion's sshd accepted from the controller between two moments.
    fn bastion_logins(&self, since: SystemTime, until: SystemTime) -> usize {
        let secs = |t: SystemTime| t.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs();
        let out = self.near.sh(
            "bastion",
            &format!(
                "journalctl -q --no-pager -o cat --since @{} --until @{} | grep -c 'Accepted publickey for root from {}' || true",
                secs(since),
                secs(until) + 1,
                NEAR_SUBNET.replace("0/24", "1 ")
            ),
        );
        out.trim().parse().unwrap()
    }
}

const WHO: &str = r#"
task("who", hosts(), |h| { h.run("echo I-am-$(hostname)"); });
"#;

fn run_who(inventory: &Path, extra: &[&str]) -> support::Run {
    Test::new().inventory_file(inventory).playbook(WHO).args(&["-v"]).args(extra).json_log().run()
}

#[test]
fn a_target_behind_the_bastion_cannot_be_reached_directly() {
    require_lab!();
    let topology = topology();
    let _shared = TOPOLOGY_USE.read().unwrap_or_else(|poisoned| poisoned.into_inner());
    let inventory = topology.inventory("direct.yaml", &[("far1", "")]);
    let run = Test::new()
        .inventory_file(&inventory)
        .playbook(WHO)
        .args(&["--connect-retries", "0", "--timeout", "3"])
        .code(3)
        .json_log()
        .run();
    // The fence answered, not some router out of the default route.
    let all = format!("{}{}", run.stdout, run.stderr);
    assert!(all.contains("No route to host"), "{all}");
    assert!(!all.contains("I-am-far1"));
    assert_eq!(run.recap("far1")["unreachable"], 1);
}

#[test]
fn hosts_behind_a_bastion_named_in_the_inventory_share_one_jump_connection() {
    require_lab!();
    let topology = topology();
    // Alone: other tests log in to the bastion too, and this one counts its logins.
    let _alone = TOPOLOGY_USE.write().unwrap_or_else(|poisoned| poisoned.into_inner());
    std::thread::sleep(Duration::from_millis(1100));
    let inventory = topology.inventory(
        "jump.yaml",
        &[
            ("bastion", ""),
            ("direct1", ""),
            ("far1", "jump: bastion"),
            ("far2", "jump: bastion"),
            ("hop2", "jump: bastion"),
        ],
    );
    let since = SystemTime::now();
    // The bastion is itself a host of the run: its own connection and the jump connection are two logins.
    let run = run_who(&inventory, &["-l", "far1,far2,hop2,direct1"]);
    let until = SystemTime::now();
    // The query's own login must fall after the window's end (rounded up to the next second).
    std::thread::sleep(Duration::from_millis(2100));
    for host in ["far1", "far2", "hop2", "direct1"] {
        assert!(run.stdout.contains(&format!("I-am-{host}")), "{host} did not answer:\n{}", run.stdout);
    }
    assert_eq!(topology.bastion_logins(since, until), 1, "one jump connection for three hosts behind it");
}

#[test]
fn ansible_ssh_common_args_proxyjump_and_proxycommand_reach_the_target() {
    require_lab!();
    let topology = topology();
    let _shared = TOPOLOGY_USE.read().unwrap_or_else(|poisoned| poisoned.into_inner());
    let bastion = topology.address("bastion");
    let near_key = lab_dir(NEAR).join("id_ed25519");
    let known = topology.dir.join("known_hosts");
    let proxy_command = format!(
        "ssh -F /dev/null -i {} -o UserKnownHostsFile={} -o StrictHostKeyChecking=yes -o BatchMode=yes -W %h:%p root@{bastion}",
        near_key.display(),
        known.display()
    );
    let inventory = topology.inventory(
        "ansible.yaml",
        &[
            ("far1", &format!("ansible_ssh_common_args: '-o ProxyJump=root@{bastion}'")),
            ("far2", &format!("ansible_ssh_extra_args: \"-o ProxyCommand='{proxy_command}'\"")),
        ],
    );
    let run = run_who(&inventory, &[]);
    assert!(run.stdout.contains("I-am-far1") && run.stdout.contains("I-am-far2"), "{}", run.stdout);
}

#[test]
fn proxyjump_from_ssh_config_reaches_the_target() {
    require_lab!();
    let topology = topology();
    let _shared = TOPOLOGY_USE.read().unwrap_or_else(|poisoned| poisoned.into_inner());
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(home.path().join(".ssh")).unwrap();
    std::fs::write(
        home.path().join(".ssh/config"),
        format!(
            "Host gateway\n  HostName {}\n  User root\n  IdentityFile {}\n\nHost 10.255.31.*\n  ProxyJump gateway\n",
            topology.address("bastion"),
            lab_dir(NEAR).join("id_ed25519").display()
        ),
    )
    .unwrap();
    let inventory = topology.inventory("config.yaml", &[("far1", ""), ("far2", "")]);
    let run = Test::new()
        .inventory_file(&inventory)
        .playbook(WHO)
        .args(&["-v"])
        .env("HOME", &home.path().display().to_string())
        .run();
    assert!(run.stdout.contains("I-am-far1") && run.stdout.contains("I-am-far2"), "{}", run.stdout);
}

#[test]
fn a_two_hop_chain_reaches_a_host_only_the_second_hop_can_reach() {
    require_lab!();
    let topology = topology();
    let _shared = TOPOLOGY_USE.read().unwrap_or_else(|poisoned| poisoned.into_inner());
    // deep1 answers on the deep subnet only; hop2 is the one host with a leg there, and hop2 itself is
    // behind the bastion. Both spellings: inventory hosts, and user@address hops.
    let chain = format!("root@{},root@{}", topology.address("bastion"), topology.address("hop2"));
    let inventory = topology.inventory("chain.yaml", &[("bastion", ""), ("hop2", ""), ("deep1", "jump: bastion,hop2")]);
    let run = run_who(&inventory, &["-l", "deep1"]);
    assert!(run.stdout.contains("I-am-deep1"), "{}", run.stdout);
    let inventory = topology.inventory("chain2.yaml", &[("deep1", &format!("ansible_ssh_common_args: -J {chain}"))]);
    let run = run_who(&inventory, &[]);
    assert!(run.stdout.contains("I-am-deep1"), "{}", run.stdout);
    // Only the bastion in front of it: the bastion has no way to the deep subnet, and the error says so.
    let inventory = topology.inventory("chain3.yaml", &[("bastion", ""), ("deep1", "jump: bastion")]);
    let run = Test::new()
        .inventory_file(&inventory)
        .playbook(WHO)
        .args(&["-l", "deep1", "--connect-retries", "0", "--timeout", "3"])
        .code(3)
        .run();
    let all = format!("{}{}", run.stdout, run.stderr);
    assert!(all.contains("jump host bastion") && all.contains("cannot reach"), "{all}");
}

#[test]
fn a_bastion_with_a_wrong_host_key_is_refused_and_named() {
    require_lab!();
    let topology = topology();
    let _shared = TOPOLOGY_USE.read().unwrap_or_else(|poisoned| poisoned.into_inner());
    // known_hosts where the bastion's address carries direct1's key: a machine in the middle, as far as
    // runbook can tell.
    let direct1_key = std::fs::read_to_string(lab_dir(NEAR).join("known_hosts"))
        .unwrap()
        .lines()
        .find(|line| line.starts_with(&format!("{} ", topology.address("direct1"))))
        .unwrap()
        .split_once(' ')
        .unwrap()
        .1
        .to_string();
    let wrong = topology.dir.join("wrong_known_hosts");
    std::fs::write(&wrong, format!("{} {direct1_key}\n", topology.address("bastion"))).unwrap();
    let inventory = topology.inventory(
        "wrongkey.yaml",
        &[("bastion", &format!("known_hosts: {}", wrong.display())), ("far1", "jump: bastion")],
    );
    let run = Test::new()
        .inventory_file(&inventory)
        .playbook(WHO)
        .args(&["-l", "far1", "--host-key-checking", "accept-new"])
        .code(3)
        .run();
    let all = format!("{}{}", run.stdout, run.stderr);
    assert!(all.contains("jump host bastion") && all.contains("HOST KEY CHANGED"), "{all}");
    assert!(!all.contains("I-am-far1"));
}

#[test]
fn a_host_whose_sshd_restarts_during_the_first_connect_is_reached_after_a_retry() {
    require_lab!();
    let topology = topology();
    // Alone: direct1's sshd goes away, and other tests use direct1.
    let _alone = TOPOLOGY_USE.write().unwrap_or_else(|poisoned| poisoned.into_inner());
    let inventory = topology.inventory("restart.yaml", &[("direct1", "")]);
    let stop_for = |seconds: u32| {
        topology.near.sh(
            "direct1",
            &format!(
                "systemd-run --quiet --on-active={seconds} --timer-property=AccuracySec=100ms systemctl start ssh; \
                 systemctl stop ssh"
            ),
        );
    };
    // Without retries the refused connect is final...
    stop_for(3);
    let run = Test::new().inventory_file(&inventory).playbook(WHO).args(&["--connect-retries", "0"]).code(3).run();
    assert!(format!("{}{}", run.stdout, run.stderr).contains("refused"), "{}", run.stdout);
    wait_for_ssh(topology.address("direct1"));
    // ...with them, sshd coming back 2 s later is found (5 retries: 0.5 + 1 + 2 + 4 + 8 s of backoff at most).
    stop_for(2);
    let started = Instant::now();
    let run = Test::new().inventory_file(&inventory).playbook(WHO).args(&["-v", "--connect-retries", "5"]).run();
    assert!(run.stdout.contains("I-am-direct1"), "{}", run.stdout);
    assert!(started.elapsed() >= Duration::from_millis(1500), "sshd was down: the first connect cannot have worked");
}

fn wait_for_ssh(address: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if std::net::TcpStream::connect_timeout(&format!("{address}:22").parse().unwrap(), Duration::from_secs(1))
            .is_ok()
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("sshd on {address} did not come back");
}

#[test]
fn the_bastion_going_down_mid_run_makes_its_hosts_unreachable_and_direct_hosts_finish() {
    require_lab!();
    let topology = topology();
    let _alone = TOPOLOGY_USE.write().unwrap_or_else(|poisoned| poisoned.into_inner());
    let inventory = topology.inventory(
        "down.yaml",
        &[("direct1", ""), ("far1", "jump: bastion"), ("far2", "jump: bastion"), ("bastion", "")],
    );
    let playbook = r#"
task("first", hosts(), |h| { h.run("echo first-$(hostname)"); });
task("wait", hosts(), |h| { h.run("touch /tmp/rb-first-done; sleep 4"); });
task("last", hosts(), |h| { h.run("echo last-$(hostname)"); });
"#;
    // The bastion's leg on the near bridge is cut once the second task has started on both far hosts (seen
    // inside their containers, which the controller cannot reach by network): the first task's results are
    // back by then (tasks run one after another), and to the controller the bastion is gone (no RST, no FIN),
    // exactly like a power cut. Waiting for the task, not a fixed delay, keeps the test right on a loaded
    // machine where connecting alone can take seconds; a marker written by the first task itself could be
    // seen before its result had travelled back, and the cut would lose it.
    let marker = |host: &str| format!("/proc/{}/root/tmp/rb-first-done", netns_pid(FAR, host));
    let markers = [marker("far1"), marker("far2")];
    for marker in &markers {
        let _ = std::fs::remove_file(marker);
    }
    let link = bastion_near_veth(topology);
    let cutter = std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(90);
        while !markers.iter().all(|m| Path::new(m).exists()) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        let (ok, error) = ip(&["link", "set", &link, "down"]);
        assert!(ok, "{error}");
        link
    });
    let run = Test::new()
        .inventory_file(&inventory)
        .playbook(playbook)
        .args(&["-v", "-l", "direct1,far1,far2"])
        .json_log()
        .code(3)
        .run();
    let link = cutter.join().unwrap();
    let _ = ip(&["link", "set", &link, "up"]);
    assert!(run.stdout.contains("first-far1") && run.stdout.contains("first-far2"), "{}", run.stdout);
    assert!(run.stdout.contains("last-direct1"), "{}", run.stdout);
    for host in ["far1", "far2"] {
        assert_eq!(run.recap(host)["unreachable"], 1, "{host}:\n{}", run.stdout);
    }
    assert_eq!(run.recap("direct1")["unreachable"], 0);
    assert_eq!(run.recap("direct1")["failed"], 0);
}

/// The controller's end of the bastion's veth on the near bridge.
fn bastion_near_veth(topology: &Topology) -> String {
    let peer: u32 = topology.near.sh("bastion", "cat /sys/class/net/host0/iflink").trim().parse().unwrap();
    let bridge = format!("rb-{NEAR}");
    let out = Command::new("ip").args(["-o", "link", "show", "master", &bridge]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    for line in text.lines() {
        let mut fields = line.split(": ");
        let index: u32 = fields.next().unwrap().trim().parse().unwrap();
        if index == peer {
            return fields.next().unwrap().split('@').next().unwrap().to_string();
        }
    }
    panic!("no port of {bridge} is the bastion's veth: {text}");
}

/// The sudo password of the lab user `rbops` (sudo with a password, no NOPASSWD); shell-hostile on purpose.
const SUDO_PASSWORD: &str = r#"Pw-$x;"1 2"`id`"#;

/// `rbops` (may sudo with its password) and `rbapp` (a service user to become) on direct1.
fn become_users(topology: &Topology) {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        topology.near.sh(
            "direct1",
            &format!(
                "for u in rbops rbapp; do id $u >/dev/null 2>&1 || useradd -m -s /bin/sh $u; done; \
                 printf '%s\\n' 'rbops:{}' | chpasswd; \
                 install -d -o rbops -m 700 /home/rbops/.ssh; \
                 install -o rbops -m 600 /root/.ssh/authorized_keys /home/rbops/.ssh/authorized_keys; \
                 echo 'rbops ALL=(ALL) ALL' > /etc/sudoers.d/rbops; chmod 440 /etc/sudoers.d/rbops",
                SUDO_PASSWORD.replace('\'', r"'\''")
            ),
        );
    });
}

fn become_inventory(topology: &Topology, file: &str, extra: &str) -> PathBuf {
    let path = topology.inventory(file, &[("direct1", &format!("become: true\n{extra}"))]);
    let text = std::fs::read_to_string(&path).unwrap().replace("user: root", "user: rbops");
    std::fs::write(&path, text).unwrap();
    path
}

const AS_ROOT: &str = r#"
task("as root", hosts(), |h| {
    let id = h.run("id -u").stdout.trim();
    if id != "0" { throw "not root but " + id; }
    h.write("made by become\n", "/root/rb-become");
});
"#;

#[test]
fn become_with_a_sudo_password_from_each_source() {
    require_lab!();
    let topology = topology();
    let _shared = TOPOLOGY_USE.read().unwrap_or_else(|poisoned| poisoned.into_inner());
    become_users(topology);
    let inventory = become_inventory(topology, "become.yaml", "");

    // No password anywhere: refused, and the message says how to give one.
    let run = Test::new().inventory_file(&inventory).playbook(AS_ROOT).code(3).run();
    assert!(run.stdout.contains("password is required") && run.stdout.contains("--ask-become-pass"), "{}", run.stdout);

    Test::new().inventory_file(&inventory).playbook(AS_ROOT).env("RUNBOOK_BECOME_PASSWORD", SUDO_PASSWORD).run();
    assert_eq!(topology.near.sh("direct1", "stat -c %U /root/rb-become").trim(), "root");

    let named = become_inventory(topology, "become-secret.yaml", "become_password_secret: ops_sudo");
    Test::new().inventory_file(&named).playbook(AS_ROOT).env("RUNBOOK_SECRET_OPS_SUDO", SUDO_PASSWORD).run();

    // --ask-become-pass: no terminal here, so the first line of stdin.
    Test::new().inventory_file(&inventory).playbook(AS_ROOT).args(&["-K"]).stdin(&format!("{SUDO_PASSWORD}\n")).run();
}

#[test]
fn a_wrong_become_password_is_one_clear_error_and_fast() {
    require_lab!();
    let topology = topology();
    let _shared = TOPOLOGY_USE.read().unwrap_or_else(|poisoned| poisoned.into_inner());
    become_users(topology);
    let inventory = become_inventory(topology, "become-wrong.yaml", "");
    let run = Test::new()
        .inventory_file(&inventory)
        .playbook(AS_ROOT)
        .env("RUNBOOK_BECOME_PASSWORD", "not-the-password")
        .code(3)
        .stdout_has("wrong become password")
        .stdout_has("direct1")
        .run();
    assert!(run.elapsed < Duration::from_secs(15), "took {:?}", run.elapsed);
    assert_eq!(run.stdout.matches("wrong become password").count(), 1, "{}", run.stdout);
}

#[test]
fn the_become_password_never_shows_in_output_logs_or_any_remote_argv() {
    require_lab!();
    let topology = topology();
    let _shared = TOPOLOGY_USE.read().unwrap_or_else(|poisoned| poisoned.into_inner());
    become_users(topology);
    let inventory = become_inventory(topology, "become-quiet.yaml", "");
    let playbook = r#"
task("busy", hosts(), |h| {
    h.run("sleep 2");
    h.write("one\n", "/root/rb-quiet");
    h.run("sleep 2");
    h.write("two\n", "/root/rb-quiet");
});
"#;
    // Every process's argv on the host, five times a second, while the run is on.
    let near = topology.near;
    let sampler = std::thread::spawn(move || {
        near.sh("direct1", "for i in $(seq 1 40); do ps -eo args; sleep 0.2; done").to_string()
    });
    std::thread::sleep(Duration::from_millis(500));
    let run = Test::new()
        .inventory_file(&inventory)
        .playbook(playbook)
        .args(&["-vv", "--diff"])
        .env("RUNBOOK_BECOME_PASSWORD", SUDO_PASSWORD)
        .json_log()
        .run();
    let samples = sampler.join().unwrap();
    assert!(samples.contains("sudo -S -p"), "the sampler saw the run's sudo: {samples}");
    assert!(!samples.contains(SUDO_PASSWORD), "the password is in a remote argv");
    assert!(!run.stdout.contains(SUDO_PASSWORD) && !run.stderr.contains(SUDO_PASSWORD));
    let log = std::fs::read_to_string(run.dir.join("events.jsonl")).unwrap();
    assert!(!log.is_empty() && !log.contains(SUDO_PASSWORD));
}

#[test]
fn become_user_runs_as_that_user_and_its_files_are_owned_by_it() {
    require_lab!();
    let topology = topology();
    let _shared = TOPOLOGY_USE.read().unwrap_or_else(|poisoned| poisoned.into_inner());
    become_users(topology);
    topology.near.sh("direct1", "rm -rf /tmp/rb-app && install -d -o rbapp -m 700 /tmp/rb-app");
    let inventory = become_inventory(topology, "become-user.yaml", "become_user: rbapp");
    let playbook = r#"
task("as rbapp", hosts(), |h| {
    let who = h.run("id -un").stdout.trim();
    if who != "rbapp" { throw "running as " + who; }
    h.write("owned\n", "/tmp/rb-app/config");
});
"#;
    Test::new().inventory_file(&inventory).playbook(playbook).env("RUNBOOK_BECOME_PASSWORD", SUDO_PASSWORD).run();
    assert_eq!(topology.near.sh("direct1", "stat -c %U:%G /tmp/rb-app/config").trim(), "rbapp:rbapp");
    // Nothing left behind by the write (its temp file was made and renamed by rbapp, in rbapp's folder).
    assert_eq!(topology.near.sh("direct1", "ls -A /tmp/rb-app").trim(), "config");
}
