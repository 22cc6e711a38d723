//! The vault passwords of a run, each under its vault id (label), and Ansible's rules for using them: to decrypt,
//! the passwords whose label matches the envelope's are tried first, then every other one in the order given
//! (`DEFAULT_VAULT_ID_MATCH` off, Ansible's default); to encrypt, the one named, else the first.

use std::fmt;

use super::aes256;
use super::envelope::{CIPHER, Envelope, is_encrypted};
use super::vault_error::VaultError;

/// The label of a password given without one (`--vault-password-file`, `--ask-vault-pass`), and the label a 1.1
/// envelope is read as.
pub const DEFAULT_LABEL: &str = "default";

/// One password and its vault id. `Debug` never shows the password.
#[derive(Clone, PartialEq, Eq)]
pub struct VaultSecret {
    pub label: String,
    password: Vec<u8>,
}

impl VaultSecret {
    pub fn new(label: impl Into<String>, password: impl Into<Vec<u8>>) -> VaultSecret {
        VaultSecret { label: label.into(), password: password.into() }
    }

    pub fn password(&self) -> &[u8] {
        &self.password
    }

    /// `plaintext` encrypted under this password, labelled with this vault id (1.2 unless it is `default`).
    pub fn encrypt(&self, plaintext: &[u8]) -> Result<String, VaultError> {
        if std::str::from_utf8(plaintext).is_ok_and(is_encrypted) {
            return Err(VaultError::Refused("input is already encrypted".into()));
        }
        let salt: [u8; aes256::SALT_LEN] = rand::random();
        let payload = aes256::encrypt(plaintext, &self.password, &salt);
        Ok(Envelope::new(payload, Some(&self.label)).format())
    }
}

impl fmt::Debug for VaultSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VaultSecret({}, <password hidden>)", self.label)
    }
}

/// The plaintext of a vault text, the password that opened it, and the label the text carried (`default` for a
/// 1.1 text): `edit` writes the file back under the same label with the same password, as `ansible-vault` does.
#[derive(Debug)]
pub struct Decrypted {
    pub plaintext: Vec<u8>,
    pub secret: VaultSecret,
    pub envelope_label: String,
}

/// Every password a run was given, in the order Ansible would try them.
#[derive(Debug, Clone, Default)]
pub struct Keyring {
    secrets: Vec<VaultSecret>,
}

