//! `berth-generator`, a systemd.generator(7): at boot and on every
//! daemon-reload, turn each `<name>.container` file into
//! `<normal-dir>/<name>.service` plus the container's spec file, and the
//! [Install] symlinks that enable it. Generators run before D-Bus exists,
//! so nothing here talks to it. A bad file fails alone: systemd logs the
//! exit status 1 and still loads the good units.

use super::{parse::split_words, quote, render, Container, Error, Errors};
use crate::model::specifier;
use nix::fcntl::OFlag;
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// Where `.container` files live, the first one winning by file name.
pub const SEARCH_PATH: [&str; 3] = ["/run/berth/systemd", "/etc/berth/systemd", "/usr/share/berth/systemd"];

/// podman quadlet's other file kinds: reported, never skipped silently.
const UNSUPPORTED_FILES: [&str; 5] = ["pod", "build", "image", "volume", "network"];

/// The normal generator directory `--dry-run` shows when given none.
pub const DEFAULT_NORMAL_DIR: &str = "/run/systemd/generator";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub dirs: Vec<PathBuf>,
    pub normal_dir: PathBuf,
    pub monitor: PathBuf,
    pub dry_run: bool,
}

/// What one `.container` file becomes; paths are absolute.
#[derive(Debug, Clone)]
pub struct Generated {
    pub container: Container,
    pub service_path: PathBuf,
    pub service: String,
    pub spec_path: PathBuf,
    pub spec_json: String,
    /// (link, target): the target relative to the link, as systemctl makes them.
    pub links: Vec<(PathBuf, PathBuf)>,
    /// The Alias= names and where each is: none may name a generated unit.
    pub aliases: Vec<(String, super::parse::At)>,
    /// The drop-ins read after the file, in the order they were applied.
    pub dropins: Vec<PathBuf>,
}

/// The `.container` files of `dirs`, by file name; a file in an earlier
/// directory hides one of the same name in a later one. A file linked to
/// /dev/null or empty is masked: it hides the later ones and yields nothing.
pub fn find(dirs: &[PathBuf]) -> (Vec<PathBuf>, Vec<Error>) {
    let mut found: BTreeMap<OsString, Option<PathBuf>> = BTreeMap::new();
    let mut errors = Vec::new();
    for dir in dirs {
        let entries = match fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => {
                errors.push(Error::file(dir, e.to_string()));
                continue;
            }
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let path = entry.path();
            let hidden = name.to_string_lossy().starts_with('.');
            let ext = path.extension().and_then(|e| e.to_str()).unwrap_or_default();
            if !hidden && UNSUPPORTED_FILES.contains(&ext) {
                errors.push(Error::file(&path, format!("berth does not support .{ext} files (only .container and .kube)")));
                continue;
            }
            let wanted = !hidden && (ext == "container" || ext == "kube");
            if !wanted || found.contains_key(&name) {
                continue;
            }
            // A link to /dev/null masks, as for systemd units; a non-regular
            // file (a FIFO, a device) is passed over here and never opened.
            let meta = fs::metadata(&path);
            let masked = meta.as_ref().is_ok_and(|m| (m.is_file() && m.len() == 0) || m.file_type().is_char_device())
                && (meta.as_ref().is_ok_and(|m| m.is_file()) || fs::read_link(&path).is_ok_and(|t| t == Path::new("/dev/null")));
            if masked {
                found.insert(name, None);
            } else if meta.as_ref().is_ok_and(|m| m.is_file()) {
                found.insert(name, Some(path));
            } else {
                let why = meta.map_or_else(|e| e.to_string(), |_| "not a regular file".into());
                errors.push(Error::file(&path, why));
                found.insert(name, None);
            }
        }
    }
    (found.into_values().flatten().collect(), errors)
}

/// Everything one file becomes, without writing anything; every error of
/// the file when it has any. Drop-ins are looked for next to the file.
pub fn generate(path: &Path, normal_dir: &Path, monitor: &Path) -> Result<Generated, Errors> {
    let dirs: Vec<PathBuf> = path.parent().map(Path::to_path_buf).into_iter().collect();
    generate_in(path, &dirs, normal_dir, monitor)
}

/// The drop-in directory names of `name.container`, most specific first
/// (podman quadlet's order): `name.container.d`, then for `a-b-c` the
/// prefixes `a-b-.container.d` and `a-.container.d`, then `container.d`.
/// An instance `a-b@x.container` reads `a-b@x.container.d`, then its
/// template's `a-b@.container.d`, then `a-@.container.d`, `a-.container.d`.
pub fn dropin_dir_names(file_name: &str) -> Vec<String> {
    let (stem, ext) = file_name.rsplit_once('.').unwrap_or((file_name, ""));
    let (prefix, instance) = specifier::parts(stem);
    let mut names = vec![format!("{file_name}.d")];
    if instance.is_some_and(|i| !i.is_empty()) {
        names.push(format!("{prefix}@.{ext}.d"));
    }
    let parts: Vec<&str> = prefix.split('-').collect();
    for i in (1..parts.len()).rev() {
        let truncated = parts[..i].join("-");
        if instance.is_some() {
            names.push(format!("{truncated}-@.{ext}.d"));
        }
        names.push(format!("{truncated}-.{ext}.d"));
    }
    names.push(format!("{ext}.d"));
    names
}

