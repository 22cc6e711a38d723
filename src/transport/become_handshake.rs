//! Becoming another user (root by default) with `sudo` or `su`, with or without a password.
//!
//! The password travels on the channel's stdin, never in argv: sudo runs with `-S` and a prompt made of a
//! fresh random nonce, and the password is sent only once that prompt shows on stderr. Sending it blindly
//! would hand it to the shell as a command whenever sudo does not ask (NOPASSWD, a cached timestamp). A
//! second prompt means the password was wrong: the channel is closed at once, so a wrong password costs one
//! sudo delay, not three, and never a hang. The shell sudo starts prints a ready marker first, so the
//! controller knows when sudo is done with stdin.
//!
//! `su` (hosts without sudo) cannot be given a prompt of ours: it asks through PAM, which without a terminal
//! reads the answer from stdin and writes its prompt (`Password: ` under LC_ALL=C, which the command sets) to
//! stderr. Nothing else writes to that stderr before the ready marker (the shell behind su has not started),
//! so a line ending in `assword:` there is su's question. su asks once; a wrong password ends the channel
//! with "Authentication failure".

use std::time::Duration;

use russh::ChannelMsg;
use russh::client::Msg;

use super::shell_quote::quote;
use super::transport_error::TransportError;

/// How long sudo may take to answer (PAM's failure delay is ~2 s; a hung LDAP lookup is not worth more).
const BECOME_LIMIT: Duration = Duration::from_secs(30);

/// The program that switches user (Ansible's `become_method`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum BecomeMethod {
    #[default]
    Sudo,
    /// For hosts without sudo: the password is the become user's own (root's by default), as with Ansible.
    Su,
}

impl BecomeMethod {
    /// `sudo` or `su`, as Ansible spells them; anything else is not built.
    pub fn parse(name: &str) -> Option<BecomeMethod> {
        match name {
            "sudo" => Some(BecomeMethod::Sudo),
            "su" => Some(BecomeMethod::Su),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            BecomeMethod::Sudo => "sudo",
            BecomeMethod::Su => "su",
        }
    }
}

/// Whom to become and how to prove it.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Become {
    /// `None`: root.
    pub user: Option<String>,
    /// The become password; `None` runs `sudo -n`, which fails at once where a password is needed (su says it
    /// needs one as soon as it asks).
    pub password: Option<String>,
    pub method: BecomeMethod,
}

impl std::fmt::Debug for Become {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let password = if self.password.is_some() { "Some(<hidden>)" } else { "None" };
        write!(f, "Become {{ user: {:?}, password: {password}, method: {:?} }}", self.user, self.method)
    }
}

/// One use of sudo or su: the command to exec, and the markers that tell its progress.
pub struct BecomeStart {
    pub command: String,
    /// sudo's nonce prompt; `None` for su, whose prompt is PAM's.
    prompt: Option<String>,
    ready: String,
    password: Option<String>,
    user: String,
    method: BecomeMethod,
}

impl Become {
    pub fn user_name(&self) -> &str {
        self.user.as_deref().unwrap_or("root")
    }

    /// The command that runs `inner` (shell text) as the become user, e.g. `exec /bin/sh`.
    pub fn start(&self, inner: &str) -> BecomeStart {
        let nonce: u128 = rand::random();
        let ready = format!("runbook-become-ready-{nonce:032x}");
        let script = format!("printf '%s\\n' {} >&2; {inner}", quote(&ready));
        let (command, prompt) = match self.method {
            BecomeMethod::Sudo => {
                let prompt = format!("runbook-become-prompt-{nonce:032x}:");
                let auth = if self.password.is_some() { format!("-S -p {}", quote(&prompt)) } else { "-n".to_string() };
                let command =
                    format!("exec sudo {auth} -H -u {} -- /bin/sh -c {}", quote(self.user_name()), quote(&script));
                (command, Some(prompt))
            }
            // `-s /bin/sh`: the become user's login shell may be nologin or a shell with other quoting. su sets
            // HOME and SHELL (and USER, LOGNAME) to the become user's, as sudo -H does.
            BecomeMethod::Su => {
                let command = format!(
                    "LC_ALL=C; export LC_ALL; exec su -s /bin/sh -c {} {}",
                    quote(&script),
                    quote(self.user_name())
                );
                (command, None)
            }
        };
        BecomeStart {
            command,
            prompt,
            ready,
            password: self.password.clone(),
            user: self.user_name().to_string(),
            method: self.method,
        }
    }
}

impl BecomeStart {
    /// Waits until sudo or su has started the shell, answering its password prompt once. The command must
    /// have been exec'd on `channel` already.
    pub async fn complete(&self, channel: &mut russh::Channel<Msg>) -> Result<(), TransportError> {
        match tokio::time::timeout(BECOME_LIMIT, self.drive(channel)).await {
            Ok(result) => result,
            Err(_) => Err(TransportError::Become(format!(
                "{} to {} did not answer within {}s",
                self.method.name(),
                self.user,
                BECOME_LIMIT.as_secs()
            ))),
        }
    }

    /// How many times the program asked for the password in `text` (its stderr so far).
    fn prompts(&self, text: &str) -> usize {
        match &self.prompt {
            Some(prompt) => text.matches(prompt.as_str()).count(),
            None => usize::from(su_is_asking(text)),
        }
    }

    /// stderr with sudo's nonce prompt taken out, on one line.
    fn said(&self, text: &str) -> String {
        match &self.prompt {
            Some(prompt) => clean(&text.replace(prompt.as_str(), "")),
            None => clean(text),
        }
    }

