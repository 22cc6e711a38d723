//! The integration tests' vocabulary: a shared lab of real hosts (systemd-nspawn, real sshd) and a small
//! `Test` builder that states the playbook, the arguments and what must come out, so each test reads as a
//! line of the spec. Checks on hosts go through the system `ssh` client, independent of runbook's transport.
//!
//! Every `runbook` the tests start goes through `Test` (input on stdin included), except where a test needs
//! the process itself, and a comment at the call says which: a run interrupted, killed or signalled mid-way, or
//! watched from outside while it runs (`Command::spawn`); or the lab's own set-up and teardown (`Lab`,
//! `lab_down`, `lab up` restarting hosts a test powered off, a lab test's `Drop` that must not panic).
//! Other programs (ansible, ssh, pre-commit, chromium) are started with `Command` directly: they are the oracles.
//! So is a command line the project ships for users (the CI step `init` writes, the pre-commit hook): it runs as
//! written, through `sh` or pre-commit, with runbook found on PATH.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub const RUNBOOK: &str = env!("CARGO_BIN_EXE_runbook");

pub fn is_root() -> bool {
    // SAFETY: geteuid cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Lab tests need root (bridge, cgroups, nspawn). Without it they FAIL, loudly: a lab test that passes by
/// not running proves nothing. A run that cannot have a lab says so explicitly with
/// `RUNBOOK_TESTS_WITHOUT_LAB=1`; then, and only then, the test is skipped (and says so).
macro_rules! require_lab {
    () => {
        if !$crate::support::is_root() {
            if $crate::support::lab_opted_out() {
                eprintln!("SKIPPED (RUNBOOK_TESTS_WITHOUT_LAB=1): lab tests need root (bridge, cgroups, nspawn)");
                return;
            }
            panic!(
                "lab tests need root (bridge, cgroups, nspawn); run as root, or set RUNBOOK_TESTS_WITHOUT_LAB=1 to skip them explicitly"
            );
        }
    };
}

/// Whether this test run explicitly gave up the lab (`RUNBOOK_TESTS_WITHOUT_LAB=1`).
pub fn lab_opted_out() -> bool {
    std::env::var("RUNBOOK_TESTS_WITHOUT_LAB").is_ok_and(|value| value == "1")
}

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A lab shared by the tests of one test binary; `lab up` is idempotent, so a lab left up by an earlier run is
/// reused. `.ci/run` takes every lab down at the end.
pub struct Lab {
    pub name: &'static str,
    pub hosts: Vec<String>,
    pub addresses: Vec<String>,
}

impl Lab {
    pub fn get(cell: &'static OnceLock<Lab>, name: &'static str, count: usize, subnet: &str) -> &'static Lab {
        cell.get_or_init(|| Lab::up(name, &["--hosts", &count.to_string(), "--subnet", subnet], Some(count)))
    }

    /// A light lab (`lab up --light`: sshd in namespaces, no systemd) of `count` anonymous hosts.
    pub fn light(name: &'static str, count: usize, subnet: &str) -> Lab {
        Lab::up(name, &["--light", "--hosts", &count.to_string(), "--subnet", subnet], Some(count))
    }

    /// A fresh lab mirroring an inventory of the repository (purged first: tests of a whole flow need clean
    /// hosts).
    pub fn fresh_from(
        cell: &'static OnceLock<Lab>,
        name: &'static str,
        inventory: &str,
        subnet: &str,
        count: usize,
    ) -> &'static Lab {
        cell.get_or_init(|| {
            lab_down(name);
            let inventory = repo_root().join(inventory).display().to_string();
            Lab::up(name, &["-i", &inventory, "--subnet", subnet], Some(count))
        })
    }

    fn up(name: &'static str, args: &[&str], count: Option<usize>) -> Lab {
        {
            // The lab's own set-up: runs before any `Test` and outlives it.
            let output = Command::new(RUNBOOK)
                .args(["lab", "up", "--name", name])
                .args(args)
                .current_dir(repo_root())
                .output()
                .expect("runbook lab up runs");
            assert!(
                output.status.success(),
                "lab up failed:\n{}\n{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
            let inventory: serde_json::Value = {
                let text = std::fs::read_to_string(Lab::inventory_path_of(name)).expect("lab inventory");
                serde_saphyr::from_str(&text).expect("lab inventory parses")
            };
            let mut hosts = Vec::new();
            let mut addresses = Vec::new();
            collect_hosts(&inventory["all"], &mut hosts, &mut addresses);
            if let Some(count) = count {
                assert_eq!(hosts.len(), count, "lab {name} has {hosts:?}");
            }
            Lab { name, hosts, addresses }
        }
    }

    /// A lab whose hosts mirror an inventory (`lab up -i`): same names and groups, addresses on `subnet`.
    pub fn get_from_inventory(
        cell: &'static OnceLock<Lab>,
        name: &'static str,
        source: &Path,
        subnet: &str,
    ) -> &'static Lab {
        cell.get_or_init(|| Lab::up(name, &["--subnet", subnet, "-i", &source.display().to_string()], None))
    }

    fn inventory_path_of(name: &str) -> PathBuf {
        repo_root().join(".runbook").join(name).join("inventory.yaml")
    }

    pub fn inventory(&self) -> PathBuf {
        Lab::inventory_path_of(self.name)
    }

    pub fn dir(&self) -> PathBuf {
        repo_root().join(".runbook").join(self.name)
    }

    pub fn host(&self, index: usize) -> &str {
        &self.hosts[index]
    }

    pub fn address(&self, host: &str) -> &str {
        let index = self.hosts.iter().position(|h| h == host).expect("a lab host");
        &self.addresses[index]
    }

    /// Runs a command on a lab host with the system ssh client; returns (exit code, stdout).
    pub fn ssh(&self, host: &str, command: &str) -> (i32, String) {
        let dir = self.dir();
        let output = Command::new("ssh")
            .args(["-F", "/dev/null", "-i"])
            .arg(dir.join("id_ed25519"))
            .arg("-o")
            .arg(format!("UserKnownHostsFile={}", dir.join("known_hosts").display()))
            .args(["-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes"])
            .arg(format!("root@{}", self.address(host)))
            .arg(command)
            .output()
            .expect("ssh runs");
        (output.status.code().unwrap_or(-1), String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// Removes what an earlier run of a test left on every host (labs are reused between runs).
    pub fn clean(&self, paths: &str) {
        for host in &self.hosts {
            self.sh(host, &format!("rm -rf {paths}"));
        }
    }

    /// stdout of a command that must succeed on the host.
    pub fn sh(&self, host: &str, command: &str) -> String {
        let (code, stdout) = self.ssh(host, command);
        assert_eq!(code, 0, "`{command}` on {host} exited {code}: {stdout}");
        stdout
    }
}

fn collect_hosts(group: &serde_json::Value, hosts: &mut Vec<String>, addresses: &mut Vec<String>) {
    if let Some(map) = group.get("hosts").and_then(|h| h.as_object()) {
        for (name, vars) in map {
            if !hosts.contains(name) {
                hosts.push(name.clone());
                let address = vars
                    .get("address")
                    .or_else(|| vars.get("ansible_host"))
                    .and_then(|a| a.as_str())
                    .unwrap_or(name)
                    .to_string();
                addresses.push(address);
            }
        }
    }
    if let Some(children) = group.get("children").and_then(|c| c.as_object()) {
        for child in children.values() {
            collect_hosts(child, hosts, addresses);
        }
    }
}

/// Takes lab `name` down and purges it (a test that needs fresh hosts, or cleans up after itself).
pub fn lab_down(name: &str) -> Output {
    // The lab's own teardown: its callers decide whether a failure matters, so it asserts nothing.
    Command::new(RUNBOOK)
        .args(["lab", "down", "--name", name, "--purge"])
        .current_dir(repo_root())
        .output()
        .expect("runbook lab down runs")
}

/// One run of `runbook`: the files it sees, the arguments, and what must come out.
pub struct Test {
    dir: tempfile::TempDir,
    args: Vec<String>,
    inventory: Option<PathBuf>,
    playbook: Option<String>,
    shipped: Option<PathBuf>,
    env: Vec<(String, String)>,
    env_removed: Vec<String>,
    stdin: Option<String>,
    /// Where runbook runs when not in the test's own folder (a site folder, the repository).
    cwd: Option<PathBuf>,
    /// `None` when the test checks `Run::code` itself (`any_code`).
    expected_code: Option<i32>,
    stdout_has: Vec<String>,
    stdout_lacks: Vec<String>,
    stderr_has: Vec<String>,
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
    pub dir: PathBuf,
}

impl Run {
    /// The `--log-json` events of the run, when the test asked for them with `.json_log()`.
    pub fn events(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(self.dir.join("events.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|line| serde_json::from_str(line).expect("each event line is JSON"))
            .collect()
    }

    pub fn recap(&self, host: &str) -> serde_json::Value {
        let events = self.events();
        let recap = events.iter().rev().find(|e| e["event"] == "recap").expect("a recap event");
        recap["hosts"].as_array().unwrap().iter().find(|h| h["host"] == host).cloned().unwrap_or_default()
    }
}

impl Test {
    pub fn new() -> Test {
        Test {
            dir: tempfile::tempdir().expect("a temp dir"),
            args: Vec::new(),
            inventory: None,
            playbook: None,
            shipped: None,
            env: Vec::new(),
            env_removed: Vec::new(),
            stdin: None,
            cwd: None,
            expected_code: Some(0),
            stdout_has: Vec::new(),
            stdout_lacks: Vec::new(),
            stderr_has: Vec::new(),
        }
    }

    pub fn lab(mut self, lab: &Lab) -> Test {
        self.inventory = Some(lab.inventory());
        self
    }

    pub fn inventory_file(mut self, path: impl Into<PathBuf>) -> Test {
        self.inventory = Some(path.into());
        self
    }

    /// The playbook's text (written as site.rhai in the test's folder).
    pub fn playbook(mut self, text: &str) -> Test {
        self.playbook = Some(text.to_string());
        self
    }

    /// A playbook of the repository (e.g. "playbooks/ha-lb.rhai") instead of an inline one.
    pub fn shipped(mut self, path: &str) -> Test {
        self.shipped = Some(repo_root().join(path));
        self
    }

    /// Another file beside the playbook (templates, uploads, modules).
    pub fn file(self, name: &str, content: &str) -> Test {
        let path = self.dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
        self
    }

    pub fn args(mut self, args: &[&str]) -> Test {
        self.args.extend(args.iter().map(|a| a.to_string()));
        self
    }

    pub fn env(mut self, name: &str, value: &str) -> Test {
        self.env.push((name.into(), value.into()));
        self
    }

    /// Runs without `name` in the environment (e.g. `ANSIBLE_CONFIG`), whatever the test process has.
    pub fn env_remove(mut self, name: &str) -> Test {
        self.env_removed.push(name.into());
        self
    }

    /// Runs in `dir` (a site folder made by the test) instead of the test's own temporary folder.
    pub fn in_dir(mut self, dir: impl Into<PathBuf>) -> Test {
        self.cwd = Some(dir.into());
        self
    }

    pub fn json_log(self) -> Test {
        let path = self.dir.path().join("events.jsonl").display().to_string();
        self.args(&["--log-json", &path])
    }

    pub fn code(mut self, code: i32) -> Test {
        self.expected_code = Some(code);
        self
    }

    /// The exit code is the test's to check (it compares two runs' codes, or each case of a table has its
    /// own): `run()` asserts none, and the test must assert on `Run::code`.
    pub fn any_code(mut self) -> Test {
        self.expected_code = None;
        self
    }

    /// What runbook reads on its standard input (without it, none: stdin is closed): a password asked for
    /// by -k, -K or --ask-vault-pass when there is no terminal, or the text of `vault encrypt --output -`.
    pub fn stdin(mut self, text: &str) -> Test {
        self.stdin = Some(text.into());
        self
    }

    pub fn stdout_has(mut self, text: &str) -> Test {
        self.stdout_has.push(text.into());
        self
    }

    pub fn stdout_lacks(mut self, text: &str) -> Test {
        self.stdout_lacks.push(text.into());
        self
    }

    pub fn stderr_has(mut self, text: &str) -> Test {
        self.stderr_has.push(text.into());
        self
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Runs `runbook run site.rhai -i INVENTORY ARGS` (or `runbook ARGS` with neither a playbook nor a shipped
    /// one) and checks the expectations.
    pub fn run(self) -> Run {
        let mut command = Command::new(RUNBOOK);
        command.current_dir(self.cwd.as_deref().unwrap_or(self.dir.path())).env("NO_COLOR", "1");
        for (name, value) in &self.env {
            command.env(name, value);
        }
        for name in &self.env_removed {
            command.env_remove(name);
        }
        let playbook = match (&self.playbook, &self.shipped) {
            (Some(text), _) => {
                std::fs::write(self.dir.path().join("site.rhai"), text).unwrap();
                Some(PathBuf::from("site.rhai"))
            }
            (None, Some(path)) => Some(path.clone()),
            (None, None) => None,
        };
        if let Some(playbook) = playbook {
            command.arg("run").arg(playbook);
            if let Some(inventory) = &self.inventory {
                command.arg("-i").arg(inventory);
            }
        }
        command.args(&self.args);
        let started = Instant::now();
        let output: Output = match &self.stdin {
            None => command.output().expect("runbook runs"),
            Some(text) => {
                use std::io::Write;
                command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
                let mut child = command.spawn().expect("runbook runs");
                child.stdin.take().unwrap().write_all(text.as_bytes()).expect("runbook reads its stdin");
                child.wait_with_output().expect("runbook runs")
            }
        };
        let run = Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            elapsed: started.elapsed(),
            dir: self.dir.path().to_path_buf(),
        };
        let context = format!("\n--- stdout:\n{}\n--- stderr:\n{}", run.stdout, run.stderr);
        if let Some(code) = self.expected_code {
            assert_eq!(run.code, code, "exit code{context}");
        }
        for text in &self.stdout_has {
            assert!(run.stdout.contains(text.as_str()), "stdout lacks {text:?}{context}");
        }
        for text in &self.stdout_lacks {
            assert!(!run.stdout.contains(text.as_str()), "stdout has {text:?}{context}");
        }
        for text in &self.stderr_has {
            assert!(run.stderr.contains(text.as_str()), "stderr lacks {text:?}{context}");
        }
        // Keep the folder alive for events() by leaking it: tests are short-lived processes.
        std::mem::forget(self.dir);
        run
    }
}

impl Default for Test {
    fn default() -> Test {
        Test::new()
    }
}

/// Loopback "hosts" that record whether anyone connected: a run refused before any host is touched leaves
/// them untouched. One listener per address (127.x.y.z all reach this machine), all on one port.
pub struct Tripwires {
    listeners: Vec<std::net::TcpListener>,
    pub port: u16,
}

impl Tripwires {
    pub fn on(addresses: &[&str]) -> Tripwires {
        let first = std::net::TcpListener::bind((addresses[0], 0)).expect("a loopback listener");
        let port = first.local_addr().unwrap().port();
        let mut listeners = vec![first];
        for address in &addresses[1..] {
            listeners.push(
                std::net::TcpListener::bind((*address, port)).expect("the same port on another loopback address"),
            );
        }
        for listener in &listeners {
            listener.set_nonblocking(true).unwrap();
        }
        Tripwires { listeners, port }
    }

    pub fn assert_untouched(&self) {
        for listener in &self.listeners {
            match listener.accept() {
                Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {}
                Ok((_, from)) => panic!("runbook connected to {} (from {from})", listener.local_addr().unwrap()),
                Err(error) => panic!("accept: {error}"),
            }
        }
    }
}

/// Debian's headless Chromium, which the report tests open pages in (installed by `install-deps --for-tests`).
pub fn chromium() -> &'static str {
    ["chromium", "chromium-browser"]
        .into_iter()
        .find(|name| Command::new(name).arg("--version").output().is_ok_and(|o| o.status.success()))
        .expect("chromium is missing: scripts/install-deps --for-tests installs it")
}

/// Opens `page` in headless Chromium and screenshots it to `png`: fails the test on a console message or an
/// uncaught error, or on anything but a real PNG. Returns the page's DOM as Chromium built it.
pub fn open_in_chromium(page: &Path, png: &Path, size: (u32, u32)) -> String {
    let output = Command::new(chromium())
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0"])
        .arg(format!("--window-size={},{}", size.0, size.1))
        .arg("--virtual-time-budget=2000")
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium runs");
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "chromium failed:\n{log}");
    assert!(!log.contains("CONSOLE") && !log.contains("Uncaught"), "the page logged to its console:\n{log}");
    let bytes = std::fs::read(png).expect("a screenshot");
    assert!(bytes.starts_with(b"\x89PNG") && bytes.len() > 5_000, "a real screenshot, {} bytes", bytes.len());
    let dom = Command::new(chromium())
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--dump-dom"])
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium runs");
    String::from_utf8_lossy(&dom.stdout).into_owned()
}
