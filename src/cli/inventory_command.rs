//! `runbook inventory`: show what an inventory means before running anything against it.
//!
//! `--graph` for the group tree, `--host` for one host's merged variables (what a playbook sees as `h.vars`,
//! plus the connection settings under runbook's names), `--list` for Ansible's `--list` JSON shape.

use std::io::{IsTerminal, Write};

use miette::{Diagnostic, GraphicalReportHandler, GraphicalTheme};

use super::ansible_config::{AnsibleConfig, AnsibleConfigError};
use super::exit_code;
use super::{InventoryArgs, VaultConfig};
use crate::inventory::{Inventory, InventoryError, merge_extra_vars};
use crate::report::Redactor;

pub fn run(args: InventoryArgs) -> i32 {
    let keyring = match args.vault.keyring(VaultConfig::configured()) {
        Ok(keyring) => keyring,
        Err(error) => {
            eprintln!("error: {error}");
            return exit_code::USAGE;
        }
    };
    let (shown, revealed) = crate::vault::with_keyring(keyring, || show(&args));
    match shown {
        Ok(text) => {
            // A closed pipe (`| head`) is not an error worth a panic.
            let _ = std::io::stdout().lock().write_all(text.as_bytes());
            exit_code::OK
        }
        Err(error) => {
            // An error may quote a value (`found ...`) that a vaulted file held.
            eprint!("{}", super::vault_options::redacted(&revealed, &render_error(&error)));
            exit_code::USAGE
        }
    }
}

/// The inventory (-i, else ansible.cfg's) with its connection settings, `--playbook-dir`'s folders and `-e`,
/// loaded in the caller's vault scope.
fn load(args: &InventoryArgs) -> Result<Inventory, InventoryCommandError> {
    let config = AnsibleConfig::load()?;
    if let Some(note) = config.note() {
        eprintln!("{note}");
    }
    let sources = config.inventory_sources(&args.inventory)?;
    let mut inventory = Inventory::load_all(&sources)?;
    inventory.set_connection_defaults(config.connection_defaults(None)?)?;
    if let Some(dir) = &args.playbook_dir {
        inventory.load_playbook_vars(dir)?;
    }
    let cwd = std::env::current_dir().unwrap_or_default();
    let extra = merge_extra_vars(&args.extra_vars, &cwd)?;
    inventory.apply_extra_vars(&extra)?;
    Ok(inventory)
}

/// What `runbook inventory` prints for a failure: ansible.cfg's or the inventory's error, each drawn as miette
/// draws a diagnostic (the inventory's with its line underlined).
#[derive(Debug, thiserror::Error, Diagnostic)]
enum InventoryCommandError {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Config(#[from] AnsibleConfigError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Inventory(#[from] InventoryError),
}

fn show(args: &InventoryArgs) -> Result<String, InventoryCommandError> {
    let inventory = load(args)?;
    // Vaulted values are secrets here too: shown as *** (what they decrypt to is checked with `vault view`).
    let redactor = Redactor::new();
    inventory.vault_secrets().iter().for_each(|secret| redactor.add(secret));
    let pretty = |value: &serde_json::Value| {
        let mut value = value.clone();
        redactor.redact_json(&mut value);
        pretty(&value)
    };
    let selected = args.limit.as_deref().map(|limit| inventory.select(limit)).transpose()?;
    if args.graph {
        return Ok(inventory.graph());
    }
    if let Some(name) = &args.host {
        let host = inventory.host(name).ok_or_else(|| {
            let hint =
                inventory.nearest_name(name).map(|near| format!(" (did you mean {near:?}?)")).unwrap_or_default();
            InventoryError::new(format!("no host named {name:?}{hint}")).in_file(inventory.path())
        })?;
        if let Some(selected) = &selected
            && !selected.contains(name)
        {
            return Err(InventoryError::new(format!("host {name:?} is not in --limit")).into());
        }
        let mut vars = host.vars.clone();
        vars.extend(host.connection.to_vars());
        return Ok(pretty(&serde_json::to_value(&vars).unwrap_or_default()));
    }
    if args.list {
        return Ok(pretty(&inventory.list_json(selected.as_deref())));
    }
    Err(InventoryError::new("say what to show: --graph, --host NAME or --list").into())
}

fn pretty(value: &serde_json::Value) -> String {
    let mut text = serde_json::to_string_pretty(value).unwrap_or_default();
    text.push('\n');
    text
}

/// The miette report, without colour when stderr is not a terminal or `NO_COLOR` is set.
pub(crate) fn render_error(error: &dyn Diagnostic) -> String {
    let plain = std::env::var_os("NO_COLOR").is_some() || !std::io::stderr().is_terminal();
    let theme = if plain { GraphicalTheme::unicode_nocolor() } else { GraphicalTheme::unicode() };
    let mut out = String::new();
    if GraphicalReportHandler::new_themed(theme).render_report(&mut out, error).is_err() {
        out = format!("error: {error}\n");
    }
    out
}
