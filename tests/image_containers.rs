//! Containers made from images, through the installed berthd, as users
//! drive them: D-Bus (berth's client and busctl), berthctl, and systemd for
//! `.container` files. The image's config applies; changes persist across
//! stop and start and go with rm; images in use stay; containers share
//! layers; Mount, Unmount and Export with crun and runc; an export
//! re-imported runs; bad input is named and changes nothing; berthd killed
//! mid-verb leaves no stale mount.
//!
//! Run: `systemd/sandbox with cargo test --test image_containers`

mod common;
#[path = "image_fixture/mod.rs"]
mod fixture;

use berth::client::Client;
use berth::model::{ContainerInfo, OptionValue, State};
use common::{BERTHCTL, ctl, ctl_ok, daemon_lock, ok, run, scratch};
use fixture::{oci_files, tar_of, Compress, Layer, TestImage};
use std::collections::BTreeMap;
use std::fs;
use std::os::fd::AsFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

const STATE: &str = "/var/lib/berth";

async fn client() -> Client {
    common::installed();
    Client::system().await.unwrap()
}

/// A layer of everything under `root`, owned by root.
fn layer_of(root: &Path) -> Layer {
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
            let mode = m.mode() & 0o7777;
            l = if m.is_dir() {
                stack.push(r);
                l.dir(&path, mode)
            } else if m.file_type().is_symlink() {
                l.symlink(&path, fs::read_link(&p).unwrap().to_str().unwrap())
            } else {
                l.file(&path, &fs::read(&p).unwrap(), mode)
            }
            .owner(0, 0);
        }
    }
    l
}

/// The busybox root file system as a layer, made once.
fn busybox_layer() -> &'static Layer {
    static L: OnceLock<Layer> = OnceLock::new();
    L.get_or_init(|| layer_of(Path::new(&common::installed().rootfs)))
}

/// What the app image's Cmd prints first.
const REPORT: &str = "echo \"uid=$(id -u) gid=$(id -g) groups=$(id -G) cwd=$(pwd) mode=$MODE keep=$KEEP seed=$(cat /srv/data/seed)\"; \
                      trap 'echo got-int; exit 0' INT; while true; do sleep 0.1; done";

/// A two-layer image: busybox, then a user `web` (1000, in group staff),
/// its directories and a seed file; its config sets every field a
/// container takes. `tag` makes it an image of its own (its second layer
/// and its Labels differ).
fn app_image(tag: &str) -> TestImage {
    // gzip: umoci 0.4 knows no zstd layers.
    let app = Layer::new(Compress::Gzip)
        .file("etc/passwd", b"root:x:0:0::/root:/bin/sh\nweb:x:1000:1000::/srv/app:/bin/sh\n", 0o644)
        .owner(0, 0)
        .file("etc/group", b"root:x:0:\nweb:x:1000:\nstaff:x:50:web\n", 0o644)
        .owner(0, 0)
        .dir("srv", 0o755)
        .owner(0, 0)
        .dir("srv/app", 0o755)
        .owner(1000, 1000)
        .dir("srv/data", 0o755)
        .owner(1000, 1000)
        .file("srv/data/seed", b"seeded", 0o644)
        .owner(1000, 1000)
        .file("srv/app/tag", tag.as_bytes(), 0o644)
        .owner(0, 0);
    let mut img = TestImage::new(vec![busybox_layer().clone(), app]).named(&format!("localhost/app-{tag}:1"));
    img.run_config = serde_json::json!({
        "Entrypoint": ["/bin/sh", "-c"],
        "Cmd": [REPORT],
        "Env": ["PATH=/bin", "MODE=image", "KEEP=kept"],
        "WorkingDir": "/srv/app",
        "User": "web",
        "StopSignal": "SIGINT",
        "Labels": {"test": tag},
        "Volumes": {"/srv/data": {}},
        "ExposedPorts": {"8080/tcp": {}},
    });
    img
}

/// An image written as an oci-archive and imported over D-Bus (the
/// archive's descriptor passed to ImportImage); its name and id.
async fn import(c: &Client, img: &TestImage) -> (String, String) {
    let dir = scratch();
    let archive = dir.path().join("image.tar");
    fs::write(&archive, tar_of(&oci_files(std::slice::from_ref(img)))).unwrap();
    let f = fs::File::open(&archive).unwrap();
    let ids = c.import_image(f.as_fd(), None).await.unwrap();
    assert_eq!(ids, [img.id()]);
    (img.name.clone().unwrap(), img.id())
}

fn options(pairs: &[(&str, OptionValue)]) -> BTreeMap<String, OptionValue> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
}

fn s(v: &str) -> OptionValue {
    OptionValue::Str(v.into())
}

fn list(v: &[&str]) -> OptionValue {
    OptionValue::StrList(v.iter().map(|x| x.to_string()).collect())
}

/// The mount points of the mount table (berthd shares the sandbox's
/// mount namespace).
fn mount_points() -> Vec<String> {
    fs::read_to_string("/proc/self/mountinfo").unwrap().lines().filter_map(|l| l.split(' ').nth(4).map(str::to_string)).collect()
}

fn root_mount(id: &str) -> String {
    format!("/run/berth/roots/{id}")
}

