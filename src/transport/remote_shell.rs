//! Persistent shells: one long-lived `sh` per channel runs command after command, so a command costs one round
//! trip instead of a channel and a login shell. Output ends at a marker carrying a fresh nonce, which no command
//! output can forge.

use std::time::Duration;

use russh::ChannelMsg;
use russh::client::Msg;

use super::become_handshake::Become;
use super::remote_command::CommandOutput;
use super::transport_error::TransportError;

/// One long-lived `sh` on the host, running one command at a time.
///
/// Each command is followed by a marker with a fresh random nonce on stdout (carrying the exit code) and on
/// stderr; the output of the command is everything before them. A nonce cannot be guessed by the command, so
/// no output can end a command early.
pub struct RemoteShell {
    channel: russh::Channel<Msg>,
}

/// Marker prefix: an ASCII record separator, rarely seen in command output, then a tag.
const MARK: &str = "\x1erunbook-end-";

impl RemoteShell {
    /// Starts `sh` on an open session channel, as the become user through sudo when `become_` is given.
    pub async fn start(
        mut channel: russh::Channel<Msg>,
        become_: Option<&Become>,
    ) -> Result<RemoteShell, TransportError> {
        let start = become_.map(|become_| become_.start("exec /bin/sh"));
        let program = start.as_ref().map_or("exec /bin/sh", |start| start.command.as_str());
        channel
            .exec(true, program)
            .await
            .map_err(|e| TransportError::Disconnected(format!("cannot start a shell: {e}")))?;
        if let Some(start) = &start {
            start.complete(&mut channel).await?;
        }
        let mut shell = RemoteShell { channel };
        // The first round trip proves the shell (and sudo) works, and gives sudo's message if not.
        let probe = shell.run("LC_ALL=C; export LC_ALL; true", Some(Duration::from_secs(30))).await;
        match probe {
            Ok(output) if output.rc == 0 => Ok(shell),
            Ok(output) => Err(TransportError::Disconnected(output.stderr_text().trim().to_string())),
            Err(error) => Err(error),
        }
    }

    /// Runs shell text and waits for its end marker. `limit` bounds the wait on the controller side; the
    /// command's own timeout is applied on the host by the caller's script.
    pub async fn run(&mut self, script: &str, limit: Option<Duration>) -> Result<CommandOutput, TransportError> {
        let nonce: u128 = rand::random();
        let mark = format!("{MARK}{nonce:032x}");
        let framed =
            format!("{script}\n__rb=$?; printf '\\n%s %d\\n' '{mark}' \"$__rb\"; printf '\\n%s\\n' '{mark}' >&2\n");
        self.channel.data_bytes(framed.into_bytes()).await.map_err(|e| TransportError::Disconnected(e.to_string()))?;
        let collect = self.collect(mark.as_bytes());
        match limit {
            Some(limit) => tokio::time::timeout(limit, collect).await.map_err(|_| TransportError::Timeout(limit))?,
            None => collect.await,
        }
    }

    async fn collect(&mut self, mark: &[u8]) -> Result<CommandOutput, TransportError> {
        let mut stdout = Vec::new();
        let mut stderr = Vec::new();
        let mut stdout_mark: Option<usize> = None;
        let mut stdout_end: Option<usize> = None;
        let mut stderr_end: Option<usize> = None;
        let mut rc: Option<i32> = None;
        while stdout_end.is_none() || stderr_end.is_none() {
            let Some(message) = self.channel.wait().await else {
                return Err(TransportError::Disconnected("the remote shell's channel closed".into()));
            };
            match message {
                ChannelMsg::Data { data } => {
                    let from = stdout.len().saturating_sub(mark.len() + 1);
                    stdout.extend_from_slice(&data);
                    if stdout_mark.is_none() {
                        stdout_mark = find(&stdout[from..], mark).map(|i| i + from);
                    }
                    if let (Some(at), None) = (stdout_mark, stdout_end) {
                        // The exit code follows the marker on the same line.
                        let rest = &stdout[at + mark.len()..];
                        if let Some(newline) = rest.iter().position(|&b| b == b'\n') {
                            rc = std::str::from_utf8(&rest[..newline]).ok().and_then(|s| s.trim().parse().ok());
                            stdout_end = Some(at);
                        }
                    }
                }
                ChannelMsg::ExtendedData { data, ext: 1 } => {
                    let from = stderr.len().saturating_sub(mark.len() + 1);
                    stderr.extend_from_slice(&data);
                    if stderr_end.is_none()
                        && let Some(at) = find(&stderr[from..], mark).map(|i| i + from)
                    {
                        stderr_end = Some(at);
                    }
                }
                ChannelMsg::ExitStatus { exit_status } => {
                    return Err(TransportError::Disconnected(format!(
                        "the remote shell exited with status {exit_status}: {}",
                        String::from_utf8_lossy(&stderr).trim()
                    )));
                }
                ChannelMsg::Eof | ChannelMsg::Close => {
                    return Err(TransportError::Disconnected(format!(
                        "the remote shell ended: {}",
                        String::from_utf8_lossy(&stderr).trim()
                    )));
                }
                _ => {}
            }
        }
        // The framing put one newline before each marker.
        stdout.truncate(stdout_end.unwrap().saturating_sub(1));
        stderr.truncate(stderr_end.unwrap().saturating_sub(1));
        Ok(CommandOutput { rc: rc.unwrap_or(-1), stdout, stderr })
    }

    pub async fn close(self) {
        let _ = self.channel.eof().await;
        let _ = self.channel.close().await;
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|window| window == needle)
}
