//! `h.fetch(remote, local, [opts])`: one file from a host to the controller (Ansible's `fetch` with
//! `flat: yes`). Day-2 work needs it: an etcd snapshot taken on a master is only a backup once it is off that
//! master. The host's sha256 is read first and compared with the controller's copy, so an unchanged file is
//! not sent again; what arrives is checked against that sha256 before it replaces anything, and it is written
//! to a temp file beside the destination and renamed, so a failed fetch never leaves a partial file.
//! With `keep`, older files of the same series in the destination folder are removed (the N newest kept).

use std::io::Write as _;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use rhai::{Array, Dynamic, Map};
use sha2::{Digest, Sha256};

use super::host_error::HostError;
use super::local_file_error::LocalFileError;
use super::primitive_error::PrimitiveError;
use super::remote_host::RemoteHost;
use super::step::{Options, Step, StepOutcome};
use crate::report::Status;
use crate::transport::quote;

pub const FETCH_OPTIONS: &[&str] = &["mkdir", "mode", "keep", "keep_prefix"];

/// Exit code of the inspect script for "no such file" (distinct from the tools' own errors).
const ABSENT: i32 = 44;

struct FetchSpec {
    local: PathBuf,
    mkdir: bool,
    mode: u32,
    keep: Option<(usize, String)>,
}

impl FetchSpec {
    fn from_options(host: &dyn RemoteHost, local: &str, options: &Map) -> Result<FetchSpec, PrimitiveError> {
        let options = Options::new(options, "fetch", FETCH_OPTIONS)?;
        let mode = match options.string("mode")? {
            None => 0o600,
            Some(text) => u32::from_str_radix(text.trim(), 8).ok().filter(|m| *m <= 0o7777).ok_or_else(|| {
                PrimitiveError::usage(format!(
                    "fetch: option `mode` must be an octal string like \"0600\", not \"{text}\""
                ))
            })?,
        };
        let keep = match (options.int("keep")?, options.string("keep_prefix")?) {
            (None, None) => None,
            (Some(count), Some(prefix)) if count >= 1 && !prefix.is_empty() && !prefix.contains('/') => {
                Some((count as usize, prefix))
            }
            _ => {
                return Err(PrimitiveError::usage(
                    "fetch: `keep` (a count >= 1) and `keep_prefix` (a file name prefix, no '/') go together",
                ));
            }
        };
        if local.is_empty() {
            return Err(PrimitiveError::usage("fetch: the local destination is empty"));
        }
        // Relative paths are relative to the playbook, as `upload`'s source is.
        let local = host.local_file(local);
        Ok(FetchSpec { local, mkdir: options.bool("mkdir")?, mode, keep })
    }
}

/// `h.fetch(remote, local, opts)` → `#{ changed, path, sha256, size, removed }`.
pub fn fetch(host: &dyn RemoteHost, remote: &str, local: &str, options: &Map) -> Result<Map, PrimitiveError> {
    let spec = FetchSpec::from_options(host, local, options)?;
    let step = Step::new(host, "fetch", format!("{remote} -> {}", spec.local.display()));
    let q = quote(remote);
    let inspect = host.query(format!(
        "if [ -f {q} ]; then sha256sum < {q} | cut -c1-64 && stat -c %s -- {q}; else exit {ABSENT}; fi"
    ))?;
    if inspect.rc == ABSENT {
        return Err(
            step.fail(format!("{remote} does not exist on the host (or is not a file)"), StepOutcome::default())
        );
    }
    if inspect.rc != 0 {
        return Err(
            step.fail(format!("cannot read {remote}: {}", inspect.stderr_text().trim()), StepOutcome::default())
        );
    }
    let text = inspect.stdout_text();
    let mut lines = text.lines();
    let remote_sha = lines.next().unwrap_or("").trim().to_string();
    let size: i64 = lines.next().unwrap_or("").trim().parse().unwrap_or(-1);

    let local_sha = std::fs::read(&spec.local).ok().map(|bytes| hex::encode(Sha256::digest(bytes)));
    let changed = local_sha.as_deref() != Some(remote_sha.as_str());
    let result = |changed: bool, removed: Array| {
        let mut map = Map::new();
        map.insert("changed".into(), Dynamic::from(changed));
        map.insert("path".into(), Dynamic::from(spec.local.display().to_string()));
        map.insert("sha256".into(), Dynamic::from(remote_sha.clone()));
        map.insert("size".into(), Dynamic::from(size));
        map.insert("removed".into(), Dynamic::from(removed));
        map
    };
    if host.check_mode() {
        let message = if changed { format!("check mode: would fetch {size} bytes") } else { "up to date".into() };
        let status = if changed { Status::Changed } else { Status::Ok };
        step.finish(status, StepOutcome { message: Some(message), ..StepOutcome::default() });
        return Ok(result(changed, Array::new()));
    }
    if changed {
        let bytes = match receive(host, remote, &remote_sha) {
            Ok(bytes) => bytes,
            Err(HostError::Failed(message)) => return Err(step.fail(message, StepOutcome::default())),
            Err(unreachable) => return Err(unreachable.into()),
        };
        if let Err(error) = store(&spec, &bytes) {
            return Err(step.fail(error.to_string(), StepOutcome::default()));
        }
    }
    let removed = match &spec.keep {
        Some((count, prefix)) => match prune(&spec.local, prefix, *count) {
            Ok(removed) => removed,
            Err(error) => return Err(step.fail(error.to_string(), StepOutcome::default())),
        },
        None => Array::new(),
    };
    let status = if changed || !removed.is_empty() { Status::Changed } else { Status::Ok };
    let message = (!removed.is_empty()).then(|| format!("removed {} older file(s)", removed.len()));
    step.finish(status, StepOutcome { message, ..StepOutcome::default() });
    Ok(result(changed || !removed.is_empty(), removed))
}

