//! IP address management: which container holds which address of a
//! network. One JSON file per network, rewritten atomically under the
//! networks lock; an address is held from the container's first start until
//! it is removed, so it keeps its address across restarts.

use super::config::Network;
use super::error::{NetworkError, Result};
use super::subnet::{from_bits, is_host_address, to_bits};
use crate::fsutil::atomic_write;
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use std::net::IpAddr;
use std::path::Path;

/// The leases of one network.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Leases {
    /// Container id -> its addresses, one per subnet.
    #[serde(default)]
    pub containers: BTreeMap<String, Vec<IpAddr>>,
    /// Subnet -> the address handed out last; the next search starts after
    /// it, so a released address is not reused at once.
    #[serde(default)]
    pub last: BTreeMap<String, IpAddr>,
}

impl Leases {
    pub fn read(path: &Path) -> Result<Leases> {
        match std::fs::read(path) {
            Ok(data) => {
                serde_json::from_slice(&data).map_err(|source| NetworkError::Corrupt { path: path.into(), source })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Leases::default()),
            Err(e) => Err(NetworkError::io("read", path)(e)),
        }
    }

    pub fn write(&self, path: &Path) -> Result<()> {
        let json =
            serde_json::to_vec_pretty(self).map_err(|source| NetworkError::Corrupt { path: path.into(), source })?;
        atomic_write(path, &json).map_err(NetworkError::io("write", path))
    }

    /// The container holding `a`, if any.
    pub fn holder(&self, a: IpAddr) -> Option<&str> {
        self.containers.iter().find(|(_, ips)| ips.contains(&a)).map(|(id, _)| id.as_str())
    }

    /// Give `container` one address in each subnet of `network`: the
    /// requested one where given, else the one it already holds, else the
    /// next free one. Changes nothing on error.
    pub fn allocate(&mut self, network: &Network, container: &str, requested: &[IpAddr]) -> Result<Vec<IpAddr>> {
        for &r in requested {
            check_requested(network, self, container, r)?;
        }
        let held = self.containers.get(container).cloned().unwrap_or_default();
        let mut out = Vec::with_capacity(network.subnets.len());
        let mut last = self.last.clone();
        for s in &network.subnets {
            let wanted = requested.iter().copied().find(|a| s.subnet.contains(a));
            let kept = held.iter().copied().find(|&a| s.subnet.contains(&a) && usable(network, a));
            let a = match (wanted, kept) {
                (Some(a), _) | (None, Some(a)) => a,
                (None, None) => {
                    let a = self.next_free(network, &s.subnet, container, last.get(&s.subnet.to_string()).copied())?;
                    last.insert(s.subnet.to_string(), a);
                    a
                }
            };
            out.push(a);
        }
        self.containers.insert(container.to_string(), out.clone());
        self.last = last;
        Ok(out)
    }

    /// Forget `container`'s addresses; whether it held any.
    pub fn release(&mut self, container: &str) -> bool {
        self.containers.remove(container).is_some()
    }

    fn next_free(&self, network: &Network, subnet: &IpNet, container: &str, last: Option<IpAddr>) -> Result<IpAddr> {
        let s = network.subnets.iter().find(|s| &s.subnet == subnet);
        let (mut first, mut end) = (to_bits(subnet.network()) + 1, to_bits(subnet.broadcast()));
        if matches!(subnet, IpNet::V4(_)) {
            end -= 1;
        }
        if let Some(range) = s.and_then(|s| s.lease_range.as_ref()) {
            if let Some(a) = range.start_ip.filter(|a| subnet.contains(a)) {
                first = first.max(to_bits(a));
            }
            if let Some(a) = range.end_ip.filter(|a| subnet.contains(a)) {
                end = end.min(to_bits(a));
            }
        }
        let used: HashSet<IpAddr> = self
            .containers
            .iter()
            .filter(|(id, _)| id.as_str() != container)
            .flat_map(|(_, ips)| ips.iter().copied())
            .chain(s.and_then(|s| s.gateway))
            .collect();
        if end < first {
            return Err(NetworkError::SubnetExhausted { subnet: *subnet, network: network.name.clone() });
        }
        let size = end - first + 1;
        let start = match last.map(to_bits) {
            Some(l) if l >= first && l < end => l + 1,
            _ => first,
        };
        // Among used+1 distinct candidates at least one is free.
        let tries = size.min(used.len() as u128 + 1);
        for i in 0..tries {
            let a = from_bits(subnet, first + (start - first + i) % size);
            if !used.contains(&a) {
                return Ok(a);
            }
        }
        Err(NetworkError::SubnetExhausted { subnet: *subnet, network: network.name.clone() })
    }
}

fn usable(network: &Network, a: IpAddr) -> bool {
    network.subnet_of(a).is_some_and(|s| is_host_address(&s.subnet, a)) && !network.is_gateway(a)
}

