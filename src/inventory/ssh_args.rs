//! The OpenSSH command-line options an Ansible inventory passes in `ansible_ssh_args`,
//! `ansible_ssh_common_args` and `ansible_ssh_extra_args`, read into what runbook's own SSH client does.
//!
//! runbook is not ssh: it cannot pass options through. So each option is either honoured (it sets what
//! runbook's connection uses), accepted because runbook already behaves that way or has its own setting for it
//! (named below with the reason), or refused with its name — an inventory never loses an option silently.
//! As in ssh, the first value given for an option wins.

use crate::transport::HostKeyPolicy;

/// What the options say, before paths are resolved.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SshArgs {
    pub jump: Option<String>,
    pub proxy_command: Option<String>,
    pub user: Option<String>,
    pub port: Option<u16>,
    /// `-i` / `IdentityFile`, in order (ssh tries them all).
    pub identity_files: Vec<String>,
    /// `UserKnownHostsFile` / `GlobalKnownHostsFile`, in order.
    pub known_hosts_files: Vec<String>,
    pub host_key_policy: Option<HostKeyPolicy>,
    /// `-F`: the ssh config file read instead of ~/.ssh/config (`/dev/null`: none).
    pub ssh_config: Option<String>,
}

/// `-o` options that change nothing runbook does, and why (the README lists them).
pub const ACCEPTED_OPTIONS: &[(&str, &str)] = &[
    ("controlmaster", "runbook keeps its own connections (see --persist)"),
    ("controlpersist", "runbook keeps its own connections (see --persist)"),
    ("controlpath", "runbook keeps its own connections (see --persist)"),
    ("serveraliveinterval", "runbook sends its own keepalives"),
    ("serveralivecountmax", "runbook sends its own keepalives"),
    ("tcpkeepalive", "runbook sends its own keepalives"),
    ("connecttimeout", "the timeout setting wins, as in Ansible (it passes its own ConnectTimeout first)"),
    ("connectionattempts", "runbook retries with --connect-retries"),
    ("batchmode", "runbook never prompts on a connection"),
    ("compression", "a transfer detail"),
    ("loglevel", "a client log detail"),
    ("hashknownhosts", "a known_hosts detail"),
    ("checkhostip", "a known_hosts detail"),
    ("updatehostkeys", "a known_hosts detail"),
    ("identitiesonly", "runbook offers the agent's keys, then the named keys"),
    ("preferredauthentications", "runbook tries keys, then a password when one is given"),
    ("pubkeyauthentication", "runbook tries keys, then a password when one is given"),
    ("passwordauthentication", "runbook tries keys, then a password when one is given"),
    ("kbdinteractiveauthentication", "runbook tries keys, then a password when one is given"),
    ("challengeresponseauthentication", "runbook tries keys, then a password when one is given"),
    ("gssapiauthentication", "runbook does not use GSSAPI"),
    ("gssapidelegatecredentials", "runbook does not use GSSAPI"),
    ("addkeystoagent", "runbook does not change the agent"),
    ("requesttty", "runbook runs commands without a terminal"),
];

/// `-o` options accepted only with these values (anything else would need a feature runbook lacks).
const ACCEPTED_WHEN: &[(&str, &[&str])] =
    &[("forwardagent", &["no", "false"]), ("forwardx11", &["no", "false"]), ("verifyhostkeydns", &["no", "false"])];

/// Flags without a value that change nothing runbook does: -q -v (verbosity), -C (compression), -T -t (tty),
/// -a -x -k (forwarding off), -n (stdin).
const ACCEPTED_FLAGS: &str = "qvCTtaxkn";
/// Flags that take a value (from ssh's getopt string), for telling `-p2222` from `-vC`.
const FLAGS_WITH_VALUE: &str = "BbcDEeFIiJLlmOopQRSWw";

