//! The C ABI: the committed header is what cbindgen writes, it compiles
//! alone as C and C++, and the C and C++ programs of ffi-tests/ drive the
//! installed berthd through the installed libberth under valgrind.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The warnings every C and C++ build of berth.h must pass.
const WARNINGS: [&str; 4] = ["-Wall", "-Wextra", "-Werror", "-pedantic"];

/// include/berth.h as cbindgen writes it from src/capi, with the version
/// macros taken from Cargo.toml (cbindgen cannot evaluate `env!`).
fn generated_header() -> Vec<u8> {
    let mut config = cbindgen::Config::from_file(format!("{ROOT}/cbindgen.toml")).unwrap();
    config.after_includes = Some(format!(
        "\n#define BERTH_VERSION_MAJOR {}\n#define BERTH_VERSION_MINOR {}\n#define BERTH_VERSION_PATCH {}\n#define BERTH_VERSION \"{}\"",
        env!("CARGO_PKG_VERSION_MAJOR"),
        env!("CARGO_PKG_VERSION_MINOR"),
        env!("CARGO_PKG_VERSION_PATCH"),
        env!("CARGO_PKG_VERSION"),
    ));
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        .with_src(format!("{ROOT}/src/capi/mod.rs"))
        .with_src(format!("{ROOT}/src/model/error.rs"))
        .with_src(format!("{ROOT}/src/model/state.rs"))
        .with_src(format!("{ROOT}/src/model/event.rs"))
        .with_src(format!("{ROOT}/src/model/health.rs"))
        .generate()
        .expect("cbindgen failed");
    let mut out = Vec::new();
    bindings.write(&mut out);
    out
}

#[test]
fn header_is_current() {
    let path = format!("{ROOT}/include/berth.h");
    let want = generated_header();
    if std::env::var_os("BERTH_BLESS").is_some() {
        std::fs::create_dir_all(format!("{ROOT}/include")).unwrap();
        std::fs::write(&path, &want).unwrap();
    }
    let have = std::fs::read(&path).unwrap_or_default();
    assert!(
        have == want,
        "include/berth.h differs from what cbindgen writes from src/capi; rewrite it with \
         BERTH_BLESS=1 cargo test --test capi header"
    );
}

/// A program that hangs is killed after this long, so that it fails the
/// test instead of stalling the whole suite.
const PROGRAM_LIMIT: std::time::Duration = std::time::Duration::from_secs(600);

fn run(cmd: &mut Command) -> Output {
    let child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    let (done, watch) = std::sync::mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        if watch.recv_timeout(PROGRAM_LIMIT).is_err() {
            eprintln!("{pid} still runs after {PROGRAM_LIMIT:?}: killing it");
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
        }
    });
    let o = child.wait_with_output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    let _ = done.send(());
    let _ = watchdog.join();
    assert!(
        o.status.success(),
        "{cmd:?} failed ({}):\n{}{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

#[test]
fn header_compiles_alone_as_c_and_cpp() {
    let src = format!("{ROOT}/ffi-tests/header_only.c");
    for (compiler, std) in [("cc", "-std=c99"), ("cc", "-std=c11"), ("c++", "-std=c++17")] {
        let mut cmd = Command::new(compiler);
        if compiler == "c++" {
            cmd.args(["-x", "c++"]);
        }
        run(cmd.arg(std).args(WARNINGS).arg(format!("-I{ROOT}/include")).args(["-fsyntax-only", &src]));
    }
}

fn installed() -> &'static common::Fixture {
    common::installed()
}

