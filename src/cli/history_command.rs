//! `runbook history`: the runs recorded in `.runbook/history.db`, for the operator asking afterwards which run
//! changed or broke which host (Ansible users' ARA habit).

use super::history_error::HistoryError;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};

use super::exit_code;
use crate::report::{HistoryStore, Imported, LoggedRun, ResultRow, RunSummary};

/// Where the database lives unless `--history` says: `.runbook/history.db` beside the first inventory (its
/// folder, or the inventory folder itself), else in the current folder (e.g. for `-i host1,host2,`).
pub fn default_path(inventory: &[PathBuf]) -> PathBuf {
    let base = inventory
        .first()
        .and_then(|path| match path.is_dir() {
            true => Some(path.clone()),
            false if path.is_file() => path.parent().map(Path::to_path_buf),
            false => None,
        })
        .filter(|dir| !dir.as_os_str().is_empty())
        .unwrap_or_else(|| PathBuf::from("."));
    base.join(".runbook").join("history.db")
}

/// The commit the playbook's repository is at, if it is in one.
pub fn git_commit(playbook: &Path) -> Option<String> {
    let dir = playbook.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let output = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["rev-parse", "HEAD"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    let commit = String::from_utf8_lossy(&output.stdout).trim().to_string();
    (output.status.success() && !commit.is_empty()).then_some(commit)
}

#[derive(Args, Debug)]
pub struct HistoryArgs {
    #[command(subcommand)]
    command: Option<HistoryCommand>,
    #[command(flatten)]
    common: CommonArgs,
}

#[derive(Args, Debug, Clone)]
struct CommonArgs {
    /// The history database (default: `.runbook/history.db` beside the first inventory).
    #[arg(long = "history", value_name = "PATH", global = true)]
    history: Option<PathBuf>,
    /// The inventory the runs used, to find the database beside it.
    #[arg(short = 'i', long = "inventory", global = true)]
    inventory: Vec<PathBuf>,
    /// JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Subcommand, Debug)]
enum HistoryCommand {
    /// The most recent runs (the default).
    List {
        /// How many runs.
        #[arg(short = 'n', long, default_value_t = 20)]
        limit: usize,
    },
    /// One run: its results per host and task. RUN is an id from the list, or `last`.
    Show {
        run: String,
        /// Only this host's results.
        #[arg(long)]
        host: Option<String>,
        /// Only this task's results.
        #[arg(long)]
        task: Option<String>,
        /// Print the recorded diffs.
        #[arg(long)]
        diff: bool,
    },
    /// Per host: the last run that changed it, and the tasks that did.
    Hosts,
    /// Record runs from their `--log-json` files (shards, CI jobs, runs made with --no-history). A log imported
    /// before is not recorded twice; a log without its end is recorded as incomplete.
    Import {
        #[arg(required = true, value_name = "LOG")]
        logs: Vec<PathBuf>,
    },
}

pub fn run(args: HistoryArgs) -> i32 {
    match execute(args) {
        Ok(()) => exit_code::OK,
        Err(message) => {
            eprintln!("error: {message}");
            exit_code::USAGE
        }
    }
}

fn execute(args: HistoryArgs) -> Result<(), HistoryError> {
    let path = args.common.history.clone().unwrap_or_else(|| default_path(&args.common.inventory));
    let path = path.as_path();
    let json = args.common.json;
    let command = args.command.unwrap_or(HistoryCommand::List { limit: 20 });
    // Import creates the database; every other command reads one that runs have written.
    if !matches!(command, HistoryCommand::Import { .. }) && !path.is_file() {
        return Err(HistoryError::NoHistory(path.to_path_buf()));
    }
    let mut store = HistoryStore::open(path)?;
    let db = |source: rusqlite::Error| HistoryError::Database { path: path.to_path_buf(), source };
    match command {
        HistoryCommand::List { limit } => {
            let runs = store.runs(limit).map_err(db)?;
            match json {
                true => println!("{}", serde_json::to_string_pretty(&runs).unwrap_or_default()),
                false => print!("{}", list_text(&runs)),
            }
        }
        HistoryCommand::Show { run, host, task, diff } => {
            let id = resolve_run(&store, &run)?;
            let summary =
                store.run(id).map_err(db)?.ok_or_else(|| HistoryError::RunNotIn { id, path: path.to_path_buf() })?;
            let results = store.results(id, host.as_deref(), task.as_deref()).map_err(db)?;
            match json {
                true => {
                    let value = serde_json::json!({ "run": summary, "results": results });
                    println!("{}", serde_json::to_string_pretty(&value).unwrap_or_default());
                }
                false => print!("{}", show_text(&summary, &results, diff)),
            }
        }
        HistoryCommand::Import { logs } => import(&mut store, path, &logs, json)?,
        HistoryCommand::Hosts => {
            let changes = store.last_changes().map_err(db)?;
            match json {
                true => println!("{}", serde_json::to_string_pretty(&changes).unwrap_or_default()),
                false => {
                    for change in changes {
                        println!(
                            "{:<24} run {} ({}, {}): {}",
                            change.host,
                            change.run,
                            change.started_at,
                            change.playbook,
                            change.tasks.join(", ")
                        );
                    }
                }
            }
        }
    }
    Ok(())
}

/// `history import`: every log is read before anything is written, so one unreadable log records none.
fn import(store: &mut HistoryStore, path: &Path, logs: &[PathBuf], json: bool) -> Result<(), HistoryError> {
    let runs = logs.iter().map(|log| LoggedRun::read(log)).collect::<Result<Vec<_>, _>>()?;
    let mut outcomes = Vec::new();
    for run in &runs {
        let exit_code = match (&run.end, &run.recap) {
            (Some(end), recap) => Some(exit_code::of_run(
                recap.as_ref().map_or(&[][..], |recap| &recap.hosts),
                end.error.is_some(),
                end.fatal,
                end.interrupted,
            )),
            (None, _) => None,
        };
        // Playbook paths in a log are as the run saw them: relative to the folder it ran in, taken to be this one.
        let imported = store
            .import(run, exit_code, Path::new("."))
            .map_err(|source| HistoryError::Database { path: path.to_path_buf(), source })?;
        let (id, new) = match imported {
            Imported::New(id) => (id, true),
            Imported::AlreadyThere(id) => (id, false),
        };
        if !json {
            let what = match (new, run.end.is_some()) {
                (false, _) => "already recorded as run",
                (true, true) => "recorded as run",
                (true, false) => "recorded (incomplete: the log has no end) as run",
            };
            println!("{}: {what} {id}", run.path.display());
        }
        outcomes.push(serde_json::json!({ "log": run.path, "run": id, "new": new, "complete": run.end.is_some() }));
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&outcomes).unwrap_or_default());
    }
    Ok(())
}

