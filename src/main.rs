//! The `runbook` binary: everything lives in the library (`runbook::cli::main`), so tests and benches drive the
//! same code the binary runs.

fn main() {
    std::process::exit(runbook::cli::main());
}
