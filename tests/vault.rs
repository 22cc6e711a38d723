//! Ansible Vault both ways, with the real `ansible-vault` (ansible-core from PyPI, installed by
//! scripts/install-deps in /opt/runbook-test-tools) as the other side: what it encrypts runbook opens — files,
//! inline `!vault` values, 1.2 labels, rekeyed files — and what `runbook vault` writes it opens. Without it these
//! tests fail: the comparison is the point.
//!
//! Then the run: vaulted values reach the host as plaintext and never the output, the diff or the JSON log (lab
//! `t-hk`, 10.241.2.0/24), and a wrong or missing password stops the run before any connection (a loopback
//! tripwire that must see none).

use crate::support;

use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use support::{Lab, Test, repo_root};

const ANSIBLE_VAULT: &str = "/opt/runbook-test-tools/bin/ansible-vault";

/// The password of the committed fixtures (tests/fixtures/vault), a throwaway.
const PASSWORD: &str = "fixture-throwaway-1";
const PROD_PASSWORD: &str = "prod-throwaway-2";
const FILE_SECRET: &str = "s3cret-from-vault";
const INLINE_SECRET: &str = "inline-s3cret";

fn fixture(name: &str) -> PathBuf {
    repo_root().join("tests/fixtures/vault").join(name)
}

fn ansible_vault(dir: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    assert!(
        Path::new(ANSIBLE_VAULT).is_file(),
        "{ANSIBLE_VAULT} is missing: run scripts/install-deps (it installs ansible-core for this comparison)"
    );
    let home = dir.join(".ansible-home");
    run_with_stdin(
        Command::new(ANSIBLE_VAULT)
            .current_dir(dir)
            .env("ANSIBLE_HOME", &home)
            .env("ANSIBLE_LOCAL_TEMP", &home)
            .env_remove("ANSIBLE_VAULT_PASSWORD_FILE")
            .args(args),
        stdin,
    )
}

/// `runbook ARGS` in `dir`, with no vault password file from the test's own environment.
fn runbook(dir: &Path, args: &[&str]) -> Test {
    Test::new().in_dir(dir).env_remove("ANSIBLE_VAULT_PASSWORD_FILE").args(args)
}

fn run_with_stdin(command: &mut Command, stdin: Option<&str>) -> Output {
    command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = command.spawn().expect("the command runs");
    {
        use std::io::Write;
        let mut input = child.stdin.take().unwrap();
        input.write_all(stdin.unwrap_or_default().as_bytes()).unwrap();
    }
    child.wait_with_output().unwrap()
}

