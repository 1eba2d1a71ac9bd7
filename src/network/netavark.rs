//! The netavark driver: its JSON (podman's `NetworkOptions` in,
//! `StatusBlock`s out) and running it the way podman's libnetwork does.

use super::config::Network;
use super::error::{NetworkError, Result};
use super::ports::PortMapping;
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Where Debian, Fedora and upstream install netavark and aardvark-dns
/// (podman's helper_binaries_dir), first match wins.
const HELPER_DIRS: [&str; 4] =
    ["/usr/local/libexec/podman", "/usr/local/lib/podman", "/usr/libexec/podman", "/usr/lib/podman"];

/// What `netavark setup` and `teardown` read on stdin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetavarkOptions {
    pub container_id: String,
    /// Also the name aardvark-dns answers for.
    pub container_name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub port_mappings: Vec<PortMapping>,
    /// Per network: how this container joins it.
    pub networks: BTreeMap<String, PerNetworkOptions>,
    /// Per network: its definition, as stored.
    pub network_info: BTreeMap<String, Network>,
    /// Upstream servers aardvark-dns forwards this container's queries to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dns_servers: Vec<IpAddr>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PerNetworkOptions {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub static_ips: Vec<IpAddr>,
    /// More names aardvark-dns answers for on this network.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// The interface inside the container: eth0, eth1, ...
    pub interface_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub static_mac: Option<String>,
}

