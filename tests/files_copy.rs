//! Copy out and back in through a pipe: a tree with modes, owners,
//! symlinks, hard links, devices, extended attributes, a 1 GB sparse file
//! and a 200 MB dense one comes back identical, in flat memory; GNU tar
//! reads what copy_out writes and copy_in reads what GNU tar writes; a
//! hostile archive creates nothing outside its destination.
//!
//! Needs root (owners, device nodes, trusted.* attributes) and a file
//! system with extended attributes (/var/tmp); runs on the host or in the
//! sandbox: `cargo test --test files_copy`.

use berth::files::{copy_in, copy_out, ContainerRoot, CopyInOptions, CopyStats, Error};
use std::fs::{self, File};
use std::io::{Read, Write};
use std::os::unix::fs::{symlink, FileExt, MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::AtomicBool;

mod files_tree;
use files_tree::{assert_same, peak_rss_kib, reset_peak_rss, rss_kib, snapshot};

static GO: AtomicBool = AtomicBool::new(false);
/// One test at a time: the memory check reads this process's peak RSS.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}
const MIB: u64 = 1 << 20;

fn work_dir() -> tempfile::TempDir {
    fs::create_dir_all("/var/tmp").unwrap();
    tempfile::tempdir_in("/var/tmp").unwrap()
}

fn set_xattr(p: &Path, name: &str, value: &[u8]) {
    use std::os::unix::ffi::OsStrExt;
    let cp = std::ffi::CString::new(p.as_os_str().as_bytes()).unwrap();
    let cn = std::ffi::CString::new(name).unwrap();
    // SAFETY: both strings are NUL-terminated, value valid for its length.
    let rc = unsafe { nix::libc::setxattr(cp.as_ptr(), cn.as_ptr(), value.as_ptr().cast(), value.len(), 0) };
    assert_eq!(rc, 0, "setxattr {name} on {}: {}", p.display(), std::io::Error::last_os_error());
}

fn set_mtime(p: &Path, secs: i64, nanos: i64) {
    use nix::sys::stat::{utimensat, UtimensatFlags};
    use nix::sys::time::TimeSpec;
    let t = TimeSpec::new(secs, nanos);
    utimensat(None, p, &t, &t, UtimensatFlags::NoFollowSymlink).unwrap();
}

/// The rich tree, under `top` (which it creates). `big`: add the 1 GB
/// sparse and 200 MB dense files.
fn make_tree(top: &Path, big: bool) {
    let d = |p: &str, mode: u32| {
        fs::create_dir_all(top.join(p)).unwrap();
        fs::set_permissions(top.join(p), fs::Permissions::from_mode(mode)).unwrap();
    };
    d("", 0o755);
    d("private", 0o700);
    d("shared", 0o1777);
    d("deep/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q/r/s/t/u/v/w/x/y/z", 0o755);
    let f = |p: &str, data: &[u8], mode: u32, owner: (u32, u32)| {
        fs::write(top.join(p), data).unwrap();
        nix::unistd::chown(&top.join(p), Some(owner.0.into()), Some(owner.1.into())).unwrap();
        fs::set_permissions(top.join(p), fs::Permissions::from_mode(mode)).unwrap();
    };
    f("plain.txt", b"plain text\n", 0o644, (0, 0));
    f("setuid", b"#!/bin/sh\n", 0o4755, (0, 0));
    f("setgid", b"#!/bin/sh\n", 0o2755, (1000, 50));
    f("private/secret", b"secret", 0o600, (1000, 1000));
    f("shared/owned-by-big-ids", b"x", 0o640, (3_000_000, 4_000_000));
    f("empty", b"", 0o444, (0, 0));
    f(
        "deep/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q/r/s/t/u/v/w/x/y/z/leaf-with-a-name-long-enough-to-need-pax-records-in-any-tar-writer",
        b"deep",
        0o644,
        (0, 0),
    );
    let long = "n".repeat(255);
    f(&long, b"long name", 0o644, (0, 0));
    fs::hard_link(top.join("plain.txt"), top.join("hard-1")).unwrap();
    fs::hard_link(top.join("plain.txt"), top.join("private/hard-2")).unwrap();
    symlink("/etc/passwd", top.join("abs-link")).unwrap();
    symlink("../plain.txt", top.join("private/rel-link")).unwrap();
    symlink("does/not/exist", top.join("dangling")).unwrap();
    symlink(format!("/{}", "t".repeat(300)), top.join("long-target")).unwrap();
    nix::unistd::mkfifo(&top.join("fifo"), nix::sys::stat::Mode::from_bits_truncate(0o620)).unwrap();
    nix::sys::stat::mknod(
        &top.join("null-dev"),
        nix::sys::stat::SFlag::S_IFCHR,
        nix::sys::stat::Mode::from_bits_truncate(0o666),
        nix::sys::stat::makedev(1, 3),
    )
    .unwrap();
    set_xattr(&top.join("plain.txt"), "user.berth.note", b"hello");
    set_xattr(&top.join("plain.txt"), "trusted.berth.bin", b"\x00\x01\xff binary");
    set_xattr(&top.join("private"), "user.berth.dir", b"on a directory");
    set_xattr(&top.join("setuid"), "user.berth.big", &vec![b'v'; 3000]);
    if big {
        // 1 GB sparse: data at the start, in the middle and near the end;
        // it ends in a hole.
        let sparse = File::create(top.join("sparse-1g")).unwrap();
        sparse.set_len(1 << 30).unwrap();
        for (off, byte) in [(0u64, b'a'), (300 * MIB + 12345, b'b'), (1000 * MIB, b'c')] {
            sparse.write_all_at(&vec![byte; 64 << 10], off).unwrap();
        }
        // 200 MB dense, not all one byte.
        let mut dense = File::create(top.join("dense-200m")).unwrap();
        let mut block: Vec<u8> = (0..MIB).map(|j| (j * 7 % 251) as u8).collect();
        for i in 0..200u64 {
            block[..8].copy_from_slice(&i.to_le_bytes());
            dense.write_all(&block).unwrap();
        }
    }
    // Mtimes last, with nanoseconds, deepest first.
    let mut all = Vec::new();
    collect(top, &mut all);
    all.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    for (i, p) in all.iter().enumerate() {
        set_mtime(p, 1_500_000_000 + i as i64 * 1000, (i as i64 * 123_456_789) % 1_000_000_000);
    }
}

fn collect(p: &Path, out: &mut Vec<std::path::PathBuf>) {
    out.push(p.to_path_buf());
    if fs::symlink_metadata(p).unwrap().is_dir() {
        for e in fs::read_dir(p).unwrap() {
            collect(&e.unwrap().path(), out);
        }
    }
}

/// copy_out of `src_path` in `src` piped into copy_in at `dst_path` in `dst`.
fn pipe_copy(src: &ContainerRoot, src_path: &str, dst: &ContainerRoot, dst_path: &str) -> (CopyStats, CopyStats) {
    let (r, w) = nix::unistd::pipe().unwrap();
    std::thread::scope(|s| {
        let writer = s.spawn(move || copy_out(src, src_path, File::from(w), &GO));
        let read = copy_in(dst, dst_path, File::from(r), &CopyInOptions::default(), &GO).unwrap();
        (writer.join().unwrap().unwrap(), read)
    })
}

#[test]
fn a_rich_tree_with_big_files_round_trips_through_a_pipe() {
    let _serial = serial();
    assert!(nix::unistd::geteuid().is_root(), "this test sets owners and makes device nodes: run it as root");
    let w = work_dir();
    let src_root = w.path().join("src");
    make_tree(&src_root.join("tree"), true);
    let before = snapshot(&src_root.join("tree"));
    fs::create_dir_all(w.path().join("dst/into")).unwrap();
    let src = ContainerRoot::of_dir(&src_root).unwrap();
    let dst = ContainerRoot::of_dir(&w.path().join("dst")).unwrap();

    let rss0 = rss_kib();
    reset_peak_rss();
    let t0 = std::time::Instant::now();
    let (out, inn) = pipe_copy(&src, "/tree", &dst, "/into");
    let took = t0.elapsed();
    let peak = peak_rss_kib();
    println!(
        "copied {} entries, {} MiB of archive for 1.2 GiB of files, in {:.2?}; RSS {} MiB before, peak {} MiB during the copy",
        out.entries,
        out.bytes / MIB,
        took,
        rss0 / 1024,
        peak / 1024
    );
    assert_eq!(out.entries, inn.entries);
    assert!(out.bytes < 300 * MIB, "holes must not be archived: {} bytes", out.bytes);
    assert!(peak < rss0 + 32 * 1024, "memory grew from {rss0} KiB to a peak of {peak} KiB while copying");

    let after = snapshot(&w.path().join("dst/into/tree"));
    assert_same(&before, &after);
    let sparse = fs::metadata(w.path().join("dst/into/tree/sparse-1g")).unwrap();
    assert!(sparse.blocks() * 512 < 16 * MIB, "the copy of the sparse file is not sparse: {} blocks", sparse.blocks());

    // The same tree copied again over itself: everything is replaced in place.
    pipe_copy(&src, "/tree", &dst, "/into");
    assert_same(&before, &snapshot(&w.path().join("dst/into/tree")));
}

#[test]
fn gnu_tar_reads_our_archives_and_we_read_its() {
    let _serial = serial();
    let w = work_dir();
    let src_root = w.path().join("src");
    make_tree(&src_root.join("tree"), false);
    let sparse = File::create(src_root.join("tree/sparse")).unwrap();
    sparse.set_len(64 * MIB).unwrap();
    sparse.write_all_at(b"middle", 40 * MIB).unwrap();
    drop(sparse);
    set_mtime(&src_root.join("tree"), 1_600_000_000, 5);
    set_mtime(&src_root.join("tree/sparse"), 1_600_000_000, 7);
    let before = snapshot(&src_root.join("tree"));
    let src = ContainerRoot::of_dir(&src_root).unwrap();

    // Ours -> GNU tar.
    let out_dir = w.path().join("by-gnu-tar");
    fs::create_dir(&out_dir).unwrap();
    let mut tar = Command::new("tar")
        .args(["--xattrs", "--xattrs-include=*", "--same-owner", "-xpf", "-", "-C"])
        .arg(&out_dir)
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    copy_out(&src, "/tree", tar.stdin.take().unwrap(), &GO).unwrap();
    assert!(tar.wait().unwrap().success());
    let by_gnu = snapshot(&out_dir.join("tree"));
    // GNU tar sets directory mtimes, modes and owners as we do; it keeps
    // sub-second mtimes from our PAX records.
    assert_same(&before, &by_gnu);
    assert!(fs::metadata(out_dir.join("tree/sparse")).unwrap().blocks() * 512 < 8 * MIB, "GNU tar made the sparse file dense");

    // GNU tar -> ours: GNU format (old-style sparse entries, no extended
    // attributes, whole seconds) and POSIX format (attributes and
    // nanoseconds; its sparse format is not read, so not asked for).
    for (format, sparse) in [("gnu", true), ("posix", false)] {
        let mut args = vec!["-cf", "-", "--format", format];
        if sparse {
            args.push("--sparse");
        } else {
            args.extend(["--xattrs", "--xattrs-include=*"]);
        }
        let gnu = Command::new("tar").args(&args).arg("-C").arg(&src_root).arg("tree").output().unwrap();
        assert!(gnu.status.success(), "{}", String::from_utf8_lossy(&gnu.stderr));
        let dst_root = w.path().join(format!("dst-{format}"));
        fs::create_dir(&dst_root).unwrap();
        let dst = ContainerRoot::of_dir(&dst_root).unwrap();
        copy_in(&dst, "/", &gnu.stdout[..], &CopyInOptions::default(), &GO).unwrap();
        let mut ours = snapshot(&dst_root.join("tree"));
        let mut theirs = before.clone();
        if format == "gnu" {
            for n in ours.iter_mut().chain(theirs.iter_mut()) {
                n.mtime.1 = 0;
                n.xattrs.clear();
            }
        }
        assert_same(&theirs, &ours);
        if sparse {
            assert!(fs::metadata(dst_root.join("tree/sparse")).unwrap().blocks() * 512 < 8 * MIB);
        }
    }
}

#[test]
fn a_hostile_archive_creates_nothing_outside_the_destination() {
    let _serial = serial();
    let w = work_dir();
    let root_dir = w.path().join("root");
    fs::create_dir_all(root_dir.join("dest")).unwrap();
    fs::create_dir_all(root_dir.join("etc")).unwrap();
    fs::write(root_dir.join("etc/passwd"), "container passwd").unwrap();
    fs::write(w.path().join("host-file"), "host").unwrap();
    let root = ContainerRoot::of_dir(&root_dir).unwrap();
    let outside_before = outside_snapshot(w.path());

    type Check = fn(&Error) -> bool;
    let tricks: Vec<(&str, Vec<u8>, Check)> = vec![
        ("dot-dot", archive(&[("../../host-file", b'0', "", b"pwned")]), |e| matches!(e, Error::EntryEscapes { .. })),
        ("dot-dot inside", archive(&[("x/../../etc/passwd", b'0', "", b"pwned")]), |e| matches!(e, Error::EntryEscapes { .. })),
        ("symlink then file", archive(&[("a", b'2', "/etc", b""), ("a/passwd", b'0', "", b"pwned")]), |e| {
            matches!(e, Error::EntryThroughArchiveSymlink { .. })
        }),
        ("symlink up then file", archive(&[("up", b'2', "../../..", b""), ("up/host-file", b'0', "", b"pwned")]), |e| {
            matches!(e, Error::EntryThroughArchiveSymlink { .. })
        }),
        (
            "symlink then dir then file",
            archive(&[("l", b'2', "/", b""), ("l/etc/", b'5', "", b""), ("l/etc/passwd", b'0', "", b"pwned")]),
            |e| matches!(e, Error::EntryThroughArchiveSymlink { .. }),
        ),
        ("hard link out", archive(&[("h", b'1', "../etc/passwd", b"")]), |e| matches!(e, Error::HardLinkOutside { .. })),
        ("hard link far out", archive(&[("h", b'1', "../../../../host-file", b"")]), |e| matches!(e, Error::HardLinkOutside { .. })),
        ("hard link through a symlink", archive(&[("s", b'2', "/etc", b""), ("h", b'1', "s/passwd", b"")]), |e| {
            matches!(e, Error::EntryThroughArchiveSymlink { .. })
        }),
    ];
    for (what, data, check) in &tricks {
        let err = copy_in(&root, "/dest", &data[..], &CopyInOptions::default(), &GO).expect_err(what);
        assert!(check(&err), "{what}: {err:?}");
    }
    // Absolute names are confined to the destination, as tar does.
    copy_in(&root, "/dest", &archive(&[("/etc/passwd", b'0', "", b"confined")])[..], &CopyInOptions::default(), &GO).unwrap();
    assert_eq!(fs::read_to_string(root_dir.join("dest/etc/passwd")).unwrap(), "confined");

    assert_eq!(outside_snapshot(w.path()), outside_before, "something changed outside the destination");
}

/// Everything under `top` except `root/dest`, as (path, content/link).
fn outside_snapshot(top: &Path) -> Vec<(String, String)> {
    let mut all = Vec::new();
    collect(top, &mut all);
    let mut out: Vec<(String, String)> = all
        .iter()
        .filter(|p| !p.starts_with(top.join("root/dest")))
        .map(|p| {
            let m = fs::symlink_metadata(p).unwrap();
            let what = if m.is_file() {
                fs::read_to_string(p).unwrap()
            } else if m.file_type().is_symlink() {
                format!("-> {}", fs::read_link(p).unwrap().display())
            } else {
                "dir".to_string()
            };
            (p.display().to_string(), format!("{what} {:o} {}", m.mode(), m.nlink()))
        })
        .collect();
    out.sort();
    out
}

/// Entries written as given (name, type flag, link, data): no checks.
fn archive(entries: &[(&str, u8, &str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, kind, link, data) in entries {
        let mut h = tar::Header::new_gnu();
        h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        h.as_old_mut().linkname[..link.len()].copy_from_slice(link.as_bytes());
        h.set_entry_type(tar::EntryType::new(*kind));
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        h.set_cksum();
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.extend_from_slice(&[0; 1024]);
    out
}

#[test]
fn a_reader_hanging_up_or_a_sender_stopping_short_is_named() {
    let _serial = serial();
    let w = work_dir();
    let root_dir = w.path().join("root");
    fs::create_dir_all(root_dir.join("dest")).unwrap();
    let big = File::create(root_dir.join("big")).unwrap();
    let chunk = vec![1u8; MIB as usize];
    for _ in 0..32 {
        (&big).write_all(&chunk).unwrap();
    }
    drop(big);
    let root = ContainerRoot::of_dir(&root_dir).unwrap();

    // The receiver reads a little and closes its end: EPIPE.
    let (r, wr) = nix::unistd::pipe().unwrap();
    let reader = std::thread::spawn(move || {
        let mut f = File::from(r);
        let mut buf = vec![0u8; 100_000];
        f.read_exact(&mut buf).unwrap();
    });
    let err = copy_out(&root, "/big", File::from(wr), &GO).unwrap_err();
    reader.join().unwrap();
    assert!(matches!(err, Error::OutputClosed { .. }), "{err:?}");

    // The sender stops half way: a truncated archive, and what was written stays.
    let mut data = Vec::new();
    copy_out(&root, "/big", &mut data, &GO).unwrap();
    let (r, wr) = nix::unistd::pipe().unwrap();
    let half = data.len() / 2;
    let sender = std::thread::spawn(move || {
        let mut f = File::from(wr);
        f.write_all(&data[..half]).unwrap();
    });
    let err = copy_in(&root, "/dest", File::from(r), &CopyInOptions::default(), &GO).unwrap_err();
    sender.join().unwrap();
    assert!(matches!(err, Error::TruncatedArchive(_)), "{err:?}");
    assert!(root_dir.join("dest/big").exists());
}