/// The `*.conf` drop-ins of `path` in the search path `dirs`: of two with
/// one name, the one in the earlier directory (then the more specific
/// drop-in directory) wins; they apply in the order of their names.
pub fn dropins(path: &Path, dirs: &[PathBuf]) -> Vec<PathBuf> {
    let Some(file_name) = path.file_name().and_then(|n| n.to_str()) else { return Vec::new() };
    let mut found: BTreeMap<OsString, PathBuf> = BTreeMap::new();
    for dir in dirs {
        for d in dropin_dir_names(file_name) {
            let Ok(entries) = fs::read_dir(dir.join(d)) else { continue };
            for e in entries.flatten() {
                let name = e.file_name();
                let conf = !name.to_string_lossy().starts_with('.') && Path::new(&name).extension().is_some_and(|x| x == "conf");
                if conf && !found.contains_key(&name) {
                    found.insert(name, e.path());
                }
            }
        }
    }
    found.into_values().collect()
}

/// [`generate`] with the drop-ins of the search path `dirs`.
pub fn generate_in(path: &Path, dirs: &[PathBuf], normal_dir: &Path, monitor: &Path) -> Result<Generated, Errors> {
    let text = crate::fsutil::regular_file(path, super::container::MAX_FILE_SIZE).map_err(|e| Error::file(path, e))?;
    let (mut file, mut errors) = super::parse::parse_all(path, &text);
    let dropins = dropins(path, dirs);
    for d in &dropins {
        match crate::fsutil::regular_file(d, super::container::MAX_FILE_SIZE) {
            Ok(t) => {
                let (f, e) = super::parse::parse_all(d, &t);
                file.merge(f);
                errors.extend(e);
            }
            Err(e) => errors.push(Error::file(d, e)),
        }
    }
    let stem = super::container::unit_name(path)?;
    let links = install_links(&file, &stem, normal_dir);
    let container = Container::from_file(file);
    let (container, (links, aliases)) = match (container, links) {
        (Ok(c), Ok(l)) if errors.is_empty() => (c, l),
        (c, l) => {
            errors.extend(c.err().into_iter().chain(l.err()).flat_map(|e| e.0));
            // The file's own errors first, in line order, then its drop-ins'.
            errors.sort_by(|a, b| (a.path != path, &a.path, a.line).cmp(&(b.path != path, &b.path, b.line)));
            errors.dedup();
            return Err(Errors(errors));
        }
    };
    let unit = format!("{}.service", container.unit);
    let json = match &container.name_pattern {
        // berthd lists the containers of berth/*.json; a template has none.
        Some(name) => {
            let spec_path = normal_dir.join("berth/templates").join(format!("{}.json", container.unit));
            let t = Template { name, unit: &unit, source: path, spec: &container.spec, start: &container.start };
            (spec_path, serde_json::to_string_pretty(&t))
        }
        None => {
            let defined = crate::model::FileDefined {
                name: container.name.clone(),
                id: container.id.clone(),
                unit: unit.clone(),
                source: path.to_path_buf(),
                spec: container.spec.clone(),
                start: container.start.clone(),
            };
            (normal_dir.join("berth").join(format!("{}.json", container.unit)), serde_json::to_string_pretty(&defined))
        }
    };
    let (spec_path, spec_json) = json;
    let service = render::service(&container, monitor, &spec_path)?;
    let mut spec_json = spec_json.map_err(|e| Error::file(path, e.to_string()))?;
    spec_json.push('\n');
    Ok(Generated { service_path: normal_dir.join(&unit), service, spec_path, spec_json, links, aliases, dropins, container })
}

/// A template's record: what its instances run (`run-spec` reads `spec`
/// and `start`), and the container name its unit gives systemd to expand.
#[derive(serde::Serialize)]
struct Template<'a> {
    name: &'a str,
    unit: &'a str,
    source: &'a Path,
    spec: &'a crate::model::ContainerSpec,
    #[serde(skip_serializing_if = "crate::model::StartEnv::is_empty")]
    start: &'a crate::model::StartEnv,
}

