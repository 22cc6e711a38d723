//! Issue 23, run-time side: sites bigger than one file — rollouts that stop as Ansible's do, `--limit` binding
//! all code — against the real sshd hosts of a four-host lab.

use crate::support;

use std::sync::OnceLock;

use support::{Lab, Test};

static LAB: OnceLock<Lab> = OnceLock::new();

/// Every test calling this begins with `require_lab!()`: the lab fails loudly, or is skipped only on request.
fn lab() -> &'static Lab {
    Lab::get(&LAB, "t-sites", 4, "10.241.21.0/24")
}

#[test]
fn a_serial_batch_that_fails_entirely_ends_the_play_for_every_later_host() {
    require_lab!();
    let lab = lab();
    let (web1, web2, web3) = (lab.host(0), lab.host(1), lab.host(2));
    lab.clean("/root/t-roll-*");
    let playbook = format!(
        r#"
        let web = [host("{web1}"), host("{web2}"), host("{web3}")];
        task("health check", web, #{{ serial: 1 }}, |h| {{
            h.run("touch /root/t-roll-checked");
            if h.name == "{web1}" {{ h.run("false"); }}
        }});
        task("app config", web, |h| h.run("touch /root/t-roll-config", #{{ creates: "/root/t-roll-config" }}));
        "#
    );
    let run = Test::new()
        .lab(lab)
        .playbook(&playbook)
        .json_log()
        .code(2)
        .stdout_has(&format!("health check: batch 1/3: {web1}"))
        .stdout_lacks("batch 2/3")
        .stdout_has(&format!(
            "PLAY STOPPED at task \"health check\": batch 1/3 ({web1}) failed on every host, which ends a serial \
             rollout; stopped on {web2}, {web3}"
        ))
        .stdout_has(&format!("{web2}: stopped: the play ended at task \"health check\", nothing after it ran here"))
        .stdout_has("3 hosts: 0 ok, 1 failed, 2 stopped")
        .stdout_lacks("app config")
        .run();
    let marked = |file: &str| -> Vec<&str> {
        lab.hosts.iter().map(String::as_str).filter(|host| lab.ssh(host, &format!("test -e {file}")).0 == 0).collect()
    };
    assert_eq!(marked("/root/t-roll-checked"), vec![web1], "later batches must not start");
    assert!(marked("/root/t-roll-config").is_empty(), "no host may run the next task");
    let events = run.events();
    let stop = events.iter().find(|e| e["event"] == "play_stopped").expect("a play_stopped event");
    assert_eq!(stop["task"], "health check");
    assert_eq!(stop["hosts"], serde_json::json!([web2, web3]));
    assert_eq!(run.recap(web1)["stopped_in"], "health check");
    assert_eq!(run.recap(web2)["play_stopped_at"], "health check");
    assert_eq!(run.recap(web3)["play_stopped_at"], "health check");
    assert_eq!(run.recap(web2)["ok"], 0);
}

/// Loopback hosts mon1 and db1 (tripwires: any connection is seen) and a test whose inventory holds them.
fn tripwired(playbook: &str) -> (support::Tripwires, Test) {
    let wires = support::Tripwires::on(&["127.0.21.1", "127.0.21.2"]);
    let inventory = format!(
        "all:\n  hosts:\n    mon1: {{ address: 127.0.21.1, port: {port} }}\n    db1: {{ address: 127.0.21.2, port: {port} }}\n",
        port = wires.port
    );
    let test = Test::new().file("inventory.yaml", &inventory);
    let inventory = test.path().join("inventory.yaml");
    (wires, test.inventory_file(inventory).playbook(playbook).args(&["--timeout", "2"]))
}

