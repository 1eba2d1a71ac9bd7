//! `[Container]` keys onto the `CreateContainer` option map. Most keys come
//! from the option table ([`crate::model::OPTIONS`], its `quadlet` column);
//! the few that combine or read files are handled here. Each line is
//! validated alone as it is read, so that an error names its line, and the
//! whole map by the same [`ContainerSpec::from_options`] as a D-Bus call.

use super::parse::{parse_bool, split_words, Entry, UnitFile};
use super::{envfile, specifier, Error};
use crate::model::options::quadlet_option;
use crate::model::{self, validate_option, ContainerName, ContainerSpec, Form, OptionValue, OPTIONS};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::Path;

/// `[Container]` keys that are not one option each.
const SPECIAL_KEYS: [&str; 4] = ["EnvironmentFile", "User", "Group", "ContainerName"];

/// Every supported `[Container]` key (podman quadlet's names).
pub fn keys() -> Vec<&'static str> {
    OPTIONS.iter().filter_map(|d| d.quadlet.map(|(k, _)| k)).chain(SPECIAL_KEYS).collect()
}

const SECTIONS: [&str; 4] = ["Unit", "Container", "Service", "Install"];

/// A `.container` file, parsed and validated.
#[derive(Debug, Clone)]
pub struct Container {
    /// The unit's name without `.service`: `web` for `web.container`.
    pub unit: String,
    pub name: ContainerName,
    /// See [`quadlet_id`].
    pub id: String,
    pub spec: ContainerSpec,
    pub file: UnitFile,
}

/// The id of a file-defined container: the same on every boot and every
/// daemon-reload, so its runtime state and journal fields stay its own.
pub fn quadlet_id(name: &ContainerName) -> String {
    Sha256::digest(format!("berth-quadlet:{name}")).iter().map(|b| format!("{b:02x}")).collect()
}

impl Container {
    pub fn load(path: &Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::file(path, e.to_string()))?;
        Self::from_file(super::parse(path, &text)?)
    }

    pub fn from_file(file: UnitFile) -> Result<Self, Error> {
        if let Some(s) = file.sections.iter().find(|s| !SECTIONS.contains(&s.name.as_str())) {
            let m = format!("unknown section [{}] (a .container file has [Unit], [Container], [Service], [Install])", s.name);
            return Err(file.error(s.line, m));
        }
        let unit = unit_name(&file.path)?;
        let header = file.section_line("Container").ok_or_else(|| Error::file(&file.path, "no [Container] section"))?;
        let dir = file.path.parent().unwrap_or(Path::new("/"));
        let mut m = Mapper::default();
        for e in file.entries("Container") {
            m.entry(e, &unit, dir).map_err(|msg| file.error(e.line, msg))?;
        }
        let name = match &m.name {
            Some(n) => ContainerName::new(n).expect("checked when read"),
            None => ContainerName::new(&unit).map_err(|e| {
                Error::file(&file.path, format!("{}; set ContainerName=", message(e)))
            })?,
        };
        let spec = m.finish(&file, header)?;
        Ok(Container { id: quadlet_id(&name), unit, name, spec, file })
    }
}

/// `web` for `.../web.container`: the generated unit is `web.service`.
fn unit_name(path: &Path) -> Result<String, Error> {
    let file_name = path.file_name().map(|f| f.to_string_lossy()).unwrap_or_default();
    let stem = file_name.strip_suffix(".container").unwrap_or_default();
    let bad = |m: &str| Err(Error::file(path, m));
    if stem.is_empty() {
        return bad("not a <name>.container file");
    }
    if stem.contains('@') {
        return bad("template units (name@.container) are not supported");
    }
    if !stem.bytes().all(|b| b.is_ascii_alphanumeric() || b":_.-\\".contains(&b)) {
        return bad("the file name is not a valid unit name");
    }
    Ok(stem.to_string())
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
    let n: u64 = v.parse().map_err(|_| format!("{v:?} is not a number of seconds"))?;
    Ok(match sig {
        crate::model::Sig::U32 => OptionValue::U32(u32::try_from(n).map_err(|_| format!("{v} is too large"))?),
        _ => OptionValue::U64(n),
    })
}

fn boolean(v: &str) -> Result<OptionValue, String> {
    parse_bool(v).map(OptionValue::Bool).ok_or_else(|| format!("{v:?} is not a boolean (yes/no, true/false, on/off, 1/0)"))
}

