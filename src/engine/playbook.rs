//! One playbook's life: the Rhai engine it runs in (the runbook surface registered over the run's
//! `Runtime`), the constants it starts with, compiling it with file:line:col errors, `include` of stages, and
//! running it to its end, where the pending handlers run.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rhai::{Array, Dynamic, Engine, EvalAltResult, FnPtr, Map, NativeCallContext, Scope};

use super::fatal_stop::FatalStop;
use super::host_handle::{HostHandle, to_map};
use super::module_resolver::StdlibResolver;
use super::playbook_error::{LocatedError, PlaybookError};
use super::runtime::Runtime;
use super::script_error;
use super::task_options::TaskOptions;
use super::task_runner::run_task;
use super::vars_map::{self, VarsMap};
use crate::analysis::script_language;
use crate::report::Event;

/// Builds the Rhai engine a playbook runs in: the HostHandle type, the global functions and the primitives,
/// all bound to this run's [`Runtime`].
pub fn build_engine(runtime: &Arc<Runtime>) -> Engine {
    let mut engine = Engine::new();
    script_language::apply_parse_settings(&mut engine);
    // Rhai's default depth is 8 in a debug build and 64 in a release one: a role (a module function) called
    // through `tagged`, running a task whose closure calls a stdlib function, is deeper than 8. Both builds
    // get the release depth; host threads have the stack for it (runtime::HOST_THREAD_STACK).
    engine.set_max_call_levels(64);
    engine.set_module_resolver(StdlibResolver::new(&runtime.playbook_dir));
    {
        let runtime = runtime.clone();
        engine.on_print(move |text| {
            runtime.emit(Event::Print { host: None, message: runtime.redactor.redact(text) });
        });
    }
    {
        let runtime = runtime.clone();
        engine.on_debug(move |text, source, position| {
            let place = match (source, position.line()) {
                (Some(source), Some(line)) => format!("{source}:{line}: "),
                _ => String::new(),
            };
            runtime.emit(Event::Print { host: None, message: runtime.redactor.redact(&format!("{place}{text}")) });
        });
    }
    register_host_type(&mut engine);
    vars_map::register(&mut engine);
    register_globals(&mut engine, runtime);
    super::primitive_bindings::register(&mut engine, runtime);
    super::handlers::register(&mut engine, runtime);
    super::local_run::register(&mut engine, runtime);
    super::local_file::register(&mut engine, runtime);
    engine
}

fn register_host_type(engine: &mut Engine) {
    engine
        .register_type_with_name::<HostHandle>("Host")
        .register_get("name", |h: &mut HostHandle| h.state.name.clone())
        .register_get("address", |h: &mut HostHandle| h.state.address.clone())
        .register_get("vars", |h: &mut HostHandle| h.vars_view())
        .register_get("groups", |h: &mut HostHandle| {
            h.state.groups.iter().map(|g| Dynamic::from(g.clone())).collect::<Array>()
        })
        // Modules cannot see the playbook's `check_mode` constant (a module is its own scope): a module
        // function that must tell a planned step from a run one asks the host it was given.
        .register_get("check_mode", |h: &mut HostHandle| h.check_mode())
        .register_fn("in_group", |h: &mut HostHandle, group: &str| h.state.groups.iter().any(|g| g == group))
        .register_fn("to_string", |h: &mut HostHandle| h.state.name.clone())
        .register_fn("to_debug", |h: &mut HostHandle| format!("Host({})", h.state.name));
}

fn host_handle(runtime: &Arc<Runtime>, name: &str) -> Option<HostHandle> {
    runtime.host(name).map(|state| HostHandle::new(state.clone(), runtime.clone()))
}

