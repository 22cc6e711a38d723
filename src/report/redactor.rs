//! Keeps secret values out of everything a run shows: terminal lines, `-v` output, error messages, diffs and
//! JSON events.
//!
//! The engine registers every value a playbook obtains through `secret(...)`; every reporter and every error
//! path runs its text through the same [`Redactor`] before it leaves the process. Redaction errs on the side of
//! hiding too much: a run whose output shows `***` in an odd place is a nuisance, a leaked password is not
//! undoable.
//!
//! Rules:
//! - A whole secret is hidden whatever its length (even one character): the guarantee is that a secret value
//!   never appears, and a secret short enough to collide with ordinary text is the playbook's problem to fix.
//!   Only the empty string is ignored.
//! - A secret with surrounding whitespace (a password file ending in `\n`) is also hidden in its trimmed form.
//! - A multi-line secret (a key, a kubeconfig) can show up split across lines, e.g. in a unified diff where each
//!   line carries a `+` prefix. So each of its lines is hidden on its own too, once trimmed, when it is at least
//!   [`MIN_FRAGMENT`] characters long: shorter lines (`}`, `---`, blank) would blank out unrelated text while
//!   revealing next to nothing.
//! - Occurrences of different secrets that overlap or touch are hidden as one `***`, so neither secret leaks a
//!   piece of itself around the other (plain sequential replacement would leave the tail of the second).
//!
//! Only plain occurrences are found: a secret shown base64- or URL-encoded is not recognised.

use std::sync::{Arc, RwLock};

/// What every hidden stretch of text is replaced with.
pub const MASK: &str = "***";

/// Lines of a multi-line secret shorter than this (in bytes, after trimming) are not hidden on their own.
pub const MIN_FRAGMENT: usize = 4;

/// The set of secret values of a run. Cloning shares the set: a value added through any clone is hidden by all.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    // Kept sorted longest first and without duplicates; the order is not needed for correctness (overlaps are
    // merged) but makes `redact` find the longest match at a position first.
    secrets: Arc<RwLock<Vec<String>>>,
}

impl Redactor {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a secret value (and, for multi-line or padded values, its pieces; see the module docs).
    pub fn add(&self, secret: &str) {
        if secret.is_empty() {
            return;
        }
        let mut pieces = vec![secret.to_string()];
        let trimmed = secret.trim();
        if !trimmed.is_empty() && trimmed != secret {
            pieces.push(trimmed.to_string());
        }
        if secret.contains('\n') {
            pieces.extend(secret.lines().map(str::trim).filter(|line| line.len() >= MIN_FRAGMENT).map(str::to_string));
        }
        let mut secrets = self.secrets.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        for piece in pieces {
            if !secrets.contains(&piece) {
                secrets.push(piece);
            }
        }
        secrets.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
    }

    /// True when no secret has been added: callers may skip redaction work.
    pub fn is_empty(&self) -> bool {
        self.secrets.read().unwrap_or_else(|poisoned| poisoned.into_inner()).is_empty()
    }

    /// `text` with every occurrence of every secret replaced by [`MASK`].
    pub fn redact(&self, text: &str) -> String {
        let secrets = self.secrets.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        if secrets.is_empty() {
            return text.to_string();
        }
        // Byte ranges to hide, found on the original text so that one replacement cannot hide (or create) a
        // match of another secret.
        let mut ranges: Vec<(usize, usize)> = Vec::new();
        for secret in secrets.iter() {
            let mut from = 0;
            while let Some(found) = text[from..].find(secret.as_str()) {
                let start = from + found;
                ranges.push((start, start + secret.len()));
                // Step one character, not the whole match, so overlapping occurrences ("aaa" in "aaaa") are found.
                let step = text[start..].chars().next().map_or(1, char::len_utf8);
                from = start + step;
            }
        }
        if ranges.is_empty() {
            return text.to_string();
        }
        ranges.sort_unstable();
        let mut out = String::with_capacity(text.len());
        let mut copied = 0;
        let mut index = 0;
        while index < ranges.len() {
            let (start, mut end) = ranges[index];
            index += 1;
            while index < ranges.len() && ranges[index].0 <= end {
                end = end.max(ranges[index].1);
                index += 1;
            }
            out.push_str(&text[copied..start]);
            out.push_str(MASK);
            copied = end;
        }
        out.push_str(&text[copied..]);
        out
    }

