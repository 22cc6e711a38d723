//! `runbook hold` (hidden): the connection holder process that `run --persist` starts on its own. Not meant to
//! be typed; it is a subcommand so the holder is the very same program, and so the same transport code.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::exit_code;

#[derive(Args, Debug)]
pub struct HoldArgs {
    /// The private folder to listen in (default: the user's, as `--persist` finds it).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Seconds to stay after the last request.
    #[arg(long, default_value_t = 60)]
    pub idle: u64,
}

pub fn run(args: HoldArgs) -> i32 {
    let dir = args.dir.unwrap_or_else(crate::transport::connection_holder_dir);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: runbook hold: {error}");
            return exit_code::USAGE;
        }
    };
    match runtime.block_on(crate::transport::serve_connection_holder(&dir, Duration::from_secs(args.idle.max(1)))) {
        Ok(()) => exit_code::OK,
        Err(error) => {
            eprintln!("error: runbook hold: {error}");
            exit_code::USAGE
        }
    }
}
