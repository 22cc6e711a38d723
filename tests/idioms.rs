//! The idioms an Ansible user reaches for, on real lab hosts: ad hoc commands (`runbook exec`), `--list-hosts`,
//! the everyday stdlib modules (users and groups, files, lines and blocks, authorized keys) — idempotent, honest
//! under --check and --diff — and a ported Ansible playbook converging a host to the same state as the original
//! run by ansible-playbook. Results are checked on the hosts with the system ssh client.

use crate::support;

use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

use support::{Lab, Test, repo_root};

static LAB: OnceLock<Lab> = OnceLock::new();

fn lab() -> &'static Lab {
    Lab::get(&LAB, "t-idioms", 3, "10.255.80.0/24")
}

const ANSIBLE_PLAYBOOK: &str = "/opt/runbook-test-tools/bin/ansible-playbook";

/// A sha512-crypt hash of "t-id-secret" (what `mkpasswd -m sha-512` prints), as a playbook would carry it.
const HASH: &str = "$6$salt$IxDD3jeSOb5eB1CX5LBsqZFVkJdido3OUILO5Ifz5iwMuTS4XMS130MTSuDDl3aCI6WouIL9AjRbLCelDCy.g.";

#[test]
fn exec_runs_one_command_on_the_hosts_of_a_pattern() {
    require_lab!();
    let lab = lab();
    let inventory = lab.inventory().display().to_string();
    let run = Test::new()
        .args(&["exec", "all:!lab-h02", "-i", &inventory, "-f", "2", "--", "echo \"hi from $(hostname)\" 'quoted'"])
        .stdout_has("lab-h01 | CHANGED | rc=0 >>")
        .stdout_has("hi from lab-h01 quoted")
        .stdout_has("hi from lab-h03 quoted")
        .stdout_lacks("lab-h02")
        .run();
    assert!(run.stdout.contains("2 hosts"), "a recap: {}", run.stdout);

    // A failing command fails its host and the exit code says so, as for `run`.
    Test::new()
        .args(&["exec", "lab-h02", "-i", &inventory, "--", "echo oops >&2; exit 3"])
        .code(2)
        .stdout_has("lab-h02 | FAILED | rc=3 >>")
        .stdout_has("oops")
        .run();
    // An unknown pattern is a usage error before anything connects.
    Test::new().args(&["exec", "nosuchgroup", "-i", &inventory, "--", "true"]).code(1).run();
}

