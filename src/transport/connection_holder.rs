//! The connection holder (`runbook hold`, started by a run with `--persist`): one process per user that keeps
//! authenticated SSH connections — with their remote shells — alive after a run ends, so the next run, an
//! `--idempotence` pass or `runbook exec` reuses them instead of logging in again. OpenSSH's ControlPersist,
//! for runbook's own transport.
//!
//! Trust is the same as without it: the holder connects with the run's own options (keys, known_hosts files,
//! host-key policy, jump chain), through the same `Connection` code, so host keys are checked exactly as
//! today. A held connection is reused only while every known_hosts file it was checked against is unchanged
//! since it logged in; any edit there (a removed line, a key recorded by accept-new) makes the next request
//! log in again with a full check. Access: the socket lives in a 0700 folder of the user's own and every
//! peer's uid is checked (SO_PEERCRED). No password is ever held (see `HeldTarget::of`).

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use tokio::net::{UnixListener, UnixStream};

use super::connection::Connection;
use super::holder_error::{HolderError, HolderRequestError};
use super::holder_protocol::{self, HeldSettings, HeldTarget, Request, Response, WireTransportError};
use super::holder_socket_dir as socket_dir;
use super::jump_pool::JumpPool;
use super::transport_error::ConnectError;

struct Held {
    connection: Arc<Connection>,
    /// The known_hosts files as they were right after the login checked the host keys.
    known_hosts: String,
}

type Slot = Arc<tokio::sync::Mutex<Option<Held>>>;

struct Holder {
    slots: Mutex<HashMap<String, Slot>>,
    jumps: JumpPool,
    last_request: Mutex<Instant>,
    in_flight: AtomicUsize,
    idle: Mutex<Duration>,
}

/// Runs the holder in `dir` until it has been idle for `idle` (each request may extend it). Returns at once
/// when another holder already serves the folder.
pub async fn serve(dir: &Path, idle: Duration) -> Result<(), HolderError> {
    socket_dir::check(dir)?;
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(socket_dir::lock_file(dir))
        .map_err(|source| HolderError::Open { path: socket_dir::lock_file(dir), source })?;
    // SAFETY: flock on a descriptor we own; the lock lives as long as `lock`.
    if unsafe { libc::flock(std::os::fd::AsRawFd::as_raw_fd(&lock), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        return Ok(());
    }
    let socket = socket_dir::socket(dir);
    let _ = std::fs::remove_file(&socket);
    let listener =
        UnixListener::bind(&socket).map_err(|source| HolderError::Listen { path: socket.clone(), source })?;
    std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o600))
        .map_err(|source| HolderError::Inspect { path: socket.clone(), source })?;
    let _ = std::fs::write(socket_dir::pid_file(dir), format!("{}\n", std::process::id()));
    tracing::info!("connection holder {} listening on {}", std::process::id(), socket.display());

    let holder = Arc::new(Holder {
        slots: Mutex::new(HashMap::new()),
        jumps: JumpPool::default(),
        last_request: Mutex::new(Instant::now()),
        in_flight: AtomicUsize::new(0),
        idle: Mutex::new(idle),
    });
    loop {
        let wait = holder.time_left();
        if wait.is_zero() {
            break;
        }
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let holder = holder.clone();
                    holder.in_flight.fetch_add(1, Ordering::SeqCst);
                    tokio::spawn(async move {
                        if let Err(error) = holder.answer(stream).await {
                            tracing::debug!("connection holder: a request ended early: {error}");
                        }
                        *holder.last_request.lock().unwrap() = Instant::now();
                        holder.in_flight.fetch_sub(1, Ordering::SeqCst);
                    });
                }
                Err(error) => tracing::warn!("connection holder: accept: {error}"),
            },
            () = tokio::time::sleep(wait) => {}
        }
    }
    // Gone from the folder first, so no new run finds a holder that is closing.
    let _ = std::fs::remove_file(&socket);
    let _ = std::fs::remove_file(socket_dir::pid_file(dir));
    let held: Vec<Slot> = holder.slots.lock().unwrap().drain().map(|(_, slot)| slot).collect();
    let _ = tokio::time::timeout(Duration::from_secs(3), async {
        for slot in held {
            if let Some(held) = slot.lock().await.take() {
                held.connection.close().await;
            }
        }
        holder.jumps.close().await;
    })
    .await;
    tracing::info!("connection holder {} idle for {:?}: exiting", std::process::id(), holder.idle());
    drop(lock);
    Ok(())
}

impl Holder {
    fn idle(&self) -> Duration {
        *self.idle.lock().unwrap()
    }