fn is_mounted(id: &str) -> bool {
    mount_points().contains(&root_mount(id))
}

fn layer_dir(id: &str) -> PathBuf {
    Path::new(STATE).join("layers").join(id)
}

fn du_kib(p: &str) -> u64 {
    ok("du", &["-sk", p]).split_whitespace().next().unwrap().parse().unwrap()
}

#[tokio::test]
async fn a_container_runs_with_its_images_config() {
    let _g = daemon_lock().read().await;
    let c = client().await;
    for runtime in ["crun", "runc"] {
        let (image, id) = import(&c, &app_image(&common::unique(&format!("cfg-{runtime}")))).await;
        // The image's everything, Env merged under the caller's.
        let name = common::unique("imgcfg");
        c.create(&name, &options(&[("Image", s(&image)), ("Env", list(&["MODE=user"])), ("Runtime", s(runtime))])).await.unwrap();
        let info: ContainerInfo = c.info(&name).await.unwrap();
        assert_eq!((info.image.as_deref(), info.image_name.as_deref()), (Some(id.as_str()), Some(image.as_str())));
        assert_eq!(info.spec.stop_signal, 2, "the image's StopSignal");
        assert!(info.spec.labels["test"].starts_with("cfg-"), "the image's Labels");
        assert!(info.spec.volumes.iter().any(|v| v.anonymous && v.destination == Path::new("/srv/data")), "{:?}", info.spec.volumes);
        c.start(&name, false).await.unwrap();
        let lines = common::wait_journal(&name, "uid=");
        let line = lines.iter().find(|l| l.contains("uid=")).unwrap();
        assert_eq!(line, "uid=1000 gid=1000 groups=1000 50 cwd=/srv/app mode=user keep=kept seed=seeded", "{runtime}");
        // An exec session runs as the container does: the image's user,
        // groups, working directory and Env under the caller's.
        let o = ctl_ok(&["exec", &name, "sh", "-c", "echo $(id -u) $(id -G) $(pwd) $MODE $KEEP $PATH"]);
        assert_eq!(o.trim(), "1000 1000 50 /srv/app user kept /bin", "{runtime}");
        // Stopped with the image's SIGINT.
        c.stop(&name, Some(10)).await.unwrap();
        common::wait_journal(&name, "got-int");
        assert_eq!(c.exit_code(&name).await.unwrap(), 0);

        // Command replaces Cmd, after the image's Entrypoint; the caller's
        // User (by name) and WorkingDir win.
        let n2 = common::unique("imgcmd");
        let o = options(&[
            ("Image", s(&id[..12])),
            ("Command", list(&["echo \"$(id -un):$(id -gn) $(pwd) $MODE\""])),
            ("User", s("root:staff")),
            ("WorkingDir", s("/tmp")),
            ("Runtime", s(runtime)),
        ]);
        c.create(&n2, &o).await.unwrap();
        c.start(&n2, false).await.unwrap();
        assert_eq!(c.wait(&n2, &[], Some(Duration::from_secs(20))).await.unwrap(), 0);
        assert!(common::wait_journal(&n2, "root:staff").contains(&"root:staff /tmp image".to_string()));
        // An empty Entrypoint clears the image's: the Command runs alone.
        let n3 = common::unique("imgentry");
        c.create(&n3, &options(&[("Image", s(&image)), ("Entrypoint", list(&[])), ("Command", list(&["/bin/id", "-un"])), ("Runtime", s(runtime))]))
            .await
            .unwrap();
        c.start(&n3, false).await.unwrap();
        assert_eq!(c.wait(&n3, &[], Some(Duration::from_secs(20))).await.unwrap(), 0);
        assert!(common::wait_journal(&n3, "web").contains(&"web".to_string()));
        for n in [&name, &n2, &n3] {
            c.remove(n, true, Some(0)).await.unwrap();
        }
        c.remove_image(&image, false).await.unwrap();
    }
}

#[tokio::test]
async fn changes_survive_stop_and_start_and_go_with_rm() {
    let _g = daemon_lock().read().await;
    let c = client().await;
    let (image, _) = import(&c, &app_image(&common::unique("persist"))).await;
    let name = common::unique("persist");
    let script = "echo run >> /runs; echo runs=$(wc -l < /runs); trap 'exit 0' INT TERM; while true; do sleep 0.1; done";
    c.create(&name, &options(&[("Image", s(&image)), ("Command", list(&[script])), ("User", s("0"))])).await.unwrap();
    let id = c.info(&name).await.unwrap().id;
    assert!(!layer_dir(&id).exists(), "create makes nothing on disk");
    c.start(&name, false).await.unwrap();
    common::wait_journal(&name, "runs=1");
    assert!(is_mounted(&id), "its root is mounted while it runs");
    c.stop(&name, None).await.unwrap();
    c.start(&name, false).await.unwrap();
    common::wait_journal(&name, "runs=2");
    // Cleanup unmounts the root; the changes stay in the container's layer.
    c.stop(&name, None).await.unwrap();
    c.cleanup(&name).await.unwrap();
    assert!(!is_mounted(&id), "cleanup unmounts the root");
    assert!(layer_dir(&id).join("upper/runs").is_file());
    c.start(&name, false).await.unwrap();
    common::wait_journal(&name, "runs=3");
    c.remove(&name, true, None).await.unwrap();
    assert!(!is_mounted(&id) && !layer_dir(&id).exists(), "rm unmounts and removes the layer");
    assert!(!Path::new(&root_mount(&id)).exists(), "no mount point left");

    // A new container from the same image starts from the image alone.
    let n2 = common::unique("fresh");
    c.create(&n2, &options(&[("Image", s(&image)), ("Command", list(&["test -e /runs && echo present || echo absent"]))])).await.unwrap();
    c.start(&n2, false).await.unwrap();
    c.wait(&n2, &[], Some(Duration::from_secs(20))).await.unwrap();
    assert!(common::wait_journal(&n2, "absent").contains(&"absent".to_string()));
    c.remove(&n2, true, None).await.unwrap();
    c.remove_image(&image, false).await.unwrap();
}

