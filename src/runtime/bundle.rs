//! The OCI bundle: `config.json` built from a `ContainerSpec`, written
//! atomically so a runtime never reads a half-written file.
//!
//! oci-spec's builders fill every unset field from the type's `Default`
//! impl (youki's defaults: hostname "youki", `AUDIT_WRITE` in every
//! capability set, an empty `resources` section...), so every field that
//! matters is set explicitly here and unwanted defaults are cleared.

use super::launch::Launch;
use crate::fsutil::atomic_write;
use crate::model::{short_id, validate_id, ContainerName, ContainerSpec, Error, Network, Result, Tmpfs};
use oci_spec::runtime::{
    Capabilities, Capability, LinuxBuilder, LinuxCapabilitiesBuilder, LinuxNamespaceBuilder, LinuxNamespaceType, Mount,
    MountBuilder, ProcessBuilder, RootBuilder, Spec, SpecBuilder, UserBuilder,
};
use oci_spec::OciSpecError;
use std::collections::HashMap;
use std::fs::{self, DirBuilder};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

const OCI_VERSION: &str = "1.0.2";

const DEFAULT_ENV: [&str; 3] = [
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "TERM=xterm",
    // Lets systemd and friends inside detect the container, like podman's
    // `container=podman`.
    "container=berth",
];

/// podman's default capability set.
pub(super) const CAPABILITIES: [Capability; 11] = [
    Capability::Chown,
    Capability::DacOverride,
    Capability::Fowner,
    Capability::Fsetid,
    Capability::Kill,
    Capability::NetBindService,
    Capability::Setfcap,
    Capability::Setgid,
    Capability::Setpcap,
    Capability::Setuid,
    Capability::SysChroot,
];