fn register_globals(engine: &mut Engine, runtime: &Arc<Runtime>) {
    // Rhai's own `trim` trims in place and returns nothing, so `h.run(..).stdout.trim()` — the way every
    // operator writes it — would be `()`. This one does both: trims in place and returns the result.
    engine.register_fn("trim", |text: &mut rhai::ImmutableString| -> rhai::ImmutableString {
        let trimmed: rhai::ImmutableString = text.trim().into();
        *text = trimmed.clone();
        trimmed
    });

    let rt = runtime.clone();
    engine.register_fn("hosts", move || -> Array {
        rt.selected.iter().filter_map(|name| host_handle(&rt, name)).map(Dynamic::from).collect()
    });

    let rt = runtime.clone();
    engine.register_fn("group", move |name: &str| -> Result<Array, Box<EvalAltResult>> {
        let Some(members) = rt.groups.get(name) else {
            let known: Vec<&str> = rt.groups.keys().map(String::as_str).collect();
            let hint = crate::did_you_mean::did_you_mean(name, known.iter().copied())
                .map(|near| format!(" Did you mean \"{near}\"?"))
                .unwrap_or_default();
            return Err(format!("no group \"{name}\" in the inventory.{hint} Groups: {}", known.join(", ")).into());
        };
        Ok(members
            .iter()
            .filter(|name| rt.selected.contains(name))
            .filter_map(|name| host_handle(&rt, name))
            .map(Dynamic::from)
            .collect())
    });

    // Ansible's `groups['x']`: every member of the group in the inventory, --limit or not. Day-2 playbooks
    // run with `--limit NEW` and still need the cluster's first master, the ha hosts, every /etc/hosts.
    let rt = runtime.clone();
    engine.register_fn("inventory_group", move |name: &str| -> Result<Array, Box<EvalAltResult>> {
        let Some(members) = rt.groups.get(name) else {
            let known: Vec<&str> = rt.groups.keys().map(String::as_str).collect();
            return Err(format!("no group \"{name}\" in the inventory. Groups: {}", known.join(", ")).into());
        };
        Ok(members
            .iter()
            .filter_map(|name| rt.host(name))
            .map(|state| HostHandle::beyond_limit(state.clone(), rt.clone()))
            .map(Dynamic::from)
            .collect())
    });

    let rt = runtime.clone();
    engine.register_fn("host", move |name: &str| -> Result<HostHandle, Box<EvalAltResult>> {
        host_handle(&rt, name).ok_or_else(|| {
            let hint = crate::did_you_mean::did_you_mean(name, rt.hosts.keys().map(String::as_str))
                .map(|near| format!(" Did you mean \"{near}\"?"))
                .unwrap_or_default();
            format!("no host \"{name}\" in the inventory.{hint}").into()
        })
    });

    let rt = runtime.clone();
    engine.register_fn("task", move |context: NativeCallContext, name: &str, hosts: Dynamic, body: FnPtr| {
        task(&context, &rt, name, hosts, Map::new(), body)
    });
    let rt = runtime.clone();
    engine.register_fn(
        "task",
        move |context: NativeCallContext, name: &str, hosts: Dynamic, options: Map, body: FnPtr| {
            task(&context, &rt, name, hosts, options, body)
        },
    );

    let rt = runtime.clone();
    engine.register_fn("secret", move |name: &str| -> Result<String, Box<EvalAltResult>> {
        let env_name = format!("RUNBOOK_SECRET_{}", name.to_uppercase().replace(['-', '.'], "_"));
        let value = std::env::var(&env_name).ok().or_else(|| match rt.global_vars.get(name) {
            Some(serde_json::Value::String(text)) => Some(text.clone()),
            Some(other) if !other.is_null() => Some(other.to_string()),
            _ => None,
        });
        match value {
            Some(value) => {
                rt.redactor.add(&value);
                Ok(value)
            }
            None => Err(format!("secret \"{name}\" is not set: export {env_name}=... or pass -e {name}=...").into()),
        }
    });

    let rt = runtime.clone();
    engine.register_fn("warn", move |message: &str| rt.warn(None, message));

    // What each host's run of a task came to — also the hosts it failed on, which `task`'s returned map (the
    // closures' values) leaves out: `results("deploy")["web1"].changed`.
    let rt = runtime.clone();
    engine.register_fn("results", move |name: &str| -> Result<Map, Box<EvalAltResult>> {
        if let Some(results) = rt.task_results.lock().unwrap().get(name) {
            return Ok(results.iter().map(|(host, result)| (host.as_str().into(), result.to_map().into())).collect());
        }
        let names = rt.task_names.lock().unwrap().clone();
        if names.iter().any(|known| known == name) {
            return Ok(Map::new());
        }
        let hint = crate::did_you_mean::did_you_mean(name, names.iter().map(String::as_str))
            .map(|near| format!(" Did you mean \"{near}\"?"))
            .unwrap_or_default();
        Err(format!("results(\"{name}\"): no task of that name has run yet.{hint}").into())
    });

    let rt = runtime.clone();
    engine
        .register_fn("include", move |context: NativeCallContext, path: &str| include(&context, &rt, path, Map::new()));
    let rt = runtime.clone();
    engine.register_fn("include", move |context: NativeCallContext, path: &str, options: Map| {
        include(&context, &rt, path, options)
    });

    // `tagged(["web"], || web::apply(...))`: every task the closure runs (in any module it calls) gets the
    // tags, as `include`'s tags do for a file — a role's tags.
    let rt = runtime.clone();
    engine.register_fn("tagged", move |context: NativeCallContext, tags: Dynamic, body: FnPtr| {
        let options = TaskOptions::parse(&Map::from_iter([("tags".into(), tags)]))?;
        let depth = options.tags.len();
        rt.include_tags.lock().unwrap().extend(options.tags);
        let result = body.call_within_context::<Dynamic>(&context, ());
        let mut inherited = rt.include_tags.lock().unwrap();
        let keep = inherited.len() - depth;
        inherited.truncate(keep);
        result
    });
}

