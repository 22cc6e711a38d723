//! The command line: flags in Ansible's shape, parsed by clap, dispatched to the layer that does the work.
//!
//! Nothing here talks to a host; each subcommand lives in its own file and hands its arguments on.

pub mod ansible_config;
mod ansible_config_error;
mod completions_command;
mod config_file;
mod exec_command;
mod history_command;
mod history_error;
mod hold_command;
mod init_command;
mod init_error;
mod inventory_command;
mod lab_command;
mod lint_command;
mod malloc_tunables;
mod man_command;
mod merge_error;
mod password_prompt;
mod recap_command;
mod report_command;
mod run_command;
mod vault_command;
mod vault_command_error;
mod vault_options;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

pub use vault_options::{VaultArgs, VaultConfig, keyring_from};

/// Exit codes, documented in docs/running.md. Ansible users script against them.
pub mod exit_code {
    /// Every host ok.
    pub const OK: i32 = 0;
    /// Usage, inventory or playbook error (nothing was run on a host past that point).
    pub const USAGE: i32 = 1;
    /// At least one host failed a task.
    pub const HOST_FAILED: i32 = 2;
    /// At least one host could not be reached (takes precedence over HOST_FAILED).
    pub const UNREACHABLE: i32 = 3;
    /// The run was interrupted (Ctrl-C).
    pub const INTERRUPTED: i32 = 130;

    /// The exit code of a run that ended this way: one rule for `run` and for `recap merge` of its shards.
    pub fn of_run(recap: &[crate::report::HostRecap], error: bool, fatal: bool, interrupted: bool) -> i32 {
        let failed = recap.iter().any(|h| h.failed > 0);
        let unreachable = recap.iter().any(|h| h.unreachable > 0);
        if interrupted {
            INTERRUPTED
        } else if error && !fatal && !failed && !unreachable {
            USAGE
        } else if unreachable {
            UNREACHABLE
        } else if failed {
            HOST_FAILED
        } else if error {
            USAGE
        } else {
            OK
        }
    }
}

#[derive(Parser, Debug)]
#[command(
    name = "runbook",
    version = env!("RUNBOOK_VERSION"),
    about = "Run Rhai playbooks against fleets of Linux hosts over SSH",
    propagate_version = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run a playbook against the hosts of an inventory.
    Run(RunArgs),
    /// Show an inventory: its groups and hosts, or one host's merged variables.
    Inventory(InventoryArgs),
    /// A local fleet of real Linux hosts (systemd-nspawn) to try and test playbooks on.
    #[command(subcommand)]
    Lab(LabCommand),
    /// Check playbooks, templates and inventories without connecting to any host.
    Lint(LintArgs),
    /// Write a new site repository: inventory, playbook, template, .gitignore, CI lint job.
    Init(init_command::InitArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(completions_command::CompletionsArgs),
    /// Print the man page, or write one per subcommand into a folder.
    Man(man_command::ManArgs),
    /// Run one shell command on the hosts of a pattern (Ansible's ad hoc `ansible web -a uptime`).
    Exec(ExecArgs),
    /// Work with the recaps of runs' `--log-json` files: `merge` the logs of `--shard` runs into one recap.
    #[command(subcommand)]
    Recap(recap_command::RecapCommand),
    /// Encrypt, decrypt, view, edit and rekey Ansible Vault files and strings (`ansible-vault`'s commands).
    #[command(subcommand)]
    Vault(vault_command::VaultCommand),
    /// Past runs from the history database: list them, show one, per host and task.
    History(history_command::HistoryArgs),
    /// Write one recorded run as a self-contained HTML page: per-host timeline, changes, failures, recap.
    Report(report_command::ReportArgs),
    /// Internal: the connection holder that `--persist` starts (keeps SSH connections between runs).
    #[command(hide = true)]
    Hold(hold_command::HoldArgs),
}

