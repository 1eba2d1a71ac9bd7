//! Network definitions, stored as netavark's own network JSON (podman's
//! `types.Network`), and the rules a new one must follow.

use super::error::{NetworkError, Result};
use super::subnet;
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::{SystemTime, UNIX_EPOCH};

/// The network a container joins when it names none.
pub const DEFAULT_NETWORK: &str = crate::model::network::DEFAULT_NETWORK;
/// The default network's bridge; user networks get `berth1`, `berth2`, ...
pub const DEFAULT_BRIDGE: &str = "berth0";
pub const BRIDGE_PREFIX: &str = "berth";
/// Linux limits interface names to 15 bytes.
pub const IFNAMSIZ_MAX: usize = 15;

/// One network, exactly as netavark reads it and podman writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Network {
    pub name: String,
    pub id: String,
    pub driver: String,
    /// The bridge interface on the host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_interface: Option<String>,
    /// RFC 3339, as podman writes it.
    #[serde(default)]
    pub created: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subnets: Vec<Subnet>,
    #[serde(default)]
    pub ipv6_enabled: bool,
    #[serde(default)]
    pub internal: bool,
    #[serde(default)]
    pub dns_enabled: bool,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub options: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub ipam_options: BTreeMap<String, String>,
    /// Fields berth does not interpret (`routes`, `network_dns_servers`),
    /// kept as they were written.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subnet {
    pub subnet: IpNet,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<IpAddr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_range: Option<LeaseRange>,
}

/// The part of a subnet containers get addresses from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseRange {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_ip: Option<IpAddr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_ip: Option<IpAddr>,
}

impl Network {
    pub fn bridge(&self) -> &str {
        self.network_interface.as_deref().unwrap_or("")
    }

    /// The subnet holding `a`, if any.
    pub fn subnet_of(&self, a: IpAddr) -> Option<&Subnet> {
        self.subnets.iter().find(|s| s.subnet.contains(&a))
    }

    pub fn is_gateway(&self, a: IpAddr) -> bool {
        self.subnets.iter().any(|s| s.gateway == Some(a))
    }
}

/// What a user asks for when creating a network (`podman network create`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkCreate {
    pub name: String,
    /// Subnets with an optional gateway each; none: one is chosen from the pool.
    pub subnets: Vec<SubnetRequest>,
    /// No route out of the network, and no published ports.
    pub internal: bool,
    /// Containers resolve each other by name through aardvark-dns.
    pub dns_enabled: bool,
    pub labels: BTreeMap<String, String>,
    /// netavark bridge options: `mtu`, `isolate`.
    pub options: BTreeMap<String, String>,
    /// The bridge's name; default: the first free `berthN`.
    pub bridge: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubnetRequest {
    pub subnet: String,
    pub gateway: Option<String>,
}

impl NetworkCreate {
    /// A bridge network with podman's defaults: DNS on, not internal.
    pub fn new(name: &str) -> Self {
        NetworkCreate {
            name: name.to_string(),
            subnets: Vec::new(),
            internal: false,
            dns_enabled: true,
            labels: BTreeMap::new(),
            options: BTreeMap::new(),
            bridge: None,
        }
    }

    pub fn subnet(mut self, subnet: &str, gateway: Option<&str>) -> Self {
        self.subnets.push(SubnetRequest { subnet: subnet.to_string(), gateway: gateway.map(str::to_string) });
        self
    }
}

/// A valid name for a network (podman's rule, the same as for containers).
pub fn check_name(name: &str) -> Result<()> {
    let bad = |reason| Err(NetworkError::InvalidName { name: name.to_string(), reason });
    let mut bytes = name.bytes();
    match bytes.next() {
        None => return bad("a name must not be empty"),
        Some(b) if !b.is_ascii_alphanumeric() => return bad("a name must start with a letter or digit"),
        _ => {}
    }
    if !bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-')) {
        return bad("a name may hold only [a-zA-Z0-9_.-]");
    }
    if name.len() > 128 {
        return bad("a name is at most 128 bytes");
    }
    Ok(())
}

/// A valid bridge interface name.
pub fn check_bridge_name(name: &str) -> Result<()> {
    let bad = |reason| Err(NetworkError::InvalidBridgeName { name: name.to_string(), reason });
    if name.is_empty() || name.len() > IFNAMSIZ_MAX {
        return bad("an interface name has 1 to 15 bytes");
    }
    if name == "."
        || name == ".."
        || name.bytes().any(|b| b == b'/' || b == b':' || b.is_ascii_whitespace() || !b.is_ascii_graphic())
    {
        return bad("an interface name may not be . or .. nor hold /, : or spaces");
    }
    Ok(())
}