#[tokio::test]
async fn an_image_in_use_is_not_removed() {
    let _g = daemon_lock().read().await;
    let c = client().await;
    let (image, id) = import(&c, &app_image(&common::unique("inuse"))).await;
    let name = common::unique("user");
    c.create(&name, &options(&[("Image", s(&image))])).await.unwrap();
    let e = c.remove_image(&image, false).await.unwrap_err();
    assert_eq!(e.name(), "ImageInUse", "{e}");
    assert!(e.to_string().contains(&name), "{e}");
    let e = c.remove_image(&id, false).await.unwrap_err();
    assert_eq!(e.name(), "ImageInUse", "{e}");
    let listed = c.list_images().await.unwrap();
    let mine = listed.iter().find(|i| i.id == id).expect("still there");
    assert_eq!(mine.containers, [name.clone()]);
    let o = ctl(&["image", "rm", &image]);
    assert_eq!(o.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&o.stderr).contains("in use"), "{}", String::from_utf8_lossy(&o.stderr));
    // Forced, the containers made from it go first.
    ctl_ok(&["image", "rm", "-f", &image]);
    assert!(c.info(&name).await.is_err(), "the container went with the image");
    assert_eq!(c.inspect_image(&id).await.unwrap_err().name(), "NoSuchImage");
}

#[tokio::test]
async fn fifty_containers_share_the_images_layers() {
    // Alone: it measures the whole image store, which other tests change.
    let _g = daemon_lock().write().await;
    let c = client().await;
    let (image, _) = import(&c, &app_image(&common::unique("fifty"))).await;
    let images_before = du_kib(&format!("{STATE}/images"));
    let state_before = du_kib(STATE);
    let others_before = du_kib(&format!("{STATE}/containers")) + du_kib(&format!("{STATE}/volumes"));
    let names: Vec<String> = (0..50).map(|_| common::unique("share")).collect();
    let script = "head -c 4096 /dev/zero > /mine; trap 'exit 0' INT TERM; while true; do sleep 1; done";
    for n in &names {
        c.create(n, &options(&[("Image", s(&image)), ("Command", list(&[script])), ("User", s("0"))])).await.unwrap();
    }
    let starts = names.iter().map(|n| {
        let c = c.clone();
        async move { c.start(n, false).await }
    });
    for r in futures_util::future::join_all(starts).await {
        r.unwrap();
    }
    let mut ids = Vec::new();
    for n in &names {
        let id = c.info(n).await.unwrap().id;
        common::wait_until(Duration::from_secs(20), || layer_dir(&id).join("upper/mine").exists());
        assert!(Path::new(&root_mount(&id)).join("bin/busybox").is_file());
        ids.push(id);
    }
    assert_eq!(du_kib(&format!("{STATE}/images")), images_before, "the image store does not grow");
    let layers: u64 = ids.iter().map(|id| du_kib(&layer_dir(id).to_string_lossy())).sum();
    let growth = du_kib(STATE).saturating_sub(state_before);
    // Records, and the anonymous volume of the image's /srv/data each got.
    let others = (du_kib(&format!("{STATE}/containers")) + du_kib(&format!("{STATE}/volumes"))).saturating_sub(others_before);
    // Each container holds only its own changes: 4 KiB and its directories.
    assert!(layers < 50 * 64, "the containers' layers hold {layers} KiB");
    assert!(growth <= layers + others + 64, "the state grew by {growth} KiB: layers {layers} KiB, records and volumes {others} KiB");
    assert!(growth < images_before, "50 containers grew the state by {growth} KiB, less than one image ({images_before} KiB)");
    let removals = names.iter().map(|n| {
        let c = c.clone();
        async move { c.remove(n, true, Some(0)).await }
    });
    for r in futures_util::future::join_all(removals).await {
        r.unwrap();
    }
    c.remove_image(&image, false).await.unwrap();
}

