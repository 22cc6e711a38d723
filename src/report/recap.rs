//! Per-host totals for the end of a run, counted the way Ansible's PLAY RECAP counts them, so that numbers read
//! the same to someone coming from Ansible.
//!
//! One count per task per host:
//! - `ok` counts every task that succeeded, *including* the ones that changed something (Ansible's convention:
//!   `ok=5 changed=2` means five tasks succeeded, two of which changed the host);
//! - `changed` counts tasks that changed the host, even when the task then failed (the change happened);
//! - `failed`, `skipped`, `unreachable` count tasks with that outcome;
//! - `time` is the sum of the host's task durations.
//!
//! Only hosts a task ran on are listed, as Ansible lists only the play's hosts: a host that --limit selected
//! but no task targeted (or a rollout stopped before reaching) did nothing, and a row of zeros would count it ok.

use indexmap::{IndexMap, IndexSet};

use super::event::{HostRecap, HostResult, Status};

/// Collects [`HostResult`]s into [`HostRecap`]s in a fixed host order.
#[derive(Debug, Clone, Default)]
pub struct RecapBuilder {
    hosts: IndexMap<String, HostRecap>,
    /// Hosts that have a result: the ones the recap lists.
    reported: IndexSet<String>,
}

impl RecapBuilder {
    /// `hosts` fixes the order of the recap (inventory order); a host appears once it has a result.
    /// Hosts not listed here are appended in the order their first result arrives.
    pub fn new<S: AsRef<str>>(hosts: &[S]) -> Self {
        let mut builder = Self::default();
        for host in hosts {
            let host = host.as_ref();
            builder.hosts.insert(host.to_string(), HostRecap { host: host.to_string(), ..HostRecap::default() });
        }
        builder
    }

    fn entry(&mut self, host: &str) -> &mut HostRecap {
        self.reported.insert(host.to_string());
        self.hosts
            .entry(host.to_string())
            .or_insert_with(|| HostRecap { host: host.to_string(), ..HostRecap::default() })
    }

    /// Counts one task's result on one host.
    pub fn add(&mut self, result: &HostResult) {
        let recap = self.entry(&result.host);
        match result.status {
            Status::Ok => recap.ok += 1,
            Status::Changed => recap.ok += 1,
            Status::Failed => recap.failed += 1,
            Status::Skipped => recap.skipped += 1,
            Status::Unreachable => recap.unreachable += 1,
        }
        if matches!(result.status, Status::Failed | Status::Unreachable) && recap.stopped_in.is_none() {
            recap.stopped_in = Some(result.task.clone());
        }
        if result.changed || result.status == Status::Changed {
            recap.changed += 1;
        }
        recap.time += result.duration;
    }

    /// Counts a host that could not be reached outside any task result (e.g. the connection at the start of the
    /// run failed), once.
    pub fn unreachable(&mut self, host: &str) {
        self.entry(host).unreachable += 1;
    }

    /// Marks hosts the play stopped for at `task` before they finished it: listed even if no task ran on
    /// them (a later `serial` batch), so a stopped rollout never looks done.
    pub fn play_stopped(&mut self, task: &str, hosts: &[String]) {
        for host in hosts {
            let recap = self.entry(host);
            if recap.play_stopped_at.is_none() {
                recap.play_stopped_at = Some(task.to_string());
            }
        }
    }

    /// The totals of the hosts that have a result, in host order.
    pub fn build(&self) -> Vec<HostRecap> {
        self.hosts.values().filter(|recap| self.reported.contains(&recap.host)).cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn result(host: &str, status: Status, changed: bool, millis: u64) -> HostResult {
        HostResult {
            task: "t".into(),
            host: host.into(),
            status,
            changed,
            rc: None,
            message: None,
            steps: Vec::new(),
            duration: Duration::from_millis(millis),
        }
    }

    fn counts(recap: &HostRecap) -> (u32, u32, u32, u32, u32, u128) {
        (recap.ok, recap.changed, recap.failed, recap.skipped, recap.unreachable, recap.time.as_millis())
    }

    #[test]
    fn counts_like_ansible() {
        let mut builder = RecapBuilder::new(&["a", "b", "c"]);
        builder.add(&result("a", Status::Ok, false, 100));
        builder.add(&result("a", Status::Changed, true, 200));
        builder.add(&result("a", Status::Skipped, false, 0));
        builder.add(&result("b", Status::Changed, true, 300));
        // Changed the host, then failed: both count.
        builder.add(&result("b", Status::Failed, true, 50));
        builder.add(&result("c", Status::Unreachable, false, 10));
        let recap = builder.build();
        assert_eq!(recap.iter().map(|r| r.host.as_str()).collect::<Vec<_>>(), ["a", "b", "c"]);
        assert_eq!(counts(&recap[0]), (2, 1, 0, 1, 0, 300));
        assert_eq!(counts(&recap[1]), (1, 2, 1, 0, 0, 350));
        assert_eq!(counts(&recap[2]), (0, 0, 0, 0, 1, 10));
    }

    #[test]
    fn a_stopped_play_lists_the_hosts_it_stopped_even_without_a_result() {
        let mut builder = RecapBuilder::new(&["a", "b", "c"]);
        builder.add(&result("a", Status::Failed, false, 1));
        builder.play_stopped("t", &["b".to_string()]);
        let recap = builder.build();
        assert_eq!(recap.iter().map(|r| r.host.as_str()).collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(recap[1].play_stopped_at.as_deref(), Some("t"));
        assert_eq!(counts(&recap[1]), (0, 0, 0, 0, 0, 0));
    }

    #[test]
    fn host_order_is_inventory_order_then_arrival() {
        let mut builder = RecapBuilder::new(&["z", "a"]);
        builder.add(&result("m", Status::Ok, false, 1));
        builder.add(&result("a", Status::Ok, false, 1));
        builder.unreachable("q");
        builder.add(&result("z", Status::Ok, false, 1));
        let hosts: Vec<_> = builder.build().into_iter().map(|r| r.host).collect();
        assert_eq!(hosts, ["z", "a", "m", "q"]);
        assert_eq!(builder.build()[3].unreachable, 1);
    }

    #[test]
    fn hosts_no_task_ran_on_are_not_listed() {
        let mut builder = RecapBuilder::new(&["h01", "h02", "h03"]);
        builder.add(&result("h01", Status::Changed, true, 1));
        builder.add(&result("h02", Status::Failed, false, 1));
        let hosts: Vec<_> = builder.build().into_iter().map(|r| r.host).collect();
        assert_eq!(hosts, ["h01", "h02"], "h03 did nothing: it is not an ok host");
    }
}