/// The newest libberth.so of this build: `cargo test` writes the cdylib
/// beside the test binary in target/debug/deps, `cargo build` also copies it
/// to target/debug, so either may be older. It is offered in a directory of
/// its own under its soname too (programs linked with it load
/// `libberth.so.0`), so that LD_LIBRARY_PATH finds it before the installed one.
fn fresh_lib_dir() -> PathBuf {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let deps = std::env::current_exe().unwrap().parent().unwrap().to_path_buf();
        let dirs = [deps.clone(), deps.parent().unwrap().to_path_buf()];
        let mtime = |d: &PathBuf| std::fs::metadata(d.join("libberth.so")).and_then(|m| m.modified()).ok();
        let newest = dirs.iter().filter(|d| mtime(d).is_some()).max_by_key(|d| mtime(d));
        let lib = newest.unwrap_or_else(|| panic!("no libberth.so in {dirs:?}; build it: cargo build")).join("libberth.so");
        std::fs::create_dir_all("/var/tmp").unwrap();
        let dir = tempfile::tempdir_in("/var/tmp").unwrap();
        for name in ["libberth.so", "libberth.so.0"] {
            std::os::unix::fs::symlink(&lib, dir.path().join(name)).unwrap();
        }
        dir
    })
    .path()
    .to_path_buf()
}

/// Compile one program of ffi-tests/ with every warning an error. `how`
/// gives the header and library flags.
fn build(file: &str, dir: &Path, how: &[String]) -> PathBuf {
    let src = format!("{ROOT}/ffi-tests/{file}");
    let out = dir.join(Path::new(file).file_stem().unwrap());
    let (compiler, std) = if file.ends_with(".cpp") { ("c++", "-std=c++17") } else { ("cc", "-std=c11") };
    run(Command::new(compiler).args([std, "-g", "-pthread"]).args(WARNINGS).arg(&src).arg("-o").arg(&out).args(how));
    out
}

