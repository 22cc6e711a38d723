//! What a run tells its user: live progress, per-host lines, the recap, and JSON events for machines.
//!
//! The engine only emits [`Event`]s; everything about how they look lives here, so the engine never formats
//! text and a new output (a CI annotation, say) is a new [`Reporter`].

mod event;

pub use event::*;
mod redactor;
pub use redactor::Redactor;
mod plain_reporter;
pub use plain_reporter::PlainReporter;
