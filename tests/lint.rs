//! `runbook lint` end to end: one fixture folder per rule (tests/fixtures/lint/<rule>/), each finding asserted
//! as `file:line:col rule`, the output formats byte for byte, the exit codes, and the shipped tree clean.

use crate::support;

use std::path::{Path, PathBuf};

use support::{Run, Test, Tripwires};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn fixture(rule: &str) -> PathBuf {
    root().join("tests/fixtures/lint").join(rule)
}

/// `runbook lint ARGS` in `dir`; each caller asserts the exit code it expects.
fn lint_in(dir: &Path, args: &[&str]) -> Run {
    Test::new().in_dir(dir).args(&["lint"]).args(args).any_code().run()
}

/// `file:line:col rule` of each finding (from `--format json`), and the exit code.
fn findings(rule: &str, args: &[&str]) -> (Vec<String>, i32) {
    let dir = fixture(rule);
    let mut all = vec![".", "--format", "json"];
    if dir.join("inventory.yaml").exists() {
        all.extend(["-i", "inventory.yaml"]);
    }
    all.extend(args);
    let output = lint_in(&dir, &all);
    let stdout = output.stdout;
    let lines = stdout
        .lines()
        .map(|line| {
            let value: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
            format!(
                "{}:{}:{} {}",
                value["file"].as_str().unwrap_or("-"),
                value["line"],
                value["col"],
                value["rule"].as_str().unwrap()
            )
        })
        .collect();
    (lines, output.code)
}

fn check(rule: &str, args: &[&str], expected: &[&str], code: i32) {
    let (found, status) = findings(rule, args);
    assert_eq!(found, expected, "findings of fixture {rule}");
    assert_eq!(status, code, "exit code of fixture {rule}");
}

#[test]
fn syntax() {
    check("syntax", &[], &["bad.rhai:4:1 syntax"], 1);
}

#[test]
fn unknown_function_including_dead_branches() {
    check(
        "unknown-function",
        &[],
        &["bad.rhai:6:7 unknown-function", "bad.rhai:8:13 unknown-function", "bad.rhai:9:9 unknown-function"],
        1,
    );
}

#[test]
fn wrong_arity() {
    check(
        "wrong-arity",
        &[],
        &[
            "bad.rhai:6:7 wrong-arity",
            "bad.rhai:7:12 wrong-arity",
            "bad.rhai:8:5 wrong-arity",
            "bad.rhai:11:1 wrong-arity",
        ],
        1,
    );
}

#[test]
fn undefined_variable() {
    check("undefined-variable", &[], &["bad.rhai:3:7 undefined-variable", "bad.rhai:5:11 undefined-variable"], 1);
}

#[test]
fn unresolved_import_and_include() {
    check(
        "unresolved-import",
        &[],
        &["bad.rhai:1:8 unresolved-import", "bad.rhai:3:9 unresolved-import", "bad.rhai:5:1 unresolved-import"],
        1,
    );
}

#[test]
fn unknown_task_option() {
    check("unknown-task-option", &[], &["bad.rhai:1:23 unknown-task-option", "bad.rhai:2:39 unknown-task-option"], 1);
}

#[test]
fn task_option_type() {
    check(
        "task-option-type",
        &[],
        &[
            "bad.rhai:1:31 task-option-type",
            "bad.rhai:2:31 task-option-type",
            "bad.rhai:2:41 task-option-type",
            "bad.rhai:3:29 task-option-type",
            "bad.rhai:3:44 task-option-type",
        ],
        1,
    );
}

#[test]
fn unknown_primitive_option() {
    check(
        "unknown-primitive-option",
        &[],
        &[
            // The misspelt guard leaves the command unguarded: both are reported.
            "bad.rhai:2:7 run-without-guard",
            "bad.rhai:2:22 unknown-primitive-option",
            "bad.rhai:3:45 unknown-primitive-option",
            "bad.rhai:4:45 unknown-primitive-option",
        ],
        1,
    );
}

#[test]
fn duplicate_task_name_across_includes() {
    check("duplicate-task-name", &[], &["site.rhai:3:6 duplicate-task-name", "stage.rhai:1:6 duplicate-task-name"], 1);
}

#[test]
fn unknown_tag() {
    check("unknown-tag", &["--tags", "prepare,chrony,stage,all,never"], &[], 0);
    check("unknown-tag", &["--tags", "prepar", "-t", "nope"], &["-:0:0 unknown-tag", "-:0:0 unknown-tag"], 1);
}

#[test]
fn template_missing() {
    check("template-missing", &[], &["bad.rhai:2:16 template-missing"], 1);
}

#[test]
fn template_syntax() {
    check("template-syntax", &[], &["templates/broken.j2:2:9 template-syntax"], 1);
}