impl SshArgs {
    /// Reads one variable's value under what earlier variables set (ssh keeps the first value of an option).
    pub fn add(&mut self, args: &str) -> Result<(), SshArgsError> {
        let words = shlex::split(args).ok_or(SshArgsError::UnbalancedQuotes)?;
        let mut words = words.into_iter();
        while let Some(word) = words.next() {
            let Some(flags) = word.strip_prefix('-').filter(|flags| !flags.is_empty()) else {
                return Err(SshArgsError::NotAnOption(word));
            };
            for (at, flag) in flags.char_indices() {
                if !FLAGS_WITH_VALUE.contains(flag) {
                    if !ACCEPTED_FLAGS.contains(flag) {
                        return Err(refused(format!("-{flag}"), format!("-{flag}")));
                    }
                    continue;
                }
                let attached = &flags[at + flag.len_utf8()..];
                let value = if attached.is_empty() {
                    words.next().ok_or_else(|| SshArgsError::NoValue(format!("-{flag}")))?
                } else {
                    attached.to_string()
                };
                match flag {
                    'o' => self.option(&value, &mut words)?,
                    'J' => self.set("ProxyJump", &value)?,
                    'p' => self.set("Port", &value)?,
                    'i' => self.set("IdentityFile", &value)?,
                    'l' => self.set("User", &value)?,
                    // A control socket: runbook keeps its own connections.
                    'S' => {}
                    'F' => {
                        self.ssh_config.get_or_insert(value);
                    }
                    _ => return Err(refused(format!("-{flag} {value}"), format!("-{flag}"))),
                }
                break;
            }
        }
        Ok(())
    }

    /// `-o Key=Value`, `-o Key Value`, `-o 'Key Value'`, `-o Key` followed by the value as the next word.
    fn option(&mut self, option: &str, words: &mut impl Iterator<Item = String>) -> Result<(), SshArgsError> {
        let (key, value) = match option.split_once(['=', ' ', '\t']) {
            Some((key, value)) => (key.trim(), value.trim_start_matches(['=', ' ', '\t']).trim().to_string()),
            None => (option.trim(), words.next().ok_or_else(|| SshArgsError::NoValue(format!("-o {option}")))?),
        };
        self.set(key, &value)
    }

    /// Option `written` (any case, named as written in messages) set to `value`.
    fn set(&mut self, written: &str, value: &str) -> Result<(), SshArgsError> {
        let key = written.to_ascii_lowercase();
        let lower = value.to_ascii_lowercase();
        match key.as_str() {
            "proxyjump" => {
                if self.jump.is_none() && self.proxy_command.is_none() && lower != "none" {
                    self.jump = Some(value.to_string());
                }
            }
            "proxycommand" => {
                if self.jump.is_none() && self.proxy_command.is_none() && lower != "none" {
                    self.proxy_command = Some(value.to_string());
                }
            }
            "port" => {
                let port = value.parse::<u16>().ok().filter(|port| *port > 0);
                let port = port.ok_or_else(|| SshArgsError::BadPort(format!("{written} {value}")))?;
                self.port.get_or_insert(port);
            }
            "user" => {
                self.user.get_or_insert_with(|| value.to_string());
            }
            "identityfile" => self.identity_files.push(value.to_string()),
            "userknownhostsfile" | "globalknownhostsfile" => {
                self.known_hosts_files
                    .extend(value.split_whitespace().filter(|file| *file != "none").map(str::to_string));
            }
            "stricthostkeychecking" => {
                let policy = match lower.as_str() {
                    "yes" | "true" | "ask" => HostKeyPolicy::Strict,
                    // OpenSSH's `no` also records unknown keys; runbook refuses a changed key under every policy.
                    "accept-new" | "no" | "off" | "false" => HostKeyPolicy::AcceptNew,
                    _ => return Err(SshArgsError::BadHostKeyChecking(format!("{written} {value}"))),
                };
                self.host_key_policy.get_or_insert(policy);
            }
            _ if ACCEPTED_OPTIONS.iter().any(|(name, _)| *name == key) => {}
            _ if ACCEPTED_WHEN.iter().any(|(name, values)| *name == key && values.contains(&lower.as_str())) => {}
            _ => return Err(refused(format!("-o {written}={value}"), written.to_string())),
        }
        Ok(())
    }
}

fn refused(option: String, name: String) -> SshArgsError {
    SshArgsError::Refused { option, name }
}

