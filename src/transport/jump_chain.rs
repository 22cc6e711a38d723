//! The text of a `ProxyJump` / `-J` value, read the way OpenSSH reads it: hops separated by commas, each
//! `[user@]host[:port]` or `ssh://[user@]host[:port]`, the first hop the one the controller reaches itself.
//!
//! Kept apart from the connection code because inventories, ssh_config and `ansible_ssh_common_args` all
//! spell hops this way, and a typo in one must be an error that quotes it, not a failed connect to a
//! nonsense host name.

use super::jump_chain_error::{BadHop, JumpChainError};

/// One hop of a jump chain, as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JumpHop {
    pub user: Option<String>,
    pub host: String,
    pub port: Option<u16>,
}

impl std::fmt::Display for JumpHop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(user) = &self.user {
            write!(f, "{user}@")?;
        }
        if self.host.contains(':') {
            write!(f, "[{}]", self.host)?;
        } else {
            f.write_str(&self.host)?;
        }
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        Ok(())
    }
}

/// Reads a chain; `none` (OpenSSH's way to switch a configured ProxyJump off) is the empty chain.
pub fn parse_jump_chain(text: &str) -> Result<Vec<JumpHop>, JumpChainError> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("none") {
        return Ok(Vec::new());
    }
    if text.is_empty() {
        return Err(JumpChainError::Empty);
    }
    text.split(',')
        .map(|hop| parse_hop(hop.trim()).map_err(|why| JumpChainError::Hop { hop: hop.to_string(), why }))
        .collect()
}

fn parse_hop(text: &str) -> Result<JumpHop, BadHop> {
    let text = text.strip_prefix("ssh://").unwrap_or(text).trim_end_matches('/');
    if text.is_empty() {
        return Err(BadHop::Empty);
    }
    let (user, rest) = match text.rsplit_once('@') {
        Some((user, rest)) if !user.is_empty() => (Some(user.to_string()), rest),
        Some(_) => return Err(BadHop::NoUser),
        None => (None, text),
    };
    let (host, port) = if let Some(bracketed) = rest.strip_prefix('[') {
        let (host, after) = bracketed.split_once(']').ok_or(BadHop::UnclosedBracket)?;
        match after.strip_prefix(':') {
            Some(port) => (host, Some(port)),
            None if after.is_empty() => (host, None),
            None => return Err(BadHop::AfterBracket(after.to_string())),
        }
    } else {
        match rest.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (rest, None),
        }
    };
    if host.is_empty() {
        return Err(BadHop::NoHost);
    }
    if host.chars().any(|c| c.is_whitespace() || "/'\"`$;&|<>".contains(c)) {
        return Err(BadHop::NotAHostName(host.to_string()));
    }
    let port = match port {
        None => None,
        Some(port) => match port.parse::<u16>() {
            Ok(port) if port > 0 => Some(port),
            _ => return Err(BadHop::NotAPort(port.to_string())),
        },
    };
    Ok(JumpHop { user, host: host.to_string(), port })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hop(user: Option<&str>, host: &str, port: Option<u16>) -> JumpHop {
        JumpHop { user: user.map(str::to_string), host: host.to_string(), port }
    }

    #[test]
    fn reads_the_forms_openssh_accepts() {
        assert_eq!(parse_jump_chain("bastion").unwrap(), vec![hop(None, "bastion", None)]);
        assert_eq!(
            parse_jump_chain("ops@10.0.0.1:2222, second").unwrap(),
            vec![hop(Some("ops"), "10.0.0.1", Some(2222)), hop(None, "second", None)]
        );
        assert_eq!(parse_jump_chain("ssh://a@b:22").unwrap(), vec![hop(Some("a"), "b", Some(22))]);
        assert_eq!(parse_jump_chain("[fd00::1]:2200").unwrap(), vec![hop(None, "fd00::1", Some(2200))]);
        assert_eq!(parse_jump_chain("none").unwrap(), vec![]);
        assert_eq!(parse_jump_chain("a@b:2,c").unwrap()[0].to_string(), "a@b:2");
    }

    #[test]
    fn a_typo_is_an_error_that_quotes_the_hop() {
        assert_eq!(
            parse_jump_chain("a,,b").unwrap_err().to_string(),
            "jump host ``: empty (two commas in a row, or a trailing comma?)"
        );
        assert_eq!(
            parse_jump_chain("b:99999").unwrap_err().to_string(),
            "jump host `b:99999`: `99999` is not a port number (1-65535)"
        );
        assert_eq!(parse_jump_chain("@b").unwrap_err().to_string(), "jump host `@b`: nothing before `@`");
        assert_eq!(
            parse_jump_chain("a b").unwrap_err(),
            JumpChainError::Hop { hop: "a b".into(), why: BadHop::NotAHostName("a b".into()) }
        );
        assert!(parse_jump_chain("").is_err());
    }
}
