//! The store and its imports on images built by the tests themselves
//! (owned by whoever runs them: no privilege needed).

#[path = "../../tests/image_fixture/mod.rs"]
mod fixture;

use super::*;
use fixture::*;
use std::fs;
use std::path::Path;

fn store() -> (tempfile::TempDir, ImageStore) {
    let d = tempfile::tempdir().unwrap();
    let s = ImageStore::open(d.path().join("images")).unwrap();
    (d, s)
}

fn names(s: &ImageStore) -> Vec<String> {
    let mut v: Vec<String> = s.list().unwrap().into_iter().flat_map(|i| i.names).collect();
    v.sort();
    v
}

/// Nothing but what committed images use: no staging left, no stray layer.
fn assert_clean(s: &ImageStore) {
    assert_eq!(fs::read_dir(s.tmp_dir()).unwrap().count(), 0, "tmp/ is empty");
    let used: usize = s.list().unwrap().iter().flat_map(|i| i.layers.clone()).collect::<std::collections::BTreeSet<_>>().len();
    assert_eq!(fs::read_dir(s.layers_dir()).unwrap().count(), used, "no stray layers");
}

fn layout(dir: &Path, images: &[TestImage]) -> std::path::PathBuf {
    let p = dir.join("layout");
    write_dir(&p, &oci_files(images));
    p
}

#[test]
fn imports_an_oci_layout_and_finds_it_by_every_form() {
    let (d, s) = store();
    let img = simple_image().named("localhost/simple:1");
    let got = s.import_path(&layout(d.path(), std::slice::from_ref(&img)), &ImportOptions::default()).unwrap();
    assert_eq!(got.len(), 1);
    let id = img.id();
    assert_eq!(got[0].id, id);
    assert_eq!(got[0].names, ["localhost/simple:1"]);
    for r in ["localhost/simple:1", "simple:1", &id, &format!("sha256:{id}"), &id[..3], &id[..12]] {
        assert_eq!(s.resolve(r).unwrap().id, id, "{r}");
    }
    assert!(matches!(s.resolve("simple"), Err(Error::ImageNotFound { .. })), "simple means simple:latest");
    let layers = s.layer_dirs(&got[0]);
    assert_eq!(layers.len(), 2);
    assert!(layers[0].join("data/x").is_file(), "the top layer comes first");
    assert!(layers[1].join("bin/tool").is_file());
    let c = s.config(&got[0]).unwrap();
    assert_eq!(c.cmd, ["/bin/tool"]);
    assert_eq!(c.exposed_ports[0].to_string(), "80/tcp");
    let i = s.inspect("simple:1").unwrap();
    assert_eq!((i.image.architecture.as_str(), i.image.os.as_str()), ("amd64", "linux"));
    assert_eq!(i.image.created.as_deref(), Some("2024-05-01T10:00:00Z"));
    assert!(i.image.size > 0);
    assert_clean(&s);
}

#[test]
fn archives_streams_and_compressed_archives_give_the_same_image() {
    let (d, s) = store();
    let img = simple_image().named("localhost/simple:latest");
    let oci = d.path().join("oci.tar");
    fs::write(&oci, tar_of(&oci_files(std::slice::from_ref(&img)))).unwrap();
    let docker = d.path().join("docker.tar");
    fs::write(&docker, tar_of(&docker_files(std::slice::from_ref(&img)))).unwrap();
    let a = s.import_path(&oci, &ImportOptions::default()).unwrap();
    let b = s.import_path(&docker, &ImportOptions::default()).unwrap();
    let gz = {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(&fs::read(&docker).unwrap()).unwrap();
        e.finish().unwrap()
    };
    let c = s.import_reader(&gz[..], &ImportOptions { name: Some("other".into()) }).unwrap();
    assert_eq!(a[0].id, img.id());
    assert_eq!(b[0].id, img.id());
    assert_eq!(c[0].id, img.id());
    assert_eq!(names(&s), ["localhost/other:latest", "localhost/simple:latest"]);
    assert_eq!(s.list().unwrap().len(), 1);
    assert_clean(&s);
}

#[test]
fn a_docker_archive_with_several_images() {
    let (d, s) = store();
    let one = simple_image();
    let mut two = simple_image();
    two.layers.push(Layer::new(Compress::None).file("extra", b"2", 0o644));
    // docker's own names: no domain means docker.io.
    let mut files = docker_files(&[one.clone().named("one:latest"), two.clone().named("quay.io/x/two:v1")]);
    // A second tag of the first image, as a separate entry.
    let m: serde_json::Value = serde_json::from_slice(&files.last().unwrap().1).unwrap();
    let mut entries = m.as_array().unwrap().clone();
    let mut again = entries[0].clone();
    again["RepoTags"] = serde_json::json!(["one:v2"]);
    entries.push(again);
    files.last_mut().unwrap().1 = serde_json::to_vec(&entries).unwrap();
    let p = d.path().join("multi.tar");
    fs::write(&p, tar_of(&files)).unwrap();
    let got = s.import_path(&p, &ImportOptions::default()).unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!(names(&s), ["docker.io/library/one:latest", "docker.io/library/one:v2", "quay.io/x/two:v1"]);
    assert_eq!(s.resolve("one").unwrap().id, one.id());
    assert_eq!(s.resolve("two:v1").unwrap().id, two.id());
    // The shared bottom layers are stored once.
    assert_eq!(fs::read_dir(s.layers_dir()).unwrap().count(), 3);
    let e = s.import_path(&p, &ImportOptions { name: Some("x".into()) }).unwrap_err();
    assert!(matches!(e, Error::NameForSeveralImages { count: 2 }), "{e}");
}

