//! Published ports: podman's `-p` syntax, netavark's `PortMapping`, the
//! conflict check between mappings, and the `podman port` listing. Pure:
//! clients check `-p` values with it, and the network layer (which also
//! picks free host ports) re-exports it.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::IpAddr;
use thiserror::Error;

/// What is wrong with a `-p` value, or a pair of them.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PortError {
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
}

type Result<T, E = PortError> = std::result::Result<T, E>;

/// One published port or range, for one protocol (netavark's JSON).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PortMapping {
    /// Empty: every address of the host.
    pub host_ip: String,
    pub container_port: u16,
    /// 0 until the network layer's `assign_host_ports` picks one.
    pub host_port: u16,
    /// How many consecutive ports, at least 1.
    pub range: u16,
    pub protocol: String,
}


impl PortMapping {
    /// The last host port of the mapping's range.
    pub fn last_host_port(&self) -> u32 {
        self.host_port as u32 + self.range.max(1) as u32 - 1
    }
}

impl fmt::Display for PortMapping {
    /// In `-p` form: `[IP:]HOST[-END]:CONTAINER[-END]/PROTO`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let range = |start: u16| {
            if self.range > 1 {
                format!("{start}-{}", start as u32 + self.range as u32 - 1)
            } else {
                start.to_string()
            }
        };
        match self.host_ip.parse::<IpAddr>() {
            Ok(IpAddr::V6(ip)) => write!(f, "[{ip}]:")?,
            Ok(ip) => write!(f, "{ip}:")?,
            Err(_) => {}
        }
        let host = if self.host_port == 0 { String::new() } else { range(self.host_port) };
        if self.host_port == 0 && self.host_ip.is_empty() {
            return write!(f, "{}/{}", range(self.container_port), self.protocol);
        }
        write!(f, "{host}:{}/{}", range(self.container_port), self.protocol)
    }
}


pub const PROTOCOLS: [&str; 3] = ["tcp", "udp", "sctp"];

/// Parse `-p` arguments: `[[HOSTIP:][HOSTPORT[-END]]:]CONTAINERPORT[-END][/PROTO[,PROTO]]`,
/// with an IPv6 host address in brackets. A mapping without a host port
/// gets port 0 (podman then picks a free one: the network layer's `assign_host_ports`). One
/// mapping per protocol; mappings of one container must not conflict.
pub fn parse_ports<S: AsRef<str>>(specs: &[S]) -> Result<Vec<PortMapping>> {
    let mut out: Vec<PortMapping> = Vec::new();
    for spec in specs {
        for m in parse_port(spec.as_ref())? {
            if out.contains(&m) {
                continue;
            }
            if let Some(other) = out.iter().find(|o| conflicts(o, &m)) {
                return Err(PortError::PortConflict { first: other.to_string(), second: m.to_string() });
            }
            out.push(m);
        }
    }
    Ok(out)
}

/// Parse one `-p` argument (podman's `CreatePortBindings` rules).
pub fn parse_port(spec: &str) -> Result<Vec<PortMapping>> {
    let bad = |reason| PortError::InvalidPortSpec { spec: spec.to_string(), reason };
    let (rest, protocols) = match spec.split_once('/') {
        None => (spec, vec!["tcp".to_string()]),
        Some((_, p)) if p.contains('/') => return Err(bad("the protocol can be given only once")),
        Some((_, "")) => return Err(bad("the protocol after / is empty")),
        Some((r, p)) => (r, parse_protocols(spec, p)?),
    };
    // An IPv6 host address comes in brackets: [::1]:8080:80.
    let (host_ip, rest) = match rest.split_once(']') {
        None => (None, rest),
        Some((ip, after)) => {
            let ip = ip.strip_prefix('[').ok_or_else(|| bad("an IPv6 address must be enclosed in []"))?;
            if after.contains(']') {
                return Err(bad("at most one IPv6 address"));
            }
            let after = after.strip_prefix(':').ok_or_else(|| bad("an IPv6 address must be followed by ':'"))?;
            if !after.contains(':') {
                return Err(bad("with an IPv6 address the form is [IP]:HOSTPORT:CONTAINERPORT"));
            }
            (Some(ip), after)
        }
    };
    let parts: Vec<&str> = rest.split(':').collect();
    let (host_ip, host_port, container) = match (host_ip, parts.as_slice()) {
        (None, [c]) => (None, None, *c),
        (ip, [h, c]) => (ip, Some(*h), *c),
        (None, [ip, h, c]) => (Some(*ip), Some(*h), *c),
        (Some(_), _) => return Err(bad("with an IPv6 address the form is [IP]:HOSTPORT:CONTAINERPORT")),
        _ => return Err(bad("the form is [[HOSTIP:]HOSTPORT:]CONTAINERPORT[/PROTOCOL]")),
    };
    if container.is_empty() {
        return Err(bad("the container port is empty"));
    }
    let (container_port, range) = parse_range(spec, container)?;
    let host_ip = match host_ip {
        None => String::new(),
        Some("") => return Err(bad("the host IP before : is empty")),
        Some(ip) => ip
            .parse::<IpAddr>()
            .map_err(|_| PortError::InvalidHostIp { spec: spec.to_string(), ip: ip.to_string() })?
            .to_string(),
    };
    let host_port = match host_port {
        None | Some("") => 0,
        Some(h) => {
            let (start, len) = parse_range(spec, h)?;
            if len != range {
                return Err(PortError::PortRangeMismatch {
                    spec: spec.to_string(),
                    host: len as u32,
                    container: range as u32,
                });
            }
            start
        }
    };
    Ok(protocols
        .into_iter()
        .map(|protocol| PortMapping { host_ip: host_ip.clone(), container_port, host_port, range, protocol })
        .collect())
}

