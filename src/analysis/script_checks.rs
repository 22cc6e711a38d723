//! Checks on one Rhai file: compiled (without optimisation, so `if false { ... }` stays in) by the engine
//! `run` uses, then its syntax tree walked — top-level code, every `fn` and every closure — for calls that
//! cannot work, literal options the engine would refuse, and the facts the cross-file checks need (task names,
//! tags, includes, group and host names, template calls).

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};

use rhai::{ASTNode, Dynamic, Expr, FnCallExpr, FnPtr, Ident, ParseErrorType, Position, Stmt, StmtBlock};

use super::analysis_engine::{AnalysisEngine, Arities};
use super::finding::{Finding, did_you_mean_hint};
use super::map_entry::{MapEntry, map_summary};
use super::module_table::{ModuleFunctions, ModuleTable, Resolved};
use super::option_checks::{check_module_options, check_primitive_options, check_task_options, task_option_names};
use super::rules::Rule;
use super::secret_names::{is_literal_secret_value, is_secret_name};
use super::sysctl_checks::SysctlMaps;
use super::task_results_use::may_read_task_results;
use crate::primitives::catalog::{INCLUDE_OPTIONS, LOCAL_RUN_OPTIONS, options_of};

/// Options of `h.run` that make it report ok when there is nothing to do (or read-only).
const RUN_GUARDS: &[&str] = &["creates", "removes", "unless", "onlyif", "check_safe"];

/// Which hosts run a task, as far as the literal code says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostSet {
    All,
    Group(String),
    Host(String),
    Unknown,
}

#[derive(Debug, Clone)]
pub struct NameRef {
    pub name: String,
    pub line: usize,
    pub column: usize,
}

/// A `h.template("literal.j2", ...)` call.
#[derive(Debug, Clone)]
pub struct TemplateCall {
    pub path: PathBuf,
    pub line: usize,
    pub column: usize,
    /// Keys of the vars map passed, when the map is known (a literal, or a variable bound to one).
    pub passed: Option<BTreeSet<String>>,
    pub hosts: HostSet,
}

/// A literal read of a variable: `h.vars.NAME` (by the hosts in `hosts`) or `vars.NAME` (`hosts: None`).
#[derive(Debug, Clone)]
pub struct VarRead {
    pub name: String,
    pub line: usize,
    pub column: usize,
    pub hosts: Option<HostSet>,
}

/// Methods that change the value they are called on: called on a captured variable from a task closure,
/// they race with the other hosts' threads.
const MUTATING_METHODS: &[&str] = &[
    "push",
    "append",
    "insert",
    "remove",
    "clear",
    "pop",
    "shift",
    "extend",
    "truncate",
    "retain",
    "drain",
    "mixin",
    "fill_with",
    "chop",
    "splice",
    "dedup",
    "sort",
    "reverse",
    "pad",
    "make_upper",
    "make_lower",
    "trim",
    "crop",
];

/// What one file tells the checks that look across files.
#[derive(Debug, Default)]
pub struct ScriptFacts {
    pub findings: Vec<Finding>,
    /// Literal task names in source order.
    pub tasks: Vec<NameRef>,
    pub tags: BTreeSet<String>,
    /// Some task's tags are computed: the tag set is not complete.
    pub dynamic_tags: bool,
    /// Files this one includes (found), in source order.
    pub includes: Vec<PathBuf>,
    /// Module files this one imports that are on disk (not the stdlib built into runbook): the run executes
    /// their functions, so lint checks them too.
    pub imports: Vec<PathBuf>,
    pub groups: Vec<NameRef>,
    pub hosts: Vec<NameRef>,
    pub templates: Vec<TemplateCall>,
    /// Literal variable reads the inventory must satisfy.
    pub var_reads: Vec<VarRead>,
    /// Handlers declared with a literal name (`handler("x", ...)`).
    pub handlers: Vec<NameRef>,
    /// Literal handler names notified (`notify:` options, `h.notify("x")`).
    pub notified: Vec<NameRef>,
    /// Tasks and includes in source order, with their literal tags: what `run --list-tasks` prints.
    pub outline: Vec<OutlineItem>,
    /// This file, or a module it imports, may call `results(task)` (see `task_results_use`).
    pub may_read_task_results: bool,
}

/// One entry of a playbook's outline.
#[derive(Debug, Clone)]
pub enum OutlineItem {
    /// A task: its literal name (`None` when computed) and literal tags.
    Task { name: Option<String>, tags: Vec<String> },
    /// `include("file")` (found) and the tags it adds to the file's tasks.
    Include { path: PathBuf, tags: Vec<String> },
}

/// A closure passed to `task`: who runs it and whether the task is conditional (`when:`).
#[derive(Debug, Clone)]
struct TaskBody {
    hosts: HostSet,
    conditional: bool,
}

/// What a `let` binds, when it is map literals (through `if`/`else` branches).
#[derive(Debug, Clone)]
struct LetValue {
    maps: Vec<Vec<MapEntry>>,
    /// Every branch is a map literal.
    complete: bool,
}

