//! Why `runbook history` (or `runbook report`, or a run's `--report`) could not read or write the run history:
//! the store's, the log reader's and the report's own errors kept whole, each naming the database or file.

use std::path::PathBuf;

use crate::report::{HistoryOpenError, LogReadError, ReportError};

#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("{}: no run history here (runs record it; see --history)", .0.display())]
    NoHistory(PathBuf),
    #[error("{0}")]
    Open(#[from] HistoryOpenError),
    /// A query or write on the database at `path` failed.
    #[error("history {}: {source}", path.display())]
    Database { path: PathBuf, source: rusqlite::Error },
    #[error("run {id}: not in {}", path.display())]
    RunNotIn { id: i64, path: PathBuf },
    /// A log given to `history import` (names file:line).
    #[error("{0}")]
    Log(#[from] LogReadError),
    /// The last run's id could not be read (the database is not named: it is the one just opened).
    #[error("history: {0}")]
    LastRun(#[source] rusqlite::Error),
    #[error("no run recorded yet")]
    NoRunYet,
    #[error("{0}: not a run id (a number from `runbook history`, or `last`)")]
    NotRunId(String),
    /// Reading the run a report is made of failed.
    #[error("{0}")]
    ReportQuery(#[source] rusqlite::Error),
    #[error("run {0}: not recorded")]
    NotRecorded(i64),
    #[error("{0}")]
    Report(#[from] ReportError),
    #[error("{}: {source}", path.display())]
    WriteReport { path: PathBuf, source: std::io::Error },
}
