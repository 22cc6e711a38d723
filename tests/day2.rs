//! Day-2 operations on a lab built from playbooks/inventory.yaml (`lab up -i`, lab `t-d2`, 10.255.50.0/24):
//! add and remove nodes, upgrade, certificates and reset with stand-ins for kubeadm, kubectl, kubelet and
//! etcdctl (tests/fixtures/day2: they record every call in /var/log/day2-standin.log and answer like the
//! real tools), and etcd backup and restore FOR REAL: Debian's etcd-server 3.4 on the three masters.
//! The tests share one lab, so they take turns (one lock).

use crate::support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, MutexGuard, OnceLock};

use support::{Lab, Run, Test, repo_root};

static LAB: OnceLock<Lab> = OnceLock::new();
static TURN: Mutex<()> = Mutex::new(());

const MASTERS: [&str; 3] = ["k8s-master01", "k8s-master02", "k8s-master03"];
const WORKERS: [&str; 3] = ["k8s-node01", "k8s-node02", "k8s-node03"];
const HA: [&str; 2] = ["k8s-ha01", "k8s-ha02"];
const SECRETS: [(&str, &str); 2] =
    [("RUNBOOK_SECRET_HAPROXY_STATS_PASSWORD", "stats-pw-1"), ("RUNBOOK_SECRET_KEEPALIVED_AUTH_PASS", "vrrp1")];
const DEBS: &str = "/var/cache/runbook/debs";

fn lab() -> (&'static Lab, MutexGuard<'static, ()>) {
    let turn = TURN.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let lab = Lab::get_from_inventory(&LAB, "t-d2", &repo_root().join("playbooks/inventory.yaml"), "10.255.50.0/24");
    (lab, turn)
}

/// The lab's inventory, VIP on the lab's subnet.
fn inv(lab: &Lab) -> PathBuf {
    inventory_without(lab, "day2.json", &[])
}

fn k8s_hosts() -> Vec<&'static str> {
    MASTERS.iter().chain(WORKERS.iter()).copied().collect()
}

/// Writes a file on a host (small files: through the command line as base64).
fn put(lab: &Lab, host: &str, path: &str, content: &[u8], mode: &str) {
    use base64::Engine as _;
    let encoded = base64::engine::general_purpose::STANDARD.encode(content);
    lab.sh(
        host,
        &format!("mkdir -p \"$(dirname {path})\" && echo {encoded} | base64 -d > {path} && chmod {mode} {path}"),
    );
}

/// Stand-ins on every master and worker, the state of an earlier test wiped.
fn install_standins(lab: &Lab) {
    for host in k8s_hosts() {
        lab.sh(
            host,
            "systemctl stop etcd 2>/dev/null; rm -rf /var/lib/standin /etc/kubernetes /root/.kube /var/log/day2-standin.log /var/lib/etcd-backup \
             /var/lib/etcd-restore; mkdir -p /var/lib/standin",
        );
        for tool in ["kubeadm", "kubectl", "kubelet", "etcdctl"] {
            let content = std::fs::read(repo_root().join("tests/fixtures/day2").join(tool)).unwrap();
            put(lab, host, &format!("/usr/local/bin/{tool}"), &content, "0755");
        }
        // A unit for `systemctl restart kubelet` to restart (the lab has no kubelet package).
        put(
            lab,
            host,
            "/etc/systemd/system/kubelet.service",
            b"[Unit]\nDescription=stand-in kubelet (test fixture)\n[Service]\nExecStart=/bin/sleep infinity\n",
            "0644",
        );
        lab.sh(host, "systemctl daemon-reload");
    }
}

/// The cluster as kubeadm.rhai leaves it on these hosts: kubelet.conf everywhere, admin.conf and the
/// static pod manifests on the masters.
fn seed_cluster(lab: &Lab, masters: &[&str], workers: &[&str]) {
    for host in masters {
        lab.sh(
            host,
            "mkdir -p /etc/kubernetes/manifests /root/.kube && echo stand-in > /etc/kubernetes/kubelet.conf && \
             echo stand-in admin > /etc/kubernetes/admin.conf && cp /etc/kubernetes/admin.conf /root/.kube/config && \
             for f in etcd kube-apiserver kube-controller-manager kube-scheduler; do echo \"kind: Pod # $f\" > /etc/kubernetes/manifests/$f.yaml; done",
        );
    }
    for host in workers {
        lab.sh(host, "mkdir -p /etc/kubernetes && echo stand-in > /etc/kubernetes/kubelet.conf");
    }
}

