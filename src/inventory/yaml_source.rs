//! The inventory file as YAML says it, before any meaning is given to it.
//!
//! serde-saphyr is configured here once for every YAML runbook reads as data (inventories, `-e @file`):
//! YAML 1.2 booleans only (`yes`, `NO`, `on` stay strings, as an operator who wrote `enabled: yes` in a
//! sysctl value means the text), leading-zero numbers stay strings (`mode: 0755` must not become 755),
//! duplicate keys are errors, and alias expansion is capped so a "billion laughs" file fails fast.
//!
//! Variable values are read through [`VarValue`], which sees YAML tags: a `!vault |` scalar (and the JSON form
//! `{"__ansible_vault": "..."}` that `ansible-inventory --list` prints) is Ansible Vault ciphertext, decrypted
//! here with the passwords of the current vault scope (see `crate::vault`), as Ansible decrypts it on load.

use std::fmt;
use std::marker::PhantomData;
use std::path::Path;
use std::sync::Arc;

use indexmap::IndexMap;
use serde::Deserialize;
use serde::de::{DeserializeOwned, Deserializer, IntoDeserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::options::AliasLimits;
use serde_saphyr::{Budget, DuplicateKeyPolicy, MessageFormatter, Spanned, Tagged};

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

/// The text of a file that may be vaulted as a whole (`ansible-vault encrypt group_vars/all/vault.yml`): its
/// plaintext, decrypted in the current vault scope, and whether it was vaulted.
pub(crate) fn open_file_text(text: String, path: &Path) -> Result<(String, bool), InventoryError> {
    if !crate::vault::is_encrypted(&text) {
        return Ok((text, false));
    }
    match crate::vault::decrypt_in_scope(&text) {
        Ok(plaintext) => Ok((plaintext, true)),
        // Left closed on purpose: the file contributes nothing.
        Err(crate::vault::VaultError::NotOpened) => Ok((String::new(), false)),
        Err(error) => Err(InventoryError::new(format!("cannot decrypt this vaulted file: {error}")).in_file(path)),
    }
}

/// A vaulted file's text as error snippets may show it: each line's key (up to the first `: `, or a list's
/// `- `) kept, the rest of the line masked with `*` byte for byte, so lines, columns and offsets stay valid.
pub(crate) fn masked(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let (body, end) = match line.strip_suffix('\n') {
            Some(body) => (body, "\n"),
            None => (line, ""),
        };
        let keep = body.find(": ").map(|at| at + 2).or_else(|| {
            let indent = body.len() - body.trim_start().len();
            body[indent..].starts_with("- ").then_some(indent + 2)
        });
        let keep = keep.unwrap_or_else(|| if body.trim_end().ends_with(':') { body.len() } else { 0 });
        out.push_str(&body[..keep]);
        for c in body[keep..].chars() {
            if c.is_whitespace() {
                out.push(c);
            } else {
                out.extend(std::iter::repeat_n('*', c.len_utf8()));
            }
        }
        out.push_str(end);
    }
    out
}

/// Parses a file that may have been vaulted: its errors point into [`masked`] text when it was.
pub(crate) fn from_file_text<T: DeserializeOwned>(
    source: &Arc<String>,
    path: &Path,
    vaulted: bool,
) -> Result<T, InventoryError> {
    from_str(source, path).map_err(|error| match vaulted {
        true => error.with_source_text(&Arc::new(masked(source))),
        false => error,
    })
}

/// Every string in `value` is a secret: it came from a vaulted file. (Only strings: a number or a boolean is
/// not worth hiding, and hiding `1` or `true` everywhere would blank out the output.)
pub(crate) fn record_vaulted(value: &serde_json::Value) {
    match value {
        serde_json::Value::String(text) => crate::vault::record_revealed(text),
        serde_json::Value::Array(items) => items.iter().for_each(record_vaulted),
        serde_json::Value::Object(map) => map.values().for_each(record_vaulted),
        _ => {}
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
        let entries = Entries::<Spanned<String>, VarValue>::deserialize(deserializer)?;
        let mut raw = RawVars::default();
        for (name, value) in entries.0 {
            raw.positions.push((name.value.clone(), name.referenced));
            raw.vars.insert(name.value, value.0);
        }
        Ok(raw)
    }
}

/// Parses a vars document (`-e @file.yaml`, inline `-e '{...}'`): must be a mapping (or empty).
pub(crate) fn vars_from_str(source: &Arc<String>, path: &Path) -> Result<Vars, InventoryError> {
    let vars: Option<Spanned<VarValue>> = from_str(source, path)?;
    match vars {
        None => Ok(Vars::new()),
        Some(Spanned { value: VarValue(serde_json::Value::Object(map)), .. }) => Ok(map.into_iter().collect()),
        Some(Spanned { value: VarValue(serde_json::Value::Null), .. }) => Ok(Vars::new()),
        Some(other) => Err(InventoryError::new(format!(
            "extra vars must be a mapping of names to values, found {}",
            super::describe_value(&other.value.0)
        ))
        .in_file(path)
        .at(Position::from_location(other.referenced), source)),
    }
}

