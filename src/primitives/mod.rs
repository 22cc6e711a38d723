//! What a playbook can do to a host. Each primitive looks at the host first, decides, changes only what
//! differs (never in --check), and reports ok / changed / failed / skipped, with a diff when asked.
//!
//! Every function here is registered on the Rhai engine as a method of `Host`; its options map is checked
//! against the names it accepts, so a typo in a playbook is an error rather than a silently ignored key.

mod facts;
mod file_writer;
mod read;
mod reboot;
mod run;
mod step;
mod sysctl;
mod template;
mod upload;
mod wait_port;
mod write;

use std::sync::Arc;
use std::time::Duration;

use rhai::{Dynamic, Engine, EvalAltResult, Map};

use crate::engine::{Host, Runtime};

pub use facts::derive as derive_facts;
pub use file_writer::{FILE_OPTIONS, unified_diff};
pub use run::RUN_OPTIONS;
pub use sysctl::SYSCTL_OPTIONS;
// The template environment lives in `crate::template`; these names stay for the pre-flight and lint.
pub use crate::template::{
    CONTEXT_NAMES as TEMPLATE_CONTEXT_NAMES, environment as template_environment, render_text,
    undeclared_names as template_undeclared_names,
};
pub use wait_port::WAIT_PORT_OPTIONS;

type Result<T> = std::result::Result<T, Box<EvalAltResult>>;

pub fn register(engine: &mut Engine, runtime: &Arc<Runtime>) {
    engine.register_fn("run", |h: &mut Host, cmd: &str| run::run(h, cmd, &Map::new()));
    engine.register_fn("run", |h: &mut Host, cmd: &str, opts: Map| run::run(h, cmd, &opts));
    engine.register_fn("read", |h: &mut Host, path: &str| read::read(h, path));
    engine.register_fn("exists", |h: &mut Host, path: &str| read::exists(h, path));
    engine.register_fn("write", |h: &mut Host, content: &str, dest: &str| write::write(h, content, dest, &Map::new()));
    engine.register_fn("write", |h: &mut Host, content: &str, dest: &str, opts: Map| {
        write::write(h, content, dest, &opts)
    });
    engine.register_fn("upload", |h: &mut Host, src: &str, dest: &str| upload::upload(h, src, dest, &Map::new()));
    engine.register_fn("upload", |h: &mut Host, src: &str, dest: &str, opts: Map| upload::upload(h, src, dest, &opts));
    engine.register_fn("template", |h: &mut Host, src: &str, dest: &str| {
        template::template(h, src, dest, &Map::new(), &Map::new())
    });
    engine.register_fn("template", |h: &mut Host, src: &str, dest: &str, vars: Map| {
        template::template(h, src, dest, &vars, &Map::new())
    });
    engine.register_fn("template", |h: &mut Host, src: &str, dest: &str, vars: Map, opts: Map| {
        template::template(h, src, dest, &vars, &opts)
    });
    engine.register_fn("wait_port", |h: &mut Host, port: i64| wait_port::wait_port(h, port, &Map::new()));
    engine.register_fn("wait_port", |h: &mut Host, port: i64, opts: Map| wait_port::wait_port(h, port, &opts));
    engine.register_fn("sysctl", |h: &mut Host, keys: Map| sysctl::sysctl(h, &keys, &Map::new()));
    engine.register_fn("sysctl", |h: &mut Host, keys: Map, opts: Map| sysctl::sysctl(h, &keys, &opts));
    engine.register_fn("reboot", |h: &mut Host| reboot::reboot(h, 300));
    engine.register_fn("reboot", |h: &mut Host, timeout: i64| reboot::reboot(h, timeout));
    engine.register_fn("facts", |h: &mut Host| facts::facts(h));

    let rt = runtime.clone();
    engine.register_fn("wait_port", move |address: &str, port: i64| wait_global(&rt, address, port, 60));
    let rt = runtime.clone();
    engine.register_fn("wait_port", move |address: &str, port: i64, timeout: i64| {
        wait_global(&rt, address, port, timeout)
    });
}

fn wait_global(runtime: &Runtime, address: &str, port: i64, timeout: i64) -> Result<Dynamic> {
    wait_port::wait_from_controller(runtime, address, port, Duration::from_secs(timeout.max(1) as u64))
        .map(|_| Dynamic::UNIT)
        .map_err(|message| message.into())
}