/// The `let`s of one body and the `name.key = ...` assignments in it.
#[derive(Debug, Default)]
struct Bindings {
    lets: HashMap<String, Vec<LetValue>>,
    assigned: HashMap<String, BTreeSet<String>>,
    /// Every string literal: a name tested as `"x" in h.vars` or read as `.get("x")` is a guarded read.
    strings: HashSet<String>,
    /// Variables also changed in ways that do not name the key (`v[k] = ...`, `v += ...`): keys unknown.
    computed: HashSet<String>,
}

impl Bindings {
    fn record(&mut self, path: &[ASTNode]) {
        match path.last() {
            Some(ASTNode::Stmt(Stmt::Var(var, ..))) => {
                let mut maps = Vec::new();
                let complete = value_maps(&var.1, &mut maps);
                self.lets.entry(var.0.name.to_string()).or_default().push(LetValue { maps, complete });
            }
            Some(ASTNode::Expr(Expr::StringConstant(text, _))) => {
                self.strings.insert(text.to_string());
            }
            Some(ASTNode::Stmt(Stmt::Assignment(assignment))) => {
                if let Expr::Dot(dot, ..) = &assignment.1.lhs
                    && let Some(name) = variable_name(&dot.lhs)
                    && let Expr::Property(property, _) = &dot.rhs
                {
                    self.assigned.entry(name.to_string()).or_default().insert(property.2.to_string());
                } else if let Some(name) = root_variable(&assignment.1.lhs) {
                    self.computed.insert(name.to_string());
                }
            }
            Some(ASTNode::Expr(Expr::Dot(dot, ..))) => {
                if let (Some(name), Expr::MethodCall(call, _)) = (variable_name(&dot.lhs), &dot.rhs)
                    && MUTATING_METHODS.contains(&call.name.as_str())
                {
                    self.computed.insert(name.to_string());
                }
            }
            _ => {}
        }
    }
}

/// What a node's body tells about it: its bindings (and the top level's, where a closure's captured
/// variables are bound), and what kind of function it is.
struct Body<'b> {
    own: &'b Bindings,
    top: &'b Bindings,
    /// A named `fn`: its caller decides when it runs.
    named_fn: bool,
    task: Option<TaskBody>,
    /// A task closure's host parameter (its last one).
    host_param: Option<String>,
    /// Variables a task closure captured from outside it (Rhai passes them as its first parameters).
    captured: Vec<String>,
}

pub fn check_script(engine: &AnalysisEngine, modules: &mut ModuleTable, file: &Path, text: &str) -> ScriptFacts {
    check_script_rendering_from(engine, modules, file, text, None)
}

/// `check_script` for a module imported by a playbook in `playbook_dir`: its functions render templates
/// relative to that playbook's folder, as the run does.
pub fn check_script_rendering_from(
    engine: &AnalysisEngine,
    modules: &mut ModuleTable,
    file: &Path,
    text: &str,
    playbook_dir: Option<&Path>,
) -> ScriptFacts {
    let mut facts = ScriptFacts::default();
    let Some(ast) = compile(engine, file, text, &mut facts.findings) else {
        return facts;
    };
    facts.may_read_task_results = may_read_task_results(&ast);
    let dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut walker = Walker {
        engine,
        file: file.to_path_buf(),
        dir,
        playbook_dir: playbook_dir.map(Path::to_path_buf),
        facts,
        script_fns: HashMap::new(),
        aliases: HashMap::new(),
        variables: HashSet::new(),
        closure_keys: HashSet::new(),
        task_bodies: HashMap::new(),
        sysctl: SysctlMaps::default(),
        top_statements: ast.statements().to_vec(),
    };
    for function in ast.iter_functions() {
        let arities = Arities::Set([function.params.len()].into());
        walker.script_fns.entry(function.name.to_string()).and_modify(|known| known.merge(&arities)).or_insert(arities);
        walker.variables.extend(function.params.iter().map(|p| p.to_string()));
    }
    let top = ast.statements();
    ast.walk(&mut |path: &[ASTNode]| {
        walker.collect(path, top, modules);
        true
    });

    let mut path = Vec::new();
    let mut top_bindings = Bindings::default();
    for statement in top {
        statement.walk(&mut path, &mut |nodes: &[ASTNode]| {
            top_bindings.record(nodes);
            true
        });
    }
    let body = Body {
        own: &top_bindings,
        top: &top_bindings,
        named_fn: false,
        task: None,
        host_param: None,
        captured: Vec::new(),
    };
    for statement in top {
        statement.walk(&mut path, &mut |nodes: &[ASTNode]| {
            walker.visit(nodes, &body);
            true
        });
    }
    // Each function is walked on its own (an AST holding only it), so its nodes know their body.
    let functions: Vec<(String, Vec<String>)> =
        ast.iter_functions().map(|f| (f.name.to_string(), f.params.iter().map(|p| p.to_string()).collect())).collect();
    for (name, param_names) in functions {
        let params = param_names.len();
        // (`clone_functions_only_filtered` does not filter into an empty module in rhai 1.27: retain instead.)
        let mut single = ast.clone_functions_only();
        single.retain_functions(|_, _, n, p| n == name && p == params);
        let mut bindings = Bindings::default();
        single.walk(&mut |nodes: &[ASTNode]| {
            bindings.record(nodes);
            true
        });
        let task = walker.task_bodies.get(&name).cloned();
        let (host_param, captured) = match (&task, param_names.split_last()) {
            (Some(_), Some((last, outside))) => (Some(last.clone()), outside.to_vec()),
            _ => (None, Vec::new()),
        };
        let body = Body {
            own: &bindings,
            top: &top_bindings,
            named_fn: !name.starts_with("anon$"),
            task,
            host_param,
            captured,
        };
        let mut reported = HashSet::new();
        single.walk(&mut |nodes: &[ASTNode]| {
            walker.visit(nodes, &body);
            walker.captured_mutation(nodes, &body, &mut reported);
            true
        });
    }
    let sysctl = std::mem::take(&mut walker.sysctl);
    walker.facts.findings.extend(sysctl.findings(&walker.file));
    walker.facts
}

