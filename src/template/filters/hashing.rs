//! Hash filters: `hash`, `checksum`, `md5`, `sha1` (hex digests of the UTF-8 text, as Ansible's) and
//! `password_hash` (crypt(3) SHA-512/SHA-256 strings for /etc/shadow).

use minijinja::Error;
use minijinja::value::{Kwargs, Value};
use sha2::Digest;

use super::invalid;

fn text_of(value: &Value) -> String {
    crate::template::output::python_str(value)
}

pub fn hash(value: &Value, kind: Option<String>) -> Result<String, Error> {
    let bytes = text_of(value).into_bytes();
    Ok(match kind.as_deref().unwrap_or("sha1") {
        "md5" => format!("{:x}", md5::compute(&bytes)),
        "sha1" => hex::encode(<sha1::Sha1 as sha1::Digest>::digest(&bytes)),
        "sha224" => hex::encode(sha2::Sha224::digest(&bytes)),
        "sha256" => hex::encode(sha2::Sha256::digest(&bytes)),
        "sha384" => hex::encode(sha2::Sha384::digest(&bytes)),
        "sha512" => hex::encode(sha2::Sha512::digest(&bytes)),
        other => {
            return Err(invalid(format!(
                "hash: unsupported hash type {other:?} (md5, sha1, sha224, sha256, sha384, sha512)"
            )));
        }
    })
}

pub fn checksum(value: &Value) -> Result<String, Error> {
    hash(value, Some("sha1".into()))
}

pub fn md5(value: &Value) -> Result<String, Error> {
    hash(value, Some("md5".into()))
}

pub fn sha1(value: &Value) -> Result<String, Error> {
    hash(value, Some("sha1".into()))
}

/// The crypt(3) schemes `password_hash` writes, with Ansible 2.19's defaults (it always hashes through
/// passlib, `ansible/utils/encrypt.py`): the salt alphabet and longest salt, and the rounds used when none are
/// given (passlib's, written into the hash as `rounds=N$`).
#[derive(Clone, Copy, PartialEq)]
enum Scheme {
    Md5,
    Sha256,
    Sha512,
    Bcrypt,
}

impl Scheme {
    fn named(name: &str) -> Result<Scheme, Error> {
        Ok(match name {
            "md5" | "md5_crypt" => Scheme::Md5,
            "sha256" | "sha256_crypt" => Scheme::Sha256,
            "sha512" | "sha512_crypt" => Scheme::Sha512,
            "blowfish" | "bcrypt" => Scheme::Bcrypt,
            other => {
                return Err(invalid(format!(
                    "password_hash: {other} is not in the list of supported passlib algorithms: md5, blowfish, \
                     sha256, sha512"
                )));
            }
        })
    }

    fn passlib_name(self) -> &'static str {
        match self {
            Scheme::Md5 => "md5_crypt",
            Scheme::Sha256 => "sha256_crypt",
            Scheme::Sha512 => "sha512_crypt",
            Scheme::Bcrypt => "bcrypt",
        }
    }

    fn salt_size(self) -> usize {
        match self {
            Scheme::Md5 => 8,
            Scheme::Sha256 | Scheme::Sha512 => 16,
            Scheme::Bcrypt => 22,
        }
    }
}

