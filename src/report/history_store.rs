//! The run history database (`.runbook/history.db`): what every run did, kept after its terminal is gone, so an
//! operator can ask later which run changed which host (what Ansible users add ARA for).
//!
//! SQLite through rusqlite's bundled build, so no system library is needed. WAL and a busy timeout let two runs
//! in the same folder write at once; each event is its own transaction, so a run killed mid-way leaves every
//! earlier row intact and its run row without an end: it is listed as incomplete. The schema carries its version
//! in `PRAGMA user_version` and is brought forward by [`MIGRATIONS`], so older databases open.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use super::logged_run::LoggedRun;
use super::source_excerpt::failure_excerpt;

/// Each entry moves the schema from version `index` to `index + 1`. Never edit one that has shipped; add one.
const MIGRATIONS: &[&str] = &[
    r#"
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        started_at TEXT NOT NULL,
        ended_at TEXT,
        playbook TEXT NOT NULL,
        command_line TEXT NOT NULL,
        git_commit TEXT,
        hosts TEXT NOT NULL,
        check_mode INTEGER NOT NULL,
        exit_code INTEGER,
        elapsed REAL,
        interrupted INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE results (
        id INTEGER PRIMARY KEY,
        run_id INTEGER NOT NULL REFERENCES runs(id),
        task TEXT NOT NULL,
        host TEXT NOT NULL,
        status TEXT NOT NULL,
        changed INTEGER NOT NULL,
        rc INTEGER,
        message TEXT,
        diff TEXT,
        started REAL NOT NULL,
        duration REAL NOT NULL
    );
    CREATE INDEX results_by_run ON results(run_id, host);
"#,
    r#"
    -- 2: runs imported from --log-json files, known by the file's digest so a second import finds the first.
    ALTER TABLE runs ADD COLUMN log_digest TEXT;
    CREATE UNIQUE INDEX runs_by_log ON runs(log_digest) WHERE log_digest IS NOT NULL;
"#,
    r#"
    -- 3: the playbook lines around a failure, as they were when it failed.
    ALTER TABLE results ADD COLUMN excerpt TEXT;
"#,
];

/// How long a writer waits for another run's transaction before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the history database could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum HistoryOpenError {
    #[error("history {path}: {source}")]
    Folder { path: std::path::PathBuf, source: std::io::Error },
    #[error("history {path}: {source}")]
    Database { path: std::path::PathBuf, source: rusqlite::Error },
}

/// An open history database.
pub struct HistoryStore {
    connection: Connection,
}

/// One run as `runbook history` lists it.
#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    pub id: i64,
    pub started_at: String,
    pub ended_at: Option<String>,
    pub playbook: String,
    pub command_line: String,
    pub git_commit: Option<String>,
    pub hosts: Vec<String>,
    pub check: bool,
    pub exit_code: Option<i32>,
    /// Seconds, when the run reached its recap.
    pub elapsed: Option<f64>,
    /// No end recorded: the run was killed (or is still going).
    pub incomplete: bool,
    pub interrupted: bool,
    /// Host×task results by status.
    pub ok: u32,
    pub changed: u32,
    pub failed: u32,
    pub skipped: u32,
    pub unreachable: u32,
}

/// One task on one host, as recorded.
#[derive(Debug, Clone, Serialize)]
pub struct ResultRow {
    pub task: String,
    pub host: String,
    pub status: String,
    pub changed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rc: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
    /// For a failure located in the playbook: the lines around it (see `source_excerpt`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub excerpt: Option<String>,
    /// Seconds after the run started.
    pub started: f64,
    pub duration: f64,
}

/// The last run that changed a host, as `runbook history hosts` lists it.
#[derive(Debug, Clone, Serialize)]
pub struct HostChange {
    pub host: String,
    pub run: i64,
    pub started_at: String,
    pub playbook: String,
    /// The tasks that changed the host in that run.
    pub tasks: Vec<String>,
}

/// What `import` did with a log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Imported {
    New(i64),
    /// The same log was imported before, as this run.
    AlreadyThere(i64),
}