/// An EnvironmentFile= path: relative to the .container file's directory;
/// a leading `-` makes a missing file no error, as in systemd.
fn env_file(value: &str, dir: &Path) -> Result<Vec<String>, String> {
    let (optional, p) = match value.strip_prefix('-') {
        Some(p) => (true, p),
        None => (false, value),
    };
    let path = dir.join(p);
    if optional && !path.exists() {
        return Ok(Vec::new());
    }
    envfile::read(&path)
}

/// The options read so far, and where each came from.
#[derive(Default)]
struct Mapper {
    /// Options by option key: value, [Container] key, line (the last
    /// line for keys that accumulate).
    single: BTreeMap<&'static str, (OptionValue, String, usize)>,
    env_files: Vec<String>,
    user: Option<(String, usize)>,
    group: Option<(String, usize)>,
    name: Option<String>,
}

impl Mapper {
    fn entry(&mut self, e: &Entry, unit: &str, dir: &Path) -> Result<(), String> {
        let key = e.key.as_str();
        if !keys().contains(&key) {
            return Err(format!("unknown key {key}= in [Container] (supported: {})", keys().join(", ")));
        }
        self.value(e, unit, dir).map_err(|m| format!("{key}: {m}"))
    }

    fn value(&mut self, e: &Entry, unit: &str, dir: &Path) -> Result<(), String> {
        let (key, v) = (e.key.as_str(), e.value.as_str());
        // An empty assignment resets the key, as in systemd.
        if v.is_empty() {
            self.reset(key);
            return Ok(());
        }
        let one = || specifier::expand(v, unit);
        // systemd splits into words first, then expands each word.
        let words = || -> Result<Vec<String>, String> {
            split_words(v)?.iter().map(|w| specifier::expand(w, unit)).collect()
        };
        match key {
            "EnvironmentFile" => {
                let entries = env_file(&one()?, dir)?;
                probe("Env", &OptionValue::StrList(entries.clone()))?;
                self.env_files.extend(entries);
            }
            "User" => {
                let u = one()?;
                probe("User", &OptionValue::Str(u.clone()))?;
                self.user = Some((u, e.line));
            }
            "Group" => {
                let g = one()?;
                if g.contains(':') || g.chars().any(|c| c.is_whitespace() || c.is_control()) {
                    return Err(format!("{g:?} is not a group name or gid"));
                }
                self.group = Some((g, e.line));
            }
            "ContainerName" => {
                let n = one()?;
                ContainerName::check(&n, key).map_err(message)?;
                self.name = Some(n);
            }
            _ => {
                let (def, form) = quadlet_option(key).expect("keys() lists only table keys and special ones");
                let value = match form {
                    Form::Text | Form::Path => OptionValue::Str(one()?),
                    Form::Words => OptionValue::StrList(words()?),
                    Form::Flag => boolean(v)?,
                    Form::Number => number(def.sig, v)?,
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
                    Form::Size | Form::Cpus => return Err(format!("{key}= has no file form")),
                };
                probe(def.key, &value)?;
                self.single.insert(def.key, (value, key.to_string(), e.line));
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
            "User" => self.user = None,
            "Group" => self.group = None,
            "ContainerName" => self.name = None,
            _ => self.single.retain(|_, (_, k, _)| k != key),
        }
    }

    /// The whole option map, validated as one `CreateContainer` call.
    fn finish(self, file: &UnitFile, header: usize) -> Result<ContainerSpec, Error> {
        // option key -> ([Container] key, line), to place an error.
        let mut origin: BTreeMap<&str, (String, usize)> = BTreeMap::new();
        let mut opts: BTreeMap<String, OptionValue> = BTreeMap::new();
        for (opt, (value, key, line)) in self.single {
            opts.insert(opt.to_string(), value);
            origin.insert(opt, (key, line));
        }
        match (opts.contains_key("Image"), opts.contains_key("Rootfs")) {
            (false, false) => return Err(file.error(header, "[Container] has no Image= or Rootfs=")),
            (true, true) => {
                let line = origin.get("Rootfs").map_or(header, |(_, l)| *l);
                return Err(file.error(line, "Rootfs: give either Image= or Rootfs=, not both"));
            }
            (false, true) if !opts.contains_key("Command") && !opts.contains_key("Entrypoint") => {
                return Err(file.error(header, "[Container] has no Exec="));
            }
            _ => {}
        }
        match (self.user, self.group) {
            (None, Some((_, line))) => return Err(file.error(line, "Group: needs User=")),
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
        // podman's order: --env-file first, so that Environment= wins.
        if !self.env_files.is_empty() {
            let mut env = self.env_files;
            if let Some(OptionValue::StrList(l)) = opts.remove("Env") {
                env.extend(l);
            }
            opts.insert("Env".into(), OptionValue::StrList(env));
        }
        ContainerSpec::from_options(&opts).map_err(|e| {
            let at = e.key().and_then(|k| origin.get(k).cloned());
            match at {
                Some((key, line)) => file.error(line, format!("{key}: {}", message(e))),
                None => file.error(header, message(e)),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Network, Volume};

    fn load(text: &str) -> Result<Container, Error> {
        Container::from_file(super::super::parse(Path::new("/q/web.container"), text).unwrap())
    }

    fn err(text: &str) -> String {
        load(text).unwrap_err().to_string()
    }

    const BASE: &str = "[Container]\nRootfs=/srv/web\nExec=/bin/httpd -f\n";

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
            ("StopTimeout=10s\n", "/q/web.container:4: StopTimeout: \"10s\" is not a number of seconds"),
            ("Environment=A=1 NOEQ\n", "/q/web.container:4: Environment: \"NOEQ\" is not KEY=VALUE"),
            ("Volume=-data:/data\n", "/q/web.container:4: Volume: \"-data:/data\": a volume name must start with a letter or digit: \"-data\""),
            ("User=no body\n", "/q/web.container:4: User: \"no body\" is not user[:group] (names or numbers)"),
            ("Group=100\n", "/q/web.container:4: Group: needs User="),
            ("Label=novalue\n", "/q/web.container:4: Label: \"novalue\" is not KEY=VALUE"),
            ("Exec=/bin/sh '-c\n", "/q/web.container:4: Exec: unterminated quote (')"),
            ("Rootfs=%i\n", "/q/web.container:4: Rootfs: specifier %i is not supported here (only %n %N %p %h %u %U %g %G %t %S %C %L %E %T %V and %%)"),
            ("ContainerName=-x\n", "/q/web.container:4: ContainerName: a container name must start with a letter or digit: \"-x\""),
        ];
        for (extra, want) in cases {
            assert_eq!(err(&format!("{BASE}{extra}")), want, "{extra}");
        }
        assert!(err(&format!("{BASE}Bogus=1\n")).starts_with("/q/web.container:4: unknown key Bogus= in [Container] (supported: Image, Rootfs, Exec,"));
        assert_eq!(err("[Container]\nRootfs=/r\n"), "/q/web.container:1: [Container] has no Exec=");
        assert_eq!(err("\n[Container]\nExec=/x\n"), "/q/web.container:2: [Container] has no Image= or Rootfs=");
        assert_eq!(err("[Unit]\n"), "/q/web.container: no [Container] section");
        assert_eq!(err(&format!("{BASE}[Pod]\n")), "/q/web.container:4: unknown section [Pod] (a .container file has [Unit], [Container], [Service], [Install])");
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
        assert_eq!(f("/q/x@.container").unwrap_err().message, "template units (name@.container) are not supported");
        let e = f("/q/_x.container").unwrap_err().to_string();
        assert_eq!(e, "/q/_x.container: a container name must start with a letter or digit: \"_x\"; set ContainerName=");
    }

    #[test]
    fn env_files_are_read_relative_to_the_file() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("web.env"), "A=file\nB=file\n").unwrap();
        let path = d.path().join("web.container");
        let text = format!("{BASE}Environment=A=env\nEnvironmentFile=web.env\nEnvironmentFile=-missing.env\n");
        let c = Container::from_file(super::super::parse(&path, &text).unwrap()).unwrap();
        // Environment= wins over EnvironmentFile=, whatever the order (podman's rule).
        assert_eq!(c.spec.env, ["A=file", "B=file", "A=env"]);
        let text = format!("{BASE}EnvironmentFile=missing.env\n");
        let e = Container::from_file(super::super::parse(&path, &text).unwrap()).unwrap_err();
        assert_eq!(e.line, Some(4));
        assert!(e.message.starts_with("EnvironmentFile: ") && e.message.contains("missing.env"), "{e}");
    }

    #[test]
    fn ids_are_deterministic() {
        let n = ContainerName::new("web").unwrap();
        assert_eq!(quadlet_id(&n), quadlet_id(&n));
        assert_ne!(quadlet_id(&n), quadlet_id(&ContainerName::new("db").unwrap()));
    }
}