/// Import something broken: the named error, and the store unchanged.
fn refused(s: &ImageStore, files: Vec<(String, Vec<u8>)>) -> Error {
    let before = names(s);
    let e = s.import_reader(&tar_of(&files)[..], &ImportOptions::default()).unwrap_err();
    assert_eq!(names(s), before);
    assert_clean(s);
    e
}

#[test]
fn every_digest_is_verified() {
    let (_d, s) = store();
    let img = simple_image().named("localhost/bad:1");
    let b = img.blobs();
    let layer = format!("blobs/sha256/{}", b.layers[1].0);

    // A layer whose bytes changed.
    let mut files = oci_files(std::slice::from_ref(&img));
    let f = files.iter_mut().find(|(p, _)| *p == layer).unwrap();
    let n = f.1.len();
    f.1[n / 2] ^= 0xff;
    let e = refused(&s, files);
    assert!(matches!(e, Error::DigestMismatch { what: "layer", .. }), "{e}");

    // A config whose bytes changed.
    let mut files = oci_files(std::slice::from_ref(&img));
    let f = files.iter_mut().find(|(p, _)| *p == format!("blobs/sha256/{}", b.config.0)).unwrap();
    f.1[3] = b' ';
    let e = refused(&s, files);
    assert!(matches!(e, Error::DigestMismatch { what: "config", .. }), "{e}");

    // A manifest whose bytes changed.
    let mut files = oci_files(std::slice::from_ref(&img));
    let f = files.iter_mut().find(|(p, _)| *p == format!("blobs/sha256/{}", b.manifest.0)).unwrap();
    f.1[3] = b' ';
    let e = refused(&s, files);
    assert!(matches!(e, Error::DigestMismatch { what: "manifest", .. }), "{e}");

    // A blob that is not there.
    let files: Vec<_> = oci_files(std::slice::from_ref(&img)).into_iter().filter(|(p, _)| *p != layer).collect();
    let e = refused(&s, files);
    assert!(matches!(e, Error::MissingBlob { .. }), "{e}");

    // A docker-archive layer that does not match the config's diffID.
    let mut files = docker_files(std::slice::from_ref(&img));
    let tar = Layer::new(Compress::None).file("other", b"o", 0o644).tar();
    files[1].1 = tar;
    let e = refused(&s, files);
    assert!(matches!(e, Error::DiffIdMismatch { index: 1, .. }), "{e}");

    // Malformed JSON.
    let mut files = oci_files(std::slice::from_ref(&img));
    files.last_mut().unwrap().1 = b"{\"manifests\": [".to_vec();
    let e = refused(&s, files);
    assert!(matches!(e, Error::MalformedJson { .. }), "{e}");

    // A truncated archive.
    let mut bytes = tar_of(&oci_files(std::slice::from_ref(&img)));
    bytes.truncate(bytes.len() / 2);
    let e = s.import_reader(&bytes[..], &ImportOptions::default()).unwrap_err();
    assert!(matches!(e, Error::Truncated { .. } | Error::MissingBlob { .. } | Error::MissingFile { .. }), "{e}");
    assert_clean(&s);
    assert!(s.list().unwrap().is_empty());
}

#[test]
fn a_rootfs_tarball_needs_a_name() {
    let (_d, s) = store();
    let tar = Layer::new(Compress::None).dir("etc", 0o755).file("etc/hostname", b"box\n", 0o644).tar();
    let e = s.import_reader(&tar[..], &ImportOptions::default()).unwrap_err();
    assert!(matches!(e, Error::RootfsNeedsName), "{e}");
    let got = s.import_reader(&tar[..], &ImportOptions { name: Some("mybox".into()) }).unwrap();
    assert_eq!(got[0].names, ["localhost/mybox:latest"]);
    assert_eq!(got[0].layers[0].hex(), sha256_hex(&tar));
    let c = s.config(&got[0]).unwrap();
    assert!(c.cmd.is_empty() && c.entrypoint.is_empty());
    assert_eq!(fs::read(s.layer_dirs(&got[0])[0].join("etc/hostname")).unwrap(), b"box\n");
    assert_clean(&s);
}

