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

/// `password_hash('sha512', salt, rounds=N)`: `$6$salt$...` (or `$5$` for sha256), as crypt(3) writes it;
/// without a salt, a random 16-character one.
pub fn password_hash(
    value: &Value,
    kind: Option<String>,
    salt: Option<String>,
    kwargs: Kwargs,
) -> Result<String, Error> {
    let kind = kwargs.get::<Option<String>>("hashtype")?.or(kind).unwrap_or_else(|| "sha512".into());
    let salt = kwargs.get::<Option<String>>("salt")?.or(salt);
    let rounds = kwargs.get::<Option<usize>>("rounds")?;
    kwargs.assert_all_used()?;
    let salt = salt.unwrap_or_else(random_salt);
    let password = text_of(value);
    let prefix_rounds = rounds.filter(|r| *r != 5000).map(|r| format!("rounds={r}$")).unwrap_or_default();
    let params_rounds = rounds.unwrap_or(5000);
    match kind.as_str() {
        "sha512" | "sha512_crypt" => {
            let params =
                sha_crypt::Sha512Params::new(params_rounds).map_err(|e| invalid(format!("password_hash: {e:?}")))?;
            let hashed = sha_crypt::sha512_crypt_b64(password.as_bytes(), salt.as_bytes(), &params)
                .map_err(|e| invalid(format!("password_hash: {e:?}")))?;
            Ok(format!("$6${prefix_rounds}{salt}${hashed}"))
        }
        "sha256" | "sha256_crypt" => {
            let params =
                sha_crypt::Sha256Params::new(params_rounds).map_err(|e| invalid(format!("password_hash: {e:?}")))?;
            let hashed = sha_crypt::sha256_crypt_b64(password.as_bytes(), salt.as_bytes(), &params)
                .map_err(|e| invalid(format!("password_hash: {e:?}")))?;
            Ok(format!("$5${prefix_rounds}{salt}${hashed}"))
        }
        other => Err(invalid(format!("password_hash: unsupported hash type {other:?} (sha512, sha256)"))),
    }
}

fn random_salt() -> String {
    const ALPHABET: &[u8] = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    (0..16).map(|_| ALPHABET[rand::random_range(0..ALPHABET.len())] as char).collect()
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

    #[test]
    fn password_hash_is_crypt_sha512() {
        // `python3 -c 'import crypt; print(crypt.crypt("secret", "$6$mysalt"))'`
        assert_eq!(
            password_hash(
                &Value::from("secret"),
                Some("sha512".into()),
                Some("mysalt".into()),
                Kwargs::from_iter(Vec::<(&str, Value)>::new())
            )
            .unwrap(),
            "$6$mysalt$UX6P1VKOf6dr0s2pg4pLNvIUB6hLXvP6M5f/Yj9hJgMPdAJ4oArvk5YUD9/XWtk1JOpVwt/JTsczMJr8sFVML1"
        );
    }
}
