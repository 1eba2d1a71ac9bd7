//! The bundle's network part, written with config.json by berthd (and by
//! `run-spec` for file-defined containers): the request the container's
//! unit sets the network up from, and config.json joining the namespace and
//! mounting the generated hosts and resolv.conf.

use super::bundle;
use crate::model::{ContainerName, ContainerSpec, Error, Result};
use crate::network::{
    assign_host_ports, container_files_dir, netns_path, Attachment, ContainerNetworkOptions, NetworkError, NetworkRequest,
};
use crate::store::RunLayout;
use oci_spec::runtime::Spec;
use std::path::Path;

/// The network request of a bridged container (None for `none` and `host`).
/// `networks_dir` holds the network definitions and leases.
pub fn request(
    spec: &ContainerSpec,
    name: &ContainerName,
    id: &str,
    networks_dir: &Path,
    layout: &RunLayout,
) -> Option<NetworkRequest> {
    if !spec.network.is_bridge() {
        return None;
    }
    let run_dir = layout.network_dir();
    let networks = spec
        .network
        .networks()
        .iter()
        .map(|n| Attachment {
            static_ips: spec.ip.into_iter().collect(),
            aliases: spec.network_aliases.clone(),
            ..Attachment::new(n)
        })
        .collect();
    let mut host_names: Vec<String> = spec.hostname.iter().cloned().collect();
    host_names.push(name.to_string());
    Some(NetworkRequest {
        config_dir: networks_dir.to_path_buf(),
        options: ContainerNetworkOptions {
            container_id: id.to_string(),
            container_name: name.to_string(),
            hostname: spec.hostname.clone(),
            netns: netns_path(&run_dir, id),
            networks,
            port_mappings: spec.ports.clone(),
            dns_servers: spec.dns.clone(),
        },
        run_dir,
        dns_search: spec.dns_search.clone(),
        extra_hosts: spec.hosts.clone(),
        host_names,
    })
}

/// Write the request beside the bundle and make `config` use what the
/// unit will set up. Host ports still unassigned (a file-defined
/// container's `-p 80`) get free ones now. Nothing for `none` and `host`.
pub fn prepare(
    config: &mut Spec,
    spec: &ContainerSpec,
    name: &ContainerName,
    id: &str,
    networks_dir: &Path,
    layout: &RunLayout,
) -> Result<()> {
    let Some(mut req) = request(spec, name, id, networks_dir, layout) else { return Ok(()) };
    assign_host_ports(&mut req.options.port_mappings, &[]).map_err(|e| network_error("choose host ports", e))?;
    let files = container_files_dir(&req.run_dir, id);
    bundle::attach_network(config, &req.options.netns, &files)?;
    req.write(&layout.network_request(id)).map_err(|e| network_error("write the network request", e))
}

pub(crate) fn network_error(action: &'static str, e: NetworkError) -> Error {
    Error::Network { action, message: e.to_string() }
}