/// Mount, Unmount and Export of one running container: busctl, berth's
/// D-Bus client and berthctl.
async fn mount_and_export(c: &Client, runtime: &str, image: &str) {
    let name = common::unique(&format!("mnt-{runtime}"));
    let script = "echo exported > /made-here; trap 'exit 0' INT TERM; while true; do sleep 0.1; done";
    c.create(&name, &options(&[("Image", s(image)), ("Command", list(&[script])), ("Runtime", s(runtime)), ("User", s("0"))])).await.unwrap();
    c.start(&name, false).await.unwrap();
    let id = c.info(&name).await.unwrap().id;
    let call = |args: &[&str]| {
        let mut a = vec!["call", "--", "org.berth.Berth1", "/org/berth/Berth1", "org.berth.Berth1.Manager"];
        a.extend_from_slice(args);
        run("busctl", &a)
    };
    // busctl: the path, counted; the last Unmount of a running container
    // is refused by name.
    let o = call(&["MountContainer", "s", &name]);
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), format!("s \"{}\"", root_mount(&id)));
    common::wait_until(Duration::from_secs(10), || Path::new(&root_mount(&id)).join("made-here").exists());
    assert_eq!(c.info(&name).await.unwrap().mount_count, 1);
    assert!(call(&["UnmountContainer", "sb", &name, "false"]).status.success());
    let o = call(&["UnmountContainer", "sb", &name, "false"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("stays mounted while it runs"), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(is_mounted(&id));

    // berthctl: mount twice, unmount with force releases both.
    assert_eq!(ctl_ok(&["mount", &name]).trim(), root_mount(&id));
    ctl_ok(&["mount", &name]);
    assert_eq!(c.info(&name).await.unwrap().mount_count, 2);
    ctl_ok(&["unmount", "-f", &name]);
    assert_eq!(c.info(&name).await.unwrap().mount_count, 0);

    // Export of the running container over D-Bus (a pipe), with berthctl
    // (a file and standard output).
    let dir = scratch();
    let (rd, wr) = nix::unistd::pipe().unwrap();
    let reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut fs::File::from(rd), &mut v).unwrap();
        v
    });
    c.export(&name, wr.as_fd()).await.unwrap();
    drop(wr);
    let piped = reader.join().unwrap();
    let file = dir.path().join("c.tar");
    ctl_ok(&["export", "-o", file.to_str().unwrap(), &name]);
    let to_stdout = ctl(&["export", &name]).stdout;
    for (how, tar) in [("D-Bus", piped), ("berthctl -o", fs::read(&file).unwrap()), ("berthctl", to_stdout)] {
        let names = tar_names(&tar);
        assert!(names.contains("./made-here") && names.contains("./bin/busybox"), "{how} ({runtime}): {} entries", names.len());
    }

    // A stopped container is mounted for the export only.
    c.stop(&name, None).await.unwrap();
    c.cleanup(&name).await.unwrap();
    assert!(!is_mounted(&id));
    let o = ctl(&["export", "-o", file.to_str().unwrap(), &name]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(tar_names(&fs::read(&file).unwrap()).contains("./made-here"));
    assert!(!is_mounted(&id), "the export's mount is gone with it");
    // Unmount of a stopped container that nothing holds is no error.
    ctl_ok(&["unmount", &name]);
    c.remove(&name, true, None).await.unwrap();
}

/// The entries of a tar archive, as `./PATH`.
fn tar_names(tar: &[u8]) -> std::collections::BTreeSet<String> {
    tar::Archive::new(tar)
        .entries()
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path().unwrap().display().to_string();
            if p.starts_with("./") { p } else { format!("./{p}") }
        })
        .collect()
}

#[tokio::test]
async fn mount_unmount_and_export_with_crun_and_runc() {
    let _g = daemon_lock().read().await;
    let c = client().await;
    let (image, _) = import(&c, &app_image(&common::unique("mount"))).await;
    for runtime in ["crun", "runc"] {
        mount_and_export(&c, runtime, &image).await;
    }
    c.remove_image(&image, false).await.unwrap();
}

#[tokio::test]
async fn an_exported_container_reimported_as_a_rootfs_image_runs() {
    let _g = daemon_lock().read().await;
    let c = client().await;
    let (image, _) = import(&c, &app_image(&common::unique("export"))).await;
    let name = common::unique("exported");
    c.create(&name, &options(&[("Image", s(&image)), ("Command", list(&["echo from-the-first > /marker"])), ("User", s("0"))])).await.unwrap();
    c.start(&name, false).await.unwrap();
    assert_eq!(c.wait(&name, &[], Some(Duration::from_secs(20))).await.unwrap(), 0);
    let dir = scratch();
    let tar = dir.path().join("export.tar.gz");
    // Compressed on the way, as `podman export | gzip` would.
    let sh = format!("{BERTHCTL} export {name} | gzip -1 > {}", tar.display());
    ok("sh", &["-c", &sh]);
    let again = common::unique("reimported");
    let ids = ctl_ok(&["image", "import", tar.to_str().unwrap(), &again]);
    assert_eq!(ids.trim().len(), 64, "{ids}");
    let n2 = common::unique("rerun");
    ctl_ok(&["create", "--name", &n2, &again, "/bin/sh", "-c", "cat /marker; ls /srv/data"]);
    ctl_ok(&["start", &n2]);
    assert_eq!(ctl_ok(&["wait", &n2]).trim(), "0");
    let lines = common::wait_journal(&n2, "from-the-first");
    assert!(lines.contains(&"seed".to_string()), "{lines:?}");
    ctl_ok(&["rm", &n2]);
    ctl_ok(&["image", "rm", &again]);
    c.remove(&name, true, None).await.unwrap();
    c.remove_image(&image, false).await.unwrap();
}

