//! Logging in and becoming root the ways sites without keys-and-sudo allow: `become_method: su` on a host
//! with no sudo, password and keyboard-interactive logins, and OpenSSH user certificates signed by a CA the
//! host trusts. Real OpenSSH and PAM on lab hosts throughout; each host is reconfigured by the test itself.
//!
//! Lab `t-ssh-auth` (10.255.33.0/24): `lab-h01` has sudo removed (su only), `lab-h02` has password logins
//! turned on for two users (one by password, one by keyboard-interactive only), `lab-h03` trusts a user CA
//! made here with ssh-keygen.

use crate::support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use support::{Lab, Test};

const LAB: &str = "t-ssh-auth";
const SUBNET: &str = "10.255.33.0/24";
const SU_HOST: &str = "lab-h01";
const PASSWORD_HOST: &str = "lab-h02";
const CERT_HOST: &str = "lab-h03";

/// Shell-hostile on purpose: quotes, `$`, backquotes and spaces must all travel as data.
const ROOT_PASSWORD: &str = r#"Root-$x;"1 2"`id`"#;
const APP_PASSWORD: &str = r#"App 'pw' $(id)"#;
const LOGIN_PASSWORD: &str = r#"Login-"pw" $HOME;`id`"#;

fn lab() -> &'static Lab {
    static CELL: OnceLock<Lab> = OnceLock::new();
    static PURGED: std::sync::Once = std::sync::Once::new();
    // Fresh hosts: the tests change sshd, users and packages, and must not depend on a previous run's leftovers.
    PURGED.call_once(|| {
        support::lab_down(LAB);
    });
    Lab::get(&CELL, LAB, 3, SUBNET)
}

/// `text` as one single-quoted shell word.
fn sq(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// An inventory of one lab host with `vars` (YAML lines) and the lab's known_hosts.
fn inventory(dir: &Path, host: &str, vars: &str) -> PathBuf {
    let lab = lab();
    let mut text = format!(
        "all:\n  vars:\n    known_hosts: {}\n  hosts:\n    {host}:\n      address: {}\n",
        lab.dir().join("known_hosts").display(),
        lab.address(host)
    );
    for line in vars.lines().filter(|l| !l.trim().is_empty()) {
        text.push_str(&format!("      {}\n", line.trim()));
    }
    let path = dir.join(format!("{host}-{}.yaml", rand_suffix()));
    std::fs::write(&path, text).unwrap();
    path
}

fn rand_suffix() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64
}

fn lab_key() -> String {
    lab().dir().join("id_ed25519").display().to_string()
}

// ---------------------------------------------------------------------------------------------------------
// become_method: su

/// lab-h01 without sudo: `rbops` logs in by key and may not sudo (there is none), root and `rbapp` have
/// passwords for su.
fn su_host() -> &'static Lab {
    static DONE: OnceLock<()> = OnceLock::new();
    let lab = lab();
    DONE.get_or_init(|| {
        lab.sh(
            SU_HOST,
            &format!(
                "for u in rbops rbapp; do id $u >/dev/null 2>&1 || useradd -m -s /bin/sh $u; done; \
                 printf '%s\\n' {} {} | chpasswd; \
                 install -d -o rbops -m 700 /home/rbops/.ssh; \
                 install -o rbops -m 600 /root/.ssh/authorized_keys /home/rbops/.ssh/authorized_keys; \
                 rm -f /usr/bin/sudo /etc/sudoers.d/rbops",
                sq(&format!("root:{ROOT_PASSWORD}")),
                sq(&format!("rbapp:{APP_PASSWORD}"))
            ),
        );
    });
    lab
}

fn su_inventory(dir: &Path, extra: &str) -> PathBuf {
    inventory(dir, SU_HOST, &format!("user: rbops\nkey: {}\nbecome: true\nbecome_method: su\n{extra}", lab_key()))
}

const AS_ROOT: &str = r#"
task("as root", hosts(), |h| {
    let id = h.run("id -u").stdout.trim();
    if id != "0" { throw "not root but " + id; }
    h.write("made by su\n", "/root/rb-su");
});
"#;

