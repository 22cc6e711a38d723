//! Every way an inventory, a `--limit` pattern or an `-e` value can be wrong, said once and pointing into the source.
//!
//! One type for all of them so the CLI prints them the same way: `path:line:col: message` as the one-line form,
//! and a miette report with the offending line underlined when we know where it is.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use miette::{Diagnostic, LabeledSpan, NamedSource, SourceCode};

/// Where in a source file something is (1-based line and column, byte offset for the snippet).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub line: usize,
    pub column: usize,
    /// Byte offset and length, when known; used to underline the spot in a miette report.
    pub offset: Option<(usize, usize)>,
}

impl Position {
    pub(crate) fn from_location(location: serde_saphyr::Location) -> Option<Position> {
        if location == serde_saphyr::Location::UNKNOWN || location.line() == 0 {
            return None;
        }
        let span = location.span();
        let offset = span.byte_offset().map(|offset| (offset as usize, span.byte_len().unwrap_or(0) as usize));
        Some(Position { line: location.line() as usize, column: location.column() as usize, offset })
    }
}

/// An inventory, limit or extra-vars error. Display: `path:line:col: message` (the parts that are known).
/// Boxed so `Result<_, InventoryError>` stays one pointer wide on the happy path.
#[derive(Debug, Clone)]
pub struct InventoryError(Box<Details>);

#[derive(Debug, Clone)]
struct Details {
    message: String,
    path: Option<PathBuf>,
    position: Option<Position>,
    source_text: Option<NamedSource<Arc<String>>>,
}

impl InventoryError {
    /// An error with no location yet (a `--limit` or `-e` problem, or one to place with [`Self::in_file`]).
    pub fn new(message: impl Into<String>) -> InventoryError {
        InventoryError(Box::new(Details { message: message.into(), path: None, position: None, source_text: None }))
    }

    /// Names the file the error is in (`path: message`).
    pub fn in_file(mut self, path: &Path) -> InventoryError {
        self.0.path = Some(path.to_path_buf());
        self
    }

    /// Sets the position in `source`; call after [`Self::in_file`] so the snippet is named after the file.
    pub(crate) fn at(mut self, position: Option<Position>, source: &Arc<String>) -> InventoryError {
        self.0.position = position.map(|mut position| {
            if position.offset.is_none() {
                position.offset = offset_of(source, position.line, position.column).map(|offset| (offset, 0));
            }
            position
        });
        let name = self.0.path.as_ref().map(|path| path.display().to_string()).unwrap_or_default();
        self.0.source_text = Some(NamedSource::new(name, source.clone()));
        self
    }

    /// The same error shown against `source` instead (a vaulted file's masked text: its plaintext must not be
    /// printed in the snippet). Line and column stay; `source` must have the same layout.
    pub(crate) fn with_source_text(mut self, source: &Arc<String>) -> InventoryError {
        if let Some(text) = &self.0.source_text {
            self.0.source_text = Some(NamedSource::new(text.name(), source.clone()));
        }
        self
    }

    /// The message alone, without the location prefix.
    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// The file the error is in, when it is in one.
    pub fn path(&self) -> Option<&Path> {
        self.0.path.as_deref()
    }

    /// Line and column (1-based), when known.
    pub fn position(&self) -> Option<Position> {
        self.0.position
    }
}

impl fmt::Display for InventoryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.0.path, self.0.position) {
            (Some(path), Some(position)) => write!(f, "{}:{}:{}: ", path.display(), position.line, position.column)?,
            (Some(path), None) => write!(f, "{}: ", path.display())?,
            (None, Some(position)) => write!(f, "{}:{}: ", position.line, position.column)?,
            (None, None) => {}
        }
        f.write_str(&self.0.message)
    }
}

impl std::error::Error for InventoryError {}

impl Diagnostic for InventoryError {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        None
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.0.position?.offset?;
        self.0.source_text.as_ref().map(|text| text as &dyn SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let (offset, len) = self.0.position?.offset?;
        self.0.source_text.as_ref()?;
        let label = LabeledSpan::new_with_span(Some("here".to_string()), (offset, len));
        Some(Box::new(std::iter::once(label)))
    }
}

/// Byte offset of 1-based `line`:`column` (column counted in characters), when it is inside `source`.
fn offset_of(source: &str, line: usize, column: usize) -> Option<usize> {
    let line_start =
        if line <= 1 { 0 } else { source.match_indices('\n').nth(line - 2).map(|(index, _)| index + 1)? };
    let rest = &source[line_start..];
    let rest = &rest[..rest.find('\n').unwrap_or(rest.len())];
    let within = rest.char_indices().nth(column.saturating_sub(1)).map(|(index, _)| index).unwrap_or(rest.len());
    Some(line_start + within)
}