fn parse_protocols(spec: &str, list: &str) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for p in list.split(',') {
        let p = if p.is_empty() { "tcp".to_string() } else { p.to_ascii_lowercase() };
        if !PROTOCOLS.contains(&p.as_str()) {
            return Err(PortError::InvalidProtocol { spec: spec.to_string(), protocol: p });
        }
        if !out.contains(&p) {
            out.push(p);
        }
    }
    Ok(out)
}

/// `START[-END]` -> (start, number of ports).
fn parse_range(spec: &str, s: &str) -> Result<(u16, u16)> {
    let bad = |reason| PortError::InvalidPortSpec { spec: spec.to_string(), reason };
    let (start, end) = match s.split_once('-') {
        None => (s, None),
        Some(("", _)) => return Err(bad("port numbers cannot be negative")),
        Some((_, "")) => return Err(bad("a port range needs its end")),
        Some((_, e)) if e.contains('-') => return Err(bad("a port range is START-END")),
        Some((a, e)) => (a, Some(e)),
    };
    let start = parse_number(spec, start)?;
    let Some(end) = end else { return Ok((start, 1)) };
    let end = parse_number(spec, end)?;
    if end <= start {
        return Err(bad("the end of a port range must be above its start"));
    }
    Ok((start, end - start + 1))
}

fn parse_number(spec: &str, s: &str) -> Result<u16> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(PortError::InvalidPortSpec { spec: spec.to_string(), reason: "a port is a number" });
    }
    match s.parse::<u64>() {
        Ok(n @ 1..=65535) => Ok(n as u16),
        _ => Err(PortError::PortOutOfRange { spec: spec.to_string(), port: s.to_string() }),
    }
}

/// Whether two mappings want the same host port: same protocol, host port
/// ranges that meet, and host addresses that meet (empty, 0.0.0.0 and ::
/// are wildcards). Unassigned host ports (0) conflict with nothing.
pub fn conflicts(a: &PortMapping, b: &PortMapping) -> bool {
    a.protocol == b.protocol
        && a.host_port != 0
        && b.host_port != 0
        && (a.host_port as u32) <= b.last_host_port()
        && (b.host_port as u32) <= a.last_host_port()
        && host_ips_meet(&a.host_ip, &b.host_ip)
}

fn host_ips_meet(a: &str, b: &str) -> bool {
    let (Ok(x), Ok(y)) = (a.parse::<IpAddr>(), b.parse::<IpAddr>()) else {
        return true; // an empty host IP is every address
    };
    x == y || (x.is_ipv4() == y.is_ipv4() && (x.is_unspecified() || y.is_unspecified()))
}

/// The first pair of conflicting mappings between two containers' lists.
pub fn find_conflict<'a>(a: &'a [PortMapping], b: &'a [PortMapping]) -> Option<(&'a PortMapping, &'a PortMapping)> {
    a.iter().find_map(|x| b.iter().find(|y| conflicts(x, y)).map(|y| (x, y)))
}