/// The store at `--history` (or the default place) and the run `RUN` names (an id or `last`).
pub fn open_run(
    history: Option<PathBuf>,
    inventory: &[PathBuf],
    run: &str,
) -> Result<(HistoryStore, i64), HistoryError> {
    let path = history.unwrap_or_else(|| default_path(inventory));
    if !path.is_file() {
        return Err(HistoryError::NoHistory(path));
    }
    let store = HistoryStore::open(&path)?;
    let id = resolve_run(&store, run)?;
    Ok((store, id))
}

/// `RUN` as an id: a number from `runbook history`, or `last`.
fn resolve_run(store: &HistoryStore, run: &str) -> Result<i64, HistoryError> {
    match run {
        "last" => store.last_run_id().map_err(HistoryError::LastRun)?.ok_or(HistoryError::NoRunYet),
        id => id.parse::<i64>().map_err(|_| HistoryError::NotRunId(id.to_string())),
    }
}

/// Writes run `id`'s HTML report to `output`.
pub fn write_report(store: &HistoryStore, id: i64, output: &Path) -> Result<(), HistoryError> {
    let summary = store.run(id).map_err(HistoryError::ReportQuery)?.ok_or(HistoryError::NotRecorded(id))?;
    let results = store.results(id, None, None).map_err(HistoryError::ReportQuery)?;
    let html = crate::report::render_html_report(&summary, &results)?;
    std::fs::write(output, html).map_err(|source| HistoryError::WriteReport { path: output.to_path_buf(), source })
}

fn state_of(run: &RunSummary) -> String {
    match (run.incomplete, run.interrupted, run.exit_code) {
        (true, _, _) => "incomplete".into(),
        (_, true, _) => "interrupted".into(),
        (_, _, Some(code)) => format!("exit {code}"),
        (_, _, None) => "ended".into(),
    }
}

fn list_text(runs: &[RunSummary]) -> String {
    let mut table = comfy_table::Table::new();
    table.load_preset(comfy_table::presets::NOTHING);
    table.set_header(["ID", "STARTED", "PLAYBOOK", "HOSTS", "OK", "CHANGED", "FAILED", "UNREACHABLE", "TIME", "STATE"]);
    for run in runs {
        table.add_row([
            run.id.to_string(),
            run.started_at.clone(),
            run.playbook.clone(),
            run.hosts.len().to_string(),
            run.ok.to_string(),
            run.changed.to_string(),
            run.failed.to_string(),
            run.unreachable.to_string(),
            run.elapsed.map(|s| format!("{s:.1}s")).unwrap_or_else(|| "-".into()),
            state_of(run),
        ]);
    }
    format!("{table}\n")
}

fn show_text(run: &RunSummary, results: &[ResultRow], with_diff: bool) -> String {
    let mut out = format!(
        "run {} of {} ({}), started {}, {}\ncommand: {}\n",
        run.id,
        run.playbook,
        run.git_commit.as_deref().unwrap_or("no git commit"),
        run.started_at,
        state_of(run),
        run.command_line
    );
    for row in results {
        out.push_str(&format!("{:<12} {:<24} {} ({:.2}s)\n", row.status, row.host, row.task, row.duration));
        if let Some(message) = &row.message {
            out.push_str(&format!("    {message}\n"));
        }
        if with_diff && let Some(diff) = &row.diff {
            for line in diff.lines() {
                out.push_str(&format!("    {line}\n"));
            }
        }
    }
    out
}