#[test]
fn template_undefined_variable() {
    check(
        "template-undefined-variable",
        &[],
        &[
            "templates/ha.conf.j2:5:4 template-undefined-variable",
            "templates/web.conf.j2:1:4 template-undefined-variable",
        ],
        1,
    );
}

#[test]
fn template_unknown_filter() {
    // `to_nice_yml` is refused whatever the data (Jinja2 refuses it when compiling); `b64encod` inside an
    // `{% if %}` only if that branch runs; `mtach` right of `and` in an `{% if %}` condition likewise.
    check(
        "template-unknown-filter",
        &[],
        &[
            "templates/app.conf.j2:3:23 template-unknown-filter",
            "templates/app.conf.j2:4:29 template-conditional-undefined",
            "templates/app.conf.j2:5:59 template-conditional-undefined",
        ],
        1,
    );
}

#[test]
fn template_conditional_undefined_is_a_warning() {
    // Variables read only in a loop over an empty list or a false branch: Ansible renders the template.
    let expected = [
        "templates/vhosts.conf.j2:2:19 template-conditional-undefined",
        "templates/vhosts.conf.j2:7:23 template-conditional-undefined",
    ];
    check("template-conditional-undefined", &[], &expected, 0);
    check("template-conditional-undefined", &["--strict"], &expected, 1);
}

#[test]
fn template_variables_need_an_inventory() {
    let output = lint_in(&fixture("template-undefined-variable"), &[".", "--format", "json"]);
    assert_eq!(output.stdout, "");
    assert_eq!(output.code, 0);
}

#[test]
fn inventory_error() {
    check("inventory-error", &[], &["inventory.yaml:4:7 inventory-error"], 1);
}

#[test]
fn unknown_group() {
    check("unknown-group", &[], &["site.rhai:1:21 unknown-group", "site.rhai:3:37 unknown-group"], 1);
}

#[test]
fn unknown_host() {
    check("unknown-host", &[], &["site.rhai:1:18 unknown-host"], 1);
}

#[test]
fn ungrouped_host_is_a_warning() {
    check("ungrouped-host", &[], &["inventory.yaml:3:5 ungrouped-host"], 0);
    check("ungrouped-host", &["--strict"], &["inventory.yaml:3:5 ungrouped-host"], 1);
}

#[test]
fn duplicate_address() {
    check("duplicate-address", &[], &["inventory.yaml:6:9 duplicate-address"], 1);
}

#[test]
fn sysctl_key() {
    check("sysctl-key", &[], &["bad.rhai:4:17 sysctl-key", "bad.rhai:4:45 sysctl-key"], 1);
}

#[test]
fn run_without_guard() {
    check("run-without-guard", &[], &["bad.rhai:3:7 run-without-guard", "bad.rhai:4:7 run-without-guard"], 0);
    check("run-without-guard", &["--strict"], &["bad.rhai:3:7 run-without-guard", "bad.rhai:4:7 run-without-guard"], 1);
}

#[test]
fn literal_secret() {
    check(
        "literal-secret",
        &[],
        &[
            "bad.rhai:1:5 literal-secret",
            "bad.rhai:3:15 literal-secret",
            "inventory.yaml:3:5 literal-secret",
            "inventory.yaml:8:36 literal-secret",
        ],
        0,
    );
}

#[test]
fn github_format() {
    let output = lint_in(&fixture("unknown-host"), &["site.rhai", "-i", "inventory.yaml", "--format", "github"]);
    assert_eq!(
        output.stdout,
        "::error file=site.rhai,line=1,col=18,title=unknown-host::no host `m2` in inventory.yaml (did you mean `m1`?)\n"
    );
    assert_eq!(output.stderr, "1 error, 0 warnings in 2 files\n");
    assert_eq!(output.code, 1);
}

#[test]
fn github_format_warning() {
    let output = lint_in(&fixture("ungrouped-host"), &["-i", "inventory.yaml", "--format", "github", "."]);
    assert_eq!(
        output.stdout,
        "::warning file=inventory.yaml,line=3,col=5,title=ungrouped-host::host `lonely` is in no group \
         (only hosts() reaches it; list it under a group's `hosts:`)\n"
    );
    assert_eq!(output.code, 0);
}

#[test]
fn json_format() {
    let output = lint_in(&fixture("unknown-host"), &["site.rhai", "-i", "inventory.yaml", "--format", "json"]);
    assert_eq!(
        output.stdout,
        "{\"file\":\"site.rhai\",\"line\":1,\"col\":18,\"rule\":\"unknown-host\",\"severity\":\"error\",\
         \"message\":\"no host `m2` in inventory.yaml\",\"hint\":\"did you mean `m1`?\"}\n"
    );
    assert_eq!(output.code, 1);
}