    /// Every string in `value` redacted in place (a JSON document: its text escaping would hide a secret with a
    /// quote or newline from [`Redactor::redact`] on the serialised form).
    pub fn redact_json(&self, value: &mut serde_json::Value) {
        match value {
            serde_json::Value::String(text) => *text = self.redact(text),
            serde_json::Value::Array(items) => items.iter_mut().for_each(|item| self.redact_json(item)),
            serde_json::Value::Object(fields) => fields.values_mut().for_each(|field| self.redact_json(field)),
            serde_json::Value::Null | serde_json::Value::Bool(_) | serde_json::Value::Number(_) => {}
        }
    }

    /// Command output as text (invalid UTF-8 replaced by U+FFFD), redacted.
    pub fn redact_bytes(&self, bytes: &[u8]) -> String {
        self.redact(&String::from_utf8_lossy(bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_secrets(secrets: &[&str]) -> Redactor {
        let redactor = Redactor::new();
        for secret in secrets {
            redactor.add(secret);
        }
        redactor
    }

    #[test]
    fn empty_redactor_returns_text_unchanged() {
        let redactor = Redactor::new();
        assert!(redactor.is_empty());
        assert_eq!(redactor.redact("token=abc"), "token=abc");
    }

    #[test]
    fn empty_secret_is_ignored() {
        let redactor = with_secrets(&[""]);
        assert!(redactor.is_empty());
        assert_eq!(redactor.redact("abc"), "abc");
    }

    #[test]
    fn every_occurrence_is_hidden() {
        let redactor = with_secrets(&["hunter2"]);
        assert!(!redactor.is_empty());
        assert_eq!(redactor.redact("pass=hunter2; again hunter2hunter2."), "pass=***; again ***.");
    }

    #[test]
    fn short_secrets_are_still_hidden() {
        let redactor = with_secrets(&["x9"]);
        assert_eq!(redactor.redact("ax9b"), "a***b");
    }

    #[test]
    fn overlapping_secrets_hide_both_entirely() {
        // Sequential replacement of "abcd" would leave "ef" of "cdef" visible.
        let redactor = with_secrets(&["abcd", "cdef"]);
        assert_eq!(redactor.redact("xabcdefy"), "x***y");
        // A secret contained in another.
        let redactor = with_secrets(&["s3cret", "s3cret-long"]);
        assert_eq!(redactor.redact("a s3cret-long b s3cret c"), "a *** b *** c");
    }

    #[test]
    fn self_overlapping_occurrences_are_found() {
        let redactor = with_secrets(&["aba"]);
        assert_eq!(redactor.redact("xababay"), "x***y");
    }

    #[test]
    fn multi_line_secret_is_hidden_whole_and_line_by_line() {
        let key = "-----BEGIN KEY-----\nMIIEvQIBADANBgkqhkiG\n9w0BAQEFAASC\n}\n-----END KEY-----\n";
        let redactor = with_secrets(&[key]);
        assert_eq!(redactor.redact(&format!("key:\n{key}done")), "key:\n***done");
        let diff = "--- a/key\n+++ b/key\n+-----BEGIN KEY-----\n+MIIEvQIBADANBgkqhkiG\n+9w0BAQEFAASC\n+}\n";
        let redacted = redactor.redact(diff);
        assert!(!redacted.contains("MIIEvQIBADANBgkqhkiG"), "{redacted}");
        assert!(!redacted.contains("9w0BAQEFAASC"), "{redacted}");
        // A one-character line is too short to hide on its own.
        assert!(redacted.ends_with("+***\n+***\n+***\n+}\n"), "{redacted}");
    }

    #[test]
    fn padded_secret_is_hidden_trimmed() {
        let redactor = with_secrets(&["pw1\n"]);
        assert_eq!(redactor.redact("password is pw1"), "password is ***");
    }

    #[test]
    fn non_ascii_text_and_secrets() {
        let redactor = with_secrets(&["пароль"]);
        assert_eq!(redactor.redact("ключ=пароль, ещё пароль"), "ключ=***, ещё ***");
        assert_eq!(redactor.redact_bytes(b"\xffpw \xd0\xbf\xd0\xb0\xd1\x80\xd0\xbe\xd0\xbb\xd1\x8c"), "\u{fffd}pw ***");
    }

    #[test]
    fn clones_share_secrets_across_threads() {
        let redactor = Redactor::new();
        let clone = redactor.clone();
        std::thread::spawn(move || clone.add("tok3n")).join().unwrap();
        assert_eq!(redactor.redact("a tok3n"), "a ***");
    }
}