/// The lab's inventory without some hosts (the cluster before they were added), as JSON (which is YAML).
fn inventory_without(lab: &Lab, name: &str, without: &[&str]) -> PathBuf {
    let text = std::fs::read_to_string(lab.inventory()).unwrap();
    let mut inventory: serde_json::Value = serde_saphyr::from_str(&text).unwrap();
    fn strip(group: &mut serde_json::Value, without: &[&str]) {
        if let Some(hosts) = group.get_mut("hosts").and_then(|h| h.as_object_mut()) {
            hosts.retain(|name, _| !without.contains(&name.as_str()));
        }
        if let Some(children) = group.get_mut("children").and_then(|c| c.as_object_mut()) {
            for child in children.values_mut() {
                strip(child, without);
            }
        }
    }
    strip(&mut inventory["all"], without);
    // `lab up` on a running lab rewrites its inventory without mapping the addresses in variables (the VIP
    // stays 172.31.3.188): the VIP is put on the lab's subnet here.
    let subnet = lab.address("k8s-master01").rsplit_once('.').unwrap().0.to_string();
    inventory["all"]["vars"]["vip"] = serde_json::Value::String(format!("{subnet}.188"));
    let path = lab.dir().join(name);
    std::fs::write(&path, serde_json::to_string_pretty(&inventory).unwrap()).unwrap();
    path
}

/// Every stand-in call on these hosts, in time order: "<host> <tool> <args>".
fn calls(lab: &Lab, hosts: &[&str]) -> Vec<String> {
    let mut all: Vec<(f64, String)> = Vec::new();
    for host in hosts {
        let (_, text) = lab.ssh(host, "cat /var/log/day2-standin.log 2>/dev/null");
        for line in text.lines() {
            let (time, rest) = line.split_once(' ').unwrap();
            all.push((time.parse().unwrap(), rest.to_string()));
        }
    }
    all.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap());
    all.into_iter().map(|(_, line)| line).collect()
}

fn position(calls: &[String], needle: &str) -> usize {
    calls
        .iter()
        .position(|c| c.contains(needle))
        .unwrap_or_else(|| panic!("no call {needle:?} in:\n{}", calls.join("\n")))
}

fn no_change(run: &Run, hosts: &[&str]) {
    for host in hosts {
        assert_eq!(run.recap(host)["changed"].as_u64().unwrap_or(0), 0, "{host} changed:\n{}", run.stdout);
    }
}

/// sha256 of a file on every host: what a --check run must leave as it was.
fn fingerprint(lab: &Lab, hosts: &[&str], paths: &str) -> Vec<String> {
    hosts
        .iter()
        .map(|h| lab.ssh(h, &format!("sha256sum {paths} 2>&1; ls -R /etc/kubernetes /root/.kube 2>&1")).1)
        .collect()
}

fn api_servers(lab: &Lab, host: &str) -> Vec<String> {
    let cfg = lab.sh(host, "cat /etc/haproxy/haproxy.cfg");
    let section = cfg.split("listen kubernetes-6443").nth(1).expect("the API section").split("\n\n").next().unwrap();
    section.lines().map(str::trim).filter(|l| l.starts_with("server ")).map(String::from).collect()
}

/// haproxy and /etc/hosts as the day-1 flow leaves them for `inventory`.
fn day1_entry(lab: &Lab, inventory: &Path) {
    let mut test = Test::new().shipped("playbooks/ha-lb.rhai").inventory_file(inventory);
    for (name, value) in SECRETS {
        test = test.env(name, value);
    }
    test.run();
    Test::new().shipped("playbooks/prepare-hosts.rhai").inventory_file(inventory).args(&["--tags", "hosts"]).run();
    let _ = lab;
}

fn haproxy_pid(lab: &Lab, host: &str) -> String {
    lab.sh(host, "systemctl show -p MainPID --value haproxy").trim().to_string()
}