    async fn drive(&self, channel: &mut russh::Channel<Msg>) -> Result<(), TransportError> {
        let mut stderr = Vec::new();
        let mut answered = false;
        loop {
            let Some(message) = channel.wait().await else {
                return Err(self.failure(&stderr, answered));
            };
            match message {
                ChannelMsg::ExtendedData { data, ext: 1 } => {
                    stderr.extend_from_slice(&data);
                    let text = String::from_utf8_lossy(&stderr);
                    if text.contains(&self.ready) {
                        return Ok(());
                    }
                    let prompts = self.prompts(&text);
                    if prompts >= 2 {
                        let _ = channel.close().await;
                        return Err(self.failure(&stderr, true));
                    }
                    if prompts == 1 && !answered {
                        let Some(password) = &self.password else {
                            let _ = channel.close().await;
                            return Err(self.failure(&stderr, false));
                        };
                        answered = true;
                        let line = format!("{password}\n").into_bytes();
                        channel.data_bytes(line).await.map_err(|e| TransportError::Disconnected(e.to_string()))?;
                    }
                }
                ChannelMsg::ExitStatus { .. } | ChannelMsg::Eof | ChannelMsg::Close => {
                    return Err(self.failure(&stderr, answered));
                }
                _ => {}
            }
        }
    }

    /// Why becoming failed, from what the program said; `answered`: the password was sent.
    fn failure(&self, stderr: &[u8], answered: bool) -> TransportError {
        let text = String::from_utf8_lossy(stderr);
        let said = self.said(&text);
        let method = self.method.name();
        let wrong = match self.method {
            BecomeMethod::Sudo => self.prompts(&text) >= 2,
            BecomeMethod::Su => answered && said.contains("Authentication failure"),
        };
        if wrong {
            return TransportError::Become(format!(
                "{method} to {}: wrong become password ({method} said: {said})",
                self.user
            ));
        }
        let asked = match self.method {
            BecomeMethod::Sudo => said.contains("password is required"),
            BecomeMethod::Su => !answered && su_is_asking(&text),
        };
        let hint = if asked && self.password.is_none() {
            " (a password is needed: give it with --ask-become-pass, RUNBOOK_BECOME_PASSWORD or `become_password_secret`)"
        } else {
            ""
        };
        TransportError::Become(format!("{method} to {} failed: {said}{hint}", self.user))
    }
}

/// Whether su's stderr ends with PAM's password question (`Password: ` in the C locale, `root's Password:` on
/// some systems, a full-width colon in CJK ones, as Ansible's su prompts list has them).
fn su_is_asking(text: &str) -> bool {
    let last = text.rsplit('\n').next().unwrap_or("").trim_end().to_lowercase();
    last.ends_with("password:") || last.ends_with("password\u{ff1a}") || last.ends_with("password :")
}

fn clean(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_is_never_in_the_command() {
        let become_ =
            Become { user: Some("postgres".into()), password: Some("s3cr3t pw".into()), method: BecomeMethod::Sudo };
        let start = become_.start("exec /bin/sh");
        assert!(!start.command.contains("s3cr3t"), "{}", start.command);
        assert!(start.command.starts_with("exec sudo -S -p "), "{}", start.command);
        assert!(start.command.contains("-u postgres --"), "{}", start.command);
        assert!(!format!("{become_:?}").contains("s3cr3t"));
        let start = Become::default().start("exec /bin/sh");
        assert!(start.command.starts_with("exec sudo -n -H -u root -- /bin/sh -c "), "{}", start.command);
    }

    #[test]
    fn each_start_has_its_own_markers() {
        let become_ = Become::default();
        assert_ne!(become_.start("x").prompt, become_.start("x").prompt);
    }

    #[test]
    fn su_takes_the_script_as_one_word_and_never_the_password() {
        let become_ =
            Become { user: Some("app user".into()), password: Some("s3cr3t".into()), method: BecomeMethod::Su };
        let start = become_.start("exec /bin/sh");
        assert!(!start.command.contains("s3cr3t"), "{}", start.command);
        assert!(start.command.starts_with("LC_ALL=C; export LC_ALL; exec su -s /bin/sh -c '"), "{}", start.command);
        assert!(start.command.ends_with(" 'app user'"), "{}", start.command);
        assert!(start.prompt.is_none());
        // Run by a local shell, the command hands su exactly these words (su itself replaced by printf).
        let shown = start.command.replace("exec su ", "exec printf '[%s]' ");
        let out = std::process::Command::new("sh").arg("-c").arg(&shown).output().unwrap();
        let words = String::from_utf8(out.stdout).unwrap();
        assert!(words.starts_with("[-s][/bin/sh][-c][printf '%s\\n' runbook-become-ready-"), "{words}");
        assert!(words.ends_with("exec /bin/sh][app user]"), "{words}");
    }

    #[test]
    fn su_prompts_are_recognised() {
        assert!(su_is_asking("Password: "));
        assert!(su_is_asking("motd line\nroot's Password:"));
        assert!(su_is_asking("Password\u{ff1a}"));
        assert!(!su_is_asking("Password: \nsu: Authentication failure\n"));
        assert!(!su_is_asking(""));
    }

    #[test]
    fn methods_are_named_as_ansible_names_them() {
        assert_eq!(BecomeMethod::parse("su"), Some(BecomeMethod::Su));
        assert_eq!(BecomeMethod::parse("sudo"), Some(BecomeMethod::Sudo));
        assert_eq!(BecomeMethod::parse("doas"), None);
    }
}