fn task(
    context: &NativeCallContext,
    runtime: &Arc<Runtime>,
    name: &str,
    hosts: Dynamic,
    options: Map,
    body: FnPtr,
) -> Result<Map, Box<EvalAltResult>> {
    let options = TaskOptions::parse(&options)?;
    let hosts = hosts_argument(hosts)?;
    let inherited = runtime.include_tags.lock().unwrap().clone();
    let result = run_task(context, runtime, name, hosts, options, body, &inherited);
    if let Err(error) = &result
        && FatalStop::find(error).is_some()
    {
        runtime.fatal_stop.store(true, std::sync::atomic::Ordering::SeqCst);
    }
    result
}

/// The `hosts` argument of `task`: an array of hosts, or one host.
fn hosts_argument(hosts: Dynamic) -> Result<Vec<HostHandle>, Box<EvalAltResult>> {
    if hosts.is::<HostHandle>() {
        return Ok(vec![hosts.cast::<HostHandle>()]);
    }
    let type_name = hosts.type_name();
    let Some(array) = hosts.try_cast::<Array>() else {
        return Err(
            format!("task hosts must be an array of hosts (hosts(), group(\"x\")) or a host, not {type_name}").into()
        );
    };
    array
        .into_iter()
        .map(|item| {
            let type_name = item.type_name();
            item.try_cast::<HostHandle>()
                .ok_or_else(|| format!("task hosts must hold hosts, found a {type_name}").into())
        })
        .collect()
}

/// `include("stage.rhai", #{ tags: [...] })`: runs another playbook file in a fresh scope, its tasks tagged
/// with the given tags too. This is how ha-cluster.rhai strings the stages together.
fn include(
    context: &NativeCallContext,
    runtime: &Arc<Runtime>,
    path: &str,
    options: Map,
) -> Result<Dynamic, Box<EvalAltResult>> {
    let mut tags = Vec::new();
    let mut params = None;
    for (key, value) in &options {
        match key.as_str() {
            "tags" => {
                let options = TaskOptions::parse(&Map::from_iter([(key.clone(), value.clone())]))?;
                tags = options.tags;
            }
            "params" => match value.clone().try_cast::<Map>() {
                Some(map) => params = Some(map),
                None => return Err(format!("include option `params` must be a map, not {}", value.type_name()).into()),
            },
            other => return Err(format!("unknown include option `{other}` (known: tags, params)").into()),
        }
    }
    // Relative to the file that includes it (as the README and lint say), not to the top playbook.
    let including = context.call_source().map(Path::new).and_then(Path::parent).unwrap_or(&runtime.playbook_dir);
    let file = including.join(path);
    let text = std::fs::read_to_string(&file)
        .map_err(|e| -> Box<EvalAltResult> { format!("cannot read {}: {e}", file.display()).into() })?;
    let engine = context.engine();
    // The included file's parameters, strict like `vars`: a role reading a parameter nobody passed is an
    // error naming it (merge defaults first: `let p = #{ port: 80 } + params;`).
    let params = VarsMap::new(format!("the params of {path}"), params.unwrap_or_default());
    let mut scope = scope_with_params(runtime, params);
    let ast = compile(engine, &scope, &text, &file)?;
    let depth = tags.len();
    runtime.include_tags.lock().unwrap().extend(tags);
    let result = engine.eval_ast_with_scope::<Dynamic>(&mut scope, &ast);
    let mut inherited = runtime.include_tags.lock().unwrap();
    let keep = inherited.len() - depth;
    inherited.truncate(keep);
    result.map_err(|error| {
        Box::new(EvalAltResult::ErrorInModule(file.display().to_string(), error, context.call_position()))
    })
}

/// The variables every playbook starts with.
pub fn standard_scope(runtime: &Runtime) -> Scope<'static> {
    // What `include(file, #{ params })` passes a file; a playbook run directly has none.
    scope_with_params(runtime, VarsMap::new("`params` (the playbook was not included with params)", Map::new()))
}

fn scope_with_params(runtime: &Runtime, params: VarsMap) -> Scope<'static> {
    let mut scope = Scope::new();
    scope.push_constant(
        script_language::VARS,
        VarsMap::new("the playbook's `vars` (inventory `all` vars and -e)", to_map(&runtime.global_vars))
            .with_resolver(crate::template::lazy_vars::LazyVars::new(
                "the playbook's `vars`",
                runtime.global_vars.clone(),
                serde_json::Map::new(),
                std::collections::HashMap::new(),
                runtime.literal_values(),
                crate::template::lazy_vars::Sources::default(),
            )),
    );
    scope.push_constant(script_language::CHECK_MODE, runtime.options.check);
    scope.push_constant(script_language::DIFF_MODE, runtime.options.diff);
    scope.push_constant(script_language::PARAMS, params);
    scope
}