/// What the recorder knows when a run starts.
pub struct NewRun<'a> {
    pub started_at: &'a str,
    pub playbook: &'a str,
    pub command_line: &'a str,
    pub git_commit: Option<&'a str>,
    pub hosts: &'a [String],
    pub check: bool,
}

impl HistoryStore {
    /// Opens (creating the file and its folder if needed) and migrates to the current schema.
    pub fn open(path: &Path) -> Result<HistoryStore, HistoryOpenError> {
        let describe = |source| HistoryOpenError::Database { path: path.to_path_buf(), source };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|source| HistoryOpenError::Folder { path: parent.to_path_buf(), source })?;
        }
        let mut connection = Connection::open(path).map_err(describe)?;
        connection.busy_timeout(BUSY_TIMEOUT).map_err(describe)?;
        connection.pragma_update(None, "journal_mode", "WAL").map_err(describe)?;
        connection.pragma_update(None, "synchronous", "NORMAL").map_err(describe)?;
        migrate(&mut connection).map_err(describe)?;
        Ok(HistoryStore { connection })
    }

    pub fn schema_version(&self) -> i64 {
        self.connection.pragma_query_value(None, "user_version", |row| row.get(0)).unwrap_or(0)
    }

    pub fn start_run(&self, run: &NewRun) -> rusqlite::Result<i64> {
        self.connection.execute(
            "INSERT INTO runs (started_at, playbook, command_line, git_commit, hosts, check_mode) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                run.started_at,
                run.playbook,
                run.command_line,
                run.git_commit,
                serde_json::to_string(run.hosts).unwrap_or_default(),
                run.check
            ],
        )?;
        Ok(self.connection.last_insert_rowid())
    }

    pub fn add_result(&self, run_id: i64, row: &ResultRow) -> rusqlite::Result<()> {
        insert_result(&self.connection, run_id, row)
    }

    /// The recap arrived: the run's length and whether Ctrl-C cut it short.
    pub fn end_run(&self, run_id: i64, ended_at: &str, elapsed: f64, interrupted: bool) -> rusqlite::Result<()> {
        self.connection.execute(
            "UPDATE runs SET ended_at = ?2, elapsed = ?3, interrupted = ?4 WHERE id = ?1",
            params![run_id, ended_at, elapsed, interrupted],
        )?;
        Ok(())
    }

    /// The exit code and the final (redacted) command line, known only once the run is over.
    pub fn close_run(&self, run_id: i64, exit_code: i32, command_line: &str) -> rusqlite::Result<()> {
        self.connection.execute(
            "UPDATE runs SET exit_code = ?2, command_line = ?3 WHERE id = ?1",
            params![run_id, exit_code, command_line],
        )?;
        Ok(())
    }

    /// Records a run read from its `--log-json` file, in one transaction; a log already imported (same bytes) is
    /// not recorded twice. `exit_code` is what the run returned, when the log says how it ended.
    /// Failures located in the playbook get their source lines from the files under `source_base`.
    pub fn import(
        &mut self,
        run: &LoggedRun,
        exit_code: Option<i32>,
        source_base: &Path,
    ) -> rusqlite::Result<Imported> {
        let transaction = self.connection.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let existing: Option<i64> = transaction
            .query_row("SELECT id FROM runs WHERE log_digest = ?1", params![run.digest], |row| row.get(0))
            .optional()?;
        if let Some(id) = existing {
            return Ok(Imported::AlreadyThere(id));
        }
        let (ended_at, elapsed, interrupted) = match &run.recap {
            Some(recap) => (
                recap.logged_at.clone().or_else(|| run.started_at.clone()),
                Some(recap.elapsed.as_secs_f64()),
                recap.interrupted,
            ),
            None => (None, None, false),
        };
        transaction.execute(
            "INSERT INTO runs (started_at, ended_at, playbook, command_line, hosts, check_mode, exit_code, elapsed,
             interrupted, log_digest) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                run.started_at.as_deref().unwrap_or(""),
                ended_at,
                run.playbook,
                format!("imported from {}", run.path.display()),
                serde_json::to_string(&run.hosts).unwrap_or_default(),
                run.check,
                exit_code,
                elapsed,
                interrupted,
                run.digest
            ],
        )?;
        let id = transaction.last_insert_rowid();
        for result in &run.results {
            let row = ResultRow {
                task: result.task.clone(),
                host: result.host.clone(),
                status: result.status.clone(),
                changed: result.changed,
                rc: result.rc,
                message: result.message.clone(),
                diff: result.diff.clone(),
                excerpt: failure_excerpt(&result.status, result.message.as_deref(), source_base),
                started: result.started,
                duration: result.duration,
            };
            insert_result(&transaction, id, &row)?;
        }
        transaction.commit()?;
        Ok(Imported::New(id))
    }

    /// The most recent `limit` runs, newest first.
    pub fn runs(&self, limit: usize) -> rusqlite::Result<Vec<RunSummary>> {
        let mut statement = self.connection.prepare(&format!("{RUN_SUMMARY} ORDER BY r.id DESC LIMIT ?1"))?;
        let rows = statement.query_map(params![limit as i64], run_summary)?;
        rows.collect()
    }

    pub fn run(&self, run_id: i64) -> rusqlite::Result<Option<RunSummary>> {
        self.connection.query_row(&format!("{RUN_SUMMARY} WHERE r.id = ?1"), params![run_id], run_summary).optional()
    }

    pub fn last_run_id(&self) -> rusqlite::Result<Option<i64>> {
        self.connection.query_row("SELECT max(id) FROM runs", [], |row| row.get(0))
    }

    /// A run's results in the order they arrived, optionally only one host's or one task's.
    pub fn results(&self, run_id: i64, host: Option<&str>, task: Option<&str>) -> rusqlite::Result<Vec<ResultRow>> {
        let mut statement = self.connection.prepare(
            "SELECT task, host, status, changed, rc, message, diff, started, duration, excerpt FROM results
             WHERE run_id = ?1 AND (?2 IS NULL OR host = ?2) AND (?3 IS NULL OR task = ?3) ORDER BY id",
        )?;
        let rows = statement.query_map(params![run_id, host, task], |row| {
            Ok(ResultRow {
                task: row.get(0)?,
                host: row.get(1)?,
                status: row.get(2)?,
                changed: row.get(3)?,
                rc: row.get(4)?,
                message: row.get(5)?,
                diff: row.get(6)?,
                started: row.get(7)?,
                duration: row.get(8)?,
                excerpt: row.get(9)?,
            })
        })?;
        rows.collect()
    }

    /// For every host that was ever changed: the latest run that changed it, and which tasks did.
    pub fn last_changes(&self) -> rusqlite::Result<Vec<HostChange>> {
        let mut statement = self.connection.prepare(
            "SELECT x.host, x.run_id, r.started_at, r.playbook, group_concat(x.task, char(10)) FROM results x
             JOIN runs r ON r.id = x.run_id
             WHERE x.changed AND x.run_id = (SELECT max(y.run_id) FROM results y WHERE y.host = x.host AND y.changed)
             GROUP BY x.host, x.run_id ORDER BY x.host",
        )?;
        let rows = statement.query_map([], |row| {
            let tasks: String = row.get(4)?;
            Ok(HostChange {
                host: row.get(0)?,
                run: row.get(1)?,
                started_at: row.get(2)?,
                playbook: row.get(3)?,
                tasks: tasks.lines().map(str::to_string).collect(),
            })
        })?;
        rows.collect()
    }

    /// `PRAGMA integrity_check`'s answer: "ok" for a sound file.
    pub fn integrity_check(&self) -> rusqlite::Result<String> {
        self.connection.query_row("PRAGMA integrity_check", [], |row| row.get(0))
    }
}

