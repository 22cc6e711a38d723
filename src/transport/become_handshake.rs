//! Becoming another user (root by default) with `sudo`, with or without a password.
//!
//! The password travels on the channel's stdin, never in argv: sudo runs with `-S` and a prompt made of a
//! fresh random nonce, and the password is sent only once that prompt shows on stderr. Sending it blindly
//! would hand it to the shell as a command whenever sudo does not ask (NOPASSWD, a cached timestamp). A
//! second prompt means the password was wrong: the channel is closed at once, so a wrong password costs one
//! sudo delay, not three, and never a hang. The shell sudo starts prints a ready marker first, so the
//! controller knows when sudo is done with stdin.

use std::time::Duration;

use russh::ChannelMsg;
use russh::client::Msg;

use super::shell_quote::quote;
use super::transport_error::TransportError;

/// How long sudo may take to answer (PAM's failure delay is ~2 s; a hung LDAP lookup is not worth more).
const BECOME_LIMIT: Duration = Duration::from_secs(30);

/// Whom to become and how to prove it.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Become {
    /// `None`: root.
    pub user: Option<String>,
    /// The sudo password; `None` runs `sudo -n`, which fails at once where a password is needed.
    pub password: Option<String>,
}

impl std::fmt::Debug for Become {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let password = if self.password.is_some() { "Some(<hidden>)" } else { "None" };
        write!(f, "Become {{ user: {:?}, password: {password} }}", self.user)
    }
}

/// One use of sudo: the command to exec, and the markers that tell its progress.
pub struct BecomeStart {
    pub command: String,
    prompt: String,
    ready: String,
    password: Option<String>,
    user: String,
}

impl Become {
    pub fn user_name(&self) -> &str {
        self.user.as_deref().unwrap_or("root")
    }

    /// The command that runs `inner` (shell text) as the become user, e.g. `exec /bin/sh`.
    pub fn start(&self, inner: &str) -> BecomeStart {
        let nonce: u128 = rand::random();
        let prompt = format!("runbook-become-prompt-{nonce:032x}:");
        let ready = format!("runbook-become-ready-{nonce:032x}");
        let auth = if self.password.is_some() { format!("-S -p {}", quote(&prompt)) } else { "-n".to_string() };
        let script = format!("printf '%s\\n' {} >&2; {inner}", quote(&ready));
        let command = format!("exec sudo {auth} -H -u {} -- /bin/sh -c {}", quote(self.user_name()), quote(&script));
        BecomeStart { command, prompt, ready, password: self.password.clone(), user: self.user_name().to_string() }
    }
}

impl BecomeStart {
    /// Waits until sudo has started the shell, answering its password prompt once. The command must have
    /// been exec'd on `channel` already.
    pub async fn complete(&self, channel: &mut russh::Channel<Msg>) -> Result<(), TransportError> {
        match tokio::time::timeout(BECOME_LIMIT, self.drive(channel)).await {
            Ok(result) => result,
            Err(_) => Err(TransportError::Become(format!(
                "sudo to {} did not answer within {}s",
                self.user,
                BECOME_LIMIT.as_secs()
            ))),
        }
    }

    async fn drive(&self, channel: &mut russh::Channel<Msg>) -> Result<(), TransportError> {
        let mut stderr = Vec::new();
        let mut answered = false;
        loop {
            let Some(message) = channel.wait().await else {
                return Err(self.failure(&stderr));
            };
            match message {
                ChannelMsg::ExtendedData { data, ext: 1 } => {
                    stderr.extend_from_slice(&data);
                    let text = String::from_utf8_lossy(&stderr);
                    if text.contains(&self.ready) {
                        return Ok(());
                    }
                    let prompts = text.matches(&self.prompt).count();
                    if prompts >= 2 {
                        let _ = channel.close().await;
                        return Err(TransportError::Become(format!(
                            "sudo to {}: wrong become password (sudo said: {})",
                            self.user,
                            clean(&text.replace(&self.prompt, ""))
                        )));
                    }
                    if prompts == 1 && !answered {
                        let Some(password) = &self.password else {
                            return Err(self.failure(&stderr));
                        };
                        answered = true;
                        let line = format!("{password}\n").into_bytes();
                        channel.data_bytes(line).await.map_err(|e| TransportError::Disconnected(e.to_string()))?;
                    }
                }
                ChannelMsg::ExitStatus { .. } | ChannelMsg::Eof | ChannelMsg::Close => {
                    return Err(self.failure(&stderr));
                }
                _ => {}
            }
        }
    }

    fn failure(&self, stderr: &[u8]) -> TransportError {
        let said = clean(&String::from_utf8_lossy(stderr).replace(&self.prompt, ""));
        let hint = if said.contains("password is required") {
            " (give the password with --ask-become-pass, RUNBOOK_BECOME_PASSWORD or `become_password_secret`)"
        } else {
            ""
        };
        TransportError::Become(format!("sudo to {} failed: {said}{hint}", self.user))
    }
}

fn clean(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_is_never_in_the_command() {
        let become_ = Become { user: Some("postgres".into()), password: Some("s3cr3t pw".into()) };
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
}
