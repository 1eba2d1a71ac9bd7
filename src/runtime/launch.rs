//! What a container's init is launched with once its root file system
//! exists: argv, environment, working directory and user, from its spec
//! and, for a container made from an image, the image's config, combined as
//! podman combines them; and its volumes as host directories. Used by
//! berthd (init, start) and by berth-monitor (file-defined containers).

use crate::image::{resolve_user, ImageConfig, VolumeStore};
use crate::model::{ContainerSpec, Error, Result, Volume};
use nix::fcntl::OFlag;
use std::collections::BTreeMap;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

/// A bind mount into the container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bind {
    pub source: PathBuf,
    pub destination: PathBuf,
    pub read_only: bool,
}

/// Everything config.json needs beyond the spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Launch {
    /// The root file system on the host.
    pub root: PathBuf,
    pub args: Vec<String>,
    /// The image's entries under the spec's (the defaults under both).
    pub env_layers: Vec<Vec<String>>,
    pub cwd: PathBuf,
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    pub binds: Vec<Bind>,
}

impl Launch {
    /// A container with a root file system directory, numeric user and
    /// bind mounts only: no file needs reading.
    pub fn plain(spec: &ContainerSpec) -> Self {
        let (uid, gid) = spec.user.unwrap_or((0, 0));
        let binds = spec
            .volumes
            .iter()
            .map(|v| Bind { source: v.source.clone(), destination: v.destination.clone(), read_only: v.read_only })
            .collect();
        Launch {
            root: spec.rootfs.clone(),
            args: spec.argv(&[], &[]),
            env_layers: vec![spec.env.clone()],
            cwd: spec.working_dir.clone().unwrap_or_else(|| PathBuf::from("/")),
            uid,
            gid,
            additional_gids: Vec::new(),
            binds,
        }
    }
}

/// The argv a spec runs, with the image's Entrypoint and Cmd; empty argv
/// is an error naming Command.
pub fn argv(spec: &ContainerSpec, image: Option<&ImageConfig>) -> Result<Vec<String>> {
    let args = match image {
        Some(c) => spec.argv(&c.entrypoint, &c.cmd),
        None => spec.argv(&[], &[]),
    };
    if args.is_empty() {
        return Err(Error::invalid("Command", "nothing to run: the image has no Entrypoint or Cmd; give a Command"));
    }
    Ok(args)
}

/// Work out the launch of `spec` with its root mounted at `root`. Users
/// named by the spec or the image are looked up in the root's own
/// /etc/passwd and /etc/group; `volumes` gives the directory of each named
/// or anonymous volume (see [`prepare_volumes`]).
pub fn resolve(spec: &ContainerSpec, image: Option<&ImageConfig>, root: &Path, volumes: &[Option<PathBuf>]) -> Result<Launch> {
    let mut l = Launch::plain(spec);
    l.root = root.to_path_buf();
    l.args = argv(spec, image)?;
    if let Some(c) = image {
        l.env_layers = vec![c.env.clone(), spec.env.clone()];
        if spec.working_dir.is_none() {
            if let Some(w) = &c.working_dir {
                l.cwd = if w.starts_with('/') { PathBuf::from(w) } else { Path::new("/").join(w) };
            }
        }
    }
    let named = match (&spec.user, &spec.user_name) {
        (Some(_), _) => None,
        (None, Some(n)) => Some(n.as_str()),
        (None, None) => image.and_then(|c| c.user.as_deref()),
    };
    if let Some(user) = named {
        let u = resolve_user(root, user).map_err(Error::from)?;
        (l.uid, l.gid, l.additional_gids) = (u.uid, u.gid, u.additional_gids);
    }
    for (bind, dir) in l.binds.iter_mut().zip(volumes) {
        if let Some(d) = dir {
            bind.source = d.clone();
        }
    }
    Ok(l)
}

/// The volumes labelled with this key are anonymous: made for the
/// container whose id the label holds.
pub const ANONYMOUS_LABEL: &str = "org.berth.anonymous";