/// stdout of a command that must succeed.
fn ok(output: Output, what: &str) -> String {
    assert!(
        output.status.success(),
        "{what} failed ({}):\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// A folder with the two password files (`pw`: the fixtures' default password, `pw-prod`: the `prod` one).
fn workdir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pw"), format!("{PASSWORD}\n")).unwrap();
    std::fs::write(dir.path().join("pw-prod"), format!("{PROD_PASSWORD}\n")).unwrap();
    dir
}

/// The ciphertext of an `encrypt_string` block (`name: !vault |` and indented lines), as a vault text.
fn unindented(block: &str) -> String {
    block.lines().skip(1).map(|line| format!("{}\n", line.trim())).collect()
}

#[test]
fn files_ansible_vault_encrypted_open_in_runbook() {
    let dir = workdir();
    let d = dir.path();
    std::fs::write(d.join("a.yml"), "db_password: fresh-from-ansible\n").unwrap();
    ok(ansible_vault(d, &["encrypt", "--vault-password-file", "pw", "a.yml"], None), "ansible-vault encrypt");
    let shown = runbook(d, &["vault", "view", "--vault-password-file", "pw", "a.yml"]).run().stdout;
    assert_eq!(shown, "db_password: fresh-from-ansible\n");
    // 1.2 with a label; the id whose label matches is found among several.
    std::fs::write(d.join("b.yml"), "labelled: yes\n").unwrap();
    ok(ansible_vault(d, &["encrypt", "--vault-id", "prod@pw-prod", "b.yml"], None), "ansible-vault encrypt 1.2");
    assert!(std::fs::read_to_string(d.join("b.yml")).unwrap().starts_with("$ANSIBLE_VAULT;1.2;AES256;prod\n"));
    let args = ["vault", "decrypt", "--vault-id", "default@pw", "--vault-id", "prod@pw-prod", "b.yml"];
    runbook(d, &args).run();
    assert_eq!(std::fs::read_to_string(d.join("b.yml")).unwrap(), "labelled: yes\n");
    // An inline value from encrypt_string, through stdin.
    let block = ok(
        ansible_vault(
            d,
            &["encrypt_string", "--vault-password-file", "pw", "--name", "tok", "from-encrypt-string"],
            None,
        ),
        "ansible-vault encrypt_string",
    );
    let opened = runbook(d, &["vault", "decrypt", "--vault-password-file", "pw", "--output", "-"])
        .stdin(&unindented(&block))
        .run()
        .stdout;
    assert_eq!(opened, "from-encrypt-string");
    // The committed fixture, too.
    let args = ["vault", "view", "--vault-id", "prod@pw-prod"];
    let shown = runbook(d, &[&args[..], &[fixture("secrets-1.2-prod.yml").to_str().unwrap()]].concat()).run().stdout;
    assert!(shown.contains(FILE_SECRET), "{shown}");
}

#[test]
fn what_runbook_encrypts_opens_in_ansible_vault() {
    let dir = workdir();
    let d = dir.path();
    std::fs::write(d.join("a.yml"), "made_by: runbook\n").unwrap();
    runbook(d, &["vault", "encrypt", "--vault-password-file", "pw", "a.yml"]).run();
    let text = std::fs::read_to_string(d.join("a.yml")).unwrap();
    assert!(text.starts_with("$ANSIBLE_VAULT;1.1;AES256\n"), "{text}");
    assert!(text.lines().skip(1).all(|line| line.len() <= 80), "{text}");
    assert_eq!(std::fs::metadata(d.join("a.yml")).unwrap().permissions().mode() & 0o777, 0o600);
    assert_eq!(
        ok(ansible_vault(d, &["view", "--vault-password-file", "pw", "a.yml"], None), "view"),
        "made_by: runbook\n"
    );
    // A 1.2 label, from stdin to stdout.
    let text = runbook(d, &["vault", "encrypt", "--vault-id", "prod@pw-prod", "--output", "-"])
        .stdin("labelled\n")
        .run()
        .stdout;
    assert!(text.starts_with("$ANSIBLE_VAULT;1.2;AES256;prod\n"), "{text}");
    std::fs::write(d.join("b.vault"), &text).unwrap();
    let args = ["decrypt", "--vault-id", "prod@pw-prod", "--output", "-", "b.vault"];
    assert_eq!(ok(ansible_vault(d, &args, None), "ansible-vault decrypt"), "labelled\n");
    // encrypt_string: the YAML block is what ansible-vault prints, and its value opens there.
    let block = runbook(d, &["vault", "encrypt_string", "--vault-password-file", "pw", "-n", "api_token", "tok-en"])
        .run()
        .stdout;
    assert!(block.starts_with("api_token: !vault |\n          $ANSIBLE_VAULT;1.1;AES256\n"), "{block}");
    let args = ["decrypt", "--vault-password-file", "pw", "--output", "-"];
    assert_eq!(ok(ansible_vault(d, &args, Some(&unindented(&block))), "ansible-vault decrypt string"), "tok-en");
    // Several ids and no --encrypt-vault-id: refused as ansible-vault refuses it.
    let args = ["vault", "encrypt", "--vault-id", "a@pw", "--vault-id", "b@pw-prod", "a.yml"];
    runbook(d, &args).code(1).stderr_has("--encrypt-vault-id").run();
}

#[test]
fn rekey_works_both_ways() {
    let dir = workdir();
    let d = dir.path();
    std::fs::write(d.join("a.yml"), "k: v\n").unwrap();
    ok(ansible_vault(d, &["encrypt", "--vault-password-file", "pw", "a.yml"], None), "encrypt");
    std::fs::set_permissions(d.join("a.yml"), std::fs::Permissions::from_mode(0o640)).unwrap();
    let args = ["vault", "rekey", "--vault-password-file", "pw", "--new-vault-id", "prod@pw-prod", "a.yml"];
    runbook(d, &args).run();
    assert!(std::fs::read_to_string(d.join("a.yml")).unwrap().starts_with("$ANSIBLE_VAULT;1.2;AES256;prod\n"));
    assert_eq!(std::fs::metadata(d.join("a.yml")).unwrap().permissions().mode() & 0o777, 0o640, "rekey keeps the mode");
    assert_eq!(ok(ansible_vault(d, &["view", "--vault-id", "prod@pw-prod", "a.yml"], None), "view"), "k: v\n");
    let wrong = ansible_vault(d, &["view", "--vault-password-file", "pw", "a.yml"], None);
    assert!(!wrong.status.success(), "the old password must no longer open it");
    let args = ["rekey", "--vault-id", "prod@pw-prod", "--new-vault-password-file", "pw", "a.yml"];
    ok(ansible_vault(d, &args, None), "ansible-vault rekey");
    assert_eq!(runbook(d, &["vault", "view", "--vault-password-file", "pw", "a.yml"]).run().stdout, "k: v\n");
}

#[test]
fn edit_goes_through_the_editor_and_leaves_no_plaintext_behind() {
    let dir = workdir();
    let d = dir.path();
    std::fs::write(d.join("a.yml"), "k: v\n").unwrap();
    ok(ansible_vault(d, &["encrypt", "--vault-id", "prod@pw-prod", "a.yml"], None), "encrypt");
    // The "editor" records where the plaintext was and with what mode, and appends a line.
    let editor = d.join("editor.sh");
    std::fs::write(
        &editor,
        "#!/bin/sh\nstat -c '%a %n' \"$1\" \"$(dirname \"$1\")\" > \"$RECORD\"\necho 'added: 1' >> \"$1\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&editor, std::fs::Permissions::from_mode(0o700)).unwrap();
    let record = d.join("record");
    Test::new()
        .in_dir(d)
        .env("EDITOR", &editor.display().to_string())
        .env("RECORD", &record.display().to_string())
        .args(&["vault", "edit", "--vault-id", "prod@pw-prod", "a.yml"])
        .run();
    let record = std::fs::read_to_string(&record).unwrap();
    let lines: Vec<&str> = record.lines().collect();
    assert!(lines[0].starts_with("600 ") && lines[1].starts_with("700 "), "{record}");
    let temp = lines[0].split_once(' ').unwrap().1;
    assert!(!Path::new(temp).exists() && !Path::new(lines[1].split_once(' ').unwrap().1).exists(), "{record}");
    // Same label, and ansible-vault reads the edit.
    assert!(std::fs::read_to_string(d.join("a.yml")).unwrap().starts_with("$ANSIBLE_VAULT;1.2;AES256;prod\n"));
    assert_eq!(
        ok(ansible_vault(d, &["view", "--vault-id", "prod@pw-prod", "a.yml"], None), "view"),
        "k: v\nadded: 1\n"
    );
}

#[test]
fn password_files_may_be_scripts_and_come_from_the_environment() {
    let dir = workdir();
    let d = dir.path();
    let script = d.join("pass.sh");
    std::fs::write(&script, format!("#!/bin/sh\nprintf '%s\\n' '{PASSWORD}'\n")).unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o700)).unwrap();
    let fixture = fixture("secrets-1.1.yml").display().to_string();
    let shown = runbook(d, &["vault", "view", "--vault-password-file", "pass.sh", &fixture]).run().stdout;
    assert!(shown.contains(FILE_SECRET), "{shown}");
    Test::new()
        .in_dir(d)
        .env("ANSIBLE_VAULT_PASSWORD_FILE", &script.display().to_string())
        .args(&["vault", "view", &fixture])
        .stdout_has(FILE_SECRET)
        .run();
}

