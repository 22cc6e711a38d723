//! What the run and the connection holder say to each other over the holder's Unix socket.
//!
//! One request per socket connection (a Unix connect costs microseconds, far less than the SSH round trip it
//! carries), so requests need no ids and a run's many hosts never queue behind one another. Each message is
//! one frame: a 4-byte big-endian length and JSON. An upload's bytes follow its request raw, up to the
//! client's end of stream. No password ever crosses the socket: connections that need one are never held.

use std::path::PathBuf;
use std::time::Duration;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::become_handshake::{Become, BecomeMethod};
use super::connect_options::ConnectOptions;
use super::host_key_policy::HostKeyPolicy;
use super::jump_pool::JumpPool;
use super::remote_command::{CommandOutput, RemoteCommand};
use super::transport_error::{ConnectError, TransportError};

/// A frame larger than this is a broken or hostile peer, not a command.
const MAX_FRAME: usize = 256 * 1024 * 1024;

/// The full identity of one held connection: everything that decides who logs in where, by which path, which
/// host keys are trusted, and whom the shells run as. Two runs share a connection only when all of it matches.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct HeldTarget {
    pub address: String,
    pub port: u16,
    pub user: String,
    pub keys: Vec<PathBuf>,
    pub known_hosts: Vec<PathBuf>,
    pub host_key_policy: String,
    pub become_root: bool,
    pub become_user: Option<String>,
    /// sudo or su: two runs that become differently never share a connection's shells.
    pub become_method: String,
    pub proxy_command: Option<String>,
    pub jump: Option<Box<HeldTarget>>,
}

impl HeldTarget {
    /// The identity of `options`, or `None` when the connection must not be held: a login or sudo password
    /// would have to be handed to the holder (anywhere on the chain), and secrets stay in the run's memory.
    pub fn of(options: &ConnectOptions) -> Option<HeldTarget> {
        if options.password.is_some() || options.become_.password.is_some() {
            return None;
        }
        let jump = match &options.jump {
            Some(jump) => Some(Box::new(HeldTarget::of(jump)?)),
            None => None,
        };
        // Absolute paths: the holder may have been started from another folder.
        let absolute = |paths: &[PathBuf]| paths.iter().map(|p| std::path::absolute(p).unwrap_or(p.clone())).collect();
        Some(HeldTarget {
            address: options.address.clone(),
            port: options.port,
            user: options.user.clone(),
            keys: absolute(&options.keys),
            known_hosts: absolute(&options.known_hosts),
            host_key_policy: policy_name(options.host_key_policy).to_string(),
            become_root: options.become_root,
            become_user: options.become_.user.clone(),
            become_method: options.become_.method.name().to_string(),
            proxy_command: options.proxy_command.clone(),
            jump,
        })
    }

    /// The options the holder connects with; `host_name` only names the host in messages.
    pub fn options(&self, host_name: &str, settings: &HeldSettings, jumps: &JumpPool) -> ConnectOptions {
        // Field by field from the default: never a password here, and whatever else `Become` learns to carry
        // keeps its default rather than breaking this.
        let become_ = Become {
            user: self.become_user.clone(),
            method: BecomeMethod::parse(&self.become_method).unwrap_or_default(),
            ..Become::default()
        };
        ConnectOptions {
            host_name: host_name.to_string(),
            address: self.address.clone(),
            port: self.port,
            user: self.user.clone(),
            keys: self.keys.clone(),
            password: None,
            known_hosts: self.known_hosts.clone(),
            host_key_policy: policy_of(&self.host_key_policy),
            connect_timeout: Duration::from_millis(settings.connect_timeout_ms),
            become_root: self.become_root,
            become_,
            jump: self.jump.as_ref().map(|jump| Box::new(jump.options(&jump.label(), settings, jumps))),
            proxy_command: self.proxy_command.clone(),
            connect_retries: settings.connect_retries,
            jumps: jumps.clone(),
        }
    }

    /// The key under which the holder keeps this connection.
    pub fn key(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    fn label(&self) -> String {
        format!("{}@{}:{}", self.user, self.address, self.port)
    }

    /// Every known_hosts file this connection's keys were checked against, jump hosts' included.
    pub fn all_known_hosts(&self) -> Vec<PathBuf> {
        let mut files = self.known_hosts.clone();
        if let Some(jump) = &self.jump {
            files.extend(jump.all_known_hosts());
        }
        files
    }
}

fn policy_name(policy: HostKeyPolicy) -> &'static str {
    match policy {
        HostKeyPolicy::Strict => "strict",
        HostKeyPolicy::AcceptNew => "accept-new",
        HostKeyPolicy::Off => "off",
    }
}

