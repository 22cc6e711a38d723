//! Round trips per step, counted on a real shell: a `RemoteHost` whose commands run in `sh` on this machine
//! (the same shell text the transport sends) inside a temp folder. It counts each command, so these tests pin
//! what a step costs — an unchanged file is one round trip — and check the compare-and-replace script's
//! guarantees (validate, --check, --diff, no temp file left) on real files.

use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use indexmap::IndexMap;
use rhai::{Dynamic, Map};
use serde_json::Value;

use super::host_error::HostError;
use super::remote_host::{PeerHost, RemoteHost};
use crate::report::{Status, StepReport};
use crate::transport::{CommandOutput, RemoteCommand};

struct ShellHost {
    round_trips: AtomicUsize,
    check: bool,
    diff: bool,
    steps: Mutex<Vec<StepReport>>,
    vars: IndexMap<String, Value>,
}

impl ShellHost {
    fn new(check: bool, diff: bool) -> ShellHost {
        ShellHost {
            round_trips: AtomicUsize::new(0),
            check,
            diff,
            steps: Mutex::new(Vec::new()),
            vars: IndexMap::new(),
        }
    }

    /// Round trips since the last call.
    fn trips(&self) -> usize {
        self.round_trips.swap(0, Ordering::SeqCst)
    }

    fn last(&self) -> StepReport {
        self.steps.lock().unwrap().last().cloned().expect("a step was recorded")
    }

    fn run(&self, shell: &str, input: Option<&[u8]>) -> CommandOutput {
        use std::io::Write;
        self.round_trips.fetch_add(1, Ordering::SeqCst);
        // The shell text goes in on stdin when there is no input to stream, as the transport sends it: argv
        // would cap a large script at ARG_MAX.
        let (args, stdin_bytes): (&[&str], Vec<u8>) = match input {
            Some(input) => (&["-c", shell], input.to_vec()),
            None => (&["-s"], shell.as_bytes().to_vec()),
        };
        let mut child = std::process::Command::new("sh")
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(&stdin_bytes).unwrap();
        drop(stdin);
        let out = child.wait_with_output().unwrap();
        CommandOutput { rc: out.status.code().unwrap_or(-1), stdout: out.stdout, stderr: out.stderr }
    }
}

impl RemoteHost for ShellHost {
    fn name(&self) -> &str {
        "local"
    }
    fn address(&self) -> &str {
        "127.0.0.1"
    }
    fn groups(&self) -> &[String] {
        &[]
    }
    fn vars(&self) -> &IndexMap<String, Value> {
        &self.vars
    }
    fn check_mode(&self) -> bool {
        self.check
    }
    fn diff_mode(&self) -> bool {
        self.diff
    }
    fn planned_changes(&self) -> bool {
        false
    }
    fn redact(&self, text: &str) -> String {
        text.to_string()
    }
    fn interrupted(&self) -> bool {
        false
    }
    fn exec(&self, command: &RemoteCommand) -> Result<CommandOutput, HostError> {
        Ok(self.run(&command.to_shell(false), None))
    }
    fn exec_streaming(&self, script: &str, input: &[u8]) -> Result<CommandOutput, HostError> {
        Ok(self.run(script, Some(input)))
    }
    fn reconnect(&self) {}
    fn facts(&self) -> Option<Map> {
        None
    }
    fn gathered_facts(&self) -> Option<Map> {
        None
    }
    fn keep_facts(&self, _facts: Map) {}
    fn record(&self, step: StepReport) {
        self.steps.lock().unwrap().push(step);
    }
    fn local_file(&self, relative: &str) -> PathBuf {
        PathBuf::from(relative)
    }
    fn inventory_groups(&self) -> IndexMap<String, Vec<String>> {
        IndexMap::new()
    }
    fn inventory_hosts(&self) -> Vec<PeerHost> {
        Vec::new()
    }
    fn host_in(&self, _value: &Dynamic) -> Option<std::sync::Arc<dyn RemoteHost>> {
        None
    }
}

fn options(pairs: &[(&str, Dynamic)]) -> Map {
    pairs.iter().map(|(k, v)| ((*k).into(), v.clone())).collect()
}

