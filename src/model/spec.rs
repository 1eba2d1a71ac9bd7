use super::options::{option, OptionValue, OPTIONS};
pub use super::network::Network;
use super::ports::PortMapping;
use std::net::IpAddr;
use super::{ContainerName, Error, Healthcheck, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Longest stop timeout accepted, in seconds (one day).
pub const STOP_TIMEOUT_MAX: u32 = 86_400;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuntimeKind {
    Crun,
    Runc,
    /// An absolute path to a runtime binary; treated like crun when its file
    /// name says `runc`, otherwise like crun.
    Path(PathBuf),
}

impl RuntimeKind {
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "crun" => Ok(RuntimeKind::Crun),
            "runc" => Ok(RuntimeKind::Runc),
            p if p.starts_with('/') => Ok(RuntimeKind::Path(PathBuf::from(p))),
            _ => Err(Error::invalid("Runtime", format!("{s:?} is not crun, runc or an absolute path"))),
        }
    }

    /// The runtime behaves like runc (no "disabled" cgroup manager).
    pub fn is_runc(&self) -> bool {
        match self {
            RuntimeKind::Runc => true,
            RuntimeKind::Crun => false,
            RuntimeKind::Path(p) => p.file_name().is_some_and(|f| f.to_string_lossy().contains("runc")),
        }
    }

    pub fn program(&self) -> &Path {
        match self {
            RuntimeKind::Crun => Path::new("crun"),
            RuntimeKind::Runc => Path::new("runc"),
            RuntimeKind::Path(p) => p,
        }
    }

    pub fn as_string(&self) -> String {
        self.program().to_string_lossy().into_owned()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RestartPolicy {
    No,
    /// Restart after a failure, at most this many times (None: without limit).
    OnFailure(Option<u32>),
    Always,
    UnlessStopped,
}

impl RestartPolicy {
    pub fn parse(s: &str) -> Result<Self> {
        let bad = || Error::invalid("RestartPolicy", format!("{s:?} is not no, on-failure[:N], always or unless-stopped"));
        Ok(match s {
            "" | "no" => RestartPolicy::No,
            "always" => RestartPolicy::Always,
            "unless-stopped" => RestartPolicy::UnlessStopped,
            "on-failure" => RestartPolicy::OnFailure(None),
            _ => {
                let n = s.strip_prefix("on-failure:").ok_or_else(bad)?;
                let n: u32 = n.parse().map_err(|_| bad())?;
                if n == 0 || n > 10_000 {
                    return Err(bad());
                }
                RestartPolicy::OnFailure(Some(n))
            }
        })
    }

    pub fn to_string(self) -> String {
        match self {
            RestartPolicy::No => "no".into(),
            RestartPolicy::OnFailure(None) => "on-failure".into(),
            RestartPolicy::OnFailure(Some(n)) => format!("on-failure:{n}"),
            RestartPolicy::Always => "always".into(),
            RestartPolicy::UnlessStopped => "unless-stopped".into(),
        }
    }
}

/// One entry of the Volumes option: a host directory bound in, a named
/// volume (made on first use), or an anonymous volume (made for this
/// container and removed with it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Volume {
    /// The host directory of a bind mount; empty for a named or anonymous
    /// volume.
    pub source: PathBuf,
    pub destination: PathBuf,
    pub read_only: bool,
    /// The volume's name: as given for a named volume; for an anonymous
    /// one, what berthd named it at create (None before).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume: Option<String>,
    /// Made for this container alone and removed with it.
    #[serde(default, skip_serializing_if = "is_false")]
    pub anonymous: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl Volume {
    /// `SRC:DST[:OPTS]` (a bind mount, both paths absolute), `NAME:DST[:OPTS]`
    /// (a named volume) or `DST` (an anonymous volume). OPTS is a comma list
    /// of `ro`, `rw`, `z` and `Z` (the SELinux relabel requests, which have
    /// nothing to do without SELinux).
    pub fn parse(s: &str) -> Result<Self> {
        let bad = |m: &str| Err(Error::invalid("Volumes", format!("{s:?}: {m}")));
        let parts: Vec<&str> = s.split(':').collect();
        let (src, dst, opts) = match parts.as_slice() {
            [dst] => ("", *dst, ""),
            [src, dst] => (*src, *dst, ""),
            [src, dst, opts] => (*src, *dst, *opts),
            _ => return bad("expected SRC:DST[:OPTIONS], NAME:DST[:OPTIONS] or DST"),
        };
        let mut read_only = false;
        for o in opts.split(',').filter(|_| !opts.is_empty()) {
            match o {
                "ro" => read_only = true,
                "rw" => read_only = false,
                "z" | "Z" => {}
                _ => return bad(&format!("unknown option {o:?} (ro, rw, z or Z)")),
            }
        }
        check_abs_path(dst, "Volumes")?;
        if dst == "/" {
            return bad("a volume cannot be mounted on /");
        }
        let mut v = Volume { source: PathBuf::new(), destination: dst.into(), read_only, volume: None, anonymous: false };
        if parts.len() == 1 {
            v.anonymous = true;
        } else if src.starts_with('/') {
            check_abs_path(src, "Volumes")?;
            v.source = src.into();
        } else {
            check_volume_name(src).map_err(|m| Error::invalid("Volumes", format!("{s:?}: {m}")))?;
            v.volume = Some(src.to_string());
        }
        Ok(v)
    }

    /// A named or anonymous volume, not a bind mount.
    pub fn is_volume(&self) -> bool {
        self.volume.is_some() || self.anonymous
    }

    pub fn to_string(&self) -> String {
        let ro = if self.read_only { ":ro" } else { "" };
        match (&self.volume, self.anonymous) {
            (_, true) => format!("{}{ro}", self.destination.display()),
            (Some(n), false) => format!("{n}:{}{ro}", self.destination.display()),
            (None, false) => format!("{}:{}{ro}", self.source.display(), self.destination.display()),
        }
    }
}

/// A tmpfs mounted in the container: podman's `--tmpfs DST[:OPTIONS]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tmpfs {
    pub destination: PathBuf,
    /// Mount options after podman's defaults (rw, noexec, nosuid, nodev).
    #[serde(default)]
    pub options: Vec<String>,
}