/// A root file system tarball with one hostile entry.
fn hostile_tarball(kind: &str) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_mode(0o755);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h.set_entry_type(tar::EntryType::Directory);
    h.set_size(0);
    b.append_data(&mut h, "etc", &b""[..]).unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    match kind {
        "dotdot" => {
            // tar's path setter refuses `..`: write the name by hand.
            h.set_entry_type(tar::EntryType::Regular);
            h.set_size(5);
            let name = b"../../../../../../var/tmp/berth-escaped";
            h.as_old_mut().name[..name.len()].copy_from_slice(name);
            h.set_cksum();
            b.append(&h, &b"evil\n"[..]).unwrap();
        }
        "through-symlink" => {
            h.set_entry_type(tar::EntryType::Symlink);
            h.set_size(0);
            b.append_link(&mut h, "etc/out", "/var/tmp").unwrap();
            let mut f = tar::Header::new_gnu();
            f.set_mode(0o644);
            f.set_entry_type(tar::EntryType::Regular);
            f.set_size(5);
            f.set_mtime(0);
            f.set_uid(0);
            f.set_gid(0);
            b.append_data(&mut f, "etc/out/berth-escaped", &b"evil\n"[..]).unwrap();
        }
        _ => unreachable!(),
    }
    b.into_inner().unwrap()
}

#[tokio::test]
async fn bad_input_is_named_and_changes_nothing() {
    // Alone: it measures the whole image store, which other tests change.
    let _g = daemon_lock().write().await;
    let c = client().await;
    let f = common::installed();
    let (image, id) = import(&c, &app_image(&common::unique("bad"))).await;
    let images_before = c.list_images().await.unwrap();
    let creates: Vec<(BTreeMap<String, OptionValue>, &str)> = vec![
        (options(&[("Image", s("no-such-image:latest"))]), "NoSuchImage"),
        (options(&[("Image", s(&"f".repeat(64)))]), "NoSuchImage"),
        (options(&[("Image", s(&image)), ("Rootfs", s(&f.rootfs))]), "InvalidArgument"),
        (options(&[("Image", s("Bad//Name"))]), "InvalidArgument"),
        (options(&[("Image", s(&image)), ("Volumes", list(&["-bad:/data"]))]), "InvalidArgument"),
        (options(&[("Image", s(&image)), ("Volumes", list(&["a/b:/data"]))]), "InvalidArgument"),
        (options(&[("Image", s(&image)), ("Volumes", list(&["ok:relative"]))]), "InvalidArgument"),
        (options(&[("Image", s(&image)), ("Volumes", list(&["ok:/data:bogus"]))]), "InvalidArgument"),
        (options(&[("Image", s(&image)), ("Entrypoint", list(&[])), ("Command", list(&[]))]), "InvalidArgument"),
    ];
    for (o, want) in creates {
        let n = common::unique("rejected");
        let e = c.create(&n, &o).await.expect_err(&format!("{o:?} was accepted"));
        assert_eq!(e.name(), want, "{o:?}: {e}");
        assert!(c.info(&n).await.is_err(), "{o:?} left a container");
    }
    // A user the image does not know: refused at start, nothing mounted.
    let n = common::unique("ghost");
    c.create(&n, &options(&[("Image", s(&image)), ("User", s("ghost"))])).await.unwrap();
    let e = c.start(&n, false).await.unwrap_err();
    assert_eq!(e.name(), "InvalidArgument", "{e}");
    assert!(e.to_string().contains("ghost"), "{e}");
    let cid = c.info(&n).await.unwrap().id;
    assert_eq!(c.state(&n).await.unwrap(), State::Configured);
    assert!(!is_mounted(&cid), "a failed start leaves no mount");
    c.remove(&n, false, None).await.unwrap();

    // Hostile and broken archives through ImportImage.
    let dir = scratch();
    let mut truncated = tar_of(&oci_files(&[app_image("truncated")]));
    truncated.truncate(truncated.len() / 2);
    // A layer blob that is not what the manifest says (a layer the store
    // does not have yet: its own tag), and a config that is not.
    let corrupt = |which: &str| {
        let img = app_image(&common::unique(which));
        let b = img.blobs();
        let target = if which == "layer" { b.layers[1].0.clone() } else { b.config.0.clone() };
        let mut files = oci_files(&[img]);
        for (p, data) in files.iter_mut() {
            if *p == format!("blobs/sha256/{target}") {
                let mid = data.len() / 2;
                data[mid] ^= 0xff;
            }
        }
        tar_of(&files)
    };
    let archives: Vec<(&str, Vec<u8>, Option<&str>)> = vec![
        ("dotdot", hostile_tarball("dotdot"), Some("hostile")),
        ("through-symlink", hostile_tarball("through-symlink"), Some("hostile")),
        ("truncated", truncated, None),
        ("wrong-layer-digest", corrupt("layer"), None),
        ("wrong-config-digest", corrupt("config"), None),
        ("not-an-archive", b"just some text\n".to_vec(), Some("text")),
    ];
    for (what, data, name) in archives {
        let p = dir.path().join(what);
        fs::write(&p, data).unwrap();
        let file = fs::File::open(&p).unwrap();
        let e = c.import_image(file.as_fd(), name).await.expect_err(what);
        assert_eq!(e.name(), "InvalidImage", "{what}: {e}");
    }
    assert!(!Path::new("/var/tmp/berth-escaped").exists(), "an archive wrote outside the store");
    let after = c.list_images().await.unwrap();
    assert_eq!(after.iter().map(|i| &i.id).collect::<Vec<_>>(), images_before.iter().map(|i| &i.id).collect::<Vec<_>>());
    assert_eq!(fs::read_dir(format!("{STATE}/images/tmp")).unwrap().count(), 0, "staging left behind");
    let e = c.import_image(fs::File::open(dir.path().join("dotdot")).unwrap().as_fd(), Some("Bad Name")).await.unwrap_err();
    assert_eq!(e.name(), "InvalidArgument", "{e}");

    // Volumes, images and mounts that do not exist, or are in use.
    assert_eq!(c.create_volume("-bad", &BTreeMap::new()).await.unwrap_err().name(), "InvalidArgument");
    assert_eq!(c.inspect_volume("no-such-volume").await.unwrap_err().name(), "NoSuchVolume");
    assert_eq!(c.remove_volume("no-such-volume", false).await.unwrap_err().name(), "NoSuchVolume");
    let vol = common::unique("vol");
    c.create_volume(&vol, &BTreeMap::new()).await.unwrap();
    assert_eq!(c.create_volume(&vol, &BTreeMap::new()).await.unwrap_err().name(), "VolumeExists");
    let user = common::unique("voluser");
    c.create(&user, &options(&[("Image", s(&image)), ("Volumes", list(&[&format!("{vol}:/srv/data:ro,Z")]))])).await.unwrap();
    let e = c.remove_volume(&vol, false).await.unwrap_err();
    assert_eq!(e.name(), "VolumeInUse", "{e}");
    assert!(e.to_string().contains(&user), "{e}");
    assert_eq!(c.remove_image("no-such-image", false).await.unwrap_err().name(), "NoSuchImage");
    assert_eq!(c.tag_image("no-such-image", "x").await.unwrap_err().name(), "NoSuchImage");
    assert_eq!(c.tag_image(&image, "Bad Name").await.unwrap_err().name(), "InvalidArgument");
    assert_eq!(c.untag_image(&image, "localhost/not-its-name:1").await.unwrap_err().name(), "InvalidArgument");
    assert_eq!(c.mount("no-such-container").await.unwrap_err().name(), "NoSuchContainer");
    assert_eq!(c.unmount("no-such-container", false).await.unwrap_err().name(), "NoSuchContainer");
    c.remove(&user, false, None).await.unwrap();
    c.remove_volume(&vol, false).await.unwrap();
    assert!(c.list_images().await.unwrap().iter().any(|i| i.id == id));
    c.remove_image(&image, false).await.unwrap();
}

