//! Filters on structured data: JSON and YAML in and out (written as Python's `json` and PyYAML write them),
//! merging dicts, list ↔ dict shapes, set operations, and Ansible's `bool`, `ternary`, `mandatory`, `random`.

use minijinja::value::{Kwargs, Rest, Value, ValueKind};
use minijinja::{Error, State};
use serde_json::Value as Data;

use super::{from_data, invalid, to_data};
use crate::template::python_random::PythonRandom;

/// Python's `json.dumps` with the options Ansible and Jinja2 pass.
pub fn python_json(value: &Data, indent: Option<usize>, sort_keys: bool) -> String {
    let mut out = String::new();
    write_json(&mut out, value, indent, sort_keys, 0);
    out
}

fn write_json(out: &mut String, value: &Data, indent: Option<usize>, sort_keys: bool, level: usize) {
    let item_separator = if indent.is_some() { "," } else { ", " };
    let newline = |out: &mut String, level: usize| {
        if let Some(width) = indent {
            out.push('\n');
            out.push_str(&" ".repeat(width * level));
        }
    };
    match value {
        Data::Null => out.push_str("null"),
        Data::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Data::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() => out.push_str(&match f {
                f if f.is_nan() => "NaN".to_string(),
                f if f.is_infinite() => if f > 0.0 { "Infinity" } else { "-Infinity" }.to_string(),
                f => crate::template::output::python_float(f),
            }),
            _ => out.push_str(&n.to_string()),
        },
        Data::String(s) => json_string(out, s),
        Data::Array(items) => {
            if items.is_empty() {
                out.push_str("[]");
                return;
            }
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(item_separator);
                }
                newline(out, level + 1);
                write_json(out, item, indent, sort_keys, level + 1);
            }
            newline(out, level);
            out.push(']');
        }
        Data::Object(map) => {
            if map.is_empty() {
                out.push_str("{}");
                return;
            }
            let mut entries: Vec<(&String, &Data)> = map.iter().collect();
            if sort_keys {
                entries.sort_by(|a, b| a.0.chars().map(|c| c as u32).cmp(b.0.chars().map(|c| c as u32)));
            }
            out.push('{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push_str(item_separator);
                }
                newline(out, level + 1);
                json_string(out, key);
                out.push_str(": ");
                write_json(out, item, indent, sort_keys, level + 1);
            }
            newline(out, level);
            out.push('}');
        }
    }
}

/// A JSON string as Python writes it with `ensure_ascii=True`.
fn json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn indent_kwarg(kwargs: &Kwargs, default: Option<usize>) -> Result<Option<usize>, Error> {
    Ok(kwargs.get::<Option<usize>>("indent")?.or(default))
}

pub fn to_json(value: Value, kwargs: Kwargs) -> Result<String, Error> {
    let indent = indent_kwarg(&kwargs, None)?;
    let sort_keys = kwargs.get::<Option<bool>>("sort_keys")?.unwrap_or(false);
    kwargs.assert_all_used()?;
    Ok(python_json(&to_data(&value)?, indent, sort_keys))
}

pub fn to_nice_json(value: Value, indent: Option<usize>, kwargs: Kwargs) -> Result<String, Error> {
    let indent = indent_kwarg(&kwargs, Some(indent.unwrap_or(4)))?;
    let sort_keys = kwargs.get::<Option<bool>>("sort_keys")?.unwrap_or(true);
    kwargs.assert_all_used()?;
    Ok(python_json(&to_data(&value)?, indent, sort_keys))
}

/// Jinja2's `tojson`: sorted keys, and `<`, `>`, `&`, `'` escaped so the output is safe in HTML.
pub fn tojson(value: Value, indent: Option<usize>, kwargs: Kwargs) -> Result<String, Error> {
    let indent = indent_kwarg(&kwargs, indent)?;
    kwargs.assert_all_used()?;
    Ok(python_json(&to_data(&value)?, indent, true)
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\'', "\\u0027"))
}