/// One result row, as a run records it live and as an import does (inside its transaction).
fn insert_result(connection: &Connection, run_id: i64, row: &ResultRow) -> rusqlite::Result<()> {
    connection.execute(
        "INSERT INTO results (run_id, task, host, status, changed, rc, message, diff, started, duration, excerpt)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        params![
            run_id,
            row.task,
            row.host,
            row.status,
            row.changed,
            row.rc,
            row.message,
            row.diff,
            row.started,
            row.duration,
            row.excerpt
        ],
    )?;
    Ok(())
}

const RUN_SUMMARY: &str = "SELECT r.id, r.started_at, r.ended_at, r.playbook, r.command_line, r.git_commit, r.hosts,
    r.check_mode, r.exit_code, r.elapsed, r.interrupted,
    (SELECT count(*) FROM results x WHERE x.run_id = r.id AND x.status = 'ok'),
    (SELECT count(*) FROM results x WHERE x.run_id = r.id AND x.status = 'changed'),
    (SELECT count(*) FROM results x WHERE x.run_id = r.id AND x.status = 'failed'),
    (SELECT count(*) FROM results x WHERE x.run_id = r.id AND x.status = 'skipped'),
    (SELECT count(*) FROM results x WHERE x.run_id = r.id AND x.status = 'unreachable')
    FROM runs r";

