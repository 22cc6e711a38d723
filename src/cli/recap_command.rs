//! `runbook recap merge LOG...`: the one recap of a run split across controllers with `--shard I/N`.
//!
//! Each shard writes its own `--log-json`; this reads them back and prints the PLAY RECAP and returns the exit
//! code one controller running every host would have given — so a CI matrix or a Kubernetes Indexed Job can end
//! with one verdict. It refuses what would make that verdict a lie: a log that did not finish (no `run_end`), two
//! logs of different playbooks or modes, a host counted in two shards.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::exit_code;
use super::merge_error::MergeError;
use crate::report::{ConsoleOptions, ConsoleReporter, Event, HostRecap, LoggedRun, Reporter};
use clap::{Args, Subcommand};

#[derive(Subcommand, Debug)]
pub enum RecapCommand {
    /// Merge the `--log-json` files of `--shard` runs into one recap, with the exit code one run would have had.
    Merge(MergeArgs),
}

#[derive(Args, Debug)]
pub struct MergeArgs {
    /// The shards' `--log-json` files (one per shard, any order).
    #[arg(required = true, value_name = "LOG")]
    pub logs: Vec<PathBuf>,
    /// Print the merged recap as JSON (`{"hosts": [...], "exit_code": N}`) instead of the table.
    #[arg(long)]
    pub json: bool,
}

pub fn run(command: RecapCommand) -> i32 {
    let RecapCommand::Merge(args) = command;
    let shards = match args.logs.iter().map(|path| ShardLog::read(path)).collect::<Result<Vec<_>, _>>() {
        Ok(shards) => shards,
        Err(error) => {
            eprintln!("runbook recap merge: {error}");
            return exit_code::USAGE;
        }
    };
    let merged = match Merged::of(&shards) {
        Ok(merged) => merged,
        Err(error) => {
            eprintln!("runbook recap merge: {error}");
            return exit_code::USAGE;
        }
    };
    let code = exit_code::of_run(&merged.hosts, merged.errors > 0, merged.fatal, merged.interrupted);
    for shard in &shards {
        if let Some(error) = &shard.error {
            eprintln!("{}: error: {error}", shard.path.display());
        }
    }
    if args.json {
        let hosts = serde_json::to_value(&merged.hosts).unwrap_or_default();
        println!("{}", serde_json::json!({ "hosts": hosts, "exit_code": code }));
    } else {
        let console = ConsoleReporter::new(ConsoleOptions::detect(0, false));
        console.event(&Event::Recap { hosts: merged.hosts, elapsed: merged.elapsed, interrupted: merged.interrupted });
        console.finish();
    }
    code
}

/// What one shard's log says about its run.
#[derive(Debug)]
struct ShardLog {
    path: PathBuf,
    playbook: String,
    check: bool,
    hosts: Vec<HostRecap>,
    elapsed: Duration,
    error: Option<String>,
    fatal: bool,
    interrupted: bool,
}

impl ShardLog {
    fn read(path: &Path) -> Result<ShardLog, MergeError> {
        ShardLog::of(LoggedRun::read(path)?)
    }

    #[cfg(test)]
    fn parse(path: &Path, text: &str) -> Result<ShardLog, MergeError> {
        ShardLog::of(LoggedRun::parse(path, text)?)
    }

    fn of(run: LoggedRun) -> Result<ShardLog, MergeError> {
        let Some(end) = run.end else { return Err(MergeError::Unfinished(run.path)) };
        let (hosts, elapsed) = run.recap.map(|recap| (recap.hosts, recap.elapsed)).unwrap_or_default();
        Ok(ShardLog {
            path: run.path,
            playbook: run.playbook,
            check: run.check,
            hosts,
            elapsed,
            error: end.error,
            fatal: end.fatal,
            interrupted: end.interrupted,
        })
    }
}

/// The shards as one run.
#[derive(Debug)]
struct Merged {
    hosts: Vec<HostRecap>,
    /// The shards ran side by side: the run took as long as the longest.
    elapsed: Duration,
    errors: usize,
    fatal: bool,
    interrupted: bool,
}

impl Merged {
    fn of(shards: &[ShardLog]) -> Result<Merged, MergeError> {
        let first = shards.first().ok_or(MergeError::NoLog)?;
        let mut hosts: Vec<(HostRecap, &Path)> = Vec::new();
        for shard in shards {
            if shard.playbook != first.playbook || shard.check != first.check {
                return Err(MergeError::OtherRun {
                    first: first.path.clone(),
                    first_ran: describe(first),
                    other: shard.path.clone(),
                    other_ran: describe(shard),
                });
            }
            for host in &shard.hosts {
                if let Some((_, other)) = hosts.iter().find(|(seen, _)| seen.host == host.host) {
                    return Err(MergeError::Overlap {
                        host: host.host.clone(),
                        first: other.to_path_buf(),
                        other: shard.path.clone(),
                    });
                }
                hosts.push((host.clone(), &shard.path));
            }
        }
        let mut hosts: Vec<HostRecap> = hosts.into_iter().map(|(host, _)| host).collect();
        hosts.sort_by_key(|host| natural_key(&host.host));
        Ok(Merged {
            hosts,
            elapsed: shards.iter().map(|shard| shard.elapsed).max().unwrap_or_default(),
            errors: shards.iter().filter(|shard| shard.error.is_some()).count(),
            fatal: shards.iter().any(|shard| shard.fatal),
            interrupted: shards.iter().any(|shard| shard.interrupted),
        })
    }
}