impl Tmpfs {
    /// podman's options before the caller's, which may undo them.
    pub const DEFAULT_OPTIONS: [&'static str; 4] = ["rw", "noexec", "nosuid", "nodev"];

    /// `DST[:OPTS]`, OPTS a comma list of ro, rw, exec, noexec, suid, nosuid,
    /// dev, nodev, and size=, mode=, nr_inodes=, uid=, gid= with a value.
    pub fn parse(s: &str) -> Result<Self> {
        let bad = |m: String| Error::invalid("Tmpfs", format!("{s:?}: {m}"));
        let (dst, opts) = s.split_once(':').unwrap_or((s, ""));
        check_abs_path(dst, "Tmpfs")?;
        if dst == "/" {
            return Err(bad("a tmpfs cannot be mounted on /".into()));
        }
        let mut options = Vec::new();
        for o in opts.split(',').filter(|_| !opts.is_empty()) {
            let known = match o.split_once('=') {
                Some((k, v)) => {
                    ["size", "mode", "nr_inodes", "uid", "gid"].contains(&k)
                        && !v.is_empty()
                        && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'%')
                }
                None => ["ro", "rw", "exec", "noexec", "suid", "nosuid", "dev", "nodev"].contains(&o),
            };
            if !known {
                return Err(bad(format!("unknown option {o:?} (ro, rw, [no]exec, [no]suid, [no]dev, size=, mode=, nr_inodes=, uid=, gid=)")));
            }
            options.push(o.to_string());
        }
        Ok(Tmpfs { destination: dst.into(), options })
    }
}

/// The kernel's capability names (capabilities(7)), without `CAP_`.
pub const CAPABILITY_NAMES: [&str; 41] = [
    "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID", "SETPCAP",
    "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER",
    "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE",
    "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP",
    "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF",
    "CHECKPOINT_RESTORE",
];

/// A capability as podman takes it (`net_admin`, `CAP_NET_ADMIN`, `ALL`):
/// its name without `CAP_`, upper case.
pub fn parse_capability(s: &str, key: &str) -> Result<String> {
    let up = s.to_ascii_uppercase();
    let name = up.strip_prefix("CAP_").unwrap_or(&up);
    if name == "ALL" || CAPABILITY_NAMES.contains(&name) {
        Ok(name.to_string())
    } else {
        Err(Error::invalid(key, format!("{s:?} is not a capability (see capabilities(7)) or ALL")))
    }
}

/// Sysctls a container may set: those of the namespaces it has of its own
/// (podman's list); `net.*` needs a network namespace of its own.
pub fn check_sysctl(name: &str) -> Result<()> {
    let ipc = ["kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced"];
    let ok = ipc.contains(&name) || name.starts_with("fs.mqueue.") || name.starts_with("net.");
    let clean = !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-/".contains(&b));
    if ok && clean {
        Ok(())
    } else {
        Err(Error::invalid("Sysctls", format!("{name:?} is not a namespaced sysctl (kernel.msg*, kernel.sem, kernel.shm*, fs.mqueue.*, net.*)")))
    }
}

/// A volume name follows the container name rule: `[a-zA-Z0-9][a-zA-Z0-9_.-]*`,
/// at most 128 bytes.
pub fn check_volume_name(name: &str) -> std::result::Result<(), String> {
    ContainerName::check(name, "Volumes")
        .map_err(|e| e.message_without_key().replacen("a container name", "a volume name", 1))
}

