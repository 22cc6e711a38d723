use rhai::Map;

use super::file_writer::{FileSpec, put_file};
use super::primitive_error::PrimitiveError;
use super::remote_host::RemoteHost;
use super::step::Step;

/// `h.write(content, dest, opts)`: a file with this exact content.
pub fn write(host: &dyn RemoteHost, content: &str, dest: &str, options: &Map) -> Result<Map, PrimitiveError> {
    let spec = FileSpec::from_options(dest, options, "write")?;
    put_file(Step::new(host, "write", dest), content.as_bytes(), &spec)
}
