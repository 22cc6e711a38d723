//! The run's side of the connection holder: turned on by `--persist` (or RUNBOOK_PERSIST), it finds the
//! user's holder — starting one when there is none — and sends each host's commands through it instead of
//! over a connection of its own. See `connection_holder` for what the holder does and why it is safe.
//!
//! When the holder cannot be reached or started, the run connects directly (with one warning): a missing
//! holder costs the logins it would have saved, never the run. A holder killed in the middle of a run fails
//! the commands it was carrying like a lost connection; the host's next connect starts a new holder.

use std::path::PathBuf;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWriteExt};
use tokio::net::UnixStream;

use super::connect_options::ConnectOptions;
use super::holder_error::{BadPersist, HolderError};
use super::holder_protocol::{self, HeldSettings, HeldTarget, Request, Response, WireCommand};
use super::holder_socket_dir as socket_dir;
use super::remote_command::{CommandOutput, RemoteCommand};
use super::transport_error::{ConnectError, TransportError};

/// How long a run waits for a holder it started to listen.
const START_LIMIT: Duration = Duration::from_secs(5);

struct Persist {
    dir: PathBuf,
    secs: u64,
}

static PERSIST: OnceLock<Persist> = OnceLock::new();
static WARNED: AtomicBool = AtomicBool::new(false);

/// Turns the holder on for this process: connections are held for `persist` after their last use. Checks
/// (and creates) the private folder first, so a folder others could reach stops the run before any host.
pub fn enable(persist: Duration) -> Result<(), HolderError> {
    let dir = socket_dir::location();
    socket_dir::prepare(&dir)?;
    let _ = PERSIST.set(Persist { dir, secs: persist.as_secs().max(1) });
    Ok(())
}

/// Reads `--persist`'s value: seconds, or a number with `s`, `m` or `h`.
pub fn parse_persist(text: &str) -> Result<Duration, BadPersist> {
    let text = text.trim();
    let (number, unit) = match text.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((at, _)) => text.split_at(at),
        None => (text, "s"),
    };
    let scale = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        _ => return Err(BadPersist(text.to_string())),
    };
    match number.parse::<u64>() {
        Ok(n) if n > 0 => Ok(Duration::from_secs(n * scale)),
        _ => Err(BadPersist(text.to_string())),
    }
}

/// One host's connection, held by the holder.
pub struct HeldConnection {
    target: HeldTarget,
    settings: HeldSettings,
    socket: PathBuf,
    /// Set when the holder stopped answering: the host connects again (through a new holder).
    gone: AtomicBool,
}

impl HeldConnection {
    /// `None` when this connection is not for the holder (not turned on, or a password is involved) or no
    /// holder could be reached: the caller connects directly.
    pub async fn connect(options: &ConnectOptions) -> Option<Result<HeldConnection, ConnectError>> {
        let persist = PERSIST.get()?;
        let target = HeldTarget::of(options)?;
        let settings = HeldSettings {
            host_name: options.host_name.clone(),
            connect_timeout_ms: options.connect_timeout.as_millis() as u64,
            connect_retries: options.connect_retries,
            persist_secs: persist.secs,
        };
        let held = HeldConnection { target, settings, socket: socket_dir::socket(&persist.dir), gone: false.into() };
        let request = Request::Connect { target: held.target.clone(), settings: held.settings.clone() };
        let answer = match held.ask(&request).await {
            Ok(answer) => answer,
            Err(_) => match start_holder(persist).await {
                Ok(()) => held.ask(&request).await.ok()?,
                Err(why) => {
                    if !WARNED.swap(true, Ordering::SeqCst) {
                        eprintln!("warning: --persist: {why}; connecting directly");
                    }
                    return None;
                }
            },
        };
        match answer {
            Response::Connected => Some(Ok(held)),
            Response::ConnectFailed(error) => Some(Err(error)),
            other => Some(Err(ConnectError::Protocol(format!("connection holder: unexpected answer {other:?}")))),
        }
    }

    async fn open(&self) -> std::io::Result<UnixStream> {
        UnixStream::connect(&self.socket).await
    }

    async fn ask(&self, request: &Request) -> std::io::Result<Response> {
        let mut stream = self.open().await?;
        holder_protocol::write_frame(&mut stream, request).await?;
        stream.shutdown().await?;
        holder_protocol::read_frame(&mut stream).await
    }

