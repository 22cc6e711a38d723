//! Strict variables: `h.vars`, `vars` and `h.facts()` are a [`VarsMap`], a map whose missing keys are an
//! error, not `()`. A plain Rhai map answers `()` for a key it lacks, so a misspelt `h.vars.site_titel` would
//! interpolate as an empty string and write a broken file with rc 0; Ansible stops with "'site_titel' is
//! undefined", and so does runbook, naming the key, whose map it is and the nearest existing key.
//!
//! Optional values are read explicitly: `"x" in h.vars`, `h.vars.get("x")` (`()` when absent) or
//! `h.vars.get("x", default)`. `to_map()` gives a plain (lax) copy.
//!
//! A value holding a template (`"{{ inventory_hostname }}.{{ domain }}"`) is resolved when read, through the
//! map's [`LazyVars`], as Ansible resolves it; a key the playbook wrote itself is taken as written.

use std::sync::Arc;

use rhai::{Array, Dynamic, Engine, EvalAltResult, ImmutableString, Map};

use crate::template::lazy_vars::{LazyVars, VarsError};

/// Where a missing key may still come from: a host's `h.vars` answers Ansible's fact names (`ansible_*`)
/// by gathering the facts on first use. `Ok(None)`: not one of its names.
pub type Fallback = std::sync::Arc<dyn Fn(&str) -> Result<Option<Dynamic>, VarsError> + Send + Sync>;

/// A map of variables that refuses to read a key it does not have.
#[derive(Clone)]
pub struct VarsMap {
    /// Whose variables, for the error: "host web1", "the playbook's `vars`", "the facts of host web1".
    owner: String,
    map: Map,
    fallback: Option<Fallback>,
    resolver: Option<Arc<LazyVars>>,
    /// Keys the playbook assigned: their values are its own, not the inventory's templates.
    written: Vec<String>,
}

impl std::fmt::Debug for VarsMap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VarsMap").field("owner", &self.owner).field("map", &self.map).finish()
    }
}

impl VarsMap {
    pub fn new(owner: impl Into<String>, map: Map) -> VarsMap {
        VarsMap { owner: owner.into(), map, fallback: None, resolver: None, written: Vec::new() }
    }

    pub fn with_resolver(mut self, resolver: Arc<LazyVars>) -> VarsMap {
        self.resolver = Some(resolver);
        self
    }

    /// `value` (the map's own for `key`), resolved when it is an inventory value holding a template.
    fn resolved(&self, key: &str, value: &Dynamic) -> Result<Dynamic, Box<EvalAltResult>> {
        if let Some(resolver) = &self.resolver
            && !self.written.iter().any(|written| written == key)
            && resolver.is_templated(key)
            // A script sees a runtime error as its text, as it sees every other error a read raises.
            && let Some(resolved) = resolver.get(key).map_err(|error| error.to_string())?
        {
            return Ok(rhai::serde::to_dynamic(&resolved).unwrap_or(Dynamic::UNIT));
        }
        Ok(value.clone())
    }

    /// The value of `key` if present (resolved), `None` if absent.
    pub fn lookup(&self, key: &str) -> Result<Option<Dynamic>, Box<EvalAltResult>> {
        self.map.get(key).map(|value| self.resolved(key, value)).transpose()
    }

    /// Every value resolved: a plain map.
    pub fn resolved_map(&self) -> Result<Map, Box<EvalAltResult>> {
        self.map.iter().map(|(key, value)| Ok((key.clone(), self.resolved(key, value)?))).collect()
    }

    pub fn with_fallback(mut self, fallback: Fallback) -> VarsMap {
        self.fallback = Some(fallback);
        self
    }

    pub fn map(&self) -> &Map {
        &self.map
    }

    /// The value of `key`, or the error that names the key, the owner and the nearest key.
    pub fn read(&self, key: &str) -> Result<Dynamic, Box<EvalAltResult>> {
        if let Some(value) = self.lookup(key)? {
            return Ok(value);
        }
        if let Some(fallback) = &self.fallback
            && let Some(value) = fallback(key).map_err(|error| error.to_string())?
        {
            return Ok(value);
        }
        let hint = crate::did_you_mean::did_you_mean(key, self.map.keys().map(|k| k.as_str()))
            .map(|near| format!(" (did you mean `{near}`?)"))
            .unwrap_or_default();
        Err(format!(
            "`{key}` is not defined for {}{hint}; an optional value is read with `\"{key}\" in ...` or `.get(\"{key}\", default)`",
            self.owner
        )
        .into())
    }
}