/// Resource limits, applied live through systemd.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resources {
    pub memory_max: Option<u64>,
    pub tasks_max: Option<u64>,
    pub cpu_weight: Option<u64>,
    /// Percent of one CPU.
    pub cpu_quota: Option<u32>,
}

impl Resources {
    /// Apply a set of resource options (`Update`); only resource keys are
    /// allowed, and nothing changes unless all are valid.
    pub fn apply(&mut self, options: &BTreeMap<String, OptionValue>) -> Result<()> {
        let mut scratch = ContainerSpec { resources: self.clone(), ..ContainerSpec::default() };
        for (k, v) in options {
            let def = option(k)?;
            if !def.resource {
                let keys: Vec<&str> = OPTIONS.iter().filter(|d| d.resource).map(|d| d.key).collect();
                return Err(Error::invalid(k, format!("not a resource key (one of {})", keys.join(", "))));
            }
            def.set(&mut scratch, v)?;
        }
        *self = scratch.resources;
        Ok(())
    }
}

/// Everything a container is created with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerSpec {
    /// The root file system directory; empty for a container from an image.
    pub rootfs: PathBuf,
    /// The image, as given (a name, name:tag or id); None with a Rootfs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Replaces the image's Entrypoint; `Some` of an empty list clears it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    /// The init's arguments; for a container from an image, empty means
    /// the image's Cmd.
    pub command: Vec<String>,
    #[serde(default)]
    pub env: Vec<String>,
    pub working_dir: Option<PathBuf>,
    /// (uid, gid) of a numeric User.
    pub user: Option<(u32, u32)>,
    /// A User that names a user or group (`name`, `name:group`, `uid:group`):
    /// resolved in the container's own /etc/passwd and /etc/group when its
    /// bundle is written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    pub hostname: Option<String>,
    pub notify: bool,
    pub stop_signal: i32,
    pub stop_timeout: u32,
    /// Seconds the container has to become ready (READY=1) before Start fails.
    #[serde(default = "default_start_timeout")]
    pub start_timeout: u32,
    pub restart_policy: RestartPolicy,
    #[serde(default)]
    pub dependencies: Vec<ContainerName>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// OCI annotations of the container's config.json (podman's --annotation).
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    #[serde(default)]
    pub volumes: Vec<Volume>,
    /// tmpfs mounts (podman's --tmpfs).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tmpfs: Vec<Tmpfs>,
    /// Capabilities added to and dropped from podman's default set (names
    /// without CAP_, or ALL).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cap_add: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cap_drop: Vec<String>,
    /// Namespaced sysctls set in the container.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sysctls: BTreeMap<String, String>,
    /// Size of /dev/shm in bytes (default 64 MiB).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shm_size: Option<u64>,
    pub read_only: bool,
    /// With `read_only`: tmpfs on /tmp, /var/tmp and /run (podman's default).
    #[serde(default = "yes", skip_serializing_if = "is_yes")]
    pub read_only_tmpfs: bool,
    /// The no_new_privs bit (berth's default; podman's is off).
    #[serde(default = "yes", skip_serializing_if = "is_yes")]
    pub no_new_privileges: bool,
    /// `local` or a zone name; bound read-only on /etc/localtime.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// Resource limits; those not named are the unit's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ulimits: Vec<super::Ulimit>,
    /// Host device nodes given to the container.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<super::Device>,
    pub network: Network,
    /// Published ports; a host port of 0 is chosen when the container is created.
    #[serde(default)]
    pub ports: Vec<PortMapping>,
    /// A static address on its (one) network.
    #[serde(default)]
    pub ip: Option<IpAddr>,
    /// More DNS names on its networks.
    #[serde(default)]
    pub network_aliases: Vec<String>,
    /// DNS servers (upstream of aardvark-dns on DNS networks).
    #[serde(default)]
    pub dns: Vec<IpAddr>,
    #[serde(default)]
    pub dns_search: Vec<String>,
    /// Extra /etc/hosts lines, `NAME[;NAME...]:IP` as podman's --add-host.
    #[serde(default)]
    pub hosts: Vec<String>,
    pub runtime: RuntimeKind,
    #[serde(default)]
    pub resources: Resources,
    /// The container gets a pseudo-terminal (process.terminal); the monitor
    /// holds its master.
    #[serde(default)]
    pub terminal: bool,
    /// The container's stdin stays open for Attach (else /dev/null).
    #[serde(default)]
    pub interactive: bool,
    /// The unit becomes ready once the first health check passes
    /// (podman's --sdnotify=healthy, quadlet's Notify=healthy).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub notify_healthy: bool,
    /// Its health check (podman's --health-*).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<Healthcheck>,
}

