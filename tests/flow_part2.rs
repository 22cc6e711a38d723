//! The shipped flow, part 2 (issue 5): container runtime, Harbor, kubeadm HA and `ha-cluster.rhai`.
//!
//! Docker, Harbor, cri-dockerd and kubeadm cannot run on this machine's lab (no docker engine in a
//! systemd-nspawn host, no internet, no such Debian packages), so what is proved here is everything short
//! of that: the whole flow planned in --check on ten fresh hosts without changing any of them; every
//! rendered config checked by the tool that reads it (jq, systemd-analyze verify, YAML + the fields
//! kubeadm v1beta3 and Harbor 2.6 need); every Harbor REST request checked against Harbor's published
//! OpenAPI document; and the kubeadm join data flow run for real with a stand-in `kubeadm` on a lab.

use crate::support;

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;
use support::{Lab, Test, repo_root};

static CHECK_LAB: OnceLock<Lab> = OnceLock::new();
static JOIN_LAB: OnceLock<Lab> = OnceLock::new();
/// The f2j lab's tests install stand-ins on the same hosts: one at a time.
static JOIN_LAB_USE: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Secrets the flow reads; distinctive so that a leak into the output would be found.
const SECRETS: &[(&str, &str)] = &[
    ("RUNBOOK_SECRET_HAPROXY_STATS_PASSWORD", "statspw-f2x"),
    ("RUNBOOK_SECRET_KEEPALIVED_AUTH_PASS", "vrrp-f2x"),
    ("RUNBOOK_SECRET_HARBOR_ADMIN_PASSWORD", "Harbor-adm-f2x"),
    ("RUNBOOK_SECRET_HARBOR_DB_PASSWORD", "harbor-db-f2x"),
];

const MASTERS: &[&str] = &["k8s-master01", "k8s-master02", "k8s-master03"];
const WORKERS: &[&str] = &["k8s-node01", "k8s-node02", "k8s-node03"];
const HARBORS: &[&str] = &["k8s-harbor01", "k8s-harbor02"];

/// A lab that mirrors playbooks/inventory.yaml: the guide's ten hosts, names and groups.
fn guide_lab(cell: &'static OnceLock<Lab>, name: &'static str, subnet: &str) -> &'static Lab {
    let lab = Lab::get_from_inventory(cell, name, &repo_root().join("playbooks/inventory.yaml"), subnet);
    assert_eq!(lab.hosts.len(), 10, "{:?}", lab.hosts);
    lab
}

fn with_secrets(mut test: Test) -> Test {
    for (name, value) in SECRETS {
        test = test.env(name, value);
    }
    test
}

/// One step of the plan: (task, primitive, target, diff).
type Step = (String, String, String, String);

fn steps_of(events: &[Value], host: &str) -> Vec<Step> {
    let mut out = Vec::new();
    for event in events.iter().filter(|e| e["event"] == "host_result" && e["host"] == host) {
        for step in event["steps"].as_array().into_iter().flatten() {
            out.push((
                event["task"].as_str().unwrap_or("").to_string(),
                step["primitive"].as_str().unwrap_or("").to_string(),
                step["target"].as_str().unwrap_or("").to_string(),
                step["diff"].as_str().unwrap_or("").to_string(),
            ));
        }
    }
    out
}

/// Index of the first step whose target contains `text` (panics with the plan when there is none).
fn find(steps: &[Step], host: &str, text: &str) -> usize {
    steps.iter().position(|s| s.2.contains(text)).unwrap_or_else(|| {
        let plan: Vec<String> = steps.iter().map(|s| format!("  [{}] {}: {}", s.0, s.1, s.2)).collect();
        panic!("{host}: no step with {text:?} in the plan:\n{}", plan.join("\n"))
    })
}

/// The content of a file the plan would create, from its --diff (a new file: every line added).
fn new_file_from_diff(steps: &[Step], path: &str) -> String {
    let step = steps.iter().find(|s| s.2 == path).unwrap_or_else(|| panic!("no step writes {path}"));
    let diff = &step.3;
    assert!(diff.contains("@@ -0,0 "), "{path} should be a new file; diff:\n{diff}");
    let mut text = String::new();
    for line in diff.lines().skip_while(|l| !l.starts_with("@@")).skip(1) {
        let added = line.strip_prefix('+').unwrap_or_else(|| panic!("{path}: unexpected diff line {line:?}"));
        text.push_str(added);
        text.push('\n');
    }
    text
}