#[test]
fn human_format_shows_the_line_and_a_caret() {
    let output = lint_in(&fixture("unknown-function"), &["bad.rhai"]);
    let stdout = output.stdout;
    assert!(stdout.contains("bad.rhai:6:7: error[unknown-function]: unknown method `.runn(...)`"), "{stdout}");
    assert!(stdout.contains("[bad.rhai:6:7]"), "{stdout}");
    assert!(stdout.contains("    h.runn(\"ls\");"), "{stdout}");
    assert!(stdout.contains("──┬─"), "{stdout}");
    assert!(stdout.contains("did you mean `run`?"), "{stdout}");
    assert!(stdout.trim_end().ends_with("3 errors, 0 warnings in 1 file"), "{stdout}");
    assert_eq!(output.code, 1);
}

#[test]
fn unknown_module_option_from_the_functions_own_check_options_list() {
    // files::lineinfile's list (stdlib/files.rhai) and a user's module declaring its own, the same way; the
    // imported module file is linted too (its misspelt variable inside a fn).
    check(
        "unknown-module-option",
        &[],
        &[
            "bad.rhai:4:53 unknown-module-option",
            "bad.rhai:5:21 unknown-module-option",
            "roles/web.rhai:7:19 undefined-variable",
        ],
        1,
    );
}

#[test]
fn handlers_declared_in_an_imported_module_count_and_a_misspelt_notify_does_not() {
    check("handler-in-module", &[], &["bad.rhai:5:51 unknown-handler"], 1);
    // Linting the playbook alone follows its import to the module's declaration.
    let output = lint_in(&fixture("handler-in-module"), &["bad.rhai"]);
    let stdout = output.stdout;
    assert!(stdout.contains("bad.rhai:5:51: error[unknown-handler]"), "{stdout}");
    assert!(!stdout.contains("bad.rhai:4:"), "{stdout}");
    assert_eq!(output.code, 1);
}

#[test]
fn flush_handlers_in_task() {
    // The top-level call after the task is where it belongs: not reported.
    check("flush-handlers-in-task", &[], &["bad.rhai:4:5 flush-handlers-in-task"], 1);
}

/// What the run executes through functions and imported modules is checked by run's pre-flight: each mistake
/// refused with file:line:col, exit 1, and the inventory's host (a loopback listener) never contacted.
#[test]
fn preflight_refuses_mistakes_inside_functions_and_modules_before_connecting() {
    let wires = Tripwires::on(&["127.0.4.1"]);
    let inventory = format!(
        "all:\n  children:\n    web:\n      hosts:\n        web1: {{ address: 127.0.4.1, port: {} }}\n",
        wires.port
    );
    let run = Test::new()
        .file("inventory.yaml", &inventory)
        .file(
            "roles/web.rhai",
            "fn site(h, opts) {\n    h.template(\"templates/app.j2\", \"/etc/app.conf\", #{ port: opts.port });\n    h.run(`echo ${prot}`, #{ creates: \"/etc/web\" });\n}\n",
        )
        .file("templates/app.j2", "port={{ port | to_yml }}\n")
        .playbook(concat!(
            "import \"stdlib/files\" as files;\n",
            "import \"roles/web\" as web;\n",
            "fn tune(h, name) {\n",
            "    h.run(\"sysctl \" + nmae, #{ creates: \"/x\" });\n",
            "}\n",
            "task(\"web\", group(\"web\"), |h| {\n",
            "    files::lineinfile(h, \"/etc/x\", #{ regex: \"^a\", line: \"a\" });\n",
            "    web::site(h, #{ port: 80 });\n",
            "    tune(h, \"x\");\n",
            "    flush_handlers();\n",
            "});\n",
        ))
        .args(&["-i", "inventory.yaml"])
        .code(1)
        .stderr_has("site.rhai:4:23: error[undefined-variable]: undefined variable `nmae`")
        .stderr_has("site.rhai:7:39: error[unknown-module-option]: `files::lineinfile` has no option `regex`")
        .stderr_has("did you mean `regexp`?")
        .stderr_has("site.rhai:10:5: error[flush-handlers-in-task]")
        .stderr_has("roles/web.rhai:3:19: error[undefined-variable]: undefined variable `prot`")
        .stderr_has("templates/app.j2:1:16: error[template-unknown-filter]: filter `to_yml` is unknown")
        .stderr_has("nothing was run")
        .run();
    wires.assert_untouched();
    assert!(!run.stdout.contains("TASK"), "{}", run.stdout);
}