pub fn from_json(text: &str) -> Result<Value, Error> {
    let data: Data = serde_json::from_str(text).map_err(|e| invalid(format!("from_json: {e}")))?;
    Ok(from_data(&data))
}

fn flow_kwarg(kwargs: &Kwargs, default: Option<bool>) -> Result<Option<bool>, Error> {
    match kwargs.get::<Option<Value>>("default_flow_style")? {
        None => Ok(default),
        Some(v) if v.is_none() => Ok(None),
        Some(v) => Ok(Some(v.is_true())),
    }
}

/// The `yaml.dump` keyword arguments Ansible passes through (`indent`, `width`, `default_flow_style`,
/// `sort_keys`, `explicit_start`).
fn yaml_layout(kwargs: &Kwargs, indent: usize, flow: Option<bool>) -> Result<crate::template::yaml::Layout, Error> {
    let layout = crate::template::yaml::Layout {
        indent: kwargs.get::<Option<i64>>("indent")?.map_or(indent, |i| usize::try_from(i).unwrap_or(0)),
        width: kwargs.get::<Option<i64>>("width")?,
        flow: flow_kwarg(kwargs, flow)?,
        sort_keys: kwargs.get::<Option<bool>>("sort_keys")?.unwrap_or(true),
        explicit_start: kwargs.get::<Option<bool>>("explicit_start")?.unwrap_or(false),
    };
    kwargs.assert_all_used()?;
    Ok(layout)
}

pub fn to_yaml(value: Value, kwargs: Kwargs) -> Result<String, Error> {
    let layout = yaml_layout(&kwargs, 2, None)?;
    Ok(crate::template::yaml::dump_with(&to_data(&value)?, &layout))
}

pub fn to_nice_yaml(value: Value, indent: Option<usize>, kwargs: Kwargs) -> Result<String, Error> {
    let layout = yaml_layout(&kwargs, indent.unwrap_or(4), Some(false))?;
    Ok(crate::template::yaml::dump_with(&to_data(&value)?, &layout))
}

pub fn from_yaml(text: &str) -> Result<Value, Error> {
    let data: Data = serde_saphyr::from_str(text).map_err(|e| invalid(format!("from_yaml: {e}")))?;
    Ok(from_data(&data))
}

/// Ansible's `combine`: later dicts win; `recursive` merges nested dicts; `list_merge` says what two lists
/// under one key become (replace, keep, append, prepend, append_rp, prepend_rp).
pub fn combine(value: Value, others: Rest<Value>, kwargs: Kwargs) -> Result<Value, Error> {
    let recursive = kwargs.get::<Option<bool>>("recursive")?.unwrap_or(false);
    let list_merge = kwargs.get::<Option<String>>("list_merge")?.unwrap_or_else(|| "replace".into());
    kwargs.assert_all_used()?;
    if !["replace", "keep", "append", "prepend", "append_rp", "prepend_rp"].contains(&list_merge.as_str()) {
        return Err(invalid(format!(
            "combine: list_merge must be replace, keep, append, prepend, append_rp or prepend_rp, not {list_merge:?}"
        )));
    }
    let mut dicts = Vec::new();
    for term in std::iter::once(value).chain(others.0) {
        match to_data(&term)? {
            Data::Array(items) => dicts.extend(items),
            other => dicts.push(other),
        }
    }
    let mut merged: Option<Data> = None;
    for dict in dicts {
        if !dict.is_object() {
            return Err(invalid(format!("combine: expected dicts, got {dict}")));
        }
        merged = Some(match merged {
            None => dict,
            Some(low) => merge_hash(low, dict, recursive, &list_merge),
        });
    }
    Ok(from_data(&merged.unwrap_or_else(|| Data::Object(Default::default()))))
}

