//! The passwords the inventory loader may decrypt with, for the duration of one load.
//!
//! Vaulted values are met deep inside YAML deserialisation (an inline `!vault` scalar in a `group_vars` file,
//! an `-e @file`), far below any function that could take the passwords as an argument without threading them
//! through every loader signature. So a command opens a scope for the thread that loads (`with_keyring`), the
//! loader decrypts through it (`decrypt_in_scope`), and every plaintext revealed is recorded so the caller can
//! hand it to the run's redactor (`take_revealed`). Outside a scope nothing can be decrypted: vaulted data is
//! then an error that says a password is needed, never a silent literal.

use std::cell::RefCell;

use super::keyring::Keyring;
use super::vault_error::VaultError;

struct Scope {
    keyring: Keyring,
    revealed: Vec<String>,
    /// Revealed values that were inline `!vault` values (see [`mark_inline`]).
    inline: Vec<String>,
    /// Vaulted data stays closed: [`decrypt_in_scope`] says [`VaultError::NotOpened`].
    closed: bool,
}

thread_local! {
    static SCOPE: RefCell<Vec<Scope>> = const { RefCell::new(Vec::new()) };
}

/// Runs `work` with `keyring` as the passwords vaulted data is opened with on this thread; scopes nest.
/// Returns `work`'s result and every plaintext revealed in the scope (also when `work` failed: its error
/// message may quote one and must be redacted).
pub fn with_keyring<R>(keyring: Keyring, work: impl FnOnce() -> R) -> (R, Vec<String>) {
    enter(Scope { keyring, revealed: Vec::new(), inline: Vec::new(), closed: false }, work)
}

/// Runs `work` where vaulted data is deliberately left closed (`lab up -i` copies an inventory's variables into a
/// file of its own; no plaintext may land there): the loader then skips vaulted files and values.
pub fn without_opening<R>(work: impl FnOnce() -> R) -> R {
    enter(Scope { keyring: Keyring::default(), revealed: Vec::new(), inline: Vec::new(), closed: true }, work).0
}

fn enter<R>(new: Scope, work: impl FnOnce() -> R) -> (R, Vec<String>) {
    SCOPE.with(|scope| scope.borrow_mut().push(new));
    // Pops the scope also when `work` panics, so a later load on this thread cannot use stale passwords.
    struct Pop;
    impl Drop for Pop {
        fn drop(&mut self) {
            SCOPE.with(|scope| scope.borrow_mut().pop());
        }
    }
    let guard = Pop;
    let result = work();
    let revealed = revealed();
    drop(guard);
    (result, revealed)
}

/// Opens vault text `text` with the current scope's passwords; the plaintext is recorded as revealed.
/// `NoPassword` outside any scope or with no password in it.
pub fn decrypt_in_scope(text: &str) -> Result<String, VaultError> {
    if SCOPE.with(|scope| scope.borrow().last().is_some_and(|s| s.closed)) {
        return Err(VaultError::NotOpened);
    }
    let keyring = SCOPE.with(|scope| scope.borrow().last().map(|s| s.keyring.clone())).unwrap_or_default();
    let plaintext = keyring.decrypt_text(text)?;
    SCOPE.with(|scope| {
        if let Some(current) = scope.borrow_mut().last_mut()
            && !current.revealed.contains(&plaintext)
        {
            current.revealed.push(plaintext.clone());
        }
    });
    Ok(plaintext)
}

/// Records `text` as revealed in the current scope: a value read from a vaulted file is as secret as the file.
pub fn record_revealed(text: &str) {
    SCOPE.with(|scope| {
        if let Some(current) = scope.borrow_mut().last_mut()
            && !current.revealed.iter().any(|known| known == text)
        {
            current.revealed.push(text.to_string());
        }
    });
}

/// Records that revealed `text` was an inline `!vault` value. Ansible (2.19) never renders one as a template
/// (it prints `a{{ 1 + 1 }}b` as written), while the values of a file vaulted as a whole are templates like any
/// file's: whoever resolves templates in variables must tell the two apart.
pub fn mark_inline(text: &str) {
    SCOPE.with(|scope| {
        if let Some(current) = scope.borrow_mut().last_mut()
            && !current.inline.iter().any(|known| known == text)
        {
            current.inline.push(text.to_string());
        }
    });
}

/// The inline `!vault` values revealed in the current scope so far (see [`mark_inline`]).
pub fn revealed_inline() -> Vec<String> {
    SCOPE.with(|scope| scope.borrow().last().map(|s| s.inline.clone()).unwrap_or_default())
}

/// Every plaintext revealed in the current scope so far, each once (none outside a scope).
pub fn revealed() -> Vec<String> {
    SCOPE.with(|scope| scope.borrow().last().map(|s| s.revealed.clone()).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vault::VaultSecret;

    #[test]
    fn decryption_works_only_inside_a_scope_and_records_what_it_revealed() {
        let secret = VaultSecret::new("default", "pw");
        let text = secret.encrypt(b"opened").unwrap();
        assert!(matches!(decrypt_in_scope(&text), Err(VaultError::NoPassword)));
        let ((first, seen), all) = with_keyring(Keyring::new(vec![secret]), || {
            let first = decrypt_in_scope(&text).unwrap();
            let seen = revealed();
            decrypt_in_scope(&text).unwrap();
            record_revealed("from-a-vaulted-file");
            (first, seen)
        });
        assert_eq!(first, "opened");
        assert_eq!((seen, all), (vec!["opened".to_string()], vec!["opened".to_string(), "from-a-vaulted-file".into()]));
        assert!(matches!(decrypt_in_scope(&text), Err(VaultError::NoPassword)));
        assert!(matches!(without_opening(|| decrypt_in_scope(&text)), Err(VaultError::NotOpened)));
    }
}
