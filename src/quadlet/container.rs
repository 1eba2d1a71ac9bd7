//! `[Container]` keys onto the `CreateContainer` option map. Most keys come
//! from the option table ([`crate::model::OPTIONS`], its `quadlet` column);
//! the few that combine or read files are handled here. Each line is
//! validated alone as it is read, so that an error names its line, and the
//! whole map by the same [`ContainerSpec::from_options`] as a D-Bus call.

use super::parse::{parse_bool, split_words, At, Entry, UnitFile};
use super::{is_secret_key, quote, Error, Errors};
use crate::model::specifier;
use crate::model::options::quadlet_option;
use crate::model::{self, validate_option, ContainerName, ContainerSpec, EnvFile, Form, OptionValue, StartEnv, OPTIONS};
use std::collections::BTreeMap;
use std::path::Path;

/// `[Container]` keys that are not one option each.
const SPECIAL_KEYS: [&str; 5] = ["EnvironmentFile", "User", "Group", "ContainerName", "Mount"];

/// Every supported `[Container]` key (podman quadlet's names).
pub fn keys() -> &'static [&'static str] {
    static KEYS: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| OPTIONS.iter().filter_map(|d| d.quadlet.map(|(k, _)| k)).chain(SPECIAL_KEYS).collect())
}

const SECTIONS: [&str; 5] = ["Unit", "Container", "Service", "Install", "Quadlet"];

/// podman quadlet's `[Container]` keys that berth does not implement: each
/// is an error naming it, never a silent skip.
const PODMAN_ONLY: [&str; 34] = [
    "AutoUpdate", "CgroupsMode", "ContainersConfModule", "DNSOption", "EnvironmentHost", "ExposeHostPort",
    "GIDMap", "GlobalArgs", "GroupAdd", "IP6", "LogDriver", "LogOpt", "Mask", "Pod", "PodmanArgs", "Pull",
    "ReloadCmd", "ReloadSignal", "Retry", "RetryDelay", "RunInit", "SeccompProfile", "Secret",
    "SecurityLabelDisable", "SecurityLabelFileType", "SecurityLabelLevel", "SecurityLabelNested",
    "SecurityLabelType", "StartWithPod", "SubGIDMap", "SubUIDMap", "UIDMap", "Unmask", "UserNS",
];

/// `[Service]` keys that would break the unit berth writes.
fn service_key_error(key: &str) -> Option<&'static str> {
    Some(match key {
        "User" | "Group" | "DynamicUser" => {
            "the unit runs berth-monitor, which needs root; set User= (and Group=) in [Container] to run the container as a user"
        }
        "ExecStart" => "berth writes the unit's ExecStart= (the container's own command is Exec= in [Container])",
        "KillSignal" => "berth's monitor takes the kill signal and stops the container with StopSignal=; set StopSignal= in [Container]",
        "Type" | "NotifyAccess" => "berth sets it; use Notify= in [Container] for readiness",
        _ => return None,
    })
}

/// A `.container` file, parsed and validated.
#[derive(Debug, Clone)]
pub struct Container {
    /// The unit's name without `.service`: `web` for `web.container`,
    /// `web@` for the template `web@.container`.
    pub unit: String,
    /// The container's name; for a template, the name of an instance `x`.
    pub name: ContainerName,
    /// A template's container name as its unit spells it, for systemd to
    /// expand when it starts an instance: `web_%i` (podman's
    /// `systemd-%p_%i` without the prefix berth never adds).
    pub name_pattern: Option<String>,
    /// What the container takes from its unit when it starts.
    pub start: StartEnv,
    /// See [`quadlet_id`].
    pub id: String,
    pub spec: ContainerSpec,
    pub file: UnitFile,
    /// `[Quadlet] DefaultDependencies=` (default yes): the unit wants and
    /// follows network-online.target, as podman quadlet makes it.
    pub default_dependencies: bool,
}

/// The id of a file-defined container: the same on every boot and every
/// daemon-reload, so its runtime state and journal fields stay its own.
pub fn quadlet_id(name: &ContainerName) -> String {
    crate::runtime::spec_run::file_defined_id(name)
}

/// Largest `.container` file read.
pub const MAX_FILE_SIZE: u64 = 8 << 20;

impl Container {
    pub fn load(path: &Path) -> Result<Self, Errors> {
        let text = crate::fsutil::regular_file(path, MAX_FILE_SIZE).map_err(|e| Error::file(path, e))?;
        Self::from_file(super::parse(path, &text)?)
    }

