//! `.container` files to `.service` units, compared byte for byte with the
//! expected files in tests/quadlet/ (BERTH_BLESS=1 rewrites them), plus
//! errors and the generator's behaviour on a directory. Pure: no systemd.

use berth::quadlet::generator::{self, Config};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

const MONITOR: &str = "/usr/local/bin/berth-monitor";
const NORMAL_DIR: &str = "/run/systemd/generator";
/// Where the fixtures appear to live in the expected files.
const SHOWN_DIR: &str = "/etc/berth/systemd";

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/quadlet")
}

/// Output with the checkout's path replaced, so the expected files hold
/// the path an administrator would see.
fn shown(text: &str) -> String {
    text.replace(&fixtures().display().to_string(), SHOWN_DIR)
}

#[test]
fn units_match_the_expected_files() {
    let bless = std::env::var_os("BERTH_BLESS").is_some_and(|v| v == "1");
    let mut files: Vec<PathBuf> = fs::read_dir(fixtures())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "container"))
        .collect();
    files.sort();
    assert!(files.len() >= 5, "{files:?}");
    let mut mismatches = Vec::new();
    for path in &files {
        let g = generator::generate(path, Path::new(NORMAL_DIR), Path::new(MONITOR)).unwrap_or_else(|e| panic!("{e}"));
        for (ext, got) in [("service", shown(&g.service)), ("json", shown(&g.spec_json))] {
            let want_path = path.with_extension(ext);
            if bless {
                fs::write(&want_path, &got).unwrap();
                continue;
            }
            let want = fs::read_to_string(&want_path).unwrap_or_default();
            if want != got {
                mismatches.push(format!("==> {} <==\n{got}", want_path.display()));
            }
        }
    }
    assert!(mismatches.is_empty(), "output differs from (BERTH_BLESS=1 rewrites):\n{}", mismatches.join("\n"));
}

#[test]
fn install_section_becomes_links() {
    let g = generator::generate(&fixtures().join("notify.container"), Path::new(NORMAL_DIR), Path::new(MONITOR)).unwrap();
    assert_eq!(
        g.links,
        [(PathBuf::from("/run/systemd/generator/multi-user.target.wants/notify.service"), PathBuf::from("../notify.service"))]
    );
    assert_eq!(g.service_path, Path::new("/run/systemd/generator/notify.service"));
    assert_eq!(g.spec_path, Path::new("/run/systemd/generator/berth/notify.json"));
}

#[test]
fn errors_name_file_and_line() {
    let dir = fixtures().join("errors");
    let cases = [
        ("unknown-key", "4: unknown key Environmnet= in [Container] (supported: Image, Rootfs, Exec, Entrypoint, Environment, WorkingDir, HostName, Notify, StopSignal, StopTimeout, Label, Annotation, Volume, Tmpfs, AddCapability, DropCapability, Sysctl, ShmSize, ReadOnly, ReadOnlyTmpfs, NoNewPrivileges, Timezone, Ulimit, AddDevice, Network, PublishPort, IP, NetworkAlias, DNS, DNSSearch, AddHost, Runtime, HealthCmd, HealthInterval, HealthTimeout, HealthRetries, HealthStartPeriod, HealthOnFailure, Memory, PidsLimit, EnvironmentFile, User, Group, ContainerName, Mount)"),
        ("image-and-rootfs", "3: Rootfs: give either Image= or Rootfs=, not both"),
        ("bad-signal", "5: StopSignal: unknown signal \"SIGNOPE\""),
        ("bad-bool", "4: ReadOnly: \"maybe\" is not a boolean (yes/no, true/false, on/off, 1/0)"),
        ("missing-exec", "2: [Container] has no Exec="),
        ("unterminated", "3: Exec: unterminated quote (\")"),
    ];
    for (name, want) in cases {
        let path = dir.join(format!("{name}.container"));
        let e = generator::generate(&path, Path::new(NORMAL_DIR), Path::new(MONITOR)).unwrap_err();
        assert_eq!(e.to_string(), format!("{}:{want}", path.display()));
    }
}

