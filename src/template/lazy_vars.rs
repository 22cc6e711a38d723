//! Variables as Ansible resolves them: a string value from the inventory, `group_vars`/`host_vars`, vars files
//! or `-e` is a template, rendered when it is read (not when it is loaded), against the same host's merged
//! variables, its facts, `hostvars`, `groups` and `group_names`. Without this a host got the literal text
//! `{{ inventory_hostname }}.{{ domain }}` written into its files.
//!
//! Resolution is lazy and cached per host, so a value without `{{`/`{%` costs nothing and an undefined reference
//! is an error only where its value is read, as in Ansible. A value that is one expression alone (`"{{ ports }}"`)
//! keeps the expression's type, as ansible-core 2.19's native templating does; anything else renders to text.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use indexmap::IndexMap;
use minijinja::value::{Enumerator, Object, ObjectRepr, Value as Jinja};
use serde_json::Value;

/// Answers a name the variables do not hold (Ansible's fact names, gathered on first use): `Ok(None)` when it
/// is not one of its names.
pub type FactSource = Arc<dyn Fn(&str) -> Result<Option<Value>, FactError> + Send + Sync>;
/// Why the facts could not be gathered: the gathering layer's own error (this module sits below it, so it
/// cannot name that type), kept whole as the cause.
pub type FactError = Box<dyn std::error::Error + Send + Sync>;

/// Why a variable's value could not be resolved. Each names the variable, whose variables they are and where
/// the value was written, as Ansible's "... is undefined" names the culprit.
#[derive(Debug, thiserror::Error)]
pub enum VarsError {
    /// The value reads itself through other values (`chain` is `a -> b -> a`).
    #[error("variable `{name}` of {owner} refers to itself ({chain}){}", defined_at(.origin))]
    Cycle { name: String, owner: String, chain: String, origin: Option<String> },
    /// The value reads a name nobody has.
    #[error("`{missing}` is undefined, in the value of `{name}` for {owner}{}", defined_at(.origin))]
    Undefined { missing: String, name: String, owner: String, origin: Option<String> },
    /// The value does not compile or render.
    #[error("{source}, in the value of `{name}` for {owner}{}", defined_at(.origin))]
    Render { name: String, owner: String, origin: Option<String>, source: ValueError },
    /// The value reads another variable whose own value failed: that failure, which names the real culprit.
    #[error("{source}")]
    Reads { name: String, source: Arc<VarsError> },
    /// `name` is a fact name and the facts could not be gathered.
    #[error("{source}")]
    Facts { name: String, source: FactError },
}

fn defined_at(origin: &Option<String>) -> String {
    origin.as_ref().map(|at| format!(" (defined at {at})")).unwrap_or_default()
}
/// Another host's variables by inventory name, for `hostvars[...]`, with the names only `hostvars` shows
/// (runbook's `address`), which win over its variables.
pub type HostvarsSource = Arc<dyn Fn(&str) -> Option<(Arc<LazyVars>, serde_json::Map<String, Value>)> + Send + Sync>;

/// Where names beyond the variables come from.
#[derive(Default, Clone)]
pub struct Sources {
    /// Names that are the same for every host of the run (`groups`, `omit`): one copy shared by all hosts, so a
    /// 1000-host inventory does not hold 1000 copies of its groups.
    pub shared: Arc<serde_json::Map<String, Value>>,
    pub facts: Option<FactSource>,
    pub hostvars: Option<HostvarsSource>,
}

/// One host's (or the play's) variables, each resolved on first read and kept.
pub struct LazyVars {
    /// "host web1", or "the playbook's `vars`": who the error is about.
    owner: String,
    /// The winning value of each variable, as written.
    raw: IndexMap<String, Value>,
    /// The variables whose values hold a template (found once, so a read of any other costs one lookup).
    templated: HashSet<String>,
    /// Names Ansible gives every host (`inventory_hostname`, `group_names`, `groups`, ...): below `raw`.
    base: serde_json::Map<String, Value>,
    /// Where each variable's winning value was written (`path:line`, or `-e`).
    origins: HashMap<String, String>,
    /// Values that are never templates (decrypted inline `!vault` values).
    literals: Arc<HashSet<String>>,
    sources: Sources,
    cache: Mutex<HashMap<String, Value>>,
    /// Itself, so a value's render can hand the variables to minijinja as an object.
    this: OnceLock<Weak<LazyVars>>,
}

