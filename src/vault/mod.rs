//! Ansible Vault, both ways: ciphertext made by `ansible-vault` opens in runbook, and runbook's opens in Ansible.
//!
//! An Ansible estate keeps its passwords in vaulted files (`group_vars/all/vault.yml`) and inline `!vault |`
//! values; refusing them meant an estate could not be used as it is. This module is the format (envelope
//! `$ANSIBLE_VAULT;1.1;AES256` or `1.2;AES256;LABEL`, PBKDF2-HMAC-SHA256 with 10000 rounds, AES-256-CTR,
//! HMAC-SHA256, hex inside hex, 80-column lines), the passwords a run was given (`--vault-id`,
//! `--vault-password-file`, `--ask-vault-pass`, `ANSIBLE_VAULT_PASSWORD_FILE`, tried in Ansible's order), and
//! the scope in which the inventory loader may decrypt. Every value decrypted is recorded as a secret so the
//! run redacts it wherever it could show. The cryptography is RustCrypto's; nothing here is hand-rolled beyond
//! the framing.

mod aes256;
mod envelope;
mod keyring;
mod password_source;
mod vault_error;
mod vault_scope;

pub use envelope::{Envelope, is_encrypted};
pub use keyring::{DEFAULT_LABEL, Decrypted, Keyring, VaultSecret};
pub use password_source::{PasswordSources, Prompt, PromptError, Purpose, read_password_source};
pub use vault_error::VaultError;
pub use vault_scope::{
    decrypt_in_scope, mark_inline, record_revealed, revealed, revealed_inline, with_keyring, without_opening,
};