fn check_requested(network: &Network, leases: &Leases, container: &str, a: IpAddr) -> Result<()> {
    let name = || network.name.clone();
    let Some(s) = network.subnet_of(a) else {
        return Err(NetworkError::AddressOutsideSubnet { address: a, network: name() });
    };
    if network.is_gateway(a) {
        return Err(NetworkError::AddressIsGateway { address: a, network: name() });
    }
    if !is_host_address(&s.subnet, a) {
        return Err(NetworkError::AddressReserved { address: a, subnet: s.subnet, network: name() });
    }
    match leases.holder(a) {
        Some(other) if other != container => {
            Err(NetworkError::AddressInUse { address: a, network: name(), container: other.to_string() })
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::config::{build, LeaseRange, NetworkCreate};

    fn network(subnet: &str) -> Network {
        let net = crate::network::subnet::parse_subnet(subnet).unwrap();
        build(&NetworkCreate::new("n"), "id".into(), "berth1".into(), vec![(net, None)]).unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn hands_out_addresses_in_order_skipping_the_gateway() {
        let n = network("10.90.0.0/24");
        let mut l = Leases::default();
        assert_eq!(l.allocate(&n, "a", &[]).unwrap(), vec![ip("10.90.0.2")]);
        assert_eq!(l.allocate(&n, "b", &[]).unwrap(), vec![ip("10.90.0.3")]);
        // Again for a: the same address (a restart keeps it).
        assert_eq!(l.allocate(&n, "a", &[]).unwrap(), vec![ip("10.90.0.2")]);
    }

    #[test]
    fn static_addresses() {
        let n = network("10.90.0.0/24");
        let mut l = Leases::default();
        assert_eq!(l.allocate(&n, "a", &[ip("10.90.0.77")]).unwrap(), vec![ip("10.90.0.77")]);
        let before = l.clone();
        type Expect = fn(&NetworkError) -> bool;
        let cases: [(&str, Expect); 5] = [
            ("10.90.0.77", |e| matches!(e, NetworkError::AddressInUse { container, .. } if container == "a")),
            ("10.91.0.5", |e| matches!(e, NetworkError::AddressOutsideSubnet { .. })),
            ("10.90.0.1", |e| matches!(e, NetworkError::AddressIsGateway { .. })),
            ("10.90.0.0", |e| matches!(e, NetworkError::AddressReserved { .. })),
            ("10.90.0.255", |e| matches!(e, NetworkError::AddressReserved { .. })),
        ];
        for (a, ok) in cases {
            let e = l.allocate(&n, "b", &[ip(a)]).unwrap_err();
            assert!(ok(&e), "{a}: {e}");
            assert_eq!(l, before, "a refused request changes nothing");
        }
        // A container may ask for its own address again, or move to another.
        assert_eq!(l.allocate(&n, "a", &[ip("10.90.0.77")]).unwrap(), vec![ip("10.90.0.77")]);
        assert_eq!(l.allocate(&n, "a", &[ip("10.90.0.78")]).unwrap(), vec![ip("10.90.0.78")]);
        assert_eq!(l.holder(ip("10.90.0.77")), None);
    }

    #[test]
    fn exhaustion_and_release() {
        let n = network("10.90.0.0/29"); // .1 gateway, .2-.6 for containers
        let mut l = Leases::default();
        for c in ["a", "b", "c", "d", "e"] {
            l.allocate(&n, c, &[]).unwrap();
        }
        let e = l.allocate(&n, "f", &[]).unwrap_err();
        assert!(matches!(e, NetworkError::SubnetExhausted { .. }), "{e}");
        assert!(l.release("c"));
        assert!(!l.release("c"));
        assert_eq!(l.allocate(&n, "f", &[]).unwrap(), vec![ip("10.90.0.4")]);
    }

    #[test]
    fn released_addresses_are_not_reused_at_once() {
        let n = network("10.90.0.0/24");
        let mut l = Leases::default();
        l.allocate(&n, "a", &[]).unwrap();
        l.release("a");
        assert_eq!(l.allocate(&n, "b", &[]).unwrap(), vec![ip("10.90.0.3")]);
    }

    #[test]
    fn lease_range_and_dual_stack() {
        let mut n = network("10.90.0.0/24");
        n.subnets[0].lease_range =
            Some(LeaseRange { start_ip: Some(ip("10.90.0.20")), end_ip: Some(ip("10.90.0.21")) });
        let v6 = crate::network::subnet::parse_subnet("fd00:1::/64").unwrap();
        n.subnets.push(crate::network::config::Subnet {
            subnet: v6,
            gateway: Some(ip("fd00:1::1")),
            lease_range: None,
        });
        let mut l = Leases::default();
        assert_eq!(l.allocate(&n, "a", &[]).unwrap(), vec![ip("10.90.0.20"), ip("fd00:1::2")]);
        assert_eq!(l.allocate(&n, "b", &[ip("fd00:1::99")]).unwrap(), vec![ip("10.90.0.21"), ip("fd00:1::99")]);
        assert!(l.allocate(&n, "c", &[]).is_err());
    }

    #[test]
    fn file_round_trip() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("n.json");
        assert_eq!(Leases::read(&p).unwrap(), Leases::default());
        let n = network("10.90.0.0/24");
        let mut l = Leases::default();
        l.allocate(&n, "a", &[]).unwrap();
        l.write(&p).unwrap();
        assert_eq!(Leases::read(&p).unwrap(), l);
        std::fs::write(&p, b"{\"containers\": [").unwrap();
        assert!(matches!(Leases::read(&p), Err(NetworkError::Corrupt { .. })));
    }
}