#[test]
fn add_node_joins_a_master_then_a_worker_and_rewrites_haproxy_and_hosts() {
    require_lab!();
    let (lab, _turn) = lab();
    install_standins(lab);
    seed_cluster(lab, &["k8s-master01", "k8s-master02"], &["k8s-node01", "k8s-node02"]);
    let before = inventory_without(lab, "before-add.json", &["k8s-master03", "k8s-node03"]);
    day1_entry(lab, &before);
    for ha in HA {
        assert_eq!(api_servers(lab, ha).len(), 2, "{ha}: two masters before the add");
    }
    let all: Vec<&str> = lab.hosts.iter().map(String::as_str).collect();
    let pids: Vec<String> = HA.iter().map(|h| haproxy_pid(lab, h)).collect();
    let skip = ["--skip-tags", "prepare,chrony,runtime", "--limit", "k8s-master03,k8s-node03"];

    // The plan changes nothing on any host.
    let seen = fingerprint(lab, &all, "/etc/hosts /etc/haproxy/haproxy.cfg");
    let plan =
        Test::new().shipped("playbooks/add-node.rhai").inventory_file(inv(lab)).args(&skip).args(&["--check"]).run();
    assert!(plan.stdout.contains("kubeadm join"), "{}", plan.stdout);
    assert_eq!(fingerprint(lab, &all, "/etc/hosts /etc/haproxy/haproxy.cfg"), seen, "--check changed a host");
    assert!(!calls(lab, &k8s_hosts()).iter().any(|c| c.contains(" join ") || c.contains("token create")));

    let run = Test::new().shipped("playbooks/add-node.rhai").inventory_file(inv(lab)).args(&skip).json_log().run();
    let log = calls(lab, &k8s_hosts());
    // Join data: the token master01 created and the certificate key it printed reach the joins.
    let (token, hash) = {
        let text = lab.sh("k8s-master01", "cat /var/lib/standin/last-join");
        let mut parts = text.split_whitespace();
        (parts.next().unwrap().to_string(), parts.next().unwrap().to_string())
    };
    let key = lab.sh("k8s-master01", "cat /var/lib/standin/last-certificate-key").trim().to_string();
    let token_at = position(&log, "k8s-master01 kubeadm token create --print-join-command");
    let certs_at = position(&log, "k8s-master01 kubeadm init phase upload-certs --upload-certs");
    let master_join = position(&log, "k8s-master03 kubeadm join kubeapi.raymonds.cc:6443");
    let worker_join = position(&log, "k8s-node03 kubeadm join kubeapi.raymonds.cc:6443");
    assert!(token_at < master_join && certs_at < master_join && master_join < worker_join, "{}", log.join("\n"));
    assert!(log[master_join].contains(&format!("--discovery-token-ca-cert-hash {hash}")), "{}", log[master_join]);
    assert!(log[master_join].contains("--control-plane --certificate-key"), "{}", log[master_join]);
    assert!(!log[worker_join].contains("--control-plane"), "{}", log[worker_join]);
    // The secrets travel in the environment, not on the command line the report shows.
    assert!(!run.stdout.contains(&token) && !run.stdout.contains(&key), "{}", run.stdout);
    lab.sh("k8s-master03", "test -f /etc/kubernetes/admin.conf && cmp /etc/kubernetes/admin.conf /root/.kube/config");
    // The master was waited for (Ready, from master01) before the worker joined.
    let ready =
        log.iter().position(|c| c.contains("k8s-master01 kubectl") && c.contains("get node k8s-master03")).unwrap();
    assert!(master_join < ready && ready < worker_join, "{}", log.join("\n"));
    let _ = token;

    // haproxy: three API backends, a valid config, reloaded (same master process), answering meanwhile.
    for (ha, pid) in HA.iter().zip(&pids) {
        let servers = api_servers(lab, ha);
        assert_eq!(servers.len(), 3, "{ha}: {servers:?}");
        assert!(servers[2].starts_with(&format!("server k8s-master03 {}:6443 check", lab.address("k8s-master03"))));
        lab.sh(ha, "haproxy -c -q -f /etc/haproxy/haproxy.cfg");
        assert_eq!(&haproxy_pid(lab, ha), pid, "{ha}: haproxy was restarted, not reloaded");
        assert_eq!(lab.sh(ha, "systemctl is-active haproxy").trim(), "active");
    }
    // /etc/hosts on every host names the new ones, in the managed block.
    for host in &all {
        let hosts = lab.sh(host, "sed -n '/# BEGIN runbook managed hosts/,/# END runbook managed hosts/p' /etc/hosts");
        for new in ["k8s-master03", "k8s-node03"] {
            assert!(hosts.contains(&format!("{} {new}.example.local {new}\n", lab.address(new))), "{host}: {hosts}");
        }
    }

    // A rerun changes nothing and joins nobody.
    let count = log.len();
    let rerun = Test::new().shipped("playbooks/add-node.rhai").inventory_file(inv(lab)).args(&skip).json_log().run();
    no_change(&rerun, &all);
    assert!(!calls(lab, &k8s_hosts())[count..].iter().any(|c| c.contains(" join ") || c.contains("token create")));
}

