//! `h.write`: a file with exactly this content, replaced atomically, reported changed only when it was not
//! already so (see `file_writer` for how the bytes reach the host).

use rhai::Map;
use sha2::{Digest, Sha256};

use super::file_writer::{FileSpec, WRITE_OPTIONS, known_unchanged, put_file, unchanged};
use super::primitive_error::PrimitiveError;
use super::remote_host::RemoteHost;
use super::step::{Options, Step};

/// `h.write(content, dest, opts)`: a file with this exact content. With `known` (the map `h.read(dest, opts)`
/// returned just before), a file that already is what the step wants is reported ok without a round trip: a
/// read-edit-write helper whose edit changes nothing costs only its read.
pub fn write(host: &dyn RemoteHost, content: &str, dest: &str, options: &Map) -> Result<Map, PrimitiveError> {
    let spec = FileSpec::from_options_of(dest, options, "write", WRITE_OPTIONS)?;
    let known = Options::new(options, "write", WRITE_OPTIONS)?.map("known")?;
    if let Some(known) = known {
        let sha256 = hex::encode(Sha256::digest(content.as_bytes()));
        if known_unchanged(&known, &spec, &sha256, "write")? {
            return Ok(unchanged(Step::new(host, "write", dest), &spec, &sha256));
        }
    }
    put_file(Step::new(host, "write", dest), content.as_bytes(), &spec)
}