    /// Map and check every entry; all errors of the file are reported.
    pub fn from_file(file: UnitFile) -> Result<Self, Errors> {
        let mut errors = Vec::new();
        for s in file.sections.iter().filter(|s| !SECTIONS.contains(&s.name.as_str())) {
            let m = format!("unknown section [{}] (a .container file has [Unit], [Container], [Service], [Install], [Quadlet])", quote(&s.name).trim_matches('"'));
            errors.push(file.error_at(&(s.source.clone(), s.line), m));
        }
        for e in file.entries("Service") {
            if let Some(why) = service_key_error(&e.key) {
                errors.push(file.error_at(&e.at(), format!("{}= in [Service] is not supported: {why}", e.key)));
            }
        }
        let mut default_dependencies = true;
        for e in file.entries("Quadlet") {
            match (e.key.as_str(), parse_bool(&e.value)) {
                ("DefaultDependencies", Some(b)) => default_dependencies = b,
                ("DefaultDependencies", None) => errors.push(file.error_at(&e.at(), format!("DefaultDependencies: {} is not a boolean", quote(&e.value)))),
                (k, _) => errors.push(file.error_at(&e.at(), format!("unknown key {}= in [Quadlet] (supported: DefaultDependencies)", quote(k).trim_matches('"')))),
            }
        }
        let unit = unit_name(&file.path)?;
        let header = file.section_line("Container").ok_or_else(|| Error::file(&file.path, "no [Container] section"))?;
        let dir = file.path.parent().unwrap_or(Path::new("/"));
        let mut m = Mapper::default();
        for e in file.entries("Container") {
            if let Err(msg) = m.entry(e, &unit, dir) {
                errors.push(file.error_at(&e.at(), msg));
            }
        }
        let (prefix, instance) = specifier::parts(&unit);
        let default = match instance {
            Some(i) => format!("{prefix}_{}", if i.is_empty() { "%i" } else { i }),
            None => unit.clone(),
        };
        let name_pattern = specifier::is_template(&unit).then(|| m.name.clone().unwrap_or(default.clone()));
        let name = match (&m.name, &name_pattern) {
            (_, Some(p)) => ContainerName::new(&template_name(p, "x")).map_err(|e| Error::file(&file.path, message(e)))?,
            (Some(n), None) => ContainerName::new(n).map_err(|e| Error::file(&file.path, message(e)))?,
            (None, None) => ContainerName::new(&default).map_err(|e| {
                Error::file(&file.path, format!("{}; set ContainerName=", message(e)))
            })?,
        };
        // The checks across keys would only repeat what is already wrong.
        if !errors.is_empty() {
            errors.sort_by(|a, b| (&a.path != &file.path, &a.path, a.line).cmp(&(&b.path != &file.path, &b.path, b.line)));
            return Err(Errors(errors));
        }
        let start = StartEnv { env_files: std::mem::take(&mut m.env_files), inherit: std::mem::take(&mut m.inherit), expand: false };
        let spec = m.finish(&file, header)?;
        let start = StartEnv { expand: needs_expansion(&spec), ..start };
        Ok(Container { id: quadlet_id(&name), unit, name, name_pattern, start, spec, file, default_dependencies })
    }
}

/// `web` for `.../web.container`: the generated unit is `web.service`;
/// `web@` for the template `web@.container` (unit `web@.service`), and
/// `web@blue` for its instance `web@blue.container`.
pub(super) fn unit_name(path: &Path) -> Result<String, Errors> {
    let file_name = path.file_name().map(|f| f.to_string_lossy()).unwrap_or_default();
    let stem = file_name.strip_suffix(".container").unwrap_or_default();
    let bad = |m: &str| Err(Error::file(path, m).into());
    if stem.is_empty() {
        return bad("not a <name>.container file");
    }
    let (prefix, instance) = specifier::parts(stem);
    let valid = |s: &str| s.bytes().all(|b| b.is_ascii_alphanumeric() || b":_.-\\".contains(&b));
    if prefix.is_empty() || !valid(prefix) || !instance.is_none_or(valid) {
        return bad("the file name is not a valid unit name");
    }
    Ok(stem.to_string())
}

/// A template's container name for `instance`: `%i` and `%I` replaced, as
/// systemd does (the pattern holds no other specifier).
fn template_name(pattern: &str, instance: &str) -> String {
    pattern.replace("%%", "\0").replace("%i", instance).replace("%I", &specifier::unescape(instance)).replace("\0", "%")
}

/// Whether the environment or the command holds a `$` for the start to expand.
fn needs_expansion(spec: &ContainerSpec) -> bool {
    let words = spec.env.iter().chain(&spec.command).chain(spec.entrypoint.iter().flatten());
    words.into_iter().any(|w| w.contains('$'))
}

/// The message of a model error, without the option key the D-Bus API names.
fn message(e: model::Error) -> String {
    e.message_without_key()
}

/// Validate one option alone with the D-Bus API's own code.
fn probe(key: &str, value: &OptionValue) -> Result<(), String> {
    validate_option(key, value).map_err(message)
}

fn number(sig: crate::model::Sig, v: &str) -> Result<OptionValue, String> {
    let n: u64 = v.parse().map_err(|_| format!("{} is not a number", quote(v)))?;
    Ok(match sig {
        crate::model::Sig::U32 => OptionValue::U32(u32::try_from(n).map_err(|_| format!("{v} is too large"))?),
        _ => OptionValue::U64(n),
    })
}

fn boolean(v: &str) -> Result<OptionValue, String> {
    parse_bool(v).map(OptionValue::Bool).ok_or_else(|| format!("{v:?} is not a boolean (yes/no, true/false, on/off, 1/0)"))
}

/// An EnvironmentFile= path: relative to the .container file's directory;
/// a leading `-` makes a missing file no error, as in systemd. The file is
/// read when the container starts (as podman's `--env-file`), not here.
fn env_file(value: &str, dir: &Path) -> Result<EnvFile, String> {
    let (optional, p) = match value.strip_prefix('-') {
        Some(p) => (true, p),
        None => (false, value),
    };
    if p.is_empty() {
        return Err("names no file".into());
    }
    let path = if p.starts_with('/') { p.into() } else { host_path(&format!("./{p}"), dir) };
    Ok(EnvFile { path: path.into(), optional })
}

