//! Faults a real fleet has, made to happen on lab hosts in the middle of a run: a host powered off, its sshd
//! killed, its link cut during an upload, a command that hangs, a slow and lossy network, Ctrl-C, and many
//! hosts failing at once. Each test states what the operator is promised in that case.
//!
//! Lab `trf` (6 hosts, 10.254.1.0/24) is shared; each test works on its own hosts so they can run at once.
//! The network tests add iptables rules scoped to their lab's bridge and remove them in a guard's Drop, so a
//! failing assertion still leaves the machine as it was.

use crate::support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use support::{Lab, RUNBOOK, Test};

static LAB: OnceLock<Lab> = OnceLock::new();
static FLEET: OnceLock<Lab> = OnceLock::new();
static SEED: OnceLock<Lab> = OnceLock::new();

fn lab() -> &'static Lab {
    Lab::get(&LAB, "trf", 6, "10.254.1.0/24")
}

/// Boots hosts of the lab that a test powered off (`lab up` on a running lab restarts them).
fn restart_stopped_hosts(lab: &Lab, count: usize, subnet: &str) {
    // The lab's own set-up (hosts brought back), not a run under test.
    let status = Command::new(RUNBOOK)
        .args(["lab", "up", "--name", lab.name, "--hosts", &count.to_string(), "--subnet", subnet])
        .current_dir(support::repo_root())
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
}

