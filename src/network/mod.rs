//! Container networking through netavark and aardvark-dns, driven the way
//! podman's libnetwork drives them: berth keeps the network definitions
//! (netavark's own JSON) and hands out the addresses; netavark makes the
//! bridge, the veth pair, the firewall rules of published ports, and starts
//! aardvark-dns on networks with DNS.
//!
//! A container's life, as the engine drives it:
//! ```text
//! create:  parse_ports + assign_host_ports (stored in the container's spec)
//! start:   teardown(id)            (no-op unless a crash left something)
//!          create_netns(id) -> path
//!          setup(ContainerNetworkOptions { netns: path, .. }) -> ContainerNetworkStatus
//!          hosts_file + resolv_conf -> write_container_files(id, ..)  (bind-mounted)
//! stop:    teardown_from_state(run_dir, id)  (the unit's ExecStopPost; also berthd)
//! rm:      release(id)            (its addresses and files)
//! reload:  reload(id)             (after a firewall reload dropped the rules)
//! ```
//!
//! On disk (berthd passes `<state_root>/networks` and `<run_root>/network`):
//! ```text
//! <config_dir>/<name>.json        one network, as podman's types.Network / netavark reads it
//! <config_dir>/ipam/<name>.json   its leases: container id -> addresses, last address given
//! <config_dir>/.lock              flock over definitions and leases
//! <run_dir>/netns/<id>            a container's network namespace (nsfs bind mount);
//!                                 netns/ itself is a shared mount, as /run/netns is
//! <run_dir>/netns.lock            flock while making netns/ shared
//! <run_dir>/containers/<id>.json  what teardown needs: netns, netavark's input, phase, status
//! <run_dir>/netavark.lock         flock: one netavark setup/teardown at a time (as podman)
//! <run_dir>/aardvark/             netavark's --config: aardvark-dns/<network>, aardvark.pid
//! <run_dir>/files/<id>/           the container's hosts and resolv.conf
//! ```
//! Definitions and leases are durable (a container keeps its address across
//! restarts and reboots until it is removed); everything under the run
//! directory describes what is set up now and dies with a reboot.
//!
//! Every call blocks (files, flock, netavark): async callers go through
//! `spawn_blocking`. Needs root, netavark and aardvark-dns (podman's helper
//! directories, e.g. Debian's /usr/lib/podman) and iptables in /usr/sbin.

mod config;
mod error;
mod files;
mod ipam;
mod lock;
mod netavark;
mod netns;
mod networks;
mod ports;
mod request;
mod setup;
mod status;
mod subnet;

pub use config::{LeaseRange, Network, NetworkCreate, Subnet, SubnetRequest, DEFAULT_BRIDGE, DEFAULT_NETWORK};
pub use error::{NetworkError, Result};
pub use files::{
    host_resolv_conf, hosts_file, resolv_conf, write_container_files, ContainerFiles, HostsOptions, ResolvOptions,
    HOST_CONTAINERS_INTERNAL, HOST_GATEWAY,
};
pub use ipam::Leases;
pub use netavark::{NetAddress, NetInterface, Netavark, NetavarkOptions, PerNetworkOptions, StatusBlock, StatusBlocks};
pub use netns::is_netns;
pub use networks::{check_container_id, container_files_dir, netns_path, Networks};
pub use ports::{assign_host_ports, conflicts, find_conflict, parse_port, parse_ports, port_lines, PortMapping};
pub use request::NetworkRequest;
pub use setup::{teardown_from_state, Attachment, ContainerNetworkOptions};
pub use status::{Address, ContainerNetworkStatus, NetworkStatus};
pub use subnet::{host_subnets, parse_subnet};
