//! Symlink races against copy in and copy out: something standing in for
//! the container keeps swapping a symlink (atomically, by rename) between a
//! real directory and `/`, `/etc`, `..`, `/proc/self/root` and host paths,
//! while copies run against it. Nothing outside the root may be read or
//! written, and every copy lands inside the root or fails with a named
//! error.
//!
//! The first test needs no container; the second runs a busybox container
//! with crun whose own process swaps the link, copied through
//! /proc/PID/root (root and crun needed; run in the sandbox with
//! `systemd/sandbox with cargo test --test files_race`).

use berth::files::{copy_in, copy_out, ContainerRoot, CopyInOptions, Error};
use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{symlink, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

mod common;

const ROUNDS: usize = 1000;
static GO: AtomicBool = AtomicBool::new(false);

/// A host directory holding a root, a canary and a marker outside it.
struct Host {
    dir: tempfile::TempDir,
    marker: String,
    canary: (Vec<u8>, i64, i64),
}

impl Host {
    fn new() -> Self {
        fs::create_dir_all("/var/tmp").unwrap();
        let dir = tempfile::tempdir_in("/var/tmp").unwrap();
        let marker = format!("HOST-MARKER-{}-{:x}", std::process::id(), dir.path().as_os_str().len() * 7919);
        fs::write(dir.path().join("marker"), &marker).unwrap();
        fs::write(dir.path().join("canary"), "the host's canary").unwrap();
        fs::create_dir(dir.path().join("etc")).unwrap();
        fs::write(dir.path().join("etc/secret"), &marker).unwrap();
        let m = fs::metadata(dir.path().join("canary")).unwrap();
        let canary = (fs::read(dir.path().join("canary")).unwrap(), m.mtime(), m.mtime_nsec());
        Host { dir, marker, canary }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn assert_untouched(&self) {
        let c = self.path().join("canary");
        let m = fs::metadata(&c).unwrap();
        assert_eq!((fs::read(&c).unwrap(), m.mtime(), m.mtime_nsec()), self.canary, "the host canary changed");
        assert_eq!(fs::read_to_string(self.path().join("etc/secret")).unwrap(), self.marker);
        // Nothing new next to the root.
        let mut names: Vec<String> =
            fs::read_dir(self.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        assert!(names.iter().all(|n| ["bundle", "canary", "etc", "marker", "root"].contains(&n.as_str())), "{names:?}");
        assert_eq!(fs::read_dir(self.path().join("etc")).unwrap().count(), 1, "something was written into the host's etc");
    }
}

/// Swap `dir/link` between `targets` until `stop`, by rename over it.
fn swapper(dir: PathBuf, targets: Vec<String>, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<u64> {
    std::thread::spawn(move || {
        let tmp = dir.join("link.tmp");
        let mut swaps = 0u64;
        while !stop.load(Ordering::Relaxed) {
            for t in &targets {
                let _ = fs::remove_file(&tmp);
                symlink(t, &tmp).unwrap();
                fs::rename(&tmp, dir.join("link")).unwrap();
                swaps += 1;
            }
        }
        swaps
    })
}

/// One archive holding `canary` (the host canary's name) and `name`.
fn archive(name: &str) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (n, data) in [("canary", &b"PWNED"[..]), (name, &b"copied in"[..])] {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(0);
        h.set_uid(0);
        h.set_gid(0);
        b.append_data(&mut h, n, data).unwrap();
    }
    b.into_inner().unwrap()
}

/// Errors a race may legitimately produce: all named, all about the
/// container's side.
fn expected(e: &Error) -> &'static str {
    match e {
        Error::NotFound { .. } => "NotFound",
        Error::NotADirectory { .. } => "NotADirectory",
        Error::DestinationNotDirectory { .. } => "DestinationNotDirectory",
        Error::SymlinkLoop { .. } => "SymlinkLoop",
        Error::ChangedDuringCopy { .. } => "ChangedDuringCopy",
        Error::CreateEntry { .. } => "CreateEntry",
        other => panic!("unexpected error in a race: {other:?}"),
    }
}

/// Run the copies against `link` in `root` while something swaps it;
/// `in_root` maps a container path to the host path of the root's view.
fn race(root: &ContainerRoot, host: &Host, in_root: &dyn Fn(&str) -> PathBuf) {
    let mut outcomes: BTreeMap<&str, usize> = BTreeMap::new();
    for i in 0..ROUNDS {
        let mut out = Vec::new();
        match copy_out(root, "/data/link", &mut out, &GO) {
            Ok(_) => {
                assert!(!contains(&out, host.marker.as_bytes()), "round {i}: a host file was copied out");
                *outcomes.entry("out: Ok").or_default() += 1;
            }
            Err(e) => {
                *outcomes.entry(expected(&e)).or_default() += 1;
                // A failed copy is quicker than a good one: wait a little so
                // that rounds sample the swapper's states evenly.
                std::thread::sleep(Duration::from_micros(300));
            }
        }
        let name = format!("in-{i}");
        match copy_in(root, "/data/link", &archive(&name)[..], &CopyInOptions::default(), &GO) {
            Ok(_) => {
                let landed: Vec<PathBuf> =
                    ["/data/real", "/", "/etc"].iter().map(|d| in_root(d).join(&name)).filter(|p| p.exists()).collect();
                assert!(!landed.is_empty(), "round {i}: {name} was copied in but is nowhere inside the root");
                // Keep the root small: copies out of "/" walk all of it.
                for p in landed {
                    fs::remove_file(p).unwrap();
                }
                *outcomes.entry("in: Ok").or_default() += 1;
            }
            Err(e) => {
                *outcomes.entry(expected(&e)).or_default() += 1;
                std::thread::sleep(Duration::from_micros(300));
            }
        }
        if i % 100 == 0 {
            host.assert_untouched();
        }
    }
    host.assert_untouched();
    println!("outcomes of {ROUNDS} copies each way: {outcomes:?}");
    assert!(
        outcomes.get("out: Ok").copied().unwrap_or(0) > 0 && outcomes.get("in: Ok").copied().unwrap_or(0) > 0,
        "no copy ever succeeded: the race test tests nothing"
    );
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn swapped_symlinks_never_lead_out_of_a_directory_root() {
    let host = Host::new();
    let r = host.path().join("root");
    for d in ["data/real", "etc"] {
        fs::create_dir_all(r.join(d)).unwrap();
    }
    fs::write(r.join("data/real/inside.txt"), "inside").unwrap();
    fs::write(r.join("etc/passwd"), "root:x:0:0::/:/bin/sh\n").unwrap();
    // Targets that exist in the root come twice, so that copies succeed
    // often enough to be checked.
    let mut targets: Vec<String> = ["real", "/", "/etc", "..", "../../.."].iter().flat_map(|t| [t.to_string(), t.to_string()]).collect();
    targets.push("/proc/self/root".to_string());
    targets.push(host.path().display().to_string());
    targets.push(host.path().join("etc").display().to_string());
    let stop = Arc::new(AtomicBool::new(false));
    let swaps = swapper(r.join("data"), targets, stop.clone());
    let root = ContainerRoot::of_dir(&r).unwrap();
    race(&root, &host, &|p| r.join(p.trim_start_matches('/')));
    stop.store(true, Ordering::Relaxed);
    println!("{} swaps", swaps.join().unwrap());
}

#[test]
fn a_running_container_swapping_its_links_cannot_reach_the_host() {
    assert!(nix::unistd::geteuid().is_root(), "this test runs crun and needs root (run it in systemd/sandbox)");
    let host = Host::new();
    let bundle = host.path().join("bundle");
    fs::create_dir(&bundle).unwrap();
    let rootfs = common::busybox_rootfs(&bundle);
    fs::create_dir_all(rootfs.join("data/real")).unwrap();
    fs::write(rootfs.join("data/real/inside.txt"), "inside").unwrap();
    // A volume: a host directory bind-mounted at /vol.
    let volume = bundle.join("vol");
    fs::create_dir_all(&volume).unwrap();
    fs::create_dir_all(rootfs.join("vol")).unwrap();
    let script = format!(
        "while :; do for t in /data/real / /etc .. /proc/self/root {h} {h}/etc; do ln -sfn $t /data/l.tmp; mv -fT /data/l.tmp /data/link; done; done",
        h = host.path().display()
    );
    write_config(&bundle, &rootfs, &volume, &["/bin/sh", "-c", &script]);
    let id = format!("berth-files-race-{}", std::process::id());
    let state_root = "/run/berth-files-race-crun";
    let crun = |args: &[&str]| Command::new("crun").args(["--root", state_root, "--cgroup-manager=disabled"]).args(args).output().unwrap();
    // The container inherits crun's stdio: files, not pipes nobody closes.
    let log = bundle.join("crun.log");
    let st = Command::new("crun")
        .args(["--root", state_root, "--cgroup-manager=disabled", "run", "--detach", "--bundle", bundle.to_str().unwrap(), &id])
        .stdin(std::process::Stdio::null())
        .stdout(fs::File::create(&log).unwrap())
        .stderr(fs::File::create(&log).unwrap())
        .status()
        .unwrap();
    assert!(st.success(), "crun run failed: {}", fs::read_to_string(&log).unwrap_or_default());
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let state: serde_json::Value = serde_json::from_slice(&crun(&["state", &id]).stdout).unwrap();
        let pid = state["pid"].as_i64().unwrap() as i32;
        // Wait until the container's loop has made the link.
        common::wait_until(Duration::from_secs(10), || fs::symlink_metadata(rootfs.join("data/link")).is_ok());
        let root = ContainerRoot::of_process(pid).unwrap();
        race(&root, &host, &|p| rootfs.join(p.trim_start_matches('/')));
        root.check_alive().unwrap();

        // The volume is reached as the container sees it, through its root.
        copy_in(&root, "/vol", &archive("via-volume")[..], &CopyInOptions::default(), &GO).unwrap();
        assert_eq!(fs::read_to_string(volume.join("via-volume")).unwrap(), "copied in");
        assert_eq!(berth::files::stat(&root, "/vol/via-volume", true).unwrap().size, 9);
        let mut out = Vec::new();
        copy_out(&root, "/vol/.", &mut out, &GO).unwrap();
        let names: Vec<String> = tar::Archive::new(&out[..])
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["canary", "via-volume"]);
    }));
    let _ = crun(&["kill", &id, "KILL"]);
    common::wait_until(Duration::from_secs(10), || {
        let s = crun(&["state", &id]);
        !s.status.success() || String::from_utf8_lossy(&s.stdout).contains("stopped")
    });
    let d = crun(&["delete", "--force", &id]);
    assert!(d.status.success(), "crun delete: {}", String::from_utf8_lossy(&d.stderr));
    if let Err(p) = result {
        std::panic::resume_unwind(p);
    }
}

/// A minimal OCI config: the host's namespaces but mount, pid, ipc, uts;
/// `volume` bind-mounted at /vol.
fn write_config(bundle: &Path, rootfs: &Path, volume: &Path, args: &[&str]) {
    let config = serde_json::json!({
        "ociVersion": "1.0.2",
        "process": {
            "terminal": false,
            "user": {"uid": 0, "gid": 0},
            "args": args,
            "env": ["PATH=/bin"],
            "cwd": "/",
            "capabilities": {
                "bounding": ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER"],
                "effective": ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER"],
                "permitted": ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER"]
            },
            "noNewPrivileges": true
        },
        "root": {"path": rootfs, "readonly": false},
        "hostname": "race",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "mode=755"]},
            {"destination": "/vol", "type": "bind", "source": volume, "options": ["rbind", "rw"]}
        ],
        "linux": {
            "namespaces": [{"type": "pid"}, {"type": "mount"}, {"type": "ipc"}, {"type": "uts"}],
            "maskedPaths": [],
            "readonlyPaths": []
        }
    });
    fs::write(bundle.join("config.json"), serde_json::to_vec_pretty(&config).unwrap()).unwrap();
}
