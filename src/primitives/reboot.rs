use std::time::{Duration, Instant};

use rhai::EvalAltResult;

use super::step::{Step, StepOutcome};
use crate::engine::{Host, HostError};
use crate::report::Status;

const BOOT_ID: &str = "cat /proc/sys/kernel/random/boot_id";

/// `h.reboot(timeout)`: reboots the host and returns once it answers SSH again with a new boot id.
pub fn reboot(host: &Host, timeout_secs: i64) -> Result<(), Box<EvalAltResult>> {
    let step = Step::new(host, "reboot", host.name().to_string());
    if host.check_mode() {
        step.finish(
            Status::Changed,
            StepOutcome { message: Some("check mode: would reboot".into()), ..StepOutcome::default() },
        );
        return Ok(());
    }
    let before = match host.query(BOOT_ID) {
        Ok(output) => output.stdout_text().trim().to_string(),
        Err(error) => return Err(error.into_script_error()),
    };
    // Detached, delayed: the command returns before the shell it ran in goes away.
    let trigger = "setsid sh -c 'sleep 1; systemctl reboot || reboot' >/dev/null 2>&1 </dev/null &";
    if let Err(error) = host.query(trigger) {
        return Err(error.into_script_error());
    }
    host.runtime.block_on(host.state.disconnect());
    let timeout = Duration::from_secs(timeout_secs.max(10) as u64);
    let started = Instant::now();
    std::thread::sleep(Duration::from_secs(2));
    loop {
        match host.query(BOOT_ID) {
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
            Ok(_) => host.runtime.block_on(host.state.disconnect()),
            Err(HostError::Unreachable(_)) | Err(HostError::Failed(_)) => {}
        }
        if started.elapsed() > timeout {
            let message = format!("did not come back within {}s", timeout.as_secs());
            crate::engine::mark_unreachable(&message);
            return Err(step.fail(message, StepOutcome::default()));
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}