fn mode_of(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

/// Nothing but `names` in the folder: no temp file left behind.
fn only(dir: &std::path::Path, names: &[&str]) {
    let mut found: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    found.sort();
    assert_eq!(found, names, "files in {}", dir.display());
}

#[test]
fn a_write_is_one_round_trip_changed_or_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("app.conf");
    let dest_text = dest.to_str().unwrap();
    let host = ShellHost::new(false, false);

    let first = super::write::write(&host, "port = 80\n", dest_text, &Map::new()).unwrap();
    assert_eq!(first["changed"].as_bool(), Ok(true));
    assert_eq!(host.trips(), 1);
    assert_eq!(std::fs::read_to_string(&dest).unwrap(), "port = 80\n");
    assert_eq!(mode_of(&dest), 0o644);

    let again = super::write::write(&host, "port = 80\n", dest_text, &Map::new()).unwrap();
    assert_eq!(again["changed"].as_bool(), Ok(false));
    assert_eq!(host.trips(), 1);
    assert_eq!(host.last().status, Status::Ok);

    // Mode only: the file is not rewritten, the mode is set, still one round trip; then unchanged.
    let mode = options(&[("mode", Dynamic::from("0600"))]);
    let modes = super::write::write(&host, "port = 80\n", dest_text, &mode).unwrap();
    assert_eq!(modes["changed"].as_bool(), Ok(true));
    assert_eq!(mode_of(&dest), 0o600);
    assert_eq!(host.trips(), 1);
    super::write::write(&host, "port = 80\n", dest_text, &mode).unwrap();
    assert_eq!((host.trips(), host.last().status), (1, Status::Ok));

    // New content keeps the old file's mode when none is given.
    super::write::write(&host, "port = 81\n", dest_text, &Map::new()).unwrap();
    assert_eq!((host.trips(), mode_of(&dest)), (1, 0o600));
    only(dir.path(), &["app.conf"]);
}

#[test]
fn a_failing_validate_leaves_the_file_byte_identical_and_removes_the_temp_file() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("sudoers");
    std::fs::write(&dest, "old: good\n").unwrap();
    let host = ShellHost::new(false, false);
    let validate =
        options(&[("validate", Dynamic::from("grep -q good %s || { echo \"rejected: $(cat %s)\"; exit 1; }"))]);

    let error = super::write::write(&host, "new: bad\n", dest.to_str().unwrap(), &validate).unwrap_err();
    let message = error.to_string();
    assert!(message.contains("validation failed") && message.contains("rejected: new: bad"), "{message}");
    assert_eq!(host.trips(), 1);
    assert_eq!(std::fs::read(&dest).unwrap(), b"old: good\n");
    only(dir.path(), &["sudoers"]);

    let passed = super::write::write(&host, "new: good\n", dest.to_str().unwrap(), &validate).unwrap();
    assert_eq!(passed["changed"].as_bool(), Ok(true));
    assert_eq!(std::fs::read(&dest).unwrap(), b"new: good\n");
    assert_eq!(host.trips(), 1);

    let without = options(&[("validate", Dynamic::from("visudo -c"))]);
    let error = super::write::write(&host, "x\n", dest.to_str().unwrap(), &without).unwrap_err();
    assert!(error.to_string().contains("must contain %s"), "{error:?}");
    assert_eq!(host.trips(), 0);
}

#[test]
fn check_mode_neither_writes_nor_validates_and_diff_comes_in_the_same_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("motd");
    std::fs::write(&dest, "hello\n").unwrap();
    let ran = dir.path().join("validator-ran");
    let validate = options(&[("validate", Dynamic::from(format!("touch {} %s", ran.display())))]);

    let check = ShellHost::new(true, true);
    let result = super::write::write(&check, "bye\n", dest.to_str().unwrap(), &validate).unwrap();
    assert_eq!(result["changed"].as_bool(), Ok(true));
    assert_eq!(check.trips(), 1);
    assert_eq!(std::fs::read_to_string(&dest).unwrap(), "hello\n");
    assert!(!ran.exists(), "the validator ran in --check");
    let diff = check.last().diff.unwrap();
    assert!(diff.contains("-hello\n+bye\n"), "{diff}");

    let real = ShellHost::new(false, true);
    super::write::write(&real, "bye\n", dest.to_str().unwrap(), &validate).unwrap();
    assert_eq!(real.trips(), 1);
    assert!(ran.exists(), "the validator did not run");
    assert!(real.last().diff.unwrap().contains("-hello\n+bye\n"));
    assert_eq!(std::fs::read_to_string(&dest).unwrap(), "bye\n");
}

