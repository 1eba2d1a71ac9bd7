use super::{check_signal, parse_signal, ContainerName, Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Longest stop timeout accepted, in seconds (one day).
pub const STOP_TIMEOUT_MAX: u32 = 86_400;

/// Every `CreateContainer` option key with its D-Bus signature.
pub const OPTION_KEYS: [(&str, &str); 21] = [
    ("Rootfs", "s"),
    ("Command", "as"),
    ("Env", "as"),
    ("WorkingDir", "s"),
    ("User", "s"),
    ("Hostname", "s"),
    ("Notify", "b"),
    ("StopSignal", "s"),
    ("StopTimeout", "u"),
    ("StartTimeout", "u"),
    ("RestartPolicy", "s"),
    ("Dependencies", "as"),
    ("Labels", "a{ss}"),
    ("Volumes", "as"),
    ("ReadOnly", "b"),
    ("Network", "s"),
    ("Runtime", "s"),
    ("MemoryMax", "t"),
    ("TasksMax", "t"),
    ("CPUWeight", "t"),
    ("CPUQuota", "u"),
];

/// An option value as it arrives from any front end (D-Bus, C, CLI, files).
#[derive(Debug, Clone, PartialEq)]
pub enum OptionValue {
    Str(String),
    StrList(Vec<String>),
    Bool(bool),
    U32(u32),
    U64(u64),
    StrMap(BTreeMap<String, String>),
}

impl OptionValue {
    pub fn signature(&self) -> &'static str {
        match self {
            OptionValue::Str(_) => "s",
            OptionValue::StrList(_) => "as",
            OptionValue::Bool(_) => "b",
            OptionValue::U32(_) => "u",
            OptionValue::U64(_) => "t",
            OptionValue::StrMap(_) => "a{ss}",
        }
    }
}

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
    pub const KEYS: [&'static str; 4] = ["MemoryMax", "TasksMax", "CPUWeight", "CPUQuota"];

    /// Set one resource key; false when `key` is not a resource key.
    fn set(&mut self, key: &str, value: &OptionValue) -> Result<bool> {
        match key {
            "MemoryMax" => self.memory_max = Some(nonzero(key, want_u64(key, value)?)?),
            "TasksMax" => self.tasks_max = Some(nonzero(key, want_u64(key, value)?)?),
            "CPUWeight" => {
                let w = want_u64(key, value)?;
                if !(1..=10_000).contains(&w) {
                    return Err(Error::invalid(key, format!("{w} is not in 1..10000")));
                }
                self.cpu_weight = Some(w);
            }
            "CPUQuota" => self.cpu_quota = Some(nonzero(key, want_u32(key, value)? as u64)? as u32),
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Apply a set of resource options (`Update`); only resource keys allowed.
    pub fn apply(&mut self, options: &BTreeMap<String, OptionValue>) -> Result<()> {
        let mut next = self.clone();
        for (k, v) in options {
            if !next.set(k, v)? {
                return Err(Error::invalid(k, format!("not a resource key (one of {})", Self::KEYS.join(", "))));
            }
        }
        *self = next;
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
}

fn default_start_timeout() -> u32 {
    90
}

fn want_str<'a>(key: &str, v: &'a OptionValue) -> Result<&'a str> {
    match v {
        OptionValue::Str(s) => Ok(s),
        other => Err(wrong_type(key, "s", other)),
    }
}

fn want_list<'a>(key: &str, v: &'a OptionValue) -> Result<&'a [String]> {
    match v {
        OptionValue::StrList(s) => Ok(s),
        other => Err(wrong_type(key, "as", other)),
    }
}

fn want_bool(key: &str, v: &OptionValue) -> Result<bool> {
    match v {
        OptionValue::Bool(b) => Ok(*b),
        other => Err(wrong_type(key, "b", other)),
    }
}

fn want_u32(key: &str, v: &OptionValue) -> Result<u32> {
    match v {
        OptionValue::U32(n) => Ok(*n),
        other => Err(wrong_type(key, "u", other)),
    }
}

fn want_u64(key: &str, v: &OptionValue) -> Result<u64> {
    match v {
        OptionValue::U64(n) => Ok(*n),
        other => Err(wrong_type(key, "t", other)),
    }
}

fn nonzero(key: &str, n: u64) -> Result<u64> {
    if n == 0 {
        Err(Error::invalid(key, "must be greater than 0"))
    } else {
        Ok(n)
    }
}

fn wrong_type(key: &str, want: &str, got: &OptionValue) -> Error {
    Error::invalid(key, format!("wrong type: expected '{want}', got '{}'", got.signature()))
}

fn check_abs_path(p: &str, key: &str) -> Result<()> {
    if p.is_empty() || !p.starts_with('/') {
        return Err(Error::invalid(key, format!("{p:?} is not an absolute path")));
    }
    if p.contains('\0') || p.split('/').any(|c| c == "..") {
        return Err(Error::invalid(key, format!("{p:?} must not contain '..' or NUL")));
    }
    Ok(())
}

fn no_nul(key: &str, s: &str) -> Result<()> {
    if s.contains('\0') {
        Err(Error::invalid(key, "must not contain NUL bytes"))
    } else {
        Ok(())
    }
}

