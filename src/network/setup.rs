//! Setting a container's network up and tearing it down with netavark, and
//! the per-container state that lets anyone (berthd, or the container
//! unit's ExecStopPost while berthd is down) finish the teardown.
//!
//! Crash safety: the state file is written before netavark runs and
//! removed last, so whatever netavark may have set up is always described
//! by a state file that [`teardown_from_state`] acts on. One netavark runs
//! at a time (`netavark.lock`), as podman does.

use super::config::check_name;
use super::error::{NetworkError, Result};
use super::lock::FileLock;
use super::netavark::{Netavark, NetavarkOptions, PerNetworkOptions};
use super::netns;
use super::networks::{check_container_id, netns_dir, Networks};
use super::ports::{PortMapping, PROTOCOLS};
use super::status::ContainerNetworkStatus;
use crate::fsutil::{atomic_write, remove_durably};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// How a container joins its networks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerNetworkOptions {
    pub container_id: String,
    /// Also its name in DNS on DNS-enabled networks.
    pub container_name: String,
    /// An explicitly set hostname: one more DNS name (as podman).
    pub hostname: Option<String>,
    /// Its network namespace ([`Networks::create_netns`]).
    pub netns: PathBuf,
    /// In order: the first gets eth0, the next eth1, ...
    pub networks: Vec<Attachment>,
    /// With host ports assigned ([`super::ports::assign_host_ports`]).
    pub port_mappings: Vec<PortMapping>,
    /// `--dns`: aardvark-dns's upstream servers for this container.
    pub dns_servers: Vec<IpAddr>,
}

/// One network of a container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    pub network: String,
    /// `--ip`: wanted addresses; else it keeps the ones it holds, or gets free ones.
    pub static_ips: Vec<IpAddr>,
    /// More DNS names on this network.
    pub aliases: Vec<String>,
    pub static_mac: Option<String>,
    /// Default: eth0, eth1, ... by position.
    pub interface_name: Option<String>,
}

