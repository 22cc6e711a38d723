//! `h.facts()`: what playbooks branch on, gathered in one round trip, and the raw values from which the
//! `ansible_*` names get the exact values Ansible's `setup` module reports (its rules, copied from
//! ansible-core's fact collectors and checked against `ansible -m setup` on a lab host).

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
echo "os_codename=${VERSION_CODENAME:-${UBUNTU_CODENAME:-}}"
echo "os_version_text=${VERSION:-}"
echo "debian_version=$(head -n1 /etc/debian_version 2>/dev/null)"
echo "redhat_release=$(cat /etc/centos-release /etc/redhat-release 2>/dev/null | head -n1)"
route_words() { while [ $# -gt 1 ]; do case $1 in dev) echo "route_iface=$2";; src) echo "route_src=$2";; esac; shift; done; }
route_words $(ip -4 route get 8.8.8.8 2>/dev/null | head -n1)
ansible_virt() {
  if [ -r /proc/1/cgroup ]; then
    grep -qE '/docker(/|-[0-9a-f]+\.scope)' /proc/1/cgroup && { echo docker; return; }
    grep -qE '/lxc/|/machine\.slice/machine-lxc' /proc/1/cgroup && { echo lxc; return; }
    grep -q '/system\.slice/containerd\.service' /proc/1/cgroup && { echo containerd; return; }
  fi
  if [ -r /proc/1/environ ]; then
    e=$(tr '\0' '\n' < /proc/1/environ 2>/dev/null)
    case "$e" in *container=lxc*) echo lxc; return;; *container=podman*) echo podman; return;; esac
    printf '%s\n' "$e" | grep -q '^container=.' && { echo container; return; }
  fi
  if [ -e /proc/vz ] && [ ! -e /proc/lve ]; then echo openvz; return; fi
  c=$(cat /run/systemd/container 2>/dev/null); [ -n "$c" ] && { echo "$c"; return; }
  if [ -e /.dockerenv ] || [ -e /.dockerinit ]; then echo docker; return; fi
  [ -e /proc/xen ] && { echo xen; return; }
  d=/sys/devices/virtual/dmi/id
  product=$(cat $d/product_name 2>/dev/null); vendor=$(cat $d/sys_vendor 2>/dev/null)
  family=$(cat $d/product_family 2>/dev/null); bios=$(cat $d/bios_vendor 2>/dev/null)
  case "$product" in KVM|'KVM Server'|Bochs|AHV|'CloudStack KVM Hypervisor') echo kvm; return;; esac
  [ "$vendor" = oVirt ] && { echo oVirt; return; }
  [ "$vendor" = 'Red Hat' ] && [ "$family" = RHV ] && { echo RHV; return; }
  [ "$vendor" = 'Red Hat' ] && [ "$product" = 'RHEV Hypervisor' ] && { echo RHEV; return; }
  case "$product" in VMware*) echo VMware; return;; 'OpenStack Compute'|'OpenStack Nova') echo openstack; return;; esac
  case "$bios" in Xen) echo xen; return;; 'innotek GmbH') echo virtualbox; return;;
    'Amazon EC2'|DigitalOcean|Hetzner|Linode) echo kvm; return;; esac
  case "$vendor" in QEMU|'Amazon EC2'|DigitalOcean|Google|Scaleway|Nutanix) echo kvm; return;;
    KubeVirt) echo KubeVirt; return;; 'Microsoft Corporation') echo VirtualPC; return;;
    'Parallels Software International Inc.') echo parallels; return;; 'OpenStack Foundation') echo openstack; return;; esac
  grep -q '^VxID:' /proc/self/status 2>/dev/null && { echo linux_vserver; return; }
  grep -qE '^model name.*QEMU Virtual CPU' /proc/cpuinfo 2>/dev/null && { echo kvm; return; }
  m=$(cut -d' ' -f1 /proc/modules 2>/dev/null)
  for x in $m; do [ "$x" = kvm ] && { echo kvm; return; }; done
  for x in $m; do [ "$x" = vboxdrv ] && { echo virtualbox; return; }; done
  for x in $m; do [ "$x" = virtio ] && { echo kvm; return; }; done
  [ -e /dev/kvm ] && { echo kvm; return; }
  echo NA
}
echo "ansible_virt=$(ansible_virt)"
awk -F: '
function trim(s) { gsub(/^[ \t]+|[ \t]+$/, "", s); return s }
function pyround(x,  f) { f = int(x); if (x - f > 0.5) return f + 1; if (x - f < 0.5) return f; return f % 2 ? f + 1 : f }
{ k = trim($1); v = trim(substr($0, index($0, ":") + 1)) }
k == "vendor_id" { vendors++ } k == "model name" { models++ } k == "processor" { procs++ }
k == "physical id" { phys = v; if (!(v in sock)) { sock[v] = 1; sorder[++ns] = v } }
k == "core id" { core = v; if (!(v in sock)) { if (!(v in cores)) corder[++nc] = v; cores[v] = 1 } }
k == "cpu cores" { if (!(phys in sock)) sorder[++ns] = phys; sock[phys] = v + 0 }
k == "siblings" { if (!(core in cores)) corder[++nc] = core; cores[core] = v + 0 }
END {
  i = (vendors > 0 && vendors == models) ? vendors : 0
  if (arch ~ /^(armv|aarch|ppc)/) i = procs
  count = ns ? ns : i
  c = (ns && sock[sorder[1]]) ? sock[sorder[1]] : 1
  t = nc ? pyround(cores[corder[1]] / c) : pyround(1 / c)
  print "ansible_vcpus=" t * count * c
}' arch="$(uname -m)" /proc/cpuinfo 2>/dev/null
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

