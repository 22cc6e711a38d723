//! The one place a host's result of a task becomes a [`HostResult`] event: tasks, handlers and primitives
//! called outside any task all report through it, so `changed` and redaction follow one rule.

use super::runtime::Runtime;
use crate::report::{Event, HostResult, Status, StepReport};

/// Reports one host's result of a task (or of a primitive called outside any task): the one place a
/// [`HostResult`] is made. `changed` follows from the steps: a task changed the host if any step did, even
/// when it then failed.
#[allow(clippy::too_many_arguments)]
pub(super) fn report_result(
    runtime: &Runtime,
    task: &str,
    host: &str,
    status: Status,
    rc: Option<i32>,
    message: Option<String>,
    steps: Vec<StepReport>,
    duration: std::time::Duration,
) {
    let changed = status == Status::Changed || steps.iter().any(|step| step.status == Status::Changed);
    runtime.emit(Event::HostResult(HostResult {
        task: task.to_string(),
        host: host.to_string(),
        status,
        changed,
        rc,
        message: message.map(|m| runtime.redactor.redact(&m)),
        steps,
        duration,
    }));
}
