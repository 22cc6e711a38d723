//! POSIX shell quoting, the primitive under `remote_command`: any text becomes one literal argument.

/// Quotes `text` for a POSIX shell so it reaches the command as one literal argument, whatever it holds
/// (spaces, quotes, `$()`, backticks, newlines). Single quotes are the only quoting a POSIX shell does not
/// interpret inside, so every `'` is closed, escaped and reopened.
pub fn quote(text: &str) -> String {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_./=:,+@%".contains(&b)) {
        return text.to_string();
    }
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('\'');
    for c in text.chars() {
        if c == '\'' {
            quoted.push_str("'\\''");
        } else {
            quoted.push(c);
        }
    }
    quoted.push('\'');
    quoted
}

#[cfg(test)]
mod tests {
    use super::quote;

    #[test]
    fn plain_words_stay_as_they_are() {
        assert_eq!(quote("/etc/hosts"), "/etc/hosts");
        assert_eq!(quote("a=b,c"), "a=b,c");
    }

    #[test]
    fn everything_else_is_single_quoted() {
        assert_eq!(quote(""), "''");
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("$(rm -rf /)"), "'$(rm -rf /)'");
        assert_eq!(quote("it's"), "'it'\\''s'");
        assert_eq!(quote("`x`\n"), "'`x`\n'");
    }

    #[test]
    fn a_real_shell_reads_it_back_unchanged() {
        for text in ["it's a \"test\" $(id) `id` \\ \n\t end", "'", "''", "-n", "*"] {
            let out =
                std::process::Command::new("sh").arg("-c").arg(format!("printf %s {}", quote(text))).output().unwrap();
            assert_eq!(String::from_utf8(out.stdout).unwrap(), text);
        }
    }
}