/// systemd's unit name rule (unit_name_is_valid): at most 255 bytes of
/// `[A-Za-z0-9:_.\\@-]`, a name before the dot and a type after it.
pub fn is_unit_name(name: &str) -> bool {
    name.len() <= 255
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b":_.\\@-".contains(&b))
        && name.rsplit_once('.').is_some_and(|(n, t)| !n.is_empty() && !t.is_empty() && !n.starts_with('.'))
}

type Links = (Vec<(PathBuf, PathBuf)>, Vec<(String, super::parse::At)>);

/// WantedBy=, RequiredBy= and UpheldBy= as `.wants`/`.requires`/`.upholds`
/// links, Alias= as a link to the unit, as `systemctl enable` would make
/// them. A template's links name its `DefaultInstance=` (podman's
/// generator does the same); without one it has none but its aliases.
pub(super) fn install_links(file: &super::UnitFile, stem: &str, normal_dir: &Path) -> Result<Links, Errors> {
    let unit = &format!("{stem}.service");
    let (mut links, mut aliases, mut errors) = (Vec::new(), Vec::new(), Vec::new());
    // The unit the links name, and the name specifiers expand for.
    let mut linked = Some(stem.to_string());
    if specifier::is_template(stem) {
        linked = None;
        for e in file.entries("Install").filter(|e| e.key == "DefaultInstance") {
            let instance = specifier::expand(&e.value, stem).map_err(|m| file.error_at(&e.at(), format!("DefaultInstance: {m}")));
            match instance {
                Ok(i) if i.is_empty() => linked = None,
                Ok(i) if is_unit_name(&format!("{stem}{i}.service")) && !i.contains('@') => linked = Some(format!("{stem}{i}")),
                Ok(i) => errors.push(file.error_at(&e.at(), format!("DefaultInstance: {} is not an instance name", quote(&i)))),
                Err(err) => errors.push(err),
            }
        }
    }
    for e in file.entries("Install") {
        let kind = match e.key.as_str() {
            "WantedBy" => "wants",
            "RequiredBy" => "requires",
            "UpheldBy" => "upholds",
            "Alias" => "",
            _ => continue,
        };
        let Some(linked) = linked.as_deref().filter(|_| !kind.is_empty()).or(kind.is_empty().then_some(stem)) else {
            continue;
        };
        let bad = |m: String| file.error_at(&e.at(), format!("{}: {m}", e.key));
        let words = match split_words(&e.value) {
            Ok(w) => w,
            Err(m) => {
                errors.push(bad(m));
                continue;
            }
        };
        for word in words {
            let name = match specifier::expand(&word, linked) {
                Ok(n) => n,
                Err(m) => {
                    errors.push(bad(m));
                    continue;
                }
            };
            if !is_unit_name(&name) {
                errors.push(bad(format!("{} is not a unit name", quote(&name))));
            } else if kind.is_empty() {
                if !name.ends_with(".service") {
                    errors.push(bad(format!("{}: an alias of a service must end in .service", quote(&name))));
                    continue;
                }
                links.push((normal_dir.join(&name), PathBuf::from(unit)));
                aliases.push((name, e.at()));
            } else {
                links.push((normal_dir.join(format!("{name}.{kind}")).join(format!("{linked}.service")), Path::new("..").join(unit)));
            }
        }
    }
    if errors.is_empty() {
        Ok((links, aliases))
    } else {
        Err(Errors(errors))
    }
}

fn with_path(p: &Path) -> impl Fn(io::Error) -> io::Error + '_ {
    move |e| io::Error::new(e.kind(), format!("{}: {e}", p.display()))
}

/// Write what a file generates, all or nothing: on an error what was
/// written is removed again.
pub fn write(g: &Generated) -> io::Result<()> {
    let mut written = Vec::new();
    let r = write_each(g, &mut written);
    if r.is_err() {
        for p in written.iter().rev() {
            // Best effort: the error being returned is the one that matters.
            let _ = fs::remove_file(p);
        }
    }
    r
}

fn write_each(g: &Generated, written: &mut Vec<PathBuf>) -> io::Result<()> {
    if let Some(d) = g.spec_path.parent() {
        fs::create_dir_all(d).map_err(with_path(d))?;
    }
    // 0600: the environment may carry secrets.
    replace_file(&g.spec_path, g.spec_json.as_bytes(), 0o600).map_err(with_path(&g.spec_path))?;
    written.push(g.spec_path.clone());
    replace_file(&g.service_path, g.service.as_bytes(), 0o644).map_err(with_path(&g.service_path))?;
    written.push(g.service_path.clone());
    for (link, target) in &g.links {
        if let Some(d) = link.parent() {
            fs::create_dir_all(d).map_err(with_path(d))?;
        }
        replace_link(target, link).map_err(with_path(link))?;
        written.push(link.clone());
    }
    Ok(())
}