/// An inventory whose one host is a loopback listener that must never see a connection, with an inline vaulted
/// value and a vaulted `group_vars` file made by ansible-vault.
struct Tripwire(TcpListener);

impl Tripwire {
    fn new() -> Tripwire {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        Tripwire(listener)
    }

    fn site(&self, dir: &Path) -> PathBuf {
        let inline = std::fs::read_to_string(fixture("inline.yml")).unwrap();
        let inline: String = inline.lines().map(|line| format!("    {line}\n")).collect();
        let path = dir.join("inventory.yaml");
        let port = self.0.local_addr().unwrap().port();
        std::fs::write(&path, format!("all:\n  vars:\n{inline}  children:\n    db:\n      hosts:\n        web1: {{ address: 127.0.0.1, port: {port} }}\n")).unwrap();
        std::fs::create_dir_all(dir.join("group_vars")).unwrap();
        std::fs::copy(fixture("secrets-1.1.yml"), dir.join("group_vars/db.yml")).unwrap();
        std::fs::write(dir.join("pw"), format!("{PASSWORD}\n")).unwrap();
        std::fs::write(dir.join("wrong"), "not-the-password\n").unwrap();
        path
    }

    fn assert_untouched(&self) {
        std::thread::sleep(std::time::Duration::from_millis(100));
        match self.0.accept() {
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {}
            Ok((_, from)) => panic!("runbook connected to the host (from {from}) despite the bad password"),
            Err(error) => panic!("accept: {error}"),
        }
    }
}

