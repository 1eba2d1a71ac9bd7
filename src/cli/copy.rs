//! `berthctl cp SRC DST` (podman's `CONTAINER:PATH` forms both ways, `-`
//! for a tar stream on standard input or output) and `berthctl stat`.
//!
//! The host side of a copy is done with the same code berthd uses inside
//! containers ([`crate::files`]): what a container sends is extracted
//! under the destination directory held as a descriptor, every path
//! resolved inside it, so a hostile archive (`../`, absolute names, links
//! out) cannot write anywhere else on the host.

use crate::client::Client;
use crate::files::{self, ContainerRoot, CopyInOptions, Ownership};
use crate::model::{CopyOptions, Error, ErrorKind, FileInfo, Result};
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

/// One side of `cp`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// `-`: a tar stream on standard input or output.
    Stream,
    Host(String),
    Container { name: String, path: String },
}

impl Location {
    /// podman's reading: `NAME:PATH` is a container's path unless the
    /// argument starts with `/` or `.` (a host path with a colon in it).
    pub fn parse(arg: &str) -> Location {
        if arg == "-" {
            return Location::Stream;
        }
        if !arg.starts_with('/') && !arg.starts_with('.') {
            if let Some((name, path)) = arg.split_once(':') {
                if crate::model::ContainerName::new(name).is_ok() {
                    return Location::Container { name: name.to_string(), path: if path.is_empty() { "/".into() } else { path.into() } };
                }
            }
        }
        Location::Host(arg.to_string())
    }
}

/// `cp`'s flags.
#[derive(Debug, Clone, Copy)]
pub struct CpFlags {
    /// Copied into a container: owned by its user (podman's --archive).
    pub archive: bool,
    /// Replace a directory by a non-directory and the other way round.
    pub overwrite: bool,
    /// Freeze a running container during a copy into it.
    pub pause: bool,
}

/// `berthctl cp SRC DST`.
pub async fn cp(c: &Client, src: &str, dst: &str, flags: CpFlags) -> Result<i32> {
    match (Location::parse(src), Location::parse(dst)) {
        (Location::Container { name, path }, Location::Stream) => {
            let out = std::io::stdout();
            if out.is_terminal() {
                return Err(Error::invalid("DST", "refusing to write an archive to a terminal; redirect standard output"));
            }
            c.copy_to_archive(&name, &path, out.as_fd()).await?;
        }
        (Location::Stream, Location::Container { name, path }) => {
            let o = copy_options(flags, BTreeMap::new());
            c.copy_from_archive(&name, &path, std::io::stdin().as_fd(), &o).await?;
        }
        (Location::Container { name, path }, Location::Host(host)) => copy_out(c, &name, &path, &host).await?,
        (Location::Host(host), Location::Container { name, path }) => copy_in(c, &host, &name, &path, flags).await?,
        (Location::Container { .. }, Location::Container { .. }) => {
            return Err(Error::invalid("SRC", "copying between containers is not supported; copy through the host"))
        }
        _ => return Err(Error::invalid("SRC", "one of SRC and DST must be CONTAINER:PATH")),
    }
    Ok(0)
}

/// `berthctl stat NAME PATH`: the JSON berthd gives.
pub async fn stat(c: &Client, name: &str, path: &str, follow: bool) -> Result<i32> {
    println!("{}", c.stat_json(name, path, follow).await?);
    Ok(0)
}

fn copy_options(flags: CpFlags, rename: BTreeMap<String, String>) -> CopyOptions {
    CopyOptions { chown: flags.archive, pause: flags.pause, no_overwrite_dir_nondir: !flags.overwrite, rename }
}

/// The last component of a path ("" for `/`), without trailing slashes.
fn base(path: &str) -> &str {
    path.trim_end_matches('/').rsplit('/').next().unwrap_or("")
}

/// The directory of a path (`/` for a top-level one, `.` for a bare name).
fn parent(path: &str) -> String {
    let t = path.trim_end_matches('/');
    match t.rfind('/') {
        Some(0) => "/".into(),
        Some(i) => t[..i].into(),
        None => ".".into(),
    }
}

/// `dir/.` or `.` or `/`: the contents of a directory.
fn contents_only(path: &str) -> bool {
    path == "." || path.ends_with("/.") || path.trim_end_matches('/').is_empty()
}