/// One value with podman's quotes removed and no specifier expanded.
fn one_raw(v: &str) -> String {
    let quoted = v.len() >= 2 && (v.starts_with('"') && v.ends_with('"') || v.starts_with('\'') && v.ends_with('\''));
    match split_words(v) {
        Ok(w) if quoted && w.len() == 1 => w[0].clone(),
        _ => v.to_string(),
    }
}

/// A host path of a `.container` file: podman takes one starting with `.`
/// relative to the file's directory.
fn host_path(src: &str, dir: &Path) -> String {
    if !src.starts_with('.') {
        return src.to_string();
    }
    let mut p = dir.to_path_buf();
    for c in Path::new(src).components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                p.pop();
            }
            c => p.push(c),
        }
    }
    p.to_string_lossy().into_owned()
}

/// Volume=: `./relative` sources are the file's directory's; `foo.volume`
/// names a podman `.volume` unit, which berth does not generate.
fn volume(v: &str, dir: &Path) -> Result<String, String> {
    let (src, rest) = match v.split_once(':') {
        Some((src, rest)) => (src, Some(rest)),
        None => return Ok(v.to_string()),
    };
    if let Some(name) = src.strip_suffix(".volume") {
        return Err(format!(
            "{}: berth does not support .volume units; name a volume instead ({name}:...), which berth makes on first use",
            quote(v)
        ));
    }
    let src = host_path(src, dir);
    Ok(match rest {
        Some(rest) => format!("{src}:{rest}"),
        None => src,
    })
}

/// Mount=: podman's `--mount type=bind|volume|tmpfs,...` as the Volume= or
/// Tmpfs= entry it is: (option key, entry).
fn mount(v: &str, dir: &Path) -> Result<(&'static str, String), String> {
    let (mut typ, mut src, mut dst, mut ro) = (None, None, None, false);
    let mut tmpfs_opts = Vec::new();
    for field in v.split(',') {
        let (k, val) = field.split_once('=').map_or((field, None), |(k, v)| (k, Some(v)));
        let need = || val.filter(|v| !v.is_empty()).ok_or_else(|| format!("{k} needs a value"));
        match k {
            "type" => typ = Some(need()?),
            "source" | "src" => src = Some(need()?),
            "destination" | "dst" | "target" => dst = Some(need()?),
            "ro" | "readonly" => ro = val.map_or(Some(true), parse_bool).ok_or_else(|| format!("{k}= is not a boolean"))?,
            "rw" => ro = !val.map_or(Some(true), parse_bool).ok_or_else(|| format!("{k}= is not a boolean"))?,
            "relabel" => {}
            "tmpfs-size" => tmpfs_opts.push(format!("size={}", need()?)),
            "tmpfs-mode" => tmpfs_opts.push(format!("mode={}", need()?)),
            _ => return Err(format!("unknown field {} (type, source, destination, ro, relabel, tmpfs-size, tmpfs-mode)", quote(k))),
        }
    }
    let dst = dst.ok_or("needs destination=")?;
    let ro_opt = if ro { ":ro" } else { "" };
    match typ.ok_or("needs type= (bind, volume or tmpfs)")? {
        "bind" => Ok(("Volumes", format!("{}:{dst}{ro_opt}", host_path(src.ok_or("a bind mount needs source=")?, dir)))),
        "volume" => Ok(("Volumes", match src {
            Some(src) => volume(&format!("{src}:{dst}{ro_opt}"), dir)?,
            None => format!("{dst}{ro_opt}"),
        })),
        "tmpfs" => {
            if ro {
                tmpfs_opts.push("ro".into());
            }
            let opts = if tmpfs_opts.is_empty() { String::new() } else { format!(":{}", tmpfs_opts.join(",")) };
            Ok(("Tmpfs", format!("{dst}{opts}")))
        }
        t => Err(format!("type {} is not supported (bind, volume or tmpfs)", quote(t))),
    }
}

/// The options read so far, and where each came from.
#[derive(Default)]
struct Mapper {
    /// Options by option key: value, [Container] key, line (the last
    /// line for keys that accumulate).
    single: BTreeMap<&'static str, (OptionValue, String, At)>,
    env_files: Vec<EnvFile>,
    /// Bare `Environment=NAME`.
    inherit: Vec<String>,
    user: Option<(String, At)>,
    group: Option<(String, At)>,
    name: Option<String>,
}

impl Mapper {
    fn entry(&mut self, e: &Entry, unit: &str, dir: &Path) -> Result<(), String> {
        let key = e.key.as_str();
        if key.starts_with("Health") && !keys().contains(&key) {
            return Err(format!("{key}=: berth does not support this health check setting"));
        }
        if PODMAN_ONLY.contains(&key) {
            return Err(format!("{key}= is a podman quadlet key that berth does not support"));
        }
        if !keys().contains(&key) {
            let key = quote(key);
            return Err(format!("unknown key {}= in [Container] (supported: {})", key.trim_matches('"'), keys().join(", ")));
        }
        self.value(e, unit, dir).map_err(|m| {
            // What a secret's value holds must not reach the logs: a model
            // error quotes the value; the syntax errors here do not.
            let safe = m.starts_with("unterminated quote") || m == "trailing backslash" || m.starts_with("specifier %")
                || m.starts_with("a lone %");
            if is_secret_key(key) && !safe && key != "EnvironmentFile" {
                format!("{key}: an entry is not KEY=VALUE or holds a NUL byte (the value is not shown: it may hold a secret)")
            } else {
                format!("{key}: {m}")
            }
        })
    }