/// (destination, type, source, options): crun's `crun spec` mounts.
const MOUNTS: [(&str, &str, &str, &[&str]); 7] = [
    ("/proc", "proc", "proc", &[]),
    ("/dev", "tmpfs", "tmpfs", &["nosuid", "strictatime", "mode=755", "size=65536k"]),
    ("/dev/pts", "devpts", "devpts", &["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]),
    ("/dev/shm", "tmpfs", "shm", &["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]),
    ("/dev/mqueue", "mqueue", "mqueue", &["nosuid", "noexec", "nodev"]),
    ("/sys", "sysfs", "sysfs", &["nosuid", "noexec", "nodev", "ro"]),
    ("/sys/fs/cgroup", "cgroup", "cgroup", &["nosuid", "noexec", "nodev", "relatime", "ro"]),
];

const MASKED_PATHS: [&str; 9] = [
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
];

const READONLY_PATHS: [&str; 6] =
    ["/proc/asound", "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"];

fn oci(what: &'static str) -> impl Fn(OciSpecError) -> Error {
    move |e| Error::internal(format!("building the OCI {what}: {e}"))
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// Defaults first, then each layer's entries (an image's, then the
/// user's, or an exec session's over its container's); a later entry
/// replaces an earlier one with the same KEY in place.
pub(super) fn merge_env(layers: &[Vec<String>]) -> Vec<String> {
    let mut env: Vec<String> = strings(&DEFAULT_ENV);
    for entry in layers.iter().flatten() {
        let key = entry.split_once('=').map_or(entry.as_str(), |(k, _)| k);
        match env.iter_mut().find(|e| e.split_once('=').is_some_and(|(k, _)| k == key)) {
            Some(e) => e.clone_from(entry),
            None => env.push(entry.clone()),
        }
    }
    env
}

fn mount(destination: &Path, typ: &str, source: &Path, options: Vec<String>) -> Result<Mount> {
    let mut b = MountBuilder::default().destination(destination).typ(typ).source(source);
    if !options.is_empty() {
        b = b.options(options);
    }
    b.build().map_err(oci("mount"))
}

/// The OCI runtime config for a container with a root file system
/// directory, a numeric user and bind mounts only (see [`config_for`]).
pub fn config(spec: &ContainerSpec, name: &ContainerName, id: &str) -> Result<Spec> {
    config_for(spec, name, id, &Launch::plain(spec))
}

/// The OCI runtime config for a container, with podman's and crun's defaults,
/// launched as `launch` says (its root, argv, environment, user, volumes).
/// No cgroupsPath (see [`set_cgroups_path`]) and no resources: systemd
/// enforces those on the unit.
pub fn config_for(spec: &ContainerSpec, name: &ContainerName, id: &str, launch: &Launch) -> Result<Spec> {
    if !validate_id(id) {
        return Err(Error::internal(format!("invalid container id {id:?}")));
    }
    let (uid, gid) = (launch.uid, launch.gid);
    let caps = capabilities_of(spec)?;
    let mut capabilities = LinuxCapabilitiesBuilder::default()
        .bounding(caps.clone())
        .effective(caps.clone())
        .permitted(caps)
        .build()
        .map_err(oci("capabilities"))?;
    // Not merely empty but absent, like podman, overriding the builder's defaults.
    capabilities.set_inheritable(None).set_ambient(None);

    let mut user = UserBuilder::default().uid(uid).gid(gid);
    if !launch.additional_gids.is_empty() {
        user = user.additional_gids(launch.additional_gids.clone());
    }
    let user = user.build().map_err(oci("user"))?;
    let process = ProcessBuilder::default()
        .terminal(spec.terminal)
        .args(launch.args.clone())
        .env(merge_env(&launch.env_layers))
        .cwd(launch.cwd.clone())
        .user(user)
        .no_new_privileges(spec.no_new_privileges)
        .capabilities(capabilities)
        // Only the Ulimits given: the container inherits the unit's others
        // (LimitNOFILE= and friends), which the administrator controls.
        .rlimits(super::bundle_process::rlimits(spec)?)
        .build()
        .map_err(oci("process"))?;

    let mut mounts = MOUNTS
        .iter()
        .map(|(dst, typ, src, opts)| {
            let mut opts = strings(opts);
            if let (true, Some(size)) = (*dst == "/dev/shm", spec.shm_size) {
                // The kernel rounds to pages; podman passes bytes as k.
                opts.retain(|o| !o.starts_with("size="));
                opts.push(format!("size={}k", size.div_ceil(1024)));
            }
            mount(Path::new(dst), typ, Path::new(src), opts)
        })
        .collect::<Result<Vec<_>>>()?;
    for b in &launch.binds {
        let mode = if b.read_only { "ro" } else { "rw" };
        mounts.push(mount(&b.destination, "bind", &b.source, strings(&["rbind", mode]))?);
    }
    for t in &spec.tmpfs {
        let mut options = strings(&Tmpfs::DEFAULT_OPTIONS);
        options.extend(t.options.iter().cloned());
        mounts.push(mount(&t.destination, "tmpfs", Path::new("tmpfs"), options)?);
    }
    let taken: Vec<PathBuf> = mounts.iter().map(|m| m.destination().clone()).collect();
    for dst in super::bundle_process::read_only_tmpfs(spec, &taken) {
        mounts.push(mount(dst, "tmpfs", Path::new("tmpfs"), strings(&["rw", "nosuid", "nodev", "mode=1777"]))?);
    }
    if let Some(zone) = super::bundle_process::timezone_source(spec)? {
        mounts.push(mount(Path::new("/etc/localtime"), "bind", &zone, strings(&["rbind", "ro"]))?);
    }

    let mut kinds = vec![
        LinuxNamespaceType::Pid,
        LinuxNamespaceType::Ipc,
        LinuxNamespaceType::Uts,
        LinuxNamespaceType::Mount,
        LinuxNamespaceType::Cgroup,
    ];
    if spec.network != Network::Host {
        kinds.push(LinuxNamespaceType::Network);
    }
    let namespaces = kinds
        .into_iter()
        .map(|t| LinuxNamespaceBuilder::default().typ(t).build().map_err(oci("namespace")))
        .collect::<Result<Vec<_>>>()?;
    let mut linux = LinuxBuilder::default()
        .namespaces(namespaces)
        .masked_paths(strings(&MASKED_PATHS))
        .readonly_paths(strings(&READONLY_PATHS))
        .build()
        .map_err(oci("linux section"))?;
    // The builder's default carries an empty `resources` section.
    linux.set_resources(None);
    if let Some((nodes, rules)) = super::bundle_process::devices(spec)? {
        linux.set_devices(Some(nodes));
        let resources = oci_spec::runtime::LinuxResourcesBuilder::default().devices(rules).build().map_err(oci("resources"))?;
        linux.set_resources(Some(resources));
    }
    if !spec.sysctls.is_empty() {
        linux.set_sysctl(Some(spec.sysctls.clone().into_iter().collect()));
    }

    let mut annotations: HashMap<String, String> = spec.annotations.clone().into_iter().collect();
    annotations.insert("org.berth.name".to_string(), name.to_string());
    annotations.insert("org.berth.id".to_string(), id.to_string());
    SpecBuilder::default()
        .version(OCI_VERSION)
        .root(RootBuilder::default().path(&launch.root).readonly(spec.read_only).build().map_err(oci("root"))?)
        .process(process)
        .hostname(spec.hostname.clone().unwrap_or_else(|| short_id(id).to_string()))
        .mounts(mounts)
        .linux(linux)
        .annotations(annotations)
        .build()
        .map_err(oci("config"))
}

/// podman's default capabilities with the spec's CapDrop and CapAdd: ALL
/// dropped empties the set, ALL added fills it; then single names.
fn capabilities_of(spec: &ContainerSpec) -> Result<Capabilities> {
    let cap = |n: &str| {
        n.parse::<Capability>().map_err(|_| Error::invalid("CapAdd", format!("{n:?} is not a capability this runtime knows")))
    };
    let mut caps: Capabilities = CAPABILITIES.into_iter().collect();
    if spec.cap_drop.iter().any(|c| c == "ALL") {
        caps.clear();
    }
    if spec.cap_add.iter().any(|c| c == "ALL") {
        caps.extend(crate::model::CAPABILITY_NAMES.iter().filter_map(|n| n.parse::<Capability>().ok()));
    }
    for c in spec.cap_add.iter().filter(|c| *c != "ALL") {
        caps.insert(cap(c)?);
    }
    for c in spec.cap_drop.iter().filter(|c| *c != "ALL") {
        caps.remove(&cap(c)?);
    }
    Ok(caps)
}

/// Join the network namespace at `netns` (made by the container's unit
/// before the runtime runs) and bind-mount the generated `hosts` and
/// `resolv.conf` of `files_dir` over the container's own.
pub fn attach_network(config: &mut Spec, netns: &Path, files_dir: &Path) -> Result<()> {
    let linux = config.linux_mut().as_mut().ok_or_else(|| Error::internal("the OCI config has no linux section"))?;
    let mut namespaces = linux.namespaces().clone().unwrap_or_default();
    namespaces.retain(|n| n.typ() != LinuxNamespaceType::Network);
    namespaces.push(
        LinuxNamespaceBuilder::default()
            .typ(LinuxNamespaceType::Network)
            .path(netns)
            .build()
            .map_err(oci("namespace"))?,
    );
    linux.set_namespaces(Some(namespaces));
    // As podman: ping works without CAP_NET_RAW (ICMP datagram sockets).
    let mut sysctl = linux.sysctl().clone().unwrap_or_default();
    sysctl.insert("net.ipv4.ping_group_range".to_string(), "0 0".to_string());
    linux.set_sysctl(Some(sysctl));
    let mut mounts = config.mounts().clone().unwrap_or_default();
    for file in ["hosts", "resolv.conf"] {
        let options = strings(&["bind", "rprivate", "nosuid", "noexec", "nodev"]);
        mounts.push(mount(&Path::new("/etc").join(file), "bind", &files_dir.join(file), options)?);
    }
    config.set_mounts(Some(mounts));
    Ok(())
}

/// Crash-safe replacement of `path` (temporary file, fsync, rename, fsync dir).
fn write_atomic(path: &Path, config: &Spec) -> Result<()> {
    let json = serde_json::to_vec(config).map_err(|e| Error::internal(format!("serializing the OCI config: {e}")))?;
    // 0600 (fsutil's mode) suits: the environment may carry secrets.
    atomic_write(path, &json).map_err(Error::io_at("write", path))
}

/// Create `bundle_dir` (0700, with parents) and write `config.json` into it
/// atomically; returns the path of config.json.
pub fn write_config(bundle_dir: &Path, config: &Spec) -> Result<PathBuf> {
    let dir_err = |e: std::io::Error| Error::io("create", bundle_dir, e);
    DirBuilder::new().recursive(true).mode(0o700).create(bundle_dir).map_err(dir_err)?;
    // An existing directory keeps its mode; the bundle must not be readable by others.
    fs::set_permissions(bundle_dir, fs::Permissions::from_mode(0o700)).map_err(dir_err)?;
    let path = bundle_dir.join("config.json");
    write_atomic(&path, config)?;
    Ok(path)
}

/// Set `linux.cgroupsPath` in an existing config.json, atomically.
pub fn set_cgroups_path(config_path: &Path, cgroups_path: &str) -> Result<()> {
    // Read it ourselves: `Spec::load`'s errors are just "io operation failed"
    // or "serde failed", without the cause.
    let bad = |e: String| Error::Corrupt { what: "OCI config", path: config_path.into(), message: e };
    let bytes = fs::read(config_path).map_err(Error::io_at("read", config_path))?;
    let mut config: Spec = serde_json::from_slice(&bytes).map_err(|e| bad(e.to_string()))?;
    let linux = config.linux_mut().as_mut().ok_or_else(|| bad("no linux section".into()))?;
    linux.set_cgroups_path(Some(PathBuf::from(cgroups_path)));
    write_atomic(config_path, &config)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::OptionValue;
    use oci_spec::runtime::LinuxDeviceType;
    use std::collections::BTreeMap;

    const ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn spec_with(extra: &[(&str, OptionValue)]) -> ContainerSpec {
        let mut o: BTreeMap<String, OptionValue> = [
            ("Rootfs".to_string(), OptionValue::Str("/var/lib/r".into())),
            ("Command".to_string(), OptionValue::StrList(vec!["/bin/sh".into(), "-c".into(), "true".into()])),
        ]
        .into();
        o.extend(extra.iter().map(|(k, v)| (k.to_string(), v.clone())));
        ContainerSpec::from_options(&o).unwrap()
    }

    fn build(extra: &[(&str, OptionValue)]) -> Spec {
        config(&spec_with(extra), &ContainerName::new("web").unwrap(), ID).unwrap()
    }

    fn list(items: &[&str]) -> OptionValue {
        OptionValue::StrList(strings(items))
    }

    fn namespaces(c: &Spec) -> Vec<LinuxNamespaceType> {
        c.linux().as_ref().unwrap().namespaces().as_ref().unwrap().iter().map(|n| n.typ()).collect()
    }

    #[test]
    fn defaults() {
        let c = build(&[]);
        assert_eq!(c.version(), "1.0.2");
        let p = c.process().as_ref().unwrap();
        assert_eq!(p.args().as_deref().unwrap(), ["/bin/sh", "-c", "true"]);
        assert_eq!(p.env().as_deref().unwrap(), DEFAULT_ENV);
        assert_eq!(p.cwd(), Path::new("/"));
        assert_eq!((p.user().uid(), p.user().gid()), (0, 0));
        assert_eq!(p.terminal(), Some(false));
        assert_eq!(p.no_new_privileges(), Some(true));
        let caps = p.capabilities().as_ref().unwrap();
        assert_eq!(caps.bounding().as_ref().unwrap().len(), 11);
        assert!(caps.effective().as_ref().unwrap().contains(&Capability::SysChroot));
        assert!(!caps.permitted().as_ref().unwrap().contains(&Capability::AuditWrite));
        assert!(caps.ambient().is_none() && caps.inheritable().is_none());
        assert!(p.rlimits().as_ref().is_none_or(|r| r.is_empty()));
        assert_eq!(c.hostname().as_deref(), Some("0123456789ab"));
        let root = c.root().as_ref().unwrap();
        assert_eq!((root.path().as_path(), root.readonly()), (Path::new("/var/lib/r"), Some(false)));
        assert_eq!(c.mounts().as_ref().unwrap().len(), MOUNTS.len());
        let linux = c.linux().as_ref().unwrap();
        assert!(linux.resources().is_none() && linux.cgroups_path().is_none());
        assert_eq!(linux.masked_paths().as_deref().unwrap(), MASKED_PATHS);
        assert_eq!(linux.readonly_paths().as_deref().unwrap(), READONLY_PATHS);
        let ann = c.annotations().as_ref().unwrap();
        assert_eq!(ann["org.berth.name"], "web");
        assert_eq!(ann["org.berth.id"], ID);
    }

    #[test]
    fn env_merges_and_overrides() {
        let c = build(&[("Env", list(&["A=1", "TERM=dumb", "container=other", "A=2"]))]);
        let env = c.process().as_ref().unwrap().env().clone().unwrap();
        assert_eq!(env, [DEFAULT_ENV[0], "TERM=dumb", "container=other", "A=2"]);
    }

    #[test]
    fn options_reach_the_config() {
        let c = build(&[
            ("ReadOnly", OptionValue::Bool(true)),
            ("User", OptionValue::Str("1000:100".into())),
            ("WorkingDir", OptionValue::Str("/srv".into())),
            ("Hostname", OptionValue::Str("web-1".into())),
        ]);
        assert_eq!(c.root().as_ref().unwrap().readonly(), Some(true));
        let p = c.process().as_ref().unwrap();
        assert_eq!((p.user().uid(), p.user().gid()), (1000, 100));
        assert_eq!(p.cwd(), Path::new("/srv"));
        assert_eq!(c.hostname().as_deref(), Some("web-1"));
        let tty = build(&[("Terminal", OptionValue::Bool(true))]);
        assert_eq!(tty.process().as_ref().unwrap().terminal(), Some(true));
    }

    #[test]
    fn volumes_are_bind_mounts_in_order() {
        let c = build(&[("Volumes", list(&["/a:/b:ro", "/c:/d", "/e:/f:rw"]))]);
        let extra: Vec<_> = c.mounts().as_ref().unwrap()[MOUNTS.len()..]
            .iter()
            .map(|m| {
                assert_eq!(m.typ().as_deref(), Some("bind"));
                (m.source().clone().unwrap(), m.destination().clone(), m.options().clone().unwrap())
            })
            .collect();
        let want = |s: &str, d: &str, o: &str| (PathBuf::from(s), PathBuf::from(d), strings(&["rbind", o]));
        assert_eq!(extra, [want("/a", "/b", "ro"), want("/c", "/d", "rw"), want("/e", "/f", "rw")]);
    }

    #[test]
    fn capabilities_sysctls_and_shm_size_reach_the_config() {
        let c = build(&[
            ("CapAdd", list(&["NET_ADMIN"])),
            ("CapDrop", list(&["CHOWN", "KILL"])),
            ("Sysctls", OptionValue::StrMap([("net.ipv4.ip_forward".to_string(), "1".to_string())].into())),
            ("ShmSize", OptionValue::U64(1 << 20)),
        ]);
        let caps = c.process().as_ref().unwrap().capabilities().as_ref().unwrap().bounding().clone().unwrap();
        assert!(caps.contains(&Capability::NetAdmin) && !caps.contains(&Capability::Chown) && !caps.contains(&Capability::Kill));
        assert_eq!(caps.len(), 10);
        assert_eq!(c.linux().as_ref().unwrap().sysctl().as_ref().unwrap()["net.ipv4.ip_forward"], "1");
        let shm = c.mounts().as_ref().unwrap().iter().find(|m| m.destination() == Path::new("/dev/shm")).unwrap();
        assert!(shm.options().as_ref().unwrap().contains(&"size=1024k".to_string()));
        let all = build(&[("CapDrop", list(&["ALL"])), ("CapAdd", list(&["SYS_TIME"]))]);
        let caps = all.process().as_ref().unwrap().capabilities().as_ref().unwrap().effective().clone().unwrap();
        assert_eq!(caps.into_iter().collect::<Vec<_>>(), [Capability::SysTime]);
    }

    #[test]
    fn process_limits_devices_timezone_and_read_only_tmpfs_reach_the_config() {
        let c = build(&[]);
        let p = c.process().as_ref().unwrap();
        assert_eq!((p.no_new_privileges(), p.rlimits().as_deref()), (Some(true), Some(&[][..])));
        assert!(c.linux().as_ref().unwrap().resources().is_none() && c.linux().as_ref().unwrap().devices().is_none());
        let c = build(&[
            ("NoNewPrivileges", OptionValue::Bool(false)),
            ("Ulimits", list(&["nofile=1024:2048", "core=-1"])),
            ("Devices", list(&["/dev/null:/dev/mynull:r", "-/dev/berth-missing"])),
            ("Timezone", OptionValue::Str("local".into())),
            ("ReadOnly", OptionValue::Bool(true)),
            ("Tmpfs", list(&["/run:size=1m"])),
        ]);
        let p = c.process().as_ref().unwrap();
        assert_eq!(p.no_new_privileges(), Some(false));
        let r: Vec<String> = p.rlimits().as_ref().unwrap().iter().map(|r| format!("{} {} {}", r.typ(), r.soft(), r.hard())).collect();
        assert_eq!(r, ["RLIMIT_NOFILE 1024 2048", &format!("RLIMIT_CORE {} {}", u64::MAX, u64::MAX)]);
        let linux = c.linux().as_ref().unwrap();
        let dev = &linux.devices().as_ref().unwrap()[..];
        assert_eq!(dev.len(), 1, "the missing optional device is left out");
        assert_eq!((dev[0].path().as_path(), dev[0].typ(), dev[0].major(), dev[0].minor()), (Path::new("/dev/mynull"), LinuxDeviceType::C, 1, 3));
        let rules = linux.resources().as_ref().unwrap().devices().clone().unwrap();
        assert!(!rules[0].allow() && rules[0].access().as_deref() == Some("rwm"));
        let last = rules.last().unwrap();
        assert_eq!((last.allow(), last.major(), last.minor(), last.access().as_deref()), (true, Some(1), Some(3), Some("r")));
        let mounts: Vec<(String, String)> = c.mounts().as_ref().unwrap()[MOUNTS.len()..]
            .iter()
            .map(|m| (m.destination().display().to_string(), m.options().clone().unwrap().join(",")))
            .collect();
        // The caller's /run stays; /tmp and /var/tmp are added; the zone is bound read-only.
        assert_eq!(mounts[0], ("/run".to_string(), "rw,noexec,nosuid,nodev,size=1m".to_string()));
        assert_eq!(mounts[1..3].iter().map(|m| m.0.as_str()).collect::<Vec<_>>(), ["/tmp", "/var/tmp"]);
        assert_eq!(mounts[3], ("/etc/localtime".to_string(), "rbind,ro".to_string()));
        // Without the root read-only, or with ReadOnlyTmpfs off, no tmpfs is added.
        let c = build(&[("ReadOnly", OptionValue::Bool(true)), ("ReadOnlyTmpfs", OptionValue::Bool(false))]);
        assert_eq!(c.mounts().as_ref().unwrap().len(), MOUNTS.len());
        // What the host lacks fails the bundle, with the key named.
        let spec = spec_with(&[("Devices", list(&["/dev/berth-missing"]))]);
        let e = config(&spec, &ContainerName::new("web").unwrap(), ID).unwrap_err();
        assert_eq!(e.key(), Some("Devices"));
        let spec = spec_with(&[("Timezone", OptionValue::Str("Nowhere/Atlantis".into()))]);
        let e = config(&spec, &ContainerName::new("web").unwrap(), ID).unwrap_err();
        assert_eq!(e.key(), Some("Timezone"), "{e}");
    }

    #[test]
    fn tmpfs_mounts_follow_the_binds() {
        let c = build(&[("Volumes", list(&["/a:/b"])), ("Tmpfs", list(&["/run", "/tmp:size=64m,exec"]))]);
        let m = &c.mounts().as_ref().unwrap()[MOUNTS.len() + 1..];
        let got: Vec<_> = m.iter().map(|m| (m.destination().clone(), m.typ().clone().unwrap(), m.options().clone().unwrap())).collect();
        let defaults = ["rw", "noexec", "nosuid", "nodev"];
        assert_eq!(got[0], (PathBuf::from("/run"), "tmpfs".to_string(), strings(&defaults)));
        assert_eq!(got[1].2, strings(&[&defaults[..], &["size=64m", "exec"]].concat()));
    }

    #[test]
    fn annotations_reach_the_config() {
        let m: BTreeMap<String, String> = [("io.example.team".to_string(), "web".to_string())].into();
        let c = build(&[("Annotations", OptionValue::StrMap(m))]);
        let ann = c.annotations().as_ref().unwrap();
        assert_eq!(ann["io.example.team"], "web");
        assert_eq!(ann["org.berth.name"], "web", "berth's own are kept");
    }

    #[test]
    fn network_namespace_unless_host() {
        assert!(namespaces(&build(&[])).contains(&LinuxNamespaceType::Network));
        let host = namespaces(&build(&[("Network", OptionValue::Str("host".into()))]));
        assert!(!host.contains(&LinuxNamespaceType::Network));
        assert_eq!(host.len(), 5);
    }

    #[test]
    fn attached_network_is_a_path_and_two_files() {
        let mut c = build(&[]);
        attach_network(&mut c, Path::new("/run/berth/network/netns/x"), Path::new("/run/berth/network/files/x")).unwrap();
        let ns = c.linux().as_ref().unwrap().namespaces().clone().unwrap();
        let net: Vec<_> = ns.iter().filter(|n| n.typ() == LinuxNamespaceType::Network).collect();
        assert_eq!(net.len(), 1);
        assert_eq!(net[0].path().as_deref(), Some(Path::new("/run/berth/network/netns/x")));
        let sysctl = c.linux().as_ref().unwrap().sysctl().clone().unwrap();
        assert_eq!(sysctl["net.ipv4.ping_group_range"], "0 0");
        let m = c.mounts().as_ref().unwrap();
        let last: Vec<_> = m[m.len() - 2..].iter().map(|m| (m.destination().clone(), m.source().clone().unwrap())).collect();
        assert_eq!(
            last,
            [
                (PathBuf::from("/etc/hosts"), PathBuf::from("/run/berth/network/files/x/hosts")),
                (PathBuf::from("/etc/resolv.conf"), PathBuf::from("/run/berth/network/files/x/resolv.conf"))
            ]
        );
    }

    #[test]
    fn rejects_bad_id() {
        let e = config(&spec_with(&[]), &ContainerName::new("web").unwrap(), "xyz").unwrap_err();
        assert_eq!(e.name(), "Internal");
    }

    #[test]
    fn write_config_round_trips_and_sets_cgroups_path() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("a/b");
        let c = build(&[("Volumes", list(&["/a:/b:ro"]))]);
        let path = write_config(&dir, &c).unwrap();
        assert_eq!(path, dir.join("config.json"));
        assert_eq!(fs::metadata(&dir).unwrap().permissions().mode() & 0o777, 0o700);
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1, "no temporary file left");
        assert!(fs::read_to_string(&path).unwrap().contains(r#""ociVersion":"1.0.2""#));
        assert_eq!(Spec::load(&path).unwrap(), c);

        set_cgroups_path(&path, "/berth.slice/berth-web.service/payload").unwrap();
        let mut after = Spec::load(&path).unwrap();
        let linux = after.linux_mut().as_mut().unwrap();
        assert_eq!(linux.cgroups_path().as_deref(), Some(Path::new("/berth.slice/berth-web.service/payload")));
        linux.set_cgroups_path(None);
        assert_eq!(after, c);
        assert!(set_cgroups_path(&dir.join("missing.json"), "/x").is_err());
    }
}
