//! The container's `/etc/hosts` and `/etc/resolv.conf`, written as podman
//! writes them (libnetwork's etchosts and resolvconf).

use super::error::{NetworkError, Result};
use super::status::ContainerNetworkStatus;
use crate::model::network::{parse_host_entry, HostAddress};
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::net::IpAddr;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The name podman gives the host inside containers, and docker's.
pub const HOST_CONTAINERS_INTERNAL: &str = "host.containers.internal";
const HOST_DOCKER_INTERNAL: &str = "host.docker.internal";
/// In an `--add-host` entry: the host's address as the container sees it.
pub const HOST_GATEWAY: &str = "host-gateway";

/// Public resolvers podman falls back to when the host has only local ones.
const FALLBACK_V4: [&str; 2] = ["8.8.8.8", "8.8.4.4"];
const FALLBACK_V6: [&str; 2] = ["2001:4860:4860::8888", "2001:4860:4860::8844"];

#[derive(Debug, Clone, Default)]
pub struct HostsOptions<'a> {
    /// A hosts file to start from (podman uses the host's /etc/hosts).
    pub base: &'a str,
    /// `--add-host` entries, `NAME[;NAME...]:IP`; IP may be `host-gateway`.
    pub extra: &'a [String],
    /// The container's own names (its hostname and its name).
    pub names: &'a [String],
    /// The container's network; `None` for a container without one.
    pub status: Option<&'a ContainerNetworkStatus>,
}

#[derive(Debug, Clone, Default)]
pub struct ResolvOptions<'a> {
    /// The host's resolv.conf (see [`host_resolv_conf`]).
    pub host: &'a str,
    pub status: Option<&'a ContainerNetworkStatus>,
    /// `--dns`: used when no network has DNS (with aardvark-dns they are
    /// its upstream servers instead, through setup's `dns_servers`).
    pub dns_servers: &'a [IpAddr],
    /// `--dns-search`; a lone `.` means none.
    pub dns_search: &'a [String],
    /// `--dns-option`.
    pub dns_options: &'a [String],
}

struct Entry {
    ip: String,
    names: Vec<String>,
}

/// The container's /etc/hosts: the `--add-host` entries, the base file,
/// then localhost, `host.containers.internal` and the container's own
/// addresses, each name only once.
pub fn hosts_file(o: &HostsOptions) -> Result<String> {
    let host_address = o.status.and_then(|s| s.host_address());
    let mut entries = Vec::new();
    for e in o.extra {
        entries.push(parse_extra_host(e, host_address)?);
    }
    entries.extend(parse_hosts(o.base));
    let mut out = String::new();
    let mut seen: Vec<String> = Vec::new();
    for e in &entries {
        out.push_str(&line(&e.ip, &e.names));
        seen.extend(e.names.iter().cloned());
    }
    let mut own = vec![
        Entry { ip: "127.0.0.1".into(), names: vec!["localhost".into()] },
        Entry { ip: "::1".into(), names: vec!["localhost".into()] },
    ];
    if let Some(h) = host_address {
        own.push(Entry {
            ip: h.to_string(),
            names: vec![HOST_CONTAINERS_INTERNAL.into(), HOST_DOCKER_INTERNAL.into()],
        });
    }
    let addresses = o.status.map(|s| s.addresses()).unwrap_or_default();
    let mut names: Vec<String> = Vec::new();
    for n in o.names {
        if !n.is_empty() && !names.contains(n) {
            names.push(n.clone());
        }
    }
    if addresses.is_empty() {
        own.push(Entry { ip: "127.0.0.1".into(), names: names.clone() });
    }
    for a in addresses {
        own.push(Entry { ip: a.to_string(), names: names.clone() });
    }
    for e in own {
        let free: Vec<String> = e.names.into_iter().filter(|n| !seen.contains(n)).collect();
        if !free.is_empty() {
            out.push_str(&line(&e.ip, &free));
        }
    }
    Ok(out)
}

fn line(ip: &str, names: &[String]) -> String {
    format!("{ip}\t{}\n", names.join(" "))
}

