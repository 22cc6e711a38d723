//! `--persist`: the connection holder keeps a run's SSH connections for the next run. Proven on real sshd:
//! the second run's commands come over the TCP connection the first run logged in on (`$SSH_CONNECTION` on the
//! host), and sshd's own journal shows that connection logged in exactly once.

use crate::support;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use support::{Lab, Test};

static LAB: OnceLock<Lab> = OnceLock::new();

fn lab() -> &'static Lab {
    Lab::get(&LAB, "t-cp", 2, "10.250.30.0/24")
}

/// A playbook that appends the host's view of the connection (`client-address client-port server-address
/// server-port`) to `file` (one file per test: tests run side by side on the same hosts).
fn record(file: &str) -> String {
    format!(r#"task("record", hosts(), |h| {{ h.run("echo $SSH_CONNECTION >> {file}"); }});"#)
}

/// A private folder for this test's holder, so tests never share one.
fn holder_dir() -> PathBuf {
    let base = tempfile::tempdir().unwrap().keep();
    base.join("holder")
}

fn connections(lab: &Lab, host: &str, file: &str) -> Vec<String> {
    lab.sh(host, &format!("cat {file}")).lines().map(str::to_string).collect()
}

fn client_port(line: &str) -> String {
    line.split_whitespace().nth(1).expect("SSH_CONNECTION has a client port").to_string()
}

fn holder_pid(dir: &Path) -> i32 {
    std::fs::read_to_string(dir.join("holder.pid")).expect("the holder wrote its pid").trim().parse().unwrap()
}

fn alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks that the process exists.
    unsafe { libc::kill(pid, 0) == 0 }
}

/// Ends the holder this test started (by its pid), so no test leaves one behind.
fn stop_holder(dir: &Path) {
    if let Ok(text) = std::fs::read_to_string(dir.join("holder.pid"))
        && let Ok(pid) = text.trim().parse::<i32>()
    {
        // SAFETY: a pid this test's holder wrote.
        unsafe { libc::kill(pid, libc::SIGTERM) };
    }
}

fn run_persisting(lab: &Lab, dir: &Path, persist: &str, file: &str) {
    Test::new()
        .lab(lab)
        .playbook(&record(file))
        .env("RUNBOOK_HOLDER_DIR", &dir.display().to_string())
        .args(&["--persist", persist])
        .run();
}

#[test]
fn a_second_run_with_persist_logs_in_no_more() {
    require_lab!();
    let lab = lab();
    let host = lab.host(0);
    let file = "/tmp/holder-conn-reuse";
    lab.clean(file);
    let dir = holder_dir();
    run_persisting(lab, &dir, "60", file);
    run_persisting(lab, &dir, "60", file);
    // `runbook exec` and an `--idempotence` pair go through the same holder.
    Test::new()
        .lab(lab)
        .playbook(&record(file))
        .env("RUNBOOK_PERSIST", "60s")
        .env("RUNBOOK_HOLDER_DIR", &dir.display().to_string())
        .args(&["--idempotence"])
        .code(2)
        .run();
    let seen = connections(lab, host, file);
    assert_eq!(seen.len(), 4, "{seen:?}");
    assert!(seen.iter().all(|line| line == &seen[0]), "every run used the first run's connection: {seen:?}");
    let port = client_port(&seen[0]);
    let journal = lab.sh(host, "journalctl -o cat _COMM=sshd | grep 'Accepted publickey'");
    let logins = journal.lines().filter(|line| line.contains(&format!(" port {port} "))).count();
    assert_eq!(logins, 1, "sshd logged that connection in once:\n{journal}");
    stop_holder(&dir);

    // Without --persist every run logs in again: the check above can tell the two apart.
    lab.clean(file);
    Test::new().lab(lab).playbook(&record(file)).run();
    Test::new().lab(lab).playbook(&record(file)).run();
    let seen = connections(lab, host, file);
    assert_ne!(client_port(&seen[0]), client_port(&seen[1]), "{seen:?}");
}

