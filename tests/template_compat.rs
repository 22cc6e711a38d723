//! Templates render exactly as Ansible renders them: every template in tests/fixtures/templates/templates is
//! rendered by the real ansible-core (the `template` module, through `ansible-playbook` on a local connection,
//! from the venv scripts/install-deps --for-tests creates) and by runbook's template environment with the same variables,
//! inventory and host, and the two outputs must be byte-identical.
//!
//! The templates were written for this test to cover what the templates of kubespray, kubeasz and well-known
//! roles use: block handling, trailing newlines, Ansible's filters, tests, lookups, Python methods and
//! variables, and `bool`. A template Ansible renders but runbook cannot yet is listed in `NOT_YET` with the
//! reason (README "Templates" says the same); the test fails if such a template starts to match, so the list
//! stays true.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

const ANSIBLE_PLAYBOOK: &str = "/opt/runbook-test-tools/bin/ansible-playbook";
const HOST: &str = "web1.example.com";
const ENV_VAR: (&str, &str) = ("RUNBOOK_COMPAT_TEST_VAR", "from the environment");

/// Templates runbook does not render as Ansible does yet, and why.
const NOT_YET: &[(&str, &str)] = &[];

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/templates")
}

fn templates() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(fixtures().join("templates"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".j2"))
        .collect();
    names.sort();
    names
}

const INVENTORY: &str = "\
[web]
web1.example.com ip=10.0.0.11
web2 ip=10.0.0.12

[db]
db1 ip=10.0.0.21

[all:vars]
ansible_connection=local
ansible_python_interpreter=/opt/runbook-test-tools/bin/python3
";

const PLAYBOOK: &str = "\
- hosts: web1.example.com
  gather_facts: false
  tasks:
    - name: render every template
      ansible.builtin.template:
        src: \"templates/{{ item }}\"
        dest: \"{{ compat_out_dir }}/{{ item }}\"
      loop: \"{{ compat_templates }}\"
      ignore_errors: true
";

/// The fixtures in a scratch folder laid out as a playbook folder (templates/, files/), as both tools see it.
fn workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for sub in ["templates", "files"] {
        std::fs::create_dir_all(dir.path().join(sub)).unwrap();
        for entry in std::fs::read_dir(fixtures().join(sub)).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), dir.path().join(sub).join(entry.file_name())).unwrap();
        }
    }
    std::fs::copy(fixtures().join("vars.yml"), dir.path().join("vars.yml")).unwrap();
    std::fs::write(dir.path().join("inventory.ini"), INVENTORY).unwrap();
    std::fs::write(dir.path().join("playbook.yml"), PLAYBOOK).unwrap();
    std::fs::create_dir_all(dir.path().join("ansible-out")).unwrap();
    dir
}

fn render_with_ansible(dir: &Path, names: &[String]) -> BTreeMap<String, Vec<u8>> {
    assert!(
        Path::new(ANSIBLE_PLAYBOOK).exists(),
        "{ANSIBLE_PLAYBOOK} is missing: run scripts/install-deps --for-tests (it installs ansible-core into /opt/runbook-test-tools)"
    );
    let extra = json!({ "compat_out_dir": dir.join("ansible-out"), "compat_templates": names });
    let output = Command::new(ANSIBLE_PLAYBOOK)
        .current_dir(dir)
        .args(["-i", "inventory.ini", "playbook.yml", "-e", "@vars.yml", "-e", &extra.to_string()])
        .env(ENV_VAR.0, ENV_VAR.1)
        .env("ANSIBLE_NOCOLOR", "1")
        .env("ANSIBLE_LOCALHOST_WARNING", "false")
        .env("ANSIBLE_DEPRECATION_WARNINGS", "false")
        .env("ANSIBLE_HOME", dir.join(".ansible"))
        .env("ANSIBLE_LOCAL_TEMP", dir.join(".ansible/tmp"))
        .output()
        .expect("ansible-playbook runs");
    let log = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    let mut rendered = BTreeMap::new();
    for name in names {
        match std::fs::read(dir.join("ansible-out").join(name)) {
            Ok(bytes) => {
                rendered.insert(name.clone(), bytes);
            }
            Err(_) => panic!("Ansible did not render {name} (the fixtures must be valid for Ansible):\n{log}"),
        }
    }
    rendered
}

/// The context runbook's template primitive builds for web1.example.com in the same inventory.
fn runbook_context(dir: &Path) -> Value {
    let mut groups = indexmap::IndexMap::new();
    groups.insert("all".to_string(), vec![HOST.to_string(), "web2".to_string(), "db1".to_string()]);
    groups.insert("ungrouped".to_string(), vec![]);
    groups.insert("web".to_string(), vec![HOST.to_string(), "web2".to_string()]);
    groups.insert("db".to_string(), vec!["db1".to_string()]);
    let mut hostvars = serde_json::Map::new();
    for (name, ip) in [(HOST, "10.0.0.11"), ("web2", "10.0.0.12"), ("db1", "10.0.0.21")] {
        hostvars.insert(name.into(), json!({ "ip": ip, "inventory_hostname": name }));
    }
    let view = runbook::template::HostView { name: HOST, groups: &groups, hostvars, facts: None };
    let mut context = runbook::template::ansible_variables(&view);
    context.insert("playbook_dir".into(), json!(dir));
    let vars: Value = serde_saphyr::from_str(&std::fs::read_to_string(dir.join("vars.yml")).unwrap()).unwrap();
    context.extend(vars.as_object().unwrap().clone());
    Value::Object(context)
}

#[test]
fn every_template_renders_byte_for_byte_as_ansible_renders_it() {
    let dir = workspace();
    let names = templates();
    assert!(names.len() >= 30, "at least 30 compatibility templates, found {}", names.len());
    let expected = render_with_ansible(dir.path(), &names);
    // SAFETY: std serializes its own reads and writes of the environment, and the other tests of this binary
    // read it only through std (Command, env::var); nothing here calls libc getenv behind std's back.
    unsafe { std::env::set_var(ENV_VAR.0, ENV_VAR.1) };
    let context = runbook_context(dir.path());
    let mut failures = Vec::new();
    let mut matched = 0;
    for name in &names {
        let source = std::fs::read_to_string(dir.path().join("templates").join(name)).unwrap();
        let ours = runbook::template::render_text(name, &source, &context);
        let theirs = String::from_utf8_lossy(&expected[name]).into_owned();
        let not_yet = NOT_YET.iter().find(|(n, _)| n == name);
        match (&ours, not_yet) {
            (Ok(text), None) if *text == theirs => matched += 1,
            (Ok(text), Some((_, why))) if *text == theirs => {
                failures.push(format!("{name} now matches Ansible: take it off NOT_YET ({why})"))
            }
            (_, Some(_)) => {}
            (Ok(text), None) => failures.push(format!(
                "{name} differs from Ansible:\n{}",
                similar::TextDiff::from_lines(theirs.as_str(), text.as_str())
                    .unified_diff()
                    .header("ansible", "runbook")
            )),
            (Err(error), None) => failures.push(format!("{name} fails in runbook, not in Ansible: {error}")),
        }
    }
    assert!(failures.is_empty(), "{} of {} templates:\n\n{}", failures.len(), names.len(), failures.join("\n\n"));
    assert_eq!(matched + NOT_YET.len(), names.len());
}
