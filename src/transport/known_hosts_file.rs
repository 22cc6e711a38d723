//! known_hosts files read the way OpenSSH reads them.
//!
//! russh's own check compares host names exactly, so lines that OpenSSH (and so Ansible) trusts — `*.example.com`,
//! `10.0.1.?`, `!bastion.example.com,*.example.com`, `@revoked` — were not seen: a host the operator's ssh
//! accepts was refused as unknown, and a revoked key was not refused for being revoked. Here a line is matched
//! with OpenSSH's rules (hostfile.c, match.c): comma-separated patterns with `*` and `?`, compared without case;
//! a matching negated pattern (`!`) excludes the line whatever else matches; a hashed name (`|1|salt|hash`,
//! `HashKnownHosts yes`) is the whole field; a host on another port than 22 is looked up as `[host]:port`.
//! Every file's matching lines count together, as OpenSSH loads the user's and the system's files into one set:
//! a revoked key is refused, a key recorded for the host is known, another key of the same type recorded for it
//! means the key changed. `@cert-authority` lines are skipped (no host certificates against a CA yet).

use std::path::{Path, PathBuf};

use base64::Engine as _;
use hmac::{KeyInit, Mac};
use russh::keys::PublicKey;

/// What the known_hosts files say of a host's key.
#[derive(Debug, PartialEq)]
pub enum KnownHostsVerdict {
    Known,
    Unknown,
    /// Another key of the same type is recorded for the host: the file and line (1-based) that records it.
    Changed {
        file: PathBuf,
        line: usize,
    },
    /// The key is on an `@revoked` line that applies to the host.
    Revoked {
        file: PathBuf,
        line: usize,
    },
}

/// One line that applies to the host.
struct Entry {
    file: PathBuf,
    line: usize,
    revoked: bool,
    key: PublicKey,
}

/// Checks `key` for the host at `address`:`port` against `files`, in order. A file that does not exist counts as
/// empty; one that cannot be read is logged and skipped, as OpenSSH does.
pub fn check(files: &[PathBuf], address: &str, port: u16, key: &PublicKey) -> KnownHostsVerdict {
    // OpenSSH lowercases the name (ASCII) before matching; patterns are lowered as they are compared.
    let address = address.to_ascii_lowercase();
    let host = if port == 22 { address } else { format!("[{address}]:{port}") };
    let mut entries = Vec::new();
    for file in files {
        match std::fs::read_to_string(file) {
            Ok(text) => entries.extend(matching_entries(file, &text, &host)),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => tracing::warn!("cannot read {}: {error}", file.display()),
        }
    }
    if let Some(revoked) = entries.iter().find(|entry| entry.revoked && entry.key.key_data() == key.key_data()) {
        return KnownHostsVerdict::Revoked { file: revoked.file.clone(), line: revoked.line };
    }
    let recorded = entries.iter().filter(|entry| !entry.revoked && entry.key.algorithm() == key.algorithm());
    let mut changed = None;
    for entry in recorded {
        if entry.key.key_data() == key.key_data() {
            return KnownHostsVerdict::Known;
        }
        changed.get_or_insert(KnownHostsVerdict::Changed { file: entry.file.clone(), line: entry.line });
    }
    changed.unwrap_or(KnownHostsVerdict::Unknown)
}

/// The lines of one file that apply to `host` (already lowercase, `[host]:port` off port 22). Lines OpenSSH
/// would skip (comments, unknown markers, keys that do not parse) are skipped.
fn matching_entries(file: &Path, text: &str, host: &str) -> Vec<Entry> {
    let mut entries = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let mut fields = line.split_ascii_whitespace();
        let Some(mut names) = fields.next() else { continue };
        if names.starts_with('#') {
            continue;
        }
        let mut revoked = false;
        if let Some(marker) = names.strip_prefix('@') {
            match marker {
                "revoked" => revoked = true,
                // @cert-authority and markers OpenSSH does not know either.
                _ => continue,
            }
            let Some(after_marker) = fields.next() else { continue };
            names = after_marker;
        }
        let (Some(_key_type), Some(encoded)) = (fields.next(), fields.next()) else { continue };
        if !names_match(names, host) {
            continue;
        }
        let Ok(key) = russh::keys::parse_public_key_base64(encoded) else { continue };
        entries.push(Entry { file: file.to_path_buf(), line: index + 1, revoked, key });
    }
    entries
}