fn parse_extra_host(entry: &str, host_address: Option<IpAddr>) -> Result<Entry> {
    let bad = |reason| NetworkError::InvalidHostEntry { entry: entry.to_string(), reason };
    let (names, ip) = parse_host_entry(entry).map_err(bad)?;
    let ip = match ip {
        HostAddress::Ip(ip) => ip,
        HostAddress::HostGateway => host_address.ok_or_else(|| bad("host-gateway needs a network with a gateway"))?,
    };
    Ok(Entry { ip: ip.to_string(), names })
}

fn parse_hosts(text: &str) -> Vec<Entry> {
    let mut out = Vec::new();
    for l in text.lines() {
        let l = l.split('#').next().unwrap_or("");
        let mut f = l.split_whitespace();
        if let Some(ip) = f.next() {
            let names: Vec<String> = f.map(str::to_string).collect();
            if !names.is_empty() {
                out.push(Entry { ip: ip.to_string(), names });
            }
        }
    }
    out
}

/// The container's /etc/resolv.conf. Nameservers: aardvark-dns's on DNS
/// networks, else `--dns`, else the host's without loopback ones (and
/// without IPv6 ones when the container has no IPv6 address), else
/// public ones. Search domains: `--dns-search`, else the networks' and the
/// host's. Options: `--dns-option`, else the host's.
pub fn resolv_conf(o: &ResolvOptions) -> String {
    let network_servers = o.status.map(|s| s.dns_servers()).unwrap_or_default();
    let ipv6 = o.status.is_some_and(|s| s.addresses().iter().any(IpAddr::is_ipv6));
    let nameservers: Vec<String> = if !network_servers.is_empty() {
        network_servers.iter().map(ToString::to_string).collect()
    } else if !o.dns_servers.is_empty() {
        o.dns_servers.iter().map(ToString::to_string).collect()
    } else {
        let mut host: Vec<String> = nameservers(o.host)
            .into_iter()
            .filter(|ip| !ip.is_loopback() && (ipv6 || ip.is_ipv4()))
            .map(|ip| ip.to_string())
            .collect();
        if host.is_empty() {
            host.extend(FALLBACK_V4.iter().map(|s| s.to_string()));
            if ipv6 {
                host.extend(FALLBACK_V6.iter().map(|s| s.to_string()));
            }
        }
        host
    };
    let search: Vec<String> = if !o.dns_search.is_empty() {
        if o.dns_search.iter().any(|s| s == ".") {
            Vec::new()
        } else {
            o.dns_search.to_vec()
        }
    } else {
        let mut s = o.status.map(|s| s.dns_search_domains()).unwrap_or_default();
        s.extend(last_keyword(o.host, "search"));
        s
    };
    let options = if o.dns_options.is_empty() { last_keyword(o.host, "options") } else { o.dns_options.to_vec() };
    let mut out = String::new();
    if !search.is_empty() {
        out.push_str(&format!("search {}\n", search.join(" ")));
    }
    for n in nameservers {
        out.push_str(&format!("nameserver {n}\n"));
    }
    if !options.is_empty() {
        out.push_str(&format!("options {}\n", options.join(" ")));
    }
    out
}

/// The nameservers of a resolv.conf; IPv6 ones with a zone are dropped (the
/// zone names a host interface the container does not have).
fn nameservers(text: &str) -> Vec<IpAddr> {
    let mut out = Vec::new();
    for l in text.lines() {
        let mut f = l.split('#').next().unwrap_or("").split_whitespace();
        if f.next() == Some("nameserver") {
            if let Some(Ok(ip)) = f.next().map(str::parse::<IpAddr>) {
                out.push(ip);
            }
        }
    }
    out
}

/// The words of the last `keyword` line (`search`, `options`).
fn last_keyword(text: &str, keyword: &str) -> Vec<String> {
    let mut out = Vec::new();
    for l in text.lines() {
        let mut f = l.split('#').next().unwrap_or("").split_whitespace();
        if f.next() == Some(keyword) {
            out = f.map(str::to_string).collect();
        }
    }
    out
}

