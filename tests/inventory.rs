//! `runbook inventory` end to end: the binary on inventory files in a temp folder, exact output and errors.

use crate::support::{Run, Test};

use std::path::Path;
use std::time::{Duration, Instant};

/// `runbook ARGS` in `dir`; each caller asserts the exit code it expects.
fn runbook(dir: &Path, args: &[&str]) -> Run {
    Test::new().in_dir(dir).env_remove("RUNBOOK_LOG").args(args).any_code().run()
}

/// Writes `inventory` as `inv.yaml` in a new temp folder and runs `runbook inventory -i inv.yaml ARGS`.
fn inventory(inventory: &str, args: &[&str]) -> Run {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("inv.yaml"), inventory).unwrap();
    let mut all = vec!["inventory", "-i", "inv.yaml"];
    all.extend_from_slice(args);
    runbook(dir.path(), &all)
}

/// The first line of the error report: the `path:line:col: message` form.
fn first_error_line(output: &Run) -> &str {
    assert_eq!(output.code, 1, "stdout: {}\nstderr: {}", output.stdout, output.stderr);
    assert_eq!(output.stdout, "");
    output.stderr.lines().next().unwrap_or("").trim_start_matches(" ").trim_start_matches("× ")
}

const CLUSTER: &str = "\
all:
  vars:
    ansible_user: root
    cluster_name: lab
    swap: off
    mode: 0644
  hosts:
    k8s-master01:
      ansible_host: 192.168.1.11
    k8s-master02:
      ansible_host: 192.168.1.12
    k8s-node01:
      ansible_host: 192.168.1.21
    harbor:
      address: 192.168.1.30
      port: 2222
  children:
    masters:
      vars:
        role: master
      hosts:
        k8s-master01:
          keepalived_priority: 101
        k8s-master02:
    nodes:
      hosts:
        k8s-node01:
    k8s:
      vars:
        role: member
        key: keys/cluster
      children:
        masters:
        nodes:
";

#[test]
fn graph_shows_groups_then_hosts_in_inventory_order() {
    let output = inventory(CLUSTER, &["--graph"]);
    assert_eq!(output.stderr, "");
    assert_eq!(output.code, 0);
    assert_eq!(
        output.stdout,
        "\
@all:
  |--@ungrouped:
  |  |--harbor
  |--@masters:
  |  |--k8s-master01
  |  |--k8s-master02
  |--@nodes:
  |  |--k8s-node01
  |--@k8s:
  |  |--@masters:
  |  |  |--k8s-master01
  |  |  |--k8s-master02
  |  |--@nodes:
  |  |  |--k8s-node01
"
    );
}

#[test]
fn host_prints_merged_vars_and_connection() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("inv.yaml"), CLUSTER).unwrap();
    let output = runbook(
        dir.path(),
        &["inventory", "-i", "inv.yaml", "--host", "k8s-master01", "-e", "cluster_name=prod extra="],
    );
    assert_eq!(output.stderr, "");
    assert_eq!(output.code, 0);
    let key = dir.path().join("keys/cluster");
    let expected = format!(
        r#"{{
  "ansible_user": "root",
  "cluster_name": "prod",
  "swap": "off",
  "mode": "0644",
  "role": "master",
  "key": "{}",
  "ansible_host": "192.168.1.11",
  "keepalived_priority": 101,
  "extra": "",
  "address": "192.168.1.11",
  "user": "root",
  "become": false
}}
"#,
        key.display()
    );
    assert_eq!(output.stdout, expected);
}

#[test]
fn list_has_ansibles_shape_and_honours_limit() {
    let output = inventory(CLUSTER, &["--list", "--limit", "k8s:!masters,harbor"]);
    assert_eq!(output.stderr, "");
    let list: serde_json::Value = serde_json::from_str(&output.stdout).unwrap();
    assert_eq!(list["all"]["children"], serde_json::json!(["ungrouped", "masters", "nodes", "k8s"]));
    assert_eq!(list["nodes"]["hosts"], serde_json::json!(["k8s-node01"]));
    assert_eq!(list["ungrouped"]["hosts"], serde_json::json!(["harbor"]));
    assert_eq!(list["k8s"]["children"], serde_json::json!(["masters", "nodes"]));
    assert!(list.get("masters").is_none(), "masters has no selected host: {list}");
    let hostvars = list["_meta"]["hostvars"].as_object().unwrap();
    assert_eq!(hostvars.keys().collect::<Vec<_>>(), ["k8s-node01", "harbor"]);
    assert_eq!(hostvars["harbor"]["port"], 2222);
}

#[test]
fn unknown_group_in_limit_lists_groups_and_suggests() {
    let output = inventory(CLUSTER, &["--graph", "--limit", "mastres"]);
    assert_eq!(
        first_error_line(&output),
        "--limit: no host or group matches \"mastres\" (did you mean \"masters\"?); \
         groups: all, ungrouped, masters, nodes, k8s"
    );
}

#[test]
fn malformed_yaml_points_at_line_and_column() {
    let output = inventory("all:\n  hosts:\n    a:\n      b: [1, 2\n", &["--graph"]);
    assert_eq!(first_error_line(&output), "inv.yaml:4:10: unclosed bracket '['");
    // The report shows the line with a marker under the spot.
    assert!(output.stderr.contains("[inv.yaml:4:10]"), "{}", output.stderr);
    assert!(output.stderr.contains(" 4 │       b: [1, 2"), "{}", output.stderr);
}