#[test]
fn su_becomes_root_where_there_is_no_sudo() {
    require_lab!();
    let lab = su_host();
    let dir = tempfile::tempdir().unwrap();
    let (code, _) = lab.ssh(SU_HOST, "command -v sudo");
    assert_ne!(code, 0, "sudo must be absent on {SU_HOST} for this test to mean anything");
    lab.sh(SU_HOST, "rm -f /root/rb-su");
    let inventory = su_inventory(dir.path(), "");

    // No password: su asks, and the message says how to give one.
    let run = Test::new().inventory_file(&inventory).playbook(AS_ROOT).code(3).run();
    assert!(run.stdout.contains("su to root") && run.stdout.contains("--ask-become-pass"), "{}", run.stdout);

    Test::new().inventory_file(&inventory).playbook(AS_ROOT).env("RUNBOOK_BECOME_PASSWORD", ROOT_PASSWORD).run();
    assert_eq!(lab.sh(SU_HOST, "stat -c %U /root/rb-su").trim(), "root");

    // --ask-become-pass: no terminal here, so the first line of stdin.
    // No terminal: -K reads the password from the first line of stdin.
    Test::new().inventory_file(&inventory).playbook(AS_ROOT).args(&["-K"]).stdin(&format!("{ROOT_PASSWORD}\n")).run();
}

#[test]
fn a_wrong_su_password_is_one_clear_error_and_fast() {
    require_lab!();
    su_host();
    let dir = tempfile::tempdir().unwrap();
    let inventory = su_inventory(dir.path(), "");
    let run = Test::new()
        .inventory_file(&inventory)
        .playbook(AS_ROOT)
        .env("RUNBOOK_BECOME_PASSWORD", "not-the-password")
        .code(3)
        .stdout_has("su to root: wrong become password")
        .stdout_has(SU_HOST)
        .run();
    assert!(run.elapsed < Duration::from_secs(15), "took {:?}", run.elapsed);
    assert_eq!(run.stdout.matches("wrong become password").count(), 1, "{}", run.stdout);
}

#[test]
fn su_to_another_user_writes_files_owned_by_that_user() {
    require_lab!();
    let lab = su_host();
    let dir = tempfile::tempdir().unwrap();
    lab.sh(SU_HOST, "rm -rf /tmp/rb-su-app && install -d -o rbapp -m 700 /tmp/rb-su-app");
    let inventory = su_inventory(dir.path(), "become_user: rbapp");
    let playbook = r#"
task("as rbapp", hosts(), |h| {
    let who = h.run("id -un").stdout.trim();
    if who != "rbapp" { throw "running as " + who; }
    h.write("owned\n", "/tmp/rb-su-app/config");
});
"#;
    // With su the password is the become user's own.
    Test::new().inventory_file(&inventory).playbook(playbook).env("RUNBOOK_BECOME_PASSWORD", APP_PASSWORD).run();
    assert_eq!(lab.sh(SU_HOST, "stat -c %U:%G /tmp/rb-su-app/config").trim(), "rbapp:rbapp");
    assert_eq!(lab.sh(SU_HOST, "ls -A /tmp/rb-su-app").trim(), "config");
}

#[test]
fn the_su_password_never_shows_in_output_logs_or_any_remote_argv() {
    require_lab!();
    let lab = su_host();
    let dir = tempfile::tempdir().unwrap();
    let inventory = su_inventory(dir.path(), "");
    let playbook = r#"
task("busy", hosts(), |h| {
    h.run("sleep 2");
    h.write("one\n", "/root/rb-su-quiet");
    h.run("sleep 2");
    h.write("two\n", "/root/rb-su-quiet");
});
"#;
    let sampler = std::thread::spawn(move || {
        lab.sh(SU_HOST, "for i in $(seq 1 40); do ps -eo args; sleep 0.2; done").to_string()
    });
    std::thread::sleep(Duration::from_millis(500));
    let run = Test::new()
        .inventory_file(&inventory)
        .playbook(playbook)
        .args(&["-vv", "--diff"])
        .env("RUNBOOK_BECOME_PASSWORD", ROOT_PASSWORD)
        .json_log()
        .run();
    let samples = sampler.join().unwrap();
    assert!(samples.contains("su -s /bin/sh -c"), "the sampler saw the run's su: {samples}");
    assert!(!samples.contains(ROOT_PASSWORD), "the password is in a remote argv");
    assert!(!run.stdout.contains(ROOT_PASSWORD) && !run.stderr.contains(ROOT_PASSWORD));
    let log = std::fs::read_to_string(run.dir.join("events.jsonl")).unwrap();
    assert!(!log.is_empty() && !log.contains(ROOT_PASSWORD));
}

// ---------------------------------------------------------------------------------------------------------
// Password and keyboard-interactive logins

