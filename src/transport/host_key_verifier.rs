//! Host key checking as OpenSSH's StrictHostKeyChecking does it: the known_hosts files (the user's, the
//! system's, the inventory's) and the strict / accept-new / off policies. Keys are verified by default; a changed
//! key is refused under every policy, and the refusal names the file and line to fix.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use russh::keys::{HashAlg, PublicKey, PublicKeyOrCertificate};

use super::host_key_policy::HostKeyPolicy;
use super::known_hosts_file::{self, KnownHostsVerdict};
use super::transport_error::ConnectError;

/// The russh client handler: its one job is deciding whether to trust the server's host key, from the
/// known_hosts files, the way OpenSSH's StrictHostKeyChecking does.
pub struct HostKeyVerifier {
    pub address: String,
    pub port: u16,
    pub known_hosts: Vec<PathBuf>,
    pub policy: HostKeyPolicy,
    /// Why a key was refused, for the error the caller reports (russh itself only says "unknown key").
    pub refusal: Arc<Mutex<Option<ConnectError>>>,
}

impl HostKeyVerifier {
    fn verdict(&self, key: &PublicKey) -> KnownHostsVerdict {
        known_hosts_file::check(&self.known_hosts, &self.address, self.port, key)
    }

    fn refuse(&self, error: ConnectError) -> bool {
        *self.refusal.lock().unwrap() = Some(error);
        false
    }
}

impl russh::client::Handler for HostKeyVerifier {
    type Error = russh::Error;

    async fn check_server_key(&mut self, server_key: &PublicKeyOrCertificate) -> Result<bool, Self::Error> {
        let key = match server_key {
            PublicKeyOrCertificate::PublicKey { key, .. } => key.clone(),
            PublicKeyOrCertificate::Certificate(cert) => cert.public_key().clone().into(),
        };
        let fingerprint = key.fingerprint(HashAlg::Sha256).to_string();
        Ok(match self.verdict(&key) {
            KnownHostsVerdict::Known => true,
            KnownHostsVerdict::Changed { file, line } => self.refuse(ConnectError::HostKeyChanged {
                address: self.address.clone(),
                port: self.port,
                fingerprint,
                known_hosts: file.display().to_string(),
                line,
            }),
            KnownHostsVerdict::Revoked { file, line } => self.refuse(ConnectError::HostKeyRevoked {
                address: self.address.clone(),
                port: self.port,
                fingerprint,
                known_hosts: file.display().to_string(),
                line,
            }),
            KnownHostsVerdict::Unknown => match self.policy {
                HostKeyPolicy::Off => true,
                HostKeyPolicy::AcceptNew => {
                    let file = &self.known_hosts[0];
                    if let Some(parent) = file.parent() {
                        let _ = std::fs::create_dir_all(parent);
                    }
                    match russh::keys::known_hosts::learn_known_hosts_path(&self.address, self.port, &key, file) {
                        Ok(()) => true,
                        Err(error) => self.refuse(ConnectError::Protocol(format!(
                            "cannot record the host key in {}: {error}",
                            file.display()
                        ))),
                    }
                }
                // The files searched, so a known_hosts file named in the inventory (or missing from it) shows.
                HostKeyPolicy::Strict => self.refuse(ConnectError::HostKeyUnknown {
                    address: self.address.clone(),
                    port: self.port,
                    fingerprint,
                    known_hosts: self.known_hosts.first().map(|f| f.display().to_string()).unwrap_or_default(),
                    searched: self.known_hosts.iter().map(|f| f.display().to_string()).collect::<Vec<_>>().join(", "),
                }),
            },
        })
    }
}
