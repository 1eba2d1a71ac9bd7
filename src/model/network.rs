//! A container's networking as the API describes it: the Network option's
//! modes, the checks of its network keys, and the typed descriptions of
//! networks and attachments that berthd serialises and clients read back.

use super::ports::PortMapping;
use super::{Error, OptionValue, Result, Sig};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::IpAddr;

/// The network a container joins when it names none, and what `bridge` means.
pub const DEFAULT_NETWORK: &str = "berth";

/// How a container is connected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Network {
    /// Own network namespace with only `lo`.
    None,
    /// The host's network namespace.
    Host,
    /// Bridge networks by name, in order: the first gets eth0, the next eth1.
    Bridge(Vec<String>),
}

impl Default for Network {
    /// podman's default: the default bridge network.
    fn default() -> Self {
        Network::Bridge(vec![DEFAULT_NETWORK.to_string()])
    }
}

impl Network {
    /// The Network option: `none`, `host`, `bridge` (the default network),
    /// or network names separated by commas (podman's `--network a,b`).
    pub fn parse(s: &str) -> Result<Self> {
        let bad = |m: String| Error::invalid("Network", m);
        match s {
            "" | "bridge" => return Ok(Network::default()),
            "none" => return Ok(Network::None),
            "host" => return Ok(Network::Host),
            _ => {}
        }
        let mut names: Vec<String> = Vec::new();
        for n in s.split(',') {
            let n = if n == "bridge" { DEFAULT_NETWORK } else { n };
            if matches!(n, "none" | "host") {
                return Err(bad(format!("{n} cannot be combined with other networks")));
            }
            check_name(n, "Network")?;
            if names.iter().any(|x| x == n) {
                return Err(bad(format!("network {n} is given twice")));
            }
            names.push(n.to_string());
        }
        Ok(Network::Bridge(names))
    }

    /// The bridge networks joined (none for `none` and `host`).
    pub fn networks(&self) -> &[String] {
        match self {
            Network::Bridge(n) => n,
            _ => &[],
        }
    }

    pub fn is_bridge(&self) -> bool {
        matches!(self, Network::Bridge(_))
    }

    /// The option's value that means this mode.
    pub fn to_option(&self) -> String {
        match self {
            Network::None => "none".into(),
            Network::Host => "host".into(),
            Network::Bridge(n) => n.join(","),
        }
    }
}

/// A network or alias name: podman's rule (as for containers).
pub fn check_name(n: &str, key: &str) -> Result<()> {
    let ok = n.len() <= 128
        && n.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && n.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(key, format!("{n:?} is not a valid name ([a-zA-Z0-9][a-zA-Z0-9_.-]*, at most 128 bytes)")))
    }
}

/// What the address of an extra /etc/hosts line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostAddress {
    Ip(IpAddr),
    /// `host-gateway`: the host as the container sees it.
    HostGateway,
}

/// One `--add-host` value, `NAME[;NAME...]:IP` (IP may be `host-gateway`):
/// its names and address, or why it is not one.
pub fn parse_host_entry(entry: &str) -> std::result::Result<(Vec<String>, HostAddress), &'static str> {
    let (names, ip) = entry.split_once(':').ok_or("the form is NAME:IP")?;
    if names.is_empty() {
        return Err("the host name is empty");
    }
    let names: Vec<String> = names.split(';').map(str::to_string).collect();
    if names.iter().any(|n| n.is_empty() || n.chars().any(|c| c.is_whitespace() || c == '#' || c == '\0')) {
        return Err("a host name is empty or holds a space or #");
    }
    let ip = match ip {
        "" => return Err("the IP address is empty"),
        "host-gateway" => HostAddress::HostGateway,
        ip => HostAddress::Ip(ip.parse().map_err(|_| "not an IP address")?),
    };
    Ok((names, ip))
}

