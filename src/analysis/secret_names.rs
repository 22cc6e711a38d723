//! Which variable names hold a secret, for the literal-secret rule (playbook map keys and `let`s, inventory
//! variables). A name *naming* a secret (`keepalived_auth_pass_secret: keepalived_auth_pass`, read with
//! `secret(vars.keepalived_auth_pass_secret)`) is the recommended pattern and is not flagged.

/// Last words of a name that hold a secret (`stats_password`, `auth_pass`, `api_token`, `client_secret`).
const SECRET_WORDS: &[&str] =
    &["password", "passwd", "pass", "secret", "token", "passphrase", "api_key", "apikey", "private_key"];

/// Endings that say the value is where a secret is, not the secret.
const REFERENCE_ENDINGS: &[&str] = &["_file", "_path", "_env", "_name", "_secret_name", "_length", "_ttl"];

pub fn is_secret_name(name: &str) -> bool {
    let name = name.to_ascii_lowercase().replace('-', "_");
    if REFERENCE_ENDINGS.iter().any(|ending| name.ends_with(ending)) {
        return false;
    }
    // `x_password_secret` names the secret `x_password`: a reference, the pattern the playbooks use.
    if let Some(stem) = name.strip_suffix("_secret")
        && SECRET_WORDS.iter().any(|word| *word != "secret" && stem.contains(word))
    {
        return false;
    }
    SECRET_WORDS.iter().any(|word| name == *word || name.ends_with(&format!("_{word}")))
}

/// A value worth flagging: non-empty, and not a template or environment reference.
pub fn is_literal_secret_value(value: &str) -> bool {
    let value = value.trim();
    // `<token>`-style placeholders (what a --check plan shows in place of a secret) are not secrets.
    let placeholder = value.starts_with('<') && value.ends_with('>');
    !value.is_empty() && !value.starts_with("{{") && !value.starts_with('$') && value != "***" && !placeholder
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_not_secrets() {
        assert!(!is_literal_secret_value("<token>"));
        assert!(is_literal_secret_value("s3cret"));
    }

    #[test]
    fn secrets_and_references() {
        assert!(is_secret_name("password"));
        assert!(is_secret_name("haproxy_stats_password"));
        assert!(is_secret_name("keepalived_auth_pass"));
        assert!(is_secret_name("client_secret"));
        assert!(is_secret_name("API-TOKEN"));
        assert!(!is_secret_name("haproxy_stats_password_secret"));
        assert!(!is_secret_name("keepalived_auth_pass_secret"));
        assert!(!is_secret_name("password_file"));
        assert!(!is_secret_name("compass"));
        assert!(!is_secret_name("bypass_proxy"));
        assert!(!is_secret_name("haproxy_stats_user"));
        assert!(is_literal_secret_value("123456"));
        assert!(!is_literal_secret_value(""));
        assert!(!is_literal_secret_value("{{ vault_pw }}"));
    }
}
