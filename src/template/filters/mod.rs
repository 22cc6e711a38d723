//! Ansible's filters, by family, registered under their short names and their `ansible.builtin.` /
//! `ansible.utils.` names (both spellings appear in roles).

pub(crate) mod by_name;
pub(crate) mod data;
mod hashing;
mod network;
mod text;
mod url;

use minijinja::functions::Function;
use minijinja::value::{FunctionArgs, FunctionResult, Rest, Value, ValueOrKwargs};
use minijinja::{Environment, Error, ErrorKind, State};

pub fn register(env: &mut Environment) {
    macro_rules! builtin {
        ($($name:literal => $f:path),* $(,)?) => {$(
            env.add_filter($name, strict($name, $f));
            env.add_filter(concat!("ansible.builtin.", $name), strict($name, $f));
        )*};
    }
    macro_rules! utils {
        ($($name:literal => $f:path),* $(,)?) => {$(
            env.add_filter($name, strict($name, $f));
            env.add_filter(concat!("ansible.utils.", $name), strict($name, $f));
        )*};
    }
    builtin! {
        "to_json" => data::to_json,
        "to_nice_json" => data::to_nice_json,
        "from_json" => data::from_json,
        "to_yaml" => data::to_yaml,
        "to_nice_yaml" => data::to_nice_yaml,
        "from_yaml" => data::from_yaml,
        "combine" => data::combine,
        "dict2items" => data::dict2items,
        "items2dict" => data::items2dict,
        "flatten" => data::flatten,
        "union" => data::union,
        "intersect" => data::intersect,
        "difference" => data::difference,
        "symmetric_difference" => data::symmetric_difference,
        "ternary" => data::ternary,
        "bool" => data::to_bool,
        "type_debug" => data::type_debug,
        "random" => data::random,
        "regex_replace" => text::regex_replace,
        "regex_search" => text::regex_search,
        "regex_findall" => text::regex_findall,
        "regex_escape" => text::regex_escape,
        "b64encode" => text::b64encode,
        "b64decode" => text::b64decode,
        "quote" => text::quote,
        "comment" => text::comment,
        "basename" => text::basename,
        "dirname" => text::dirname,
        "hash" => hashing::hash,
        "checksum" => hashing::checksum,
        "md5" => hashing::md5,
        "sha1" => hashing::sha1,
        "password_hash" => hashing::password_hash,
        "urlsplit" => url::urlsplit,
        "extract" => by_name::extract,
    }
    // Jinja2's filters that call a filter or test by name: the same, with errors that name it.
    env.add_filter("map", by_name::map);
    env.add_filter("select", by_name::select);
    env.add_filter("reject", by_name::reject);
    env.add_filter("selectattr", by_name::selectattr);
    env.add_filter("rejectattr", by_name::rejectattr);
    // `mandatory` is the one filter whose point is an undefined value.
    env.add_filter("mandatory", data::mandatory);
    env.add_filter("ansible.builtin.mandatory", data::mandatory);
    // Jinja2's own `indent` keeps a trailing newline; minijinja's drops it.
    env.add_filter("indent", text::indent);
    // Jinja2's own `tojson` sorts keys and escapes for HTML, unlike minijinja's.
    env.add_filter("tojson", data::tojson);
    utils! {
        "ipwrap" => network::ipwrap,
        "ipaddr" => network::ipaddr,
        "ipv4" => network::ipv4,
        "ipv6" => network::ipv6,
    }
}

/// A filter as Ansible calls it: an undefined value given to it is an error, as everywhere in Ansible 2.19 (a
/// filter of ours taking any value would otherwise see it and, say, make `False` of it).
fn strict<F, Rv, Args>(
    name: &'static str,
    filter: F,
) -> impl Fn(&mut State, Rest<ValueOrKwargs>) -> Result<Value, Error>
where
    F: Function<Rv, Args>,
    Rv: FunctionResult,
    Args: for<'a> FunctionArgs<'a>,
{
    let filter = Value::from_function(filter);
    move |state: &mut State, args: Rest<ValueOrKwargs>| {
        let args = args.into_values();
        if let Some(value) = args.first().filter(|v| v.is_undefined()) {
            // Reading from the undefined value gives minijinja's own error, which names the expression that
            // was undefined (`node_pod_cidr` is undefined), as Ansible's does.
            return Err(value.get_item(&Value::from(0)).err().unwrap_or_else(|| {
                Error::new(ErrorKind::UndefinedError, format!("an undefined value given to filter `{name}`"))
            }));
        }
        filter.call(state, &args)
    }
}

fn invalid(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, message.into())
}

/// minijinja value → JSON (insertion order kept), for the filters that work on plain data.
fn to_data(value: &Value) -> Result<serde_json::Value, Error> {
    serde_json::to_value(value).map_err(|e| invalid(format!("not plain data: {e}")))
}

fn from_data(value: &serde_json::Value) -> Value {
    Value::from(minijinja::value::Serde(value))
}
