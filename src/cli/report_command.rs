//! `runbook report RUN -o report.html`: a recorded run as one HTML file, for a ticket or a post-mortem.

use std::path::PathBuf;

use clap::Args;

use super::{exit_code, history_command};

#[derive(Args, Debug)]
pub struct ReportArgs {
    /// The run: an id from `runbook history`, or `last`.
    #[arg(default_value = "last")]
    run: String,
    /// Where to write the HTML.
    #[arg(short = 'o', long = "output", value_name = "FILE", default_value = "report.html")]
    output: PathBuf,
    /// The history database (default: `.runbook/history.db` beside the first inventory).
    #[arg(long = "history", value_name = "PATH")]
    history: Option<PathBuf>,
    /// The inventory the run used, to find the database beside it.
    #[arg(short = 'i', long = "inventory")]
    inventory: Vec<PathBuf>,
}

pub fn run(args: ReportArgs) -> i32 {
    let written = history_command::open_run(args.history, &args.inventory, &args.run)
        .and_then(|(store, id)| history_command::write_report(&store, id, &args.output));
    match written {
        Ok(()) => {
            println!("{}", args.output.display());
            exit_code::OK
        }
        Err(message) => {
            eprintln!("error: {message}");
            exit_code::USAGE
        }
    }
}
