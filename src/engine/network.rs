//! Networks in the engine: the checks a container's network keys get at
//! create, networks as objects (create, list, inspect, remove), and what
//! inspect shows of a running container's network. The setup itself is the
//! container unit's (see `runtime::monitor::network`).

use super::{blocking, Engine};
use crate::model::{
    AttachmentInfo, ContainerSpec, Error, NetworkCreateOptions, NetworkInfo, PortMapping, Result, SubnetInfo,
};
use crate::network::{assign_host_ports, find_conflict, Network, NetworkCreate, NetworkError, Networks};
use crate::store::Record;
use std::collections::BTreeMap;

/// A network layer error as the API reports it; `key` is the option the
/// caller's input came in.
pub(crate) fn net_error(e: NetworkError, key: &str) -> Error {
    match e {
        NetworkError::NoSuchNetwork { name } => Error::NoSuchNetwork { name },
        NetworkError::NetworkExists { name } => Error::NetworkExists { name },
        NetworkError::NetworkInUse { name, containers } => Error::NetworkInUse { name, containers },
        e if e.is_invalid_input() => Error::invalid(key, e.to_string()),
        NetworkError::DefaultNetworkRemoval { .. } => Error::invalid(key, e.to_string()),
        e => Error::Network { action: "change the networks", message: e.to_string() },
    }
}

fn info(n: &Network, containers: Vec<String>) -> NetworkInfo {
    NetworkInfo {
        name: n.name.clone(),
        id: n.id.clone(),
        driver: n.driver.clone(),
        interface: n.bridge().to_string(),
        created: n.created.clone(),
        subnets: n.subnets.iter().map(|s| SubnetInfo { subnet: s.subnet.to_string(), gateway: s.gateway }).collect(),
        ipv6_enabled: n.ipv6_enabled,
        internal: n.internal,
        dns_enabled: n.dns_enabled,
        labels: n.labels.clone(),
        options: n.options.clone(),
        containers,
    }
}

impl Engine {
    pub(crate) fn networks(&self) -> &Networks {
        &self.inner.networks
    }

    /// The containers whose spec names network `name`.
    fn network_users(&self, name: &str) -> Vec<String> {
        self.list().into_iter().filter(|r| r.spec.network.networks().iter().any(|n| n == name)).map(|r| r.name.to_string()).collect()
    }

    /// The checks of a new container's network keys against the networks
    /// and the other containers; host ports left open are chosen here.
    pub(crate) async fn check_network(&self, mut spec: ContainerSpec) -> Result<ContainerSpec> {
        if !spec.network.is_bridge() {
            return Ok(spec);
        }
        let others = self.list();
        let networks = self.networks().clone();
        blocking(move || {
            let mut joined = Vec::new();
            for name in spec.network.networks() {
                let n = networks.inspect(name).map_err(|e| match e {
                    NetworkError::NoSuchNetwork { .. } => Error::invalid("Network", format!("no such network: {name}")),
                    e => net_error(e, "Network"),
                })?;
                if n.internal && !spec.ports.is_empty() {
                    return Err(Error::invalid("Ports", format!("network {name} is internal: it publishes no ports")));
                }
                joined.push(n);
            }
            if let (Some(ip), [n]) = (spec.ip, joined.as_slice()) {
                let bad = |m: String| Err(Error::invalid("IP", m));
                match n.subnet_of(ip) {
                    None => return bad(format!("{ip} is not in a subnet of network {}", n.name)),
                    Some(_) if n.is_gateway(ip) => return bad(format!("{ip} is the gateway of network {}", n.name)),
                    Some(_) => {}
                }
                let leases = networks.leases(&n.name).map_err(|e| net_error(e, "IP"))?;
                let held_by = leases.holder(ip).and_then(|id| others.iter().find(|r| r.id == id));
                let asked_by = others.iter().find(|r| r.spec.ip == Some(ip) && r.spec.network.networks().contains(&n.name));
                if let Some(r) = held_by.or(asked_by) {
                    return bad(format!("{ip} on network {} is already used by container {}", n.name, r.name));
                }
            }
            let taken: Vec<PortMapping> = others.iter().flat_map(|r| r.spec.ports.iter().cloned()).collect();
            for r in &others {
                if let Some((mine, theirs)) = find_conflict(&spec.ports, &r.spec.ports) {
                    return Err(Error::PortInUse { mapping: format!("{mine} ({theirs})"), container: r.name.to_string() });
                }
            }
            assign_host_ports(&mut spec.ports, &taken).map_err(|e| net_error(e, "Ports"))?;
            Ok(spec)
        })
        .await
    }