#[test]
fn tag_untag_and_remove_like_podman() {
    let (d, s) = store();
    let a = simple_image().named("localhost/a:1");
    let mut b = simple_image();
    b.layers.push(Layer::new(Compress::None).file("b", b"b", 0o644));
    s.import_path(&layout(d.path(), &[a.clone(), b.clone().named("localhost/b:1")]), &ImportOptions::default()).unwrap();
    assert_eq!(s.tag("a:1", "quay.io/me/a:2").unwrap().to_string(), "quay.io/me/a:2");
    assert_eq!(s.resolve("me/a:2").unwrap().id, a.id());
    // A tag moves from one image to another in one write.
    s.tag("b:1", "quay.io/me/a:2").unwrap();
    assert_eq!(s.resolve("quay.io/me/a:2").unwrap().id, b.id());
    assert!(matches!(s.untag("a:1", "quay.io/me/a:2"), Err(Error::NameNotOnImage { .. })));
    s.untag("b:1", "quay.io/me/a:2").unwrap();
    assert!(matches!(s.resolve("quay.io/me/a:2"), Err(Error::ImageNotFound { .. })));
    assert!(matches!(s.tag("a:1", "Bad Name"), Err(Error::InvalidReference { .. })));

    // By one of several names, only the name goes.
    s.tag("a:1", "a:3").unwrap();
    assert_eq!(s.remove("a:3", false, |_| false).unwrap(), Removal::Untagged("localhost/a:3".into()));
    // In use: refused unless forced.
    let e = s.remove("a:1", false, |i| i.id == a.id()).unwrap_err();
    assert!(matches!(e, Error::ImageInUse { .. }), "{e}");
    let layers_before = fs::read_dir(s.layers_dir()).unwrap().count();
    assert_eq!(s.remove("a:1", true, |_| true).unwrap(), Removal::Removed(a.id()));
    // Every layer of a is also b's: nothing to remove but the config.
    assert_eq!(fs::read_dir(s.layers_dir()).unwrap().count(), layers_before);
    assert!(!s.blob_path(&Digest::from_hex(&a.id()).unwrap()).exists());
    assert_eq!(s.remove(&b.id()[..6], false, |_| false).unwrap(), Removal::Removed(b.id()));
    assert_eq!(fs::read_dir(s.layers_dir()).unwrap().count(), 0);
    assert_eq!(fs::read_dir(s.blobs_dir()).unwrap().count(), 0);
    assert!(s.list().unwrap().is_empty());
}

#[test]
fn ambiguous_prefixes_and_short_names_are_refused() {
    let (d, s) = store();
    let a = simple_image().named("quay.io/one/app:1");
    let mut b = simple_image();
    b.layers.push(Layer::new(Compress::None).file("b", b"b", 0o644));
    s.import_path(&layout(d.path(), &[a.clone(), b.clone().named("quay.io/two/app:1")]), &ImportOptions::default()).unwrap();
    let e = s.resolve("app:1").unwrap_err();
    assert!(matches!(e, Error::AmbiguousReference { ref candidates, .. } if candidates.len() == 2), "{e}");
    assert!(matches!(s.resolve("ab"), Err(Error::ImageNotFound { .. })), "two digits are not a prefix");
    assert!(matches!(s.resolve("Bad!"), Err(Error::InvalidReference { .. })));
    // An image with several names goes by id only when forced.
    s.tag("one/app:1", "x").unwrap();
    assert!(matches!(s.remove(&a.id(), false, |_| false), Err(Error::ImageHasSeveralNames { .. })));
    assert_eq!(s.remove(&a.id(), true, |_| false).unwrap(), Removal::Removed(a.id()));
}

#[test]
fn open_sweeps_what_an_interrupted_writer_left() {
    let (d, s) = store();
    s.import_path(&layout(d.path(), &[simple_image().named("localhost/a:1")]), &ImportOptions::default()).unwrap();
    let root = s.root().to_path_buf();
    // A staging layer, a torn index write, a layer and a blob no record
    // uses, and a name of an image that is gone.
    fs::create_dir_all(s.tmp_dir().join("tmp-layer-1234/etc")).unwrap();
    fs::write(root.join(".index.json.tmp"), b"{\"names\": {").unwrap();
    fs::create_dir(s.layers_dir().join("f".repeat(64))).unwrap();
    fs::write(s.blobs_dir().join("e".repeat(64)), b"x").unwrap();
    let mut index = s.read_index().unwrap();
    index.names.insert("localhost/gone:1".into(), "d".repeat(64));
    s.write_index(&index).unwrap();

    let s = ImageStore::open(&root).unwrap();
    assert_eq!(names(&s), ["localhost/a:1"]);
    assert!(!root.join(".index.json.tmp").exists());
    assert!(!s.blobs_dir().join("e".repeat(64)).exists());
    assert_clean(&s);
    assert_eq!(s.read_index().unwrap().names.len(), 1);
    assert!(s.resolve("a:1").is_ok());
}