/// lab-h02: `rbpw` may log in by password only, `rbkbd` by keyboard-interactive only (PAM asks for the
/// password); no key of theirs is authorized. Everyone else (root, for the test's own checks) as before.
fn password_host() -> &'static Lab {
    static DONE: OnceLock<()> = OnceLock::new();
    let lab = lab();
    DONE.get_or_init(|| {
        // Match blocks at the end of the main file: in an Include'd file they would swallow what follows.
        lab.sh(
            PASSWORD_HOST,
            &format!(
                "for u in rbpw rbkbd; do id $u >/dev/null 2>&1 || useradd -m -s /bin/sh $u; done; \
                 printf '%s\\n' {} {} | chpasswd; \
                 grep -q '^Match User rbpw' /etc/ssh/sshd_config || printf '%s\\n' \
                   'Match User rbpw' '  PasswordAuthentication yes' '  AuthenticationMethods password' \
                   'Match User rbkbd' '  KbdInteractiveAuthentication yes' \
                   '  AuthenticationMethods keyboard-interactive' >> /etc/ssh/sshd_config; \
                 sshd -t && systemctl restart ssh",
                sq(&format!("rbpw:{LOGIN_PASSWORD}")),
                sq(&format!("rbkbd:{LOGIN_PASSWORD}"))
            ),
        );
        // sshd is back before anyone logs in.
        wait_for_ssh(lab.address(PASSWORD_HOST));
    });
    lab
}

fn wait_for_ssh(address: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while std::time::Instant::now() < deadline {
        if std::net::TcpStream::connect_timeout(&format!("{address}:22").parse().unwrap(), Duration::from_secs(1))
            .is_ok()
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("sshd on {address} did not come back");
}

const WHO: &str = r#"
task("who", hosts(), |h| { h.run("echo I-am-$(id -un)"); });
"#;

#[test]
fn a_password_login_works_from_the_environment_and_from_ask_pass() {
    require_lab!();
    password_host();
    let dir = tempfile::tempdir().unwrap();
    // The lab key is offered first and refused: only the password opens the door.
    let inventory = inventory(dir.path(), PASSWORD_HOST, &format!("user: rbpw\nkey: {}", lab_key()));
    let run = Test::new().inventory_file(&inventory).playbook(WHO).code(3).run();
    assert!(run.stdout.contains("authentication as rbpw failed"), "{}", run.stdout);

    let run = Test::new()
        .inventory_file(&inventory)
        .playbook(WHO)
        .args(&["-vv"])
        .env("RUNBOOK_SSH_PASSWORD", LOGIN_PASSWORD)
        .json_log()
        .run();
    assert!(run.stdout.contains("I-am-rbpw"), "{}", run.stdout);
    assert!(!run.stdout.contains(LOGIN_PASSWORD) && !run.stderr.contains(LOGIN_PASSWORD));
    let log = std::fs::read_to_string(run.dir.join("events.jsonl")).unwrap();
    assert!(!log.is_empty() && !log.contains(LOGIN_PASSWORD));

    // No terminal: -k reads the password from the first line of stdin.
    let run = Test::new()
        .inventory_file(&inventory)
        .playbook(WHO)
        .args(&["-k", "-vv"])
        .stdin(&format!("{LOGIN_PASSWORD}\n"))
        .stdout_has("I-am-rbpw")
        .run();
    assert!(!run.stdout.contains(LOGIN_PASSWORD) && !run.stderr.contains(LOGIN_PASSWORD));
}

#[test]
fn a_server_offering_only_keyboard_interactive_is_answered_with_the_password() {
    require_lab!();
    password_host();
    let dir = tempfile::tempdir().unwrap();
    let inventory = inventory(dir.path(), PASSWORD_HOST, "user: rbkbd");
    let run = Test::new()
        .inventory_file(&inventory)
        .playbook(WHO)
        .args(&["-vv"])
        .env("RUNBOOK_SSH_PASSWORD", LOGIN_PASSWORD)
        .json_log()
        .run();
    assert!(run.stdout.contains("I-am-rbkbd"), "{}", run.stdout);
    assert!(!run.stdout.contains(LOGIN_PASSWORD) && !run.stderr.contains(LOGIN_PASSWORD));
    let log = std::fs::read_to_string(run.dir.join("events.jsonl")).unwrap();
    assert!(!log.contains(LOGIN_PASSWORD));
}

#[test]
fn a_wrong_login_password_is_a_clear_error_for_that_host() {
    require_lab!();
    password_host();
    let dir = tempfile::tempdir().unwrap();
    for user in ["rbpw", "rbkbd"] {
        let inventory = inventory(dir.path(), PASSWORD_HOST, &format!("user: {user}"));
        let run = Test::new()
            .inventory_file(&inventory)
            .playbook(WHO)
            .args(&["-vv"])
            .env("RUNBOOK_SSH_PASSWORD", "wrong-password")
            .json_log()
            .code(3)
            .run();
        let all = format!("{}{}", run.stdout, run.stderr);
        assert!(all.contains(&format!("authentication as {user} failed")), "{all}");
        assert!(all.contains(PASSWORD_HOST), "{all}");
        assert!(!all.contains("wrong-password"), "the password is in the output: {all}");
        assert_eq!(run.recap(PASSWORD_HOST)["unreachable"], 1);
        assert!(run.elapsed < Duration::from_secs(30), "took {:?}", run.elapsed);
    }
}

// ---------------------------------------------------------------------------------------------------------
// OpenSSH user certificates

struct CertFiles {
    /// A key with a valid certificate next to it.
    valid: PathBuf,
    /// The same kind of key with a certificate that expired yesterday.
    expired: PathBuf,
    /// A key with no certificate, that the host does not list anywhere.
    plain: PathBuf,
}

fn keygen(args: &[&str]) {
    let output = Command::new("ssh-keygen").args(args).output().expect("ssh-keygen runs");
    assert!(output.status.success(), "ssh-keygen {args:?}: {}", String::from_utf8_lossy(&output.stderr));
}

/// A user CA made here; lab-h03 trusts it for `rbcert`, who has no authorized_keys at all.
fn cert_host() -> &'static CertFiles {
    static CELL: OnceLock<CertFiles> = OnceLock::new();
    CELL.get_or_init(|| {
        let lab = lab();
        let dir = tempfile::tempdir().unwrap().keep();
        let path = |name: &str| dir.join(name).display().to_string();
        keygen(&["-q", "-t", "ed25519", "-N", "", "-C", "runbook test CA", "-f", &path("ca")]);
        for name in ["valid", "expired", "plain"] {
            keygen(&["-q", "-t", "ed25519", "-N", "", "-f", &path(name)]);
        }
        keygen(&["-q", "-s", &path("ca"), "-I", "rbcert-valid", "-n", "rbcert", "-V", "-5m:+1h", &path("valid.pub")]);
        keygen(&["-q", "-s", &path("ca"), "-I", "rbcert-old", "-n", "rbcert", "-V", "-2d:-1d", &path("expired.pub")]);
        let ca = std::fs::read_to_string(dir.join("ca.pub")).unwrap();
        lab.sh(
            CERT_HOST,
            &format!(
                "id rbcert >/dev/null 2>&1 || useradd -m -s /bin/sh rbcert; rm -rf /home/rbcert/.ssh; \
                 printf '%s' {} > /etc/ssh/rb_user_ca.pub; \
                 grep -q '^TrustedUserCAKeys' /etc/ssh/sshd_config || \
                   echo 'TrustedUserCAKeys /etc/ssh/rb_user_ca.pub' >> /etc/ssh/sshd_config; \
                 sshd -t && systemctl restart ssh",
                sq(&ca)
            ),
        );
        wait_for_ssh(lab.address(CERT_HOST));
        CertFiles { valid: dir.join("valid"), expired: dir.join("expired"), plain: dir.join("plain") }
    })
}