/// Compiles a playbook; a syntax error comes back as `file:line:col: message`.
pub fn compile(engine: &Engine, scope: &Scope, text: &str, file: &Path) -> Result<rhai::AST, PlaybookError> {
    let mut ast = engine.compile_with_scope(scope, text).map_err(|error| {
        let position = error.position();
        let place = match (position.line(), position.position()) {
            (Some(line), Some(column)) => format!("{}:{line}:{column}", file.display()),
            (Some(line), None) => format!("{}:{line}", file.display()),
            _ => file.display().to_string(),
        };
        PlaybookError::Compile(LocatedError { place, message: error.err_type().to_string() })
    })?;
    ast.set_source(file.display().to_string());
    Ok(ast)
}

/// Runs a whole playbook file; returns the error (with file:line:col) if the script failed.
pub fn run_file(runtime: &Arc<Runtime>, file: &PathBuf) -> Result<(), PlaybookError> {
    let engine = build_engine(runtime);
    let mut scope = standard_scope(runtime);
    let text = std::fs::read_to_string(file).map_err(|source| PlaybookError::Read { file: file.clone(), source })?;
    // What can be found wrong without a host was found before the run started (cli's pre-flight, lint's
    // analysis): from here on, errors are the ones only a run can find.
    let ast = compile(&engine, &scope, &text, file)?;
    let describe =
        |error: Box<EvalAltResult>| PlaybookError::Script(script_error::locate(&error, &file.display().to_string()));
    let outcome = engine.run_ast_with_scope(&mut scope, &ast);
    // The end of the play flushes the handlers still pending; after a script error or a fatal stop only
    // with --force-handlers (Ansible's rule), never after Ctrl-C.
    if !runtime.is_interrupted() && (outcome.is_ok() || runtime.options.force_handlers) {
        let flushed = super::handlers::flush(runtime, &super::caller::Caller::After(&engine, &ast));
        super::handlers::report_left(runtime);
        outcome.map_err(describe)?;
        return flushed.map_err(describe);
    }
    super::handlers::report_left(runtime);
    outcome.map_err(describe)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::PathBuf;
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;

    use indexmap::IndexMap;

    use super::build_engine;
    use crate::engine::{RunOptions, Runtime};
    use crate::primitives::catalog::{FUNCTIONS, Receiver};
    use crate::report::{Event, Redactor, Reporter};

    struct Silent;

    impl Reporter for Silent {
        fn event(&self, _event: &Event) {}
    }

    fn runtime(tokio: &tokio::runtime::Runtime) -> Arc<Runtime> {
        Arc::new(Runtime::new(
            RunOptions::default(),
            PathBuf::from("catalog.rhai"),
            IndexMap::new(),
            Vec::new(),
            IndexMap::new(),
            IndexMap::new(),
            Arc::new(Silent),
            Redactor::new(),
            tokio.handle().clone(),
            Arc::new(AtomicBool::new(false)),
        ))
    }

    /// Lint reads the static catalog; the engine registers the real functions. They must be the same set, or
    /// lint would accept a call the run refuses (or the other way round).
    #[test]
    fn the_engine_registers_exactly_what_the_catalog_lists() {
        let tokio = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let engine = build_engine(&runtime(&tokio));
        let registered: BTreeSet<(String, usize)> = engine
            .collect_fn_metadata(None, |info| Some((info.metadata.name.to_string(), info.metadata.num_params)), false)
            .into_iter()
            .filter(|(name, _)| !name.contains('$'))
            .collect();
        let listed: BTreeSet<(String, usize)> = FUNCTIONS
            .iter()
            .flat_map(|f| {
                let object = usize::from(f.receiver != Receiver::None);
                f.arities.iter().map(move |n| (f.name.to_string(), n + object))
            })
            .collect();
        assert_eq!(registered, listed);
    }

    /// The analysis compiles every playbook with these constants defined (strict variables): a constant the
    /// run adds without the analysis knowing it would make lint refuse a playbook the run accepts.
    #[test]
    fn a_playbook_starts_with_exactly_the_constants_the_analysis_knows() {
        let tokio = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let scope = super::standard_scope(&runtime(&tokio));
        let names: BTreeSet<&str> = scope.iter_raw().map(|(name, _, _)| name).collect();
        let known: BTreeSet<&str> = crate::analysis::script_language::PLAYBOOK_CONSTANTS.into_iter().collect();
        assert_eq!(names, known);
    }
}