fn yes() -> bool {
    true
}

fn is_yes(b: &bool) -> bool {
    *b
}

fn default_start_timeout() -> u32 {
    90
}

pub(super) fn check_abs_path(p: &str, key: &str) -> Result<()> {
    if p.is_empty() || !p.starts_with('/') {
        return Err(Error::invalid(key, format!("{p:?} is not an absolute path")));
    }
    if p.contains('\0') || p.split('/').any(|c| c == "..") {
        return Err(Error::invalid(key, format!("{p:?} must not contain '..' or NUL")));
    }
    Ok(())
}

pub(super) fn no_nul(key: &str, s: &str) -> Result<()> {
    if s.contains('\0') {
        Err(Error::invalid(key, "must not contain NUL bytes"))
    } else {
        Ok(())
    }
}

/// A User value: numeric ids (`uid[:gid]`) or a name to resolve later.
pub(super) enum UserValue {
    Ids(u32, u32),
    Name(String),
}

pub(super) fn parse_user_value(s: &str) -> Result<UserValue> {
    if let Ok((u, g)) = parse_user(s) {
        return Ok(UserValue::Ids(u, g));
    }
    let bad = || Error::invalid("User", format!("{s:?} is not user[:group] (names or numbers)"));
    let (u, g) = s.split_once(':').unwrap_or((s, "x"));
    let fine = |p: &str| !p.is_empty() && !p.contains(':') && p.chars().all(|c| !c.is_whitespace() && !c.is_control());
    if !(fine(u) && fine(g)) {
        return Err(bad());
    }
    Ok(UserValue::Name(s.to_string()))
}

pub(super) fn parse_user(s: &str) -> Result<(u32, u32)> {
    let bad = || Error::invalid("User", format!("{s:?} is not uid[:gid] (numbers)"));
    let (u, g) = match s.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (s, None),
    };
    let uid: u32 = u.parse().map_err(|_| bad())?;
    let gid: u32 = match g {
        Some(g) => g.parse().map_err(|_| bad())?,
        None => uid,
    };
    Ok((uid, gid))
}

