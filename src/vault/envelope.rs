//! The text around the ciphertext: the `$ANSIBLE_VAULT;VERSION;CIPHER[;LABEL]` header line and the hexlified
//! payload cut into 80-column lines, exactly as `ansible-vault` writes and reads it.

use super::vault_error::VaultError;

/// What every vaulted text starts with (Ansible's `is_encrypted`: a prefix test, nothing trimmed).
pub const HEADER: &str = "$ANSIBLE_VAULT";

/// The only cipher Ansible has ever written and still reads.
pub const CIPHER: &str = "AES256";

/// Payload lines are this wide, as `ansible-vault` cuts them.
const WIDTH: usize = 80;

/// A parsed vault text: its header fields and the payload (the hex text, lines joined).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub version: String,
    pub cipher: String,
    /// The vault id of a 1.2 envelope (`$ANSIBLE_VAULT;1.2;AES256;prod`); `None` for 1.1.
    pub label: Option<String>,
    pub payload: String,
}

/// Whether `text` is vault ciphertext (starts with the header, as Ansible tests it).
pub fn is_encrypted(text: &str) -> bool {
    text.starts_with(HEADER)
}

impl Envelope {
    /// Reads the header and joins the payload lines (whitespace at the ends of lines is tolerated, as a pasted
    /// inline value often carries it).
    pub fn parse(text: &str) -> Result<Envelope, VaultError> {
        if !is_encrypted(text) {
            return Err(VaultError::Format(format!("it does not start with {HEADER}")));
        }
        let mut lines = text.lines();
        let header = lines.next().unwrap_or_default().trim();
        let fields: Vec<&str> = header.split(';').map(str::trim).collect();
        if fields.len() < 3 || fields[0] != HEADER {
            return Err(VaultError::Format(format!("the header {header:?} is not $ANSIBLE_VAULT;VERSION;CIPHER")));
        }
        let label = fields.get(3).map(|label| label.to_string()).filter(|label| !label.is_empty());
        let payload: String = lines.map(str::trim).collect();
        if payload.is_empty() {
            return Err(VaultError::Format("there is no ciphertext after the header".into()));
        }
        Ok(Envelope { version: fields[1].to_string(), cipher: fields[2].to_string(), label, payload })
    }

    /// An envelope for `payload`: 1.1 without a label or with the label `default`, else 1.2 with it (Ansible's
    /// `format_vaulttext_envelope`).
    pub fn new(payload: String, label: Option<&str>) -> Envelope {
        let label = label.filter(|label| !label.is_empty() && *label != super::DEFAULT_LABEL).map(str::to_string);
        let version = if label.is_some() { "1.2" } else { "1.1" };
        Envelope { version: version.to_string(), cipher: CIPHER.to_string(), label, payload }
    }

    /// The text `ansible-vault` would write: header, 80-column payload lines, a final newline.
    pub fn format(&self) -> String {
        let mut out = format!("{HEADER};{};{}", self.version, self.cipher);
        if self.version == "1.2"
            && let Some(label) = &self.label
        {
            out.push(';');
            out.push_str(label);
        }
        out.push('\n');
        let bytes = self.payload.as_bytes();
        for line in bytes.chunks(WIDTH) {
            // The payload is hex, so every chunk boundary is a character boundary.
            out.push_str(std::str::from_utf8(line).unwrap_or_default());
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_of_both_versions_are_read() {
        let one = Envelope::parse("$ANSIBLE_VAULT;1.1;AES256\nabcd\nef01\n").unwrap();
        assert_eq!((one.version.as_str(), one.cipher.as_str(), one.label.as_deref()), ("1.1", "AES256", None));
        assert_eq!(one.payload, "abcdef01");
        let two = Envelope::parse("$ANSIBLE_VAULT;1.2;AES256;prod\r\nabcd  \n").unwrap();
        assert_eq!(two.label.as_deref(), Some("prod"));
        assert_eq!(two.payload, "abcd");
    }

    #[test]
    fn malformed_envelopes_are_refused() {
        for bad in ["", "hello", "$ANSIBLE_VAULT\nabcd", "$ANSIBLE_VAULT;1.1\nab", "$ANSIBLE_VAULT;1.1;AES256\n"] {
            assert!(matches!(Envelope::parse(bad), Err(VaultError::Format(_))), "{bad:?}");
        }
        assert!(!is_encrypted(" $ANSIBLE_VAULT;1.1;AES256"));
    }

    #[test]
    fn written_as_ansible_writes_it() {
        let payload = "a".repeat(170);
        let text = Envelope::new(payload.clone(), None).format();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "$ANSIBLE_VAULT;1.1;AES256");
        assert_eq!(lines[1..].iter().map(|l| l.len()).collect::<Vec<_>>(), [80, 80, 10]);
        assert!(text.ends_with('\n'));
        assert_eq!(Envelope::new("ab".into(), Some("default")).format(), "$ANSIBLE_VAULT;1.1;AES256\nab\n");
        assert_eq!(Envelope::new("ab".into(), Some("prod")).format(), "$ANSIBLE_VAULT;1.2;AES256;prod\nab\n");
        assert_eq!(Envelope::parse(&Envelope::new(payload.clone(), Some("x")).format()).unwrap().payload, payload);
    }
}