#[tokio::test]
async fn named_volumes_are_filled_from_the_image_once() {
    let _g = daemon_lock().read().await;
    let c = client().await;
    let (image, _) = import(&c, &app_image(&common::unique("vols"))).await;
    let vol = common::unique("data");
    let n1 = common::unique("filler");
    let o = |cmd: &str| options(&[("Image", s(&image)), ("Volumes", list(&[&format!("{vol}:/srv/data")])), ("Command", list(&[cmd]))]);
    c.create(&n1, &o("cat /srv/data/seed; echo more > /srv/data/more")).await.unwrap();
    c.start(&n1, false).await.unwrap();
    assert_eq!(c.wait(&n1, &[], Some(Duration::from_secs(20))).await.unwrap(), 0);
    assert!(common::wait_journal(&n1, "seeded").contains(&"seeded".to_string()));
    let v = c.inspect_volume(&vol).await.unwrap();
    assert_eq!(v.containers, [n1.clone()]);
    let seed = fs::metadata(v.mountpoint.join("seed")).unwrap();
    assert_eq!((seed.uid(), seed.gid()), (1000, 1000), "owners copied from the image");
    c.remove(&n1, false, None).await.unwrap();
    // Kept after its first container; a second sees what the first wrote.
    let n2 = common::unique("reader");
    c.create(&n2, &o("cat /srv/data/more")).await.unwrap();
    c.start(&n2, false).await.unwrap();
    assert_eq!(c.wait(&n2, &[], Some(Duration::from_secs(20))).await.unwrap(), 0);
    assert!(common::wait_journal(&n2, "more").contains(&"more".to_string()));
    // An anonymous volume goes with its container.
    let n3 = common::unique("anon");
    c.create(&n3, &options(&[("Image", s(&image)), ("Volumes", list(&["/scratch"]))])).await.unwrap();
    c.init(&n3, false).await.unwrap();
    let anon: Vec<String> = c.info(&n3).await.unwrap().spec.volumes.iter().filter(|v| v.anonymous).filter_map(|v| v.volume.clone()).collect();
    assert_eq!(anon.len(), 2, "the image's /srv/data and /scratch");
    for a in &anon {
        assert!(c.inspect_volume(a).await.unwrap().anonymous);
    }
    c.remove(&n3, false, None).await.unwrap();
    for a in &anon {
        assert_eq!(c.inspect_volume(a).await.unwrap_err().name(), "NoSuchVolume");
    }
    let listed = ctl_ok(&["volume", "ls", "-q"]);
    assert!(listed.lines().any(|l| l == vol), "{listed}");
    c.remove(&n2, false, None).await.unwrap();
    ctl_ok(&["volume", "rm", &vol]);
    c.remove_image(&image, false).await.unwrap();
}