thread_local! {
    /// The variables being resolved on this thread (owner address, name): a name met again is a cycle.
    static RESOLVING: RefCell<Vec<(usize, String)>> = const { RefCell::new(Vec::new()) };
    /// The error of a variable that could not be resolved inside a render, which minijinja only sees as
    /// undefined: the render's caller reports this one, which names the real culprit. A thread-local because
    /// minijinja's `Object::get_value` answers a value or nothing, never an error; shared (`Arc`) because the
    /// render that failed on it and the caller that reports it both keep it as their cause.
    static INNER_ERROR: RefCell<Option<Arc<VarsError>>> = const { RefCell::new(None) };
    /// The last name a render asked for and nobody had: what "undefined value" was about.
    static MISSING: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Whether a value holds a template anywhere (a string with `{{` or `{%`, also inside lists and maps).
pub fn needs_templating(value: &Value) -> bool {
    match value {
        Value::String(text) => is_template(text),
        Value::Array(items) => items.iter().any(needs_templating),
        Value::Object(map) => map.values().any(needs_templating),
        _ => false,
    }
}

fn is_template(text: &str) -> bool {
    text.contains("{{") || text.contains("{%")
}

/// The error left by a variable that failed inside the last render on this thread, taken.
pub fn take_inner_error() -> Option<Arc<VarsError>> {
    INNER_ERROR.with(|slot| slot.borrow_mut().take())
}

impl LazyVars {
    pub fn new(
        owner: impl Into<String>,
        raw: IndexMap<String, Value>,
        base: serde_json::Map<String, Value>,
        origins: HashMap<String, String>,
        literals: Arc<HashSet<String>>,
        sources: Sources,
    ) -> Arc<LazyVars> {
        let templated = raw
            .iter()
            .filter(|(_, value)| needs_templating(value) && !literals.contains(value.as_str().unwrap_or_default()))
            .map(|(name, _)| name.clone())
            .collect();
        let vars = Arc::new(LazyVars {
            owner: owner.into(),
            raw,
            templated,
            base,
            origins,
            literals,
            sources,
            cache: Mutex::new(HashMap::new()),
            this: OnceLock::new(),
        });
        let _ = vars.this.set(Arc::downgrade(&vars));
        vars
    }

    pub fn raw(&self) -> &IndexMap<String, Value> {
        &self.raw
    }

    /// Whether `name`'s value holds a template to resolve.
    pub fn is_templated(&self, name: &str) -> bool {
        self.templated.contains(name)
    }

    /// The resolved value of `name`: `Ok(None)` when no layer defines it (facts and Ansible's names included).
    pub fn get(&self, name: &str) -> Result<Option<Value>, VarsError> {
        if let Some(value) = self.raw.get(name) {
            if !self.is_templated(name) {
                return Ok(Some(value.clone()));
            }
            if let Some(done) = self.cache.lock().expect("vars cache").get(name) {
                return Ok(Some(done.clone()));
            }
            let me = (self as *const LazyVars as usize, name.to_string());
            let cycle = RESOLVING.with(|stack| {
                let stack = stack.borrow();
                stack.iter().position(|entry| *entry == me).map(|start| {
                    let mut chain: Vec<&str> = stack[start..].iter().map(|(_, n)| n.as_str()).collect();
                    chain.push(name);
                    chain.join(" -> ")
                })
            });
            if let Some(chain) = cycle {
                return Err(VarsError::Cycle {
                    name: name.to_string(),
                    owner: self.owner.clone(),
                    chain,
                    origin: self.origin(name),
                });
            }
            RESOLVING.with(|stack| stack.borrow_mut().push(me));
            let resolved = self.resolve(name, value);
            RESOLVING.with(|stack| stack.borrow_mut().pop());
            let resolved = resolved?;
            self.cache.lock().expect("vars cache").insert(name.to_string(), resolved.clone());
            return Ok(Some(resolved));
        }
        if let Some(value) = self.base.get(name).or_else(|| self.sources.shared.get(name)) {
            return Ok(Some(value.clone()));
        }
        match &self.sources.facts {
            Some(facts) => facts(name).map_err(|source| VarsError::Facts { name: name.to_string(), source }),
            None => Ok(None),
        }
    }

    /// Every variable resolved (for a template context or `to_map()`); the first failure is the error.
    pub fn resolve_all(&self) -> Result<serde_json::Map<String, Value>, VarsError> {
        let mut out = serde_json::Map::new();
        for name in self.raw.keys() {
            if let Some(value) = self.get(name)? {
                out.insert(name.clone(), value);
            }
        }
        Ok(out)
    }

    /// The variables as a minijinja object (what a template or a value's render reads).
    pub fn as_jinja(&self) -> Jinja {
        let this = self.this.get().and_then(Weak::upgrade).expect("LazyVars is built in an Arc");
        Jinja::from_object(Context(this))
    }

    fn origin(&self, name: &str) -> Option<String> {
        self.origins.get(name).cloned()
    }

    fn resolve(&self, name: &str, value: &Value) -> Result<Value, VarsError> {
        match value {
            Value::String(text) if is_template(text) && !self.literals.contains(text) => self.render(name, text),
            Value::Array(items) => {
                items.iter().map(|item| self.resolve(name, item)).collect::<Result<_, _>>().map(Value::Array)
            }
            Value::Object(map) => map
                .iter()
                .map(|(key, item)| Ok((key.clone(), self.resolve(name, item)?)))
                .collect::<Result<_, VarsError>>()
                .map(Value::Object),
            other => Ok(other.clone()),
        }
    }

    /// One string value rendered: one expression alone keeps its type; anything else is text.
    fn render(&self, name: &str, text: &str) -> Result<Value, VarsError> {
        let saved_inner = take_inner_error();
        MISSING.with(|slot| slot.borrow_mut().take());
        let result = render_value(text, self.as_jinja());
        let inner = take_inner_error();
        INNER_ERROR.with(|slot| *slot.borrow_mut() = saved_inner);
        let missing = MISSING.with(|slot| slot.borrow_mut().take());
        result.map_err(|error| {
            let name = name.to_string();
            if let Some(inner) = inner {
                INNER_ERROR.with(|slot| *slot.borrow_mut() = Some(inner.clone()));
                return VarsError::Reads { name, source: inner };
            }
            let (owner, origin) = (self.owner.clone(), self.origin(&name));
            match missing {
                Some(missing) if error.is_undefined() => VarsError::Undefined { missing, name, owner, origin },
                _ => VarsError::Render { name, owner, origin, source: error },
            }
        })
    }
}

/// Why one variable value did not render.
#[derive(Debug, thiserror::Error)]
pub enum ValueError {
    /// A lone expression that does not compile: minijinja's whole message.
    #[error("{0}")]
    Compile(#[source] minijinja::Error),
    #[error("{}", describe(.0))]
    Render(#[source] minijinja::Error),
    /// A lone expression whose value is undefined.
    #[error("undefined value")]
    Undefined,
    #[error("{0}")]
    NotData(#[source] serde_json::Error),
}

impl ValueError {
    /// The render met a name nobody had (what `MISSING` then names).
    fn is_undefined(&self) -> bool {
        match self {
            ValueError::Undefined => true,
            ValueError::Render(error) => error.kind() == minijinja::ErrorKind::UndefinedError,
            ValueError::Compile(_) | ValueError::NotData(_) => false,
        }
    }
}

/// Renders one variable value with the shared template environment.
fn render_value(text: &str, context: Jinja) -> Result<Value, ValueError> {
    let body = super::minijinja_source(text);
    let environment = shared_environment();
    if let Some(expression) = single_expression(&body) {
        let compiled = environment.compile_expression(expression).map_err(ValueError::Compile)?;
        let value = compiled.eval(context).map_err(ValueError::Render)?;
        if value.is_undefined() {
            return Err(ValueError::Undefined);
        }
        return serde_json::to_value(&value).map_err(ValueError::NotData);
    }
    let template = environment.template_from_str(&body).map_err(ValueError::Render)?;
    template.render(context).map(Value::String).map_err(ValueError::Render)
}

fn describe(error: &minijinja::Error) -> String {
    let detail = error.detail().map(|d| format!(": {d}")).unwrap_or_default();
    format!("{}{detail}", error.kind())
}

/// `{{ expr }}` and nothing else: the expression.
fn single_expression(text: &str) -> Option<&str> {
    let inner = text.strip_prefix("{{")?.strip_suffix("}}")?;
    if inner.contains("{{") || inner.contains("}}") || inner.contains("{%") || inner.contains("{#") {
        return None;
    }
    let inner = inner.strip_prefix('-').unwrap_or(inner);
    Some(inner.strip_suffix('-').unwrap_or(inner).trim())
}

/// Values are rendered often: one environment for all of them, built once.
fn shared_environment() -> &'static minijinja::Environment<'static> {
    static ENVIRONMENT: OnceLock<minijinja::Environment<'static>> = OnceLock::new();
    ENVIRONMENT.get_or_init(super::environment)
}

/// The variables seen from a render: names resolve on demand; `vars` and `hostvars` are there too.
#[derive(Debug)]
struct Context(Arc<LazyVars>);

impl std::fmt::Debug for LazyVars {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LazyVars").field("owner", &self.owner).finish()
    }
}

impl Object for Context {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Jinja) -> Option<Jinja> {
        let name = key.as_str()?;
        match self.0.get(name) {
            Ok(Some(value)) => return Some(Jinja::from(minijinja::value::Serde(&value))),
            Ok(None) => {}
            Err(error) => {
                INNER_ERROR.with(|slot| {
                    slot.borrow_mut().get_or_insert_with(|| Arc::new(error));
                });
                return None;
            }
        }
        match name {
            "vars" => Some(self.0.as_jinja()),
            "hostvars" if self.0.sources.hostvars.is_some() => Some(Jinja::from_object(Hostvars(self.0.clone()))),
            _ => {
                MISSING.with(|slot| *slot.borrow_mut() = Some(name.to_string()));
                None
            }
        }
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        let mut names: Vec<Jinja> = self.0.base.keys().map(|k| Jinja::from(k.as_str())).collect();
        names.extend(self.0.raw.keys().filter(|k| !self.0.base.contains_key(*k)).map(|k| Jinja::from(k.as_str())));
        Enumerator::Values(names)
    }
}

/// `hostvars[name]`: that host's variables, resolved against that host.
#[derive(Debug)]
struct Hostvars(Arc<LazyVars>);

impl Object for Hostvars {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Jinja) -> Option<Jinja> {
        let source = self.0.sources.hostvars.as_ref()?;
        let (other, extra) = source(key.as_str()?)?;
        Some(minijinja::value::merge_maps([other.as_jinja(), Jinja::from(minijinja::value::Serde(extra))]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vars(raw: Value) -> Arc<LazyVars> {
        let raw: IndexMap<String, Value> = serde_json::from_value(raw).unwrap();
        let mut base = serde_json::Map::new();
        base.insert("inventory_hostname".into(), json!("web1.example.com"));
        base.insert("inventory_hostname_short".into(), json!("web1"));
        let origins = raw.keys().map(|k| (k.clone(), format!("group_vars/all.yml:{}", k.len()))).collect();
        let facts: FactSource = Arc::new(|name: &str| {
            Ok(match name {
                "ansible_hostname" => Some(json!("web1")),
                "ansible_default_ipv4" => Some(json!({"address": "10.0.0.5"})),
                _ => None,
            })
        });
        LazyVars::new(
            "host web1.example.com",
            raw,
            base,
            origins,
            Arc::new(HashSet::new()),
            Sources { facts: Some(facts), ..Sources::default() },
        )
    }

    #[test]
    fn references_resolve_through_vars_facts_and_filters() {
        let v = vars(json!({
            "domain": "example.org",
            "fqdn": "{{ inventory_hostname_short }}.{{ domain }}",
            "listen": "{{ ansible_default_ipv4.address }}:{{ port }}",
            "port": 8080,
            "upper": "{{ fqdn | upper }}",
            "ports": [80, "{{ port }}"],
            "all_ports": "{{ ports }}",
            "plain": "no braces",
            "nested": {"name": "{{ ansible_hostname }}"},
        }));
        assert_eq!(v.get("fqdn").unwrap().unwrap(), json!("web1.example.org"));
        assert_eq!(v.get("listen").unwrap().unwrap(), json!("10.0.0.5:8080"));
        assert_eq!(v.get("upper").unwrap().unwrap(), json!("WEB1.EXAMPLE.ORG"));
        assert_eq!(v.get("all_ports").unwrap().unwrap(), json!([80, 8080]));
        assert_eq!(v.get("nested").unwrap().unwrap(), json!({"name": "web1"}));
        assert_eq!(v.get("plain").unwrap().unwrap(), json!("no braces"));
        assert_eq!(v.get("nope").unwrap(), None);
    }

    #[test]
    fn an_undefined_reference_names_the_variable_the_value_and_where_it_was_written() {
        let v = vars(json!({"a": "x{{ b }}", "b": "{{ missing_thing }}", "ok": "fine"}));
        let error = v.get("a").unwrap_err();
        assert!(matches!(&error, VarsError::Reads { name, .. } if name == "a"), "{error:?}");
        let error = error.to_string();
        assert!(error.contains("`missing_thing` is undefined"), "{error}");
        assert!(error.contains("value of `b` for host web1.example.com"), "{error}");
        assert!(error.contains("group_vars/all.yml:1"), "{error}");
        assert_eq!(v.get("ok").unwrap().unwrap(), json!("fine"));
    }

    #[test]
    fn a_cycle_is_an_error_not_a_stack_overflow() {
        let v = vars(json!({"a": "{{ b }}", "b": "{{ c }}", "c": "{{ a }}"}));
        let error = v.get("a").unwrap_err().to_string();
        assert!(error.contains("refers to itself (a -> b -> c -> a)"), "{error}");
    }

    /// Two hosts whose values read each other through `hostvars`.
    fn pair(a: Value, b: Value) -> (Arc<LazyVars>, Arc<OnceLock<Arc<LazyVars>>>) {
        let other: Arc<OnceLock<Arc<LazyVars>>> = Arc::new(OnceLock::new());
        let make = |name: &str, raw: Value, peer: Arc<OnceLock<Arc<LazyVars>>>, peer_name: &'static str| {
            let raw: IndexMap<String, Value> = serde_json::from_value(raw).unwrap();
            let mut base = serde_json::Map::new();
            base.insert("inventory_hostname".into(), json!(name));
            let hostvars: HostvarsSource = Arc::new(move |wanted: &str| {
                (wanted == peer_name).then(|| (peer.get().unwrap().clone(), serde_json::Map::new()))
            });
            let sources = Sources { hostvars: Some(hostvars), ..Sources::default() };
            LazyVars::new(format!("host {name}"), raw, base, HashMap::new(), Arc::new(HashSet::new()), sources)
        };
        let mine: Arc<OnceLock<Arc<LazyVars>>> = Arc::new(OnceLock::new());
        let a = make("a", a, other.clone(), "b");
        let _ = mine.set(a.clone());
        let b = make("b", b, mine, "a");
        let _ = other.set(b);
        (a, other)
    }

    #[test]
    fn hostvars_resolve_against_the_other_host_and_cycles_across_hosts_are_caught() {
        let (a, b) = pair(
            json!({"name": "{{ inventory_hostname }}", "peer": "{{ hostvars['b'].name }}", "loop": "{{ hostvars['b'].loop }}"}),
            json!({"name": "{{ inventory_hostname }}-x", "loop": "{{ hostvars['a'].loop }}"}),
        );
        assert_eq!(a.get("peer").unwrap().unwrap(), json!("b-x"));
        assert_eq!(b.get().unwrap().get("name").unwrap().unwrap(), json!("b-x"));
        let error = a.get("loop").unwrap_err().to_string();
        assert!(error.contains("refers to itself"), "{error}");
    }

    #[test]
    fn facts_that_cannot_be_gathered_keep_the_gathering_error_as_the_cause() {
        let facts: FactSource = Arc::new(|_: &str| Err(std::io::Error::other("ssh: connection refused").into()));
        let raw: IndexMap<String, Value> = serde_json::from_value(json!({"ip": "{{ ansible_host_ip }}"})).unwrap();
        let sources = Sources { facts: Some(facts), ..Sources::default() };
        let v = LazyVars::new("host a", raw, serde_json::Map::new(), HashMap::new(), Arc::new(HashSet::new()), sources);
        let error = v.get("ansible_hostname").unwrap_err();
        let VarsError::Facts { name, source } = &error else { panic!("{error:?}") };
        assert_eq!(name, "ansible_hostname");
        assert!(source.downcast_ref::<std::io::Error>().is_some(), "{source:?}");
        assert_eq!(error.to_string(), "ssh: connection refused");
        let through_a_value = v.get("ip").unwrap_err();
        assert!(matches!(&through_a_value, VarsError::Reads { name, .. } if name == "ip"), "{through_a_value:?}");
        assert_eq!(through_a_value.to_string(), "ssh: connection refused");
    }

    #[test]
    fn decrypted_inline_vault_values_are_never_templates() {
        let raw: IndexMap<String, Value> = serde_json::from_value(json!({"secret": "p{{w"})).unwrap();
        let literals = Arc::new(["p{{w".to_string()].into_iter().collect());
        let v = LazyVars::new("host a", raw, serde_json::Map::new(), HashMap::new(), literals, Sources::default());
        assert_eq!(v.get("secret").unwrap().unwrap(), json!("p{{w"));
    }
}
