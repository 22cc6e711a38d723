//! Ansible's filters, by family, registered under their short names and their `ansible.builtin.` /
//! `ansible.utils.` names (both spellings appear in roles).

pub(crate) mod by_name;
pub(crate) mod data;
mod hashing;
mod network;
mod text;
mod url;

use minijinja::value::Value;
use minijinja::{Environment, Error, ErrorKind};

pub fn register(env: &mut Environment) {
    macro_rules! builtin {
        ($($name:literal => $f:path),* $(,)?) => {$(
            env.add_filter($name, $f);
            env.add_filter(concat!("ansible.builtin.", $name), $f);
        )*};
    }
    macro_rules! utils {
        ($($name:literal => $f:path),* $(,)?) => {$(
            env.add_filter($name, $f);
            env.add_filter(concat!("ansible.utils.", $name), $f);
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
        "mandatory" => data::mandatory,
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
