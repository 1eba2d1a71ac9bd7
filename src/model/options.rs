//! The one table of container options. Every front end takes its keys from
//! [`OPTIONS`]: D-Bus `CreateContainer`/`UpdateContainer` check the
//! signature, the C spec setters validate one key, `.container` files map
//! their `[Container]` keys, berthctl builds its flags, and the README's
//! option list is checked against [`markdown_table`]. Adding a key is one
//! entry here plus its effect.

use super::spec::{
    check_abs_path, check_hostname, check_sysctl, no_nul, parse_capability, parse_user_value, ContainerSpec, Network,
    RestartPolicy, RuntimeKind, Tmpfs, UserValue, Volume, STOP_TIMEOUT_MAX,
};
use super::network::{check_name as check_network_name, parse_host_entry};
use super::health::{self, HealthOnFailure};
use super::ports::parse_ports;
use super::{check_signal, parse_signal, ContainerName, Error, Result};
use std::collections::BTreeMap;

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

/// The D-Bus type of an option's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sig {
    Str,
    StrList,
    Bool,
    U32,
    U64,
    StrMap,
}

impl Sig {
    pub fn as_str(self) -> &'static str {
        match self {
            Sig::Str => "s",
            Sig::StrList => "as",
            Sig::Bool => "b",
            Sig::U32 => "u",
            Sig::U64 => "t",
            Sig::StrMap => "a{ss}",
        }
    }
}

impl OptionValue {
    pub fn sig(&self) -> Sig {
        match self {
            OptionValue::Str(_) => Sig::Str,
            OptionValue::StrList(_) => Sig::StrList,
            OptionValue::Bool(_) => Sig::Bool,
            OptionValue::U32(_) => Sig::U32,
            OptionValue::U64(_) => Sig::U64,
            OptionValue::StrMap(_) => Sig::StrMap,
        }
    }

    pub fn signature(&self) -> &'static str {
        self.sig().as_str()
    }
}

/// How a text front end (a `.container` file, a berthctl flag) spells a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// One string.
    Text,
    /// A path; berthctl makes a relative one absolute.
    Path,
    /// Words, split as systemd splits a command line: the whole list.
    Words,
    /// One list item per line or flag.
    Item,
    /// Each line's words are list items (`Environment=A=1 B=2`).
    ItemWords,
    /// Comma-separated list items (`--requires a,b`).
    Commas,
    /// `KEY=VALUE` items into a map.
    Pair,
    /// A boolean.
    Flag,
    /// A decimal number.
    Number,
    /// Bytes, with an optional k, m or g suffix (`-m 512m`).
    Size,
    /// CPUs as a decimal (`--cpus 1.5`), stored as percent of one CPU.
    Cpus,
    /// A program and its arguments as podman's `--entrypoint` takes them: a
    /// JSON array of strings, or one program; empty for none.
    Argv,
}

/// Read a [`Form::Argv`] value.
pub fn parse_argv(s: &str, key: &str) -> Result<Vec<String>> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(Vec::new());
    }
    if s.starts_with('[') {
        return serde_json::from_str(s).map_err(|e| Error::invalid(key, format!("{s:?} is not a JSON array of strings: {e}")));
    }
    Ok(vec![s.to_string()])
}

/// A berthctl flag of `create` and `run` (podman's name where it has one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flag {
    pub long: &'static str,
    pub short: Option<char>,
    pub form: Form,
}