/// Compiles with strict variables, as `run` does. Each undefined variable is reported once and then
/// defined, so one missing `let` does not hide the next; a script that only has undefined variables is still
/// walked.
fn compile(engine: &AnalysisEngine, file: &Path, text: &str, findings: &mut Vec<Finding>) -> Option<rhai::AST> {
    let mut scope = engine.scope.clone();
    let mut reported = HashSet::new();
    for _ in 0..100 {
        let error = match engine.strict.compile_with_scope(&scope, text) {
            Ok(ast) => return Some(ast),
            Err(error) => error,
        };
        let position = error.position();
        match error.err_type() {
            ParseErrorType::VariableUndefined(name) => {
                if !reported.insert(name.clone()) {
                    break;
                }
                findings.push(
                    Finding::at(file, position, Rule::UndefinedVariable, format!("undefined variable `{name}`"))
                        .hint("declare it with `let` first; playbooks start with `vars`, `check_mode` and `diff_mode`"),
                );
                scope.push_constant(name.as_str(), ());
            }
            ParseErrorType::ModuleUndefined(name) => {
                findings.push(
                    Finding::at(file, position, Rule::UnresolvedImport, format!("no module `{name}` is imported"))
                        .hint(format!("add `import \"stdlib/{name}\" as {name};` at the top")),
                );
                break;
            }
            other => {
                findings.push(Finding::at(file, position, Rule::Syntax, other.to_string()));
                return None;
            }
        }
    }
    engine.lax.compile_with_scope(&scope, text).ok()
}

struct Walker<'e> {
    engine: &'e AnalysisEngine,
    file: PathBuf,
    dir: PathBuf,
    /// Set for an imported module: the folder of the playbook importing it, where its functions' templates are.
    playbook_dir: Option<PathBuf>,
    facts: ScriptFacts,
    /// Functions the script defines: name → arities.
    script_fns: HashMap<String, Arities>,
    /// `import ... as alias` → the module's functions (`None`: not resolved, already reported).
    aliases: HashMap<String, Option<ModuleFunctions>>,
    /// Every variable and parameter name: `f(x)` may call a function pointer held in `f`.
    variables: HashSet<String>,
    /// Map keys that hold a closure: `obj.key(x)` calls it.
    closure_keys: HashSet<String>,
    task_bodies: HashMap<String, TaskBody>,
    sysctl: SysctlMaps,
    /// The file's top-level statements (where `let m1 = host("x")` binds a host).
    top_statements: Vec<Stmt>,
}

