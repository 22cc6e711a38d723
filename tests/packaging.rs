//! What a user installing runbook gets besides the binary: a `--version` that names the commit, shell
//! completions that really complete (driven through bash's own completion machinery), and man pages that
//! `man` renders. No lab needed.

use std::path::Path;
use std::process::Command;

/// What `runbook ARGS` prints, which must succeed.
fn runbook(args: &[&str]) -> String {
    crate::support::Test::new().args(args).run().stdout
}

/// Which words bash's completion offers for the command line `words` (the last one is being completed),
/// using the script `runbook completions bash` prints, loaded and called the way bash does on TAB.
fn bash_complete(words: &[&str]) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("runbook.bash");
    std::fs::write(&script, runbook(&["completions", "bash"])).unwrap();
    let quoted: Vec<String> = words.iter().map(|word| format!("'{word}'")).collect();
    let driver = format!(
        r#"source '{script}'
function=$(complete -p runbook | sed -n 's/.*-F \([^ ]*\) .*/\1/p')
[ -n "$function" ] || {{ echo "the script registered no completion function for runbook" >&2; exit 1; }}
COMP_WORDS=({words})
COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 ))
COMP_LINE="${{COMP_WORDS[*]}}"
COMP_POINT=${{#COMP_LINE}}
"$function" runbook "${{COMP_WORDS[COMP_CWORD]}}" "${{COMP_WORDS[COMP_CWORD-1]}}"
printf '%s\n' "${{COMPREPLY[@]}}""#,
        script = script.display(),
        words = quoted.join(" ")
    );
    let output = Command::new("bash").arg("-c").arg(driver).output().expect("bash must be installed");
    assert!(output.status.success(), "bash: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap().lines().map(str::to_string).collect()
}

#[test]
fn version_names_the_commit_it_was_built_from() {
    let output = Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("git must be installed (the build records the commit with it)");
    assert!(output.status.success(), "this test runs in a git checkout of runbook");
    let head = String::from_utf8(output.stdout).unwrap();
    let version = runbook(&["--version"]);
    let expected = format!("runbook {} (commit {}, ", env!("CARGO_PKG_VERSION"), &head.trim()[..12]);
    assert!(version.starts_with(&expected), "{version:?} should start with {expected:?}");
}

#[test]
fn bash_completes_run_li_to_limit() {
    let offered = bash_complete(&["runbook", "run", "--li"]);
    assert!(offered.iter().any(|word| word == "--limit"), "{offered:?}");
    assert!(offered.iter().all(|word| word.starts_with("--li")), "{offered:?}");
}

#[test]
fn bash_completes_subcommands_and_lint_formats() {
    let subcommands = bash_complete(&["runbook", "in"]);
    assert!(subcommands.contains(&"init".into()) && subcommands.contains(&"inventory".into()), "{subcommands:?}");
    assert!(subcommands.iter().all(|word| word.starts_with("in")), "{subcommands:?}");
    assert_eq!(bash_complete(&["runbook", "lint", "--format", ""]), ["human", "github", "json", "sarif"]);
}

#[test]
fn zsh_and_fish_scripts_know_the_flags() {
    let zsh = runbook(&["completions", "zsh"]);
    assert!(zsh.starts_with("#compdef runbook"), "{zsh:.80}");
    assert!(zsh.contains("'--limit=[Limit to hosts or groups"), "zsh script lacks --limit");
    let fish = runbook(&["completions", "fish"]);
    assert!(fish.contains("complete -c runbook -n \"__fish_runbook_using_subcommand run\" -s l -l limit"), "{fish}");
}

#[test]
fn man_pages_render_with_man() {
    let page = runbook(&["man"]);
    assert!(page.contains(".TH runbook 1"), "{page:.200}");
    let dir = tempfile::tempdir().unwrap();
    runbook(&["man", "--dir", &dir.path().display().to_string()]);
    for name in ["runbook.1", "runbook-run.1", "runbook-lint.1", "runbook-lab-up.1", "runbook-init.1"] {
        assert!(dir.path().join(name).is_file(), "{name} was not written");
    }
    assert!(!dir.path().join("runbook-lab-supervise.1").exists(), "an internal subcommand got a page");
    let rendered = render_man(&dir.path().join("runbook-run.1"));
    assert!(rendered.contains("-l, --limit <LIMIT>"), "{rendered}");
    assert!(rendered.contains("Limit to hosts or groups"), "{rendered}");
}

fn render_man(page: &Path) -> String {
    let output = Command::new("man")
        .args(["-P", "cat", "-l"])
        .arg(page)
        .env("MANWIDTH", "120")
        .output()
        .expect("man must be installed (Debian: man-db)");
    assert!(output.status.success(), "man: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The Kubernetes recipe for `--shard` (contrib/shards): valid against Kubernetes' own schemas
/// (`kubernetes-validate`, PyPI, strict: unknown fields are errors), an Indexed Job whose pods each take the shard
/// of their index, with as many shards as completions. What cannot be checked here: running it (no cluster).
#[test]
fn the_indexed_job_recipe_is_valid_kubernetes_and_gives_each_pod_its_shard() {
    let recipe = Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib/shards/kubernetes-indexed-job.yaml");
    let validator = "/opt/runbook-test-tools/bin/kubernetes-validate";
    assert!(Path::new(validator).exists(), "{validator} is missing: run scripts/install-deps --for-tests");
    let output = Command::new(validator).args(["--strict", "--quiet"]).arg(&recipe).output().unwrap();
    assert!(
        output.status.success(),
        "kubernetes-validate refused the recipe:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );

    let text = std::fs::read_to_string(&recipe).unwrap();
    let job_text = text.split("\n---\n").find(|doc| doc.contains("kind: Job")).expect("a Job in the recipe");
    let job: serde_json::Value = serde_saphyr::from_str(job_text).expect("the Job parses");
    assert_eq!(job["spec"]["completionMode"], "Indexed");
    let completions = job["spec"]["completions"].as_u64().unwrap();
    assert_eq!(job["spec"]["parallelism"].as_u64(), Some(completions));
    let args: Vec<&str> = job["spec"]["template"]["spec"]["containers"][0]["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|arg| arg.as_str().unwrap())
        .collect();
    let shard = args.iter().position(|arg| *arg == "--shard").expect("--shard in the args");
    assert_eq!(args[shard + 1], format!("$(JOB_COMPLETION_INDEX)/{completions}"));
    // The flag the recipe passes is one runbook takes (the value Kubernetes substitutes is checked by run).
    let help = runbook(&["run", "--help"]);
    assert!(help.contains("--shard <I/N>"), "{help}");
    assert!(args.contains(&"--log-json"));
}
