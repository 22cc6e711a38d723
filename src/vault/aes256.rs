//! Ansible's `VaultAES256`: the key material from PBKDF2-HMAC-SHA256 (10000 rounds, a 32-byte random salt) is
//! cut into an AES-256 key, an HMAC-SHA256 key and a CTR counter; the plaintext is PKCS#7-padded (Ansible pads
//! although CTR needs no padding, so we must too) and encrypted; the HMAC covers the ciphertext. The payload is
//! `hex(hex(salt) "\n" hex(hmac) "\n" hex(ciphertext))`.

use ctr::cipher::{KeyIvInit, StreamCipher};
use hmac::{KeyInit, Mac};
use sha2_v011::Sha256;

use super::vault_error::VaultError;

type Aes256Ctr = ctr::Ctr128BE<aes::Aes256>;
type HmacSha256 = hmac::Hmac<Sha256>;

const ROUNDS: u32 = 10_000;
const KEY_LEN: usize = 32;
const IV_LEN: usize = 16;
pub const SALT_LEN: usize = 32;
const BLOCK: usize = 16;

/// Why one password did not open a payload: a wrong password is expected (the next one is tried), a broken
/// payload is not.
#[derive(Debug)]
pub enum Failure {
    Mismatch,
    Format(String),
}

struct Keys {
    cipher: [u8; KEY_LEN],
    mac: [u8; KEY_LEN],
    iv: [u8; IV_LEN],
}

fn derive(password: &[u8], salt: &[u8]) -> Keys {
    let mut material = [0u8; 2 * KEY_LEN + IV_LEN];
    pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, ROUNDS, &mut material);
    let mut keys = Keys { cipher: [0; KEY_LEN], mac: [0; KEY_LEN], iv: [0; IV_LEN] };
    keys.cipher.copy_from_slice(&material[..KEY_LEN]);
    keys.mac.copy_from_slice(&material[KEY_LEN..2 * KEY_LEN]);
    keys.iv.copy_from_slice(&material[2 * KEY_LEN..]);
    keys
}

fn mac(keys: &Keys) -> HmacSha256 {
    <HmacSha256 as KeyInit>::new_from_slice(&keys.mac).expect("HMAC takes a key of any length")
}

fn apply_ctr(keys: &Keys, data: &mut [u8]) {
    let mut cipher = Aes256Ctr::new_from_slices(&keys.cipher, &keys.iv).expect("key and counter have AES-256 sizes");
    cipher.apply_keystream(data);
}

/// The payload (hex text, before the envelope) of `plaintext` under `password` with `salt`.
pub fn encrypt(plaintext: &[u8], password: &[u8], salt: &[u8]) -> String {
    let keys = derive(password, salt);
    let pad = BLOCK - plaintext.len() % BLOCK;
    let mut data = Vec::with_capacity(plaintext.len() + pad);
    data.extend_from_slice(plaintext);
    data.extend(std::iter::repeat_n(pad as u8, pad));
    apply_ctr(&keys, &mut data);
    let mut mac = mac(&keys);
    mac.update(&data);
    let tag = mac.finalize().into_bytes();
    let inner = format!("{}\n{}\n{}", hex::encode(salt), hex::encode(tag), hex::encode(&data));
    hex::encode(inner)
}

/// The plaintext of `payload` (hex text, lines joined) under `password`.
pub fn decrypt(payload: &str, password: &[u8]) -> Result<Vec<u8>, Failure> {
    let inner = hex::decode(payload).map_err(|error| Failure::Format(format!("the payload is not hex ({error})")))?;
    let mut parts = inner.splitn(3, |byte| *byte == b'\n');
    let (Some(salt), Some(tag), Some(ciphertext)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(Failure::Format("the payload lacks its salt, HMAC or ciphertext".into()));
    };
    let unhex = |part: &[u8], what: &str| {
        hex::decode(part).map_err(|error| Failure::Format(format!("the {what} is not hex ({error})")))
    };
    let (salt, tag, mut data) = (unhex(salt, "salt")?, unhex(tag, "HMAC")?, unhex(ciphertext, "ciphertext")?);
    let keys = derive(password, &salt);
    let mut mac = mac(&keys);
    mac.update(&data);
    // Constant-time comparison (hmac's verify), so the check leaks nothing about how much of the tag matched.
    mac.verify_slice(&tag).map_err(|_| Failure::Mismatch)?;
    apply_ctr(&keys, &mut data);
    let pad = data.last().copied().unwrap_or(0) as usize;
    if pad == 0 || pad > BLOCK || pad > data.len() || data[data.len() - pad..].iter().any(|b| *b as usize != pad) {
        return Err(Failure::Format("the padding of the decrypted data is invalid".into()));
    }
    data.truncate(data.len() - pad);
    Ok(data)
}

impl From<Failure> for VaultError {
    fn from(failure: Failure) -> VaultError {
        match failure {
            Failure::Mismatch => VaultError::WrongPassword { tried: Vec::new() },
            Failure::Format(message) => VaultError::Format(message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_at_every_padding_length() {
        let salt = [7u8; SALT_LEN];
        for len in 0..=33 {
            let plaintext: Vec<u8> = (0..len as u8).collect();
            let payload = encrypt(&plaintext, b"pw", &salt);
            assert_eq!(decrypt(&payload, b"pw").unwrap(), plaintext, "length {len}");
            assert!(matches!(decrypt(&payload, b"other"), Err(Failure::Mismatch)));
        }
    }

    #[test]
    fn a_tampered_ciphertext_fails_the_hmac() {
        let payload = encrypt(b"secret", b"pw", &[1u8; SALT_LEN]);
        let mut inner = hex::decode(&payload).unwrap();
        let last = inner.len() - 1;
        inner[last] = if inner[last] == b'0' { b'1' } else { b'0' };
        assert!(matches!(decrypt(&hex::encode(inner), b"pw"), Err(Failure::Mismatch)));
        assert!(matches!(decrypt("zz", b"pw"), Err(Failure::Format(_))));
        assert!(matches!(decrypt(&hex::encode("abcd"), b"pw"), Err(Failure::Format(_))));
    }
}
