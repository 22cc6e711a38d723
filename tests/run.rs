//! `runbook run` against a lab of ten real hosts: the core issue's definition of done, one test each.

use crate::support;

use std::sync::OnceLock;
use std::time::Duration;

use support::{Lab, Test};

static LAB: OnceLock<Lab> = OnceLock::new();
static REBOOT_LAB: OnceLock<Lab> = OnceLock::new();

fn lab() -> &'static Lab {
    Lab::get(&LAB, "t-core", 10, "10.251.10.0/24")
}

#[test]
fn a_task_runs_on_all_hosts_at_once() {
    require_lab!();
    let lab = lab();
    let run =
        Test::new().lab(lab).playbook(r#"task("sleep", hosts(), |h| h.run("sleep 1", #{ check_safe: true }));"#).run();
    // Ten hosts one after another would take 10 s; connecting all ten takes ~1.5 s here.
    assert!(run.elapsed < Duration::from_secs(6), "took {:?}", run.elapsed);
}

#[test]
fn serial_runs_hosts_in_batches_and_run_once_on_one_host() {
    require_lab!();
    let lab = lab();
    lab.clean("/root/t-serial");
    let run = Test::new()
        .lab(lab)
        .playbook(
            r#"
            let four = hosts().extract(0, 4);
            task("batches", four, #{ serial: 2 }, |h| {
                h.run("mkdir -p /root/t-serial && date +%s.%N > /root/t-serial/start && sleep 1 && date +%s.%N > /root/t-serial/end");
            });
            task("once", hosts(), #{ run_once: true }, |h| h.run("touch /root/t-serial/once"));
            "#,
        )
        .run();
    assert!(run.elapsed >= Duration::from_secs(2), "two batches of a 1 s sleep: {:?}", run.elapsed);
    let times: Vec<(f64, f64)> = (0..4)
        .map(|i| {
            let host = lab.host(i);
            let start: f64 = lab.sh(host, "cat /root/t-serial/start").trim().parse().unwrap();
            let end: f64 = lab.sh(host, "cat /root/t-serial/end").trim().parse().unwrap();
            (start, end)
        })
        .collect();
    // The second batch starts after the first one ended.
    assert!(times[2].0 >= times[0].1.min(times[1].1), "{times:?}");
    assert!(times[3].0 >= times[0].1.min(times[1].1), "{times:?}");
    let with_once: Vec<&String> =
        lab.hosts.iter().filter(|h| lab.ssh(h, "test -e /root/t-serial/once").0 == 0).collect();
    assert_eq!(with_once, vec![lab.host(0)]);
}

#[test]
fn tags_limit_and_start_at_task_select_what_runs() {
    require_lab!();
    let lab = lab();
    lab.clean("/root/t-tags");
    let playbook = r#"
        task("first", hosts(), #{ tags: ["a"] }, |h| h.run("mkdir -p /root/t-tags && touch /root/t-tags/first"));
        task("second", hosts(), #{ tags: ["b"] }, |h| h.run("mkdir -p /root/t-tags && touch /root/t-tags/second"));
        task("third", hosts(), |h| h.run("mkdir -p /root/t-tags && touch /root/t-tags/third"));
    "#;
    let (one, two) = (lab.host(4), lab.host(5));
    Test::new().lab(lab).playbook(playbook).args(&["--limit", one, "--tags", "b"]).run();
    assert_eq!(lab.sh(one, "ls /root/t-tags").split_whitespace().collect::<Vec<_>>(), ["second"]);
    assert_eq!(lab.ssh(two, "test -e /root/t-tags").0, 1, "--limit kept the other hosts out");

    Test::new()
        .lab(lab)
        .playbook(playbook)
        .args(&["--limit", two, "--start-at-task", "second", "--skip-tags", "b"])
        .run();
    assert_eq!(lab.sh(two, "ls /root/t-tags").split_whitespace().collect::<Vec<_>>(), ["third"]);
}

#[test]
fn output_of_one_host_feeds_the_others() {
    require_lab!();
    let lab = lab();
    lab.clean("/root/t-token /root/t-token-copy");
    let first = lab.host(0);
    Test::new()
        .lab(lab)
        .playbook(&format!(
            r#"
            let token = host("{first}").run("cat /proc/sys/kernel/random/uuid > /root/t-token; cat /root/t-token").stdout.trim();
            task("use token", hosts(), |h| h.write(token, "/root/t-token-copy"));
            "#
        ))
        .run();
    let token = lab.sh(first, "cat /root/t-token");
    for host in &lab.hosts {
        assert_eq!(lab.sh(host, "cat /root/t-token-copy"), token.trim());
    }
}

#[test]
fn check_mode_changes_nothing_and_says_what_would_change() {
    require_lab!();
    let lab = lab();
    let host = lab.host(6);
    let run = Test::new()
        .lab(lab)
        .playbook(
            r#"
            task("plan", hosts(), |h| {
                h.write("hello\n", "/root/t-check.txt");
                h.run("touch /root/t-check-ran");
                h.sysctl(#{ "net.ipv4.tcp_keepalive_time": 601 }, #{ file: "/root/t-check-sysctl.conf" });
            });
            "#,
        )
        .args(&["--limit", host, "--check", "--diff"])
        .stdout_has("+hello")
        .stdout_has("net.ipv4.tcp_keepalive_time: 7200 -> 601")
        .stdout_has("would run")
        .run();
    assert_eq!(run.code, 0);
    assert_eq!(lab.ssh(host, "ls /root/t-check.txt /root/t-check-ran /root/t-check-sysctl.conf").0, 2);
    assert_eq!(lab.sh(host, "sysctl -n net.ipv4.tcp_keepalive_time").trim(), "7200");
}

#[test]
fn a_second_run_changes_nothing() {
    require_lab!();
    let lab = lab();
    lab.clean("/root/t-idem /etc/sysctl.d/t-idem.conf");
    Test::new()
        .lab(lab)
        .file("templates/motd.j2", "{{ inventory_hostname }} at {{ host.address }}\n")
        .playbook(
            r#"
            task("converge", hosts(), |h| {
                h.write("a\n", "/root/t-idem/a", #{ mkdir: true, mode: "0640" });
                h.template("templates/motd.j2", "/root/t-idem/motd");
                h.run("touch /root/t-idem/flag", #{ creates: "/root/t-idem/flag" });
                h.sysctl(#{ "net.ipv4.tcp_keepalive_intvl": 15, "net.core.somaxconn": 16384 }, #{ file: "/etc/sysctl.d/t-idem.conf" });
            });
            "#,
        )
        .args(&["--idempotence", "--limit", &format!("{},{}", lab.host(7), lab.host(8))])
        .stdout_has("the second run changed nothing")
        .run();
    assert_eq!(lab.sh(lab.host(7), "stat -c %a /root/t-idem/a").trim(), "640");
    assert_eq!(
        lab.sh(lab.host(7), "cat /root/t-idem/motd").trim(),
        format!("{} at {}", lab.host(7), lab.address(lab.host(7)))
    );
}

#[test]
fn a_failing_host_does_not_stop_the_others() {
    require_lab!();
    let lab = lab();
    let bad = lab.host(1);
    let run = Test::new()
        .lab(lab)
        .json_log()
        .playbook(&format!(
            r#"
            task("maybe fail", hosts(), |h| {{ if h.name == "{bad}" {{ h.run("echo broken disk >&2; exit 7"); }} }});
            task("after", hosts(), |h| h.run("true", #{{ check_safe: true }}));
            "#
        ))
        .code(2)
        .stdout_has("broken disk")
        .stdout_has("site.rhai:2:")
        .run();
    let recap = run.recap(bad);
    assert_eq!(recap["failed"], 1);
    assert_eq!(recap["ok"], 0, "the failed host is left out of later tasks");
    assert_eq!(run.recap(lab.host(2))["ok"], 2);
    let failed_line = std::fs::read_to_string(run.dir.join(".runbook/last-failed")).unwrap();
    assert_eq!(failed_line.trim(), bad);
}

#[test]
fn an_unreachable_host_exits_3() {
    require_lab!();
    let lab = lab();
    let inventory = Test::new();
    let path = inventory.path().join("inventory.yaml");
    let dir = lab.dir();
    std::fs::write(
        &path,
        format!(
            "all:\n  vars:\n    user: root\n    key: {}/id_ed25519\n    known_hosts: {}/known_hosts\n  hosts:\n    up: {{ address: {} }}\n    gone: {{ address: 10.251.10.250 }}\n",
            dir.display(),
            dir.display(),
            lab.address(lab.host(0))
        ),
    )
    .unwrap();
    let run = Test::new()
        .inventory_file(&path)
        .json_log()
        .playbook(r#"task("ping", hosts(), |h| h.run("true"));"#)
        .args(&["--timeout", "2"])
        .code(3)
        .stdout_has("unreachable: gone")
        .run();
    assert_eq!(run.recap("gone")["unreachable"], 1);
    assert_eq!(run.recap("up")["ok"], 1);
}

#[test]
fn awkward_content_and_paths_arrive_intact() {
    require_lab!();
    let lab = lab();
    lab.clean("'/root/t awk' /root/t-pwned");
    let host = lab.host(3);
    let content = "it's \"quoted\" $(touch /root/t-pwned) `id` \\ \t end\n";
    let test = Test::new().file("files/up load.txt", content);
    test.lab(lab)
        .playbook(&format!(
            r#"
            task("awkward", host("{host}"), |h| {{
                h.write({content:?}, "/root/t awk/it's $(x).txt", #{{ mkdir: true, mode: "0600", owner: "nobody", group: "nogroup" }});
                h.upload("files/up load.txt", "/root/t awk/uploaded", #{{ mode: 0o640 }});
                let echo = h.run("cat", #{{ stdin: {content:?} }}).stdout;
                if echo != {content:?} {{ throw "stdin changed: " + echo; }}
            }});
            "#
        ))
        .run();
    assert_eq!(lab.sh(host, "cat \"/root/t awk/it's \\$(x).txt\""), content);
    assert_eq!(lab.sh(host, "stat -c '%a %U %G' \"/root/t awk/it's \\$(x).txt\"").trim(), "600 nobody nogroup");
    assert_eq!(lab.sh(host, "cat '/root/t awk/uploaded'"), content);
    assert_eq!(lab.sh(host, "stat -c %a '/root/t awk/uploaded'").trim(), "640");
    assert_eq!(lab.ssh(host, "test -e /root/t-pwned").0, 1, "nothing in the content ran");
    assert_eq!(lab.sh(host, "ls -A '/root/t awk' | grep -c runbook || true").trim(), "0", "no temp file left");
}

#[test]
fn a_killed_upload_never_leaves_a_partial_file() {
    require_lab!();
    let lab = lab();
    let host = lab.host(9);
    lab.sh(host, "printf 'old\\n' > /root/t-big");
    let test = Test::new();
    let big: String = "0123456789abcdef\n".repeat(8 * 1024 * 1024); // 136 MiB: streamed on its own channel
    std::fs::write(test.path().join("big"), &big).unwrap();
    std::fs::write(
        test.path().join("site.rhai"),
        format!(r#"task("big", host("{host}"), |h| h.upload("big", "/root/t-big"));"#),
    )
    .unwrap();
    // Spawned: the run is killed while its upload is on the way.
    let mut child = std::process::Command::new(support::RUNBOOK)
        .current_dir(test.path())
        .args(["run", "site.rhai", "-i"])
        .arg(lab.inventory())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Kill it while the new content is on its way: once the temp file shows up on the host.
    let started = std::time::Instant::now();
    while lab.ssh(host, "ls /root/.runbook.* >/dev/null 2>&1").0 != 0 {
        assert!(started.elapsed() < Duration::from_secs(60), "the upload never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(lab.sh(host, "cat /root/t-big | head -c 100"), "old\n", "the destination was replaced half-way");
    lab.sh(host, "rm -f /root/.runbook.*");
}

#[test]
fn errors_point_at_the_template_line_and_the_playbook_position() {
    require_lab!();
    let lab = lab();
    Test::new()
        .lab(lab)
        .file("templates/bad.j2", "line one\n{{ not_defined_anywhere }}\n")
        .playbook(&format!(
            // Vars computed at run time (a key set by index): the pre-flight leaves the template to the host
            // (tests/bad_input.rs covers the literal case, refused before any host).
            r#"let v = #{{}}; v["extra"] = 1; task("render", host("{}"), |h| h.template("templates/bad.j2", "/root/t-bad", v));"#,
            lab.host(0)
        ))
        .code(2)
        .stdout_has("templates/bad.j2:2")
        .stdout_has(lab.host(0))
        .run();
    Test::new().lab(lab).playbook("let x = 1;\nlet y = x +;\n").code(1).stderr_has("site.rhai:2:").run();
    Test::new()
        .lab(lab)
        .playbook("let x = 1;\n\nlet y = undefined_thing + 1;\n")
        .code(1)
        .stderr_has("site.rhai:3:9")
        .run();
}

#[test]
fn sysctl_persists_applies_reads_back_and_names_a_failing_key() {
    require_lab!();
    let lab = lab();
    lab.clean("/etc/sysctl.d/t-sysctl.conf /etc/sysctl.d/t-sysctl-bad.conf");
    let host = lab.host(2);
    Test::new()
        .lab(lab)
        .playbook(&format!(
            r#"task("sysctl", host("{host}"), |h| h.sysctl(#{{ "net.ipv4.tcp_keepalive_probes": 3, "net.ipv4.ip_forward": 1 }}, #{{ file: "/etc/sysctl.d/t-sysctl.conf" }}));"#
        ))
        .run();
    assert_eq!(
        lab.sh(host, "cat /etc/sysctl.d/t-sysctl.conf"),
        "net.ipv4.ip_forward = 1\nnet.ipv4.tcp_keepalive_probes = 3\n"
    );
    assert_eq!(lab.sh(host, "sysctl -n net.ipv4.tcp_keepalive_probes").trim(), "3");
    // vm.* is read-only inside a container, and fs.may_detach_mounts is not in this kernel.
    let failing = format!(
        r#"task("sysctl", host("{host}"), |h| h.sysctl(#{{ "vm.overcommit_memory": 1, "fs.may_detach_mounts": 1 }}, #{{ file: "/etc/sysctl.d/t-sysctl-bad.conf" }}));"#
    );
    Test::new()
        .lab(lab)
        .playbook(&failing)
        .code(2)
        .stdout_has("vm.overcommit_memory")
        .stdout_has("fs.may_detach_mounts: not present in this kernel")
        .run();
    let persisted = failing.replace("t-sysctl-bad.conf\" }", "t-sysctl-bad.conf\", persist_only: true }");
    Test::new().lab(lab).playbook(&persisted).run();
    assert!(lab.sh(host, "cat /etc/sysctl.d/t-sysctl-bad.conf").contains("vm.overcommit_memory = 1"));
}

#[test]
fn wait_port_succeeds_and_times_out_with_a_clear_message() {
    require_lab!();
    let lab = lab();
    let (host, other) = (lab.host(5), lab.host(6));
    Test::new()
        .lab(lab)
        .playbook(&format!(
            r#"
            task("ssh answers", host("{host}"), |h| {{ h.wait_port(22); h.wait_port(22, #{{ from: host("{other}") }}); }});
            task("closed port", host("{host}"), |h| h.wait_port(6443, #{{ timeout: 2 }}));
            "#
        ))
        .code(2)
        .stdout_has(&format!("{}:6443 did not accept connections within 2s", lab.address(host)))
        .run();
}

#[test]
fn reboot_brings_the_host_back_with_a_new_boot_id() {
    require_lab!();
    // A lab of its own: a host rebooting under the other tests' feet would fail them.
    let lab = Lab::get(&REBOOT_LAB, "t-reboot", 1, "10.251.11.0/24");
    let host = lab.host(0);
    let before = lab.sh(host, "cat /proc/sys/kernel/random/boot_id");
    Test::new()
        .lab(lab)
        .playbook(&format!(
            r#"task("reboot", host("{host}"), |h| {{ h.run("touch /root/t-reboot-state"); h.reboot(120); h.run("test -e /root/t-reboot-state"); }});"#
        ))
        .run();
    assert_ne!(lab.sh(host, "cat /proc/sys/kernel/random/boot_id"), before);
}

#[test]
fn host_keys_are_checked() {
    require_lab!();
    let lab = lab();
    let test = Test::new();
    let dir = lab.dir();
    let known = test.path().join("known_hosts");
    let inventory = test.path().join("inventory.yaml");
    let address = lab.address(lab.host(0));
    std::fs::write(
        &inventory,
        format!(
            "all:\n  vars:\n    user: root\n    key: {}/id_ed25519\n    known_hosts: {}\n  hosts:\n    one: {{ address: {address} }}\n",
            dir.display(),
            known.display()
        ),
    )
    .unwrap();
    let playbook = r#"task("ping", hosts(), |h| h.run("true"));"#;
    // Unknown key: refused, with its fingerprint and how to accept it.
    Test::new()
        .inventory_file(&inventory)
        .playbook(playbook)
        .code(3)
        .stdout_has("SHA256:")
        .stdout_has("accept-new")
        .run();
    // accept-new records it; strict then accepts it.
    Test::new().inventory_file(&inventory).playbook(playbook).args(&["--host-key-checking", "accept-new"]).run();
    assert!(std::fs::read_to_string(&known).unwrap().contains(address));
    Test::new().inventory_file(&inventory).playbook(playbook).run();
    let recorded = std::fs::read_to_string(&known).unwrap();
    let real_key = recorded.lines().find(|line| line.starts_with(address)).unwrap().split_whitespace().skip(1).take(2);
    let real_key = real_key.collect::<Vec<_>>().join(" ");
    // OpenSSH's patterns (as `ssh` reads this file): a wildcard line vouches for the host, unless a negated
    // pattern on the line names it; a key on an @revoked line is refused even where it is also recorded.
    let subnet = address.rsplit_once('.').unwrap().0;
    std::fs::write(&known, format!("# the lab\n{subnet}.* {real_key}\n")).unwrap();
    Test::new().inventory_file(&inventory).playbook(playbook).run();
    std::fs::write(&known, format!("!{address},{subnet}.* {real_key}\n")).unwrap();
    Test::new().inventory_file(&inventory).playbook(playbook).code(3).stdout_has("is not known").run();
    std::fs::write(&known, format!("{address} {real_key}\n@revoked * {real_key}\n")).unwrap();
    Test::new()
        .inventory_file(&inventory)
        .playbook(playbook)
        .args(&["--host-key-checking", "accept-new"])
        .code(3)
        .stdout_has("REVOKED HOST KEY")
        .stdout_has("line 2")
        .run();
    // A changed key is refused, even with accept-new.
    let other_key = std::fs::read_to_string(dir.join("id_ed25519.pub")).unwrap();
    let forged = format!("{address} {}\n", other_key.split_whitespace().take(2).collect::<Vec<_>>().join(" "));
    std::fs::write(&known, forged).unwrap();
    Test::new()
        .inventory_file(&inventory)
        .playbook(playbook)
        .args(&["--host-key-checking", "accept-new"])
        .code(3)
        .stdout_has("HOST KEY CHANGED")
        .run();
}

#[test]
fn idempotence_fails_when_the_second_run_changes_something() {
    require_lab!();
    let lab = lab();
    Test::new()
        .lab(lab)
        .playbook(r#"task("unguarded", hosts(), |h| h.run("date > /root/t-unguarded"));"#)
        .args(&["--idempotence", "--limit", lab.host(3)])
        .code(2)
        .stderr_has(&format!("idempotence: FAILED: the second run changed {} (1 changed)", lab.host(3)))
        .run();
}

#[test]
fn a_misspelt_variable_known_only_at_run_time_fails_the_host_naming_the_key_and_writes_nothing() {
    require_lab!();
    let lab = lab();
    lab.clean("/root/t-strict");
    // The key is computed, so the pre-flight cannot see it: strict variables catch it on the host.
    let run = Test::new()
        .lab(lab)
        .playbook(&format!(
            r#"let key = "site_" + "titel";
            task("title", host("{}"), |h| h.write(`title: ${{h.vars[key]}}` + "\n", "/root/t-strict"));
            task("facts", host("{}"), |h| h.facts().os_vesion);"#,
            lab.host(0),
            lab.host(1)
        ))
        .code(2)
        .run();
    let out = format!("{}{}", run.stdout, run.stderr);
    assert!(out.contains(&format!("`site_titel` is not defined for host {}", lab.host(0))), "{out}");
    assert!(out.contains(&format!("`os_vesion` is not defined for the facts of host {}", lab.host(1))), "{out}");
    assert!(out.contains("did you mean `os_version`?"), "{out}");
    assert!(out.contains("site.rhai:2:"), "{out}");
    assert_eq!(lab.ssh(lab.host(0), "test -e /root/t-strict").0, 1, "nothing may be written with an empty value");
}

#[test]
fn validate_keeps_the_old_file_byte_identical_when_it_fails_and_unchanged_steps_are_one_round_trip() {
    require_lab!();
    let lab = lab();
    let path = "/etc/sudoers.d/t-validate";
    lab.clean(path);
    let host = lab.host(4);
    lab.sh(host, &format!("printf 'root ALL=(ALL) ALL\\n' > {path}; chmod 440 {path}"));
    let checksum = || lab.sh(host, &format!("sha256sum {path}"));
    let before = checksum();
    let write = |content: &str| {
        format!(
            r#"task("sudoers", host("{host}"), |h| h.write({content:?}, "{path}", #{{ mode: "0440", validate: "visudo -cf %s" }}));"#
        )
    };
    Test::new()
        .lab(lab)
        .playbook(&write("root ALL=(ALL) ALL\nthis is not sudoers\n"))
        .code(2)
        .stdout_has("validation failed")
        .stdout_has("syntax error")
        .run();
    assert_eq!(checksum(), before, "a failing validate changed the file");
    assert_eq!(lab.sh(host, "ls -A /etc/sudoers.d | grep -c runbook || true").trim(), "0", "no temp file left");
    // As Ansible, --check does not run the validator: nothing is written to run it on.
    Test::new().lab(lab).playbook(&write("%sudo ALL=(ALL) ALL\n")).args(&["--check"]).run();
    assert_eq!(checksum(), before, "--check changed the file");
    Test::new().lab(lab).playbook(&write("%sudo ALL=(ALL) ALL\n")).run();
    assert_eq!(lab.sh(host, &format!("cat {path}")), "%sudo ALL=(ALL) ALL\n");
    assert_eq!(lab.sh(host, &format!("stat -c %a {path}")).trim(), "440");

    // -vv prints each command sent (`$ ...`): an unchanged file and unchanged sysctl keys are one each.
    let unchanged = Test::new().lab(lab).playbook(&write("%sudo ALL=(ALL) ALL\n")).args(&["-vv"]).run();
    assert_eq!(unchanged.stdout.matches("$ ").count(), 1, "{}", unchanged.stdout);
    lab.clean("/etc/sysctl.d/t-validate.conf");
    let sysctl = format!(
        r#"task("sysctl", host("{host}"), |h| h.sysctl(#{{ "net.ipv4.tcp_keepalive_probes": 4 }}, #{{ file: "/etc/sysctl.d/t-validate.conf" }}));"#
    );
    let applied = Test::new().lab(lab).playbook(&sysctl).args(&["-vv"]).run();
    assert_eq!(applied.stdout.matches("$ ").count(), 1, "{}", applied.stdout);
    assert_eq!(lab.sh(host, "sysctl -n net.ipv4.tcp_keepalive_probes").trim(), "4");
    let again = Test::new().lab(lab).playbook(&sysctl).args(&["-vv"]).run();
    assert_eq!(again.stdout.matches("$ ").count(), 1, "{}", again.stdout);
}

#[test]
fn an_unchanged_line_or_block_edit_is_one_round_trip_and_a_change_two() {
    require_lab!();
    let lab = lab();
    let host = lab.host(8);
    let path = "/root/t-lineblock.conf";
    lab.clean(path);
    lab.sh(host, &format!("printf '# app\\nSELINUX=enforcing\\nport=80\\n' > {path}; chmod 600 {path}"));
    let playbook = |body: &str| {
        format!("import \"stdlib/files\" as files;\ntask(\"edit\", host(\"{host}\"), |h| {{\n{body}\n}});\n")
    };
    // -vv prints each command sent (`$ ...`); the task's steps come from the JSON log.
    let run = |body: &str, args: &[&str]| {
        let mut all = vec!["-vv"];
        all.extend_from_slice(args);
        let run = Test::new().lab(lab).playbook(&playbook(body)).args(&all).json_log().run();
        let steps: Vec<(String, String)> = run
            .events()
            .iter()
            .filter(|e| e["event"] == "host_result")
            .flat_map(|e| e["steps"].as_array().cloned().unwrap_or_default())
            .map(|s| (s["primitive"].as_str().unwrap().to_string(), s["status"].as_str().unwrap().to_string()))
            .collect();
        (run.stdout.matches("$ ").count(), steps, run.stdout)
    };
    let steps = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs.iter().map(|(p, s)| (p.to_string(), s.to_string())).collect()
    };
    let block = format!(r#"files::block(h, "{path}", "t-lb", "a = 1\nb = 2", #{{ mode: "0644" }});"#);
    let line = format!(r#"files::line(h, "{path}", "^SELINUX=", "SELINUX=disabled");"#);
    let lineinfile =
        format!(r#"files::lineinfile(h, "{path}", #{{ regexp: "^port=", line: "port=81", insertafter: "^# app" }});"#);
    let blockinfile =
        format!(r#"files::blockinfile(h, "{path}", #{{ block: "c = 3", owner: "root", group: "root" }});"#);

    // lineinfile, as before, does not write at all when its line is already there.
    let ok_write = [("read", "ok"), ("write", "ok")];
    let read_only = [("read", "ok")];
    for (body, rerun) in
        [(&block, &ok_write[..]), (&line, &ok_write), (&lineinfile, &read_only), (&blockinfile, &ok_write)]
    {
        // --check with --diff: the read and the write's look, nothing written, the diff shown.
        let before = lab.sh(host, &format!("sha256sum {path}"));
        let (trips, planned, out) = run(body, &["--check", "--diff"]);
        assert_eq!(trips, 2, "{out}");
        assert_eq!(planned, steps(&[("read", "ok"), ("write", "changed")]), "{out}");
        assert!(out.contains("(after)"), "no diff: {out}");
        assert_eq!(lab.sh(host, &format!("sha256sum {path}")), before, "--check changed the file");
        let (trips, changed, out) = run(body, &[]);
        assert_eq!((trips, changed), (2, steps(&[("read", "ok"), ("write", "changed")])), "{out}");
        let (trips, unchanged, out) = run(body, &[]);
        assert_eq!((trips, unchanged), (1, steps(rerun)), "{out}");
    }
    assert_eq!(
        lab.sh(host, &format!("cat {path}")),
        "# app\nSELINUX=disabled\nport=81\n# BEGIN t-lb\na = 1\nb = 2\n# END t-lb\n\
         # BEGIN ANSIBLE MANAGED BLOCK\nc = 3\n# END ANSIBLE MANAGED BLOCK\n"
    );
    // The mode is still enforced: changed back on the host, a rerun sets it again (read + the write's script).
    lab.sh(host, &format!("chmod 600 {path}"));
    let (trips, fixed, out) = run(&block, &[]);
    assert_eq!((trips, fixed), (2, steps(&[("read", "ok"), ("write", "changed")])), "{out}");
    assert_eq!(lab.sh(host, &format!("stat -c %a {path}")).trim(), "644");
    lab.clean(path);
}

/// `run` restarts itself once with small per-thread malloc caches (src/cli/malloc_tunables.rs: the memory a
/// thread per host kept at 3000 hosts); the commands it starts do not inherit the setting, and a GLIBC_TUNABLES
/// the user set is theirs: kept, and inherited. Needs no lab: the playbook only runs commands on the controller.
#[test]
fn a_run_keeps_small_thread_caches_to_itself_and_leaves_the_users_tunables_alone() {
    let playbook = r#"
        let own = local_run("tr '\\0' '\\n' < /proc/$PPID/environ | grep '^GLIBC_TUNABLES=' || true", #{ check_safe: true });
        let inherited = local_run("env | grep -c 'GLIBC_TUNABLES\\|RUNBOOK_MALLOC' || true", #{ check_safe: true });
        print(`runbook: ${own.stdout.trim()}; its commands: ${inherited.stdout.trim()}`);
    "#;
    let inventory = "all:\n  hosts:\n    never-contacted:\n      address: 127.0.0.1\n      port: 1\n";
    let test = Test::new().file("inventory.yaml", inventory);
    let path = test.path().join("inventory.yaml");
    test.inventory_file(path)
        .playbook(playbook)
        .env_remove("GLIBC_TUNABLES")
        .stdout_has("runbook: GLIBC_TUNABLES=glibc.malloc.tcache_max=128; its commands: 0")
        .run();

    let test = Test::new().file("inventory.yaml", inventory);
    let path = test.path().join("inventory.yaml");
    test.inventory_file(path)
        .playbook(playbook)
        .env("GLIBC_TUNABLES", "glibc.malloc.tcache_count=3")
        .stdout_has("runbook: GLIBC_TUNABLES=glibc.malloc.tcache_count=3; its commands: 1")
        .run();
}
