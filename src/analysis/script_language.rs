//! How runbook reads a playbook's Rhai: the parse settings and the constants every playbook starts with. One
//! definition, used by the engine that runs a playbook and by the analysis that checks it, so a script the
//! analysis accepts is one the run compiles, and a name the run defines is one the analysis knows.

use rhai::Engine;

/// The constants every playbook (and every included stage) starts with: the inventory's `all` vars and `-e`,
/// `--check`, `--diff`, and what `include(file, #{ params })` passed.
pub const VARS: &str = "vars";
pub const CHECK_MODE: &str = "check_mode";
pub const DIFF_MODE: &str = "diff_mode";
pub const PARAMS: &str = "params";
pub const PLAYBOOK_CONSTANTS: [&str; 4] = [VARS, CHECK_MODE, DIFF_MODE, PARAMS];

/// Rhai's nesting limit for expressions and statements: the shipped flows nest maps inside calls inside
/// closures deeper than Rhai's default allows in a debug build.
const MAX_EXPRESSION_DEPTH: usize = 256;

/// Sets what decides whether a script compiles: undefined variables are compile errors (strict variables,
/// so a misspelt name is refused before any host changes) and the expression depth.
pub fn apply_parse_settings(engine: &mut Engine) {
    engine.set_strict_variables(true);
    engine.set_max_expr_depths(MAX_EXPRESSION_DEPTH, MAX_EXPRESSION_DEPTH);
}