pub(super) fn check_hostname(s: &str) -> Result<()> {
    let ok = !s.is_empty()
        && s.len() <= 64
        && s.split('.').all(|l| {
            !l.is_empty() && !l.starts_with('-') && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if ok {
        Ok(())
    } else {
        Err(Error::invalid("Hostname", format!("{s:?} is not a valid host name")))
    }
}

impl Default for ContainerSpec {
    /// A spec before any option is applied: the defaults of every key.
    fn default() -> Self {
        ContainerSpec {
            rootfs: PathBuf::new(),
            image: None,
            entrypoint: None,
            command: Vec::new(),
            env: Vec::new(),
            working_dir: None,
            user: None,
            user_name: None,
            hostname: None,
            notify: false,
            stop_signal: 15,
            stop_timeout: 10,
            start_timeout: default_start_timeout(),
            restart_policy: RestartPolicy::No,
            dependencies: Vec::new(),
            labels: BTreeMap::new(),
            annotations: BTreeMap::new(),
            volumes: Vec::new(),
            tmpfs: Vec::new(),
            cap_add: Vec::new(),
            cap_drop: Vec::new(),
            sysctls: BTreeMap::new(),
            shm_size: None,
            read_only: false,
            read_only_tmpfs: true,
            no_new_privileges: true,
            timezone: None,
            ulimits: Vec::new(),
            devices: Vec::new(),
            network: Network::default(),
            ports: Vec::new(),
            ip: None,
            network_aliases: Vec::new(),
            dns: Vec::new(),
            dns_search: Vec::new(),
            hosts: Vec::new(),
            runtime: RuntimeKind::Crun,
            resources: Resources::default(),
            terminal: false,
            interactive: false,
            notify_healthy: false,
            health: None,
        }
    }
}

impl ContainerSpec {
    /// Build a spec from `CreateContainer` options: every key known, every
    /// value of the right type and valid, the required keys present.
    pub fn from_options(options: &BTreeMap<String, OptionValue>) -> Result<Self> {
        let mut spec = ContainerSpec::default();
        for (key, v) in options {
            option(key)?.set(&mut spec, v)?;
        }
        spec.finish()
    }

    /// The checks that need more than one key.
    fn finish(self) -> Result<Self> {
        match (self.image.is_some(), !self.rootfs.as_os_str().is_empty()) {
            (true, true) => return Err(Error::invalid("Image", "give either Image or Rootfs, not both")),
            (false, false) => return Err(Error::invalid("Rootfs", "is required (or Image)")),
            // The image's Entrypoint and Cmd may do; create checks that.
            (true, false) => {}
            (false, true) => {
                if self.command.is_empty() && self.entrypoint.as_ref().is_none_or(|e| e.is_empty()) {
                    return Err(Error::invalid("Command", "is required"));
                }
            }
        }
        for (i, v) in self.volumes.iter().enumerate() {
            if self.volumes[..i].iter().any(|w| w.destination == v.destination) {
                return Err(Error::invalid("Volumes", format!("two volumes at {}", v.destination.display())));
            }
        }
        for (i, t) in self.tmpfs.iter().enumerate() {
            let taken = self.tmpfs[..i].iter().map(|u| &u.destination).chain(self.volumes.iter().map(|v| &v.destination));
            if taken.into_iter().any(|d| *d == t.destination) {
                return Err(Error::invalid("Tmpfs", format!("two mounts at {}", t.destination.display())));
            }
        }
        self.check_network_keys()?;
        if self.health.as_ref().is_some_and(|h| h.command.is_empty()) {
            return Err(Error::invalid("HealthCmd", "is required by the other Health options"));
        }
        if self.notify_healthy && self.health.is_none() {
            return Err(Error::invalid("NotifyHealthy", "needs a health check (HealthCmd)"));
        }
        if self.notify_healthy && self.notify {
            return Err(Error::invalid("NotifyHealthy", "and Notify both say who sends READY=1; give one"));
        }
        if self.network == Network::Host {
            if let Some(k) = self.sysctls.keys().find(|k| k.starts_with("net.")) {
                return Err(Error::invalid("Sysctls", format!("{k} needs a network namespace of its own; Network is host")));
            }
        }
        Ok(self)
    }

    /// The argv the container's init runs, podman's way: the Entrypoint
    /// (this spec's, else the image's), then the Command, or the image's
    /// Cmd when neither Command nor Entrypoint is given here.
    pub fn argv(&self, image_entrypoint: &[String], image_cmd: &[String]) -> Vec<String> {
        let mut argv: Vec<String> = self.entrypoint.clone().unwrap_or_else(|| image_entrypoint.to_vec());
        if !self.command.is_empty() {
            argv.extend(self.command.iter().cloned());
        } else if self.entrypoint.is_none() {
            argv.extend(image_cmd.iter().cloned());
        }
        argv
    }
}

impl ContainerSpec {
    /// The network keys need a bridge network, and a static IP one network.
    fn check_network_keys(&self) -> Result<()> {
        let given = [
            ("Ports", !self.ports.is_empty()),
            ("IP", self.ip.is_some()),
            ("NetworkAliases", !self.network_aliases.is_empty()),
            ("DNS", !self.dns.is_empty()),
            ("DNSSearch", !self.dns_search.is_empty()),
            ("Hosts", !self.hosts.is_empty()),
        ];
        if !self.network.is_bridge() {
            if let Some((key, _)) = given.iter().find(|(_, set)| *set) {
                let mode = self.network.to_option();
                return Err(Error::invalid(*key, format!("needs a bridge network; Network is {mode}")));
            }
        }
        if self.ip.is_some() && self.network.networks().len() > 1 {
            return Err(Error::invalid("IP", "a static address needs exactly one network"));
        }
        Ok(())
    }
}

/// A container defined by a `.container` file, as berth-generator records
/// it next to the unit: what berth-monitor runs and berthd lists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileDefined {
    pub name: ContainerName,
    pub id: String,
    /// The unit, `NAME.service`.
    pub unit: String,
    /// The `.container` file.
    pub source: PathBuf,
    pub spec: ContainerSpec,
    /// What the container takes from its unit each time it starts.
    #[serde(default, skip_serializing_if = "StartEnv::is_empty")]
    pub start: StartEnv,
}

/// What a file-defined container takes from its unit's environment each
/// time it starts, as podman resolves its command line at `podman run`:
/// environment files, inherited variables, `${VAR}` in the environment and
/// the command.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartEnv {
    /// `EnvironmentFile=`, read in this order before `Environment=`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env_files: Vec<EnvFile>,
    /// Bare `Environment=NAME`: NAME as the unit's environment has it, when set.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inherit: Vec<String>,
    /// The environment and command hold `$`: expand `${VAR}` (and a word
    /// `$VAR` of the command) from the unit's environment, `$$` to `$`, as
    /// systemd does in podman's `ExecStart=`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub expand: bool,
}

impl StartEnv {
    pub fn is_empty(&self) -> bool {
        self == &StartEnv::default()
    }
}