/// Run a program under valgrind with the fresh libberth: it must exit 0
/// with no memory error and no leak.
fn valgrind(bin: &Path, args: &[&str]) -> String {
    let o = run(Command::new("valgrind")
        .args(["-q", "--leak-check=full", "--errors-for-leak-kinds=definite,indirect,possible", "--error-exitcode=99"])
        .arg(bin)
        .args(args)
        .env("LD_LIBRARY_PATH", fresh_lib_dir()));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Build one program against include/ and the fresh libberth, and run it
/// under valgrind with the fixture's busybox root file system.
fn ffi_test(file: &str) -> String {
    ffi_test_with(file, &[])
}

/// As `ffi_test`, with more arguments after the root file system.
fn ffi_test_with(file: &str, more: &[&str]) -> String {
    let f = installed();
    let dir = tempfile::tempdir_in("/var/tmp").unwrap();
    let lib = fresh_lib_dir();
    let how = [format!("-I{ROOT}/include"), format!("-L{}", lib.display()), "-lberth".into()];
    let bin = build(file, dir.path(), &how);
    let mut args = vec![f.rootfs.as_str()];
    args.extend_from_slice(more);
    valgrind(&bin, &args)
}

#[test]
fn c_lifecycle() {
    assert!(ffi_test("lifecycle.c").contains("lifecycle: ok"));
}

#[test]
fn c_errors() {
    assert!(ffi_test("errors.c").contains("errors: ok"));
}

#[test]
fn c_logs() {
    let out = ffi_test("logs.c");
    print!("{out}");
    assert!(out.contains("logs: ok"));
}

#[test]
fn c_events() {
    assert!(ffi_test("events.c").contains("events: ok"));
}

/// A watch freed from its own callback while the program returns from
/// main: libberth joins the watch thread at exit, so no run leaks or fails.
/// 20 runs in a row (it failed 3 of 8 before).
#[test]
fn watch_freed_from_its_callback_at_exit() {
    let f = installed();
    let dir = tempfile::tempdir_in("/var/tmp").unwrap();
    let lib = fresh_lib_dir();
    let bin = build("watch_exit.c", dir.path(), &[format!("-I{ROOT}/include"), format!("-L{}", lib.display()), "-lberth".into()]);
    for run in 1..=20 {
        eprintln!("watch_exit under valgrind, run {run} of 20");
        assert!(valgrind(&bin, &[&f.rootfs]).contains("watch_exit: ok"), "run {run}");
    }
}

#[test]
fn c_attach_and_exec() {
    assert!(ffi_test("attach.c").contains("attach: ok"));
}

#[test]
fn c_network() {
    assert!(ffi_test("network.c").contains("network: ok"));
}

/// The test root file system as a tarball, with a file naming `test` so
/// that each test's image is its own: tests run at once, and one removes
/// its image while another's containers would hold a shared one.
fn rootfs_tarball(dir: &std::path::Path, test: &str) -> std::path::PathBuf {
    let f = installed();
    let tarball = dir.join("rootfs.tar");
    let mut b = tar::Builder::new(std::fs::File::create(&tarball).unwrap());
    b.follow_symlinks(false);
    b.append_dir_all(".", &f.rootfs).unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_size(test.len() as u64);
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h.set_entry_type(tar::EntryType::Regular);
    h.set_cksum();
    b.append_data(&mut h, "etc/berth-test", test.as_bytes()).unwrap();
    b.into_inner().unwrap();
    tarball
}

#[test]
fn c_images_volumes_mount_export() {
    installed();
    let dir = tempfile::tempdir_in("/var/tmp").unwrap();
    let tarball = rootfs_tarball(dir.path(), "images");
    for runtime in ["crun", "runc"] {
        assert!(ffi_test_with("images.c", &[tarball.to_str().unwrap(), runtime]).contains("images: ok"), "{runtime}");
    }
}

#[test]
fn c_kube_generate_play_down() {
    installed();
    let dir = tempfile::tempdir_in("/var/tmp").unwrap();
    let tarball = rootfs_tarball(dir.path(), "kube");
    assert!(ffi_test_with("kube.c", &[tarball.to_str().unwrap()]).contains("kube: ok"));
}

#[test]
fn c_files_copies_and_artifacts() {
    for runtime in ["crun", "runc"] {
        assert!(ffi_test_with("files.c", &[runtime]).contains("files: ok"), "{runtime}");
    }
}

#[test]
fn cpp_raii_lifecycle() {
    assert!(ffi_test("raii.cpp").contains("raii: ok"));
}

/// The README's example, built as users would: the installed header and
/// library found through `pkg-config --cflags --libs berth`.
#[test]
fn readme_example_builds_with_pkg_config() {
    let f = installed();
    let dir = tempfile::tempdir_in("/var/tmp").unwrap();
    let pc = run(Command::new("pkg-config").args(["--cflags", "--libs", "berth"]));
    let how: Vec<String> = String::from_utf8(pc.stdout).unwrap().split_whitespace().map(String::from).collect();
    assert!(how.iter().any(|a| a == "-lberth"), "{how:?}");
    let bin = build("example.c", dir.path(), &how);
    let readme = std::fs::read_to_string(format!("{ROOT}/README.md")).unwrap();
    let example = std::fs::read_to_string(format!("{ROOT}/ffi-tests/example.c")).unwrap();
    assert!(readme.contains(example.trim()), "README.md's C example differs from ffi-tests/example.c");
    let name = common::unique("capi-readme");
    assert_eq!(valgrind(&bin, &[&f.rootfs, &name]).trim(), "exit code 3");
}

/// The flags pkg-config gives, as arguments.
fn pkg_config(args: &[&str]) -> Vec<String> {
    let o = run(Command::new("pkg-config").args(args).arg("berth"));
    String::from_utf8(o.stdout).unwrap().split_whitespace().map(String::from).collect()
}

/// The shared libraries a program names (readelf's NEEDED entries).
fn needed(bin: &Path) -> Vec<String> {
    let o = run(Command::new("readelf").arg("-d").arg(bin));
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    text.lines().filter(|l| l.contains("(NEEDED)")).filter_map(|l| Some(l.split('[').nth(1)?.trim_end_matches(']').to_string())).collect()
}

/// Right after systemd/install, as users link: through pkg-config, and run
/// with no LD_LIBRARY_PATH. Dynamically (loading the installed
/// libberth.so.0), fully static, and with only libberth static.
#[test]
fn programs_link_with_pkg_config_dynamically_and_statically() {
    let f = installed();
    let dir = tempfile::tempdir_in("/var/tmp").unwrap();
    let go = |bin: &Path| {
        let name = common::unique("capi-link");
        let o = run(Command::new(bin).args([&f.rootfs, &name]).env_remove("LD_LIBRARY_PATH"));
        assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "exit code 3", "{}", bin.display());
    };
    let size = |bin: &Path| std::fs::metadata(bin).unwrap().len() as f64 / 1e6;

    let dynamic = dir.path().join("dynamic");
    std::fs::create_dir(&dynamic).unwrap();
    let bin = build("example.c", &dynamic, &pkg_config(&["--cflags", "--libs"]));
    assert!(needed(&bin).contains(&"libberth.so.0".to_string()), "{:?}", needed(&bin));
    go(&bin);
    println!("dynamic: {:.1} MB", size(&bin));

    let mut flags = pkg_config(&["--static", "--cflags", "--libs"]);
    flags.extend(["-static".to_string(), "-Wl,--gc-sections".to_string()]);
    let all_static = dir.path().join("static");
    std::fs::create_dir(&all_static).unwrap();
    let bin = build("example.c", &all_static, &flags);
    assert!(needed(&bin).is_empty(), "{:?}", needed(&bin));
    go(&bin);
    println!("static (-static -Wl,--gc-sections): {:.1} MB", size(&bin));

    let flags: Vec<String> = pkg_config(&["--static", "--cflags", "--libs"])
        .into_iter()
        .map(|a| if a == "-lberth" { "-l:libberth.a".to_string() } else { a })
        .chain(["-Wl,--gc-sections".to_string()])
        .collect();
    let lib_static = dir.path().join("libstatic");
    std::fs::create_dir(&lib_static).unwrap();
    let bin = build("example.c", &lib_static, &flags);
    assert!(!needed(&bin).iter().any(|n| n.starts_with("libberth")), "{:?}", needed(&bin));
    go(&bin);
    println!("libberth static, libc shared (-l:libberth.a -Wl,--gc-sections): {:.1} MB", size(&bin));
}