/// The host's resolv.conf, or the real one behind a local stub resolver
/// (systemd-resolved's 127.0.0.53, NetworkManager's 127.0.0.1), which a
/// container cannot reach.
pub fn host_resolv_conf() -> String {
    let text = fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let behind = match nameservers(&text).as_slice() {
        [ip] if ip.to_string() == "127.0.0.53" => Some("/run/systemd/resolve/resolv.conf"),
        [ip] if ip.to_string() == "127.0.0.1" => Some("/run/NetworkManager/no-stub-resolv.conf"),
        _ => None,
    };
    behind.and_then(|p| fs::read_to_string(p).ok()).unwrap_or(text)
}

/// The files a container bind-mounts over its /etc/hosts and /etc/resolv.conf.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerFiles {
    pub hosts: PathBuf,
    pub resolv_conf: PathBuf,
}

/// Write `hosts` and `resolv.conf` into `dir` (created), readable by the
/// container's users; each file is replaced whole.
pub fn write_container_files(dir: &Path, hosts: &str, resolv: &str) -> Result<ContainerFiles> {
    fs::create_dir_all(dir).map_err(NetworkError::io("create", dir))?;
    let files = ContainerFiles { hosts: dir.join("hosts"), resolv_conf: dir.join("resolv.conf") };
    replace(&files.hosts, hosts)?;
    replace(&files.resolv_conf, resolv)?;
    Ok(files)
}