const TOUCH: &str = "task(\"first\", hosts(), |h| h.run(\"touch /tmp/should-not-run\"));\n";

#[test]
fn a_wrong_or_missing_password_stops_the_run_before_any_connection() {
    let wire = Tripwire::new();
    let test = Test::new();
    let inventory = wire.site(test.path());
    let dir = test.path().to_path_buf();
    let run = Test::new()
        .inventory_file(&inventory)
        .playbook(TOUCH)
        .args(&["--vault-password-file", dir.join("wrong").to_str().unwrap(), "--timeout", "1"])
        .code(1)
        .stderr_has("no vault password given could decrypt it (tried vault ids: default)")
        .stderr_has("inventory.yaml:4:15: cannot decrypt this !vault value")
        .run();
    assert!(!run.stderr.contains("unreachable"), "{}", run.stderr);
    wire.assert_untouched();
    Test::new()
        .inventory_file(&inventory)
        .playbook(TOUCH)
        .args(&["--timeout", "1"])
        .code(1)
        .stderr_has("no vault password was given: pass --vault-password-file")
        .run();
    wire.assert_untouched();
    // `exec` loads the inventory the same way.
    runbook(
        &dir,
        &["exec", "all", "-i", "inventory.yaml", "--vault-password-file", "wrong", "--timeout", "1", "--", "true"],
    )
    .code(1)
    .stderr_has("no vault password given could decrypt it")
    .run();
    wire.assert_untouched();
    // A password file that does not exist: refused before the inventory is even read.
    Test::new()
        .inventory_file(&inventory)
        .playbook(TOUCH)
        .args(&["--vault-password-file", dir.join("missing").to_str().unwrap()])
        .code(1)
        .stderr_has("cannot be read")
        .run();
    wire.assert_untouched();
}

