//! Copy out and copy in on small trees in temporary "roots", archives read
//! and written by the tar crate's own reader and builder as a second
//! opinion.

use super::*;
use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::Path;
use std::sync::atomic::AtomicBool;

static GO: AtomicBool = AtomicBool::new(false);

fn root_with_tree() -> (tempfile::TempDir, ContainerRoot) {
    let d = tempfile::tempdir().unwrap();
    let r = d.path().join("root");
    fs::create_dir_all(r.join("etc")).unwrap();
    fs::create_dir_all(r.join("srv/app/sub")).unwrap();
    fs::create_dir_all(r.join("run")).unwrap();
    fs::create_dir_all(r.join("var")).unwrap();
    symlink("/run", r.join("var/run")).unwrap();
    fs::write(r.join("etc/passwd"), "root:x:0:0::/:/bin/sh\napp:x:1000:1000::/:/bin/sh\n").unwrap();
    fs::write(r.join("etc/group"), "root:x:0:\napp:x:1000:\n").unwrap();
    fs::write(r.join("srv/app/a.txt"), "alpha").unwrap();
    nix::unistd::chown(&r.join("srv/app/a.txt"), Some(1000.into()), Some(1000.into())).unwrap();
    fs::set_permissions(r.join("srv/app/a.txt"), fs::Permissions::from_mode(0o4755)).unwrap();
    fs::hard_link(r.join("srv/app/a.txt"), r.join("srv/app/sub/a-again")).unwrap();
    symlink("/etc/passwd", r.join("srv/app/pw")).unwrap();
    symlink("../../..", r.join("srv/app/up")).unwrap();
    fs::write(r.join("run/in-run"), "run").unwrap();
    (d, ContainerRoot::of_dir(&r).unwrap())
}

fn archive_of(root: &ContainerRoot, path: &str) -> Vec<u8> {
    let mut out = Vec::new();
    copy_out(root, path, &mut out, &GO).unwrap();
    out
}

/// (path, type byte, link name, size) of every entry, by the tar crate.
fn listing(data: &[u8]) -> Vec<(String, u8, String, u64)> {
    let mut a = tar::Archive::new(data);
    a.entries()
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let link = e.link_name().unwrap().map(|l| l.to_string_lossy().into_owned()).unwrap_or_default();
            (e.path().unwrap().to_string_lossy().into_owned(), e.header().entry_type().as_byte(), link, e.size())
        })
        .collect()
}

#[test]
fn copy_out_names_the_top_entry_and_keeps_links_as_links() {
    let (_d, root) = root_with_tree();
    let l = listing(&archive_of(&root, "/srv/app"));
    let names: Vec<&str> = l.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(names, ["app/", "app/a.txt", "app/pw", "app/sub/", "app/sub/a-again", "app/up"]);
    assert_eq!(l[2].1, b'2');
    assert_eq!(l[2].2, "/etc/passwd");
    assert_eq!((l[4].1, l[4].2.as_str()), (b'1', "app/a.txt"), "hard link to the first path");
    assert_eq!((l[5].1, l[5].2.as_str()), (b'2', "../../.."));
}

#[test]
fn copy_out_contents_file_and_followed_final_link() {
    let (_d, root) = root_with_tree();
    let names = |p| listing(&archive_of(&root, p)).into_iter().map(|e| e.0).collect::<Vec<_>>();
    assert_eq!(names("/srv/app/sub/."), ["a-again"]);
    assert_eq!(names("/srv/app/sub/"), ["sub/", "sub/a-again"]);
    assert_eq!(names("/srv/app/a.txt"), ["a.txt"]);
    // The final link is followed as the container sees it, named for the link.
    let l = listing(&archive_of(&root, "/var/run"));
    assert_eq!(l[0].0, "run/");
    assert_eq!(l[1].0, "run/in-run");
    let pw = listing(&archive_of(&root, "/srv/app/pw"));
    assert_eq!((pw[0].0.as_str(), pw[0].1, pw[0].3), ("pw", b'0', 49));
    assert!(matches!(copy_out(&root, "/srv/app/a.txt/", io::sink(), &GO), Err(Error::NotADirectory { .. })));
    assert!(matches!(copy_out(&root, "/srv/app/a.txt/.", io::sink(), &GO), Err(Error::NotADirectory { .. })));
    assert!(matches!(copy_out(&root, "/nope", io::sink(), &GO), Err(Error::NotFound { .. })));
}

