//! The Rhai engine the analysis compiles with: Rhai's own engine with the run's parse settings
//! (`script_language`, the one definition), knowing Rhai's built-in functions from its packages and runbook's from the
//! static catalog (`primitives::catalog`). Compiling runs no script code, so no primitive runs and no host is
//! connected to; and no run is faked to get there.

use std::collections::{BTreeSet, HashMap};

use rhai::{Engine, OptimizationLevel, Scope};

use super::script_language::{PLAYBOOK_CONSTANTS, apply_parse_settings};
use crate::primitives::catalog::{FUNCTIONS, Receiver};

/// Functions Rhai itself handles by keyword (never registered): any arity is accepted.
const KEYWORD_FUNCTIONS: &[&str] =
    &["print", "debug", "type_of", "eval", "Fn", "call", "curry", "is_shared", "is_def_var", "is_def_fn"];

pub struct AnalysisEngine {
    /// Strict variables, as `run` compiles: undefined variables are parse errors.
    pub strict: Engine,
    /// The same without strict variables: to still walk a script that has an undefined variable.
    pub lax: Engine,
    /// The variables every playbook starts with (`vars`, `check_mode`, `diff_mode`).
    pub scope: Scope<'static>,
    /// Every function (runbook's catalog, Rhai's packages): name → arities, a method's object counted.
    functions: HashMap<String, BTreeSet<usize>>,
}

impl AnalysisEngine {
    pub fn new() -> AnalysisEngine {
        let build = || {
            let mut engine = Engine::new();
            apply_parse_settings(&mut engine);
            // The optimiser would drop `if false { ... }` and fold constants: lint must see the code as written.
            engine.set_optimization_level(OptimizationLevel::None);
            // Imports are resolved by lint itself (from the file's folder); compiling never loads a module.
            engine.set_module_resolver(rhai::module_resolvers::DummyModuleResolver::new());
            engine
        };
        let strict = build();
        let mut lax = build();
        lax.set_strict_variables(false);
        let mut functions: HashMap<String, BTreeSet<usize>> = HashMap::new();
        for (name, arity) in strict.collect_fn_metadata(
            None,
            |info| Some((info.metadata.name.to_string(), info.metadata.num_params)),
            true,
        ) {
            functions.entry(name).or_default().insert(arity);
        }
        for function in FUNCTIONS {
            let object = usize::from(function.receiver != Receiver::None);
            functions.entry(function.name.to_string()).or_default().extend(function.arities.iter().map(|n| n + object));
        }
        let mut scope = Scope::new();
        for name in PLAYBOOK_CONSTANTS {
            scope.push_constant(name, ());
        }
        AnalysisEngine { scope, strict, lax, functions }
    }

    /// Arities of a registered function; `None` when no function has that name. Keywords take any arity.
    pub fn arities(&self, name: &str) -> Option<Arities> {
        if KEYWORD_FUNCTIONS.contains(&name) {
            return Some(Arities::Any);
        }
        self.functions.get(name).map(|set| Arities::Set(set.clone()))
    }

    pub fn function_names(&self) -> impl Iterator<Item = &str> {
        self.functions
            .keys()
            .map(String::as_str)
            .filter(|name| !name.contains('$') && name.chars().next().is_some_and(|c| c.is_alphabetic() || c == '_'))
            .chain(KEYWORD_FUNCTIONS.iter().copied())
    }
}

impl Default for AnalysisEngine {
    fn default() -> Self {
        AnalysisEngine::new()
    }
}

/// How many arguments a function accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arities {
    Any,
    Set(BTreeSet<usize>),
}

impl Arities {
    pub fn accepts(&self, count: usize) -> bool {
        match self {
            Arities::Any => true,
            Arities::Set(set) => set.contains(&count),
        }
    }

    pub fn merge(&mut self, other: &Arities) {
        match (self, other) {
            (Arities::Set(mine), Arities::Set(theirs)) => mine.extend(theirs),
            (me, _) => *me = Arities::Any,
        }
    }

    /// "1 or 2", with `offset` taken off every count (a method's object is not an argument the user writes).
    pub fn describe(&self, offset: usize) -> String {
        let Arities::Set(set) = self else {
            return "any number".to_string();
        };
        let counts: Vec<String> = set.iter().filter(|n| **n >= offset).map(|n| (n - offset).to_string()).collect();
        match counts.len() {
            0 => "no call of this shape".to_string(),
            1 => counts[0].clone(),
            _ => format!("{} or {}", counts[..counts.len() - 1].join(", "), counts[counts.len() - 1]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knows_primitives_globals_and_packages_with_arities() {
        let engine = AnalysisEngine::new();
        // Methods count the host as their first parameter.
        assert!(engine.arities("run").unwrap().accepts(2));
        assert!(engine.arities("run").unwrap().accepts(3));
        assert!(!engine.arities("run").unwrap().accepts(4));
        assert!(engine.arities("task").unwrap().accepts(3));
        assert!(engine.arities("task").unwrap().accepts(4));
        assert!(engine.arities("group").unwrap().accepts(1));
        assert!(engine.arities("parse_int").is_some());
        assert!(engine.arities("print").unwrap().accepts(1));
        assert!(engine.arities("no_such_function").is_none());
    }
}
