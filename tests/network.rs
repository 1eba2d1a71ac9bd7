//! berth's network layer against the real netavark, aardvark-dns and
//! iptables, inside the systemd sandbox (its own network namespace: all
//! traffic goes to addresses these tests create). Run with
//! `systemd/sandbox with cargo test --test network`.
//!
//! The tests count iptables rules and links, so they take turns.

mod common;

use berth::network::{
    find_conflict, hosts_file, parse_ports, resolv_conf, teardown_from_state, Attachment, ContainerNetworkOptions,
    ContainerNetworkStatus, HostsOptions, Network, NetworkCreate, NetworkError, Networks, PortMapping, ResolvOptions,
};
use nix::sched::{setns, CloneFlags};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

/// One test at a time: they count the sandbox's rules and links.
fn turn() -> MutexGuard<'static, ()> {
    static TURN: Mutex<()> = Mutex::new(());
    TURN.lock().unwrap_or_else(|e| e.into_inner())
}

/// The store all tests share, as berthd would have it.
fn store() -> &'static Networks {
    static S: OnceLock<Networks> = OnceLock::new();
    S.get_or_init(|| {
        common::require_systemd();
        for bin in ["/usr/lib/podman/netavark", "/usr/lib/podman/aardvark-dns", "/usr/sbin/iptables", "/bin/busybox"] {
            assert!(
                Path::new(bin).exists(),
                "{bin} is missing: install netavark, aardvark-dns, iptables and busybox-static"
            );
        }
        let root = PathBuf::from(format!("/run/berth-network-test-{}", std::process::id()));
        // The default network, as berth writes it, moved to its own subnet,
        // bridge and id: berthd's containers in the same sandbox hold
        // addresses on berth0, and netavark names firewall chains by id.
        let seed = root.join("seed");
        Networks::open(seed.join("config"), seed.join("run")).unwrap();
        let mut net: serde_json::Value =
            serde_json::from_slice(&std::fs::read(seed.join("config/berth.json")).unwrap()).unwrap();
        net["id"] = "7e57".repeat(16).into();
        net["network_interface"] = "bt0".into();
        net["subnets"] = serde_json::json!([{ "subnet": "10.88.77.0/24", "gateway": "10.88.77.1" }]);
        std::fs::create_dir_all(root.join("config")).unwrap();
        std::fs::write(root.join("config/berth.json"), net.to_string()).unwrap();
        Networks::open(root.join("config"), root.join("run")).unwrap()
    })
}

/// A new container id and name.
fn container() -> (String, String) {
    static N: AtomicU32 = AtomicU32::new(1);
    let n = N.fetch_add(1, Ordering::Relaxed);
    (format!("{:08x}{:056x}", std::process::id(), n), format!("c{n}"))
}

fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(1);
    format!("{prefix}{}", N.fetch_add(1, Ordering::Relaxed))
}

struct Started {
    id: String,
    name: String,
    netns: PathBuf,
    status: ContainerNetworkStatus,
}

impl Started {
    fn ip(&self, network: &str) -> IpAddr {
        self.status.networks[network].ip().unwrap().addr()
    }

    fn stop(&self) {
        assert!(store().teardown(&self.id).unwrap());
    }
}

impl Drop for Started {
    /// A failed test still removes its rules, which would otherwise catch
    /// the next test's traffic to the same host port.
    fn drop(&mut self) {
        if std::thread::panicking() {
            let _ = store().teardown(&self.id);
        }
    }
}

fn start(networks: Vec<Attachment>, ports: Vec<PortMapping>) -> Started {
    start_with_dns(networks, ports, vec![])
}

/// `dns_servers`: where aardvark-dns forwards names it does not know.
fn start_with_dns(networks: Vec<Attachment>, ports: Vec<PortMapping>, dns_servers: Vec<IpAddr>) -> Started {
    let s = store();
    let (id, name) = container();
    let netns = s.create_netns(&id).unwrap();
    let opts = ContainerNetworkOptions {
        container_id: id.clone(),
        container_name: name.clone(),
        hostname: None,
        netns: netns.clone(),
        networks,
        port_mappings: ports,
        dns_servers,
    };
    let status = s.setup(&opts).unwrap();
    Started { id, name, netns, status }
}

fn on(network: &str) -> Vec<Attachment> {
    vec![Attachment::new(network)]
}