/// What `netavark setup` prints: network name -> its status block.
pub type StatusBlocks = BTreeMap<String, StatusBlock>;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusBlock {
    #[serde(default)]
    pub dns_search_domains: Option<Vec<String>>,
    #[serde(default)]
    pub dns_server_ips: Option<Vec<IpAddr>>,
    /// Interface name in the container -> its addresses.
    #[serde(default)]
    pub interfaces: Option<BTreeMap<String, NetInterface>>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetInterface {
    pub mac_address: String,
    #[serde(default)]
    pub subnets: Option<Vec<NetAddress>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetAddress {
    /// The container's address with its subnet's prefix length.
    pub ipnet: IpNet,
    #[serde(default)]
    pub gateway: Option<IpAddr>,
}

/// How to run netavark.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Netavark {
    pub binary: PathBuf,
    pub aardvark_binary: PathBuf,
    /// netavark's `--config`: it keeps aardvark-dns's files below it.
    pub config_dir: PathBuf,
}

#[derive(Deserialize)]
struct NetavarkErrorJson {
    error: String,
}

impl Netavark {
    /// netavark and aardvark-dns from podman's helper directories.
    pub fn find(config_dir: PathBuf) -> Netavark {
        Netavark { binary: find_helper("netavark"), aardvark_binary: find_helper("aardvark-dns"), config_dir }
    }

    /// `netavark setup NETNS`: interfaces, addresses, firewall rules, DNS.
    pub fn setup(&self, netns: &Path, opts: &NetavarkOptions) -> Result<StatusBlocks> {
        let out = self.run("setup", netns, opts)?;
        serde_json::from_str(&out).map_err(|source| NetworkError::NetavarkOutput {
            command: "setup",
            output: out,
            source,
        })
    }

    /// `netavark teardown NETNS`: the inverse of setup.
    pub fn teardown(&self, netns: &Path, opts: &NetavarkOptions) -> Result<()> {
        self.run("teardown", netns, opts).map(drop)
    }

    fn run(&self, command: &'static str, netns: &Path, opts: &NetavarkOptions) -> Result<String> {
        let input = serde_json::to_vec(opts).map_err(|source| NetworkError::NetavarkOutput {
            command,
            output: String::new(),
            source,
        })?;
        std::fs::create_dir_all(&self.config_dir).map_err(NetworkError::io("create", &self.config_dir))?;
        let mut cmd = Command::new(&self.binary);
        cmd.arg("--config")
            .arg(&self.config_dir)
            .arg("--rootless=false")
            .arg("--aardvark-binary")
            .arg(&self.aardvark_binary)
            .arg(command)
            .arg(netns)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // netavark runs iptables from $PATH; units and some shells lack sbin.
        let path = std::env::var("PATH").unwrap_or_default();
        if !path.split(':').any(|p| p == "/usr/sbin") {
            cmd.env("PATH", format!("{path}:/usr/sbin:/sbin").trim_start_matches(':'));
        }
        tracing::debug!(binary = %self.binary.display(), command, netns = %netns.display(), "running netavark");
        let mut child =
            cmd.spawn().map_err(|source| NetworkError::NetavarkSpawn { binary: self.binary.clone(), source })?;
        if let Some(mut stdin) = child.stdin.take() {
            // A netavark that fails before reading its input closes the pipe;
            // its exit status and message then tell what went wrong.
            let _ = stdin.write_all(&input);
        }
        let out = child
            .wait_with_output()
            .map_err(|source| NetworkError::NetavarkSpawn { binary: self.binary.clone(), source })?;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
        if !stderr.is_empty() {
            tracing::info!(command, "netavark: {stderr}");
        }
        if out.status.success() {
            return Ok(stdout);
        }
        let message = match serde_json::from_str::<NetavarkErrorJson>(stdout.trim()) {
            Ok(e) => e.error,
            Err(_) if !stderr.is_empty() => stderr,
            Err(_) if !stdout.trim().is_empty() => stdout.trim().to_string(),
            Err(_) => format!("exited with {}", out.status),
        };
        Err(NetworkError::Netavark { command, message, exit_code: out.status.code() })
    }
}

fn find_helper(name: &str) -> PathBuf {
    HELPER_DIRS
        .iter()
        .map(|d| Path::new(d).join(name))
        .find(|p| p.exists())
        .unwrap_or_else(|| Path::new("/usr/lib/podman").join(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What netavark 1.4 printed in berth's sandbox for a DNS network.
    const SETUP_OUTPUT: &str = r#"{"t1":{"dns_search_domains":["dns.podman"],"dns_server_ips":["10.77.0.1"],"interfaces":{"eth0":{"mac_address":"ba:49:c8:7a:d9:f4","subnets":[{"gateway":"10.77.0.1","ipnet":"10.77.0.2/24"}]}}}}"#;

    /// podman's NetworkOptions for one container on one network.
    const PODMAN_OPTIONS: &str = r#"{"container_id":"aaaa000000000000000000000000000000000000000000000000000000000001","container_name":"c1","port_mappings":[{"host_ip":"","container_port":80,"host_port":8080,"range":1,"protocol":"tcp"}],"networks":{"t1":{"static_ips":["10.77.0.2"],"aliases":["web"],"interface_name":"eth0"}},"network_info":{"t1":{"name":"t1","id":"1111111111111111111111111111111111111111111111111111111111111111","driver":"bridge","network_interface":"bt1","created":"2024-03-01T10:20:30Z","subnets":[{"subnet":"10.77.0.0/24","gateway":"10.77.0.1"}],"ipv6_enabled":false,"internal":false,"dns_enabled":true,"ipam_options":{"driver":"host-local"}}}}"#;

    #[test]
    fn status_blocks_parse() {
        let s: StatusBlocks = serde_json::from_str(SETUP_OUTPUT).unwrap();
        let b = &s["t1"];
        assert_eq!(b.dns_server_ips.as_deref(), Some(&["10.77.0.1".parse().unwrap()][..]));
        let eth0 = &b.interfaces.as_ref().unwrap()["eth0"];
        assert_eq!(eth0.mac_address, "ba:49:c8:7a:d9:f4");
        let a = &eth0.subnets.as_ref().unwrap()[0];
        assert_eq!((a.ipnet.addr().to_string(), a.ipnet.prefix_len()), ("10.77.0.2".to_string(), 24));
        // null where netavark has nothing to say.
        let s: StatusBlocks = serde_json::from_str(r#"{"n":{"dns_search_domains":null,"dns_server_ips":null,"interfaces":{"eth0":{"mac_address":"x","subnets":null}}}}"#).unwrap();
        assert!(s["n"].dns_server_ips.is_none());
    }

    #[test]
    fn options_round_trip_podmans_json() {
        let o: NetavarkOptions = serde_json::from_str(PODMAN_OPTIONS).unwrap();
        assert_eq!(o.networks["t1"].static_ips, vec!["10.77.0.2".parse::<IpAddr>().unwrap()]);
        let back: serde_json::Value = serde_json::to_value(&o).unwrap();
        assert_eq!(back, serde_json::from_str::<serde_json::Value>(PODMAN_OPTIONS).unwrap());
    }

    /// A stand-in netavark running `script`.
    fn fake(dir: &Path, script: &str) -> Netavark {
        use std::os::unix::fs::PermissionsExt;
        let bin = dir.join(format!("netavark-{}", script.len()));
        std::fs::write(&bin, format!("#!/bin/sh\n[ \"$1\" = probe ] && exit 0\n{script}\n")).unwrap();
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
        // Another test's fork may hold the new file open for a moment (ETXTBSY).
        for _ in 0..100 {
            match Command::new(&bin).arg("probe").status() {
                Ok(_) => break,
                Err(_) => std::thread::sleep(std::time::Duration::from_millis(10)),
            }
        }
        Netavark { binary: bin, aardvark_binary: dir.join("aardvark-dns"), config_dir: dir.join("cfg") }
    }

    #[test]
    fn runs_like_podman_and_reads_errors() {
        let d = tempfile::tempdir().unwrap();
        let o: NetavarkOptions = serde_json::from_str(PODMAN_OPTIONS).unwrap();
        // The command line and stdin, echoed back as the status.
        let n = fake(
            d.path(),
            &format!("echo \"$@\" > {0}/args; cat > {0}/stdin; echo '{1}'", d.path().display(), SETUP_OUTPUT),
        );
        let s = n.setup(Path::new("/run/x/netns/c"), &o).unwrap();
        assert!(s.contains_key("t1"));
        let args = std::fs::read_to_string(d.path().join("args")).unwrap();
        assert_eq!(
            args.trim(),
            format!(
                "--config {0}/cfg --rootless=false --aardvark-binary {0}/aardvark-dns setup /run/x/netns/c",
                d.path().display()
            )
        );
        let stdin: NetavarkOptions = serde_json::from_slice(&std::fs::read(d.path().join("stdin")).unwrap()).unwrap();
        assert_eq!(stdin, o);

        let n = fake(
            d.path(),
            r#"echo '{"error":"create bridge: Netlink error: Operation not permitted (os error 1)"}'; exit 1"#,
        );
        match n.teardown(Path::new("/x"), &o).unwrap_err() {
            NetworkError::Netavark { command, message, exit_code } => {
                assert_eq!((command, exit_code), ("teardown", Some(1)));
                assert_eq!(message, "create bridge: Netlink error: Operation not permitted (os error 1)");
            }
            e => panic!("{e}"),
        }
        let n = fake(d.path(), "echo 'thread main panicked' >&2; exit 101");
        let e = n.setup(Path::new("/x"), &o).unwrap_err();
        assert!(e.to_string().contains("thread main panicked"), "{e}");
        let n = fake(d.path(), "echo 'not json'");
        assert!(matches!(n.setup(Path::new("/x"), &o), Err(NetworkError::NetavarkOutput { .. })));
        let n = Netavark { binary: d.path().join("missing"), ..n };
        assert!(matches!(n.setup(Path::new("/x"), &o), Err(NetworkError::NetavarkSpawn { .. })));
    }
}