#[tokio::test]
async fn the_containers_view_is_what_umoci_unpacks() {
    let _g = daemon_lock().read().await;
    let c = client().await;
    let dir = scratch();
    let tag = common::unique("umoci");
    let img = app_image(&tag);
    // An OCI layout directory: umoci unpacks it, berthctl imports it.
    let layout = dir.path().join("layout");
    fixture::write_dir(&layout, &oci_files(&[img.clone().named("latest")]));
    ok("umoci", &["unpack", "--image", &format!("{}:latest", layout.display()), dir.path().join("bundle").to_str().unwrap()]);
    let ids = ctl_ok(&["image", "import", layout.to_str().unwrap(), &tag]);
    assert_eq!(ids.trim(), img.id());
    let name = common::unique("view");
    c.create(&name, &options(&[("Image", s(&img.id()))])).await.unwrap();
    let root = PathBuf::from(c.mount(&name).await.unwrap());
    let (ours, theirs) = (tree(&root), tree(&dir.path().join("bundle/rootfs")));
    assert_eq!(ours.len(), theirs.len());
    for (k, v) in &theirs {
        assert_eq!(ours.get(k), Some(v), "{k}");
    }
    c.unmount(&name, false).await.unwrap();
    c.remove(&name, false, None).await.unwrap();
    c.remove_image(&img.id(), true).await.unwrap();
}

/// Path -> type, mode, owner, size and link target of everything below.
fn tree(root: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let m = fs::symlink_metadata(&p).unwrap();
            let link = if m.file_type().is_symlink() { fs::read_link(&p).unwrap().display().to_string() } else { String::new() };
            if m.is_dir() {
                stack.push(p.clone());
            }
            let size = if m.is_file() { m.len() } else { 0 };
            let rel = p.strip_prefix(root).unwrap().display().to_string();
            out.insert(rel, format!("{:o} {}:{} {size} {link}", m.mode(), m.uid(), m.gid()));
        }
    }
    out
}

