//! `runbook run`: load the inventory, build the engine, run the playbook, print the recap, pick the exit code.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::ansible_config::{AnsibleConfig, AnsibleConfigError};
use super::inventory_command::render_error;
use super::vault_options::redacted;
use super::{HostKeyChecking, RunArgs, VaultConfig, exit_code, password_prompt};
use crate::engine::{RunOptions, RunOutcome, RunRequest, ScriptStop};
use crate::inventory::{Inventory, InventoryError};
use crate::lint::PreflightRefusal;
use crate::report::{ConsoleOptions, ConsoleReporter, FanOut, HistoryRecorder, JsonLog, Redactor, Reporter};
use crate::transport::{HolderError, HostKeyPolicy};
use crate::vault::{Keyring, PromptError, VaultError};

/// Forks when neither -f, ANSIBLE_FORKS nor ansible.cfg say (Ansible's 5 would make a fleet crawl).
const DEFAULT_FORKS: u32 = 50;
/// Seconds to wait for a connection when neither --timeout, ANSIBLE_TIMEOUT nor ansible.cfg say (Ansible's too).
const DEFAULT_TIMEOUT: u64 = 10;

/// Where --retry-failed finds the hosts of the last run that failed.
pub const LAST_FAILED: &str = ".runbook/last-failed";

