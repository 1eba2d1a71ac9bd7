//! Copy a 1 GiB file out of and into a container root through a pipe, and
//! compare with `cat` doing the same through a pipe.
//!
//!   cargo run --release --example files_bench [SIZE_MIB]
//!
//! out:   copy_out -> pipe -> discard      vs  cat FILE -> pipe -> discard
//! in:    cat TAR -> pipe -> copy_in       vs  cat FILE -> pipe -> cat > FILE2
//! both:  copy_out -> pipe -> copy_in      vs  cat FILE -> pipe -> cat > FILE2
//! Best of three each; the page cache is warm for both. Peak RSS is the
//! process's VmHWM while our copies run.

use berth::files::{copy_in, copy_out, ContainerRoot, CopyInOptions};
use std::fs::{self, File};
use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

static GO: AtomicBool = AtomicBool::new(false);
const MIB: u64 = 1 << 20;

fn main() {
    let mib: u64 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(1024);
    fs::create_dir_all("/var/tmp").expect("/var/tmp");
    let work = tempfile::tempdir_in("/var/tmp").expect("tempdir");
    let src_dir = work.path().join("src");
    let dst_dir = work.path().join("dst");
    fs::create_dir_all(&src_dir).unwrap();
    fs::create_dir_all(&dst_dir).unwrap();
    let big = src_dir.join("big");
    {
        let mut f = File::create(&big).unwrap();
        let mut block: Vec<u8> = (0..MIB).map(|i| (i * 13 % 251) as u8 + 1).collect();
        for i in 0..mib {
            block[..8].copy_from_slice(&i.to_le_bytes());
            f.write_all(&block).unwrap();
        }
        f.sync_all().unwrap();
    }
    let tar_file = work.path().join("big.tar");
    let src = ContainerRoot::of_dir(&src_dir).unwrap();
    let dst = ContainerRoot::of_dir(&dst_dir).unwrap();
    copy_out(&src, "/big", File::create(&tar_file).unwrap(), &GO).unwrap();
    // Warm the cache for both sides.
    discard(File::open(&big).unwrap());
    discard(File::open(&tar_file).unwrap());

    println!("file: {mib} MiB, dense");
    let cat_out = best(|| {
        let mut cat = Command::new("cat").arg(&big).stdout(Stdio::piped()).spawn().unwrap();
        discard(cat.stdout.take().unwrap());
        assert!(cat.wait().unwrap().success());
    });
    let (ours_out, rss_out) = best_rss(|| {
        let (r, w) = nix::unistd::pipe().unwrap();
        let t = std::thread::spawn(move || discard(File::from(r)));
        copy_out(&src, "/big", File::from(w), &GO).unwrap();
        t.join().unwrap();
    });
    report("out ", mib, cat_out, ours_out, rss_out);

    let out_file = work.path().join("cat-copy");
    let cat_pipe = || {
        let mut a = Command::new("cat").arg(&big).stdout(Stdio::piped()).spawn().unwrap();
        let mut b = Command::new("cat").stdin(a.stdout.take().unwrap()).stdout(File::create(&out_file).unwrap()).spawn().unwrap();
        assert!(a.wait().unwrap().success() && b.wait().unwrap().success());
    };
    let cat_in = best(cat_pipe);
    let (ours_in, rss_in) = best_rss(|| {
        let _ = fs::remove_file(dst_dir.join("big"));
        let mut cat = Command::new("cat").arg(&tar_file).stdout(Stdio::piped()).spawn().unwrap();
        copy_in(&dst, "/", cat.stdout.take().unwrap(), &CopyInOptions::default(), &GO).unwrap();
        assert!(cat.wait().unwrap().success());
    });
    report("in  ", mib, cat_in, ours_in, rss_in);

    let (ours_both, rss_both) = best_rss(|| {
        let _ = fs::remove_file(dst_dir.join("big"));
        let (r, w) = nix::unistd::pipe().unwrap();
        std::thread::scope(|s| {
            let src = &src;
            let t = s.spawn(move || copy_out(src, "/big", File::from(w), &GO).unwrap());
            copy_in(&dst, "/", File::from(r), &CopyInOptions::default(), &GO).unwrap();
            t.join().unwrap();
        });
    });
    report("both", mib, cat_in, ours_both, rss_both);
    assert_eq!(fs::metadata(dst_dir.join("big")).unwrap().len(), mib * MIB);
}

fn discard(mut r: impl Read) {
    let mut buf = vec![0u8; 1 << 20];
    while r.read(&mut buf).unwrap() > 0 {}
}

fn best(mut f: impl FnMut()) -> Duration {
    (0..3)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .min()
        .unwrap()
}

fn best_rss(mut f: impl FnMut()) -> (Duration, u64) {
    let _ = fs::write("/proc/self/clear_refs", "5");
    let d = best(&mut f);
    (d, peak_rss_kib())
}

fn peak_rss_kib() -> u64 {
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    status.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)).and_then(|v| v.parse().ok()).unwrap_or(0)
}

fn report(what: &str, mib: u64, cat: Duration, ours: Duration, rss_kib: u64) {
    let rate = |d: Duration| mib as f64 / d.as_secs_f64();
    println!(
        "{what}: cat {:7.0} MiB/s  berth {:7.0} MiB/s  ratio {:.2}x  peak RSS {} MiB",
        rate(cat),
        rate(ours),
        cat.as_secs_f64() / ours.as_secs_f64(),
        rss_kib / 1024
    );
}