#[tokio::test]
async fn podman_images_run() {
    let _g = daemon_lock().read().await;
    let f = common::installed();
    let dir = scratch();
    let p = |n: &str| dir.path().join(n).display().to_string();
    let rootfs_tar = p("rootfs.tar");
    ok("tar", &["-C", &f.rootfs, "--numeric-owner", "-cf", &rootfs_tar, "."]);
    let podman = |args: &[&str]| {
        let mut a: Vec<String> = ["--root", &p("storage"), "--runroot", &p("run"), "--storage-driver", "vfs", "--events-backend", "file", "--cgroup-manager", "cgroupfs"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        a.extend(args.iter().map(|s| s.to_string()));
        let o = std::process::Command::new("podman").args(&a).env("TMPDIR", dir.path()).output().unwrap();
        assert!(o.status.success(), "podman {args:?}: {}", String::from_utf8_lossy(&o.stderr));
    };
    let tag = common::unique("pm");
    let name = format!("localhost/{tag}:1");
    podman(&["import", "--change", "CMD [\"/bin/sh\", \"-c\", \"echo from-podman $GREETING\"]", "--change", "ENV GREETING=hello", &rootfs_tar, &name]);
    podman(&["save", "--format", "oci-archive", "-o", &p("oci.tar"), &name]);
    podman(&["save", "-o", &p("docker.tar"), &name]);
    // skopeo too: docker-archive to oci-archive under another name.
    let o = std::process::Command::new("skopeo")
        .args(["copy", "--quiet", &format!("docker-archive:{}", p("docker.tar")), &format!("oci-archive:{}:localhost/{tag}:skopeo", p("skopeo.tar"))])
        .env("TMPDIR", dir.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "skopeo: {}", String::from_utf8_lossy(&o.stderr));
    for (file, reference) in [("oci.tar", format!("{tag}:1")), ("docker.tar", format!("{tag}:1")), ("skopeo.tar", format!("{tag}:skopeo"))] {
        ctl_ok(&["image", "import", &p(file)]);
        let n = common::unique("podmanimg");
        let o = ctl(&["run", "--name", &n, &reference]);
        assert_eq!(o.status.code(), Some(0), "{file}: {}", String::from_utf8_lossy(&o.stderr));
        assert!(common::wait_journal(&n, "from-podman").contains(&"from-podman hello".to_string()), "{file}");
        ctl_ok(&["rm", &n]);
    }
    ctl_ok(&["image", "rm", "-f", &format!("{tag}:1")]);
    let _ = ctl(&["image", "rm", "-f", &format!("{tag}:skopeo")]);
}

#[tokio::test]
async fn a_container_file_with_an_image_runs_through_the_generator() {
    let _g = daemon_lock().write().await;
    let c = client().await;
    let (image, _) = import(&c, &app_image(&common::unique("quadlet"))).await;
    let unit = common::unique("qimg");
    let file = format!("/etc/berth/systemd/{unit}.container");
    fs::create_dir_all("/etc/berth/systemd").unwrap();
    fs::write(&file, format!("[Container]\nImage={image}\nEnvironment=MODE=file\nVolume=/cache\n")).unwrap();
    ok("systemctl", &["daemon-reload"]);
    ok("systemctl", &["start", &format!("{unit}.service")]);
    let lines = common::wait_journal(&unit, "uid=");
    assert!(lines.contains(&"uid=1000 gid=1000 groups=1000 50 cwd=/srv/app mode=file keep=kept seed=seeded".to_string()), "{lines:?}");
    let id = berth::quadlet::quadlet_id(&berth::model::ContainerName::new(&unit).unwrap());
    assert!(is_mounted(&id), "berth-monitor mounted the root");
    common::wait_until(Duration::from_secs(10), || String::from_utf8_lossy(&ctl(&["ps"]).stdout).contains(&unit));
    let info = c.info(&unit).await.unwrap();
    assert_eq!(info.image_name.as_deref(), Some(image.as_str()));
    assert!(info.image.is_some(), "berthd learned the image's id");
    assert_eq!(c.remove_image(&image, false).await.unwrap_err().name(), "ImageInUse");
    ok("systemctl", &["stop", &format!("{unit}.service")]);
    common::wait_journal(&unit, "got-int");
    assert!(!is_mounted(&id), "the monitor unmounts the root when the container ends");
    fs::remove_file(&file).unwrap();
    ok("systemctl", &["daemon-reload"]);
    common::wait_until(Duration::from_secs(10), || !String::from_utf8_lossy(&ctl(&["ps", "-a"]).stdout).contains(&unit));
    c.remove_image(&image, false).await.unwrap();
}

/// SIGKILL berthd `delay` after `verb` was asked of it, start it again
/// (systemd's own restarts would soon hit their start limit), and return a
/// client of the new one.
async fn kill_berthd_during(verb: impl std::future::Future<Output = ()> + Send + 'static, delay: Duration) -> Client {
    let call = tokio::spawn(verb);
    tokio::time::sleep(delay).await;
    ok("systemctl", &["kill", "--kill-whom=main", "--signal=KILL", "berthd.service"]);
    let _ = call.await;
    common::wait_until(Duration::from_secs(20), || !run("systemctl", &["is-active", "--quiet", "berthd"]).status.success());
    let _ = run("systemctl", &["reset-failed", "berthd.service"]);
    ok("systemctl", &["start", "berthd.service"]);
    Client::system().await.unwrap()
}

#[tokio::test]
async fn berthd_killed_during_start_or_remove_leaves_no_stale_mount() {
    let _g = daemon_lock().write().await;
    let mut c = client().await;
    let (image, _) = import(&c, &app_image(&common::unique("crash"))).await;
    let script = "trap 'exit 0' INT TERM; while true; do sleep 0.1; done";
    let mut ids = Vec::new();
    for (i, delay_ms) in [0u64, 5, 15, 30, 60, 120].into_iter().enumerate() {
        let delay = Duration::from_millis(delay_ms);
        // Start, killed at some point of it.
        let name = common::unique("killstart");
        c.create(&name, &options(&[("Image", s(&image)), ("Command", list(&[script])), ("Volumes", list(&["/anon"]))])).await.unwrap();
        let id = c.info(&name).await.unwrap().id;
        ids.push(id.clone());
        let (c2, n2) = (c.clone(), name.clone());
        c = kill_berthd_during(async move { let _ = c2.start(&n2, false).await; }, delay).await;
        let st = c.state(&name).await.unwrap();
        match st {
            State::Running => assert!(is_mounted(&id), "{i}: running without its root"),
            State::Configured | State::Exited | State::Stopped => {
                if st == State::Configured {
                    assert!(!is_mounted(&id), "{i}: killed during start ({delay:?}): a stale mount of a configured container");
                }
            }
            other => panic!("{i}: {other} after a killed start"),
        }
        // Remove, killed at some point of it.
        let (c2, n2) = (c.clone(), name.clone());
        c = kill_berthd_during(async move { let _ = c2.remove(&n2, true, Some(0)).await; }, delay).await;
        if c.info(&name).await.is_ok() {
            // Not begun when killed: finish it now.
            c.remove(&name, true, Some(0)).await.unwrap();
        }
        assert!(!is_mounted(&id), "{i}: killed during remove ({delay:?}): its root is still mounted");
        assert!(!layer_dir(&id).exists(), "{i}: its layer is left");
        assert!(!Path::new(&root_mount(&id)).exists(), "{i}: its mount point is left");
    }
    // (Only this test's: a failed test elsewhere may leave a container running.)
    let left: Vec<String> = mount_points().into_iter().filter(|m| ids.iter().any(|id| m.contains(id.as_str()))).collect();
    assert!(left.is_empty(), "roots left mounted: {left:?}");
    c.remove_image(&image, false).await.unwrap();
}