impl Walker<'_> {
    fn finding(&mut self, position: Position, rule: Rule, message: impl Into<String>) -> &mut Finding {
        self.facts.findings.push(Finding::at(&self.file, position, rule, message));
        self.facts.findings.last_mut().expect("just pushed")
    }

    /// First pass: imports, variable names, and which closures are task bodies.
    fn collect(&mut self, path: &[ASTNode], top: &[Stmt], modules: &mut ModuleTable) {
        match path.last() {
            Some(ASTNode::Stmt(Stmt::Import(import, _))) => {
                let (expr, alias) = &**import;
                let Expr::StringConstant(module_path, position) = expr else {
                    return;
                };
                let module = match modules.resolve(self.engine, &self.dir, module_path) {
                    Resolved::Module(functions) => {
                        self.facts.imports.extend(functions.file.clone());
                        self.facts.may_read_task_results |= functions.may_read_task_results;
                        Some(functions)
                    }
                    Resolved::Broken => {
                        self.facts.may_read_task_results = true;
                        None
                    }
                    Resolved::NotFound => {
                        let message = format!("cannot find module \"{module_path}\"");
                        self.finding(*position, Rule::UnresolvedImport, message).hint = Some(format!(
                            "looked for {module_path}.rhai in {} and its parent folders, and in the stdlib built into runbook",
                            display_dir(&self.dir)
                        ));
                        None
                    }
                };
                if !alias.name.is_empty() {
                    self.aliases.insert(alias.name.to_string(), module);
                }
            }
            Some(ASTNode::Stmt(Stmt::Var(var, ..))) => {
                self.variables.insert(var.0.name.to_string());
            }
            Some(ASTNode::Expr(Expr::Map(map, _))) => {
                for (key, value) in map.0.iter() {
                    if closure_name(value).is_some() {
                        self.closure_keys.insert(key.name.to_string());
                    }
                }
            }
            Some(ASTNode::Stmt(Stmt::For(for_loop, _))) => {
                self.variables.insert(for_loop.0.name.to_string());
                if let Some(counter) = &for_loop.1 {
                    self.variables.insert(counter.name.to_string());
                }
            }
            Some(ASTNode::Expr(Expr::FnCall(call, _))) | Some(ASTNode::Stmt(Stmt::FnCall(call, _)))
                if call.name == "task" && !call.is_qualified() && (3..=4).contains(&call.args.len()) =>
            {
                let hosts = host_set(&call.args[1], top, 0);
                let conditional = call.args.len() == 4
                    && map_entries(&call.args[2]).is_some_and(|entries| entries.iter().any(|(k, _)| k.name == "when"));
                if let Some(name) = closure_name(&call.args[call.args.len() - 1]) {
                    self.task_bodies.insert(name, TaskBody { hosts, conditional });
                }
            }
            // A handler's body runs on whichever hosts notified it, and only when something changed: conditional,
            // like a task with `when` (a restart in it needs no guard).
            Some(ASTNode::Expr(Expr::FnCall(call, _))) | Some(ASTNode::Stmt(Stmt::FnCall(call, _)))
                if call.name == "handler" && !call.is_qualified() && call.args.len() == 2 =>
            {
                if let Some(name) = closure_name(&call.args[1]) {
                    self.task_bodies.insert(name, TaskBody { hosts: HostSet::All, conditional: true });
                }
            }
            _ => {}
        }
    }

    /// Second pass: every node, knowing the body it is in.
    fn visit(&mut self, path: &[ASTNode], body: &Body) {
        match path.last() {
            Some(ASTNode::Expr(Expr::FnCall(call, position))) | Some(ASTNode::Stmt(Stmt::FnCall(call, position)))
                if call.op_token.is_none() =>
            {
                self.function_call(call, *position, body)
            }
            Some(ASTNode::Expr(Expr::MethodCall(call, position))) => self.method_call(call, *position, path, body),
            Some(ASTNode::Expr(Expr::Map(map, _))) => {
                for (key, value) in map.0.iter() {
                    self.literal_secret(&key.name, key.pos, value);
                }
            }
            Some(ASTNode::Stmt(Stmt::Var(var, ..))) => {
                let (name, value, _) = &**var;
                self.literal_secret(&name.name, name.pos, value);
            }
            Some(ASTNode::Expr(Expr::Dot(dot, ..))) => self.var_read(&dot.lhs, &dot.rhs, body),
            _ => {}
        }
    }

    /// `h.vars.NAME` or `vars.NAME`, read where the code does not test for the name itself.
    fn var_read(&mut self, object: &Expr, rest: &Expr, body: &Body) {
        if body.named_fn {
            // A function's caller decides which map it reads (harbor::base_url(h.vars, ...)).
            return;
        }
        let Some(object_name) = variable_name(object) else { return };
        let (hosts, property) = if object_name == "vars" && !body.own.lets.contains_key("vars") {
            (None, first_property(rest))
        } else {
            let Expr::Dot(inner, ..) = rest else { return };
            if first_property(&inner.lhs).map(|(name, _)| name) != Some("vars") {
                return;
            }
            let set = if body.host_param.as_deref() == Some(object_name) {
                body.task.as_ref().map(|task| task.hosts.clone()).unwrap_or(HostSet::Unknown)
            } else {
                host_set(object, self.top_statements.as_slice(), 0)
            };
            (Some(set), first_property(&inner.rhs))
        };
        let Some((name, position)) = property else { return };
        if body.own.strings.contains(name) || body.top.strings.contains(name) {
            return;
        }
        self.facts.var_reads.push(VarRead {
            name: name.to_string(),
            line: position.line().unwrap_or(0),
            column: position.position().unwrap_or(0),
            hosts,
        });
    }

    /// A task closure that assigns to (or calls a changing method on) a variable it captured: every host's
    /// thread changes the one shared value at once.
    fn captured_mutation(&mut self, path: &[ASTNode], body: &Body, reported: &mut HashSet<String>) {
        if body.captured.is_empty() {
            return;
        }
        let target = match path.last() {
            Some(ASTNode::Stmt(Stmt::Assignment(assignment))) => {
                root_variable(&assignment.1.lhs).map(|name| (name, assignment.1.lhs.position()))
            }
            Some(ASTNode::Expr(Expr::Dot(dot, _, position))) => match &dot.rhs {
                Expr::MethodCall(call, _) if MUTATING_METHODS.contains(&call.name.as_str()) => {
                    variable_name(&dot.lhs).map(|name| (name, *position))
                }
                _ => None,
            },
            _ => None,
        };
        let Some((name, position)) = target else { return };
        if !body.captured.iter().any(|captured| captured == name) || !reported.insert(name.to_string()) {
            return;
        }
        self.finding(
            position,
            Rule::CapturedMutation,
            format!("this task closure changes `{name}`, a variable from outside it, on every host at once"),
        )
        .hint = Some(
            "hosts run the closure in parallel (a data race): return the value instead — `let results = task(...)` maps each host to what its closure returned"
                .to_string(),
        );
    }

    fn literal_secret(&mut self, name: &str, position: Position, value: &Expr) {
        if let Expr::StringConstant(text, _) = value
            && is_secret_name(name)
            && is_literal_secret_value(text)
        {
            self.finding(position, Rule::LiteralSecret, format!("`{name}` is a secret written as a literal")).hint =
                Some(format!(
                    "read it with secret(\"{name}\") (from env RUNBOOK_SECRET_{} or -e {name}=...)",
                    name.to_uppercase()
                ));
        }
    }

    fn function_call(&mut self, call: &FnCallExpr, position: Position, body: &Body) {
        let name = call.name.as_str();
        if call.is_qualified() {
            self.module_call(call, position);
            return;
        }
        self.check_known(name, call.args.len(), position, false);
        let args = &call.args;
        match (name, args.len()) {
            ("task", 3 | 4) => {
                let mut listed_tags = Vec::new();
                if let Expr::StringConstant(task, at) = &args[0] {
                    self.facts.tasks.push(name_ref(task, *at));
                }
                if args.len() == 4 {
                    match map_entries(&args[2]) {
                        Some(entries) => {
                            self.notified_in(entries);
                            let (findings, tags) = check_task_options(&self.file, entries, task_option_names(), "task");
                            self.facts.findings.extend(findings);
                            listed_tags = tags.tags.clone();
                            self.facts.tags.extend(tags.tags);
                            self.facts.dynamic_tags |= tags.dynamic;
                        }
                        None => self.facts.dynamic_tags = true,
                    }
                }
                let name = match &args[0] {
                    Expr::StringConstant(task, _) => Some(task.to_string()),
                    _ => None,
                };
                self.facts.outline.push(OutlineItem::Task { name, tags: listed_tags });
            }
            ("group", 1) => {
                if let Expr::StringConstant(group, at) = &args[0] {
                    self.facts.groups.push(name_ref(group, *at));
                }
            }
            ("host", 1) => {
                if let Expr::StringConstant(host, at) = &args[0] {
                    self.facts.hosts.push(name_ref(host, *at));
                }
            }
            ("local_run", 2) => {
                if let Some(entries) = map_entries(&args[1]) {
                    self.facts.findings.extend(check_primitive_options(&self.file, name, entries, LOCAL_RUN_OPTIONS));
                }
            }
            ("flush_handlers", 0) if body.task.is_some() => {
                self.finding(
                    position,
                    Rule::FlushHandlersInTask,
                    "flush_handlers() inside a task body: the run refuses it on every host",
                )
                .hint = Some(
                    "call flush_handlers() between tasks, at the top level of the playbook (or in a function called there)"
                        .to_string(),
                );
            }
            ("handler", 2) => {
                if let Expr::StringConstant(handler, at) = &args[0] {
                    self.facts.handlers.push(name_ref(handler, *at));
                }
            }
            // `tagged(tags, || ...)`: a role's tags, known to --tags like a task's.
            ("tagged", 2) => match &args[0] {
                Expr::StringConstant(tag, _) => {
                    self.facts.tags.insert(tag.to_string());
                }
                Expr::Array(items, _) if items.iter().all(|item| matches!(item, Expr::StringConstant(..))) => {
                    for item in items.iter() {
                        if let Expr::StringConstant(tag, _) = item {
                            self.facts.tags.insert(tag.to_string());
                        }
                    }
                }
                _ => self.facts.dynamic_tags = true,
            },
            ("include", 1 | 2) => {
                if let Expr::StringConstant(included, at) = &args[0] {
                    let path = self.dir.join(included.as_str());
                    if path.is_file() {
                        let tags = args
                            .get(1)
                            .and_then(map_entries)
                            .map(|entries| check_task_options(&self.file, entries, INCLUDE_OPTIONS, "include").1.tags)
                            .unwrap_or_default();
                        self.facts.outline.push(OutlineItem::Include { path: path.clone(), tags });
                        self.facts.includes.push(path);
                    } else {
                        let message = format!("cannot find included file \"{included}\"");
                        self.finding(*at, Rule::UnresolvedImport, message).hint = Some(format!(
                            "include paths are relative to the playbook's folder ({})",
                            display_dir(&self.dir)
                        ));
                    }
                }
                if args.len() == 2 {
                    match map_entries(&args[1]) {
                        Some(entries) => {
                            let (findings, tags) = check_task_options(&self.file, entries, INCLUDE_OPTIONS, "include");
                            self.facts.findings.extend(findings);
                            self.facts.tags.extend(tags.tags);
                            self.facts.dynamic_tags |= tags.dynamic;
                        }
                        None => self.facts.dynamic_tags = true,
                    }
                }
            }
            _ => {}
        }
    }

    fn method_call(&mut self, call: &FnCallExpr, position: Position, path: &[ASTNode], body: &Body) {
        let name = call.name.as_str();
        let args = &call.args;
        self.check_known(name, args.len(), position, true);
        let options = |index: usize| args.get(index).and_then(map_entries);
        for index in 0..args.len() {
            if let (Some(names), Some(entries)) = (options_of(name, true, args.len(), index), options(index)) {
                self.facts.findings.extend(check_primitive_options(&self.file, name, entries, names));
                self.notified_in(entries);
            }
        }
        match (name, args.len()) {
            ("run", 1 | 2) => self.run_guard(call, position, path, body),
            ("template", 2..=4) => self.template_call(call, body),
            ("upload", 2 | 3) => self.upload_call(call, body),
            ("sysctl", 1 | 2) => {
                let opts = options(1);
                let target = opts
                    .and_then(|entries| entries.iter().find(|(key, _)| key.name == "file"))
                    .map(|(_, value)| match value {
                        Expr::StringConstant(file, _) => file.to_string(),
                        _ => "?".to_string(),
                    })
                    .unwrap_or_else(|| "/etc/sysctl.d/99-runbook.conf".to_string());
                let mut maps = Vec::new();
                value_maps_of(&args[0], body, &mut maps);
                for entries in &maps {
                    self.sysctl.add(&target, entries);
                }
            }
            ("notify", 1) => {
                if let Expr::StringConstant(handler, at) = &args[0] {
                    self.facts.notified.push(name_ref(handler, *at));
                }
            }
            ("in_group", 1) => {
                if let Expr::StringConstant(group, at) = &args[0] {
                    self.facts.groups.push(name_ref(group, *at));
                }
            }
            _ => {}
        }
    }

    /// The literal handler names of a `notify:` entry (a name or an array of names).
    fn notified_in(&mut self, entries: &[(Ident, Expr)]) {
        for (_, value) in entries.iter().filter(|(key, _)| key.name == "notify") {
            match value {
                Expr::StringConstant(handler, at) => self.facts.notified.push(name_ref(handler, *at)),
                Expr::Array(items, _) => {
                    for item in items.iter() {
                        if let Expr::StringConstant(handler, at) = item {
                            self.facts.notified.push(name_ref(handler, *at));
                        }
                    }
                }
                _ => {}
            }
        }
    }

    /// `h.run("literal")` with no guard, in a task body, not under a condition: changed on every run.
    fn run_guard(&mut self, call: &FnCallExpr, position: Position, path: &[ASTNode], body: &Body) {
        if body.named_fn || body.task.as_ref().is_some_and(|task| task.conditional) {
            return;
        }
        if !matches!(call.args[0], Expr::StringConstant(..) | Expr::InterpolatedString(..)) {
            return;
        }
        let guarded = match call.args.get(1) {
            None => false,
            Some(options) => match map_entries(options) {
                Some(entries) => entries.iter().any(|(key, _)| RUN_GUARDS.contains(&key.name.as_str())),
                None => true,
            },
        };
        let conditional = path[..path.len() - 1].iter().any(|node| {
            matches!(
                node,
                ASTNode::Stmt(Stmt::If(..) | Stmt::Switch(..) | Stmt::While(..) | Stmt::Do(..))
                    | ASTNode::Expr(Expr::And(..) | Expr::Or(..) | Expr::Coalesce(..))
            )
        });
        if !guarded && !conditional {
            self.finding(position, Rule::RunWithoutGuard, "this command runs, and reports changed, on every run")
                .hint = Some(
                "add `creates`, `removes`, `unless` or `onlyif` so a second run changes nothing, `check_safe: true` for a read-only query, or run it under an `if`"
                    .to_string(),
            );
        }
    }

    /// `h.upload("literal", ...)`: the source must exist, relative to the playbook's folder.
    fn upload_call(&mut self, call: &FnCallExpr, body: &Body) {
        let Expr::StringConstant(src, at) = &call.args[0] else {
            return;
        };
        let path = self.dir.join(src.as_str());
        if path.is_file() || body.named_fn {
            return;
        }
        let near = nearest_file(src, &path);
        self.finding(*at, Rule::UploadMissing, format!("upload source \"{src}\" does not exist")).hint =
            Some(near.unwrap_or_else(|| {
                format!("upload sources are relative to the playbook's folder: looked for {}", path.display())
            }));
    }

    fn template_call(&mut self, call: &FnCallExpr, body: &Body) {
        let Expr::StringConstant(src, at) = &call.args[0] else {
            return;
        };
        let mut path = self.dir.join(src.as_str());
        if body.named_fn
            && let Some(playbook_dir) = &self.playbook_dir
            && playbook_dir.join(src.as_str()).is_file()
        {
            path = playbook_dir.join(src.as_str());
        }
        if !path.is_file() && body.named_fn {
            // A function (a stdlib module's, typically) renders relative to the folder of the playbook that
            // calls it, which is not known here.
            return;
        }
        if !path.is_file() {
            let near = nearest_file(src, &path);
            self.finding(*at, Rule::TemplateMissing, format!("template \"{src}\" does not exist")).hint =
                Some(near.unwrap_or_else(|| {
                    format!("template paths are relative to the playbook's folder: looked for {}", path.display())
                }));
            return;
        }
        let passed = match call.args.get(2) {
            None => Some(BTreeSet::new()),
            Some(vars) => known_keys(vars, body),
        };
        self.facts.templates.push(TemplateCall {
            path,
            line: at.line().unwrap_or(0),
            column: at.position().unwrap_or(0),
            passed,
            hosts: body.task.as_ref().map(|task| task.hosts.clone()).unwrap_or(HostSet::Unknown),
        });
    }

    fn module_call(&mut self, call: &FnCallExpr, position: Position) {
        if call.namespace.path.len() != 1 {
            return;
        }
        let alias = call.namespace.root();
        let Some(Some(module)) = self.aliases.get(alias) else {
            return;
        };
        let name = call.name.as_str();
        let count = call.args.len();
        match module.functions.get(name) {
            None => {
                let hint = did_you_mean_hint(name, module.functions.keys().map(String::as_str));
                let message = format!("module `{alias}` has no function `{name}`");
                self.finding(position, Rule::UnknownFunction, message).hint = hint;
            }
            Some(arities) if !arities.accepts(count) => {
                let described = arities.describe(0);
                let plural = if described == "1" { "argument" } else { "arguments" };
                let message = format!("`{alias}::{name}(...)` takes {described} {plural}, not {count}");
                self.finding(position, Rule::WrongArity, message);
            }
            Some(_) => {
                let declared = module.options.get(&(name.to_string(), count));
                if let Some(declared) = declared
                    && let Some(entries) = call.args.get(declared.param).and_then(map_entries)
                {
                    let function = format!("{alias}::{name}");
                    let findings = check_module_options(&self.file, &function, entries, &declared.names);
                    self.facts.findings.extend(findings);
                    // A function that takes `notify` hands it on: the handler named must exist.
                    if declared.names.iter().any(|option| option == "notify") {
                        self.notified_in(entries);
                    }
                }
            }
        }
    }

    /// A call of a function (or, with `method`, a method: the object is one more argument) that some
    /// registered or script function must accept.
    fn check_known(&mut self, name: &str, count: usize, position: Position, method: bool) {
        let registered = self.engine.arities(name);
        let script = self.script_fns.get(name).cloned();
        if registered.is_none() && script.is_none() {
            if (!method && self.variables.contains(name)) || (method && self.closure_keys.contains(name)) {
                return;
            }
            let known: Vec<&str> = self
                .engine
                .function_names()
                .chain(self.script_fns.keys().map(String::as_str).filter(|n| !n.contains('$')))
                .collect();
            let hint = did_you_mean_hint(name, known.iter().copied());
            let message =
                if method { format!("unknown method `.{name}(...)`") } else { format!("unknown function `{name}`") };
            self.finding(position, Rule::UnknownFunction, message).hint = hint;
            return;
        }
        let accepted = if method {
            registered.as_ref().is_some_and(|a| a.accepts(count + 1))
                || script.as_ref().is_some_and(|a| a.accepts(count) || a.accepts(count + 1))
        } else {
            registered.as_ref().is_some_and(|a| a.accepts(count)) || script.as_ref().is_some_and(|a| a.accepts(count))
        };
        if accepted {
            return;
        }
        let mut counts: BTreeSet<usize> = BTreeSet::new();
        if let Some(Arities::Set(set)) = &registered {
            counts.extend(set.iter().filter_map(|n| if method { n.checked_sub(1) } else { Some(*n) }));
        }
        if let Some(Arities::Set(set)) = &script {
            counts.extend(set.iter().copied());
        }
        let described = Arities::Set(counts).describe(0);
        let shown = if method { format!(".{name}(...)") } else { format!("{name}(...)") };
        let plural = if described == "1" { "argument" } else { "arguments" };
        self.finding(position, Rule::WrongArity, format!("`{shown}` takes {described} {plural}, not {count}"));
    }
}