#[test]
fn preflight_refuses_an_unknown_start_at_task_before_connecting() {
    let wires = Tripwires::on(&["127.0.4.2"]);
    let inventory = format!(
        "all:\n  children:\n    web:\n      hosts:\n        web1: {{ address: 127.0.4.2, port: {} }}\n",
        wires.port
    );
    let playbook = concat!(
        "print(\"top-level code ran\");\n",
        "task(\"install nginx\", hosts(), |h| h.run(\"true\", #{ check_safe: true }));\n",
        "task(\"configure nginx\", hosts(), |h| h.run(\"true\", #{ check_safe: true }));\n",
    );
    let run = Test::new()
        .file("inventory.yaml", &inventory)
        .playbook(playbook)
        .args(&["-i", "inventory.yaml", "--start-at-task", "instal nginx"])
        .code(1)
        .stderr_has("error[unknown-start-at-task]: --start-at-task: no task is named \"instal nginx\"")
        .stderr_has("did you mean `install nginx`?")
        .stderr_has("nothing was run")
        .run();
    wires.assert_untouched();
    assert!(!run.stdout.contains("top-level code ran") && !run.stderr.contains("top-level code ran"));
    // The right name passes the pre-flight (listed without contacting the host).
    Test::new()
        .file("inventory.yaml", &inventory)
        .playbook(playbook)
        .args(&["-i", "inventory.yaml", "--start-at-task", "install nginx", "--list-tasks"])
        .stdout_has("configure nginx")
        .run();
    wires.assert_untouched();
}

#[test]
fn usage_errors_exit_2() {
    let dir = fixture("syntax");
    for args in
        [&["no-such-file.rhai"][..], &["-i", "no-such-inventory.yaml", "bad.rhai"], &["--format", "xml"], &["--bogus"]]
    {
        let output = lint_in(&dir, args);
        assert_eq!(output.code, 2, "{args:?}: {}", output.stderr);
    }
    // Nothing to lint in a folder without playbooks/ or stdlib/.
    assert_eq!(lint_in(&dir, &[]).code, 2);
    // Other subcommands keep exit 1 for usage errors.
    Test::new().args(&["run", "--bogus"]).code(1).run();
}

#[test]
fn a_clean_fixture_exits_0() {
    let output = lint_in(&fixture("clean"), &["site.rhai"]);
    assert_eq!(output.stdout, "no problems found in 2 files\n");
    assert_eq!(output.code, 0);
}

#[test]
fn shipped_playbooks_stdlib_and_inventory_lint_clean() {
    let output = lint_in(
        &root(),
        &["--strict", "-i", "playbooks/inventory.yaml", "--format", "json", "--tags", "prepare,chrony,ha,check"],
    );
    assert_eq!(output.stdout, "", "{}", output.stderr);
    assert_eq!(output.code, 0);
}

/// `lint -i` sees the variables a run sees: the inventory, then `group_vars/` beside the playbook, then `-e`. A
/// variable defined only beside the playbook or only by `-e` is accepted by both; missing, refused by both.
#[test]
fn lint_and_the_run_pre_flight_judge_a_variable_from_the_same_layers() {
    let wires = Tripwires::on(&["127.0.26.1"]);
    let inventory = format!("all:\n  hosts:\n    web1: {{ address: 127.0.26.1, port: {} }}\n", wires.port);
    let playbook = r#"task("motd", hosts(), |h| print(h.vars.motd_text + h.vars.motd_suffix));"#;
    let site = Test::new()
        .file("inventory.yaml", &inventory)
        .file("site/site.rhai", playbook)
        .file("site/group_vars/all.yml", "motd_text: hello\n");
    let dir = site.path().to_path_buf();
    let lint = |extra: &[&str]| {
        let mut args = vec!["site/site.rhai", "-i", "inventory.yaml", "--format", "json"];
        args.extend(extra);
        let output = lint_in(&dir, &args);
        let stdout = output.stdout;
        (
            stdout.contains("undefined-inventory-variable") && stdout.contains("motd_suffix"),
            stdout.contains("motd_text"),
        )
    };
    // motd_text is beside the playbook (accepted by both); motd_suffix is nowhere (refused by both).
    assert_eq!(lint(&[]), (true, false), "lint flags motd_suffix only");
    Test::new()
        .in_dir(&dir)
        .args(&["run", "site/site.rhai", "-i", "inventory.yaml", "--timeout", "2"])
        .code(1)
        .stderr_has("motd_suffix")
        .run();
    // With -e, both accept it; the run then goes on to connect (the tripwire answers, no SSH: a host error).
    assert_eq!(lint(&["-e", "motd_suffix=!"]), (false, false), "lint with -e accepts both");
    let run = Test::new()
        .in_dir(&dir)
        .args(&["run", "site/site.rhai", "-i", "inventory.yaml", "-e", "motd_suffix=!", "--timeout", "2"])
        .code(3)
        .run();
    assert!(!run.stderr.contains("undefined"), "the pre-flight accepted it: {}", run.stderr);
    drop(wires);
}
