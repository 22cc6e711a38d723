//! Literal sysctl maps (`h.sysctl(#{ "net.ipv4.ip_forward": "1" })`, or a variable bound to such a map):
//! keys that cannot be sysctl names, and one key set to two different values for the same file — which
//! value wins would depend on the order the calls run in. `net/ipv4/ip_forward` and `net.ipv4.ip_forward`
//! are the same key.

use std::collections::HashMap;
use std::path::Path;

use rhai::Position;

use super::finding::Finding;
use super::map_entry::MapEntry;
use super::rules::Rule;

/// Every literal sysctl key seen in one file, by the file it is persisted to.
#[derive(Default)]
pub struct SysctlMaps {
    seen: HashMap<(String, String), (String, Position)>,
    findings: Vec<(Position, String, Option<String>)>,
}

impl SysctlMaps {
    pub fn add(&mut self, target: &str, entries: &[MapEntry]) {
        for entry in entries {
            let Some(normal) = normalize(&entry.key) else {
                self.findings.push((
                    entry.position,
                    format!("\"{}\" is not a sysctl key", entry.key),
                    Some("a key is dot- or slash-separated words, like net.ipv4.ip_forward".to_string()),
                ));
                continue;
            };
            let Some(value) = entry.value.as_deref().map(|v| v.split_whitespace().collect::<Vec<_>>().join(" ")) else {
                continue;
            };
            match self.seen.get(&(target.to_string(), normal.clone())) {
                Some((earlier, at)) if *earlier != value && *at != entry.position => {
                    let line = at.line().unwrap_or(0);
                    self.findings.push((
                        entry.position,
                        format!("sysctl key {normal} is set to \"{value}\" here and to \"{earlier}\" on line {line} ({target})"),
                        None,
                    ));
                }
                Some(_) => {}
                None => {
                    self.seen.insert((target.to_string(), normal), (value, entry.position));
                }
            }
        }
    }

    pub fn findings(self, file: &Path) -> Vec<Finding> {
        self.findings
            .into_iter()
            .map(|(position, message, hint)| Finding::at(file, position, Rule::SysctlKey, message).maybe_hint(hint))
            .collect()
    }
}

/// The key in dotted form, or `None` when it cannot be a sysctl name.
fn normalize(key: &str) -> Option<String> {
    let (separator, allowed_dot) = if key.contains('/') { ('/', true) } else { ('.', false) };
    let parts: Vec<&str> = key.split(separator).collect();
    let word_ok = |part: &&str| {
        !part.is_empty()
            && part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | ':' | '@') || (allowed_dot && c == '.'))
    };
    if parts.len() < 2 || !parts.iter().all(word_ok) {
        return None;
    }
    Some(parts.join("."))
}

#[cfg(test)]
mod tests {
    use super::normalize;

    #[test]
    fn keys() {
        assert_eq!(normalize("net.ipv4.ip_forward").as_deref(), Some("net.ipv4.ip_forward"));
        assert_eq!(normalize("net/ipv4/ip_forward").as_deref(), Some("net.ipv4.ip_forward"));
        assert_eq!(
            normalize("net.bridge.bridge-nf-call-iptables").as_deref(),
            Some("net.bridge.bridge-nf-call-iptables")
        );
        assert_eq!(normalize("net/ipv4/conf/eth0.100/rp_filter").as_deref(), Some("net.ipv4.conf.eth0.100.rp_filter"));
        assert_eq!(normalize("ip_forward"), None);
        assert_eq!(normalize("net.ipv4..ip_forward"), None);
        assert_eq!(normalize("net.ipv4.ip_forward = 1"), None);
        assert_eq!(normalize("net.ipv4.ip_forward "), None);
    }
}