/// Validate the bridge options netavark 1.4 knows.
pub fn check_options(options: &BTreeMap<String, String>) -> Result<()> {
    for (k, v) in options {
        let bad = |reason| Err(NetworkError::InvalidOption { key: k.clone(), value: v.clone(), reason });
        match k.as_str() {
            "mtu" if v.parse::<u32>().is_err() => return bad("the MTU is a number of bytes"),
            "isolate" if !matches!(v.as_str(), "true" | "false") => return bad("isolate is true or false"),
            "mtu" | "isolate" => {}
            _ => return bad("unknown option; netavark 1.4 knows mtu and isolate"),
        }
    }
    Ok(())
}

/// The network `name` from a create request whose subnets are already
/// resolved; checks gateways against their subnets.
pub fn build(
    req: &NetworkCreate,
    id: String,
    bridge: String,
    subnets: Vec<(IpNet, Option<IpAddr>)>,
) -> Result<Network> {
    // podman: a gateway unless the network is internal without DNS (aardvark
    // listens on the gateway address).
    let want_gateway = !req.internal || req.dns_enabled;
    let mut out = Vec::new();
    for (net, gateway) in subnets {
        if let Some(g) = gateway {
            if !subnet::is_host_address(&net, g) {
                return Err(NetworkError::GatewayOutsideSubnet { gateway: g, subnet: net });
            }
        }
        let gateway = gateway.or_else(|| want_gateway.then(|| subnet::first_host(&net)));
        out.push(Subnet { subnet: net, gateway, lease_range: None });
    }
    Ok(Network {
        name: req.name.clone(),
        id,
        driver: "bridge".into(),
        network_interface: Some(bridge),
        created: rfc3339_now(),
        ipv6_enabled: out.iter().any(|s| matches!(s.subnet, IpNet::V6(_))),
        subnets: out,
        internal: req.internal,
        dns_enabled: req.dns_enabled,
        labels: req.labels.clone(),
        options: req.options.clone(),
        ipam_options: [("driver".to_string(), "host-local".to_string())].into(),
        extra: BTreeMap::new(),
    })
}

/// The default network: bridge `berth0`, 10.89.0.0/24, DNS off (as podman's
/// `podman` network). Its id is derived from its name, so it is stable.
pub fn default_network() -> Network {
    let net = subnet::parse_subnet(subnet::DEFAULT_SUBNET).expect("the default subnet is valid");
    let req = NetworkCreate { dns_enabled: false, ..NetworkCreate::new(DEFAULT_NETWORK) };
    build(&req, name_id(DEFAULT_NETWORK), DEFAULT_BRIDGE.into(), vec![(net, None)])
        .expect("the default network is valid")
}

