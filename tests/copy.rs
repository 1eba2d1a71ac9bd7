//! Files in and out of containers through the installed berthd, as users
//! drive them: CopyFromArchive, CopyToArchive and StatContainer over D-Bus
//! (berth's client), `berthctl cp` and `berthctl stat`, and artifacts.
//! Round trips for running and stopped, crun and runc, image and rootfs
//! containers; a container swapping symlinks under copies; hostile
//! archives; bad input named with nothing changed; a paused copy always
//! thawed; a copy whose reader leaves canceled.
//!
//! Run: `systemd/sandbox with cargo test --test copy`

mod common;
mod files_tree;
#[path = "image_fixture/mod.rs"]
mod fixture;

use berth::client::Client;
use berth::model::{CopyOptions, OptionValue, State};
use common::{BERTHCTL, daemon_lock, ok, run, scratch};
use files_tree::{assert_same, snapshot};
use fixture::{oci_files, tar_of, Compress, Layer, TestImage};
use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{Read, Seek, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::{symlink, FileExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

const STATE: &str = "/var/lib/berth";
const MIB: u64 = 1 << 20;

async fn client() -> Client {
    common::installed();
    Client::system().await.unwrap()
}

fn s(v: &str) -> OptionValue {
    OptionValue::Str(v.into())
}

fn list(v: &[&str]) -> OptionValue {
    OptionValue::StrList(v.iter().map(|x| x.to_string()).collect())
}

/// A container that sleeps, from `source` (a rootfs directory or an
/// image), with `runtime`; started when `running`.
async fn container(c: &Client, name: &str, source: &Source, runtime: &str, running: bool) {
    container_with(c, name, source, runtime, running, BTreeMap::new()).await
}

/// [`container`], with more options.
async fn container_with(c: &Client, name: &str, source: &Source, runtime: &str, running: bool, more: BTreeMap<String, OptionValue>) {
    let mut o: BTreeMap<String, OptionValue> = [
        ("Command".to_string(), list(&["/bin/sh", "-c", "mkdir -p /data; while true; do sleep 0.1; done"])),
        ("Runtime".to_string(), s(runtime)),
    ]
    .into();
    o.extend(more);
    match source {
        Source::Rootfs(dir) => o.insert("Rootfs".into(), s(dir)),
        Source::Image(name) => o.insert("Image".into(), s(name)),
    };
    c.create(name, &o).await.unwrap();
    c.start(name, false).await.unwrap();
    // /data exists once the shell ran.
    for _ in 0..100 {
        if c.stat(name, "/data", false).await.is_ok() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    if !running {
        c.stop(name, Some(0)).await.unwrap();
    }
}

enum Source {
    Rootfs(String),
    Image(String),
}

/// The busybox root file system as a one-layer image, imported once.
async fn busybox_image(c: &Client) -> String {
    static DONE: OnceLock<String> = OnceLock::new();
    if let Some(n) = DONE.get() {
        return n.clone();
    }
    let root = Path::new(&common::installed().rootfs).to_path_buf();
    let mut l = Layer::new(Compress::Gzip);
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let mut names: Vec<_> = fs::read_dir(root.join(&rel)).unwrap().map(|e| e.unwrap().file_name()).collect();
        names.sort();
        for name in names {
            let r = rel.join(&name);
            let p = root.join(&r);
            let m = fs::symlink_metadata(&p).unwrap();
            let path = r.to_str().unwrap().to_string();
            l = if m.is_dir() {
                stack.push(r);
                l.dir(&path, m.mode() & 0o7777)
            } else if m.file_type().is_symlink() {
                l.symlink(&path, fs::read_link(&p).unwrap().to_str().unwrap())
            } else {
                l.file(&path, &fs::read(&p).unwrap(), m.mode() & 0o7777)
            }
            .owner(0, 0);
        }
    }
    let img = TestImage::new(vec![l]).named("localhost/copy-busybox:1");
    let dir = scratch();
    let archive = dir.path().join("image.tar");
    fs::write(&archive, tar_of(&oci_files(std::slice::from_ref(&img)))).unwrap();
    c.import_image(File::open(&archive).unwrap().as_fd(), None).await.unwrap();
    let name = img.name.clone().unwrap();
    let _ = DONE.set(name.clone());
    name
}

fn set_xattr(p: &Path, name: &str, value: &[u8]) {
    use std::os::unix::ffi::OsStrExt;
    let cp = std::ffi::CString::new(p.as_os_str().as_bytes()).unwrap();
    let cn = std::ffi::CString::new(name).unwrap();
    // SAFETY: both strings are NUL-terminated, value valid for its length.
    let rc = unsafe { nix::libc::setxattr(cp.as_ptr(), cn.as_ptr(), value.as_ptr().cast(), value.len(), 0) };
    assert_eq!(rc, 0, "setxattr {name} on {}: {}", p.display(), std::io::Error::last_os_error());
}

/// A tree with modes, owners, symlinks, hard links, an extended attribute
/// and a sparse file, under `top`.
fn make_tree(top: &Path) {
    fs::create_dir_all(top.join("private/deeper")).unwrap();
    fs::set_permissions(top.join("private"), fs::Permissions::from_mode(0o700)).unwrap();
    let f = |p: &str, data: &[u8], mode: u32, owner: (u32, u32)| {
        fs::write(top.join(p), data).unwrap();
        nix::unistd::chown(&top.join(p), Some(owner.0.into()), Some(owner.1.into())).unwrap();
        fs::set_permissions(top.join(p), fs::Permissions::from_mode(mode)).unwrap();
    };
    f("plain.txt", b"plain text\n", 0o644, (0, 0));
    f("setuid", b"#!/bin/sh\n", 0o4755, (0, 0));
    f("private/secret", b"secret", 0o600, (1000, 1000));
    f("private/deeper/big-ids", b"x", 0o640, (3_000_000, 4_000_000));
    fs::hard_link(top.join("plain.txt"), top.join("private/hard")).unwrap();
    symlink("/etc/passwd", top.join("abs-link")).unwrap();
    symlink("../plain.txt", top.join("private/rel-link")).unwrap();
    set_xattr(&top.join("plain.txt"), "user.berth.note", b"hello");
    let sparse = File::create(top.join("sparse")).unwrap();
    sparse.set_len(64 * MIB).unwrap();
    sparse.write_all_at(b"middle", 40 * MIB).unwrap();
    drop(sparse);
    // 1 GiB with data at its start, middle and end, holes between.
    let huge = File::create(top.join("huge-sparse")).unwrap();
    huge.set_len(1 << 30).unwrap();
    huge.write_all_at(&[1u8; 4096], 0).unwrap();
    huge.write_all_at(b"half way", 512 * MIB).unwrap();
    huge.write_all_at(b"the end", (1 << 30) - 7).unwrap();
    drop(huge);
    set_xattr(&top.join("private"), "user.berth.dir", b"on a directory");
    let mut dense = File::create(top.join("dense")).unwrap();
    let block: Vec<u8> = (0..MIB).map(|j| (j * 7 % 251) as u8).collect();
    for _ in 0..8 {
        dense.write_all(&block).unwrap();
    }
    drop(dense);
    nix::sys::stat::utimensat(
        None,
        &top.join("plain.txt"),
        &nix::sys::time::TimeSpec::new(1_600_000_000, 5),
        &nix::sys::time::TimeSpec::new(1_600_000_000, 5),
        nix::sys::stat::UtimensatFlags::NoFollowSymlink,
    )
    .unwrap();
}

/// A tar stream of `top`'s parent entry `name`, in a file (made with the
/// library on the host).
fn archive_of(parent: &Path, name: &str) -> File {
    let root = berth::files::ContainerRoot::of_dir(parent).unwrap();
    let mut f = tempfile::tempfile_in("/var/tmp").unwrap();
    berth::files::copy_out(&root, name, &mut f, &std::sync::atomic::AtomicBool::new(false)).unwrap();
    f.rewind().unwrap();
    f
}

/// Extract a tar stream in `f` under `dir` on the host.
fn extract(f: &mut File, dir: &Path) {
    f.rewind().unwrap();
    fs::create_dir_all(dir).unwrap();
    let root = berth::files::ContainerRoot::of_dir(dir).unwrap();
    berth::files::copy_in(&root, "/", &*f, &Default::default(), &std::sync::atomic::AtomicBool::new(false)).unwrap();
}

fn keep_owners() -> CopyOptions {
    CopyOptions::default()
}

/// In, out and compare, at `/data/<tag>` of container `name`.
async fn round_trip(c: &Client, name: &str, tag: &str, what: &str) {
    let w = scratch();
    let src = w.path().join("src").join(tag);
    make_tree(&src);
    let before = snapshot(&src);
    let input = archive_of(&w.path().join("src"), tag);
    let read = c.copy_from_archive(name, "/data", input.as_fd(), &keep_owners()).await.unwrap_or_else(|e| panic!("{what}: in: {e}"));
    assert!(read > 8 * MIB && read < 20 * MIB, "{what}: {read} bytes read (holes are not sent)");
    let info = c.stat(name, &format!("/data/{tag}/plain.txt"), false).await.unwrap();
    assert_eq!((info.size, info.unix_mode & 0o7777, info.mtime_secs), (11, 0o644, 1_600_000_000), "{what}");
    let mut out = tempfile::tempfile_in("/var/tmp").unwrap();
    let written =
        c.copy_to_archive(name, &format!("/data/{tag}"), out.as_fd()).await.unwrap_or_else(|e| panic!("{what}: out: {e}"));
    assert_eq!(written, out.metadata().unwrap().len(), "{what}");
    extract(&mut out, &w.path().join("back"));
    assert_same(&before, &snapshot(&w.path().join("back").join(tag)));
    // The holes came back as holes.
    let huge = fs::metadata(w.path().join("back").join(tag).join("huge-sparse")).unwrap();
    assert_eq!(huge.len(), 1 << 30, "{what}");
    assert!(huge.blocks() * 512 < 16 * MIB, "{what}: the 1 GiB sparse file takes {} bytes", huge.blocks() * 512);
    assert!(written < 32 * MIB, "{what}: {written} bytes written (holes are not sent)");
}

fn mounted(id: &str) -> bool {
    fs::read_to_string("/proc/self/mountinfo").unwrap().lines().any(|l| l.split(' ').nth(4) == Some(&format!("/run/berth/roots/{id}")))
}

#[tokio::test]
async fn round_trips_running_and_stopped_crun_and_runc_rootfs_and_image() {
    let _g = daemon_lock().read().await;
    let c = client().await;
    let image = busybox_image(&c).await;
    for runtime in ["crun", "runc"] {
        for source in [Source::Rootfs(common::Fixture::new().rootfs), Source::Image(image.clone())] {
            let kind = if matches!(source, Source::Image(_)) { "image" } else { "rootfs" };
            let name = common::unique(&format!("rt-{runtime}-{kind}"));
            container(&c, &name, &source, runtime, true).await;
            round_trip(&c, &name, "running", &format!("{runtime} {kind} running")).await;
            c.stop(&name, Some(0)).await.unwrap();
            let id = c.info(&name).await.unwrap().id;
            let was_mounted = mounted(&id);
            round_trip(&c, &name, "stopped", &format!("{runtime} {kind} stopped")).await;
            assert_eq!(mounted(&id), was_mounted, "a root mounted for a copy is released after it");
            // What was copied in while it ran is still there, stopped.
            assert!(c.stat(&name, "/data/running/private/secret", false).await.unwrap().size == 6);
            // And both are there when it runs again.
            c.start(&name, false).await.unwrap();
            assert_eq!(c.stat(&name, "/data/stopped/dense", false).await.unwrap().size, 8 * MIB);
            c.remove(&name, true, Some(0)).await.unwrap();
        }
    }
}

#[tokio::test]
async fn stat_resolves_links_as_the_container_sees_them() {
    let _g = daemon_lock().read().await;
    let c = client().await;
    let f = common::Fixture::new();
    symlink("/run", Path::new(&f.rootfs).join("var-run")).unwrap();
    fs::write(Path::new(&f.rootfs).join("run/marker"), "in the container's run").unwrap();
    let name = common::unique("stat");
    container(&c, &name, &Source::Rootfs(f.rootfs.clone()), "crun", true).await;
    let link = c.stat(&name, "/var-run", false).await.unwrap();
    assert_eq!(link.link_target.as_deref(), Some("/run"));
    assert!(!link.is_dir);
    let followed = c.stat(&name, "/var-run", true).await.unwrap();
    assert!(followed.is_dir && followed.link_target.as_deref() == Some("/run"), "{followed:?}");
    assert_eq!(c.stat(&name, "/var-run/marker", false).await.unwrap().size, "in the container's run".len() as u64);
    // `..` past the root stays at the root.
    assert!(c.stat(&name, "/../../../bin/busybox", false).await.unwrap().size > 0);
    // berthctl stat prints the same, as JSON.
    let out = ok(BERTHCTL, &["stat", "-L", &name, "/var-run"]);
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!((j["IsDir"].as_bool(), j["LinkTarget"].as_str()), (Some(true), Some("/run")), "{out}");
    c.remove(&name, true, Some(0)).await.unwrap();
}

/// What a copy in the race may end with: landed, or a named error about
/// the container's side (a path gone or swapped, a link the container
/// cannot follow out of its root, a file swapped under the copy).
fn race_outcome(r: &berth::model::Result<u64>) -> &'static str {
    match r {
        Ok(_) => "landed",
        Err(e) => match e.name() {
            "NoSuchPath" => "NoSuchPath",
            "NotADirectory" => "NotADirectory",
            "InvalidArgument" => "InvalidArgument",
            "Canceled" => "Canceled",
            other => panic!("unexpected error in a race: {other}: {e}"),
        },
    }
}

/// A small tar stream in a pipe (it fits in the pipe's buffer), its write
/// end closed: what the sender hands berthd.
fn piped_archive(names: &[&str], data: &[u8]) -> std::os::fd::OwnedFd {
    let mut b = tar::Builder::new(Vec::new());
    for n in names {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(0);
        h.set_uid(0);
        h.set_gid(0);
        b.append_data(&mut h, n, data).unwrap();
    }
    let bytes = b.into_inner().unwrap();
    assert!(bytes.len() < 60_000, "the archive must fit in the pipe");
    let (r, w) = nix::unistd::pipe().unwrap();
    File::from(w).write_all(&bytes).unwrap();
    r
}

#[tokio::test]
async fn a_container_swapping_symlinks_never_reaches_the_host() {
    const ROUNDS: usize = 1000;
    let _g = daemon_lock().read().await;
    let c = client().await;
    let host = scratch();
    // A small root (busybox and the three applets the swapping loop runs):
    // a copy of `/` is one of the race's outcomes, 2,000 times over.
    let rootfs = host.path().join("rootfs");
    for d in ["bin", "proc", "dev", "sys", "tmp", "etc", "data"] {
        fs::create_dir_all(rootfs.join(d)).unwrap();
    }
    fs::copy("/bin/busybox", rootfs.join("bin/busybox")).unwrap();
    for applet in ["sh", "ln", "mkdir"] {
        symlink("busybox", rootfs.join("bin").join(applet)).unwrap();
    }
    let marker = format!("HOST-MARKER-{}", std::process::id());
    fs::write(host.path().join("canary"), "the host's canary").unwrap();
    fs::create_dir(host.path().join("etc")).unwrap();
    fs::write(host.path().join("etc/secret"), &marker).unwrap();
    let canary_mtime = fs::metadata(host.path().join("canary")).unwrap().mtime_nsec();
    let name = common::unique("race");
    let swap = "mkdir -p /data/real; while true; do for t in /data/real / /etc .. /proc/self/root ../../.. /proc/1/root; do \
                ln -sfn $t /data/link; done; done";
    let o: BTreeMap<String, OptionValue> =
        [("Rootfs".to_string(), s(rootfs.to_str().unwrap())), ("Command".to_string(), list(&["/bin/sh", "-c", swap]))].into();
    c.create(&name, &o).await.unwrap();
    c.start(&name, false).await.unwrap();
    let t0 = std::time::Instant::now();
    // Copies out and copies in at the same time, over the one connection.
    let out_loop = {
        let (c, name, marker) = (c.clone(), name.clone(), marker.clone());
        async move {
            let mut outcomes: BTreeMap<&str, usize> = BTreeMap::new();
            for i in 0..ROUNDS {
                let mut f = tempfile::tempfile_in("/var/tmp").unwrap();
                let r = c.copy_to_archive(&name, "/data/link", f.as_fd()).await;
                if r.is_ok() {
                    let mut data = Vec::new();
                    f.rewind().unwrap();
                    f.read_to_end(&mut data).unwrap();
                    assert!(memchr::memmem::find(&data, marker.as_bytes()).is_none(), "round {i}: a host file was copied out");
                }
                *outcomes.entry(race_outcome(&r)).or_default() += 1;
            }
            outcomes
        }
    };
    let in_loop = {
        let (c, name) = (c.clone(), name.clone());
        async move {
            let mut outcomes: BTreeMap<&str, usize> = BTreeMap::new();
            let mut landed = Vec::new();
            for i in 0..ROUNDS {
                let mine = format!("in-{i}");
                let input = piped_archive(&["canary", "secret", &mine], b"PWNED");
                let r = c.copy_from_archive(&name, "/data/link", input.as_fd(), &keep_owners()).await;
                if r.is_ok() {
                    landed.push(mine);
                }
                *outcomes.entry(race_outcome(&r)).or_default() += 1;
            }
            (outcomes, landed)
        }
    };
    let (out, (into, landed)) = tokio::join!(out_loop, in_loop);
    let took = t0.elapsed();
    c.remove(&name, true, Some(0)).await.unwrap();
    println!("race over {ROUNDS} rounds each way in {:.1} s", took.as_secs_f64());
    println!("  copies out: {out:?}");
    println!("  copies in:  {into:?}");
    // Every copy in that landed is inside the container: where the link
    // led at that moment (the real directory, the container's / or /etc).
    for n in &landed {
        let places = [rootfs.join("data/real").join(n), rootfs.join(n), rootfs.join("etc").join(n)];
        assert!(places.iter().any(|p| p.exists()), "{n} landed, but not inside the container");
    }
    assert_eq!(fs::read_to_string(host.path().join("canary")).unwrap(), "the host's canary");
    assert_eq!(fs::metadata(host.path().join("canary")).unwrap().mtime_nsec(), canary_mtime);
    assert_eq!(fs::read_to_string(host.path().join("etc/secret")).unwrap(), marker);
    let mut names: Vec<String> = fs::read_dir(host.path()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    assert_eq!(names, ["canary", "etc", "rootfs"], "nothing new next to the container's root");
    assert_eq!(fs::read_dir(host.path().join("etc")).unwrap().count(), 1);
    assert!(!Path::new("/canary").exists() && !Path::new("/secret").exists() && !Path::new("/etc/secret").exists());
    assert!(!Path::new("/in-0").exists() && !Path::new("/etc/in-0").exists());
    assert!(into.get("landed").copied().unwrap_or(0) > 0, "no copy in landed: {into:?}");
    assert!(out.get("landed").copied().unwrap_or(0) > 0, "no copy out landed: {out:?}");
}

/// Raw tar entries: (name, type, link target, data).
fn raw_tar(entries: &[(&str, tar::EntryType, &str, &[u8])]) -> File {
    let mut out = Vec::new();
    for (name, kind, link, data) in entries {
        let mut h = tar::Header::new_old();
        h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        if !link.is_empty() {
            h.as_old_mut().linkname[..link.len()].copy_from_slice(link.as_bytes());
        }
        h.set_entry_type(*kind);
        h.set_mode(0o644);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        h.set_size(data.len() as u64);
        h.set_cksum();
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.extend_from_slice(&[0; 1024]);
    let mut f = tempfile::tempfile_in("/var/tmp").unwrap();
    f.write_all(&out).unwrap();
    f.rewind().unwrap();
    f
}

#[tokio::test]
async fn hostile_archives_create_nothing_outside_the_destination() {
    let _g = daemon_lock().read().await;
    let c = client().await;
    let host = scratch();
    let rootfs = common::busybox_rootfs(host.path());
    fs::create_dir_all(rootfs.join("data/dest")).unwrap();
    let name = common::unique("hostile");
    container(&c, &name, &Source::Rootfs(rootfs.to_str().unwrap().into()), "crun", true).await;
    use tar::EntryType::{Directory, Link, Regular, Symlink};
    let cases: Vec<(&str, File)> = vec![
        ("dot-dot", raw_tar(&[("../escaped", Regular, "", b"x")])),
        ("deep dot-dot", raw_tar(&[("a/../../../../escaped", Regular, "", b"x")])),
        ("symlink then file", raw_tar(&[("lnk", Symlink, "/", b""), ("lnk/escaped", Regular, "", b"x")])),
        ("symlink up then file", raw_tar(&[("up", Symlink, "../..", b""), ("up/escaped", Regular, "", b"x")])),
        ("symlinked dir then file", raw_tar(&[("d", Directory, "", b""), ("d", Symlink, "/etc", b""), ("d/escaped", Regular, "", b"x")])),
        ("hard link out", raw_tar(&[("hl", Link, "../../etc/passwd", b"")])),
        ("hard link absolute", raw_tar(&[("hl", Link, "/etc/passwd", b"")])),
        ("hard link through the container's link", raw_tar(&[("hl", Link, "etc-link/passwd", b"")])),
        ("hard link to the archive's link out", raw_tar(&[("s", Symlink, "/etc/passwd", b""), ("hl", Link, "s", b"")])),
        ("hard link before its target", raw_tar(&[("hl", Link, "later", b""), ("later", Regular, "", b"x")])),
        ("hard link with .. in its target", raw_tar(&[("hl", Link, "sub/../../passwd", b"")])),
        ("hard link to a directory", raw_tar(&[("sub/", Directory, "", b""), ("hl", Link, "sub", b"")])),
    ];
    symlink("/etc", rootfs.join("data/dest/etc-link")).unwrap();
    let passwd = fs::read(rootfs.join("etc/passwd")).unwrap();
    for (what, f) in cases {
        match c.copy_from_archive(&name, "/data/dest", f.as_fd(), &keep_owners()).await {
            Ok(_) => panic!("{what}: extracted"),
            Err(e) => {
                println!("{what}: {}: {e}", e.name());
                assert_eq!(e.name(), "InvalidArchive", "{what}: {e}");
                assert!(e.to_string().contains("archive entry"), "{what}: the entry is named: {e}");
            }
        }
        assert!(!rootfs.join("data/dest/hl").exists(), "{what}: a hard link was made");
        for p in [rootfs.join("escaped"), rootfs.join("data/escaped"), rootfs.join("etc/escaped"), host.path().join("escaped")] {
            assert!(!p.exists(), "{what}: {} was created", p.display());
        }
        assert!(!Path::new("/escaped").exists() && !Path::new("/etc/escaped").exists(), "{what}: the host was written");
        assert_eq!(fs::read(rootfs.join("etc/passwd")).unwrap(), passwd, "{what}");
        // A hard link made inside the destination is a new name of nothing outside.
        if let Ok(m) = fs::symlink_metadata(rootfs.join("data/dest/hl")) {
            assert_ne!(m.ino(), fs::metadata(rootfs.join("etc/passwd")).unwrap().ino(), "{what}");
            assert_ne!(m.ino(), fs::metadata("/etc/passwd").unwrap().ino(), "{what}");
        }
    }
    // An absolute name lands inside the destination, as tar does.
    let r = c.copy_from_archive(&name, "/data/dest", raw_tar(&[("/abs", Regular, "", b"x")]).as_fd(), &keep_owners()).await;
    r.unwrap();
    assert!(rootfs.join("data/dest/abs").exists() && !Path::new("/abs").exists());
    c.remove(&name, true, Some(0)).await.unwrap();
}

/// Every name under `dir`, recursively, for "nothing changed" checks.
fn listing(dir: &Path) -> Vec<String> {
    let o = ok("find", &[dir.to_str().unwrap()]);
    let mut v: Vec<String> = o.lines().map(str::to_string).collect();
    v.sort();
    v
}

#[tokio::test]
async fn bad_input_is_named_and_changes_nothing() {
    let _g = daemon_lock().read().await;
    let c = client().await;
    let f = common::Fixture::new();
    fs::write(Path::new(&f.rootfs).join("data/file"), "a file").unwrap();
    let name = common::unique("bad");
    container(&c, &name, &Source::Rootfs(f.rootfs.clone()), "crun", true).await;
    let id = c.info(&name).await.unwrap().id;
    let before = listing(Path::new(&f.rootfs));
    let good = || raw_tar(&[("new", tar::EntryType::Regular, "", b"x")]);
    let sink = || tempfile::tempfile_in("/var/tmp").unwrap();
    let name_of = |r: berth::model::Result<u64>| r.unwrap_err().name();

    assert_eq!(name_of(c.copy_from_archive("no-such-ctr", "/data", good().as_fd(), &keep_owners()).await), "NoSuchContainer");
    assert_eq!(name_of(c.copy_to_archive("no-such-ctr", "/data", sink().as_fd()).await), "NoSuchContainer");
    assert_eq!(c.stat("no-such-ctr", "/", false).await.unwrap_err().name(), "NoSuchContainer");
    assert_eq!(name_of(c.copy_from_archive(&name, "/nope", good().as_fd(), &keep_owners()).await), "NoSuchPath");
    assert_eq!(name_of(c.copy_to_archive(&name, "/nope", sink().as_fd()).await), "NoSuchPath");
    assert_eq!(c.stat(&name, "/nope", false).await.unwrap_err().name(), "NoSuchPath");
    assert_eq!(name_of(c.copy_from_archive(&name, "/data/file", good().as_fd(), &keep_owners()).await), "NotADirectory");
    assert_eq!(name_of(c.copy_to_archive(&name, "/data/file/.", sink().as_fd()).await), "NotADirectory");
    // A descriptor open the wrong way, for each direction.
    let read_only = File::open(Path::new(&f.rootfs).join("data/file")).unwrap();
    assert_eq!(name_of(c.copy_to_archive(&name, "/data", read_only.as_fd()).await), "InvalidArgument");
    let write_only = fs::OpenOptions::new().write(true).open(Path::new(&f.rootfs).join("data/file")).unwrap();
    assert_eq!(name_of(c.copy_from_archive(&name, "/data", write_only.as_fd(), &keep_owners()).await), "InvalidArgument");
    // A reader that closed its end before the copy: canceled.
    let (r, w) = nix::unistd::pipe().unwrap();
    drop(r);
    assert_eq!(name_of(c.copy_to_archive(&name, "/bin", w.as_fd()).await), "Canceled");
    // Not an archive; an archive cut short.
    let mut junk = sink();
    junk.write_all(&[b'j'; 2000]).unwrap();
    junk.rewind().unwrap();
    assert_eq!(name_of(c.copy_from_archive(&name, "/data", junk.as_fd(), &keep_owners()).await), "InvalidArchive");
    let (r, w) = nix::unistd::pipe().unwrap();
    drop(w);
    assert_eq!(name_of(c.copy_from_archive(&name, "/data", r.as_fd(), &keep_owners()).await), "InvalidArchive");
    // Artifacts: bad names, missing ones.
    for bad in ["a/b", "..", ".", ".hidden", ""] {
        let e = c.add_artifact(&name, bad, good().as_fd()).await.unwrap_err();
        assert_eq!(e.name(), "InvalidArgument", "{bad:?}: {e}");
        assert_eq!(c.get_artifact(&name, bad, sink().as_fd()).await.unwrap_err().name(), "InvalidArgument", "{bad:?}");
    }
    assert_eq!(c.get_artifact(&name, "missing", sink().as_fd()).await.unwrap_err().name(), "NoSuchArtifact");
    assert_eq!(c.remove_artifact(&name, "missing").await.unwrap_err().name(), "NoSuchArtifact");
    assert_eq!(c.add_artifact("no-such-ctr", "a", good().as_fd()).await.unwrap_err().name(), "NoSuchContainer");
    // berthctl names them too, with podman's exit status.
    let o = run(BERTHCTL, &["cp", &format!("{name}:/nope"), "/var/tmp/"]);
    assert_eq!(o.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no such file or directory"), "{}", String::from_utf8_lossy(&o.stderr));

    assert_eq!(listing(Path::new(&f.rootfs)), before, "bad input changed the container's files");
    assert!(!Path::new(STATE).join("artifacts").join(&id).exists(), "bad artifact calls made a directory");
    assert_eq!(c.state(&name).await.unwrap(), State::Running);
    c.remove(&name, true, Some(0)).await.unwrap();
}

#[tokio::test]
async fn artifacts_are_kept_with_the_container_and_go_with_it() {
    let _g = daemon_lock().read().await;
    let c = client().await;
    let f = common::Fixture::new();
    let name = common::unique("art");
    container(&c, &name, &Source::Rootfs(f.rootfs.clone()), "crun", false).await;
    let id = c.info(&name).await.unwrap().id;
    let blob = |data: &[u8]| {
        let mut f = tempfile::tempfile_in("/var/tmp").unwrap();
        f.write_all(data).unwrap();
        f.rewind().unwrap();
        f
    };
    assert_eq!(c.add_artifact(&name, "config.json", blob(b"{\"a\":1}").as_fd()).await.unwrap(), 7);
    assert_eq!(c.add_artifact(&name, "notes", blob(&vec![7u8; 3 << 20]).as_fd()).await.unwrap(), 3 << 20);
    assert_eq!(c.add_artifact(&name, "config.json", blob(b"{\"a\":2}").as_fd()).await.unwrap(), 7);
    assert_eq!(c.list_artifacts(&name).await.unwrap(), ["config.json", "notes"]);
    let mut out = tempfile::tempfile_in("/var/tmp").unwrap();
    assert_eq!(c.get_artifact(&name, "config.json", out.as_fd()).await.unwrap(), 7);
    let mut got = String::new();
    out.rewind().unwrap();
    out.read_to_string(&mut got).unwrap();
    assert_eq!(got, "{\"a\":2}");
    // Through a pipe too.
    let (r, w) = nix::unistd::pipe().unwrap();
    let reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        File::from(r).read_to_end(&mut v).unwrap();
        v
    });
    c.get_artifact(&name, "notes", w.as_fd()).await.unwrap();
    drop(w);
    assert_eq!(reader.join().unwrap().len(), 3 << 20);
    c.remove_artifact(&name, "notes").await.unwrap();
    assert_eq!(c.list_artifacts(&name).await.unwrap(), ["config.json"]);
    assert!(Path::new(STATE).join("artifacts").join(&id).is_dir());
    c.remove(&name, false, None).await.unwrap();
    assert!(!Path::new(STATE).join("artifacts").join(&id).exists(), "artifacts go with the container");
}

#[tokio::test]
async fn a_paused_copy_is_thawed_after_and_a_copy_whose_reader_leaves_is_canceled() {
    let _g = daemon_lock().read().await;
    let c = client().await;
    let f = common::Fixture::new();
    let name = common::unique("pause");
    container(&c, &name, &Source::Rootfs(f.rootfs.clone()), "runc", true).await;
    let paused = CopyOptions { pause: true, ..Default::default() };
    c.copy_from_archive(&name, "/data", raw_tar(&[("p", tar::EntryType::Regular, "", b"x")]).as_fd(), &paused).await.unwrap();
    assert_eq!(c.state(&name).await.unwrap(), State::Running);
    // The sender hangs up half-way: a truncated archive, and thawed.
    let (r, w) = nix::unistd::pipe().unwrap();
    let writer = std::thread::spawn(move || {
        let mut w = File::from(w);
        let mut h = tar::Header::new_gnu();
        h.set_path("half").unwrap();
        h.set_size(10 * MIB);
        h.set_mode(0o644);
        h.set_mtime(0);
        h.set_uid(0);
        h.set_gid(0);
        h.set_cksum();
        w.write_all(h.as_bytes()).unwrap();
        w.write_all(&vec![1u8; MIB as usize]).unwrap();
    });
    let e = c.copy_from_archive(&name, "/data", r.as_fd(), &paused).await.unwrap_err();
    writer.join().unwrap();
    assert_eq!(e.name(), "InvalidArchive", "{e}");
    assert_eq!(c.state(&name).await.unwrap(), State::Running, "thawed after a failed copy");
    let frozen = ok("systemctl", &["show", "-p", "ControlGroup", "--value", &format!("berth-{name}.service")]);
    let events = fs::read_to_string(format!("/sys/fs/cgroup{}/payload/cgroup.events", frozen.trim())).unwrap_or_default();
    assert!(!events.contains("frozen 1"), "{events}");

    // A reader that leaves after 1 MiB of a 64 MiB copy: canceled, and
    // the next copy works.
    fs::write(Path::new(&f.rootfs).join("data/big"), vec![3u8; 64 << 20]).unwrap();
    let (r, w) = nix::unistd::pipe().unwrap();
    let reader = std::thread::spawn(move || {
        let mut r = File::from(r);
        let mut buf = vec![0u8; MIB as usize];
        r.read_exact(&mut buf).unwrap();
    });
    let e = c.copy_to_archive(&name, "/data/big", w.as_fd()).await.unwrap_err();
    reader.join().unwrap();
    assert_eq!(e.name(), "Canceled", "{e}");
    let out = tempfile::tempfile_in("/var/tmp").unwrap();
    assert!(c.copy_to_archive(&name, "/data/big", out.as_fd()).await.unwrap() > 64 * MIB);
    c.remove(&name, true, Some(0)).await.unwrap();
}

#[tokio::test]
async fn berthctl_cp_both_ways_and_as_streams() {
    let _g = daemon_lock().read().await;
    let c = client().await;
    let f = common::Fixture::new();
    let name = common::unique("cp");
    container(&c, &name, &Source::Rootfs(f.rootfs.clone()), "crun", true).await;
    let w = scratch();
    let host = w.path();
    fs::write(host.join("hello.txt"), "hello from the host\n").unwrap();
    fs::create_dir_all(host.join("dir/sub")).unwrap();
    fs::write(host.join("dir/sub/f"), "in a dir").unwrap();
    let h = |p: &str| host.join(p).to_str().unwrap().to_string();
    let ctr = |p: &str| format!("{name}:{p}");
    let rootfs = Path::new(&f.rootfs);

    // Host to container: into a directory, as a new name, a directory.
    ok(BERTHCTL, &["cp", &h("hello.txt"), &ctr("/data")]);
    assert_eq!(fs::read_to_string(rootfs.join("data/hello.txt")).unwrap(), "hello from the host\n");
    ok(BERTHCTL, &["cp", &h("hello.txt"), &ctr("/data/renamed.txt")]);
    assert!(rootfs.join("data/renamed.txt").is_file());
    ok(BERTHCTL, &["cp", &h("dir"), &ctr("/data")]);
    assert_eq!(fs::read_to_string(rootfs.join("data/dir/sub/f")).unwrap(), "in a dir");
    ok(BERTHCTL, &["cp", &h("dir"), &ctr("/data/newdir")]);
    assert!(rootfs.join("data/newdir/sub/f").is_file());
    // --archive (the default) gives the container's user: root here.
    assert_eq!(fs::metadata(rootfs.join("data/hello.txt")).unwrap().uid(), 0);

    // Container to host: into a directory, as a new name, a directory's contents.
    ok(BERTHCTL, &["cp", &ctr("/data/hello.txt"), &h("out-dir-does-not-exist.txt")]);
    assert_eq!(fs::read_to_string(host.join("out-dir-does-not-exist.txt")).unwrap(), "hello from the host\n");
    fs::create_dir(host.join("outdir")).unwrap();
    ok(BERTHCTL, &["cp", &ctr("/data/dir"), &h("outdir")]);
    assert_eq!(fs::read_to_string(host.join("outdir/dir/sub/f")).unwrap(), "in a dir");
    ok(BERTHCTL, &["cp", &ctr("/data/dir/."), &h("contents")]);
    assert!(host.join("contents/sub/f").is_file());

    // Streams: `-` is a tar stream on standard output and input.
    let out = Command::new(BERTHCTL).args(["cp", &ctr("/data/dir"), "-"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut t = Command::new("tar").args(["-tf", "-"]).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    t.stdin.take().unwrap().write_all(&out.stdout).unwrap();
    let names = String::from_utf8(t.wait_with_output().unwrap().stdout).unwrap();
    assert!(names.lines().any(|l| l.trim_end_matches('/') == "dir/sub/f"), "{names}");
    let tar = Command::new("tar").args(["-cf", "-", "-C", host.to_str().unwrap(), "hello.txt"]).output().unwrap().stdout;
    let mut p = Command::new(BERTHCTL).args(["cp", "-", &ctr("/tmp")]).stdin(Stdio::piped()).spawn().unwrap();
    p.stdin.take().unwrap().write_all(&tar).unwrap();
    assert!(p.wait().unwrap().success());
    assert!(rootfs.join("tmp/hello.txt").is_file());

    // A stopped container works the same.
    c.stop(&name, Some(0)).await.unwrap();
    ok(BERTHCTL, &["cp", &h("hello.txt"), &ctr("/data/while-stopped")]);
    ok(BERTHCTL, &["cp", &ctr("/data/while-stopped"), &h("back-from-stopped")]);
    assert_eq!(fs::read_to_string(host.join("back-from-stopped")).unwrap(), "hello from the host\n");
    c.remove(&name, true, Some(0)).await.unwrap();
}

/// A copy out of `path` whose reader never reads and keeps its end open:
/// berthd is left waiting to write. The call, and the reader's end.
async fn stalled_copy_out(c: &Client, name: &str, path: &str) -> (tokio::task::JoinHandle<berth::model::Result<u64>>, std::os::fd::OwnedFd) {
    let (r, w) = nix::unistd::pipe().unwrap();
    let (c2, n, p) = (c.clone(), name.to_string(), path.to_string());
    let call = tokio::spawn(async move { c2.copy_to_archive(&n, &p, w.as_fd()).await });
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert!(!call.is_finished(), "the copy ended although nobody read it");
    (call, r)
}

#[tokio::test]
async fn a_stalled_reader_holds_up_no_other_verb() {
    use std::time::Duration;
    use tokio::time::timeout;
    let _g = daemon_lock().read().await;
    let c = client().await;
    let image = busybox_image(&c).await;
    let quick = Duration::from_secs(20);
    for running in [true, false] {
        let what = if running { "running" } else { "stopped" };
        let name = common::unique("stall");
        container(&c, &name, &Source::Image(image.clone()), "crun", true).await;
        let big = raw_tar(&[("big", tar::EntryType::Regular, "", &vec![5u8; 16 << 20]), ("small", tar::EntryType::Regular, "", b"s")]);
        c.copy_from_archive(&name, "/data", big.as_fd(), &keep_owners()).await.unwrap();
        if !running {
            c.stop(&name, Some(0)).await.unwrap();
        }
        let id = c.info(&name).await.unwrap().id;
        let (call, reader) = stalled_copy_out(&c, &name, "/data/big").await;
        // Inspect, stat and a second copy go on meanwhile.
        timeout(quick, c.info(&name)).await.unwrap_or_else(|_| panic!("{what}: inspect waited for the stalled copy")).unwrap();
        timeout(quick, c.stat(&name, "/data/big", false)).await.unwrap_or_else(|_| panic!("{what}: stat waited")).unwrap();
        let out = tempfile::tempfile_in("/var/tmp").unwrap();
        let second = timeout(quick, c.copy_to_archive(&name, "/data/small", out.as_fd()));
        second.await.unwrap_or_else(|_| panic!("{what}: a second copy waited")).unwrap();
        if running {
            // Stop goes on, and the copy ends with it.
            timeout(quick, c.stop(&name, Some(0))).await.unwrap_or_else(|_| panic!("stop waited for the stalled copy")).unwrap();
            let r = timeout(quick, call).await.expect("the stalled copy outlived its container's stop").unwrap();
            let e = r.unwrap_err();
            assert_eq!(e.name(), "Canceled", "{e}");
            assert!(e.to_string().contains("stopped"), "{e}");
            drop(reader);
        } else {
            // Start goes on (on the same root), and the copy ends when its
            // reader closes its end; the root stays mounted for the
            // container that now runs on it.
            timeout(quick, c.start(&name, false)).await.unwrap_or_else(|_| panic!("start waited for the stalled copy")).unwrap();
            drop(reader);
            let r = timeout(quick, call).await.expect("the copy went on after its reader closed").unwrap();
            assert_eq!(r.unwrap_err().name(), "Canceled");
            assert_eq!(c.state(&name).await.unwrap(), State::Running);
            assert!(mounted(&id), "the running container's root is still mounted");
            assert_eq!(c.stat(&name, "/data/small", false).await.unwrap().size, 1);
            c.stop(&name, Some(0)).await.unwrap();
            // Stopped again: a copy mounts the root and gives it back.
            let was = mounted(&id);
            c.stat(&name, "/data/small", false).await.unwrap();
            assert_eq!(mounted(&id), was);
        }
        c.remove(&name, true, Some(0)).await.unwrap();
    }
}

#[tokio::test]
async fn volumes_are_reached_running_and_stopped() {
    let _g = daemon_lock().read().await;
    let c = client().await;
    let image = busybox_image(&c).await;
    let w = scratch();
    let bind = w.path().join("bind");
    fs::create_dir(&bind).unwrap();
    fs::write(bind.join("from-host"), "bind data").unwrap();
    for (kind, source) in [("rootfs", Source::Rootfs(common::Fixture::new().rootfs)), ("image", Source::Image(image.clone()))] {
        let vol = common::unique("cpvol");
        let name = common::unique("vols");
        let volumes = list(&[&format!("{}:/mnt/bind", bind.display()), &format!("{vol}:/srv/named")]);
        container_with(&c, &name, &source, "crun", true, [("Volumes".to_string(), volumes)].into()).await;
        let vol_dir = c.inspect_volume(&vol).await.unwrap().mountpoint;
        for tag in ["running", "stopped"] {
            let what = format!("{kind} {tag}");
            if tag == "stopped" {
                c.stop(&name, Some(0)).await.unwrap();
            }
            let file = format!("{kind}-{tag}");
            for dest in ["/mnt/bind", "/srv/named", "/srv/named/../named/"] {
                let archive = raw_tar(&[(&file, tar::EntryType::Regular, "", dest.as_bytes())]);
                c.copy_from_archive(&name, dest, archive.as_fd(), &keep_owners()).await.unwrap_or_else(|e| panic!("{what}: {dest}: {e}"));
            }
            assert_eq!(fs::read_to_string(bind.join(&file)).unwrap(), "/mnt/bind", "{what}");
            assert_eq!(fs::read_to_string(vol_dir.join(&file)).unwrap(), "/srv/named/../named/", "{what}");
            assert_eq!(c.stat(&name, "/mnt/bind/from-host", false).await.unwrap().size, 9, "{what}");
            assert_eq!(c.stat(&name, &format!("/srv/named/{file}"), false).await.unwrap().size, 20, "{what}");
            // A copy of a parent holds the volumes' contents.
            let mut out = tempfile::tempfile_in("/var/tmp").unwrap();
            c.copy_to_archive(&name, "/mnt", out.as_fd()).await.unwrap();
            out.rewind().unwrap();
            let names: Vec<String> =
                tar::Archive::new(&out).entries().unwrap().map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned()).collect();
            assert!(names.contains(&"mnt/bind/from-host".to_string()), "{what}: {names:?}");
            assert!(names.contains(&format!("mnt/bind/{file}")), "{what}: {names:?}");
            let mut out = tempfile::tempfile_in("/var/tmp").unwrap();
            c.copy_to_archive(&name, "/srv", out.as_fd()).await.unwrap();
            out.rewind().unwrap();
            let names: Vec<String> =
                tar::Archive::new(&out).entries().unwrap().map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned()).collect();
            assert!(names.contains(&format!("srv/named/{file}")), "{what}: {names:?}");
        }
        // What was copied in while it ran is there stopped, and the other way round.
        assert_eq!(c.stat(&name, &format!("/srv/named/{kind}-running"), false).await.unwrap().size, 20);
        c.start(&name, false).await.unwrap();
        assert_eq!(c.stat(&name, &format!("/mnt/bind/{kind}-stopped"), false).await.unwrap().size, 9);
        assert_eq!(c.stat(&name, &format!("/srv/named/{kind}-stopped"), false).await.unwrap().size, 20);
        c.remove(&name, true, Some(0)).await.unwrap();
        c.remove_volume(&vol, true).await.unwrap();
    }
}
