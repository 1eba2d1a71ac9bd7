//! The shared library's soname, `libberth.so.MAJOR`, as Debian's shared
//! libraries have one: a program linked with `-lberth` records it and loads
//! `libberth.so.0` at run time, which `systemd/install` provides.

fn main() {
    let major = std::env::var("CARGO_PKG_VERSION_MAJOR").expect("cargo sets CARGO_PKG_VERSION_MAJOR");
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libberth.so.{major}");
    println!("cargo:rerun-if-changed=build.rs");
}
