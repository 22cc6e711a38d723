use rhai::Dynamic;

use super::primitive_error::PrimitiveError;
use super::remote_host::RemoteHost;
use super::step::{Step, StepOutcome};
use crate::report::Status;
use crate::transport::quote;

/// Exit code the read script uses for "no such file": distinct from cat's own errors.
const ABSENT: i32 = 44;

/// `h.read(path)`: the file's content, or `()` when it does not exist. Read-only, so it runs in --check too;
/// stdlib modules build "edit a file" on it (read, change in Rhai, `h.write`).
pub fn read(host: &dyn RemoteHost, path: &str) -> Result<Dynamic, PrimitiveError> {
    let quoted = quote(path);
    let output = host.query(format!("if [ -e {quoted} ]; then cat -- {quoted}; else exit {ABSENT}; fi"))?;
    let step = Step::new(host, "read", path);
    match output.rc {
        0 => {
            step.finish(Status::Ok, StepOutcome::default());
            Ok(Dynamic::from(String::from_utf8_lossy(&output.stdout).into_owned()))
        }
        ABSENT => {
            step.finish(Status::Ok, StepOutcome { message: Some("absent".into()), ..StepOutcome::default() });
            Ok(Dynamic::UNIT)
        }
        rc => {
            Err(step
                .fail(output.stderr_text().trim().to_string(), StepOutcome { rc: Some(rc), ..StepOutcome::default() }))
        }
    }
}

/// `h.exists(path)`.
pub fn exists(host: &dyn RemoteHost, path: &str) -> Result<bool, PrimitiveError> {
    let output = host.query(format!("test -e {}", quote(path)))?;
    Ok(output.rc == 0)
}