#[test]
fn vaulted_values_load_for_the_playbook_and_never_show() {
    let wire = Tripwire::new();
    let test = Test::new();
    let inventory = wire.site(test.path());
    let dir = test.path().to_path_buf();
    // Top-level code reads the variables without contacting the host; it prints only comparisons and the value
    // itself (which must come out redacted).
    let playbook = format!(
        "let h = hosts()[0];\nprint(`file=${{h.vars.db_password == \"{FILE_SECRET}\"}} inline=${{h.vars.api_token == \"{INLINE_SECRET}\"}}`);\nprint(`shown: ${{h.vars.db_password}} ${{h.vars.api_token}}`);\n"
    );
    let run = Test::new()
        .inventory_file(&inventory)
        .playbook(&playbook)
        .args(&["--vault-password-file", dir.join("pw").to_str().unwrap()])
        .stdout_has("file=true inline=true")
        .stdout_has("shown: *** ***")
        .json_log()
        .run();
    let log = std::fs::read_to_string(run.dir.join("events.jsonl")).unwrap();
    for secret in [FILE_SECRET, INLINE_SECRET] {
        assert!(
            !run.stdout.contains(secret) && !run.stderr.contains(secret) && !log.contains(secret),
            "{secret} leaked"
        );
    }
    wire.assert_untouched();
    // `runbook inventory` opens them too, and shows them as ***.
    let shown = runbook(&dir, &["inventory", "-i", "inventory.yaml", "--host", "web1", "--vault-password-file", "pw"])
        .run()
        .stdout;
    let vars: serde_json::Value = serde_json::from_str(&shown).unwrap();
    assert_eq!((vars["db_password"].as_str(), vars["api_token"].as_str()), (Some("***"), Some("***")), "{shown}");
    assert_eq!(vars["ports"], serde_json::json!([5432, 6432]));
    // lint -i opens them and does not call a vaulted password a literal secret.
    std::fs::write(dir.join("site.rhai"), TOUCH).unwrap();
    runbook(&dir, &["lint", "site.rhai", "-i", "inventory.yaml", "--vault-password-file", "pw"])
        .stdout_lacks("literal-secret")
        .run();
}

static LAB: OnceLock<Lab> = OnceLock::new();

fn lab() -> &'static Lab {
    Lab::get(&LAB, "t-hk", 1, "10.241.2.0/24")
}