#[test]
fn copy_out_carries_modes_owners_and_names() {
    let (_d, root) = root_with_tree();
    let data = archive_of(&root, "/srv/app/a.txt");
    let mut a = tar::Archive::new(&data[..]);
    let mut e = a.entries().unwrap().next().unwrap().unwrap();
    let h = e.header().clone();
    assert_eq!(h.mode().unwrap(), 0o4755);
    assert_eq!((h.uid().unwrap(), h.gid().unwrap()), (1000, 1000));
    assert_eq!(h.username().unwrap(), Some("app"), "the container's name, not the host's");
    let mut s = String::new();
    e.read_to_string(&mut s).unwrap();
    assert_eq!(s, "alpha");
}

#[test]
fn procfs_is_archived_without_its_contents() {
    let root = ContainerRoot::of_dir(Path::new("/")).unwrap();
    assert_eq!(listing(&archive_of(&root, "/proc")).len(), 1);
    assert_eq!(listing(&archive_of(&root, "/proc/.")).len(), 0);
}

#[test]
fn copy_out_stops_on_a_closed_receiver_and_on_cancel() {
    struct Closed;
    impl Write for Closed {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::from(io::ErrorKind::BrokenPipe))
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let (_d, root) = root_with_tree();
    assert!(matches!(copy_out(&root, "/srv", Closed, &GO), Err(Error::OutputClosed { .. })));
    let stop = AtomicBool::new(true);
    assert!(matches!(copy_out(&root, "/srv", io::sink(), &stop), Err(Error::Canceled)));
}

fn dest_root() -> (tempfile::TempDir, ContainerRoot) {
    let d = tempfile::tempdir().unwrap();
    fs::create_dir_all(d.path().join("root/dest")).unwrap();
    fs::create_dir_all(d.path().join("root/etc")).unwrap();
    fs::write(d.path().join("root/etc/passwd"), "container").unwrap();
    fs::write(d.path().join("outside"), "host").unwrap();
    let root = ContainerRoot::of_dir(&d.path().join("root")).unwrap();
    (d, root)
}

fn header(kind: tar::EntryType, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(1_600_000_000);
    h
}

