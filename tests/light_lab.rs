//! The light lab (`lab up --light`): hundreds of real sshd hosts, each in its own namespaces with its own root,
//! on one machine. A lab boots, takes a playbook that writes files and runs commands, and goes down leaving no
//! process, veth, mount or cgroup behind; 500 hosts with `-f 500` are all reached in one run.

use crate::support;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use support::{Lab, Test, repo_root};

fn down(name: &str) {
    let output = support::lab_down(name);
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

    let status = Test::new().in_dir(repo_root()).args(&["lab", "status", "--name", name]).run().stdout;
    assert_eq!(status.matches(" running ").count(), 50, "{status}");

    // A lab whose key went with the checkout that started it says so at once, instead of waiting out its ready
    // timeout on an ssh that cannot log in and then blaming the hosts.
    let key = repo_root().join(".runbook").join(name).join("id_ed25519");
    let aside = key.with_extension("aside");
    std::fs::rename(&key, &aside).unwrap();
    let again = Test::new()
        .in_dir(repo_root())
        .args(&["lab", "up", "--name", name])
        .code(1)
        .stderr_has("is running, but its key is gone from")
        .stderr_has(&format!("`runbook lab down --name {name}`"))
        .run();
    assert!(again.elapsed < Duration::from_secs(30), "lab up took {:?}", again.elapsed);
    std::fs::rename(&aside, &key).unwrap();

    down(name);
    // The kernel frees a dead host's namespaces (and so its veth) asynchronously: give it a moment.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !leftovers(name).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(leftovers(name), Vec::<String>::new());
    assert!(!repo_root().join(".runbook").join(name).exists(), "purge keeps the lab's user files");
}

/// `--shard I/N` splits a run across controllers: 4 shards of a 40-host light lab, run as 4 processes at once,
/// cover every host exactly once, and `recap merge` of their logs gives the recap (per host) and the exit code of
/// one run over the same hosts.
#[test]
fn four_shards_run_every_host_once_and_merge_into_the_recap_of_one_run() {
    require_lab!();
    let name = "t-sh40";
    down(name);
    let lab = Lab::light(name, 40, "10.248.1.0/24");
    // A mix of outcomes per host: every host changes, three fail, the rest read a file (ok).
    let failing: Vec<&str> = vec![lab.host(3), lab.host(17), lab.host(29)];
    let fail_hosts = serde_json::to_string(&serde_json::json!({ "fail_hosts": failing })).unwrap();
    let playbook = r#"
        task("mark", hosts(), |h| { h.write(`${vars.shard}` + "\n", "/root/shard-mark"); });
        task("check", hosts(), |h| {
            if vars.fail_hosts.contains(h.name) { h.run("false"); }
            h.read("/root/shard-mark");
        });
    "#;
    let clear = || lab.clean("/root/shard-mark");

    clear();
    let single = Test::new().lab(&lab).playbook(playbook).args(&["-e", "shard=all", "-e", &fail_hosts]).json_log();
    let single = single.code(2).run();

    clear();
    let shards: Vec<_> = std::thread::scope(|scope| {
        let running: Vec<_> = (0..4)
            .map(|index| {
                let (lab, fail_hosts, failing) = (&lab, &fail_hosts, &failing);
                scope.spawn(move || {
                    let shard = format!("{index}/4");
                    let shard_var = format!("shard={index}");
                    let test = Test::new().lab(lab).playbook(playbook).json_log();
                    let test = test.args(&["--shard", &shard, "-e", &shard_var, "-e", fail_hosts]);
                    // A shard's exit code is its own hosts' verdict.
                    let code =
                        if failing.iter().any(|host| runbook::inventory::shard_of(host, 4) == index) { 2 } else { 0 };
                    test.code(code).stderr_has(&format!("--shard {shard}: ")).run()
                })
            })
            .collect();
        running.into_iter().map(|handle| handle.join().expect("a shard's test thread")).collect()
    });

    // Every host ran in exactly one shard, the one its name decides, and was written by that shard only.
    let mut seen = std::collections::BTreeMap::new();
    for (index, shard) in shards.iter().enumerate() {
        let start = shard.events().into_iter().find(|e| e["event"] == "run_start").expect("run_start");
        for host in start["hosts"].as_array().unwrap() {
            let host = host.as_str().unwrap().to_string();
            assert_eq!(runbook::inventory::shard_of(&host, 4), index as u32, "{host} ran in shard {index}");
            assert!(seen.insert(host.clone(), index).is_none(), "{host} ran in two shards");
            assert_eq!(lab.sh(&host, "cat /root/shard-mark").trim(), index.to_string(), "{host}'s mark");
        }
    }
    assert_eq!(seen.len(), 40, "every host ran in some shard: {seen:?}");

    let logs: Vec<String> = shards.iter().map(|shard| shard.dir.join("events.jsonl").display().to_string()).collect();
    let mut args = vec!["recap", "merge", "--json"];
    args.extend(logs.iter().map(String::as_str));
    let merged = Test::new().args(&args).code(2).run();
    let merged: serde_json::Value = serde_json::from_str(merged.stdout.trim()).expect("merge --json prints JSON");
    assert_eq!(merged["exit_code"], 2);
    let merged_hosts = merged["hosts"].as_array().unwrap();
    assert_eq!(merged_hosts.len(), 40);
    for host in &lab.hosts {
        let one = single.recap(host);
        let from_shards = merged_hosts.iter().find(|h| h["host"] == host.as_str()).expect("host in the merged recap");
        for count in ["ok", "changed", "failed", "skipped", "unreachable"] {
            assert_eq!(from_shards[count], one[count], "{host} {count}: shards {from_shards} vs one run {one}");
        }
    }
    assert!(failing.iter().all(|host| merged_hosts.iter().any(|h| h["host"] == *host && h["failed"] == 1)));
    // The table, as a run prints it.
    let mut args = vec!["recap", "merge"];
    args.extend(logs.iter().map(String::as_str));
    Test::new().args(&args).code(2).stdout_has(&format!("{} ", lab.host(3))).run();
    down(name);
}