#[test]
fn code_outside_tasks_cannot_reach_a_host_outside_limit() {
    let (wires, test) = tripwired(
        r#"
        let db = host("db1");
        print(`db1 is at ${db.address}`);
        let version = db.run("cat /etc/debian_version").stdout;
        task("mon", hosts(), |h| h.run("true"));
        "#,
    );
    test.args(&["--limit", "mon1"])
        .code(1)
        .stdout_has("db1 is at 127.0.21.2")
        .stderr_has("site.rhai:4:")
        .stderr_has("host db1 is outside this run's hosts (--limit): not contacted")
        .stderr_has("inventory_group")
        .run();
    wires.assert_untouched();
}

#[test]
fn an_unknown_start_at_task_is_refused_before_any_code_runs() {
    let (wires, test) = tripwired(
        r#"
        print("top-level code ran");
        let db = host("db1").run("true");
        task("install packages", hosts(), |h| h.run("true"));
        task("configure", hosts(), |h| h.run("true"));
        "#,
    );
    test.args(&["--start-at-task", "instal packages"])
        .code(1)
        .stdout_lacks("top-level code ran")
        .stderr_has("error[unknown-start-at-task]: --start-at-task: no task is named \"instal packages\"")
        .stderr_has("did you mean `install packages`?")
        .stderr_has("nothing was run")
        .run();
    wires.assert_untouched();
}

/// A role's handler, declared in an imported module, notified from a stdlib call (files::lineinfile), run
/// after each batch of a serial task (`flush_handlers: true`, as Ansible runs a serial play's handlers).
#[test]
fn a_handler_declared_in_a_module_is_notified_by_a_stdlib_call_and_flushed_per_batch() {
    require_lab!();
    let lab = lab();
    let (web1, web2) = (lab.host(0), lab.host(1));
    lab.clean("/root/t-hm-*");
    let role = r#"
        import "stdlib/files" as files;
        handler("restart web", |h| h.run("echo restarted >> /root/t-hm-restarts"));
        fn apply(hs) {
            task("web conf", hs, #{ serial: 1, flush_handlers: true }, |h| {
                files::lineinfile(h, "/root/t-hm-web.conf", #{ line: "port=8080", create: true, notify: "restart web" });
            })
        }
    "#;
    let playbook = format!(
        r#"
        import "roles/web" as web;
        web::apply([host("{web1}"), host("{web2}")]);
        "#
    );
    let first = Test::new()
        .file("roles/web.rhai", role)
        .lab(lab)
        .playbook(&playbook)
        .json_log()
        .stdout_has("restart web")
        .run();
    let events = first.events();
    let position = |wanted: &dyn Fn(&serde_json::Value) -> bool| events.iter().position(wanted).unwrap();
    let handler_on_web1 = position(&|e| e["event"] == "task_start" && e["task"] == "handler: restart web");
    let conf_on_web2 = position(&|e| e["event"] == "host_result" && e["task"] == "web conf" && e["host"] == web2);
    assert!(handler_on_web1 < conf_on_web2, "web1 restarts before web2's batch starts");
    for host in [web1, web2] {
        assert_eq!(lab.sh(host, "cat /root/t-hm-restarts").trim(), "restarted", "{host}");
        assert_eq!(first.recap(host)["changed"], 2, "{host}: the line and the restart");
    }
    let again = Test::new().file("roles/web.rhai", role).lab(lab).playbook(&playbook).json_log().run();
    for host in [web1, web2] {
        assert_eq!(again.recap(host)["changed"], 0, "{host}: {}", again.stdout);
        assert_eq!(lab.sh(host, "cat /root/t-hm-restarts").trim(), "restarted", "{host}: no second restart");
    }
}

