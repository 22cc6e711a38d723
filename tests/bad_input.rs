//! Bad input is refused before any host is contacted: one clear error pointing at file:line:col, exit 1.
//!
//! "No host touched" is checked directly: the inventory's only host is a TCP listener of this test on
//! loopback, and after the run the listener must not have seen a single connection. A run that got as far as
//! connecting would show there (and would end unreachable, exit 3, since the listener speaks no SSH).
//!
//! The second half feeds the inventory loader and the playbook compiler generated and mutated input
//! (proptest, bounded sizes): whatever comes in, they return an error or a value — no panic, no hang.
//! Failing cases are kept in tests/fuzz-regressions/ and replayed first on every run.

use crate::support;

use std::net::TcpListener;
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence};
use support::Test;

/// A loopback "host" that records whether anyone connected.
struct Tripwire(TcpListener);

impl Tripwire {
    fn new() -> Tripwire {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        Tripwire(listener)
    }

    fn port(&self) -> u16 {
        self.0.local_addr().unwrap().port()
    }

    fn inventory(&self, dir: &Path) -> std::path::PathBuf {
        let path = dir.join("inventory.yaml");
        std::fs::write(
            &path,
            format!(
                "all:\n  vars:\n    who: ops\n  hosts:\n    web1: {{ address: 127.0.0.1, port: {} }}\n",
                self.port()
            ),
        )
        .unwrap();
        path
    }

    fn assert_untouched(&self) {
        match self.0.accept() {
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {}
            Ok((_, from)) => panic!("runbook connected to the host (from {from}) despite the bad input"),
            Err(error) => panic!("accept: {error}"),
        }
    }
}

/// Runs a playbook (and extra files) that must be refused with `expected` in stderr, exit 1, no host touched.
fn refused(playbook: &str, files: &[(&str, &str)], args: &[&str], expected: &[&str]) {
    let wire = Tripwire::new();
    let mut test = Test::new();
    let inventory = wire.inventory(test.path());
    for (name, content) in files {
        test = test.file(name, content);
    }
    let mut test = test.inventory_file(inventory).playbook(playbook).args(args).code(1);
    for text in expected {
        test = test.stderr_has(text);
    }
    let run = test.run();
    assert!(!run.stdout.contains("unreachable") && !run.stderr.contains("unreachable"), "{}", run.stdout);
    wire.assert_untouched();
}

const FIRST_TASK: &str = "task(\"first\", hosts(), |h| h.run(\"touch /tmp/should-not-run\"));\n";

#[test]
fn the_tripwire_sees_a_run_that_connects() {
    // The check below is only worth something if a run that does connect trips it.
    let wire = Tripwire::new();
    let test = Test::new();
    let inventory = wire.inventory(test.path());
    Test::new().inventory_file(inventory).playbook(FIRST_TASK).args(&["--timeout", "1"]).code(3).run();
    std::thread::sleep(Duration::from_millis(100));
    assert!(wire.0.accept().is_ok(), "the run's connection was not seen");
}

#[test]
fn a_playbook_syntax_error_is_refused_with_its_position() {
    refused(&format!("{FIRST_TASK}let x = 1;\nlet y = x +;\n"), &[], &[], &["site.rhai:3:"]);
}

#[test]
fn an_undefined_script_variable_is_refused_with_its_position() {
    refused(
        &format!("{FIRST_TASK}task(\"second\", hosts(), |h| h.run(no_such_thing));\n"),
        &[],
        &[],
        &["site.rhai:2:35"],
    );
}

#[test]
fn a_missing_template_is_refused_before_any_task_runs() {
    refused(
        &format!("{FIRST_TASK}task(\"render\", hosts(), |h| h.template(\"templates/nope.j2\", \"/etc/x\"));\n"),
        &[],
        &[],
        &["site.rhai:2:", "error[template-missing]", "\"templates/nope.j2\" does not exist"],
    );
}