#[test]
fn add_node_refuses_when_there_is_no_cluster_or_nothing_to_add() {
    require_lab!();
    let (lab, _turn) = lab();
    install_standins(lab);
    Test::new()
        .shipped("playbooks/add-node.rhai")
        .inventory_file(inv(lab))
        .args(&["--limit", "k8s-master01"])
        .code(1)
        .stderr_has("nothing to add")
        .run();
    // No cluster on master01: stopped before the stages touch the new host.
    Test::new()
        .shipped("playbooks/add-node.rhai")
        .inventory_file(inv(lab))
        .args(&["--limit", "k8s-node03"])
        .code(1)
        .stderr_has("create it with playbooks/kubeadm.rhai first")
        .run();
    assert_eq!(lab.ssh("k8s-node03", "test -e /etc/kubernetes/kubelet.conf").0, 1);
}

/// Three masters, three workers joined; etcd's members (stand-in) on master01.
fn full_cluster(lab: &Lab) {
    install_standins(lab);
    seed_cluster(lab, &MASTERS, &WORKERS);
    let members: String = MASTERS
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let a = lab.address(m);
            format!("{:016x}, started, {m}, https://{a}:2380, https://{a}:2379, false\n", 0xa1 + i)
        })
        .collect();
    put(lab, "k8s-master01", "/var/lib/standin/etcd-members", members.as_bytes(), "0644");
}

#[test]
fn remove_node_refuses_the_last_master_and_a_broken_quorum_then_removes_a_master() {
    require_lab!();
    let (lab, _turn) = lab();
    full_cluster(lab);
    let all: Vec<&str> = lab.hosts.iter().map(String::as_str).collect();
    day1_entry(lab, &inv(lab));
    let seen = fingerprint(lab, &all, "/etc/hosts /etc/haproxy/haproxy.cfg");
    let remove = |names: &str| {
        Test::new()
            .shipped("playbooks/remove-node.rhai")
            .inventory_file(inv(lab))
            .args(&["-e", &format!("remove_nodes={names}")])
    };

    remove("k8s-master01,k8s-master02,k8s-master03").code(1).stderr_has("refusing to remove the last master").run();
    remove("k8s-master02,k8s-master03").code(1).stderr_has("below the quorum of 2 that 3 members need").run();
    remove("k8s-node09").code(1).stderr_has("k8s-node09 is not a host of 'masters' or 'nodes'").run();
    Test::new()
        .shipped("playbooks/remove-node.rhai")
        .inventory_file(inv(lab))
        .code(1)
        .stderr_has("remove_nodes is not set")
        .run();
    // master02's member is unhealthy: removing master03 would leave 1 healthy of 2.
    lab.sh("k8s-master01", "echo k8s-master02 > /var/lib/standin/etcd-unhealthy");
    remove("k8s-master03").code(2).stdout_has("1 healthy of the 2 that would remain, below the quorum of 2").run();
    lab.sh("k8s-master01", "rm /var/lib/standin/etcd-unhealthy");
    let log = calls(lab, &k8s_hosts());
    assert!(
        !log.iter().any(|c| c.contains("drain") || c.contains("remove") || c.contains("reset")),
        "{}",
        log.join("\n")
    );
    // --check plans the removal and changes nothing.
    let plan = remove("k8s-master03").args(&["--check"]).run();
    assert!(plan.stdout.contains("kubectl"), "{}", plan.stdout);
    assert_eq!(fingerprint(lab, &all, "/etc/hosts /etc/haproxy/haproxy.cfg"), seen, "--check changed a host");
    assert!(!calls(lab, &k8s_hosts()).iter().any(|c| c.contains("drain") || c.contains("member remove")));

    let pids: Vec<String> = HA.iter().map(|h| haproxy_pid(lab, h)).collect();
    let run = remove("k8s-master03").json_log().run();
    let log = calls(lab, &k8s_hosts());
    let drain = position(&log, "k8s-master01 kubectl --kubeconfig /etc/kubernetes/admin.conf drain k8s-master03");
    let member = position(
        &log,
        "k8s-master01 etcdctl --endpoints=https://127.0.0.1:2379 --cacert=/etc/kubernetes/pki/etcd/ca.crt",
    );
    let member = log[member..].iter().position(|c| c.contains("member remove 00000000000000a3")).unwrap() + member;
    let delete =
        position(&log, "k8s-master01 kubectl --kubeconfig /etc/kubernetes/admin.conf delete node k8s-master03");
    let reset = position(&log, "k8s-master03 kubeadm reset -f --cri-socket unix:///run/cri-dockerd.sock");
    assert!(drain < member && member < delete && delete < reset, "{}", log.join("\n"));
    assert!(log[drain].contains("--ignore-daemonsets --delete-emptydir-data --timeout=300s"), "{}", log[drain]);
    assert_eq!(lab.ssh("k8s-master03", "test -e /etc/kubernetes").0, 1, "cleaned up");
    assert_eq!(lab.sh("k8s-master01", "cut -d, -f3 /var/lib/standin/etcd-members").split_whitespace().count(), 2);
    for (ha, pid) in HA.iter().zip(&pids) {
        let servers = api_servers(lab, ha);
        assert_eq!(servers.len(), 2, "{ha}: {servers:?}");
        assert!(!servers.iter().any(|s| s.contains("k8s-master03")));
        lab.sh(ha, "haproxy -c -q -f /etc/haproxy/haproxy.cfg");
        assert_eq!(&haproxy_pid(lab, ha), pid, "{ha}: reloaded, not restarted");
    }
    for host in all.iter().filter(|h| **h != "k8s-master03") {
        let hosts = lab.sh(host, "cat /etc/hosts");
        assert!(!hosts.contains(" k8s-master03\n"), "{host}: {hosts}");
        assert!(hosts.contains(" k8s-master02\n"), "{host}: {hosts}");
    }
    assert!(run.stdout.contains("now delete them from the inventory"));
    let rerun = remove("k8s-master03").json_log().run();
    no_change(&rerun, &all);

    // A worker: drained, deleted, reset; haproxy untouched.
    let haproxy_before: Vec<Vec<String>> = HA.iter().map(|h| api_servers(lab, h)).collect();
    remove("k8s-node03").run();
    let log = calls(lab, &k8s_hosts());
    assert!(position(&log, "drain k8s-node03") < position(&log, "k8s-node03 kubeadm reset"));
    assert!(!log.iter().any(|c| c.contains("member remove") && !c.contains("00000000000000a3")));
    let haproxy_after: Vec<Vec<String>> = HA.iter().map(|h| api_servers(lab, h)).collect();
    assert_eq!(haproxy_before, haproxy_after);
}