    /// Zero once nothing is running and nothing came for the idle time.
    fn time_left(&self) -> Duration {
        if self.in_flight.load(Ordering::SeqCst) > 0 {
            return Duration::from_secs(1);
        }
        self.idle().saturating_sub(self.last_request.lock().unwrap().elapsed())
    }

    async fn answer(&self, stream: UnixStream) -> Result<(), HolderRequestError> {
        // The folder keeps others out; this is the second lock on the same door.
        let peer = stream.peer_cred().map_err(HolderRequestError::PeerCredentials)?;
        if peer.uid() != socket_dir::uid() {
            return Err(HolderRequestError::OtherUser(peer.uid()));
        }
        let (mut reader, mut writer) = stream.into_split();
        let request: Request = holder_protocol::read_frame(&mut reader).await?;
        let response = match request {
            Request::Connect { target, settings } => {
                self.persist_for(&settings);
                match self.connection(&target, &settings).await {
                    Ok(_) => Response::Connected,
                    Err(error) => Response::ConnectFailed(error),
                }
            }
            Request::Exec { target, settings, command } => {
                self.persist_for(&settings);
                match (self.connection(&target, &settings).await, command.command()) {
                    (Err(error), _) => Response::Failed(WireTransportError::Disconnected(error.to_string())),
                    (_, Err(error)) => Response::Failed(WireTransportError::Local(error.to_string())),
                    (Ok(connection), Ok(command)) => match connection.exec(&command).await {
                        Ok(output) => Response::output(&output),
                        Err(error) => Response::Failed((&error).into()),
                    },
                }
            }
            Request::Stream { target, settings, script } => {
                self.persist_for(&settings);
                match self.connection(&target, &settings).await {
                    Err(error) => Response::Failed(WireTransportError::Disconnected(error.to_string())),
                    Ok(connection) => match connection.exec_streaming(&script, reader).await {
                        Ok(output) => Response::output(&output),
                        Err(error) => Response::Failed((&error).into()),
                    },
                }
            }
            Request::Forget { target } => {
                let slot = self.slots.lock().unwrap().remove(&target.key());
                if let Some(slot) = slot
                    && let Some(held) = slot.lock().await.take()
                {
                    held.connection.close().await;
                }
                Response::Done
            }
        };
        holder_protocol::write_frame(&mut writer, &response).await?;
        Ok(writer.shutdown().await?)
    }

    fn persist_for(&self, settings: &HeldSettings) {
        *self.idle.lock().unwrap() = Duration::from_secs(settings.persist_secs.max(1));
        *self.last_request.lock().unwrap() = Instant::now();
    }

    /// The held connection for `target`, logging in first when there is none, it died, or a known_hosts
    /// file it was checked against has changed since.
    async fn connection(&self, target: &HeldTarget, settings: &HeldSettings) -> Result<Arc<Connection>, ConnectError> {
        let slot = self.slots.lock().unwrap().entry(target.key()).or_default().clone();
        let mut slot = slot.lock().await;
        let files = target.all_known_hosts();
        if let Some(held) = slot.as_ref() {
            if !held.connection.is_closed() && held.known_hosts == known_hosts_digest(&files) {
                return Ok(held.connection.clone());
            }
            tracing::info!("{}: logging in again (connection closed or known_hosts changed)", settings.host_name);
            if let Some(stale) = slot.take() {
                stale.connection.close().await;
            }
        }
        let connection =
            Arc::new(Connection::connect(target.options(&settings.host_name, settings, &self.jumps)).await?);
        *slot = Some(Held { connection: connection.clone(), known_hosts: known_hosts_digest(&files) });
        Ok(connection)
    }
}

/// The contents of the known_hosts files (a missing file counts as empty), hashed.
fn known_hosts_digest(files: &[PathBuf]) -> String {
    let mut hash = Sha256::new();
    for file in files {
        hash.update(file.as_os_str().as_encoded_bytes());
        hash.update([0]);
        match std::fs::read(file) {
            Ok(bytes) => hash.update(&bytes),
            Err(_) => hash.update(b"\0missing"),
        }
        hash.update([0]);
    }
    hex::encode(hash.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_edit_to_a_known_hosts_file_changes_the_digest() {
        let file = std::env::temp_dir().join(format!("rb-kh-{}", rand::random::<u64>()));
        let before = known_hosts_digest(std::slice::from_ref(&file));
        std::fs::write(&file, "host ssh-ed25519 AAAA\n").unwrap();
        let written = known_hosts_digest(std::slice::from_ref(&file));
        assert_ne!(before, written);
        assert_eq!(written, known_hosts_digest(std::slice::from_ref(&file)));
        std::fs::write(&file, "host ssh-ed25519 AAAB\n").unwrap();
        assert_ne!(written, known_hosts_digest(std::slice::from_ref(&file)));
        std::fs::remove_file(&file).unwrap();
    }
}
