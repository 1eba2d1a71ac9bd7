//! The journal module against journalctl, inside the sandbox (journald
//! runs there):
//!
//!   cargo build --release --example journal_bench
//!   systemd/sandbox run target/release/examples/journal_bench [LINES]
//!
//! Prints, with raw numbers and ratios: the writer's ingest rate (lines
//! until journald has written them), a full read of one container's lines
//! against `journalctl CONTAINER_ID_FULL=... -o cat`, `tail 100` against
//! `journalctl -n 100`, the follow latency (a line written until the
//! follower's sink has it), an idle follower's CPU use, and drain's cost.

use berth::journal::{Cancel, FdSink, Follow, Format, JournalWriter, LogLine, LogReader, ReadOptions, Stream};
use berth::model::new_id;
use std::ops::ControlFlow;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn pct(v: &[Duration], p: f64) -> Duration {
    let mut v = v.to_vec();
    v.sort();
    v[((v.len() - 1) as f64 * p) as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn rate(n: u64, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

/// Process CPU time (user + system).
fn cpu_time() -> Duration {
    let mut ru = std::mem::MaybeUninit::<nix::libc::rusage>::uninit();
    // SAFETY: getrusage fills the struct it is given.
    if unsafe { nix::libc::getrusage(nix::libc::RUSAGE_SELF, ru.as_mut_ptr()) } != 0 {
        return Duration::ZERO;
    }
    // SAFETY: getrusage succeeded.
    let ru = unsafe { ru.assume_init() };
    let tv = |t: nix::libc::timeval| Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

fn writer(id: &str, name: &str) -> JournalWriter {
    JournalWriter::connect(name, [("CONTAINER_NAME", name), ("CONTAINER_ID", &id[..12]), ("CONTAINER_ID_FULL", id)]).expect("journald")
}

fn message(i: u64) -> String {
    format!("{i:09} the quick brown fox jumps over the lazy dog, a typical log line")
}

/// Write `n` lines as berth-monitor does (64 KiB reads, a flush per read);
/// the time until journald has written them all.
fn write_lines(w: &mut JournalWriter, n: u64) -> Duration {
    let t0 = Instant::now();
    let mut chunk = 0usize;
    for i in 1..=n {
        let m = message(i);
        chunk += m.len() + 1;
        w.push(if i % 2 == 1 { Stream::Stdout } else { Stream::Stderr }, m.as_bytes(), false).unwrap();
        if chunk >= 65536 {
            w.flush().unwrap();
            chunk = 0;
        }
    }
    w.drain(Duration::from_secs(600)).unwrap();
    t0.elapsed()
}

fn devnull() -> std::fs::File {
    std::fs::OpenOptions::new().write(true).open("/dev/null").unwrap()
}

/// Our full read into /dev/null (formatted like `logs`); lines and time.
fn read_ours(m: &str, o: &ReadOptions) -> (u64, Duration) {
    let t0 = Instant::now();
    let mut r = LogReader::open().unwrap();
    let mut sink = FdSink::new(devnull(), Format::default(), None).unwrap();
    let end = r.read(m, o, &mut sink, &Cancel::new().unwrap()).unwrap();
    sink.finish().unwrap();
    (end.entries, t0.elapsed())
}

fn journalctl(args: &[&str]) -> Duration {
    let t0 = Instant::now();
    let st = Command::new("journalctl").args(args).stdout(devnull()).stderr(Stdio::null()).status().unwrap();
    assert!(st.success());
    t0.elapsed()
}

fn journalctl_lines(args: &[&str]) -> u64 {
    let o = Command::new("journalctl").args(args).output().unwrap();
    o.stdout.iter().filter(|&&b| b == b'\n').count() as u64
}

/// The sandbox's runtime journal holds about 480 MB, less than 900,000
/// entries; inside the sandbox (its /etc is a throw-away overlay) give it
/// room, elsewhere leave journald alone.
fn grow_runtime_journal() {
    if std::env::var_os("BERTH_SANDBOX_LEADER").is_none() {
        println!("(not in systemd/sandbox: journald's size limits left as they are)");
        return;
    }
    let dir = std::path::Path::new("/etc/systemd/journald.conf.d");
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("50-journal-bench.conf"), "[Journal]\nRuntimeMaxUse=3G\nRuntimeMaxFileSize=256M\n").unwrap();
    let st = Command::new("systemctl").args(["restart", "systemd-journald"]).status().unwrap();
    assert!(st.success(), "restarting journald failed");
}

/// journald's own stream transport (what a unit's stdout uses) as a
/// baseline: `n` lines through systemd-cat, until journald wrote them.
fn write_stream(n: u64) -> Duration {
    use std::io::Write;
    let ident = format!("bench-cat-{}", &new_id()[..8]);
    let t0 = Instant::now();
    let mut child = Command::new("systemd-cat").args(["-t", &ident]).stdin(Stdio::piped()).spawn().unwrap();
    let mut input = std::io::BufWriter::with_capacity(65536, child.stdin.take().unwrap());
    for i in 1..=n {
        writeln!(input, "{}", message(i)).unwrap();
    }
    drop(input);
    child.wait().unwrap();
    berth::journal::synchronize(std::path::Path::new(berth::journal::VARLINK_SOCKET), Duration::from_secs(600)).unwrap();
    let took = t0.elapsed();
    let (got, _) = read_ours(&format!("SYSLOG_IDENTIFIER={ident}"), &ReadOptions::default());
    assert_eq!(got, n, "systemd-cat's lines");
    took
}

fn main() {
    let n: u64 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(900_000);
    grow_runtime_journal();
    let id = new_id();
    let name = format!("bench-{}", &id[..8]);
    let m = format!("CONTAINER_ID_FULL={id}");
    println!("journal_bench: {n} lines, container {name}");

    // Ingest.
    let mut w = writer(&id, &name);
    let took = write_lines(&mut w, n);
    println!("write: {n} lines in {:.2} s = {:.0} lines/s (batched datagrams, until journald wrote them)", took.as_secs_f64(), rate(n, took));
    let id1 = new_id();
    let mut w1 = writer(&id1, "bench-single").with_batch_limit(0);
    let n1 = (n / 9).max(1000);
    let took1 = write_lines(&mut w1, n1);
    println!("write: {n1} lines in {:.2} s = {:.0} lines/s (one datagram per line)", took1.as_secs_f64(), rate(n1, took1));
    let ns = (n / 9).max(1000);
    let tooks = write_stream(ns);
    println!("journald stream transport (systemd-cat): {ns} lines in {:.2} s = {:.0} lines/s", tooks.as_secs_f64(), rate(ns, tooks));
    let usage = Command::new("journalctl").arg("--disk-usage").output().unwrap();
    print!("{}", String::from_utf8_lossy(&usage.stdout));

    // Full read.
    let got = journalctl_lines(&[&m, "-o", "cat"]);
    let (ours_n, _) = read_ours(&m, &ReadOptions::default());
    assert_eq!(ours_n, n, "the reader found {ours_n} of {n} lines (journal full and rotated away?)");
    assert_eq!(got, n, "journalctl found {got} of {n} lines");
    let mut ours = Vec::new();
    let mut theirs = Vec::new();
    for _ in 0..3 {
        ours.push(read_ours(&m, &ReadOptions::default()).1);
        theirs.push(journalctl(&[&m, "-o", "cat", "--no-pager"]));
    }
    let (o, t) = (median(ours), median(theirs));
    println!(
        "full read: ours {:.0} lines/s ({}), journalctl -o cat {:.0} lines/s ({}): ratio {:.2}x (target >= 1.0)",
        rate(n, o),
        ms(o),
        rate(n, t),
        ms(t),
        rate(n, o) / rate(n, t)
    );
    let t0 = Instant::now();
    let mut count = 0u64;
    LogReader::open()
        .unwrap()
        .read(&m, &ReadOptions::default(), &mut |_: &LogLine<'_>| {
            count += 1;
            ControlFlow::Continue(())
        }, &Cancel::new().unwrap())
        .unwrap();
    println!("full read into a counting closure: {:.0} lines/s", rate(count, t0.elapsed()));

    // Tail.
    let tail = ReadOptions { tail: Some(100), ..Default::default() };
    let (tn, _) = read_ours(&m, &tail);
    assert_eq!(tn, 100);
    let mut ours = Vec::new();
    let mut theirs = Vec::new();
    for _ in 0..30 {
        ours.push(read_ours(&m, &tail).1);
        theirs.push(journalctl(&["-n", "100", &m, "-o", "cat", "--no-pager"]));
    }
    let (o, t) = (median(ours), median(theirs));
    println!("tail 100 (median of 30, opening the journal each time): ours {}, journalctl -n 100 {}: ratio {:.2}x (target <= 1.0)", ms(o), ms(t), o.as_secs_f64() / t.as_secs_f64());

    // Follow latency.
    for (label, interval, rounds) in [("default 5 ms poll", Follow::DEFAULT_POLL_INTERVAL, 200), ("inotify only", Duration::from_secs(5), 12)] {
        let fid = new_id();
        let fm = format!("CONTAINER_ID_FULL={fid}");
        let (tx, rx) = mpsc::channel::<Instant>();
        let cancel = Cancel::new().unwrap();
        let c2 = cancel.clone();
        let follower = std::thread::spawn(move || {
            let o = ReadOptions { tail: Some(0), follow: Some(Follow { stop: None, poll_interval: interval }), ..Default::default() };
            LogReader::open()
                .unwrap()
                .read(&fm, &o, &mut |_: &LogLine<'_>| {
                    let _ = tx.send(Instant::now());
                    ControlFlow::Continue(())
                }, &c2)
                .unwrap()
        });
        std::thread::sleep(Duration::from_millis(300));
        let mut fw = writer(&fid, "bench-follow");
        let mut lat = Vec::new();
        for i in 0..rounds {
            let t0 = Instant::now();
            fw.write_line(Stream::Stdout, message(i).as_bytes()).unwrap();
            let got = rx.recv_timeout(Duration::from_secs(5)).expect("the follower got the line");
            lat.push(got.duration_since(t0));
            std::thread::sleep(Duration::from_millis(3));
        }
        println!(
            "follow latency ({label}), {rounds} lines: median {}, p90 {}, max {} (target median < 10 ms)",
            ms(median(lat.clone())),
            ms(pct(&lat, 0.9)),
            ms(pct(&lat, 1.0))
        );
        if label.starts_with("default") {
            // An idle follower's cost.
            let c0 = cpu_time();
            std::thread::sleep(Duration::from_secs(2));
            let used = cpu_time() - c0;
            println!("idle follower: {:.2}% of a CPU ({} over 2 s)", used.as_secs_f64() / 2.0 * 100.0, ms(used));
        }
        cancel.cancel();
        follower.join().unwrap();
    }

    // Drain: what a monitor's exit costs.
    let mut d = Vec::new();
    let mut dw = writer(&new_id(), "bench-drain");
    for i in 0..20 {
        dw.write_line(Stream::Stdout, message(i).as_bytes()).unwrap();
        let t0 = Instant::now();
        dw.drain(Duration::from_secs(10)).unwrap();
        d.push(t0.elapsed());
    }
    println!("drain after a line (SIOCOUTQ, then Synchronize): median {}, max {}", ms(median(d.clone())), ms(pct(&d, 1.0)));
}
