//! When is a lab host up: it accepts TCP on port 22 and a real login with the lab key and strict host-key
//! checking succeeds. The system `ssh` client checks it, so the test is independent of runbook's own transport.

use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::required_tools::{self, SSH};

/// Options every lab `ssh` call uses: only the lab key, only the lab's known_hosts, strict checking.
pub fn ssh_options(key: &Path, known_hosts: &Path) -> Vec<String> {
    vec![
        "-F".into(),
        "/dev/null".into(),
        "-i".into(),
        key.display().to_string(),
        "-o".into(),
        "IdentitiesOnly=yes".into(),
        "-o".into(),
        format!("UserKnownHostsFile={}", known_hosts.display()),
        "-o".into(),
        "GlobalKnownHostsFile=/dev/null".into(),
        "-o".into(),
        "StrictHostKeyChecking=yes".into(),
        "-o".into(),
        "LogLevel=ERROR".into(),
    ]
}

/// Why a lab host was not ready when time ran out: the last thing that failed.
#[derive(Debug, thiserror::Error)]
pub enum NotReady {
    #[error("ssh is not installed")]
    NoSsh,
    #[error("not tried")]
    NotTried,
    #[error("port 22: {0}")]
    Port(#[source] std::io::Error),
    /// What ssh said when the login failed.
    #[error("ssh: {0}")]
    Login(String),
    #[error("ssh: {0}")]
    Ssh(#[source] std::io::Error),
}

/// Waits for one host; the last reason it was not ready when time ran out.
pub fn wait_for_host(address: Ipv4Addr, key: &Path, known_hosts: &Path, deadline: Instant) -> Result<(), NotReady> {
    let Ok(ssh) = required_tools::find(&SSH) else {
        return Err(NotReady::NoSsh);
    };
    let socket = SocketAddr::from((address, 22));
    let mut last = NotReady::NotTried;
    while Instant::now() < deadline {
        match TcpStream::connect_timeout(&socket, Duration::from_secs(1)) {
            Err(error) => last = NotReady::Port(error),
            Ok(_) => {
                let output = Command::new(&ssh)
                    .args(ssh_options(key, known_hosts))
                    .args(["-o", "BatchMode=yes", "-o", "ConnectTimeout=5", &format!("root@{address}"), "true"])
                    .stdin(Stdio::null())
                    .output();
                match output {
                    Ok(output) if output.status.success() => return Ok(()),
                    Ok(output) => last = NotReady::Login(String::from_utf8_lossy(&output.stderr).trim().to_string()),
                    Err(error) => last = NotReady::Ssh(error),
                }
            }
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    Err(last)
}

/// At most this many hosts are checked at once: each check is an `ssh` process, and 1000 of them at once cost
/// gigabytes and starve the hosts that are booting.
const PARALLEL_CHECKS: usize = 64;

/// Waits for every host, [`PARALLEL_CHECKS`] at a time; the hosts that did not come up, each with why.
pub fn wait_for_all(
    hosts: &[(String, Ipv4Addr)],
    key: &Path,
    known_hosts: &Path,
    timeout: Duration,
) -> Vec<(String, String)> {
    let deadline = Instant::now() + timeout;
    let next = AtomicUsize::new(0);
    let failed = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..PARALLEL_CHECKS.min(hosts.len()) {
            scope.spawn(|| {
                while let Some((name, address)) = hosts.get(next.fetch_add(1, Ordering::Relaxed)) {
                    if let Err(reason) = wait_for_host(*address, key, known_hosts, deadline) {
                        failed.lock().unwrap_or_else(PoisonError::into_inner).push((name.clone(), reason.to_string()));
                    }
                }
            });
        }
    });
    let mut failed = failed.into_inner().unwrap_or_else(PoisonError::into_inner);
    failed.sort_by_key(|(name, _)| hosts.iter().position(|(host, _)| host == name));
    failed
}