#[test]
fn large_content_is_sent_only_when_it_differs() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("sub").join("big.bin");
    let content: Vec<u8> = (0..600_000u32).map(|i| (i % 251) as u8).collect();
    let host = ShellHost::new(false, false);
    let text = dest.to_str().unwrap();
    let error = super::file_writer::put_file(
        super::step::Step::new(&host, "upload", text),
        &content,
        &super::file_writer::FileSpec::from_options(text, &Map::new(), "upload").unwrap(),
    )
    .unwrap_err();
    assert!(error.to_string().contains("does not exist (pass `mkdir: true`"), "{error:?}");
    host.trips();
    let spec =
        super::file_writer::FileSpec::from_options(text, &options(&[("mkdir", Dynamic::TRUE)]), "upload").unwrap();
    let put =
        |host: &ShellHost| super::file_writer::put_file(super::step::Step::new(host, "upload", text), &content, &spec);
    assert_eq!(put(&host).unwrap()["changed"].as_bool(), Ok(true));
    assert_eq!(host.trips(), 2);
    assert_eq!(std::fs::read(&dest).unwrap(), content);
    assert_eq!(put(&host).unwrap()["changed"].as_bool(), Ok(false));
    assert_eq!(host.trips(), 1);
    only(&dir.path().join("sub"), &["big.bin"]);
}

#[test]
fn a_guarded_run_is_one_round_trip_whether_it_runs_or_not() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("done");
    let host = ShellHost::new(false, false);
    let creates = options(&[("creates", Dynamic::from(marker.to_str().unwrap().to_string()))]);
    let command = format!("cat > {}; echo made", marker.display());
    let mut with_stdin = creates.clone();
    with_stdin.insert("stdin".into(), Dynamic::from("from stdin"));

    let ran = super::run::run(&host, &command, &with_stdin).unwrap();
    assert_eq!((ran["changed"].as_bool(), ran["skipped"].as_bool()), (Ok(true), Ok(false)));
    assert_eq!(ran["stdout"].clone().into_string().unwrap(), "made\n");
    assert_eq!(std::fs::read_to_string(&marker).unwrap(), "from stdin", "the guard must not eat stdin");
    assert_eq!(host.trips(), 1);

    let skipped = super::run::run(&host, &command, &with_stdin).unwrap();
    assert_eq!((skipped["changed"].as_bool(), skipped["skipped"].as_bool()), (Ok(false), Ok(true)));
    assert_eq!(host.trips(), 1);

    let unless = options(&[("unless", Dynamic::from("exit 1"))]);
    let failed = super::run::run(&host, "echo no >&2; exit 7", &unless).unwrap_err();
    assert!(failed.to_string().contains("exit code 7"), "{failed:?}");
    assert_eq!(host.trips(), 1);
}

/// A read-edit-write helper of stdlib/files.rhai as the stdlib does it: one `h.read(path, #{ stat, grep })`, the
/// edit, then `h.write` with the read as `known`.
fn edit(host: &ShellHost, path: &str, edit: impl Fn(&str, &[i64]) -> String, write: &Map) -> Map {
    let stat = ["mode", "owner", "group"].iter().any(|key| write.contains_key(*key));
    let read = options(&[("stat", Dynamic::from(stat)), ("grep", Dynamic::from("^port"))]);
    let known = super::read::read_with(host, path, &read).unwrap();
    let content = known["content"].clone().into_string().unwrap_or_default();
    let matches: Vec<i64> = known["matches"]
        .clone()
        .cast::<Map>()
        .get("^port")
        .unwrap()
        .clone()
        .cast::<rhai::Array>()
        .iter()
        .map(|n| n.as_int().unwrap())
        .collect();
    let mut write = write.clone();
    write.insert("known".into(), Dynamic::from(known));
    super::write::write(host, &edit(&content, &matches), path, &write).unwrap()
}

