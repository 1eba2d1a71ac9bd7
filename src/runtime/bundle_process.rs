//! The parts of `config.json` that `NoNewPrivileges`, `Ulimits`, `Devices`,
//! `Timezone` and `ReadOnlyTmpfs` add, each from the host as it is when the
//! bundle is written (device numbers, the zone file).

use crate::model::{timezone_file, ContainerSpec, Error, Result};
use oci_spec::runtime::{
    LinuxDevice, LinuxDeviceBuilder, LinuxDeviceCgroup, LinuxDeviceCgroupBuilder, LinuxDeviceType, PosixRlimit,
    PosixRlimitBuilder, PosixRlimitType,
};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

fn oci(what: &'static str) -> impl Fn(oci_spec::OciSpecError) -> Error {
    move |e| Error::internal(format!("building the OCI {what}: {e}"))
}

/// `Ulimits` as the process's rlimits.
pub fn rlimits(spec: &ContainerSpec) -> Result<Vec<PosixRlimit>> {
    spec.ulimits
        .iter()
        .map(|u| {
            let typ: PosixRlimitType = format!("RLIMIT_{}", u.name.to_ascii_uppercase())
                .parse()
                .map_err(|_| Error::invalid("Ulimits", format!("{:?} is not a limit this runtime knows", u.name)))?;
            PosixRlimitBuilder::default().typ(typ).soft(u.soft).hard(u.hard).build().map_err(oci("rlimit"))
        })
        .collect()
}

/// The device nodes every container may use (runc's and crun's defaults):
/// (type, major, minor; None for any).
const DEFAULT_DEVICES: [(LinuxDeviceType, i64, Option<i64>); 9] = [
    (LinuxDeviceType::C, 1, Some(3)),   // null
    (LinuxDeviceType::C, 1, Some(5)),   // zero
    (LinuxDeviceType::C, 1, Some(7)),   // full
    (LinuxDeviceType::C, 1, Some(8)),   // random
    (LinuxDeviceType::C, 1, Some(9)),   // urandom
    (LinuxDeviceType::C, 5, Some(0)),   // tty
    (LinuxDeviceType::C, 5, Some(1)),   // console
    (LinuxDeviceType::C, 5, Some(2)),   // ptmx
    (LinuxDeviceType::C, 136, None),    // pts
];

/// `Devices` as device nodes and the cgroup rules that allow them (after a
/// rule denying all, and the defaults); none when there are none. A
/// missing optional device is left out; a missing other one is an error.
pub fn devices(spec: &ContainerSpec) -> Result<Option<(Vec<LinuxDevice>, Vec<LinuxDeviceCgroup>)>> {
    if spec.devices.is_empty() {
        return Ok(None);
    }
    let rule = |allow: bool, typ: Option<LinuxDeviceType>, major: Option<i64>, minor: Option<i64>, access: &str| {
        let mut b = LinuxDeviceCgroupBuilder::default().allow(allow).access(access.to_string());
        if let Some(t) = typ {
            b = b.typ(t);
        }
        if let Some(m) = major {
            b = b.major(m);
        }
        if let Some(m) = minor {
            b = b.minor(m);
        }
        b.build().map_err(oci("device rule"))
    };
    let mut rules = vec![rule(false, None, None, None, "rwm")?];
    for (t, major, minor) in DEFAULT_DEVICES {
        rules.push(rule(true, Some(t), Some(major), minor, "rwm")?);
    }
    let mut nodes = Vec::new();
    for d in &spec.devices {
        let meta = match std::fs::metadata(&d.host) {
            Ok(m) => m,
            Err(e) if d.optional && e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Error::invalid("Devices", format!("{}: {e}", d.host.display()))),
        };
        let ft = meta.file_type();
        let typ = match (ft.is_char_device(), ft.is_block_device()) {
            (true, _) => LinuxDeviceType::C,
            (_, true) => LinuxDeviceType::B,
            _ => return Err(Error::invalid("Devices", format!("{} is not a device node", d.host.display()))),
        };
        let rdev = meta.rdev();
        let (major, minor) = (nix::sys::stat::major(rdev) as i64, nix::sys::stat::minor(rdev) as i64);
        nodes.push(
            LinuxDeviceBuilder::default()
                .path(&d.container)
                .typ(typ)
                .major(major)
                .minor(minor)
                .file_mode(meta.mode() & 0o7777)
                .uid(0u32)
                .gid(0u32)
                .build()
                .map_err(oci("device"))?,
        );
        rules.push(rule(true, Some(typ), Some(major), Some(minor), &d.access)?);
    }
    Ok(Some((nodes, rules)))
}

/// `Timezone`: the zone file to bind read-only on /etc/localtime.
pub fn timezone_source(spec: &ContainerSpec) -> Result<Option<PathBuf>> {
    let Some(tz) = &spec.timezone else { return Ok(None) };
    let file = timezone_file(tz);
    let bad = |m: String| Error::invalid("Timezone", format!("{tz}: {m}"));
    let real = std::fs::canonicalize(&file).map_err(|e| bad(format!("{}: {e}", file.display())))?;
    if !real.is_file() {
        return Err(bad(format!("{} is not a zone file", file.display())));
    }
    Ok(Some(real))
}

/// `ReadOnlyTmpfs`: with a read-only root, the directories podman makes
/// writable, unless a mount of the caller's covers one already.
pub fn read_only_tmpfs(spec: &ContainerSpec, taken: &[PathBuf]) -> Vec<&'static Path> {
    if !spec.read_only || !spec.read_only_tmpfs {
        return Vec::new();
    }
    ["/tmp", "/var/tmp", "/run"].into_iter().map(Path::new).filter(|d| !taken.iter().any(|t| t == d)).collect()
}
