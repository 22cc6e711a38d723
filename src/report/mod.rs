//! What a run tells its user: live progress, per-host lines, the recap, and JSON events for machines.
//!
//! The engine only emits [`Event`]s; everything about how they look lives here, so the engine never formats
//! text and a new output (a CI annotation, say) is a new [`Reporter`].

mod console_reporter;
mod event;
mod fan_out;
mod history_recorder;
mod history_store;
mod html_report;
mod json_log;
mod logged_run;
mod recap;
mod redactor;
mod source_excerpt;

pub use console_reporter::{ConsoleOptions, ConsoleReporter};
pub use event::*;
pub use fan_out::FanOut;
pub use history_recorder::HistoryRecorder;
pub use history_store::{HistoryOpenError, HistoryStore, HostChange, Imported, ResultRow, RunSummary};
pub use html_report::{ReportError, render as render_html_report};
pub use json_log::JsonLog;
pub use logged_run::{LogReadError, LoggedEnd, LoggedRecap, LoggedResult, LoggedRun};
pub use recap::RecapBuilder;
pub use redactor::{MASK, MIN_FRAGMENT, Redactor};
