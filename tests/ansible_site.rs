//! An Ansible user's site folder carries over as it is: ansible.cfg (inventory folder, remote_user,
//! private_key_file), an inventory folder (INI + YAML + group_vars/host_vars) and ssh options in
//! `ansible_ssh_common_args` — `runbook run site.rhai` with no other flag, checked against ansible-core on the
//! same folder; and the `ansible_*` facts runbook offers, checked against `ansible -m setup` on the same hosts.

use crate::support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use support::{Lab, Test, repo_root};

/// The fixture's ansible.cfg and inventory name this lab (its key, known_hosts and addresses).
static LAB: OnceLock<Lab> = OnceLock::new();
const ANSIBLE: &str = "/opt/runbook-test-tools/bin/ansible";

fn lab() -> &'static Lab {
    Lab::get(&LAB, "t-hc", 2, "10.241.3.0/24")
}

fn site() -> PathBuf {
    repo_root().join("tests/fixtures/ansible_site")
}

fn require_ansible() {
    assert!(Path::new(ANSIBLE).is_file(), "{ANSIBLE} is missing: run scripts/install-deps (it installs ansible-core)");
}

/// `ansible ARGS` in `dir`, with its home and temp files in a temporary folder; stdout.
fn ansible(dir: &Path, args: &[&str]) -> String {
    let temp = tempfile::tempdir().unwrap();
    let output = Command::new(ANSIBLE)
        .current_dir(dir)
        .env("ANSIBLE_HOME", temp.path())
        .env("ANSIBLE_LOCAL_TEMP", temp.path())
        .env("ANSIBLE_NOCOLOR", "1")
        .args(args)
        .output()
        .expect("ansible runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "ansible {args:?} failed:\n{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    stdout
}

/// `ansible-playbook PLAYBOOK` in `dir` (as [`ansible`]); stdout.
fn ansible_playbook(dir: &Path, playbook: &Path) -> String {
    let temp = tempfile::tempdir().unwrap();
    let output = Command::new("/opt/runbook-test-tools/bin/ansible-playbook")
        .current_dir(dir)
        .env("ANSIBLE_HOME", temp.path())
        .env("ANSIBLE_LOCAL_TEMP", temp.path())
        .env("ANSIBLE_NOCOLOR", "1")
        .arg(playbook)
        .output()
        .expect("ansible-playbook runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "ansible-playbook failed:\n{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    stdout
}

/// `msg` of each host in `ansible-playbook` output of a debug task (`ok: [host] => {` then `"msg": ...`).
fn play_messages(stdout: &str) -> BTreeMap<String, String> {
    let mut messages = BTreeMap::new();
    let mut host = None;
    for line in stdout.lines() {
        if let Some(rest) = line.strip_prefix("ok: [") {
            host = rest.split_once(']').map(|(name, _)| name.to_string());
        } else if let (Some(name), Some(msg)) = (&host, line.trim().strip_prefix("\"msg\": ")) {
            messages.insert(name.clone(), serde_json::from_str::<String>(msg).unwrap());
        }
    }
    messages
}

#[test]
fn a_site_folder_with_ansible_cfg_runs_with_no_flag_and_sees_what_ansible_sees() {
    require_lab!();
    require_ansible();
    let lab = lab();
    lab.clean("/root/t-hc-site.txt /root/t-hc-site.conf");
    let site = site();
    // No -i, no key, no user, no known_hosts flag: all from ansible.cfg and the inventory folder. USER names
    // nobody, so only ansible.cfg's remote_user can make the login root.
    Test::new()
        .in_dir(&site)
        .env("USER", "nobody")
        .env_remove("SSH_AUTH_SOCK")
        .args(&["run", "site.rhai"])
        // The note names the ignored keys.
        .stderr_has("ansible.cfg: runbook does not use roles_path, [ssh_connection] pipelining")
        .run();
    // A clean run leaves nothing in the site folder but its history (no last-failed list, no stray files).
    let left: Vec<String> = std::fs::read_dir(site.join(".runbook"))
        .map(|dir| dir.flatten().map(|entry| entry.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    assert!(left.iter().all(|name| name.starts_with("history.db")), "a clean run left {left:?} in .runbook/");

    let expression = "{{ inventory_hostname }} ntp={{ ntp_server }} port={{ http_port }} rack={{ rack }} \
                      tier={{ tier }} domain={{ domain }} label={{ role_label | default('none') }} fqdn={{ fqdn }} \
                      node={{ node }} site={{ site_label }} peers={{ peers }} pool={{ ntp_pool }}";
    // A play (facts gathered, as a playbook does by default; ad-hoc `ansible -m debug` gathers none).
    let play = tempfile::tempdir().unwrap();
    let play_file = play.path().join("debug.yml");
    let task = serde_json::json!([{"hosts": "all", "tasks": [{"debug": {"msg": expression}}]}]);
    std::fs::write(&play_file, task.to_string()).unwrap();
    let theirs = play_messages(&ansible_playbook(&site, &play_file));
    assert_eq!(theirs.len(), 2, "{theirs:?}");
    for host in &lab.hosts {
        let ours = lab.sh(host, "cat /root/t-hc-site.txt");
        assert_eq!(ours.trim_end(), theirs[host], "{host}: runbook's values (left) and Ansible's (right) differ");
    }
    // Values that are templates (group_vars referring to vars, a fact, groups, hostvars) reach a template and
    // h.write resolved, never as literal braces.
    for host in &lab.hosts {
        let conf = lab.sh(host, "cat /root/t-hc-site.conf");
        let node = lab.sh(host, "hostname -s");
        assert!(!conf.contains("{{"), "{host}: {conf}");
        assert!(conf.contains(&format!("name={host}.example.test\n")), "{host}: {conf}");
        assert!(conf.contains(&format!("node={}-", node.trim())), "{host}: {conf}");
        // runbook's `address` is still in hostvars, beside the other host's resolved variables.
        assert!(conf.contains("db=10.241.3.12 lab-h02.example.test\n"), "{host}: {conf}");
    }
    assert!(
        theirs["lab-h02"].contains("pool=time.web.example.test/pool"),
        "hostvars resolve against lab-h01: {theirs:?}"
    );
    // Ansible reaches the hosts with the same folder (its ssh options, key and user): the site is one site.
    let read_back = ansible(&site, &["all", "-m", "command", "-a", "cat /root/t-hc-site.txt"]);
    assert!(read_back.contains("lab-h02 ntp=time.all.example.test port=5432"), "{read_back}");
}

#[test]
fn inventory_lint_and_run_read_ansible_cfg_and_flags_win() {
    let site = site();
    let runbook = |args: &[&str]| Test::new().in_dir(&site).args(args);
    let output = runbook(&["inventory", "--host", "lab-h01"]).run();
    let vars: serde_json::Value = serde_json::from_str(&output.stdout).unwrap();
    assert_eq!(vars["user"], "root", "remote_user from ansible.cfg");
    assert_eq!(vars["tier"], "from-extra-yaml", "the folder's YAML file joins the INI file");
    assert_eq!(vars["host_key_checking"], "strict", "StrictHostKeyChecking=yes from ansible_ssh_common_args");
    assert!(vars["key"].as_str().unwrap().ends_with(".runbook/t-hc/id_ed25519"), "{}", vars["key"]);
    assert!(vars["known_hosts_files"][0].as_str().unwrap().ends_with(".runbook/t-hc/known_hosts"));
    // ANSIBLE_* variables win over the file; -i wins over both.
    let other = tempfile::tempdir().unwrap();
    std::fs::write(other.path().join("hosts.yaml"), "all:\n  hosts:\n    solo:\n").unwrap();
    let inventory = other.path().join("hosts.yaml").display().to_string();
    let output =
        runbook(&["inventory", "--list"]).env("ANSIBLE_INVENTORY", &inventory).env("ANSIBLE_REMOTE_USER", "ops").run();
    let list: serde_json::Value = serde_json::from_str(&output.stdout).unwrap();
    assert_eq!(list["ungrouped"]["hosts"], serde_json::json!(["solo"]));
    let output = runbook(&["inventory", "--host", "lab-h01"]).env("ANSIBLE_REMOTE_USER", "ops").run();
    let vars: serde_json::Value = serde_json::from_str(&output.stdout).unwrap();
    assert_eq!(vars["user"], "ops");
    let output = runbook(&["inventory", "-i", &inventory, "--graph"]).run();
    assert_eq!(output.stdout, "@all:\n  |--@ungrouped:\n  |  |--solo\n");
    // --list-hosts goes through run's whole loading path (forks, timeout, inventory) without connecting.
    runbook(&["run", "site.rhai", "--list-hosts"]).stdout_has("hosts (2):").run();
    // lint checks the inventory ansible.cfg names (the playbook, its template and the inventory: 3 files).
    runbook(&["lint", "site.rhai"]).stdout_has("no problems found in 3 files").run();
    // A malformed ansible.cfg stops every command at its line.
    Test::new()
        .file("ansible.cfg", "[defaults]\nforks 3\n")
        .file("x.rhai", "")
        .args(&["run", "x.rhai"])
        .code(1)
        .stderr_has("ansible.cfg:2: expected `key = value` or a [section] header")
        .run();
}

#[test]
fn every_ansible_fact_runbook_offers_has_ansibles_value() {
    require_lab!();
    require_ansible();
    let lab = lab();
    // One host with a default route (Ansible then fills default_ipv4 from `ip route get`), one without.
    let routed = lab.host(1);
    lab.sh(routed, "ip route replace default via 10.241.3.1 dev host0");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("facts.rhai"),
        "task(\"facts\", hosts(), |h| { print(`FACTS ${h.name} ` + h.vars.ansible_facts.to_json()); });\n",
    )
    .unwrap();
    let stdout =
        Test::new().in_dir(site()).args(&["run", &dir.path().join("facts.rhai").display().to_string()]).run().stdout;
    let tree = dir.path().join("tree");
    ansible(&site(), &["all", "-m", "setup", "-t", &tree.display().to_string()]);
    let mut compared = 0;
    for line in stdout.lines().filter_map(|line| line.strip_prefix("FACTS ")) {
        let (host, json) = line.split_once(' ').unwrap();
        let ours: serde_json::Map<String, serde_json::Value> = serde_json::from_str(json).unwrap();
        let setup: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(tree.join(host)).unwrap()).unwrap();
        let theirs = &setup["ansible_facts"];
        for (name, value) in &ours {
            let mut expected = theirs[format!("ansible_{name}")].clone();
            if name == "default_ipv4" {
                // runbook offers two of its keys; Ansible's other keys (gateway, netmask, ...) are not offered.
                let keys = ["address", "interface"];
                expected.as_object_mut().unwrap().retain(|key, _| keys.contains(&key.as_str()));
            }
            assert_eq!(value, &expected, "{host}: ansible_{name} is {value} in runbook, {expected} in Ansible");
            compared += 1;
        }
        if host == routed {
            assert_ne!(ours["default_ipv4"], serde_json::json!({}), "the routed host has a default_ipv4");
        }
    }
    assert_eq!(compared, 2 * 17, "every name runbook offers, on both hosts");
    lab.sh(routed, "ip route del default");
}

/// `ansible-inventory --list`'s hostvars for `args`, run in `dir`.
fn ansible_hostvars(dir: &Path, args: &[&str]) -> serde_json::Value {
    let temp = tempfile::tempdir().unwrap();
    let output = Command::new("/opt/runbook-test-tools/bin/ansible-inventory")
        .current_dir(dir)
        .env("ANSIBLE_HOME", temp.path())
        .env("ANSIBLE_LOCAL_TEMP", temp.path())
        .args(args)
        .arg("--list")
        .output()
        .expect("ansible-inventory runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice::<serde_json::Value>(&output.stdout).unwrap()["_meta"]["hostvars"].clone()
}

#[test]
fn a_folder_and_repeated_sources_merge_as_ansible_merges_them() {
    require_ansible();
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path();
    std::fs::create_dir_all(dir.join("base/group_vars")).unwrap();
    std::fs::create_dir_all(dir.join("base/nested")).unwrap();
    std::fs::create_dir_all(dir.join("prod/host_vars")).unwrap();
    std::fs::write(dir.join("base/10-hosts.ini"), "h0\n[web]\nh0\nh1 a=ini\n[db]\nh2\n[app:children]\nweb\n").unwrap();
    std::fs::write(dir.join("base/20-more.yaml"), "app:\n  vars: {tier: base, a: group}\n  hosts:\n    h3:\n").unwrap();
    std::fs::write(dir.join("base/nested/hosts"), "[db]\nh4 b=nested\n").unwrap();
    std::fs::write(dir.join("base/notes.md"), "not an inventory\n").unwrap();
    std::fs::write(dir.join("base/old.bak"), "[broken\n").unwrap();
    // A template value: ansible-inventory prints it as written (unresolved), and so does runbook inventory.
    std::fs::write(dir.join("base/group_vars/web.yaml"), "g: web\na: web-file\nfq: \"{{ inventory_hostname }}.x\"\n")
        .unwrap();
    std::fs::write(dir.join("prod/hosts.yml"), "app:\n  vars: {tier: prod}\n  hosts:\n    h1: {b: prod}\n").unwrap();
    std::fs::write(dir.join("prod/host_vars/h1.yaml"), "c: prod-host-file\n").unwrap();
    let sources = ["-i", "base/", "-i", "prod/hosts.yml", "-i", "h9,h10:2222,"];
    let theirs = ansible_hostvars(dir, &sources);
    let output = Test::new().in_dir(dir).args(&["inventory"]).args(&sources).args(&["--list"]).run();
    let mut ours = serde_json::from_str::<serde_json::Value>(&output.stdout).unwrap()["_meta"]["hostvars"].clone();
    // ansible-inventory leaves hosts without variables out of hostvars; runbook lists every host.
    for host in ["h2", "h9"] {
        assert_eq!(ours.as_object_mut().unwrap().remove(host), Some(serde_json::json!({})), "{host}");
    }
    assert_eq!(ours, theirs, "runbook (left) and ansible-inventory (right)");
    assert_eq!(ours["h1"]["tier"], "prod", "{ours}");
    assert_eq!(ours["h1"]["fq"], "{{ inventory_hostname }}.x", "{ours}");
    // lint sees every file of the folder, each finding at its own file:line.
    std::fs::write(dir.join("base/30-secret.yaml"), "db:\n  vars:\n    db_password: hunter2hunter2\n").unwrap();
    std::fs::write(dir.join("p.rhai"), "task(\"x\", hosts(), |h| {});\n").unwrap();
    Test::new()
        .in_dir(dir)
        .args(&["lint", "-i", "base", "p.rhai"])
        .stdout_has("base/30-secret.yaml:3:5: warning[literal-secret]")
        .run();
    // No ansible.cfg and no -i: the error says where an inventory comes from.
    Test::new()
        .in_dir(dir)
        .env_remove("ANSIBLE_INVENTORY")
        .env_remove("ANSIBLE_CONFIG")
        .args(&["inventory", "--graph"])
        .code(1)
        .stderr_has("no inventory: pass -i INVENTORY")
        .run();
}

/// The corpus of variable values that are templates (tests/fixtures/variable_corpus): each resolved by runbook
/// (`h.vars`) and by ansible-playbook (facts gathered) on the same hosts, with the same `-e`, must be equal —
/// nested references, facts, `hostvars`, `groups`, filters, native types of a lone expression, and precedence
/// between group_vars/all < group_vars/GROUP < host_vars < -e.
#[test]
fn template_values_resolve_as_ansible_resolves_them() {
    require_lab!();
    require_ansible();
    let lab = lab();
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path();
    let corpus = repo_root().join("tests/fixtures/variable_corpus");
    for entry in ["inventory/group_vars", "inventory/host_vars"] {
        std::fs::create_dir_all(dir.join(entry)).unwrap();
    }
    for file in ["inventory/hosts", "inventory/group_vars/all.yaml", "inventory/group_vars/web.yaml"] {
        std::fs::copy(corpus.join(file), dir.join(file)).unwrap();
    }
    std::fs::copy(corpus.join("inventory/host_vars/lab-h01.yaml"), dir.join("inventory/host_vars/lab-h01.yaml"))
        .unwrap();
    let state = repo_root().join(".runbook/t-hc");
    std::fs::write(
        dir.join("ansible.cfg"),
        format!(
            "[defaults]\ninventory = inventory/\nremote_user = root\nprivate_key_file = {}\n\
             interpreter_python = /usr/bin/python3\n",
            state.join("id_ed25519").display()
        ),
    )
    .unwrap();
    let ssh_args = format!(
        "-F /dev/null -o UserKnownHostsFile={} -o StrictHostKeyChecking=yes",
        state.join("known_hosts").display()
    );
    std::fs::write(
        dir.join("inventory/ssh.yaml"),
        format!("all:\n  vars:\n    ansible_ssh_common_args: '{ssh_args}'\n"),
    )
    .unwrap();
    let names: Vec<String> =
        std::fs::read_to_string(corpus.join("names")).unwrap().split_whitespace().map(String::from).collect();
    assert!(names.len() >= 30, "the corpus has {} names", names.len());
    let extra = ["-e", "extra_me=cli-{{ layer }}"];

    let list = names.iter().map(|n| format!("\"{n}\"")).collect::<Vec<_>>().join(", ");
    std::fs::write(
        dir.join("corpus.rhai"),
        format!(
            "task(\"corpus\", hosts(), |h| {{ let out = #{{}}; for k in [{list}] {{ out[k] = h.vars[k]; }} \
             print(`CORPUS ${{h.name}} ` + out.to_json()); }});\n"
        ),
    )
    .unwrap();
    let stdout = Test::new().in_dir(dir).args(&["run", "corpus.rhai"]).args(&extra).run().stdout;

    let dict = names.iter().map(|n| format!("'{n}': {n}")).collect::<Vec<_>>().join(", ");
    let play =
        serde_json::json!([{"hosts": "all", "tasks": [{"debug": {"msg": format!("{{{{ {{{dict}}} | to_json }}}}")}}]}]);
    std::fs::write(dir.join("corpus.yml"), play.to_string()).unwrap();
    let temp_home = tempfile::tempdir().unwrap();
    let ansible = Command::new("/opt/runbook-test-tools/bin/ansible-playbook")
        .current_dir(dir)
        .env("ANSIBLE_HOME", temp_home.path())
        .env("ANSIBLE_LOCAL_TEMP", temp_home.path())
        .env("ANSIBLE_NOCOLOR", "1")
        .arg("corpus.yml")
        .args(extra)
        .output()
        .unwrap();
    let their_stdout = String::from_utf8_lossy(&ansible.stdout);
    assert!(ansible.status.success(), "{their_stdout}\n{}", String::from_utf8_lossy(&ansible.stderr));
    let theirs = play_messages(&their_stdout);

    let mut compared = 0;
    for line in stdout.lines().filter_map(|line| line.strip_prefix("CORPUS ")) {
        let (host, json) = line.split_once(' ').unwrap();
        let ours: serde_json::Map<String, serde_json::Value> = serde_json::from_str(json).unwrap();
        let their: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&theirs[host]).unwrap();
        for name in &names {
            assert_eq!(
                ours[name], their[name],
                "{host}: `{name}` is {} in runbook, {} in Ansible",
                ours[name], their[name]
            );
            compared += 1;
        }
    }
    assert_eq!(compared, lab.hosts.len() * names.len(), "every value on every host");
}

/// A reference the playbook's text does not show (a computed key) is an error where the value is read, as in
/// Ansible: the host fails naming the undefined name, the variable holding it, its file:line and the host; a
/// variable that resolves is unaffected.
#[test]
fn an_undefined_reference_fails_where_the_value_is_read() {
    require_lab!();
    let lab = lab();
    let host = &lab.hosts[0];
    let run = Test::new()
        .lab(lab)
        .file("group_vars/all.yaml", "fine: \"{{ inventory_hostname }}-ok\"\nbroken: \"x-{{ nowhere_defined }}\"\n")
        .playbook(&format!(
            "task(\"read\", host(\"{host}\"), |h| {{\n    print(`fine=${{h.vars.fine}}`);\n    let key = \"bro\" + \"ken\";\n    print(h.vars[key]);\n}});\n"
        ))
        .code(2)
        .stdout_has(&format!("fine={host}-ok"))
        .stdout_has("site.rhai:4:")
        .stdout_has(&format!("`nowhere_defined` is undefined, in the value of `broken` for host {host}"))
        .stdout_has("group_vars/all.yaml:2)")
        .run();
    assert!(!run.stdout.contains("{{"), "{}", run.stdout);
}
