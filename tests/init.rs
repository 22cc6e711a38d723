//! `runbook init` end to end: the site it writes lints clean (with the very command its CI file runs), and
//! runs on real lab hosts — an anonymous `lab up --hosts 2` lab (the playbook's defaults apply) and a lab
//! mirroring the skeleton's own inventory (its variables apply) — changing the hosts once, then nothing.
//! Needs root for the labs: without it the lab tests fail, they do not skip.

use crate::support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use support::{Lab, RUNBOOK, Test};

static ANONYMOUS: OnceLock<Lab> = OnceLock::new();
static MIRRORED: OnceLock<Lab> = OnceLock::new();

/// A new site written by `runbook init` into a fresh folder (kept for the test binary's life).
fn new_site(ci: &str) -> PathBuf {
    let dir = tempfile::tempdir().unwrap().keep().join("site");
    Test::new().args(&["init", "--ci", ci, &dir.display().to_string()]).run();
    dir
}

/// Runs the site's playbook on the lab twice: the first run changes every host, the second nothing.
fn run_twice(site: &Path, lab: &Lab) {
    let playbook = site.join("site.rhai").display().to_string();
    let first = Test::new().lab(lab).shipped(&playbook).json_log().run();
    for host in &lab.hosts {
        let changed = first.recap(host)["changed"].as_u64().unwrap();
        assert!(changed >= 3, "{host}: the first run changed {changed} tasks\n{}", first.stdout);
    }
    let second = Test::new().lab(lab).shipped(&playbook).json_log().run();
    for host in &lab.hosts {
        assert_eq!(second.recap(host)["changed"], 0, "{host} changed on the second run:\n{}", second.stdout);
        assert_eq!(second.recap(host)["failed"], 0, "{host}: {}", second.stdout);
    }
}

#[test]
fn the_skeleton_lints_clean_with_its_ci_files_command() {
    let site = new_site("github");
    let workflow = std::fs::read_to_string(site.join(".github/workflows/runbook-lint.yml")).unwrap();
    let workflow: serde_json::Value = serde_saphyr::from_str(&workflow).expect("the workflow is YAML");
    let steps = workflow["jobs"]["lint"]["steps"].as_array().expect("jobs.lint.steps");
    let lint = steps
        .iter()
        .filter_map(|step| step["run"].as_str())
        .find(|run| run.starts_with("runbook lint"))
        .expect("a step runs runbook lint");
    // The CI step's own line, run as written by sh (runbook found on PATH), not through `Test`.
    let bin = Path::new(RUNBOOK).parent().unwrap().display().to_string();
    let output = Command::new("sh")
        .arg("-c")
        .arg(lint)
        .current_dir(&site)
        .env("PATH", format!("{bin}:{}", std::env::var("PATH").unwrap_or_default()))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "`{lint}` in the new site:\n{stderr}");
    assert_eq!(String::from_utf8_lossy(&output.stdout), "", "no annotations expected");
    assert!(stderr.contains("no problems found in 3 files"), "{stderr}");
    let install = steps.iter().filter_map(|step| step["run"].as_str()).find(|run| run.contains("cargo install"));
    let commit = env!("RUNBOOK_COMMIT");
    if !commit.is_empty() {
        assert!(install.is_some_and(|run| run.contains(&format!("--rev {commit}"))), "{install:?}");
    }

    // The GitLab job runs the same lint.
    let gitlab = std::fs::read_to_string(new_site("gitlab").join(".gitlab-ci.yml")).unwrap();
    assert!(gitlab.contains("- runbook lint . -i inventory.yaml --strict"), "{gitlab}");
}

#[test]
fn the_skeleton_runs_on_an_anonymous_two_host_lab() {
    require_lab!();
    support::lab_down("t-pkinit");
    let lab = Lab::get(&ANONYMOUS, "t-pkinit", 2, "10.255.40.0/24");
    let site = new_site("none");
    run_twice(&site, lab);
    let (first, second) = (lab.host(0), lab.host(1));
    let motd = lab.sh(first, "cat /etc/motd");
    assert_eq!(
        motd,
        format!(
            "{first} (server), debian 12\nManaged by runbook: local changes to this file are overwritten. Questions: root@localhost\n"
        )
    );
    let hosts = lab.sh(second, "cat /etc/hosts");
    let block = format!(
        "# BEGIN runbook managed hosts\n{} {first}\n{} {second}\n# END runbook managed hosts\n",
        lab.address(first),
        lab.address(second)
    );
    assert!(hosts.contains(&block), "{hosts}");
    assert_eq!(lab.sh(second, "sysctl -n net.ipv4.tcp_keepalive_time"), "600\n");
    assert_eq!(lab.sh(second, "cat /etc/sysctl.d/60-site.conf"), "net.ipv4.tcp_keepalive_time = 600\n");
}

#[test]
fn the_skeleton_runs_on_a_lab_mirroring_its_inventory() {
    require_lab!();
    let site = new_site("none");
    let inventory = site.join("inventory.yaml").display().to_string();
    let lab = Lab::fresh_from(&MIRRORED, "t-pkmirror", &inventory, "10.255.41.0/24", 2);
    assert_eq!(lab.hosts, ["web01", "web02"]);
    run_twice(&site, lab);
    // The inventory's group and all vars win over the playbook's defaults.
    let motd = lab.sh("web02", "cat /etc/motd");
    assert!(motd.starts_with("web02 (web server), debian 12\n"), "{motd}");
    assert!(motd.ends_with("Questions: ops@example.com\n"), "{motd}");
}
