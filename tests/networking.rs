//! Containers on networks through the installed berthd, as users see them:
//! addresses, names, internal networks, published ports (tcp and udp, on
//! 127.0.0.1 and on an address of the sandbox), parallel starts, reload
//! after a firewall flush, teardown while berthd is down, berthd restarts,
//! file-defined containers, and bad input. The sandbox has its own network
//! namespace; all traffic goes to addresses these tests create.
//!
//! The tests count veths and firewall rules, and flush the nat table: they
//! take turns (and hold berthd's lock when they stop it).

mod common;

use berth::client::Client;
use berth::model::{ContainerInfo, ErrorKind, NetworkCreateOptions, OptionValue, State};
use common::{daemon_lock, ok, run};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{IpAddr, TcpStream, UdpSocket};
use std::time::Duration;
use tokio::sync::{Mutex, MutexGuard};

const SERVE: &str = "trap 'exit 0' TERM; while true; do sleep 0.1; done";
/// An address of the sandbox itself (these tests add it).
const SANDBOX_ADDR: &str = "192.0.2.10";

/// One test at a time: they count the sandbox's rules and links.
async fn turn() -> MutexGuard<'static, ()> {
    static TURN: Mutex<()> = Mutex::const_new(());
    TURN.lock().await
}

async fn client() -> Client {
    common::installed();
    // The sandbox has no dummy links: the address goes on lo.
    let _ = run("ip", &["addr", "add", &format!("{SANDBOX_ADDR}/32"), "dev", "lo"]);
    Client::system().await.unwrap()
}

fn rootfs() -> String {
    common::installed().rootfs.clone()
}

fn opts(script: &str, extra: &[(&str, OptionValue)]) -> BTreeMap<String, OptionValue> {
    let mut o: BTreeMap<String, OptionValue> = [
        ("Rootfs".to_string(), OptionValue::Str(rootfs())),
        ("Command".to_string(), OptionValue::StrList(vec!["/bin/sh".into(), "-c".into(), script.into()])),
    ]
    .into();
    o.extend(extra.iter().map(|(k, v)| (k.to_string(), v.clone())));
    o
}

fn s(v: &str) -> OptionValue {
    OptionValue::Str(v.into())
}

fn l(v: &[&str]) -> OptionValue {
    OptionValue::StrList(v.iter().map(|x| x.to_string()).collect())
}

/// Create and start a container that serves until stopped.
async fn serve(c: &Client, prefix: &str, script: &str, extra: &[(&str, OptionValue)]) -> String {
    let name = common::unique(prefix);
    c.create(&name, &opts(script, extra)).await.unwrap();
    c.start(&name, false).await.unwrap_or_else(|e| panic!("starting {name}: {e}"));
    name
}

/// Run `script` in a new container to its end; its exit code.
async fn exit_code(c: &Client, script: &str, extra: &[(&str, OptionValue)]) -> i32 {
    let name = common::unique("probe");
    c.create(&name, &opts(script, extra)).await.unwrap();
    c.start(&name, false).await.unwrap_or_else(|e| panic!("starting {name}: {e}"));
    let code = c.wait(&name, &[], Some(Duration::from_secs(60))).await.unwrap();
    c.remove(&name, true, Some(0)).await.unwrap();
    code
}

async fn info(c: &Client, name: &str) -> ContainerInfo {
    c.info(name).await.unwrap()
}

/// The container's address on `network`.
async fn address(c: &Client, name: &str, network: &str) -> IpAddr {
    let i = info(c, name).await;
    let a = &i.networks.get(network).unwrap_or_else(|| panic!("{name} is not on {network}: {:?}", i.networks)).addresses[0];
    a.split('/').next().unwrap().parse().unwrap()
}

/// veths on the sandbox, and every firewall rule (iptables-save lines).
fn counts() -> (usize, usize) {
    let links = ok("ip", &["-o", "link", "show", "type", "veth"]).lines().count();
    let rules = ok("iptables-save", &[]).lines().filter(|l| l.starts_with('-')).count();
    (links, rules)
}

