//! berth-generator over 1,000 `.container` files, mixed good and bad, as
//! systemd runs it at boot: every file read, checked, and the good ones
//! written to the generator directory.
//!
//!   cargo run --release --example quadlet_bench [FILES]
//!
//! Prints the time of the whole run (best of five, fresh output directory
//! each time) as wall-clock and as CPU time (from /proc/thread-self/schedstat,
//! which a busy machine does not inflate), how many units were written and
//! how many errors reported.
//! The output directory is in /run when it exists (tmpfs, as systemd's).

use berth::quadlet::generator::{self, Config};
use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

/// The files' kinds, in turn: most are good, some have errors.
fn file(i: usize) -> String {
    let base = format!("[Unit]\nDescription=bench {i}\n\n[Container]\n");
    match i % 10 {
        0 => format!("{base}Rootfs=/srv/r{i}\nExec=/bin/sh\nNotify=maybe\nBogus=1\n"),
        1 => format!("{base}Image=localhost/web:1\nEnvironment=PASS-WORD\n"),
        2 => format!("{base}Rootfs=/srv/r\nExec=/bin/true\n[Install]\nWantedBy=../x\n"),
        3 => format!("{base}Image=localhost/web:{i}\nPublishPort=80{}:80\nVolume=data{i}:/data:Z\nEnvironment=A=1 B=2\nLabel=a=b\n[Service]\nRestart=always\n[Install]\nWantedBy=multi-user.target\n", i % 90 + 10),
        _ => format!("{base}Rootfs=/srv/r{i}\nExec=/bin/sh -c \"echo {i}; exec sleep 1000\"\nVolume=/srv/data:/data:ro\nEnvironment=I={i}\nStopTimeout=5\n[Install]\nWantedBy=multi-user.target\nAlias=alias-{i}.service\n"),
    }
}

/// CPU time of this thread so far (user and system).
fn cpu_time() -> Duration {
    let s = fs::read_to_string("/proc/thread-self/schedstat").expect("schedstat");
    Duration::from_nanos(s.split_whitespace().next().and_then(|n| n.parse().ok()).expect("schedstat's first field"))
}

fn main() {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(1000);
    let work = tempfile::tempdir().expect("tempdir");
    let src = work.path().join("src");
    fs::create_dir(&src).unwrap();
    for i in 0..n {
        fs::write(src.join(format!("c{i:04}.container")), file(i)).unwrap();
    }
    let out_base = if Path::new("/run").is_dir() { tempfile::tempdir_in("/run") } else { tempfile::tempdir() }.expect("tempdir");
    let (mut best, mut best_cpu) = (Duration::MAX, Duration::MAX);
    let (mut units, mut errors) = (0, 0);
    for round in 0..5 {
        let out = out_base.path().join(format!("round{round}"));
        fs::create_dir(&out).unwrap();
        let cfg = Config { dirs: vec![src.clone()], normal_dir: out.clone(), monitor: "/usr/local/bin/berth-monitor".into(), dry_run: false };
        let mut reported = 0;
        let (t0, c0) = (Instant::now(), cpu_time());
        let status = generator::run(&cfg, &mut std::io::sink(), &mut |_| reported += 1);
        best = best.min(t0.elapsed());
        best_cpu = best_cpu.min(cpu_time() - c0);
        assert_eq!(status, 1, "the bad files fail");
        units = fs::read_dir(&out).unwrap().filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "service")).count();
        errors = reported;
    }
    // Reading and checking alone: --dry-run, output discarded.
    let cfg = Config { dirs: vec![src.clone()], normal_dir: "/nonexistent".into(), monitor: "/m".into(), dry_run: true };
    let (t0, c0) = (Instant::now(), cpu_time());
    generator::run(&cfg, &mut std::io::sink(), &mut |_| {});
    let (dry, dry_cpu) = (t0.elapsed(), cpu_time() - c0);
    let good = (0..n).filter(|i| i % 10 >= 3).count();
    // Alias links are .service files too.
    let aliases = (0..n).filter(|i| i % 10 >= 4).count();
    assert_eq!(units, good + aliases, "every good file generates");
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "quadlet generator: {n} files ({good} good, {} bad): {:.1} ms wall, {:.1} ms CPU (best of 5), {errors} errors reported",
        n - good,
        ms(best),
        ms(best_cpu)
    );
    println!("  of which reading and checking (--dry-run): {:.1} ms wall, {:.1} ms CPU", ms(dry), ms(dry_cpu));
}