/// "did you mean `templates/app.j2`?" when a file of the same folder has a near name.
fn nearest_file(written: &str, path: &Path) -> Option<String> {
    let wanted = path.file_name()?.to_str()?;
    let names: Vec<String> =
        std::fs::read_dir(path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")))
            .ok()?
            .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
            .collect();
    let near = crate::did_you_mean::did_you_mean(wanted, names.iter().map(String::as_str))?;
    let prefix = &written[..written.len().saturating_sub(wanted.len())];
    Some(format!("did you mean `{prefix}{near}`?"))
}

fn name_ref(name: &str, position: Position) -> NameRef {
    NameRef { name: name.to_string(), line: position.line().unwrap_or(0), column: position.position().unwrap_or(0) }
}

fn display_dir(dir: &Path) -> String {
    if dir.as_os_str().is_empty() { ".".to_string() } else { dir.display().to_string() }
}

/// The entries of a map literal.
pub fn map_entries(expr: &Expr) -> Option<&[(Ident, Expr)]> {
    match expr {
        Expr::Map(map, _) => Some(&map.0[..]),
        _ => None,
    }
}

/// The variable at the root of an assignment target: `x`, `x.key`, `x[i].key`.
fn root_variable(expr: &Expr) -> Option<&str> {
    match expr {
        Expr::Dot(binary, ..) | Expr::Index(binary, ..) => root_variable(&binary.lhs),
        other => variable_name(other),
    }
}

/// The first property of a chain (`site_title` in `site_title`, `site_title.len()`, `site_title.x`).
fn first_property(expr: &Expr) -> Option<(&str, Position)> {
    match expr {
        Expr::Property(property, position) => Some((property.2.as_str(), *position)),
        Expr::Dot(binary, ..) | Expr::Index(binary, ..) => first_property(&binary.lhs),
        _ => None,
    }
}

fn variable_name(expr: &Expr) -> Option<&str> {
    match expr {
        Expr::Variable(variable, ..) if variable.2.is_empty() => Some(variable.1.as_str()),
        _ => None,
    }
}

/// The name of the closure (`anon$...`) an argument passes, with or without captured variables.
fn closure_name(expr: &Expr) -> Option<String> {
    let mut found = None;
    expr.walk(&mut Vec::new(), &mut |path: &[ASTNode]| {
        match path.last() {
            Some(ASTNode::Expr(Expr::DynamicConstant(value, _))) => {
                if let Some(pointer) = Dynamic::clone(value).try_cast::<FnPtr>() {
                    found = Some(pointer.fn_name().to_string());
                }
            }
            Some(ASTNode::Expr(Expr::StringConstant(text, _))) if text.starts_with("anon$") => {
                found = Some(text.to_string());
            }
            _ => {}
        }
        found.is_none()
    });
    found
}

/// What the `hosts` argument of a task names: `hosts()`, `group("x")`, `host("x")`, or a top-level
/// variable bound to one of them.
fn host_set(expr: &Expr, top: &[Stmt], depth: usize) -> HostSet {
    match expr {
        Expr::FnCall(call, _) if !call.is_qualified() => match (call.name.as_str(), &call.args[..]) {
            ("hosts", []) => HostSet::All,
            ("group", [Expr::StringConstant(name, _)]) => HostSet::Group(name.to_string()),
            ("host", [Expr::StringConstant(name, _)]) => HostSet::Host(name.to_string()),
            _ => HostSet::Unknown,
        },
        _ if depth < 4 => match variable_name(expr) {
            Some(name) => {
                let values = lets(top, name);
                match values.as_slice() {
                    [value] => host_set(value, top, depth + 1),
                    _ => HostSet::Unknown,
                }
            }
            None => HostSet::Unknown,
        },
        _ => HostSet::Unknown,
    }
}

/// Values bound by `let name = ...` anywhere in `statements` (not inside closures or other functions).
fn lets<'a>(statements: &'a [Stmt], name: &str) -> Vec<&'a Expr> {
    let mut out = Vec::new();
    lets_into(statements, name, &mut out);
    out
}