/// An unknown name is read as strict: the holder never loosens a check it does not understand.
fn policy_of(name: &str) -> HostKeyPolicy {
    match name {
        "accept-new" => HostKeyPolicy::AcceptNew,
        "off" => HostKeyPolicy::Off,
        _ => HostKeyPolicy::Strict,
    }
}

/// Per-request settings that do not make a connection different.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HeldSettings {
    pub host_name: String,
    pub connect_timeout_ms: u64,
    pub connect_retries: u32,
    /// How long the holder stays after its last request.
    pub persist_secs: u64,
}

/// A command as it crosses the socket (the stdin bytes as base64 in the JSON).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WireCommand {
    pub script: String,
    pub stdin: Option<String>,
    pub timeout_ms: Option<u64>,
    pub sudo: bool,
    pub env: Vec<(String, String)>,
    pub cwd: Option<String>,
}

impl From<&RemoteCommand> for WireCommand {
    fn from(command: &RemoteCommand) -> WireCommand {
        WireCommand {
            script: command.script.clone(),
            stdin: command.stdin.as_ref().map(|bytes| base64::engine::general_purpose::STANDARD.encode(bytes)),
            timeout_ms: command.timeout.map(|t| t.as_millis() as u64),
            sudo: command.sudo,
            env: command.env.clone(),
            cwd: command.cwd.clone(),
        }
    }
}

