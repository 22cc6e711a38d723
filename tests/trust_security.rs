//! What runbook promises an operator about trust, each checked on lab hosts: host keys are never trusted
//! silently, secrets never show, whatever a playbook passes reaches the host byte for byte (nothing in it is
//! run by a shell it was not meant for), and `become` through sudo fails fast instead of hanging.
//!
//! Lab `trs` (2 hosts, 10.254.2.0/24).

use crate::support;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use support::{Lab, Test};

static LAB: OnceLock<Lab> = OnceLock::new();

fn lab() -> &'static Lab {
    Lab::get(&LAB, "trs", 2, "10.254.2.0/24")
}

/// An inventory of one host of the lab, with the given extra connection lines (`user`, `become`...).
fn inventory(dir: &Path, lab: &Lab, host: &str, known_hosts: &Path, extra: &str) -> PathBuf {
    let path = dir.join("inventory.yaml");
    std::fs::write(
        &path,
        format!(
            "all:\n  vars:\n    user: root\n    key: {}/id_ed25519\n    known_hosts: {}\n{extra}  hosts:\n    {host}: {{ address: {} }}\n",
            lab.dir().display(),
            known_hosts.display(),
            lab.address(host)
        ),
    )
    .unwrap();
    path
}

#[test]
fn host_key_checking_off_needs_the_explicit_flag_and_warns() {
    require_lab!();
    let lab = lab();
    let host = lab.host(0);
    let test = Test::new();
    let empty = test.path().join("known_hosts");
    std::fs::write(&empty, "").unwrap();
    let inventory = inventory(test.path(), lab, host, &empty, "");
    let playbook = r#"task("ping", hosts(), |h| h.run("true"));"#;
    // Without the flag an unknown key is refused (strict is the default).
    Test::new().inventory_file(&inventory).playbook(playbook).code(3).stdout_has("is not known").run();
    // With it, the run goes on and says out loud what was given up; nothing is recorded.
    let run = Test::new()
        .inventory_file(&inventory)
        .playbook(playbook)
        .args(&["--host-key-checking", "off"])
        .stderr_has("warning: --host-key-checking off")
        .run();
    assert!(run.stderr.contains("middle"), "{}", run.stderr);
    assert_eq!(std::fs::read_to_string(&empty).unwrap(), "", "off must not record keys");
}

const SECRET: &str = "tr-S3cret-Val/ue+42";
const FILE_SECRET: &str = "tr-from-a-file-7781";

