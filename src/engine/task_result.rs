//! What `results(task)` gives a script: each host's outcome of a task, and the value its closure returned.
//! Kept compact — a few words per host and task — and made into Rhai maps only when a script asks: kept as
//! maps, a 20-task run held ~17 KiB per host of them (heaptrack, 300 light hosts), a tenth of the
//! controller's memory per host, for a function most playbooks never call.

use rhai::{Dynamic, INT, Map};

use crate::report::{HostResult, Status};

/// One host's run of one task.
pub struct TaskResult {
    status: Status,
    changed: bool,
    rc: Option<i32>,
    message: Option<String>,
    /// What the host's closure returned (unit until the task has ended, or where it failed).
    pub(super) value: Dynamic,
}

impl TaskResult {
    pub fn of(result: &HostResult) -> TaskResult {
        TaskResult {
            status: result.status,
            changed: result.changed,
            rc: result.rc,
            message: result.message.clone(),
            value: Dynamic::UNIT,
        }
    }

    /// As the script sees it: `#{ status, changed, failed, rc, message, value }`.
    pub fn to_map(&self) -> Map {
        let status = match self.status {
            Status::Ok => "ok",
            Status::Changed => "changed",
            Status::Failed => "failed",
            Status::Skipped => "skipped",
            Status::Unreachable => "unreachable",
        };
        let mut entry = Map::new();
        entry.insert("status".into(), status.into());
        entry.insert("changed".into(), self.changed.into());
        entry.insert("failed".into(), matches!(self.status, Status::Failed | Status::Unreachable).into());
        entry.insert("rc".into(), self.rc.map_or(Dynamic::UNIT, |rc| (rc as INT).into()));
        entry.insert("message".into(), self.message.clone().map_or(Dynamic::UNIT, Into::into));
        entry.insert("value".into(), self.value.clone());
        entry
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_result_reads_as_the_map_scripts_have_always_seen() {
        let result = HostResult {
            task: "deploy".into(),
            host: "web1".into(),
            status: Status::Unreachable,
            changed: true,
            rc: Some(255),
            message: Some("connection lost".into()),
            steps: Vec::new(),
            duration: Duration::from_millis(5),
        };
        let mut kept = TaskResult::of(&result);
        kept.value = Dynamic::from(7 as INT);
        let map = kept.to_map();
        assert_eq!(map["status"].to_string(), "unreachable");
        assert!(map["changed"].as_bool().unwrap());
        assert!(map["failed"].as_bool().unwrap(), "unreachable counts as failed");
        assert_eq!(map["rc"].as_int().unwrap(), 255);
        assert_eq!(map["message"].to_string(), "connection lost");
        assert_eq!(map["value"].as_int().unwrap(), 7);
        let ok = TaskResult::of(&HostResult { status: Status::Ok, rc: None, message: None, ..result });
        assert!(!ok.to_map()["failed"].as_bool().unwrap());
        assert!(ok.to_map()["rc"].is_unit() && ok.to_map()["message"].is_unit() && ok.to_map()["value"].is_unit());
    }
}