impl WireCommand {
    pub fn command(&self) -> Result<RemoteCommand, base64::DecodeError> {
        let stdin = match &self.stdin {
            Some(text) => Some(base64::engine::general_purpose::STANDARD.decode(text)?),
            None => None,
        };
        Ok(RemoteCommand {
            script: self.script.clone(),
            stdin,
            timeout: self.timeout_ms.map(Duration::from_millis),
            sudo: self.sudo,
            env: self.env.clone(),
            cwd: self.cwd.clone(),
        })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Request {
    /// Connect (or find the held connection) and report whether the login user is root.
    Connect { target: HeldTarget, settings: HeldSettings },
    /// Run a command in one of the connection's shells.
    Exec { target: HeldTarget, settings: HeldSettings, command: WireCommand },
    /// Run a script on a fresh exec channel, its stdin the raw bytes that follow this frame.
    Stream { target: HeldTarget, settings: HeldSettings, script: String },
    /// Drop the connection (the host rebooted): the next request logs in again.
    Forget { target: HeldTarget },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Response {
    Connected,
    ConnectFailed(ConnectError),
    Output { rc: i32, stdout: String, stderr: String },
    Failed(WireTransportError),
    Done,
}

impl Response {
    pub fn output(output: &CommandOutput) -> Response {
        let encode = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
        Response::Output { rc: output.rc, stdout: encode(&output.stdout), stderr: encode(&output.stderr) }
    }
}

/// [`TransportError`] on the wire, so the run counts a host as unreachable or failed exactly as it would
/// over its own connection.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum WireTransportError {
    Disconnected(String),
    TimeoutMs(u64),
    Become(String),
    Local(String),
}

impl From<&TransportError> for WireTransportError {
    fn from(error: &TransportError) -> WireTransportError {
        match error {
            TransportError::Disconnected(why) => WireTransportError::Disconnected(why.clone()),
            TransportError::Timeout(limit) => WireTransportError::TimeoutMs(limit.as_millis() as u64),
            TransportError::Become(why) => WireTransportError::Become(why.clone()),
            TransportError::Local(why) => WireTransportError::Local(why.clone()),
        }
    }
}

impl From<WireTransportError> for TransportError {
    fn from(error: WireTransportError) -> TransportError {
        match error {
            WireTransportError::Disconnected(why) => TransportError::Disconnected(why),
            WireTransportError::TimeoutMs(ms) => TransportError::Timeout(Duration::from_millis(ms)),
            WireTransportError::Become(why) => TransportError::Become(why),
            WireTransportError::Local(why) => TransportError::Local(why),
        }
    }
}

/// Decodes an `Output` response's bytes.
pub fn decode_output(rc: i32, stdout: &str, stderr: &str) -> Result<CommandOutput, TransportError> {
    let decode = |text: &str| {
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(|e| TransportError::Local(format!("connection holder: bad output: {e}")))
    };
    Ok(CommandOutput { rc, stdout: decode(stdout)?, stderr: decode(stderr)? })
}

pub async fn write_frame<W: AsyncWrite + Unpin, T: Serialize>(writer: &mut W, message: &T) -> std::io::Result<()> {
    let body = serde_json::to_vec(message).map_err(std::io::Error::other)?;
    let mut frame = Vec::with_capacity(body.len() + 4);
    frame.extend_from_slice(&(body.len() as u32).to_be_bytes());
    frame.extend_from_slice(&body);
    writer.write_all(&frame).await?;
    writer.flush().await
}

/// Reads exactly one frame, never a byte past it (an upload's raw bytes may follow).
pub async fn read_frame<R: AsyncRead + Unpin, T: for<'de> Deserialize<'de>>(reader: &mut R) -> std::io::Result<T> {
    let mut length = [0u8; 4];
    reader.read_exact(&mut length).await?;
    let length = u32::from_be_bytes(length) as usize;
    if length > MAX_FRAME {
        return Err(std::io::Error::other(format!("a frame of {length} bytes is too large")));
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body).await?;
    serde_json::from_slice(&body).map_err(std::io::Error::other)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> ConnectOptions {
        let mut options = ConnectOptions::resolve("web1", "10.0.0.5", Some("ops"), Some(22), None, None);
        options.password = None;
        options.jump = None;
        options.proxy_command = None;
        options
    }

    #[test]
    fn a_password_anywhere_on_the_chain_keeps_the_connection_out_of_the_holder() {
        let mut plain = options();
        assert!(HeldTarget::of(&plain).is_some());
        plain.become_.password = Some("s".into());
        assert!(HeldTarget::of(&plain).is_none());
        let mut hop = options();
        hop.password = Some("s".into());
        let target = options().through(vec![hop]);
        assert!(HeldTarget::of(&target).is_none());
    }

    #[test]
    fn the_identity_covers_every_connect_setting_and_round_trips() {
        let base = HeldTarget::of(&options()).unwrap();
        let mut changed = options();
        changed.known_hosts = vec!["/other/known_hosts".into()];
        assert_ne!(HeldTarget::of(&changed).unwrap().key(), base.key());
        let mut changed = options();
        changed.host_key_policy = HostKeyPolicy::Off;
        assert_ne!(HeldTarget::of(&changed).unwrap().key(), base.key());
        let mut changed = options();
        changed.become_root = true;
        assert_ne!(HeldTarget::of(&changed).unwrap().key(), base.key());
        let via = options().through(vec![options()]);
        assert_ne!(HeldTarget::of(&via).unwrap().key(), base.key());

        let settings =
            HeldSettings { host_name: "web1".into(), connect_timeout_ms: 5000, connect_retries: 1, persist_secs: 9 };
        let rebuilt = HeldTarget::of(&via).unwrap().options("web1", &settings, &JumpPool::default());
        assert_eq!(HeldTarget::of(&rebuilt).unwrap(), HeldTarget::of(&via).unwrap());
        assert_eq!(rebuilt.connect_timeout, Duration::from_secs(5));
    }

    #[test]
    fn a_command_survives_the_wire() {
        let command = RemoteCommand {
            script: "cat".into(),
            stdin: Some(vec![0, 1, 255]),
            timeout: Some(Duration::from_secs(3)),
            sudo: true,
            env: vec![("A".into(), "b c".into())],
            cwd: Some("/tmp".into()),
        };
        let back = WireCommand::from(&command).command().unwrap();
        assert_eq!(back.to_shell(true), command.to_shell(true));
    }

    #[tokio::test]
    async fn frames_stop_exactly_at_their_end() {
        let mut buffer = Vec::new();
        write_frame(&mut buffer, &Request::Forget { target: HeldTarget::of(&options()).unwrap() }).await.unwrap();
        buffer.extend_from_slice(b"raw upload bytes");
        let mut reader = &buffer[..];
        let request: Request = read_frame(&mut reader).await.unwrap();
        assert!(matches!(request, Request::Forget { .. }));
        assert_eq!(reader, b"raw upload bytes");
    }
}
