//! Inventories laid out the Ansible way — `group_vars/`, `host_vars/` (files and folders) beside the inventory
//! and beside the playbook, INI inventories — checked against the real `ansible-inventory` (ansible-core from
//! PyPI, installed by scripts/install-deps --for-tests in /opt/runbook-test-tools). Without it these tests fail: the whole
//! point is the comparison.

use crate::support;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use support::{Test, repo_root};

const ANSIBLE_INVENTORY: &str = "/opt/runbook-test-tools/bin/ansible-inventory";

fn fixture() -> PathBuf {
    repo_root().join("tests/fixtures/inventory_layout")
}

fn stdout_of(command: &mut Command) -> String {
    let output = command.output().expect("the command runs");
    assert!(
        output.status.success(),
        "{command:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("utf-8 output")
}

fn runbook_inventory(dir: &Path, args: &[&str]) -> String {
    Test::new().in_dir(dir).args(&["inventory"]).args(args).run().stdout
}

/// What Ansible says a host's variables are.
fn ansible_host(dir: &Path, inventory: &str, host: &str) -> Value {
    assert!(
        Path::new(ANSIBLE_INVENTORY).is_file(),
        "{ANSIBLE_INVENTORY} is missing: run scripts/install-deps --for-tests (it installs ansible-core for this comparison)"
    );
    let home = tempfile::tempdir().unwrap();
    let text = stdout_of(
        Command::new(ANSIBLE_INVENTORY)
            .current_dir(dir)
            .env("ANSIBLE_HOME", home.path())
            .env("ANSIBLE_LOCAL_TEMP", home.path())
            .args(["-i", inventory, "--host", host, "--playbook-dir", "play"]),
    );
    serde_json::from_str(&text).expect("ansible-inventory prints JSON")
}

/// What runbook says, without the connection settings it adds under its own names.
fn runbook_host(dir: &Path, inventory: &str, host: &str) -> Value {
    let text = runbook_inventory(dir, &["-i", inventory, "--host", host, "--playbook-dir", "play"]);
    let mut vars: Value = serde_json::from_str(&text).expect("runbook prints JSON");
    let map = vars.as_object_mut().unwrap();
    map.remove("address");
    map.remove("become");
    vars
}

#[test]
fn group_vars_and_host_vars_merge_exactly_as_ansible_merges_them() {
    let dir = fixture();
    for inventory in ["hosts.yaml", "hosts.ini"] {
        for host in ["web1", "web2", "db1"] {
            let ours = runbook_host(&dir, inventory, host);
            let theirs = ansible_host(&dir, inventory, host);
            assert_eq!(ours, theirs, "{inventory} {host}: runbook (left) and ansible-inventory (right) differ");
        }
    }
    // The comparison is not vacuous: every layer decided some variable.
    let web2 = runbook_host(&dir, "hosts.yaml", "web2");
    assert_eq!(web2["level"], "play-host_vars-web2", "host_vars beside the playbook win");
    assert_eq!(web2["web_inline"], "group_vars-web", "a group_vars file beats the inventory's group vars");
    assert_eq!(web2["prod_b"], "second", "files in a group_vars folder apply in name order");
    assert_eq!(web2["tie"], "zz", "same-depth groups apply in name order, as Ansible sorts them");
    assert_eq!(web2["pri_tie"], "pa", "ansible_group_priority ranks a group later");
    assert_eq!(web2["play_web"], 1, "group_vars beside the playbook are read");
    let db1 = runbook_host(&dir, "hosts.yaml", "db1");
    assert_eq!(db1["level"], "host_vars-db1", "host_vars folder");
    assert_eq!(db1["db_port"], 5432, "a group_vars file without an extension");
    let web1 = runbook_host(&dir, "hosts.ini", "web1");
    assert_eq!(web1["octal"], "0755", "INI values typed like Ansible: 0755 stays text");
    assert_eq!(web1["port_num"], 8080);
    assert_eq!(web1["flag"], true);
}

#[test]
fn an_ini_inventory_and_its_yaml_twin_list_the_same() {
    let dir = fixture();
    let yaml = runbook_inventory(&dir, &["-i", "hosts.yaml", "--list"]);
    let ini = runbook_inventory(&dir, &["-i", "hosts.ini", "--list"]);
    assert_eq!(yaml, ini);
    assert!(yaml.contains("\"web1\""), "{yaml}");
    let graph = runbook_inventory(&dir, &["-i", "hosts.ini", "--graph"]);
    assert_eq!(graph, runbook_inventory(&dir, &["-i", "hosts.yaml", "--graph"]));
}

#[test]
fn mistakes_in_ini_and_vars_files_name_the_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::write(root.join("hosts"), "[web]\nweb1 ansible_host=10.0.0.1\nweb2 oops\n").unwrap();
    let list = || Test::new().in_dir(root).args(&["inventory", "-i", "hosts", "--list"]);
    list().code(1).stderr_has("hosts:3:6").stderr_has("expected `name=value`").run();

    std::fs::write(root.join("hosts"), "[web]\nweb1\n").unwrap();
    std::fs::create_dir_all(root.join("group_vars")).unwrap();
    std::fs::write(root.join("group_vars/web.yml"), "ntp: a\nansible_port: 99999\n").unwrap();
    list().code(1).stderr_has("web.yml:2:1").stderr_has("must be a port number").run();

    std::fs::write(root.join("group_vars/web.yml"), "flag: yes\nflag: no\n").unwrap();
    list().code(1).stderr_has("web.yml:2:1").stderr_has("duplicate").run();
}