/// Make each named or anonymous volume of `spec` that does not exist yet,
/// fill a new one from what the root holds at its destination (once), and
/// give its directory; None for bind mounts.
pub fn prepare_volumes(spec: &ContainerSpec, id: &str, root: &Path, store: &VolumeStore) -> Result<Vec<Option<PathBuf>>> {
    spec.volumes.iter().map(|v| prepare_volume(v, id, root, store)).collect()
}

/// The name of an anonymous volume berthd did not name (a file-defined
/// container's): the same on every run of the container.
fn anonymous_name(id: &str, destination: &Path) -> String {
    use sha2::{Digest, Sha256};
    let d = Sha256::digest(format!("berth-anonymous:{id}:{}", destination.display()));
    d.iter().map(|b| format!("{b:02x}")).collect()
}

fn prepare_volume(v: &Volume, id: &str, root: &Path, store: &VolumeStore) -> Result<Option<PathBuf>> {
    let derived;
    let name = match (&v.volume, v.anonymous) {
        (Some(n), _) => n,
        (None, true) => {
            derived = anonymous_name(id, &v.destination);
            &derived
        }
        (None, false) => return Ok(None),
    };
    let volume = match store.inspect(name) {
        Ok(vol) => vol,
        Err(crate::image::Error::VolumeNotFound { .. }) => {
            let labels: BTreeMap<String, String> =
                if v.anonymous { [(ANONYMOUS_LABEL.to_string(), id.to_string())].into() } else { BTreeMap::new() };
            match store.create(name, labels) {
                Ok(vol) => vol,
                // Another container made it first.
                Err(crate::image::Error::VolumeExists { .. }) => store.inspect(name)?,
                Err(e) => return Err(e.into()),
            }
        }
        Err(e) => return Err(e.into()),
    };
    if !volume.populated {
        populate(store, name, root, &v.destination)?;
    }
    Ok(Some(volume.mountpoint))
}