/// `port = N` in place of the first line the read found matching ^port, as files::line does.
fn set_port(port: u32) -> impl Fn(&str, &[i64]) -> String {
    move |content, matches| {
        let mut lines: Vec<String> = content.lines().map(str::to_string).collect();
        match matches.first() {
            Some(n) => lines[*n as usize - 1] = format!("port = {port}"),
            None => lines.push(format!("port = {port}")),
        }
        lines.join("\n") + "\n"
    }
}

#[test]
fn an_unchanged_edit_is_its_read_alone_and_a_change_is_one_more() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("app.conf");
    let path = dest.to_str().unwrap();
    std::fs::write(&dest, "# app\nport = 80\n").unwrap();
    let host = ShellHost::new(false, false);
    let mode = options(&[("mode", Dynamic::from("0640"))]);

    // The mode differs: the read and the write's own script, which sets it.
    let fixed = edit(&host, path, set_port(80), &mode);
    assert_eq!((fixed["changed"].as_bool(), host.trips(), mode_of(&dest)), (Ok(true), 2, 0o640));
    // Nothing differs: the read alone, and a write step reported ok as before.
    let same = edit(&host, path, set_port(80), &mode);
    assert_eq!((same["changed"].as_bool(), host.trips()), (Ok(false), 1));
    let step = host.last();
    assert_eq!((step.primitive.as_str(), step.status), ("write", Status::Ok));
    assert_eq!(step.target, path);
    // New content: read + write; the mode is kept.
    let changed = edit(&host, path, set_port(81), &mode);
    assert_eq!((changed["changed"].as_bool(), host.trips()), (Ok(true), 2));
    assert_eq!(std::fs::read_to_string(&dest).unwrap(), "# app\nport = 81\n");
    assert_eq!(mode_of(&dest), 0o640);
    // Without stat the read cannot vouch for the mode: the write asks the host (which finds it right).
    let read = super::read::read_with(&host, path, &Map::new()).unwrap();
    let mut blind = mode.clone();
    blind.insert("known".into(), Dynamic::from(read));
    let unsure = super::write::write(&host, "# app\nport = 81\n", path, &blind).unwrap();
    assert_eq!((unsure["changed"].as_bool(), host.trips()), (Ok(false), 2));
    // No mode asked for: content alone decides, so the plain read is enough.
    let plain = edit(&host, path, set_port(81), &Map::new());
    assert_eq!((plain["changed"].as_bool(), host.trips()), (Ok(false), 1));
    only(dir.path(), &["app.conf"]);
}

#[test]
fn a_known_read_is_only_trusted_for_its_own_path_and_a_missing_file_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("new.conf");
    let path = dest.to_str().unwrap();
    let host = ShellHost::new(false, false);
    let created = edit(&host, path, set_port(80), &Map::new());
    assert_eq!((created["changed"].as_bool(), host.trips()), (Ok(true), 2));
    assert_eq!(std::fs::read_to_string(&dest).unwrap(), "port = 80\n");

    let other = super::read::read_with(&host, path, &Map::new()).unwrap();
    let mut wrong = Map::new();
    wrong.insert("known".into(), Dynamic::from(other));
    let elsewhere = dir.path().join("other.conf");
    let error = super::write::write(&host, "port = 80\n", elsewhere.to_str().unwrap(), &wrong).unwrap_err();
    assert!(error.to_string().contains("option `known` must be what h.read"), "{error:?}");
    assert!(!elsewhere.exists());
    assert_eq!(host.trips(), 1, "the read only");
}

#[test]
fn a_file_changed_after_the_read_is_still_handled_on_the_host() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("app.conf");
    let path = dest.to_str().unwrap();
    std::fs::write(&dest, "port = 80\n").unwrap();
    let host = ShellHost::new(false, false);
    let known = super::read::read_with(&host, path, &Map::new()).unwrap();
    std::fs::write(&dest, "port = 99\n").unwrap();
    // The edit computed from the read wants "port = 81": the read did not have it, so the script runs.
    let mut write = Map::new();
    write.insert("known".into(), Dynamic::from(known));
    let result = super::write::write(&host, "port = 81\n", path, &write).unwrap();
    assert_eq!((result["changed"].as_bool(), host.trips()), (Ok(true), 2));
    assert_eq!(std::fs::read_to_string(&dest).unwrap(), "port = 81\n");
}