/// What CreateNetwork asks for: the same keys on D-Bus (`a{sv}`), in the C
/// call and in berthctl's flags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkCreateOptions {
    /// CIDR; None: the first free /24 of 10.89.0.0 - 10.255.255.0.
    pub subnet: Option<String>,
    /// None: the subnet's first address (none for an internal network without DNS).
    pub gateway: Option<String>,
    /// No route out, no published ports.
    pub internal: bool,
    /// Containers resolve each other by name (default true, as podman).
    pub dns: bool,
    pub labels: BTreeMap<String, String>,
}

impl Default for NetworkCreateOptions {
    fn default() -> Self {
        NetworkCreateOptions { subnet: None, gateway: None, internal: false, dns: true, labels: BTreeMap::new() }
    }
}

/// The keys of CreateNetwork's options, with their types.
const CREATE_KEYS: [(&str, Sig); 5] =
    [("Subnet", Sig::Str), ("Gateway", Sig::Str), ("Internal", Sig::Bool), ("DNS", Sig::Bool), ("Labels", Sig::StrMap)];

impl NetworkCreateOptions {
    pub fn to_options(&self) -> BTreeMap<String, OptionValue> {
        let mut m = BTreeMap::new();
        if let Some(s) = &self.subnet {
            m.insert("Subnet".to_string(), OptionValue::Str(s.clone()));
        }
        if let Some(g) = &self.gateway {
            m.insert("Gateway".to_string(), OptionValue::Str(g.clone()));
        }
        m.insert("Internal".to_string(), OptionValue::Bool(self.internal));
        m.insert("DNS".to_string(), OptionValue::Bool(self.dns));
        if !self.labels.is_empty() {
            m.insert("Labels".to_string(), OptionValue::StrMap(self.labels.clone()));
        }
        m
    }

    pub fn from_options(options: &BTreeMap<String, OptionValue>) -> Result<Self> {
        let mut o = NetworkCreateOptions::default();
        for (key, v) in options {
            let Some((_, sig)) = CREATE_KEYS.iter().find(|(k, _)| k == key) else {
                let known: Vec<&str> = CREATE_KEYS.iter().map(|(k, _)| *k).collect();
                return Err(Error::invalid(key, format!("unknown option (known: {})", known.join(", "))));
            };
            if v.sig() != *sig {
                return Err(Error::invalid(key, format!("wrong type: expected '{}', got '{}'", sig.as_str(), v.signature())));
            }
            match (key.as_str(), v) {
                ("Subnet", OptionValue::Str(s)) => o.subnet = Some(s.clone()),
                ("Gateway", OptionValue::Str(s)) => o.gateway = Some(s.clone()),
                ("Internal", OptionValue::Bool(b)) => o.internal = *b,
                ("DNS", OptionValue::Bool(b)) => o.dns = *b,
                ("Labels", OptionValue::StrMap(m)) => o.labels = m.clone(),
                _ => unreachable!("types checked above"),
            }
        }
        if o.gateway.is_some() && o.subnet.is_none() {
            return Err(Error::invalid("Gateway", "needs a Subnet"));
        }
        Ok(o)
    }
}

/// A network as berthd describes it (`berthctl network inspect`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkInfo {
    pub name: String,
    /// 64 hex digits.
    pub id: String,
    pub driver: String,
    /// The bridge interface on the host.
    pub interface: String,
    /// RFC 3339.
    pub created: String,
    pub subnets: Vec<SubnetInfo>,
    #[serde(rename = "IPv6Enabled")]
    pub ipv6_enabled: bool,
    /// No route out, no published ports.
    pub internal: bool,
    /// Containers resolve each other by name (aardvark-dns).
    #[serde(rename = "DNSEnabled")]
    pub dns_enabled: bool,
    pub labels: BTreeMap<String, String>,
    pub options: BTreeMap<String, String>,
    /// The containers whose spec names it.
    pub containers: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SubnetInfo {
    /// CIDR, e.g. `10.89.0.0/24`.
    pub subnet: String,
    pub gateway: Option<IpAddr>,
}