/// `password_hash('sha512', salt, rounds=N)` as Ansible writes it: `$6$rounds=656000$salt$...`, `$5$...`,
/// `$1$salt$...` (md5_crypt), `$2b$12$...` (bcrypt, `ident='2a'|'2b'|'2y'`); without a salt, a random one
/// (`salt_size=N` long).
pub fn password_hash(
    value: &Value,
    kind: Option<String>,
    salt: Option<String>,
    kwargs: Kwargs,
) -> Result<String, Error> {
    let kind = kwargs.get::<Option<String>>("hashtype")?.or(kind).unwrap_or_else(|| "sha512".into());
    let salt = kwargs.get::<Option<String>>("salt")?.or(salt).filter(|s| !s.is_empty());
    let rounds = kwargs.get::<Option<u32>>("rounds")?.filter(|r| *r != 0);
    let salt_size = kwargs.get::<Option<usize>>("salt_size")?;
    let ident = kwargs.get::<Option<String>>("ident")?;
    kwargs.assert_all_used()?;
    let scheme = Scheme::named(&kind)?;
    let name = scheme.passlib_name();
    let salt = salt.unwrap_or_else(|| random_salt(salt_size.unwrap_or(scheme.salt_size())));
    if !salt.bytes().all(|b| SALT_ALPHABET.contains(&b)) {
        return Err(invalid(format!("password_hash: invalid characters in {name} salt")));
    }
    if scheme == Scheme::Bcrypt && salt.len() != 22 {
        return Err(invalid(format!("password_hash: {name} salt must be 22 characters, not {}", salt.len())));
    }
    if salt.len() > scheme.salt_size() {
        return Err(invalid(format!(
            "password_hash: salt too large ({name} requires <= {} chars)",
            scheme.salt_size()
        )));
    }
    let password = text_of(value);
    let failed = |e: &dyn std::fmt::Debug| invalid(format!("password_hash: could not hash the secret: {e:?}"));
    match scheme {
        Scheme::Md5 => {
            if rounds.is_some() {
                return Err(invalid("password_hash: md5_crypt takes no rounds".to_string()));
            }
            Ok(format!("$1${salt}${}", md5_crypt(password.as_bytes(), salt.as_bytes())))
        }
        Scheme::Sha256 | Scheme::Sha512 => {
            let sha512 = scheme == Scheme::Sha512;
            let rounds = rounds.unwrap_or(if sha512 { 656_000 } else { 535_000 });
            // crypt(3) leaves the default 5000 rounds out of the string, and passlib with it.
            let written = if rounds == 5000 { String::new() } else { format!("rounds={rounds}$") };
            let hashed = if sha512 {
                let params = sha_crypt::Sha512Params::new(rounds as usize).map_err(|e| failed(&e))?;
                sha_crypt::sha512_crypt_b64(password.as_bytes(), salt.as_bytes(), &params).map_err(|e| failed(&e))?
            } else {
                let params = sha_crypt::Sha256Params::new(rounds as usize).map_err(|e| failed(&e))?;
                sha_crypt::sha256_crypt_b64(password.as_bytes(), salt.as_bytes(), &params).map_err(|e| failed(&e))?
            };
            Ok(format!("${}${written}{salt}${hashed}", if sha512 { 6 } else { 5 }))
        }
        Scheme::Bcrypt => {
            let version = match ident.as_deref().unwrap_or("2b") {
                "2a" => bcrypt::Version::TwoA,
                "2b" => bcrypt::Version::TwoB,
                "2y" => bcrypt::Version::TwoY,
                other => return Err(invalid(format!("password_hash: invalid bcrypt ident {other:?} (2a, 2b, 2y)"))),
            };
            let parts = bcrypt::hash_with_salt(password.as_bytes(), rounds.unwrap_or(12), bcrypt_salt(&salt))
                .map_err(|e| failed(&e))?;
            Ok(parts.format_for_version(version))
        }
    }
}

/// crypt(3)'s salt characters, which passlib requires.
const SALT_ALPHABET: &[u8] = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

fn random_salt(size: usize) -> String {
    (0..size).map(|_| SALT_ALPHABET[rand::random_range(0..SALT_ALPHABET.len())] as char).collect()
}

/// bcrypt's 22-character salt as its 16 bytes (bcrypt's own base64 alphabet; the last character's 4 unused
/// bits are dropped, as passlib's `repair_unused` does).
fn bcrypt_salt(salt: &str) -> [u8; 16] {
    const BCRYPT64: &[u8] = b"./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let (mut bytes, mut bits, mut used) = ([0u8; 16], 0u32, 0u32);
    let mut at = 0;
    for c in salt.bytes() {
        let six = BCRYPT64.iter().position(|&b| b == c).unwrap_or(0) as u32;
        bits = (bits << 6) | six;
        used += 6;
        if used >= 8 && at < 16 {
            used -= 8;
            bytes[at] = (bits >> used) as u8;
            at += 1;
        }
        bits &= (1 << used) - 1;
    }
    bytes
}