fn cert_inventory(dir: &Path, key: &Path) -> PathBuf {
    inventory(dir, CERT_HOST, &format!("user: rbcert\nkey: {}", key.display()))
}

#[test]
fn a_user_certificate_next_to_the_key_logs_in_where_the_key_alone_cannot() {
    require_lab!();
    let files = cert_host();
    let dir = tempfile::tempdir().unwrap();
    assert!(files.valid.with_file_name("valid-cert.pub").exists());
    // The host lists no key for rbcert: a plain key is refused...
    let run = Test::new().inventory_file(cert_inventory(dir.path(), &files.plain)).playbook(WHO).code(3).run();
    assert!(run.stdout.contains("authentication as rbcert failed"), "{}", run.stdout);
    // ...and the key with its certificate is let in.
    let run = Test::new().inventory_file(cert_inventory(dir.path(), &files.valid)).playbook(WHO).args(&["-v"]).run();
    assert!(run.stdout.contains("I-am-rbcert"), "{}", run.stdout);
}

#[test]
fn an_expired_certificate_is_refused_and_the_error_says_it_expired() {
    require_lab!();
    let files = cert_host();
    let dir = tempfile::tempdir().unwrap();
    let run = Test::new().inventory_file(cert_inventory(dir.path(), &files.expired)).playbook(WHO).code(3).run();
    assert!(run.stdout.contains("authentication as rbcert failed"), "{}", run.stdout);
    assert!(run.stdout.contains("expired-cert.pub (certificate expired 2"), "{}", run.stdout);
    assert!(!run.stdout.contains("I-am-rbcert"));
}
