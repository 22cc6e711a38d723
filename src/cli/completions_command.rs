//! `runbook completions SHELL`: the shell completion script, generated from the same clap definition the
//! binary parses with, so completions can never drift from the flags.

use clap::{Args, CommandFactory};
use clap_complete::Shell;

use super::{Cli, exit_code};

#[derive(Args, Debug)]
pub struct CompletionsArgs {
    /// The shell to complete for. Install: bash `runbook completions bash >
    /// ~/.local/share/bash-completion/completions/runbook`; zsh: into a folder of `$fpath` as `_runbook`; fish:
    /// `~/.config/fish/completions/runbook.fish`.
    #[arg(value_enum)]
    pub shell: Shell,
}

pub fn run(args: CompletionsArgs) -> i32 {
    let mut command = Cli::command();
    clap_complete::generate(args.shell, &mut command, "runbook", &mut std::io::stdout());
    exit_code::OK
}
