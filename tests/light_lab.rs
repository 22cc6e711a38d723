//! The light lab (`lab up --light`): hundreds of real sshd hosts, each in its own namespaces with its own root,
//! on one machine. A lab boots, takes a playbook that writes files and runs commands, and goes down leaving no
//! process, veth, mount or cgroup behind; 500 hosts with `-f 500` are all reached in one run.

mod support;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use support::{Lab, RUNBOOK, Test, repo_root};

fn down(name: &str) {
    let output = Command::new(RUNBOOK)
        .args(["lab", "down", "--name", name, "--purge"])
        .current_dir(repo_root())
        .output()
        .expect("runbook lab down runs");
    assert!(output.status.success(), "lab down failed: {}", String::from_utf8_lossy(&output.stderr));
}

/// What the machine still shows of a lab: processes naming its directory, links on its bridge or named like its
/// veths, the bridge itself, mounts under its directory, its cgroups.
fn leftovers(name: &str) -> Vec<String> {
    let dir = format!("/var/lib/runbook/labs/{name}");
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else { continue };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cmdline.contains(&dir) {
            found.push(format!("process {}: {cmdline}", entry.file_name().to_string_lossy()));
        }
    }
    let links = Command::new("ip").args(["-o", "link", "show"]).output().unwrap();
    for line in String::from_utf8_lossy(&links.stdout).lines() {
        if line.contains(&format!("rb-{name}")) {
            found.push(format!("link: {line}"));
        }
    }
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    found.extend(mounts.lines().filter(|line| line.contains(&dir)).map(|line| format!("mount: {line}")));
    for hierarchy in ["unified", "memory", "systemd", ""] {
        let cgroup = Path::new("/sys/fs/cgroup").join(hierarchy).join("runbook").join(name);
        if cgroup.exists() {
            found.push(format!("cgroup {}", cgroup.display()));
        }
    }
    found
}

/// Host veths of the lab: light host veths hang on the lab's bridge while it exists; counted before `down`.
fn bridge_ports(name: &str) -> usize {
    let output = Command::new("ip").args(["-o", "link", "show", "master", &format!("rb-{name}")]).output().unwrap();
    String::from_utf8_lossy(&output.stdout).lines().count()
}

#[test]
fn a_light_lab_boots_takes_a_playbook_and_goes_down_leaving_nothing() {
    require_lab!();
    let name = "t-ll50";
    down(name);
    let started = Instant::now();
    let lab = Lab::light(name, 50, "10.248.0.0/24");
    eprintln!("50 light hosts up in {:.1} s", started.elapsed().as_secs_f64());
    assert_eq!(bridge_ports(name), 50);

    // Each host is itself: its own hostname, address, root filesystem and process table (sshd is PID 1).
    let first = lab.host(0).to_string();
    assert_eq!(lab.sh(&first, "hostname").trim(), first);
    assert!(lab.sh(&first, "ip -4 -o addr show eth0").contains(lab.address(&first)));
    assert_eq!(lab.sh(&first, "cat /proc/1/comm").trim(), "sshd");
    lab.sh(&first, "echo mine > /root/only-here");
    assert_ne!(lab.ssh(lab.host(1), "test -e /root/only-here").0, 0, "hosts share a root");
    assert!(!Path::new("/root/only-here").exists() || std::fs::read_to_string("/root/only-here").unwrap() != "mine\n");

    let playbook = r#"
        task("files", hosts(), |h| {
            h.write(`I am ${h.name}` + "\n", "/root/t-light/name.txt", #{ mkdir: true, mode: "0640" });
            h.write("same everywhere\n", "/etc/t-light.conf");
        });
        task("commands", hosts(), |h| {
            h.run("test -s /root/t-light/name.txt", #{ check_safe: true });
            h.run("touch /root/t-light/ran", #{ creates: "/root/t-light/ran" });
        });
    "#;
    let first_run = Test::new().lab(&lab).playbook(playbook).args(&["-f", "50"]).json_log().run();
    for host in &lab.hosts {
        assert_eq!(first_run.recap(host)["failed"], 0, "{host}");
        assert_eq!(first_run.recap(host)["unreachable"], 0, "{host}");
    }
    for host in [lab.host(0), lab.host(49)] {
        assert_eq!(lab.sh(host, "cat /root/t-light/name.txt"), format!("I am {host}\n"));
        assert_eq!(lab.sh(host, "stat -c %a /root/t-light/name.txt").trim(), "640");
        lab.sh(host, "test -e /root/t-light/ran && grep -qx 'same everywhere' /etc/t-light.conf");
    }
    // The second run changes nothing: the hosts kept their files.
    let second = Test::new().lab(&lab).playbook(playbook).args(&["-f", "50"]).json_log().run();
    for host in &lab.hosts {
        assert_eq!(second.recap(host)["changed"], 0, "{host} changed on the second run");
    }

    let status = Command::new(RUNBOOK).args(["lab", "status", "--name", name]).current_dir(repo_root()).output();
    let status = String::from_utf8_lossy(&status.unwrap().stdout).into_owned();
    assert_eq!(status.matches(" running ").count(), 50, "{status}");

    down(name);
    // The kernel frees a dead host's namespaces (and so its veth) asynchronously: give it a moment.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !leftovers(name).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(leftovers(name), Vec::<String>::new());
    assert!(!repo_root().join(".runbook").join(name).exists(), "purge keeps the lab's user files");
}