/// Raw entries (name written as is, no checks by the builder).
fn raw_archive(entries: &[(&str, tar::EntryType, &str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, kind, link, data) in entries {
        let mut h = header(*kind, data.len() as u64);
        h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        h.as_old_mut().linkname[..link.len()].copy_from_slice(link.as_bytes());
        h.set_cksum();
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.extend_from_slice(&[0; 1024]);
    out
}

fn copy(root: &ContainerRoot, dest: &str, data: &[u8]) -> Result<CopyStats> {
    copy_in(root, dest, data, &CopyInOptions::default(), &GO)
}

#[test]
fn copy_in_extracts_a_tree_made_by_another_writer() {
    let (d, root) = dest_root();
    let mut b = tar::Builder::new(Vec::new());
    let mut h = header(tar::EntryType::Directory, 0);
    h.set_mode(0o750);
    b.append_data(&mut h, "dir/", io::empty()).unwrap();
    let mut h = header(tar::EntryType::Regular, 5);
    h.set_mode(0o4711);
    h.set_uid(1234);
    h.set_gid(4321);
    b.append_data(&mut h, "dir/f", &b"hello"[..]).unwrap();
    let mut h = header(tar::EntryType::Symlink, 0);
    b.append_link(&mut h, "dir/link", "/etc/passwd").unwrap();
    let mut h = header(tar::EntryType::Link, 0);
    b.append_link(&mut h, "dir/hard", "dir/f").unwrap();
    let mut h = header(tar::EntryType::Regular, 1);
    b.append_data(&mut h, "implicit/parent/x", &b"x"[..]).unwrap();
    let long = format!("dir/{}", "l".repeat(200));
    let mut h = header(tar::EntryType::Regular, 4);
    b.append_data(&mut h, &long, &b"long"[..]).unwrap();
    let data = b.into_inner().unwrap();

    let stats = copy(&root, "/dest", &data).unwrap();
    assert_eq!(stats.entries, 6);
    let dest = d.path().join("root/dest");
    let f = fs::metadata(dest.join("dir/f")).unwrap();
    assert_eq!(f.mode() & 0o7777, 0o4711, "setuid survives the chown");
    assert_eq!((f.uid(), f.gid()), (1234, 4321));
    assert_eq!(f.mtime(), 1_600_000_000);
    assert_eq!(fs::read_link(dest.join("dir/link")).unwrap(), Path::new("/etc/passwd"));
    assert_eq!(fs::metadata(dest.join("dir/hard")).unwrap().ino(), f.ino());
    assert_eq!(fs::read_to_string(dest.join("implicit/parent/x")).unwrap(), "x");
    assert_eq!(fs::read_to_string(dest.join(&long)).unwrap(), "long");
    let dm = fs::metadata(dest.join("dir")).unwrap();
    assert_eq!((dm.mode() & 0o7777, dm.mtime()), (0o750, 1_600_000_000), "directory metadata applied last");
}

#[test]
fn hostile_entries_are_refused_and_nothing_lands_outside() {
    let (d, root) = dest_root();
    let outside = d.path().join("outside");
    type Check = fn(&Error) -> bool;
    let cases: Vec<(Vec<u8>, Check)> = vec![
        (raw_archive(&[("../outside", tar::EntryType::Regular, "", b"pwned")]), |e| matches!(e, Error::EntryEscapes { .. })),
        (raw_archive(&[("a/../../../outside", tar::EntryType::Regular, "", b"pwned")]), |e| matches!(e, Error::EntryEscapes { .. })),
        (raw_archive(&[("a", tar::EntryType::Symlink, "/etc", b""), ("a/passwd", tar::EntryType::Regular, "", b"pwned")]), |e| {
            matches!(e, Error::EntryThroughArchiveSymlink { .. })
        }),
        (raw_archive(&[("b", tar::EntryType::Symlink, "../..", b""), ("b/outside", tar::EntryType::Regular, "", b"pwned")]), |e| {
            matches!(e, Error::EntryThroughArchiveSymlink { .. })
        }),
        (raw_archive(&[("h", tar::EntryType::Link, "../../outside", b"")]), |e| matches!(e, Error::HardLinkOutside { .. })),
        (raw_archive(&[("c", tar::EntryType::Symlink, "/", b""), ("h2", tar::EntryType::Link, "c/etc/passwd", b"")]), |e| {
            matches!(e, Error::EntryThroughArchiveSymlink { .. })
        }),
    ];
    for (data, want) in cases {
        let err = copy(&root, "/dest", &data).unwrap_err();
        assert!(want(&err), "{err:?}");
    }
    // Absolute names are confined: they land under the destination.
    copy(&root, "/dest", &raw_archive(&[("/etc/passwd", tar::EntryType::Regular, "", b"confined")])).unwrap();
    assert_eq!(fs::read_to_string(d.path().join("root/dest/etc/passwd")).unwrap(), "confined");
    assert_eq!(fs::read_to_string(d.path().join("root/etc/passwd")).unwrap(), "container");
    assert_eq!(fs::read_to_string(&outside).unwrap(), "host");
    // The archive's symlinks themselves were made, pointing where they say.
    assert_eq!(fs::read_link(d.path().join("root/dest/a")).unwrap(), Path::new("/etc"));
}

#[test]
fn container_symlinks_in_the_destination_resolve_inside_the_root() {
    let (d, root) = dest_root();
    symlink("/etc", d.path().join("root/dest/cfg")).unwrap();
    symlink("../../..", d.path().join("root/dest/up")).unwrap();
    copy(&root, "/dest", &raw_archive(&[("cfg/app.conf", tar::EntryType::Regular, "", b"c")])).unwrap();
    assert_eq!(fs::read_to_string(d.path().join("root/etc/app.conf")).unwrap(), "c");
    copy(&root, "/dest", &raw_archive(&[("up/outside", tar::EntryType::Regular, "", b"in root")])).unwrap();
    assert_eq!(fs::read_to_string(d.path().join("root/outside")).unwrap(), "in root");
    assert_eq!(fs::read_to_string(d.path().join("outside")).unwrap(), "host");
    // A directory entry keeps the container's link to a directory.
    fs::create_dir_all(d.path().join("root/usr/lib")).unwrap();
    symlink("/usr/lib", d.path().join("root/dest/lib")).unwrap();
    let lib = raw_archive(&[("lib", tar::EntryType::Directory, "", b""), ("lib/libx.so", tar::EntryType::Regular, "", b"x")]);
    copy(&root, "/dest", &lib).unwrap();
    assert_eq!(fs::read_link(d.path().join("root/dest/lib")).unwrap(), Path::new("/usr/lib"));
    assert_eq!(fs::read_to_string(d.path().join("root/usr/lib/libx.so")).unwrap(), "x");
    // And so does the destination itself.
    copy(&root, "/dest/up/etc", &raw_archive(&[("x", tar::EntryType::Regular, "", b"x")])).unwrap();
    assert!(d.path().join("root/etc/x").exists());
}

#[test]
fn replacing_and_no_overwrite_dir_nondir() {
    let (d, root) = dest_root();
    let dest = d.path().join("root/dest");
    fs::create_dir_all(dest.join("d/inner")).unwrap();
    fs::write(dest.join("d/inner/f"), "old").unwrap();
    fs::write(dest.join("f"), "old").unwrap();
    let file_over_dir = raw_archive(&[("d", tar::EntryType::Regular, "", b"new")]);
    let dir_over_file = raw_archive(&[("f", tar::EntryType::Directory, "", b"")]);
    let strict = CopyInOptions { no_overwrite_dir_nondir: true, ..Default::default() };
    assert!(matches!(copy_in(&root, "/dest", &file_over_dir[..], &strict, &GO), Err(Error::WouldReplaceDirectory { .. })));
    assert!(matches!(copy_in(&root, "/dest", &dir_over_file[..], &strict, &GO), Err(Error::WouldReplaceNonDirectory { .. })));
    assert!(dest.join("d/inner/f").exists());
    copy(&root, "/dest", &file_over_dir).unwrap();
    copy(&root, "/dest", &dir_over_file).unwrap();
    assert_eq!(fs::read_to_string(dest.join("d")).unwrap(), "new");
    assert!(dest.join("f").is_dir());
    // A file over a file is replaced, and a symlink there is replaced, not followed.
    symlink("/etc/passwd", dest.join("s")).unwrap();
    copy(&root, "/dest", &raw_archive(&[("s", tar::EntryType::Regular, "", b"not through")])).unwrap();
    assert_eq!(fs::read_to_string(d.path().join("root/etc/passwd")).unwrap(), "container");
    assert_eq!(fs::read_to_string(dest.join("s")).unwrap(), "not through");
}

#[test]
fn destination_rules_rename_and_owner() {
    let (d, root) = dest_root();
    let data = raw_archive(&[("file", tar::EntryType::Regular, "", b"v")]);
    assert!(matches!(copy(&root, "/missing", &data), Err(Error::NotFound { .. })));
    assert!(matches!(copy(&root, "/etc/passwd", &data), Err(Error::DestinationNotDirectory { .. })));
    assert!(matches!(copy(&root, "/etc/passwd/x", &data), Err(Error::DestinationNotDirectory { .. })));
    let opts = CopyInOptions {
        rename: BTreeMap::from([("file".to_string(), "renamed".to_string())]),
        owner: Ownership::Fixed { uid: 7, gid: 8 },
        ..Default::default()
    };
    copy_in(&root, "/dest", &data[..], &opts, &GO).unwrap();
    let m = fs::metadata(d.path().join("root/dest/renamed")).unwrap();
    assert_eq!((m.uid(), m.gid()), (7, 8));
    assert!(!d.path().join("root/dest/file").exists());
}

#[test]
fn truncated_and_canceled_copies_are_named() {
    let (_d, root) = dest_root();
    let data = raw_archive(&[("f", tar::EntryType::Regular, "", &[7u8; 3000])]);
    for cut in [0, 100, 512, 2000, 512 + 3072] {
        let err = copy(&root, "/dest", &data[..cut]).unwrap_err();
        assert!(matches!(err, Error::TruncatedArchive(_)), "cut at {cut}: {err:?}");
    }
    let stop = AtomicBool::new(true);
    assert!(matches!(copy_in(&root, "/dest", &data[..], &CopyInOptions::default(), &stop), Err(Error::Canceled)));
}

#[test]
fn round_trip_keeps_everything() {
    let (src_dir, src) = root_with_tree();
    let archive = archive_of(&src, "/srv/app");
    let (d, dst) = dest_root();
    copy(&dst, "/dest", &archive).unwrap();
    let a = src_dir.path().join("root/srv/app");
    let b = d.path().join("root/dest/app");
    for rel in ["", "a.txt", "sub", "sub/a-again", "pw", "up"] {
        let (ma, mb) = (fs::symlink_metadata(a.join(rel)).unwrap(), fs::symlink_metadata(b.join(rel)).unwrap());
        assert_eq!((ma.mode(), ma.uid(), ma.gid()), (mb.mode(), mb.uid(), mb.gid()), "{rel}");
        assert_eq!((ma.mtime(), ma.mtime_nsec()), (mb.mtime(), mb.mtime_nsec()), "{rel}");
    }
    assert_eq!(fs::metadata(b.join("a.txt")).unwrap().ino(), fs::metadata(b.join("sub/a-again")).unwrap().ino());
    assert_eq!(fs::read_link(b.join("up")).unwrap(), Path::new("../../.."));
}

/// Every name under `dir` with what says it is the same thing: type and
/// mode, inode, link count, size, mtime, link target, contents of files.
fn state_of(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(p) = stack.pop() {
        let m = fs::symlink_metadata(&p).unwrap();
        let rel = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
        let what = if m.file_type().is_symlink() {
            format!("link {}", fs::read_link(&p).unwrap().display())
        } else if m.is_file() {
            format!("file {:?}", fs::read(&p).unwrap())
        } else {
            for e in fs::read_dir(&p).unwrap() {
                stack.push(e.unwrap().path());
            }
            "dir".to_string()
        };
        out.insert(rel, format!("{what} mode {:o} ino {} nlink {} size {} mtime {}.{}", m.mode(), m.ino(), m.nlink(), m.len(), m.mtime(), m.mtime_nsec()));
    }
    out
}

#[test]
fn hostile_hard_links_are_named_and_change_nothing() {
    use tar::EntryType::{Link, Regular, Symlink};
    type Entries = &'static [(&'static str, tar::EntryType, &'static str, &'static [u8])];
    // (what, entries, names the entries before the link make, error variant, reason)
    let cases: &[(&str, Entries, &[&str], &str, &str)] = &[
        ("target outside by ..", &[("hl", Link, "../../outside", b"")], &[], "HardLinkOutside", ""),
        (".. in the link name, climbing out", &[("hl", Link, "sub/../../etc/passwd", b"")], &[], "HardLinkOutside", ""),
        ("absolute target, not in the archive", &[("hl", Link, "/etc/passwd", b"")], &[], "BadHardLink", "does not exist"),
        ("through the container's link out of the destination", &[("hl", Link, "esc/passwd", b"")], &[], "BadHardLink", "through a symbolic link"),
        ("through the container's link up", &[("hl", Link, "up/etc/passwd", b"")], &[], "BadHardLink", "through a symbolic link"),
        ("through a file", &[("hl", Link, "file/x", b"")], &[], "BadHardLink", "not a directory"),
        ("through the archive's link", &[("lnk", Symlink, "/", b""), ("hl", Link, "lnk/etc/passwd", b"")], &["lnk"], "EntryThroughArchiveSymlink", ""),
        ("to the archive's link escaping", &[("s", Symlink, "/etc/passwd", b""), ("hl", Link, "s", b"")], &["s"], "BadHardLink", "is a symbolic link"),
        ("to the container's link escaping", &[("hl", Link, "esc", b"")], &[], "BadHardLink", "is a symbolic link"),
        ("to a path not extracted yet", &[("hl", Link, "later", b""), ("later", Regular, "", b"x")], &[], "BadHardLink", "does not exist"),
        ("not extracted yet, in a new directory", &[("newdir/hl", Link, "newdir/later", b"")], &[], "BadHardLink", "does not exist"),
        ("to a directory", &[("hl", Link, "sub", b"")], &[], "BadHardLink", "is a directory"),
        ("to itself", &[("hl", Link, "hl", b"")], &[], "BadHardLink", "the entry itself"),
        ("to the destination", &[("hl", Link, ".", b"")], &[], "BadHardLink", "the destination directory itself"),
        ("with no target", &[("hl", Link, "", b"")], &[], "BadHardLink", "is empty"),
    ];
    for (what, entries, made, variant, reason) in cases {
        let (d, root) = dest_root();
        let dest = d.path().join("root/dest");
        fs::create_dir(dest.join("sub")).unwrap();
        fs::write(dest.join("file"), "f").unwrap();
        fs::write(dest.join("hl"), "keep").unwrap();
        symlink("/etc", dest.join("esc")).unwrap();
        symlink("..", dest.join("up")).unwrap();
        let mut before = state_of(d.path());
        let err = copy(&root, "/dest", &raw_archive(entries)).unwrap_err();
        let shown = format!("{err:?}");
        assert!(shown.starts_with(variant) && err.to_string().contains(reason), "{what}: {shown}: {err}");
        if let Error::BadHardLink { entry, .. } | Error::HardLinkOutside { entry, .. } = &err {
            assert!(entry.ends_with("hl"), "{what}: the entry is named: {err}");
        }
        let mut after = state_of(d.path());
        for m in *made {
            after.remove(&format!("root/dest/{m}"));
            // The entries before the link changed the destination's mtime.
            after.remove("root/dest");
            before.remove("root/dest");
        }
        assert_eq!(after, before, "{what}: something changed on disk");
    }

    // A `..` that stays inside, and a link over an existing file: made.
    let (d, root) = dest_root();
    let dest = d.path().join("root/dest");
    fs::create_dir(dest.join("sub")).unwrap();
    fs::write(dest.join("file"), "f").unwrap();
    fs::write(dest.join("hl"), "replaced").unwrap();
    copy(&root, "/dest", &raw_archive(&[("hl", Link, "sub/../file", b"")])).unwrap();
    assert_eq!(fs::metadata(dest.join("hl")).unwrap().ino(), fs::metadata(dest.join("file")).unwrap().ino());
    assert_eq!(fs::read_to_string(dest.join("hl")).unwrap(), "f");
    // Again, onto the same file: nothing left behind.
    copy(&root, "/dest", &raw_archive(&[("hl", Link, "file", b"")])).unwrap();
    let mut names: Vec<String> = fs::read_dir(&dest).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    assert_eq!(names, ["file", "hl", "sub"]);
}

