//! Why `runbook recap merge` refuses its logs: each would make the merged verdict a lie (a log that cannot be
//! read or did not finish, logs of different runs, a host in two shards). Printed once, by the command.

use std::path::PathBuf;

use crate::report::LogReadError;

#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// The log could not be read or holds a line that is not an event (names file:line).
    #[error("{0}")]
    Unreadable(#[from] LogReadError),
    #[error(
        "{}: no run_end event: that shard's run did not finish (killed, or stopped before its hosts were \
         contacted); its hosts' outcome is unknown",
        .0.display()
    )]
    Unfinished(PathBuf),
    #[error("no log given")]
    NoLog,
    /// `first_ran`, `other_ran`: the playbook, with ` --check` when it was a check run.
    #[error("{} ran {first_ran} and {} ran {other_ran}: not shards of one run", first.display(), other.display())]
    OtherRun { first: PathBuf, first_ran: String, other: PathBuf, other_ran: String },
    #[error(
        "host {host} is in {} and in {}: the shards overlap (each log must come from one --shard I/N of the same N)",
        first.display(),
        other.display()
    )]
    Overlap { host: String, first: PathBuf, other: PathBuf },
}