/// Copy what the root holds at `destination` into a new volume. The
/// directory is found inside the root as the container would see it (a
/// symbolic link in the image cannot lead out of it), and handed over as
/// its descriptor's /proc path.
fn populate(store: &VolumeStore, name: &str, root: &Path, destination: &Path) -> Result<()> {
    let dir = crate::image::fsat::open_dir(root).map_err(Error::io_at("open", root))?;
    let rel = destination.strip_prefix("/").unwrap_or(destination);
    let found = crate::image::fsat::open_in_root(&dir, rel, OFlag::O_RDONLY | OFlag::O_DIRECTORY);
    let source = match found {
        Ok(fd) => Some(fd),
        // Nothing there, or not a directory: nothing to copy.
        Err(nix::errno::Errno::ENOENT) | Err(nix::errno::Errno::ENOTDIR) => None,
        Err(e) => return Err(Error::io("open", root.join(rel), e.into())),
    };
    let path = match &source {
        Some(fd) => PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd())),
        None => root.join(".berth-nothing-to-copy"),
    };
    store.populate_from(name, &path)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::OptionValue;

    fn spec(extra: &[(&str, OptionValue)]) -> ContainerSpec {
        let mut o: BTreeMap<String, OptionValue> = [("Image".to_string(), OptionValue::Str("web".into()))].into();
        o.extend(extra.iter().map(|(k, v)| (k.to_string(), v.clone())));
        ContainerSpec::from_options(&o).unwrap()
    }

    fn image() -> ImageConfig {
        ImageConfig {
            entrypoint: vec!["/entry".into()],
            cmd: vec!["serve".into()],
            env: vec!["PATH=/opt/bin".into(), "MODE=image".into()],
            working_dir: Some("/srv".into()),
            user: Some("web".into()),
            ..Default::default()
        }
    }

    fn root() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("etc")).unwrap();
        std::fs::write(d.path().join("etc/passwd"), "root:x:0:0::/:/bin/sh\nweb:x:1000:1001::/srv:/bin/sh\n").unwrap();
        std::fs::write(d.path().join("etc/group"), "web:x:1001:\nwheel:x:10:web\n").unwrap();
        d
    }

    #[test]
    fn the_image_config_applies_under_the_spec() {
        let d = root();
        let l = resolve(&spec(&[]), Some(&image()), d.path(), &[]).unwrap();
        assert_eq!(l.args, ["/entry", "serve"]);
        assert_eq!(l.env_layers, [vec!["PATH=/opt/bin".to_string(), "MODE=image".into()], vec![]]);
        assert_eq!(l.cwd, Path::new("/srv"));
        assert_eq!((l.uid, l.gid, l.additional_gids.as_slice()), (1000, 1001, &[10][..]));
        assert_eq!(l.root, d.path());

        let s = spec(&[
            ("Command", OptionValue::StrList(vec!["-v".into()])),
            ("Env", OptionValue::StrList(vec!["MODE=user".into()])),
            ("WorkingDir", OptionValue::Str("/tmp".into())),
            ("User", OptionValue::Str("0:10".into())),
        ]);
        let l = resolve(&s, Some(&image()), d.path(), &[]).unwrap();
        assert_eq!(l.args, ["/entry", "-v"]);
        assert_eq!(l.env_layers[1], ["MODE=user"]);
        assert_eq!((l.cwd.as_path(), l.uid, l.gid), (Path::new("/tmp"), 0, 10));
        let cmd = ("Command", OptionValue::StrList(vec!["/bin/id".into()]));
        let l = resolve(&spec(&[("User", OptionValue::Str("web:wheel".into())), cmd]), None, d.path(), &[]).unwrap();
        assert_eq!((l.uid, l.gid), (1000, 10));
    }

    #[test]
    fn nothing_to_run_or_an_unknown_user_is_named() {
        let d = root();
        let bare = ImageConfig::default();
        assert_eq!(resolve(&spec(&[]), Some(&bare), d.path(), &[]).unwrap_err().key(), Some("Command"));
        let ghost = spec(&[("User", OptionValue::Str("ghost".into()))]);
        assert_eq!(resolve(&ghost, Some(&image()), d.path(), &[]).unwrap_err().key(), Some("User"));
    }

    #[test]
    fn volumes_are_made_once_and_filled_from_inside_the_root() {
        let d = root();
        std::fs::create_dir_all(d.path().join("srv/data")).unwrap();
        std::fs::write(d.path().join("srv/data/seed"), b"from the image").unwrap();
        // A link that would lead a host-path copy to the host's /etc.
        std::os::unix::fs::symlink("/etc", d.path().join("escape")).unwrap();
        let vols = tempfile::tempdir().unwrap();
        let store = VolumeStore::open(vols.path()).unwrap();
        let s = spec(&[
            ("Volumes", OptionValue::StrList(vec!["data:/srv/data".into(), "esc:/escape".into(), "/h:/h".into(), "/srv".into()])),
            ("Command", OptionValue::StrList(vec!["/bin/id".into()])),
        ]);
        let dirs = prepare_volumes(&s, &"a".repeat(64), d.path(), &store).unwrap();
        assert_eq!(std::fs::read(dirs[0].as_ref().unwrap().join("seed")).unwrap(), b"from the image");
        let esc = dirs[1].as_ref().unwrap();
        assert!(esc.join("passwd").exists(), "the image's own /etc, not the host's");
        assert_eq!(std::fs::read_to_string(esc.join("passwd")).unwrap(), std::fs::read_to_string(d.path().join("etc/passwd")).unwrap());
        assert!(dirs[2].is_none());
        let anon = dirs[3].as_ref().unwrap();
        assert!(anon.join("data/seed").exists(), "an anonymous volume without a name gets one, and the image's content");
        assert_eq!(prepare_volumes(&s, &"a".repeat(64), d.path(), &store).unwrap()[3].as_ref(), Some(anon), "the same one each run");
        std::fs::write(d.path().join("srv/data/later"), b"x").unwrap();
        prepare_volumes(&s, &"a".repeat(64), d.path(), &store).unwrap();
        assert!(!dirs[0].as_ref().unwrap().join("later").exists(), "filled once");
        let l = resolve(&s, None, d.path(), &dirs).unwrap();
        assert_eq!(l.binds[0].source, *dirs[0].as_ref().unwrap());
        assert_eq!(l.binds[2].source, Path::new("/h"));
    }
}
