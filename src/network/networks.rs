//! The network store: definitions and leases under the config directory,
//! namespaces and per-container files under the run directory.

use super::config::{self, check_bridge_name, check_name, check_options, Network, NetworkCreate, DEFAULT_NETWORK};
use super::error::{NetworkError, Result};
use super::files::{self, ContainerFiles};
use super::ipam::Leases;
use super::lock::FileLock;
use super::netavark::Netavark;
use super::netns;
use super::subnet::{self, overlaps};
use crate::fsutil::{atomic_write, remove_durably};
use ipnet::IpNet;
use std::collections::BTreeMap;
use std::fs;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// berth's networks. Cheap to clone; every call takes the locks it needs,
/// so several handles (threads, processes) may work at once.
#[derive(Debug, Clone)]
pub struct Networks {
    config_dir: PathBuf,
    run_dir: PathBuf,
    netavark: Netavark,
    /// The host's subnets as seen now; replaced in tests.
    host_subnets: fn() -> Vec<IpNet>,
}

impl Networks {
    /// Open the store (creating its directories) and make sure the default
    /// network exists.
    pub fn open(config_dir: impl Into<PathBuf>, run_dir: impl Into<PathBuf>) -> Result<Self> {
        let (config_dir, run_dir) = (config_dir.into(), run_dir.into());
        for d in [config_dir.join("ipam"), run_dir.join("containers")] {
            fs::create_dir_all(&d).map_err(NetworkError::io("create", &d))?;
        }
        let netavark = Netavark::find(run_dir.join("aardvark"));
        let n = Networks { config_dir, run_dir, netavark, host_subnets: subnet::host_subnets };
        n.ensure_default()?;
        Ok(n)
    }

    /// Use these netavark and aardvark-dns binaries instead of podman's.
    pub fn with_binaries(mut self, netavark: impl Into<PathBuf>, aardvark: impl Into<PathBuf>) -> Self {
        self.netavark.binary = netavark.into();
        self.netavark.aardvark_binary = aardvark.into();
        self
    }

    pub fn config_dir(&self) -> &Path {
        &self.config_dir
    }

    pub fn run_dir(&self) -> &Path {
        &self.run_dir
    }

    pub fn netavark(&self) -> &Netavark {
        &self.netavark
    }

    /// Serialises changes to definitions and leases.
    pub(crate) fn lock(&self) -> Result<FileLock> {
        FileLock::exclusive(&self.config_dir.join(".lock"))
    }

    fn network_path(&self, name: &str) -> PathBuf {
        self.config_dir.join(format!("{name}.json"))
    }

    fn leases_path(&self, name: &str) -> PathBuf {
        self.config_dir.join("ipam").join(format!("{name}.json"))
    }

    /// Create the default network `berth` if it is missing; return it.
    pub fn ensure_default(&self) -> Result<Network> {
        let path = self.network_path(DEFAULT_NETWORK);
        if let Some(n) = read_network(&path)? {
            return Ok(n);
        }
        let _lock = self.lock()?;
        if let Some(n) = read_network(&path)? {
            return Ok(n);
        }
        let n = config::default_network();
        write_network(&path, &n)?;
        Ok(n)
    }