/// The file's bytes, base64 on the wire (the command channel carries text), checked against `sha256`.
fn receive(host: &dyn RemoteHost, remote: &str, sha256: &str) -> Result<Vec<u8>, HostError> {
    let output = host.query(format!("base64 < {}", quote(remote)))?;
    if output.rc != 0 {
        return Err(HostError::Failed(format!("cannot read {remote}: {}", output.stderr_text().trim())));
    }
    let encoded: Vec<u8> = output.stdout.into_iter().filter(|b| !b.is_ascii_whitespace()).collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|error| HostError::Failed(format!("{remote} arrived damaged ({error})")))?;
    let got = hex::encode(Sha256::digest(&bytes));
    if got != sha256 {
        return Err(HostError::Failed(format!(
            "{remote} arrived with sha256 {got}, the host had {sha256} (changed while it was read?)"
        )));
    }
    Ok(bytes)
}

/// Temp file in the destination's folder, fsync, mode, rename: the old file or the whole new one.
fn store(spec: &FetchSpec, bytes: &[u8]) -> Result<(), LocalFileError> {
    let dest = &spec.local;
    let dir = dest.parent().unwrap_or(Path::new("."));
    if !dir.is_dir() {
        if spec.mkdir {
            std::fs::create_dir_all(dir)
                .map_err(|source| LocalFileError::CreateFolder { dir: dir.to_path_buf(), source })?;
        } else {
            return Err(LocalFileError::NoFolder { dir: dir.to_path_buf() });
        }
    }
    let name = dest.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let temp = dir.join(format!(".{name}.runbook.{:016x}", rand::random::<u64>()));
    let written = (|| {
        use std::os::unix::fs::OpenOptionsExt as _;
        let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(spec.mode).open(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temp, dest)
    })();
    if let Err(source) = written {
        let _ = std::fs::remove_file(&temp);
        return Err(LocalFileError::Write { path: dest.clone(), source });
    }
    Ok(())
}

/// Removes all but the `keep` newest files named `prefix*` beside `dest` (newest = greatest name: the
/// series carries a sortable timestamp). The file just fetched is never removed.
fn prune(dest: &Path, prefix: &str, keep: usize) -> Result<Array, LocalFileError> {
    let dir = dest.parent().unwrap_or(Path::new("."));
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map_err(|source| LocalFileError::List { dir: dir.to_path_buf(), source })?
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.file_type().is_ok_and(|t| t.is_file()))
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(prefix))
        .collect();
    names.sort_unstable_by(|a, b| b.cmp(a));
    let just_fetched = dest.file_name().map(|n| n.to_string_lossy().into_owned());
    let mut removed = Array::new();
    for name in names.into_iter().skip(keep) {
        if Some(&name) == just_fetched.as_ref() {
            continue;
        }
        let path = dir.join(&name);
        if let Err(source) = std::fs::remove_file(&path) {
            return Err(LocalFileError::Remove { path, source });
        }
        removed.push(Dynamic::from(path.display().to_string()));
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prune_keeps_the_newest_names_of_the_series_only() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["snap-20260101T000000Z.db", "snap-20260102T000000Z.db", "snap-20260103T000000Z.db", "other.db"] {
            std::fs::write(dir.path().join(name), name).unwrap();
        }
        let removed = prune(&dir.path().join("snap-20260103T000000Z.db"), "snap-", 2).unwrap();
        assert_eq!(removed.len(), 1);
        assert!(removed[0].to_string().ends_with("snap-20260101T000000Z.db"));
        let mut left: Vec<String> =
            std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into()).collect();
        left.sort();
        assert_eq!(left, ["other.db", "snap-20260102T000000Z.db", "snap-20260103T000000Z.db"]);
    }

    #[test]
    fn prune_never_removes_the_file_just_fetched() {
        let dir = tempfile::tempdir().unwrap();
        // A clock behind the older snapshots: the new file sorts first but stays.
        for name in ["snap-2030.db", "snap-2031.db", "snap-2001.db"] {
            std::fs::write(dir.path().join(name), name).unwrap();
        }
        let removed = prune(&dir.path().join("snap-2001.db"), "snap-", 1).unwrap();
        assert_eq!(removed.len(), 1);
        assert!(dir.path().join("snap-2001.db").exists());
        assert!(dir.path().join("snap-2031.db").exists());
    }
}