fn http_get(addr: &str, port: u16) -> Option<String> {
    let mut s = TcpStream::connect_timeout(&format!("{addr}:{port}").parse().ok()?, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(3))).ok()?;
    s.write_all(b"GET /index.html HTTP/1.0\r\n\r\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

/// Poll until the port answers with the page (or it is clear it does not).
fn answers(addr: &str, port: u16, page: &str) -> bool {
    for _ in 0..30 {
        if http_get(addr, port).is_some_and(|o| o.contains(page)) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    eprintln!("{addr}:{port} does not answer; the nat table:\n{}", ok("iptables-save", &["-t", "nat"]));
    false
}

/// Wait until a unit has ended, its ExecStopPost commands included.
fn wait_unit_gone(unit: &str) {
    common::wait_until(Duration::from_secs(30), || {
        let state = String::from_utf8_lossy(&run("systemctl", &["is-active", unit]).stdout).trim().to_string();
        matches!(state.as_str(), "inactive" | "failed" | "unknown")
    });
}

/// Serve `page` on port 80 (from a directory of its own: the test root
/// file system is shared).
fn httpd(page: &str) -> String {
    format!("mkdir -p /tmp/{page}; echo {page} > /tmp/{page}/index.html; exec httpd -f -p 80 -h /tmp/{page}")
}

/// A container's command that fetches `page` from port 80 of `host` (an
/// address, or a name resolved by the network's DNS with nslookup).
fn fetch(host: &str, page: &str) -> String {
    format!(
        "ip=$(nslookup {host} 2>/dev/null | awk '/^Address/ {{a=$NF}} END {{print a}}'); case {host} in [0-9]*) ip={host};; esac; \
         printf 'GET /index.html HTTP/1.0\\r\\n\\r\\n' | nc -w 3 $ip 80 | grep -q {page}"
    )
}

/// The static UDP echo server, in a directory a container mounts at /data.
fn udpecho(dir: &std::path::Path) {
    let src = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/udpecho.c");
    ok("cc", &["-static", "-Os", "-o", &dir.join("udpecho").to_string_lossy(), src]);
}

async fn new_network(c: &Client, prefix: &str, o: NetworkCreateOptions) -> String {
    let name = common::unique(prefix);
    c.create_network(&name, &o).await.unwrap();
    name
}

#[tokio::test]
async fn containers_reach_each_other_by_address_and_by_name() {
    let _t = turn().await;
    let _g = daemon_lock().read().await;
    let c = client().await;
    // On the default network, by address.
    let a = serve(&c, "addr-a", &httpd("addr-a"), &[]).await;
    let ip = address(&c, &a, "berth").await;
    assert_eq!(exit_code(&c, &fetch(&ip.to_string(), "addr-a"), &[]).await, 0, "{ip}:80 from a second container");

    // On a DNS network, by name and by alias; the first container (which
    // started aardvark-dns) may go first.
    let net = new_network(&c, "dns", NetworkCreateOptions::default()).await;
    let first = serve(&c, "dns-first", SERVE, &[("Network", s(&net))]).await;
    let web = serve(&c, "dns-web", &httpd("dns-web"), &[("Network", s(&net)), ("NetworkAliases", l(&["www"]))]).await;
    c.stop(&first, Some(0)).await.unwrap();
    let web_ip = address(&c, &web, &net).await;
    let on = [("Network", s(&net))];
    let script = format!("nslookup {web} | grep -q 'Address.*{web_ip}$' && nslookup www | grep -q 'Address.*{web_ip}$'");
    assert_eq!(exit_code(&c, &script, &on).await, 0, "{script}");
    assert_eq!(exit_code(&c, &fetch(&web, "dns-web"), &on).await, 0, "by name");
    assert_eq!(exit_code(&c, &fetch("www", "dns-web"), &on).await, 0, "by alias");
    assert_ne!(exit_code(&c, &fetch("nobody-here", "dns-web"), &on).await, 0, "an unknown name");
    // /etc/hosts and resolv.conf are the generated ones.
    let script = format!("grep -q 'host.containers.internal' /etc/hosts && grep -q '^nameserver' /etc/resolv.conf && grep -q dns.podman /etc/resolv.conf");
    assert_eq!(exit_code(&c, &script, &[("Network", s(&net)), ("Hosts", l(&["db:10.1.2.3"]))]).await, 0);
    assert_eq!(exit_code(&c, "grep -q '^10.1.2.3.db' /etc/hosts", &[("Hosts", l(&["db:10.1.2.3"]))]).await, 0);
    for n in [&a, &first, &web] {
        c.remove(n, true, Some(0)).await.unwrap();
    }
    c.remove_network(&net).await.unwrap();
}

#[tokio::test]
async fn an_internal_network_reaches_nothing_outside() {
    let _t = turn().await;
    let _g = daemon_lock().read().await;
    let c = client().await;
    let outside = serve(&c, "int-out", &httpd("outside"), &[]).await;
    let out_ip = address(&c, &outside, "berth").await;
    let net = new_network(&c, "int", NetworkCreateOptions { internal: true, ..Default::default() }).await;
    let inside = serve(&c, "int-in", &httpd("int-in"), &[("Network", s(&net))]).await;
    let in_ip = address(&c, &inside, &net).await;
    let on = [("Network", s(&net))];
    assert_eq!(exit_code(&c, &fetch(&in_ip.to_string(), "int-in"), &on).await, 0, "the internal network itself works");
    assert_eq!(exit_code(&c, &fetch(&out_ip.to_string(), "outside"), &[]).await, 0, "the outside container serves");
    assert_ne!(exit_code(&c, &fetch(&out_ip.to_string(), "outside"), &on).await, 0, "reached another network");
    let host = serve(&c, "int-host", &httpd("int-host"), &[("Ports", l(&["18095:80"]))]).await;
    assert!(answers(SANDBOX_ADDR, 18095, "int-host"));
    let to_host = format!("printf 'GET /index.html HTTP/1.0\\r\\n\\r\\n' | nc -w 3 {SANDBOX_ADDR} 18095 | grep -q int-host");
    assert_eq!(exit_code(&c, &to_host, &[]).await, 0, "a bridged container reaches the host's port");
    assert_ne!(exit_code(&c, &to_host, &on).await, 0, "the internal one reached the host");
    c.remove(&host, true, Some(0)).await.unwrap();
    // Publishing ports on an internal network is refused at create.
    let e = c.create(&common::unique("int-p"), &opts(SERVE, &[("Network", s(&net)), ("Ports", l(&["18099:80"]))])).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
    for n in [&outside, &inside] {
        c.remove(n, true, Some(0)).await.unwrap();
    }
    c.remove_network(&net).await.unwrap();
}

#[tokio::test]
async fn published_ports_answer_tcp_and_udp_with_crun_and_runc() {
    let _t = turn().await;
    let _g = daemon_lock().read().await;
    let c = client().await;
    for (runtime, port) in [("crun", 18080u16), ("runc", 18081)] {
        let data = tempfile::tempdir_in("/var/tmp").unwrap();
        udpecho(data.path());
        let udp_port = port + 100;
        let script = format!("/data/udpecho 90 & {}", httpd(runtime));
        let name = serve(
            &c,
            "pub",
            &script,
            &[
                ("Runtime", s(runtime)),
                ("Ports", l(&[&format!("{port}:80"), &format!("{udp_port}:90/udp")])),
                ("Volumes", l(&[&format!("{}:/data", data.path().display())])),
            ],
        )
        .await;
        assert!(answers("127.0.0.1", port, runtime), "{runtime}: no answer on 127.0.0.1:{port}");
        assert!(answers(SANDBOX_ADDR, port, runtime), "{runtime}: no answer on {SANDBOX_ADDR}:{port}");
        for addr in ["127.0.0.1", SANDBOX_ADDR] {
            let sock = UdpSocket::bind(format!("{addr}:0")).unwrap();
            sock.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
            let mut buf = [0u8; 64];
            let echoed = (0..30).any(|_| {
                sock.send_to(b"ping-udp", (addr, udp_port)).unwrap();
                matches!(sock.recv_from(&mut buf), Ok((8, _))) && &buf[..8] == b"ping-udp"
            });
            assert!(echoed, "{runtime}: no udp echo from {addr}:{udp_port}");
        }
        let lines = c.ports(&name).await.unwrap();
        assert_eq!(lines, [format!("80/tcp -> 0.0.0.0:{port}"), format!("90/udp -> 0.0.0.0:{udp_port}")]);
        let port_out = ok("/usr/local/bin/berthctl", &["port", &name, "80"]);
        assert_eq!(port_out.trim(), format!("0.0.0.0:{port}"));
        // A restart keeps the address.
        let before = address(&c, &name, "berth").await;
        c.restart(&name, Some(1)).await.unwrap();
        assert_eq!(address(&c, &name, "berth").await, before, "{runtime}: a restart changed the address");
        assert!(answers("127.0.0.1", port, runtime), "{runtime}: no answer after a restart");
        c.stop(&name, Some(1)).await.unwrap();
        assert!(!answers("127.0.0.1", port, runtime), "{runtime}: still answers once stopped");
        assert!(info(&c, &name).await.networks.is_empty(), "a stopped container shows no network");
        c.remove(&name, true, Some(0)).await.unwrap();
    }
}

#[tokio::test]
async fn fifty_parallel_starts_get_fifty_addresses_and_leave_nothing() {
    let _t = turn().await;
    let _g = daemon_lock().read().await;
    let c = client().await;
    let net = new_network(&c, "par", NetworkCreateOptions::default()).await;
    // The network's own chains and bridge exist once a container ran on it.
    let warm = serve(&c, "par-warm", SERVE, &[("Network", s(&net))]).await;
    c.remove(&warm, true, Some(0)).await.unwrap();
    let before = counts();
    let names: Vec<String> = (0..50).map(|_| common::unique("par")).collect();
    let starts = names.iter().map(|n| {
        let (c, n, net) = (c.clone(), n.clone(), net.clone());
        async move {
            c.create(&n, &opts(SERVE, &[("Network", s(&net)), ("Ports", l(&["80"]))])).await.unwrap();
            c.start(&n, false).await.unwrap_or_else(|e| panic!("starting {n}: {e}"));
        }
    });
    futures_util::future::join_all(starts).await;
    let mut addresses = Vec::new();
    for n in &names {
        addresses.push(address(&c, n, &net).await);
    }
    addresses.sort();
    addresses.dedup();
    assert_eq!(addresses.len(), 50, "duplicate addresses");
    assert!(counts().0 >= before.0 + 50);
    let stops = names.iter().map(|n| {
        let (c, n) = (c.clone(), n.clone());
        async move { c.remove(&n, true, Some(0)).await.unwrap() }
    });
    futures_util::future::join_all(stops).await;
    assert_eq!(counts(), before, "(veths, firewall rules) after stopping all 50");
    c.remove_network(&net).await.unwrap();
}

#[tokio::test]
async fn reload_after_a_firewall_flush_keeps_the_address() {
    let _t = turn().await;
    let _g = daemon_lock().read().await;
    let c = client().await;
    let name = serve(&c, "reload", &httpd("reloaded"), &[("Ports", l(&["18082:80"]))]).await;
    let other = serve(&c, "reload2", &httpd("other"), &[("Ports", l(&["18083:80"]))]).await;
    let ip = address(&c, &name, "berth").await;
    assert!(answers("127.0.0.1", 18082, "reloaded"));
    ok("iptables", &["-t", "nat", "-F"]);
    assert!(!answers("127.0.0.1", 18082, "reloaded"), "still answers after iptables -t nat -F");
    c.reload_network(&name).await.unwrap();
    assert!(answers("127.0.0.1", 18082, "reloaded"), "ReloadNetwork did not bring the port back");
    assert_eq!(address(&c, &name, "berth").await, ip);
    // All at once, through berthctl.
    ok("iptables", &["-t", "nat", "-F"]);
    let out = ok("/usr/local/bin/berthctl", &["network", "reload", "--all"]);
    assert!(out.contains(&name) && out.contains(&other), "{out}");
    assert!(answers("127.0.0.1", 18082, "reloaded") && answers("127.0.0.1", 18083, "other"));
    // Not running: InvalidState.
    c.stop(&other, Some(1)).await.unwrap();
    assert_eq!(c.reload_network(&other).await.unwrap_err().kind(), ErrorKind::InvalidState);
    for n in [&name, &other] {
        c.remove(n, true, Some(0)).await.unwrap();
    }
}

#[tokio::test]
async fn a_container_killed_while_berthd_is_down_is_torn_down() {
    let _t = turn().await;
    let _g = daemon_lock().write().await;
    let c = client().await;
    let warm = serve(&c, "kill-warm", SERVE, &[("Ports", l(&["18084:80"]))]).await;
    c.remove(&warm, true, Some(0)).await.unwrap();
    let before = counts();
    let name = serve(&c, "kill", &httpd("killed"), &[("Ports", l(&["18084:80"]))]).await;
    let id = info(&c, &name).await.id;
    assert!(answers("127.0.0.1", 18084, "killed"));
    ok("systemctl", &["stop", "berthd.service"]);
    ok("systemctl", &["kill", "-s", "KILL", &format!("berth-{name}.service")]);
    wait_unit_gone(&format!("berth-{name}.service"));
    assert_eq!(counts(), before, "(veths, firewall rules) after the unit was killed");
    assert!(!std::path::Path::new(&format!("/run/berth/network/netns/{id}")).exists(), "namespace left");
    assert!(!answers("127.0.0.1", 18084, "killed"));
    ok("systemctl", &["start", "berthd.service"]);
    let c = Client::system().await.unwrap();
    assert!(!c.state(&name).await.unwrap().is_live(), "berthd saw it end");
    // It starts again with the same address.
    c.start(&name, false).await.unwrap();
    assert!(answers("127.0.0.1", 18084, "killed"));
    c.remove(&name, true, Some(0)).await.unwrap();
}

#[tokio::test]
async fn berthd_restarts_keep_bridged_containers_reachable() {
    let _t = turn().await;
    let _g = daemon_lock().write().await;
    let c = client().await;
    let name = serve(&c, "keep", &httpd("kept"), &[("Ports", l(&["18085:80"]))]).await;
    let ip = address(&c, &name, "berth").await;
    ok("systemctl", &["restart", "berthd.service"]);
    let c = Client::system().await.unwrap();
    assert_eq!(c.state(&name).await.unwrap(), State::Running);
    assert!(answers("127.0.0.1", 18085, "kept"));
    assert_eq!(address(&c, &name, "berth").await, ip);
    assert!(http_get(&ip.to_string(), 80).is_some_and(|o| o.contains("kept")), "the container's own address");
    c.remove(&name, true, Some(0)).await.unwrap();
}

#[tokio::test]
async fn networks_are_objects() {
    let _t = turn().await;
    let _g = daemon_lock().read().await;
    let c = client().await;
    let name = common::unique("obj");
    let o = NetworkCreateOptions {
        subnet: Some("10.123.0.0/24".into()),
        gateway: Some("10.123.0.254".into()),
        internal: false,
        dns: false,
        labels: [("team".to_string(), "x".to_string())].into(),
    };
    let n = c.create_network(&name, &o).await.unwrap();
    assert_eq!((n.subnets[0].subnet.as_str(), n.subnets[0].gateway), ("10.123.0.0/24", Some("10.123.0.254".parse().unwrap())));
    assert!(!n.dns_enabled && n.labels["team"] == "x");
    assert_eq!(c.create_network(&name, &o).await.unwrap_err().kind(), ErrorKind::NetworkExists);
    let overlapping = NetworkCreateOptions { subnet: Some("10.123.0.128/25".into()), ..Default::default() };
    assert_eq!(c.create_network(&common::unique("obj"), &overlapping).await.unwrap_err().kind(), ErrorKind::InvalidArgument);
    assert!(c.list_networks().await.unwrap().iter().any(|x| x.name == name));
    assert_eq!(c.inspect_network(&name).await.unwrap(), n);
    // The static address, in use: the network cannot go.
    let user = serve(&c, "obj-user", SERVE, &[("Network", s(&name)), ("IP", s("10.123.0.77"))]).await;
    assert_eq!(address(&c, &user, &name).await, "10.123.0.77".parse::<IpAddr>().unwrap());
    assert_eq!(c.inspect_network(&name).await.unwrap().containers, [user.clone()]);
    let e = c.remove_network(&name).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NetworkInUse, "{e}");
    // The same address for another container: refused, nothing created.
    let other = common::unique("obj-other");
    let e = c.create(&other, &opts(SERVE, &[("Network", s(&name)), ("IP", s("10.123.0.77"))])).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
    assert!(e.to_string().contains("IP") && e.to_string().contains(&user), "{e}");
    assert_eq!(c.info(&other).await.unwrap_err().kind(), ErrorKind::NoSuchContainer);
    c.remove(&user, true, Some(0)).await.unwrap();
    c.remove_network(&name).await.unwrap();
    assert_eq!(c.inspect_network(&name).await.unwrap_err().kind(), ErrorKind::NoSuchNetwork);
    assert_eq!(c.remove_network(&name).await.unwrap_err().kind(), ErrorKind::NoSuchNetwork);
    // berthctl's verbs.
    let n2 = common::unique("cli");
    ok("/usr/local/bin/berthctl", &["network", "create", "--subnet", "10.124.0.0/24", "--internal", &n2]);
    assert!(ok("/usr/local/bin/berthctl", &["network", "ls"]).contains(&n2));
    let js: serde_json::Value = serde_json::from_str(&ok("/usr/local/bin/berthctl", &["network", "inspect", &n2])).unwrap();
    assert_eq!(js[0]["Internal"], true);
    ok("/usr/local/bin/berthctl", &["network", "rm", &n2]);
    let o = run("/usr/local/bin/berthctl", &["network", "rm", "berth"]);
    assert_eq!(o.status.code(), Some(125), "the default network stays");
}

#[tokio::test]
async fn bad_input_is_named_and_creates_nothing() {
    let _t = turn().await;
    let _g = daemon_lock().read().await;
    let c = client().await;
    let holder = common::unique("bad-holder");
    c.create(&holder, &opts(SERVE, &[("Ports", l(&["18090:80", "127.0.0.1:18091:80/udp"]))])).await.unwrap();
    let two = new_network(&c, "bad2", NetworkCreateOptions::default()).await;
    let cases: Vec<(Vec<(&str, OptionValue)>, ErrorKind, &str)> = vec![
        (vec![("Network", s("no-such-net"))], ErrorKind::InvalidArgument, "Network"),
        (vec![("Ports", l(&["0"]))], ErrorKind::InvalidArgument, "Ports"),
        (vec![("Ports", l(&["70000"]))], ErrorKind::InvalidArgument, "Ports"),
        (vec![("Ports", l(&["8080-8082:80-81"]))], ErrorKind::InvalidArgument, "Ports"),
        (vec![("Ports", l(&["18090:81"]))], ErrorKind::PortInUse, "Ports"),
        (vec![("Ports", l(&["127.0.0.1:18090:81"]))], ErrorKind::PortInUse, "Ports"),
        (vec![("Ports", l(&["18091:81/udp"]))], ErrorKind::PortInUse, "Ports"),
        (vec![("IP", s("10.200.0.5"))], ErrorKind::InvalidArgument, "IP"),
        (vec![("IP", s("10.89.0.1"))], ErrorKind::InvalidArgument, "IP"),
        (vec![("Network", s(&format!("berth,{two}"))), ("IP", s("10.89.0.50"))], ErrorKind::InvalidArgument, "IP"),
        (vec![("Network", s("none")), ("Ports", l(&["18092:80"]))], ErrorKind::InvalidArgument, "Ports"),
        (vec![("Network", s("host")), ("Ports", l(&["18092:80"]))], ErrorKind::InvalidArgument, "Ports"),
    ];
    for (extra, kind, key) in cases {
        let name = common::unique("bad");
        let e = c.create(&name, &opts(SERVE, &extra)).await.unwrap_err();
        assert_eq!(e.kind(), kind, "{extra:?}: {e}");
        assert!(e.to_string().contains(key), "{extra:?}: {e} does not name {key}");
        assert_eq!(c.info(&name).await.unwrap_err().kind(), ErrorKind::NoSuchContainer, "{extra:?} created it");
    }
    // What does not clash: another protocol, another host address.
    for ok_ports in [["18090:80/udp"], ["127.0.0.2:18091:80/udp"]] {
        let name = common::unique("fine");
        c.create(&name, &opts(SERVE, &[("Ports", l(&ok_ports))])).await.unwrap_or_else(|e| panic!("{ok_ports:?}: {e}"));
        c.remove(&name, true, Some(0)).await.unwrap();
    }
    // Through berthctl: the flag's key is named and the exit status is 125.
    let o = run("/usr/local/bin/berthctl", &["create", "-p", "70000", "--rootfs", &rootfs(), "/bin/true"]);
    assert_eq!(o.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&o.stderr).contains("Ports"), "{}", String::from_utf8_lossy(&o.stderr));
    c.remove(&holder, true, Some(0)).await.unwrap();
    c.remove_network(&two).await.unwrap();
}