fn run_summary(row: &rusqlite::Row) -> rusqlite::Result<RunSummary> {
    let hosts: String = row.get(6)?;
    let ended_at: Option<String> = row.get(2)?;
    Ok(RunSummary {
        id: row.get(0)?,
        started_at: row.get(1)?,
        incomplete: ended_at.is_none(),
        ended_at,
        playbook: row.get(3)?,
        command_line: row.get(4)?,
        git_commit: row.get(5)?,
        hosts: serde_json::from_str(&hosts).unwrap_or_default(),
        check: row.get(7)?,
        exit_code: row.get(8)?,
        elapsed: row.get(9)?,
        interrupted: row.get(10)?,
        ok: row.get(11)?,
        changed: row.get(12)?,
        failed: row.get(13)?,
        skipped: row.get(14)?,
        unreachable: row.get(15)?,
    })
}

fn migrate(connection: &mut Connection) -> rusqlite::Result<()> {
    // One writer migrates at a time; the others wait on the busy timeout and then find nothing to do.
    let transaction = connection.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let version: usize = transaction.pragma_query_value(None, "user_version", |row| row.get::<_, i64>(0))? as usize;
    for migration in MIGRATIONS.iter().skip(version) {
        transaction.execute_batch(migration)?;
    }
    if version < MIGRATIONS.len() {
        transaction.pragma_update(None, "user_version", MIGRATIONS.len() as i64)?;
    }
    transaction.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(host: &str, status: &str) -> ResultRow {
        ResultRow {
            task: "t".into(),
            host: host.into(),
            status: status.into(),
            changed: status == "changed",
            rc: None,
            message: None,
            diff: None,
            excerpt: None,
            started: 0.0,
            duration: 0.5,
        }
    }

    #[test]
    fn a_run_without_recap_is_incomplete_and_counts_come_from_results() {
        let dir = tempfile::tempdir().unwrap();
        let store = HistoryStore::open(&dir.path().join(".runbook/history.db")).unwrap();
        assert_eq!(store.schema_version(), MIGRATIONS.len() as i64);
        let hosts = vec!["a".to_string(), "b".to_string()];
        let new = NewRun {
            started_at: "2026-01-01T00:00:00.000Z",
            playbook: "site.rhai",
            command_line: "runbook run site.rhai",
            git_commit: None,
            hosts: &hosts,
            check: false,
        };
        let first = store.start_run(&new).unwrap();
        store.add_result(first, &row("a", "changed")).unwrap();
        store.add_result(first, &row("b", "failed")).unwrap();
        let second = store.start_run(&new).unwrap();
        store.add_result(second, &row("a", "ok")).unwrap();
        store.end_run(second, "2026-01-01T00:00:01.000Z", 1.0, false).unwrap();

        let runs = store.runs(10).unwrap();
        assert_eq!(runs.iter().map(|r| r.id).collect::<Vec<_>>(), [second, first]);
        assert!(runs[1].incomplete && !runs[0].incomplete);
        assert_eq!((runs[1].changed, runs[1].failed, runs[1].ok), (1, 1, 0));
        assert_eq!(store.results(first, Some("b"), None).unwrap().len(), 1);
        let changes = store.last_changes().unwrap();
        assert_eq!(changes.len(), 1);
        assert_eq!(
            (changes[0].host.as_str(), changes[0].run, changes[0].tasks.clone()),
            ("a", first, vec!["t".to_string()])
        );
        assert_eq!(store.integrity_check().unwrap(), "ok");
    }

    #[test]
    fn reopening_keeps_runs_and_does_not_migrate_twice() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.db");
        let hosts = vec!["a".to_string()];
        let new =
            NewRun { started_at: "x", playbook: "p", command_line: "c", git_commit: None, hosts: &hosts, check: true };
        HistoryStore::open(&path).unwrap().start_run(&new).unwrap();
        let store = HistoryStore::open(&path).unwrap();
        assert_eq!(store.runs(10).unwrap().len(), 1);
        assert!(store.runs(10).unwrap()[0].check);
    }

    #[test]
    fn a_database_of_the_first_schema_opens_and_keeps_its_runs() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        {
            // The file as the first release wrote it: schema 1 only.
            let connection = Connection::open(&path).unwrap();
            connection.execute_batch(MIGRATIONS[0]).unwrap();
            connection.pragma_update(None, "user_version", 1).unwrap();
            connection
                .execute(
                    "INSERT INTO runs (started_at, playbook, command_line, hosts, check_mode) VALUES ('t', 'old.rhai', 'c', '[]', 0)",
                    [],
                )
                .unwrap();
        }
        let store = HistoryStore::open(&path).unwrap();
        assert_eq!(store.schema_version(), MIGRATIONS.len() as i64);
        assert_eq!(store.runs(10).unwrap()[0].playbook, "old.rhai");
    }

    #[test]
    fn a_log_imported_twice_is_one_run_and_an_unfinished_one_is_incomplete() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = HistoryStore::open(&dir.path().join("h.db")).unwrap();
        let log = concat!(
            r#"{"time":"2026-12-05T10:00:00.000Z","event":"run_start","playbook":"site.rhai","hosts":["a"],"check":false,"diff":false}"#,
            "\n",
            r#"{"time":"2026-12-05T10:00:01.000Z","event":"host_result","task":"t","host":"a","status":"changed","changed":true,"steps":[],"duration":0.5}"#,
            "\n",
        );
        let unfinished = LoggedRun::parse(Path::new("a.json"), log).unwrap();
        let Imported::New(first) = store.import(&unfinished, None, dir.path()).unwrap() else { panic!("a new run") };
        assert_eq!(store.import(&unfinished, None, dir.path()).unwrap(), Imported::AlreadyThere(first));
        let finished = format!(
            "{log}{}\n{}\n",
            r#"{"time":"2026-12-05T10:00:02.000Z","event":"recap","hosts":[],"elapsed":2.0,"interrupted":false}"#,
            r#"{"time":"2026-12-05T10:00:02.000Z","event":"run_end","fatal":false,"interrupted":false}"#
        );
        let finished = LoggedRun::parse(Path::new("b.json"), &finished).unwrap();
        let Imported::New(second) = store.import(&finished, Some(0), dir.path()).unwrap() else {
            panic!("another run")
        };
        let runs = store.runs(10).unwrap();
        let run = |id| runs.iter().find(|r| r.id == id).unwrap();
        assert!(run(first).incomplete && run(first).exit_code.is_none());
        assert!(!run(second).incomplete && run(second).exit_code == Some(0));
        assert_eq!((run(second).changed, run(second).started_at.as_str()), (1, "2026-12-05T10:00:00.000Z"));
        let results = store.results(second, None, None).unwrap();
        assert!((results[0].started - 0.5).abs() < 1e-6);
    }
}
