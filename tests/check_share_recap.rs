//! Issue 11, the house underneath: host handles shared between task closures, `--check` planning a fresh
//! host, and a recap that counts only what ran — each against real sshd hosts of a ten-host lab.

use crate::support;

use std::sync::OnceLock;

use support::{Lab, Test};

static LAB: OnceLock<Lab> = OnceLock::new();

/// Every test calling this begins with `require_lab!()`: the lab fails loudly, or is skipped only on request.
fn lab() -> &'static Lab {
    Lab::get(&LAB, "t-ho", 10, "10.255.20.0/24")
}

#[test]
fn a_captured_host_is_usable_from_every_hosts_closure_at_once() {
    require_lab!();
    let lab = lab();
    let (checker, pair) = (lab.host(0), [lab.host(1), lab.host(2)]);
    // A host, an array of hosts, a map holding a host and a closure, all captured by the task's closure and used
    // by ten host threads at once: method calls, property reads, a host as another primitive's option, a call.
    let playbook = format!(
        r#"
        let checker = host("{checker}");
        let pair = [host("{}"), host("{}")];
        let site = #{{ db: host("{checker}"), port: 22 }};
        let probe = |target| target.run("sleep 0.2; hostname", #{{ check_safe: true }}).stdout.trim();
        let seen = task("captured", hosts(), |h| {{
            let r = checker.run("sleep 0.2; echo " + h.name, #{{ check_safe: true }});
            pair[1].run("true", #{{ check_safe: true }});
            if probe.call(checker) != checker.name {{ throw "probe saw another host"; }}
            h.wait_port(site.port, #{{ from: site.db, timeout: 5 }});
            checker.name + " " + checker.vars.len() + " " + r.stdout.trim()
        }});
        if seen.len() != 10 {{ throw `only ${{seen.len()}} hosts answered: ${{seen}}`; }}
        for name in seen.keys() {{
            if !seen[name].ends_with(name) {{ throw `wrong value for ${{name}}: ${{seen[name]}}`; }}
        }}
        "#,
        pair[0], pair[1]
    );
    for attempt in 1..=20 {
        let run = Test::new().lab(lab).playbook(&playbook).run();
        assert!(!run.stdout.contains("Data race"), "run {attempt}: {}", run.stdout);
        assert!(run.stdout.contains("10 hosts: 10 ok"), "run {attempt}: {}", run.stdout);
    }
}

#[test]
fn check_plans_a_site_on_a_fresh_host_without_touching_it() {
    require_lab!();
    let lab = lab();
    let host = lab.host(9);
    // A fresh host: the package is not there, nor its folders. Fail loudly if an earlier run left them.
    assert_ne!(lab.ssh(host, "dpkg-query -W -f='${Status}' nginx 2>/dev/null | grep -q 'install ok'").0, 0);
    assert_ne!(lab.ssh(host, "test -e /etc/nginx").0, 0, "{host} is not fresh: /etc/nginx exists");
    lab.sh(host, "touch /root/t-ho-before && sleep 1.1");
    let playbook = format!(
        r#"
        import "stdlib/packages" as packages;
        import "stdlib/services" as services;
        task("site", host("{host}"), |h| {{
            packages::install(h, ["nginx"]);
            h.run("mkdir -p /etc/nginx/sites-available /etc/nginx/sites-enabled");
            let conf = h.template("site.conf.j2", "/etc/nginx/sites-available/site", #{{ port: 8080 }});
            h.run("ln -s ../sites-available/site /etc/nginx/sites-enabled/site", #{{ creates: "/etc/nginx/sites-enabled/site" }});
            if conf.changed {{ services::restart(h, "nginx"); }}
            h.wait_port(8080, #{{ timeout: 120 }});
        }});
        "#
    );
    let run = Test::new()
        .lab(lab)
        .playbook(&playbook)
        .file("site.conf.j2", "server {\n    listen {{ port }};\n    server_name {{ inventory_hostname }};\n}\n")
        .args(&["--check", "-v"])
        .json_log()
        .run();
    // wait_port looked once rather than waiting its 120 s for a server that was never started.
    assert!(run.elapsed.as_secs() < 30, "took {:?}", run.elapsed);
    let steps: Vec<serde_json::Value> = run
        .events()
        .into_iter()
        .filter(|e| e["event"] == "host_result")
        .flat_map(|e| e["steps"].as_array().cloned().unwrap_or_default())
        .collect();
    let planned = |primitive: &str, target: &str| {
        steps
            .iter()
            .find(|s| s["primitive"] == primitive && s["target"].as_str().unwrap_or("").contains(target))
            .unwrap_or_else(|| panic!("no {primitive} step on {target}: {steps:#?}"))
    };
    for (primitive, target, status) in [
        ("run", "apt-get install", "changed"),
        ("run", "mkdir -p /etc/nginx", "changed"),
        ("template", "/etc/nginx/sites-available/site", "changed"),
        ("run", "ln -s", "changed"),
        ("run", "systemctl restart", "changed"),
        ("wait_port", ":8080", "ok"),
    ] {
        let step = planned(primitive, target);
        assert_eq!(step["status"], status, "{step:#}");
        let message = step["message"].as_str().unwrap_or("");
        assert!(message.starts_with("check mode: would"), "{primitive} {target}: {message:?}");
    }
    assert!(steps.iter().all(|s| s["status"] != "failed"), "{steps:#?}");
    // Nothing on the host changed.
    assert_ne!(lab.ssh(host, "test -e /etc/nginx").0, 0, "--check created /etc/nginx");
    assert_ne!(lab.ssh(host, "dpkg-query -W -f='${Status}' nginx 2>/dev/null | grep -q 'install ok'").0, 0);
    let touched = lab.sh(host, "find /etc /usr /var/lib/dpkg -newer /root/t-ho-before 2>/dev/null | head");
    assert_eq!(touched.trim(), "", "--check changed files on {host}");
}

#[test]
fn a_step_that_depends_on_nothing_planned_still_fails_in_check_mode() {
    require_lab!();
    let lab = lab();
    let host = lab.host(8);
    let playbook = format!(r#"task("conf", host("{host}"), |h| h.write("x\n", "/etc/t-ho-nowhere/conf"));"#);
    Test::new()
        .lab(lab)
        .playbook(&playbook)
        .args(&["--check"])
        .code(2)
        .stdout_has("the folder of /etc/t-ho-nowhere/conf does not exist")
        .run();
}

#[test]
fn the_recap_lists_only_hosts_a_task_ran_on_and_guarded_steps_are_ok() {
    require_lab!();
    let lab = lab();
    let [one, two, three, four] = [lab.host(3), lab.host(4), lab.host(5), lab.host(6)];
    let playbook = format!(
        r#"
        task("guarded", host("{one}"), |h| h.run("touch /root/never", #{{ creates: "/etc/hostname" }}));
        task("rollout", [host("{one}"), host("{two}"), host("{three}")], #{{ serial: 1 }}, |h| {{
            if h.name == "{two}" {{ throw "broken on purpose"; }}
        }});
        "#
    );
    let limit = format!("{one},{two},{three},{four}");
    let run = Test::new()
        .lab(lab)
        .playbook(&playbook)
        .args(&["--limit", &limit])
        .json_log()
        .code(2)
        .stdout_has(&format!("guarded  (on {one},"))
        .stdout_has(&format!("rollout  (on {one} {two} {three}, 1 failed,"))
        .stdout_has("3 hosts: 0 ok, 1 failed, 2 stopped")
        .stdout_lacks(&format!("skipped: {one}"))
        .run();
    let events = run.events();
    let recap = events.iter().rev().find(|e| e["event"] == "recap").expect("a recap");
    let listed: Vec<&str> = recap["hosts"].as_array().unwrap().iter().map(|h| h["host"].as_str().unwrap()).collect();
    // two's batch failed entirely: the play ended there, so one and three are listed as stopped (three ran
    // nothing); four: --limit selected it but no task targeted it.
    assert_eq!(listed, [one, two, three]);
    assert_eq!(run.recap(three)["play_stopped_at"], "rollout");
    assert_eq!(run.recap(three)["ok"], 0);
    assert_eq!(run.recap(one)["ok"], 2);
    assert_eq!(run.recap(one)["skipped"], 0);
    let guarded = events
        .iter()
        .find(|e| e["event"] == "host_result" && e["task"] == "guarded")
        .expect("the guarded task's result");
    assert_eq!(guarded["status"], "ok");
    assert_eq!(guarded["steps"][0]["status"], "ok");
    assert_eq!(guarded["steps"][0]["message"], "nothing to do: /etc/hostname exists");
    assert_ne!(lab.ssh(one, "test -e /root/never").0, 0);
}