    fn value(&mut self, e: &Entry, unit: &str, dir: &Path) -> Result<(), String> {
        let (key, v) = (e.key.as_str(), e.value.as_str());
        // An empty assignment resets the key, as in systemd.
        if v.is_empty() {
            self.reset(key);
            return Ok(());
        }
        // One value as podman reads it: a value that is one quoted word
        // (`ContainerName="web"`) loses its quotes.
        let one = || {
            let quoted = v.len() >= 2 && (v.starts_with('"') && v.ends_with('"') || v.starts_with('\'') && v.ends_with('\''));
            match split_words(v) {
                Ok(w) if quoted && w.len() == 1 => specifier::expand(&w[0], unit),
                _ => specifier::expand(v, unit),
            }
        };
        // systemd splits into words first, then expands each word.
        let words = || -> Result<Vec<String>, String> {
            split_words(v)?.iter().map(|w| specifier::expand(w, unit)).collect()
        };
        match key {
            "EnvironmentFile" => self.env_files.push(env_file(&one()?, dir)?),
            "Environment" => {
                let mut items = Vec::new();
                for w in words()? {
                    if w.contains('=') {
                        items.push(w);
                    } else if crate::runtime::start_env::is_env_name(&w) {
                        self.inherit.push(w);
                    } else {
                        return Err(format!("{} is neither NAME=VALUE nor a variable name to inherit", quote(&w)));
                    }
                }
                let value = self.append("Env", items);
                probe("Env", &value)?;
                self.single.insert("Env", (value, key.to_string(), e.at()));
            }
            "User" => {
                let u = one()?;
                probe("User", &OptionValue::Str(u.clone()))?;
                self.user = Some((u, e.at()));
            }
            "Group" => {
                let g = one()?;
                if g.contains(':') || g.chars().any(|c| c.is_whitespace() || c.is_control()) {
                    return Err(format!("{g:?} is not a group name or gid"));
                }
                self.group = Some((g, e.at()));
            }
            "ContainerName" if specifier::is_template(unit) => {
                // systemd expands the name when an instance starts: only
                // %i, %I and %% may stay in it.
                let raw = one_raw(v);
                let mut rest = raw.as_str();
                while let Some(i) = rest.find('%') {
                    match rest[i + 1..].chars().next() {
                        Some('i' | 'I' | '%') => rest = &rest[i + 2..],
                        _ => return Err("a template's ContainerName= takes no specifier but %i, %I and %%".into()),
                    }
                }
                ContainerName::check(&template_name(&raw, "x"), key).map_err(message)?;
                self.name = Some(raw);
            }
            "ContainerName" => {
                let n = one()?;
                ContainerName::check(&n, key).map_err(message)?;
                self.name = Some(n);
            }
            "Mount" => {
                let (option, item) = mount(&one()?, dir)?;
                let value = self.append(option, vec![item]);
                probe(option, &value)?;
                self.single.insert(option, (value, key.to_string(), e.at()));
            }
            // podman's Notify=healthy: ready once the first health check passes.
            "Notify" if one()? == "healthy" => {
                let value = OptionValue::Bool(true);
                probe("NotifyHealthy", &value)?;
                self.single.remove("Notify");
                self.single.insert("NotifyHealthy", (value, key.to_string(), e.at()));
            }
            "Notify" => {
                self.single.remove("NotifyHealthy");
                let value = boolean(v)?;
                probe("Notify", &value)?;
                self.single.insert("Notify", (value, key.to_string(), e.at()));
            }
            "Network" if one()?.split(',').any(|n| n.ends_with(".network")) => {
                return Err("berth does not support .network units; name a berth network (berthctl network create NAME)".into());
            }
            _ => {
                let (def, form) = quadlet_option(key).expect("keys() lists only table keys and special ones");
                let value = match form {
                    Form::Text | Form::Path => OptionValue::Str(one()?),
                    Form::Words => OptionValue::StrList(words()?),
                    Form::Flag => boolean(v)?,
                    Form::Number => number(def.sig, v)?,
                    Form::Item if key == "Volume" => self.append(def.key, vec![volume(&one()?, dir)?]),
                    Form::Item => self.append(def.key, vec![one()?]),
                    Form::ItemWords | Form::Commas => self.append(def.key, words()?),
                    Form::Pair => {
                        let mut m = match self.single.get(def.key) {
                            Some((OptionValue::StrMap(m), ..)) => m.clone(),
                            _ => BTreeMap::new(),
                        };
                        for w in words()? {
                            let (k, val) = w.split_once('=').ok_or_else(|| format!("{w:?} is not KEY=VALUE"))?;
                            m.insert(k.to_string(), val.to_string());
                        }
                        OptionValue::StrMap(m)
                    }
                    Form::Argv => OptionValue::StrList(crate::model::parse_argv(&one()?, def.key).map_err(message)?),
                    Form::Size => OptionValue::U64(crate::cli::parse_size(v, def.key).map_err(message)?),
                    Form::Cpus => return Err(format!("{key}= has no file form")),
                };
                probe(def.key, &value)?;
                self.single.insert(def.key, (value, key.to_string(), e.at()));
            }
        }
        Ok(())
    }

