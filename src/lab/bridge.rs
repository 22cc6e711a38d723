//! The lab's Linux bridge in the machine's own network namespace: every host's veth joins it, and the bridge's
//! address is how the controller (the machine itself) reaches the hosts. No route or NAT leads out of it.

use std::path::Path;

use serde_json::Value;

use super::lab_error::{LabError, LabResult};
use super::lab_subnet::LabSubnet;
use super::required_tools::{self, IP, IPTABLES};

fn ip_json(args: &[&str]) -> LabResult<Vec<Value>> {
    let mut full = vec!["-j"];
    full.extend_from_slice(args);
    let text = required_tools::run(&IP, &full)?;
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    match serde_json::from_str(&text) {
        Ok(Value::Array(items)) => Ok(items),
        _ => Err(LabError::Command { command: format!("ip {}", full.join(" ")), message: "unexpected output".into() }),
    }
}

/// Refuses a subnet the machine already routes or addresses on another interface.
pub fn check_subnet_free(subnet: &LabSubnet, bridge: &str) -> LabResult<()> {
    for route in ip_json(&["-4", "route", "show", "table", "all"])? {
        let (Some(dst), Some(dev)) = (route["dst"].as_str(), route["dev"].as_str()) else {
            continue;
        };
        if dst == "default" || dev == bridge || dev == "lo" {
            continue;
        }
        let cidr = if dst.contains('/') { dst.to_string() } else { format!("{dst}/32") };
        let Ok(routed) = LabSubnet::parse_any(&cidr) else {
            continue;
        };
        if routed.overlaps(subnet) {
            return Err(LabError::SubnetInUse { subnet: subnet.to_string(), interface: dev.to_string() });
        }
    }
    for link in ip_json(&["-4", "addr", "show"])? {
        let dev = link["ifname"].as_str().unwrap_or_default();
        if dev == bridge || dev == "lo" {
            continue;
        }
        for info in link["addr_info"].as_array().into_iter().flatten() {
            let address = info["local"].as_str().and_then(|text| text.parse().ok());
            if address.is_some_and(|address| subnet.contains(address)) {
                return Err(LabError::SubnetInUse { subnet: subnet.to_string(), interface: dev.to_string() });
            }
        }
    }
    Ok(())
}

pub fn exists(bridge: &str) -> bool {
    required_tools::run(&IP, &["link", "show", "dev", bridge]).is_ok()
}

/// Creates the bridge with the subnet's first address, or completes one left from an earlier `up`.
pub fn ensure(bridge: &str, subnet: &LabSubnet) -> LabResult<()> {
    if !exists(bridge) {
        // A fixed address: a bridge without one takes the lowest of its ports' and changes as hosts come and go,
        // which would make the light hosts' permanent neighbour entry for it wrong (see light_host.rs).
        let mac = LabSubnet::mac_of(subnet.gateway());
        required_tools::run(&IP, &["link", "add", bridge, "address", &mac, "type", "bridge"])?;
    }
    let wanted = subnet.gateway().to_string();
    let has_address = ip_json(&["-4", "addr", "show", "dev", bridge])?.iter().any(|link| {
        link["addr_info"].as_array().into_iter().flatten().any(|info| info["local"].as_str() == Some(wanted.as_str()))
    });
    if !has_address {
        required_tools::run(&IP, &["addr", "add", &subnet.with_prefix(subnet.gateway()), "dev", bridge])?;
    }
    required_tools::run(&IP, &["link", "set", bridge, "up"])?;
    Ok(())
}

/// The bridge's MAC if it was set explicitly (by [`ensure`]) and so stays what it is while ports come and go.
pub fn fixed_mac(bridge: &str) -> Option<String> {
    let sys = Path::new("/sys/class/net").join(bridge);
    // addr_assign_type 3 = NET_ADDR_SET: chosen by whoever made the link, not taken from a port.
    let assigned = std::fs::read_to_string(sys.join("addr_assign_type")).ok()?;
    if assigned.trim() != "3" {
        return None;
    }
    Some(std::fs::read_to_string(sys.join("address")).ok()?.trim().to_string())
}

/// Links still attached to the bridge (host-side veths of hosts that did not clean up).
pub fn ports(bridge: &str) -> Vec<String> {
    ip_json(&["link", "show", "master", bridge])
        .unwrap_or_default()
        .iter()
        .filter_map(|link| link["ifname"].as_str().map(str::to_string))
        .collect()
}

/// Removes the bridge and any veth still attached to it. A bridge that is not there is fine.
pub fn remove(bridge: &str) -> LabResult<()> {
    if !exists(bridge) {
        return Ok(());
    }
    for port in ports(bridge) {
        // Deleting one end of a veth deletes both; a port may vanish by itself meanwhile.
        let _ = required_tools::run(&IP, &["link", "del", &port]);
    }
    required_tools::run(&IP, &["link", "del", bridge]).map(|_| ())
}

/// A warning when the machine's FORWARD chain drops by default and nothing accepts the lab's bridge:
/// bridged traffic between hosts passes that chain when bridge netfilter is on, so hosts would not reach
/// each other.
pub fn forward_drop_warning(bridge: &str) -> Option<String> {
    forward_warning(&required_tools::run(&IPTABLES, &["-S", "FORWARD"]).ok()?, bridge)
}

fn forward_warning(rules: &str, bridge: &str) -> Option<String> {
    let drops = rules.lines().any(|line| matches!(line.trim(), "-P FORWARD DROP" | "-P FORWARD REJECT"));
    let accepted = rules.lines().any(|line| {
        line.split_whitespace().any(|word| word == bridge) && line.split_whitespace().last() == Some("ACCEPT")
    });
    (drops && !accepted).then(|| {
        format!(
            "the FORWARD chain's policy is DROP (docker sets this), so lab hosts may not reach each other.\n  \
             Fix: iptables -I FORWARD -i {bridge} -o {bridge} -j ACCEPT"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warns_about_a_drop_policy_unless_the_bridge_is_accepted() {
        assert!(forward_warning("-P FORWARD ACCEPT\n", "rb-lab").is_none());
        let warning = forward_warning("-P FORWARD DROP\n-A FORWARD -j DOCKER-USER\n", "rb-lab").unwrap();
        assert!(warning.contains("iptables -I FORWARD -i rb-lab -o rb-lab -j ACCEPT"), "{warning}");
        assert!(forward_warning("-P FORWARD DROP\n-A FORWARD -i rb-lab -o rb-lab -j ACCEPT\n", "rb-lab").is_none());
        assert!(forward_warning("-P FORWARD DROP\n-A FORWARD -i rb-lab2 -j ACCEPT\n", "rb-lab").is_some());
    }
}
