//! Opening one authenticated SSH session: the byte stream to the host (a TCP socket, a direct-tcpip channel
//! through a jump host, or a local ProxyCommand), the handshake with its host-key check, and the login.
//!
//! Targets and jump hosts go through the same code, so a jump host's key is checked exactly like any other.

use std::path::PathBuf;
use std::pin::Pin;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use russh::keys::PrivateKeyWithHashAlg;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::connect_options::ConnectOptions;
use super::host_key_verifier::HostKeyVerifier;
use super::transport_error::ConnectError;

/// How often an idle connection asks the host whether it is still there, and how many unanswered asks mean
/// it is gone. sshd answers a keepalive at once even while a command runs, so a short interval costs nothing
/// but a few bytes; it only decides how long a dead host holds up its task.
pub const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(5);
pub const KEEPALIVE_MAX: usize = 3;

pub(crate) type Handle = russh::client::Handle<HostKeyVerifier>;

/// The bytes to and from one host, whichever way they travel.
trait ByteStream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> ByteStream for T {}

/// A ProxyCommand's stdin and stdout as one stream; the command is killed when the connection ends.
struct ProxyCommandStream {
    child: tokio::process::Child,
    stdin: tokio::process::ChildStdin,
    stdout: tokio::process::ChildStdout,
}

impl AsyncRead for ProxyCommandStream {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stdout).poll_read(cx, buf)
    }
}

impl AsyncWrite for ProxyCommandStream {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stdin).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stdin).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let _ = self.child.start_kill();
        Pin::new(&mut self.stdin).poll_shutdown(cx)
    }
}

/// Connects, checks the host key and logs in. Does not retry: the caller decides what is worth a retry.
pub(crate) async fn open(options: &ConnectOptions) -> Result<Handle, ConnectError> {
    let stream = open_stream(options).await?;
    let refusal = Arc::new(Mutex::new(None));
    let verifier = HostKeyVerifier {
        address: options.address.clone(),
        port: options.port,
        known_hosts: options.known_hosts.clone(),
        policy: options.host_key_policy,
        refusal: refusal.clone(),
    };
    let config = Arc::new(russh::client::Config {
        inactivity_timeout: None,
        // A host that vanishes without closing TCP (power cut, link down) is noticed after about
        // KEEPALIVE_INTERVAL × (KEEPALIVE_MAX + 1): ~20 s, where 15 s × 4 took over a minute per host.
        keepalive_interval: Some(KEEPALIVE_INTERVAL),
        keepalive_max: KEEPALIVE_MAX,
        nodelay: true,
        window_size: 8 * 1024 * 1024,
        ..Default::default()
    });
    let mut handle = match russh::client::connect_stream(config, stream, verifier).await {
        Ok(handle) => handle,
        Err(error) => {
            if let Some(refused) = refusal.lock().unwrap().take() {
                return Err(refused);
            }
            return Err(handshake_error(options, error));
        }
    };
    authenticate(&mut handle, options).await?;
    Ok(handle)
}

/// A handshake cut short by the network (sshd restarting, a reset) is worth a retry; anything else is not.
fn handshake_error(options: &ConnectOptions, error: russh::Error) -> ConnectError {
    match error {
        russh::Error::IO(_) | russh::Error::Disconnect | russh::Error::HUP | russh::Error::ConnectionTimeout => {
            ConnectError::Dropped { address: options.address.clone(), port: options.port, reason: error.to_string() }
        }
        error => ConnectError::Protocol(error.to_string()),
    }
}

/// Wraps a hop's failure so the message says which hop failed; an inner hop's error is already wrapped.
fn hop_error(hop: &ConnectOptions, error: ConnectError) -> ConnectError {
    match error {
        ConnectError::Hop { .. } | ConnectError::Tunnel { .. } => error,
        error => ConnectError::Hop { hop: hop.label(), error: Box::new(error) },
    }
}

