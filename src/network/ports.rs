//! Published ports: the parsing and conflict rules are the model's
//! ([`crate::model::ports`], shared with clients); here the network layer's
//! errors for them, and the choice of free host ports.

use super::error::{NetworkError, Result};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, TcpListener, UdpSocket};

pub use crate::model::ports::{conflicts, find_conflict, port_lines, PortMapping, PROTOCOLS};

/// Parse `-p` arguments (see [`crate::model::ports::parse_ports`]).
pub fn parse_ports<S: AsRef<str>>(specs: &[S]) -> Result<Vec<PortMapping>> {
    crate::model::ports::parse_ports(specs).map_err(NetworkError::from)
}

/// Parse one `-p` argument (podman's `CreatePortBindings` rules).
pub fn parse_port(spec: &str) -> Result<Vec<PortMapping>> {
    crate::model::ports::parse_port(spec).map_err(NetworkError::from)
}

/// Give every mapping without a host port a free one, as podman does at
/// create time: a port the kernel hands out for port 0, whose whole range
/// conflicts neither with `taken` (other containers' mappings) nor with
/// the other mappings of this list.
pub fn assign_host_ports(mappings: &mut [PortMapping], taken: &[PortMapping]) -> Result<()> {
    for i in 0..mappings.len() {
        if mappings[i].host_port != 0 {
            continue;
        }
        let mut found = None;
        for _ in 0..32 {
            let port = ephemeral_port(&mappings[i])?;
            let mut candidate = mappings[i].clone();
            candidate.host_port = port;
            let fits = candidate.last_host_port() <= 65535;
            let clash = taken.iter().chain(mappings.iter()).any(|o| conflicts(o, &candidate));
            if fits && !clash {
                found = Some(port);
                break;
            }
        }
        match found {
            Some(p) => mappings[i].host_port = p,
            None => {
                return Err(NetworkError::NoFreeHostPort {
                    container_port: mappings[i].container_port,
                    protocol: mappings[i].protocol.clone(),
                })
            }
        }
    }
    Ok(())
}

/// A port the kernel considers free now, on the mapping's host address.
fn ephemeral_port(m: &PortMapping) -> Result<u16> {
    let ip = m.host_ip.parse::<IpAddr>().unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    let ip = if ip.is_ipv6() && ip.is_unspecified() { IpAddr::V6(Ipv6Addr::UNSPECIFIED) } else { ip };
    let local = |e: std::io::Error| NetworkError::io("find a free port on", format!("{ip}"))(e);
    let port = if m.protocol == "udp" {
        UdpSocket::bind((ip, 0)).and_then(|s| s.local_addr()).map_err(local)?.port()
    } else {
        TcpListener::bind((ip, 0)).and_then(|s| s.local_addr()).map_err(local)?.port()
    };
    Ok(port)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pm(host_ip: &str, host_port: u16, container_port: u16, range: u16, protocol: &str) -> PortMapping {
        PortMapping { host_ip: host_ip.into(), container_port, host_port, range, protocol: protocol.into() }
    }

    #[test]
    fn errors_keep_their_kind() {
        assert!(matches!(parse_port("70000"), Err(NetworkError::PortOutOfRange { .. })));
        assert!(matches!(parse_ports(&["8080:80", "8080:81"]), Err(NetworkError::PortConflict { .. })));
        assert!(parse_port("http").unwrap_err().is_invalid_input());
    }

    #[test]
    fn random_host_ports() {
        let mut m = parse_ports(&["80", "127.0.0.1::53/udp", "9000-9002"]).unwrap();
        let taken = [pm("", 9999, 1, 1, "tcp")];
        assign_host_ports(&mut m, &taken).unwrap();
        assert!(m.iter().all(|x| x.host_port != 0 && x.last_host_port() <= 65535));
        assert_eq!(m[1].host_ip, "127.0.0.1");
        assert!(find_conflict(&m, &taken).is_none());
        assert!(!conflicts(&m[0], &m[2]));
    }
}