#[tokio::test]
async fn file_defined_containers_get_their_network_at_boot() {
    let _t = turn().await;
    let _g = daemon_lock().write().await;
    let c = client().await;
    let dir = "/etc/berth/systemd";
    std::fs::create_dir_all(dir).unwrap();
    let name = common::unique("qnet");
    std::fs::write(
        format!("{dir}/{name}.container"),
        format!("[Container]\nRootfs={}\nExec=/bin/sh -c \"{}\"\nPublishPort=18086:80\n", rootfs(), httpd("quadlet")),
    )
    .unwrap();
    ok("systemctl", &["daemon-reload"]);
    let before = counts();
    ok("systemctl", &["start", &format!("{name}.service")]);
    assert!(answers("127.0.0.1", 18086, "quadlet"), "the file-defined container's port");
    // berthd learns of it (after the daemon-reload) and shows its address.
    let mut shown = false;
    for _ in 0..100 {
        if c.info(&name).await.is_ok_and(|i| i.networks.contains_key("berth")) {
            shown = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(shown, "berthd does not show the file-defined container's network");
    ok("systemctl", &["kill", "-s", "KILL", &format!("{name}.service")]);
    wait_unit_gone(&format!("{name}.service"));
    assert!(!answers("127.0.0.1", 18086, "quadlet"));
    assert_eq!(counts().0, before.0, "veths left after the unit was killed");
    std::fs::remove_file(format!("{dir}/{name}.container")).unwrap();
    ok("systemctl", &["daemon-reload"]);
}
