//! `urlsplit`, as Ansible's (Python's `urllib.parse.urlsplit`): kubespray reads the host and port of its
//! API server endpoints with it (`endpoint | urlsplit('hostname')`). Python's split is lenient (no
//! normalisation, a default port stays as written), which a WHATWG URL parser is not, so it is done here.

use minijinja::Error;
use minijinja::value::Value;

use super::invalid;

const FIELDS: &[&str] = &["fragment", "hostname", "netloc", "password", "path", "port", "query", "scheme", "username"];

pub fn urlsplit(url: &str, query: Option<String>) -> Result<Value, Error> {
    let parts = split(url)?;
    match query {
        None => Ok(Value::from_iter(parts)),
        Some(field) => parts
            .into_iter()
            .find(|(name, _)| *name == field)
            .map(|(_, value)| value)
            .ok_or_else(|| invalid(format!("urlsplit: unknown URL component: {field} ({})", FIELDS.join(", ")))),
    }
}

fn split(url: &str) -> Result<Vec<(&'static str, Value)>, Error> {
    let url = url.trim_start_matches(|c: char| c <= ' ');
    let (mut scheme, mut rest) = (String::new(), url);
    if let Some(colon) = url.find(':') {
        let candidate = &url[..colon];
        let valid = candidate.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && candidate.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
        if valid {
            scheme = candidate.to_ascii_lowercase();
            rest = &url[colon + 1..];
        }
    }
    let mut netloc = "";
    if let Some(after) = rest.strip_prefix("//") {
        let end = after.find(['/', '?', '#']).unwrap_or(after.len());
        netloc = &after[..end];
        rest = &after[end..];
    }
    let (rest, fragment) = rest.split_once('#').unwrap_or((rest, ""));
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (userinfo, hostport) = match netloc.rsplit_once('@') {
        Some((userinfo, hostport)) => (Some(userinfo), hostport),
        None => (None, netloc),
    };
    let (username, password) = match userinfo {
        Some(info) => match info.split_once(':') {
            Some((user, password)) => (Value::from(user), Value::from(password)),
            None => (Value::from(info), Value::from(())),
        },
        None => (Value::from(()), Value::from(())),
    };
    let (host, port) = if let Some(bracketed) = hostport.strip_prefix('[') {
        let (host, after) = bracketed.split_once(']').unwrap_or((bracketed, ""));
        (host, after.strip_prefix(':'))
    } else {
        match hostport.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (hostport, None),
        }
    };
    let port = match port.filter(|p| !p.is_empty()) {
        None => Value::from(()),
        Some(p) => match p.parse::<u32>() {
            Ok(n) if p.bytes().all(|b| b.is_ascii_digit()) && n <= 65535 => Value::from(n),
            _ => return Err(invalid(format!("urlsplit: Port out of range 0-65535 or not a number: {p:?}"))),
        },
    };
    let hostname = if host.is_empty() { Value::from(()) } else { Value::from(host.to_lowercase()) };
    Ok(vec![
        ("fragment", Value::from(fragment)),
        ("hostname", hostname),
        ("netloc", Value::from(netloc)),
        ("password", password),
        ("path", Value::from(path)),
        ("port", port),
        ("query", Value::from(query)),
        ("scheme", Value::from(scheme)),
        ("username", username),
    ])
}

#[cfg(test)]
mod tests {
    use super::urlsplit;

    fn field(url: &str, name: &str) -> String {
        urlsplit(url, Some(name.into())).unwrap().to_string()
    }

    // Expected values are Python's `urllib.parse.urlsplit` (Ansible's documented examples).
    #[test]
    fn splits_as_python_does() {
        let url = "http://user:password@www.acme.com:9000/dir/index.html?query=term#fragment";
        assert_eq!(field(url, "hostname"), "www.acme.com");
        assert_eq!(field(url, "port"), "9000");
        assert_eq!(field(url, "netloc"), "user:password@www.acme.com:9000");
        assert_eq!(field(url, "path"), "/dir/index.html");
        assert_eq!(field(url, "query"), "query=term");
        assert_eq!(field(url, "fragment"), "fragment");
        assert_eq!(field(url, "username"), "user");
        assert_eq!(field(url, "password"), "password");
        assert_eq!(field(url, "scheme"), "http");
        assert_eq!(field("https://LB.Example.com:443", "hostname"), "lb.example.com");
        assert_eq!(field("https://LB.Example.com:443", "port"), "443");
        assert_eq!(field("https://[fd00::1]:6443/x", "hostname"), "fd00::1");
        assert_eq!(field("https://10.0.0.1", "port"), "None");
    }
}