/// md5_crypt (`$1$`, Poul-Henning Kamp's FreeBSD scheme, as passlib and glibc compute it). No maintained crate
/// has it without pulling in a second copy of the hash crates, and it is short: 1000 rounds of MD5.
fn md5_crypt(password: &[u8], salt: &[u8]) -> String {
    let alternate = md5::compute([password, salt, password].concat()).0;
    let mut context = md5::Context::new();
    context.consume(password);
    context.consume(b"$1$");
    context.consume(salt);
    for chunk in (0..password.len()).step_by(16) {
        context.consume(&alternate[..(password.len() - chunk).min(16)]);
    }
    let mut length = password.len();
    while length > 0 {
        context.consume(if length & 1 == 1 { &[0u8][..] } else { &password[..1] });
        length >>= 1;
    }
    let mut digest = context.finalize().0;
    for round in 0..1000 {
        let mut context = md5::Context::new();
        context.consume(if round & 1 == 1 { password } else { &digest[..] });
        if round % 3 != 0 {
            context.consume(salt);
        }
        if round % 7 != 0 {
            context.consume(password);
        }
        context.consume(if round & 1 == 1 { &digest[..] } else { password });
        digest = context.finalize().0;
    }
    let mut out = String::with_capacity(22);
    let mut push = |value: u32, count: usize| {
        let mut value = value;
        for _ in 0..count {
            out.push(SALT_ALPHABET[(value & 0x3f) as usize] as char);
            value >>= 6;
        }
    };
    for (a, b, c) in [(0, 6, 12), (1, 7, 13), (2, 8, 14), (3, 9, 15), (4, 10, 5)] {
        push(((digest[a] as u32) << 16) | ((digest[b] as u32) << 8) | digest[c] as u32, 4);
    }
    push(digest[11] as u32, 2);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_match_ansibles_documented_ones() {
        assert_eq!(hash(&Value::from("test2"), Some("md5".into())).unwrap(), "ad0234829205b9033196ba818f7a872b");
        assert_eq!(checksum(&Value::from("test2")).unwrap(), "109f4b3c50d7b0df729d299bc6f8e9ef9066971f");
        assert_eq!(
            hash(&Value::from("abc"), Some("sha256".into())).unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    fn hashed(kind: &str, salt: &str, kwargs: Vec<(&str, Value)>) -> Result<String, Error> {
        password_hash(&Value::from("s3cr3t pass"), Some(kind.into()), Some(salt.into()), Kwargs::from_iter(kwargs))
    }

    // Expected: ansible-core 2.19.14 with passlib 1.7.4, `ansible.utils.encrypt.do_encrypt(...)`.
    #[test]
    fn password_hash_matches_ansible_with_passlib() {
        let rounds = |n: u32| vec![("rounds", Value::from(n))];
        assert_eq!(
            hashed("sha512", "mysalt", rounds(5000)).unwrap(),
            "$6$mysalt$isrxFfVnGXldgNk41MuIaVkwRKCl8iBq6izyD5GlmNCALHwV0EHzh/6B1FE5sFtyHcRkLNUI1.6eukcEv9i4T0"
        );
        assert_eq!(
            hashed("sha256", "abc", rounds(1000)).unwrap(),
            "$5$rounds=1000$abc$f8N/fywx7.cwrPza178ZKxeXBhY9W58Vbm.QQ6Q4ReD"
        );
        assert_eq!(
            hashed("sha512", "mysalt1234", vec![]).unwrap(),
            "$6$rounds=656000$mysalt1234$XuQMKdGX.08B53o8yPdSFrsDQydA/akrTRoPpVjtME.esFHQIZItNDJW7Y/8J3t2gSXZNnZHDROz3mrgU42xe/"
        );
        assert_eq!(hashed("md5", "mysalt12", vec![]).unwrap(), "$1$mysalt12$NZV/2P2/A6YdJQHL3EqCD1");
        assert_eq!(
            hashed("bcrypt", "abcdefghijklmnopqrstuv", rounds(4)).unwrap(),
            "$2b$04$abcdefghijklmnopqrstuu7vCgabQJkW2WZVy9GOWGTnQEeu5g7jG"
        );
        let two_a = vec![("rounds", Value::from(5)), ("ident", Value::from("2a"))];
        assert_eq!(
            hashed("blowfish", "abcdefghijklmnopqrstuv", two_a).unwrap(),
            "$2a$05$abcdefghijklmnopqrstuupnUf3YWbVMO1u.PDDqOi2.6DaNC3SVq"
        );
    }

    #[test]
    fn password_hash_rejects_what_passlib_rejects() {
        let message = |r: Result<String, Error>| r.unwrap_err().to_string();
        assert!(message(hashed("md5", "abcdefghij", vec![])).contains("salt too large (md5_crypt requires <= 8"));
        assert!(message(hashed("sha512", "bad$salt", vec![])).contains("invalid characters in sha512_crypt salt"));
        assert!(message(hashed("sha1", "abc", vec![])).contains("not in the list of supported passlib algorithms"));
        let random =
            password_hash(&Value::from("x"), Some("md5".into()), None, Kwargs::from_iter(Vec::<(&str, Value)>::new()))
                .unwrap();
        assert_eq!(random.len(), "$1$12345678$".len() + 22, "{random}");
    }
}
