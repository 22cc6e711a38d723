//! How a host closure is called: the closure of a task or a handler runs on worker threads, and Rhai needs the
//! context it is called in (the script's functions, its modules). Three places call one: a task inside the
//! script, the handlers pending when the script ended, and a handler declared in an imported module.

use rhai::{AST, Dynamic, Engine, EvalAltResult, FnPtr, NativeCallContext};

use super::declared_handler::DeclaredContext;
use super::host_handle::HostHandle;

/// How a host closure is called: from inside the script (a task, `flush_handlers()`), or after the script
/// ended (the handlers still pending at the end of the playbook).
pub(super) enum Caller<'c, 'a> {
    Within(&'c NativeCallContext<'a>),
    After(&'c Engine, &'c AST),
    /// In the context the closure was declared in (a handler declared in an imported module): its functions
    /// — the closure itself is one — are found only there.
    Declared(&'c Engine, &'c DeclaredContext),
}

impl Caller<'_, '_> {
    pub(super) fn engine(&self) -> &Engine {
        match self {
            Caller::Within(context) => context.engine(),
            Caller::After(engine, _) | Caller::Declared(engine, _) => engine,
        }
    }

    pub(super) fn call(&self, body: &FnPtr, host: &HostHandle) -> Result<Dynamic, Box<EvalAltResult>> {
        match self {
            Caller::Within(context) => body.call_within_context::<Dynamic>(context, (Dynamic::from(host.clone()),)),
            Caller::After(engine, ast) => body.call::<Dynamic>(engine, ast, (Dynamic::from(host.clone()),)),
            Caller::Declared(engine, stored) => {
                #[allow(deprecated)] // "volatile", not deprecated: Rhai's only way to call back into a saved context
                let context = NativeCallContext::from_stored_data(engine, stored);
                body.call_within_context::<Dynamic>(&context, (Dynamic::from(host.clone()),))
            }
        }
    }
}
