//! A map literal of the playbook reduced to its keys, their positions and literal values: what the option,
//! sysctl and template checks read. Its own file so that the script walk and the sysctl checks both use it
//! without importing each other.

use rhai::{Expr, Ident, Position};

/// A map literal reduced to what the checks use: keys, where they are, literal values.
#[derive(Debug, Clone)]
pub struct MapEntry {
    pub key: String,
    pub position: Position,
    /// The value when it is a literal string, number or boolean (as text).
    pub value: Option<String>,
}

/// The entries of a map literal `#{ key: value, ... }`.
pub fn map_summary(entries: &[(Ident, Expr)]) -> Vec<MapEntry> {
    entries
        .iter()
        .map(|(key, value)| MapEntry {
            key: key.name.to_string(),
            position: key.pos,
            value: match value {
                Expr::StringConstant(text, _) => Some(text.to_string()),
                Expr::IntegerConstant(number, _) => Some(number.to_string()),
                Expr::BoolConstant(flag, _) => Some(u8::from(*flag).to_string()),
                _ => None,
            },
        })
        .collect()
}