/// Every k8s host at v1.25.0 with the v1.26.0 packages "installed" (the package step is left out on the
/// lab: no Kubernetes repo is reachable).
fn upgrade_ready(lab: &Lab) {
    full_cluster(lab);
    for host in k8s_hosts() {
        lab.sh(host, "echo v1.26.0 > /var/lib/standin/packages-version");
    }
}

fn upgrade(lab: &Lab, version: &str) -> Test {
    Test::new()
        .shipped("playbooks/upgrade.rhai")
        .inventory_file(inv(lab))
        .args(&["-e", &format!("{{\"k8s_version\": \"{version}\", \"upgrade_packages\": false}}")])
}

#[test]
fn upgrade_refuses_skips_and_downgrades_then_upgrades_masters_one_at_a_time() {
    require_lab!();
    let (lab, _turn) = lab();
    upgrade_ready(lab);
    upgrade(lab, "1.27.0")
        .code(1)
        .stderr_has("1.25.0 -> 1.27.0 skips 1.26: kubeadm upgrades one minor version at a time")
        .run();
    upgrade(lab, "1.24.3").code(1).stderr_has("is a downgrade").run();
    upgrade(lab, "2.0.0").code(1).stderr_has("major version").run();
    upgrade(lab, "1.26").code(1).stderr_has("not a Kubernetes version").run();
    let plan = upgrade(lab, "1.26.0").args(&["--check"]).run();
    assert!(plan.stdout.contains("kubeadm upgrade apply -y v1.26.0"), "{}", plan.stdout);
    let log = calls(lab, &k8s_hosts());
    assert!(
        !log.iter().any(|c| c.contains("upgrade apply") || c.contains("upgrade node") || c.contains("drain")),
        "{}",
        log.join("\n")
    );
    for host in k8s_hosts() {
        assert_eq!(lab.ssh(host, "test -e /var/lib/standin/kubelet-version").0, 1, "{host} changed in --check");
    }

    upgrade(lab, "1.26.0").run();
    let log = calls(lab, &k8s_hosts());
    let mut last = 0;
    // Per host: drain, kubeadm, kubelet restart, uncordon; hosts strictly one after the other.
    for host in k8s_hosts() {
        let drain = position(&log, &format!("drain {host} --ignore-daemonsets"));
        let kubeadm = if host == "k8s-master01" {
            let plan = position(&log, "k8s-master01 kubeadm upgrade plan");
            let apply = position(&log, "k8s-master01 kubeadm upgrade apply -y v1.26.0");
            assert!(plan < apply);
            apply
        } else {
            position(&log, &format!("{host} kubeadm upgrade node"))
        };
        let uncordon = position(&log, &format!("uncordon {host}"));
        assert!(last <= drain && drain < kubeadm && kubeadm < uncordon, "{host}:\n{}", log.join("\n"));
        last = uncordon;
        assert_eq!(lab.sh(host, "kubelet --version").trim(), "Kubernetes v1.26.0");
    }
    let rerun = upgrade(lab, "1.26.0").json_log().run();
    no_change(&rerun, &k8s_hosts());
}