#[test]
fn a_template_syntax_error_is_refused_with_the_template_line() {
    refused(
        &format!("{FIRST_TASK}task(\"render\", hosts(), |h| h.template(\"templates/bad.j2\", \"/etc/x\"));\n"),
        &[("templates/bad.j2", "line one\nline two\n{% if %}\n")],
        &[],
        &["templates/bad.j2:3:", "error[template-syntax]"],
    );
}

#[test]
fn an_undefined_template_variable_is_refused_before_any_task_runs() {
    refused(
        &format!(
            "{FIRST_TASK}task(\"render\", hosts(), |h| h.template(\"templates/app.j2\", \"/etc/x\", #{{ port: 80 }}));\n"
        ),
        &[(
            "templates/app.j2",
            "user={{ who }} port={{ port }}\n{% for x in items %}{{ x }}{% endfor %}\nhost={{ inventory_hostname }}\n{{ typo_var }}\n",
        )],
        &[],
        &[
            "templates/app.j2:2:",
            "`items` is not defined",
            "templates/app.j2:4:",
            "`typo_var` is not defined",
            "rendered by site.rhai:2:",
        ],
    );
}

#[test]
fn a_guarded_or_computed_template_variable_is_left_to_run_time() {
    // `is defined` and a vars map built at run time are not judged early: the run goes on to connect.
    let wire = Tripwire::new();
    let test = Test::new().file("templates/ok.j2", "{% if proxy is defined %}{{ proxy }}{% endif %}{{ computed }}\n");
    let inventory = wire.inventory(test.path());
    test.inventory_file(inventory)
        .playbook("let v = #{}; v.computed = 1;\ntask(\"render\", hosts(), |h| h.template(\"templates/ok.j2\", \"/etc/x\", v));\n")
        .args(&["--timeout", "1"])
        .code(3)
        .run();
}

#[test]
fn an_unknown_template_filter_is_refused_before_any_task_runs() {
    refused(
        &format!("{FIRST_TASK}task(\"render\", hosts(), |h| h.template(\"templates/app.j2\", \"/etc/x\"));\n"),
        &[("templates/app.j2", "user={{ who }}\nconfig: {{ who | to_nice_yml }}\n")],
        &[],
        &[
            "templates/app.j2:2:18",
            "error[template-unknown-filter]",
            "filter `to_nice_yml` is unknown",
            "did you mean `to_nice_yaml`?",
        ],
    );
}

#[test]
fn a_variable_read_only_in_a_branch_that_does_not_run_is_left_to_the_render() {
    // As in Ansible, an undefined variable is an error where it is evaluated: in a loop over an empty list or a
    // false branch it is not, so the pre-flight lets the run go on (to connect: exit 3 on the tripwire).
    let wire = Tripwire::new();
    let test = Test::new().file(
        "templates/vhosts.j2",
        "{% for v in [] %}{{ apache_port }}{% endfor %}{% if who == 'x' %}{{ cert_path }}{% endif %}{{ who }}\n",
    );
    let inventory = wire.inventory(test.path());
    let run = test
        .inventory_file(inventory)
        .playbook("task(\"render\", hosts(), |h| h.template(\"templates/vhosts.j2\", \"/etc/x\"));\n")
        .args(&["--timeout", "1"])
        .code(3)
        .run();
    assert!(!run.stderr.contains("template-undefined-variable"), "{}", run.stderr);
}

#[test]
fn a_missing_upload_source_is_refused() {
    refused(
        &format!("{FIRST_TASK}task(\"copy\", hosts(), |h| h.upload(\"files/gone.tar\", \"/opt/x.tar\"));\n"),
        &[],
        &[],
        &["site.rhai:2:", "error[upload-missing]", "\"files/gone.tar\" does not exist"],
    );
}