/// Put `data` in a new file at `path`; whatever was there (a file, or a
/// link, which is never written through) is removed first. No fsync and
/// no rename: the generator's directories are made again at every boot,
/// and systemd reads them only once every generator has finished.
pub(super) fn replace_file(path: &Path, data: &[u8], mode: u32) -> io::Result<()> {
    let flags = (OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC).bits();
    let open = || fs::OpenOptions::new().write(true).create_new(true).mode(mode).custom_flags(flags).open(path);
    let mut f = match open() {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            fs::remove_file(path)?;
            open()?
        }
        r => r?,
    };
    f.write_all(data)
}

/// A symbolic link at `link`, replacing a link already there but nothing else.
pub(super) fn replace_link(target: &Path, link: &Path) -> io::Result<()> {
    match std::os::unix::fs::symlink(target, link) {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            if !fs::symlink_metadata(link)?.file_type().is_symlink() {
                return Err(io::Error::new(io::ErrorKind::AlreadyExists, "exists and is not a link; not replaced"));
            }
            fs::remove_file(link)?;
            std::os::unix::fs::symlink(target, link)
        }
        r => r,
    }
}

fn show(out: &mut dyn Write, g: &Generated) -> io::Result<()> {
    write!(out, "==> {} <==\n{}", g.service_path.display(), g.service)?;
    write!(out, "==> {} <==\n{}", g.spec_path.display(), g.spec_json)?;
    for (link, target) in &g.links {
        writeln!(out, "==> {} -> {} <==", link.display(), target.display())?;
    }
    Ok(())
}

/// Generate every file; each error goes to `report`. Returns the exit
/// status: 0 when every file was good, 1 otherwise.
pub fn run(cfg: &Config, out: &mut dyn Write, report: &mut dyn FnMut(&Error)) -> i32 {
    let (files, errors) = find(&cfg.dirs);
    let mut status = 0;
    for e in &errors {
        report(e);
        status = 1;
    }
    let (kube_files, files): (Vec<PathBuf>, Vec<PathBuf>) = files.into_iter().partition(|p| p.extension().is_some_and(|e| e == "kube"));
    let mut generated = Vec::new();
    for path in files {
        match generate_in(&path, &cfg.dirs, &cfg.normal_dir, &cfg.monitor) {
            Ok(g) => generated.push(g),
            Err(es) => {
                es.iter().for_each(&mut *report);
                status = 1;
            }
        }
    }
    // Every unit generated, by unit file name, and its source.
    let units: BTreeMap<OsString, PathBuf> = generated
        .iter()
        .filter_map(|g| Some((g.service_path.file_name()?.to_os_string(), g.container.file.path.clone())))
        .collect();
    // Two files must not run the same container: the same id, bundle and exit file.
    let mut names: BTreeMap<String, PathBuf> = BTreeMap::new();
    let mut aliases: BTreeMap<String, PathBuf> = BTreeMap::new();
    for g in &generated {
        let path = &g.container.file.path;
        let mut errors = Vec::new();
        let named = g.container.name_pattern.is_none();
        if let Some(first) = names.get(g.container.name.as_str()).filter(|_| named) {
            let m = format!("container name {} is already used by {}", g.container.name, first.display());
            errors.push(Error::file(path, m));
        }
        for (alias, at) in &g.aliases {
            let file = &g.container.file;
            // A link named like a unit would replace it (or point at itself).
            if let Some(src) = units.get(std::ffi::OsStr::new(alias)) {
                errors.push(file.error_at(at, format!("Alias: {alias} is the unit generated from {}", src.display())));
            } else if let Some(src) = aliases.get(alias) {
                errors.push(file.error_at(at, format!("Alias: {alias} is already an alias from {}", src.display())));
            }
        }
        if !errors.is_empty() {
            errors.iter().for_each(&mut *report);
            status = 1;
            continue;
        }
        if named {
            names.insert(g.container.name.to_string(), path.clone());
        }
        aliases.extend(g.aliases.iter().map(|(a, _)| (a.clone(), path.clone())));
        let done = if cfg.dry_run { show(out, g) } else { write(g) };
        if let Err(e) = done {
            report(&Error::file(path, e.to_string()));
            status = 1;
        }
    }
    let taken = units.into_iter().chain(aliases.into_iter().map(|(a, p)| (a.into(), p))).collect();
    if super::kube::run_kube(cfg, &kube_files, taken, out, report) != 0 {
        status = 1;
    }
    status
}

/// `<prefix>/lib/systemd/system-generators/berth-generator` ->
/// `<prefix>/bin/berth-monitor`; anywhere else (a build directory), the
/// monitor next to the generator.
pub fn monitor_path(exe: &Path) -> PathBuf {
    let dir = exe.parent().unwrap_or(Path::new("/"));
    match dir.ancestors().nth(3) {
        Some(prefix) if dir.ends_with("lib/systemd/system-generators") => prefix.join("bin/berth-monitor"),
        _ => dir.join("berth-monitor"),
    }
}