#[test]
fn a_changed_host_key_is_refused_through_the_holder() {
    require_lab!();
    let lab = lab();
    let host = lab.host(1);
    let test_dir = tempfile::tempdir().unwrap().keep();
    let known_hosts = test_dir.join("known_hosts");
    let own_line = std::fs::read_to_string(lab.dir().join("known_hosts"))
        .unwrap()
        .lines()
        .find(|line| line.starts_with(&format!("{} ", lab.address(host))))
        .unwrap()
        .to_string();
    std::fs::write(&known_hosts, format!("{own_line}\n")).unwrap();
    let inventory = test_dir.join("inventory.yaml");
    std::fs::write(
        &inventory,
        format!(
            "all:\n  hosts:\n    {host}:\n      address: \"{}\"\n  vars:\n    user: root\n    key: {}\n    known_hosts: {}\n",
            lab.address(host),
            lab.dir().join("id_ed25519").display(),
            known_hosts.display()
        ),
    )
    .unwrap();
    let dir = holder_dir();
    let run = |code: i32| {
        Test::new()
            .inventory_file(&inventory)
            .playbook(&record("/tmp/holder-conn-keys"))
            .env("RUNBOOK_HOLDER_DIR", &dir.display().to_string())
            .args(&["--persist", "60"])
            .code(code)
            .run()
    };
    run(0);
    // The host now "presents another key" as far as known_hosts is concerned: a machine in the middle.
    let other = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHnfG0TbNzJ0hLLJ5wSq1c9d+0ZvO5nYzG0aTJwYQ2sT";
    std::fs::write(&known_hosts, format!("{} {other}\n", lab.address(host))).unwrap();
    let refused = run(3);
    assert!(
        refused.stdout.contains("HOST KEY CHANGED") || refused.stderr.contains("HOST KEY CHANGED"),
        "{}{}",
        refused.stdout,
        refused.stderr
    );
    // Put right again, the host is reached again (a fresh login, checked against the file as it is now).
    std::fs::write(&known_hosts, format!("{own_line}\n")).unwrap();
    run(0);
    stop_holder(&dir);
}

#[test]
fn a_holder_folder_open_to_others_is_refused() {
    require_lab!();
    let lab = lab();
    let dir = holder_dir();
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    Test::new()
        .lab(lab)
        .playbook(&record("/tmp/holder-conn-refused"))
        .env("RUNBOOK_HOLDER_DIR", &dir.display().to_string())
        .args(&["--persist", "60"])
        .code(1)
        .stderr_has("refusing to use the connection holder's folder")
        .stderr_has("mode is 0755")
        .run();
    assert!(!dir.join("holder.sock").exists(), "no holder was started");
}

#[test]
fn the_holder_exits_after_its_idle_time() {
    require_lab!();
    let lab = lab();
    let dir = holder_dir();
    run_persisting(lab, &dir, "2s", "/tmp/holder-conn-idle");
    let pid = holder_pid(&dir);
    assert!(alive(pid), "the holder outlives the run");
    let started = Instant::now();
    while alive(pid) && started.elapsed() < Duration::from_secs(15) {
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(!alive(pid), "the holder {pid} still runs 15 s after a 2 s idle time");
    assert!(!dir.join("holder.sock").exists(), "the holder removed its socket");
}

#[test]
fn a_killed_holder_costs_one_login_not_the_run() {
    require_lab!();
    let lab = lab();
    let host = lab.host(0);
    let dir = holder_dir();
    let file = "/tmp/holder-conn-killed";
    lab.clean(file);
    run_persisting(lab, &dir, "60", file);
    let first = holder_pid(&dir);
    // SAFETY: the holder this test started.
    unsafe { libc::kill(first, libc::SIGKILL) };
    while alive(first) {
        std::thread::sleep(Duration::from_millis(50));
    }
    // Its socket is still in the folder, with no one listening: the next run starts a new holder.
    run_persisting(lab, &dir, "60", file);
    let second = holder_pid(&dir);
    assert_ne!(first, second);
    let seen = connections(lab, host, file);
    assert_ne!(client_port(&seen[0]), client_port(&seen[1]), "a new login through the new holder: {seen:?}");
    stop_holder(&dir);
}
