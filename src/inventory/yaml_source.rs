//! The inventory file as YAML says it, before any meaning is given to it.
//!
//! serde-saphyr is configured here once for every YAML runbook reads as data (inventories, `-e @file`):
//! YAML 1.2 booleans only (`yes`, `NO`, `on` stay strings, as an operator who wrote `enabled: yes` in a
//! sysctl value means the text), leading-zero numbers stay strings (`mode: 0755` must not become 755),
//! duplicate keys are errors, and alias expansion is capped so a "billion laughs" file fails fast.

use std::fmt;
use std::marker::PhantomData;
use std::path::Path;
use std::sync::Arc;

use indexmap::IndexMap;
use serde::Deserialize;
use serde::de::{DeserializeOwned, Deserializer, MapAccess, Visitor};
use serde_saphyr::options::AliasLimits;
use serde_saphyr::{Budget, DuplicateKeyPolicy, MessageFormatter, Spanned};

use super::inventory_error::{InventoryError, Position};

/// Variables as written: names to JSON-like values, in file order.
pub type Vars = IndexMap<String, serde_json::Value>;

/// Inventories and vars files are small; anything beyond this is a mistake or an attack.
pub(crate) const MAX_SOURCE_BYTES: usize = 16 * 1024 * 1024;

fn options() -> serde_saphyr::Options {
    let mut budget = Budget::default();
    budget.max_events = 500_000;
    budget.max_aliases = 10_000;
    budget.max_nodes = 200_000;
    budget.max_depth = 48;
    let mut alias_limits = AliasLimits::default();
    alias_limits.max_total_replayed_events = 100_000;
    alias_limits.max_replay_stack_depth = 16;
    serde_saphyr::options! {
        budget: Some(budget),
        alias_limits: alias_limits,
        duplicate_keys: DuplicateKeyPolicy::Error,
        strict_booleans: true,
        leading_zero_numbers_as_strings: true,
    }
}

/// Deserialises `source` (read from `path`) into `T`, turning YAML errors into `path:line:col` errors.
pub(crate) fn from_str<T: DeserializeOwned>(source: &Arc<String>, path: &Path) -> Result<T, InventoryError> {
    if source.len() > MAX_SOURCE_BYTES {
        return Err(InventoryError::new(format!("file is {} bytes; the limit is {MAX_SOURCE_BYTES}", source.len()))
            .in_file(path));
    }
    serde_saphyr::from_str_with_options(source, options()).map_err(|error| yaml_error(&error, source, path))
}

fn yaml_error(error: &serde_saphyr::Error, source: &Arc<String>, path: &Path) -> InventoryError {
    let inner = error.without_snippet();
    let message = plain_message(&serde_saphyr::DefaultMessageFormatter.format_message(inner));
    let position = error.location().and_then(Position::from_location);
    InventoryError::new(message).in_file(path).at(position, source)
}

/// saphyr's wording, made to read as advice to the person who wrote the file; control characters escaped.
fn plain_message(message: &str) -> String {
    let message: String = message
        .chars()
        .flat_map(|c| if c.is_control() { c.escape_default().collect::<Vec<_>>() } else { vec![c] })
        .collect();
    let message = message.replace(", set DuplicateKeyPolicy in Options if acceptable", "");
    match message.as_str() {
        "expected mapping start" => "expected a mapping (`name: value` lines) here".to_string(),
        _ => message,
    }
}

/// A YAML mapping kept as a list of pairs, in file order, whatever the key type.
#[derive(Debug)]
pub(crate) struct Entries<K, V>(pub Vec<(K, V)>);

impl<'de, K: Deserialize<'de>, V: Deserialize<'de>> Deserialize<'de> for Entries<K, V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EntriesVisitor<K, V>(PhantomData<(K, V)>);
        impl<'de, K: Deserialize<'de>, V: Deserialize<'de>> Visitor<'de> for EntriesVisitor<K, V> {
            type Value = Entries<K, V>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a mapping")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    entries.push(entry);
                }
                Ok(Entries(entries))
            }
        }
        deserializer.deserialize_map(EntriesVisitor(PhantomData))
    }
}

/// Group name → group body (null for `group:` with nothing under it).
pub(crate) type RawGroups = Entries<Spanned<String>, Option<Spanned<RawGroup>>>;

/// The whole file: top-level groups (usually just `all`). An empty file is an empty inventory.
pub(crate) type RawInventory = Option<RawGroups>;

/// One group as written. Anything but these three keys is an error pointing at the key.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawGroup {
    #[serde(default)]
    pub hosts: Option<Entries<Spanned<String>, Option<RawVars>>>,
    #[serde(default)]
    pub children: Option<RawGroups>,
    #[serde(default)]
    pub vars: Option<RawVars>,
}

/// Variables as written, with where each name is, so a bad `ansible_port` can be pointed at.
#[derive(Debug, Default)]
pub(crate) struct RawVars {
    pub vars: Vars,
    pub positions: Vec<(String, serde_saphyr::Location)>,
}

impl<'de> Deserialize<'de> for RawVars {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let entries = Entries::<Spanned<String>, serde_json::Value>::deserialize(deserializer)?;
        let mut raw = RawVars::default();
        for (name, value) in entries.0 {
            raw.positions.push((name.value.clone(), name.referenced));
            raw.vars.insert(name.value, value);
        }
        Ok(raw)
    }
}

/// Parses a vars document (`-e @file.yaml`, inline `-e '{...}'`): must be a mapping (or empty).
pub(crate) fn vars_from_str(source: &Arc<String>, path: &Path) -> Result<Vars, InventoryError> {
    let vars: Option<Spanned<serde_json::Value>> = from_str(source, path)?;
    match vars {
        None => Ok(Vars::new()),
        Some(Spanned { value: serde_json::Value::Object(map), .. }) => Ok(map.into_iter().collect()),
        Some(Spanned { value: serde_json::Value::Null, .. }) => Ok(Vars::new()),
        Some(other) => Err(InventoryError::new(format!(
            "extra vars must be a mapping of names to values, found {}",
            super::describe_value(&other.value)
        ))
        .in_file(path)
        .at(Position::from_location(other.referenced), source)),
    }
}