fn merge_hash(low: Data, high: Data, recursive: bool, list_merge: &str) -> Data {
    let (Data::Object(mut low), Data::Object(high)) = (low, high) else { unreachable!("checked by combine") };
    for (key, high_value) in high {
        let merged = match (low.remove_entry_keep(&key), high_value) {
            (Some(Data::Object(l)), Data::Object(h)) if recursive => {
                merge_hash(Data::Object(l), Data::Object(h), recursive, list_merge)
            }
            (Some(Data::Array(l)), Data::Array(h)) => match list_merge {
                "keep" => Data::Array(l),
                "append" => Data::Array(l.into_iter().chain(h).collect()),
                "prepend" => Data::Array(h.into_iter().chain(l).collect()),
                "append_rp" => {
                    let rest: Vec<Data> = l.into_iter().filter(|x| !h.contains(x)).collect();
                    Data::Array(rest.into_iter().chain(h).collect())
                }
                "prepend_rp" => {
                    let rest: Vec<Data> = l.into_iter().filter(|x| !h.contains(x)).collect();
                    Data::Array(h.into_iter().chain(rest).collect())
                }
                _ => Data::Array(h),
            },
            (_, h) => h,
        };
        low.insert(key, merged);
    }
    Data::Object(low)
}

/// `Map::remove` would move the key to the end when re-inserted; Python's dict keeps its place.
trait TakeKeepingPlace {
    fn remove_entry_keep(&mut self, key: &str) -> Option<Data>;
}

impl TakeKeepingPlace for serde_json::Map<String, Data> {
    fn remove_entry_keep(&mut self, key: &str) -> Option<Data> {
        self.get_mut(key).map(|slot| std::mem::replace(slot, Data::Null))
    }
}

fn names(kwargs: &Kwargs) -> Result<(String, String), Error> {
    let key = kwargs.get::<Option<String>>("key_name")?.unwrap_or_else(|| "key".into());
    let value = kwargs.get::<Option<String>>("value_name")?.unwrap_or_else(|| "value".into());
    kwargs.assert_all_used()?;
    Ok((key, value))
}

pub fn dict2items(value: Value, kwargs: Kwargs) -> Result<Value, Error> {
    let (key_name, value_name) = names(&kwargs)?;
    let Data::Object(map) = to_data(&value)? else { return Err(invalid("dict2items requires a dictionary")) };
    let items: Vec<Data> = map
        .into_iter()
        .map(|(k, v)| {
            let mut item = serde_json::Map::new();
            item.insert(key_name.clone(), Data::String(k));
            item.insert(value_name.clone(), v);
            Data::Object(item)
        })
        .collect();
    Ok(from_data(&Data::Array(items)))
}

pub fn items2dict(value: Value, kwargs: Kwargs) -> Result<Value, Error> {
    let (key_name, value_name) = names(&kwargs)?;
    let Data::Array(items) = to_data(&value)? else { return Err(invalid("items2dict requires a list")) };
    let mut map = serde_json::Map::new();
    for item in items {
        let key = item.get(&key_name).ok_or_else(|| invalid(format!("items2dict: an item has no {key_name:?}")))?;
        let key = match key {
            Data::String(s) => s.clone(),
            other => other.to_string(),
        };
        let value =
            item.get(&value_name).ok_or_else(|| invalid(format!("items2dict: an item has no {value_name:?}")))?;
        map.insert(key, value.clone());
    }
    Ok(from_data(&Data::Object(map)))
}

pub fn flatten(value: Value, levels: Option<i64>, kwargs: Kwargs) -> Result<Value, Error> {
    let levels = kwargs.get::<Option<i64>>("levels")?.or(levels);
    let skip_nulls = kwargs.get::<Option<bool>>("skip_nulls")?.unwrap_or(true);
    kwargs.assert_all_used()?;
    let Data::Array(items) = to_data(&value)? else { return Err(invalid("flatten requires a list")) };
    Ok(from_data(&Data::Array(flatten_data(items, levels, skip_nulls))))
}