#[test]
fn an_included_stage_with_an_error_is_refused_before_the_first_stage_runs() {
    refused(
        &format!("{FIRST_TASK}include(\"stage2.rhai\");\n"),
        &[("stage2.rhai", "// stage 2\nlet a = 1;\nlet b = ;\n")],
        &[],
        &["stage2.rhai:3:", "error[syntax]"],
    );
    refused(
        &format!("{FIRST_TASK}include(\"stage2.rhai\");\n"),
        &[("stage2.rhai", "task(\"t\", hosts(), |h| h.template(\"templates/none.j2\", \"/x\"));\n")],
        &[],
        &["stage2.rhai:1:", "templates/none.j2"],
    );
}

/// Each mistake a user makes in a playbook of their own, as the issue lists them: refused before any
/// connection, exit 1, at file:line:col, with the nearest right name.
#[test]
fn each_playbook_mistake_is_refused_before_any_connection_with_did_you_mean() {
    let task = |body: &str| format!("{FIRST_TASK}task(\"second\", hosts(), |h| {body});\n");
    // A misspelt variable: never an empty string written to a host.
    refused(
        &task(r#"h.write(`owner: ${h.vars.whoo}`, "/etc/motd")"#),
        &[],
        &[],
        &["site.rhai:2:", "error[undefined-inventory-variable]", "`whoo` is not defined", "did you mean `who`?"],
    );
    refused(
        &format!("{FIRST_TASK}print(vars.whoo);\n"),
        &[],
        &[],
        &["site.rhai:2:12", "`vars.whoo` is not defined", "did you mean `who`?"],
    );
    // A variable whose value (a template) reads a misspelt name: refused where the playbook reads the variable,
    // naming the undefined name, the variable holding the reference, its file:line and the host.
    refused(
        &task(r#"h.write(`name=${h.vars.fqdn}`, "/etc/motd")"#),
        &[("group_vars/all.yaml", "domain: example.test\nfqdn: \"{{ inventory_hostname }}.{{ domian }}\"\n")],
        &[],
        &[
            "site.rhai:2:",
            "error[undefined-inventory-variable]",
            "`fqdn` refers to `domian`, which is not defined for web1",
            "group_vars/all.yaml:2",
        ],
    );
    // Through another variable, too; a reference with a default is not a mistake.
    refused(
        &task(r#"h.write(`${h.vars.url} ${h.vars.safe}`, "/etc/motd")"#),
        &[(
            "group_vars/all.yaml",
            "url: \"https://{{ fqdn }}/\"\nsafe: \"{{ nope | default('x') }}\"\nfqdn: \"{{ host_name }}.test\"\n",
        )],
        &[],
        &["`url` refers to `host_name`, which is not defined for web1 (in the value of `fqdn`", "all.yaml:3"],
    );
    // The same through a template that reads the variable: refused at the template's line.
    refused(
        &task(r#"h.template("templates/motd.j2", "/etc/motd")"#),
        &[
            ("group_vars/all.yaml", "fqdn: \"{{ inventory_hostname }}.{{ domian }}\"\n"),
            ("templates/motd.j2", "welcome\nname={{ fqdn }}\n"),
        ],
        &[],
        &[
            "templates/motd.j2:2:",
            "error[template-undefined-variable]",
            "`fqdn` refers to `domian`, which is not defined for web1",
            "all.yaml:1",
        ],
    );
    // A misspelt function (primitive).
    refused(
        &task(r#"h.tempalte("templates/app.j2", "/etc/app")"#),
        &[("templates/app.j2", "x\n")],
        &[],
        &["site.rhai:2:", "error[unknown-function]", "did you mean `template`?"],
    );
    // A misspelt primitive option.
    refused(
        &task(r#"h.run("make", #{ unles: "test -f out" })"#),
        &[],
        &[],
        &["site.rhai:2:", "error[unknown-primitive-option]", "did you mean `unless`?"],
    );
    // A misspelt task option.
    refused(
        &format!("{FIRST_TASK}task(\"second\", hosts(), #{{ serail: 1 }}, |h| h.run(\"true\"));\n"),
        &[],
        &[],
        &["site.rhai:2:", "error[unknown-task-option]", "did you mean `serial`?"],
    );
    // An unknown host and an unknown group.
    refused(
        &format!("{FIRST_TASK}let other = host(\"web2\");\n"),
        &[],
        &[],
        &["site.rhai:2:", "error[unknown-host]", "did you mean `web1`?"],
    );
    refused(
        &format!("{FIRST_TASK}task(\"second\", group(\"ungroupd\"), |h| h.run(\"true\"));\n"),
        &[],
        &[],
        &["site.rhai:2:", "error[unknown-group]", "did you mean `ungrouped`?"],
    );
    // An undefined template variable, and a missing template file.
    refused(
        &task(r#"h.template("templates/app.j2", "/etc/app")"#),
        &[("templates/app.j2", "owner={{ whoo }}\n")],
        &[],
        &["templates/app.j2:1:", "`whoo` is not defined", "did you mean `who`?", "rendered by site.rhai:2:"],
    );
    refused(
        &task(r#"h.template("templates/ap.j2", "/etc/app")"#),
        &[("templates/app.j2", "owner={{ who }}\n")],
        &[],
        &["site.rhai:2:", "error[template-missing]", "did you mean `templates/app.j2`?"],
    );
    // A task closure that changes a captured variable (a data race on the hosts' threads).
    refused(
        &format!("let done = 0;\n{FIRST_TASK}task(\"count\", hosts(), |h| {{ done += 1; }});\n"),
        &[],
        &[],
        &["site.rhai:3:", "error[captured-mutation]", "return the value instead"],
    );
}

/// The `file:line:col: error[rule]` lines of a lint or pre-flight report.
fn verdicts(output: &str) -> Vec<String> {
    let mut lines: Vec<String> = output
        .lines()
        .filter(|line| line.contains(": error["))
        .map(|line| line.split("]: ").next().unwrap_or(line).to_string())
        .collect();
    lines.sort();
    lines
}

/// One analysis: the same fixtures given to `runbook lint` and to `runbook run` (whose pre-flight is lint's
/// error rules) get the same verdicts — the same errors at the same places, or none and the run goes ahead.
#[test]
fn lint_and_runs_preflight_give_the_same_verdicts() {
    let fixtures: &[(&str, &[(&str, &str)])] = &[
        ("task(\"a\", hosts(), |h| h.run(\"true\", #{ check_safe: true }));\n", &[]),
        ("task(\"a\", hosts(), |h| h.runn(\"true\"));\nlet x = host(\"nope\");\nprint(vars.whom);\n", &[]),
        (
            "task(\"a\", hosts(), #{ tag: [\"x\"] }, |h| h.template(\"t.j2\", \"/x\", #{ a: 1 }));\ninclude(\"two.rhai\");\n",
            &[
                ("t.j2", "{{ a }} {{ b }}\n"),
                ("two.rhai", "task(\"b\", group(\"webz\"), |h| h.upload(\"gone\", \"/y\"));\n"),
            ],
        ),
        ("let n = 0;\ntask(\"a\", hosts(), |h| { n += 1; h.write(h.vars.whoo, \"/x\", #{ mod: \"0644\" }); });\n", &[]),
    ];
    for (playbook, files) in fixtures {
        let wire = Tripwire::new();
        let mut test = Test::new();
        let inventory = wire.inventory(test.path());
        for (name, content) in *files {
            test = test.file(name, content);
        }
        std::fs::write(test.path().join("site.rhai"), playbook).unwrap();
        // Its exit code is checked below, against whether it found anything.
        let lint = Test::new()
            .in_dir(test.path())
            .args(&["lint", "site.rhai", "-i", &inventory.display().to_string()])
            .any_code()
            .run();
        let lint_verdicts = verdicts(&lint.stdout);
        let clean = lint_verdicts.is_empty();
        let run = test
            .inventory_file(&inventory)
            .playbook(playbook)
            .args(&["--timeout", "1"])
            .code(if clean { 3 } else { 1 })
            .run();
        assert_eq!(verdicts(&run.stderr), lint_verdicts, "playbook:\n{playbook}\nrun:\n{}", run.stderr);
        assert_eq!(lint.code, i32::from(!clean), "{playbook}");
        if clean {
            std::thread::sleep(Duration::from_millis(100));
            assert!(wire.0.accept().is_ok(), "a clean playbook must go on to connect");
        } else {
            assert!(lint_verdicts.len() >= 3, "each fixture with mistakes has several: {lint_verdicts:?}");
            wire.assert_untouched();
        }
    }
}

/// An error raised inside a module function points at the user's call first, then at the module's line.
#[test]
fn an_error_inside_a_module_points_at_the_users_call_first() {
    let wire = Tripwire::new();
    let test =
        Test::new().file("stdlib/mine.rhai", "// a module of the user's\nfn boom(x) {\n    throw \"kaput\";\n}\n");
    let inventory = wire.inventory(test.path());
    let run = test
        .inventory_file(inventory)
        .playbook("import \"stdlib/mine\" as mine;\n\nmine::boom(1);\n")
        .code(1)
        .stderr_has("site.rhai:3:")
        .stderr_has(": kaput (in ")
        .stderr_has("stdlib/mine.rhai:3:5)")
        .run();
    let user = run.stderr.find("site.rhai:3:").unwrap();
    let module = run.stderr.find("stdlib/mine.rhai:3:5").unwrap();
    assert!(user < module, "the user's line comes first: {}", run.stderr);
    wire.assert_untouched();
}

/// An inventory that must be refused with `expected`, exit 1, no host touched (the playbook is fine).
fn inventory_refused(inventory: &str, expected: &[&str]) {
    let wire = Tripwire::new();
    let test = Test::new();
    let path = test.path().join("inventory.yaml");
    std::fs::write(&path, inventory.replace("PORT", &wire.port().to_string())).unwrap();
    let mut test = test.inventory_file(&path).playbook(FIRST_TASK).code(1);
    for text in expected {
        test = test.stderr_has(text);
    }
    test.run();
    wire.assert_untouched();
}

#[test]
fn malformed_inventories_are_refused_with_their_position() {
    inventory_refused("all:\n  hosts:\n    a: { address: 127.0.0.1, port: PORT\n  vars: [\n", &["inventory.yaml:4:7"]);
    inventory_refused(
        "all:\n  hostz:\n    a: { address: 127.0.0.1, port: PORT }\n",
        &["inventory.yaml:2:3", "unknown field `hostz`"],
    );
    inventory_refused(
        "all:\n  hosts:\n    a: { address: 127.0.0.1, port: \"abc\" }\n",
        &["inventory.yaml:3:30", "port"],
    );
    inventory_refused("all:\n  hosts: [a, b]\n", &["inventory.yaml:2:10", "expected a mapping"]);
    inventory_refused(
        "all:\n  hosts:\n    a: { address: 127.0.0.1, port: PORT, become: maybe }\n",
        &["inventory.yaml:3:", "become"],
    );
}

#[test]
fn a_yaml_alias_bomb_is_refused_quickly() {
    // Ten levels of ten aliases each: 10^10 nodes if expanded.
    let mut vars = String::from("    a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for level in 1..10 {
        let previous = format!("*a{}", level - 1);
        vars.push_str(&format!("    a{level}: &a{level} [{}]\n", [previous.as_str(); 10].join(", ")));
    }
    let started = std::time::Instant::now();
    inventory_refused(
        &format!("all:\n  vars:\n{vars}  hosts:\n    a: {{ address: 127.0.0.1, port: PORT }}\n"),
        &["inventory.yaml:", "alias"],
    );
    assert!(started.elapsed() < Duration::from_secs(10), "took {:?}", started.elapsed());
}

#[test]
fn a_missing_extra_vars_file_is_refused() {
    refused(FIRST_TASK, &[], &["-e", "@nowhere.yaml"], &["nowhere.yaml"]);
}

// ---------------------------------------------------------------------------------------------------------------
// Generated input: no panic, no hang.

/// Runs `work` on its own thread; fails if it panics or takes longer than `limit`.
fn bounded<F: FnOnce() + Send + 'static>(limit: Duration, what: &str, work: F) -> Result<(), TestCaseError> {
    let (done, finished) = mpsc::channel();
    let handle = std::thread::Builder::new()
        .stack_size(32 * 1024 * 1024)
        .spawn(move || {
            work();
            let _ = done.send(());
        })
        .unwrap();
    match finished.recv_timeout(limit) {
        Ok(()) => {
            handle.join().unwrap();
            Ok(())
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => Err(TestCaseError::fail(format!("{what} panicked"))),
        Err(mpsc::RecvTimeoutError::Timeout) => Err(TestCaseError::fail(format!("{what} took over {limit:?}"))),
    }
}

/// `cases` keeps `cargo test` short; `PROPTEST_CASES=20000 cargo test --test bad_input` is the long run.
fn config(cases: u32, file: &'static str) -> Config {
    Config {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(cases),
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(file))),
        max_shrink_iters: 200,
        ..Config::default()
    }
}

/// YAML pieces that exercise the loader's structure handling: anchors, aliases, merges, tags, flow
/// collections, block scalars, the inventory's own keys.
fn yaml_piece() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("all:".to_string()),
        Just("hosts:".to_string()),
        Just("children:".to_string()),
        Just("vars:".to_string()),
        Just("address: 10.0.0.1".to_string()),
        Just("port: 22".to_string()),
        Just("become: true".to_string()),
        Just("&a".to_string()),
        Just("*a".to_string()),
        Just("<<: *a".to_string()),
        Just("!!binary".to_string()),
        Just("!!str".to_string()),
        Just("? ".to_string()),
        Just("- ".to_string()),
        Just("{".to_string()),
        Just("}".to_string()),
        Just("[".to_string()),
        Just("]".to_string()),
        Just(": ".to_string()),
        Just(", ".to_string()),
        Just("|\n".to_string()),
        Just(">-\n".to_string()),
        Just("'quoted'".to_string()),
        Just("\"dq\\u00e9\"".to_string()),
        Just("$ANSIBLE_VAULT;1.1;AES256".to_string()),
        Just("\n".to_string()),
        Just("\n  ".to_string()),
        Just("\n    ".to_string()),
        Just("\t".to_string()),
        Just("~".to_string()),
        Just("# comment".to_string()),
        "[a-z0-9_.-]{1,8}",
        any::<char>().prop_map(|c| c.to_string()),
    ]
}

fn mutate(base: &str, edits: &[(usize, usize, String)]) -> String {
    let mut text = base.to_string();
    for (at, remove, insert) in edits {
        let mut start = at % (text.len() + 1);
        while !text.is_char_boundary(start) {
            start -= 1;
        }
        let mut end = (start + remove % 64).min(text.len());
        while !text.is_char_boundary(end) {
            end += 1;
        }
        text.replace_range(start..end, insert);
    }
    text
}

fn parse_inventory(text: String) -> Result<(), TestCaseError> {
    bounded(Duration::from_secs(5), "Inventory::parse", move || {
        let _ = runbook::inventory::Inventory::parse(&text, Path::new("fuzz.yaml"));
    })
}

fn compile_playbook(text: String) -> Result<(), TestCaseError> {
    bounded(Duration::from_secs(5), "engine::compile", move || {
        // The playbook engine's parsing settings, without a run behind it: compile never calls a function.
        let mut engine = rhai::Engine::new();
        engine.set_strict_variables(true);
        engine.set_max_expr_depths(256, 256);
        let mut scope = rhai::Scope::new();
        scope.push_constant("vars", rhai::Map::new());
        scope.push_constant("check_mode", false);
        scope.push_constant("diff_mode", false);
        let _ = runbook::engine::compile(&engine, &scope, &text, Path::new("fuzz.rhai"));
    })
}

const SHIPPED_INVENTORY: &str = include_str!("../playbooks/inventory.yaml");
const SHIPPED_PLAYBOOK: &str = include_str!("../playbooks/prepare-hosts.rhai");

proptest! {
    #![proptest_config(config(96, "tests/fuzz-regressions/inventory_pieces.txt"))]
    #[test]
    fn the_inventory_loader_survives_generated_yaml(pieces in prop::collection::vec(yaml_piece(), 0..120)) {
        parse_inventory(pieces.concat())?;
    }
}

proptest! {
    #![proptest_config(config(64, "tests/fuzz-regressions/inventory_mutations.txt"))]
    #[test]
    fn the_inventory_loader_survives_a_mutated_real_inventory(
        edits in prop::collection::vec((any::<usize>(), any::<usize>(), prop_oneof![yaml_piece(), "\\PC{0,12}"]), 1..8)
    ) {
        parse_inventory(mutate(SHIPPED_INVENTORY, &edits))?;
    }
}

proptest! {
    #![proptest_config(config(64, "tests/fuzz-regressions/inventory_bytes.txt"))]
    #[test]
    fn the_inventory_loader_survives_arbitrary_text(text in "\\PC{0,400}") {
        parse_inventory(text)?;
    }
}

fn rhai_piece() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("task(\"t\", hosts(), |h| {".to_string()),
        Just("h.run(\"true\")".to_string()),
        Just("h.template(\"templates/x.j2\", \"/x\")".to_string()),
        Just("let x = ".to_string()),
        Just("x".to_string()),
        Just("#{ a: 1 }".to_string()),
        Just("`${".to_string()),
        Just("`".to_string()),
        Just("}".to_string()),
        Just("{".to_string()),
        Just("(".to_string()),
        Just(")".to_string()),
        Just("[".to_string()),
        Just("]".to_string()),
        Just(";".to_string()),
        Just("\n".to_string()),
        Just("fn f(h) { ".to_string()),
        Just("import \"stdlib/os\" as os;".to_string()),
        Just("if true {".to_string()),
        Just("while false {".to_string()),
        Just("\"str\\".to_string()),
        Just("// c".to_string()),
        Just("/* ".to_string()),
        Just("|h|".to_string()),
        Just("1 + ".to_string()),
        Just("vars.".to_string()),
        "[a-z_]{1,6}",
        any::<char>().prop_map(|c| c.to_string()),
    ]
}

proptest! {
    #![proptest_config(config(96, "tests/fuzz-regressions/playbook_pieces.txt"))]
    #[test]
    fn the_playbook_compiler_survives_generated_scripts(pieces in prop::collection::vec(rhai_piece(), 0..150)) {
        compile_playbook(pieces.concat())?;
    }
}

proptest! {
    #![proptest_config(config(48, "tests/fuzz-regressions/playbook_mutations.txt"))]
    #[test]
    fn the_playbook_compiler_survives_a_mutated_real_playbook(
        edits in prop::collection::vec((any::<usize>(), any::<usize>(), prop_oneof![rhai_piece(), "\\PC{0,12}"]), 1..8)
    ) {
        compile_playbook(mutate(SHIPPED_PLAYBOOK, &edits))?;
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    // Hand-picked cases the generators reach only rarely.
    let deep_yaml = format!("all:\n  vars:\n    x: {}1{}\n", "[".repeat(5000), "]".repeat(5000));
    parse_inventory(deep_yaml).unwrap();
    let deep_map = format!("all:\n  vars:\n    x: {}1{}\n", "{a: ".repeat(3000), "}".repeat(3000));
    parse_inventory(deep_map).unwrap();
    let deep_rhai = format!("let x = {}1{};", "(".repeat(5000), ")".repeat(5000));
    compile_playbook(deep_rhai).unwrap();
    let deep_blocks = format!("{}{}", "{ ".repeat(5000), "}".repeat(5000));
    compile_playbook(deep_blocks).unwrap();
}