/// How a running container is attached to one network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AttachmentInfo {
    pub network_id: String,
    /// The interface inside the container (eth0, ...).
    pub interface: String,
    pub mac_address: String,
    /// Its addresses with the prefix length of their subnet, `10.89.0.2/24`.
    pub addresses: Vec<String>,
    pub gateway: Option<IpAddr>,
    /// Its DNS names on this network besides its own name.
    pub aliases: Vec<String>,
}

/// The published ports of a container, as `podman port` prints them.
pub fn port_lines(ports: &[PortMapping]) -> Vec<String> {
    super::ports::port_lines(ports)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes() {
        assert_eq!(Network::parse("none").unwrap(), Network::None);
        assert_eq!(Network::parse("host").unwrap(), Network::Host);
        assert_eq!(Network::parse("bridge").unwrap(), Network::Bridge(vec!["berth".into()]));
        assert_eq!(Network::parse("").unwrap(), Network::default());
        assert_eq!(Network::parse("a,bridge").unwrap(), Network::Bridge(vec!["a".into(), "berth".into()]));
        for bad in ["a,a", "a,none", "host,a", "a/b", "-a", "a,,b"] {
            let e = Network::parse(bad).unwrap_err();
            assert_eq!(e.key(), Some("Network"), "{bad}");
        }
        assert_eq!(Network::parse("a,b").unwrap().to_option(), "a,b");
    }

    #[test]
    fn old_records_read() {
        assert_eq!(serde_json::from_str::<Network>("\"none\"").unwrap(), Network::None);
        assert_eq!(serde_json::from_str::<Network>("\"host\"").unwrap(), Network::Host);
        let b = serde_json::to_string(&Network::default()).unwrap();
        assert_eq!(b, r#"{"bridge":["berth"]}"#);
        assert_eq!(serde_json::from_str::<Network>(&b).unwrap(), Network::default());
    }

    #[test]
    fn create_options_round_trip() {
        let o = NetworkCreateOptions {
            subnet: Some("10.90.0.0/24".into()),
            gateway: Some("10.90.0.254".into()),
            internal: true,
            dns: false,
            labels: [("a".to_string(), "b".to_string())].into(),
        };
        assert_eq!(NetworkCreateOptions::from_options(&o.to_options()).unwrap(), o);
        let bad: BTreeMap<String, OptionValue> = [("Gateway".to_string(), OptionValue::Str("10.0.0.1".into()))].into();
        assert_eq!(NetworkCreateOptions::from_options(&bad).unwrap_err().key(), Some("Gateway"));
        let bad: BTreeMap<String, OptionValue> = [("Mtu".to_string(), OptionValue::U32(1))].into();
        assert_eq!(NetworkCreateOptions::from_options(&bad).unwrap_err().key(), Some("Mtu"));
        let bad: BTreeMap<String, OptionValue> = [("DNS".to_string(), OptionValue::Str("yes".into()))].into();
        assert_eq!(NetworkCreateOptions::from_options(&bad).unwrap_err().key(), Some("DNS"));
    }

    #[test]
    fn host_entries() {
        assert_eq!(
            parse_host_entry("db;db.local:10.0.0.9").unwrap(),
            (vec!["db".to_string(), "db.local".to_string()], HostAddress::Ip("10.0.0.9".parse().unwrap()))
        );
        assert_eq!(parse_host_entry("gw:host-gateway").unwrap().1, HostAddress::HostGateway);
        assert_eq!(parse_host_entry("v6:fd00::7").unwrap().1, HostAddress::Ip("fd00::7".parse().unwrap()));
        for bad in ["nocolon", ":1.2.3.4", "a:", "a:notanip", "a b:1.2.3.4", "a;;b:1.2.3.4"] {
            assert!(parse_host_entry(bad).is_err(), "{bad}");
        }
    }
}