#[test]
fn upgrade_stops_at_the_first_master_that_fails() {
    require_lab!();
    let (lab, _turn) = lab();
    upgrade_ready(lab);
    lab.sh("k8s-master02", "touch /var/lib/standin/fail-upgrade");
    upgrade(lab, "1.26.0").code(2).run();
    let log = calls(lab, &k8s_hosts());
    assert!(log.iter().any(|c| c.contains("k8s-master02 kubeadm upgrade node")));
    assert!(
        !log.iter().any(|c| c.contains("drain k8s-master03") || c.contains("drain k8s-node")),
        "{}",
        log.join("\n")
    );
    assert_eq!(lab.sh("k8s-master01", "kubelet --version").trim(), "Kubernetes v1.26.0");
    assert_eq!(lab.sh("k8s-master03", "kubelet --version").trim(), "Kubernetes v1.25.0");
}

#[test]
fn certs_renew_below_the_threshold_one_master_at_a_time() {
    require_lab!();
    let (lab, _turn) = lab();
    full_cluster(lab);
    for m in MASTERS {
        lab.sh(m, "echo 20 > /var/lib/standin/cert-days");
    }
    let args = ["-e", "{\"certs_restart_wait\": 1}"];
    let run = Test::new().shipped("playbooks/certs.rhai").inventory_file(inv(lab)).args(&args).run();
    assert!(run.stdout.contains("k8s-master01: admin.conf expires first, in 20 days — renewing"), "{}", run.stdout);
    let log = calls(lab, &MASTERS);
    let renews: Vec<usize> = MASTERS.iter().map(|m| position(&log, &format!("{m} kubeadm certs renew all"))).collect();
    assert!(renews[0] < renews[1] && renews[1] < renews[2]);
    for m in MASTERS {
        assert_eq!(lab.sh(m, "ls /etc/kubernetes/manifests | wc -l").trim(), "4", "{m}: manifests back");
        lab.sh(m, "cmp /etc/kubernetes/admin.conf /root/.kube/config");
    }
    let rerun = Test::new().shipped("playbooks/certs.rhai").inventory_file(inv(lab)).args(&args).json_log().run();
    no_change(&rerun, &MASTERS);
    assert!(rerun.stdout.contains("in 365 days"), "{}", rerun.stdout);
}

#[test]
fn reset_needs_its_confirmation_then_tears_down_and_reruns_clean() {
    require_lab!();
    let (lab, _turn) = lab();
    full_cluster(lab);
    Test::new()
        .shipped("playbooks/reset.rhai")
        .inventory_file(inv(lab))
        .code(1)
        .stderr_has("confirm with -e reset_confirm=yes")
        .run();
    for host in k8s_hosts() {
        assert_eq!(lab.ssh(host, "test -e /etc/kubernetes/kubelet.conf").0, 0, "{host}: touched without confirmation");
    }
    Test::new().shipped("playbooks/reset.rhai").inventory_file(inv(lab)).args(&["-e", "reset_confirm=yes"]).run();
    let log = calls(lab, &k8s_hosts());
    let last_worker = WORKERS.iter().map(|w| position(&log, &format!("{w} kubeadm reset -f"))).max().unwrap();
    let first_master = MASTERS.iter().map(|m| position(&log, &format!("{m} kubeadm reset -f"))).min().unwrap();
    assert!(last_worker < first_master, "workers first:\n{}", log.join("\n"));
    for host in k8s_hosts() {
        assert_eq!(lab.ssh(host, "test -e /etc/kubernetes || test -e /root/.kube").0, 1, "{host}: left over");
    }
    let rerun = Test::new()
        .shipped("playbooks/reset.rhai")
        .inventory_file(inv(lab))
        .args(&["-e", "reset_confirm=yes"])
        .json_log()
        .run();
    no_change(&rerun, &k8s_hosts());
}