fn create(req: NetworkCreate) -> Network {
    store().create(&req).unwrap()
}

fn sh(args: &[&str]) -> std::process::Output {
    Command::new(args[0]).args(&args[1..]).output().unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

fn text(o: &std::process::Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// Run a busybox applet inside a namespace.
fn busybox_in(netns: &Path, args: &[&str]) -> std::process::Output {
    let net = format!("--net={}", netns.display());
    let mut all = vec!["nsenter", net.as_str(), "busybox"];
    all.extend_from_slice(args);
    sh(&all)
}

fn ping(from: &Path, to: IpAddr) -> bool {
    busybox_in(from, &["ping", "-c", "1", "-W", "1", &to.to_string()]).status.success()
}

/// The sandbox's iptables rules, without iptables-save's comment lines.
fn rules() -> Vec<String> {
    String::from_utf8_lossy(&sh(&["iptables-save"]).stdout)
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(str::to_string)
        .collect()
}

/// iptables rules (comment lines carry times) and links of the sandbox.
fn counts() -> (usize, usize) {
    let rules = String::from_utf8_lossy(&sh(&["iptables-save"]).stdout).lines().filter(|l| !l.starts_with('#')).count();
    let links = String::from_utf8_lossy(&sh(&["ip", "-o", "link"]).stdout).lines().count();
    (rules, links)
}

/// Run `f` on a thread that joined `netns`: sockets it makes live there.
fn in_netns<T: Send + 'static>(netns: &Path, f: impl FnOnce() -> T + Send + 'static) -> T {
    let file = std::fs::File::open(netns).unwrap();
    std::thread::spawn(move || {
        setns(&file, CloneFlags::CLONE_NEWNET).unwrap();
        f()
    })
    .join()
    .unwrap()
}

/// A TCP server answering `hello` and a UDP echo server, inside a
/// namespace, until dropped.
struct Servers {
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Servers {
    fn start(netns: &Path, tcp_port: u16, udp_port: u16) -> Servers {
        let (tcp, udp) = in_netns(netns, move || {
            (TcpListener::bind(("0.0.0.0", tcp_port)).unwrap(), UdpSocket::bind(("0.0.0.0", udp_port)).unwrap())
        });
        let stop = Arc::new(AtomicBool::new(false));
        tcp.set_nonblocking(true).unwrap();
        udp.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
        let s1 = stop.clone();
        let t1 = std::thread::spawn(move || {
            while !s1.load(Ordering::Relaxed) {
                match tcp.accept() {
                    Ok((mut c, _)) => {
                        let _ = c.write_all(b"hello");
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        let s2 = stop.clone();
        let t2 = std::thread::spawn(move || {
            let mut buf = [0u8; 64];
            while !s2.load(Ordering::Relaxed) {
                if let Ok((n, from)) = udp.recv_from(&mut buf) {
                    let _ = udp.send_to(&buf[..n], from);
                }
            }
        });
        Servers { stop, threads: vec![t1, t2] }
    }
}

impl Drop for Servers {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

fn tcp_answers(addr: SocketAddr) -> bool {
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_secs(1)) else { return false };
    s.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
    let mut got = String::new();
    s.read_to_string(&mut got).is_ok() && got == "hello"
}

fn udp_answers(addr: SocketAddr) -> bool {
    let s = UdpSocket::bind(("0.0.0.0", 0)).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
    for _ in 0..3 {
        if s.send_to(b"ping", addr).is_err() {
            return false;
        }
        let mut buf = [0u8; 16];
        if let Ok((4, _)) = s.recv_from(&mut buf) {
            return &buf[..4] == b"ping";
        }
    }
    false
}

/// An address of the sandbox itself that is not on a bridge: one end of a
/// veth pair (no dummy driver here).
fn own_address() -> IpAddr {
    static A: OnceLock<IpAddr> = OnceLock::new();
    *A.get_or_init(|| {
        for args in [
            &["ip", "link", "add", "bt-own0", "type", "veth", "peer", "name", "bt-own1"][..],
            &["ip", "addr", "add", "198.51.100.7/32", "dev", "bt-own0"],
            &["ip", "link", "set", "bt-own0", "up"],
            &["ip", "link", "set", "bt-own1", "up"],
        ] {
            let o = sh(args);
            assert!(o.status.success(), "{args:?}: {}", text(&o));
        }
        "198.51.100.7".parse().unwrap()
    })
}

#[test]
fn two_containers_ping_each_other_on_the_default_network() {
    let _t = turn();
    let a = start(on("berth"), vec![]);
    let b = start(on("berth"), vec![]);
    let (ia, ib) = (a.ip("berth"), b.ip("berth"));
    assert_ne!(ia, ib);
    let sa = &a.status.networks["berth"];
    assert_eq!(sa.interface, "eth0");
    assert_eq!(sa.ip().unwrap().prefix_len(), 24);
    assert_eq!(sa.gateway(), Some("10.88.77.1".parse().unwrap()));
    assert_eq!(sa.mac_address.len(), 17);
    assert!(sa.dns_servers.is_empty(), "the default network has no DNS");
    assert!(ping(&a.netns, ib), "a cannot ping b at {ib}");
    assert!(ping(&b.netns, ia), "b cannot ping a at {ia}");
    // The address is what the leases say.
    let leases = store().leases("berth").unwrap();
    assert_eq!(leases.containers[&a.id], vec![ia]);
    a.stop();
    assert!(!ping(&b.netns, ia), "a's address still answers after teardown");
    b.stop();
    assert!(!a.netns.exists() && !b.netns.exists());
}

#[test]
fn containers_resolve_each_other_by_name_and_alias() {
    let _t = turn();
    let net = create(NetworkCreate::new(&unique("dns")));
    assert!(net.dns_enabled);
    // Unknown names go to an upstream on the sandbox's loopback, never out.
    let loopback = vec![IpAddr::from([127, 0, 0, 1])];
    let a = start_with_dns(
        vec![Attachment { aliases: vec!["web".into()], ..Attachment::new(&net.name) }],
        vec![],
        loopback.clone(),
    );
    let b = start_with_dns(on(&net.name), vec![], loopback);
    let dns = b.status.networks[&net.name].dns_servers.clone();
    assert_eq!(dns, vec![net.subnets[0].gateway.unwrap()], "aardvark-dns listens on the gateway");
    let ia = a.ip(&net.name).to_string();
    for name in [a.name.as_str(), "web", &a.id[..12]] {
        let o = busybox_in(&b.netns, &["nslookup", name, &dns[0].to_string()]);
        assert!(o.status.success() && text(&o).contains(&format!("Address: {ia}")), "{name}: {}", text(&o));
    }
    // aardvark-dns's entry for a carries its upstream server.
    let entries = std::fs::read_to_string(store().run_dir().join("aardvark/aardvark-dns").join(&net.name)).unwrap();
    let line = entries.lines().find(|l| l.starts_with(&a.id)).unwrap_or_else(|| panic!("{entries}"));
    assert!(line.ends_with("127.0.0.1"), "{line}");
    let o = busybox_in(&b.netns, &["nslookup", "nosuchname", &dns[0].to_string()]);
    assert!(!text(&o).contains(&format!("Address: {ia}")), "{}", text(&o));
    // The files the container gets point at aardvark-dns and at itself.
    let resolv =
        resolv_conf(&ResolvOptions { host: "nameserver 127.0.0.53\n", status: Some(&b.status), ..Default::default() });
    assert_eq!(resolv, format!("search dns.podman\nnameserver {}\n", dns[0]));
    let names = vec![b.name.clone()];
    let hosts = hosts_file(&HostsOptions { names: &names, status: Some(&b.status), ..Default::default() }).unwrap();
    assert!(hosts.contains(&format!("{}\t{}\n", b.ip(&net.name), b.name)), "{hosts}");
    assert!(hosts.contains(&format!("{}\thost.containers.internal", dns[0])), "{hosts}");
    let files = store().write_container_files(&b.id, &hosts, &resolv).unwrap();
    assert_eq!(std::fs::read_to_string(&files.resolv_conf).unwrap(), resolv);
    a.stop();
    // a's name is gone from DNS with it.
    let o = busybox_in(&b.netns, &["nslookup", &a.name, &dns[0].to_string()]);
    assert!(!text(&o).contains(&format!("Address: {ia}")), "{}", text(&o));
    b.stop();
    store().release(&b.id).unwrap();
    assert!(!files.hosts.exists());
}

#[test]
fn an_internal_network_reaches_nothing_outside_it() {
    let _t = turn();
    let own = own_address();
    let internal = create(NetworkCreate { internal: true, dns_enabled: false, ..NetworkCreate::new(&unique("int")) });
    assert_eq!(internal.subnets[0].gateway, None);
    let x = start(on(&internal.name), vec![]);
    let y = start(on(&internal.name), vec![]);
    let outside = start(on("berth"), vec![]);
    assert!(ping(&outside.netns, own), "a bridged container reaches the host's {own}");
    assert!(ping(&x.netns, y.ip(&internal.name)), "x reaches y on the internal network");
    for target in [own, outside.ip("berth"), "10.88.77.1".parse().unwrap()] {
        assert!(!ping(&x.netns, target), "the internal container reached {target}");
    }
    assert_eq!(x.status.networks[&internal.name].gateway(), None);
    for c in [x, y, outside] {
        c.stop();
    }
}

#[test]
fn published_ports_answer_and_reload_brings_them_back() {
    let _t = turn();
    let own = own_address();
    let ports = parse_ports(&["18080:80", "18081:81/udp"]).unwrap();
    let c = start(on("berth"), ports.clone());
    let _servers = Servers::start(&c.netns, 80, 81);
    assert_eq!(c.status.port_lines(), ["80/tcp -> 0.0.0.0:18080", "81/udp -> 0.0.0.0:18081"]);
    let targets = [IpAddr::from([127, 0, 0, 1]), own];
    let all_answer = || targets.iter().all(|ip| tcp_answers((*ip, 18080).into()) && udp_answers((*ip, 18081).into()));
    assert!(all_answer(), "published ports do not answer");
    assert!(tcp_answers((c.ip("berth"), 80).into()), "the container's own address");

    // A firewall reload drops netavark's rules...
    for t in ["nat", "filter"] {
        assert!(sh(&["iptables", "-t", t, "-F"]).status.success());
    }
    assert!(!tcp_answers((IpAddr::from([127, 0, 0, 1]), 18080).into()), "tcp still answers without rules");
    assert!(!udp_answers((own, 18081).into()), "udp still answers without rules");
    // ...and reload sets them up again, with the same address.
    let again = store().reload(&c.id).unwrap();
    assert_eq!(again.networks["berth"].ip(), c.status.networks["berth"].ip());
    assert_eq!(again.ports, ports);
    // Probes are retried a little: on a loaded machine one answer can come
    // later than the probe waits.
    let answered = (0..5).any(|i| {
        if i > 0 {
            std::thread::sleep(Duration::from_millis(500));
        }
        all_answer()
    });
    let rules = String::from_utf8_lossy(&sh(&["iptables-save"]).stdout).into_owned();
    assert!(answered, "published ports do not answer after reload; rules:\n{rules}");
    assert_eq!(store().status(&c.id).unwrap(), Some(again));
    c.stop();
    assert!(!tcp_answers((IpAddr::from([127, 0, 0, 1]), 18080).into()), "answers after teardown");
}

#[test]
fn fifty_containers_at_once_get_fifty_addresses_and_leave_nothing() {
    let _t = turn();
    let net = create(NetworkCreate { dns_enabled: false, ..NetworkCreate::new(&unique("par")) });
    // netavark leaves its top-level chains after the first use: count after it.
    start(on(&net.name), vec![]).stop();
    let before = counts();
    let threads: Vec<_> = (0..50)
        .map(|_| {
            let name = net.name.clone();
            std::thread::spawn(move || start(on(&name), vec![]))
        })
        .collect();
    let started: Vec<Started> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let mut ips: Vec<IpAddr> = started.iter().map(|c| c.ip(&net.name)).collect();
    ips.sort();
    ips.dedup();
    assert_eq!(ips.len(), 50);
    let (_, links) = counts();
    assert_eq!(links, before.1 + 50 + 1, "50 veths and the bridge");
    assert!(ping(&started[0].netns, started[49].ip(&net.name)));
    let stops: Vec<_> = started.into_iter().map(|c| std::thread::spawn(move || c.stop())).collect();
    for t in stops {
        t.join().unwrap();
    }
    assert_eq!(counts(), before, "(iptables rules, links) after tearing all down");
    let left = std::fs::read_dir(store().run_dir().join("containers")).unwrap().count();
    assert_eq!(left, 0, "state files left");
}

/// Not a test on its own: `teardown_from_state_works_from_another_process`
/// runs this binary again with BERTH_TEARDOWN set, as the container unit's
/// ExecStopPost would run berth-monitor.
#[test]
fn helper_teardown_from_state() {
    if let Ok(arg) = std::env::var("BERTH_TEARDOWN") {
        let (run_dir, id) = arg.split_once(' ').unwrap();
        let r = teardown_from_state(Path::new(run_dir), id);
        println!("teardown result: {r:?}");
        assert!(r.is_ok());
    }
}

#[test]
fn teardown_from_state_works_from_another_process() {
    let _t = turn();
    // A first cycle leaves netavark's own chains, and sweeps up empty ones
    // an earlier test may have left: count after it.
    start(on("berth"), parse_ports(&["18090:80"]).unwrap()).stop();
    let before = counts();
    let c = start(on("berth"), parse_ports(&["18090:80"]).unwrap());
    assert_ne!(counts(), before);
    let run = || {
        Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "helper_teardown_from_state", "--nocapture", "--test-threads=1"])
            .env("BERTH_TEARDOWN", format!("{} {}", store().run_dir().display(), c.id))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    // Two at once, then once more: one tears down, the others find nothing.
    let (p1, p2) = (run(), run());
    let p1 = p1.wait_with_output().unwrap();
    let outputs = [p1, p2.wait_with_output().unwrap(), run().wait_with_output().unwrap()];
    let all: String = outputs.iter().map(text).collect();
    assert!(outputs.iter().all(|o| o.status.success()), "{all}");
    assert_eq!(all.matches("teardown result: Ok(true)").count(), 1, "{all}");
    assert_eq!(all.matches("teardown result: Ok(false)").count(), 2, "{all}");
    assert_eq!(counts(), before, "rules and links back to what they were");
    assert!(!c.netns.exists());
    assert_eq!(store().status(&c.id).unwrap(), None);
    assert!(!store().teardown(&c.id).unwrap());
}

#[test]
fn teardown_after_the_namespace_vanished_still_removes_the_rules() {
    let _t = turn();
    // Another container keeps the bridge and the network's own rules: a
    // teardown that cannot find the container's interface leaves those
    // (netavark removes them with the last interface it sees go).
    let keeper = start(on("berth"), vec![]);
    let before = counts();
    let rules_before = rules();
    let c = start(on("berth"), parse_ports(&["18095:80"]).unwrap());
    // As after a crash that lost the namespace: its interfaces die with it,
    // the firewall rules stay until teardown.
    store().remove_netns(&c.id).unwrap();
    common::wait_until(Duration::from_secs(10), || counts().1 == before.1);
    assert_ne!(counts().0, before.0, "the port's rules are still there");
    assert!(store().teardown(&c.id).unwrap());
    // Every rule is gone; netavark may leave an empty chain of the network's
    // (it deletes the chains only with the last interface it sees).
    let left: Vec<String> = rules().into_iter().filter(|l| !rules_before.contains(l)).collect();
    assert!(left.iter().all(|l| l.starts_with(":NETAVARK-")), "{left:?}");
    assert_eq!(counts().1, before.1);
    assert!(!tcp_answers((IpAddr::from([127, 0, 0, 1]), 18095).into()));
    keeper.stop();
}

#[test]
fn bad_input_is_named_and_changes_nothing() {
    let _t = turn();
    let s = store();
    let net = create(NetworkCreate::new(&unique("bad")).subnet("10.97.0.0/24", None));
    let user = start(on(&net.name), vec![]);
    let snapshot = || {
        let mut m = BTreeMap::new();
        for e in
            std::fs::read_dir(s.config_dir()).unwrap().chain(std::fs::read_dir(s.config_dir().join("ipam")).unwrap())
        {
            let p = e.unwrap().path();
            if p.is_file() {
                m.insert(p.clone(), std::fs::read(&p).unwrap());
            }
        }
        (m, counts())
    };
    let before = snapshot();

    let e = s.create(&NetworkCreate::new(&unique("bad")).subnet("10.97.0.128/25", None)).unwrap_err();
    assert!(matches!(e, NetworkError::SubnetOverlap { .. }), "{e}");
    let e = s.create(&NetworkCreate::new(&net.name)).unwrap_err();
    assert!(matches!(e, NetworkError::NetworkExists { .. }), "{e}");
    let users = |n: &Network| s.leases(&n.name).unwrap().containers.keys().cloned().collect::<Vec<_>>();
    let e = s.remove(&net.name, users).unwrap_err();
    assert!(matches!(&e, NetworkError::NetworkInUse { containers, .. } if containers == &vec![user.id.clone()]), "{e}");
    for spec in ["0", "70000", "8080:0", "1-70000"] {
        let e = parse_ports(&[spec]).unwrap_err();
        assert!(matches!(e, NetworkError::PortOutOfRange { .. }), "{spec}: {e}");
    }
    let attempt = |networks: Vec<Attachment>| {
        let (id, name) = container();
        let netns = s.create_netns(&id).unwrap();
        let opts = ContainerNetworkOptions {
            container_id: id.clone(),
            container_name: name,
            hostname: None,
            netns,
            networks,
            port_mappings: vec![],
            dns_servers: vec![],
        };
        let e = s.setup(&opts).unwrap_err();
        assert!(!s.teardown(&id).unwrap(), "nothing was set up");
        e
    };
    let e = attempt(on("no-such-network"));
    assert!(matches!(e, NetworkError::NoSuchNetwork { .. }), "{e}");
    let e = attempt(vec![Attachment { static_ips: vec!["10.98.0.5".parse().unwrap()], ..Attachment::new(&net.name) }]);
    assert!(matches!(e, NetworkError::AddressOutsideSubnet { .. }), "{e}");
    let e = attempt(vec![Attachment { static_ips: vec![user.ip(&net.name)], ..Attachment::new(&net.name) }]);
    assert!(matches!(&e, NetworkError::AddressInUse { container, .. } if container == &user.id), "{e}");
    let e = attempt(vec![Attachment { static_ips: vec!["10.97.0.1".parse().unwrap()], ..Attachment::new(&net.name) }]);
    assert!(matches!(e, NetworkError::AddressIsGateway { .. }), "{e}");
    // Ports another container publishes are a conflict the engine sees.
    let mine = parse_ports(&["8080:80"]).unwrap();
    assert!(find_conflict(&mine, &parse_ports(&["127.0.0.1:8080:9000"]).unwrap()).is_some());

    assert!(before == snapshot(), "stored JSON, rules or links changed");
    user.stop();
    s.release(&user.id).unwrap();
    s.remove(&net.name, users).unwrap();
}

#[test]
fn network_namespaces() {
    let _t = turn();
    let s = store();
    let (id, _) = container();
    let own_ns = || std::fs::read_link("/proc/thread-self/ns/net").unwrap();
    let mine = own_ns();
    // A mount namespace made before the netns, receiving mounts as a slave.
    let mut other = Command::new("unshare").args(["--mount", "--propagation", "slave", "sleep", "30"]).spawn().unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let path = s.create_netns(&id).unwrap();
    assert_eq!(own_ns(), mine, "the calling thread's namespace changed");
    assert!(berth::network::is_netns(&path));
    let e = s.create_netns(&id).unwrap_err();
    assert!(matches!(e, NetworkError::NetnsExists { .. }), "{e}");
    // Another process enters it: lo only.
    let o = sh(&["nsenter", &format!("--net={}", path.display()), "ip", "-o", "link"]);
    assert_eq!(String::from_utf8_lossy(&o.stdout).lines().count(), 1, "{}", text(&o));
    // The other mount namespace sees the namespace mount too.
    let pid = other.id().to_string();
    let o = sh(&["nsenter", "-t", &pid, "-m", "stat", "-f", "-c", "%T", &path.to_string_lossy()]);
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "nsfs", "{}", text(&o));
    s.remove_netns(&id).unwrap();
    s.remove_netns(&id).unwrap();
    assert!(!path.exists());
    let o = sh(&["nsenter", "-t", &pid, "-m", "stat", "-f", "-c", "%T", &path.to_string_lossy()]);
    assert!(!o.status.success(), "still mounted in the other namespace: {}", text(&o));
    other.kill().unwrap();
    other.wait().unwrap();
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let dir = s.run_dir().join("netns");
    let line = mountinfo
        .lines()
        .find(|l| l.split(' ').nth(4) == Some(&*dir.to_string_lossy()))
        .expect("netns/ is a mount point");
    assert!(line.contains("shared:"), "{line}");
}
