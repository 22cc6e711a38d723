//! The README's main job, `scripts/lab-demo`, as a new user runs it: from a clean state (the demo's lab purged,
//! a bundle folder of its own, built afresh by the demo), it must exit 0, plan the stages this machine cannot
//! run for real (cri-dockerd, Harbor, kubeadm) without failing on a release file the bundle lacks, and every
//! command it prints at the end must work as printed. A demo that fails on a fresh machine fails here.
//!
//! It drives the script, not `runbook` itself, so it does not use the `Test` builder: what is under test is
//! the script a user types, its output and the commands it hands them.

use crate::support;

use std::process::Command;
use std::time::Instant;

use support::repo_root;

/// The demo's own bundle: never written by another test, removed first so the demo builds it from nothing.
const BUNDLE: &str = "/var/cache/runbook/demo-bundle";

fn bash(script: &str) -> (i32, String, String) {
    let output = Command::new("bash").args(["-c", script]).current_dir(repo_root()).output().expect("bash runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The commands the demo prints for the user to paste: the indented lines that start with `(`.
fn printed_commands(stdout: &str) -> Vec<String> {
    stdout.lines().filter(|l| l.starts_with("  (")).map(|l| l.trim().to_string()).collect()
}

#[test]
fn the_readme_main_job_runs_from_a_clean_state_and_its_printed_commands_work() {
    require_lab!();
    // A clean state: no demo lab, no secrets from an earlier demo, no bundle.
    support::lab_down("lab");
    let _ = std::fs::remove_file(repo_root().join(".runbook/lab/secrets.env"));
    let _ = std::fs::remove_dir_all(BUNDLE);

    let started = Instant::now();
    let output = Command::new("scripts/lab-demo")
        .current_dir(repo_root())
        .env("RUNBOOK_BUNDLE_DIR", BUNDLE)
        .env("NO_COLOR", "1")
        .output()
        .expect("scripts/lab-demo runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    eprintln!("scripts/lab-demo took {:.0} s", started.elapsed().as_secs_f64());
    assert!(
        output.status.success(),
        "scripts/lab-demo exited {:?}\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        output.status
    );

    // The demo built its bundle in the folder it was given, and the flow used it.
    assert!(std::path::Path::new(BUNDLE).join("bundle-vars.yaml").is_file(), "the demo's bundle in {BUNDLE}");
    // The Debian bundle has no cri-dockerd: the plan fetches it from upstream instead of failing on the missing
    // local file, and says so where the user looks for what the run would fetch.
    assert!(stdout.contains("Release files: cri-dockerd from upstream (6 hosts)"), "{stdout}");
    assert!(
        stdout.contains("https://github.com/Mirantis/cri-dockerd/releases/download/v0.2.5/cri-dockerd-0.2.5.amd64.tgz  (cri-dockerd: not in the bundle; 6 hosts"),
        "{stdout}"
    );
    assert!(stdout.contains("The demo took "), "{stdout}");

    let commands = printed_commands(&stdout);
    assert_eq!(commands.len(), 2, "the demo prints the VIP's status page and the image pull: {commands:?}");
    let (code, page, err) = bash(&commands[0]);
    assert_eq!(code, 0, "`{}` exited {code}: {err}", commands[0]);
    assert!(page.contains("Statistics Report"), "haproxy's status page through the VIP: {page}");
    assert!(page.contains("kubernetes-6443"), "the API server backend on the status page: {page}");
    let (code, pulled, err) = bash(&commands[1]);
    assert_eq!(code, 0, "`{}` exited {code}: {pulled}{err}", commands[1]);
    assert!(format!("{pulled}{err}").contains("Login Succeeded"), "{pulled}{err}");
    assert!(pulled.contains("Status: "), "docker pull through the VIP: {pulled}");

    // The report it wrote of its part 2 (ten hosts): it loads in Chromium with a clean console, one timeline row
    // per host. docs/history-report.png, the README's picture, is such a screenshot (RUNBOOK_KEEP_SCREENSHOT=PATH
    // keeps this one).
    let report = repo_root().join(".runbook/lab/report.html");
    assert!(stdout.contains("The report of part 2"), "{stdout}");
    let screenshot = tempfile::tempdir().unwrap();
    let png = screenshot.path().join("report.png");
    let dom = support::open_in_chromium(&report, &png, (1200, 900));
    assert_eq!(dom.matches("class=\"host-row\"").count(), 10, "one timeline row per host of the lab");
    if let Ok(keep) = std::env::var("RUNBOOK_KEEP_SCREENSHOT") {
        std::fs::copy(&png, keep).unwrap();
    }

    support::lab_down("lab");
}

static PACKAGES_LAB: std::sync::OnceLock<support::Lab> = std::sync::OnceLock::new();

/// The quickstart's way to put one more Debian package on the lab: `scripts/bundle-debian --add nginx` adds it
/// with its dependencies to the bundle, and a playbook's `packages::install` installs it on a lab host (which
/// has no other package source) and changes nothing on a rerun.
#[test]
fn a_package_added_to_the_bundle_installs_on_a_lab_host_and_converges() {
    require_lab!();
    let bundle = "/var/cache/runbook/test-extra-bundle";
    let (code, out, err) = bash(&format!("scripts/bundle-debian --add nginx {bundle}"));
    assert_eq!(code, 0, "bundle-debian --add nginx: {out}{err}");
    assert!(out.contains("added packages: nginx"), "{out}");
    assert_eq!(std::fs::read_to_string(format!("{bundle}/extra-packages.txt")).unwrap(), "nginx\n");
    let (code, index, _) = bash(&format!("grep -c '^Package: nginx' {bundle}/debian-12/Packages"));
    assert_eq!(code, 0, "nginx is in the bundle's repository: {index}");

    let lab = support::Lab::get(&PACKAGES_LAB, "t-hd", 1, "10.241.8.0/24");
    let host = lab.host(0).to_string();
    lab.sh(&host, "apt-get purge -y -q nginx nginx-common >/dev/null 2>&1; true");
    let site = r#"
        import "stdlib/packages" as packages;
        task("nginx", hosts(), |h| packages::install(h, ["nginx"]));
    "#;
    let vars = format!("@{bundle}/bundle-vars.yaml");
    let first = support::Test::new().lab(lab).playbook(site).args(&["-e", &vars]).json_log().run();
    assert_eq!(first.recap(&host)["changed"], 1, "{}", first.stdout);
    assert_eq!(lab.sh(&host, "dpkg-query -W -f='${Status}' nginx"), "install ok installed");
    let again = support::Test::new().lab(lab).playbook(site).args(&["-e", &vars]).json_log().run();
    assert_eq!(again.recap(&host)["changed"].as_u64().unwrap_or(0), 0, "{}", again.stdout);

    // Taken out again, the bundle no longer carries it.
    let (code, out, err) = bash(&format!("scripts/bundle-debian --remove nginx {bundle}"));
    assert_eq!(code, 0, "{out}{err}");
    let (_, count, _) = bash(&format!("grep -c '^Package: nginx$' {bundle}/debian-12/Packages"));
    assert_eq!(count.trim(), "0");
}

/// A file the flow would upload from bundle_dir by name (here the CNI manifest) that is not on the controller
/// refuses the whole flow before the first stage touches a host, naming the file, the variable and the step.
#[test]
fn a_named_bundle_file_missing_on_the_controller_refuses_the_flow_before_any_host_is_touched() {
    let full = std::fs::read_to_string(repo_root().join("playbooks/inventory.yaml")).unwrap();
    let addresses: Vec<String> = (101..=110).map(|n| format!("127.0.3.{n}")).collect();
    let wires = support::Tripwires::on(&addresses.iter().map(String::as_str).collect::<Vec<_>>());
    // The guide's inventory, each host a listener on loopback.
    let inventory = full.replace("172.31.3.", "127.0.3.").replacen(
        "\n  vars:\n",
        &format!("\n  vars:\n    port: {}\n", wires.port),
        1,
    );
    let bundle = tempfile::tempdir().unwrap();
    std::fs::write(bundle.path().join("debian-12.tar"), "stand-in\n").unwrap();
    let test = support::Test::new().file("inventory.yaml", &inventory);
    let inventory_path = test.path().join("inventory.yaml");
    let run = test
        .inventory_file(inventory_path)
        .shipped("playbooks/ha-cluster.rhai")
        .args(&[
            "-e",
            &format!("bundle_dir={}", bundle.path().display()),
            "-e",
            "cni_manifest_bundle=calico.yaml",
            "--timeout",
            "2",
        ])
        .code(1)
        .stderr_has("files the flow uploads from bundle_dir are not on the controller")
        .stderr_has("calico.yaml  (named by cni_manifest_bundle; uploaded by playbooks/kubeadm.rhai, 3.6 cni)")
        .stderr_has("playbooks/ha-cluster.rhai:")
        .run();
    assert!(!run.stdout.contains("unreachable"), "{}", run.stdout);
    wires.assert_untouched();
}
