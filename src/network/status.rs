//! A container's network as inspect shows it: per network its interface,
//! addresses, gateway and MAC, plus the published ports.

use super::error::{NetworkError, Result};
use super::netavark::{NetavarkOptions, StatusBlocks};
use super::ports::{port_lines, PortMapping};
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::IpAddr;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerNetworkStatus {
    /// Network name -> how the container is attached to it.
    pub networks: BTreeMap<String, NetworkStatus>,
    pub ports: Vec<PortMapping>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkStatus {
    /// The network's id.
    pub network_id: String,
    /// The interface inside the container (eth0, ...).
    pub interface: String,
    pub mac_address: String,
    pub addresses: Vec<Address>,
    pub aliases: Vec<String>,
    /// aardvark-dns's address on DNS-enabled networks.
    pub dns_servers: Vec<IpAddr>,
    pub dns_search_domains: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    /// The container's address with the prefix length of its subnet.
    pub address: IpNet,
    pub gateway: Option<IpAddr>,
}

impl NetworkStatus {
    /// The IPv4 address, else the first one (podman's `IPAddress`).
    pub fn ip(&self) -> Option<IpNet> {
        self.first(true).or_else(|| self.addresses.first()).map(|a| a.address)
    }

    pub fn gateway(&self) -> Option<IpAddr> {
        self.first(true).or_else(|| self.addresses.first()).and_then(|a| a.gateway)
    }

    /// The IPv6 address (podman's `GlobalIPv6Address`).
    pub fn ipv6(&self) -> Option<IpNet> {
        self.first(false).map(|a| a.address)
    }

    fn first(&self, v4: bool) -> Option<&Address> {
        self.addresses.iter().find(|a| matches!(a.address, IpNet::V4(_)) == v4)
    }
}

impl ContainerNetworkStatus {
    /// Build the status from netavark's answer to `opts`; every network
    /// asked for must be in it.
    pub fn from_blocks(opts: &NetavarkOptions, blocks: &StatusBlocks) -> Result<Self> {
        let mut networks = BTreeMap::new();
        for (name, per) in &opts.networks {
            let missing = |what: &str| NetworkError::Netavark {
                command: "setup",
                message: format!("its answer has no {what} for network {name}"),
                exit_code: Some(0),
            };
            let block = blocks.get(name).ok_or_else(|| missing("status"))?;
            let iface = block
                .interfaces
                .as_ref()
                .and_then(|i| i.get(&per.interface_name))
                .ok_or_else(|| missing("interface"))?;
            networks.insert(
                name.clone(),
                NetworkStatus {
                    network_id: opts.network_info.get(name).map(|n| n.id.clone()).unwrap_or_default(),
                    interface: per.interface_name.clone(),
                    mac_address: iface.mac_address.clone(),
                    addresses: iface
                        .subnets
                        .iter()
                        .flatten()
                        .map(|a| Address { address: a.ipnet, gateway: a.gateway })
                        .collect(),
                    aliases: per.aliases.clone(),
                    dns_servers: block.dns_server_ips.clone().unwrap_or_default(),
                    dns_search_domains: block.dns_search_domains.clone().unwrap_or_default(),
                },
            );
        }
        Ok(ContainerNetworkStatus { networks, ports: opts.port_mappings.clone() })
    }

    /// Every network's DNS servers, in network order, once each.
    pub fn dns_servers(&self) -> Vec<IpAddr> {
        let mut out = Vec::new();
        for a in self.networks.values().flat_map(|n| &n.dns_servers) {
            if !out.contains(a) {
                out.push(*a);
            }
        }
        out
    }

    pub fn dns_search_domains(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for d in self.networks.values().flat_map(|n| &n.dns_search_domains) {
            if !out.contains(d) {
                out.push(d.clone());
            }
        }
        out
    }

    /// The host's address as the container sees it (the first bridge
    /// gateway, IPv4 preferred): `host.containers.internal`.
    pub fn host_address(&self) -> Option<IpAddr> {
        let gateways: Vec<IpAddr> =
            self.networks.values().flat_map(|n| n.addresses.iter().filter_map(|a| a.gateway)).collect();
        gateways.iter().copied().find(IpAddr::is_ipv4).or_else(|| gateways.first().copied())
    }

    /// Every address of the container, for its own /etc/hosts line.
    pub fn addresses(&self) -> Vec<IpAddr> {
        self.networks.values().flat_map(|n| n.addresses.iter().map(|a| a.address.addr())).collect()
    }

    /// `podman port` lines.
    pub fn port_lines(&self) -> Vec<String> {
        port_lines(&self.ports)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::netavark::PerNetworkOptions;

    #[test]
    fn from_netavark_answer() {
        let opts = NetavarkOptions {
            container_id: "c".into(),
            container_name: "web".into(),
            port_mappings: crate::network::ports::parse_ports(&["8080:80"]).unwrap(),
            networks: [(
                "t1".to_string(),
                PerNetworkOptions {
                    static_ips: vec![],
                    aliases: vec!["www".into()],
                    interface_name: "eth0".into(),
                    static_mac: None,
                },
            )]
            .into(),
            network_info: BTreeMap::new(),
            dns_servers: vec![],
        };
        let blocks: StatusBlocks = serde_json::from_str(r#"{"t1":{"dns_search_domains":["dns.podman"],"dns_server_ips":["10.77.0.1"],"interfaces":{"eth0":{"mac_address":"ba:49:c8:7a:d9:f4","subnets":[{"gateway":"10.77.0.1","ipnet":"10.77.0.2/24"},{"gateway":"fd00::1","ipnet":"fd00::2/64"}]}}}}"#).unwrap();
        let s = ContainerNetworkStatus::from_blocks(&opts, &blocks).unwrap();
        let n = &s.networks["t1"];
        assert_eq!(n.ip().unwrap().to_string(), "10.77.0.2/24");
        assert_eq!(n.ipv6().unwrap().to_string(), "fd00::2/64");
        assert_eq!(n.gateway(), Some("10.77.0.1".parse().unwrap()));
        assert_eq!((n.interface.as_str(), n.mac_address.as_str()), ("eth0", "ba:49:c8:7a:d9:f4"));
        assert_eq!(s.dns_servers(), vec!["10.77.0.1".parse::<IpAddr>().unwrap()]);
        assert_eq!(s.host_address(), Some("10.77.0.1".parse().unwrap()));
        assert_eq!(s.port_lines(), ["80/tcp -> 0.0.0.0:8080"]);
        let empty: StatusBlocks = BTreeMap::new();
        assert!(matches!(ContainerNetworkStatus::from_blocks(&opts, &empty), Err(NetworkError::Netavark { .. })));
    }
}
