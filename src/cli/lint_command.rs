//! `runbook lint`: check playbooks, templates and an inventory without touching a host; exit 0 when clean,
//! 1 when something is wrong (warnings too with --strict), 2 when the command line is.

use std::io::IsTerminal;

use super::ansible_config::AnsibleConfig;
use super::{LintArgs, LintFormat, VaultConfig};
use crate::lint::{Format, LintRequest, lint, render, summary};

/// Lint's usage errors exit 2 (1 means "the playbooks have errors", which CI must tell apart).
pub const USAGE: i32 = 2;

pub fn run(args: LintArgs) -> i32 {
    // Without -i, the inventory ansible.cfg names (when it names one source) is checked, as `run` would use it.
    let inventory = match args.inventory {
        Some(path) => Some(path),
        None => match AnsibleConfig::load() {
            Ok(config) => match config.inventory.as_slice() {
                [one] => Some(one.clone()),
                _ => None,
            },
            Err(error) => {
                eprintln!("runbook lint: {error}");
                return USAGE;
            }
        },
    };
    let keyring = match args.vault.keyring(VaultConfig::configured()) {
        Ok(keyring) => keyring,
        Err(error) => {
            eprintln!("runbook lint: {error}");
            return USAGE;
        }
    };
    let request = LintRequest { paths: args.paths, inventory, tags: args.tags, extra_vars: args.extra_vars };
    // The inventory may hold vaulted values: lint opens them as a run would.
    let (report, revealed) = crate::vault::with_keyring(keyring, || lint(&request));
    let report = match report {
        Ok(report) => report,
        Err(error) => {
            eprintln!("runbook lint: {error}");
            return USAGE;
        }
    };
    let format = match args.format {
        LintFormat::Human => Format::Human { color: std::io::stdout().is_terminal() },
        LintFormat::Github => Format::Github,
        LintFormat::Json => Format::Json,
        LintFormat::Sarif => Format::Sarif,
    };
    // A finding may quote a value a vaulted file held (an inventory error's `found ...`).
    print!("{}", super::vault_options::redacted(&revealed, &render(&report.findings, format)));
    let line = summary(&report.findings, report.files);
    // The summary goes with the findings for people; machine formats keep stdout to findings only.
    if !matches!(format, Format::Human { .. }) {
        eprintln!("{line}");
    } else {
        println!("{line}");
    }
    let failed = report.errors() > 0 || (args.strict && report.warnings() > 0);
    i32::from(failed)
}
