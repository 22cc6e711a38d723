//! A lab's name: it becomes a bridge name, a directory and part of every machine name, so it is kept short and
//! plain.

use std::fmt;

use super::lab_error::LabError;

/// Bridge names are at most 15 bytes; `rb-` plus 10 fits with room to spare.
const MAX_LEN: usize = 10;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabName(String);

impl LabName {
    pub fn parse(name: &str) -> Result<Self, LabError> {
        let plain = name.bytes().all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-');
        if name.is_empty() || name.len() > MAX_LEN || !plain || name.starts_with('-') {
            return Err(LabError::BadName(name.to_string()));
        }
        Ok(LabName(name.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn bridge(&self) -> String {
        format!("rb-{}", self.0)
    }

    /// The nspawn machine name of `host`: unique across labs, and a valid hostname.
    pub fn machine(&self, host: &str) -> String {
        let host: String = host
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || c == '-' { c.to_ascii_lowercase() } else { '-' })
            .collect();
        let mut machine = format!("{}-{}", self.0, host.trim_matches('-'));
        machine.truncate(64);
        machine
    }
}

impl fmt::Display for LabName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_short_names() {
        for name in ["lab", "t-lab", "a1", "0123456789"] {
            assert_eq!(LabName::parse(name).unwrap().as_str(), name);
        }
        assert_eq!(LabName::parse("t-lab").unwrap().bridge(), "rb-t-lab");
    }

    #[test]
    fn rejects_others() {
        for name in ["", "Lab", "a_b", "a.b", "01234567890", "-x", "a b", "ü"] {
            assert!(LabName::parse(name).is_err(), "{name}");
        }
    }

    #[test]
    fn machine_names() {
        let lab = LabName::parse("lab").unwrap();
        assert_eq!(lab.machine("k8s-master01"), "lab-k8s-master01");
        assert_eq!(lab.machine("web_1.example"), "lab-web-1-example");
    }
}