#[test]
fn check_mode_plans_the_whole_flow_on_ten_fresh_hosts_and_changes_nothing() {
    require_lab!();
    let lab = guide_lab(&CHECK_LAB, "f2", "10.253.0.0/24");
    // Every host's state is compared with a marker taken just before the run.
    for host in &lab.hosts {
        lab.sh(host, "touch /run/f2-marker && sleep 0.01");
    }
    let playbook = repo_root().join("playbooks/ha-cluster.rhai");
    let inventory = lab.inventory();
    let run = with_secrets(Test::new())
        .args(&["run", playbook.to_str().unwrap(), "-i", inventory.to_str().unwrap(), "--check", "--diff", "-v"])
        .json_log()
        .run();
    let events = run.events();

    // Nothing changed on any host: no file under these trees is newer than the marker, and none of
    // the files the flow would create exists.
    // (All hosts at once: a find over /usr takes seconds on an overlay host.)
    let found: Vec<(String, String)> = std::thread::scope(|scope| {
        let checks: Vec<_> = lab
            .hosts
            .iter()
            .map(|host| {
                scope.spawn(move || {
                    let out = lab.sh(
                        host,
                        "find /etc /root /usr /opt /srv /var/lib/dpkg /var/lib/apt /data /apps -xdev -newer /run/f2-marker 2>/dev/null; \
                         for f in /etc/docker/daemon.json /etc/apt/sources.list.d/docker.list /etc/apt/sources.list.d/kubernetes.list \
                         /etc/systemd/system/cri-docker.service /etc/systemd/system/harbor.service /usr/bin/docker-compose \
                         /apps/harbor /root/kubeadm-config.yaml /etc/kubernetes /root/runbook-cni; do [ -e $f ] && echo $f; done; true",
                    );
                    (host.clone(), out)
                })
            })
            .collect();
        checks.into_iter().map(|c| c.join().unwrap()).collect()
    });
    for (host, out) in found {
        assert_eq!(out.trim(), "", "{host}: changed or created in --check");
    }

    // No secret reached the output.
    for (_, value) in SECRETS {
        assert!(!run.stdout.contains(value), "secret {value} in the output");
        assert!(!std::fs::read_to_string(run.dir.join("events.jsonl")).unwrap().contains(value));
    }

    // The stages in the guide's order (tasks run, or reported skipped by `when`).
    let tasks: Vec<&str> = events
        .iter()
        .filter(|e| e["event"] == "task_start" || e["event"] == "task_skipped")
        .filter_map(|e| e["task"].as_str())
        .collect();
    let order = [
        "4.1.2 hostname",
        "4.1.6 /etc/hosts",
        "4.1.13 k8s sysctl",
        "4.1.10 chrony servers",
        "4.2.1 haproxy",
        "4.2.2 keepalived",
        "3.3 docker",
        "3.3 kubeadm kubelet kubectl",
        "3.4 cri-dockerd",
        "4.3.1 docker",
        "4.3.1 docker-compose",
        "4.3.1 harbor",
        "4.3.2 harbor project",
        "4.3.2 harbor replication",
        "3.5 image list",
        "3.5 kubeadm init",
        "3.6 cni",
        "3.7 join status",
        "3.7 join command",
        "3.7 join masters",
        "3.8 join workers",
        "3.9 verify",
    ];
    let mut at = 0;
    for name in order {
        let found = tasks[at..].iter().position(|t| *t == name);
        assert!(found.is_some(), "task {name:?} missing or out of order in {tasks:?}");
        at += found.unwrap() + 1;
    }

    // Each Kubernetes host: packages, files and commands, in the guide's order.
    for host in MASTERS.iter().chain(WORKERS) {
        let steps = steps_of(&events, host);
        let docker = find(&steps, host, "'docker-ce=20.10.17*' 'docker-ce-cli=20.10.17*'");
        let daemon = find(&steps, host, "/etc/docker/daemon.json");
        let kube = find(&steps, host, "'kubeadm=1.25.0*' 'kubectl=1.25.0*' 'kubelet=1.25.0*'");
        let repo = find(&steps, host, "/etc/apt/sources.list.d/kubernetes.list");
        let cri_bin = find(&steps, host, "install -m 0755 /usr/local/src/cri-dockerd/cri-dockerd /usr/bin/cri-dockerd");
        let cri_unit = find(&steps, host, "/etc/systemd/system/cri-docker.service");
        let join = find(&steps, host, "kubeadm ");
        assert!(
            docker < daemon && daemon < repo && repo < kube && kube < cri_bin && cri_bin < cri_unit,
            "{host}: order"
        );
        assert!(cri_unit < join, "{host}: the runtime comes before kubeadm");
        assert!(steps[daemon].3.contains("native.cgroupdriver=systemd"), "{host}: daemon.json diff shown");
        assert!(steps[cri_unit].3.contains("--network-plugin=cni"), "{host}: cri-docker.service diff shown");
        assert!(steps.iter().all(|s| !s.2.contains("harbor.yml") && !s.2.contains("install.sh")), "{host}: no Harbor");
    }
    let m1 = steps_of(&events, "k8s-master01");
    let init = find(&m1, "k8s-master01", "kubeadm init --config /root/kubeadm-config.yaml --upload-certs");
    assert!(find(&m1, "k8s-master01", "/root/kubeadm-config.yaml") < init);
    assert!(init < find(&m1, "k8s-master01", "apply -f /root/runbook-cni/calico.yaml"));
    assert!(init < find(&m1, "k8s-master01", "kubeadm token create --print-join-command"));
    for host in &MASTERS[1..] {
        let steps = steps_of(&events, host);
        let join = &steps[find(&steps, host, "kubeadm join")].2;
        assert!(join.starts_with("kubeadm join kubeapi.raymonds.cc:6443 --token \"$KUBEADM_TOKEN\""), "{join}");
        assert!(join.contains("--control-plane --certificate-key \"$KUBEADM_CERTIFICATE_KEY\""), "{join}");
        assert!(join.contains("--cri-socket unix:///run/cri-dockerd.sock"), "{join}");
    }
    for host in WORKERS {
        let steps = steps_of(&events, host);
        let join = &steps[find(&steps, host, "kubeadm join")].2;
        assert!(!join.contains("--control-plane"), "{host}: a worker joins as a worker: {join}");
    }
    for host in HARBORS {
        let steps = steps_of(&events, host);
        let docker = find(&steps, host, "'docker-ce=20.10.17*'");
        let compose = find(&steps, host, "/usr/bin/docker-compose.part");
        let yml = find(&steps, host, "/apps/harbor/harbor.yml");
        let install = find(&steps, host, "cd /apps/harbor && ./install.sh");
        let unit = find(&steps, host, "/etc/systemd/system/harbor.service");
        let api = find(&steps, host, "-X POST");
        assert!(docker < compose && compose < yml && yml < install && install < unit && unit < api, "{host}: order");
        assert_eq!(steps[yml].3, "(sensitive: diff hidden)", "harbor.yml holds passwords");
        let other = if *host == "k8s-harbor01" { "k8s-harbor02" } else { "k8s-harbor01" };
        for planned in [
            format!(
                "{host}: would send POST /api/v2.0/projects {{\"metadata\":{{\"public\":\"true\"}},\"project_name\":\"google_containers\"}}"
            ),
            format!(
                "{host}: would send POST /api/v2.0/registries {{\"credential\":{{\"access_key\":\"admin\",\"access_secret\":\"***\""
            ),
            format!("\"name\":\"{other}\",\"type\":\"harbor\",\"url\":\"http://{}\"}}", lab.address(other)),
            format!("{host}: would send POST /api/v2.0/replication/policies"),
            format!("\"name\":\"google_containers-to-{other}\""),
        ] {
            assert!(run.stdout.contains(&planned), "stdout lacks {planned:?}");
        }
    }
    assert!(run.stdout.contains("goharbor/harbor#17754"), "the two-way replication warning");
    for host in ["k8s-ha01", "k8s-ha02"] {
        let steps = steps_of(&events, host);
        assert!(steps.iter().all(|s| !s.2.contains("docker") && !s.2.contains("kubeadm")), "{host}: no runtime");
    }

    // The files the plan would write, checked by the tools that read them.
    let dir = tempfile::tempdir().unwrap();
    let daemon = new_file_from_diff(&m1, "/etc/docker/daemon.json");
    let harbor_daemon = new_file_from_diff(&steps_of(&events, "k8s-harbor01"), "/etc/docker/daemon.json");
    assert_eq!(daemon, harbor_daemon, "the guide's daemon.json on every Docker host");
    check_daemon_json(dir.path(), &daemon);
    let units = [
        ("cri-docker.service", new_file_from_diff(&m1, "/etc/systemd/system/cri-docker.service")),
        ("cri-docker.socket", new_file_from_diff(&m1, "/etc/systemd/system/cri-docker.socket")),
        (
            "harbor.service",
            new_file_from_diff(&steps_of(&events, "k8s-harbor01"), "/etc/systemd/system/harbor.service"),
        ),
    ];
    verify_units(dir.path(), &units);
    check_kubeadm_config(&new_file_from_diff(&m1, "/root/kubeadm-config.yaml"), lab.address("k8s-master01"));
    let docker_list = new_file_from_diff(&m1, "/etc/apt/sources.list.d/docker.list");
    check_apt_sources(dir.path(), &docker_list, "https://download.docker.com/linux/debian/dists/bookworm/InRelease");
    let repo_list = new_file_from_diff(&m1, "/etc/apt/sources.list.d/kubernetes.list");
    check_apt_sources(dir.path(), &repo_list, "https://pkgs.k8s.io/core:/stable:/v1.25/deb/InRelease");
    assert!(repo_list.contains(
        "deb [signed-by=/etc/apt/keyrings/kubernetes-apt-keyring.gpg] https://pkgs.k8s.io/core:/stable:/v1.25/deb/ /"
    ));
}