    fn lost(&self, error: std::io::Error) -> TransportError {
        self.gone.store(true, Ordering::SeqCst);
        TransportError::Disconnected(format!("the connection holder went away: {error}"))
    }

    pub async fn exec(&self, command: &RemoteCommand) -> Result<CommandOutput, TransportError> {
        let request = Request::Exec {
            target: self.target.clone(),
            settings: self.settings.clone(),
            command: WireCommand::from(command),
        };
        let answer = self.ask(&request).await.map_err(|e| self.lost(e))?;
        output_of(answer)
    }

    pub async fn exec_streaming<R: AsyncRead + Unpin>(
        &self,
        script: &str,
        mut input: R,
    ) -> Result<CommandOutput, TransportError> {
        let request = Request::Stream {
            target: self.target.clone(),
            settings: self.settings.clone(),
            script: script.to_string(),
        };
        let stream = self.open().await.map_err(|e| self.lost(e))?;
        let (mut reader, mut writer) = stream.into_split();
        let send = async {
            holder_protocol::write_frame(&mut writer, &request).await?;
            tokio::io::copy(&mut input, &mut writer).await?;
            writer.shutdown().await
        };
        // The holder may answer before taking every byte (the channel failed): read while sending.
        let (sent, answer) = tokio::join!(send, holder_protocol::read_frame::<_, Response>(&mut reader));
        let answer = answer.map_err(|e| self.lost(e))?;
        if let (Err(error), Response::Output { .. }) = (&sent, &answer) {
            return Err(TransportError::Disconnected(format!("the upload to the connection holder failed: {error}")));
        }
        output_of(answer)
    }

    /// Asks the holder to drop the connection (after a reboot): the next command logs in again.
    pub async fn forget(&self) {
        let _ = self.ask(&Request::Forget { target: self.target.clone() }).await;
    }

    pub fn is_closed(&self) -> bool {
        self.gone.load(Ordering::SeqCst)
    }
}

fn output_of(answer: Response) -> Result<CommandOutput, TransportError> {
    match answer {
        Response::Output { rc, stdout, stderr } => holder_protocol::decode_output(rc, &stdout, &stderr),
        Response::Failed(error) => Err(error.into()),
        other => Err(TransportError::Local(format!("connection holder: unexpected answer {other:?}"))),
    }
}

/// Starts `runbook hold` in its own process group (a Ctrl-C on the run must not take it down) and waits until
/// it listens. Many hosts connecting at once start one holder: the rest wait here, and a second holder that
/// starts anyway finds the first one's lock and exits.
async fn start_holder(persist: &Persist) -> Result<(), HolderError> {
    static STARTING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _turn = STARTING.lock().await;
    let socket = socket_dir::socket(&persist.dir);
    if UnixStream::connect(&socket).await.is_ok() {
        return Ok(());
    }
    socket_dir::check(&persist.dir)?;
    let program = std::env::current_exe().map_err(HolderError::OwnProgram)?;
    let log = socket_dir::log_file(&persist.dir);
    let log = match std::fs::OpenOptions::new().create(true).append(true).open(&log) {
        Ok(file) => file,
        Err(source) => return Err(HolderError::Open { path: log, source }),
    };
    let mut command = std::process::Command::new(program);
    command
        .arg("hold")
        .arg("--dir")
        .arg(&persist.dir)
        .arg("--idle")
        .arg(persist.secs.to_string())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(log);
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let mut child = command.spawn().map_err(HolderError::Start)?;
    let started = std::time::Instant::now();
    while started.elapsed() < START_LIMIT {
        if UnixStream::connect(&socket).await.is_ok() {
            // Reaped by a thread so it leaves no zombie when it exits while this run still goes on.
            std::thread::spawn(move || child.wait());
            return Ok(());
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(HolderError::ExitedAtStart { status, log: socket_dir::log_file(&persist.dir) });
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Err(HolderError::NotListening(START_LIMIT))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn persist_durations() {
        assert_eq!(parse_persist("60").unwrap(), Duration::from_secs(60));
        assert_eq!(parse_persist("45s").unwrap(), Duration::from_secs(45));
        assert_eq!(parse_persist("10m").unwrap(), Duration::from_secs(600));
        assert_eq!(parse_persist("1h").unwrap(), Duration::from_secs(3600));
        assert!(parse_persist("0").is_err());
        assert!(parse_persist("5d").is_err());
        assert!(parse_persist("m").is_err());
    }
}