/// A variable's value as JSON-like data, with Ansible Vault values decrypted in the current vault scope.
#[derive(Debug)]
pub(crate) struct VarValue(pub serde_json::Value);

/// The key of Ansible's JSON spelling of a vaulted value: `{"__ansible_vault": "$ANSIBLE_VAULT;..."}`.
const JSON_VAULT_KEY: &str = "__ansible_vault";

impl<'de> Deserialize<'de> for VarValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let Tagged(Plain(value), tag) = Tagged::<Plain>::deserialize(deserializer)?;
        if tag.as_deref() != Some("!vault") {
            return Ok(VarValue(value));
        }
        match value {
            serde_json::Value::String(text) => decrypt(&text).map(VarValue),
            other => Err(serde::de::Error::custom(format!(
                "a !vault value must be the ciphertext text (`!vault |` and the $ANSIBLE_VAULT lines), found {}",
                super::describe_value(&other)
            ))),
        }
    }
}

/// What an inline vaulted value reads as where vaulted data is left closed (see `crate::vault::without_opening`).
pub const NOT_OPENED: &str = "(vaulted value, not opened)";

fn decrypt<E: serde::de::Error>(text: &str) -> Result<serde_json::Value, E> {
    match crate::vault::decrypt_in_scope(text) {
        Ok(plaintext) => {
            crate::vault::mark_inline(&plaintext);
            Ok(serde_json::Value::String(plaintext))
        }
        Err(crate::vault::VaultError::NotOpened) => Ok(serde_json::Value::String(NOT_OPENED.to_string())),
        Err(error) => Err(E::custom(format!("cannot decrypt this !vault value: {error}"))),
    }
}

/// Any YAML node, untagged at this level; its children are [`VarValue`]s again, so a `!vault` value nested in a
/// list or mapping is decrypted too. Scalars become exactly what `serde_json::Value` makes of them.
struct Plain(serde_json::Value);

impl<'de> Deserialize<'de> for Plain {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(PlainVisitor).map(Plain)
    }
}

struct PlainVisitor;

fn scalar<'de, D: Deserializer<'de>>(deserializer: D) -> Result<serde_json::Value, D::Error> {
    serde_json::Value::deserialize(deserializer)
}

impl<'de> Visitor<'de> for PlainVisitor {
    type Value = serde_json::Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a YAML value")
    }
    fn visit_bool<E: serde::de::Error>(self, value: bool) -> Result<Self::Value, E> {
        Ok(serde_json::Value::Bool(value))
    }
    fn visit_i64<E: serde::de::Error>(self, value: i64) -> Result<Self::Value, E> {
        Ok(value.into())
    }
    fn visit_u64<E: serde::de::Error>(self, value: u64) -> Result<Self::Value, E> {
        Ok(value.into())
    }
    fn visit_i128<E: serde::de::Error>(self, value: i128) -> Result<Self::Value, E> {
        scalar(value.into_deserializer())
    }
    fn visit_u128<E: serde::de::Error>(self, value: u128) -> Result<Self::Value, E> {
        scalar(value.into_deserializer())
    }
    fn visit_f64<E: serde::de::Error>(self, value: f64) -> Result<Self::Value, E> {
        scalar(value.into_deserializer())
    }
    fn visit_str<E: serde::de::Error>(self, value: &str) -> Result<Self::Value, E> {
        Ok(serde_json::Value::String(value.to_string()))
    }
    fn visit_string<E: serde::de::Error>(self, value: String) -> Result<Self::Value, E> {
        Ok(serde_json::Value::String(value))
    }
    fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(serde_json::Value::Null)
    }
    fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(serde_json::Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        VarValue::deserialize(deserializer).map(|value| value.0)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::new();
        while let Some(VarValue(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(serde_json::Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut entries = serde_json::Map::new();
        while let Some((key, VarValue(value))) = map.next_entry::<String, VarValue>()? {
            entries.insert(key, value);
        }
        if entries.len() == 1
            && let Some(serde_json::Value::String(text)) = entries.get(JSON_VAULT_KEY)
        {
            return decrypt(text);
        }
        Ok(serde_json::Value::Object(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masked_text_keeps_keys_and_layout_and_hides_values() {
        let text = "db_password: s3cret\nlist:\n  - hidden\n  nested: {a: b}\nlast: é";
        let shown = masked(text);
        assert_eq!(shown, "db_password: ******\nlist:\n  - ******\n  nested: *** **\nlast: **");
        assert_eq!(shown.len(), text.len());
    }
}