impl Attachment {
    pub fn new(network: &str) -> Self {
        Attachment {
            network: network.to_string(),
            static_ips: Vec::new(),
            aliases: Vec::new(),
            static_mac: None,
            interface_name: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum Phase {
    /// netavark setup may have run, in part or whole.
    SettingUp,
    Up,
    /// netavark teardown has run; only the namespace and this file remain.
    TornDown,
}

/// `<run_dir>/containers/<id>.json`: all that teardown needs.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct ContainerState {
    phase: Phase,
    netns: PathBuf,
    netavark: Netavark,
    options: NetavarkOptions,
    #[serde(default)]
    status: Option<ContainerNetworkStatus>,
}

fn state_path(run_dir: &Path, id: &str) -> PathBuf {
    run_dir.join("containers").join(format!("{id}.json"))
}

/// Where the host-wide netavark lock lives.
const NETAVARK_LOCK_DIR: &str = "/run/lock";

fn run_lock(_run_dir: &Path) -> Result<FileLock> {
    // One lock for the whole host, whatever the run directory: netavark
    // edits the host's firewall, and two at once fail (iptables-nft's
    // CHAIN_DEL "Device or resource busy"), also between two berth stores.
    std::fs::create_dir_all(NETAVARK_LOCK_DIR).map_err(|source| super::error::NetworkError::Io {
        action: "create",
        path: NETAVARK_LOCK_DIR.into(),
        source,
    })?;
    FileLock::exclusive(&Path::new(NETAVARK_LOCK_DIR).join("berth-netavark.lock"))
}

fn read_state(run_dir: &Path, id: &str) -> Result<Option<ContainerState>> {
    let path = state_path(run_dir, id);
    match std::fs::read(&path) {
        Ok(data) => serde_json::from_slice(&data).map(Some).map_err(|source| NetworkError::Corrupt { path, source }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(NetworkError::io("read", path)(e)),
    }
}

fn write_state(run_dir: &Path, id: &str, state: &ContainerState) -> Result<()> {
    let path = state_path(run_dir, id);
    let json =
        serde_json::to_vec_pretty(state).map_err(|source| NetworkError::Corrupt { path: path.clone(), source })?;
    atomic_write(&path, &json).map_err(NetworkError::io("write", path))
}

fn remove_state(run_dir: &Path, id: &str) -> Result<()> {
    let path = state_path(run_dir, id);
    remove_durably(&path).map_err(NetworkError::io("remove", path))
}

impl Networks {
    /// Set the container's network up: addresses (kept across restarts),
    /// interfaces, published ports and DNS, through `netavark setup`.
    /// Fails with `AlreadySetUp` while an earlier setup is not torn down.
    pub fn setup(&self, opts: &ContainerNetworkOptions) -> Result<ContainerNetworkStatus> {
        check_options(opts)?;
        let run_dir = self.run_dir();
        let id = opts.container_id.as_str();
        let _lock = run_lock(run_dir)?;
        if read_state(run_dir, id)?.is_some() {
            return Err(NetworkError::AlreadySetUp { container: id.to_string() });
        }
        let wanted: Vec<(String, Vec<IpAddr>)> =
            opts.networks.iter().map(|a| (a.network.clone(), a.static_ips.clone())).collect();
        let mut addresses = self.allocate_all(id, &wanted)?;
        let mut networks = BTreeMap::new();
        let mut network_info = BTreeMap::new();
        for (i, a) in opts.networks.iter().enumerate() {
            let network = self.inspect(&a.network)?;
            let per = PerNetworkOptions {
                static_ips: addresses.remove(&network.name).unwrap_or_default(),
                aliases: aliases(opts, a),
                interface_name: a.interface_name.clone().unwrap_or_else(|| format!("eth{i}")),
                static_mac: a.static_mac.clone(),
            };
            networks.insert(network.name.clone(), per);
            network_info.insert(network.name.clone(), network);
        }
        let options = NetavarkOptions {
            container_id: id.to_string(),
            container_name: opts.container_name.clone(),
            port_mappings: opts.port_mappings.clone(),
            networks,
            network_info,
            dns_servers: opts.dns_servers.clone(),
        };
        let mut state = ContainerState {
            phase: Phase::SettingUp,
            netns: opts.netns.clone(),
            netavark: self.netavark().clone(),
            options,
            status: None,
        };
        write_state(run_dir, id, &state)?;
        match bring_up(&state) {
            Ok(status) => {
                state.phase = Phase::Up;
                state.status = Some(status.clone());
                write_state(run_dir, id, &state)?;
                Ok(status)
            }
            Err(e) => {
                // netavark undoes what it did on failure; a teardown sweeps up
                // what a half-done step may have left, then nothing is up.
                if let Err(t) = state.netavark.teardown(&state.netns, &state.options) {
                    tracing::debug!(container = id, "teardown after a failed setup: {t}");
                }
                remove_state(run_dir, id)?;
                Err(e)
            }
        }
    }

    /// Tear the container's network down and remove its namespace
    /// ([`teardown_from_state`] on this store's run directory).
    pub fn teardown(&self, container_id: &str) -> Result<bool> {
        teardown_from_state(self.run_dir(), container_id)
    }

    /// Set the network up again with the same addresses and ports, in the
    /// same namespace: after a firewall reload dropped netavark's rules.
    pub fn reload(&self, container_id: &str) -> Result<ContainerNetworkStatus> {
        check_container_id(container_id)?;
        let run_dir = self.run_dir();
        let _lock = run_lock(run_dir)?;
        let not_set_up = || NetworkError::NotSetUp { container: container_id.to_string() };
        let mut state = read_state(run_dir, container_id)?.ok_or_else(not_set_up)?;
        if state.phase != Phase::Up {
            return Err(not_set_up());
        }
        // Some of what teardown removes may be gone already; that is why we are here.
        if let Err(e) = state.netavark.teardown(&state.netns, &state.options) {
            tracing::info!(container = container_id, "teardown before reload: {e}");
        }
        state.phase = Phase::SettingUp;
        write_state(run_dir, container_id, &state)?;
        let status = bring_up(&state)?;
        state.phase = Phase::Up;
        state.status = Some(status.clone());
        write_state(run_dir, container_id, &state)?;
        Ok(status)
    }

    /// The container's network as last set up, if it is up.
    pub fn status(&self, container_id: &str) -> Result<Option<ContainerNetworkStatus>> {
        check_container_id(container_id)?;
        Ok(read_state(self.run_dir(), container_id)?.filter(|s| s.phase == Phase::Up).and_then(|s| s.status))
    }
}

/// The attachment's aliases, then, as podman adds them, the short id and
/// the hostname; each once.
fn aliases(opts: &ContainerNetworkOptions, a: &Attachment) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let extra = [Some(opts.container_id[..12].to_string()), opts.hostname.clone()];
    for alias in a.aliases.iter().cloned().chain(extra.into_iter().flatten()) {
        if alias != opts.container_name && !out.contains(&alias) {
            out.push(alias);
        }
    }
    out
}

fn bring_up(state: &ContainerState) -> Result<ContainerNetworkStatus> {
    let blocks = state.netavark.setup(&state.netns, &state.options)?;
    ContainerNetworkStatus::from_blocks(&state.options, &blocks)
}

/// Tear down what [`Networks::setup`] set up for `container_id`, from its
/// state file alone: netavark teardown, then the container's namespace
/// (when berth made it) and the state file. Safe to call twice or from two
/// processes at once; returns whether there was anything to tear down.
/// A netavark error is returned after everything else is cleaned up
/// (netavark tries every step whatever fails, so a retry would do no more).
pub fn teardown_from_state(run_dir: &Path, container_id: &str) -> Result<bool> {
    check_container_id(container_id)?;
    let _lock = run_lock(run_dir)?;
    let own_netns = netns_dir(run_dir).join(container_id);
    let Some(mut state) = read_state(run_dir, container_id)? else {
        // A namespace made for a setup that never wrote its state.
        netns::remove(&own_netns)?;
        return Ok(false);
    };
    let mut failure = None;
    if state.phase != Phase::TornDown {
        failure = netavark_teardown(run_dir, container_id, &state).err();
        state.phase = Phase::TornDown;
        write_state(run_dir, container_id, &state)?;
    }
    if state.netns.starts_with(netns_dir(run_dir)) {
        netns::remove(&state.netns)?;
    }
    remove_state(run_dir, container_id)?;
    match failure {
        Some(e) => Err(e),
        None => Ok(true),
    }
}

/// netavark teardown against the container's namespace, or, when that is
/// gone (the interfaces went with it), against an empty stand-in so that
/// the firewall rules and DNS entries still go.
fn netavark_teardown(run_dir: &Path, id: &str, state: &ContainerState) -> Result<()> {
    if netns::is_netns(&state.netns) {
        return state.netavark.teardown(&state.netns, &state.options);
    }
    let name = format!(".gone-{id}");
    let stand_in = netns::create(&netns_dir(run_dir), &name)?;
    let result = state.netavark.teardown(&stand_in, &state.options);
    netns::remove(&stand_in)?;
    if let Err(e) = result {
        // The interfaces cannot be found in the stand-in: expected.
        tracing::info!(container = id, "teardown without the container's namespace: {e}");
    }
    Ok(())
}

fn check_options(opts: &ContainerNetworkOptions) -> Result<()> {
    let id = opts.container_id.as_str();
    check_container_id(id)?;
    check_name(&opts.container_name)?;
    if let Some(h) = &opts.hostname {
        check_name(h)?;
    }
    if opts.networks.is_empty() {
        return Err(NetworkError::NoNetworks { container: opts.container_name.clone() });
    }
    for (i, a) in opts.networks.iter().enumerate() {
        if opts.networks[..i].iter().any(|b| b.network == a.network) {
            return Err(NetworkError::DuplicateAttachment {
                network: a.network.clone(),
                container: opts.container_name.clone(),
            });
        }
        if let Some(bad) = a.aliases.iter().find(|x| check_name(x).is_err()) {
            return Err(NetworkError::InvalidAlias { alias: bad.clone(), network: a.network.clone() });
        }
    }
    for m in &opts.port_mappings {
        check_mapping(m)?;
    }
    for (i, m) in opts.port_mappings.iter().enumerate() {
        if let Some(o) = opts.port_mappings[..i].iter().find(|o| super::ports::conflicts(o, m)) {
            return Err(NetworkError::PortConflict { first: o.to_string(), second: m.to_string() });
        }
    }
    Ok(())
}

/// A mapping from anywhere (not only [`super::ports::parse_ports`]) must
/// be whole before netavark sees it.
fn check_mapping(m: &PortMapping) -> Result<()> {
    let spec = m.to_string();
    if m.host_port == 0 {
        return Err(NetworkError::HostPortNotAssigned {
            container_port: m.container_port,
            protocol: m.protocol.clone(),
        });
    }
    let range = m.range.max(1) as u32;
    for port in [m.container_port as u32, m.host_port as u32] {
        if port == 0 || port + range - 1 > 65535 {
            return Err(NetworkError::PortOutOfRange { spec: spec.clone(), port: (port + range - 1).to_string() });
        }
    }
    if !PROTOCOLS.contains(&m.protocol.as_str()) {
        return Err(NetworkError::InvalidProtocol { spec: spec.clone(), protocol: m.protocol.clone() });
    }
    if !m.host_ip.is_empty() && m.host_ip.parse::<IpAddr>().is_err() {
        return Err(NetworkError::InvalidHostIp { spec, ip: m.host_ip.clone() });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// A store whose netavark is a script: setup answers for the
    /// container's networks from its stdin (as netavark would), teardown
    /// records that it ran; `fail` makes setup fail.
    fn store(dir: &Path) -> Networks {
        let bin = dir.join("fake-netavark");
        let script = format!(
            r#"#!/bin/sh
[ "$1" = probe ] && exit 0
for a; do cmd=$last; last=$a; done
input=$(cat)
echo "$cmd $last" >> {log}
if [ "$cmd" = setup ]; then
  [ -e {fail} ] && {{ echo '{{"error":"IO error: File exists (os error 17)"}}'; exit 1; }}
  ip=$(echo "$input" | sed 's/.*"static_ips":\["\([0-9.]*\)".*/\1/')
  echo '{{"berth":{{"dns_search_domains":[],"dns_server_ips":[],"interfaces":{{"eth0":{{"mac_address":"02:00:00:00:00:01","subnets":[{{"gateway":"10.89.0.1","ipnet":"'$ip'/24"}}]}}}}}}}}'
fi
"#,
            log = dir.join("log").display(),
            fail = dir.join("fail").display()
        );
        std::fs::write(&bin, script).unwrap();
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
        for _ in 0..100 {
            if std::process::Command::new(&bin).arg("probe").status().is_ok() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        Networks::open(dir.join("config"), dir.join("run")).unwrap().with_binaries(&bin, dir.join("aardvark-dns"))
    }

    fn log(dir: &Path) -> Vec<String> {
        std::fs::read_to_string(dir.join("log")).unwrap_or_default().lines().map(str::to_string).collect()
    }

    fn opts(n: u32) -> ContainerNetworkOptions {
        ContainerNetworkOptions {
            container_id: format!("{n:064x}"),
            container_name: format!("c{n}"),
            hostname: Some("box".into()),
            // A namespace that is not berth's: teardown leaves it alone.
            netns: PathBuf::from("/proc/self/ns/net"),
            networks: vec![Attachment::new("berth")],
            port_mappings: super::super::ports::parse_ports(&["8080:80"]).unwrap(),
            dns_servers: vec![],
        }
    }

    #[test]
    fn setup_records_state_and_teardown_removes_it() {
        let d = tempfile::tempdir().unwrap();
        let n = store(d.path());
        let o = opts(1);
        let s = n.setup(&o).unwrap();
        assert_eq!(s.networks["berth"].ip().unwrap().to_string(), "10.89.0.2/24");
        assert_eq!(s.port_lines(), ["80/tcp -> 0.0.0.0:8080"]);
        assert_eq!(n.status(&o.container_id).unwrap(), Some(s.clone()));
        let e = n.setup(&o).unwrap_err();
        assert!(matches!(e, NetworkError::AlreadySetUp { .. }), "{e}");
        // The state file carries netavark's own input.
        let state: serde_json::Value =
            serde_json::from_slice(&std::fs::read(state_path(n.run_dir(), &o.container_id)).unwrap()).unwrap();
        assert_eq!(state["options"]["networks"]["berth"]["static_ips"][0], "10.89.0.2");
        assert_eq!(state["options"]["network_info"]["berth"]["network_interface"], "berth0");
        assert_eq!(state["options"]["networks"]["berth"]["aliases"], serde_json::json!(["000000000000", "box"]));

        // teardown_from_state needs only the run directory.
        assert!(teardown_from_state(n.run_dir(), &o.container_id).unwrap());
        assert_eq!(log(d.path()).last().unwrap(), "teardown /proc/self/ns/net");
        assert!(Path::new("/proc/self/ns/net").exists(), "not berth's: left alone");
        assert_eq!(n.status(&o.container_id).unwrap(), None);
        assert!(!teardown_from_state(n.run_dir(), &o.container_id).unwrap(), "twice is harmless");
        assert_eq!(log(d.path()).len(), 2, "netavark ran once per setup and teardown");
    }

    #[test]
    fn an_interrupted_teardown_is_finished_without_netavark() {
        let d = tempfile::tempdir().unwrap();
        let n = store(d.path());
        let o = opts(1);
        n.setup(&o).unwrap();
        // As if the teardown died after netavark ran.
        let mut st = read_state(n.run_dir(), &o.container_id).unwrap().unwrap();
        st.phase = Phase::TornDown;
        write_state(n.run_dir(), &o.container_id, &st).unwrap();
        assert!(n.teardown(&o.container_id).unwrap());
        assert_eq!(log(d.path()), ["setup /proc/self/ns/net"]);
        assert!(!state_path(n.run_dir(), &o.container_id).exists());
    }

    #[test]
    fn restart_keeps_the_address() {
        let d = tempfile::tempdir().unwrap();
        let n = store(d.path());
        let (a, b) = (opts(1), opts(2));
        n.setup(&a).unwrap();
        assert!(n.teardown(&a.container_id).unwrap());
        n.setup(&b).unwrap();
        let again = n.setup(&a).unwrap();
        assert_eq!(again.networks["berth"].ip().unwrap().to_string(), "10.89.0.2/24");
        assert!(n.teardown(&a.container_id).unwrap());
        n.release(&a.container_id).unwrap();
        assert_eq!(n.leases("berth").unwrap().holder("10.89.0.2".parse().unwrap()), None, "released on removal");
    }

    #[test]
    fn failed_setup_leaves_nothing_behind() {
        let d = tempfile::tempdir().unwrap();
        let n = store(d.path());
        std::fs::write(d.path().join("fail"), "").unwrap();
        let o = opts(1);
        match n.setup(&o).unwrap_err() {
            NetworkError::Netavark { command: "setup", message, .. } => {
                assert!(message.contains("File exists"), "{message}")
            }
            e => panic!("{e}"),
        }
        assert!(!state_path(n.run_dir(), &o.container_id).exists());
        assert_eq!(log(d.path()).last().map(|l| l.split(' ').next().unwrap().to_string()), Some("teardown".into()));
        std::fs::remove_file(d.path().join("fail")).unwrap();
        n.setup(&o).unwrap();
    }

    #[test]
    fn bad_options_are_named_and_change_nothing() {
        let d = tempfile::tempdir().unwrap();
        let n = store(d.path());
        let leases = std::fs::read_dir(n.config_dir().join("ipam")).unwrap().count();
        let base = opts(1);
        type Expect = fn(&NetworkError) -> bool;
        let cases: Vec<(ContainerNetworkOptions, Expect)> = vec![
            (ContainerNetworkOptions { container_id: "xyz".into(), ..base.clone() }, |e| {
                matches!(e, NetworkError::InvalidContainerId { .. })
            }),
            (ContainerNetworkOptions { container_name: "a b".into(), ..base.clone() }, |e| {
                matches!(e, NetworkError::InvalidName { .. })
            }),
            (ContainerNetworkOptions { hostname: Some("bad host".into()), ..base.clone() }, |e| {
                matches!(e, NetworkError::InvalidName { .. })
            }),
            (ContainerNetworkOptions { networks: vec![], ..base.clone() }, |e| {
                matches!(e, NetworkError::NoNetworks { .. })
            }),
            (ContainerNetworkOptions { networks: vec![Attachment::new("nope")], ..base.clone() }, |e| {
                matches!(e, NetworkError::NoSuchNetwork { .. })
            }),
            (
                ContainerNetworkOptions {
                    networks: vec![Attachment::new("berth"), Attachment::new("berth")],
                    ..base.clone()
                },
                |e| matches!(e, NetworkError::DuplicateAttachment { .. }),
            ),
            (
                ContainerNetworkOptions {
                    networks: vec![Attachment { aliases: vec!["bad alias".into()], ..Attachment::new("berth") }],
                    ..base.clone()
                },
                |e| matches!(e, NetworkError::InvalidAlias { .. }),
            ),
            (
                ContainerNetworkOptions {
                    networks: vec![Attachment {
                        static_ips: vec!["10.1.1.1".parse().unwrap()],
                        ..Attachment::new("berth")
                    }],
                    ..base.clone()
                },
                |e| matches!(e, NetworkError::AddressOutsideSubnet { .. }),
            ),
            (
                ContainerNetworkOptions {
                    port_mappings: super::super::ports::parse_ports(&["80"]).unwrap(),
                    ..base.clone()
                },
                |e| matches!(e, NetworkError::HostPortNotAssigned { .. }),
            ),
            (
                ContainerNetworkOptions {
                    port_mappings: vec![PortMapping {
                        host_ip: "".into(),
                        container_port: 0,
                        host_port: 80,
                        range: 1,
                        protocol: "tcp".into(),
                    }],
                    ..base.clone()
                },
                |e| matches!(e, NetworkError::PortOutOfRange { .. }),
            ),
            (
                ContainerNetworkOptions {
                    port_mappings: vec![PortMapping {
                        host_ip: "".into(),
                        container_port: 80,
                        host_port: 65535,
                        range: 2,
                        protocol: "tcp".into(),
                    }],
                    ..base.clone()
                },
                |e| matches!(e, NetworkError::PortOutOfRange { .. }),
            ),
            (
                ContainerNetworkOptions {
                    port_mappings: vec![PortMapping {
                        host_ip: "".into(),
                        container_port: 80,
                        host_port: 80,
                        range: 1,
                        protocol: "icmp".into(),
                    }],
                    ..base.clone()
                },
                |e| matches!(e, NetworkError::InvalidProtocol { .. }),
            ),
            (
                ContainerNetworkOptions {
                    port_mappings: super::super::ports::parse_port("8080:80")
                        .unwrap()
                        .into_iter()
                        .chain(super::super::ports::parse_port("8080:81").unwrap())
                        .collect(),
                    ..base.clone()
                },
                |e| matches!(e, NetworkError::PortConflict { .. }),
            ),
        ];
        for (o, ok) in cases {
            let e = n.setup(&o).unwrap_err();
            assert!(ok(&e), "{e}");
        }
        assert!(log(d.path()).is_empty(), "netavark never ran");
        assert_eq!(std::fs::read_dir(n.config_dir().join("ipam")).unwrap().count(), leases, "no address was taken");
        assert_eq!(std::fs::read_dir(n.run_dir().join("containers")).unwrap().count(), 0);
    }

    #[test]
    fn reload_needs_a_set_up_network() {
        let d = tempfile::tempdir().unwrap();
        let n = store(d.path());
        let o = opts(1);
        assert!(matches!(n.reload(&o.container_id), Err(NetworkError::NotSetUp { .. })));
        let first = n.setup(&o).unwrap();
        assert_eq!(n.reload(&o.container_id).unwrap(), first);
        let l = log(d.path());
        assert_eq!(l.iter().map(|x| x.split(' ').next().unwrap()).collect::<Vec<_>>(), ["setup", "teardown", "setup"]);
    }
}