/// `changed_when` / `failed_when` on `run` with Ansible's meanings, and `results(task)`: what each host's run
/// came to, failed hosts included, for later code to act on.
#[test]
fn run_results_are_judged_by_changed_when_and_failed_when_and_readable_later() {
    require_lab!();
    let lab = lab();
    let web = lab.host(3);
    let playbook = format!(
        r#"
        let r = task("grep", host("{web}"), |h| h.run("grep -q no-such-text /etc/hostname", #{{
            failed_when: |r| r.rc > 1, changed_when: false
        }}));
        print(`grep: rc ${{r["{web}"].rc}} changed ${{r["{web}"].changed}}`);
        task("marker", host("{web}"), |h| h.run("echo made", #{{ changed_when: |r| r.stdout.contains("made") }}));
        task("exit 3", host("{web}"), #{{ ignore_errors: true }}, |h| h.run("exit 3", #{{ failed_when: |r| r.rc == 3 }}));
        let grep = results("grep")["{web}"];
        let marker = results("marker")["{web}"];
        print(`results: grep ${{grep.status}} ${{grep.changed}}; marker ${{marker.status}} ${{marker.value.stdout.trim()}}`);
        task("fails", host("{web}"), |h| h.run("exit 3", #{{ failed_when: |r| r.rc == 3 }}));
        "#
    );
    let run = Test::new()
        .lab(lab)
        .playbook(&playbook)
        .json_log()
        .code(2)
        .stdout_has("grep: rc 1 changed false")
        .stdout_has("results: grep ok false; marker changed made")
        .stdout_has("failed_when is true for `exit 3` (exit code 3)")
        .run();
    let recap = run.recap(web);
    assert_eq!(recap["changed"], 1, "only the marker changed the host: {}", run.stdout);
    assert_eq!(recap["failed"], 1);
    assert_eq!(recap["stopped_in"], "fails");
}

/// `-f 1` is one host at a time, as in Ansible: three hosts that each sleep 0.3 s take at least 0.9 s (a
/// lower bound, so a slow machine cannot fail it; hosts run together would take ~0.3 s).
#[test]
fn one_fork_runs_one_host_at_a_time() {
    require_lab!();
    let lab = lab();
    let playbook = r#"
        let three = hosts().extract(0, 3);
        task("connect", three, |h| h.run("true"));
        let started = timestamp();
        task("sleep", three, |h| h.run("sleep 0.3"));
        print(`sleeping took ${started.elapsed}`);
    "#;
    let run = Test::new().lab(lab).playbook(playbook).args(&["-f", "1"]).stdout_has("sleeping took").run();
    let took: f64 =
        run.stdout.split("sleeping took ").nth(1).unwrap().split_whitespace().next().unwrap().parse().unwrap();
    assert!(took >= 0.9, "three hosts with -f 1 took {took} s: they overlapped");
}

/// A run keeps the closures' values for `results(task)` only when some file the playbook reaches may ask for
/// them (the pre-flight decides): a stage the playbook includes is such a file.
#[test]
fn results_read_in_an_included_stage_still_have_the_closures_values() {
    require_lab!();
    let lab = lab();
    let web = lab.host(3);
    let playbook = format!(
        r#"
        task("marker", host("{web}"), |h| h.run("echo kept"));
        include("report.rhai");
        "#
    );
    let stage = format!(r#"print(`value: ${{results("marker")["{web}"].value.stdout.trim()}}`);"#);
    Test::new().lab(lab).playbook(&playbook).file("report.rhai", &stage).stdout_has("value: kept").run();
}

/// Three roles of one site, two as modules (functions taking parameters, returning values, a handler and
/// defaults of their own, tags by `tagged`), one as an included file (`include(path, #{ params })` returning
/// its value).
fn three_roles(test: Test, user: &str, hosts: &[&str]) -> Test {
    let account = r#"
        import "stdlib/users" as users;
        fn apply(hs, params) {
            let p = #{ shell: "/bin/sh" } + params;     // the role's defaults, under what the site passes
            task("account: user", hs, |h| users::user(h, p.name, #{ shell: p.shell }));
            #{ user: p.name, home: `/home/${p.name}` }
        }
    "#;
    let web = r#"
        import "stdlib/files" as files;
        handler("restart web", |h| h.run("echo restarted >> /root/t-roles-restarts"));
        fn apply(hs, params) {
            let p = #{ port: 8080 } + params;
            task("web: config", hs, |h| files::lineinfile(h, `${p.home}/web.conf`,
                #{ line: `port=${p.port}`, create: true, notify: "restart web" }));
            #{ port: p.port }
        }
    "#;
    let keys = r#"
        import "stdlib/files" as files;
        let key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHJ1bmJvb2stcm9sZXMtdGVzdC1rZXktbm90LXJlYWw roles@test";
        task("keys: authorized", params.hosts, |h| files::authorized_key(h, params.user, [key]));
        1
    "#;
    let hosts: Vec<String> = hosts.iter().map(|h| format!("host(\"{h}\")")).collect();
    let site = format!(
        r#"
        import "roles/account" as account;
        import "roles/web" as web;
        let hs = [{}];
        let acct = account::apply(hs, #{{ name: "{user}" }});
        let w = tagged(["web"], || web::apply(hs, #{{ home: acct.home }}));
        let k = include("roles/keys.rhai", #{{ params: #{{ hosts: hs, user: acct.user }}, tags: ["keys"] }});
        print(`site: user ${{acct.user}} port ${{w.port}} keys ${{k}}`);
        "#,
        hosts.join(", ")
    );
    test.file("roles/account.rhai", account).file("roles/web.rhai", web).file("roles/keys.rhai", keys).playbook(&site)
}

#[test]
fn a_site_split_into_three_roles_converges_and_reruns_with_nothing_changed() {
    require_lab!();
    let lab = lab();
    let (a, b) = (lab.host(0), lab.host(1));
    for host in [a, b] {
        lab.ssh(host, "userdel -r t_roles 2>/dev/null; rm -f /root/t-roles-restarts");
    }
    let first = three_roles(Test::new(), "t_roles", &[a, b])
        .lab(lab)
        .json_log()
        .stdout_has("site: user t_roles port 8080 keys 1")
        .stdout_has("handler: restart web")
        .run();
    for host in [a, b] {
        assert_eq!(first.recap(host)["changed"], 4, "{host}: user, config, keys, restart: {}", first.stdout);
        assert_eq!(lab.sh(host, "cat /home/t_roles/web.conf").trim(), "port=8080");
        assert_eq!(lab.sh(host, "cat /root/t-roles-restarts").trim(), "restarted");
        assert_eq!(lab.sh(host, "stat -c %U /home/t_roles/.ssh/authorized_keys").trim(), "t_roles");
    }
    let events = first.events();
    let tags_of = |task: &str| events.iter().any(|e| e["event"] == "task_start" && e["task"] == task);
    assert!(tags_of("web: config") && tags_of("keys: authorized"));
    let again = three_roles(Test::new(), "t_roles", &[a, b]).lab(lab).json_log().stdout_lacks("restart web").run();
    for host in [a, b] {
        assert_eq!(again.recap(host)["changed"], 0, "{host}: {}", again.stdout);
    }
    // The roles' tags select them: only the web role runs under --tags web.
    let web_only = three_roles(Test::new(), "t_roles", &[a, b]).lab(lab).args(&["--tags", "web"]).json_log().run();
    let ran: Vec<String> = web_only
        .events()
        .iter()
        .filter(|e| e["event"] == "task_start")
        .map(|e| e["task"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ran, ["web: config"]);
}

#[test]
fn check_mode_on_fresh_hosts_plans_every_step_of_the_three_role_site() {
    require_lab!();
    let lab = lab();
    let (c, d) = (lab.host(2), lab.host(3));
    for host in [c, d] {
        lab.ssh(host, "userdel -r t_roles_fresh 2>/dev/null; true");
    }
    let run = three_roles(Test::new(), "t_roles_fresh", &[c, d]).lab(lab).args(&["--check"]).json_log().run();
    for host in [c, d] {
        let recap = run.recap(host);
        assert_eq!(recap["failed"], 0, "{}", run.stdout);
        // user, config, keys planned; the handler they notify would run.
        assert_eq!(recap["changed"], 4, "{host}: {}", run.stdout);
        assert_ne!(lab.ssh(host, "id t_roles_fresh").0, 0, "--check created nothing");
    }
}
