//! berth: a container supervisor that lets systemd own the containers.

pub mod capi;
pub mod cli;
pub mod client;
pub mod dbus;
pub mod engine;
pub mod files;
pub mod fsutil;
pub mod model;
pub mod quadlet;
pub mod runtime;
pub mod store;
pub mod systemd;