/// One option key and everything every front end needs to know of it.
pub struct OptionDef {
    pub key: &'static str,
    pub sig: Sig,
    /// One line for the README, the C header and `--help`.
    pub doc: &'static str,
    pub flag: Option<Flag>,
    /// The `[Container]` key of a `.container` file, and its spelling.
    pub quadlet: Option<(&'static str, Form)>,
    /// UpdateContainer accepts it (applied live through systemd).
    pub resource: bool,
    /// Hides the value from callers other than root (None: not secret).
    pub redact: Option<fn(&mut ContainerSpec)>,
    /// Check the value and set it on the spec. It looks at this key alone:
    /// checks across keys belong in [`ContainerSpec::finish`].
    pub apply: fn(&mut ContainerSpec, &OptionValue) -> Result<()>,
}

const fn flag(long: &'static str, short: Option<char>, form: Form) -> Option<Flag> {
    Some(Flag { long, short, form })
}

/// Every option key, in the order documentation lists them.
pub static OPTIONS: [OptionDef; 49] = [
    OptionDef {
        key: "Image",
        sig: Sig::Str,
        doc: "image to run: a name, name:tag or id; exactly one of Image and Rootfs",
        // berthctl's IMAGE argument.
        flag: None,
        quadlet: Some(("Image", Form::Text)),
        resource: false,
        redact: None,
        apply: |s, v| {
            let i = v.text("Image")?;
            if i.is_empty() || i.len() > 4096 || i.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(Error::invalid("Image", format!("{i:?} is not an image name or id")));
            }
            s.image = Some(i.into());
            Ok(())
        },
    },
    OptionDef {
        key: "Rootfs",
        sig: Sig::Str,
        doc: "root file system directory (absolute path); exactly one of Image and Rootfs",
        // berthctl's --rootfs is podman's: a switch that makes the IMAGE
        // argument a directory.
        flag: None,
        quadlet: Some(("Rootfs", Form::Text)),
        resource: false,
        redact: None,
        apply: |s, v| {
            let p = v.text("Rootfs")?;
            check_abs_path(p, "Rootfs")?;
            s.rootfs = p.into();
            Ok(())
        },
    },
    OptionDef {
        key: "Command",
        sig: Sig::StrList,
        doc: "argv of the container's init (with an image: its arguments, replacing the image's Cmd); required without Image",
        flag: None,
        quadlet: Some(("Exec", Form::Words)),
        resource: false,
        redact: None,
        apply: |s, v| {
            let c = v.list("Command")?;
            if c.is_empty() || c[0].is_empty() {
                return Err(Error::invalid("Command", "must name a program to run"));
            }
            c.iter().try_for_each(|a| no_nul("Command", a))?;
            s.command = c.to_vec();
            Ok(())
        },
    },
    OptionDef {
        key: "Entrypoint",
        sig: Sig::StrList,
        doc: "replaces the image's Entrypoint; an empty list clears it",
        flag: flag("entrypoint", None, Form::Argv),
        quadlet: Some(("Entrypoint", Form::Argv)),
        resource: false,
        redact: None,
        apply: |s, v| {
            let mut e = v.list("Entrypoint")?.to_vec();
            e.iter().try_for_each(|a| no_nul("Entrypoint", a))?;
            // podman's `--entrypoint ''` clears it as an empty list does.
            if e.len() == 1 && e[0].is_empty() {
                e.clear();
            }
            if e.first().is_some_and(|p| p.is_empty()) {
                return Err(Error::invalid("Entrypoint", "must name a program to run"));
            }
            s.entrypoint = Some(e);
            Ok(())
        },
    },
    OptionDef {
        key: "Env",
        sig: Sig::StrList,
        doc: "environment entries KEY=VALUE",
        flag: flag("env", Some('e'), Form::Item),
        quadlet: Some(("Environment", Form::ItemWords)),
        resource: false,
        redact: Some(|s| {
            for e in &mut s.env {
                if let Some((k, _)) = e.split_once('=') {
                    *e = format!("{k}=<hidden>");
                }
            }
        }),
        apply: |s, v| {
            let env = v.list("Env")?;
            for e in env {
                no_nul("Env", e)?;
                if !e.split_once('=').is_some_and(|(k, _)| !k.is_empty()) {
                    return Err(Error::invalid("Env", format!("{e:?} is not KEY=VALUE")));
                }
            }
            s.env = env.to_vec();
            Ok(())
        },
    },
    OptionDef {
        key: "WorkingDir",
        sig: Sig::Str,
        doc: "working directory inside the container (absolute path)",
        flag: flag("workdir", Some('w'), Form::Text),
        quadlet: Some(("WorkingDir", Form::Text)),
        resource: false,
        redact: None,
        apply: |s, v| {
            let p = v.text("WorkingDir")?;
            check_abs_path(p, "WorkingDir")?;
            s.working_dir = Some(p.into());
            Ok(())
        },
    },
    OptionDef {
        key: "User",
        sig: Sig::Str,
        doc: "user[:group] to run as, names (from the container's /etc/passwd and /etc/group) or numbers",
        flag: flag("user", Some('u'), Form::Text),
        quadlet: None, // User= and Group= combine; the quadlet mapping joins them
        resource: false,
        redact: None,
        apply: |s, v| {
            match parse_user_value(v.text("User")?)? {
                UserValue::Ids(u, g) => (s.user, s.user_name) = (Some((u, g)), None),
                UserValue::Name(n) => (s.user, s.user_name) = (None, Some(n)),
            }
            Ok(())
        },
    },
    OptionDef {
        key: "Hostname",
        sig: Sig::Str,
        doc: "the container's host name",
        flag: flag("hostname", None, Form::Text),
        quadlet: Some(("HostName", Form::Text)),
        resource: false,
        redact: None,
        apply: |s, v| {
            let h = v.text("Hostname")?;
            check_hostname(h)?;
            s.hostname = Some(h.into());
            Ok(())
        },
    },
    OptionDef {
        key: "Notify",
        sig: Sig::Bool,
        doc: "true: the container sends READY=1 itself; false (default): ready once started",
        flag: flag("notify", None, Form::Flag),
        quadlet: Some(("Notify", Form::Flag)),
        resource: false,
        redact: None,
        apply: |s, v| {
            s.notify = v.boolean("Notify")?;
            Ok(())
        },
    },
    OptionDef {
        key: "StopSignal",
        sig: Sig::Str,
        doc: "signal that stops the container, name or number (default SIGTERM)",
        flag: flag("stop-signal", None, Form::Text),
        quadlet: Some(("StopSignal", Form::Text)),
        resource: false,
        redact: None,
        apply: |s, v| {
            s.stop_signal = check_signal(parse_signal(v.text("StopSignal")?, "StopSignal")?, "StopSignal")?;
            Ok(())
        },
    },
    OptionDef {
        key: "StopTimeout",
        sig: Sig::U32,
        doc: "seconds between the stop signal and SIGKILL (default 10)",
        flag: flag("stop-timeout", None, Form::Number),
        quadlet: Some(("StopTimeout", Form::Number)),
        resource: false,
        redact: None,
        apply: |s, v| {
            let t = v.u32("StopTimeout")?;
            if t > STOP_TIMEOUT_MAX {
                return Err(Error::invalid("StopTimeout", format!("{t} is more than {STOP_TIMEOUT_MAX} seconds")));
            }
            s.stop_timeout = t;
            Ok(())
        },
    },
    OptionDef {
        key: "StartTimeout",
        sig: Sig::U32,
        doc: "seconds the container has to become ready before start fails (default 90)",
        flag: flag("start-timeout", None, Form::Number),
        quadlet: None,
        resource: false,
        redact: None,
        apply: |s, v| {
            let t = v.u32("StartTimeout")?;
            if t == 0 || t > STOP_TIMEOUT_MAX {
                return Err(Error::invalid("StartTimeout", format!("{t} is not in 1..{STOP_TIMEOUT_MAX} seconds")));
            }
            s.start_timeout = t;
            Ok(())
        },
    },
    OptionDef {
        key: "RestartPolicy",
        sig: Sig::Str,
        doc: "no (default), on-failure[:N], always or unless-stopped",
        flag: flag("restart", None, Form::Text),
        quadlet: None,
        resource: false,
        redact: None,
        apply: |s, v| {
            s.restart_policy = RestartPolicy::parse(v.text("RestartPolicy")?)?;
            Ok(())
        },
    },
    OptionDef {
        key: "Dependencies",
        sig: Sig::StrList,
        doc: "names of containers that must run first",
        flag: flag("requires", None, Form::Commas),
        quadlet: None,
        resource: false,
        redact: None,
        apply: |s, v| {
            let mut deps: Vec<ContainerName> = Vec::new();
            for d in v.list("Dependencies")? {
                ContainerName::check(d, "Dependencies")?;
                let d = ContainerName::new(d)?;
                if !deps.contains(&d) {
                    deps.push(d);
                }
            }
            s.dependencies = deps;
            Ok(())
        },
    },
    OptionDef {
        key: "Labels",
        sig: Sig::StrMap,
        doc: "free metadata, KEY=VALUE",
        flag: flag("label", Some('l'), Form::Pair),
        quadlet: Some(("Label", Form::Pair)),
        resource: false,
        redact: None,
        apply: |s, v| {
            s.labels = v.map("Labels")?.clone();
            Ok(())
        },
    },
    OptionDef {
        key: "Annotations",
        sig: Sig::StrMap,
        doc: "OCI annotations of the container's config.json, KEY=VALUE",
        flag: flag("annotation", None, Form::Pair),
        quadlet: Some(("Annotation", Form::Pair)),
        resource: false,
        redact: None,
        apply: |s, v| {
            s.annotations = v.map("Annotations")?.clone();
            Ok(())
        },
    },
    OptionDef {
        key: "Volumes",
        sig: Sig::StrList,
        doc: "bind mounts SRC:DST[:OPTS], named volumes NAME:DST[:OPTS] (made on first use) and anonymous volumes DST; OPTS: ro, rw, z, Z",
        flag: flag("volume", Some('v'), Form::Item),
        quadlet: Some(("Volume", Form::Item)),
        resource: false,
        redact: None,
        apply: |s, v| {
            s.volumes = v.list("Volumes")?.iter().map(|x| Volume::parse(x)).collect::<Result<_>>()?;
            Ok(())
        },
    },
    OptionDef {
        key: "Tmpfs",
        sig: Sig::StrList,
        doc: "tmpfs mounts DST[:OPTS] (podman's --tmpfs; rw,noexec,nosuid,nodev unless OPTS say otherwise)",
        flag: flag("tmpfs", None, Form::Item),
        quadlet: Some(("Tmpfs", Form::Item)),
        resource: false,
        redact: None,
        apply: |s, v| {
            s.tmpfs = v.list("Tmpfs")?.iter().map(|x| Tmpfs::parse(x)).collect::<Result<_>>()?;
            Ok(())
        },
    },
    OptionDef {
        key: "CapAdd",
        sig: Sig::StrList,
        doc: "capabilities added to the default set (NET_ADMIN or CAP_NET_ADMIN; ALL for every one)",
        flag: flag("cap-add", None, Form::Item),
        quadlet: Some(("AddCapability", Form::ItemWords)),
        resource: false,
        redact: None,
        apply: |s, v| {
            s.cap_add = v.list("CapAdd")?.iter().map(|c| parse_capability(c, "CapAdd")).collect::<Result<_>>()?;
            Ok(())
        },
    },
    OptionDef {
        key: "CapDrop",
        sig: Sig::StrList,
        doc: "capabilities dropped from the default set (ALL for every one; CapAdd then adds back)",
        flag: flag("cap-drop", None, Form::Item),
        quadlet: Some(("DropCapability", Form::ItemWords)),
        resource: false,
        redact: None,
        apply: |s, v| {
            s.cap_drop = v.list("CapDrop")?.iter().map(|c| parse_capability(c, "CapDrop")).collect::<Result<_>>()?;
            Ok(())
        },
    },
    OptionDef {
        key: "Sysctls",
        sig: Sig::StrMap,
        doc: "namespaced sysctls NAME=VALUE (kernel.msg*, kernel.sem, kernel.shm*, fs.mqueue.*, net.* without host network)",
        flag: flag("sysctl", None, Form::Pair),
        quadlet: Some(("Sysctl", Form::Pair)),
        resource: false,
        redact: None,
        apply: |s, v| {
            let m = v.map("Sysctls")?;
            m.keys().try_for_each(|k| check_sysctl(k))?;
            s.sysctls = m.clone();
            Ok(())
        },
    },
    OptionDef {
        key: "ShmSize",
        sig: Sig::U64,
        doc: "size of /dev/shm in bytes (default 64 MiB)",
        flag: flag("shm-size", None, Form::Size),
        quadlet: Some(("ShmSize", Form::Size)),
        resource: false,
        redact: None,
        apply: |s, v| {
            s.shm_size = Some(nonzero("ShmSize", v.u64("ShmSize")?)?);
            Ok(())
        },
    },
    OptionDef {
        key: "ReadOnly",
        sig: Sig::Bool,
        doc: "a read-only root file system",
        flag: flag("read-only", None, Form::Flag),
        quadlet: Some(("ReadOnly", Form::Flag)),
        resource: false,
        redact: None,
        apply: |s, v| {
            s.read_only = v.boolean("ReadOnly")?;
            Ok(())
        },
    },
    OptionDef {
        key: "ReadOnlyTmpfs",
        sig: Sig::Bool,
        doc: "with ReadOnly, tmpfs on /tmp, /var/tmp and /run (default true)",
        flag: flag("read-only-tmpfs", None, Form::Text),
        quadlet: Some(("ReadOnlyTmpfs", Form::Flag)),
        resource: false,
        redact: None,
        apply: |s, v| {
            s.read_only_tmpfs = v.boolean("ReadOnlyTmpfs")?;
            Ok(())
        },
    },
    OptionDef {
        key: "NoNewPrivileges",
        sig: Sig::Bool,
        doc: "set no_new_privs: setuid programs and file capabilities grant nothing (default true)",
        flag: flag("no-new-privileges", None, Form::Text),
        quadlet: Some(("NoNewPrivileges", Form::Flag)),
        resource: false,
        redact: None,
        apply: |s, v| {
            s.no_new_privileges = v.boolean("NoNewPrivileges")?;
            Ok(())
        },
    },
    OptionDef {
        key: "Timezone",
        sig: Sig::Str,
        doc: "the container's time zone: local (the host's) or a name like Europe/Berlin, bound on /etc/localtime",
        flag: flag("tz", None, Form::Text),
        quadlet: Some(("Timezone", Form::Text)),
        resource: false,
        redact: None,
        apply: |s, v| {
            let tz = v.text("Timezone")?;
            crate::model::check_timezone(tz)?;
            s.timezone = Some(tz.to_string());
            Ok(())
        },
    },
    OptionDef {
        key: "Ulimits",
        sig: Sig::StrList,
        doc: "resource limits NAME=SOFT[:HARD] (nofile=1024:2048; -1 for unlimited); others are the unit's",
        flag: flag("ulimit", None, Form::Item),
        quadlet: Some(("Ulimit", Form::Item)),
        resource: false,
        redact: None,
        apply: |s, v| {
            s.ulimits = v.list("Ulimits")?.iter().map(|u| crate::model::Ulimit::parse(u)).collect::<Result<_>>()?;
            Ok(())
        },
    },
    OptionDef {
        key: "Devices",
        sig: Sig::StrList,
        doc: "host device nodes HOST[:CONTAINER][:PERMISSIONS] (/dev/fuse, /dev/sda:/dev/xvda:r); -HOST when optional",
        flag: flag("device", None, Form::Item),
        quadlet: Some(("AddDevice", Form::Item)),
        resource: false,
        redact: None,
        apply: |s, v| {
            s.devices = v.list("Devices")?.iter().map(|d| crate::model::Device::parse(d)).collect::<Result<_>>()?;
            Ok(())
        },
    },
    OptionDef {
        key: "Network",
        sig: Sig::Str,
        doc: "bridge (default: the network berth), none (lo only), host, or network names a,b",
        flag: flag("network", None, Form::Text),
        quadlet: Some(("Network", Form::Text)),
        resource: false,
        redact: None,
        apply: |s, v| {
            s.network = Network::parse(v.text("Network")?)?;
            Ok(())
        },
    },
    OptionDef {
        key: "Ports",
        sig: Sig::StrList,
        doc: "published ports, podman's -p forms: [[IP:][HOSTPORT]:]PORT[-END][/PROTO]",
        flag: flag("publish", Some('p'), Form::Item),
        quadlet: Some(("PublishPort", Form::Item)),
        resource: false,
        redact: None,
        apply: |s, v| {
            s.ports = parse_ports(v.list("Ports")?).map_err(|e| Error::invalid("Ports", e.to_string()))?;
            Ok(())
        },
    },
    OptionDef {
        key: "IP",
        sig: Sig::Str,
        doc: "a static address on the container's one network",
        flag: flag("ip", None, Form::Text),
        quadlet: Some(("IP", Form::Text)),
        resource: false,
        redact: None,
        apply: |s, v| {
            let ip = v.text("IP")?;
            s.ip = Some(ip.parse().map_err(|_| Error::invalid("IP", format!("{ip:?} is not an IP address")))?);
            Ok(())
        },
    },
    OptionDef {
        key: "NetworkAliases",
        sig: Sig::StrList,
        doc: "more DNS names of the container on its networks",
        flag: flag("network-alias", None, Form::Item),
        quadlet: Some(("NetworkAlias", Form::Item)),
        resource: false,
        redact: None,
        apply: |s, v| {
            let aliases = v.list("NetworkAliases")?;
            aliases.iter().try_for_each(|a| check_network_name(a, "NetworkAliases"))?;
            s.network_aliases = aliases.to_vec();
            Ok(())
        },
    },
    OptionDef {
        key: "DNS",
        sig: Sig::StrList,
        doc: "DNS server addresses",
        flag: flag("dns", None, Form::Item),
        quadlet: Some(("DNS", Form::Item)),
        resource: false,
        redact: None,
        apply: |s, v| {
            s.dns = v
                .list("DNS")?
                .iter()
                .map(|a| a.parse().map_err(|_| Error::invalid("DNS", format!("{a:?} is not an IP address"))))
                .collect::<Result<_>>()?;
            Ok(())
        },
    },
    OptionDef {
        key: "DNSSearch",
        sig: Sig::StrList,
        doc: "DNS search domains (. for none)",
        flag: flag("dns-search", None, Form::Item),
        quadlet: Some(("DNSSearch", Form::Item)),
        resource: false,
        redact: None,
        apply: |s, v| {
            let domains = v.list("DNSSearch")?;
            for d in domains {
                if d.is_empty() || d.bytes().any(|b| b.is_ascii_whitespace() || b == b'#' || b == 0) {
                    return Err(Error::invalid("DNSSearch", format!("{d:?} is not a domain")));
                }
            }
            s.dns_search = domains.to_vec();
            Ok(())
        },
    },
    OptionDef {
        key: "Hosts",
        sig: Sig::StrList,
        doc: "extra /etc/hosts lines NAME[;NAME...]:IP (IP may be host-gateway)",
        flag: flag("add-host", None, Form::Item),
        quadlet: Some(("AddHost", Form::Item)),
        resource: false,
        redact: None,
        apply: |s, v| {
            let hosts = v.list("Hosts")?;
            for h in hosts {
                parse_host_entry(h).map_err(|m| Error::invalid("Hosts", format!("{h:?}: {m}")))?;
            }
            s.hosts = hosts.to_vec();
            Ok(())
        },
    },
    OptionDef {
        key: "Runtime",
        sig: Sig::Str,
        doc: "crun (default), runc, or an absolute path to an OCI runtime",
        flag: flag("runtime", None, Form::Text),
        quadlet: Some(("Runtime", Form::Text)),
        resource: false,
        redact: None,
        apply: |s, v| {
            s.runtime = RuntimeKind::parse(v.text("Runtime")?)?;
            Ok(())
        },
    },
    OptionDef {
        key: "Terminal",
        sig: Sig::Bool,
        doc: "a pseudo-terminal for the container (output to the journal as stdout; AttachResize sets its size)",
        flag: flag("tty", Some('t'), Form::Flag),
        quadlet: None,
        resource: false,
        redact: None,
        apply: |s, v| {
            s.terminal = v.boolean("Terminal")?;
            Ok(())
        },
    },
    OptionDef {
        key: "Interactive",
        sig: Sig::Bool,
        doc: "keep the container's stdin open for Attach (default: /dev/null)",
        flag: flag("interactive", Some('i'), Form::Flag),
        quadlet: None,
        resource: false,
        redact: None,
        apply: |s, v| {
            s.interactive = v.boolean("Interactive")?;
            Ok(())
        },
    },
    OptionDef {
        key: "HealthCmd",
        sig: Sig::Str,
        doc: "health check run in the container: a shell line, a JSON array (exec form), or none",
        flag: flag("health-cmd", None, Form::Text),
        quadlet: Some(("HealthCmd", Form::Text)),
        resource: false,
        redact: None,
        apply: |s, v| {
            match health::parse_health_cmd(v.text("HealthCmd")?)? {
                Some(argv) => s.health.get_or_insert_with(Default::default).command = argv,
                None => s.health = None,
            }
            Ok(())
        },
    },
    OptionDef {
        key: "HealthInterval",
        sig: Sig::Str,
        doc: "time between health checks, e.g. 30s (default), or disable",
        flag: flag("health-interval", None, Form::Text),
        quadlet: Some(("HealthInterval", Form::Text)),
        resource: false,
        redact: None,
        apply: |s, v| {
            s.health.get_or_insert_with(Default::default).interval_usec = health::parse_interval(v.text("HealthInterval")?)?;
            Ok(())
        },
    },
    OptionDef {
        key: "HealthTimeout",
        sig: Sig::Str,
        doc: "a health check running longer fails (default 30s)",
        flag: flag("health-timeout", None, Form::Text),
        quadlet: Some(("HealthTimeout", Form::Text)),
        resource: false,
        redact: None,
        apply: |s, v| {
            s.health.get_or_insert_with(Default::default).timeout_usec = health::parse_timeout(v.text("HealthTimeout")?)?;
            Ok(())
        },
    },
    OptionDef {
        key: "HealthRetries",
        sig: Sig::U32,
        doc: "failed health checks in a row that make the container unhealthy (default 3)",
        flag: flag("health-retries", None, Form::Number),
        quadlet: Some(("HealthRetries", Form::Number)),
        resource: false,
        redact: None,
        apply: |s, v| {
            s.health.get_or_insert_with(Default::default).retries = nonzero("HealthRetries", v.u32("HealthRetries")?.into())? as u32;
            Ok(())
        },
    },
    OptionDef {
        key: "HealthStartPeriod",
        sig: Sig::Str,
        doc: "failed health checks in this time after start do not count (default 0s)",
        flag: flag("health-start-period", None, Form::Text),
        quadlet: Some(("HealthStartPeriod", Form::Text)),
        resource: false,
        redact: None,
        apply: |s, v| {
            let u = health::parse_duration_usec(v.text("HealthStartPeriod")?, "HealthStartPeriod")?;
            s.health.get_or_insert_with(Default::default).start_period_usec = u;
            Ok(())
        },
    },
    OptionDef {
        key: "HealthOnFailure",
        sig: Sig::Str,
        doc: "what an unhealthy container gets: none (default), kill, restart or stop",
        flag: flag("health-on-failure", None, Form::Text),
        quadlet: Some(("HealthOnFailure", Form::Text)),
        resource: false,
        redact: None,
        apply: |s, v| {
            s.health.get_or_insert_with(Default::default).on_failure = HealthOnFailure::parse(v.text("HealthOnFailure")?)?;
            Ok(())
        },
    },
    OptionDef {
        key: "NotifyHealthy",
        sig: Sig::Bool,
        doc: "true: the container is ready (Start returns) once its first health check passes (podman's --sdnotify=healthy)",
        flag: flag("notify-healthy", None, Form::Flag),
        // quadlet's form is Notify=healthy (see quadlet::container).
        quadlet: None,
        resource: false,
        redact: None,
        apply: |s, v| {
            s.notify_healthy = v.boolean("NotifyHealthy")?;
            Ok(())
        },
    },
    OptionDef {
        key: "MemoryMax",
        sig: Sig::U64,
        doc: "memory limit in bytes (systemd's MemoryMax=)",
        flag: flag("memory", Some('m'), Form::Size),
        quadlet: Some(("Memory", Form::Size)),
        resource: true,
        redact: None,
        apply: |s, v| {
            s.resources.memory_max = Some(nonzero("MemoryMax", v.u64("MemoryMax")?)?);
            Ok(())
        },
    },
    OptionDef {
        key: "TasksMax",
        sig: Sig::U64,
        doc: "most processes and threads (systemd's TasksMax=)",
        flag: flag("pids-limit", None, Form::Number),
        quadlet: Some(("PidsLimit", Form::Number)),
        resource: true,
        redact: None,
        apply: |s, v| {
            s.resources.tasks_max = Some(nonzero("TasksMax", v.u64("TasksMax")?)?);
            Ok(())
        },
    },
    OptionDef {
        key: "CPUWeight",
        sig: Sig::U64,
        doc: "CPU weight, 1 to 10000 (systemd's CPUWeight=)",
        flag: flag("cpu-weight", None, Form::Number),
        quadlet: None,
        resource: true,
        redact: None,
        apply: |s, v| {
            let w = v.u64("CPUWeight")?;
            if !(1..=10_000).contains(&w) {
                return Err(Error::invalid("CPUWeight", format!("{w} is not in 1..10000")));
            }
            s.resources.cpu_weight = Some(w);
            Ok(())
        },
    },
    OptionDef {
        key: "CPUQuota",
        sig: Sig::U32,
        doc: "percent of one CPU (systemd's CPUQuota=)",
        flag: flag("cpus", None, Form::Cpus),
        quadlet: None,
        resource: true,
        redact: None,
        apply: |s, v| {
            s.resources.cpu_quota = Some(nonzero("CPUQuota", v.u32("CPUQuota")?.into())? as u32);
            Ok(())
        },
    },
];