#[test]
fn a_stopped_containers_volumes_are_reached_at_their_destinations() {
    let (d, root) = dest_root();
    let vol = d.path().join("volume");
    fs::create_dir_all(d.path().join("root/srv/data")).unwrap();
    fs::write(d.path().join("root/srv/data/under-the-mount"), "hidden by the volume").unwrap();
    fs::create_dir_all(vol.join("sub")).unwrap();
    fs::write(vol.join("in-volume"), "volume data").unwrap();
    symlink("/", vol.join("top")).unwrap();
    symlink("../../..", vol.join("sub/up")).unwrap();
    let root = root.with_volume("/srv/./data/", &vol).unwrap();
    let read = |p: &str| {
        let mut s = String::new();
        let mut out = Vec::new();
        copy_out(&root, p, &mut out, &GO).unwrap();
        let mut a = tar::Archive::new(&out[..]);
        a.entries().unwrap().next().unwrap().unwrap().read_to_string(&mut s).unwrap();
        s
    };
    assert_eq!(read("/srv/data/in-volume"), "volume data");
    assert_eq!(read("/srv/../srv/data/in-volume"), "volume data");
    // Inside the volume, links and `..` stay in the volume.
    assert_eq!(read("/srv/data/top/in-volume"), "volume data");
    assert_eq!(read("/srv/data/sub/up/in-volume"), "volume data");
    assert_eq!(stat(&root, "/srv/data/top", true).unwrap().link_target.as_deref(), Some("/srv/data"));
    // Beside it, the root as before.
    assert_eq!(read("/srv/data/../../etc/passwd"), "container");
    assert!(matches!(stat(&root, "/srv/data/under-the-mount", false), Err(Error::NotFound { .. })));
    // A copy of a parent shows the volume's contents at its destination.
    let names: Vec<String> = listing(&archive_of(&root, "/srv")).into_iter().map(|e| e.0).collect();
    assert!(names.contains(&"srv/data/in-volume".to_string()) && !names.iter().any(|n| n.contains("under-the-mount")), "{names:?}");
    // Copies in land in the volume.
    copy(&root, "/srv/data", &raw_archive(&[("new/f", tar::EntryType::Regular, "", b"in")])).unwrap();
    assert_eq!(fs::read_to_string(vol.join("new/f")).unwrap(), "in");
    copy(&root, "/srv", &raw_archive(&[("data/g", tar::EntryType::Regular, "", b"g")])).unwrap();
    assert_eq!(fs::read_to_string(vol.join("g")).unwrap(), "g");
    assert!(!d.path().join("root/srv/data/new").exists() && !d.path().join("root/srv/data/g").exists());
    // Only a stopped container's root takes volumes, and not at /.
    assert!(matches!(ContainerRoot::of_dir(d.path()).unwrap().with_volume("/", &vol), Err(Error::InvalidPath { .. })));
}
