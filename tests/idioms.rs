//! The idioms an Ansible user reaches for, on real lab hosts: ad hoc commands (`runbook exec`), `--list-hosts`,
//! the everyday stdlib modules (users and groups, files, lines and blocks, authorized keys) — idempotent, honest
//! under --check and --diff — and a ported Ansible playbook converging a host to the same state as the original
//! run by ansible-playbook. Results are checked on the hosts with the system ssh client.

mod support;

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
        "{ANSIBLE_PLAYBOOK} is missing: run scripts/install-deps (it installs ansible-core for this comparison)"
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