/// A pipe with a large buffer (fewer wake-ups for big copies).
fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    let (r, w) = nix::unistd::pipe().map_err(|e| Error::internal(format!("cannot make a pipe: {e}")))?;
    // Best effort: a smaller pipe is only slower.
    let _ = nix::fcntl::fcntl(std::os::fd::AsRawFd::as_raw_fd(&w), nix::fcntl::FcntlArg::F_SETPIPE_SZ(1 << 20));
    Ok((r, w))
}

fn host_error(side: &str, e: files::Error) -> Error {
    let message = e.to_string();
    match e {
        files::Error::NotFound { path } => Error::Remote { kind: ErrorKind::NoSuchPath, message: format!("{side}: no such file or directory: {path}") },
        files::Error::NotADirectory { .. } | files::Error::DestinationNotDirectory { .. } => {
            Error::Remote { kind: ErrorKind::NotADirectory, message: format!("{side}: {message}") }
        }
        files::Error::Canceled | files::Error::OutputClosed { .. } => Error::Canceled { what: "the copy".into() },
        e if matches!(e, files::Error::InvalidArchive { .. } | files::Error::TruncatedArchive(_) | files::Error::EntryEscapes { .. }) => {
            Error::InvalidArchive { message }
        }
        _ => Error::internal(format!("{side}: {message}")),
    }
}

/// Container to host: the container's tar stream extracted on the host
/// by podman's rules (into DST when it is a directory, else as DST).
async fn copy_out(c: &Client, name: &str, path: &str, host: &str) -> Result<()> {
    let info = c.stat(name, path, true).await?;
    let host_meta = std::fs::metadata(host).ok();
    let (dir, rename) = match &host_meta {
        Some(m) if m.is_dir() => (PathBuf::from(host), BTreeMap::new()),
        Some(_) if info.is_dir => {
            return Err(Error::Remote { kind: ErrorKind::NotADirectory, message: format!("{host} is not a directory") })
        }
        _ if host.ends_with('/') => {
            return Err(Error::Remote { kind: ErrorKind::NoSuchPath, message: format!("no such directory: {host}") })
        }
        _ if contents_only(path) => {
            // `ctr:/dir/. newdir`: newdir is made and gets the contents.
            std::fs::create_dir(host).map_err(|e| Error::io("create", host, e))?;
            (PathBuf::from(host), BTreeMap::new())
        }
        _ => (PathBuf::from(parent(host)), [(top_name(&info, path), base(host).to_string())].into()),
    };
    let root = ContainerRoot::of_dir(&dir).map_err(|e| host_error("DST", e))?;
    let (r, w) = pipe()?;
    let extract = std::thread::spawn(move || {
        let opts = CopyInOptions { owner: Ownership::FromArchive, no_overwrite_dir_nondir: false, rename };
        let never = AtomicBool::new(false);
        files::copy_in(&root, "/", std::io::BufReader::with_capacity(1 << 20, std::fs::File::from(r)), &opts, &never)
    });
    let sent = c.copy_to_archive(name, path, w.as_fd()).await;
    drop(w);
    let got = extract.join().map_err(|_| Error::internal("the extracting thread panicked"))?;
    sent?;
    got.map_err(|e| host_error("DST", e))?;
    Ok(())
}

/// The name the archive's top entry has: the path's last component.
fn top_name(info: &FileInfo, path: &str) -> String {
    match base(path) {
        "" => info.name.clone(),
        b => b.to_string(),
    }
}