fn lets_into<'a>(statements: &'a [Stmt], name: &str, out: &mut Vec<&'a Expr>) {
    for statement in statements {
        match statement {
            Stmt::Var(var, ..) if var.0.name == name => out.push(&var.1),
            Stmt::If(flow, _) | Stmt::While(flow, _) | Stmt::Do(flow, ..) | Stmt::TryCatch(flow, _) => {
                lets_into(flow.body.statements(), name, out);
                lets_into(flow.branch.statements(), name, out);
            }
            Stmt::For(for_loop, _) => lets_into(for_loop.2.body.statements(), name, out),
            Stmt::Block(block) => lets_into(block.statements(), name, out),
            _ => {}
        }
    }
}

/// The map literals an expression evaluates to (through `if`/`else` branches and blocks); false when some
/// branch is not a map literal.
fn value_maps(expr: &Expr, out: &mut Vec<Vec<MapEntry>>) -> bool {
    match expr {
        Expr::Map(map, _) => {
            out.push(map_summary(&map.0));
            true
        }
        Expr::Stmt(block) => block_value_maps(block, out),
        _ => false,
    }
}

fn block_value_maps(block: &StmtBlock, out: &mut Vec<Vec<MapEntry>>) -> bool {
    match block.statements().last() {
        Some(Stmt::Expr(expr)) => value_maps(expr, out),
        Some(Stmt::If(flow, _)) => {
            let body = block_value_maps(&flow.body, out);
            let branch = block_value_maps(&flow.branch, out);
            body && branch
        }
        Some(Stmt::Block(inner)) => block_value_maps(inner, out),
        _ => false,
    }
}

