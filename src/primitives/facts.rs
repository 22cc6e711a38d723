use rhai::{Dynamic, Map};

use super::primitive_error::PrimitiveError;
use super::remote_host::RemoteHost;

/// One round trip that prints `key=value` lines: what playbooks branch on.
const GATHER: &str = r#"
[ -r /etc/os-release ] && . /etc/os-release
echo "os_id=${ID:-unknown}"
echo "os_like=${ID_LIKE:-}"
echo "os_version=${VERSION_ID:-}"
echo "kernel=$(uname -r)"
echo "arch=$(uname -m)"
echo "virt=$(systemd-detect-virt 2>/dev/null || echo none)"
echo "container_virt=$(systemd-detect-virt --container 2>/dev/null || echo none)"
echo "init=$(cat /proc/1/comm 2>/dev/null)"
iface=$(ip -4 route show default 2>/dev/null | awk '{for(i=1;i<NF;i++) if ($i=="dev") {print $(i+1); exit}}')
[ -n "$iface" ] || iface=$(ip -4 -o addr show scope global 2>/dev/null | awk '{print $2; exit}')
echo "default_iface=$iface"
echo "default_ipv4=$(ip -4 -o addr show dev "$iface" scope global 2>/dev/null | awk '{split($4,a,"/"); print a[1]; exit}')"
echo "cpus=$(nproc 2>/dev/null || echo 1)"
echo "mem_mb=$(awk '/^MemTotal:/{print int($2/1024)}' /proc/meminfo)"
echo "hostname=$(hostname 2>/dev/null || cat /etc/hostname)"
echo "fqdn=$(hostname -f 2>/dev/null || hostname)"
for p in apt-get dnf yum zypper apk; do if command -v $p >/dev/null 2>&1; then echo "pkg_mgr=${p%-get}"; break; fi; done
"#;

/// `h.facts()`: gathered on first use and kept for the run. The inventory var `runbook_facts` overrides
/// gathered values — how the decisions for other systems are tested on the lab's Debian hosts.
pub fn facts(host: &dyn RemoteHost) -> Result<Map, PrimitiveError> {
    if let Some(cached) = host.facts() {
        return Ok(cached);
    }
    let output = host.query(GATHER.to_string())?;
    if output.rc != 0 {
        return Err(PrimitiveError::Failed {
            message: format!("gathering facts failed on {}: {}", host.name(), output.stderr_text().trim()),
            rc: Some(output.rc),
        });
    }
    let mut raw: Vec<(String, String)> = output
        .stdout_text()
        .lines()
        .filter_map(|line| line.split_once('='))
        .map(|(key, value)| (key.to_string(), value.trim().to_string()))
        .collect();
    if let Some(serde_json::Value::Object(overrides)) = host.vars().get("runbook_facts") {
        for (key, value) in overrides {
            let text = match value {
                serde_json::Value::String(text) => text.clone(),
                other => other.to_string(),
            };
            raw.retain(|(k, _)| k != key);
            raw.push((key.clone(), text));
        }
    }
    let facts = derive(raw);
    host.keep_facts(facts.clone());
    Ok(facts)
}

/// Builds the facts map, adding what follows from the raw values (family, major versions, container).
pub fn derive(raw: Vec<(String, String)>) -> Map {
    let get = |key: &str| raw.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.clone()).unwrap_or_default();
    let leading_number = |text: &str, index: usize| -> i64 {
        text.split(|c: char| !c.is_ascii_digit())
            .filter(|part| !part.is_empty())
            .nth(index)
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    let os_id = get("os_id");
    let like = format!("{} {}", os_id, get("os_like"));
    let family = if !get("os_family").is_empty() {
        get("os_family")
    } else if like.contains("debian") || like.contains("ubuntu") {
        "debian".to_string()
    } else if ["rhel", "centos", "fedora", "rocky", "almalinux"].iter().any(|id| like.contains(id)) {
        "redhat".to_string()
    } else {
        "other".to_string()
    };
    let kernel = get("kernel");
    let virt = get("virt");
    let container_virt = get("container_virt");
    let container = match raw.iter().rev().find(|(k, _)| k == "container") {
        Some((_, value)) => value == "true",
        None => !container_virt.is_empty() && container_virt != "none",
    };
    let mut facts = Map::new();
    let mut put = |key: &str, value: Dynamic| {
        facts.insert(key.into(), value);
    };
    for (key, value) in &raw {
        if !["os_like", "container_virt", "cpus", "mem_mb", "container"].contains(&key.as_str()) {
            put(key, Dynamic::from(value.clone()));
        }
    }
    put("os_family", Dynamic::from(family));
    put("os_major", Dynamic::from(leading_number(&get("os_version"), 0)));
    put("kernel_major", Dynamic::from(leading_number(&kernel, 0)));
    put("kernel_minor", Dynamic::from(leading_number(&kernel, 1)));
    put("virt", Dynamic::from(if virt.is_empty() { "none".to_string() } else { virt }));
    put("container", Dynamic::from(container));
    put("cpus", Dynamic::from(get("cpus").parse::<i64>().unwrap_or(1)));
    put("mem_mb", Dynamic::from(get("mem_mb").parse::<i64>().unwrap_or(0)));
    if get("pkg_mgr").is_empty() {
        put("pkg_mgr", Dynamic::from(String::new()));
    }
    facts
}

#[cfg(test)]
mod tests {
    use super::derive;

    fn raw(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn centos_seven_is_redhat_with_an_old_kernel() {
        let facts = derive(raw(&[
            ("os_id", "centos"),
            ("os_like", "rhel fedora"),
            ("os_version", "7"),
            ("kernel", "3.10.0-1160.el7.x86_64"),
            ("virt", "kvm"),
            ("container_virt", "none"),
            ("pkg_mgr", "yum"),
        ]));
        assert_eq!(facts["os_family"].to_string(), "redhat");
        assert_eq!(facts["os_major"].as_int().unwrap(), 7);
        assert_eq!(facts["kernel_major"].as_int().unwrap(), 3);
        assert_eq!(facts["kernel_minor"].as_int().unwrap(), 10);
        assert!(!facts["container"].as_bool().unwrap());
    }

    #[test]
    fn nspawn_hosts_are_containers() {
        let facts = derive(raw(&[
            ("os_id", "debian"),
            ("os_version", "12"),
            ("kernel", "6.1.0"),
            ("virt", "systemd-nspawn"),
            ("container_virt", "systemd-nspawn"),
        ]));
        assert_eq!(facts["os_family"].to_string(), "debian");
        assert!(facts["container"].as_bool().unwrap());
    }

    #[test]
    fn overrides_win_and_family_follows_them() {
        let facts = derive(raw(&[
            ("os_id", "debian"),
            ("container_virt", "systemd-nspawn"),
            ("os_id", "centos"),
            ("os_version", "7"),
            ("container", "false"),
        ]));
        assert_eq!(facts["os_id"].to_string(), "centos");
        assert_eq!(facts["os_family"].to_string(), "redhat");
        assert!(!facts["container"].as_bool().unwrap());
    }
}