fn describe(shard: &ShardLog) -> String {
    format!("{}{}", shard.playbook, if shard.check { " --check" } else { "" })
}

/// `node2` before `node10`: runs of digits compare as numbers, the rest as text.
fn natural_key(name: &str) -> Vec<(String, u128)> {
    let mut key = Vec::new();
    let mut text = String::new();
    let mut digits = String::new();
    for c in name.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
        } else {
            if !digits.is_empty() {
                key.push((std::mem::take(&mut text), digits.parse().unwrap_or(u128::MAX)));
                digits.clear();
            }
            text.push(c);
        }
    }
    key.push((text, digits.parse().unwrap_or(0)));
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(hosts: &str, end: &str) -> String {
        format!(
            "{{\"event\":\"run_start\",\"playbook\":\"site.rhai\",\"hosts\":[],\"check\":false,\"diff\":false}}\n\
             {{\"event\":\"recap\",\"hosts\":[{hosts}],\"elapsed\":1.5,\"interrupted\":false}}\n{end}\n"
        )
    }

    fn host(name: &str, ok: u32, changed: u32, failed: u32) -> String {
        format!(
            "{{\"host\":\"{name}\",\"ok\":{ok},\"changed\":{changed},\"failed\":{failed},\"skipped\":0,\
             \"unreachable\":0,\"time\":0.5}}"
        )
    }

    const CLEAN_END: &str = "{\"event\":\"run_end\",\"fatal\":false,\"interrupted\":false}";

    #[test]
    fn shards_merge_into_one_recap_in_name_order_with_one_exit_code() {
        let a = ShardLog::parse(Path::new("a.json"), &log(&host("node10", 2, 1, 0), CLEAN_END)).unwrap();
        let hosts = [host("node2", 1, 0, 1), host("node1", 2, 2, 0)].join(",");
        let b = ShardLog::parse(Path::new("b.json"), &log(&hosts, CLEAN_END)).unwrap();
        let merged = Merged::of(&[a, b]).unwrap();
        let names: Vec<&str> = merged.hosts.iter().map(|h| h.host.as_str()).collect();
        assert_eq!(names, ["node1", "node2", "node10"]);
        assert_eq!(exit_code::of_run(&merged.hosts, false, false, false), exit_code::HOST_FAILED);
    }

    #[test]
    fn an_unfinished_log_an_overlap_and_another_playbook_are_refused() {
        let unfinished = ShardLog::parse(Path::new("a.json"), &log(&host("n1", 1, 0, 0), "")).unwrap_err();
        assert!(matches!(&unfinished, MergeError::Unfinished(path) if path == Path::new("a.json")), "{unfinished}");
        assert!(unfinished.to_string().contains("no run_end"), "{unfinished}");
        let a = ShardLog::parse(Path::new("a.json"), &log(&host("n1", 1, 0, 0), CLEAN_END)).unwrap();
        let b = ShardLog::parse(Path::new("b.json"), &log(&host("n1", 1, 0, 0), CLEAN_END)).unwrap();
        let overlap = Merged::of(&[a, b]).unwrap_err().to_string();
        assert!(overlap.contains("host n1 is in a.json and in b.json"), "{overlap}");
        let a = ShardLog::parse(Path::new("a.json"), &log(&host("n1", 1, 0, 0), CLEAN_END)).unwrap();
        let mut other = ShardLog::parse(Path::new("c.json"), &log(&host("n2", 1, 0, 0), CLEAN_END)).unwrap();
        other.playbook = "other.rhai".into();
        assert!(Merged::of(&[a, other]).unwrap_err().to_string().contains("not shards of one run"));
        let broken =
            ShardLog::parse(Path::new("d.json"), "{\"event\":\"run_start\"}\nnot json\n").unwrap_err().to_string();
        assert!(broken.starts_with("d.json:2: not a JSON event"), "{broken}");
    }

    #[test]
    fn a_shard_that_stopped_on_an_error_makes_the_merged_run_fail_as_one_run_would() {
        let end = "{\"event\":\"run_end\",\"error\":\"site.rhai:3:1: boom\",\"fatal\":false,\"interrupted\":false}";
        let a = ShardLog::parse(Path::new("a.json"), &log(&host("n1", 1, 0, 0), end)).unwrap();
        let b = ShardLog::parse(Path::new("b.json"), &log(&host("n2", 1, 0, 0), CLEAN_END)).unwrap();
        let merged = Merged::of(&[a, b]).unwrap();
        assert_eq!(merged.errors, 1);
        assert_eq!(exit_code::of_run(&merged.hosts, true, false, false), exit_code::USAGE);
    }
}
