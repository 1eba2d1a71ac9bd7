//! `berth-generator`, a systemd.generator(7): at boot and on every
//! daemon-reload, turn each `<name>.container` file into
//! `<normal-dir>/<name>.service` plus the container's spec file, and the
//! [Install] symlinks that enable it. Generators run before D-Bus exists,
//! so nothing here talks to it. A bad file fails alone: systemd logs the
//! exit status 1 and still loads the good units.

use super::{parse::split_words, render, specifier, Container, Error};
use crate::fsutil::atomic_write;
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Where `.container` files live, the first one winning by file name.
pub const SEARCH_PATH: [&str; 3] = ["/run/berth/systemd", "/etc/berth/systemd", "/usr/share/berth/systemd"];

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
            let wanted = !name.to_string_lossy().starts_with('.') && path.extension().is_some_and(|e| e == "container");
            if !wanted || found.contains_key(&name) {
                continue;
            }
            let masked = fs::canonicalize(&path).is_ok_and(|p| p == Path::new("/dev/null"))
                || fs::metadata(&path).is_ok_and(|m| m.is_file() && m.len() == 0);
            if masked {
                found.insert(name, None);
            } else if path.is_file() {
                found.insert(name, Some(path));
            }
        }
    }
    (found.into_values().flatten().collect(), errors)
}

/// Everything one file becomes, without writing anything.
pub fn generate(path: &Path, normal_dir: &Path, monitor: &Path) -> Result<Generated, Error> {
    let container = Container::load(path)?;
    let unit = format!("{}.service", container.unit);
    let spec_path = normal_dir.join("berth").join(format!("{}.json", container.unit));
    let service = render::service(&container, monitor, &spec_path)?;
    let defined = crate::model::FileDefined {
        name: container.name.clone(),
        id: container.id.clone(),
        unit: unit.clone(),
        source: path.to_path_buf(),
        spec: container.spec.clone(),
    };
    let mut spec_json = serde_json::to_string_pretty(&defined).map_err(|e| Error::file(path, e.to_string()))?;
    spec_json.push('\n');
    let links = install_links(&container, &unit, normal_dir)?;
    Ok(Generated { service_path: normal_dir.join(&unit), service, spec_path, spec_json, links, container })
}

/// WantedBy= and RequiredBy= as `.wants`/`.requires` links, Alias= as a
/// link to the unit, as `systemctl enable` would make them.
fn install_links(c: &Container, unit: &str, normal_dir: &Path) -> Result<Vec<(PathBuf, PathBuf)>, Error> {
    let mut links = Vec::new();
    for e in c.file.entries("Install") {
        let kind = match e.key.as_str() {
            "WantedBy" => "wants",
            "RequiredBy" => "requires",
            "Alias" => "",
            _ => continue,
        };
        let bad = |m: String| c.file.error(e.line, format!("{}: {m}", e.key));
        for word in split_words(&e.value).map_err(bad)? {
            let name = specifier::expand(&word, &c.unit).map_err(bad)?;
            if name.is_empty() || name.starts_with('.') || name.contains('/') || !name.contains('.') {
                return Err(bad(format!("{name:?} is not a unit name")));
            }
            if kind.is_empty() {
                if !name.ends_with(".service") {
                    return Err(bad(format!("{name:?}: an alias of a service must end in .service")));
                }
                links.push((normal_dir.join(&name), PathBuf::from(unit)));
            } else {
                links.push((normal_dir.join(format!("{name}.{kind}")).join(unit), Path::new("..").join(unit)));
            }
        }
    }
    Ok(links)
}

fn with_path(p: &Path) -> impl Fn(io::Error) -> io::Error + '_ {
    move |e| io::Error::new(e.kind(), format!("{}: {e}", p.display()))
}

pub fn write(g: &Generated) -> io::Result<()> {
    if let Some(d) = g.spec_path.parent() {
        fs::create_dir_all(d).map_err(with_path(d))?;
    }
    // 0600: the environment may carry secrets.
    atomic_write(&g.spec_path, g.spec_json.as_bytes()).map_err(with_path(&g.spec_path))?;
    fs::write(&g.service_path, &g.service).map_err(with_path(&g.service_path))?;
    for (link, target) in &g.links {
        if let Some(d) = link.parent() {
            fs::create_dir_all(d).map_err(with_path(d))?;
        }
        let _ = fs::remove_file(link);
        std::os::unix::fs::symlink(target, link).map_err(with_path(link))?;
    }
    Ok(())
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
    // Two files must not run the same container: the same id, bundle and exit file.
    let mut names: BTreeMap<String, PathBuf> = BTreeMap::new();
    for path in files {
        let result = generate(&path, &cfg.normal_dir, &cfg.monitor).and_then(|g| {
            if let Some(first) = names.get(g.container.name.as_str()) {
                let m = format!("container name {} is already used by {}", g.container.name, first.display());
                return Err(Error::file(&path, m));
            }
            names.insert(g.container.name.to_string(), path.clone());
            let done = if cfg.dry_run { show(out, &g) } else { write(&g) };
            done.map_err(|e| Error::file(&path, e.to_string()))
        });
        if let Err(e) = result {
            report(&e);
            status = 1;
        }
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
        std::os::unix::fs::symlink("/dev/null", a.join("db.container")).unwrap();
        let (files, errors) = find(&[a.clone(), d.path().join("missing"), b.clone()]);
        assert!(errors.is_empty());
        assert_eq!(files, [b.join("cache.container"), a.join("web.container")]);
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
        assert!(generate(&p, Path::new("/gen"), Path::new("/m")).unwrap_err().message.contains("must end in .service"));
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