/// Give every mapping without a host port a free one, as podman does at
/// create time: a port the kernel hands out for port 0, whose whole range
/// conflicts neither with `taken` (other containers' mappings) nor with

/// `podman port` lines: `80/tcp -> 0.0.0.0:8080`, one per port of a range.
pub fn port_lines(mappings: &[PortMapping]) -> Vec<String> {
    let mut out = Vec::new();
    for m in mappings {
        let host = match m.host_ip.parse::<IpAddr>() {
            Ok(IpAddr::V6(ip)) => format!("[{ip}]"),
            Ok(ip) => ip.to_string(),
            Err(_) => "0.0.0.0".to_string(),
        };
        for i in 0..m.range.max(1) as u32 {
            out.push(format!("{}/{} -> {host}:{}", m.container_port as u32 + i, m.protocol, m.host_port as u32 + i));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pm(host_ip: &str, host_port: u16, container_port: u16, range: u16, protocol: &str) -> PortMapping {
        PortMapping { host_ip: host_ip.into(), container_port, host_port, range, protocol: protocol.into() }
    }

    #[test]
    fn every_podman_form() {
        let cases: &[(&str, Vec<PortMapping>)] = &[
            ("80", vec![pm("", 0, 80, 1, "tcp")]),
            ("8080:80", vec![pm("", 8080, 80, 1, "tcp")]),
            ("127.0.0.1:8080:80", vec![pm("127.0.0.1", 8080, 80, 1, "tcp")]),
            ("127.0.0.1::80", vec![pm("127.0.0.1", 0, 80, 1, "tcp")]),
            (":80", vec![pm("", 0, 80, 1, "tcp")]),
            ("8080-8082:80-82", vec![pm("", 8080, 80, 3, "tcp")]),
            ("80-82", vec![pm("", 0, 80, 3, "tcp")]),
            ("8080:80/udp", vec![pm("", 8080, 80, 1, "udp")]),
            ("80/tcp", vec![pm("", 0, 80, 1, "tcp")]),
            ("80/SCTP", vec![pm("", 0, 80, 1, "sctp")]),
            ("[::1]:8080:80", vec![pm("::1", 8080, 80, 1, "tcp")]),
            ("[::]::80", vec![pm("::", 0, 80, 1, "tcp")]),
            ("[fd00:0::1]:8080:80/udp", vec![pm("fd00::1", 8080, 80, 1, "udp")]),
            ("8080:80/tcp,udp", vec![pm("", 8080, 80, 1, "tcp"), pm("", 8080, 80, 1, "udp")]),
            ("8080:80/udp,tcp,udp", vec![pm("", 8080, 80, 1, "udp"), pm("", 8080, 80, 1, "tcp")]),
            ("65535:1", vec![pm("", 65535, 1, 1, "tcp")]),
        ];
        for (spec, want) in cases {
            assert_eq!(&parse_port(spec).unwrap(), want, "{spec}");
        }
    }

    #[test]
    fn every_error() {
        let spec = |e: &PortError| match e {
            PortError::InvalidPortSpec { .. } => "spec",
            PortError::PortOutOfRange { .. } => "range",
            PortError::PortRangeMismatch { .. } => "mismatch",
            PortError::InvalidProtocol { .. } => "protocol",
            PortError::InvalidHostIp { .. } => "ip",
            PortError::PortConflict { .. } => "conflict",
        };
        let cases = [
            ("0", "range"),
            ("8080:0", "range"),
            ("0:80", "range"),
            ("70000", "range"),
            ("8080:70000", "range"),
            ("99999999999999999999999", "range"),
            ("80-70000", "range"),
            ("8080-8081:80-82", "mismatch"),
            ("8080:80-81", "mismatch"),
            ("80/icmp", "protocol"),
            ("80/tcp,bogus", "protocol"),
            ("300.1.1.1:8080:80", "ip"),
            ("localhost:8080:80", "ip"),
            ("", "spec"),
            ("8080:", "spec"),
            ("80/", "spec"),
            ("80/tcp/udp", "spec"),
            ("http", "spec"),
            ("-1", "spec"),
            ("80-", "spec"),
            ("82-80", "spec"),
            ("80-80", "spec"),
            ("80-81-82", "spec"),
            ("+80", "spec"),
            ("1:2:3:4", "spec"),
            (":8080:80", "spec"),
            ("::1:8080:80", "spec"),
            ("[::1]:80", "spec"),
            ("::1]:8080:80", "spec"),
            ("[::1]8080:80", "spec"),
            ("[::1]:[::2]:8080:80", "spec"),
            ("[::1]:1:8080:80", "spec"),
        ];
        for (s, kind) in cases {
            let e = parse_port(s).unwrap_err();
            assert_eq!(spec(&e), kind, "{s}: {e}");
            assert!(e.to_string().contains(&format!("{s:?}")), "{e}");
        }
    }

    #[test]
    fn conflicts_between_mappings() {
        let a = pm("", 8080, 80, 1, "tcp");
        assert!(conflicts(&a, &pm("", 8080, 81, 1, "tcp")));
        assert!(!conflicts(&a, &pm("", 8080, 80, 1, "udp")));
        assert!(!conflicts(&a, &pm("", 8081, 80, 1, "tcp")));
        assert!(conflicts(&a, &pm("127.0.0.1", 8080, 80, 1, "tcp")));
        assert!(conflicts(&pm("0.0.0.0", 8080, 80, 1, "tcp"), &pm("127.0.0.1", 8080, 80, 1, "tcp")));
        assert!(!conflicts(&pm("0.0.0.0", 8080, 80, 1, "tcp"), &pm("::1", 8080, 80, 1, "tcp")));
        assert!(conflicts(&pm("::", 8080, 80, 1, "tcp"), &pm("::1", 8080, 80, 1, "tcp")));
        assert!(!conflicts(&pm("127.0.0.1", 8080, 80, 1, "tcp"), &pm("127.0.0.2", 8080, 80, 1, "tcp")));
        // Ranges that meet.
        assert!(conflicts(&pm("", 8000, 80, 10, "tcp"), &pm("", 8009, 1, 1, "tcp")));
        assert!(!conflicts(&pm("", 8000, 80, 10, "tcp"), &pm("", 8010, 1, 5, "tcp")));
        // Not yet assigned.
        assert!(!conflicts(&pm("", 0, 80, 1, "tcp"), &pm("", 0, 80, 1, "tcp")));
        let (mine, theirs) = ([a.clone(), pm("", 9000, 90, 1, "udp")], [pm("", 9000, 1, 1, "udp")]);
        let (x, y) = find_conflict(&mine, &theirs).unwrap();
        assert_eq!((x.host_port, y.container_port), (9000, 1));
        assert!(find_conflict(&[a], &[pm("", 9000, 1, 1, "udp")]).is_none());
    }

    #[test]
    fn one_container_cannot_publish_a_host_port_twice() {
        let e = parse_ports(&["8080:80", "8080:81"]).unwrap_err();
        assert!(matches!(e, PortError::PortConflict { .. }), "{e}");
        assert_eq!(e.to_string(), "port mappings conflict: 8080:80/tcp and 8080:81/tcp");
        // The same mapping twice is one mapping; tcp and udp may share a port.
        assert_eq!(parse_ports(&["8080:80", "8080:80", "8080:80/udp"]).unwrap().len(), 2);
    }

    #[test]
    fn listing_like_podman_port() {
        let m = [pm("", 8080, 80, 1, "tcp"), pm("::1", 5000, 53, 2, "udp")];
        assert_eq!(port_lines(&m), ["80/tcp -> 0.0.0.0:8080", "53/udp -> [::1]:5000", "54/udp -> [::1]:5001"]);
        assert_eq!(pm("127.0.0.1", 8080, 80, 3, "udp").to_string(), "127.0.0.1:8080-8082:80-82/udp");
        assert_eq!(pm("", 0, 80, 1, "tcp").to_string(), "80/tcp");
        assert_eq!(pm("::1", 0, 80, 1, "tcp").to_string(), "[::1]::80/tcp");
        // Every form reads back as itself.
        for spec in ["80/tcp", "8080:80/udp", "127.0.0.1::80/tcp", "[::1]:8080-8081:80-81/sctp"] {
            assert_eq!(parse_port(spec).unwrap()[0].to_string(), spec);
        }
    }

    #[test]
    fn netavark_json_shape() {
        let v = serde_json::to_value(pm("", 8080, 80, 1, "tcp")).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"host_ip": "", "container_port": 80, "host_port": 8080, "range": 1, "protocol": "tcp"})
        );
    }
}