fn nonzero(key: &str, n: u64) -> Result<u64> {
    if n == 0 {
        Err(Error::invalid(key, "must be greater than 0"))
    } else {
        Ok(n)
    }
}

fn wrong_type(key: &str, want: Sig, got: &OptionValue) -> Error {
    Error::invalid(key, format!("wrong type: expected '{}', got '{}'", want.as_str(), got.signature()))
}

impl OptionValue {
    fn text(&self, key: &str) -> Result<&str> {
        match self {
            OptionValue::Str(s) => Ok(s),
            v => Err(wrong_type(key, Sig::Str, v)),
        }
    }
    fn list(&self, key: &str) -> Result<&[String]> {
        match self {
            OptionValue::StrList(l) => Ok(l),
            v => Err(wrong_type(key, Sig::StrList, v)),
        }
    }
    fn boolean(&self, key: &str) -> Result<bool> {
        match self {
            OptionValue::Bool(b) => Ok(*b),
            v => Err(wrong_type(key, Sig::Bool, v)),
        }
    }
    fn u32(&self, key: &str) -> Result<u32> {
        match self {
            OptionValue::U32(n) => Ok(*n),
            v => Err(wrong_type(key, Sig::U32, v)),
        }
    }
    fn u64(&self, key: &str) -> Result<u64> {
        match self {
            OptionValue::U64(n) => Ok(*n),
            v => Err(wrong_type(key, Sig::U64, v)),
        }
    }
    fn map(&self, key: &str) -> Result<&BTreeMap<String, String>> {
        match self {
            OptionValue::StrMap(m) => {
                for (k, val) in m {
                    if k.is_empty() {
                        return Err(Error::invalid(key, "an entry needs a name"));
                    }
                    no_nul(key, k)?;
                    no_nul(key, val)?;
                }
                Ok(m)
            }
            v => Err(wrong_type(key, Sig::StrMap, v)),
        }
    }
}