/// Debian's etcd-server 3.4 on the three masters, one cluster over plain http (kubeadm's stacked etcd
/// would use its certificates), the etcdctl stand-in out of the way.
fn real_etcd(lab: &Lab) {
    let debs: Vec<PathBuf> = std::fs::read_dir(DEBS)
        .unwrap_or_else(|e| {
            panic!("{DEBS}: {e}: run scripts/install-deps --for-tests (it downloads etcd-server and etcd-client)")
        })
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "deb"))
        .collect();
    assert!(
        ["etcd-server_", "etcd-client_"].iter().all(|n| debs.iter().any(|p| p.display().to_string().contains(n))),
        "{DEBS} lacks etcd-server/etcd-client .debs: run scripts/install-deps --for-tests"
    );
    let initial: Vec<String> = MASTERS.iter().map(|m| format!("{m}=http://{}:2380", lab.address(m))).collect();
    for m in MASTERS {
        lab.sh(m, "rm -f /usr/local/bin/etcdctl; mkdir -p /root/debs");
        if lab.ssh(m, "command -v etcd && command -v etcdctl").0 != 0 {
            let dir = lab.dir();
            let status = Command::new("scp")
                .args(["-q", "-F", "/dev/null", "-i"])
                .arg(dir.join("id_ed25519"))
                .arg("-o")
                .arg(format!("UserKnownHostsFile={}", dir.join("known_hosts").display()))
                .args(&debs)
                .arg(format!("root@{}:/root/debs/", lab.address(m)))
                .status()
                .unwrap();
            assert!(status.success());
            lab.sh(m, "dpkg -i /root/debs/*.deb >/root/debs/dpkg.log 2>&1 || { cat /root/debs/dpkg.log; exit 1; }");
        }
        let a = lab.address(m);
        let config = format!(
            "ETCD_NAME={m}\nETCD_DATA_DIR=/var/lib/etcd\nETCD_LISTEN_PEER_URLS=http://{a}:2380\n\
             ETCD_LISTEN_CLIENT_URLS=http://127.0.0.1:2379,http://{a}:2379\nETCD_ADVERTISE_CLIENT_URLS=http://{a}:2379\n\
             ETCD_INITIAL_ADVERTISE_PEER_URLS=http://{a}:2380\nETCD_INITIAL_CLUSTER={}\n\
             ETCD_INITIAL_CLUSTER_STATE=new\nETCD_INITIAL_CLUSTER_TOKEN=etcd-cluster\n",
            initial.join(",")
        );
        lab.sh(m, "systemctl stop etcd; rm -rf /var/lib/etcd /var/lib/etcd.before-restore-* /var/lib/etcd-backup /var/lib/etcd-restore; install -d -o etcd -g etcd -m 0700 /var/lib/etcd");
        put(lab, m, "/etc/default/etcd", config.as_bytes(), "0644");
    }
    for m in MASTERS {
        lab.sh(m, "systemctl start --no-block etcd");
    }
    lab.sh(
        "k8s-master01",
        "for i in $(seq 60); do etcdctl endpoint health --cluster 2>&1 | grep -c 'is healthy' | grep -qx 3 && exit 0; sleep 1; done; exit 1",
    );
}

fn etcd_keys(lab: &Lab, host: &str) -> String {
    lab.sh(host, "etcdctl --endpoints=http://127.0.0.1:2379 get --prefix /day2/ -w simple")
}