#[test]
fn list_hosts_names_the_targets_and_connects_to_nothing() {
    require_lab!();
    let lab = lab();
    lab.clean("/root/t-id-listed");
    let run = Test::new()
        .lab(lab)
        .playbook(r#"task("touch", hosts(), |h| h.run("touch /root/t-id-listed"));"#)
        .args(&["--limit", "all:!lab-h02", "--list-hosts"])
        .run();
    assert!(run.stdout.contains("  hosts (2):\n    lab-h01\n    lab-h03\n"), "{}", run.stdout);
    for host in &lab.hosts {
        assert_eq!(lab.ssh(host, "test -e /root/t-id-listed").0, 1, "{host} was touched");
    }
}

#[test]
fn users_groups_and_authorized_keys_converge_and_stay_converged() {
    require_lab!();
    let lab = lab();
    let host = lab.host(0);
    lab.sh(host, "userdel -r t-id-alice 2>/dev/null; userdel t-id-svc 2>/dev/null; groupdel t-id-deploy 2>/dev/null; groupdel t-id-sys 2>/dev/null; true");
    let playbook = format!(
        r#"
        import "stdlib/users" as users;
        task("accounts", hosts(), |h| {{
            users::group(h, "t-id-deploy", #{{ gid: 2345 }});
            users::group(h, "t-id-sys", #{{ system: true }});
            users::user(h, "t-id-alice", #{{ uid: 2001, shell: "/bin/bash", groups: ["t-id-deploy", "t-id-sys"],
                                            comment: "Alice A", password: "{HASH}" }});
            users::user(h, "t-id-svc", #{{ system: true, create_home: false, shell: "/usr/sbin/nologin", group: "t-id-sys" }})
        }});
        "#
    );
    // --check first: it plans, the host is untouched.
    Test::new().lab(lab).playbook(&playbook).args(&["--limit", host, "--check"]).stdout_has("1 changed").run();
    assert_eq!(lab.ssh(host, "getent passwd t-id-alice").0, 2, "--check created the user");
    // Then for real, twice: the second run must change nothing.
    Test::new().lab(lab).playbook(&playbook).args(&["--limit", host, "--idempotence"]).run();
    assert_eq!(lab.sh(host, "getent passwd t-id-alice"), "t-id-alice:x:2001:2001:Alice A:/home/t-id-alice:/bin/bash\n");
    assert_eq!(lab.sh(host, "id -Gn t-id-alice"), "t-id-alice t-id-deploy t-id-sys\n");
    assert_eq!(lab.sh(host, "getent group t-id-deploy | cut -d: -f3"), "2345\n");
    assert_eq!(lab.sh(host, "getent shadow t-id-alice | cut -d: -f2"), format!("{HASH}\n"));
    let svc_uid: u32 = lab.sh(host, "id -u t-id-svc").trim().parse().unwrap();
    assert!(svc_uid < 1000, "a system user gets a system uid: {svc_uid}");
    assert_eq!(lab.ssh(host, "test -d /home/t-id-svc").0, 1, "create_home: false");
    assert_eq!(lab.sh(host, "id -gn t-id-svc"), "t-id-sys\n");

    // Modify: one group fewer (append: false replaces the list), another shell; then remove.
    Test::new()
        .lab(lab)
        .playbook(
            r#"
            import "stdlib/users" as users;
            task("modify", hosts(), |h| users::user(h, "t-id-alice", #{ groups: ["t-id-sys"], shell: "/bin/sh" }));
            "#,
        )
        .args(&["--limit", host])
        .stdout_has("1 changed")
        .run();
    assert_eq!(lab.sh(host, "id -Gn t-id-alice"), "t-id-alice t-id-sys\n");
    assert_eq!(lab.sh(host, "getent passwd t-id-alice | cut -d: -f7"), "/bin/sh\n");
    let remove = r#"
        import "stdlib/users" as users;
        task("remove", hosts(), |h| users::user(h, "t-id-alice", #{ state: "absent", remove: true }));
    "#;
    Test::new().lab(lab).playbook(remove).args(&["--limit", host, "--check"]).stdout_has("1 changed").run();
    assert_eq!(lab.ssh(host, "getent passwd t-id-alice").0, 0, "--check removed the user");
    Test::new().lab(lab).playbook(remove).args(&["--limit", host, "--idempotence"]).run();
    assert_eq!(lab.ssh(host, "getent passwd t-id-alice").0, 2);
    assert_eq!(lab.ssh(host, "test -e /home/t-id-alice").0, 1, "remove: true deletes the home");

    authorized_keys_add_exclusive_and_remove(lab);
}

const FILES_PLAYBOOK: &str = r##"
import "stdlib/files" as files;
task("files", hosts(), |h| {
    files::directory(h, "/srv/t-id/app/data", #{ mode: "0750", owner: "nobody", group: "nogroup" });
    files::directory(h, "/srv/t-id/tree", #{ owner: "nobody", recurse: true, mode: 0o755 });
    files::symlink(h, "/srv/t-id/app", "/srv/t-id/current");
    files::absent(h, "/srv/t-id/old");
    files::attributes(h, "/srv/t-id/conf", #{ mode: "0600" });
    files::lineinfile(h, "/srv/t-id/conf", #{ regexp: "^PermitRootLogin", line: "PermitRootLogin no" });
    files::lineinfile(h, "/srv/t-id/conf", #{ line: "UseDNS no", insertafter: "^#UseDNS" });
    files::lineinfile(h, "/srv/t-id/conf", #{ regexp: "^(Xms)[0-9]+m(.*)$", line: "\\1512m\\2", backrefs: true });
    files::lineinfile(h, "/srv/t-id/conf", #{ regexp: "^Nothing(.*)", line: "never \\1", backrefs: true });
    files::lineinfile(h, "/srv/t-id/conf", #{ regexp: "^Banner", state: "absent" });
    files::lineinfile(h, "/srv/t-id/conf", #{ line: "# first", insertbefore: "BOF" });
    files::blockinfile(h, "/srv/t-id/conf", #{ block: "Match User bob\n  X11Forwarding no", insertafter: "^UseDNS" });
    files::blockinfile(h, "/srv/t-id/conf", #{ block: "", marker: "# {mark} old" });
});
"##;

const CONF_BEFORE: &str =
    "#UseDNS yes\nPermitRootLogin yes\nXms256m -server\nBanner /etc/issue\n# BEGIN old\nstale\n# END old\ntail\n";
const CONF_AFTER: &str = "# first\n#UseDNS yes\nUseDNS no\n# BEGIN ANSIBLE MANAGED BLOCK\nMatch User bob\n  X11Forwarding no\n\
                          # END ANSIBLE MANAGED BLOCK\nPermitRootLogin no\nXms512m -server\ntail\n";

#[test]
fn files_lines_and_blocks_converge_with_honest_check_and_diff() {
    require_lab!();
    let lab = lab();
    let host = lab.host(0);
    lab.sh(
        host,
        &format!(
            "rm -rf /srv/t-id && mkdir -p /srv/t-id/old/x /srv/t-id/tree/a/b && touch /srv/t-id/tree/a/b/f && \
             printf '%s' '{CONF_BEFORE}' > /srv/t-id/conf && chmod 0644 /srv/t-id/conf"
        ),
    );
    // --check --diff: the diff of what would change, and nothing on the host changes.
    Test::new()
        .lab(lab)
        .playbook(FILES_PLAYBOOK)
        .args(&["--limit", host, "--check", "--diff"])
        .stdout_has("-PermitRootLogin yes")
        .stdout_has("+PermitRootLogin no")
        .stdout_has("+# BEGIN ANSIBLE MANAGED BLOCK")
        .run();
    assert_eq!(lab.sh(host, "cat /srv/t-id/conf"), CONF_BEFORE);
    assert_eq!(lab.ssh(host, "test -e /srv/t-id/app").0, 1, "--check created a directory");
    assert_eq!(lab.ssh(host, "test -e /srv/t-id/old").0, 0, "--check removed a directory");

    Test::new().lab(lab).playbook(FILES_PLAYBOOK).args(&["--limit", host, "--idempotence"]).run();
    assert_eq!(lab.sh(host, "cat /srv/t-id/conf"), CONF_AFTER);
    let stat = |path: &str| lab.sh(host, &format!("stat -c '%F %a %U %G' {path}"));
    assert_eq!(stat("/srv/t-id/app/data"), "directory 750 nobody nogroup\n");
    assert_eq!(stat("/srv/t-id/tree/a/b/f"), "regular empty file 755 nobody root\n", "recurse reaches every file");
    assert_eq!(stat("/srv/t-id/conf"), "regular file 600 root root\n");
    assert_eq!(lab.sh(host, "readlink /srv/t-id/current"), "/srv/t-id/app\n");
    assert_eq!(lab.ssh(host, "test -e /srv/t-id/old").0, 1);
}

/// Part of the accounts test: both create users on lab-h01, and two useradd at once would fight over /etc/passwd's lock.
fn authorized_keys_add_exclusive_and_remove(lab: &Lab) {
    let host = lab.host(0);
    lab.sh(host, "userdel -r t-id-keys 2>/dev/null; useradd -m t-id-keys");
    let one = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOne1111111111111111111111111111111111111111 one@x";
    let two = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAITwo2222222222222222222222222222222222222222 two@x";
    let keys = |keys: &str, opts: &str| {
        format!(
            r#"import "stdlib/files" as files;
            task("keys", hosts(), |h| files::authorized_key(h, "t-id-keys", {keys}, {opts}));"#
        )
    };
    Test::new()
        .lab(lab)
        .playbook(&keys(&format!("\"{one}\\n{two}\""), "#{}"))
        .args(&["--limit", host, "--idempotence"])
        .run();
    let file = "/home/t-id-keys/.ssh/authorized_keys";
    assert_eq!(lab.sh(host, &format!("cat {file}")), format!("{one}\n{two}\n"));
    assert_eq!(lab.sh(host, &format!("stat -c '%a %U' /home/t-id-keys/.ssh {file}")), "700 t-id-keys\n600 t-id-keys\n");
    // The same key with another comment is the same key.
    let renamed = one.replace("one@x", "renamed");
    Test::new()
        .lab(lab)
        .playbook(&keys(&format!("[\"{renamed}\"]"), "#{}"))
        .args(&["--limit", host])
        .stdout_lacks("1 changed")
        .run();
    // exclusive: only the given keys stay.
    Test::new()
        .lab(lab)
        .playbook(&keys(&format!("\"{two}\""), "#{ exclusive: true }"))
        .args(&["--limit", host, "--idempotence"])
        .run();
    assert_eq!(lab.sh(host, &format!("cat {file}")), format!("{two}\n"));
    Test::new()
        .lab(lab)
        .playbook(&keys(&format!("\"{two}\""), "#{ state: \"absent\" }"))
        .args(&["--limit", host, "--idempotence"])
        .run();
    assert_eq!(lab.sh(host, &format!("cat {file}")), "");
}

/// What the ported playbook manages on a host, in one text: kinds, modes, owners, link target, checksums, accounts.
fn ported_state(lab: &Lab, host: &str) -> String {
    lab.sh(
        host,
        "cd /srv/ported && for p in . releases shared current shared/app.conf shared/app.env shared/sshd_config \
         shared/old.pid; do printf '%s ' $p; stat -c '%F %a %U %G' $p 2>/dev/null || echo absent; done; \
         readlink current; sha256sum shared/*; getent passwd appsvc; getent group appsvc",
    )
}

#[test]
fn a_ported_playbook_converges_a_host_to_the_state_the_ansible_original_does() {
    require_lab!();
    assert!(
        Path::new(ANSIBLE_PLAYBOOK).is_file(),
        "{ANSIBLE_PLAYBOOK} is missing: run scripts/install-deps --for-tests (it installs ansible-core for this comparison)"
    );
    let lab = lab();
    let (ansible_host, runbook_host) = (lab.host(1), lab.host(2));
    for host in [ansible_host, runbook_host] {
        lab.sh(host, "rm -rf /srv/ported; userdel appsvc 2>/dev/null; groupdel appsvc 2>/dev/null; mkdir -p /srv/ported/shared && touch /srv/ported/shared/old.pid");
    }
    let fixture = repo_root().join("tests/fixtures/ported");
    let temp = tempfile::tempdir().unwrap();
    let dir = lab.dir();
    let inventory = temp.path().join("hosts.ini");
    std::fs::write(
        &inventory,
        format!(
            "{ansible_host} ansible_host={} ansible_user=root ansible_ssh_private_key_file={} \
             ansible_python_interpreter=/usr/bin/python3 \
             ansible_ssh_common_args='-F /dev/null -o UserKnownHostsFile={} -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes'\n",
            lab.address(ansible_host),
            dir.join("id_ed25519").display(),
            dir.join("known_hosts").display()
        ),
    )
    .unwrap();
    let output = Command::new(ANSIBLE_PLAYBOOK)
        .current_dir(&fixture)
        .env("ANSIBLE_HOME", temp.path())
        .env("ANSIBLE_LOCAL_TEMP", temp.path())
        .env("ANSIBLE_NOCOLOR", "1")
        .arg("-i")
        .arg(&inventory)
        .arg("site.yml")
        .output()
        .expect("ansible-playbook runs");
    assert!(output.status.success(), "ansible-playbook failed:\n{}", String::from_utf8_lossy(&output.stdout));

    Test::new()
        .shipped("tests/fixtures/ported/site.rhai")
        .lab(lab)
        .args(&["--limit", runbook_host, "--idempotence"])
        .run();
    let (theirs, ours) = (ported_state(lab, ansible_host), ported_state(lab, runbook_host));
    assert_eq!(ours, theirs, "runbook's host (left) and Ansible's (right) differ");
    assert!(ours.contains("shared/old.pid absent") && ours.contains("appsvc:x:2501:2501:"), "{ours}");
}

/// The tests below share the `/root/t-hd-*` files of the lab's hosts: they run one at a time (libtest runs
/// them on threads).
fn t_hd_files() -> std::sync::MutexGuard<'static, ()> {
    static FILES: std::sync::Mutex<()> = std::sync::Mutex::new(());
    FILES.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The handlers playbook of the tests below: `bump` appends a line on the host each time it runs, so the file
/// counts the runs. Two tasks notify it (by the option and by `h.notify`), guarded by marker files so a second
/// run changes nothing; `fail_on` makes a later task fail on one host.
fn handlers_playbook(fail_on: &str) -> String {
    format!(
        r#"
        handler("bump", |h| h.run("echo ran >> /root/t-hd-runs"));
        handler("never", |h| h.run("echo ran >> /root/t-hd-never"));
        task("config", hosts(), |h| h.run("touch /root/t-hd-m1", #{{ creates: "/root/t-hd-m1", notify: "bump" }}));
        task("more config", hosts(), |h| {{
            let r = h.run("touch /root/t-hd-m2", #{{ creates: "/root/t-hd-m2" }});
            if r.changed {{ h.notify("bump"); }}
        }});
        task("later", hosts(), |h| {{
            if h.name == "{fail_on}" {{ throw "a later task failed"; }}
        }});
        "#
    )
}

fn handler_hosts(run: &support::Run, handler: &str) -> Vec<String> {
    let task = format!("handler: {handler}");
    let mut hosts: Vec<String> = run
        .events()
        .iter()
        .filter(|e| e["event"] == "host_result" && e["task"] == task.as_str())
        .map(|e| e["host"].as_str().unwrap().to_string())
        .collect();
    hosts.sort();
    hosts
}

fn runs_of(lab: &Lab, host: &str) -> usize {
    lab.ssh(host, "cat /root/t-hd-runs").1.lines().count()
}

#[test]
fn a_handler_notified_by_two_of_three_hosts_runs_on_those_two_once() {
    require_lab!();
    let _one_at_a_time = t_hd_files();
    let lab = lab();
    lab.clean("/root/t-hd-*");
    // The third host already has both markers: nothing changes there, nothing notifies.
    let (h1, h2, h3) = (lab.host(0), lab.host(1), lab.host(2));
    lab.sh(h3, "touch /root/t-hd-m1 /root/t-hd-m2");
    let playbook = handlers_playbook("nobody");

    // --check: the handler would run on the two hosts, and nothing runs.
    let run = Test::new().lab(lab).playbook(&playbook).args(&["--check"]).json_log().run();
    assert_eq!(handler_hosts(&run, "bump"), vec![h1.to_string(), h2.to_string()]);
    let planned: Vec<_> = run.events().into_iter().filter(|e| e["task"] == "handler: bump").collect();
    assert!(planned.iter().filter(|e| e["event"] == "host_result").all(|e| e["message"] == "check mode: would run"));
    for host in &lab.hosts {
        assert_eq!(lab.ssh(host, "test -e /root/t-hd-runs").0, 1, "--check ran the handler on {host}");
    }

    let run = Test::new().lab(lab).playbook(&playbook).json_log().stdout_has("handler: bump").run();
    assert_eq!(handler_hosts(&run, "bump"), vec![h1.to_string(), h2.to_string()]);
    assert_eq!(handler_hosts(&run, "never"), Vec::<String>::new());
    assert_eq!((runs_of(lab, h1), runs_of(lab, h2), runs_of(lab, h3)), (1, 1, 0), "once per notified host");
    // The handler's results are in the recap like any task's: one more change on the notified hosts.
    assert_eq!(run.recap(h1)["changed"], 3);
    assert_eq!(run.recap(h3)["changed"], 0);

    // A second run changes nothing, so no handler runs.
    let run = Test::new().lab(lab).playbook(&playbook).json_log().stdout_lacks("handler: bump").run();
    assert!(handler_hosts(&run, "bump").is_empty());
    assert_eq!((runs_of(lab, h1), runs_of(lab, h2), runs_of(lab, h3)), (1, 1, 0));
}

#[test]
fn a_failure_after_a_notify_keeps_the_handler_pending_unless_force_handlers() {
    require_lab!();
    let _one_at_a_time = t_hd_files();
    let lab = lab();
    let (h1, h2, h3) = (lab.host(0), lab.host(1), lab.host(2));
    let playbook = handlers_playbook(h2);

    lab.clean("/root/t-hd-*");
    let run = Test::new().lab(lab).playbook(&playbook).json_log().code(2).run();
    assert_eq!(handler_hosts(&run, "bump"), vec![h1.to_string(), h3.to_string()]);
    assert_eq!(runs_of(lab, h2), 0, "the failed host's handler stays pending");
    let warned = run
        .events()
        .into_iter()
        .any(|e| e["event"] == "warning" && e["host"] == h2 && e["message"].as_str().unwrap().contains("\"bump\""));
    assert!(warned, "the run says which notified handler was left on {h2}: {}", run.stdout);

    lab.clean("/root/t-hd-*");
    let run = Test::new().lab(lab).playbook(&playbook).args(&["--force-handlers"]).json_log().code(2).run();
    assert_eq!(handler_hosts(&run, "bump"), vec![h1.to_string(), h2.to_string(), h3.to_string()]);
    assert_eq!((runs_of(lab, h1), runs_of(lab, h2), runs_of(lab, h3)), (1, 1, 1));
}

#[test]
fn flush_handlers_runs_them_mid_play_and_an_unknown_handler_is_refused_before_any_change() {
    require_lab!();
    let _one_at_a_time = t_hd_files();
    let lab = lab();
    let host = lab.host(0);
    lab.clean("/root/t-hd-*");
    // flush_handlers() runs the pending ones there and then; the later task sees the handler's work.
    let run = Test::new()
        .lab(lab)
        .playbook(
            r#"
            handler("bump", |h| h.run("echo ran >> /root/t-hd-runs"));
            task("config", hosts(), #{ notify: "bump" }, |h| h.write("x\n", "/root/t-hd-m1"));
            flush_handlers();
            task("after", hosts(), |h| h.run("test -s /root/t-hd-runs", #{ check_safe: true }));
            "#,
        )
        .args(&["--limit", host])
        .json_log()
        .run();
    assert_eq!(handler_hosts(&run, "bump"), vec![host.to_string()]);
    assert_eq!(runs_of(lab, host), 1, "flushed once, not again at the end");

    // A misspelt handler is lint's error, with its place and a suggestion, and nothing is run.
    lab.clean("/root/t-hd-*");
    Test::new()
        .lab(lab)
        .playbook(
            "handler(\"restart nginx\", |h| h.run(\"echo ran >> /root/t-hd-runs\"));\n\
             task(\"config\", hosts(), |h| h.write(\"x\\n\", \"/root/t-hd-m1\", #{ notify: \"restart ngnix\" }));\n",
        )
        .code(1)
        .stderr_has("site.rhai:2:")
        .stderr_has("error[unknown-handler]")
        .stderr_has("did you mean `restart nginx`?")
        .run();
    for host in &lab.hosts {
        assert_eq!(lab.ssh(host, "test -e /root/t-hd-m1").0, 1, "{host} was changed");
    }
}

#[test]
fn local_run_runs_on_the_controller_and_under_check_only_when_check_safe() {
    require_lab!();
    let _one_at_a_time = t_hd_files();
    let lab = lab();
    let host = lab.host(0);
    let playbook = r#"
        let probe = local_run("echo from-the-controller; hostname", #{ check_safe: true });
        let made = local_run("touch made-here", #{ creates: "made-here" });
        task("per host", hosts(), |h| {
            local_run(`echo ${h.name} >> hosts-seen`, #{ env: #{ X: "1" } });
            h.write(probe.stdout, "/root/t-hd-probe")
        });
    "#;
    let test = Test::new().lab(lab).playbook(playbook).args(&["--limit", host, "--check"]).json_log();
    let dir = test.path().to_path_buf();
    let run = test.run();
    assert!(!dir.join("made-here").exists(), "--check ran a local_run that is not check_safe");
    assert!(!dir.join("hosts-seen").exists(), "--check ran a local_run inside a task");
    let planned = run.events().into_iter().any(|e| {
        e["event"] == "host_result"
            && e["host"] == "localhost"
            && e["steps"][0]["message"] == "check mode: would run"
            && e["steps"][0]["target"] == "touch made-here"
    });
    assert!(planned, "--check says the local_run would run: {}", run.stdout);
    // The check_safe probe ran even under --check: its output was there for the plan.
    let probed = run.events().into_iter().any(|e| {
        e["event"] == "host_result"
            && e["host"] == "localhost"
            && e["steps"][0]["stdout"].as_str().is_some_and(|out| out.starts_with("from-the-controller\n"))
    });
    assert!(probed, "{}", run.stdout);

    // For real: the command ran on the controller (in the playbook's folder), once per host inside a task.
    lab.clean("/root/t-hd-*");
    let test = Test::new().lab(lab).playbook(playbook).args(&["--limit", host]);
    let dir = test.path().to_path_buf();
    test.run();
    assert!(dir.join("made-here").exists());
    assert_eq!(std::fs::read_to_string(dir.join("hosts-seen")).unwrap(), format!("{host}\n"));
    let controller = String::from_utf8(Command::new("hostname").output().unwrap().stdout).unwrap();
    assert_eq!(lab.sh(host, "cat /root/t-hd-probe"), format!("from-the-controller\n{controller}"));
}

#[test]
fn list_tasks_names_the_tasks_with_their_tags_and_connects_to_nothing() {
    require_lab!();
    let _one_at_a_time = t_hd_files();
    let lab = lab();
    lab.clean("/root/t-hd-listed");
    let test = Test::new()
        .lab(lab)
        .file("stage.rhai", r#"task("join", hosts(), #{ tags: ["join"] }, |h| h.run("touch /root/t-hd-listed"));"#)
        .playbook(
            r#"
            handler("bump", |h| h.run("touch /root/t-hd-listed"));
            task("prepare", hosts(), #{ tags: ["prep", "always"] }, |h| h.run("touch /root/t-hd-listed"));
            include("stage.rhai", #{ tags: ["cluster"] });
            task("debug dump", hosts(), #{ tags: ["never", "debug"] }, |h| h.run("touch /root/t-hd-listed"));
            "#,
        )
        .args(&["--list-tasks"]);
    let run = test.run();
    assert_eq!(
        run.stdout,
        "\nplaybook: site.rhai\n\n  tasks:\n    prepare\tTAGS: [prep, always]\n    join\tTAGS: [join, cluster]\n"
    );
    let run = Test::new()
        .lab(lab)
        .playbook(r#"task("a", hosts(), #{ tags: ["x"] }, |h| h.run("touch /root/t-hd-listed")); task("b", hosts(), |h| ());"#)
        .args(&["--list-tasks", "--tags", "x", "--list-hosts", "--limit", lab.host(0)])
        .run();
    assert!(run.stdout.contains(&format!("  hosts (1):\n    {}\n", lab.host(0))), "{}", run.stdout);
    assert!(run.stdout.ends_with("  tasks:\n    a\tTAGS: [x]\n"), "{}", run.stdout);
    for host in &lab.hosts {
        assert_eq!(lab.ssh(host, "test -e /root/t-hd-listed").0, 1, "{host} was touched");
    }
}

#[test]
fn tasks_and_templates_read_facts_by_ansible_names_without_asking() {
    require_lab!();
    let _one_at_a_time = t_hd_files();
    let lab = lab();
    let host = lab.host(0);
    lab.clean("/root/t-hd-*");
    Test::new()
        .lab(lab)
        .file("facts.j2", "{{ ansible_distribution }} {{ ansible_facts.os_family }} {{ inventory_hostname }}\n")
        .playbook(
            r#"
            task("template first", hosts(), |h| h.template("facts.j2", "/root/t-hd-facts-template"));
            task("then a task", hosts(), |h| {
                let v = h.vars;
                h.write(`${v.inventory_hostname} ${v.ansible_hostname} ${v.ansible_facts.os_family} ${v.group_names.len() >= 0}`,
                        "/root/t-hd-facts-task")
            });
            "#,
        )
        .args(&["--limit", host])
        .run();
    let hostname = lab.sh(host, "hostname");
    assert_eq!(lab.sh(host, "cat /root/t-hd-facts-template"), format!("Debian Debian {host}\n"));
    assert_eq!(lab.sh(host, "cat /root/t-hd-facts-task"), format!("{host} {} Debian true", hostname.trim()));
}

#[test]
fn max_fail_percentage_and_any_errors_fatal_stop_the_play_as_ansible_does() {
    require_lab!();
    let _one_at_a_time = t_hd_files();
    let lab = lab();
    let (h1, h2, h3) = (lab.host(0), lab.host(1), lab.host(2));
    // `fail` hosts fail the first task; the second task leaves a marker where it ran.
    let playbook = |options: &str, fail: &[&str]| {
        format!(
            r#"
            let fail = {fail:?};
            task("rollout", hosts(), #{{ {options} }}, |h| {{
                if h.name in fail {{ throw "broken"; }}
                h.run("touch /root/t-hd-rolled", #{{ creates: "/root/t-hd-rolled" }});
            }});
            task("after", hosts(), |h| h.run("touch /root/t-hd-after", #{{ creates: "/root/t-hd-after" }}));
            "#
        )
    };
    let marked = |file: &str| -> Vec<&str> {
        lab.hosts.iter().map(String::as_str).filter(|host| lab.ssh(host, &format!("test -e {file}")).0 == 0).collect()
    };

    // 1 of 3 failed (33%) is not over 40%: the play goes on without it.
    lab.clean("/root/t-hd-*");
    Test::new().lab(lab).playbook(&playbook("max_fail_percentage: 40", &[h2])).code(2).run();
    assert_eq!(marked("/root/t-hd-after"), vec![h1, h3]);
    // 2 of 3 (67%) is: nothing runs after the task, on any host.
    lab.clean("/root/t-hd-*");
    Test::new()
        .lab(lab)
        .playbook(&playbook("max_fail_percentage: 40", &[h1, h2]))
        .code(2)
        .stdout_has("max_fail_percentage 40")
        .run();
    assert!(marked("/root/t-hd-after").is_empty());
    assert_eq!(marked("/root/t-hd-rolled"), vec![h3]);

    // any_errors_fatal with serial: 1: the first batch's failure stops the rollout before the next batch.
    lab.clean("/root/t-hd-*");
    Test::new()
        .lab(lab)
        .playbook(&playbook("serial: 1, any_errors_fatal: true", &[h1]))
        .code(2)
        .stdout_has(&format!("rollout: batch 1/3: {h1}"))
        .stdout_lacks("batch 2/3")
        .run();
    assert!(marked("/root/t-hd-rolled").is_empty(), "later batches must not start");
    assert!(marked("/root/t-hd-after").is_empty());
    // Per batch: with serial 1 and 50%, each batch is judged alone, so one failed host of three stops it.
    lab.clean("/root/t-hd-*");
    Test::new()
        .lab(lab)
        .playbook(&playbook("serial: 1, max_fail_percentage: 50", &[h2]))
        .code(2)
        .stdout_has(&format!("rollout: batch 2/3: {h2}"))
        .stdout_lacks("batch 3/3")
        .run();
    assert_eq!(marked("/root/t-hd-rolled"), vec![h1]);
}