/// One `EnvironmentFile=`: an absolute path; `optional` (`-path`) may be missing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvFile {
    pub path: PathBuf,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub optional: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(pairs: &[(&str, OptionValue)]) -> BTreeMap<String, OptionValue> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
    }

    fn base() -> Vec<(&'static str, OptionValue)> {
        vec![
            ("Rootfs", OptionValue::Str("/var/lib/r".into())),
            ("Command", OptionValue::StrList(vec!["/bin/sh".into()])),
        ]
    }

    fn with(extra: (&'static str, OptionValue)) -> Result<ContainerSpec> {
        let mut o = base();
        o.push(extra);
        ContainerSpec::from_options(&opts(&o))
    }

    fn err_key(r: Result<ContainerSpec>) -> String {
        match r.unwrap_err() {
            Error::InvalidArgument { key, .. } => key,
            e => panic!("not InvalidArgument: {e}"),
        }
    }

    #[test]
    fn defaults() {
        let s = ContainerSpec::from_options(&opts(&base())).unwrap();
        assert_eq!(s.stop_signal, 15);
        assert_eq!(s.stop_timeout, 10);
        assert_eq!(s.restart_policy, RestartPolicy::No);
        assert_eq!(s.network, Network::Bridge(vec!["berth".into()]));
        assert_eq!(s.runtime, RuntimeKind::Crun);
        assert!(!s.notify);
    }

    #[test]
    fn every_key_parses() {
        let labels: BTreeMap<String, String> = [("a".to_string(), "b".to_string())].into();
        let s = ContainerSpec::from_options(&opts(&[
            ("Rootfs", OptionValue::Str("/r".into())),
            ("Command", OptionValue::StrList(vec!["sh".into(), "-c".into()])),
            ("Env", OptionValue::StrList(vec!["A=1".into(), "B=".into()])),
            ("WorkingDir", OptionValue::Str("/tmp".into())),
            ("User", OptionValue::Str("1000:100".into())),
            ("Hostname", OptionValue::Str("web-1.local".into())),
            ("Notify", OptionValue::Bool(true)),
            ("StopSignal", OptionValue::Str("SIGINT".into())),
            ("StopTimeout", OptionValue::U32(3)),
            ("RestartPolicy", OptionValue::Str("on-failure:5".into())),
            ("Dependencies", OptionValue::StrList(vec!["db".into()])),
            ("Labels", OptionValue::StrMap(labels.clone())),
            ("Volumes", OptionValue::StrList(vec!["/a:/b:ro".into(), "/c:/d".into()])),
            ("ReadOnly", OptionValue::Bool(true)),
            ("Network", OptionValue::Str("host".into())),
            ("Runtime", OptionValue::Str("runc".into())),
            ("MemoryMax", OptionValue::U64(1 << 20)),
            ("TasksMax", OptionValue::U64(10)),
            ("CPUWeight", OptionValue::U64(50)),
            ("CPUQuota", OptionValue::U32(150)),
            ("Terminal", OptionValue::Bool(true)),
            ("Interactive", OptionValue::Bool(true)),
        ]))
        .unwrap();
        assert!(s.terminal && s.interactive);
        assert_eq!(s.user, Some((1000, 100)));
        assert_eq!(s.stop_signal, 2);
        assert_eq!(s.restart_policy, RestartPolicy::OnFailure(Some(5)));
        assert_eq!(s.volumes[0], Volume { source: "/a".into(), destination: "/b".into(), read_only: true, volume: None, anonymous: false });
        assert!(!s.volumes[1].read_only);
        assert_eq!(s.labels, labels);
        assert_eq!(s.resources.cpu_quota, Some(150));
        assert!(s.runtime.is_runc());
    }

    #[test]
    fn bad_values_name_their_key() {
        let cases: Vec<(&str, OptionValue)> = vec![
            ("Rootfs", OptionValue::Str("relative/path".into())),
            ("Rootfs", OptionValue::Bool(true)),
            ("Command", OptionValue::StrList(vec![])),
            ("Command", OptionValue::Str("sh".into())),
            ("Env", OptionValue::StrList(vec!["NOEQUALS".into()])),
            ("WorkingDir", OptionValue::Str("tmp".into())),
            ("User", OptionValue::Str("a b".into())),
            ("User", OptionValue::Str("web:".into())),
            ("Hostname", OptionValue::Str("a_b".into())),
            ("Notify", OptionValue::Str("yes".into())),
            ("StopSignal", OptionValue::Str("SIGBOGUS".into())),
            ("StopTimeout", OptionValue::U32(STOP_TIMEOUT_MAX + 1)),
            ("StopTimeout", OptionValue::U64(5)),
            ("StartTimeout", OptionValue::U32(0)),
            ("RestartPolicy", OptionValue::Str("sometimes".into())),
            ("RestartPolicy", OptionValue::Str("on-failure:0".into())),
            ("Dependencies", OptionValue::StrList(vec!["-bad".into()])),
            ("Volumes", OptionValue::StrList(vec!["a".into()])),
            ("Volumes", OptionValue::StrList(vec!["-a:/b".into()])),
            ("Volumes", OptionValue::StrList(vec!["a/b:/b".into()])),
            ("Volumes", OptionValue::StrList(vec!["/a:/b:xx".into()])),
            ("Network", OptionValue::Str("bogus/name".into())),
            ("Ports", OptionValue::StrList(vec!["70000".into()])),
            ("Ports", OptionValue::StrList(vec!["0".into()])),
            ("Ports", OptionValue::StrList(vec!["8080-8081:80".into()])),
            ("IP", OptionValue::Str("10.89.0.300".into())),
            ("NetworkAliases", OptionValue::StrList(vec!["a b".into()])),
            ("DNS", OptionValue::StrList(vec!["dns.example".into()])),
            ("DNSSearch", OptionValue::StrList(vec!["a b".into()])),
            ("Hosts", OptionValue::StrList(vec!["nocolon".into()])),
            ("Volumes", OptionValue::StrList(vec!["/a:/b:ro,".into()])),
            ("Volumes", OptionValue::StrList(vec!["/a:/b".into(), "v:/b".into()])),
            ("Volumes", OptionValue::StrList(vec!["/".into()])),
            ("Tmpfs", OptionValue::StrList(vec!["tmp".into()])),
            ("Tmpfs", OptionValue::StrList(vec!["/tmp:size=1g;x".into()])),
            ("Tmpfs", OptionValue::StrList(vec!["/tmp:suid,bogus".into()])),
            ("Image", OptionValue::Str("".into())),
            ("Entrypoint", OptionValue::Str("sh".into())),
            ("Runtime", OptionValue::Str("kata".into())),
            ("MemoryMax", OptionValue::U64(0)),
            ("CPUWeight", OptionValue::U64(20_000)),
            ("CPUQuota", OptionValue::U64(5)),
            ("Bogus", OptionValue::Bool(true)),
        ];
        for (key, v) in cases {
            assert_eq!(err_key(with((key, v.clone()))), key, "{key} = {v:?}");
        }
    }

    #[test]
    fn network_keys_need_a_bridge() {
        for mode in ["none", "host"] {
            for (key, v) in [
                ("Ports", OptionValue::StrList(vec!["8080:80".into()])),
                ("IP", OptionValue::Str("10.89.0.5".into())),
                ("NetworkAliases", OptionValue::StrList(vec!["web".into()])),
                ("DNS", OptionValue::StrList(vec!["1.1.1.1".into()])),
                ("DNSSearch", OptionValue::StrList(vec!["example.org".into()])),
                ("Hosts", OptionValue::StrList(vec!["db:10.0.0.9".into()])),
            ] {
                let mut o = base();
                o.push(("Network", OptionValue::Str(mode.into())));
                o.push((key, v));
                assert_eq!(err_key(ContainerSpec::from_options(&opts(&o))), key, "{key} with {mode}");
            }
        }
        let mut o = base();
        o.push(("Network", OptionValue::Str("a,b".into())));
        o.push(("IP", OptionValue::Str("10.89.0.5".into())));
        assert_eq!(err_key(ContainerSpec::from_options(&opts(&o))), "IP");
        let s = with(("Ports", OptionValue::StrList(vec!["127.0.0.1:8080:80/tcp,udp".into(), "9000-9001:90-91".into()])))
            .unwrap();
        assert_eq!(s.ports.len(), 3);
        assert_eq!(s.ports[2].range, 2);
    }

    #[test]
    fn required_keys() {
        assert_eq!(err_key(ContainerSpec::from_options(&opts(&base()[..1]))), "Command");
        assert_eq!(err_key(ContainerSpec::from_options(&opts(&base()[1..]))), "Rootfs");
    }

    #[test]
    fn exactly_one_of_image_and_rootfs() {
        let image = || ("Image", OptionValue::Str("localhost/web:1".into()));
        assert_eq!(err_key(with(image())), "Image", "Image and Rootfs");
        let s = ContainerSpec::from_options(&opts(&[image()])).unwrap();
        assert_eq!(s.image.as_deref(), Some("localhost/web:1"));
        assert!(s.command.is_empty(), "the image's Cmd may do");
        let only_entry = opts(&[base()[0].clone(), ("Entrypoint", OptionValue::StrList(vec!["/bin/sh".into()]))]);
        assert!(ContainerSpec::from_options(&only_entry).is_ok(), "a Rootfs container may have only an Entrypoint");
    }

    #[test]
    fn volumes_named_anonymous_and_bound() {
        let s = with(("Volumes", OptionValue::StrList(vec!["data:/var/lib/x:ro,Z".into(), "/cache".into(), "/h:/h:z".into()])))
            .unwrap();
        let v = &s.volumes;
        assert_eq!((v[0].volume.as_deref(), v[0].read_only, v[0].is_volume()), (Some("data"), true, true));
        assert!(v[1].anonymous && v[1].volume.is_none() && v[1].source.as_os_str().is_empty());
        assert_eq!((v[2].source.as_path(), v[2].is_volume()), (Path::new("/h"), false));
        assert_eq!(v.iter().map(|x| x.to_string()).collect::<Vec<_>>(), ["data:/var/lib/x:ro", "/cache", "/h:/h"]);
        let e = with(("Volumes", OptionValue::StrList(vec!["-x:/d".into()]))).unwrap_err();
        assert!(e.to_string().contains("a volume name must start with a letter or digit"), "{e}");
    }

    #[test]
    fn tmpfs_mounts() {
        let s = with(("Tmpfs", OptionValue::StrList(vec!["/run".into(), "/tmp:size=64m,mode=1777,exec".into()]))).unwrap();
        assert_eq!(s.tmpfs[0], Tmpfs { destination: "/run".into(), options: vec![] });
        assert_eq!(s.tmpfs[1].options, ["size=64m", "mode=1777", "exec"]);
        let mut o = base();
        o.push(("Volumes", OptionValue::StrList(vec!["/h:/tmp".into()])));
        o.push(("Tmpfs", OptionValue::StrList(vec!["/tmp".into()])));
        assert_eq!(err_key(ContainerSpec::from_options(&opts(&o))), "Tmpfs");
    }

    #[test]
    fn capabilities_sysctls_and_shm() {
        let s = with(("CapAdd", OptionValue::StrList(vec!["net_admin".into(), "CAP_SYS_TIME".into()]))).unwrap();
        assert_eq!(s.cap_add, ["NET_ADMIN", "SYS_TIME"]);
        assert_eq!(err_key(with(("CapDrop", OptionValue::StrList(vec!["CAP_BOGUS".into()])))), "CapDrop");
        let m = |k: &str| OptionValue::StrMap([(k.to_string(), "1".to_string())].into());
        assert!(with(("Sysctls", m("net.ipv4.ip_forward"))).is_ok());
        assert_eq!(err_key(with(("Sysctls", m("kernel.hostname")))), "Sysctls");
        let mut o = base();
        o.push(("Network", OptionValue::Str("host".into())));
        o.push(("Sysctls", m("net.ipv4.ip_forward")));
        assert_eq!(err_key(ContainerSpec::from_options(&opts(&o))), "Sysctls");
        assert_eq!(err_key(with(("ShmSize", OptionValue::U64(0)))), "ShmSize");
    }

    #[test]
    fn users_by_name_or_number() {
        let s = with(("User", OptionValue::Str("web:wheel".into()))).unwrap();
        assert_eq!((s.user, s.user_name.as_deref()), (None, Some("web:wheel")));
        let s = with(("User", OptionValue::Str("7:8".into()))).unwrap();
        assert_eq!((s.user, s.user_name), (Some((7, 8)), None));
        assert_eq!(with(("User", OptionValue::Str("1000:staff".into()))).unwrap().user_name.as_deref(), Some("1000:staff"));
    }

    #[test]
    fn argv_splits_as_podman() {
        let v = |x: &[&str]| x.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let (ep, cmd) = (v(&["/entry"]), v(&["serve", "-v"]));
        let spec = |entrypoint: Option<&[&str]>, command: &[&str]| ContainerSpec {
            entrypoint: entrypoint.map(v),
            command: v(command),
            ..ContainerSpec::default()
        };
        assert_eq!(spec(None, &[]).argv(&ep, &cmd), ["/entry", "serve", "-v"]);
        assert_eq!(spec(None, &["run"]).argv(&ep, &cmd), ["/entry", "run"], "Command replaces Cmd");
        assert_eq!(spec(Some(&["/bin/sh"]), &[]).argv(&ep, &cmd), ["/bin/sh"], "an Entrypoint drops the image's Cmd");
        assert_eq!(spec(Some(&[]), &["/bin/id"]).argv(&ep, &cmd), ["/bin/id"], "an empty Entrypoint clears it");
        assert!(spec(Some(&[]), &[]).argv(&ep, &cmd).is_empty());
    }

    #[test]
    fn resources_apply_is_all_or_nothing() {
        let mut r = Resources::default();
        let bad = opts(&[("MemoryMax", OptionValue::U64(5)), ("Rootfs", OptionValue::Str("/x".into()))]);
        assert!(r.apply(&bad).is_err());
        assert_eq!(r, Resources::default());
        r.apply(&opts(&[("CPUQuota", OptionValue::U32(50))])).unwrap();
        assert_eq!(r.cpu_quota, Some(50));
    }

    #[test]
    fn spec_round_trips_through_json() {
        let s = with(("RestartPolicy", OptionValue::Str("always".into()))).unwrap();
        let j = serde_json::to_string(&s).unwrap();
        assert_eq!(serde_json::from_str::<ContainerSpec>(&j).unwrap(), s);
    }
}