/// Why `ansible_ssh_common_args` (or its kin) cannot be honoured.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SshArgsError {
    #[error("unbalanced quotes")]
    UnbalancedQuotes,
    #[error("`{0}` is not an ssh option (runbook reads only options here)")]
    NotAnOption(String),
    #[error("`{0}` without a value")]
    NoValue(String),
    #[error("`{0}`: a port is a number from 1 to 65535")]
    BadPort(String),
    #[error("`{0}`: expected yes, accept-new, no or ask")]
    BadHostKeyChecking(String),
    #[error(
        "`{option}` cannot be honoured: runbook's SSH client has no {name} (remove it, or set what it does another \
         way; docs/ssh.md lists the options runbook reads)"
    )]
    Refused { option: String, name: String },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<SshArgs, SshArgsError> {
        let mut parsed = SshArgs::default();
        for value in args {
            parsed.add(value)?;
        }
        Ok(parsed)
    }

    #[test]
    fn the_options_runbook_honours() {
        let args = parse(&[
            "-o UserKnownHostsFile=/lab/known_hosts -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes",
            "-p2222 -i ~/.ssh/a -o IdentityFile=b -l ops -o 'User other' -o Port=22 -J gw -o ServerAliveInterval=30",
        ])
        .unwrap();
        assert_eq!(args.known_hosts_files, ["/lab/known_hosts"]);
        assert_eq!(args.host_key_policy, Some(HostKeyPolicy::Strict));
        assert_eq!(args.port, Some(2222), "the first value wins, as in ssh");
        assert_eq!(args.identity_files, ["~/.ssh/a", "b"]);
        assert_eq!(args.user.as_deref(), Some("ops"));
        assert_eq!(args.jump.as_deref(), Some("gw"));
        assert_eq!(parse(&["-F /dev/null -o IdentitiesOnly=yes"]).unwrap().ssh_config.as_deref(), Some("/dev/null"));
    }

    #[test]
    fn jump_and_proxy_command_spellings() {
        let jump = |value: &str| parse(&[value]).unwrap();
        assert_eq!(jump("-o ProxyJump=ops@gw:2222").jump.as_deref(), Some("ops@gw:2222"));
        assert_eq!(jump("-oProxyJump=a,b -o ProxyJump=c").jump.as_deref(), Some("a,b"));
        assert_eq!(jump("-o 'ProxyJump gw' -v").jump.as_deref(), Some("gw"));
        assert_eq!(jump("-o ProxyJump gw").jump.as_deref(), Some("gw"));
        assert_eq!(jump("-Jgw").jump.as_deref(), Some("gw"));
        let command = jump("-o ProxyCommand=\"ssh -W %h:%p -q ops@gw\"");
        assert_eq!((command.jump, command.proxy_command.as_deref()), (None, Some("ssh -W %h:%p -q ops@gw")));
        assert_eq!(jump("-o StrictHostKeyChecking=no").host_key_policy, Some(HostKeyPolicy::AcceptNew));
        assert_eq!(jump("-o UserKnownHostsFile=/dev/null").known_hosts_files, ["/dev/null"]);
        assert!(jump("-C -q -tt -o ControlMaster=auto -o ControlPersist=60s -o ForwardAgent=no").jump.is_none());
    }

    #[test]
    fn what_runbook_cannot_honour_is_refused_by_name() {
        let err = |value: &str| parse(&[value]).unwrap_err().to_string();
        assert!(
            err("-o Ciphers=aes128-ctr")
                .starts_with("`-o Ciphers=aes128-ctr` cannot be honoured: runbook's SSH client has no Ciphers")
        );
        assert!(err("-o ForwardAgent=yes").starts_with("`-o ForwardAgent=yes` cannot"));
        assert!(err("-A").starts_with("`-A` cannot be honoured"));
        assert!(err("-L 8080:localhost:80").starts_with("`-L 8080:localhost:80` cannot be honoured"));
        assert_eq!(err("-o 'ProxyJump=a"), "unbalanced quotes");
        assert_eq!(err("-o Port=http"), "`Port http`: a port is a number from 1 to 65535");
        assert_eq!(
            err("-o StrictHostKeyChecking=maybe"),
            "`StrictHostKeyChecking maybe`: expected yes, accept-new, no or ask"
        );
        assert!(err("bastion").contains("not an ssh option"));
        assert_eq!(err("-p"), "`-p` without a value");
    }
}