/// Host to container: a tar stream of the host path, extracted in the
/// container by podman's rules.
async fn copy_in(c: &Client, host: &str, name: &str, path: &str, flags: CpFlags) -> Result<()> {
    let contents = contents_only(host);
    // The host path is the caller's own: its links are followed here.
    let canonical = std::fs::canonicalize(host).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::Remote { kind: ErrorKind::NoSuchPath, message: format!("no such file or directory: {host}") },
        _ => Error::io("resolve", host, e),
    })?;
    let src_is_dir = canonical.is_dir();
    if contents && !src_is_dir {
        return Err(Error::Remote { kind: ErrorKind::NotADirectory, message: format!("{host} is not a directory") });
    }
    let (root_dir, top) = match (contents, canonical.parent(), canonical.file_name()) {
        (true, _, _) | (false, None, _) | (false, _, None) => (canonical.clone(), ".".to_string()),
        (false, Some(p), Some(n)) => (p.to_path_buf(), n.to_string_lossy().into_owned()),
    };
    let dest = match c.stat(name, path, true).await {
        Ok(i) => Some(i),
        Err(e) if e.kind() == ErrorKind::NoSuchPath => None,
        Err(e) => return Err(e),
    };
    let (target, rename) = match dest {
        Some(d) if d.is_dir => (path.to_string(), BTreeMap::new()),
        Some(_) if src_is_dir || path.ends_with('/') => {
            return Err(Error::Remote { kind: ErrorKind::NotADirectory, message: format!("{name}:{path} is not a directory") })
        }
        // A file onto a file: the new one replaces it.
        Some(_) => (parent(path), [(top.clone(), base(path).to_string())].into()),
        None if path.ends_with('/') => {
            return Err(Error::Remote { kind: ErrorKind::NoSuchPath, message: format!("no such directory in container {name}: {path}") })
        }
        None if top == "." => (parent(path), [(".".to_string(), base(path).to_string())].into()),
        None => (parent(path), [(top.clone(), base(path).to_string())].into()),
    };
    if rename.contains_key(".") {
        // A directory's contents as a new directory: the directory itself
        // is archived, under the new name.
        return copy_dir_as(c, &canonical, name, &target, base(path), flags).await;
    }
    let root = ContainerRoot::of_dir(&root_dir).map_err(|e| host_error("SRC", e))?;
    send(c, root, top, name, &target, copy_options(flags, rename)).await
}

/// `cp dir/. ctr:/new`: `dir` archived as itself, extracted as `new`.
async fn copy_dir_as(c: &Client, dir: &Path, name: &str, target: &str, new: &str, flags: CpFlags) -> Result<()> {
    let (Some(p), Some(n)) = (dir.parent(), dir.file_name()) else {
        return Err(Error::invalid("SRC", "cannot copy the host's / into a new directory"));
    };
    let n = n.to_string_lossy().into_owned();
    let root = ContainerRoot::of_dir(p).map_err(|e| host_error("SRC", e))?;
    send(c, root, n.clone(), name, target, copy_options(flags, [(n, new.to_string())].into())).await
}

/// Archive `top` under `root` on the host into a pipe that berthd
/// extracts under `target` in the container.
async fn send(c: &Client, root: ContainerRoot, top: String, name: &str, target: &str, o: CopyOptions) -> Result<()> {
    let (r, w) = pipe()?;
    let archive = std::thread::spawn(move || {
        let never = AtomicBool::new(false);
        files::copy_out(&root, &top, std::io::BufWriter::with_capacity(1 << 20, std::fs::File::from(w)), &never)
    });
    let received = c.copy_from_archive(name, target, r.as_fd(), &o).await;
    drop(r);
    let sent = archive.join().map_err(|_| Error::internal("the archiving thread panicked"))?;
    received?;
    sent.map_err(|e| host_error("SRC", e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn podmans_container_path_syntax() {
        assert_eq!(Location::parse("-"), Location::Stream);
        assert_eq!(Location::parse("web:/etc/hosts"), Location::Container { name: "web".into(), path: "/etc/hosts".into() });
        assert_eq!(Location::parse("web:"), Location::Container { name: "web".into(), path: "/".into() });
        assert_eq!(Location::parse("./a:b"), Location::Host("./a:b".into()));
        assert_eq!(Location::parse("/tmp/a:b"), Location::Host("/tmp/a:b".into()));
        assert_eq!(Location::parse("file"), Location::Host("file".into()));
        assert_eq!(Location::parse("bad name:x"), Location::Host("bad name:x".into()));
    }

    #[test]
    fn path_pieces() {
        assert_eq!((base("/a/b/"), parent("/a/b/")), ("b", "/a".to_string()));
        assert_eq!((base("/a"), parent("/a")), ("a", "/".to_string()));
        assert_eq!((base("a"), parent("a")), ("a", ".".to_string()));
        assert!(contents_only("/a/.") && contents_only("/") && contents_only(".") && !contents_only("/a"));
    }
}
