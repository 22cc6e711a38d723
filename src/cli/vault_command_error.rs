//! Why a `runbook vault` command stopped: the vault's own errors kept whole, and the command's (arguments,
//! files, the editor) each naming what it was about. Printed once, as `error: ...`, by the command.

use std::path::PathBuf;

use crate::vault::{PromptError, VaultError};

#[derive(Debug, thiserror::Error)]
pub enum VaultCommandError {
    /// A password that could not be read, a wrong one, or ciphertext that does not open.
    #[error("{0}")]
    Vault(#[from] VaultError),
    #[error("{0}")]
    Prompt(#[from] PromptError),
    #[error("a vault password is required (--vault-password-file, --ask-vault-pass or --vault-id)")]
    NoPassword,
    /// Several ids could encrypt and none was chosen (`labels`: them, comma-separated).
    #[error("the vault ids {labels} are available to encrypt; say which with --encrypt-vault-id")]
    WhichId { labels: String },
    #[error("at most one input file may be used with the --output option")]
    OutputOfSeveral,
    #[error("runbook vault create takes one file name")]
    CreateOfSeveral,
    #[error("{0} exists, please use 'edit' instead")]
    Exists(String),
    #[error("stdin was empty, not encrypting")]
    EmptyStdin,
    #[error("the plaintext provided from the command line args was empty, not encrypting")]
    EmptyArgument,
    #[error("cannot read stdin: {0}")]
    ReadStdin(#[source] std::io::Error),
    #[error("{name}: cannot read: {source}")]
    Read { name: String, source: std::io::Error },
    #[error("{0}: not valid Ansible Vault data (not text)")]
    NotText(String),
    /// `view`'s plaintext could not be written to stdout.
    #[error("{0}")]
    Print(#[source] std::io::Error),
    #[error("stdout: {0}")]
    Stdout(#[source] std::io::Error),
    #[error("{name}: cannot write: {source}")]
    Write { name: String, source: std::io::Error },
    /// The folder a new vaulted file goes in could not be made.
    #[error("{}: {source}", path.display())]
    Folder { path: PathBuf, source: std::io::Error },
    /// The private folder or file the plaintext is edited in could not be made.
    #[error("cannot create {}: {source}", path.display())]
    EditCreate { path: PathBuf, source: std::io::Error },
    #[error("cannot write {}: {source}", path.display())]
    EditWrite { path: PathBuf, source: std::io::Error },
    #[error("cannot read back {}: {source}", path.display())]
    EditReadBack { path: PathBuf, source: std::io::Error },
    #[error("EDITOR={0:?} cannot be split into a command")]
    EditorWords(String),
    #[error("unable to execute the editor {program:?}: {source}")]
    Editor { program: String, source: std::io::Error },
}
