//! The network layer's errors: one variant for each thing that can go wrong,
//! with the values a user needs to fix it.

use ipnet::IpNet;
use std::io;
use std::net::IpAddr;
use std::path::PathBuf;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum NetworkError {
    #[error("invalid network name {name:?}: {reason}")]
    InvalidName { name: String, reason: &'static str },

    #[error("a network named {name} already exists")]
    NetworkExists { name: String },

    #[error("no such network: {name}")]
    NoSuchNetwork { name: String },

    #[error("the default network {name} cannot be removed")]
    DefaultNetworkRemoval { name: String },

    #[error("network {name} is in use by container(s) {}", containers.join(", "))]
    NetworkInUse { name: String, containers: Vec<String> },

    #[error("invalid network option {key}={value:?}: {reason}")]
    InvalidOption { key: String, value: String, reason: &'static str },

    #[error("invalid subnet {value:?}: {reason}")]
    InvalidSubnet { value: String, reason: String },

    #[error("invalid IP address {value:?}")]
    InvalidAddress {
        value: String,
        #[source]
        source: std::net::AddrParseError,
    },

    #[error("subnet {subnet} overlaps {other}")]
    SubnetOverlap { subnet: IpNet, other: String },

    #[error("gateway {gateway} is not a usable address of subnet {subnet}")]
    GatewayOutsideSubnet { gateway: IpAddr, subnet: IpNet },

    #[error("no free subnet left in berth's pools (10.89.0.0/16 to 10.255.255.0/24)")]
    NoFreeSubnet,

    #[error("no free bridge interface name berthN")]
    NoFreeBridgeName,

    #[error("invalid bridge interface name {name:?}: {reason}")]
    InvalidBridgeName { name: String, reason: &'static str },

    #[error("bridge interface {name} is already used by network {network}")]
    BridgeNameInUse { name: String, network: String },

    #[error("address {address} is not in any subnet of network {network}")]
    AddressOutsideSubnet { address: IpAddr, network: String },

    #[error("address {address} on network {network} is already used by container {container}")]
    AddressInUse { address: IpAddr, network: String, container: String },

    #[error("address {address} is the gateway of network {network}")]
    AddressIsGateway { address: IpAddr, network: String },

    #[error("address {address} is the network or broadcast address of {subnet} on network {network}")]
    AddressReserved { address: IpAddr, subnet: IpNet, network: String },

    #[error("no free address left in subnet {subnet} of network {network}")]
    SubnetExhausted { subnet: IpNet, network: String },

    #[error("invalid container id {id:?}: expected 64 lowercase hex digits")]
    InvalidContainerId { id: String },

    #[error("container {container} is attached to no network")]
    NoNetworks { container: String },

    #[error("network {network} is given twice for container {container}")]
    DuplicateAttachment { network: String, container: String },

    #[error("invalid alias {alias:?} on network {network}: names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*")]
    InvalidAlias { alias: String, network: String },

    #[error("invalid port mapping {spec:?}: {reason}")]
    InvalidPortSpec { spec: String, reason: &'static str },

    #[error("invalid port mapping {spec:?}: port {port} is not in 1-65535")]
    PortOutOfRange { spec: String, port: String },

    #[error("invalid port mapping {spec:?}: host range has {host} ports, container range {container}")]
    PortRangeMismatch { spec: String, host: u32, container: u32 },

    #[error("invalid port mapping {spec:?}: unknown protocol {protocol:?} (tcp, udp or sctp)")]
    InvalidProtocol { spec: String, protocol: String },

    #[error("invalid port mapping {spec:?}: {ip:?} is not an IP address")]
    InvalidHostIp { spec: String, ip: String },

    #[error("port mappings conflict: {first} and {second}")]
    PortConflict { first: String, second: String },

    #[error("container port {container_port}/{protocol} has no host port yet (assign_host_ports chooses one)")]
    HostPortNotAssigned { container_port: u16, protocol: String },

    #[error("no free host port for container port {container_port}/{protocol}")]
    NoFreeHostPort { container_port: u16, protocol: String },

    #[error("invalid host entry {entry:?}: {reason}")]
    InvalidHostEntry { entry: String, reason: &'static str },

    #[error("container {container} already has its network set up; tear it down first")]
    AlreadySetUp { container: String },

    #[error("container {container} has no network set up")]
    NotSetUp { container: String },

    #[error("network namespace {path} already exists")]
    NetnsExists { path: PathBuf },

    #[error("invalid network namespace name {name:?}")]
    InvalidNetnsName { name: String },

    #[error("cannot {action} network namespace {path}: {source}")]
    Netns {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: nix::Error,
    },

    #[error("cannot run {binary}: {source}")]
    NetavarkSpawn {
        binary: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("netavark {command} failed: {message}")]
    Netavark { command: &'static str, message: String, exit_code: Option<i32> },

    #[error("netavark {command} printed something berth cannot read: {source}: {output:?}")]
    NetavarkOutput {
        command: &'static str,
        output: String,
        #[source]
        source: serde_json::Error,
    },

    #[error("cannot {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("{path} is corrupt: {source}")]
    Corrupt {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
}

impl From<crate::model::ports::PortError> for NetworkError {
    fn from(e: crate::model::ports::PortError) -> Self {
        use crate::model::ports::PortError as P;
        match e {
            P::InvalidPortSpec { spec, reason } => NetworkError::InvalidPortSpec { spec, reason },
            P::PortOutOfRange { spec, port } => NetworkError::PortOutOfRange { spec, port },
            P::PortRangeMismatch { spec, host, container } => NetworkError::PortRangeMismatch { spec, host, container },
            P::InvalidProtocol { spec, protocol } => NetworkError::InvalidProtocol { spec, protocol },
            P::InvalidHostIp { spec, ip } => NetworkError::InvalidHostIp { spec, ip },
            P::PortConflict { first, second } => NetworkError::PortConflict { first, second },
        }
    }
}

pub type Result<T, E = NetworkError> = std::result::Result<T, E>;

impl NetworkError {
    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> NetworkError {
        let path = path.into();
        move |source| NetworkError::Io { action, path, source }
    }

    pub(crate) fn netns(action: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(nix::Error) -> NetworkError {
        let path = path.into();
        move |source| NetworkError::Netns { action, path, source }
    }

    /// Whether the error is the caller's bad input (as opposed to the
    /// machine failing): the engine maps these to `InvalidArgument`.
    pub fn is_invalid_input(&self) -> bool {
        use NetworkError::*;
        matches!(
            self,
            InvalidName { .. }
                | InvalidOption { .. }
                | InvalidSubnet { .. }
                | InvalidAddress { .. }
                | SubnetOverlap { .. }
                | GatewayOutsideSubnet { .. }
                | InvalidBridgeName { .. }
                | BridgeNameInUse { .. }
                | AddressOutsideSubnet { .. }
                | AddressIsGateway { .. }
                | AddressReserved { .. }
                | InvalidContainerId { .. }
                | NoNetworks { .. }
                | DuplicateAttachment { .. }
                | InvalidAlias { .. }
                | InvalidPortSpec { .. }
                | PortOutOfRange { .. }
                | PortRangeMismatch { .. }
                | InvalidProtocol { .. }
                | InvalidHostIp { .. }
                | PortConflict { .. }
                | InvalidHostEntry { .. }
                | InvalidNetnsName { .. }
        )
    }
}