/// Why a run did not start. The cli's last stop: everything here is printed and becomes exit code 1.
#[derive(Debug, thiserror::Error)]
enum NotStarted {
    /// The pre-flight's findings, already in lint's form (file:line:col: error[rule]: ...).
    #[error("{0}")]
    Refused(#[from] PreflightRefusal),
    #[error("error: {0}")]
    Prompt(#[from] PromptError),
    #[error("error: {}: no such playbook", .0.display())]
    NoPlaybook(PathBuf),
    #[error("error: {0}")]
    Config(#[from] AnsibleConfigError),
    #[error("error: {0}")]
    Vault(#[from] VaultError),
    /// The inventory did not load: shown with its source lines, without the vaulted values it had opened (an
    /// error may quote a value, `found ...`, that a vaulted file held).
    #[error("error: {}", redacted(revealed, &render_error(error)))]
    Inventory { error: InventoryError, revealed: Vec<String> },
    #[error("error: {}", render_error(.0))]
    Limit(InventoryError),
    #[error("error: --retry-failed: cannot read {LAST_FAILED}: {0} (no failed run recorded here)")]
    NoFailedRun(std::io::Error),
    #[error("error: no hosts selected (check --limit and the inventory)")]
    NoHosts,
    #[error("error: --log-json {}: {source}", path.display())]
    LogJson { path: PathBuf, source: std::io::Error },
    #[error("error: {0}")]
    Persist(#[from] HolderError),
}

pub fn run(args: RunArgs) -> i32 {
    match prepare(&args) {
        Ok(code) => code,
        Err(not_started) => {
            eprintln!("{not_started}");
            exit_code::USAGE
        }
    }
}

fn prepare(args: &RunArgs) -> Result<i32, NotStarted> {
    if !args.playbook.is_file() {
        return Err(NotStarted::NoPlaybook(args.playbook.clone()));
    }
    let config = AnsibleConfig::load()?;
    if let Some(note) = config.note() {
        eprintln!("{note}");
    }
    let host_key_flag = args.connection.host_key_checking.map(|flag| match flag {
        HostKeyChecking::Strict => HostKeyPolicy::Strict,
        HostKeyChecking::AcceptNew => HostKeyPolicy::AcceptNew,
        HostKeyChecking::Off => HostKeyPolicy::Off,
    });
    // Vault passwords are read (and asked for) first: a missing or wrong one stops the run here, before the
    // inventory is used and long before any host is contacted.
    let keyring = args.vault.keyring(VaultConfig::of(&config))?;
    let inventory = load_inventory(args, &config, host_key_flag, &keyring)?;
    let mut selected = match &args.limit {
        Some(pattern) => inventory.select(pattern).map_err(NotStarted::Limit)?,
        None => inventory.hosts().map(|h| h.name.clone()).collect(),
    };
    if args.retry_failed {
        let last = std::fs::read_to_string(LAST_FAILED).map_err(NotStarted::NoFailedRun)?;
        let failed: Vec<&str> = last.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
        selected.retain(|name| failed.contains(&name.as_str()));
    }
    if selected.is_empty() {
        return Err(NotStarted::NoHosts);
    }
    if let Some(shard) = args.shard {
        let before = selected.len();
        selected.retain(|name| shard.holds(name));
        if selected.is_empty() {
            // A CI matrix or Job sized for a larger fleet has empty shards: nothing to do is not a failure.
            eprintln!("--shard {shard}: none of the {before} selected hosts is in this shard; nothing to do");
            return empty_shard_log(args).map(|()| exit_code::OK);
        }
        eprintln!("--shard {shard}: {} of the {before} selected hosts", selected.len());
    }
    // Pre-flight: lint's error rules on this playbook, this inventory, --limit and --tags, before any host is
    // contacted. A mistake lint can see stops the run here, with lint's message, and nothing has changed.
    let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let needs = crate::lint::preflight(
        &args.playbook,
        &inventory,
        &selected,
        &args.tags,
        args.start_at_task.as_deref(),
        color,
    )?;
    if args.list_hosts || args.list_tasks {
        if args.list_hosts {
            print!("{}", list_hosts(&args.playbook, &selected));
        }
        if args.list_tasks {
            print!("{}", crate::analysis::list_tasks(&args.playbook, &args.tags, &args.skip_tags));
        }
        return Ok(exit_code::OK);
    }
    if let Some(persist) = args.connection.persist {
        crate::transport::enable_connection_holder(persist)?;
    }
    let host_key_policy = config.host_key_policy(host_key_flag);
    let ssh_password = match args.connection.ask_pass {
        true => Some(password_prompt::ask("SSH password: ")?),
        false => None,
    };
    let become_password = match args.connection.ask_become_pass || config.become_ask_pass == Some(true) {
        true => Some(password_prompt::ask("BECOME password: ")?),
        false => std::env::var("RUNBOOK_BECOME_PASSWORD").ok().filter(|p| !p.is_empty()),
    };
    let interrupted = install_interrupt_handler();
    let options = RunOptions {
        check: args.check,
        diff: args.diff,
        forks: args.forks.or(config.forks).unwrap_or(DEFAULT_FORKS) as usize,
        tags: args.tags.clone(),
        skip_tags: args.skip_tags.clone(),
        start_at_task: args.start_at_task.clone(),
        verbosity: args.verbose,
        force_handlers: args.force_handlers,
        drop_task_values: !needs.task_values,
    };
    let redactor = Redactor::new();
    let history = open_history(args, &redactor);
    let reporter = make_reporter(args, &redactor, history.clone())?;
    if host_key_policy == HostKeyPolicy::Off {
        eprintln!(
            "warning: --host-key-checking off: any host key is accepted; a machine in the middle would not be noticed"
        );
    }
    let request = |options: RunOptions, inventory: Inventory, reporter: Arc<dyn Reporter>| RunRequest {
        playbook: args.playbook.clone(),
        inventory,
        selected: selected.clone(),
        options,
        host_key_policy,
        connect_timeout: Duration::from_secs(
            args.connection.connect_timeout.or(config.timeout).unwrap_or(DEFAULT_TIMEOUT),
        ),
        connect_retries: args.connection.connect_retries,
        ssh_password: ssh_password.clone(),
        become_password: become_password.clone(),
        reporter,
        redactor: redactor.clone(),
        interrupted: interrupted.clone(),
    };

    if args.idempotence {
        let first = crate::engine::run(request(
            options.clone(),
            load_inventory(args, &config, host_key_flag, &keyring)?,
            reporter.clone(),
        ));
        let code = exit_code_of(&first);
        if code != exit_code::OK {
            close_history(&history, code, args);
            return Ok(code);
        }
        println!("\nidempotence: running the playbook a second time; nothing may change");
        let second = crate::engine::run(request(options, inventory, reporter));
        let changed: Vec<String> = second
            .recap
            .iter()
            .filter(|h| h.changed > 0)
            .map(|h| format!("{} ({} changed)", h.host, h.changed))
            .collect();
        let mut code = exit_code_of(&second);
        if code == exit_code::OK && !changed.is_empty() {
            eprintln!("idempotence: FAILED: the second run changed {}", changed.join(", "));
            code = exit_code::HOST_FAILED;
        } else if code == exit_code::OK {
            println!("idempotence: ok, the second run changed nothing");
        }
        close_history(&history, code, args);
        return Ok(code);
    }

    let outcome = crate::engine::run(request(options, inventory, reporter));
    record_failed(&outcome);
    let code = exit_code_of(&outcome);
    close_history(&history, code, args);
    Ok(code)
}

/// The inventory (-i, else ansible.cfg's) with ansible.cfg's connection settings and the -e variables
/// applied, vaulted values opened with `keyring`; errors rendered with their file:line:col.
fn load_inventory(
    args: &RunArgs,
    config: &AnsibleConfig,
    host_key_flag: Option<HostKeyPolicy>,
    keyring: &Keyring,
) -> Result<Inventory, NotStarted> {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let sources = config.inventory_sources(&args.inventory)?;
    let defaults = config.connection_defaults(host_key_flag)?;
    let (loaded, revealed) = crate::vault::with_keyring(keyring.clone(), || {
        let mut inventory = Inventory::load_all(&sources)?;
        inventory.set_connection_defaults(defaults)?;
        // Ansible reads `group_vars/`/`host_vars/` beside the playbook too, over the inventory's.
        let playbook_dir = args.playbook.parent().filter(|dir| !dir.as_os_str().is_empty()).unwrap_or(Path::new("."));
        inventory.add_run_layers(playbook_dir, &args.extra_vars, &cwd)?;
        Ok(inventory)
    });
    loaded.map_err(|error| NotStarted::Inventory { error, revealed })
}

/// `--list-hosts`, in ansible-playbook's layout: every host `hosts()` would hold, in inventory order.
fn list_hosts(playbook: &Path, selected: &[String]) -> String {
    let mut out = format!("\nplaybook: {}\n\n  hosts ({}):\n", playbook.display(), selected.len());
    for host in selected {
        out.push_str(&format!("    {host}\n"));
    }
    out
}

fn make_reporter(
    args: &RunArgs,
    redactor: &Redactor,
    history: Option<Arc<HistoryRecorder>>,
) -> Result<Arc<dyn Reporter>, NotStarted> {
    let console = ConsoleReporter::new(ConsoleOptions::detect(args.verbose, args.diff)).with_redactor(redactor.clone());
    let mut reporters: Vec<Box<dyn Reporter>> = vec![Box::new(console)];
    if let Some(history) = history {
        reporters.push(Box::new(history));
    }
    if let Some(path) = &args.log_json {
        let log = JsonLog::create(path).map_err(|source| NotStarted::LogJson { path: path.clone(), source })?;
        reporters.push(Box::new(log.with_redactor(redactor.clone())));
    }
    Ok(Arc::new(FanOut(reporters)))
}

/// The `--log-json` of a shard with no host: a start and an end, so `recap merge` counts it as finished.
fn empty_shard_log(args: &RunArgs) -> Result<(), NotStarted> {
    let Some(path) = &args.log_json else { return Ok(()) };
    let log = JsonLog::create(path).map_err(|source| NotStarted::LogJson { path: path.clone(), source })?;
    log.event(&crate::report::Event::RunStart {
        playbook: args.playbook.display().to_string(),
        hosts: Vec::new(),
        check: args.check,
        diff: args.diff,
    });
    log.event(&crate::report::Event::RunEnd { error: None, fatal: false, interrupted: false });
    log.finish();
    Ok(())
}

/// The history recorder of this run, unless `--no-history`. A database that cannot be opened is a warning:
/// the run is what the operator asked for, the record comes second.
fn open_history(args: &RunArgs, redactor: &Redactor) -> Option<Arc<HistoryRecorder>> {
    if args.no_history {
        return None;
    }
    let path = args.history.clone().unwrap_or_else(|| super::history_command::default_path(&args.inventory));
    match crate::report::HistoryStore::open(&path) {
        Ok(store) => {
            let command_line = std::env::args().collect::<Vec<_>>().join(" ");
            let commit = super::history_command::git_commit(&args.playbook);
            Some(Arc::new(HistoryRecorder::new(store, redactor.clone(), command_line, commit)))
        }
        Err(error) => {
            eprintln!("warning: {error}; this run is not recorded (--no-history to not try)");
            None
        }
    }
}

fn close_history(history: &Option<Arc<HistoryRecorder>>, code: i32, args: &RunArgs) {
    let Some(history) = history else { return };
    history.close(code);
    let Some(output) = &args.report else { return };
    match history.with_recorded_run(|store, id| super::history_command::write_report(store, id, output)) {
        Some(Ok(())) => println!("report: {}", output.display()),
        Some(Err(error)) => eprintln!("warning: --report: {error}"),
        None => {}
    }
}

fn exit_code_of(outcome: &RunOutcome) -> i32 {
    if let Some(ScriptStop::Error(error)) = &outcome.stop
        && !outcome.interrupted
    {
        eprintln!("error: {error}");
    }
    let fatal = outcome.stop.as_ref().is_some_and(ScriptStop::is_fatal);
    exit_code::of_run(&outcome.recap, outcome.stop.is_some(), fatal, outcome.interrupted)
}

/// Remembers the hosts that failed so `--retry-failed` (or `--limit @.runbook/last-failed`) can rerun them.
fn record_failed(outcome: &RunOutcome) {
    let path = Path::new(LAST_FAILED);
    let failed = outcome.failed_hosts();
    if failed.is_empty() {
        let _ = std::fs::remove_file(path);
        return;
    }
    if let Some(parent) = path.parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    let _ = std::fs::write(path, failed.join("\n") + "\n");
}

/// First Ctrl-C: start no new task, let running commands finish, print the recap. Second: stop at once.
fn install_interrupt_handler() -> Arc<AtomicBool> {
    let flag = Arc::new(AtomicBool::new(false));
    let handler_flag = flag.clone();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build();
        let Ok(runtime) = runtime else { return };
        runtime.block_on(async move {
            loop {
                if tokio::signal::ctrl_c().await.is_err() {
                    return;
                }
                if handler_flag.swap(true, Ordering::SeqCst) {
                    eprintln!("\ninterrupted again: stopping now");
                    std::process::exit(exit_code::INTERRUPTED);
                }
                eprintln!("\ninterrupted: finishing running commands, no new task starts (Ctrl-C again to stop now)");
            }
        });
    });
    flag
}