/// Map literals an argument stands for: itself, or the `let`s of the variable it names (in this body first,
/// then at the top level). Returns whether that is all of it.
fn value_maps_of(expr: &Expr, body: &Body, out: &mut Vec<Vec<MapEntry>>) -> bool {
    let Some(name) = variable_name(expr) else {
        return value_maps(expr, out);
    };
    let Some(values) = body.own.lets.get(name).or_else(|| body.top.lets.get(name)) else {
        return false;
    };
    let mut complete = true;
    for value in values {
        out.extend(value.maps.iter().cloned());
        complete &= value.complete;
    }
    complete
}

/// The keys a vars argument is known to have: a literal map, or a variable only ever bound to literal maps
/// (plus `name.key = ...` assignments). `None` when some value is computed.
fn known_keys(expr: &Expr, body: &Body) -> Option<BTreeSet<String>> {
    let mut maps = Vec::new();
    if !value_maps_of(expr, body, &mut maps) {
        return None;
    }
    let mut keys: BTreeSet<String> = maps.iter().flat_map(|entries| entries.iter().map(|e| e.key.clone())).collect();
    if let Some(name) = variable_name(expr) {
        if body.own.computed.contains(name) || body.top.computed.contains(name) {
            return None;
        }
        for bindings in [body.own, body.top] {
            if let Some(assigned) = bindings.assigned.get(name) {
                keys.extend(assigned.iter().cloned());
            }
        }
    }
    Some(keys)
}