/// OpenSSH's `match_maybe_hashed`: a hashed field is one name; otherwise a pattern list where a negated match wins.
fn names_match(names: &str, host: &str) -> bool {
    if let Some(hashed) = names.strip_prefix("|1|") {
        return hashed_name_matches(hashed, host);
    }
    let mut positive = false;
    for pattern in names.split(',') {
        match pattern.strip_prefix('!') {
            Some(negated) if wildcard_match(host.as_bytes(), negated.as_bytes()) => return false,
            Some(_) => {}
            None => positive |= wildcard_match(host.as_bytes(), pattern.as_bytes()),
        }
    }
    positive
}

/// `salt|hash`, both base64: HMAC-SHA1 of the host name keyed by the salt.
fn hashed_name_matches(salt_and_hash: &str, host: &str) -> bool {
    let engine = base64::engine::general_purpose::STANDARD;
    let Some((salt, hash)) = salt_and_hash.split_once('|') else { return false };
    let (Ok(salt), Ok(hash)) = (engine.decode(salt), engine.decode(hash)) else { return false };
    let Ok(mac) = hmac::Hmac::<sha1::Sha1>::new_from_slice(&salt) else { return false };
    mac.chain_update(host.as_bytes()).verify_slice(&hash).is_ok()
}

/// OpenSSH's `match_pattern` on a lowercase `text`: `*` is any run of characters, `?` any one character, the rest
/// literal, compared without ASCII case.
fn wildcard_match(text: &[u8], pattern: &[u8]) -> bool {
    let (mut t, mut p) = (0, 0);
    // Where the last `*` was and how much of the text it has taken: on a mismatch it takes one more.
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(&c) if c == b'?' || c.to_ascii_lowercase() == text[t] => {
                t += 1;
                p += 1;
            }
            _ => match star {
                Some((star_p, star_t)) => {
                    star = Some((star_p, star_t + 1));
                    p = star_p + 1;
                    t = star_t + 1;
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY_A: &str = "AAAAC3NzaC1lZDI1NTE5AAAAIJdD7y3aLq454yWBdwLWbieU1ebz9/cu7/QEXn9OIeZJ";
    const KEY_B: &str = "AAAAC3NzaC1lZDI1NTE5AAAAIKDXAer6ajvCEVHhXz/6r+iLE/N7D3yt+n1SUkeXbi5i";

    fn key(encoded: &str) -> PublicKey {
        russh::keys::parse_public_key_base64(encoded).unwrap()
    }

    /// The verdict for KEY_A on `address`:`port` with `text` as the only known_hosts file.
    fn verdict_for(text: &str, address: &str, port: u16) -> KnownHostsVerdict {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("known_hosts");
        std::fs::write(&file, text).unwrap();
        let verdict = check(std::slice::from_ref(&file), address, port, &key(KEY_A));
        match verdict {
            KnownHostsVerdict::Changed { line, .. } => KnownHostsVerdict::Changed { file: "f".into(), line },
            KnownHostsVerdict::Revoked { line, .. } => KnownHostsVerdict::Revoked { file: "f".into(), line },
            verdict => verdict,
        }
    }

    fn changed(line: usize) -> KnownHostsVerdict {
        KnownHostsVerdict::Changed { file: "f".into(), line }
    }

    #[test]
    fn exact_names_and_addresses_match_without_case() {
        let text = format!("# a comment\n\nweb1.example.com,10.0.0.5 ssh-ed25519 {KEY_A} root@web1\n");
        assert_eq!(verdict_for(&text, "web1.example.com", 22), KnownHostsVerdict::Known);
        assert_eq!(verdict_for(&text, "WEB1.Example.com", 22), KnownHostsVerdict::Known);
        assert_eq!(verdict_for(&text, "10.0.0.5", 22), KnownHostsVerdict::Known);
        assert_eq!(verdict_for(&text, "web2.example.com", 22), KnownHostsVerdict::Unknown);
        assert_eq!(verdict_for(&text, "10.0.0.50", 22), KnownHostsVerdict::Unknown);
    }

    #[test]
    fn wildcards_match_as_in_openssh() {
        let text = format!("*.example.com,10.0.1.? ssh-ed25519 {KEY_A}\n");
        assert_eq!(verdict_for(&text, "web1.example.com", 22), KnownHostsVerdict::Known);
        assert_eq!(verdict_for(&text, "a.b.example.com", 22), KnownHostsVerdict::Known);
        assert_eq!(verdict_for(&text, "example.com", 22), KnownHostsVerdict::Unknown);
        assert_eq!(verdict_for(&text, "10.0.1.7", 22), KnownHostsVerdict::Known);
        assert_eq!(verdict_for(&text, "10.0.1.17", 22), KnownHostsVerdict::Unknown);
        assert!(wildcard_match(b"abcbcd", b"a*bcd"));
        assert!(wildcard_match(b"", b"*"));
        assert!(!wildcard_match(b"abc", b"a*d"));
        assert!(!wildcard_match(b"abc", b"ab"));
    }

    #[test]
    fn a_negated_pattern_excludes_the_line_whatever_else_matches() {
        let text = format!("!bastion.example.com,*.example.com ssh-ed25519 {KEY_A}\n");
        assert_eq!(verdict_for(&text, "web1.example.com", 22), KnownHostsVerdict::Known);
        assert_eq!(verdict_for(&text, "bastion.example.com", 22), KnownHostsVerdict::Unknown);
        // A negated pattern alone matches nothing.
        assert_eq!(verdict_for(&format!("!x ssh-ed25519 {KEY_A}\n"), "y", 22), KnownHostsVerdict::Unknown);
    }

    #[test]
    fn another_port_is_looked_up_in_brackets() {
        let text = format!("[web1.example.com]:2222 ssh-ed25519 {KEY_A}\n[*.lab]:2222 ssh-ed25519 {KEY_A}\n");
        assert_eq!(verdict_for(&text, "web1.example.com", 2222), KnownHostsVerdict::Known);
        assert_eq!(verdict_for(&text, "web1.example.com", 22), KnownHostsVerdict::Unknown);
        assert_eq!(verdict_for(&text, "h1.lab", 2222), KnownHostsVerdict::Known);
        assert_eq!(verdict_for(&format!("web1 ssh-ed25519 {KEY_A}\n"), "web1", 2222), KnownHostsVerdict::Unknown);
    }

    #[test]
    fn hashed_names_match_their_host_only() {
        // `ssh-keygen -H` of "web1.example.com" with this salt.
        let salt = [7u8; 20];
        let mac = hmac::Hmac::<sha1::Sha1>::new_from_slice(&salt).unwrap().chain_update(b"web1.example.com");
        let engine = base64::engine::general_purpose::STANDARD;
        let hashed = format!("|1|{}|{}", engine.encode(salt), engine.encode(mac.finalize().into_bytes()));
        let text = format!("{hashed} ssh-ed25519 {KEY_A}\n");
        assert_eq!(verdict_for(&text, "web1.example.com", 22), KnownHostsVerdict::Known);
        assert_eq!(verdict_for(&text, "web2.example.com", 22), KnownHostsVerdict::Unknown);
    }

    #[test]
    fn another_key_of_the_same_type_is_a_change_named_by_its_line() {
        let text = format!("# keys\nweb1 ssh-ed25519 {KEY_B}\n");
        assert_eq!(verdict_for(&text, "web1", 22), changed(2));
        // The right key anywhere in the set wins over a stale line, as in OpenSSH.
        assert_eq!(verdict_for(&format!("{text}web1 ssh-ed25519 {KEY_A}\n"), "web1", 22), KnownHostsVerdict::Known);
    }

    #[test]
    fn a_revoked_key_is_refused_even_where_it_is_also_recorded() {
        let text = format!("web1 ssh-ed25519 {KEY_A}\n@revoked * ssh-ed25519 {KEY_A}\n");
        assert_eq!(verdict_for(&text, "web1", 22), KnownHostsVerdict::Revoked { file: "f".into(), line: 2 });
        let other = format!("web1 ssh-ed25519 {KEY_A}\n@revoked * ssh-ed25519 {KEY_B}\n");
        assert_eq!(verdict_for(&other, "web1", 22), KnownHostsVerdict::Known);
    }

    #[test]
    fn lines_openssh_skips_are_skipped() {
        let text = format!(
            "@cert-authority *.example.com ssh-ed25519 {KEY_A}\n@unknown web1 ssh-ed25519 {KEY_A}\n\
             web1 ssh-ed25519 not-base64\nweb1\n   \t\n"
        );
        assert_eq!(verdict_for(&text, "web1", 22), KnownHostsVerdict::Unknown);
        assert_eq!(verdict_for(&text, "web1.example.com", 22), KnownHostsVerdict::Unknown);
    }

    /// OpenSSH's own reading, `ssh-keygen -F HOST -f FILE`, against ours: patterns, negation, ports, hashing.
    #[test]
    fn agrees_with_ssh_keygen() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("known_hosts");
        let openssh_finds = |host: &str| {
            let output = std::process::Command::new("ssh-keygen")
                .args(["-F", host, "-f"])
                .arg(&file)
                .output()
                .expect("ssh-keygen (openssh-client) is needed for this test");
            String::from_utf8_lossy(&output.stdout).lines().any(|line| !line.starts_with('#') && !line.is_empty())
        };
        let patterns = [
            "*.example.com",
            "!bastion.example.com,*.example.com",
            "10.0.1.?",
            "WEB1.example.com,10.0.0.5",
            "[web1]:2222",
            "[*.lab]:2222",
            "a*b*c",
            "!*",
        ];
        let hosts = [
            "web1.example.com",
            "bastion.example.com",
            "example.com",
            "10.0.1.7",
            "10.0.1.17",
            "10.0.0.5",
            "[web1]:2222",
            "web1",
            "[h1.lab]:2222",
            "axxbyyc",
            "acb",
        ];
        for pattern in patterns {
            std::fs::write(&file, format!("{pattern} ssh-ed25519 {KEY_A}\n")).unwrap();
            for host in hosts {
                assert_eq!(names_match(pattern, host), openssh_finds(host), "{pattern} for {host}");
            }
        }
        std::fs::write(&file, format!("web1.example.com ssh-ed25519 {KEY_A}\n")).unwrap();
        let hashed = std::process::Command::new("ssh-keygen").arg("-H").arg("-f").arg(&file).output().unwrap();
        assert!(hashed.status.success(), "{}", String::from_utf8_lossy(&hashed.stderr));
        assert!(std::fs::read_to_string(&file).unwrap().starts_with("|1|"));
        let known = |host| check(std::slice::from_ref(&file), host, 22, &key(KEY_A));
        assert_eq!(known("web1.example.com"), KnownHostsVerdict::Known);
        assert_eq!(known("web2.example.com"), KnownHostsVerdict::Unknown);
    }

    #[test]
    fn files_count_together_and_a_missing_file_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        let (stale, right) = (dir.path().join("stale"), dir.path().join("right"));
        std::fs::write(&stale, format!("web1 ssh-ed25519 {KEY_B}\n")).unwrap();
        std::fs::write(&right, format!("web1\tssh-ed25519\t{KEY_A}\n")).unwrap();
        let files = [dir.path().join("missing"), stale.clone(), right];
        assert_eq!(check(&files, "web1", 22, &key(KEY_A)), KnownHostsVerdict::Known);
        let verdict = check(&files[..2], "web1", 22, &key(KEY_A));
        assert_eq!(verdict, KnownHostsVerdict::Changed { file: stale, line: 1 });
    }
}
