//! `h.reboot`: reboot a host and return only once it is back — a new boot id, not just an open port — so the
//! next task never runs against the old kernel or a half-started machine.

use std::time::{Duration, Instant};

use super::primitive_error::PrimitiveError;
use super::remote_host::RemoteHost;
use super::step::{Step, StepOutcome};
use crate::report::Status;

const BOOT_ID: &str = "cat /proc/sys/kernel/random/boot_id";

/// `h.reboot(timeout)`: reboots the host and returns once it answers SSH again with a new boot id.
pub fn reboot(host: &dyn RemoteHost, timeout_secs: i64) -> Result<(), PrimitiveError> {
    let step = Step::new(host, "reboot", host.name().to_string());
    if host.check_mode() {
        step.finish(
            Status::Changed,
            StepOutcome { message: Some("check mode: would reboot".into()), ..StepOutcome::default() },
        );
        return Ok(());
    }
    let before = host.query(BOOT_ID.to_string())?.stdout_text().trim().to_string();
    // Detached, delayed: the command returns before the shell it ran in goes away.
    let trigger = "setsid sh -c 'sleep 1; systemctl reboot || reboot' >/dev/null 2>&1 </dev/null &";
    host.query(trigger.to_string())?;
    host.reconnect();
    let timeout = Duration::from_secs(timeout_secs.max(10) as u64);
    let started = Instant::now();
    std::thread::sleep(Duration::from_secs(2));
    loop {
        match host.query(BOOT_ID.to_string()) {
            Ok(output) if output.rc == 0 && output.stdout_text().trim() != before => {
                step.finish(
                    Status::Changed,
                    StepOutcome {
                        message: Some(format!("back after {:.1}s", started.elapsed().as_secs_f64())),
                        ..StepOutcome::default()
                    },
                );
                return Ok(());
            }
            Ok(_) => host.reconnect(),
            Err(_) => {}
        }
        if started.elapsed() > timeout {
            let message = format!("did not come back within {}s", timeout.as_secs());
            return Err(step.unreachable(message));
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}