    /// CreateNetwork: a bridge network stored as netavark's JSON.
    pub async fn create_network(&self, name: &str, o: &NetworkCreateOptions) -> Result<NetworkInfo> {
        let mut req = NetworkCreate::new(name);
        if let Some(subnet) = &o.subnet {
            req = req.subnet(subnet, o.gateway.as_deref());
        }
        req.internal = o.internal;
        req.dns_enabled = o.dns;
        req.labels = o.labels.clone();
        let networks = self.networks().clone();
        let key = if o.subnet.is_some() { "Subnet" } else { "name" };
        let n = blocking(move || networks.create(&req)).await.map_err(|e| match e {
            e @ NetworkError::GatewayOutsideSubnet { .. } => net_error(e, "Gateway"),
            e @ NetworkError::InvalidName { .. } => net_error(e, "name"),
            e => net_error(e, key),
        })?;
        tracing::info!(network = %n.name, "network created");
        Ok(info(&n, Vec::new()))
    }

    /// Every network, by name.
    pub async fn list_networks(&self) -> Result<Vec<NetworkInfo>> {
        let networks = self.networks().clone();
        let all = blocking(move || networks.list()).await.map_err(|e| net_error(e, "name"))?;
        Ok(all.iter().map(|n| info(n, self.network_users(&n.name))).collect())
    }

    /// A network by name or id (prefix).
    pub async fn inspect_network(&self, name: &str) -> Result<NetworkInfo> {
        let (networks, q) = (self.networks().clone(), name.to_string());
        let n = blocking(move || networks.inspect(&q)).await.map_err(|e| net_error(e, "name"))?;
        Ok(info(&n, self.network_users(&n.name)))
    }

    /// RemoveNetwork: refused while a container's spec names it.
    pub async fn remove_network(&self, name: &str) -> Result<()> {
        let (networks, q, engine) = (self.networks().clone(), name.to_string(), self.clone());
        let n = blocking(move || networks.remove(&q, |n| engine.network_users(&n.name))).await.map_err(|e| net_error(e, "name"))?;
        tracing::info!(network = %n.name, "network removed");
        Ok(())
    }

    /// What inspect shows of a running container's networks and ports
    /// (from the network's state file; nothing when it does not run).
    pub(crate) fn network_status(&self, rec: &Record) -> (BTreeMap<String, AttachmentInfo>, Vec<PortMapping>) {
        if !rec.state.is_live() || !rec.spec.network.is_bridge() {
            return (BTreeMap::new(), Vec::new());
        }
        let status = match self.networks().status(&rec.id) {
            Ok(Some(s)) => s,
            Ok(None) => return (BTreeMap::new(), Vec::new()),
            Err(e) => {
                tracing::warn!(container = %rec.name, "cannot read its network status: {e}");
                return (BTreeMap::new(), Vec::new());
            }
        };
        let networks = status
            .networks
            .iter()
            .map(|(name, n)| {
                let a = AttachmentInfo {
                    network_id: n.network_id.clone(),
                    interface: n.interface.clone(),
                    mac_address: n.mac_address.clone(),
                    addresses: n.addresses.iter().map(|a| a.address.to_string()).collect(),
                    gateway: n.gateway(),
                    aliases: n.aliases.clone(),
                };
                (name.clone(), a)
            })
            .collect();
        (networks, status.ports)
    }

    /// Tear down what is set up for a container and, when `release`, give
    /// its addresses back; both may have happened already.
    pub(crate) async fn release_network(&self, rec: &Record, release: bool) -> Result<()> {
        let (networks, id) = (self.networks().clone(), rec.id.clone());
        blocking(move || {
            networks.teardown(&id)?;
            if release {
                networks.release(&id)?;
            }
            Ok(())
        })
        .await
        .map_err(|e: NetworkError| Error::Network { action: "release the container's network", message: e.to_string() })
    }
}