fn flatten_data(items: Vec<Data>, levels: Option<i64>, skip_nulls: bool) -> Vec<Data> {
    let mut out = Vec::new();
    for item in items {
        let null_like = matches!(&item, Data::Null) || matches!(&item, Data::String(s) if s == "None" || s == "null");
        match item {
            _ if skip_nulls && null_like => {}
            Data::Array(inner) => match levels {
                None => out.extend(flatten_data(inner, None, skip_nulls)),
                Some(n) if n >= 1 => out.extend(flatten_data(inner, Some(n - 1), skip_nulls)),
                Some(_) => out.push(Data::Array(inner)),
            },
            other => out.push(other),
        }
    }
    out
}

fn two_lists(a: &Value, b: &Value) -> Result<(Vec<Data>, Vec<Data>), Error> {
    match (to_data(a)?, to_data(b)?) {
        (Data::Array(a), Data::Array(b)) => Ok((a, b)),
        _ => Err(invalid("set filters take two lists")),
    }
}

fn unique(items: impl IntoIterator<Item = Data>) -> Vec<Data> {
    let mut out: Vec<Data> = Vec::new();
    for item in items {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    out
}

// Ansible builds these with Python sets, whose order is unspecified; the order here is the first list's,
// then the second's.
pub fn union(a: Value, b: Value) -> Result<Value, Error> {
    let (a, b) = two_lists(&a, &b)?;
    Ok(from_data(&Data::Array(unique(a.into_iter().chain(b)))))
}

pub fn intersect(a: Value, b: Value) -> Result<Value, Error> {
    let (a, b) = two_lists(&a, &b)?;
    Ok(from_data(&Data::Array(unique(a.into_iter().filter(|x| b.contains(x))))))
}

pub fn difference(a: Value, b: Value) -> Result<Value, Error> {
    let (a, b) = two_lists(&a, &b)?;
    Ok(from_data(&Data::Array(unique(a.into_iter().filter(|x| !b.contains(x))))))
}

pub fn symmetric_difference(a: Value, b: Value) -> Result<Value, Error> {
    let (a, b) = two_lists(&a, &b)?;
    let only_a = a.iter().filter(|x| !b.contains(x)).cloned();
    let only_b = b.iter().filter(|x| !a.contains(x)).cloned();
    Ok(from_data(&Data::Array(unique(only_a.chain(only_b)))))
}

/// `value | ternary(a, b, none_value)`: Python truthiness; `none_value` only for None when given.
pub fn ternary(value: &Value, true_value: Value, false_value: Value, none_value: Option<Value>) -> Value {
    match none_value {
        Some(none_value) if value.is_none() => none_value,
        _ if value.is_true() => true_value,
        _ => false_value,
    }
}

pub fn mandatory(state: &State, value: &Value, message: Option<String>) -> Result<Value, Error> {
    if value.is_undefined() {
        let _ = state;
        return Err(invalid(message.unwrap_or_else(|| "Mandatory variable not defined.".into())));
    }
    Ok(value.clone())
}

/// Ansible's `bool`: "yes"/"on"/"true"/"1" (any case) and 1 are true; "no"/"off"/"false"/"0", 0 and
/// everything else are false (Jinja2 has no `bool`; minijinja's would call any non-empty string true).
pub fn to_bool(value: &Value) -> bool {
    match value.kind() {
        ValueKind::Bool => value.is_true(),
        ValueKind::String => {
            matches!(value.as_str().unwrap_or_default().to_lowercase().as_str(), "yes" | "on" | "true" | "1")
        }
        ValueKind::Number => value.as_i64() == Some(1) || f64::try_from(value.clone()).is_ok_and(|f| f == 1.0),
        _ => false,
    }
}

/// The Python type name Ansible reports.
pub fn type_debug(value: &Value) -> &'static str {
    match value.kind() {
        ValueKind::None | ValueKind::Undefined => "NoneType",
        ValueKind::Bool => "bool",
        ValueKind::Number if value.is_integer() => "int",
        ValueKind::Number => "float",
        ValueKind::String => "str",
        ValueKind::Seq if value.is_tuple() => "tuple",
        ValueKind::Seq | ValueKind::Iterable => "list",
        ValueKind::Map => "dict",
        _ => "object",
    }
}