fn parse_user(s: &str) -> Result<(u32, u32)> {
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

fn check_hostname(s: &str) -> Result<()> {
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

impl ContainerSpec {
    /// Build a spec from `CreateContainer` options: every key known, every
    /// value of the right type and valid, Rootfs and Command present.
    pub fn from_options(options: &BTreeMap<String, OptionValue>) -> Result<Self> {
        let mut rootfs = None;
        let mut command = None;
        let mut spec = ContainerSpec {
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
        };
        for (key, v) in options {
            let key = key.as_str();
            match key {
                "Rootfs" => {
                    let s = want_str(key, v)?;
                    check_abs_path(s, key)?;
                    rootfs = Some(PathBuf::from(s));
                }
                "Command" => {
                    let c = want_list(key, v)?;
                    if c.is_empty() || c[0].is_empty() {
                        return Err(Error::invalid(key, "must name a program to run"));
                    }
                    for a in c {
                        no_nul(key, a)?;
                    }
                    command = Some(c.to_vec());
                }
                "Env" => {
                    for e in want_list(key, v)? {
                        no_nul(key, e)?;
                        match e.split_once('=') {
                            Some((k, _)) if !k.is_empty() => {}
                            _ => return Err(Error::invalid(key, format!("{e:?} is not KEY=VALUE"))),
                        }
                    }
                    spec.env = want_list(key, v)?.to_vec();
                }
                "WorkingDir" => {
                    let s = want_str(key, v)?;
                    check_abs_path(s, key)?;
                    spec.working_dir = Some(s.into());
                }
                "User" => spec.user = Some(parse_user(want_str(key, v)?)?),
                "Hostname" => {
                    let s = want_str(key, v)?;
                    check_hostname(s)?;
                    spec.hostname = Some(s.into());
                }
                "Notify" => spec.notify = want_bool(key, v)?,
                "StopSignal" => spec.stop_signal = check_signal(parse_signal(want_str(key, v)?, key)?, key)?,
                "StopTimeout" => {
                    let t = want_u32(key, v)?;
                    if t > STOP_TIMEOUT_MAX {
                        return Err(Error::invalid(key, format!("{t} is more than {STOP_TIMEOUT_MAX} seconds")));
                    }
                    spec.stop_timeout = t;
                }
                "StartTimeout" => {
                    let t = want_u32(key, v)?;
                    if t == 0 || t > STOP_TIMEOUT_MAX {
                        return Err(Error::invalid(key, format!("{t} is not in 1..{STOP_TIMEOUT_MAX} seconds")));
                    }
                    spec.start_timeout = t;
                }
                "RestartPolicy" => spec.restart_policy = RestartPolicy::parse(want_str(key, v)?)?,
                "Dependencies" => {
                    let mut deps = Vec::new();
                    for d in want_list(key, v)? {
                        ContainerName::check(d, key)?;
                        let d = ContainerName::new(d)?;
                        if !deps.contains(&d) {
                            deps.push(d);
                        }
                    }
                    spec.dependencies = deps;
                }
                "Labels" => {
                    let OptionValue::StrMap(m) = v else { return Err(wrong_type(key, "a{ss}", v)) };
                    for (k, val) in m {
                        if k.is_empty() {
                            return Err(Error::invalid(key, "a label needs a name"));
                        }
                        no_nul(key, k)?;
                        no_nul(key, val)?;
                    }
                    spec.labels = m.clone();
                }
                "Volumes" => {
                    spec.volumes = want_list(key, v)?.iter().map(|s| Volume::parse(s)).collect::<Result<_>>()?;
                }
                "ReadOnly" => spec.read_only = want_bool(key, v)?,
                "Network" => {
                    spec.network = match want_str(key, v)? {
                        "none" | "" => Network::None,
                        "host" => Network::Host,
                        s => return Err(Error::invalid(key, format!("{s:?} is not none or host"))),
                    }
                }
                "Runtime" => spec.runtime = RuntimeKind::parse(want_str(key, v)?)?,
                k if spec.resources.set(k, v)? => {}
                _ => {
                    let known: Vec<&str> = OPTION_KEYS.iter().map(|(k, _)| *k).collect();
                    return Err(Error::invalid(key, format!("unknown option (known: {})", known.join(", "))));
                }
            }
        }
        spec.rootfs = rootfs.ok_or_else(|| Error::invalid("Rootfs", "is required"))?;
        spec.command = command.ok_or_else(|| Error::invalid("Command", "is required"))?;
        Ok(spec)
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
        ]))
        .unwrap();
        assert_eq!(s.user, Some((1000, 100)));
        assert_eq!(s.stop_signal, 2);
        assert_eq!(s.restart_policy, RestartPolicy::OnFailure(Some(5)));
        assert_eq!(s.volumes[0], Volume { source: "/a".into(), destination: "/b".into(), read_only: true });
        assert!(!s.volumes[1].read_only);
        assert_eq!(s.labels, labels);
        assert_eq!(s.resources.cpu_quota, Some(150));
        assert!(s.runtime.is_runc());
        assert_eq!(OPTION_KEYS.len(), 21);
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