fn config(dirs: Vec<PathBuf>, out: &Path, dry_run: bool) -> Config {
    Config { dirs, normal_dir: out.to_path_buf(), monitor: MONITOR.into(), dry_run }
}

#[test]
fn a_bad_file_fails_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path();
    let mut errors = Vec::new();
    let mut stdout = Vec::new();
    let status = generator::run(&config(vec![fixtures().join("dir")], out, false), &mut stdout, &mut |e| errors.push(e.to_string()));
    assert_eq!(status, 1);
    assert_eq!(errors, [format!("{}:4: StopTimeout: \"soon\" is not a number", fixtures().join("dir/broken.container").display())]);
    assert!(stdout.is_empty());
    for unit in ["web", "db"] {
        let text = fs::read_to_string(out.join(format!("{unit}.service"))).unwrap();
        assert!(text.contains(&format!("--spec={}/berth/{unit}.json ", out.display())), "{text}");
        let defined: berth::model::FileDefined =
            serde_json::from_str(&fs::read_to_string(out.join(format!("berth/{unit}.json"))).unwrap()).unwrap();
        assert_eq!(defined.spec.rootfs, Path::new("/srv").join(unit));
        assert_eq!(defined.unit, format!("{unit}.service"));
    }
    assert!(!out.join("broken.service").exists() && !out.join("berth/broken.json").exists());
    let link = |p: &str| fs::read_link(out.join(p)).unwrap();
    assert_eq!(link("multi-user.target.wants/web.service"), Path::new("../web.service"));
    assert_eq!(link("www.service"), Path::new("web.service"));
    assert_eq!(link("web.service.requires/db.service"), Path::new("../db.service"));
    // The links resolve to the units.
    assert!(out.join("multi-user.target.wants/web.service").is_file());
}

fn generator_command(dirs: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_berth-generator"));
    c.env("BERTH_QUADLET_DIRS", dirs).env("BERTH_MONITOR", MONITOR);
    c
}

#[test]
fn dry_run_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("normal");
    fs::create_dir(&out).unwrap();
    let dirs = format!("{}:{}", tmp.path().join("missing").display(), fixtures().join("dir").display());
    let r = generator_command(&dirs).args(["--dry-run"]).arg(&out).arg("/early").arg("/late").output().unwrap();
    assert_eq!(r.status.code(), Some(1));
    let stdout = String::from_utf8(r.stdout).unwrap();
    let stderr = String::from_utf8(r.stderr).unwrap();
    assert_eq!(stderr, format!("{}:4: StopTimeout: \"soon\" is not a number\n", fixtures().join("dir/broken.container").display()));
    for shown in [
        format!("==> {}/web.service <==\n# Automatically generated by berth-generator from ", out.display()),
        format!("==> {}/berth/db.json <==\n{{\n", out.display()),
        format!("==> {}/multi-user.target.wants/web.service -> ../web.service <==\n", out.display()),
        format!("==> {}/web.service.requires/db.service -> ../db.service <==\n", out.display()),
    ] {
        assert!(stdout.contains(&shown), "{shown} not in:\n{stdout}");
    }
    assert_eq!(fs::read_dir(&out).unwrap().count(), 0);
}

#[test]
fn generator_binary_writes_units() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let out = tmp.path().join("normal");
    fs::create_dir(&src).unwrap();
    fs::create_dir(&out).unwrap();
    for f in ["web.container", "db.container"] {
        fs::copy(fixtures().join("dir").join(f), src.join(f)).unwrap();
    }
    let r = generator_command(&src.display().to_string()).arg(&out).arg("/early").arg("/late").output().unwrap();
    assert_eq!(r.status.code(), Some(0), "{}", String::from_utf8_lossy(&r.stderr));
    assert!(r.stdout.is_empty() && r.stderr.is_empty());
    let text = fs::read_to_string(out.join("web.service")).unwrap();
    assert!(text.contains(&format!("\nExecStart={MONITOR} run-spec --spec={}/berth/web.json --name=web ", out.display())));
    assert!(out.join("multi-user.target.wants/web.service").is_file());
    // Without a directory the generator only explains itself.
    let r = generator_command("").output().unwrap();
    assert_eq!(r.status.code(), Some(2));
}
