//! `--limit` patterns, Ansible's: `a,b` or `a:b`, names, groups, globs, `~regex`, `!exclude`, `&intersect`,
//! `@file` (host names, one a line — how `--retry-failed` reads `.runbook/last-failed`).
//!
//! A pattern item that matches nothing is an error, not an empty selection: a typo in `--limit` must never
//! quietly turn into "run on nobody" (or, with `!typo`, "run on everybody").

use std::collections::BTreeSet;
use std::path::Path;

use regex::Regex;

use super::inventory::Inventory;
use super::inventory_error::InventoryError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Include,
    Intersect,
    Exclude,
}

// The method lives here, beside the grammar it applies, so that the inventory itself knows nothing of patterns.
impl Inventory {
    /// Resolves a `--limit` pattern to host names in inventory order.
    pub fn select(&self, pattern: &str) -> Result<Vec<String>, InventoryError> {
        select(self, pattern)
    }
}

/// Host names selected by `pattern`, in inventory order.
fn select(inventory: &Inventory, pattern: &str) -> Result<Vec<String>, InventoryError> {
    let items = parse_items(inventory, pattern, Path::new("."))?;
    if items.is_empty() {
        return Err(InventoryError::new(format!("--limit {pattern:?} is empty")));
    }
    let everything: BTreeSet<usize> = (0..inventory.hosts.len()).collect();
    let mut included: Option<BTreeSet<usize>> = None;
    let mut intersections = Vec::new();
    let mut exclusions = Vec::new();
    for (op, item) in &items {
        let hosts = match item {
            Item::Name(name) => resolve(inventory, name)?,
            Item::File(names) => {
                let mut hosts = BTreeSet::new();
                for name in names {
                    hosts.extend(resolve(inventory, name)?);
                }
                hosts
            }
        };
        match op {
            Op::Include => included.get_or_insert_with(BTreeSet::new).extend(hosts),
            Op::Intersect => intersections.push(hosts),
            Op::Exclude => exclusions.push(hosts),
        }
    }
    // Only `!x` / `&x` items: they narrow every host, as `--limit '!etcd'` means "all but etcd".
    let mut selected = included.unwrap_or(everything);
    for hosts in intersections {
        selected.retain(|host| hosts.contains(host));
    }
    for hosts in exclusions {
        selected.retain(|host| !hosts.contains(host));
    }
    if selected.is_empty() {
        return Err(InventoryError::new(format!("--limit {pattern:?} leaves no hosts to run on")));
    }
    Ok(selected.into_iter().map(|index| inventory.hosts.get_index(index).expect("host index").0.clone()).collect())
}

/// One item of a pattern: a name/glob/regex, or the names read from an `@file`.
#[derive(Debug)]
enum Item {
    Name(String),
    File(Vec<String>),
}

fn parse_items(inventory: &Inventory, pattern: &str, cwd: &Path) -> Result<Vec<(Op, Item)>, InventoryError> {
    let mut items = Vec::new();
    for part in pattern.split(',') {
        let part = part.trim();
        // An IPv6 host name contains ':'; keep it whole when it names a host.
        let whole = inventory.host(part.trim_start_matches(['!', '&'])).is_some() || part.contains('~');
        let pieces: Vec<&str> = if whole { vec![part] } else { part.split(':').collect() };
        for piece in pieces {
            let piece = piece.trim();
            let (op, body) = if let Some(body) = piece.strip_prefix('!') {
                (Op::Exclude, body)
            } else if let Some(body) = piece.strip_prefix('&') {
                (Op::Intersect, body)
            } else {
                (Op::Include, piece)
            };
            let body = body.trim();
            if body.is_empty() {
                continue;
            }
            let Some(file) = body.strip_prefix('@') else {
                items.push((op, Item::Name(body.to_string())));
                continue;
            };
            let path = cwd.join(file);
            let text = std::fs::read_to_string(&path)
                .map_err(|error| InventoryError::new(format!("--limit: cannot read {}: {error}", path.display())))?;
            let names: Vec<String> = text
                .lines()
                .map(str::trim)
                .filter(|line| !line.is_empty() && !line.starts_with('#'))
                .map(str::to_string)
                .collect();
            if names.is_empty() {
                return Err(InventoryError::new(format!("--limit: {} names no hosts", path.display())));
            }
            items.push((op, Item::File(names)));
        }
    }
    Ok(items)
}

fn resolve(inventory: &Inventory, item: &str) -> Result<BTreeSet<usize>, InventoryError> {
    if item == "all" || item == "*" {
        return Ok((0..inventory.hosts.len()).collect());
    }
    let mut hosts = BTreeSet::new();
    let mut matched = false;
    let matcher: Option<Regex> = if let Some(regex) = item.strip_prefix('~') {
        Some(Regex::new(regex).map_err(|error| InventoryError::new(format!("--limit {item:?}: bad regex: {error}")))?)
    } else if item.contains(['*', '?', '[']) {
        Some(glob_regex(item))
    } else {
        None
    };
    let name_matches = |name: &str| match &matcher {
        Some(regex) => regex.is_match(name),
        None => name == item,
    };
    for (group_name, _) in inventory.groups.iter() {
        if name_matches(group_name) {
            matched = true;
            for host in inventory.group_hosts(group_name).unwrap_or_default() {
                hosts.insert(inventory.hosts.get_index_of(&host.name).expect("host exists"));
            }
        }
    }
    for (index, name) in inventory.hosts.keys().enumerate() {
        if name_matches(name) {
            matched = true;
            hosts.insert(index);
        }
    }
    if !matched {
        return Err(unknown(inventory, item));
    }
    Ok(hosts)
}

