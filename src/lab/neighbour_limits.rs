//! The controller's neighbour (ARP) table limits, raised while a big lab runs.
//!
//! Every lab host is one neighbour entry on the machine. Linux's defaults (gc_thresh1/2/3 = 128/512/1024) start
//! evicting entries at 512 and refuse new ones at 1024: with 500+ hosts on one bridge, connects fail with
//! "No buffer space available" or time out while entries churn. `lab up` raises the limits for labs of more than
//! [`RAISE_ABOVE`] hosts, saves what it found, and `lab down` of the last such lab puts those values back.

use std::fs;
use std::path::{Path, PathBuf};

use super::lab_state::LABS_ROOT;

const KEYS: [&str; 3] =
    ["net.ipv4.neigh.default.gc_thresh1", "net.ipv4.neigh.default.gc_thresh2", "net.ipv4.neigh.default.gc_thresh3"];

/// Labs up to this size fit the defaults with room for the machine's own neighbours.
pub const RAISE_ABOVE: usize = 256;

fn proc_path(key: &str) -> String {
    format!("/proc/sys/{}", key.replace('.', "/"))
}

fn read(key: &str) -> Option<u64> {
    fs::read_to_string(proc_path(key)).ok()?.trim().parse().ok()
}

/// The limits a lab of `hosts` hosts wants: room for every host twice over (each lab's own plus the machine's).
pub fn wanted(hosts: usize) -> [u64; 3] {
    let hosts = hosts as u64;
    [hosts * 2, hosts * 4, hosts * 8].map(|value| value.max(1024))
}

/// The values found before the first lab raised them; shared by all labs, since the limits are the machine's.
fn originals() -> PathBuf {
    Path::new(LABS_ROOT).join(".neighbour-limits")
}

/// Raises the limits that are lower than a lab of `hosts` wants and marks the lab (`marker`) as needing them.
/// The machine's values are saved once, by the first lab that raises them. A warning names what failed.
pub fn raise(hosts: usize, marker: &Path) -> Option<String> {
    if hosts <= RAISE_ABOVE {
        return None;
    }
    let current: Vec<Option<u64>> = KEYS.iter().map(|key| read(key)).collect();
    if !originals().exists() {
        let text: String = KEYS
            .iter()
            .zip(&current)
            .filter_map(|(key, value)| value.map(|value| format!("{key}={value}\n")))
            .collect();
        let _ = fs::write(originals(), text);
    }
    let _ = fs::write(marker, hosts.to_string());
    // thresh3 first when raising: the kernel wants thresh1 <= thresh2 <= thresh3 to keep making sense.
    let mut failed = Vec::new();
    for (index, want) in wanted(hosts).iter().enumerate().rev() {
        if current[index].is_some_and(|value| value >= *want) {
            continue;
        }
        if let Err(error) = fs::write(proc_path(KEYS[index]), want.to_string()) {
            failed.push(format!("{}={want} ({error})", KEYS[index]));
        }
    }
    (!failed.is_empty()).then(|| {
        format!(
            "could not raise the neighbour table limits {}: connects to {hosts} hosts on one bridge may fail",
            failed.join(", ")
        )
    })
}

/// Drops the lab's `marker`; when no lab is marked any more, puts the machine's saved values back.
pub fn restore(marker: &Path, marker_name: &str) {
    if fs::remove_file(marker).is_err() {
        return;
    }
    let others =
        fs::read_dir(LABS_ROOT).into_iter().flatten().flatten().any(|entry| entry.path().join(marker_name).exists());
    if others {
        return;
    }
    let Ok(text) = fs::read_to_string(originals()) else {
        return;
    };
    // thresh1 first when lowering, the reverse of raising.
    for line in text.lines() {
        if let Some((key, value)) = line.split_once('=')
            && KEYS.contains(&key)
        {
            let _ = fs::write(proc_path(key), value);
        }
    }
    let _ = fs::remove_file(originals());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wanted_limits_grow_with_the_lab_and_stay_ordered() {
        assert_eq!(wanted(1000), [2000, 4000, 8000]);
        assert_eq!(wanted(300), [1024, 1200, 2400]);
        let [a, b, c] = wanted(5000);
        assert!(a <= b && b <= c);
    }
}