#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    /// The playbook (.rhai) to run.
    pub playbook: PathBuf,
    /// Inventory: a file (Ansible's YAML or INI shape; `group_vars/`, `host_vars/` beside it are read), a
    /// folder of them, or `host1,host2,`. Repeatable. Default: `inventory` in ansible.cfg / ANSIBLE_INVENTORY.
    #[arg(short = 'i', long = "inventory")]
    pub inventory: Vec<PathBuf>,
    /// Limit to hosts or groups: `host`, `group`, `web*`, `a,b`, `!group`, `g1:&g2`, `@file`.
    #[arg(short = 'l', long = "limit")]
    pub limit: Option<String>,
    /// Extra variables: `key=value`, `@vars.yaml`, or inline YAML/JSON `{...}`. Repeatable; later wins.
    #[arg(short = 'e', long = "extra-vars", value_name = "VARS")]
    pub extra_vars: Vec<String>,
    /// How many hosts run a task at the same time (default: `forks` in ansible.cfg / ANSIBLE_FORKS, else 50).
    #[arg(short = 'f', long = "forks", value_parser = clap::value_parser!(u32).range(1..))]
    pub forks: Option<u32>,
    /// Change nothing: report what would change.
    #[arg(short = 'C', long)]
    pub check: bool,
    /// Show a unified diff for every file and sysctl key that changes (or would).
    #[arg(short = 'D', long)]
    pub diff: bool,
    /// Only run tasks tagged with one of these (comma separated, repeatable).
    #[arg(short = 't', long = "tags", value_delimiter = ',')]
    pub tags: Vec<String>,
    /// Skip tasks tagged with one of these.
    #[arg(long = "skip-tags", value_delimiter = ',')]
    pub skip_tags: Vec<String>,
    /// Skip every task before the one with this name.
    #[arg(long = "start-at-task", value_name = "NAME")]
    pub start_at_task: Option<String>,
    /// More output: -v shows command output, -vv shows every remote command.
    #[arg(short = 'v', long = "verbose", action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Write one JSON event per line to this file.
    #[arg(long = "log-json", value_name = "FILE")]
    pub log_json: Option<PathBuf>,
    /// The run history database (default: `.runbook/history.db` beside the first inventory).
    #[arg(long = "history", value_name = "PATH", conflicts_with = "no_history")]
    pub history: Option<PathBuf>,
    /// Record nothing in the run history.
    #[arg(long = "no-history")]
    pub no_history: bool,
    /// At the end, write the run's HTML report (as `runbook report`) to this file.
    #[arg(long = "report", value_name = "FILE", conflicts_with = "no_history")]
    pub report: Option<PathBuf>,
    /// Run the playbook twice and fail (exit 2) if the second run changes anything.
    #[arg(long)]
    pub idempotence: bool,
    /// Only run on the hosts that failed or were unreachable in the last run.
    #[arg(long = "retry-failed")]
    pub retry_failed: bool,
    /// Run only this controller's share of the selected hosts: `I/N`, shards counted from 0 (a Kubernetes
    /// Indexed Job's `$JOB_COMPLETION_INDEX/N`). A host's shard depends on its name only.
    #[arg(long = "shard", value_name = "I/N", value_parser = crate::inventory::Shard::parse)]
    pub shard: Option<crate::inventory::Shard>,
    /// Print the hosts the run would target (after --limit) and stop; nothing is connected.
    #[arg(long = "list-hosts")]
    pub list_hosts: bool,
    /// Print the tasks the run would go through (with their tags, after --tags/--skip-tags) and stop; nothing
    /// is connected.
    #[arg(long = "list-tasks")]
    pub list_tasks: bool,
    /// Run notified handlers on hosts that failed after the notification too.
    #[arg(long = "force-handlers")]
    pub force_handlers: bool,
    #[command(flatten)]
    pub connection: ConnectionArgs,
    #[command(flatten)]
    pub vault: VaultArgs,
}

#[derive(Args, Debug, Clone)]
pub struct ExecArgs {
    /// Hosts or groups, as for --limit: `web`, `web*`, `a,b`, `all:!db`.
    pub pattern: String,
    /// Inventory, as for `run`.
    #[arg(short = 'i', long = "inventory")]
    pub inventory: Vec<PathBuf>,
    /// The command, after `--` (run by `sh` on each host).
    #[arg(last = true, required = true)]
    pub command: Vec<String>,
    /// How many hosts run the command at the same time (as for `run`).
    #[arg(short = 'f', long = "forks", value_parser = clap::value_parser!(u32).range(1..))]
    pub forks: Option<u32>,
    /// Run the command through `sudo -n`.
    #[arg(short = 'b', long = "become")]
    pub become_: bool,
    /// Extra variables, as for `run`.
    #[arg(short = 'e', long = "extra-vars", value_name = "VARS")]
    pub extra_vars: Vec<String>,
    /// Do not run the command: report which hosts it would run on.
    #[arg(short = 'C', long)]
    pub check: bool,
    /// More output, as for `run`.
    #[arg(short = 'v', long = "verbose", action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Write one JSON event per line to this file.
    #[arg(long = "log-json", value_name = "FILE")]
    pub log_json: Option<PathBuf>,
    /// The run history database, as for `run`.
    #[arg(long = "history", value_name = "PATH", conflicts_with = "no_history")]
    pub history: Option<PathBuf>,
    /// Record nothing in the run history.
    #[arg(long = "no-history")]
    pub no_history: bool,
    /// Print the hosts the pattern selects and stop; nothing is connected.
    #[arg(long = "list-hosts")]
    pub list_hosts: bool,
    #[command(flatten)]
    pub connection: ConnectionArgs,
    #[command(flatten)]
    pub vault: VaultArgs,
}