#[test]
fn secrets_never_show_in_output_errors_diffs_or_the_json_log() {
    require_lab!();
    let lab = lab();
    let host = lab.host(0);
    lab.clean("/root/tr-secret.conf /root/tr-sensitive");
    let test = Test::new()
        .file("templates/conf.j2", "user = admin\npassword = {{ password }}\n")
        .file("secrets.yaml", &format!("api_token: {FILE_SECRET}\n"));
    let secrets_file = test.path().join("secrets.yaml").display().to_string();
    let run = test
        .lab(lab)
        .env("RUNBOOK_SECRET_DB_PASSWORD", SECRET)
        .json_log()
        .playbook(&format!(
            r#"
            let s = secret("db_password");
            let t = secret("api_token");
            print("printed: " + s + " " + t);
            task("output", host("{host}"), |h| h.run(`echo out:${{s}}:${{t}}; echo err:${{s}}:${{t}} >&2`));
            task("template", host("{host}"), |h| h.template("templates/conf.j2", "/root/tr-secret.conf", #{{ password: s }}, #{{ mode: "0600" }}));
            task("sensitive", host("{host}"), |h| h.write("token=" + t + "\n", "/root/tr-sensitive", #{{ sensitive: true, mode: "0600" }}));
            task("fails", host("{host}"), |h| h.run(`echo failing with ${{s}} >&2; exit 3`));
            "#
        ))
        .args(&["-vv", "--diff", "-e", &format!("@{secrets_file}")])
        .code(2)
        .stdout_has("(sensitive: diff hidden)")
        .stdout_has("password = ***")
        .stdout_has("out:***:***")
        .stdout_has("err:***:***")
        .stdout_has("failing with ***")
        .run();
    let log = std::fs::read_to_string(run.dir.join("events.jsonl")).unwrap();
    for (what, text) in [("stdout", &run.stdout), ("stderr", &run.stderr), ("--log-json", &log)] {
        for secret in [SECRET, FILE_SECRET] {
            assert!(!text.contains(secret), "{secret} shows in {what}:\n{text}");
        }
    }
    // -vv shows the scripts primitives run; file content inlined there as base64 would carry the secret
    // past the redactor, so it is not shown.
    let encoded =
        [base64_of(&format!("user = admin\npassword = {SECRET}\n")), base64_of(&format!("token={FILE_SECRET}\n"))];
    for (what, text) in [("stdout", &run.stdout), ("--log-json", &log)] {
        for secret in &encoded {
            assert!(!text.contains(&secret[..secret.len() - 4]), "an encoded secret shows in {what}:\n{text}");
        }
    }
    assert!(run.stdout.contains("characters of base64 content not shown"), "{}", run.stdout);
    assert!(log.contains("password = ***"), "the diff is in the log, redacted");
    // The values did reach the host, in files only root can read.
    assert_eq!(lab.sh(host, "cat /root/tr-secret.conf"), format!("user = admin\npassword = {SECRET}\n"));
    assert_eq!(lab.sh(host, "stat -c %a /root/tr-secret.conf /root/tr-sensitive"), "600\n600\n");
    assert_eq!(lab.sh(host, "cat /root/tr-sensitive"), format!("token={FILE_SECRET}\n"));

    // A playbook that stops on an error holding the secret: the error is redacted too.
    Test::new()
        .lab(lab)
        .env("RUNBOOK_SECRET_DB_PASSWORD", SECRET)
        .playbook(r#"let s = secret("db_password"); throw "cannot use " + s;"#)
        .code(1)
        .stderr_has("cannot use ***")
        .run();
}

#[test]
fn a_secret_passed_on_stdin_is_never_on_a_command_line() {
    require_lab!();
    let lab = lab();
    let host = lab.host(1);
    let test = Test::new();
    let dir = test.path().to_path_buf();
    std::fs::write(
        dir.join("site.rhai"),
        format!(
            r#"
            let s = secret("db_password");
            task("stdin", host("{host}"), |h| {{
                let got = h.run("read -r v; sleep 3.11; printf '%s' \"$v\"", #{{ stdin: s }}).stdout;
                if got != s {{ throw "stdin changed"; }}
                h.run("read -r v; sleep 3.12; test \"$v\" = \"$EXPECTED\"", #{{ stdin: s, timeout: 30, env: #{{ EXPECTED: s }} }});
            }});
            "#
        ),
    )
    .unwrap();
    // Spawned: the host's process list is sampled while the run goes on, until the child ends.
    let mut child = std::process::Command::new(support::RUNBOOK)
        .current_dir(&dir)
        .env("RUNBOOK_SECRET_DB_PASSWORD", SECRET)
        .args(["run", "site.rhai", "-i"])
        .arg(lab.inventory())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let encoded = base64_of(SECRET);
    let mut seen = Vec::new();
    let started = Instant::now();
    // Every process's argv on the host, sampled while the commands run.
    while child.try_wait().unwrap().is_none() {
        assert!(started.elapsed() < Duration::from_secs(60));
        let (_, ps) = lab.ssh(host, "ps -eo args");
        if ps.contains("sleep 3.1") {
            seen.push(ps.contains("sleep 3.11"));
        }
        assert!(!ps.contains(SECRET) && !ps.contains(&encoded), "the secret is in ps:\n{ps}");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(child.wait().unwrap().success());
    assert!(seen.contains(&true) && seen.contains(&false), "both commands were sampled while running: {seen:?}");
}

fn base64_of(text: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// Spaces, both quotes, `$()`, backticks, a backslash, a tab and a newline: anything a shell would act on.
const AWKWARD: &str = "it's \"q\" $(touch /root/tr-pwned) `touch /root/tr-pwned` \\ \t $HOME\nline 2 ;|&<>*";

#[test]
fn awkward_values_reach_the_host_unchanged_through_every_primitive() {
    require_lab!();
    let lab = lab();
    let host = lab.host(1);
    lab.clean("'/root/tr q' /root/tr-pwned /root/tr-sysctl.conf");
    lab.sh(host, "mkdir -p \"/root/tr q/cwd \\$(x) 'it''s'\"");
    // Every byte value, and sequences that are not UTF-8.
    let mut binary: Vec<u8> = (0..=255u8).collect();
    binary.extend_from_slice(b"\xff\xfe\x00\xc3\x28\xa0\xa1\xe2\x28\xa1\n");
    let test = Test::new().file("templates/awkward.j2", "value={{ awkward }}\nname={{ inventory_hostname }}\n");
    std::fs::write(test.path().join("binary.bin"), &binary).unwrap();
    let run = test
        .lab(lab)
        .playbook(&format!(
            r#"
            let awkward = {AWKWARD:?};
            task("quoting", host("{host}"), |h| {{
                let cwd = "/root/tr q/cwd $(x) 'it''s'";
                let r = h.run("printf '%s' \"$AWK\"; printf '|'; pwd; cat", #{{ env: #{{ AWK: awkward }}, cwd: cwd, stdin: awkward }});
                let expected = awkward + "|" + cwd + "\n" + awkward;
                if r.stdout != expected {{ throw "run changed it: " + r.stdout; }}
                let path = "/root/tr q/it's $(x) `y`.txt";
                h.write(awkward, path);
                if h.read(path) != awkward {{ throw "read changed it"; }}
                if !h.exists(path) {{ throw "exists missed it"; }}
                h.upload("binary.bin", "/root/tr q/binary $(x).bin");
                h.template("templates/awkward.j2", "/root/tr q/templated 'x'.txt", #{{ awkward: awkward }});
                h.sysctl(#{{ "net.ipv4.ip_local_port_range": "32768 60999" }}, #{{ file: "/root/tr q/sysctl $(x).conf" }});
                let failed = false;
                try {{ h.wait_port(22, #{{ address: "$(touch /root/tr-pwned)", timeout: 1 }}); }} catch {{ failed = true; }}
                if !failed {{ throw "wait_port accepted a bogus address"; }}
                h.run("true", #{{ creates: "/root/tr q/`touch /root/tr-pwned`" }});
            }});
            "#
        ))
        .run();
    let _ = run;
    assert_eq!(lab.sh(host, "cat \"/root/tr q/it's \\$(x) \\`y\\`.txt\""), AWKWARD);
    let uploaded = lab.sh(host, "base64 -w0 '/root/tr q/binary $(x).bin'");
    assert_eq!(uploaded, base64_of_bytes(&binary), "binary bytes changed on the way");
    assert_eq!(lab.sh(host, "cat \"/root/tr q/templated 'x'.txt\""), format!("value={AWKWARD}\nname={host}\n"));
    assert_eq!(lab.sh(host, "cat '/root/tr q/sysctl $(x).conf'"), "net.ipv4.ip_local_port_range = 32768 60999\n");
    assert_eq!(
        lab.sh(host, "sysctl -n net.ipv4.ip_local_port_range").split_whitespace().collect::<Vec<_>>(),
        ["32768", "60999"]
    );
    assert_eq!(lab.ssh(host, "test -e /root/tr-pwned").0, 1, "something in a value was run by a shell");
}

fn base64_of_bytes(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[test]
fn become_runs_as_root_through_sudo_and_a_sudo_wanting_a_password_fails_fast() {
    require_lab!();
    let lab = lab();
    let host = lab.host(0);
    lab.sh(
        host,
        "id trbecome >/dev/null 2>&1 || useradd -m -s /bin/sh trbecome; \
         install -d -o trbecome -m 700 /home/trbecome/.ssh; \
         install -o trbecome -m 600 /root/.ssh/authorized_keys /home/trbecome/.ssh/authorized_keys; \
         echo 'trbecome ALL=(ALL) NOPASSWD: ALL' > /etc/sudoers.d/trbecome; chmod 440 /etc/sudoers.d/trbecome; \
         rm -f /root/tr-become",
    );
    let test = Test::new();
    let known = lab.dir().join("known_hosts");
    let path = inventory(test.path(), lab, host, &known, "    become: true\n");
    let text = std::fs::read_to_string(&path).unwrap().replace("user: root", "user: trbecome");
    std::fs::write(&path, text).unwrap();
    let playbook = r#"
        task("as root", hosts(), |h| {
            if h.run("id -u").stdout.trim() != "0" { throw "not root"; }
            h.write("made by become\n", "/root/tr-become");
        });
    "#;
    Test::new().inventory_file(&path).playbook(playbook).run();
    assert_eq!(lab.sh(host, "stat -c %U:%G /root/tr-become").trim(), "root:root");

    // sudo that wants a password: refused within seconds, saying sudo and the host.
    lab.sh(host, "echo 'trbecome ALL=(ALL) ALL' > /etc/sudoers.d/trbecome");
    let run = Test::new().inventory_file(&path).playbook(playbook).code(3).stdout_has("sudo").stdout_has(host).run();
    assert!(run.elapsed < Duration::from_secs(15), "took {:?}", run.elapsed);
    eprintln!("become with a password-wanting sudo refused in {:?}", run.elapsed);
    lab.sh(host, "rm -f /etc/sudoers.d/trbecome");
}
