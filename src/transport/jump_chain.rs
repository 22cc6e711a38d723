//! The text of a `ProxyJump` / `-J` value, read the way OpenSSH reads it: hops separated by commas, each
//! `[user@]host[:port]` or `ssh://[user@]host[:port]`, the first hop the one the controller reaches itself.
//!
//! Kept apart from the connection code because inventories, ssh_config and `ansible_ssh_common_args` all
//! spell hops this way, and a typo in one must be an error that quotes it, not a failed connect to a
//! nonsense host name.

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
pub fn parse_jump_chain(text: &str) -> Result<Vec<JumpHop>, String> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("none") {
        return Ok(Vec::new());
    }
    if text.is_empty() {
        return Err("the jump host list is empty".into());
    }
    text.split(',').map(|hop| parse_hop(hop.trim()).map_err(|why| format!("jump host `{hop}`: {why}"))).collect()
}

fn parse_hop(text: &str) -> Result<JumpHop, String> {
    let text = text.strip_prefix("ssh://").unwrap_or(text).trim_end_matches('/');
    if text.is_empty() {
        return Err("empty (two commas in a row, or a trailing comma?)".into());
    }
    let (user, rest) = match text.rsplit_once('@') {
        Some((user, rest)) if !user.is_empty() => (Some(user.to_string()), rest),
        Some(_) => return Err("nothing before `@`".into()),
        None => (None, text),
    };
    let (host, port) = if let Some(bracketed) = rest.strip_prefix('[') {
        let (host, after) = bracketed.split_once(']').ok_or("`[` without `]`")?;
        match after.strip_prefix(':') {
            Some(port) => (host, Some(port)),
            None if after.is_empty() => (host, None),
            None => return Err(format!("unexpected `{after}` after `]`")),
        }
    } else {
        match rest.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (rest, None),
        }
    };
    if host.is_empty() {
        return Err("no host name".into());
    }
    if host.chars().any(|c| c.is_whitespace() || "/'\"`$;&|<>".contains(c)) {
        return Err(format!("`{host}` is not a host name"));
    }
    let port = match port {
        None => None,
        Some(port) => match port.parse::<u16>() {
            Ok(port) if port > 0 => Some(port),
            _ => return Err(format!("`{port}` is not a port number (1-65535)")),
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
            parse_jump_chain("a,,b").unwrap_err(),
            "jump host ``: empty (two commas in a row, or a trailing comma?)"
        );
        assert_eq!(
            parse_jump_chain("b:99999").unwrap_err(),
            "jump host `b:99999`: `99999` is not a port number (1-65535)"
        );
        assert_eq!(parse_jump_chain("@b").unwrap_err(), "jump host `@b`: nothing before `@`");
        assert!(parse_jump_chain("a b").unwrap_err().contains("is not a host name"));
        assert!(parse_jump_chain("").is_err());
    }
}