fn replace(path: &Path, text: &str) -> Result<()> {
    let tmp = path.with_extension("tmp");
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o644)
        .open(&tmp)
        .map_err(NetworkError::io("create", &tmp))?;
    // Whatever the umask: the container's users must read these.
    f.set_permissions(fs::Permissions::from_mode(0o644)).map_err(NetworkError::io("set the mode of", &tmp))?;
    f.write_all(text.as_bytes()).map_err(NetworkError::io("write", &tmp))?;
    drop(f);
    fs::rename(&tmp, path).map_err(NetworkError::io("replace", path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::status::{Address, NetworkStatus};

    fn status(addresses: &[(&str, Option<&str>)], dns: &[&str]) -> ContainerNetworkStatus {
        let n = NetworkStatus {
            interface: "eth0".into(),
            addresses: addresses
                .iter()
                .map(|(a, g)| Address { address: a.parse().unwrap(), gateway: g.map(|g| g.parse().unwrap()) })
                .collect(),
            dns_servers: dns.iter().map(|d| d.parse().unwrap()).collect(),
            dns_search_domains: if dns.is_empty() { vec![] } else { vec!["dns.podman".into()] },
            ..NetworkStatus::default()
        };
        ContainerNetworkStatus { networks: [("n".to_string(), n)].into(), ports: vec![] }
    }

    fn names() -> Vec<String> {
        vec!["web".into(), "web".into()]
    }

    #[test]
    fn hosts_like_podman() {
        let s = status(&[("10.89.0.5/24", Some("10.89.0.1"))], &[]);
        let extra = vec!["db;db.local:10.0.0.9".to_string(), "gw:host-gateway".to_string(), "v6:fd00::7".to_string()];
        let base = "# the host's file\n127.0.0.1 localhost myhost\n::1 ip6-localhost\n10.1.1.1\n";
        let text = hosts_file(&HostsOptions { base, extra: &extra, names: &names(), status: Some(&s) }).unwrap();
        assert_eq!(
            text,
            "10.0.0.9\tdb db.local\n\
             10.89.0.1\tgw\n\
             fd00::7\tv6\n\
             127.0.0.1\tlocalhost myhost\n\
             ::1\tip6-localhost\n\
             10.89.0.1\thost.containers.internal host.docker.internal\n\
             10.89.0.5\tweb\n"
        );
    }

    #[test]
    fn hosts_without_a_network_or_a_gateway() {
        let text = hosts_file(&HostsOptions { names: &names(), ..Default::default() }).unwrap();
        assert_eq!(text, "127.0.0.1\tlocalhost\n::1\tlocalhost\n127.0.0.1\tweb\n");
        let internal = status(&[("10.89.7.2/24", None)], &[]);
        let text =
            hosts_file(&HostsOptions { names: &names(), status: Some(&internal), ..Default::default() }).unwrap();
        assert_eq!(text, "127.0.0.1\tlocalhost\n::1\tlocalhost\n10.89.7.2\tweb\n");
        let extra = vec!["gw:host-gateway".to_string()];
        let e = hosts_file(&HostsOptions { extra: &extra, status: Some(&internal), ..Default::default() }).unwrap_err();
        assert!(matches!(e, NetworkError::InvalidHostEntry { .. }), "{e}");
    }

    #[test]
    fn bad_host_entries() {
        for bad in ["nocolon", ":1.2.3.4", "a:", "a:notanip", "a b:1.2.3.4", "a;;b:1.2.3.4"] {
            let extra = vec![bad.to_string()];
            let e = hosts_file(&HostsOptions { extra: &extra, ..Default::default() }).unwrap_err();
            assert!(matches!(e, NetworkError::InvalidHostEntry { .. }), "{bad}: {e}");
        }
    }

    const HOST: &str = "# generated\nsearch corp.example lan\nnameserver 127.0.0.53\nnameserver 192.0.2.53\nnameserver 2001:db8::53\nnameserver fe80::1%eth0\noptions edns0 trust-ad\n";

    #[test]
    fn resolv_on_a_dns_network_uses_aardvark_only() {
        let s = status(&[("10.89.1.5/24", Some("10.89.1.1"))], &["10.89.1.1"]);
        let dns = ["9.9.9.9".parse().unwrap()];
        let text =
            resolv_conf(&ResolvOptions { host: HOST, status: Some(&s), dns_servers: &dns, ..Default::default() });
        assert_eq!(text, "search dns.podman corp.example lan\nnameserver 10.89.1.1\noptions edns0 trust-ad\n");
    }

    #[test]
    fn resolv_without_dns_network_filters_the_hosts_servers() {
        let s = status(&[("10.89.0.5/24", Some("10.89.0.1"))], &[]);
        let text = resolv_conf(&ResolvOptions { host: HOST, status: Some(&s), ..Default::default() });
        assert_eq!(text, "search corp.example lan\nnameserver 192.0.2.53\noptions edns0 trust-ad\n");
        let dual = status(&[("10.89.0.5/24", None), ("fd00::5/64", None)], &[]);
        let text = resolv_conf(&ResolvOptions { host: HOST, status: Some(&dual), ..Default::default() });
        assert!(text.contains("nameserver 192.0.2.53\nnameserver 2001:db8::53\n"), "{text}");
        // Only local servers: podman's public fallback.
        let text =
            resolv_conf(&ResolvOptions { host: "nameserver 127.0.0.1\n", status: Some(&s), ..Default::default() });
        assert_eq!(text, "nameserver 8.8.8.8\nnameserver 8.8.4.4\n");
    }

    #[test]
    fn resolv_user_options_win() {
        let s = status(&[("10.89.0.5/24", Some("10.89.0.1"))], &[]);
        let dns = ["1.1.1.1".parse().unwrap(), "2606:4700::1111".parse().unwrap()];
        let search = vec!["example.org".to_string()];
        let opts = vec!["ndots:2".to_string()];
        let o =
            ResolvOptions { host: HOST, status: Some(&s), dns_servers: &dns, dns_search: &search, dns_options: &opts };
        assert_eq!(
            resolv_conf(&o),
            "search example.org\nnameserver 1.1.1.1\nnameserver 2606:4700::1111\noptions ndots:2\n"
        );
        let dot = vec![".".to_string()];
        let text = resolv_conf(&ResolvOptions { dns_search: &dot, ..o });
        assert!(!text.contains("search"), "{text}");
    }

    #[test]
    fn files_are_written_readable() {
        let d = tempfile::tempdir().unwrap();
        let f = write_container_files(&d.path().join("c"), "h\n", "r\n").unwrap();
        assert_eq!(fs::read_to_string(&f.hosts).unwrap(), "h\n");
        assert_eq!(fs::read_to_string(&f.resolv_conf).unwrap(), "r\n");
        assert_eq!(fs::metadata(&f.hosts).unwrap().permissions().mode() & 0o777, 0o644);
        write_container_files(&d.path().join("c"), "h2\n", "r2\n").unwrap();
        assert_eq!(fs::read_to_string(&f.hosts).unwrap(), "h2\n");
    }
}