#[test]
fn etcd_backup_reaches_the_controller_and_restore_brings_the_keys_back_on_every_member() {
    require_lab!();
    let (lab, _turn) = lab();
    real_etcd(lab);
    lab.sh("k8s-master01", "for k in a b c; do etcdctl put /day2/$k value-$k >/dev/null; done");
    let backups = tempfile::tempdir().unwrap();
    let vars = |extra: &str| {
        format!(
            "{{\"etcd_cacert\": \"\", \"etcd_service\": \"etcd\", \"etcd_backup_dir\": \"{}\", \"etcd_backup_keep\": 2{extra}}}",
            backups.path().display()
        )
    };
    let backup = || Test::new().shipped("playbooks/etcd-backup.rhai").inventory_file(inv(lab)).args(&["-e", &vars("")]);
    let files = || -> Vec<PathBuf> {
        let mut f: Vec<PathBuf> = std::fs::read_dir(backups.path()).unwrap().map(|e| e.unwrap().path()).collect();
        f.sort();
        f
    };

    // --check: nothing saved anywhere.
    backup().args(&["--check"]).stdout_has("would snapshot k8s-master01:/var/lib/etcd-backup/etcd-snapshot-").run();
    assert!(files().is_empty());
    assert_eq!(lab.ssh("k8s-master01", "ls /var/lib/etcd-backup/*.db").0, 2, "--check saved a snapshot");

    let run = backup().run();
    let saved = files();
    assert_eq!(saved.len(), 1, "{saved:?}");
    let name = saved[0].file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.starts_with("etcd-snapshot-2") && name.ends_with("Z.db"), "{name}");
    let local = sha256(&saved[0]);
    let remote = lab.sh("k8s-master01", &format!("sha256sum < /var/lib/etcd-backup/{name} | cut -c1-64"));
    assert_eq!(local, remote.trim(), "the controller's copy is the master's snapshot");
    assert!(run.stdout.contains(&format!("sha256 {local}")), "{}", run.stdout);
    // The N newest are kept, on the controller and on the master.
    for _ in 0..2 {
        std::thread::sleep(std::time::Duration::from_millis(1100));
        backup().run();
    }
    let kept = files();
    assert_eq!(kept.len(), 2, "{kept:?}");
    assert!(!kept.contains(&saved[0]), "the oldest went");
    assert_eq!(lab.sh("k8s-master01", "ls /var/lib/etcd-backup/*.db | wc -l").trim(), "2");

    // The cluster moves on after the snapshot; the restore brings back exactly the keys it held.
    lab.sh("k8s-master01", "etcdctl put /day2/after-backup x >/dev/null && etcdctl del /day2/a >/dev/null");
    let snapshot = kept[1].display().to_string();
    let restore = |extra: &str| {
        Test::new().shipped("playbooks/etcd-restore.rhai").inventory_file(inv(lab)).args(&["-e", &vars(extra)])
    };
    restore("").code(1).stderr_has("etcd_restore_snapshot is not set").run();
    restore(&format!(", \"etcd_restore_snapshot\": \"{snapshot}\""))
        .code(1)
        .stderr_has("confirm with -e etcd_restore_confirm=yes")
        .run();
    restore(&format!(", \"etcd_restore_snapshot\": \"{snapshot}\", \"etcd_restore_confirm\": \"yes\""))
        .args(&["--limit", "k8s-master01"])
        .code(1)
        .stderr_has("do not --limit it")
        .run();
    assert!(etcd_keys(lab, "k8s-master02").contains("/day2/after-backup"), "refusals changed nothing");
    let run = restore(&format!(", \"etcd_restore_snapshot\": \"{snapshot}\", \"etcd_restore_confirm\": \"yes\"")).run();
    assert!(run.stdout.contains("k8s-master01=http://"), "{}", run.stdout);
    let want = "/day2/a\nvalue-a\n/day2/b\nvalue-b\n/day2/c\nvalue-c\n";
    for m in MASTERS {
        assert_eq!(etcd_keys(lab, m), want, "{m} after the restore");
        assert_eq!(lab.sh(m, "stat -c %U /var/lib/etcd").trim(), "etcd");
        lab.sh(m, "ls -d /var/lib/etcd.before-restore-*");
    }
    let members = lab.sh("k8s-master01", "etcdctl member list");
    assert_eq!(members.lines().count(), 3, "{members}");
    lab.sh("k8s-master02", "etcdctl put /day2/written-after-restore y >/dev/null");
    assert!(etcd_keys(lab, "k8s-master03").contains("written-after-restore"), "the restored cluster replicates");
}

fn sha256(path: &Path) -> String {
    let out = Command::new("sha256sum").arg(path).output().unwrap();
    String::from_utf8_lossy(&out.stdout).split_whitespace().next().unwrap().to_string()
}