/// Raw values that only feed Ansible's values (under `ansible` in the facts map).
const ANSIBLE_ONLY: &[&str] = &[
    "os_codename",
    "os_version_text",
    "debian_version",
    "redhat_release",
    "route_iface",
    "route_src",
    "ansible_virt",
    "ansible_vcpus",
];

/// The values Ansible's `setup` reports where they differ from runbook's own facts, by Ansible's rules:
/// - `distribution_version`: os-release's VERSION_ID, but for Debian the most precise of it and
///   /etc/debian_version (`12.15`), for CentOS the most precise of it and /etc/centos-release cut to two parts
///   (`7.9`) — `ansible.module_utils.common.sys_info.get_distribution_version`;
/// - `distribution_release`: VERSION_CODENAME, else UBUNTU_CODENAME, else the word in parentheses in VERSION,
///   else `NA`;
/// - `default_ipv4`: `dev` and `src` of `ip -4 route get 8.8.8.8`, empty without a route;
/// - `virtualization_type` and `processor_vcpus`: the Linux virtual and hardware collectors' rules.
fn ansible_values(get: &dyn Fn(&str) -> String) -> Map {
    let os_id = get("os_id");
    let version_id = get("os_version");
    let most_precise = |candidates: &[String]| {
        let mut best = String::new();
        for candidate in candidates {
            if candidate.matches('.').count() > best.matches('.').count() || best.is_empty() {
                best = candidate.clone();
            }
        }
        best
    };
    let release_number = |text: &str| -> String {
        let after = text.find("release ").map(|at| &text[at + 8..]).unwrap_or("");
        after.chars().take_while(|c| c.is_ascii_digit() || *c == '.').collect()
    };
    let version = match os_id.as_str() {
        "debian" => {
            let debian = get("debian_version");
            let debian = if debian.chars().all(|c| c.is_ascii_digit() || c == '.') { debian } else { String::new() };
            most_precise(&[version_id.clone(), debian])
        }
        "centos" => {
            let best = most_precise(&[version_id.clone(), release_number(&get("redhat_release"))]);
            best.split('.').take(2).collect::<Vec<_>>().join(".")
        }
        _ => version_id.clone(),
    };
    let text = get("os_version_text");
    let parenthesised = text.split_once('(').and_then(|(_, rest)| rest.split_once(')')).map(|(word, _)| word.trim());
    let release = [get("os_codename"), parenthesised.unwrap_or_default().to_string()]
        .into_iter()
        .find(|value| !value.is_empty())
        .unwrap_or_else(|| "NA".to_string());
    let mut default_ipv4 = Map::new();
    if !get("route_iface").is_empty() {
        let address = if get("route_src").is_empty() { get("default_ipv4") } else { get("route_src") };
        default_ipv4.insert("address".into(), Dynamic::from(address));
        default_ipv4.insert("interface".into(), Dynamic::from(get("route_iface")));
    }
    let mut values = Map::new();
    values.insert("distribution_version".into(), Dynamic::from(version));
    values.insert("distribution_release".into(), Dynamic::from(release));
    values.insert("default_ipv4".into(), Dynamic::from(default_ipv4));
    if !get("ansible_virt").is_empty() {
        values.insert("virtualization_type".into(), Dynamic::from(get("ansible_virt")));
    }
    if let Ok(vcpus) = get("ansible_vcpus").parse::<i64>() {
        values.insert("processor_vcpus".into(), Dynamic::from(vcpus));
    }
    values
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
        if !["os_like", "container_virt", "cpus", "mem_mb", "container"].contains(&key.as_str())
            && !ANSIBLE_ONLY.contains(&key.as_str())
        {
            put(key, Dynamic::from(value.clone()));
        }
    }
    put("ansible", Dynamic::from(ansible_values(&get)));
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

    #[test]
    fn ansible_values_follow_ansibles_rules() {
        let ansible = |pairs: &[(&str, &str)]| derive(raw(pairs))["ansible"].clone_cast::<rhai::Map>();
        let debian = ansible(&[
            ("os_id", "debian"),
            ("os_version", "12"),
            ("os_codename", "bookworm"),
            ("debian_version", "12.15"),
            ("route_iface", "eth0"),
            ("route_src", "10.0.0.5"),
            ("ansible_virt", "container"),
            ("ansible_vcpus", "4"),
        ]);
        assert_eq!(debian["distribution_version"].to_string(), "12.15");
        assert_eq!(debian["distribution_release"].to_string(), "bookworm");
        assert_eq!(debian["virtualization_type"].to_string(), "container");
        assert_eq!(debian["processor_vcpus"].as_int().unwrap(), 4);
        let route = debian["default_ipv4"].clone_cast::<rhai::Map>();
        assert_eq!((route["address"].to_string(), route["interface"].to_string()), ("10.0.0.5".into(), "eth0".into()));
        // Debian testing says `trixie/sid`: not a version, VERSION_ID stays.
        let sid = ansible(&[("os_id", "debian"), ("os_version", "13"), ("debian_version", "trixie/sid")]);
        assert_eq!(sid["distribution_version"].to_string(), "13");
        let centos = ansible(&[
            ("os_id", "centos"),
            ("os_version", "7"),
            ("os_version_text", "7 (Core)"),
            ("redhat_release", "CentOS Linux release 7.9.2009 (Core)"),
        ]);
        assert_eq!(centos["distribution_version"].to_string(), "7.9");
        assert_eq!(centos["distribution_release"].to_string(), "Core");
        assert!(centos["default_ipv4"].clone_cast::<rhai::Map>().is_empty(), "no route: Ansible's {{}}");
        let ubuntu = ansible(&[("os_id", "ubuntu"), ("os_version", "22.04"), ("debian_version", "bookworm/sid")]);
        assert_eq!(ubuntu["distribution_version"].to_string(), "22.04");
        assert_eq!(ubuntu["distribution_release"].to_string(), "NA");
        // runbook's own facts keep their meaning (bundles are named after os_version).
        let facts = derive(raw(&[("os_id", "debian"), ("os_version", "12"), ("debian_version", "12.15")]));
        assert_eq!(facts["os_version"].to_string(), "12");
        assert!(!facts.contains_key("debian_version"));
    }
}
