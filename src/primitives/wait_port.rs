use std::time::{Duration, Instant};

use rhai::{EvalAltResult, Map};

use super::step::{Options, Step, StepOutcome};
use crate::engine::Host;
use crate::report::Status;
use crate::transport::{RemoteCommand, quote};

/// Waits until `address:port` accepts TCP connections from the controller; the error says what was waited
/// for and how long.
pub fn wait_from_controller(
    runtime: &crate::engine::Runtime,
    address: &str,
    port: i64,
    timeout: Duration,
) -> Result<Duration, String> {
    let port = u16::try_from(port).map_err(|_| format!("wait_port: {port} is not a TCP port"))?;
    let started = Instant::now();
    runtime.block_on(async {
        loop {
            let attempt =
                tokio::time::timeout(Duration::from_secs(1), tokio::net::TcpStream::connect((address, port))).await;
            if let Ok(Ok(_)) = attempt {
                return Ok(started.elapsed());
            }
            if started.elapsed() >= timeout {
                let reason = match attempt {
                    Ok(Err(error)) => error.to_string(),
                    _ => "no answer".to_string(),
                };
                return Err(format!(
                    "{address}:{port} did not accept connections within {}s ({reason})",
                    timeout.as_secs()
                ));
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    })
}

pub const WAIT_PORT_OPTIONS: &[&str] = &["timeout", "delay", "from", "address"];

/// `h.wait_port(port, opts)`: from the controller, or from another host (`from`) with a check run there.
pub fn wait_port(host: &Host, port: i64, options: &Map) -> Result<(), Box<EvalAltResult>> {
    let parsed = Options::new(options, "wait_port", WAIT_PORT_OPTIONS)?;
    let timeout = Duration::from_secs(parsed.int("timeout")?.unwrap_or(60).max(1) as u64);
    let delay = parsed.int("delay")?.unwrap_or(0).max(0) as u64;
    let address = parsed.string("address")?.unwrap_or_else(|| host.state.address.clone());
    let from = match parsed.raw("from") {
        None => None,
        Some(value) => Some(
            value
                .clone()
                .try_cast::<Host>()
                .ok_or_else(|| -> Box<EvalAltResult> { "wait_port: option `from` must be a host".into() })?,
        ),
    };
    let step = Step::new(host, "wait_port", format!("{address}:{port}"));
    if delay > 0 {
        std::thread::sleep(Duration::from_secs(delay));
    }
    let result = match &from {
        None => wait_from_controller(&host.runtime, &address, port, timeout),
        Some(from) => wait_from_host(from, &address, port, timeout),
    };
    match result {
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
        Err(message) => Err(step.fail(message, StepOutcome::default())),
    }
}

fn wait_from_host(from: &Host, address: &str, port: i64, timeout: Duration) -> Result<Duration, String> {
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
        Ok(_) => Err(format!(
            "{address}:{port} did not accept connections from {} within {}s",
            from.name(),
            timeout.as_secs()
        )),
        Err(error) => Err(format!("{error:?}")),
    }
}