/// Ansible's `random`: a number below `end` (from `start`, by `step`) or an item of a list; with `seed`,
/// the same choice Python's `random.Random(seed)` makes, so `59 | random(seed=inventory_hostname)` gives the
/// host the same minute as under Ansible.
pub fn random(value: Value, start: Option<i64>, step: Option<i64>, kwargs: Kwargs) -> Result<Value, Error> {
    let start = kwargs.get::<Option<i64>>("start")?.or(start);
    let step = kwargs.get::<Option<i64>>("step")?.or(step);
    let seed = kwargs.get::<Option<Value>>("seed")?;
    kwargs.assert_all_used()?;
    let mut rng = match &seed {
        Some(seed) if seed.kind() == ValueKind::Number => PythonRandom::from_int(seed.as_i64().unwrap_or(0)),
        Some(seed) if !seed.is_none() => PythonRandom::from_text(&seed.to_string()),
        _ => PythonRandom::from_int(i64::from_le_bytes(rand::random())),
    };
    if let Some(end) = value.as_i64().filter(|_| value.is_integer()) {
        let start = start.unwrap_or(0);
        let step = step.filter(|s| *s != 0).unwrap_or(1);
        let width = end - start;
        let count = if step > 0 { (width + step - 1) / step } else { (width + step + 1) / step };
        if count <= 0 {
            return Err(invalid(format!("random: empty range for randrange({start}, {end}, {step})")));
        }
        return Ok(Value::from(start + step * rng.below(count as u64) as i64));
    }
    if start.is_some() || step.is_some() {
        return Err(invalid("random: start and step can only be used with integer values"));
    }
    let items: Vec<Value> = value.try_iter()?.collect();
    if items.is_empty() {
        return Err(invalid("random: cannot choose from an empty sequence"));
    }
    Ok(items[rng.below(items.len() as u64) as usize].clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_is_written_as_python_writes_it() {
        let value = json!({"b": [1, 2.5, null], "a": "é<"});
        assert_eq!(python_json(&value, None, false), r#"{"b": [1, 2.5, null], "a": "\u00e9<"}"#);
        assert_eq!(
            python_json(&value, Some(4), true),
            "{\n    \"a\": \"\\u00e9<\",\n    \"b\": [\n        1,\n        2.5,\n        null\n    ]\n}"
        );
    }

    #[test]
    fn combine_merges_as_ansible_documents() {
        let merged =
            merge_hash(json!({"a": {"x": 1}, "l": [1], "k": 1}), json!({"a": {"y": 2}, "l": [2]}), true, "append");
        assert_eq!(merged, json!({"a": {"x": 1, "y": 2}, "l": [1, 2], "k": 1}));
        assert_eq!(
            merge_hash(json!({"a": {"x": 1}}), json!({"a": {"y": 2}}), false, "replace"),
            json!({"a": {"y": 2}})
        );
    }

    #[test]
    fn flatten_as_documented() {
        let items = vec![json!(1), json!([2, [3, [4]]]), json!(null), json!("None")];
        assert_eq!(flatten_data(items.clone(), None, true), vec![json!(1), json!(2), json!(3), json!(4)]);
        assert_eq!(flatten_data(items, Some(1), true), vec![json!(1), json!(2), json!([3, [4]])]);
    }

    #[test]
    fn bool_has_ansibles_meaning() {
        for truthy in ["yes", "On", "TRUE", "1"] {
            assert!(to_bool(&Value::from(truthy)), "{truthy}");
        }
        for falsy in ["no", "off", "false", "0", "anything"] {
            assert!(!to_bool(&Value::from(falsy)), "{falsy}");
        }
        assert!(to_bool(&Value::from(1)));
        assert!(!to_bool(&Value::from(2)));
    }
}