    /// The list a key holds so far with `items` appended.
    fn append(&self, option: &str, items: Vec<String>) -> OptionValue {
        let mut list = match self.single.get(option) {
            Some((OptionValue::StrList(l), ..)) => l.clone(),
            _ => Vec::new(),
        };
        list.extend(items);
        OptionValue::StrList(list)
    }

    fn reset(&mut self, key: &str) {
        match key {
            "EnvironmentFile" => self.env_files.clear(),
            "Environment" => {
                self.inherit.clear();
                self.single.remove("Env");
            }
            "User" => self.user = None,
            "Group" => self.group = None,
            "ContainerName" => self.name = None,
            _ => self.single.retain(|_, (_, k, _)| k != key),
        }
    }

    /// The whole option map, validated as one `CreateContainer` call.
    fn finish(self, file: &UnitFile, header: usize) -> Result<ContainerSpec, Errors> {
        // option key -> ([Container] key, line), to place an error.
        let mut origin: BTreeMap<&str, (String, At)> = BTreeMap::new();
        let mut opts: BTreeMap<String, OptionValue> = BTreeMap::new();
        for (opt, (value, key, line)) in self.single {
            opts.insert(opt.to_string(), value);
            origin.insert(opt, (key, line));
        }
        match (opts.contains_key("Image"), opts.contains_key("Rootfs")) {
            (false, false) => return Err(file.error(header, "[Container] has no Image= or Rootfs=").into()),
            (true, true) => {
                let at = origin.get("Rootfs").map_or((None, header), |(_, at)| at.clone());
                return Err(file.error_at(&at, "Rootfs: give either Image= or Rootfs=, not both").into());
            }
            (false, true) if !opts.contains_key("Command") && !opts.contains_key("Entrypoint") => {
                return Err(file.error(header, "[Container] has no Exec=").into());
            }
            _ => {}
        }
        match (self.user, self.group) {
            (None, Some((_, at))) => return Err(file.error_at(&at, "Group: needs User=").into()),
            (Some((u, line)), g) => {
                let user = match &g {
                    Some((g, _)) => format!("{u}:{g}"),
                    None => u,
                };
                opts.insert("User".into(), OptionValue::Str(user));
                origin.insert("User", g.map_or(("User".into(), line), |(_, l)| ("Group".into(), l)));
            }
            (None, None) => {}
        }
        ContainerSpec::from_options(&opts).map_err(|e| {
            let at = e.key().and_then(|k| origin.get(k).cloned());
            Errors::from(match at {
                Some((key, at)) => file.error_at(&at, format!("{key}: {}", message(e))),
                None => file.error(header, message(e)),
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Network, Volume};

    fn load(text: &str) -> Result<Container, Errors> {
        Container::from_file(super::super::parse(Path::new("/q/web.container"), text).unwrap())
    }

    fn err(text: &str) -> String {
        load(text).unwrap_err().to_string()
    }

    const BASE: &str = "[Container]\nRootfs=/srv/web\nExec=/bin/httpd -f\n";

    #[test]
    fn health_checks_and_notify_healthy() {
        let c = load(&format!(
            "{BASE}HealthCmd=test -e /ready\nHealthInterval=2s\nHealthRetries=2\nHealthOnFailure=restart\nNotify=healthy\n"
        ))
        .unwrap();
        let h = c.spec.health.as_ref().unwrap();
        assert_eq!(h.command, ["/bin/sh", "-c", "test -e /ready"]);
        assert_eq!((h.interval_usec, h.retries, h.on_failure), (2_000_000, 2, crate::model::HealthOnFailure::Restart));
        assert!(c.spec.notify_healthy && !c.spec.notify);
        // A later Notify= replaces it, as any single value.
        let c = load(&format!("{BASE}HealthCmd=true\nNotify=healthy\nNotify=yes\n")).unwrap();
        assert!(c.spec.notify && !c.spec.notify_healthy);
        let e = load(&format!("{BASE}Notify=healthy\n")).unwrap_err().to_string();
        assert!(e.contains("web.container:4: Notify") && e.contains("HealthCmd"), "{e}");
        let e = load(&format!("{BASE}HealthCmd=true\nHealthInterval=soon\n")).unwrap_err().to_string();
        assert!(e.contains("/q/web.container:5: HealthInterval"), "{e}");
    }

    #[test]
    fn minimal_file() {
        let c = load(BASE).unwrap();
        assert_eq!(c.unit, "web");
        assert_eq!(c.name.as_str(), "web");
        assert_eq!(c.spec.command, ["/bin/httpd", "-f"]);
        assert_eq!(c.id.len(), 64);
        assert_eq!(c.id, quadlet_id(&c.name));
        assert!(crate::model::validate_id(&c.id));
    }

    #[test]
    fn keys_map_onto_options() {
        let c = load(&format!(
            "{BASE}Environment=A=1 \"B=two words\"\nEnvironment=C=%N\nVolume=/data:/data:ro\nVolume=/logs:/var/log\n\
             WorkingDir=/srv\nUser=1000\nGroup=100\nNotify=yes\nContainerName=web-1\nLabel=a=1 b=2\n\
             StopSignal=SIGINT\nStopTimeout=30\nReadOnly=on\nNetwork=host\nHostName=web\nRuntime=runc\n"
        ))
        .unwrap();
        let s = &c.spec;
        assert_eq!(s.env, ["A=1", "B=two words", "C=web"]);
        assert_eq!(s.volumes[0], Volume { source: "/data".into(), destination: "/data".into(), read_only: true, volume: None, anonymous: false });
        assert_eq!(s.volumes.len(), 2);
        assert_eq!(s.user, Some((1000, 100)));
        assert!(s.notify && s.read_only);
        assert_eq!(c.name.as_str(), "web-1");
        assert_eq!(c.unit, "web");
        assert_eq!(s.labels.len(), 2);
        assert_eq!((s.stop_signal, s.stop_timeout), (2, 30));
        assert_eq!(s.network, Network::Host);
        assert_eq!(s.hostname.as_deref(), Some("web"));
        assert!(s.runtime.is_runc());
    }

    #[test]
    fn later_values_win_and_empty_resets() {
        let c = load(&format!("{BASE}Exec=/bin/true\nEnvironment=A=1\nEnvironment=\nEnvironment=B=2\nNotify=yes\nNotify=\n")).unwrap();
        assert_eq!(c.spec.command, ["/bin/true"]);
        assert_eq!(c.spec.env, ["B=2"]);
        assert!(!c.spec.notify);
    }

    #[test]
    fn errors_name_the_line() {
        let cases = [
            ("Image=docker.io/nginx\n", "/q/web.container:2: Rootfs: give either Image= or Rootfs=, not both"),
            ("StopSignal=SIGBOGUS\n", "/q/web.container:4: StopSignal: unknown signal \"SIGBOGUS\""),
            ("Notify=maybe\n", "/q/web.container:4: Notify: \"maybe\" is not a boolean (yes/no, true/false, on/off, 1/0)"),
            ("StopTimeout=10s\n", "/q/web.container:4: StopTimeout: \"10s\" is not a number"),
            ("Environment=A=1 NO-EQ\n", "/q/web.container:4: Environment: an entry is not KEY=VALUE or holds a NUL byte (the value is not shown: it may hold a secret)"),
            ("Environment=A='1\n", "/q/web.container:4: Environment: unterminated quote (')"),
            ("Volume=-data:/data\n", "/q/web.container:4: Volume: \"-data:/data\": a volume name must start with a letter or digit: \"-data\""),
            ("User=no body\n", "/q/web.container:4: User: \"no body\" is not user[:group] (names or numbers)"),
            ("Group=100\n", "/q/web.container:4: Group: needs User="),
            ("Label=novalue\n", "/q/web.container:4: Label: \"novalue\" is not KEY=VALUE"),
            ("Exec=/bin/sh '-c\n", "/q/web.container:4: Exec: unterminated quote (')"),
            ("Rootfs=%i\n", "/q/web.container:4: Rootfs: specifier %i is not supported here (only %n %N %p %i %I %h %u %U %g %G %t %S %C %L %E %T %V and %%)"),
            ("ContainerName=-x\n", "/q/web.container:4: ContainerName: a container name must start with a letter or digit: \"-x\""),
        ];
        for (extra, want) in cases {
            assert_eq!(err(&format!("{BASE}{extra}")), want, "{extra}");
        }
        assert!(err(&format!("{BASE}Bogus=1\n")).starts_with("/q/web.container:4: unknown key Bogus= in [Container] (supported: Image, Rootfs, Exec,"));
        assert_eq!(err("[Container]\nRootfs=/r\n"), "/q/web.container:1: [Container] has no Exec=");
        assert_eq!(err("\n[Container]\nExec=/x\n"), "/q/web.container:2: [Container] has no Image= or Rootfs=");
        assert_eq!(err("[Unit]\n"), "/q/web.container: no [Container] section");
        assert_eq!(err(&format!("{BASE}[Pod]\n")), "/q/web.container:4: unknown section [Pod] (a .container file has [Unit], [Container], [Service], [Install], [Quadlet])");
    }

    #[test]
    fn images_need_no_exec() {
        let c = load("[Container]\nImage=localhost/web:1\nEntrypoint=[\"/bin/sh\", \"-c\"]\nExec=echo hi\nUser=web\nGroup=wheel\nVolume=data:/data:Z\n").unwrap();
        assert_eq!(c.spec.image.as_deref(), Some("localhost/web:1"));
        assert_eq!(c.spec.entrypoint.as_deref(), Some(&["/bin/sh".to_string(), "-c".into()][..]));
        assert_eq!(c.spec.command, ["echo", "hi"]);
        assert_eq!(c.spec.user_name.as_deref(), Some("web:wheel"));
        assert_eq!(c.spec.volumes[0].volume.as_deref(), Some("data"));
        assert!(load("[Container]\nImage=web\n").unwrap().spec.command.is_empty());
        let e = err("[Container]\nImage=web\nEntrypoint=[\"sh\"\n");
        assert!(e.starts_with("/q/web.container:3: Entrypoint: \"[\\\"sh\\\"\" is not a JSON array of strings"), "{e}");
    }

    #[test]
    fn file_names_become_unit_names() {
        let f = |p: &str| Container::from_file(super::super::parse(Path::new(p), BASE).unwrap());
        assert_eq!(f("/q/a.b.container").unwrap().unit, "a.b");
        assert_eq!(f("/q/x@.container").unwrap().unit, "x@");
        assert_eq!(f("/q/@x.container").unwrap_err()[0].message, "the file name is not a valid unit name");
        let e = f("/q/_x.container").unwrap_err().to_string();
        assert_eq!(e, "/q/_x.container: a container name must start with a letter or digit: \"_x\"; set ContainerName=");
    }

    #[test]
    fn env_files_are_named_relative_to_the_file_and_read_at_start() {
        let c = load(&format!("{BASE}Environment=A=env\nEnvironmentFile=web.env\nEnvironmentFile=-../x/missing.env\nEnvironmentFile=/etc/abs.env\n")).unwrap();
        // Not read here: the file need not exist yet.
        assert_eq!(c.spec.env, ["A=env"]);
        let files: Vec<(String, bool)> = c.start.env_files.iter().map(|f| (f.path.display().to_string(), f.optional)).collect();
        assert_eq!(files, [("/q/web.env".to_string(), false), ("/x/missing.env".into(), true), ("/etc/abs.env".into(), false)]);
        assert_eq!(err(&format!("{BASE}EnvironmentFile=-\n")), "/q/web.container:4: EnvironmentFile: names no file");
    }

    #[test]
    fn bare_names_inherit_and_dollars_wait_for_the_start() {
        let c = load(&format!("{BASE}Environment=A=1 HOME B=${{HOME}}/x\n")).unwrap();
        assert_eq!(c.spec.env, ["A=1", "B=${HOME}/x"]);
        assert_eq!(c.start.inherit, ["HOME"]);
        assert!(c.start.expand);
        assert!(!load(BASE).unwrap().start.expand);
        assert!(load("[Container]\nRootfs=/r\nExec=/bin/echo $HOME\n").unwrap().start.expand);
        assert_eq!(err(&format!("{BASE}Environment=1BAD\n")), "/q/web.container:4: Environment: an entry is not KEY=VALUE or holds a NUL byte (the value is not shown: it may hold a secret)");
    }

    #[test]
    fn templates_name_each_instance() {
        let f = |p: &str, extra: &str| Container::from_file(super::super::parse(Path::new(p), &format!("{BASE}{extra}")).unwrap());
        let t = f("/q/web@.container", "").unwrap();
        assert_eq!((t.unit.as_str(), t.name_pattern.as_deref()), ("web@", Some("web_%i")));
        let t = f("/q/web@.container", "ContainerName=\"app-%i\"\n").unwrap();
        assert_eq!(t.name_pattern.as_deref(), Some("app-%i"));
        let e = f("/q/web@.container", "ContainerName=app-%n\n").unwrap_err().to_string();
        assert_eq!(e, "/q/web@.container:4: ContainerName: a template's ContainerName= takes no specifier but %i, %I and %%");
        // A template's other values keep %i for the start (berth-monitor's --instance).
        let t = f("/q/web@.container", "Environment=I=%i P=100%%\nVolume=/srv/%I:/data\n").unwrap();
        assert_eq!((&t.spec.env[..], t.spec.volumes[0].source.to_str()), (&["I=%i".to_string(), "P=100%%".into()][..], Some("/srv/%I")));
        // An instance's file knows its instance.
        let i = f("/q/web@blue.container", "Environment=I=%i\n").unwrap();
        assert_eq!((i.name.as_str(), i.name_pattern.as_deref(), &i.spec.env[..]), ("web_blue", None, &["I=blue".to_string()][..]));
    }

    #[test]
    fn every_bad_line_is_reported_and_secrets_are_not() {
        let e = load(&format!("{BASE}Notify=maybe\nEnvironment=PASSWORD-x\nBogus=1\n[Pod]\n")).unwrap_err();
        let lines: Vec<Option<usize>> = e.iter().map(|e| e.line).collect();
        assert_eq!(lines, [Some(4), Some(5), Some(6), Some(7)], "{e}");
        assert!(!e.to_string().contains("PASSWORD"), "{e}");
    }

    #[test]
    fn volume_and_mount_forms() {
        let c = load(&format!(
            "{BASE}Volume=./data:/data:Z\nVolume=../shared:/shared:ro,z\nVolume=cache:/cache\nVolume=/anon\n\
             Mount=type=bind,source=./conf,destination=/etc/app,ro=true\nMount=type=volume,src=logs,dst=/logs\n\
             Mount=type=volume,target=/scratch\nMount=type=tmpfs,destination=/run,tmpfs-size=64m,tmpfs-mode=1777\nTmpfs=/tmp:size=1g\n\
             Memory=512m\nPidsLimit=100\n"
        ))
        .unwrap();
        let v: Vec<String> = c.spec.volumes.iter().map(|v| v.to_string()).collect();
        assert_eq!(v, ["/q/data:/data", "/shared:/shared:ro", "cache:/cache", "/anon", "/q/conf:/etc/app:ro", "logs:/logs", "/scratch"]);
        let t: Vec<(String, Vec<String>)> = c.spec.tmpfs.iter().map(|t| (t.destination.display().to_string(), t.options.clone())).collect();
        assert_eq!(t, [("/run".to_string(), vec!["size=64m".to_string(), "mode=1777".into()]), ("/tmp".into(), vec!["size=1g".into()])]);
        assert_eq!((c.spec.resources.memory_max, c.spec.resources.tasks_max), (Some(512 << 20), Some(100)));
        for (extra, want) in [
            ("Volume=data.volume:/data\n", "4: Volume: \"data.volume:/data\": berth does not support .volume units; name a volume instead (data:...), which berth makes on first use"),
            ("Network=web.network\n", "4: Network: berth does not support .network units; name a berth network (berthctl network create NAME)"),
            ("Mount=type=image,source=x,destination=/x\n", "4: Mount: type \"image\" is not supported (bind, volume or tmpfs)"),
            ("Mount=type=bind,destination=/x\n", "4: Mount: a bind mount needs source="),
            ("Mount=type=bind,src=/a,dst=/x,bind-propagation=shared\n", "4: Mount: unknown field \"bind-propagation\" (type, source, destination, ro, relabel, tmpfs-size, tmpfs-mode)"),
            ("Tmpfs=/tmp:bogus\n", "4: Tmpfs: \"/tmp:bogus\": unknown option \"bogus\" (ro, rw, [no]exec, [no]suid, [no]dev, size=, mode=, nr_inodes=, uid=, gid=)"),
            ("Memory=lots\n", "4: Memory: \"lots\" is not a size (bytes, or with k, m, g)"),
        ] {
            assert_eq!(err(&format!("{BASE}{extra}")), format!("/q/web.container:{want}"));
        }
    }

    #[test]
    fn process_keys_map_onto_options() {
        let c = load(&format!(
            "{BASE}NoNewPrivileges=false\nTimezone=Europe/Berlin\nReadOnly=yes\nReadOnlyTmpfs=no\nUlimit=nofile=1024:2048\nUlimit=nproc=100\nAddDevice=/dev/fuse\nAddDevice=-/dev/kvm:rw\n"
        ))
        .unwrap();
        let s = &c.spec;
        assert!(!s.no_new_privileges && s.read_only && !s.read_only_tmpfs);
        assert_eq!(s.timezone.as_deref(), Some("Europe/Berlin"));
        assert_eq!(s.ulimits.iter().map(|u| (u.name.as_str(), u.soft, u.hard)).collect::<Vec<_>>(), [("nofile", 1024, 2048), ("nproc", 100, 100)]);
        assert_eq!(s.devices.iter().map(|d| (d.host.display().to_string(), d.access.as_str(), d.optional)).collect::<Vec<_>>(), [("/dev/fuse".to_string(), "rwm", false), ("/dev/kvm".into(), "rw", true)]);
        assert!(load(BASE).unwrap().spec.no_new_privileges, "berth's default");
        for (extra, want) in [
            ("Ulimit=nofile=2:1\n", "4: Ulimit: \"nofile=2:1\": the soft limit is above the hard limit"),
            ("Timezone=../etc/shadow\n", "4: Timezone: \"../etc/shadow\" is not local or a zone name like Europe/Berlin"),
            ("AddDevice=/etc/passwd\n", "4: AddDevice: \"/etc/passwd\": a device is a node under /dev"),
        ] {
            assert_eq!(err(&format!("{BASE}{extra}")), format!("/q/web.container:{want}"));
        }
    }

    #[test]
    fn quoted_values_lose_their_quotes() {
        let c = load(&format!("{BASE}ContainerName=\"web-1\"\nHostName='web'\nWorkingDir=\"/srv/my dir\"\n")).unwrap();
        assert_eq!(c.name.as_str(), "web-1");
        assert_eq!(c.spec.hostname.as_deref(), Some("web"));
        assert_eq!(c.spec.working_dir.as_deref(), Some(Path::new("/srv/my dir")));
    }

    #[test]
    fn podman_keys_berth_lacks_are_named() {
        for (extra, want) in [
            ("Pod=web.pod\n", "4: Pod= is a podman quadlet key that berth does not support"),
            ("PodmanArgs=--log-level=debug\n", "4: PodmanArgs= is a podman quadlet key that berth does not support"),
            ("AutoUpdate=registry\n", "4: AutoUpdate= is a podman quadlet key that berth does not support"),
            ("Secret=token\n", "4: Secret= is a podman quadlet key that berth does not support"),
            ("HealthStartupCmd=true\n", "4: HealthStartupCmd=: berth does not support this health check setting"),
        ] {
            assert_eq!(err(&format!("{BASE}{extra}")), format!("/q/web.container:{want}"));
        }
    }

    #[test]
    fn service_keys_that_break_the_unit() {
        let e = err(&format!("{BASE}[Service]\nUser=web\nDynamicUser=yes\nExecStart=/bin/x\nKillSignal=SIGINT\nRestart=always\n"));
        let lines: Vec<&str> = e.lines().collect();
        assert_eq!(lines.len(), 4, "{e}");
        assert!(lines[0].starts_with("/q/web.container:5: User= in [Service] is not supported: "), "{e}");
        assert!(lines[3].starts_with("/q/web.container:8: KillSignal= in [Service] is not supported: ") && lines[3].contains("StopSignal="), "{e}");
    }

    #[test]
    fn ids_are_deterministic() {
        let n = ContainerName::new("web").unwrap();
        assert_eq!(quadlet_id(&n), quadlet_id(&n));
        assert_ne!(quadlet_id(&n), quadlet_id(&ContainerName::new("db").unwrap()));
    }
}
