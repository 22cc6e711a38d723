//! The filters that call another filter or test by name (`map('extract', ...)`, `select('version', ...)`,
//! `selectattr('a', 'match', ...)`, `reject`, `rejectattr`): minijinja's own do the work, but its error for a
//! name it does not know says only "unknown filter"; here it names the filter or test, as a render error must.
//! Also Ansible's `extract`, which is mostly used through `map`.

use std::borrow::Cow;

use minijinja::value::{Rest, Value, ValueOrKwargs};
use minijinja::{Error, ErrorKind, State};

/// Whether the environment of `state` has the filter `name` (probed: an unknown name is the only call that
/// fails with `UnknownFilter` before looking at its arguments).
pub fn has_filter(state: &mut State, name: &str) -> bool {
    !matches!(state.apply_filter(name, &[]), Err(e) if e.kind() == ErrorKind::UnknownFilter)
}

pub fn has_test(state: &mut State, name: &str) -> bool {
    !matches!(state.perform_test(name, &[]), Err(e) if e.kind() == ErrorKind::UnknownTest)
}

fn unknown(kind: ErrorKind, what: &str, name: &str, by: &str) -> Error {
    Error::new(kind, format!("{what} `{name}` is unknown (called by `{by}`)"))
}

fn check_test(state: &mut State, name: Option<&str>, by: &str) -> Result<(), Error> {
    match name {
        Some(name) if !has_test(state, name) => Err(unknown(ErrorKind::UnknownTest, "test", name, by)),
        _ => Ok(()),
    }
}

pub fn map(state: &mut State, value: Value, args: Rest<ValueOrKwargs>) -> Result<Vec<Value>, Error> {
    if let Some(first) = args.first()
        && let Some(name) = first.as_str()
        && !has_filter(state, name)
    {
        return Err(unknown(ErrorKind::UnknownFilter, "filter", name, "map"));
    }
    minijinja::filters::map(state, value, args)
}

pub fn select(
    state: &mut State,
    value: Value,
    test: Option<Cow<'_, str>>,
    args: Rest<ValueOrKwargs>,
) -> Result<Vec<Value>, Error> {
    check_test(state, test.as_deref(), "select")?;
    minijinja::filters::select(state, value, test, args)
}

pub fn reject(
    state: &mut State,
    value: Value,
    test: Option<Cow<'_, str>>,
    args: Rest<ValueOrKwargs>,
) -> Result<Vec<Value>, Error> {
    check_test(state, test.as_deref(), "reject")?;
    minijinja::filters::reject(state, value, test, args)
}

pub fn selectattr(
    state: &mut State,
    value: Value,
    attr: Cow<'_, str>,
    test: Option<Cow<'_, str>>,
    args: Rest<ValueOrKwargs>,
) -> Result<Vec<Value>, Error> {
    check_test(state, test.as_deref(), "selectattr")?;
    minijinja::filters::selectattr(state, value, attr, test, args)
}

pub fn rejectattr(
    state: &mut State,
    value: Value,
    attr: Cow<'_, str>,
    test: Option<Cow<'_, str>>,
    args: Rest<ValueOrKwargs>,
) -> Result<Vec<Value>, Error> {
    check_test(state, test.as_deref(), "rejectattr")?;
    minijinja::filters::rejectattr(state, value, attr, test, args)
}

/// Ansible's `extract`: `container[item]`, then each of `morekeys` (a list, or one key) in turn; a missing key
/// is undefined (an error where it is used, not here).
pub fn extract(item: Value, container: Value, morekeys: Option<Value>) -> Result<Value, Error> {
    let mut keys = vec![item];
    match morekeys {
        None => {}
        Some(more) if more.kind() == minijinja::value::ValueKind::Seq => keys.extend(more.try_iter()?),
        Some(more) => keys.push(more),
    }
    let mut value = container;
    for key in keys {
        value = if value.is_undefined() { Value::UNDEFINED } else { value.get_item(&key).unwrap_or(Value::UNDEFINED) };
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    fn render(text: &str) -> Result<String, crate::template::RenderError> {
        crate::template::render_text(
            "t.j2",
            text,
            &json!({"hosts": {"a": {"ip": "1", "n": {"k": "x"}}, "b": {"ip": "2"}}}),
        )
    }

    #[test]
    fn extract_walks_the_container_and_its_more_keys() {
        assert_eq!(render("{{ ['a', 'b'] | map('extract', hosts, 'ip') | join(',') }}").unwrap(), "1,2");
        assert_eq!(render("{{ ['a'] | map('extract', hosts, ['n', 'k']) | list }}").unwrap(), "['x']");
        assert_eq!(render("{{ 'b' | extract(hosts) }}").unwrap(), "{'ip': '2'}");
        assert!(render("{{ 'z' | extract(hosts) }}").unwrap_err().to_string().contains("undefined"));
    }

    #[test]
    fn an_undefined_value_given_to_a_filter_is_an_error_naming_it_as_in_ansible() {
        let error = render("{{ nothing_here | ansible.utils.ipaddr('net') }}").unwrap_err().to_string();
        // minijinja keeps the undefined expression's name only in builds with debug assertions; a release build
        // (what users run) says "undefined value" at the template's line. Either way it is an error, not False.
        assert!(error.contains("undefined"), "{error}");
        if cfg!(debug_assertions) {
            assert!(error.contains("`nothing_here` is undefined"), "{error}");
        }
        let error = render("{{ nothing_here | ternary(1, 2) }}").unwrap_err().to_string();
        assert!(error.contains("undefined"), "{error}");
        assert!(render("{{ nothing_here | mandatory('m') }}").unwrap_err().to_string().contains("m"));
        assert_eq!(render("{{ nothing_here | default('d') | upper }}").unwrap(), "D");
    }

    #[test]
    fn an_unknown_name_given_to_map_or_select_is_named_with_the_line() {
        let error = render("\n{{ ['a'] | map('extrakt', hosts) | list }}").unwrap_err().to_string();
        assert!(error.starts_with("t.j2:2:") && error.contains("filter `extrakt` is unknown"), "{error}");
        let error = render("{{ ['a'] | selectattr('x', 'mtach', 'y') | list }}").unwrap_err().to_string();
        assert!(error.contains("test `mtach` is unknown"), "{error}");
        let error = render("{{ ['a'] | nosuchfilter }}").unwrap_err().to_string();
        assert!(error.contains("nosuchfilter"), "{error}");
        assert_eq!(render("{{ ['a', 'b'] | select('match', 'a') | list }}").unwrap(), "['a']");
    }
}