#[test]
fn check_mode_plans_the_redhat_path_from_rocky_8_facts() {
    require_lab!();
    let lab = guide_lab(&CHECK_LAB, "f2", "10.253.0.0/24");
    let playbook = repo_root().join("playbooks/container-runtime.rhai");
    let inventory = lab.inventory();
    let facts = r#"{"runbook_facts": {"os_id": "rocky", "os_version": "8.6", "os_major": 8, "os_family": "redhat", "pkg_mgr": "dnf"}}"#;
    let run = Test::new()
        .args(&["run", playbook.to_str().unwrap(), "-i", inventory.to_str().unwrap()])
        .args(&["--limit", "k8s-master01", "--check", "--diff", "-e", facts])
        .json_log()
        .run();
    let steps = steps_of(&run.events(), "k8s-master01");
    let repo = find(&steps, "k8s-master01", "/etc/yum.repos.d/docker-ce.repo");
    let docker = find(&steps, "k8s-master01", "dnf -y install 'docker-ce-20.10.17' 'docker-ce-cli-20.10.17'");
    let kube_repo = find(&steps, "k8s-master01", "/etc/yum.repos.d/kubernetes.repo");
    let kube = find(
        &steps,
        "k8s-master01",
        "dnf -y install --disableexcludes=kubernetes 'kubeadm-1.25.0' 'kubectl-1.25.0' 'kubelet-1.25.0'",
    );
    assert!(repo < docker && docker < kube_repo && kube_repo < kube);
    assert!(steps[kube_repo].3.contains("+baseurl=https://pkgs.k8s.io/core:/stable:/v1.25/rpm/"));
    assert!(steps[kube_repo].3.contains("+exclude=kubelet kubeadm kubectl cri-tools kubernetes-cni"));
    assert_eq!(lab.ssh("k8s-master01", "test -e /etc/yum.repos.d").0, 1, "--check created nothing");
}

#[test]
fn stage_tags_and_start_at_task_resume_the_flow() {
    require_lab!();
    let lab = guide_lab(&CHECK_LAB, "f2", "10.253.0.0/24");
    let playbook = repo_root().join("playbooks/ha-cluster.rhai");
    let inventory = lab.inventory();
    let base = ["run", playbook.to_str().unwrap(), "-i", inventory.to_str().unwrap(), "--check"];
    let ran = |run: &support::Run| -> Vec<String> {
        run.events()
            .iter()
            .filter(|e| e["event"] == "task_start")
            .map(|e| e["task"].as_str().unwrap().to_string())
            .collect()
    };
    let run = with_secrets(Test::new()).args(&base).args(&["--tags", "harbor"]).json_log().run();
    let tasks = ran(&run);
    assert_eq!(tasks[0], "4.3.1 docker", "{tasks:?}");
    assert!(tasks.iter().all(|t| t.starts_with("4.3.") || t.starts_with("3.5 image")), "{tasks:?}");
    let run = with_secrets(Test::new()).args(&base).args(&["--start-at-task", "3.5 kubeadm init"]).json_log().run();
    let tasks = ran(&run);
    assert_eq!(tasks[0], "3.5 kubeadm init", "{tasks:?}");
    assert!(tasks.contains(&"3.8 join workers".to_string()), "{tasks:?}");
}