    /// Every network, by name.
    pub fn list(&self) -> Result<Vec<Network>> {
        let mut out = Vec::new();
        let dir = &self.config_dir;
        for entry in fs::read_dir(dir).map_err(NetworkError::io("read", dir))? {
            let path = entry.map_err(NetworkError::io("read", dir))?.path();
            let is_network = path.extension().is_some_and(|x| x == "json")
                && !path.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.'));
            if let Some(n) = is_network.then(|| read_network(&path)).transpose()?.flatten() {
                out.push(n);
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// A network by name, by id, or by a prefix of its id that only it has.
    pub fn inspect(&self, name_or_id: &str) -> Result<Network> {
        let missing = || NetworkError::NoSuchNetwork { name: name_or_id.to_string() };
        if check_name(name_or_id).is_ok() {
            if let Some(n) = read_network(&self.network_path(name_or_id))? {
                return Ok(n);
            }
        }
        if name_or_id.is_empty() {
            return Err(missing());
        }
        let mut found: Vec<Network> = self.list()?.into_iter().filter(|n| n.id.starts_with(name_or_id)).collect();
        match found.len() {
            1 => Ok(found.remove(0)),
            _ => Err(missing()),
        }
    }

    /// Create a bridge network (`podman network create`). Its subnet is
    /// the one asked for, or the first free one of the pool; either must
    /// overlap no other network and no route or address of the host.
    pub fn create(&self, req: &NetworkCreate) -> Result<Network> {
        check_name(&req.name)?;
        check_options(&req.options)?;
        if let Some(b) = &req.bridge {
            check_bridge_name(b)?;
        }
        let mut wanted = Vec::new();
        for s in &req.subnets {
            let net = subnet::parse_subnet(&s.subnet)?;
            let gateway = s.gateway.as_deref().map(subnet::parse_addr).transpose()?;
            if let Some((other, _)) = wanted.iter().find(|(o, _)| overlaps(o, &net)) {
                return Err(NetworkError::SubnetOverlap {
                    subnet: net,
                    other: format!("subnet {other} of the same request"),
                });
            }
            wanted.push((net, gateway));
        }

        let _lock = self.lock()?;
        let existing = self.list()?;
        if existing.iter().any(|n| n.name == req.name) {
            return Err(NetworkError::NetworkExists { name: req.name.clone() });
        }
        let host = (self.host_subnets)();
        for (net, _) in &wanted {
            if let Some(n) = existing.iter().find(|n| n.subnets.iter().any(|s| overlaps(&s.subnet, net))) {
                return Err(NetworkError::SubnetOverlap { subnet: *net, other: format!("network {}", n.name) });
            }
            if let Some(h) = host.iter().find(|h| overlaps(h, net)) {
                return Err(NetworkError::SubnetOverlap {
                    subnet: *net,
                    other: format!("the host's route or address {h}"),
                });
            }
        }
        if wanted.is_empty() {
            let mut used: Vec<IpNet> = existing.iter().flat_map(|n| n.subnets.iter().map(|s| s.subnet)).collect();
            used.extend(host);
            wanted.push((subnet::free_subnet(&used).ok_or(NetworkError::NoFreeSubnet)?, None));
        }
        let bridge = match &req.bridge {
            Some(b) => {
                if let Some(n) = existing.iter().find(|n| n.bridge() == b) {
                    return Err(NetworkError::BridgeNameInUse { name: b.clone(), network: n.name.clone() });
                }
                b.clone()
            }
            None => free_bridge_name(&existing)?,
        };
        let mut id = config::random_id()?;
        while existing.iter().any(|n| n.id == id) {
            id = config::random_id()?;
        }
        let network = config::build(req, id, bridge, wanted)?;
        write_network(&self.network_path(&network.name), &network)?;
        Ok(network)
    }

    /// Remove a network. `users` names the containers that use it; while
    /// it names any, the network stays. The default network always stays.
    /// `users` runs under the store's lock: it may read ([`leases`](Self::leases),
    /// [`inspect`](Self::inspect)) but not change the store.
    pub fn remove(&self, name_or_id: &str, users: impl FnOnce(&Network) -> Vec<String>) -> Result<Network> {
        let _lock = self.lock()?;
        let network = self.inspect(name_or_id)?;
        if network.name == DEFAULT_NETWORK {
            return Err(NetworkError::DefaultNetworkRemoval { name: network.name });
        }
        let containers = users(&network);
        if !containers.is_empty() {
            return Err(NetworkError::NetworkInUse { name: network.name, containers });
        }
        let path = self.network_path(&network.name);
        remove_durably(&path).map_err(NetworkError::io("remove", &path))?;
        let leases = self.leases_path(&network.name);
        remove_durably(&leases).map_err(NetworkError::io("remove", &leases))?;
        Ok(network)
    }

    /// The leases of a network: which container holds which address.
    pub fn leases(&self, network: &str) -> Result<Leases> {
        self.inspect(network)?;
        Leases::read(&self.leases_path(network))
    }

    /// Give `container_id` its addresses on `network` (one per subnet): the
    /// requested ones, else those it holds already, else free ones.
    pub fn allocate(&self, network: &str, container_id: &str, requested: &[IpAddr]) -> Result<Vec<IpAddr>> {
        let mut all = self.allocate_all(container_id, &[(network.to_string(), requested.to_vec())])?;
        Ok(all.remove(network).unwrap_or_default())
    }

    /// [`allocate`](Self::allocate) on several networks at once: all or none.
    pub(crate) fn allocate_all(
        &self,
        container_id: &str,
        wanted: &[(String, Vec<IpAddr>)],
    ) -> Result<BTreeMap<String, Vec<IpAddr>>> {
        check_container_id(container_id)?;
        let _lock = self.lock()?;
        let mut changed = Vec::new();
        let mut out = BTreeMap::new();
        for (name, requested) in wanted {
            let network = self.inspect(name)?;
            let path = self.leases_path(&network.name);
            let mut leases = Leases::read(&path)?;
            let before = leases.clone();
            out.insert(network.name.clone(), leases.allocate(&network, container_id, requested)?);
            // A restart keeps its addresses: no write (and no fsync) then.
            if leases != before {
                changed.push((path, leases));
            }
        }
        for (path, leases) in changed {
            leases.write(&path)?;
        }
        Ok(out)
    }

    /// Forget everything berth keeps for a removed container: its
    /// addresses on every network and its hosts and resolv.conf files.
    pub fn release(&self, container_id: &str) -> Result<()> {
        check_container_id(container_id)?;
        let _lock = self.lock()?;
        let dir = self.config_dir.join("ipam");
        for entry in fs::read_dir(&dir).map_err(NetworkError::io("read", &dir))? {
            let path = entry.map_err(NetworkError::io("read", &dir))?.path();
            if path.extension().is_some_and(|x| x == "json") {
                let mut leases = Leases::read(&path)?;
                if leases.release(container_id) {
                    leases.write(&path)?;
                }
            }
        }
        let files = self.container_files_dir(container_id);
        match fs::remove_dir_all(&files) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(NetworkError::io("remove", files)(e)),
            _ => Ok(()),
        }
    }

    /// Where a container's network namespace lives.
    pub fn netns_path(&self, container_id: &str) -> PathBuf {
        netns_path(&self.run_dir, container_id)
    }

    /// Create the container's network namespace (empty but for `lo`).
    pub fn create_netns(&self, container_id: &str) -> Result<PathBuf> {
        check_container_id(container_id)?;
        netns::create(&netns_dir(&self.run_dir), container_id)
    }

    /// Remove the container's network namespace; idempotent.
    pub fn remove_netns(&self, container_id: &str) -> Result<()> {
        check_container_id(container_id)?;
        netns::remove(&self.netns_path(container_id))
    }

    /// The directory of a container's hosts and resolv.conf files.
    pub fn container_files_dir(&self, container_id: &str) -> PathBuf {
        container_files_dir(&self.run_dir, container_id)
    }

    /// Write a container's hosts and resolv.conf (see [`files::hosts_file`]
    /// and [`files::resolv_conf`]) into its files directory.
    pub fn write_container_files(&self, container_id: &str, hosts: &str, resolv: &str) -> Result<ContainerFiles> {
        check_container_id(container_id)?;
        files::write_container_files(&self.container_files_dir(container_id), hosts, resolv)
    }
}

pub(crate) fn netns_dir(run_dir: &Path) -> PathBuf {
    run_dir.join("netns")
}

/// A container's network namespace under a store's run directory.
pub fn netns_path(run_dir: &Path, container_id: &str) -> PathBuf {
    netns_dir(run_dir).join(container_id)
}

/// A container's hosts and resolv.conf under a store's run directory.
pub fn container_files_dir(run_dir: &Path, container_id: &str) -> PathBuf {
    run_dir.join("files").join(container_id)
}

/// A container id: 64 lowercase hex digits (it names files).
pub fn check_container_id(id: &str) -> Result<()> {
    if id.len() == 64 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        Ok(())
    } else {
        Err(NetworkError::InvalidContainerId { id: id.to_string() })
    }
}

fn read_network(path: &Path) -> Result<Option<Network>> {
    match fs::read(path) {
        Ok(data) => serde_json::from_slice(&data)
            .map(Some)
            .map_err(|source| NetworkError::Corrupt { path: path.into(), source }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(NetworkError::io("read", path)(e)),
    }
}

fn write_network(path: &Path, n: &Network) -> Result<()> {
    let json = serde_json::to_vec_pretty(n).map_err(|source| NetworkError::Corrupt { path: path.into(), source })?;
    atomic_write(path, &json).map_err(NetworkError::io("write", path))
}

/// The first `berthN` (N >= 1) that neither a network nor a live interface uses.
fn free_bridge_name(existing: &[Network]) -> Result<String> {
    let live: Vec<String> = fs::read_dir("/sys/class/net")
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    (1..100_000)
        .map(|i| format!("{}{i}", config::BRIDGE_PREFIX))
        .find(|b| !existing.iter().any(|n| n.bridge() == b || n.name == *b) && !live.contains(b))
        .ok_or(NetworkError::NoFreeBridgeName)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A store on a host whose only route is 10.99.128.0/17.
    fn open() -> (tempfile::TempDir, Networks) {
        let d = tempfile::tempdir().unwrap();
        let mut n = Networks::open(d.path().join("config"), d.path().join("run")).unwrap();
        n.host_subnets = || vec!["10.99.128.0/17".parse().unwrap()];
        (d, n)
    }

    fn id(n: u32) -> String {
        format!("{n:064x}")
    }

    fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
        let mut out = BTreeMap::new();
        for e in walk(dir) {
            if e.is_file() && !e.ends_with(".lock") {
                out.insert(e.clone(), fs::read(&e).unwrap());
            }
        }
        out
    }

    fn walk(dir: &Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for e in fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
        out
    }

    #[test]
    fn default_network_exists_and_stays() {
        let (_d, n) = open();
        let all = n.list().unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].name, "berth");
        let again = Networks::open(n.config_dir(), n.run_dir()).unwrap();
        assert_eq!(again.inspect("berth").unwrap(), all[0], "a second open keeps the stored default");
        let e = n.remove("berth", |_| vec![]).unwrap_err();
        assert!(matches!(e, NetworkError::DefaultNetworkRemoval { .. }), "{e}");
    }

    #[test]
    fn create_picks_a_free_subnet_and_bridge() {
        let (_d, n) = open();
        let host = (n.host_subnets)();
        let a = n.create(&NetworkCreate::new("a")).unwrap();
        let b = n.create(&NetworkCreate::new("b")).unwrap();
        assert_eq!((a.bridge(), b.bridge()), ("berth1", "berth2"));
        assert!(a.dns_enabled && !a.internal);
        for net in [&a, &b] {
            let s = net.subnets[0].subnet;
            assert!(!overlaps(&s, &"10.89.0.0/24".parse().unwrap()));
            assert!(!host.iter().any(|h| overlaps(h, &s)), "{s} overlaps the host");
            assert_eq!(net.subnets[0].gateway, Some(subnet::first_host(&s)));
        }
        assert!(!overlaps(&a.subnets[0].subnet, &b.subnets[0].subnet));
        assert_eq!(n.inspect("a").unwrap(), a);
        assert_eq!(n.inspect(&a.id[..12]).unwrap(), a);
        assert_eq!(n.list().unwrap().iter().map(|x| x.name.as_str()).collect::<Vec<_>>(), ["a", "b", "berth"]);
        // The stored file is netavark's JSON.
        let v: serde_json::Value = serde_json::from_slice(&fs::read(n.config_dir().join("a.json")).unwrap()).unwrap();
        assert_eq!(v["network_interface"], "berth1");
        assert_eq!(v["driver"], "bridge");
    }

    #[test]
    fn create_with_given_subnet_and_labels() {
        let (_d, n) = open();
        let mut req = NetworkCreate::new("lab").subnet("10.99.7.0/24", Some("10.99.7.254"));
        req.internal = true;
        req.labels.insert("team".into(), "x".into());
        req.bridge = Some("labbr".into());
        let net = n.create(&req).unwrap();
        assert_eq!(net.subnets[0].gateway, Some("10.99.7.254".parse().unwrap()));
        assert_eq!(net.bridge(), "labbr");
        assert!(net.internal && net.dns_enabled);
        assert_eq!(net.labels["team"], "x");
    }

    #[test]
    fn bad_input_is_named_and_changes_nothing() {
        let (_d, n) = open();
        n.create(&NetworkCreate::new("a").subnet("10.99.1.0/24", None)).unwrap();
        let before = snapshot(n.config_dir());
        let check = |req: NetworkCreate, ok: fn(&NetworkError) -> bool| {
            let e = n.create(&req).unwrap_err();
            assert!(ok(&e), "{e}");
            assert!(e.is_invalid_input() || matches!(e, NetworkError::NetworkExists { .. }), "{e}");
        };
        check(NetworkCreate::new("a"), |e| matches!(e, NetworkError::NetworkExists { .. }));
        check(
            NetworkCreate::new("b").subnet("10.99.0.0/16", None),
            |e| matches!(e, NetworkError::SubnetOverlap { other, .. } if other == "network a"),
        );
        check(
            NetworkCreate::new("b").subnet("10.89.0.128/25", None),
            |e| matches!(e, NetworkError::SubnetOverlap { other, .. } if other == "network berth"),
        );
        check(
            NetworkCreate::new("b").subnet("10.99.200.0/24", None),
            |e| matches!(e, NetworkError::SubnetOverlap { other, .. } if other == "the host's route or address 10.99.128.0/17"),
        );
        check(NetworkCreate::new("b").subnet("10.98.0.0/24", None).subnet("10.98.0.0/25", None), |e| {
            matches!(e, NetworkError::SubnetOverlap { .. })
        });
        check(NetworkCreate::new("b").subnet("10.98.0.0/24", Some("10.97.0.1")), |e| {
            matches!(e, NetworkError::GatewayOutsideSubnet { .. })
        });
        check(NetworkCreate::new("b").subnet("10.98.0.0/24", Some("nope")), |e| {
            matches!(e, NetworkError::InvalidAddress { .. })
        });
        check(NetworkCreate::new("b").subnet("10.98.0.0/240", None), |e| {
            matches!(e, NetworkError::InvalidSubnet { .. })
        });
        check(NetworkCreate::new("b").subnet("banana", None), |e| matches!(e, NetworkError::InvalidSubnet { .. }));
        check(NetworkCreate::new("b/c"), |e| matches!(e, NetworkError::InvalidName { .. }));
        check(NetworkCreate { bridge: Some("berth1".into()), ..NetworkCreate::new("b") }, |e| {
            matches!(e, NetworkError::BridgeNameInUse { .. })
        });
        check(NetworkCreate { bridge: Some("much-too-long-name".into()), ..NetworkCreate::new("b") }, |e| {
            matches!(e, NetworkError::InvalidBridgeName { .. })
        });
        let mut bad_opt = NetworkCreate::new("b");
        bad_opt.options.insert("vlan".into(), "3".into());
        check(bad_opt, |e| matches!(e, NetworkError::InvalidOption { .. }));
        assert!(matches!(n.inspect("zzz"), Err(NetworkError::NoSuchNetwork { .. })));
        assert!(matches!(n.remove("zzz", |_| vec![]), Err(NetworkError::NoSuchNetwork { .. })));
        assert!(matches!(n.allocate("zzz", &id(1), &[]), Err(NetworkError::NoSuchNetwork { .. })));
        assert_eq!(snapshot(n.config_dir()), before, "stored JSON unchanged");
    }

    #[test]
    fn remove_asks_who_uses_the_network() {
        let (_d, n) = open();
        n.create(&NetworkCreate::new("a")).unwrap();
        n.allocate("a", &id(1), &[]).unwrap();
        let before = snapshot(n.config_dir());
        let e = n.remove("a", |net| vec![format!("web-on-{}", net.name)]).unwrap_err();
        assert_eq!(e.to_string(), "network a is in use by container(s) web-on-a");
        assert_eq!(snapshot(n.config_dir()), before);
        n.remove("a", |_| vec![]).unwrap();
        assert!(matches!(n.inspect("a"), Err(NetworkError::NoSuchNetwork { .. })));
        assert!(!n.config_dir().join("ipam/a.json").exists());
    }

    #[test]
    fn allocations_persist_until_release() {
        let (_d, n) = open();
        let a = n.allocate("berth", &id(1), &[]).unwrap();
        assert_eq!(a, vec!["10.89.0.2".parse::<IpAddr>().unwrap()]);
        let reopened = Networks::open(n.config_dir(), n.run_dir()).unwrap();
        assert_eq!(reopened.allocate("berth", &id(1), &[]).unwrap(), a, "same address after a restart");
        let b = reopened.allocate("berth", &id(2), &["10.89.0.50".parse().unwrap()]).unwrap();
        assert_eq!(b, vec!["10.89.0.50".parse::<IpAddr>().unwrap()]);
        let e = n.allocate("berth", &id(3), &["10.89.0.50".parse().unwrap()]).unwrap_err();
        assert!(matches!(e, NetworkError::AddressInUse { .. }), "{e}");
        n.release(&id(2)).unwrap();
        n.release(&id(2)).unwrap();
        n.allocate("berth", &id(3), &["10.89.0.50".parse().unwrap()]).unwrap();
        assert!(matches!(n.allocate("berth", "bad", &[]), Err(NetworkError::InvalidContainerId { .. })));
    }

    #[test]
    fn fifty_threads_get_fifty_addresses() {
        let (_d, n) = open();
        let threads: Vec<_> = (0..50)
            .map(|i| {
                // Each thread opens the store itself, as separate processes would.
                let (cfg, run) = (n.config_dir().to_path_buf(), n.run_dir().to_path_buf());
                std::thread::spawn(move || Networks::open(cfg, run).unwrap().allocate("berth", &id(i), &[]).unwrap())
            })
            .collect();
        let mut all: Vec<IpAddr> = threads.into_iter().flat_map(|t| t.join().unwrap()).collect();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 50);
        assert_eq!(n.leases("berth").unwrap().containers.len(), 50);
    }

    #[test]
    fn corrupt_definition_is_reported() {
        let (_d, n) = open();
        fs::write(n.config_dir().join("x.json"), b"{\"name\":").unwrap();
        let e = n.list().unwrap_err();
        assert!(e.to_string().contains("x.json"), "{e}");
    }
}
