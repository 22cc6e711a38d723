//! The vault password flags every command that loads an inventory takes (`run`, `exec`, `inventory`, `lint`,
//! `vault`), named as Ansible names them, and the one function that turns them into passwords.

use std::path::PathBuf;

use clap::Args;

use super::password_prompt;
use crate::report::Redactor;
use crate::vault::{Keyring, PasswordSources, Purpose, VaultError};

#[derive(Args, Debug, Clone, Default)]
pub struct VaultArgs {
    /// A vault password as LABEL@SOURCE (or SOURCE for the label `default`): SOURCE is a file, an executable that
    /// prints the password, or `prompt`. Repeatable; the ids whose label matches a vaulted value are tried first.
    #[arg(long = "vault-id", value_name = "[LABEL@]SOURCE")]
    pub vault_ids: Vec<String>,
    /// A file holding the vault password (run, when it is executable, to print it). Repeatable. Else
    /// ANSIBLE_VAULT_PASSWORD_FILE.
    #[arg(long = "vault-password-file", visible_alias = "vault-pass-file", value_name = "FILE")]
    pub vault_password_files: Vec<PathBuf>,
    /// Ask for the vault password once, without echo (the first line of stdin when it is not a terminal).
    #[arg(short = 'J', long = "ask-vault-pass", visible_alias = "ask-vault-password")]
    pub ask_vault_pass: bool,
}

/// What ansible.cfg says about vault passwords (`[defaults] vault_password_file`, `vault_identity_list`); the
/// environment variables win over it, as in Ansible.
#[derive(Debug, Clone, Default)]
pub struct VaultConfig {
    pub password_file: Option<PathBuf>,
    pub identity_list: Vec<String>,
}

impl VaultConfig {
    /// ansible.cfg's `vault_password_file` and `vault_identity_list`, for every command that takes the vault flags.
    /// A malformed ansible.cfg is reported by the command that reads it for its other keys, not here.
    pub fn configured() -> VaultConfig {
        super::ansible_config::AnsibleConfig::load().map(|config| VaultConfig::of(&config)).unwrap_or_default()
    }

    /// The vault keys of an ansible.cfg a command has already read.
    pub fn of(config: &super::ansible_config::AnsibleConfig) -> VaultConfig {
        VaultConfig {
            password_file: config.vault_password_file.clone(),
            identity_list: config.vault_identity_list.clone(),
        }
    }
}

impl VaultArgs {
    /// The sources these flags, the environment and `config` name, in Ansible's order.
    pub fn sources(&self, config: VaultConfig) -> PasswordSources {
        PasswordSources {
            vault_ids: self.vault_ids.clone(),
            password_files: self.vault_password_files.clone(),
            ask_vault_pass: self.ask_vault_pass,
            ..PasswordSources::default()
        }
        .with_environment(config.password_file, config.identity_list)
    }

    /// The passwords to open vaulted data with, read and asked for now (before any host is contacted). No source
    /// at all is an empty keyring: an estate without vault needs none, and vaulted data then says what to pass.
    pub fn keyring(&self, config: VaultConfig) -> Result<Keyring, VaultError> {
        keyring_from(&self.sources(config), Purpose::Open, false)
    }
}

/// Reads, runs and asks the `sources` (a failing one is a warning on stderr while another works).
/// `auto_prompt`: with no source at all, ask (`runbook vault` does; a run does not).
pub fn keyring_from(sources: &PasswordSources, purpose: Purpose, auto_prompt: bool) -> Result<Keyring, VaultError> {
    let mut prompt = |text: &str| password_prompt::ask(text);
    let mut warn = |message: &str| eprintln!("warning: {message}");
    sources.keyring(purpose, auto_prompt, &mut prompt, &mut warn)
}

/// `text` with every one of `revealed` (what a vault scope decrypted) hidden: for an error or a report printed
/// before a run's redactor exists.
pub(crate) fn redacted(revealed: &[String], text: &str) -> String {
    let redactor = Redactor::new();
    revealed.iter().for_each(|secret| redactor.add(secret));
    redactor.redact(text)
}
