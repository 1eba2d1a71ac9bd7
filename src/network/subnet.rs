//! Subnet arithmetic: parsing, overlap, the pool new networks take their
//! subnet from, and the subnets the host already uses.

use super::error::{NetworkError, Result};
use ipnet::{IpNet, Ipv4Net};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The subnet of the default network `berth`.
pub const DEFAULT_SUBNET: &str = "10.89.0.0/24";

/// New networks take the first free /24 from 10.89.0.0 up to 10.255.255.0
/// (podman's default pools, in the same order).
const POOL_FIRST: Ipv4Addr = Ipv4Addr::new(10, 89, 0, 0);
const POOL_LAST: Ipv4Addr = Ipv4Addr::new(10, 255, 255, 0);
const POOL_PREFIX: u8 = 24;

/// Parse `value` as a subnet in CIDR form. Host bits are cleared
/// (`10.1.2.3/24` is `10.1.2.0/24`), as podman does. A subnet must leave
/// room for a gateway and at least one container.
pub fn parse_subnet(value: &str) -> Result<IpNet> {
    let bad = |reason: String| NetworkError::InvalidSubnet { value: value.to_string(), reason };
    let net: IpNet =
        value.trim().parse().map_err(|_| bad("expected an address and a prefix length, e.g. 10.90.0.0/24".into()))?;
    let max = match net {
        IpNet::V4(_) => 30,
        IpNet::V6(_) => 126,
    };
    if net.prefix_len() > max {
        return Err(bad(format!("the prefix length must be at most {max}, to leave room for containers")));
    }
    if net.prefix_len() == 0 {
        return Err(bad("a network cannot span every address".into()));
    }
    Ok(net.trunc())
}

pub fn parse_addr(value: &str) -> Result<IpAddr> {
    value.trim().parse().map_err(|source| NetworkError::InvalidAddress { value: value.to_string(), source })
}

/// Whether two subnets share any address.
pub fn overlaps(a: &IpNet, b: &IpNet) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

/// An address as a number, for arithmetic on either family.
pub fn to_bits(a: IpAddr) -> u128 {
    match a {
        IpAddr::V4(v) => u32::from(v) as u128,
        IpAddr::V6(v) => u128::from(v),
    }
}

/// The address of `net`'s family whose number is `bits`.
pub fn from_bits(net: &IpNet, bits: u128) -> IpAddr {
    match net {
        IpNet::V4(_) => IpAddr::V4(Ipv4Addr::from(bits as u32)),
        IpNet::V6(_) => IpAddr::V6(Ipv6Addr::from(bits)),
    }
}

/// The first address after the network address: the default gateway.
pub fn first_host(net: &IpNet) -> IpAddr {
    from_bits(net, to_bits(net.network()) + 1)
}

/// Whether `a` may be given to a host of `net`: inside it, and neither the
/// network address nor (IPv4) the broadcast address.
pub fn is_host_address(net: &IpNet, a: IpAddr) -> bool {
    net.contains(&a) && a != net.network() && !(matches!(net, IpNet::V4(_)) && a == net.broadcast())
}

/// The first subnet of the pool that overlaps none of `used`.
pub fn free_subnet(used: &[IpNet]) -> Option<IpNet> {
    let step = 1u32 << (32 - POOL_PREFIX);
    let mut base = u32::from(POOL_FIRST);
    while base <= u32::from(POOL_LAST) {
        let candidate = IpNet::V4(Ipv4Net::new(Ipv4Addr::from(base), POOL_PREFIX).ok()?);
        if !used.iter().any(|u| overlaps(u, &candidate)) {
            return Some(candidate);
        }
        base += step;
    }
    None
}

/// The subnets the host uses now: those of its interface addresses and
/// of its routes (the default route excepted).
pub fn host_subnets() -> Vec<IpNet> {
    let mut out = Vec::new();
    if let Ok(addrs) = nix::ifaddrs::getifaddrs() {
        for a in addrs {
            let (Some(addr), Some(mask)) = (a.address, a.netmask) else { continue };
            if let (Some(ip), Some(m)) = (addr.as_sockaddr_in(), mask.as_sockaddr_in()) {
                let prefix = u32::from(m.ip()).leading_ones() as u8;
                if let Ok(n) = Ipv4Net::new(ip.ip(), prefix) {
                    out.push(IpNet::V4(n.trunc()));
                }
            } else if let (Some(ip), Some(m)) = (addr.as_sockaddr_in6(), mask.as_sockaddr_in6()) {
                let prefix = u128::from(m.ip()).leading_ones() as u8;
                if let Ok(n) = ipnet::Ipv6Net::new(ip.ip(), prefix) {
                    out.push(IpNet::V6(n.trunc()));
                }
            }
        }
    }
    if let Ok(text) = std::fs::read_to_string("/proc/net/route") {
        out.extend(parse_proc_net_route(&text));
    }
    out.retain(|n| n.prefix_len() > 0);
    out.sort();
    out.dedup();
    out
}

