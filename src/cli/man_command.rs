//! `runbook man`: man pages (roff) generated from the clap definition, so they always match `--help`.
//! Packagers run `runbook man --dir DIR` to install one page per subcommand (runbook.1, runbook-run.1, ...).

use std::path::PathBuf;

use clap::{Args, CommandFactory};

use super::{Cli, exit_code};

#[derive(Args, Debug)]
pub struct ManArgs {
    /// Write runbook.1 and a page per subcommand (runbook-run.1, runbook-lab-up.1, ...) into this folder
    /// instead of printing runbook.1.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

pub fn run(args: ManArgs) -> i32 {
    let command = Cli::command();
    let result = match &args.dir {
        Some(dir) => std::fs::create_dir_all(dir).and_then(|()| clap_mangen::generate_to(command, dir)),
        None => clap_mangen::Man::new(command).render(&mut std::io::stdout()),
    };
    match result {
        Ok(()) => exit_code::OK,
        Err(error) => {
            let target = args.dir.map(|dir| format!(" into {}", dir.display())).unwrap_or_default();
            eprintln!("runbook man: cannot write the man page{target}: {error}");
            exit_code::USAGE
        }
    }
}