#[test]
fn the_verify_workload_is_a_deployment_on_two_workers_behind_its_service() {
    // 3.9 never runs in --check; its manifest is rendered here by the engine's own template renderer.
    let text = std::fs::read_to_string(repo_root().join("playbooks/templates/verify.yaml.j2")).unwrap();
    let context = serde_json::json!({ "verify_replicas": 2, "verify_image": "nginx:1.23" });
    let rendered = runbook::primitives::render_text("verify.yaml.j2", &text, &context).unwrap();
    let docs: Vec<Value> = serde_saphyr::from_multiple(&rendered).expect("YAML");
    let kinds: Vec<&str> = docs.iter().map(|d| d["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["Namespace", "Deployment", "Service"]);
    let (deployment, service) = (&docs[1], &docs[2]);
    assert_eq!(deployment["apiVersion"], "apps/v1");
    assert_eq!(deployment["spec"]["replicas"], 2);
    let labels = &deployment["spec"]["template"]["metadata"]["labels"];
    assert_eq!(&deployment["spec"]["selector"]["matchLabels"], labels);
    assert_eq!(&service["spec"]["selector"], labels);
    let spread = &deployment["spec"]["template"]["spec"]["topologySpreadConstraints"][0];
    assert_eq!(spread["topologyKey"], "kubernetes.io/hostname");
    assert_eq!(spread["whenUnsatisfiable"], "DoNotSchedule", "two pods on two different nodes");
    assert_eq!(deployment["spec"]["template"]["spec"]["containers"][0]["image"], "nginx:1.23");
    for doc in &docs[1..] {
        assert_eq!(doc["metadata"]["namespace"], docs[0]["metadata"]["name"]);
    }
}

/// An apt sources file read by apt itself (`apt-get update --print-uris` parses it and prints what it would
/// fetch, without fetching): it must parse and name `want`.
fn check_apt_sources(dir: &Path, text: &str, want: &str) {
    let list = dir.join("sources.list");
    let lists = dir.join("apt-lists");
    std::fs::create_dir_all(lists.join("partial")).unwrap();
    std::fs::write(&list, text).unwrap();
    let output = Command::new("apt-get")
        .args(["update", "--print-uris", "-o", "Dir::Etc::SourceParts=/nonexistent"])
        .arg(format!("-o=Dir::Etc::SourceList={}", list.display()))
        .arg(format!("-o=Dir::State::Lists={}", lists.display()))
        .output()
        .expect("apt-get runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "apt rejects {text}: {}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains(&format!("'{want}'")), "apt would not fetch {want}: {stdout}");
}

/// daemon.json parsed by jq and holding the guide's settings.
fn check_daemon_json(dir: &Path, text: &str) {
    let path = dir.join("daemon.json");
    std::fs::write(&path, text).unwrap();
    let filter = r#".["exec-opts"] == ["native.cgroupdriver=systemd"]
        and .["insecure-registries"] == ["harbor.raymonds.cc"]
        and .["registry-mirrors"] == []
        and .["max-concurrent-downloads"] == 10 and .["max-concurrent-uploads"] == 5
        and .["log-opts"] == {"max-size": "300m", "max-file": "2"}
        and .["live-restore"] == true
        and (keys | length) == 7"#;
    let status = Command::new("jq").args(["-e", filter]).arg(&path).status().expect("jq runs");
    assert!(status.success(), "daemon.json fails jq's check:\n{text}");
}

/// `systemd-analyze verify` on the units, in a root holding the controller's own unit files plus stand-in
/// executables and docker.service where the packages would put them (they do not exist here).
fn verify_units(dir: &Path, units: &[(&str, String)]) {
    let root = dir.join("root");
    let system = root.join("etc/systemd/system");
    std::fs::create_dir_all(&system).unwrap();
    std::fs::create_dir_all(root.join("usr/lib/systemd")).unwrap();
    let copied = Command::new("cp")
        .arg("-a")
        .arg("/usr/lib/systemd/system")
        .arg(root.join("usr/lib/systemd/"))
        .status()
        .unwrap();
    assert!(copied.success());
    for exe in ["usr/bin/cri-dockerd", "usr/bin/docker-compose", "bin/kill"] {
        let path = root.join(exe);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, "#!/bin/sh\n").unwrap();
        Command::new("chmod").arg("755").arg(&path).status().unwrap();
    }
    std::fs::write(
        root.join("usr/lib/systemd/system/docker.service"),
        "[Unit]\nDescription=Docker\n[Service]\nExecStart=/usr/bin/dockerd\n",
    )
    .unwrap();
    std::fs::write(root.join("usr/bin/dockerd"), "#!/bin/sh\n").unwrap();
    Command::new("chmod").arg("755").arg(root.join("usr/bin/dockerd")).status().unwrap();
    let verify = |names: &[&str]| {
        let output = Command::new("systemd-analyze")
            .arg("verify")
            .arg(format!("--root={}", root.display()))
            .args(names.iter().map(|n| format!("/etc/systemd/system/{n}")))
            .output()
            .expect("systemd-analyze runs");
        (output.status.success(), String::from_utf8_lossy(&output.stderr).into_owned())
    };
    for (name, text) in units {
        std::fs::write(system.join(name), text).unwrap();
    }
    let names: Vec<&str> = units.iter().map(|(n, _)| *n).collect();
    let (ok, errors) = verify(&names);
    assert!(ok && errors.trim().is_empty(), "systemd-analyze verify: {errors}");
    // The check can fail: the same unit with a misspelt key is refused.
    let broken = units[0].1.replace("ExecStart=", "ExecStrat=");
    std::fs::write(system.join(units[0].0), broken).unwrap();
    let (ok, errors) = verify(&[units[0].0]);
    assert!(!ok && errors.contains("ExecStrat"), "a broken unit must fail: {errors}");
    std::fs::write(system.join(units[0].0), &units[0].1).unwrap();
}

fn is_cidr(text: &str) -> bool {
    let Some((address, prefix)) = text.split_once('/') else {
        return false;
    };
    address.parse::<std::net::Ipv4Addr>().is_ok() && prefix.parse::<u8>().is_ok_and(|p| p <= 32)
}

fn keys(value: &Value) -> BTreeSet<&str> {
    value.as_object().map(|m| m.keys().map(String::as_str).collect()).unwrap_or_default()
}

fn assert_known(value: &Value, known: &[&str], what: &str) {
    for key in keys(value) {
        assert!(known.contains(&key), "{what}: `{key}` is not a field of {what} ({known:?})");
    }
}

/// The kubeadm config: four YAML documents; the kubeadm.k8s.io/v1beta3 ones only use v1beta3 fields and
/// hold the values the guide's `kubeadm init` flags give.
fn check_kubeadm_config(text: &str, advertise: &str) {
    let docs: Vec<Value> = serde_saphyr::from_multiple(text).expect("kubeadm config is YAML");
    let by_kind: HashMap<&str, &Value> = docs.iter().map(|d| (d["kind"].as_str().unwrap_or(""), d)).collect();
    assert_eq!(docs.len(), 4, "{text}");

    let init = by_kind["InitConfiguration"];
    assert_eq!(init["apiVersion"], "kubeadm.k8s.io/v1beta3");
    assert_known(
        init,
        &[
            "apiVersion",
            "kind",
            "bootstrapTokens",
            "nodeRegistration",
            "localAPIEndpoint",
            "certificateKey",
            "skipPhases",
            "patches",
        ],
        "InitConfiguration",
    );
    assert_known(
        &init["nodeRegistration"],
        &["name", "criSocket", "taints", "kubeletExtraArgs", "ignorePreflightErrors", "imagePullPolicy"],
        "NodeRegistrationOptions",
    );
    assert_known(&init["localAPIEndpoint"], &["advertiseAddress", "bindPort"], "APIEndpoint");
    assert_eq!(init["nodeRegistration"]["criSocket"], "unix:///run/cri-dockerd.sock");
    assert_eq!(init["localAPIEndpoint"]["advertiseAddress"], advertise);
    assert!(advertise.parse::<std::net::IpAddr>().is_ok());
    assert_eq!(init["localAPIEndpoint"]["bindPort"], 6443);

    let cluster = by_kind["ClusterConfiguration"];
    assert_eq!(cluster["apiVersion"], "kubeadm.k8s.io/v1beta3");
    assert_known(
        cluster,
        &[
            "apiVersion",
            "kind",
            "etcd",
            "networking",
            "kubernetesVersion",
            "controlPlaneEndpoint",
            "apiServer",
            "controllerManager",
            "scheduler",
            "dns",
            "certificatesDir",
            "imageRepository",
            "featureGates",
            "clusterName",
        ],
        "ClusterConfiguration",
    );
    assert_known(&cluster["networking"], &["serviceSubnet", "podSubnet", "dnsDomain"], "Networking");
    assert_known(
        &cluster["apiServer"],
        &["certSANs", "timeoutForControlPlane", "extraArgs", "extraVolumes"],
        "APIServer",
    );
    assert_eq!(cluster["kubernetesVersion"], "v1.25.0");
    assert_eq!(cluster["controlPlaneEndpoint"], "kubeapi.raymonds.cc:6443");
    assert_eq!(cluster["imageRepository"], "harbor.raymonds.cc/google_containers");
    assert_eq!(cluster["networking"]["podSubnet"], "192.168.0.0/12");
    assert_eq!(cluster["networking"]["serviceSubnet"], "10.96.0.0/12");
    assert!(is_cidr(cluster["networking"]["podSubnet"].as_str().unwrap()));
    assert!(is_cidr(cluster["networking"]["serviceSubnet"].as_str().unwrap()));
    let sans: Vec<&str> =
        cluster["apiServer"]["certSANs"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert!(sans.contains(&"kubeapi.raymonds.cc"), "{sans:?}");

    let proxy = by_kind["KubeProxyConfiguration"];
    assert_eq!(proxy["apiVersion"], "kubeproxy.config.k8s.io/v1alpha1");
    assert!(["", "iptables", "ipvs"].contains(&proxy["mode"].as_str().unwrap()));
    let kubelet = by_kind["KubeletConfiguration"];
    assert_eq!(kubelet["apiVersion"], "kubelet.config.k8s.io/v1beta1");
    assert_eq!(kubelet["cgroupDriver"], "systemd", "kubelet's cgroup driver must be Docker's");
}

/// harbor.yml: YAML with the fields Harbor 2.6's prepare reads, http only (as the guide).
fn check_harbor_yml(text: &str, hostname: &str) {
    let y: Value = serde_saphyr::from_str(text).expect("harbor.yml is YAML");
    assert_known(
        &y,
        &[
            "hostname",
            "http",
            "https",
            "internal_tls",
            "external_url",
            "harbor_admin_password",
            "database",
            "data_volume",
            "storage_service",
            "trivy",
            "jobservice",
            "notification",
            "chart",
            "log",
            "_version",
            "external_database",
            "external_redis",
            "uaa",
            "proxy",
            "metric",
            "upload_purging",
            "cache",
            "trace",
        ],
        "harbor.yml (Harbor 2.6)",
    );
    assert_eq!(y["hostname"], hostname);
    assert_eq!(y["http"]["port"], 80);
    assert_eq!(y["harbor_admin_password"], "Harbor-adm-f2x");
    assert_eq!(y["database"]["password"], "harbor-db-f2x");
    assert!(y["database"]["max_idle_conns"].is_i64() && y["database"]["max_open_conns"].is_i64());
    assert_eq!(y["data_volume"], "/data");
    assert!(y["jobservice"]["max_job_workers"].is_i64());
    assert!(y["notification"]["webhook_job_max_retry"].is_i64());
    assert!(["debug", "info", "warning", "error", "fatal"].contains(&y["log"]["level"].as_str().unwrap()));
    assert!(y["log"]["local"]["rotate_count"].is_i64());
    assert!(y["log"]["local"]["location"].as_str().unwrap().starts_with('/'));
    assert_eq!(y["_version"], "2.6.0");
    assert_eq!(y["proxy"]["components"], serde_json::json!(["core", "jobservice", "trivy"]));
}

#[test]
fn harbor_yml_rendered_on_a_lab_host_is_what_harbor_2_6_reads() {
    require_lab!();
    let _one_at_a_time = JOIN_LAB_USE.lock().unwrap_or_else(|e| e.into_inner());
    let lab = guide_lab(&JOIN_LAB, "f2j", "10.253.1.0/24");
    lab.clean("/tmp/f2-render");
    let template = std::fs::read_to_string(repo_root().join("playbooks/templates/harbor.yml.j2")).unwrap();
    let render = r#"
        import "stdlib/harbor" as harbor;
        let admin = secret(vars.harbor_admin_password_secret);
        let db = secret(vars.harbor_db_password_secret);
        task("render", group("harbor"), |h| {
            h.template("templates/harbor.yml.j2", h.vars.out, harbor::harbor_yml_vars(h, admin, db),
                       #{ mode: "0600", mkdir: true })
        });
    "#;
    with_secrets(Test::new())
        .lab(lab)
        .file("templates/harbor.yml.j2", &template)
        .playbook(render)
        .args(&["-e", "out=/tmp/f2-render/harbor.yml"])
        .run();
    // With certificates: https on, as Harbor's own template has it.
    with_secrets(Test::new())
        .lab(lab)
        .file("templates/harbor.yml.j2", &template)
        .playbook(render)
        .args(&["-e", "out=/tmp/f2-render/harbor-https.yml"])
        .args(&["-e", "harbor_https_certificate=/etc/harbor/tls/harbor.crt"])
        .args(&["-e", "harbor_https_private_key=/etc/harbor/tls/harbor.key"])
        .run();
    for host in HARBORS {
        let text = lab.sh(host, "cat /tmp/f2-render/harbor.yml");
        check_harbor_yml(&text, lab.address(host));
        assert!(serde_saphyr::from_str::<Value>(&text).unwrap().get("https").is_none(), "https is off as in the guide");
        let https: Value = serde_saphyr::from_str(&lab.sh(host, "cat /tmp/f2-render/harbor-https.yml")).unwrap();
        check_harbor_yml(&lab.sh(host, "cat /tmp/f2-render/harbor-https.yml"), lab.address(host));
        assert_eq!(https["https"]["port"], 443);
        assert_eq!(https["https"]["certificate"], "/etc/harbor/tls/harbor.crt");
        assert_eq!(https["https"]["private_key"], "/etc/harbor/tls/harbor.key");
    }
}

// --- Harbor's API ------------------------------------------------------------------------------------

/// stdlib/harbor.rhai's request builders, evaluated by Rhai: (function names `req_*`, all_requests()).
fn harbor_requests() -> (BTreeSet<String>, Vec<Value>) {
    use rhai::{Engine, Module, Scope, module_resolvers::StaticModuleResolver};
    let mut engine = Engine::new();
    // As runbook's own engine (src/engine/playbook.rs): nested map literals go deeper than Rhai's default.
    engine.set_max_expr_depths(256, 256);
    let mut resolver = StaticModuleResolver::new();
    let load = |engine: &Engine, name: &str| {
        let text = std::fs::read_to_string(repo_root().join(format!("stdlib/{name}.rhai"))).unwrap();
        engine.compile(text).unwrap_or_else(|e| panic!("stdlib/{name}.rhai: {e}"))
    };
    let shell = load(&engine, "shell");
    resolver.insert("stdlib/shell", Module::eval_ast_as_new(Scope::new(), &shell, &engine).unwrap());
    engine.set_module_resolver(resolver);
    let harbor = load(&engine, "harbor");
    let builders: BTreeSet<String> =
        harbor.iter_functions().map(|f| f.name.to_string()).filter(|n| n.starts_with("req_")).collect();
    let module = Module::eval_ast_as_new(Scope::new(), &harbor, &engine).unwrap();
    let mut resolver = StaticModuleResolver::new();
    resolver.insert("stdlib/shell", Module::eval_ast_as_new(Scope::new(), &shell, &engine).unwrap());
    resolver.insert("stdlib/harbor", module);
    engine.set_module_resolver(resolver);
    let requests: rhai::Array = engine.eval(r#"import "stdlib/harbor" as harbor; harbor::all_requests()"#).unwrap();
    let requests = requests.into_iter().map(|r| rhai::serde::from_dynamic::<Value>(&r).unwrap()).collect();
    (builders, requests)
}

struct OpenApi {
    doc: Value,
}

impl OpenApi {
    fn load() -> OpenApi {
        let path = repo_root().join("../shared/data/harbor-swagger-v2.6.0.yaml");
        let path =
            if path.exists() { path } else { Path::new("/work/shared/data/harbor-swagger-v2.6.0.yaml").to_path_buf() };
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let doc: Value = serde_saphyr::from_str(&text).expect("the swagger document parses");
        assert_eq!(doc["basePath"], "/api/v2.0");
        OpenApi { doc }
    }

    fn resolve<'a>(&'a self, value: &'a Value) -> &'a Value {
        match value.get("$ref").and_then(Value::as_str) {
            Some(reference) => {
                let mut at = &self.doc;
                for part in reference.trim_start_matches("#/").split('/') {
                    at = &at[part];
                }
                assert!(!at.is_null(), "unresolved {reference}");
                self.resolve(at)
            }
            None => value,
        }
    }

    /// Checks one request map (method, path, query, body); Err says what is wrong.
    fn validate(&self, request: &Value) -> Result<(), String> {
        let method = request["method"].as_str().unwrap().to_lowercase();
        let path = request["path"].as_str().unwrap();
        let segments: Vec<&str> = path.split('/').collect();
        // The template with this method that matches, literal segments preferred over parameters.
        let mut best: Option<(&str, usize)> = None;
        for (template, ops) in self.doc["paths"].as_object().unwrap() {
            let parts: Vec<&str> = template.split('/').collect();
            if parts.len() != segments.len() || ops.get(&method).is_none() {
                continue;
            }
            let matches = parts.iter().zip(&segments).all(|(t, s)| t.starts_with('{') || t == s);
            let literal = parts.iter().filter(|t| !t.starts_with('{')).count();
            if matches && best.is_none_or(|(_, l)| literal > l) {
                best = Some((template, literal));
            }
        }
        let (template, _) = best.ok_or_else(|| format!("no `{} {path}` in Harbor's API", method.to_uppercase()))?;
        let op = &self.doc["paths"][template][&method];
        let params: Vec<&Value> = op["parameters"].as_array().into_iter().flatten().map(|p| self.resolve(p)).collect();
        for (name, value) in request["query"].as_object().unwrap() {
            let param = params.iter().find(|p| p["in"] == "query" && p["name"] == name.as_str());
            let param = param.ok_or_else(|| format!("{template}: no query parameter `{name}`"))?;
            self.check(param, value, &format!("query {name}"))?;
        }
        for param in params.iter().filter(|p| p["in"] == "query" && p["required"] == true) {
            if request["query"].get(param["name"].as_str().unwrap()).is_none() {
                return Err(format!("{template}: required query parameter {} missing", param["name"]));
            }
        }
        for part in template.split('/').filter(|t| t.starts_with('{')) {
            let name = part.trim_matches(|c| c == '{' || c == '}');
            if !params.iter().any(|p| p["in"] == "path" && p["name"] == name) {
                return Err(format!("{template}: path parameter {name} undeclared"));
            }
        }
        let body_param = params.iter().find(|p| p["in"] == "body");
        match (&request["body"], body_param) {
            (Value::Null, Some(p)) if p["required"] == true => Err(format!("{template}: body required")),
            (Value::Null, _) => Ok(()),
            (_, None) => Err(format!("{} {template} takes no body", method.to_uppercase())),
            (body, Some(p)) => self.check(&p["schema"], body, "body"),
        }
    }

    /// A value against a (swagger 2.0) schema: types, object keys (unknown keys are errors), required.
    fn check(&self, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
        let schema = self.resolve(schema);
        if let Some(all) = schema["allOf"].as_array() {
            for part in all {
                self.check(part, value, at)?;
            }
            return Ok(());
        }
        if value.is_null() {
            return if schema["x-nullable"] == true { Ok(()) } else { Err(format!("{at}: null where not nullable")) };
        }
        let kind = schema["type"].as_str().unwrap_or(if schema.get("properties").is_some() { "object" } else { "" });
        match kind {
            "string" if !value.is_string() => Err(format!("{at}: {value} is not a string")),
            "integer" if !(value.is_i64() || value.is_u64()) => Err(format!("{at}: {value} is not an integer")),
            "boolean" if !value.is_boolean() => Err(format!("{at}: {value} is not a boolean")),
            "number" if !value.is_number() => Err(format!("{at}: {value} is not a number")),
            "array" => {
                let items = value.as_array().ok_or_else(|| format!("{at}: {value} is not an array"))?;
                for (i, item) in items.iter().enumerate() {
                    self.check(&schema["items"], item, &format!("{at}[{i}]"))?;
                }
                Ok(())
            }
            // `type: object` with neither properties nor additionalProperties is go-swagger's
            // interface{} (e.g. ReplicationFilter.value, which takes "google_containers/**"): any value.
            "object" if schema.get("properties").is_none() && schema.get("additionalProperties").is_none() => Ok(()),
            "object" => {
                let map = value.as_object().ok_or_else(|| format!("{at}: {value} is not an object"))?;
                let properties = &schema["properties"];
                for (key, item) in map {
                    match properties.get(key) {
                        Some(property) => self.check(property, item, &format!("{at}.{key}"))?,
                        None if schema.get("additionalProperties").is_some() => {
                            self.check(&schema["additionalProperties"], item, &format!("{at}.{key}"))?
                        }
                        None => {
                            return Err(format!("{at}: `{key}` is not a field ({:?})", keys(properties)));
                        }
                    }
                }
                for required in schema["required"].as_array().into_iter().flatten() {
                    if !map.contains_key(required.as_str().unwrap()) {
                        return Err(format!("{at}: required `{required}` missing"));
                    }
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

#[test]
fn every_harbor_request_matches_harbors_openapi_document() {
    let api = OpenApi::load();
    let (builders, requests) = harbor_requests();
    let covered: BTreeSet<String> = requests.iter().map(|r| r["op"].as_str().unwrap().to_string()).collect();
    assert_eq!(builders, covered, "all_requests() must show every req_* builder");
    assert!(builders.len() >= 12, "{builders:?}");
    for request in &requests {
        api.validate(request).unwrap_or_else(|e| panic!("{}: {e}\n{request:#}", request["op"]));
    }
    // The validator can say no: a wrong method, path, query parameter, field and type.
    let mut bad = requests.iter().find(|r| r["op"] == "req_registry_create").unwrap().clone();
    bad["body"]["credentials"] = bad["body"]["credential"].clone();
    assert!(api.validate(&bad).unwrap_err().contains("`credentials` is not a field"));
    let mut bad = requests.iter().find(|r| r["op"] == "req_policy_create").unwrap().clone();
    bad["body"]["enabled"] = Value::String("true".into());
    assert!(api.validate(&bad).unwrap_err().contains("not a boolean"));
    let mut bad = requests.iter().find(|r| r["op"] == "req_project_head").unwrap().clone();
    bad["query"] = serde_json::json!({ "name": "x" });
    assert!(api.validate(&bad).unwrap_err().contains("no query parameter"));
    let mut bad = requests.iter().find(|r| r["op"] == "req_registry_ping").unwrap().clone();
    bad["method"] = Value::String("PUT".into());
    assert!(api.validate(&bad).is_err());
    let mut bad = requests.iter().find(|r| r["op"] == "req_project_get").unwrap().clone();
    bad["path"] = Value::String("/project/x".into());
    assert!(api.validate(&bad).is_err());
}

#[test]
fn only_stdlib_harbor_talks_to_harbors_api() {
    // Every request goes through harbor::send with a req_* map, so the test above sees them all.
    for entry in std::fs::read_dir(repo_root().join("playbooks")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "rhai") {
            let text = std::fs::read_to_string(&path).unwrap();
            assert!(!text.contains("/api/"), "{}: builds a Harbor API request itself", path.display());
        }
    }
    let text = std::fs::read_to_string(repo_root().join("stdlib/harbor.rhai")).unwrap();
    let code: Vec<&str> = text.lines().filter(|l| !l.trim_start().starts_with("//")).collect();
    assert_eq!(code.iter().filter(|l| l.contains("curl ")).count(), 1, "one curl, in send()");
}

// --- the kubeadm join data flow ----------------------------------------------------------------------

fn install_fixture(lab: &Lab, host: &str, name: &str, dest: &str) {
    let script = std::fs::read_to_string(repo_root().join("tests/fixtures").join(name)).unwrap();
    let mut child = Command::new("ssh")
        .args(["-F", "/dev/null", "-i"])
        .arg(lab.dir().join("id_ed25519"))
        .arg("-o")
        .arg(format!("UserKnownHostsFile={}", lab.dir().join("known_hosts").display()))
        .args(["-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes"])
        .arg(format!("root@{}", lab.address(host)))
        .arg(format!("cat > {dest} && chmod 755 {dest}"))
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(script.as_bytes()).unwrap();
    assert!(child.wait().unwrap().success());
}

/// (start, end, args) of each `kubeadm join` the stand-in logged on a host.
fn joins(lab: &Lab, host: &str) -> Vec<(f64, f64, String)> {
    let log = lab.sh(host, "cat /var/log/kubeadm-standin.log 2>/dev/null; true");
    let mut out = Vec::new();
    let mut start: Option<(f64, String)> = None;
    for line in log.lines() {
        let (time, rest) = line.split_once(' ').unwrap();
        let time: f64 = time.parse().unwrap();
        if let Some(args) = rest.strip_prefix("start join ") {
            start = Some((time, args.to_string()));
        } else if rest == "end join" {
            let (t0, args) = start.take().unwrap();
            out.push((t0, time, args));
        }
    }
    out
}

#[test]
fn join_command_and_certificate_key_flow_from_the_first_master_to_the_others() {
    require_lab!();
    let _one_at_a_time = JOIN_LAB_USE.lock().unwrap_or_else(|e| e.into_inner());
    let lab = guide_lab(&JOIN_LAB, "f2j", "10.253.1.0/24");
    for host in MASTERS.iter().chain(WORKERS) {
        lab.sh(host, "rm -rf /etc/kubernetes /root/.kube /root/kubeadm-config.yaml /var/log/kubeadm-standin.log /var/log/kubectl-standin.log");
        // The test's own stand-ins, on this lab only (tests/fixtures/*-standin.sh).
        install_fixture(lab, host, "kubeadm-standin.sh", "/usr/local/bin/kubeadm");
        install_fixture(lab, host, "kubectl-standin.sh", "/usr/local/bin/kubectl");
    }
    let playbook = repo_root().join("playbooks/kubeadm.rhai");
    let inventory = lab.inventory();
    let args = ["run", playbook.to_str().unwrap(), "-i", inventory.to_str().unwrap(), "--tags", "init,join"];
    Test::new().args(&args).run();

    // What the first master printed: one join line and one certificate key.
    let log = lab.sh("k8s-master01", "cat /var/log/kubeadm-standin.log");
    let line = log.lines().find_map(|l| l.split_once(" join-line ").map(|(_, j)| j.to_string())).expect("a join line");
    let key = log.lines().find_map(|l| l.split_once(" certificate-key ").map(|(_, k)| k.to_string())).expect("a key");
    assert!(log.contains("start init --config /root/kubeadm-config.yaml --upload-certs"));
    let words: Vec<&str> = line.split_whitespace().collect();
    let (token, hash) = (words[4], words[6]);
    let prefix = format!(
        "kubeapi.raymonds.cc:6443 --token {token} --discovery-token-ca-cert-hash {hash} --cri-socket unix:///run/cri-dockerd.sock"
    );

    let mut master_runs = Vec::new();
    for host in &MASTERS[1..] {
        let runs = joins(lab, host);
        assert_eq!(runs.len(), 1, "{host} joined once: {runs:?}");
        let want = format!(
            "{prefix} --control-plane --certificate-key {key} --apiserver-advertise-address {}",
            lab.address(host)
        );
        assert!(runs[0].2.starts_with(&want), "{host}: {}\nwant {want}", runs[0].2);
        master_runs.push(runs[0].clone());
        let waited = lab.sh(host, "cat /var/log/kubectl-standin.log");
        assert!(waited.contains(&format!("get node {host} ")), "{host} waited until Ready: {waited}");
    }
    // One master at a time.
    master_runs.sort_by(|a, b| a.0.total_cmp(&b.0));
    assert!(master_runs[0].1 <= master_runs[1].0, "masters joined one at a time: {master_runs:?}");
    let masters_done = master_runs[1].1;
    for host in WORKERS {
        let runs = joins(lab, host);
        assert_eq!(runs.len(), 1, "{host} joined once");
        assert!(runs[0].2.starts_with(&prefix) && !runs[0].2.contains("--control-plane"), "{host}: {}", runs[0].2);
        assert!(runs[0].0 >= masters_done, "{host} joined after the masters");
    }
    assert_eq!(joins(lab, "k8s-master01").len(), 0, "the first master initialises, it does not join");

    // The config kubeadm init read, rendered on the host by the real engine.
    check_kubeadm_config(&lab.sh("k8s-master01", "cat /root/kubeadm-config.yaml"), lab.address("k8s-master01"));

    // A rerun: everyone has joined, so no token is made, nothing runs, nothing changes.
    let run = Test::new().args(&args).json_log().run();
    for host in &lab.hosts {
        assert_eq!(run.recap(host)["changed"].as_u64().unwrap_or(0), 0, "{host} changed on the rerun:\n{}", run.stdout);
    }
    assert_eq!(lab.sh("k8s-master01", "grep -c ' start token create' /var/log/kubeadm-standin.log").trim(), "1");
    for host in MASTERS[1..].iter().chain(WORKERS) {
        assert_eq!(joins(lab, host).len(), 1, "{host} did not join again");
    }
    // Resumed past the task that reads the join command, with a worker still to join: that worker fails
    // with a message rather than running `kubeadm join` without a token.
    lab.sh("k8s-node03", "rm /etc/kubernetes/kubelet.conf");
    let resumed = Test::new().args(&args).args(&["--start-at-task", "3.7 join masters"]).code(2).run();
    let output = format!("{}{}", resumed.stdout, resumed.stderr);
    assert!(output.contains("no join command from k8s-master01"), "{output}");
    assert_eq!(joins(lab, "k8s-node03").len(), 1, "node03 did not run a join without a token");
}

// --- Harbor's API steps against a stand-in ------------------------------------------------------------

/// The stand-in Harbor API (tests/fixtures/harbor-api-standin.py) on each harbor host's 127.0.0.1:80,
/// with a fresh state.
fn start_harbor_standins(lab: &Lab) {
    for host in HARBORS {
        install_fixture(lab, host, "harbor-api-standin.py", "/usr/local/bin/harbor-api-standin");
        lab.sh(
            host,
            "systemctl stop harbor-api-standin 2>/dev/null; rm -f /var/lib/harbor-standin.json /var/log/harbor-standin.log; \
             systemd-run --quiet --unit harbor-api-standin /usr/local/bin/harbor-api-standin 80 Harbor-adm-f2x && \
             for i in $(seq 1 50); do curl -s -o /dev/null http://127.0.0.1:80/ && : > /var/log/harbor-standin.log && exit 0; sleep 0.1; done; exit 1",
        );
    }
}

/// The requests a stand-in received since its log was last emptied.
fn harbor_requests_received(lab: &Lab, host: &str) -> Vec<Value> {
    let log = lab.sh(host, "cat /var/log/harbor-standin.log; : > /var/log/harbor-standin.log");
    log.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn harbor_state(lab: &Lab, host: &str) -> Value {
    serde_json::from_str(&lab.sh(host, "cat /var/lib/harbor-standin.json")).unwrap()
}

fn writes(requests: &[Value]) -> Vec<String> {
    requests
        .iter()
        .filter(|r| r["method"] != "GET" && r["method"] != "HEAD")
        .map(|r| format!("{} {}", r["method"].as_str().unwrap(), r["path"].as_str().unwrap()))
        .collect()
}

#[test]
fn harbor_api_steps_create_once_then_only_read_and_repair_drift() {
    require_lab!();
    let _one_at_a_time = JOIN_LAB_USE.lock().unwrap_or_else(|e| e.into_inner());
    let lab = guide_lab(&JOIN_LAB, "f2j", "10.253.1.0/24");
    start_harbor_standins(lab);
    let api = OpenApi::load();
    let playbook = repo_root().join("playbooks/harbor.rhai");
    let inventory = lab.inventory();
    let args = ["run", playbook.to_str().unwrap(), "-i", inventory.to_str().unwrap(), "--tags", "api"];

    // First run: the project, then on each Harbor an endpoint for the other and a push rule to it.
    with_secrets(Test::new()).args(&args).run();
    for host in HARBORS {
        let other = if *host == "k8s-harbor01" { "k8s-harbor02" } else { "k8s-harbor01" };
        let requests = harbor_requests_received(lab, host);
        for request in &requests {
            api.validate(request).unwrap_or_else(|e| panic!("{host} received {request}: {e}"));
        }
        assert_eq!(writes(&requests), ["POST /projects", "POST /registries", "POST /replication/policies"], "{host}");
        let state = harbor_state(lab, host);
        assert_eq!(state["projects"][0]["name"], "google_containers");
        assert_eq!(state["projects"][0]["metadata"]["public"], "true");
        let registry = &state["registries"][0];
        assert_eq!(registry["name"], other);
        assert_eq!(registry["url"], format!("http://{}", lab.address(other)));
        assert_eq!(registry["insecure"], true);
        let policy = &state["policies"][0];
        assert_eq!(policy["name"], format!("google_containers-to-{other}"));
        assert_eq!(policy["dest_registry"]["id"], registry["id"], "the rule pushes to the endpoint just made");
        assert_eq!(policy["trigger"]["type"], "event_based");
        let registry_post = requests.iter().find(|r| r["method"] == "POST" && r["path"] == "/registries").unwrap();
        assert_eq!(registry_post["body"]["credential"]["access_secret"], "Harbor-adm-f2x", "the peer's admin login");
    }

    // A rerun only reads.
    let run = with_secrets(Test::new()).args(&args).json_log().run();
    for host in HARBORS {
        assert_eq!(run.recap(host)["changed"].as_u64().unwrap_or(0), 0, "{host}: {}", run.stdout);
        assert_eq!(writes(&harbor_requests_received(lab, host)), Vec::<String>::new(), "{host}");
    }

    // Drift (someone edited Harbor by hand) is put back with PUTs, nothing is created twice.
    lab.sh(
        "k8s-harbor01",
        "python3 -c \"import json; p='/var/lib/harbor-standin.json'; s=json.load(open(p)); \
         s['registries'][0]['url']='http://10.0.0.1'; s['policies'][0]['enabled']=False; \
         s['projects'][0]['metadata']['public']='false'; json.dump(s, open(p, 'w'))\"",
    );
    with_secrets(Test::new()).args(&args).run();
    let requests = harbor_requests_received(lab, "k8s-harbor01");
    for request in &requests {
        api.validate(request).unwrap_or_else(|e| panic!("received {request}: {e}"));
    }
    let registry_id = harbor_state(lab, "k8s-harbor01")["registries"][0]["id"].as_i64().unwrap();
    let policy_id = harbor_state(lab, "k8s-harbor01")["policies"][0]["id"].as_i64().unwrap();
    assert_eq!(
        writes(&requests),
        [
            "PUT /projects/google_containers".to_string(),
            format!("PUT /registries/{registry_id}"),
            format!("PUT /replication/policies/{policy_id}"),
        ]
    );
    let state = harbor_state(lab, "k8s-harbor01");
    assert_eq!(state["registries"][0]["url"], format!("http://{}", lab.address("k8s-harbor02")));
    assert_eq!(state["policies"][0]["enabled"], true);
    assert_eq!(state["projects"][0]["metadata"]["public"], "true");
    assert_eq!(state["registries"].as_array().unwrap().len(), 1);
    assert_eq!(writes(&harbor_requests_received(lab, "k8s-harbor02")), Vec::<String>::new());

    // One-way replication (goharbor/harbor#17754): only harbor_replication_source pushes.
    start_harbor_standins(lab);
    with_secrets(Test::new()).args(&args).args(&["-e", "harbor_replication=one-way"]).run();
    assert_eq!(
        writes(&harbor_requests_received(lab, "k8s-harbor01")),
        ["POST /projects", "POST /registries", "POST /replication/policies"]
    );
    assert_eq!(writes(&harbor_requests_received(lab, "k8s-harbor02")), ["POST /projects"]);

    // Images (3.5): the first master's kubeadm (the stand-in) lists them, the first Harbor is asked for
    // each, and the push is planned for the missing ones only.
    lab.sh(
        "k8s-harbor01",
        "python3 -c \"import json; p='/var/lib/harbor-standin.json'; s=json.load(open(p)); \
         s['artifacts']=['google_containers/pause:3.8']; json.dump(s, open(p, 'w'))\"",
    );
    install_fixture(lab, "k8s-master01", "kubeadm-standin.sh", "/usr/local/bin/kubeadm");
    let run = with_secrets(Test::new())
        .args(&[
            "run",
            playbook.to_str().unwrap(),
            "-i",
            inventory.to_str().unwrap(),
            "--tags",
            "images",
            "--check",
            "-v",
        ])
        .json_log()
        .run();
    let requests = harbor_requests_received(lab, "k8s-harbor01");
    let asked: Vec<&str> =
        requests.iter().filter(|r| r["path"] != "/health").map(|r| r["path"].as_str().unwrap()).collect();
    assert_eq!(asked.len(), 7, "{asked:?}");
    assert!(asked.contains(&"/projects/google_containers/repositories/kube-apiserver/artifacts/v1.25.0"), "{asked:?}");
    for request in &requests {
        api.validate(request).unwrap_or_else(|e| panic!("received {request}: {e}"));
    }
    let steps = steps_of(&run.events(), "k8s-master01");
    let login = find(&steps, "k8s-master01", "docker login --username 'admin' --password-stdin 'harbor.raymonds.cc'");
    let push = find(
        &steps,
        "k8s-master01",
        "docker pull 'registry.aliyuncs.com/google_containers/kube-apiserver:v1.25.0' && docker tag \
         'registry.aliyuncs.com/google_containers/kube-apiserver:v1.25.0' 'harbor.raymonds.cc/google_containers/kube-apiserver:v1.25.0' \
         && docker push 'harbor.raymonds.cc/google_containers/kube-apiserver:v1.25.0'",
    );
    assert!(login < push);
    let pushes = steps.iter().filter(|s| s.2.contains("docker push")).count();
    assert_eq!(pushes, 6, "pause:3.8 is in Harbor already: six of seven images");
    assert!(steps.iter().all(|s| !s.2.contains("pause:3.8")));

    lab.sh("k8s-master01", "rm -f /usr/local/bin/kubeadm");
    for host in HARBORS {
        lab.sh(host, "systemctl stop harbor-api-standin");
    }
}
