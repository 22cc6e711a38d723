//! A host key as written under `hosts:` may stand for several hosts or carry a port, as in Ansible:
//! `k8s-node[01:10]` (zero-padded, optional `:step`), `web[a:c]`, `10.0.0.5:2222`, `[::1]:2222`.
//!
//! Ranges are expanded when the inventory loads, so everything after it sees plain host names.

use std::sync::LazyLock;

use regex::Regex;

/// More hosts than this from one key is surely a typo (`h[1:1000000]`), and would cost memory for nothing.
const MAX_HOSTS_PER_KEY: usize = 10_000;

static RANGE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^(?P<head>[^\[]*)\[(?P<begin>[0-9]*|[a-zA-Z]):(?P<end>[0-9]+|[a-zA-Z])(?::(?P<step>[0-9]+))?\](?P<tail>.*)$",
    )
    .expect("range regex")
});
static BRACKETED_PORT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\[(?P<host>[^\[\]]+)\]:(?P<port>[0-9]+)$").expect("port regex"));
static PLAIN_PORT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(?P<host>[^:\[\]]+):(?P<port>[0-9]+)$").expect("port regex"));

/// The hosts `key` stands for, each with the port it names (if any). The error explains what is wrong.
pub(super) fn expand(key: &str) -> Result<Vec<(String, Option<u16>)>, HostKeyError> {
    let key = key.trim();
    if key.is_empty() {
        return Err(HostKeyError::Empty);
    }
    if let Some(bad) = key.chars().find(|c| c.is_whitespace() || c.is_control()) {
        return Err(HostKeyError::Space { key: key.to_string(), bad });
    }
    let (name, port) = split_port(key)?;
    let mut names = Vec::new();
    expand_ranges(&name, &mut names)?;
    Ok(names.into_iter().map(|name| (name, port)).collect())
}

fn split_port(key: &str) -> Result<(String, Option<u16>), HostKeyError> {
    let captures = BRACKETED_PORT.captures(key).or_else(|| PLAIN_PORT.captures(key));
    let Some(captures) = captures else {
        return Ok((key.to_string(), None));
    };
    let port = &captures["port"];
    match port.parse::<u16>() {
        Ok(port) if port > 0 => Ok((captures["host"].to_string(), Some(port))),
        _ => Err(HostKeyError::Port { key: key.to_string(), port: port.to_string() }),
    }
}

fn expand_ranges(name: &str, out: &mut Vec<String>) -> Result<(), HostKeyError> {
    let Some(captures) = RANGE.captures(name) else {
        out.push(name.to_string());
        return Ok(());
    };
    let (head, begin, end, tail) = (&captures["head"], &captures["begin"], &captures["end"], &captures["tail"]);
    let step: usize = match captures.name("step") {
        Some(step) => step
            .as_str()
            .parse()
            .ok()
            .filter(|step| *step > 0)
            .ok_or_else(|| range(name, "the step must be a positive number"))?,
        None => 1,
    };
    let items: Vec<String> = if end.chars().all(|c| c.is_ascii_digit()) {
        if !begin.is_empty() && !begin.chars().all(|c| c.is_ascii_digit()) {
            return Err(range(name, "begin and end must both be numbers or both letters"));
        }
        let begin_text = if begin.is_empty() { "0" } else { begin };
        let width = if begin_text.len() > 1 && begin_text.starts_with('0') {
            if begin_text.len() != end.len() {
                return Err(range(name, "a zero-padded range needs begin and end of the same width"));
            }
            begin_text.len()
        } else {
            0
        };
        let parse = |text: &str| text.parse::<u64>().map_err(|_| range(name, &format!("{text} is too large")));
        let (first, last) = (parse(begin_text)?, parse(end)?);
        if first > last {
            return Err(range(name, "begin is after end"));
        }
        if (last - first) / step as u64 >= MAX_HOSTS_PER_KEY as u64 {
            return Err(HostKeyError::TooMany { name: name.to_string() });
        }
        (first..=last).step_by(step).map(|n| format!("{n:0width$}")).collect()
    } else {
        let (Some(first), Some(last)) = (begin.chars().next(), end.chars().next()) else {
            return Err(range(name, "a letter range needs a begin letter"));
        };
        if first > last {
            return Err(range(name, "begin is after end"));
        }
        (first..=last).step_by(step).map(String::from).collect()
    };
    for item in items {
        expand_ranges(&format!("{head}{item}{tail}"), out)?;
        if out.len() > MAX_HOSTS_PER_KEY {
            return Err(HostKeyError::TooMany { name: name.to_string() });
        }
    }
    Ok(())
}

/// Why an inventory host key (`web[01:10].example:2222`) names no hosts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostKeyError {
    #[error("a host name must not be empty")]
    Empty,
    #[error("host name {key:?} contains {bad:?}; host names cannot contain spaces")]
    Space { key: String, bad: char },
    #[error("host {key:?}: port {port} is not between 1 and 65535")]
    Port { key: String, port: String },
    #[error("host range {name:?}: {problem}")]
    Range { name: String, problem: String },
    #[error("host range {name:?} makes more than {MAX_HOSTS_PER_KEY} hosts")]
    TooMany { name: String },
}

fn range(name: &str, problem: &str) -> HostKeyError {
    HostKeyError::Range { name: name.to_string(), problem: problem.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(key: &str) -> Vec<String> {
        expand(key).unwrap().into_iter().map(|(name, _)| name).collect()
    }

    #[test]
    fn plain_names_and_ipv6_stay_whole() {
        assert_eq!(expand("k8s-master01").unwrap(), [("k8s-master01".to_string(), None)]);
        assert_eq!(names("::1"), ["::1"]);
        assert_eq!(names("fe80::1"), ["fe80::1"]);
        assert_eq!(names("[2001:db8::1]"), ["[2001:db8::1]"]);
    }

    #[test]
    fn numeric_and_letter_ranges() {
        assert_eq!(names("k8s-node[01:03]"), ["k8s-node01", "k8s-node02", "k8s-node03"]);
        assert_eq!(names("h[1:10:4]"), ["h1", "h5", "h9"]);
        assert_eq!(names("h[:2]"), ["h0", "h1", "h2"]);
        assert_eq!(names("db-[a:c]"), ["db-a", "db-b", "db-c"]);
        assert_eq!(names("r[1:2]-[a:b]"), ["r1-a", "r1-b", "r2-a", "r2-b"]);
    }

    #[test]
    fn ports() {
        assert_eq!(expand("10.0.0.5:2222").unwrap(), [("10.0.0.5".to_string(), Some(2222))]);
        assert_eq!(expand("[::1]:22").unwrap(), [("::1".to_string(), Some(22))]);
        assert_eq!(expand("web[1:2]:2200").unwrap().len(), 2);
        assert!(expand("h:99999").unwrap_err().to_string().contains("port 99999"));
    }

    #[test]
    fn bad_ranges_and_names() {
        assert!(expand("h[01:100]").unwrap_err().to_string().contains("same width"));
        assert!(expand("h[5:1]").unwrap_err().to_string().contains("begin is after end"));
        assert!(expand("h[0:99999999]").unwrap_err().to_string().contains("more than 10000 hosts"));
        assert!(expand("h[0:99][0:999]").unwrap_err().to_string().contains("more than 10000 hosts"));
        assert!(expand("h[1:3:0]").unwrap_err().to_string().contains("step"));
        assert!(expand("two words").unwrap_err().to_string().contains("cannot contain spaces"));
        assert!(expand(" ").unwrap_err().to_string().contains("must not be empty"));
    }
}