#[test]
fn check_and_diff_of_an_edit_stay_honest() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("app.conf");
    let path = dest.to_str().unwrap();
    std::fs::write(&dest, "port = 80\n").unwrap();
    let check = ShellHost::new(true, true);
    let planned = edit(&check, path, set_port(81), &Map::new());
    assert_eq!((planned["changed"].as_bool(), check.trips()), (Ok(true), 2));
    assert!(check.last().diff.unwrap().contains("-port = 80\n+port = 81\n"));
    assert_eq!(std::fs::read_to_string(&dest).unwrap(), "port = 80\n", "--check wrote");
    let same = edit(&check, path, set_port(80), &Map::new());
    assert_eq!((same["changed"].as_bool(), check.trips(), check.last().diff), (Ok(false), 1, None));
}

#[test]
fn the_read_reports_matches_and_attributes_in_one_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("sshd_config");
    let path = dest.to_str().unwrap();
    std::fs::write(&dest, "#PermitRootLogin yes\nPort 22\nPermitRootLogin no\n").unwrap();
    let host = ShellHost::new(false, false);
    let grep = Dynamic::from(vec![Dynamic::from("^PermitRootLogin"), Dynamic::from("Root"), Dynamic::from("^none$")]);
    let read = super::read::read_with(&host, path, &options(&[("stat", Dynamic::TRUE), ("grep", grep)])).unwrap();
    assert_eq!(host.trips(), 1);
    let matches = read["matches"].clone().cast::<Map>();
    let lines = |regex: &str| -> Vec<i64> {
        matches[regex].clone().cast::<rhai::Array>().iter().map(|n| n.as_int().unwrap()).collect()
    };
    assert_eq!((lines("^PermitRootLogin"), lines("Root"), lines("^none$")), (vec![3], vec![1, 3], vec![]));
    assert_eq!(read["mode"].clone().into_string().unwrap(), format!("{:o}", mode_of(&dest)));
    assert_eq!(read["content"].clone().into_string().unwrap(), std::fs::read_to_string(&dest).unwrap());
    let absent = super::read::read_with(&host, &format!("{path}.none"), &options(&[("grep", Dynamic::from("x"))]));
    let absent = absent.unwrap();
    assert_eq!((absent["exists"].as_bool(), absent["content"].is_unit()), (Ok(false), true));
    assert_eq!(absent["matches"].clone().cast::<Map>()["x"].clone().cast::<rhai::Array>().len(), 0);
    let error = super::read::read_with(&host, path, &options(&[("grep", Dynamic::from(3_i64))])).unwrap_err();
    assert!(error.to_string().contains("`grep` must be a string"), "{error:?}");
}

#[test]
fn owner_and_group_given_together_are_set_without_copying_the_old_ones() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("owned.conf");
    std::fs::write(&dest, "old\n").unwrap();
    let mode = <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o640);
    std::fs::set_permissions(&dest, mode).unwrap();
    let id = |flag: &str| {
        let out = std::process::Command::new("id").arg(flag).output().unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    let host = ShellHost::new(false, false);
    let opts = options(&[("owner", Dynamic::from(id("-un"))), ("group", Dynamic::from(id("-gn")))]);
    let result = super::write::write(&host, "new\n", dest.to_str().unwrap(), &opts).unwrap();
    assert_eq!((result["changed"].as_bool(), host.trips()), (Ok(true), 1));
    assert_eq!(std::fs::read_to_string(&dest).unwrap(), "new\n");
    assert_eq!(mode_of(&dest), 0o640, "the old file's mode is kept");
    let again = super::write::write(&host, "new\n", dest.to_str().unwrap(), &opts).unwrap();
    assert_eq!((again["changed"].as_bool(), host.trips()), (Ok(false), 1));
    only(dir.path(), &["owned.conf"]);
}