/// How `run` and `exec` reach hosts: one definition, so the two commands take the same flags.
#[derive(Args, Debug, Clone)]
pub struct ConnectionArgs {
    /// How to treat host keys: strict (known_hosts must match), accept-new (record unknown keys), off.
    /// Default: strict, or accept-new when ansible.cfg / ANSIBLE_HOST_KEY_CHECKING says False.
    #[arg(long = "host-key-checking", value_enum)]
    pub host_key_checking: Option<HostKeyChecking>,
    /// Seconds to wait for a host's SSH connection (default: `timeout` in ansible.cfg / ANSIBLE_TIMEOUT, else 10).
    #[arg(long = "timeout")]
    pub connect_timeout: Option<u64>,
    /// Times a failed connect is tried again (refused, no route, timeout, handshake cut), with backoff.
    #[arg(long = "connect-retries", default_value_t = 2, value_name = "N")]
    pub connect_retries: u32,
    /// Ask for the SSH login password once, without echo (else RUNBOOK_SSH_PASSWORD).
    #[arg(short = 'k', long = "ask-pass")]
    pub ask_pass: bool,
    /// Ask for the sudo password once, without echo (else RUNBOOK_BECOME_PASSWORD).
    #[arg(short = 'K', long = "ask-become-pass")]
    pub ask_become_pass: bool,
    /// Keep the SSH connections open this long after the run (60, 60s, 10m), for the next run to reuse.
    #[arg(long = "persist", value_name = "TIME", env = "RUNBOOK_PERSIST", value_parser = crate::transport::parse_persist)]
    pub persist: Option<std::time::Duration>,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostKeyChecking {
    Strict,
    AcceptNew,
    Off,
}

#[derive(Args, Debug)]
pub struct InventoryArgs {
    /// Inventory, as for `run`.
    #[arg(short = 'i', long = "inventory")]
    pub inventory: Vec<PathBuf>,
    /// Print the group tree, like `ansible-inventory --graph`.
    #[arg(long, conflicts_with_all = ["host", "list"])]
    pub graph: bool,
    /// Print one host's merged variables as JSON.
    #[arg(long, value_name = "HOST")]
    pub host: Option<String>,
    /// Print every host with its merged variables as JSON.
    #[arg(long)]
    pub list: bool,
    /// Limit, as for `run`.
    #[arg(short = 'l', long = "limit")]
    pub limit: Option<String>,
    /// Extra variables, as for `run`.
    #[arg(short = 'e', long = "extra-vars")]
    pub extra_vars: Vec<String>,
    /// Also read the `group_vars/` and `host_vars/` in this folder, as a playbook there would.
    #[arg(long = "playbook-dir", value_name = "DIR")]
    pub playbook_dir: Option<PathBuf>,
    #[command(flatten)]
    pub vault: VaultArgs,
}

#[derive(Subcommand, Debug)]
pub enum LabCommand {
    /// Boot the lab: one host per inventory host (-i), or N anonymous hosts (--hosts).
    Up(LabUpArgs),
    /// Hosts, addresses, state and memory.
    Status(LabSelect),
    /// Open a shell on a lab host, or run CMD there.
    Ssh {
        #[command(flatten)]
        lab: LabSelect,
        /// Host name.
        host: String,
        /// Command to run (a shell when absent).
        #[arg(trailing_var_arg = true)]
        command: Vec<String>,
    },
    /// Stop every host and remove containers, mounts, cgroups, links and the bridge.
    Down {
        #[command(flatten)]
        lab: LabSelect,
        /// Also delete the hosts' state (their overlay upper directories).
        #[arg(long)]
        purge: bool,
        /// Every lab on this machine, not only the named one.
        #[arg(long)]
        all: bool,
    },
    /// Build (or with --rebuild, build again) the cached base image.
    Base {
        #[arg(long)]
        rebuild: bool,
    },
    /// Internal: keeps a lab's hosts running (restarts a host that reboots). Started by `lab up`.
    #[command(hide = true)]
    Supervise(LabSelect),
}

#[derive(Args, Debug, Clone)]
pub struct LabSelect {
    /// Name of the lab (several can run side by side).
    #[arg(long, default_value = "lab")]
    pub name: String,
}

#[derive(Args, Debug, Clone)]
pub struct LabUpArgs {
    #[command(flatten)]
    pub lab: LabSelect,
    /// Inventory (file or folder) whose hosts the lab mirrors (same names and groups).
    #[arg(short = 'i', long = "inventory", conflicts_with = "hosts")]
    pub inventory: Option<PathBuf>,
    /// Number of anonymous hosts (lab-h01, lab-h02, ...).
    #[arg(long)]
    pub hosts: Option<u32>,
    /// Subnet of the lab bridge (a /22 holds 1000 hosts).
    #[arg(long, default_value = "10.250.0.0/24")]
    pub subnet: String,
    /// Light hosts: a real sshd each in its own namespaces and overlay root, no systemd (~3 MiB a host, for
    /// hundreds or thousands of hosts; no services, no reboot).
    #[arg(long)]
    pub light: bool,
}

#[derive(Args, Debug)]
pub struct LintArgs {
    /// Playbooks or folders to check (default: playbooks/ and stdlib/ under the current folder).
    pub paths: Vec<PathBuf>,
    /// Inventory (file or folder) to check group and host names and template variables against (default:
    /// `inventory` in ansible.cfg / ANSIBLE_INVENTORY when it names one source).
    #[arg(short = 'i', long = "inventory")]
    pub inventory: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = LintFormat::Human)]
    pub format: LintFormat,
    /// Warnings make the exit code 1 too.
    #[arg(long)]
    pub strict: bool,
    /// Tags that will be passed to `run --tags`: each must exist on some task.
    #[arg(short = 't', long = "tags", value_delimiter = ',')]
    pub tags: Vec<String>,
    /// Extra variables that will be passed to `run -e` (`key=value`, YAML/JSON, or `@file`): defined for lint too.
    #[arg(short = 'e', long = "extra-vars", value_name = "VARS")]
    pub extra_vars: Vec<String>,
    #[command(flatten)]
    pub vault: VaultArgs,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum LintFormat {
    Human,
    Github,
    Json,
    Sarif,
}