const USAGE: &str = "usage: berth-generator [--dry-run] NORMAL_DIR [EARLY_DIR LATE_DIR]";

/// Command line: `[--dry-run] NORMAL_DIR [EARLY_DIR LATE_DIR]`; the
/// directory is optional with `--dry-run`. Environment: BERTH_QUADLET_DIRS
/// (colon-separated search path), BERTH_MONITOR (the monitor's path).
pub fn config_from(args: &[String], env: impl Fn(&str) -> Option<String>, exe: &Path) -> Result<Config, String> {
    let dry_run = args.iter().any(|a| a == "--dry-run");
    let dirs: Vec<&String> = args.iter().filter(|a| *a != "--dry-run").collect();
    if let Some(bad) = dirs.iter().find(|a| a.starts_with('-')) {
        return Err(format!("unknown option {bad}\n{USAGE}"));
    }
    if dirs.len() > 3 || (dirs.is_empty() && !dry_run) {
        return Err(USAGE.into());
    }
    let search = match env("BERTH_QUADLET_DIRS") {
        Some(v) => v.split(':').filter(|d| !d.is_empty()).map(PathBuf::from).collect(),
        None => SEARCH_PATH.iter().map(PathBuf::from).collect(),
    };
    Ok(Config {
        dirs: search,
        normal_dir: dirs.first().map_or(PathBuf::from(DEFAULT_NORMAL_DIR), PathBuf::from),
        monitor: env("BERTH_MONITOR").map_or_else(|| monitor_path(exe), PathBuf::from),
        dry_run,
    })
}