/// The destinations of `/proc/net/route`.
pub fn parse_proc_net_route(text: &str) -> Vec<IpNet> {
    let mut out = Vec::new();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 8 {
            continue;
        }
        let (Ok(dest), Ok(mask)) = (u32::from_str_radix(f[1], 16), u32::from_str_radix(f[7], 16)) else { continue };
        // The kernel prints the network-order word as a host-order number.
        let dest = Ipv4Addr::from(dest.to_ne_bytes());
        let prefix = mask.count_ones() as u8;
        if prefix == 0 {
            continue;
        }
        if let Ok(n) = Ipv4Net::new(dest, prefix) {
            out.push(IpNet::V4(n.trunc()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    #[test]
    fn parses_and_normalises() {
        assert_eq!(parse_subnet("10.90.0.0/24").unwrap(), net("10.90.0.0/24"));
        assert_eq!(parse_subnet("10.90.0.7/24").unwrap(), net("10.90.0.0/24"));
        assert_eq!(parse_subnet("fd00:1::/64").unwrap(), net("fd00:1::/64"));
        for bad in ["", "10.90.0.0", "10.90.0.0/33", "10.90.0.0/31", "300.1.1.1/24", "x/24", "0.0.0.0/0"] {
            let e = parse_subnet(bad).unwrap_err();
            assert!(matches!(e, NetworkError::InvalidSubnet { .. }), "{bad}: {e}");
        }
    }

    #[test]
    fn overlap() {
        assert!(overlaps(&net("10.0.0.0/8"), &net("10.89.3.0/24")));
        assert!(overlaps(&net("10.89.3.0/24"), &net("10.0.0.0/8")));
        assert!(overlaps(&net("10.89.3.0/24"), &net("10.89.3.0/24")));
        assert!(!overlaps(&net("10.89.3.0/24"), &net("10.89.4.0/24")));
        assert!(!overlaps(&net("10.89.3.0/24"), &net("fd00::/64")));
    }

    #[test]
    fn pool_skips_used_subnets() {
        assert_eq!(free_subnet(&[]), Some(net("10.89.0.0/24")));
        let used = [net("10.89.0.0/24"), net("10.89.1.0/24"), net("10.89.2.128/25")];
        assert_eq!(free_subnet(&used), Some(net("10.89.3.0/24")));
        // A host route over the whole start of the pool pushes past it.
        assert_eq!(free_subnet(&[net("10.89.0.0/16")]), Some(net("10.90.0.0/24")));
        assert_eq!(free_subnet(&[net("10.0.0.0/8")]), None);
    }

    #[test]
    fn host_addresses() {
        let n = net("10.89.5.0/24");
        assert_eq!(first_host(&n), "10.89.5.1".parse::<IpAddr>().unwrap());
        assert!(is_host_address(&n, "10.89.5.9".parse().unwrap()));
        assert!(!is_host_address(&n, "10.89.5.0".parse().unwrap()));
        assert!(!is_host_address(&n, "10.89.5.255".parse().unwrap()));
        assert!(!is_host_address(&n, "10.89.6.1".parse().unwrap()));
        let v6 = net("fd00::/64");
        assert_eq!(first_host(&v6), "fd00::1".parse::<IpAddr>().unwrap());
        assert!(is_host_address(&v6, "fd00::ffff:ffff:ffff:ffff".parse().unwrap()));
    }

    #[test]
    fn reads_proc_net_route() {
        let text = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
                    eth0\t00000000\t0102A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n\
                    eth0\t0002A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n\
                    br0\t0000590A\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n";
        assert_eq!(parse_proc_net_route(text), vec![net("192.168.2.0/24"), net("10.89.0.0/16")]);
    }
}