#[test]
fn unknown_key_in_a_group_is_refused() {
    let output = inventory("all:\n  hosts:\n    a:\n  chidlren:\n    b:\n", &["--graph"]);
    assert_eq!(
        first_error_line(&output),
        "inv.yaml:4:3: unknown field `chidlren`, expected one of hosts, children, vars"
    );
}

#[test]
fn wrong_types_are_refused() {
    let output = inventory("all:\n  vars:\n    - a\n    - b\n", &["--graph"]);
    assert_eq!(first_error_line(&output), "inv.yaml:3:5: expected a mapping (`name: value` lines) here");
    let output = inventory("all:\n  hosts:\n    a: 10.0.0.1\n", &["--graph"]);
    assert_eq!(first_error_line(&output), "inv.yaml:3:8: expected a mapping (`name: value` lines) here");
    let output = inventory("all:\n  hosts:\n    a:\n      ansible_port: ssh\n", &["--graph"]);
    assert_eq!(
        first_error_line(&output),
        "inv.yaml:4:7: host `a`: `ansible_port` must be a port number from 1 to 65535, found \"ssh\""
    );
}

#[test]
fn alias_bomb_fails_fast() {
    // Nine levels of nine-fold aliases: 9^9 ≈ 387 million strings if expanded.
    let mut yaml = String::from("all:\n  vars:\n    l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for level in 1..=9 {
        let previous = format!("*l{}", level - 1);
        let items = [previous.as_str(); 9].join(", ");
        yaml.push_str(&format!("    l{level}: &l{level} [{items}]\n"));
    }
    yaml.push_str("  hosts:\n    h:\n");
    let started = Instant::now();
    let output = inventory(&yaml, &["--graph"]);
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
    let line = first_error_line(&output);
    assert!(line.starts_with("inv.yaml:"), "{line}");
    assert!(line.contains("alias replay limit exceeded"), "{line}");
}

#[test]
fn missing_inventory_file_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let output = runbook(dir.path(), &["inventory", "-i", "nope.yaml", "--graph"]);
    assert_eq!(output.code, 1);
    assert!(output.stderr.contains("nope.yaml: cannot read inventory: No such file or directory"), "{}", output.stderr);
}

#[test]
fn bad_extra_vars_are_refused() {
    let output = inventory(CLUSTER, &["--graph", "-e", "justaword"]);
    assert_eq!(first_error_line(&output), "-e \"justaword\": expected key=value, @file.yaml or {...}");
}

#[test]
fn kubespray_inventory_loads_as_it_is() {
    let kubespray = "\
all:
  hosts:
    node1:
      ansible_host: 95.54.0.12
      ip: 10.3.0.1
      access_ip: 10.3.0.1
    node2:
      ansible_host: 95.54.0.13
      ip: 10.3.0.2
      access_ip: 10.3.0.2
    node3:
      ansible_host: 95.54.0.14
      ip: 10.3.0.3
      access_ip: 10.3.0.3
  children:
    kube_control_plane:
      hosts:
        node1:
        node2:
    kube_node:
      hosts:
        node1:
        node2:
        node3:
    etcd:
      hosts:
        node1:
        node2:
        node3:
    k8s_cluster:
      children:
        kube_control_plane:
        kube_node:
    calico_rr:
      hosts: {}
";
    let output = inventory(kubespray, &["--graph"]);
    assert_eq!(output.stderr, "");
    assert_eq!(
        output.stdout,
        "\
@all:
  |--@ungrouped:
  |--@kube_control_plane:
  |  |--node1
  |  |--node2
  |--@kube_node:
  |  |--node1
  |  |--node2
  |  |--node3
  |--@etcd:
  |  |--node1
  |  |--node2
  |  |--node3
  |--@k8s_cluster:
  |  |--@kube_control_plane:
  |  |  |--node1
  |  |  |--node2
  |  |--@kube_node:
  |  |  |--node1
  |  |  |--node2
  |  |  |--node3
  |--@calico_rr:
"
    );
    let output = inventory(kubespray, &["--host", "node3", "--limit", "k8s_cluster:&etcd:!kube_control_plane"]);
    assert_eq!(output.stderr, "");
    let vars: serde_json::Value = serde_json::from_str(&output.stdout).unwrap();
    assert_eq!(vars["address"], "95.54.0.14");
    assert_eq!(vars["ip"], "10.3.0.3");
}

#[test]
fn unknown_host_suggests_the_nearest_name() {
    let output = inventory(CLUSTER, &["--host", "k8s-mastr01"]);
    assert_eq!(first_error_line(&output), "inv.yaml: no host named \"k8s-mastr01\" (did you mean \"k8s-master01\"?)");
}

#[test]
fn no_mode_flag_is_a_usage_error() {
    let output = inventory(CLUSTER, &[]);
    assert_eq!(first_error_line(&output), "say what to show: --graph, --host NAME or --list");
}

#[test]
fn a_cycle_in_children_is_refused_at_the_closing_edge() {
    let output = inventory(
        "all:\n  children:\n    a:\n      children:\n        b:\n    b:\n      children:\n        a:\n",
        &["--graph"],
    );
    assert_eq!(first_error_line(&output), "inv.yaml:8:9: groups form a cycle: a → b → a");
}
