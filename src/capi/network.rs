//! Networks through libberth: create, list, inspect, remove, reload a
//! container's network, and a container's published ports.

use super::client::berth_client;
use super::ffi::{arg, c_string, guard, string, strings, Failure, Out, Res};
use crate::model::{ErrorKind, NetworkCreateOptions};
use std::ffi::c_char;

/// An optional string: NULL is None.
fn optional(p: *const c_char, what: &str) -> Res<Option<String>> {
    if p.is_null() {
        Ok(None)
    } else {
        string(p, what).map(|s| Some(s.to_string()))
    }
}

fn write_string(out: Out<*mut c_char>, s: &str) {
    out.write(c_string(s).into_raw());
}

/// CreateNetwork: a bridge network `name`. `subnet` (CIDR) and `gateway`
/// may be NULL (chosen: the first free /24 from 10.89.0.0, its first
/// address); `internal`: no route out; `dns`: containers resolve each
/// other by name; `labels`: `n_labels` "KEY=VALUE" strings (NULL when 0).
/// On success `*json` is the network's description (free it with
/// `berth_string_free()`). BERTH_RESULT_NETWORK_EXISTS when the name is taken.
#[no_mangle]
pub extern "C" fn berth_client_network_create(
    client: *const berth_client,
    name: *const c_char,
    subnet: *const c_char,
    gateway: *const c_char,
    internal: bool,
    dns: bool,
    labels: *const *const c_char,
    n_labels: usize,
    json: *mut *mut c_char,
) -> ErrorKind {
    guard(|| {
        let c = &arg(client, "client")?.inner;
        let name = string(name, "name")?;
        let out = Out::new(json, "json")?;
        let mut o = NetworkCreateOptions {
            subnet: optional(subnet, "subnet")?,
            gateway: optional(gateway, "gateway")?,
            internal,
            dns,
            ..Default::default()
        };
        let labels = if n_labels == 0 { Vec::new() } else { strings(labels, n_labels, "labels")? };
        for l in labels {
            let (k, v) = l.split_once('=').ok_or_else(|| {
                Failure::new(ErrorKind::InvalidParameter, format!("labels: {l:?} is not KEY=VALUE"))
            })?;
            o.labels.insert(k.to_string(), v.to_string());
        }
        write_string(out, &c.call(c.client.create_network_json(name, &o))?);
        Ok(())
    })
}

/// ListNetworks: every network's description, a JSON array, in `*json`.
#[no_mangle]
pub extern "C" fn berth_client_network_list(client: *const berth_client, json: *mut *mut c_char) -> ErrorKind {
    guard(|| {
        let c = &arg(client, "client")?.inner;
        let out = Out::new(json, "json")?;
        write_string(out, &c.call(c.client.list_networks_json())?);
        Ok(())
    })
}

/// InspectNetwork: a network (by name or id) as JSON (Name, Id,
/// Interface, Subnets, Internal, DNSEnabled, Labels, Containers, ...).
#[no_mangle]
pub extern "C" fn berth_client_network_inspect(
    client: *const berth_client,
    name: *const c_char,
    json: *mut *mut c_char,
) -> ErrorKind {
    guard(|| {
        let c = &arg(client, "client")?.inner;
        let name = string(name, "name")?;
        let out = Out::new(json, "json")?;
        write_string(out, &c.call(c.client.inspect_network_json(name))?);
        Ok(())
    })
}

/// RemoveNetwork: BERTH_RESULT_NETWORK_IN_USE while a container names it,
/// BERTH_RESULT_NO_SUCH_NETWORK for an unknown one.
#[no_mangle]
pub extern "C" fn berth_client_network_remove(client: *const berth_client, name: *const c_char) -> ErrorKind {
    guard(|| {
        let c = &arg(client, "client")?.inner;
        let name = string(name, "name")?;
        c.call(c.client.remove_network(name))
    })
}

/// ReloadNetwork: set running container `name`'s network up again with the
/// same addresses and ports (after a firewall reload dropped its rules).
#[no_mangle]
pub extern "C" fn berth_client_network_reload(client: *const berth_client, name: *const c_char) -> ErrorKind {
    guard(|| {
        let c = &arg(client, "client")?.inner;
        let name = string(name, "name")?;
        c.call(c.client.reload_network(name))
    })
}

/// ReloadNetworks: every running bridged container's network; `*names`
/// gets the names reloaded, one per line.
#[no_mangle]
pub extern "C" fn berth_client_network_reload_all(client: *const berth_client, names: *mut *mut c_char) -> ErrorKind {
    guard(|| {
        let c = &arg(client, "client")?.inner;
        let out = Out::new(names, "names")?;
        let done = c.call(c.client.reload_networks())?;
        write_string(out, &done.iter().map(|n| format!("{n}\n")).collect::<String>());
        Ok(())
    })
}

/// The container's published ports as `podman port` prints them, one per
/// line (`80/tcp -> 0.0.0.0:8080`); empty unless it runs.
#[no_mangle]
pub extern "C" fn berth_client_ports(client: *const berth_client, name: *const c_char, lines: *mut *mut c_char) -> ErrorKind {
    guard(|| {
        let c = &arg(client, "client")?.inner;
        let name = string(name, "name")?;
        let out = Out::new(lines, "lines")?;
        let ports = c.call(c.client.ports(name))?;
        write_string(out, &ports.iter().map(|l| format!("{l}\n")).collect::<String>());
        Ok(())
    })
}