impl Keyring {
    pub fn new(secrets: Vec<VaultSecret>) -> Keyring {
        Keyring { secrets }
    }

    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }

    pub fn secrets(&self) -> &[VaultSecret] {
        &self.secrets
    }

    /// Opens `text` (a whole vault text, header included).
    pub fn decrypt(&self, text: &str) -> Result<Decrypted, VaultError> {
        let envelope = Envelope::parse(text)?;
        if envelope.cipher != CIPHER {
            return Err(VaultError::Format(format!("cipher {:?} is not supported (only {CIPHER})", envelope.cipher)));
        }
        if self.secrets.is_empty() {
            return Err(VaultError::NoPassword);
        }
        let wanted = envelope.label.as_deref().unwrap_or(DEFAULT_LABEL);
        let matching = self.secrets.iter().filter(|secret| secret.label == wanted);
        let others = self.secrets.iter().filter(|secret| secret.label != wanted);
        let mut tried = Vec::new();
        for secret in matching.chain(others) {
            match aes256::decrypt(&envelope.payload, &secret.password) {
                Ok(plaintext) => {
                    return Ok(Decrypted { plaintext, secret: secret.clone(), envelope_label: wanted.to_string() });
                }
                Err(aes256::Failure::Mismatch) => {
                    if !tried.contains(&secret.label) {
                        tried.push(secret.label.clone());
                    }
                }
                Err(failure) => return Err(failure.into()),
            }
        }
        Err(VaultError::WrongPassword { tried })
    }

    /// Opens `text` whose plaintext must be UTF-8 text (a vars file, an inline value).
    pub fn decrypt_text(&self, text: &str) -> Result<String, VaultError> {
        let decrypted = self.decrypt(text)?;
        String::from_utf8(decrypted.plaintext)
            .map_err(|_| VaultError::Format("the decrypted data is not UTF-8 text".into()))
    }

    /// The password to encrypt with: the one labelled `label` (Ansible's `--encrypt-vault-id`), else the first.
    pub fn for_encrypt(&self, label: Option<&str>) -> Result<&VaultSecret, VaultError> {
        match label {
            Some(label) => self.secrets.iter().find(|secret| secret.label == label).ok_or_else(|| {
                let known: Vec<&str> = self.secrets.iter().map(|secret| secret.label.as_str()).collect();
                VaultError::Refused(format!(
                    "no vault id {label:?} to encrypt with (the vault ids given: {})",
                    if known.is_empty() { "none".to_string() } else { known.join(", ") }
                ))
            }),
            None => self.secrets.first().ok_or(VaultError::NoPassword),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURE_PASSWORD: &str = "fixture-throwaway-1";
    const PROD_PASSWORD: &str = "prod-throwaway-2";
    const SECRETS_PLAIN: &str = "db_password: \"s3cret-from-vault\"\ndb_user: app\nports: [5432, 6432]\n";

    fn fixture(name: &str) -> String {
        std::fs::read_to_string(format!("{}/tests/fixtures/vault/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    }

    /// The value of an `encrypt_string` fixture: the indented block after `name: !vault |`.
    fn inline_value(name: &str) -> String {
        fixture(name).lines().skip(1).map(|line| format!("{}\n", line.trim())).collect()
    }

    fn keyring(secrets: &[(&str, &str)]) -> Keyring {
        Keyring::new(secrets.iter().map(|(label, password)| VaultSecret::new(*label, password.as_bytes())).collect())
    }

    #[test]
    fn files_made_by_ansible_vault_decrypt() {
        let ring = keyring(&[("default", FIXTURE_PASSWORD)]);
        assert_eq!(ring.decrypt_text(&fixture("secrets-1.1.yml")).unwrap(), SECRETS_PLAIN);
        assert_eq!(ring.decrypt(&fixture("one-byte.vault")).unwrap().plaintext, b"x");
        let ring = keyring(&[("prod", PROD_PASSWORD)]);
        let opened = ring.decrypt(&fixture("secrets-1.2-prod.yml")).unwrap();
        assert_eq!(
            (String::from_utf8(opened.plaintext).unwrap().as_str(), opened.secret.label.as_str()),
            (SECRETS_PLAIN, "prod")
        );
    }

    #[test]
    fn inline_values_made_by_ansible_vault_decrypt() {
        let ring = keyring(&[("default", FIXTURE_PASSWORD), ("prod", PROD_PASSWORD)]);
        assert_eq!(ring.decrypt_text(&inline_value("inline.yml")).unwrap(), "inline-s3cret");
        assert_eq!(ring.decrypt_text(&inline_value("inline-prod.yml")).unwrap(), "multi\nline\nvalue");
    }

    #[test]
    fn the_matching_label_is_tried_first_then_the_others() {
        // A 1.2 `prod` text opens with a password under another label too (the label is only a hint).
        let ring = keyring(&[("dev", "nope"), ("other", PROD_PASSWORD)]);
        let opened = ring.decrypt(&fixture("secrets-1.2-prod.yml")).unwrap();
        assert_eq!((opened.secret.label.as_str(), opened.envelope_label.as_str()), ("other", "prod"));
        let ring = keyring(&[("dev", "nope"), ("prod", "also-wrong")]);
        match ring.decrypt(&fixture("secrets-1.2-prod.yml")) {
            Err(VaultError::WrongPassword { tried }) => assert_eq!(tried, ["prod", "dev"]),
            other => panic!("{other:?}"),
        }
        assert!(matches!(Keyring::default().decrypt(&fixture("secrets-1.1.yml")), Err(VaultError::NoPassword)));
        assert!(matches!(
            ring.decrypt("$ANSIBLE_VAULT;1.1;AES128\nabcd\n"),
            Err(VaultError::Format(message)) if message.contains("AES128")
        ));
    }

    #[test]
    fn encrypting_picks_the_named_id_and_labels_the_envelope() {
        let ring = keyring(&[("default", "a"), ("prod", "b")]);
        let text = ring.for_encrypt(Some("prod")).unwrap().encrypt(b"hello").unwrap();
        assert!(text.starts_with("$ANSIBLE_VAULT;1.2;AES256;prod\n"), "{text}");
        assert_eq!(ring.decrypt(&text).unwrap().plaintext, b"hello");
        let text = ring.for_encrypt(None).unwrap().encrypt(b"").unwrap();
        assert!(text.starts_with("$ANSIBLE_VAULT;1.1;AES256\n"), "{text}");
        assert_eq!(ring.decrypt(&text).unwrap().plaintext, b"");
        assert!(ring.for_encrypt(Some("qa")).unwrap_err().to_string().contains("default, prod"));
        assert!(ring.for_encrypt(None).unwrap().encrypt(text.as_bytes()).is_err());
        let shown = format!("{:?}", keyring(&[("prod", "hunter2")]));
        assert_eq!(shown, "Keyring { secrets: [VaultSecret(prod, <password hidden>)] }");
    }
}
