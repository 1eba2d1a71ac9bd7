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

fn run(cmd: &mut Command) -> Output {
    let o = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
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
/// to target/debug (what systemd/install installs), so either may be older.
fn fresh_lib_dir() -> PathBuf {
    let deps = std::env::current_exe().unwrap().parent().unwrap().to_path_buf();
    let dirs = [deps.clone(), deps.parent().unwrap().to_path_buf()];
    let mtime = |d: &PathBuf| std::fs::metadata(d.join("libberth.so")).and_then(|m| m.modified()).ok();
    let newest = dirs.iter().filter(|d| mtime(d).is_some()).max_by_key(|d| mtime(d));
    newest.unwrap_or_else(|| panic!("no libberth.so in {dirs:?}; build it: cargo build")).clone()
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
    assert!(ffi_test("logs.c").contains("logs: ok"));
}

#[test]
fn c_events() {
    assert!(ffi_test("events.c").contains("events: ok"));
}

#[test]
fn c_attach_and_exec() {
    assert!(ffi_test("attach.c").contains("attach: ok"));
}

#[test]
fn c_network() {
    assert!(ffi_test("network.c").contains("network: ok"));
}

#[test]
fn c_images_volumes_mount_export() {
    let f = installed();
    let dir = tempfile::tempdir_in("/var/tmp").unwrap();
    let tarball = dir.path().join("rootfs.tar");
    let mut b = tar::Builder::new(std::fs::File::create(&tarball).unwrap());
    b.follow_symlinks(false);
    b.append_dir_all(".", &f.rootfs).unwrap();
    b.into_inner().unwrap();
    for runtime in ["crun", "runc"] {
        assert!(ffi_test_with("images.c", &[tarball.to_str().unwrap(), runtime]).contains("images: ok"), "{runtime}");
    }
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
