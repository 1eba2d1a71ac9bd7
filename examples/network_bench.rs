//! The cost of a bridged container's network: create its namespace, set it
//! up with netavark, tear it down. Needs root, netavark and iptables, and a
//! network namespace of its own to play in; run it in the sandbox:
//!
//!   cargo build --release --example network_bench
//!   systemd/sandbox run target/release/examples/network_bench
//!
//! Prints the median of RUNS (default 30) for each case, in milliseconds.

use anyhow::{Context, Result};
use berth::network::{parse_ports, Attachment, ContainerNetworkOptions, NetavarkOptions, NetworkCreate, Networks};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

struct Times {
    netns: Duration,
    setup: Duration,
    teardown: Duration,
}

fn one(n: &Networks, seq: u32, network: &str, ports: &[&str]) -> Result<Times> {
    let id = format!("{:064x}", 0xbe00_0000u64 + seq as u64);
    let t0 = Instant::now();
    let netns = n.create_netns(&id)?;
    let t1 = Instant::now();
    let opts = ContainerNetworkOptions {
        container_id: id.clone(),
        container_name: format!("bench{seq}"),
        hostname: None,
        netns,
        networks: vec![Attachment::new(network)],
        port_mappings: parse_ports(ports)?,
        dns_servers: vec![],
    };
    n.setup(&opts)?;
    let t2 = Instant::now();
    n.teardown(&id)?;
    let t3 = Instant::now();
    n.release(&id)?;
    Ok(Times { netns: t1 - t0, setup: t2 - t1, teardown: t3 - t2 })
}

fn median(mut v: Vec<Duration>) -> f64 {
    v.sort();
    v[v.len() / 2].as_secs_f64() * 1000.0
}

fn main() -> Result<()> {
    let runs: usize = std::env::var("RUNS").ok().map(|r| r.parse()).transpose()?.unwrap_or(30);
    let root = PathBuf::from(format!("/run/berth-network-bench-{}", std::process::id()));
    let n = Networks::open(root.join("config"), root.join("run"))?;
    let dns = n.create(&NetworkCreate::new("benchdns"))?;

    // The floor: starting netavark at all.
    let mut floor = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        let st = Command::new(&n.netavark().binary).arg("version").output().context("netavark version")?;
        anyhow::ensure!(st.status.success(), "netavark version failed");
        floor.push(t.elapsed());
    }
    println!("netavark version (process start floor): {:.2} ms", median(floor));

    // Containers that keep the bridges (and aardvark-dns) up, as on a host
    // that runs other containers.
    let keep = |seq: u32, network: &str| -> Result<String> {
        let id = format!("{:064x}", 0xbf00_0000u64 + seq as u64);
        let netns = n.create_netns(&id)?;
        n.setup(&ContainerNetworkOptions {
            container_id: id.clone(),
            container_name: format!("resident{seq}"),
            hostname: None,
            netns,
            networks: vec![Attachment::new(network)],
            port_mappings: vec![],
            dns_servers: vec![],
        })?;
        Ok(id)
    };

    let cases: [(&str, &str, &[&str], bool); 4] = [
        ("default network, alone (bridge made and removed)", "berth", &[], false),
        ("default network, bridge up", "berth", &[], true),
        ("default network, bridge up, 2 published ports", "berth", &["18080:80", "18081:81/udp"], true),
        ("DNS network, bridge and aardvark-dns up", &dns.name, &[], true),
    ];
    let mut seq = 0;
    for (label, network, ports, resident) in cases {
        let resident = if resident { Some(keep(seq, network)?) } else { None };
        one(&n, 9999, network, ports)?; // warm-up
        let (mut a, mut b, mut c, mut total) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for _ in 0..runs {
            seq += 1;
            let t = one(&n, seq, network, ports)?;
            total.push(t.netns + t.setup + t.teardown);
            a.push(t.netns);
            b.push(t.setup);
            c.push(t.teardown);
        }
        if let Some(id) = resident {
            n.teardown(&id)?;
            n.release(&id)?;
        }
        println!(
            "{label}: create-netns + setup + teardown {:.2} ms (create-netns {:.2}, setup {:.2}, teardown {:.2}; median of {runs})",
            median(total),
            median(a),
            median(b),
            median(c)
        );
    }
    // netavark alone, with the input berth gave it, the bridge kept up:
    // the difference to the cases above is berth's own share.
    let resident = keep(seq + 1, "berth")?;
    let id = format!("{:064x}", 0xbd00_0000u64);
    let netns = n.create_netns(&id)?;
    let opts = ContainerNetworkOptions {
        container_id: id.clone(),
        container_name: "raw".into(),
        hostname: None,
        netns: netns.clone(),
        networks: vec![Attachment::new("berth")],
        port_mappings: vec![],
        dns_servers: vec![],
    };
    n.setup(&opts)?;
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root.join("run/containers").join(format!("{id}.json")))?)?;
    let input: NetavarkOptions = serde_json::from_value(state["options"].clone())?;
    n.teardown(&id)?;
    let netns = n.create_netns(&id)?;
    let (mut up, mut down) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let t0 = Instant::now();
        n.netavark().setup(&netns, &input)?;
        let t1 = Instant::now();
        n.netavark().teardown(&netns, &input)?;
        up.push(t1 - t0);
        down.push(t1.elapsed());
    }
    println!("netavark alone, default network, bridge up: setup {:.2} ms, teardown {:.2} ms", median(up), median(down));
    n.remove_netns(&id)?;
    n.teardown(&resident)?;
    // Best effort: netns/ stays a mount point until the sandbox goes.
    std::fs::remove_dir_all(&root).ok();
    Ok(())
}
