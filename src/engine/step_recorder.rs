use std::cell::RefCell;

use crate::report::StepReport;

/// The steps of the task a thread is running for one host.
///
/// Host closures run on their own threads, so a thread-local record attributes every primitive call made in
/// a closure to that host's task result without threading a context through Rhai.
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
