//! The integration tests, as one test binary with a module per area (as just and ripgrep do): each `tests/*.rs`
//! linked on its own cost a full link of the crate per file, the largest part of the suite's build on 2 cores.
//! Every module shares `support` (the lab and the `Test` builder); labs are shared by name across modules.

#[macro_use]
mod support;

mod ansible_site;
mod bad_input;
mod bundle_el;
mod check_share_recap;
mod connection_holder;
mod day2;
mod docs;
mod flow_bundle;
mod flow_part1;
mod flow_part2;
mod flow_versions;
mod history;
mod idioms;
mod init;
mod inventory;
mod inventory_layout;
mod lab;
mod lab_demo;
mod layering;
mod light_lab;
mod lint;
mod lint_in_ci;
mod packaging;
mod run;
mod sites;
mod ssh_auth;
mod ssh_reach;
mod template_compat;
mod trust_faults;
mod trust_security;
mod vault;

/// `autotests = false` builds only the modules listed above: a new `tests/*.rs` left out of this list would never
/// run, silently. This keeps the list and the folder the same.
#[test]
fn every_test_file_is_a_module_of_this_binary() {
    let tests = support::repo_root().join("tests");
    let listed = std::fs::read_to_string(tests.join("main.rs")).unwrap();
    let mut missing = Vec::new();
    for entry in std::fs::read_dir(&tests).unwrap() {
        let path = entry.unwrap().path();
        let Some(name) = path.file_stem().and_then(|stem| stem.to_str()) else { continue };
        if path.extension().is_some_and(|ext| ext == "rs")
            && name != "main"
            && !listed.contains(&format!("\nmod {name};\n"))
        {
            missing.push(name.to_string());
        }
    }
    assert!(missing.is_empty(), "tests/*.rs not declared in tests/main.rs (so never built): {missing:?}");
}