async fn open_stream(options: &ConnectOptions) -> Result<Box<dyn ByteStream>, ConnectError> {
    let (address, port) = (options.address.clone(), options.port);
    if let Some(jump) = &options.jump {
        // Boxed: a hop behind another hop opens that one first (a recursion of futures).
        let opening = Box::pin(async move { open(jump).await.map_err(|error| hop_error(jump, error)) });
        let handle = options.jumps.handle(jump.route_key(), opening).await?;
        let channel = handle
            .channel_open_direct_tcpip(address.clone(), u32::from(port), "127.0.0.1", 0)
            .await
            .map_err(|error| {
                let reason = match error {
                    russh::Error::ChannelOpenFailure(why) => format!("{why:?}"),
                    other => other.to_string(),
                };
                ConnectError::Tunnel { hop: jump.label(), address, port, reason }
            })?;
        return Ok(Box::new(channel.into_stream()));
    }
    if let Some(command) = options.expanded_proxy_command() {
        // `sh -c`, as OpenSSH runs it: the command is the user's own configuration, not data from a host.
        let mut child = tokio::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(format!("exec {command}"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .map_err(|error| ConnectError::ProxyCommand { command: command.clone(), reason: error.to_string() })?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err(ConnectError::ProxyCommand { command, reason: "no pipes to the command".into() });
        };
        return Ok(Box::new(ProxyCommandStream { child, stdin, stdout }));
    }
    let socket =
        match tokio::time::timeout(options.connect_timeout, tokio::net::TcpStream::connect((address.as_str(), port)))
            .await
        {
            Err(_) => return Err(ConnectError::Timeout { address, port, timeout: options.connect_timeout }),
            Ok(Err(error)) if error.kind() == std::io::ErrorKind::ConnectionRefused => {
                return Err(ConnectError::Refused { address, port });
            }
            Ok(Err(error)) => return Err(ConnectError::Network { address, port, reason: error.to_string() }),
            Ok(Ok(socket)) => socket,
        };
    let _ = socket.set_nodelay(true);
    Ok(Box::new(socket))
}

async fn authenticate(
    handle: &mut russh::client::Handle<HostKeyVerifier>,
    options: &ConnectOptions,
) -> Result<(), ConnectError> {
    let user = options.user.clone();
    let mut tried = Vec::new();
    let protocol = |e: russh::Error| ConnectError::Protocol(e.to_string());
    let rsa_hash = handle.best_supported_rsa_hash().await.map_err(protocol)?.flatten();

    if let Ok(mut agent) = russh::keys::agent::client::AgentClient::connect_env().await
        && let Ok(identities) = agent.request_identities().await
    {
        for identity in identities {
            let russh::keys::agent::AgentIdentity::PublicKey { key, .. } = identity else {
                continue;
            };
            tried.push(format!("agent key {}", key.fingerprint(russh::keys::HashAlg::Sha256)));
            if let Ok(result) = handle.authenticate_publickey_with(&user, key, rsa_hash, &mut agent).await
                && result.success()
            {
                return Ok(());
            }
        }
    }

    for path in &options.keys {
        let key = match russh::keys::load_secret_key(path, None) {
            Ok(key) => key,
            Err(error) => {
                tried.push(format!("{} (unreadable: {error})", path.display()));
                continue;
            }
        };
        let key = Arc::new(key);
        // OpenSSH's convention: a user certificate sits next to its key as `<key>-cert.pub`, and is offered
        // before the plain key (a host that trusts the CA need not list the key in authorized_keys).
        let cert_path = PathBuf::from(format!("{}-cert.pub", path.display()));
        if cert_path.exists() {
            match russh::keys::load_openssh_certificate(&cert_path) {
                Err(error) => tried.push(format!("{} (unreadable: {error})", cert_path.display())),
                Ok(cert) => {
                    let validity = certificate_validity(cert.valid_after(), cert.valid_before(), unix_now());
                    tried.push(format!("{}{validity}", cert_path.display()));
                    if handle.authenticate_openssh_cert(&user, key.clone(), cert).await.map_err(protocol)?.success() {
                        return Ok(());
                    }
                }
            }
        }
        tried.push(path.display().to_string());
        let key = PrivateKeyWithHashAlg::new(key, rsa_hash);
        if handle.authenticate_publickey(&user, key).await.map_err(protocol)?.success() {
            return Ok(());
        }
    }

    if let Some(password) = &options.password {
        tried.push("password".into());
        if handle.authenticate_password(&user, password).await.map_err(protocol)?.success() {
            return Ok(());
        }
        // Servers that leave passwords to PAM offer only keyboard-interactive: answer its hidden prompts
        // (the password prompt) with the password, and give up on anything else it asks.
        tried.push("keyboard-interactive".into());
        let mut reply = handle.authenticate_keyboard_interactive_start(&user, None).await.map_err(protocol)?;
        for _ in 0..4 {
            match reply {
                russh::client::KeyboardInteractiveAuthResponse::Success => return Ok(()),
                russh::client::KeyboardInteractiveAuthResponse::Failure { .. } => break,
                russh::client::KeyboardInteractiveAuthResponse::InfoRequest { prompts, .. } => {
                    if prompts.iter().any(|prompt| prompt.echo) {
                        break;
                    }
                    let answers = prompts.iter().map(|_| password.clone()).collect();
                    reply = handle.authenticate_keyboard_interactive_respond(answers).await.map_err(protocol)?;
                }
            }
        }
    }

    if tried.is_empty() {
        tried.push("no key found: set `key` in the inventory, load ssh-agent, or create ~/.ssh/id_ed25519".into());
    }
    Err(ConnectError::Auth { user, tried: tried.join(", ") })
}

fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Why a certificate's validity window may be the reason it was refused, for the message that lists what was
/// tried: ` (certificate expired 3 h ago)`, ` (certificate not valid for another 10 min)`, or nothing when `now`
/// is inside the window.
fn certificate_validity(valid_after: u64, valid_before: u64, now: u64) -> String {
    let span = |secs: u64| match secs {
        0..120 => format!("{secs} s"),
        120..7_200 => format!("{} min", secs / 60),
        7_200..172_800 => format!("{} h", secs / 3_600),
        _ => format!("{} days", secs / 86_400),
    };
    if now >= valid_before {
        format!(" (certificate expired {} ago)", span(now - valid_before))
    } else if now < valid_after {
        format!(" (certificate not valid for another {})", span(valid_after - now))
    } else {
        String::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_certificate_outside_its_window_says_so() {
        assert_eq!(certificate_validity(0, u64::MAX, 1_000), "");
        assert_eq!(certificate_validity(0, 1_000, 1_000), " (certificate expired 0 s ago)");
        assert_eq!(certificate_validity(0, 1_000, 1_000 + 3 * 3_600), " (certificate expired 3 h ago)");
        assert_eq!(certificate_validity(0, 1_000, 1_000 + 9 * 86_400), " (certificate expired 9 days ago)");
        assert_eq!(certificate_validity(1_600, u64::MAX, 1_000), " (certificate not valid for another 10 min)");
    }
}
