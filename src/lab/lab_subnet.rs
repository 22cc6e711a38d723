//! The lab's private IPv4 network: the bridge takes the first address, hosts take the rest.

use std::fmt;
use std::net::Ipv4Addr;

use super::lab_error::LabError;

/// An IPv4 network such as 10.250.0.0/24.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LabSubnet {
    network: u32,
    prefix: u8,
}

impl LabSubnet {
    /// A subnet the lab can use: prefix /8 to /28.
    pub fn parse(text: &str) -> Result<Self, LabError> {
        let subnet = Self::parse_any(text)?;
        if !(8..=28).contains(&subnet.prefix) {
            return Err(LabError::BadSubnet(text.to_string()));
        }
        Ok(subnet)
    }

    /// Any IPv4 network, e.g. a route of the machine (/32 host routes included).
    pub fn parse_any(text: &str) -> Result<Self, LabError> {
        let bad = || LabError::BadSubnet(text.to_string());
        let (address, prefix) = text.trim().split_once('/').ok_or_else(bad)?;
        let address: Ipv4Addr = address.parse().map_err(|_| bad())?;
        let prefix: u8 = prefix.parse().map_err(|_| bad())?;
        if !(1..=32).contains(&prefix) {
            return Err(bad());
        }
        Ok(LabSubnet { network: u32::from(address) & mask(prefix), prefix })
    }

    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    pub fn network(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.network)
    }

    fn size(&self) -> u32 {
        1u32.checked_shl(u32::from(32 - self.prefix)).unwrap_or(u32::MAX)
    }

    /// The address with host part `n`, if `n` is a usable host number (not the network or broadcast address).
    pub fn host(&self, n: u32) -> Option<Ipv4Addr> {
        (n >= 1 && n < self.size() - 1).then(|| Ipv4Addr::from(self.network + n))
    }

    /// The bridge's own address: the first host address.
    pub fn gateway(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.network + 1)
    }

    /// A stable, locally administered MAC for a lab address (02:6c = \"l\", then the four octets): the bridge and
    /// every light host get theirs from their address, so each side can know the other's without asking.
    pub fn mac_of(address: Ipv4Addr) -> String {
        let [a, b, c, d] = address.octets();
        format!("02:6c:{a:02x}:{b:02x}:{c:02x}:{d:02x}")
    }

    /// How many host addresses there are besides the bridge's.
    pub fn room(&self) -> usize {
        (self.size() - 3) as usize
    }

    pub fn contains(&self, address: Ipv4Addr) -> bool {
        u32::from(address) & mask(self.prefix) == self.network
    }

    pub fn overlaps(&self, other: &LabSubnet) -> bool {
        let mask = mask(self.prefix.min(other.prefix));
        self.network & mask == other.network & mask
    }

    /// `address` with the bridge's prefix length, as `ip addr` wants it.
    pub fn with_prefix(&self, address: Ipv4Addr) -> String {
        format!("{address}/{}", self.prefix)
    }
}

fn mask(prefix: u8) -> u32 {
    u32::MAX.checked_shl(u32::from(32 - prefix)).unwrap_or(0)
}

impl fmt::Display for LabSubnet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network(), self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_normalises() {
        let subnet = LabSubnet::parse("10.250.0.7/24").unwrap();
        assert_eq!(subnet.to_string(), "10.250.0.0/24");
        assert_eq!(subnet.gateway(), Ipv4Addr::new(10, 250, 0, 1));
        assert_eq!(subnet.host(188), Some(Ipv4Addr::new(10, 250, 0, 188)));
        assert_eq!(subnet.host(255), None);
        assert_eq!(subnet.host(0), None);
        assert_eq!(subnet.room(), 253);
    }

    #[test]
    fn rejects_nonsense() {
        for text in ["10.250.0.0", "10.250.0/24", "10.250.0.0/33", "10.250.0.0/30", "x/24", ""] {
            assert!(LabSubnet::parse(text).is_err(), "{text}");
        }
    }

    #[test]
    fn overlap() {
        let a = LabSubnet::parse("10.250.0.0/24").unwrap();
        assert!(a.overlaps(&LabSubnet::parse("10.250.0.0/16").unwrap()));
        assert!(!a.overlaps(&LabSubnet::parse("10.251.0.0/24").unwrap()));
    }
}
