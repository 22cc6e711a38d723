//! `ipwrap` and the common `ipaddr` queries of the ansible.utils collection (kubespray and kubeasz compute
//! service IPs and bind addresses with them), on IPv4 and IPv6 with plain integer arithmetic.

use std::net::IpAddr;

use minijinja::Error;
use minijinja::value::{Value, ValueKind};

use super::invalid;

/// An address with its prefix (`10.0.0.5/24`; a bare address is /32 or /128), as netaddr's IPNetwork.
#[derive(Clone, Copy)]
struct Net {
    ip: u128,
    prefix: u32,
    v6: bool,
}

impl Net {
    fn parse(text: &str) -> Option<Net> {
        let (address, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let ip: IpAddr = address.trim().parse().ok()?;
        let (ip, bits, v6) = match ip {
            IpAddr::V4(v4) => (u32::from(v4) as u128, 32, false),
            IpAddr::V6(v6) => (u128::from(v6), 128, true),
        };
        let prefix = match prefix {
            None => bits,
            Some(p) => match p.parse::<u32>() {
                Ok(n) if n <= bits => n,
                // A dotted netmask (`10.0.0.0/255.255.255.0`), as netaddr accepts.
                _ => {
                    let mask: std::net::Ipv4Addr = p.parse().ok()?;
                    let mask = u32::from(mask);
                    if v6 || mask.leading_ones() + mask.trailing_zeros() != 32 {
                        return None;
                    }
                    mask.leading_ones()
                }
            },
        };
        Some(Net { ip, prefix, v6 })
    }

    fn bits(&self) -> u32 {
        if self.v6 { 128 } else { 32 }
    }

    fn host_mask(&self) -> u128 {
        let host_bits = self.bits() - self.prefix;
        if host_bits == 128 { u128::MAX } else { (1u128 << host_bits) - 1 }
    }

    fn network(&self) -> u128 {
        self.ip & !self.host_mask()
    }

    fn broadcast(&self) -> u128 {
        self.network() | self.host_mask()
    }

    fn size(&self) -> u128 {
        self.host_mask().wrapping_add(1)
    }

    fn text(&self, ip: u128) -> String {
        if self.v6 { std::net::Ipv6Addr::from(ip).to_string() } else { std::net::Ipv4Addr::from(ip as u32).to_string() }
    }

    fn netmask(&self) -> u128 {
        let all = if self.v6 { u128::MAX } else { u32::MAX as u128 };
        all & !self.host_mask()
    }

    fn is_private(&self) -> bool {
        let ip = self.ip;
        if self.v6 {
            (ip >> 121) == (0xfc00u128 >> 9) || (ip >> 118) == (0xfe80u128 >> 6) || ip == 1
        } else {
            let ip = ip as u32;
            let within = |net: u32, prefix: u32| (ip ^ net) >> (32 - prefix) == 0;
            within(0x0a00_0000, 8)
                || within(0xac10_0000, 12)
                || within(0xc0a8_0000, 16)
                || within(0x7f00_0000, 8)
                || within(0xa9fe_0000, 16)
                || within(0x6440_0000, 10)
        }
    }
}

/// One value through an `ipaddr` query: the answer, or false when the value does not qualify.
fn query_one(text: &str, query: &Value) -> Result<Value, Error> {
    let Some(net) = Net::parse(text) else { return Ok(Value::from(false)) };
    let with_prefix = |ip: u128| format!("{}/{}", net.text(ip), net.prefix);
    let is_host = net.prefix == net.bits() || net.ip != net.network() || net.size() <= 2;
    if query.kind() == ValueKind::Number {
        let n = query.as_i64().ok_or_else(|| invalid("ipaddr: an integer query"))?;
        let ip = if n >= 0 {
            net.network().checked_add(n as u128).filter(|ip| *ip <= net.broadcast())
        } else {
            net.broadcast()
                .checked_add(1)
                .and_then(|end| end.checked_sub(n.unsigned_abs() as u128))
                .filter(|ip| *ip >= net.network())
        };
        return Ok(ip.map(|ip| Value::from(with_prefix(ip))).unwrap_or(Value::from(false)));
    }
    let query = query.as_str().unwrap_or_default();
    Ok(match query {
        "" => Value::from(text),
        "address" | "ip" => {
            if is_host {
                Value::from(net.text(net.ip))
            } else {
                Value::from(false)
            }
        }
        "host" | "address/prefix" | "host/prefix" => {
            if is_host {
                Value::from(with_prefix(net.ip))
            } else {
                Value::from(false)
            }
        }
        "network" => Value::from(net.text(net.network())),
        "net" => {
            if net.ip == net.network() && net.prefix < net.bits() {
                Value::from(with_prefix(net.network()))
            } else {
                Value::from(false)
            }
        }
        "subnet" | "cidr" => Value::from(with_prefix(net.network())),
        "netmask" => Value::from(net.text(net.netmask())),
        "hostmask" => Value::from(net.text(net.host_mask())),
        "prefix" => Value::from(net.prefix),
        "broadcast" => {
            if net.size() > 2 {
                Value::from(net.text(net.broadcast()))
            } else {
                Value::from(())
            }
        }
        "size" => Value::from(net.size() as u64),
        "version" => Value::from(if net.v6 { 6 } else { 4 }),
        "ipv4" => {
            if net.v6 {
                Value::from(false)
            } else {
                Value::from(text)
            }
        }
        "ipv6" => {
            if net.v6 {
                Value::from(text)
            } else {
                Value::from(false)
            }
        }
        "private" => {
            if net.is_private() {
                Value::from(text)
            } else {
                Value::from(false)
            }
        }
        "public" => {
            if net.is_private() {
                Value::from(false)
            } else {
                Value::from(text)
            }
        }
        "wrap" | "ipwrap" => Value::from(wrap_text(text)),
        "revdns" => Value::from(revdns(&net)),
        other => return Err(invalid(format!("ipaddr: unsupported query {other:?}"))),
    })
}

fn revdns(net: &Net) -> String {
    if net.v6 {
        let hex = format!("{:032x}", net.ip);
        let mut parts: Vec<String> = hex.chars().rev().map(|c| c.to_string()).collect();
        parts.push("ip6.arpa.".into());
        parts.join(".")
    } else {
        let octets = (net.ip as u32).to_be_bytes();
        format!("{}.{}.{}.{}.in-addr.arpa.", octets[3], octets[2], octets[1], octets[0])
    }
}

/// `value | ipaddr(query)`: for a list, the answers that are not false.
pub fn ipaddr(value: &Value, query: Option<Value>) -> Result<Value, Error> {
    let query = query.unwrap_or(Value::from(""));
    match value.kind() {
        ValueKind::Seq | ValueKind::Iterable => {
            let mut out = Vec::new();
            for item in value.try_iter()? {
                let answer = query_one(&item.to_string(), &query)?;
                if answer.kind() != ValueKind::Bool || answer.is_true() {
                    out.push(answer);
                }
            }
            Ok(Value::from(out))
        }
        ValueKind::String | ValueKind::Number => query_one(&value.to_string(), &query),
        _ => Ok(Value::from(false)),
    }
}

pub fn ipv4(value: &Value, query: Option<Value>) -> Result<Value, Error> {
    let filtered = ipaddr(value, Some(Value::from("ipv4")))?;
    match query {
        Some(query) if filtered.is_true() => ipaddr(&filtered, Some(query)),
        _ => Ok(filtered),
    }
}

pub fn ipv6(value: &Value, query: Option<Value>) -> Result<Value, Error> {
    let filtered = ipaddr(value, Some(Value::from("ipv6")))?;
    match query {
        Some(query) if filtered.is_true() => ipaddr(&filtered, Some(query)),
        _ => Ok(filtered),
    }
}

fn wrap_text(text: &str) -> String {
    match Net::parse(text) {
        Some(net) if net.v6 => match text.split_once('/') {
            Some((address, prefix)) => format!("[{address}]/{prefix}"),
            None => format!("[{text}]"),
        },
        _ => text.to_string(),
    }
}

/// `ipwrap`: IPv6 addresses in brackets (for `host:port`), everything else unchanged.
pub fn ipwrap(value: &Value) -> Result<Value, Error> {
    match value.kind() {
        ValueKind::Seq | ValueKind::Iterable => {
            Ok(Value::from(value.try_iter()?.map(|v| Value::from(wrap_text(&v.to_string()))).collect::<Vec<_>>()))
        }
        _ => Ok(Value::from(wrap_text(&value.to_string()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(value: &str, query: Value) -> String {
        crate::template::output::python_str(&ipaddr(&Value::from(value), Some(query)).unwrap())
    }

    #[test]
    fn ipaddr_queries_as_documented() {
        assert_eq!(q("192.168.0.1", Value::from("")), "192.168.0.1");
        assert_eq!(q("not-an-ip", Value::from("")), "False");
        assert_eq!(q("192.168.0.1/24", Value::from("address")), "192.168.0.1");
        assert_eq!(q("192.168.0.0/24", Value::from("address")), "False");
        assert_eq!(q("192.168.0.1/24", Value::from("network")), "192.168.0.0");
        assert_eq!(q("192.168.0.1/24", Value::from("netmask")), "255.255.255.0");
        assert_eq!(q("192.168.0.1/24", Value::from("prefix")), "24");
        assert_eq!(q("192.168.0.1/24", Value::from("broadcast")), "192.168.0.255");
        assert_eq!(q("192.168.0.1/24", Value::from("size")), "256");
        assert_eq!(q("192.168.0.0/24", Value::from("net")), "192.168.0.0/24");
        assert_eq!(q("10.233.0.0/18", Value::from(1)), "10.233.0.1/18");
        assert_eq!(q("10.233.0.0/18", Value::from(-1)), "10.233.63.255/18");
        assert_eq!(q("192.168.0.1/24", Value::from("private")), "192.168.0.1/24");
        assert_eq!(q("8.8.8.8", Value::from("public")), "8.8.8.8");
        assert_eq!(q("2001:db8::1/64", Value::from("network")), "2001:db8::");
        assert_eq!(q("192.168.0.1", Value::from("revdns")), "1.0.168.192.in-addr.arpa.");
        let list = Value::from(vec!["192.168.0.1", "fe80::1", "x"]);
        assert_eq!(crate::template::output::python_str(&ipv4(&list, None).unwrap()), "['192.168.0.1']");
    }

    #[test]
    fn ipwrap_brackets_only_ipv6() {
        assert_eq!(ipwrap(&Value::from("2001:db8::1")).unwrap().to_string(), "[2001:db8::1]");
        assert_eq!(ipwrap(&Value::from("2001:db8::1/64")).unwrap().to_string(), "[2001:db8::1]/64");
        assert_eq!(ipwrap(&Value::from("10.0.0.1")).unwrap().to_string(), "10.0.0.1");
        assert_eq!(ipwrap(&Value::from("example.com")).unwrap().to_string(), "example.com");
    }
}
