//! `h.upload`: a file from the controller (relative to the playbook) copied to the host, with the same
//! replace-atomically, mode/owner, validate and diff rules as `h.write`.

use rhai::Map;

use super::file_writer::{FileSpec, put_file};
use super::primitive_error::PrimitiveError;
use super::remote_host::RemoteHost;
use super::step::{Step, StepOutcome};

/// `h.upload(src, dest, opts)`: a controller file (relative to the playbook) copied to the host.
pub fn upload(host: &dyn RemoteHost, source: &str, dest: &str, options: &Map) -> Result<Map, PrimitiveError> {
    let spec = FileSpec::from_options(dest, options, "upload")?;
    let step = Step::new(host, "upload", dest);
    let path = host.local_file(source);
    match std::fs::read(&path) {
        Ok(content) => put_file(step, &content, &spec),
        Err(error) => Err(step.fail(format!("cannot read {}: {error}", path.display()), StepOutcome::default())),
    }
}