#[test]
fn a_vaulted_estate_runs_on_a_lab_host_the_host_gets_the_plaintext_the_output_never_does() {
    require_lab!();
    let lab = lab();
    let host = lab.host(0);
    lab.clean("/tmp/hk-vault");
    let test = Test::new();
    let dir = test.path().to_path_buf();
    let inline = std::fs::read_to_string(fixture("inline.yml")).unwrap();
    let inline: String = inline.lines().map(|line| format!("    {line}\n")).collect();
    let inventory = dir.join("inventory.yaml");
    std::fs::write(
        &inventory,
        format!(
            "all:\n  vars:\n    user: root\n    key: {labdir}/id_ed25519\n    known_hosts: {labdir}/known_hosts\n{inline}  children:\n    db:\n      hosts:\n        {host}: {{ address: {address} }}\n",
            labdir = lab.dir().display(),
            address = lab.address(host),
        ),
    )
    .unwrap();
    std::fs::create_dir_all(dir.join("group_vars/db")).unwrap();
    std::fs::copy(fixture("secrets-1.1.yml"), dir.join("group_vars/db/vault.yml")).unwrap();
    // Not `app`: every string of a vaulted file is a secret, and the fixture's vault holds `db_user: app`.
    std::fs::write(dir.join("group_vars/db/vars.yml"), "db_name: main\n").unwrap();
    std::fs::write(dir.join("pw"), format!("{PASSWORD}\n")).unwrap();
    let playbook = r#"
task("secrets to the host", hosts(), |h| {
    h.run("mkdir -p /tmp/hk-vault");
    h.write("password=" + h.vars.db_password + "\ntoken=" + h.vars.api_token + "\n", "/tmp/hk-vault/site.conf", #{ mode: "0600" });
    h.template("templates/db.conf.j2", "/tmp/hk-vault/db.conf");
    let r = h.run("cat /tmp/hk-vault/site.conf");
    print(r.stdout);
});
"#;
    let run = Test::new()
        .inventory_file(&inventory)
        .playbook(playbook)
        .file("templates/db.conf.j2", "db={{ db_name }} password={{ db_password }}\n")
        .args(&["--vault-password-file", dir.join("pw").to_str().unwrap(), "--diff", "-vv"])
        .json_log()
        .run();
    assert_eq!(
        lab.sh(host, "cat /tmp/hk-vault/site.conf /tmp/hk-vault/db.conf"),
        format!("password={FILE_SECRET}\ntoken={INLINE_SECRET}\ndb=main password={FILE_SECRET}\n")
    );
    let log = std::fs::read_to_string(run.dir.join("events.jsonl")).unwrap();
    for secret in [FILE_SECRET, INLINE_SECRET] {
        assert!(!run.stdout.contains(secret), "{secret} in stdout:\n{}", run.stdout);
        assert!(!run.stderr.contains(secret), "{secret} in stderr:\n{}", run.stderr);
        assert!(!log.contains(secret), "{secret} in the JSON log");
    }
    // The diff was shown (with the secret masked), so the check above looked at a real diff.
    assert!(run.stdout.contains("+password=***"), "{}", run.stdout);
}

#[test]
fn the_password_can_be_asked_for_and_extra_vars_files_may_be_vaulted() {
    let dir = workdir();
    let d = dir.path();
    let fixture = fixture("secrets-1.1.yml").display().to_string();
    // Without a terminal, --ask-vault-pass reads the first line of stdin.
    let shown =
        runbook(d, &["vault", "view", "--ask-vault-pass", &fixture]).stdin(&format!("{PASSWORD}\n")).run().stdout;
    assert!(shown.contains(FILE_SECRET), "{shown}");
    // -e @vaulted.yml on a run: the playbook sees the values (the listener host is never contacted).
    let wire = Tripwire::new();
    let site = tempfile::tempdir().unwrap();
    wire.site(site.path());
    std::fs::remove_file(site.path().join("group_vars/db.yml")).unwrap();
    std::fs::copy(fixture, site.path().join("extra.yml")).unwrap();
    std::fs::write(
        site.path().join("site.rhai"),
        format!("print(`extra=${{hosts()[0].vars.db_password == \"{FILE_SECRET}\"}} ${{vars.db_password}}`);\n"),
    )
    .unwrap();
    let args = ["run", "site.rhai", "-i", "inventory.yaml", "-e", "@extra.yml", "-J"];
    let out = runbook(site.path(), &args).stdin(&format!("{PASSWORD}\n")).run().stdout;
    assert!(out.contains("extra=true ***") && !out.contains(FILE_SECRET), "{out}");
    wire.assert_untouched();
}

/// ansible.cfg's `vault_password_file` opens vaulted values with no vault flag, for `vault view` and for a run
/// (whose inventory then loads: `--list-hosts` lists the host without connecting).
#[test]
fn ansible_cfgs_vault_password_file_is_used_when_no_flag_names_one() {
    let wire = Tripwire::new();
    let test = Test::new().file("ansible.cfg", "[defaults]\nvault_password_file = pw\n");
    let inventory = wire.site(test.path());
    let fixture = fixture("secrets-1.1.yml").display().to_string();
    let shown = runbook(test.path(), &["vault", "view", &fixture]).run().stdout;
    assert!(shown.contains(FILE_SECRET), "{shown}");
    test.inventory_file(&inventory).playbook(TOUCH).args(&["--list-hosts"]).stdout_has("web1").run();
    wire.assert_untouched();
}