/// Waits until the system ssh client gets an answer from the host.
fn wait_ssh(lab: &Lab, host: &str, within: Duration) {
    let started = Instant::now();
    while lab.ssh(host, "true").0 != 0 {
        assert!(started.elapsed() < within, "{host} did not come back within {within:?}");
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// A `runbook run` in the background, killed if the test ends first.
struct Background {
    child: Child,
    dir: PathBuf,
}

impl Background {
    fn start(dir: &Path, inventory: &Path, args: &[&str]) -> Background {
        // Spawned: the test breaks hosts or signals the run while it runs, then waits for its end.
        let child = Command::new(RUNBOOK)
            .current_dir(dir)
            .env("NO_COLOR", "1")
            .args(["run", "site.rhai", "-i"])
            .arg(inventory)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        Background { child, dir: dir.to_path_buf() }
    }

    fn signal(&self, signal: i32) {
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(self.child.id() as i32, signal) };
    }

    /// Waits for the end (at most `within`); returns exit code, stdout, stderr and when it ended.
    fn finish(&mut self, within: Duration) -> (i32, String, String, Instant) {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                let ended = Instant::now();
                let mut out = String::new();
                let mut err = String::new();
                use std::io::Read;
                self.child.stdout.take().unwrap().read_to_string(&mut out).unwrap();
                self.child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
                return (status.code().unwrap_or(-1), out, err, ended);
            }
            assert!(started.elapsed() < within, "runbook still running after {within:?}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn events(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(self.dir.join("events.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn recap_of<'a>(events: &'a [serde_json::Value], host: &str) -> &'a serde_json::Value {
    let recap = events.iter().rev().find(|e| e["event"] == "recap").expect("a recap event");
    recap["hosts"].as_array().unwrap().iter().find(|h| h["host"] == host).expect("the host in the recap")
}

/// Waits until a process whose command line matches `pattern` runs on the host (the run reached it). Commands
/// run in runbook's shell through `eval`, so only the programs they start (a `sleep` of a telling length) show
/// in the process list; the `[s]` keeps the pattern from matching the shell that runs pgrep.
fn wait_running(lab: &Lab, host: &str, pattern: &str) {
    let started = Instant::now();
    while lab.ssh(host, &format!("pgrep -f '{pattern}'")).0 != 0 {
        assert!(started.elapsed() < Duration::from_secs(60), "`{pattern}` never started on {host}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Removes what an earlier run left, on these hosts only: `Lab::clean` would reach every host of the lab, and
/// the power-off test has one of them down at times.
fn clean(lab: &Lab, hosts: &[&str], paths: &str) {
    for host in hosts {
        lab.sh(host, &format!("rm -rf {paths}"));
    }
}

/// The start of a fault test: two clean hosts, `playbook` running on both in the background with a JSON log
/// (`Background::events` reads it),
/// and `marker` (a telling `sleep`) running on the victim — the moment to inject the fault.
fn start_mid_run(
    lab: &Lab,
    (victim, other): (&str, &str),
    scratch: &str,
    playbook: &str,
    marker: &str,
) -> (tempfile::TempDir, Background) {
    wait_ssh(lab, victim, Duration::from_secs(60));
    clean(lab, &[victim, other], scratch);
    let dir = tempfile::tempdir().unwrap();
    write_playbook(dir.path(), playbook);
    let log = dir.path().join("events.jsonl");
    let run = Background::start(
        dir.path(),
        &lab.inventory(),
        &["--limit", &limit(&[victim, other]), "--log-json", log.to_str().unwrap()],
    );
    wait_running(lab, victim, marker);
    (dir, run)
}

fn write_playbook(dir: &Path, text: &str) {
    std::fs::write(dir.join("site.rhai"), text).unwrap();
}

/// Hosts of the lab in a `--limit` pattern.
fn limit(hosts: &[&str]) -> String {
    hosts.join(",")
}

#[test]
fn a_host_powered_off_mid_run_is_unreachable_in_its_task_and_the_others_finish() {
    require_lab!();
    let lab = lab();
    let (victim, other) = (lab.host(0), lab.host(1));
    let (_dir, mut run) = start_mid_run(
        lab,
        (victim, other),
        "/root/tr-off",
        r#"
        task("first", hosts(), |h| h.run("mkdir -p /root/tr-off"));
        task("long step", hosts(), |h| { h.run("sleep 6.01"); h.run("touch /root/tr-off/long"); });
        task("last", hosts(), |h| h.run("touch /root/tr-off/last"));
        "#,
        "[s]leep 6.01",
    );
    let powered_off = Instant::now();
    // Through the system ssh client; the connection drops as the host goes down.
    let _ = lab.ssh(victim, "systemctl poweroff");
    let (code, stdout, _, ended) = run.finish(Duration::from_secs(90));
    let events = run.events();
    assert_eq!(code, 3, "{stdout}");
    assert!(stdout.contains(&format!("{victim}: unreachable in task \"long step\"")), "{stdout}");
    let result = events
        .iter()
        .find(|e| e["event"] == "host_result" && e["host"] == victim && e["status"] == "unreachable")
        .expect("an unreachable result for the powered-off host");
    assert_eq!(result["task"], "long step");
    assert_eq!(recap_of(&events, victim)["stopped_in"], "long step");
    assert_eq!(recap_of(&events, other)["ok"], 3, "the other host finished every task");
    assert_eq!(lab.sh(other, "ls /root/tr-off").split_whitespace().collect::<Vec<_>>(), ["last", "long"]);
    eprintln!("powered off -> run ended: {:?}", ended.duration_since(powered_off));
    restart_stopped_hosts(lab, 6, "10.254.1.0/24");
    wait_ssh(lab, victim, Duration::from_secs(60));
}

#[test]
fn a_host_whose_sshd_is_killed_mid_run_is_unreachable_and_a_retry_reruns_only_it() {
    require_lab!();
    let lab = lab();
    let (victim, other) = (lab.host(2), lab.host(3));
    let (dir, mut run) = start_mid_run(
        lab,
        (victim, other),
        "/root/tr-sshd",
        r#"
        task("prepare", hosts(), |h| h.run("mkdir -p /root/tr-sshd"));
        task("slow", hosts(), |h| { h.run("sleep 5.02"); h.run("touch /root/tr-sshd/slow"); });
        task("mark", hosts(), |h| h.run("echo $(hostname) >> /root/tr-sshd/runs"));
        "#,
        "[s]leep 5.02",
    );
    // sshd and every session it serves are killed; systemd starts it again 15 s later (Restart=always), and a
    // timer on the host does too at 20 s should the restart be missed (once, a lone timer was).
    let _ = lab.ssh(
        victim,
        "mkdir -p /etc/systemd/system/ssh.service.d && \
         printf '[Service]\\nRestart=always\\nRestartSec=15\\n' > /etc/systemd/system/ssh.service.d/tr-restart.conf && \
         systemctl daemon-reload; systemd-run --quiet --on-active=20 systemctl start ssh; pkill -KILL -x sshd; true",
    );
    let killed = Instant::now();
    let (code, stdout, _, ended) = run.finish(Duration::from_secs(90));
    eprintln!("sshd killed -> run ended: {:?}", ended.duration_since(killed));
    assert_eq!(code, 3, "{stdout}");
    assert!(stdout.contains(&format!("{victim}: unreachable in task \"slow\"")), "{stdout}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join(".runbook/last-failed")).unwrap().trim(),
        victim,
        "only the unreachable host is recorded for --retry-failed"
    );
    wait_ssh(lab, victim, Duration::from_secs(120));

    // --retry-failed runs the whole playbook again on that host only.
    let inventory = lab.inventory().display().to_string();
    Test::new()
        .in_dir(dir.path())
        .args(&["run", "site.rhai", "-i", &inventory, "--retry-failed"])
        .stdout_has("1 host: 1 ok")
        .run();
    assert_eq!(lab.sh(victim, "cat /root/tr-sshd/runs").lines().count(), 1);
    assert_eq!(lab.sh(other, "cat /root/tr-sshd/runs").lines().count(), 1, "the host that finished was left alone");
    assert!(!dir.path().join(".runbook/last-failed").exists(), "a clean retry clears the record");
}

#[test]
fn a_hanging_command_is_killed_on_the_host_by_its_timeout() {
    require_lab!();
    let lab = lab();
    let host = lab.host(3);
    let run = Test::new()
        .lab(lab)
        .json_log()
        .playbook(&format!(
            r#"task("hang", host("{host}"), |h| h.run("sleep 300; echo tr-hang-marker", #{{ timeout: 2 }}));"#
        ))
        .code(2)
        .stdout_has("timed out after 2s (killed on the host)")
        .run();
    assert!(run.elapsed < Duration::from_secs(15), "took {:?}", run.elapsed);
    assert_eq!(run.recap(host)["failed"], 1);
    // pgrep exits 1 when nothing matches (its own sh -c is excluded by the [t] trick).
    assert_eq!(lab.ssh(host, "pgrep -f '[t]r-hang-marker'").0, 1, "the command still runs on the host");
    assert_eq!(lab.ssh(host, "pgrep -x sleep -a | grep -c 'sleep 300'").1.trim(), "0");
}

/// The host-side end of the host's veth, found by bridge membership: the host's host0 names its peer.
fn veth_of(lab: &Lab, host: &str) -> String {
    let peer: u32 = lab.sh(host, "cat /sys/class/net/host0/iflink").trim().parse().unwrap();
    let bridge = format!("rb-{}", lab.name);
    let out = Command::new("ip").args(["-o", "link", "show", "master", &bridge]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for line in text.lines() {
        let mut fields = line.split(": ");
        let index: u32 = fields.next().unwrap().trim().parse().unwrap();
        let name = fields.next().unwrap().split('@').next().unwrap().to_string();
        if index == peer {
            return name;
        }
    }
    panic!("no port of {bridge} is {host}'s veth (index {peer}): {text}");
}

/// Sets a link down for the guard's life; up again in Drop (also when an assertion fails).
struct LinkDown(String);

impl LinkDown {
    fn new(link: &str) -> LinkDown {
        assert!(Command::new("ip").args(["link", "set", link, "down"]).status().unwrap().success());
        LinkDown(link.to_string())
    }
}

impl Drop for LinkDown {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["link", "set", &self.0, "up"]).status();
    }
}

#[test]
fn a_link_cut_mid_upload_leaves_the_old_file_and_a_later_run_completes_it() {
    require_lab!();
    let lab = lab();
    let host = lab.host(4);
    wait_ssh(lab, host, Duration::from_secs(60));
    lab.sh(host, "rm -f /root/.runbook.*; printf 'old\\n' > /root/tr-upload");
    let veth = veth_of(lab, host);
    let dir = tempfile::tempdir().unwrap();
    // 64 MiB: above the inline limit, so it streams on its own channel for a few seconds.
    let big: Vec<u8> = (0..64 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(dir.path().join("big"), &big).unwrap();
    write_playbook(
        dir.path(),
        &format!(r#"task("big upload", host("{host}"), |h| h.upload("big", "/root/tr-upload"));"#),
    );
    let log = dir.path().join("events.jsonl");
    let mut run = Background::start(dir.path(), &lab.inventory(), &["--log-json", log.to_str().unwrap()]);
    let started = Instant::now();
    while lab.ssh(host, "ls /root/.runbook.* >/dev/null 2>&1").0 != 0 {
        assert!(started.elapsed() < Duration::from_secs(60), "the upload never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    let down = LinkDown::new(&veth);
    let cut = Instant::now();
    let (code, stdout, _, ended) = run.finish(Duration::from_secs(120));
    let detected = ended.duration_since(cut);
    eprintln!("link cut -> host given up and run ended: {detected:?}");
    drop(down);
    assert_eq!(code, 3, "{stdout}");
    assert!(stdout.contains(&format!("{host}: unreachable in task \"big upload\"")), "{stdout}");
    assert!(detected < Duration::from_secs(40), "a dead link held the run for {detected:?}");
    wait_ssh(lab, host, Duration::from_secs(30));
    assert_eq!(lab.sh(host, "head -c 100 /root/tr-upload"), "old\n", "the destination was replaced half-way");

    // The next run puts the whole new file there.
    let inventory = lab.inventory().display().to_string();
    Test::new().in_dir(dir.path()).args(&["run", "site.rhai", "-i", &inventory]).run();
    let expected = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(&big))
    };
    assert_eq!(lab.sh(host, "sha256sum < /root/tr-upload | cut -c1-64").trim(), expected);
    // A temp file of the cut transfer is removed once the host's side sees the connection end; give it time.
    let started = Instant::now();
    while lab.sh(host, "ls -A /root | grep -c '^.runbook' || true").trim() != "0" {
        if started.elapsed() > Duration::from_secs(20) {
            eprintln!(
                "NOTE: a temp file of the cut upload is still on the host (its sshd has not noticed the dead TCP connection)"
            );
            lab.sh(host, "rm -f /root/.runbook.*");
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn ctrl_c_starts_nothing_new_lets_running_commands_finish_and_exits_130() {
    require_lab!();
    let lab = lab();
    let hosts = [lab.host(5), lab.host(1)];
    clean(lab, &hosts, "/root/tr-int");
    let dir = tempfile::tempdir().unwrap();
    write_playbook(
        dir.path(),
        r#"
        task("running", hosts(), |h| {
            h.run("mkdir -p /root/tr-int && sleep 4.03 && touch /root/tr-int/finished");
            h.run("touch /root/tr-int/next-step");
        });
        task("next task", hosts(), |h| h.write("x\n", "/root/tr-int/next-task"));
        "#,
    );
    let mut run = Background::start(dir.path(), &lab.inventory(), &["--limit", &limit(&hosts)]);
    for host in hosts {
        wait_running(lab, host, "[s]leep 4.03");
    }
    let sent = Instant::now();
    run.signal(libc::SIGINT);
    let (code, stdout, stderr, ended) = run.finish(Duration::from_secs(30));
    eprintln!("SIGINT -> exit: {:?}", ended.duration_since(sent));
    assert_eq!(code, 130, "{stdout}\n{stderr}");
    assert!(stderr.contains("interrupted: finishing running commands"), "{stderr}");
    assert!(stdout.contains("interrupted after"), "the recap prints: {stdout}");
    for host in hosts {
        assert_eq!(
            lab.sh(host, "ls -A /root/tr-int").split_whitespace().collect::<Vec<_>>(),
            ["finished"],
            "on {host}"
        );
    }

    // A second Ctrl-C stops at once, even with a command still running.
    clean(lab, &hosts, "/root/tr-int");
    write_playbook(dir.path(), r#"task("long", hosts(), |h| h.run("sleep 60.04"));"#);
    let mut run = Background::start(dir.path(), &lab.inventory(), &["--limit", &limit(&hosts)]);
    wait_running(lab, hosts[0], "[s]leep 60.04");
    run.signal(libc::SIGINT);
    std::thread::sleep(Duration::from_millis(300));
    let sent = Instant::now();
    run.signal(libc::SIGINT);
    let (code, _, stderr, ended) = run.finish(Duration::from_secs(10));
    assert_eq!(code, 130, "{stderr}");
    assert!(stderr.contains("interrupted again: stopping now"), "{stderr}");
    assert!(ended.duration_since(sent) < Duration::from_secs(2), "{:?}", ended.duration_since(sent));
    for host in hosts {
        let _ = lab.ssh(host, "pkill -f '[s]leep 60.04'");
    }
}

#[test]
fn ctrl_c_gives_a_running_command_a_grace_period_then_gives_up() {
    require_lab!();
    let lab = lab();
    let host = lab.host(5);
    let dir = tempfile::tempdir().unwrap();
    write_playbook(dir.path(), r#"task("stuck", hosts(), |h| h.run("sleep 40.05"));"#);
    let mut run = Background::start(dir.path(), &lab.inventory(), &["--limit", host]);
    wait_running(lab, host, "[s]leep 40.05");
    let sent = Instant::now();
    run.signal(libc::SIGINT);
    let (code, stdout, _, ended) = run.finish(Duration::from_secs(30));
    let waited = ended.duration_since(sent);
    assert_eq!(code, 130, "{stdout}");
    assert!(stdout.contains("grace period"), "{stdout}");
    assert!(waited >= Duration::from_secs(9) && waited < Duration::from_secs(15), "{waited:?}");
    let _ = lab.ssh(host, "pkill -f '[s]leep 40.05'");
}

/// iptables rules for the test's life, removed in Drop (also when the test fails).
struct Rules(Vec<Vec<String>>);

impl Rules {
    fn add(&mut self, rule: &[&str]) {
        let rule: Vec<String> = rule.iter().map(|s| s.to_string()).collect();
        let status = Command::new("iptables").arg("-I").args(&rule).status().unwrap();
        assert!(status.success(), "iptables -I {rule:?}");
        self.0.push(rule);
    }
}

impl Drop for Rules {
    fn drop(&mut self) {
        for rule in self.0.iter().rev() {
            let _ = Command::new("iptables").arg("-D").args(rule).status();
        }
    }
}

/// The NFQUEUE delayer (tests/support/delayer.c), built with the system C compiler; killed in Drop.
struct Delayer(Child);

impl Delayer {
    fn start(queue: u16, millis: u32) -> Delayer {
        let out = std::env::temp_dir().join(format!("tr-delayer-{}", std::process::id()));
        let status = Command::new("cc")
            .args(["-O2", "-o"])
            .arg(&out)
            .arg(support::repo_root().join("tests/support/delayer.c"))
            .arg("-lnetfilter_queue")
            .status()
            .expect("a C compiler");
        assert!(status.success(), "delayer.c builds (needs libnetfilter-queue-dev)");
        let child = Command::new(&out).args([queue.to_string(), millis.to_string()]).spawn().unwrap();
        std::thread::sleep(Duration::from_millis(300));
        Delayer(child)
    }
}

impl Drop for Delayer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_shipped_prepare_playbook_completes_with_25ms_latency_and_2_percent_loss() {
    require_lab!();
    let source = support::repo_root().join("playbooks/inventory.yaml");
    let lab = Lab::get_from_inventory(&SEED, "trl", &source, "10.254.3.0/24");
    let bridge = format!("rb-{}", lab.name);
    let first = lab.host(0);
    let mut rules = Rules(Vec::new());
    let delayer = Delayer::start(4242, 25);
    // Controller -> hosts: held 25 ms by the delayer (--queue-bypass: if it dies, packets pass undelayed).
    rules.add(&["OUTPUT", "-o", &bridge, "-j", "NFQUEUE", "--queue-num", "4242", "--queue-bypass"]);
    // 2 % loss each way, and between hosts.
    for chain in [["OUTPUT", "-o"], ["INPUT", "-i"]] {
        rules.add(&[
            chain[0],
            chain[1],
            &bridge,
            "-m",
            "statistic",
            "--mode",
            "random",
            "--probability",
            "0.02",
            "-j",
            "DROP",
        ]);
    }
    rules.add(&[
        "FORWARD",
        "-i",
        &bridge,
        "-o",
        &bridge,
        "-m",
        "statistic",
        "--mode",
        "random",
        "--probability",
        "0.02",
        "-j",
        "DROP",
    ]);
    // The impairment is real: a TCP handshake with the host (one round trip) now takes 25 ms or more. (No
    // ping on the controller; connect() to sshd measures the same thing.)
    let address: std::net::SocketAddr = format!("{}:22", lab.address(first)).parse().unwrap();
    let fastest = (0..5)
        .map(|_| {
            let started = Instant::now();
            let _ = std::net::TcpStream::connect_timeout(&address, Duration::from_secs(5)).unwrap();
            started.elapsed()
        })
        .min()
        .unwrap();
    eprintln!("TCP handshake with {first} under the delay: {fastest:?}");
    assert!(fastest >= Duration::from_millis(24), "handshake in {fastest:?}: the delay is not in place");

    let run = Test::new()
        .lab(lab)
        .shipped("playbooks/prepare-hosts.rhai")
        .args(&["--idempotence"])
        .stdout_has("the second run changed nothing")
        .run();
    drop(rules);
    drop(delayer);
    eprintln!("prepare-hosts twice on {} hosts at 25 ms + 2 % loss: {:?}", lab.hosts.len(), run.elapsed);
    // What the playbook was for, checked with the system ssh client on every host.
    for host in &lab.hosts {
        let hostname = lab.sh(host, "hostname");
        assert!(hostname.trim().starts_with(host.as_str()), "{host} is called {hostname}");
        let hosts_file = lab.sh(host, "cat /etc/hosts");
        for other in &lab.hosts {
            assert!(hosts_file.contains(other.as_str()), "/etc/hosts on {host} lacks {other}");
        }
    }
}

#[test]
fn fifty_hosts_with_five_failing_at_different_tasks_report_45_complete() {
    require_lab!();
    let lab = Lab::get(&FLEET, "tr50", 50, "10.254.50.0/24");
    let failing: Vec<(&str, &str)> = vec![
        (lab.host(3), "one"),
        (lab.host(11), "two"),
        (lab.host(22), "two"),
        (lab.host(37), "three"),
        (lab.host(49), "four"),
    ];
    let rule = failing
        .iter()
        .map(|(host, task)| {
            format!(r#"if h.name == "{host}" && task == "{task}" {{ h.run("echo tr-broken-{task} >&2; exit 9"); }}"#)
        })
        .collect::<Vec<_>>()
        .join("\n            ");
    let playbook = format!(
        r#"
        fn step(h, task) {{
            {rule}
            h.run("mkdir -p /root/tr-fleet && touch /root/tr-fleet/" + task);
        }}
        task("one", hosts(), |h| step(h, "one"));
        task("two", hosts(), |h| step(h, "two"));
        task("three", hosts(), |h| step(h, "three"));
        task("four", hosts(), |h| step(h, "four"));
        "#
    );
    lab.clean("/root/tr-fleet");
    let run = Test::new()
        .lab(lab)
        .json_log()
        .playbook(&playbook)
        // 50 SSH logins at once (each starts a PAM/systemd session) on 2 shared cores: allow for a busy machine.
        .args(&["--forks", "50", "--timeout", "30"])
        .code(2)
        .stdout_has("50 hosts: 45 ok, 5 failed")
        .run();
    eprintln!("50 hosts, 4 tasks: {:?}", run.elapsed);
    for host in &lab.hosts {
        let recap = run.recap(host);
        match failing.iter().find(|(h, _)| h == host) {
            Some((_, task)) => {
                assert_eq!(recap["failed"], 1, "{host}: {recap}");
                assert_eq!(recap["stopped_in"], *task, "{host}: {recap}");
                assert!(run.stdout.contains(&format!("{host}: failed in task \"{task}\"")), "{}", run.stdout);
                assert!(run.stdout.contains(&format!("tr-broken-{task}")));
                let done = lab.sh(host, "ls /root/tr-fleet 2>/dev/null || true");
                let expected: Vec<&str> =
                    ["four", "one", "three", "two"].into_iter().filter(|t| order(t) < order(task)).collect::<Vec<_>>();
                let mut expected = expected;
                expected.sort();
                assert_eq!(
                    done.split_whitespace().collect::<Vec<_>>(),
                    expected,
                    "{host} ran only the tasks before its failure"
                );
            }
            None => {
                assert_eq!(recap["ok"], 4, "{host}: {recap}");
                assert_eq!(recap["failed"], 0);
            }
        }
    }
    let last_failed = std::fs::read_to_string(run.dir.join(".runbook/last-failed")).unwrap();
    let mut recorded: Vec<&str> = last_failed.lines().collect();
    recorded.sort();
    let mut expected: Vec<&str> = failing.iter().map(|(h, _)| *h).collect();
    expected.sort();
    assert_eq!(recorded, expected);
}

fn order(task: &str) -> usize {
    ["one", "two", "three", "four"].iter().position(|t| *t == task).unwrap()
}
