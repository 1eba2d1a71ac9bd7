use super::options::{option, OptionValue, OPTIONS};
use super::{ContainerName, Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Longest stop timeout accepted, in seconds (one day).
pub const STOP_TIMEOUT_MAX: u32 = 86_400;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Network {
    /// Own network namespace with only `lo`.
    None,
    Host,
}

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

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Volume {
    pub source: PathBuf,
    pub destination: PathBuf,
    pub read_only: bool,
}

impl Volume {
    /// `SRC:DST[:ro|rw]`, both paths absolute.
    pub fn parse(s: &str) -> Result<Self> {
        let bad = |m: &str| Err(Error::invalid("Volumes", format!("{s:?}: {m}")));
        let parts: Vec<&str> = s.split(':').collect();
        let (src, dst, ro) = match parts.as_slice() {
            [src, dst] => (*src, *dst, false),
            [src, dst, "ro"] => (*src, *dst, true),
            [src, dst, "rw"] => (*src, *dst, false),
            [_, _, opt] => return bad(&format!("unknown option {opt:?} (ro or rw)")),
            _ => return bad("expected SRC:DST[:ro]"),
        };
        for p in [src, dst] {
            check_abs_path(p, "Volumes")?;
        }
        Ok(Volume { source: src.into(), destination: dst.into(), read_only: ro })
    }

    pub fn to_string(&self) -> String {
        format!(
            "{}:{}{}",
            self.source.display(),
            self.destination.display(),
            if self.read_only { ":ro" } else { "" }
        )
    }
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
    pub rootfs: PathBuf,
    pub command: Vec<String>,
    #[serde(default)]
    pub env: Vec<String>,
    pub working_dir: Option<PathBuf>,
    /// (uid, gid)
    pub user: Option<(u32, u32)>,
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
    #[serde(default)]
    pub volumes: Vec<Volume>,
    pub read_only: bool,
    pub network: Network,
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
            command: Vec::new(),
            env: Vec::new(),
            working_dir: None,
            user: None,
            hostname: None,
            notify: false,
            stop_signal: 15,
            stop_timeout: 10,
            start_timeout: default_start_timeout(),
            restart_policy: RestartPolicy::No,
            dependencies: Vec::new(),
            labels: BTreeMap::new(),
            volumes: Vec::new(),
            read_only: false,
            network: Network::None,
            runtime: RuntimeKind::Crun,
            resources: Resources::default(),
            terminal: false,
            interactive: false,
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
        if self.rootfs.as_os_str().is_empty() {
            return Err(Error::invalid("Rootfs", "is required"));
        }
        if self.command.is_empty() {
            return Err(Error::invalid("Command", "is required"));
        }
        Ok(self)
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
        assert_eq!(s.network, Network::None);
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
        assert_eq!(s.volumes[0], Volume { source: "/a".into(), destination: "/b".into(), read_only: true });
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
            ("User", OptionValue::Str("root".into())),
            ("Hostname", OptionValue::Str("a_b".into())),
            ("Notify", OptionValue::Str("yes".into())),
            ("StopSignal", OptionValue::Str("SIGBOGUS".into())),
            ("StopTimeout", OptionValue::U32(STOP_TIMEOUT_MAX + 1)),
            ("StopTimeout", OptionValue::U64(5)),
            ("StartTimeout", OptionValue::U32(0)),
            ("RestartPolicy", OptionValue::Str("sometimes".into())),
            ("RestartPolicy", OptionValue::Str("on-failure:0".into())),
            ("Dependencies", OptionValue::StrList(vec!["-bad".into()])),
            ("Volumes", OptionValue::StrList(vec!["/a".into()])),
            ("Volumes", OptionValue::StrList(vec!["a:/b".into()])),
            ("Volumes", OptionValue::StrList(vec!["/a:/b:xx".into()])),
            ("Network", OptionValue::Str("bridge".into())),
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
    fn required_keys() {
        assert_eq!(err_key(ContainerSpec::from_options(&opts(&base()[..1]))), "Command");
        assert_eq!(err_key(ContainerSpec::from_options(&opts(&base()[1..]))), "Rootfs");
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
