//! What can go wrong with vaulted data, as one typed error: the caller learns whether the password was wrong, the
//! data was not vault data, or no password was given, and the message names the file (and line) it was in.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    /// Every password given was tried; none opened it (the HMAC did not match).
    #[error("no vault password given could decrypt it (tried vault ids: {})", .tried.join(", "))]
    WrongPassword { tried: Vec<String> },
    /// Vaulted data was found but the run was given no vault password at all.
    #[error(
        "it is vault-encrypted, and no vault password was given: pass --vault-password-file FILE, \
         --ask-vault-pass or --vault-id LABEL@SOURCE (or set ANSIBLE_VAULT_PASSWORD_FILE)"
    )]
    NoPassword,
    /// Vaulted data met in a scope that must not open it ([`crate::vault::without_opening`]).
    #[error("vaulted data is not opened here")]
    NotOpened,
    /// Not a well-formed vault envelope or payload.
    #[error("not valid Ansible Vault data: {0}")]
    Format(String),
    /// A password could not be obtained (missing file, failing script, empty password, ...).
    #[error("{0}")]
    Password(String),
    /// Anything else a vault command refuses (already encrypted, no such vault id to encrypt with, ...).
    #[error("{0}")]
    Refused(String),
    /// One of the above, in a file (and at a line of it, for an inline value).
    #[error("{}{}: {source}", .file.display(), .line.map(|line| format!(":{line}")).unwrap_or_default())]
    At { file: PathBuf, line: Option<usize>, source: Box<VaultError> },
}

impl VaultError {
    /// This error, as found in `file` (at `line` when known).
    pub fn at(self, file: impl Into<PathBuf>, line: Option<usize>) -> VaultError {
        VaultError::At { file: file.into(), line, source: Box::new(self) }
    }

    /// The error without its file and line (for callers that report the position their own way).
    pub fn cause(&self) -> &VaultError {
        match self {
            VaultError::At { source, .. } => source.cause(),
            other => other,
        }
    }

    pub fn is_wrong_password(&self) -> bool {
        matches!(self.cause(), VaultError::WrongPassword { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_names_the_file_and_line() {
        let error =
            VaultError::WrongPassword { tried: vec!["default".into(), "prod".into()] }.at("gv/all.yml", Some(3));
        assert_eq!(
            error.to_string(),
            "gv/all.yml:3: no vault password given could decrypt it (tried vault ids: default, prod)"
        );
        assert!(error.is_wrong_password());
        let error = VaultError::Format("odd".into()).at("x.yml", None);
        assert_eq!(error.to_string(), "x.yml: not valid Ansible Vault data: odd");
        assert!(!error.is_wrong_password());
    }
}
