//! A corpus of `.container` files written the way podman users write them
//! (tests/quadlet/corpus/), with drop-ins: each good file must generate the
//! unit and spec in its `.service`/`.json` next to it, and each `bad-*` file
//! must fail with the `file:line` errors in `corpus.errors` (the
//! generator's whole report over the directory, as systemd would log it).
//! The `[Install]` links of the good files are in `corpus.links`.
//! BERTH_BLESS=1 rewrites the expected files; it cannot turn a bad file
//! good or a good one bad. Pure: no systemd.

use berth::quadlet::generator::{self, Config};
use std::fs;
use std::path::{Path, PathBuf};

const MONITOR: &str = "/usr/local/bin/berth-monitor";
const NORMAL_DIR: &str = "/run/systemd/generator";
const SHOWN_DIR: &str = "/etc/containers/systemd";

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/quadlet/corpus")
}

fn shown(text: &str) -> String {
    text.replace(&corpus().display().to_string(), SHOWN_DIR)
}

fn bless() -> bool {
    std::env::var_os("BERTH_BLESS").is_some_and(|v| v == "1")
}

/// Compare with the expected file, or rewrite it when blessing.
fn check(path: &Path, got: &str, mismatches: &mut Vec<String>) {
    if bless() {
        fs::write(path, got).unwrap();
    } else if fs::read_to_string(path).unwrap_or_default() != got {
        mismatches.push(format!("==> {} <==\n{got}", path.display()));
    }
}

fn files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(corpus())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "container" || e == "pod" || e == "build" || e == "image"))
        .collect();
    files.sort();
    files
}

fn is_bad(p: &Path) -> bool {
    p.file_name().unwrap().to_string_lossy().starts_with("bad-")
}

#[test]
fn good_files_generate_the_expected_units() {
    let dirs = [corpus()];
    let mut mismatches = Vec::new();
    let mut links = String::new();
    let good: Vec<PathBuf> = files().into_iter().filter(|p| !is_bad(p)).collect();
    assert!(good.len() >= 4, "{good:?}");
    for path in &good {
        let g = generator::generate_in(path, &dirs, Path::new(NORMAL_DIR), Path::new(MONITOR))
            .unwrap_or_else(|e| panic!("{} must generate:\n{e}", path.display()));
        check(&path.with_extension("service"), &shown(&g.service), &mut mismatches);
        check(&path.with_extension("json"), &shown(&g.spec_json), &mut mismatches);
        for (link, target) in &g.links {
            links.push_str(&format!("{} -> {}\n", link.display(), target.display()));
        }
    }
    // The [Install] links of every good file ([Install] of a template names its DefaultInstance=).
    check(&corpus().join("corpus.links"), &links, &mut mismatches);
    assert!(mismatches.is_empty(), "output differs from (BERTH_BLESS=1 rewrites):\n{}", mismatches.join("\n"));
}

#[test]
fn bad_files_fail_with_file_and_line() {
    let cfg = Config { dirs: vec![corpus()], normal_dir: NORMAL_DIR.into(), monitor: MONITOR.into(), dry_run: true };
    let mut errors = Vec::new();
    let mut out = Vec::new();
    assert_eq!(generator::run(&cfg, &mut out, &mut |e| errors.push(shown(&e.to_string()))), 1);
    let out = String::from_utf8(out).unwrap();
    for path in files() {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let unit = format!("/{}.service <==", name.trim_end_matches(".container"));
        let reported = errors.iter().any(|e| e.starts_with(&format!("{SHOWN_DIR}/{name}:")));
        if is_bad(&path) {
            assert!(reported && !out.contains(&unit), "{name} must fail with file:line errors and generate nothing");
        } else {
            assert!(!reported && out.contains(&unit), "{name} must generate without errors: {errors:#?}");
        }
    }
    // Errors never show secret values.
    assert!(!errors.iter().any(|e| e.contains("changeme")));
    let mut mismatches = Vec::new();
    check(&corpus().join("corpus.errors"), &(errors.join("\n") + "\n"), &mut mismatches);
    assert!(mismatches.is_empty(), "errors differ from (BERTH_BLESS=1 rewrites):\n{}", mismatches.join("\n"));
}