/// Registers the type: property reads and `[...]` go through [`VarsMap::read`]; writes change the copy.
pub fn register(engine: &mut Engine) {
    engine
        .register_type_with_name::<VarsMap>("VarsMap")
        // `v.key` falls back to this indexer when no getter is registered for `key`.
        .register_indexer_get(|v: &mut VarsMap, key: &str| v.read(key))
        .register_indexer_set(|v: &mut VarsMap, key: &str, value: Dynamic| {
            v.written.push(key.to_string());
            v.map.insert(key.into(), value);
        })
        .register_fn("contains", |v: &mut VarsMap, key: &str| v.map.contains_key(key))
        .register_fn("get", |v: &mut VarsMap, key: &str| -> Result<Dynamic, Box<EvalAltResult>> {
            Ok(v.lookup(key)?.unwrap_or(Dynamic::UNIT))
        })
        .register_fn("get", |v: &mut VarsMap, key: &str, default: Dynamic| -> Result<Dynamic, Box<EvalAltResult>> {
            Ok(v.lookup(key)?.unwrap_or(default))
        })
        .register_fn("keys", |v: &mut VarsMap| {
            v.map.keys().map(|k| Dynamic::from(ImmutableString::from(k.as_str()))).collect::<Array>()
        })
        .register_fn("values", |v: &mut VarsMap| -> Result<Array, Box<EvalAltResult>> {
            Ok(v.resolved_map()?.into_values().collect())
        })
        .register_fn("len", |v: &mut VarsMap| v.map.len() as i64)
        .register_fn("is_empty", |v: &mut VarsMap| v.map.is_empty())
        .register_fn("to_map", |v: &mut VarsMap| v.resolved_map())
        .register_fn("to_string", |v: &mut VarsMap| -> Result<String, Box<EvalAltResult>> {
            Ok(Dynamic::from_map(v.resolved_map()?).to_string())
        })
        .register_fn("to_debug", |v: &mut VarsMap| -> Result<String, Box<EvalAltResult>> {
            Ok(format!("{:?}", v.resolved_map()?))
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine() -> Engine {
        let mut engine = Engine::new();
        register(&mut engine);
        engine
    }

    fn vars() -> VarsMap {
        let mut map = Map::new();
        map.insert("site_title".into(), Dynamic::from("Shop"));
        VarsMap::new("host web1", map)
    }

    #[test]
    fn a_missing_key_is_an_error_naming_it_the_owner_and_the_nearest_key() {
        let engine = engine();
        let mut scope = rhai::Scope::new();
        scope.push("v", vars());
        assert_eq!(engine.eval_with_scope::<String>(&mut scope, "v.site_title").unwrap(), "Shop");
        let error = engine.eval_with_scope::<Dynamic>(&mut scope, "let x = 1;\n`title: ${v.site_titel}`").unwrap_err();
        let text = error.to_string();
        assert!(text.contains("`site_titel` is not defined for host web1"), "{text}");
        assert!(text.contains("did you mean `site_title`?"), "{text}");
        assert_eq!(error.position().line(), Some(2), "{text}");
        let error = engine.eval_with_scope::<Dynamic>(&mut scope, "let k = \"nope\"; v[k]").unwrap_err();
        assert!(error.to_string().contains("`nope` is not defined"), "{error}");
    }

    #[test]
    fn optional_values_are_read_explicitly() {
        let engine = engine();
        let mut scope = rhai::Scope::new();
        scope.push("v", vars());
        assert!(engine.eval_with_scope::<bool>(&mut scope, r#""site_title" in v"#).unwrap());
        assert!(!engine.eval_with_scope::<bool>(&mut scope, r#""port" in v"#).unwrap());
        assert_eq!(engine.eval_with_scope::<i64>(&mut scope, r#"v.get("port", 80)"#).unwrap(), 80);
        assert!(engine.eval_with_scope::<Dynamic>(&mut scope, r#"v.get("port")"#).unwrap().is_unit());
        assert_eq!(engine.eval_with_scope::<i64>(&mut scope, "v.keys().len()").unwrap(), 1);
        assert_eq!(engine.eval_with_scope::<i64>(&mut scope, r#"let w = v; w.port = 8; w.port"#).unwrap(), 8);
    }
}
