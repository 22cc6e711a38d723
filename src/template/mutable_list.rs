//! A list a template builds in place, as Ansible templates do with `{% set l = [] %}` and
//! `{% set _ = l.append(x) %}` inside a loop: Python lists are mutable and Jinja2 calls their methods, while
//! minijinja's values are immutable. `python_syntax.rs` makes every list literal assigned by `{% set %}` one
//! of these; it reads as an ordinary list everywhere (iteration, `length`, `join`, indexing, `to_json`, ...)
//! and its methods change it as Python's do. A list that comes from variables stays immutable: `.append()` on
//! it is an error that says so (Ansible would change the variable for the rest of the template).

use std::sync::{Arc, Mutex};

use minijinja::value::{Enumerator, Object, ObjectRepr, Value};
use minijinja::{Error, ErrorKind, State};

#[derive(Debug, Default)]
pub struct MutableList {
    items: Mutex<Vec<Value>>,
}

/// `__runbook_list([...])`: the list literal as a mutable list.
pub fn new(items: Value) -> Result<Value, Error> {
    let items = items.try_iter()?.collect();
    Ok(Value::from_object(MutableList { items: Mutex::new(items) }))
}

impl MutableList {
    fn items(&self) -> std::sync::MutexGuard<'_, Vec<Value>> {
        self.items.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn index(len: usize, at: i64) -> Option<usize> {
    let at = if at < 0 { len as i64 + at } else { at };
    (0..len as i64).contains(&at).then_some(at as usize)
}

fn invalid(message: String) -> Error {
    Error::new(ErrorKind::InvalidOperation, message)
}

impl Object for MutableList {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let items = self.items();
        let at = index(items.len(), i64::try_from(key.clone()).ok()?)?;
        items.get(at).cloned()
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(self.items().clone())
    }

    fn enumerator_len(self: &Arc<Self>) -> Option<usize> {
        Some(self.items().len())
    }

    fn call_method(self: &Arc<Self>, state: &mut State, method: &str, args: &[Value]) -> Result<Value, Error> {
        let mut items = self.items();
        let arity = |n: usize| {
            if args.len() == n {
                Ok(())
            } else {
                Err(invalid(format!("list.{method}() takes exactly {n} argument(s) ({} given)", args.len())))
            }
        };
        match method {
            "append" => {
                arity(1)?;
                items.push(args[0].clone());
            }
            "extend" => {
                arity(1)?;
                items.extend(args[0].try_iter()?);
            }
            "insert" => {
                arity(2)?;
                let at = i64::try_from(args[0].clone())?;
                let len = items.len() as i64;
                let at = if at < 0 { (len + at).max(0) } else { at.min(len) };
                items.insert(at as usize, args[1].clone());
            }
            "pop" => {
                let at = match args {
                    [] => -1,
                    [at] => i64::try_from(at.clone())?,
                    _ => return Err(invalid(format!("list.pop() takes at most 1 argument ({} given)", args.len()))),
                };
                let Some(at) = index(items.len(), at) else { return Err(invalid("pop index out of range".into())) };
                return Ok(items.remove(at));
            }
            "remove" => {
                arity(1)?;
                let Some(at) = items.iter().position(|v| v == &args[0]) else {
                    return Err(invalid("list.remove(x): x not in list".into()));
                };
                items.remove(at);
            }
            "clear" => {
                arity(0)?;
                items.clear();
            }
            "reverse" => {
                arity(0)?;
                items.reverse();
            }
            "sort" => {
                arity(0)?;
                items.sort();
            }
            _ => {
                // Everything that does not change the list (index, count, ...) as for any list.
                let snapshot = Value::from(items.clone());
                drop(items);
                return python_method(state, &snapshot, method, args);
            }
        }
        Ok(Value::from(()))
    }
}

const IN_PLACE: &[&str] = &["append", "extend", "insert", "pop", "remove", "clear", "reverse", "sort"];

/// The environment's callback for Python methods minijinja lacks: minijinja-contrib's pycompat, plus
/// `list.index()`, and a clear error for a method that would change a list that cannot change.
pub fn python_method(state: &mut State, value: &Value, method: &str, args: &[Value]) -> Result<Value, Error> {
    if method.starts_with('_') {
        // Ansible's (Jinja2's) sandbox refuses these (`d.__setitem__(k, v)`), so a template cannot rely on them.
        return Err(invalid(format!("access to attribute {method:?} of {:?} object is unsafe", value.kind())));
    }
    if matches!(value.kind(), minijinja::value::ValueKind::Seq) {
        if method == "index" {
            let [what] = args else { return Err(invalid("list.index() takes exactly 1 argument".into())) };
            return value
                .try_iter()?
                .position(|v| &v == what)
                .map(Value::from)
                .ok_or_else(|| invalid(format!("list.index(x): {what:?} is not in list")));
        }
        if IN_PLACE.contains(&method) {
            return Err(invalid(format!(
                "list.{method}() changes a list in place, which works here only on a list the template made with \
                 `{{% set NAME = [...] %}}`; this one comes from variables (build a new one: `l + [x]`)"
            )));
        }
    }
    if matches!(value.kind(), minijinja::value::ValueKind::Map) && DICT_IN_PLACE.contains(&method) {
        return Err(invalid(format!(
            "dict.{method}() changes a dict in place, which works here only on a dict the template made with \
             `{{% set NAME = {{...}} %}}`; this one comes from variables (build a new one: `d | combine(...)`)"
        )));
    }
    minijinja_contrib::pycompat::unknown_method_callback(state, value, method, args)
}

const DICT_IN_PLACE: &[&str] = &["update", "pop", "popitem", "__setitem__", "setdefault", "clear"];

#[cfg(test)]
mod tests {
    use serde_json::json;

    fn render(text: &str) -> Result<String, crate::template::RenderError> {
        crate::template::render_text("t", text, &json!({"vars_list": [1, 2]}))
    }

    #[test]
    fn append_and_friends_change_the_list_as_python_does() {
        let text = "{% set l = [] %}{% for x in [3, 1, 2] %}{% set _ = l.append(x) %}{% endfor %}{{ l }}\n";
        // One node that is a list: Ansible writes the value, without the source's trailing newline.
        assert_eq!(render(text).unwrap(), "[3, 1, 2]");
        let text = "{% set l = ['a'] %}{{ l.extend(['b', 'c']) }}{{ l.insert(0, 'z') }}{{ l.pop() }} {{ l }} \
                    {{ l | length }} {{ l | join('-') }} {{ l[-1] }} {{ l.index('b') }} {{ l | to_json }}";
        assert_eq!(render(text).unwrap(), "c ['z', 'a', 'b'] 3 z-a-b b 2 [\"z\", \"a\", \"b\"]");
        let text = "{% set l = [2, 1] %}{% if l.sort() %}{% endif %}{{ l }} {{ l == [1, 2] }} {{ 1 in l }}";
        assert_eq!(render(text).unwrap(), "[1, 2] True True");
    }

    #[test]
    fn a_list_from_variables_cannot_be_changed_in_place() {
        let error = render("{% set _ = vars_list.append(3) %}").unwrap_err().to_string();
        assert!(error.contains("append"), "{error}");
    }
}
