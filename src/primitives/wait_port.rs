//! `wait_port`: waits until a TCP port accepts connections, seen from the controller or from another host.
//! In --check it looks once and reports what it would wait for, rather than waiting for a service that a
//! planned (not made) change would start.

use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rhai::Map;

use super::port_wait_error::PortWaitError;
use super::primitive_error::PrimitiveError;
use super::remote_host::RemoteHost;
use super::step::{Options, Step, StepOutcome};
use crate::report::Status;
use crate::transport::{RemoteCommand, quote};

/// Waits until `address:port` accepts TCP connections from the controller; the error says what was waited
/// for and how long. A zero timeout looks once. Stops early after Ctrl-C.
pub fn wait_from_controller(
    address: &str,
    port: i64,
    timeout: Duration,
    interrupted: &dyn Fn() -> bool,
) -> Result<Duration, PortWaitError> {
    let wanted = port;
    let port = u16::try_from(port).map_err(|_| PortWaitError::NotAPort(port))?;
    let started = Instant::now();
    loop {
        let reason = match (address, port).to_socket_addrs() {
            Ok(addresses) => {
                let mut reason = "no address".to_string();
                for socket in addresses {
                    match TcpStream::connect_timeout(&socket, Duration::from_secs(1)) {
                        Ok(_) => return Ok(started.elapsed()),
                        Err(error) if error.kind() == std::io::ErrorKind::TimedOut => reason = "no answer".into(),
                        Err(error) => reason = error.to_string(),
                    }
                }
                reason
            }
            Err(error) => error.to_string(),
        };
        if started.elapsed() >= timeout || interrupted() {
            return Err(PortWaitError::Closed {
                address: address.to_string(),
                port: wanted,
                secs: timeout.as_secs(),
                from: None,
                reason: Some(reason),
            });
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

pub const WAIT_PORT_OPTIONS: &[&str] = &["timeout", "delay", "from", "address"];

/// `h.wait_port(port, opts)`: from the controller, or from another host (`from`) with a check run there.
pub fn wait_port(host: &dyn RemoteHost, port: i64, options: &Map) -> Result<(), PrimitiveError> {
    let parsed = Options::new(options, "wait_port", WAIT_PORT_OPTIONS)?;
    let timeout = Duration::from_secs(parsed.int("timeout")?.unwrap_or(60).max(1) as u64);
    let delay = parsed.int("delay")?.unwrap_or(0).max(0) as u64;
    let address = parsed.string("address")?.unwrap_or_else(|| host.address().to_string());
    let from: Option<Arc<dyn RemoteHost>> = match parsed.raw("from") {
        None => None,
        Some(value) => {
            Some(host.host_in(value).ok_or_else(|| PrimitiveError::usage("wait_port: option `from` must be a host"))?)
        }
    };
    let step = Step::new(host, "wait_port", format!("{address}:{port}"));
    let wait = |timeout: Duration| match &from {
        None => wait_from_controller(&address, port, timeout, &|| host.interrupted()),
        Some(from) => wait_from_host(from.as_ref(), &address, port, timeout),
    };
    if host.check_mode() {
        // A port already open is the plan's answer; a closed one is what a planned start would open.
        let message = match wait(Duration::ZERO) {
            Ok(_) => "open".to_string(),
            Err(_) => {
                let seen_from = from.as_ref().map(|from| format!(" from {}", from.name())).unwrap_or_default();
                format!("check mode: would wait for {address}:{port}{seen_from} (up to {}s)", timeout.as_secs())
            }
        };
        step.finish(Status::Ok, StepOutcome { message: Some(message), ..StepOutcome::default() });
        return Ok(());
    }
    if delay > 0 {
        std::thread::sleep(Duration::from_secs(delay));
    }
    match wait(timeout) {
        Ok(elapsed) => {
            step.finish(
                Status::Ok,
                StepOutcome {
                    message: Some(format!("open after {:.1}s", elapsed.as_secs_f64())),
                    ..StepOutcome::default()
                },
            );
            Ok(())
        }
        Err(error) => Err(step.fail(error.to_string(), StepOutcome::default())),
    }
}

fn wait_from_host(
    from: &dyn RemoteHost,
    address: &str,
    port: i64,
    timeout: Duration,
) -> Result<Duration, PortWaitError> {
    let started = Instant::now();
    // bash's /dev/tcp, else python3: one round trip, the loop runs on the host.
    let script = format!(
        "a={a}; p={port}; end=$(( $(date +%s) + {secs} ))\n\
         probe() {{ if command -v bash >/dev/null; then timeout 2 bash -c \"exec 3<>/dev/tcp/$a/$p\" 2>/dev/null; \
         else timeout 2 python3 -c \"import socket,sys; socket.create_connection((sys.argv[1], int(sys.argv[2])), 2)\" \"$a\" \"$p\" 2>/dev/null; fi; }}\n\
         while :; do probe && exit 0; [ \"$(date +%s)\" -ge \"$end\" ] && exit 1; sleep 0.5; done",
        a = quote(address),
        secs = timeout.as_secs()
    );
    let mut command = RemoteCommand::new(script);
    command.timeout = Some(timeout + Duration::from_secs(10));
    match from.exec(&command) {
        Ok(output) if output.rc == 0 => Ok(started.elapsed()),
        Ok(_) => Err(PortWaitError::Closed {
            address: address.to_string(),
            port,
            secs: timeout.as_secs(),
            from: Some(from.name().to_string()),
            reason: None,
        }),
        Err(error) => Err(error.into()),
    }
}