/// A 64-hex id from a name (for the default network, as podman does).
pub fn name_id(name: &str) -> String {
    Sha256::digest(name.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// A new random 64-hex id.
pub fn random_id() -> Result<String> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).map_err(|e| {
        NetworkError::io("read random bytes for", "the network id")(std::io::Error::other(e.to_string()))
    })?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

/// Now, in RFC 3339 with nanoseconds, UTC.
pub fn rfc3339_now() -> String {
    let d = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    rfc3339(d.as_secs() as i64, d.subsec_nanos())
}

fn rfc3339(secs: i64, nanos: u32) -> String {
    let (days, rem) = (secs.div_euclid(86400), secs.rem_euclid(86400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{nanos:09}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A network as `podman network create --subnet 10.89.8.0/24
    /// --ip-range ... --label mykey=value` writes it.
    const PODMAN_BRIDGE: &str = r#"{
     "name": "web",
     "id": "4a1d0c3c7f45e0fb5fbbfb1c0b3e3a0c14a3e2ab1e5d7e3c0f8d1c6a4a2f9e01",
     "driver": "bridge",
     "network_interface": "podman3",
     "created": "2024-03-01T10:20:30.123456789+01:00",
     "subnets": [
          {
               "subnet": "10.89.8.0/24",
               "gateway": "10.89.8.1",
               "lease_range": {
                    "start_ip": "10.89.8.20",
                    "end_ip": "10.89.8.50"
               }
          }
     ],
     "ipv6_enabled": false,
     "internal": false,
     "dns_enabled": true,
     "labels": {
          "mykey": "value"
     },
     "ipam_options": {
          "driver": "host-local"
     }
}"#;

    /// Dual stack, with fields berth does not interpret.
    const PODMAN_DUAL: &str = r#"{
     "name": "dual",
     "id": "9b7e0b3c1d2e3f405162738495a6b7c8d9eaf0b1c2d3e4f5061728394a5b6c7d",
     "driver": "bridge",
     "network_interface": "podman7",
     "created": "2024-03-01T10:20:30Z",
     "subnets": [
          { "subnet": "fd10:88:a::/64", "gateway": "fd10:88:a::1" },
          { "subnet": "10.89.19.0/24", "gateway": "10.89.19.10" }
     ],
     "routes": [ { "destination": "10.100.0.0/16", "gateway": "10.89.19.5" } ],
     "ipv6_enabled": true,
     "internal": false,
     "dns_enabled": true,
     "network_dns_servers": [ "10.89.19.53" ],
     "options": { "mtu": "1400", "isolate": "true" },
     "ipam_options": { "driver": "host-local" }
}"#;

    /// Internal without DNS: no gateway at all.
    const PODMAN_INTERNAL: &str = r#"{
     "name": "internal",
     "id": "3bed2cb3a3acf7b6a8ef408420cc682d5520e26976d354254f528c96561205ff",
     "driver": "bridge",
     "network_interface": "podman8",
     "created": "2024-03-01T10:20:30Z",
     "subnets": [ { "subnet": "10.89.7.0/24" } ],
     "ipv6_enabled": false,
     "internal": true,
     "dns_enabled": false,
     "ipam_options": { "driver": "host-local" }
}"#;

    #[test]
    fn podman_json_round_trips() {
        for text in [PODMAN_BRIDGE, PODMAN_DUAL, PODMAN_INTERNAL] {
            let n: Network = serde_json::from_str(text).unwrap();
            let again = serde_json::to_value(&n).unwrap();
            let original: serde_json::Value = serde_json::from_str(text).unwrap();
            assert_eq!(again, original);
        }
        let n: Network = serde_json::from_str(PODMAN_BRIDGE).unwrap();
        assert_eq!(n.bridge(), "podman3");
        assert_eq!(n.subnets[0].lease_range.as_ref().unwrap().end_ip, Some("10.89.8.50".parse().unwrap()));
        let d: Network = serde_json::from_str(PODMAN_DUAL).unwrap();
        assert!(d.extra.contains_key("routes") && d.extra.contains_key("network_dns_servers"));
    }

    #[test]
    fn default_network_is_podman_shaped() {
        let n = default_network();
        assert_eq!((n.name.as_str(), n.bridge(), n.driver.as_str()), ("berth", "berth0", "bridge"));
        assert_eq!(n.id, name_id("berth"));
        assert_eq!(n.id.len(), 64);
        assert!(!n.dns_enabled && !n.internal && !n.ipv6_enabled);
        let v = serde_json::to_value(&n).unwrap();
        assert_eq!(v["subnets"][0]["subnet"], "10.89.0.0/24");
        assert_eq!(v["subnets"][0]["gateway"], "10.89.0.1");
        assert_eq!(v["ipam_options"]["driver"], "host-local");
        assert!(v.get("labels").is_none() && v.get("options").is_none());
    }

    #[test]
    fn gateways() {
        let net: IpNet = "10.90.0.0/24".parse().unwrap();
        let req = NetworkCreate::new("a");
        let n = build(&req, "x".into(), "berth1".into(), vec![(net, None)]).unwrap();
        assert_eq!(n.subnets[0].gateway, Some("10.90.0.1".parse().unwrap()));
        let n = build(&req, "x".into(), "berth1".into(), vec![(net, Some("10.90.0.254".parse().unwrap()))]).unwrap();
        assert_eq!(n.subnets[0].gateway, Some("10.90.0.254".parse().unwrap()));
        for g in ["10.91.0.1", "10.90.0.0", "10.90.0.255"] {
            let e = build(&req, "x".into(), "b".into(), vec![(net, Some(g.parse().unwrap()))]).unwrap_err();
            assert!(matches!(e, NetworkError::GatewayOutsideSubnet { .. }), "{g}: {e}");
        }
        let internal = NetworkCreate { internal: true, dns_enabled: false, ..NetworkCreate::new("i") };
        assert_eq!(build(&internal, "x".into(), "b".into(), vec![(net, None)]).unwrap().subnets[0].gateway, None);
    }

    #[test]
    fn names() {
        for ok in ["a", "web-1", "x.y_z", "0"] {
            check_name(ok).unwrap();
        }
        for bad in ["", "-a", "a b", "a/b", "é", &"a".repeat(129)] {
            assert!(matches!(check_name(bad), Err(NetworkError::InvalidName { .. })), "{bad}");
        }
        check_bridge_name("berth12").unwrap();
        for bad in ["", "a/b", "a:b", "a b", "..", "abcdefghijklmnop"] {
            assert!(check_bridge_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn options() {
        check_options(&[("mtu".into(), "1400".into()), ("isolate".into(), "true".into())].into()).unwrap();
        assert!(check_options(&[("mtu".into(), "big".into())].into()).is_err());
        assert!(check_options(&[("vlan".into(), "3".into())].into()).is_err());
    }

    #[test]
    fn timestamps() {
        assert_eq!(rfc3339(0, 0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(rfc3339(951_782_400, 5), "2000-02-29T00:00:00.000000005Z");
        assert_eq!(rfc3339(1_709_288_430, 0), "2024-03-01T10:20:30.000000000Z");
        assert!(rfc3339_now().starts_with("20"));
    }
}
