use rhai::{EvalAltResult, Map};

use super::file_writer::{FileSpec, put_file};
use super::step::{Step, StepOutcome};
use crate::engine::Host;

/// `h.upload(src, dest, opts)`: a controller file (relative to the playbook) copied to the host.
pub fn upload(host: &Host, source: &str, dest: &str, options: &Map) -> Result<Map, Box<EvalAltResult>> {
    let spec = FileSpec::from_options(dest, options, "upload")?;
    let step = Step::new(host, "upload", dest);
    let path = host.runtime.playbook_dir.join(source);
    match std::fs::read(&path) {
        Ok(content) => put_file(step, &content, &spec),
        Err(error) => Err(step.fail(format!("cannot read {}: {error}", path.display()), StepOutcome::default())),
    }
}