/// The definition of `key`, or InvalidArgument listing the known keys.
pub fn option(key: &str) -> Result<&'static OptionDef> {
    OPTIONS.iter().find(|d| d.key == key).ok_or_else(|| {
        let known: Vec<&str> = OPTIONS.iter().map(|d| d.key).collect();
        Error::invalid(key, format!("unknown option (known: {})", known.join(", ")))
    })
}

impl OptionDef {
    /// Check the value's type and content, and set it on `spec`.
    pub fn set(&self, spec: &mut ContainerSpec, value: &OptionValue) -> Result<()> {
        if value.sig() != self.sig {
            return Err(wrong_type(self.key, self.sig, value));
        }
        (self.apply)(spec, value)
    }
}

/// Validate one option alone: what a C setter or a `.container` line does
/// before the whole set is known.
pub fn validate_option(key: &str, value: &OptionValue) -> Result<()> {
    option(key)?.set(&mut ContainerSpec::default(), value)
}

/// The option keys of the `.container` `[Container]` section.
pub fn quadlet_option(quadlet_key: &str) -> Option<(&'static OptionDef, Form)> {
    OPTIONS.iter().find_map(|d| d.quadlet.filter(|(k, _)| *k == quadlet_key).map(|(_, f)| (d, f)))
}

/// The README's option list: `| key | type | meaning |` rows.
pub fn markdown_table() -> String {
    let mut s = String::from("| key | type | meaning |\n|---|---|---|\n");
    for d in &OPTIONS {
        let update = if d.resource { "; also for UpdateContainer" } else { "" };
        s.push_str(&format!("| {} | {} | {}{update} |\n", d.key, d.sig.as_str(), d.doc));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_unique_and_named_like_systemd_properties() {
        for (i, d) in OPTIONS.iter().enumerate() {
            assert!(OPTIONS[i + 1..].iter().all(|o| o.key != d.key), "{} twice", d.key);
            assert!(d.key.chars().next().unwrap().is_ascii_uppercase(), "{}", d.key);
            assert!(!d.doc.is_empty());
        }
    }

    #[test]
    fn one_key_validates_alone() {
        assert!(validate_option("StopSignal", &OptionValue::Str("INT".into())).is_ok());
        let e = validate_option("StopSignal", &OptionValue::Str("BOGUS".into())).unwrap_err();
        assert_eq!(e.key(), Some("StopSignal"));
        let e = validate_option("StopSignal", &OptionValue::U32(2)).unwrap_err();
        assert_eq!(e.to_string(), "invalid argument StopSignal: wrong type: expected 's', got 'u'");
        let e = validate_option("Bogus", &OptionValue::Bool(true)).unwrap_err();
        assert!(e.to_string().contains("unknown option (known: Image, Rootfs, Command, Entrypoint,"), "{e}");
    }

    #[test]
    fn the_readme_lists_every_option() {
        let readme = include_str!("../../README.md");
        let start = readme.find("<!-- options -->\n").expect("README has an options block") + "<!-- options -->\n".len();
        let end = readme[start..].find("<!-- /options -->").expect("the block ends") + start;
        if std::env::var_os("BERTH_BLESS").is_some() {
            let path = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
            std::fs::write(path, format!("{}{}{}", &readme[..start], markdown_table(), &readme[end..])).unwrap();
            return;
        }
        assert_eq!(&readme[start..end], markdown_table(), "README's option table is not the table's; rewrite it with BERTH_BLESS=1");
    }

    #[test]
    fn argv_values() {
        assert_eq!(parse_argv("", "E").unwrap(), Vec::<String>::new());
        assert_eq!(parse_argv("/bin/sh", "E").unwrap(), ["/bin/sh"]);
        assert_eq!(parse_argv(r#"["/bin/sh", "-c"]"#, "E").unwrap(), ["/bin/sh", "-c"]);
        assert_eq!(parse_argv("[1]", "E").unwrap_err().key(), Some("E"));
        let mut s = ContainerSpec::default();
        option("Entrypoint").unwrap().set(&mut s, &OptionValue::StrList(vec![String::new()])).unwrap();
        assert_eq!(s.entrypoint, Some(vec![]), "podman's --entrypoint '' clears");
    }

    #[test]
    fn quadlet_keys_find_their_option() {
        assert_eq!(quadlet_option("Exec").unwrap().0.key, "Command");
        assert_eq!(quadlet_option("HostName").unwrap().0.key, "Hostname");
        assert_eq!(quadlet_option("Image").unwrap().0.key, "Image");
        assert!(quadlet_option("Bogus").is_none());
    }
}
