//! berth: a container supervisor that lets systemd own the containers.
//!
//! The client side (model, client, capi) is always built; the daemon side
//! (berthd, berth-monitor, berth-generator) with the `daemon` feature and
//! berthctl with `cli`.

pub mod capi;
#[cfg(feature = "cli")]
pub mod cli;
pub mod client;
#[cfg(feature = "daemon")]
pub mod dbus;
#[cfg(feature = "daemon")]
pub mod engine;
#[cfg(any(feature = "daemon", feature = "cli"))]
pub mod files;
#[cfg(feature = "daemon")]
pub mod fsutil;
#[cfg(feature = "daemon")]
pub mod image;
#[cfg(feature = "daemon")]
pub mod journal;
#[cfg(feature = "daemon")]
pub mod kube;
pub mod model;
#[cfg(feature = "daemon")]
pub mod network;
#[cfg(feature = "daemon")]
pub mod quadlet;
#[cfg(feature = "daemon")]
pub mod runtime;
#[cfg(feature = "daemon")]
pub mod store;
#[cfg(feature = "daemon")]
pub mod systemd;
