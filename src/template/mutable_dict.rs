//! A dict a template changes in place, as kubespray's templates do with `{% set counter = {'dns': 2} %}` and
//! `{% if counter.update({'dns': counter['dns'] + 1}) %}{% endif %}` (also `pop`, `setdefault`; not
//! `__setitem__`, which Ansible 2.19's sandbox refuses as unsafe, and so does runbook): Python dicts are mutable and Jinja2 calls their methods; minijinja's values are not.
//! `python_syntax.rs` makes every dict literal assigned by `{% set %}` one of these; it reads as an ordinary
//! dict everywhere (keys in insertion order, `.items()`, `[key]`, `.key`, `in`, filters). A dict from
//! variables stays immutable (`vars.update(...)` is an error that says so).

use std::sync::{Arc, Mutex};

use minijinja::value::{Enumerator, Kwargs, Object, ObjectRepr, Rest, Value};
use minijinja::{Error, ErrorKind, State};

#[derive(Debug, Default)]
pub struct MutableDict {
    items: Mutex<Vec<(Value, Value)>>,
}

/// `__runbook_dict({...})`: the dict literal as a mutable dict.
pub fn new(map: Value) -> Result<Value, Error> {
    let mut items = Vec::new();
    for key in map.try_iter()? {
        let value = map.get_item(&key)?;
        items.push((key, value));
    }
    Ok(Value::from_object(MutableDict { items: Mutex::new(items) }))
}

fn invalid(message: String) -> Error {
    Error::new(ErrorKind::InvalidOperation, message)
}

impl MutableDict {
    fn items(&self) -> std::sync::MutexGuard<'_, Vec<(Value, Value)>> {
        self.items.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn set(items: &mut Vec<(Value, Value)>, key: Value, value: Value) {
        match items.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => items.push((key, value)),
        }
    }
}

impl Object for MutableDict {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        self.items().iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(self.items().iter().map(|(k, _)| k.clone()).collect())
    }

    fn enumerator_len(self: &Arc<Self>) -> Option<usize> {
        Some(self.items().len())
    }

    fn call_method(self: &Arc<Self>, state: &mut State, method: &str, args: &[Value]) -> Result<Value, Error> {
        let mut items = self.items();
        match method {
            "update" => {
                let (positional, kwargs): (Rest<Value>, Kwargs) = minijinja::value::from_args(args)?;
                for other in positional.iter() {
                    for key in other.try_iter()? {
                        let value = other.get_item(&key)?;
                        Self::set(&mut items, key, value);
                    }
                }
                for key in kwargs.args() {
                    let value: Value = kwargs.get(key)?;
                    Self::set(&mut items, Value::from(key), value);
                }
            }
            "setdefault" => {
                let (key, default) = match args {
                    [key] => (key, Value::from(())),
                    [key, default] => (key, default.clone()),
                    _ => return Err(invalid("dict.setdefault() takes 1 or 2 arguments".into())),
                };
                if let Some((_, value)) = items.iter().find(|(k, _)| k == key) {
                    return Ok(value.clone());
                }
                items.push((key.clone(), default.clone()));
                return Ok(default);
            }
            "pop" => {
                let (key, default) = match args {
                    [key] => (key, None),
                    [key, default] => (key, Some(default.clone())),
                    _ => return Err(invalid("dict.pop() takes 1 or 2 arguments".into())),
                };
                return match items.iter().position(|(k, _)| k == key) {
                    Some(at) => Ok(items.remove(at).1),
                    None => default.ok_or_else(|| invalid(format!("KeyError: {key}"))),
                };
            }
            "clear" => items.clear(),
            _ => {
                // Everything that does not change the dict (items, keys, values, get, ...) as for any dict.
                let snapshot = Value::from_iter(items.iter().cloned());
                drop(items);
                return crate::template::mutable_list::python_method(state, &snapshot, method, args);
            }
        }
        Ok(Value::from(()))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    fn render(text: &str) -> Result<String, crate::template::RenderError> {
        crate::template::render_text("t", text, &json!({"given": {"a": 1}}))
    }

    #[test]
    fn update_and_friends_change_the_dict_as_python_does() {
        let text = "{% set c = {'dns': 2, 'ip': 1} %}{% macro inc(d, k) %}{% if d.update({k: d[k] + 1}) %}\
                    {% endif %}{% endmacro %}{{ inc(c, 'dns') }}{{ inc(c, 'dns') }}{{ c }} {{ c.dns }} {{ c | to_json }}";
        assert_eq!(render(text).unwrap(), "{'dns': 4, 'ip': 1} 4 {\"dns\": 4, \"ip\": 1}");
        let text = "{% set d = {'a': 1, 'b': 2} %}{% set v = d.pop('a') %}{{ d.update({'z': v}) }}\
                    {{ d.setdefault('b', 9) }} {{ d.keys() | join(',') }} {{ 'z' in d }} {{ d.get('q', 'none') }} {{ d | length }}";
        assert_eq!(render(text).unwrap(), "2 b,z True none 2");
        assert_eq!(render("{% set d = {} %}{{ d.update(x=1) }}{{ d }}").unwrap(), "{'x': 1}");
    }

    #[test]
    fn a_dict_from_variables_cannot_be_changed_in_place() {
        let error = render("{{ given.update({'b': 2}) }}").unwrap_err().to_string();
        assert!(error.contains("update"), "{error}");
        let error = render("{% set d = {} %}{{ d.__setitem__('a', 1) }}").unwrap_err().to_string();
        assert!(error.contains("unsafe"), "{error}");
    }
}
