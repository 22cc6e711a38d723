//! `runbook lint` where CI and code review meet it, checked with the tools users run, not with runbook's own
//! code: the SARIF log is validated against the OASIS SARIF 2.1.0 schema and parsed into the 2.1.0 object
//! model by independent Python libraries (tests/support/read_sarif.py), and the `.pre-commit-hooks.yaml` hook
//! is run by `pre-commit` itself from a git commit. The tools come from /opt/runbook-test-tools
//! (scripts/install-deps --for-tests); a missing tool fails the test.

use crate::support::{RUNBOOK, Test};

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const TOOLS: &str = "/opt/runbook-test-tools/bin";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A program of the test tools venv; panics (the test fails) when it is not installed.
fn tool(name: &str) -> PathBuf {
    let path = Path::new(TOOLS).join(name);
    assert!(
        path.is_file(),
        "{} is missing: run scripts/install-deps --for-tests (it installs scripts/test-tools.txt)",
        path.display()
    );
    path
}

fn text(output: &Output) -> String {
    format!(
        "--- stdout:\n{}--- stderr:\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// `runbook lint . [-i inventory.yaml] ARGS --format FORMAT` in a fixture folder of tests/lint.rs; the test
/// runs it with the exit code it expects.
fn lint_fixture(dir: &Path, format: &str, args: &[&str]) -> Test {
    let test = Test::new().in_dir(dir).args(&["lint", ".", "--format", format]).args(args);
    if dir.join("inventory.yaml").exists() { test.args(&["-i", "inventory.yaml"]) } else { test }
}

/// `file:line:col severity rule` of each finding, from `--format json`, leaving out what is unknown as
/// SARIF does (no region for line 0, no location without a file).
fn json_findings(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .map(|line| {
            let finding: serde_json::Value = serde_json::from_str(line).unwrap();
            let mut place = finding["file"].as_str().unwrap_or("-").to_string();
            if finding["line"].as_u64().unwrap() > 0 {
                place += &format!(":{}", finding["line"]);
                if finding["col"].as_u64().unwrap() > 0 {
                    place += &format!(":{}", finding["col"]);
                }
            }
            format!("{place} {} {}", finding["severity"].as_str().unwrap(), finding["rule"].as_str().unwrap())
        })
        .collect()
}

#[test]
fn sarif_of_every_lint_fixture_is_valid_and_reads_back_as_the_json_findings() {
    let python = tool("python3");
    let reader = root().join("tests/support/read_sarif.py");
    let mut fixtures: Vec<PathBuf> =
        std::fs::read_dir(root().join("tests/fixtures/lint")).unwrap().map(|entry| entry.unwrap().path()).collect();
    fixtures.sort();
    let out = tempfile::tempdir().unwrap();
    let mut checked_findings = 0;
    for dir in &fixtures {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        // unknown-tag's findings are about the command line: they only exist with --tags.
        let args: &[&str] = if name == "unknown-tag" { &["--tags", "prepar", "-t", "nope"] } else { &[] };
        // Each fixture has its own exit code: --format sarif must exit as --format json does.
        let json = lint_fixture(dir, "json", args).any_code().run();
        let sarif = lint_fixture(dir, "sarif", args).any_code().run();
        let both = format!("--- stdout:\n{}--- stderr:\n{}", sarif.stdout, sarif.stderr);
        assert_eq!(sarif.code, json.code, "{name}: exit code of --format sarif\n{both}");
        let log = out.path().join(format!("{name}.sarif"));
        std::fs::write(&log, &sarif.stdout).unwrap();
        let read = Command::new(&python).arg(&reader).arg(&log).output().expect("python3 runs");
        assert!(read.status.success(), "{name}: the SARIF log does not read back\n{}", text(&read));
        let read_back: Vec<String> =
            String::from_utf8(read.stdout).unwrap().lines().map(|line| line.to_string()).collect();
        let expected = json_findings(&json.stdout);
        assert_eq!(read_back, expected, "{name}: SARIF results against --format json");
        checked_findings += expected.len();
    }
    assert!(fixtures.len() >= 20 && checked_findings >= 30, "{} fixtures, {checked_findings} findings", fixtures.len());
}

#[test]
fn an_invalid_sarif_log_is_rejected_by_the_reader() {
    // The reader must be able to fail: a log with a level SARIF does not have.
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("bad.sarif");
    let sarif = lint_fixture(&root().join("tests/fixtures/lint/syntax"), "sarif", &[]).code(1).run();
    let mut value: serde_json::Value = serde_json::from_str(&sarif.stdout).unwrap();
    value["runs"][0]["results"][0]["level"] = "fatal".into();
    std::fs::write(&log, value.to_string()).unwrap();
    let read =
        Command::new(tool("python3")).arg(root().join("tests/support/read_sarif.py")).arg(&log).output().unwrap();
    assert!(!read.status.success(), "an invalid log was accepted\n{}", text(&read));
    assert!(String::from_utf8_lossy(&read.stderr).contains("'fatal' is not one of"), "{}", text(&read));
}

/// git in `dir`, isolated from the machine's and user's git configuration.
fn git(dir: &Path, args: &[&str]) -> Output {
    Command::new("git").args(args).current_dir(dir).envs(git_env(dir)).output().expect("git must be installed")
}

fn git_env(dir: &Path) -> Vec<(&'static str, String)> {
    let config = dir.parent().unwrap().join("gitconfig");
    if !config.exists() {
        std::fs::write(&config, "[init]\n\tdefaultBranch = main\n").unwrap();
    }
    vec![
        ("GIT_CONFIG_GLOBAL", config.display().to_string()),
        ("GIT_CONFIG_NOSYSTEM", "1".to_string()),
        ("GIT_AUTHOR_NAME", "Test".to_string()),
        ("GIT_AUTHOR_EMAIL", "test@example.com".to_string()),
        ("GIT_COMMITTER_NAME", "Test".to_string()),
        ("GIT_COMMITTER_EMAIL", "test@example.com".to_string()),
    ]
}

fn ok(output: Output, what: &str) -> Output {
    assert!(output.status.success(), "{what} failed\n{}", text(&output));
    output
}

#[test]
fn pre_commit_hook_blocks_a_broken_playbook_and_passes_the_fixed_one() {
    let pre_commit = tool("pre-commit");
    let temp = tempfile::tempdir().unwrap();
    // A copy of this repository's hook manifest in a repository of its own, as pre-commit fetches it from a
    // `repo:` URL (a local path: nothing leaves the machine).
    let hooks = temp.path().join("runbook-hooks");
    std::fs::create_dir(&hooks).unwrap();
    std::fs::copy(root().join(".pre-commit-hooks.yaml"), hooks.join(".pre-commit-hooks.yaml")).unwrap();
    ok(git(&hooks, &["init", "-q"]), "git init");
    ok(git(&hooks, &["add", "."]), "git add");
    ok(git(&hooks, &["commit", "-q", "-m", "hooks"]), "git commit");
    let rev = String::from_utf8(ok(git(&hooks, &["rev-parse", "HEAD"]), "rev-parse").stdout).unwrap();

    let site = temp.path().join("site");
    Test::new().args(&["init", "--ci", "none", &site.display().to_string()]).run();
    std::fs::write(
        site.join(".pre-commit-config.yaml"),
        format!(
            "repos:\n  - repo: {}\n    rev: {}\n    hooks:\n      - id: runbook-lint\n        args: [., -i, inventory.yaml]\n",
            hooks.display(),
            rev.trim()
        ),
    )
    .unwrap();
    let good = std::fs::read_to_string(site.join("site.rhai")).unwrap();
    let broken = good.replacen("h.facts();", "h.factz();", 1);
    assert_ne!(broken, good, "the skeleton's site.rhai calls h.facts()");
    std::fs::write(site.join("site.rhai"), &broken).unwrap();

    ok(git(&site, &["init", "-q"]), "git init");
    // pre-commit starts runbook as the hook says (found on PATH), not through `Test`.
    let bin = Path::new(RUNBOOK).parent().unwrap().display().to_string();
    let path = format!("{bin}:{TOOLS}:{}", std::env::var("PATH").unwrap_or_default());
    let pre_commit_home = temp.path().join("pre-commit-home").display().to_string();
    let run_git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(&site)
            .envs(git_env(&site))
            .env("PATH", &path)
            .env("PRE_COMMIT_HOME", &pre_commit_home)
            .env("NO_COLOR", "1")
            .output()
            .unwrap()
    };
    let install = Command::new(&pre_commit)
        .arg("install")
        .current_dir(&site)
        .envs(git_env(&site))
        .env("PRE_COMMIT_HOME", &pre_commit_home)
        .output()
        .unwrap();
    ok(install, "pre-commit install");
    ok(run_git(&["add", "."]), "git add");

    let refused = run_git(&["commit", "-m", "broken playbook"]);
    let output = text(&refused);
    assert_eq!(refused.status.code(), Some(1), "the commit of a broken playbook must be refused\n{output}");
    assert!(output.contains("runbook lint") && output.contains("Failed"), "{output}");
    assert!(output.contains("site.rhai:") && output.contains("unknown-function"), "{output}");
    assert!(!run_git(&["rev-parse", "--verify", "-q", "HEAD"]).status.success(), "nothing may have been committed");

    std::fs::write(site.join("site.rhai"), &good).unwrap();
    ok(run_git(&["add", "site.rhai"]), "git add");
    let committed = run_git(&["commit", "-m", "fixed playbook"]);
    let output = text(&committed);
    assert!(committed.status.success(), "the fixed playbook must commit\n{output}");
    assert!(output.contains("runbook lint") && output.contains("Passed"), "{output}");
}