fn unknown(inventory: &Inventory, item: &str) -> InventoryError {
    let groups = inventory.group_names();
    let suggestion = crate::did_you_mean::did_you_mean(
        item,
        groups.iter().copied().chain(inventory.hosts.keys().map(String::as_str)),
    );
    let hint = suggestion.map(|name| format!(" (did you mean {name:?}?)")).unwrap_or_default();
    InventoryError::new(format!("--limit: no host or group matches {item:?}{hint}; groups: {}", groups.join(", ")))
}

/// `*` any run, `?` one character, `[...]` / `[!...]` a class; everything else literal, whole name.
fn glob_regex(glob: &str) -> Regex {
    let mut regex = String::from("^");
    let mut chars = glob.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' => regex.push_str(".*"),
            '?' => regex.push('.'),
            '[' => {
                let mut class = String::new();
                let mut closed = false;
                if chars.peek() == Some(&'!') {
                    chars.next();
                    class.push('^');
                }
                for c in chars.by_ref() {
                    if c == ']' {
                        closed = true;
                        break;
                    }
                    if c == '\\' || c == '[' {
                        class.push('\\');
                    }
                    class.push(c);
                }
                if closed && !class.is_empty() && class != "^" {
                    regex.push('[');
                    regex.push_str(&class);
                    regex.push(']');
                } else {
                    regex.push_str(&regex::escape(&format!("[{class}")));
                }
            }
            other => regex.push_str(&regex::escape(&other.to_string())),
        }
    }
    regex.push('$');
    Regex::new(&regex).unwrap_or_else(|_| Regex::new(&format!("^{}$", regex::escape(glob))).expect("escaped"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inventory() -> Inventory {
        Inventory::parse(
            "all:
  hosts:
    k8s-master01:
    k8s-master02:
    k8s-node01:
    k8s-node02:
    harbor:
    '::1':
  children:
    masters:
      hosts: {k8s-master01: , k8s-master02: }
    nodes:
      hosts: {k8s-node01: , k8s-node02: }
    etcd:
      hosts: {k8s-master02: , k8s-master01: }
    k8s:
      children: {masters: , nodes: }
",
            Path::new("inv.yaml"),
        )
        .unwrap()
    }

    fn select(pattern: &str) -> Vec<String> {
        inventory().select(pattern).unwrap()
    }

    fn error(pattern: &str) -> String {
        inventory().select(pattern).unwrap_err().to_string()
    }

    #[test]
    fn names_groups_and_lists_in_inventory_order() {
        assert_eq!(select("k8s-node01"), ["k8s-node01"]);
        assert_eq!(select("nodes,k8s-master01"), ["k8s-master01", "k8s-node01", "k8s-node02"]);
        assert_eq!(select("etcd"), ["k8s-master01", "k8s-master02"]);
        assert_eq!(select("nodes:masters"), ["k8s-master01", "k8s-master02", "k8s-node01", "k8s-node02"]);
        assert_eq!(select("all").len(), 6);
        assert_eq!(select("::1"), ["::1"]);
    }

    #[test]
    fn globs_regexes_exclusion_and_intersection() {
        assert_eq!(select("k8s-*"), ["k8s-master01", "k8s-master02", "k8s-node01", "k8s-node02"]);
        assert_eq!(select("*master*"), ["k8s-master01", "k8s-master02"]);
        assert_eq!(select("k8s-node0[2-9]"), ["k8s-node02"]);
        assert_eq!(select("~master0[12]$"), ["k8s-master01", "k8s-master02"]);
        assert_eq!(select("k8s:!masters"), ["k8s-node01", "k8s-node02"]);
        assert_eq!(select("!k8s"), ["harbor", "::1"]);
        assert_eq!(select("k8s:&etcd"), ["k8s-master01", "k8s-master02"]);
        assert_eq!(select("all,!k8s-node0?,!harbor,!::1"), ["k8s-master01", "k8s-master02"]);
    }

    #[test]
    fn limit_file_lists_hosts() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("last-failed");
        std::fs::write(&file, "k8s-node02\n\n# comment\nharbor\n").unwrap();
        assert_eq!(select(&format!("@{}", file.display())), ["k8s-node02", "harbor"]);
        assert_eq!(select(&format!("nodes:!@{}", file.display())), ["k8s-node01"]);
        assert!(error("@/nonexistent/last-failed").contains("cannot read /nonexistent/last-failed"));
    }

    #[test]
    fn no_match_is_an_error_with_a_suggestion() {
        assert_eq!(
            error("mastres"),
            "--limit: no host or group matches \"mastres\" (did you mean \"masters\"?); \
             groups: all, ungrouped, masters, nodes, etcd, k8s"
        );
        assert!(error("nodes,!etdc").contains("(did you mean \"etcd\"?)"));
        assert!(error("zzz*").starts_with("--limit: no host or group matches \"zzz*\"; groups:"));
        assert_eq!(error("masters:&nodes"), "--limit \"masters:&nodes\" leaves no hosts to run on");
    }

    /// Arbitrary pattern text: refused or accepted, never a panic.
    #[test]
    fn random_patterns_never_panic() {
        use rand::{Rng, SeedableRng};
        let inventory = inventory();
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        let alphabet: Vec<char> = "k8s-master0102node,:!&*?[]~^$()|.\\ é".chars().collect();
        for _ in 0..1000 {
            let length = rng.random_range(0..24);
            let pattern: String = (0..length).map(|_| alphabet[rng.random_range(0..alphabet.len())]).collect();
            if let Ok(hosts) = inventory.select(&pattern) {
                assert!(!hosts.is_empty(), "{pattern:?}");
            }
        }
    }
}
