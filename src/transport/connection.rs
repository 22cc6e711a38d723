//! One SSH connection to one host and the shells and channels on it: a small pool of persistent shells (under
//! sshd's MaxSessions), channels for uploads, and the stall watchdog that gives up on a transfer that stopped.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use russh::ChannelMsg;
use tokio::io::AsyncRead;
use tokio::sync::Semaphore;

use super::connect_options::ConnectOptions;
use super::connect_pacer;
use super::held_connection::HeldConnection;
use super::remote_command::{CommandOutput, RemoteCommand};
use super::remote_shell::RemoteShell;
use super::shell_quote::quote;
use super::ssh_session::{self, Handle};
use super::transport_error::{ConnectError, TransportError};

/// Shells kept per host: sshd's default MaxSessions is 10; two channels stay free for uploads.
const MAX_SHELLS: usize = 8;
const MAX_EXEC_CHANNELS: usize = 2;

/// An upload that moves no byte for this long is given up: the same ~20 s a keepalive would take.
const STALL_LIMIT: Duration = Duration::from_secs(20);

/// When a transfer last moved (milliseconds since it began), shared by the reader and the watchdog.
#[derive(Clone)]
struct Progress {
    started: std::time::Instant,
    last: Arc<AtomicU64>,
}

impl Progress {
    fn new() -> Progress {
        Progress { started: std::time::Instant::now(), last: Arc::new(AtomicU64::new(0)) }
    }

    fn touch(&self) {
        self.last.store(self.started.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    /// Resolves once nothing moved for `limit`.
    async fn stalled(&self, limit: Duration) {
        loop {
            let idle = self.started.elapsed().saturating_sub(Duration::from_millis(self.last.load(Ordering::Relaxed)));
            if idle >= limit {
                return;
            }
            tokio::time::sleep(limit - idle + Duration::from_millis(100)).await;
        }
    }
}

/// Counts every read russh makes of the upload as progress: it reads more only once the last piece was
/// taken by the SSH window, i.e. the host is still accepting data.
struct ProgressReader<R> {
    inner: R,
    progress: Progress,
}

impl<R: AsyncRead + Unpin> AsyncRead for ProgressReader<R> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        context: &mut std::task::Context<'_>,
        buffer: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let poll = std::pin::Pin::new(&mut self.inner).poll_read(context, buffer);
        if poll.is_ready() {
            self.progress.touch();
        }
        poll
    }
}

/// One authenticated SSH connection to a host, kept for the whole run.
pub struct Connection {
    options: ConnectOptions,
    link: Link,
    idle_shells: Mutex<Vec<RemoteShell>>,
    shell_slots: Semaphore,
    exec_slots: Semaphore,
    /// Whether the login user is root already (then `sudo` options are no-ops).
    is_root: bool,
}

/// Where the commands go: over this process's own SSH connection, or through the connection holder's.
enum Link {
    Direct(Handle),
    Held(HeldConnection),
}

impl Connection {
    /// Connects and logs in, retrying a transient failure (refused, no route, timeout, a handshake cut
    /// short) `connect_retries` times with a growing, jittered pause: sshd restarting or a link still coming
    /// up should not cost a host its run.
    pub async fn connect(options: ConnectOptions) -> Result<Connection, ConnectError> {
        if let Some(held) = HeldConnection::connect(&options).await {
            return held.map(|held| Connection::over(options, Link::Held(held)));
        }
        let mut attempt = 0;
        loop {
            let error = match Self::connect_once(options.clone()).await {
                Ok(connection) => return Ok(connection),
                Err(error) => error,
            };
            if attempt >= options.connect_retries || !error.is_transient() {
                return Err(error);
            }
            let pause = connect_pacer::backoff(attempt);
            tracing::info!("{}: {error}; trying again in {pause:?}", options.host_name);
            tokio::time::sleep(pause).await;
            attempt += 1;
        }
    }

    async fn connect_once(options: ConnectOptions) -> Result<Connection, ConnectError> {
        let timeout = options.connect_timeout;
        let _turn = connect_pacer::turn().await;
        match tokio::time::timeout(timeout * 3, Self::connect_inner(options.clone())).await {
            Ok(result) => result,
            Err(_) => Err(ConnectError::Timeout { address: options.address, port: options.port, timeout }),
        }
    }

    async fn connect_inner(options: ConnectOptions) -> Result<Connection, ConnectError> {
        let handle = ssh_session::open(&options).await?;
        let connection = Connection::over(options, Link::Direct(handle));
        // Open the first shell now: it proves the login works (and `sudo -n` when becoming root), so a host
        // that cannot run commands is unreachable at connect time, not half-way through a task.
        let shell = connection.open_shell().await.map_err(|error| match error {
            TransportError::Become(reason) => {
                ConnectError::Become { user: connection.options.become_.user_name().to_string(), reason }
            }
            error => ConnectError::Protocol(error.to_string()),
        })?;
        connection.idle_shells.lock().unwrap().push(shell);
        Ok(connection)
    }

    fn over(options: ConnectOptions, link: Link) -> Connection {
        Connection {
            is_root: options.user == "root",
            options,
            link,
            idle_shells: Mutex::new(Vec::new()),
            shell_slots: Semaphore::new(MAX_SHELLS),
            exec_slots: Semaphore::new(MAX_EXEC_CHANNELS),
        }
    }