/// Parses the command line and runs it; returns the process exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let code = match (error.use_stderr(), invoked_lint()) {
                (false, _) => exit_code::OK,
                (true, true) => lint_command::USAGE,
                (true, false) => exit_code::USAGE,
            };
            let _ = error.print();
            return code;
        }
    };
    if matches!(cli.command, Command::Run(_) | Command::Exec(_)) {
        malloc_tunables::restart_with_small_thread_caches();
    }
    init_tracing();
    match cli.command {
        Command::Run(args) => run_command::run(args),
        Command::Inventory(args) => inventory_command::run(args),
        Command::Lab(command) => lab_command::run(command),
        Command::Lint(args) => lint_command::run(args),
        Command::Init(args) => init_command::run(args),
        Command::Completions(args) => completions_command::run(args),
        Command::Man(args) => man_command::run(args),
        Command::Exec(args) => exec_command::run(args),
        Command::Recap(command) => recap_command::run(command),
        Command::Vault(command) => vault_command::run(command),
        Command::Hold(args) => hold_command::run(args),
        Command::History(args) => history_command::run(args),
        Command::Report(args) => report_command::run(args),
    }
}

/// Whether the command line names the `lint` subcommand (its usage errors exit 2, others' exit 1).
fn invoked_lint() -> bool {
    std::env::args_os().skip(1).find(|arg| !arg.to_string_lossy().starts_with('-')).is_some_and(|arg| arg == "lint")
}

fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("RUNBOOK_LOG").unwrap_or_else(|_| EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}