/// What systemd/install put in place: libberth with its soname and links,
/// known to the dynamic linker, stripped with its debug info kept apart,
/// and the client side alone (no daemon code in it).
#[test]
fn installed_library_is_the_client_side_stripped() {
    installed();
    let lib = Path::new("/usr/local/lib");
    let real = format!("libberth.so.{}", env!("CARGO_PKG_VERSION"));
    assert_eq!(std::fs::read_link(lib.join("libberth.so.0")).unwrap(), Path::new(&real));
    assert_eq!(std::fs::read_link(lib.join("libberth.so")).unwrap(), Path::new(&real));
    let dynamic = String::from_utf8(run(Command::new("readelf").arg("-d").arg(lib.join(&real))).stdout).unwrap();
    assert!(dynamic.contains("Library soname: [libberth.so.0]"), "{dynamic}");
    let ldconfig = String::from_utf8(run(Command::new("ldconfig").arg("-p")).stdout).unwrap();
    assert!(ldconfig.contains("libberth.so.0 (libc6,x86-64) => /usr/local/lib/libberth.so.0"), "{ldconfig}");

    let sections = |p: &Path| String::from_utf8(run(Command::new("readelf").args(["-S", "-W"]).arg(p)).stdout).unwrap();
    let so = sections(&lib.join(&real));
    assert!(!so.contains(".debug_info") && so.contains(".gnu_debuglink"), "{so}");
    assert!(sections(&lib.join(".debug").join(format!("{real}.debug"))).contains(".debug_info"));
    assert!(!sections(&lib.join("libberth.a")).contains(".debug_info"));

    for file in [lib.join(&real), lib.join("libberth.a")] {
        let bytes = std::fs::read(&file).unwrap();
        for daemon_only in [&b"netavark"[..], b"StartTransientUnit"] {
            assert!(
                !bytes.windows(daemon_only.len()).any(|w| w == daemon_only),
                "{} holds daemon code ({})",
                file.display(),
                String::from_utf8_lossy(daemon_only)
            );
        }
        println!("{}: {:.1} MB", file.display(), bytes.len() as f64 / 1e6);
    }
}
