use rhai::{EvalAltResult, Map};

use super::file_writer::{FileSpec, put_file};
use super::step::Step;
use crate::engine::Host;

/// `h.write(content, dest, opts)`: a file with this exact content.
pub fn write(host: &Host, content: &str, dest: &str, options: &Map) -> Result<Map, Box<EvalAltResult>> {
    let spec = FileSpec::from_options(dest, options, "write")?;
    put_file(Step::new(host, "write", dest), content.as_bytes(), &spec)
}
