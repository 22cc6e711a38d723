//! What `handler(name, closure)` keeps until a flush runs it: the closure, and the context it was declared in.

use rhai::FnPtr;

/// Rhai's saved call context. Marked "volatile, may change" (hence Rhai's `deprecated`), and the only way to
/// call a closure later in the context it was made in.
#[allow(deprecated)]
pub(super) type DeclaredContext = rhai::NativeCallContextStore;

/// A declared handler: its closure, and the context it was declared in, where the closure can be called from
/// anywhere (an imported module's closure is unknown to the playbook's own functions).
pub struct DeclaredHandler {
    pub(super) body: FnPtr,
    pub(super) declared_in: DeclaredContext,
}