/// Entry point of the `berth-generator` binary.
pub fn main(args: Vec<String>) -> i32 {
    let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("/usr/local/lib/systemd/system-generators/berth-generator"));
    let cfg = match config_from(&args, |k| std::env::var(k).ok(), &exe) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return 2;
        }
    };
    // Early at boot stderr may lead nowhere; the kernel log is read by journald.
    let mut kmsg = if cfg.dry_run { None } else { fs::OpenOptions::new().write(true).open("/dev/kmsg").ok() };
    let pid = std::process::id();
    let mut report = |e: &Error| {
        eprintln!("{e}");
        if let Some(k) = kmsg.as_mut() {
            // <3>: error priority; one write per kernel log record.
            let _ = k.write_all(format!("<3>berth-generator[{pid}]: {e}\n").as_bytes());
        }
    };
    let stdout = io::stdout();
    run(&cfg, &mut stdout.lock(), &mut report)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "[Container]\nRootfs=/srv/r\nExec=/bin/sh\n";

    #[test]
    fn earlier_dirs_win_and_masks_hide() {
        let d = tempfile::tempdir().unwrap();
        let (a, b) = (d.path().join("a"), d.path().join("b"));
        for dir in [&a, &b] {
            fs::create_dir(dir).unwrap();
        }
        fs::write(a.join("web.container"), GOOD).unwrap();
        fs::write(b.join("web.container"), GOOD).unwrap();
        fs::write(b.join("db.container"), GOOD).unwrap();
        fs::write(b.join("cache.container"), GOOD).unwrap();
        fs::write(b.join("notes.txt"), "").unwrap();
        fs::write(b.join(".hidden.container"), GOOD).unwrap();
        fs::write(b.join("web.pod"), "").unwrap();
        std::os::unix::fs::symlink("/dev/null", a.join("db.container")).unwrap();
        let (files, errors) = find(&[a.clone(), d.path().join("missing"), b.clone()]);
        assert_eq!(errors.iter().map(|e| e.to_string()).collect::<Vec<_>>(), [format!("{}: berth does not support .pod files (only .container and .kube)", b.join("web.pod").display())]);
        assert_eq!(files, [b.join("cache.container"), a.join("web.container")]);
        // A FIFO or a device is reported, never opened.
        nix::unistd::mkfifo(&a.join("fifo.container"), nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        std::os::unix::fs::symlink("/dev/zero", a.join("zero.container")).unwrap();
        let (files, errors) = find(&[a.clone()]);
        assert_eq!(files, [a.join("web.container")]);
        let mut errors: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        errors.sort();
        assert_eq!(errors, [format!("{}: not a regular file", a.join("fifo.container").display()), format!("{}: not a regular file", a.join("zero.container").display())]);
    }

    #[test]
    fn install_links() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("web.container");
        fs::write(&p, format!("{GOOD}[Install]\nWantedBy=multi-user.target default.target\nRequiredBy=x.target\nAlias=www.service\nAlso=other.service\n")).unwrap();
        let g = generate(&p, Path::new("/gen"), Path::new("/m")).unwrap();
        let links: Vec<(String, String)> =
            g.links.iter().map(|(l, t)| (l.display().to_string(), t.display().to_string())).collect();
        let want = [
            ("/gen/multi-user.target.wants/web.service", "../web.service"),
            ("/gen/default.target.wants/web.service", "../web.service"),
            ("/gen/x.target.requires/web.service", "../web.service"),
            ("/gen/www.service", "web.service"),
        ];
        assert_eq!(links, want.map(|(a, b)| (a.to_string(), b.to_string())));
        fs::write(&p, format!("{GOOD}[Install]\nWantedBy=../etc\n")).unwrap();
        assert_eq!(generate(&p, Path::new("/gen"), Path::new("/m")).unwrap_err().to_string(), format!("{}:5: WantedBy: \"../etc\" is not a unit name", p.display()));
        fs::write(&p, format!("{GOOD}[Install]\nAlias=www.socket\n")).unwrap();
        assert!(generate(&p, Path::new("/gen"), Path::new("/m")).unwrap_err()[0].message.contains("must end in .service"));
        fs::write(&p, format!("{GOOD}[Install]\nWantedBy=a\0b.target\n")).unwrap();
        assert!(generate(&p, Path::new("/gen"), Path::new("/m")).unwrap_err()[0].message.contains("NUL"));
    }

    #[test]
    fn templates_link_their_default_instance() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("web@.container");
        let install = "[Install]\nWantedBy=multi-user.target %p.target\nUpheldBy=x.target\nDefaultInstance=blue\n";
        fs::write(&p, format!("{GOOD}{install}")).unwrap();
        let g = generate(&p, Path::new("/gen"), Path::new("/m")).unwrap();
        let links: Vec<(String, String)> =
            g.links.iter().map(|(l, t)| (l.display().to_string(), t.display().to_string())).collect();
        let want = [
            ("/gen/multi-user.target.wants/web@blue.service", "../web@.service"),
            ("/gen/web.target.wants/web@blue.service", "../web@.service"),
            ("/gen/x.target.upholds/web@blue.service", "../web@.service"),
        ];
        assert_eq!(links, want.map(|(a, b)| (a.to_string(), b.to_string())));
        assert_eq!((g.service_path.as_path(), g.spec_path.as_path()), (Path::new("/gen/web@.service"), Path::new("/gen/berth/templates/web@.json")));
        for line in ["\nExecStart=/m run-spec --spec=/gen/berth/templates/web@.json --name=web_%i --instance=%i --run-root=/run/berth\n",
            "\nExecStopPost=/m record-exit --run-root=/run/berth --name=web_%i\n",
            "\nExecStopPost=/m net-teardown --run-root=/run/berth --name=web_%i\n", "\nSyslogIdentifier=web_%i\n"] {
            assert!(g.service.contains(line), "{line} in {}", g.service);
        }
        assert!(!g.service.contains("CONTAINER_ID") && !g.service.contains(&g.container.id), "{}", g.service);
        // Without a default instance a template is enabled by name only.
        fs::write(&p, format!("{GOOD}[Install]\nWantedBy=multi-user.target\n")).unwrap();
        assert!(generate(&p, Path::new("/gen"), Path::new("/m")).unwrap().links.is_empty());
        fs::write(&p, format!("{GOOD}[Install]\nDefaultInstance=a/b\n")).unwrap();
        assert_eq!(generate(&p, Path::new("/gen"), Path::new("/m")).unwrap_err().to_string(), format!("{}:5: DefaultInstance: \"a/b\" is not an instance name", p.display()));
        // An instance's file is an ordinary unit, with its template's drop-ins.
        assert_eq!(dropin_dir_names("a-b@x.container"), ["a-b@x.container.d", "a-b@.container.d", "a-@.container.d", "a-.container.d", "container.d"]);
        fs::create_dir(d.path().join("web@.container.d")).unwrap();
        fs::write(d.path().join("web@.container.d/env.conf"), "[Container]\nEnvironment=I=%i\n").unwrap();
        fs::write(d.path().join("web@green.container"), GOOD).unwrap();
        let g = generate(&d.path().join("web@green.container"), Path::new("/gen"), Path::new("/m")).unwrap();
        assert_eq!((g.container.name.as_str(), &g.container.spec.env[..]), ("web_green", &["I=green".to_string()][..]));
        assert!(g.service.contains(&format!(" --name=web_green --id={} ", g.container.id)), "{}", g.service);
    }

    fn run_dir(src: &Path, out: &Path) -> (i32, Vec<String>) {
        let cfg = Config { dirs: vec![src.into()], normal_dir: out.into(), monitor: "/m".into(), dry_run: false };
        let mut errors = Vec::new();
        let status = run(&cfg, &mut io::sink(), &mut |e| errors.push(e.to_string()));
        (status, errors)
    }

    #[test]
    fn aliases_never_replace_a_unit() {
        let d = tempfile::tempdir().unwrap();
        let (src, out) = (d.path().join("src"), d.path().join("out"));
        fs::create_dir(&src).unwrap();
        fs::create_dir(&out).unwrap();
        fs::write(src.join("a.container"), format!("{GOOD}[Install]\nAlias=b.service\n")).unwrap();
        fs::write(src.join("b.container"), GOOD).unwrap();
        fs::write(src.join("c.container"), format!("{GOOD}[Install]\nAlias=c.service\n")).unwrap();
        fs::write(src.join("d.container"), format!("{GOOD}[Install]\nAlias=www.service\n")).unwrap();
        fs::write(src.join("e.container"), format!("{GOOD}[Install]\nAlias=www.service\n")).unwrap();
        let (status, errors) = run_dir(&src, &out);
        assert_eq!(status, 1);
        let s = src.display();
        assert_eq!(
            errors,
            [
                format!("{s}/a.container:5: Alias: b.service is the unit generated from {s}/b.container"),
                format!("{s}/c.container:5: Alias: c.service is the unit generated from {s}/c.container"),
                format!("{s}/e.container:5: Alias: www.service is already an alias from {s}/d.container"),
            ]
        );
        let unit = |n: &str| fs::read_to_string(out.join(n)).unwrap();
        assert!(unit("b.service").contains("--name=b "), "b.service still runs b");
        assert!(!out.join("a.service").exists() && !out.join("c.service").exists() && !out.join("e.service").exists());
        assert!(fs::symlink_metadata(out.join("b.service")).unwrap().is_file());
        assert_eq!(fs::read_link(out.join("www.service")).unwrap(), Path::new("d.service"));
    }

    #[test]
    fn units_replace_links_rather_than_write_through_them() {
        let d = tempfile::tempdir().unwrap();
        let (src, out) = (d.path().join("src"), d.path().join("out"));
        fs::create_dir(&src).unwrap();
        fs::create_dir(&out).unwrap();
        fs::write(src.join("web.container"), GOOD).unwrap();
        let victim = d.path().join("victim");
        fs::write(&victim, "keep").unwrap();
        std::os::unix::fs::symlink(&victim, out.join("web.service")).unwrap();
        assert_eq!(run_dir(&src, &out).0, 0);
        assert_eq!(fs::read_to_string(&victim).unwrap(), "keep");
        assert!(fs::symlink_metadata(out.join("web.service")).unwrap().is_file());
    }

    #[test]
    fn a_file_that_fails_to_write_leaves_nothing() {
        let d = tempfile::tempdir().unwrap();
        let (src, out) = (d.path().join("src"), d.path().join("out"));
        fs::create_dir(&src).unwrap();
        fs::create_dir_all(out.join("x.target.wants/web.service")).unwrap();
        fs::write(src.join("web.container"), format!("{GOOD}[Install]\nWantedBy=x.target\n")).unwrap();
        let (status, errors) = run_dir(&src, &out);
        assert_eq!(status, 1);
        assert!(errors[0].contains("is not a link; not replaced"), "{errors:?}");
        assert!(!out.join("web.service").exists() && !out.join("berth/web.json").exists());
    }

    #[test]
    fn a_bad_file_writes_nothing_and_reports_every_error() {
        let d = tempfile::tempdir().unwrap();
        let (src, out) = (d.path().join("src"), d.path().join("out"));
        fs::create_dir(&src).unwrap();
        fs::create_dir(&out).unwrap();
        fs::write(src.join("web.container"), format!("{GOOD}[Install]\nWantedBy=a\0b.target\n")).unwrap();
        let (status, errors) = run_dir(&src, &out);
        assert_eq!(status, 1);
        assert_eq!(errors.len(), 1, "{errors:?}");
        fs::write(src.join("web.container"), format!("{GOOD}Notify=maybe\n[Install]\nWantedBy=x/y ../z\nAlias=w.socket\n")).unwrap();
        let (_, errors) = run_dir(&src, &out);
        let lines: Vec<&str> = errors.iter().map(|e| e.rsplit_once(".container:").unwrap().1.split_once(':').unwrap().0).collect();
        assert_eq!(lines, ["4", "6", "6", "7"], "{errors:?}");
        assert_eq!(fs::read_dir(&out).unwrap().count(), 0);
    }

    #[test]
    fn dropins_follow_podmans_precedence() {
        assert_eq!(dropin_dir_names("a-b-c.container"), ["a-b-c.container.d", "a-b-.container.d", "a-.container.d", "container.d"]);
        let d = tempfile::tempdir().unwrap();
        let (etc, usr) = (d.path().join("etc"), d.path().join("usr"));
        let put = |p: PathBuf, text: &str| {
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, text).unwrap();
        };
        put(usr.join("web-1.container"), &format!("{GOOD}Environment=A=file B=file\n"));
        put(usr.join("web-1.container.d/10-env.conf"), "[Container]\nEnvironment=A=usr-specific\n");
        put(etc.join("container.d/10-env.conf"), "[Container]\nEnvironment=A=etc-shared\n");
        put(usr.join("web-.container.d/20-label.conf"), "[Container]\nLabel=x=1\n[Service]\nRestart=always\n");
        put(usr.join("container.d/05-notify.conf"), "[Container]\nNotify=yes\n");
        put(usr.join("container.d/README"), "not a drop-in");
        let dirs = [etc.clone(), usr.clone()];
        let g = generate_in(&usr.join("web-1.container"), &dirs, Path::new("/gen"), Path::new("/m")).unwrap();
        assert_eq!(g.dropins, [usr.join("container.d/05-notify.conf"), etc.join("container.d/10-env.conf"), usr.join("web-.container.d/20-label.conf")]);
        assert_eq!(g.container.spec.env, ["A=file", "B=file", "A=etc-shared"]);
        assert!(g.container.spec.notify && g.container.spec.labels["x"] == "1");
        assert!(g.service.ends_with("Restart=always\n"), "{}", g.service);
        // An error in a drop-in names the drop-in and its line.
        put(usr.join("web-1.container.d/30-bad.conf"), "[Container]\n\nNotify=maybe\n");
        let e = generate_in(&usr.join("web-1.container"), &dirs, Path::new("/gen"), Path::new("/m")).unwrap_err().to_string();
        assert_eq!(e, format!("{}:3: Notify: \"maybe\" is not a boolean (yes/no, true/false, on/off, 1/0)", usr.join("web-1.container.d/30-bad.conf").display()));
    }

    #[test]
    fn duplicate_container_names_fail_the_later_file() {
        let d = tempfile::tempdir().unwrap();
        fs::write(d.path().join("a.container"), format!("{GOOD}ContainerName=web\n")).unwrap();
        fs::write(d.path().join("b.container"), format!("{GOOD}ContainerName=web\n")).unwrap();
        let out = d.path().join("out");
        fs::create_dir(&out).unwrap();
        let cfg = Config { dirs: vec![d.path().into()], normal_dir: out.clone(), monitor: "/m".into(), dry_run: false };
        let mut errors = Vec::new();
        assert_eq!(run(&cfg, &mut io::sink(), &mut |e| errors.push(e.to_string())), 1);
        assert_eq!(errors, [format!("{}/b.container: container name web is already used by {}/a.container", d.path().display(), d.path().display())]);
        assert!(out.join("a.service").is_file() && !out.join("b.service").exists());
    }

    #[test]
    fn monitor_next_to_the_install_prefix() {
        let m = |p: &str| monitor_path(Path::new(p)).display().to_string();
        assert_eq!(m("/usr/local/lib/systemd/system-generators/berth-generator"), "/usr/local/bin/berth-monitor");
        assert_eq!(m("/usr/lib/systemd/system-generators/berth-generator"), "/usr/bin/berth-monitor");
        assert_eq!(m("/work/target/debug/berth-generator"), "/work/target/debug/berth-monitor");
    }

    #[test]
    fn command_line_and_environment() {
        let exe = Path::new("/usr/lib/systemd/system-generators/berth-generator");
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let c = config_from(&args(&["/n", "/e", "/l"]), |_| None, exe).unwrap();
        assert_eq!(c.normal_dir, Path::new("/n"));
        assert_eq!(c.dirs, SEARCH_PATH.map(PathBuf::from));
        assert_eq!(c.monitor, Path::new("/usr/bin/berth-monitor"));
        assert!(!c.dry_run);
        let env = |k: &str| match k {
            "BERTH_QUADLET_DIRS" => Some("/a::/b".to_string()),
            "BERTH_MONITOR" => Some("/opt/m".to_string()),
            _ => None,
        };
        let c = config_from(&args(&["--dry-run"]), env, exe).unwrap();
        assert_eq!((c.dirs, c.monitor, c.dry_run), (vec![PathBuf::from("/a"), "/b".into()], PathBuf::from("/opt/m"), true));
        assert_eq!(c.normal_dir, Path::new(DEFAULT_NORMAL_DIR));
        assert!(config_from(&args(&[]), |_| None, exe).is_err());
        assert!(config_from(&args(&["--bogus", "/n"]), |_| None, exe).is_err());
        assert!(config_from(&args(&["/1", "/2", "/3", "/4"]), |_| None, exe).is_err());
    }
}