    fn handle(&self) -> Result<&Handle, TransportError> {
        match &self.link {
            Link::Direct(handle) => Ok(handle),
            Link::Held(_) => Err(TransportError::Local("a held connection has no SSH session here".into())),
        }
    }

    pub fn options(&self) -> &ConnectOptions {
        &self.options
    }

    async fn open_shell(&self) -> Result<RemoteShell, TransportError> {
        let channel = self
            .handle()?
            .channel_open_session()
            .await
            .map_err(|e| TransportError::Disconnected(format!("cannot open a channel: {e}")))?;
        RemoteShell::start(channel, self.become_()).await
    }

    /// Whom the shells run as, when that is not the login user: root for `become` (unless logged in as
    /// root), or `become_user`.
    fn become_(&self) -> Option<&crate::transport::Become> {
        let options = &self.options;
        let other_user = options.become_.user.as_deref().is_some_and(|user| user != options.user);
        (options.become_root && (!self.is_root || other_user)).then_some(&options.become_)
    }

    /// Runs a command in one of the host's persistent shells.
    pub async fn exec(&self, command: &RemoteCommand) -> Result<CommandOutput, TransportError> {
        if let Link::Held(held) = &self.link {
            return held.exec(command).await;
        }
        let _slot = self.shell_slots.acquire().await.map_err(|e| TransportError::Local(e.to_string()))?;
        let idle = self.idle_shells.lock().unwrap().pop();
        let mut shell = match idle {
            Some(shell) => shell,
            None => self.open_shell().await?,
        };
        let sudo_needed = !self.is_root && !self.options.become_root;
        // The host enforces the command's timeout; this bound only catches a host that stopped answering.
        let limit = command.timeout.map(|t| t + Duration::from_secs(30));
        let result = shell.run(&command.to_shell(sudo_needed), limit).await;
        match &result {
            Ok(_) => self.idle_shells.lock().unwrap().push(shell),
            Err(_) => shell.close().await,
        }
        result
    }

    /// Runs `script` on a fresh exec channel with `input` streamed to its stdin: for uploads too large to pass
    /// through a shell as text. A lost connection ends the script's stdin early, exactly like the end of the
    /// data: the script must check what it received (see file_writer's length check).
    pub async fn exec_streaming<R: AsyncRead + Unpin>(
        &self,
        script: &str,
        input: R,
    ) -> Result<CommandOutput, TransportError> {
        if let Link::Held(held) = &self.link {
            return held.exec_streaming(script, input).await;
        }
        let _slot = self.exec_slots.acquire().await.map_err(|e| TransportError::Local(e.to_string()))?;
        // While the session is busy pushing a large upload into a dead link, russh's keepalive cannot run (its
        // loop waits on the socket, which the kernel keeps retrying for many minutes): the transfer watches
        // its own progress instead and gives the host up when nothing moved for STALL_LIMIT.
        let progress = Progress::new();
        let input = ProgressReader { inner: input, progress: progress.clone() };
        tokio::select! {
            result = self.stream(script, input, &progress) => result,
            () = progress.stalled(STALL_LIMIT) => Err(TransportError::Disconnected(format!(
                "the upload made no progress for {}s (link down or host gone)",
                STALL_LIMIT.as_secs()
            ))),
        }
    }

    async fn stream<R: AsyncRead + Unpin>(
        &self,
        script: &str,
        input: R,
        progress: &Progress,
    ) -> Result<CommandOutput, TransportError> {
        let disconnected = |e: russh::Error| TransportError::Disconnected(e.to_string());
        let mut channel = self.handle()?.channel_open_session().await.map_err(disconnected)?;
        let start = self.become_().map(|become_| become_.start(&format!("exec /bin/sh -c {}", quote(script))));
        let command = start.as_ref().map_or(script, |start| start.command.as_str());
        channel.exec(true, command).await.map_err(disconnected)?;
        if let Some(start) = &start {
            start.complete(&mut channel).await?;
        }
        channel.data(input).await.map_err(disconnected)?;
        channel.eof().await.map_err(disconnected)?;
        let mut output = CommandOutput { rc: -1, ..CommandOutput::default() };
        while let Some(message) = channel.wait().await {
            progress.touch();
            match message {
                ChannelMsg::Data { data } => output.stdout.extend_from_slice(&data),
                ChannelMsg::ExtendedData { data, .. } => output.stderr.extend_from_slice(&data),
                ChannelMsg::ExitStatus { exit_status } => output.rc = exit_status as i32,
                _ => {}
            }
        }
        if output.rc == -1 {
            return Err(TransportError::Disconnected("the upload channel closed without an exit status".into()));
        }
        Ok(output)
    }

    /// Drops every shell; the next command opens a new one. Used after a reboot (a held connection is
    /// dropped by the holder too).
    pub async fn close(&self) {
        let handle = match &self.link {
            Link::Direct(handle) => handle,
            Link::Held(held) => return held.forget().await,
        };
        let shells: Vec<RemoteShell> = std::mem::take(&mut *self.idle_shells.lock().unwrap());
        for shell in shells {
            shell.close().await;
        }
        let _ = handle.disconnect(russh::Disconnect::ByApplication, "", "en").await;
    }

    /// At the end of a run: closes the connection, unless the holder keeps it for the next run.
    pub async fn finish(&self) {
        if let Link::Direct(_) = &self.link {
            self.close().await;
        }
    }

    pub fn is_closed(&self) -> bool {
        match &self.link {
            Link::Direct(handle) => handle.is_closed(),
            Link::Held(held) => held.is_closed(),
        }
    }
}
