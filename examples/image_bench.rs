//! Image import speed against `umoci unpack`, and the cost of a container
//! layer. Runs as root (device nodes, overlay mounts), in the sandbox:
//!
//!   cargo build --release --example image_bench
//!   systemd/sandbox run target/release/examples/image_bench [SCRATCH_DIR]
//!
//! It generates a multi-layer image of about 128 MB (half of it random
//! bytes, half text) as an OCI layout, then imports it into a fresh store
//! (verify every digest, unpack every layer, sync) and unpacks it with
//! umoci, interleaved, several rounds; prints the medians and their ratio.

#[path = "../tests/image_fixture/mod.rs"]
mod fixture;

use berth::image::{ContainerLayer, ImageStore, ImportOptions};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const ROUNDS: usize = 3;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn fresh(p: &Path) -> PathBuf {
    let _ = std::fs::remove_dir_all(p);
    p.to_path_buf()
}

fn main() {
    let scratch = std::env::args().nth(1).map(PathBuf::from).unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/image-bench"));
    std::fs::create_dir_all(&scratch).expect("scratch directory");
    let layout = scratch.join("layout");
    let t = Instant::now();
    let image = fixture::bulky_image(5, 400, 64 << 10).named("latest");
    let files = fixture::oci_files(&[image]);
    let _ = std::fs::remove_dir_all(&layout);
    fixture::write_dir(&layout, &files);
    let bytes: u64 = image_bytes(&layout);
    println!("generated a 5-layer image, {} MB of blobs (128 MB unpacked), in {:.1?}", bytes >> 20, t.elapsed());

    let mut ours = Vec::new();
    let mut umoci = Vec::new();
    for round in 0..ROUNDS {
        let store_root = fresh(&scratch.join("store"));
        let bundle = fresh(&scratch.join("bundle"));
        let run_ours = || {
            let t = Instant::now();
            let store = ImageStore::open(&store_root).expect("open the store");
            store.import_path(&layout, &ImportOptions { name: Some("bench".into()) }).expect("import");
            t.elapsed()
        };
        let run_umoci = || {
            let t = Instant::now();
            let st = Command::new("umoci")
                .args(["unpack", "--image", &format!("{}:latest", layout.display()), &bundle.display().to_string()])
                .status()
                .expect("umoci (apt-get install umoci)");
            assert!(st.success(), "umoci unpack failed");
            t.elapsed()
        };
        // Alternate who goes first.
        if round % 2 == 0 {
            ours.push(run_ours());
            umoci.push(run_umoci());
        } else {
            umoci.push(run_umoci());
            ours.push(run_ours());
        }
        println!("round {}: berth {:.2?}, umoci {:.2?}", round + 1, ours[round], umoci[round]);
    }
    let (o, u) = (median(ours), median(umoci));
    println!("import + unpack: berth {o:.2?}, umoci unpack {u:.2?}; ratio berth/umoci = {:.2} (target <= 1.5)", o.as_secs_f64() / u.as_secs_f64());

    let layers = fresh(&scratch.join("containers"));
    std::fs::create_dir_all(&layers).expect("containers directory");
    let n = 200;
    let t = Instant::now();
    for i in 0..n {
        ContainerLayer::create(&layers.join(format!("c{i}"))).expect("create a container layer");
    }
    println!("ContainerLayer::create: {:.0?} on average over {n} (target < 5 ms)", t.elapsed() / n);
    let store = ImageStore::open(scratch.join("store")).expect("open the store");
    let img = store.resolve("bench").expect("the imported image");
    let target = scratch.join("merged");
    let t = Instant::now();
    ContainerLayer::open(&layers.join("c0")).expect("layer").mount(&store.layer_dirs(&img), &target).expect("mount");
    println!("mount of the 5-layer overlay: {:.1?}", t.elapsed());
    ContainerLayer::unmount(&target).expect("unmount");
    let _ = std::fs::remove_dir_all(&scratch);
}

fn image_bytes(layout: &Path) -> u64 {
    std::fs::read_dir(layout.join("blobs/sha256")).map(|d| d.filter_map(|e| e.ok()?.metadata().ok()).map(|m| m.len()).sum()).unwrap_or(0)
}
