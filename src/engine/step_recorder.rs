//! The steps a host's task made, recorded per thread. A primitive called inside a task's closure reports its
//! step here, and the task runner turns the record into the host's result. It is a thread-local because the
//! record belongs to the task being run, not to the handle a primitive was called on: a closure for host A
//! that calls a primitive on a captured host B (Ansible's `delegate_to`) reports that step in A's result, and a
//! host that stopped answering marks A's task unreachable even when the script caught the error and raised
//! another. Rhai gives a native function no per-call context of our own to carry it instead.

use std::cell::RefCell;

use crate::report::StepReport;

/// The steps of the task a thread is running for one host.
#[derive(Default)]
pub struct StepRecord {
    pub steps: Vec<StepReport>,
    /// Set by a primitive when the host stopped answering, so the task runner counts the host unreachable
    /// rather than failed.
    pub unreachable: Option<String>,
    /// Exit code of the command that failed the host.
    pub failed_rc: Option<i32>,
}

thread_local! {
    static CURRENT: RefCell<Option<StepRecord>> = const { RefCell::new(None) };
}

/// Starts recording on this thread; returns the previous record (tasks do not nest, but be safe).
pub fn begin() -> Option<StepRecord> {
    CURRENT.with(|current| current.borrow_mut().replace(StepRecord::default()))
}

/// Stops recording and returns what was recorded.
pub fn end(previous: Option<StepRecord>) -> StepRecord {
    CURRENT.with(|current| std::mem::replace(&mut *current.borrow_mut(), previous)).unwrap_or_default()
}

/// Whether this thread is inside a task.
pub fn active() -> bool {
    CURRENT.with(|current| current.borrow().is_some())
}

pub fn push(step: StepReport) {
    CURRENT.with(|current| {
        if let Some(record) = current.borrow_mut().as_mut() {
            record.steps.push(step);
        }
    });
}

/// `changed_when` decided the last step's outcome: it is reported as such (and counts so for the task).
pub fn set_last_status(status: crate::report::Status) {
    CURRENT.with(|current| {
        if let Some(step) = current.borrow_mut().as_mut().and_then(|record| record.steps.last_mut()) {
            step.status = status;
        }
    });
}

pub fn mark_unreachable(reason: &str) {
    CURRENT.with(|current| {
        if let Some(record) = current.borrow_mut().as_mut() {
            record.unreachable = Some(reason.to_string());
        }
    });
}

pub fn mark_failed_rc(rc: i32) {
    CURRENT.with(|current| {
        if let Some(record) = current.borrow_mut().as_mut() {
            record.failed_rc = Some(rc);
        }
    });
}
