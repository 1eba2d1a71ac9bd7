//! Which uid, gid and supplementary groups a container's `User` means,
//! read from the image's own `/etc/passwd` and `/etc/group` (never the
//! host's NSS), as podman and runc resolve it.

use super::error::{Error, Result};
use super::fsat::{open_dir, open_in_root};
use nix::errno::Errno;
use nix::fcntl::OFlag;
use std::fs::File;
use std::io::Read;
use std::path::Path;

/// What a user string resolves to inside an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedUser {
    pub uid: u32,
    pub gid: u32,
    /// Groups listing the user as a member (only when no group is given).
    pub additional_gids: Vec<u32>,
}

/// Resolve `user` (`""`, `name`, `uid`, `name:group`, `uid:gid`, and the
/// mixed forms) against the image root `root`. The files are opened with
/// `RESOLVE_IN_ROOT`, so a link such as `/etc/passwd -> /x` stays inside.
/// A numeric uid missing from passwd is allowed, with gid 0; an unknown
/// name is an error.
pub fn resolve_user(root: &Path, user: &str) -> Result<ResolvedUser> {
    let (u, g) = match user.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (user, None),
    };
    if g == Some("") || (u.is_empty() && g.is_some()) {
        return Err(Error::InvalidUser { user: user.to_string() });
    }
    if u.is_empty() {
        return Ok(ResolvedUser { uid: 0, gid: 0, additional_gids: Vec::new() });
    }
    let dir = open_dir(root).map_err(Error::io("open", root))?;
    let passwd = read_in_root(&dir, root, "etc/passwd")?;
    let entry = passwd.lines().filter_map(parse_passwd).find(|p| match u.parse::<u32>() {
        Ok(n) => p.uid == n,
        Err(_) => p.name == u,
    });
    let (uid, mut gid, name) = match (entry, u.parse::<u32>()) {
        (Some(p), _) => (p.uid, p.gid, Some(p.name)),
        (None, Ok(n)) => (n, 0, None),
        (None, Err(_)) => return Err(Error::UnknownUser { user: u.to_string() }),
    };
    let group_file = read_in_root(&dir, root, "etc/group")?;
    let groups: Vec<Group<'_>> = group_file.lines().filter_map(parse_group).collect();
    if let Some(g) = g {
        gid = match g.parse::<u32>() {
            Ok(n) => n,
            Err(_) => groups.iter().find(|x| x.name == g).map(|x| x.gid).ok_or_else(|| Error::UnknownGroup { group: g.to_string() })?,
        };
        return Ok(ResolvedUser { uid, gid, additional_gids: Vec::new() });
    }
    let mut additional_gids: Vec<u32> = match name {
        Some(n) => groups.iter().filter(|x| x.members.contains(&n)).map(|x| x.gid).collect(),
        None => Vec::new(),
    };
    additional_gids.sort_unstable();
    additional_gids.dedup();
    Ok(ResolvedUser { uid, gid, additional_gids })
}

/// A file of the image, empty when it does not exist.
fn read_in_root(dir: &impl std::os::fd::AsRawFd, root: &Path, path: &str) -> Result<String> {
    let fd = match open_in_root(dir, Path::new(path), OFlag::O_RDONLY | OFlag::O_NOCTTY) {
        Ok(fd) => fd,
        Err(Errno::ENOENT) | Err(Errno::ENOTDIR) => return Ok(String::new()),
        Err(e) => return Err(Error::sys("open", root.join(path))(e)),
    };
    let mut data = Vec::new();
    // A passwd file bigger than this is not one.
    File::from(fd).take(16 << 20).read_to_end(&mut data).map_err(Error::io("read", root.join(path)))?;
    Ok(String::from_utf8_lossy(&data).into_owned())
}

struct Passwd<'a> {
    name: &'a str,
    uid: u32,
    gid: u32,
}

fn parse_passwd(line: &str) -> Option<Passwd<'_>> {
    let mut f = line.split(':');
    let name = f.next()?;
    let _password = f.next()?;
    let uid = f.next()?.trim().parse().ok()?;
    let gid = f.next()?.trim().parse().ok()?;
    (!name.is_empty() && !name.starts_with('#')).then_some(Passwd { name, uid, gid })
}

struct Group<'a> {
    name: &'a str,
    gid: u32,
    members: Vec<&'a str>,
}

fn parse_group(line: &str) -> Option<Group<'_>> {
    let mut f = line.split(':');
    let name = f.next()?;
    let _password = f.next()?;
    let gid = f.next()?.trim().parse().ok()?;
    let members = f.next().unwrap_or("").split(',').map(str::trim).filter(|m| !m.is_empty()).collect();
    (!name.is_empty() && !name.starts_with('#')).then_some(Group { name, gid, members })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn root() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        fs::create_dir(d.path().join("etc")).unwrap();
        fs::write(
            d.path().join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\n# comment\nweb:x:1000:1001::/home/web:/bin/sh\nbad line\nnobody:x:65534:65534::/:/bin/false\n",
        )
        .unwrap();
        fs::write(d.path().join("etc/group"), "root:x:0:\nwebgrp:x:1001:\nwheel:x:10:web,other\naudio:x:29:web\nnogroup:x:65534:\n").unwrap();
        d
    }

    fn r(root: &Path, u: &str) -> Result<(u32, u32, Vec<u32>)> {
        resolve_user(root, u).map(|x| (x.uid, x.gid, x.additional_gids))
    }

    #[test]
    fn podman_forms() {
        let d = root();
        let p = d.path();
        assert_eq!(r(p, "").unwrap(), (0, 0, vec![]));
        assert_eq!(r(p, "root").unwrap(), (0, 0, vec![]));
        assert_eq!(r(p, "web").unwrap(), (1000, 1001, vec![10, 29]));
        assert_eq!(r(p, "1000").unwrap(), (1000, 1001, vec![10, 29]));
        assert_eq!(r(p, "web:wheel").unwrap(), (1000, 10, vec![]));
        assert_eq!(r(p, "web:7").unwrap(), (1000, 7, vec![]));
        assert_eq!(r(p, "1000:1000").unwrap(), (1000, 1000, vec![]));
        assert_eq!(r(p, "4242").unwrap(), (4242, 0, vec![]), "a uid not in passwd gets gid 0");
        assert_eq!(r(p, "4242:nogroup").unwrap(), (4242, 65534, vec![]));
    }

    #[test]
    fn unknown_names_are_named() {
        let d = root();
        assert!(matches!(resolve_user(d.path(), "ghost"), Err(Error::UnknownUser { .. })));
        assert!(matches!(resolve_user(d.path(), "web:ghosts"), Err(Error::UnknownGroup { .. })));
        assert!(matches!(resolve_user(d.path(), "web:"), Err(Error::InvalidUser { .. })));
        assert!(matches!(resolve_user(d.path(), ":10"), Err(Error::InvalidUser { .. })));
    }

    #[test]
    fn links_resolve_inside_the_root() {
        let d = tempfile::tempdir().unwrap();
        // /etc is a link to /real, which from the host would be the host's.
        fs::create_dir(d.path().join("real")).unwrap();
        std::os::unix::fs::symlink("/real", d.path().join("etc")).unwrap();
        fs::write(d.path().join("real/passwd"), "app:x:77:78::/:/bin/sh\n").unwrap();
        std::os::unix::fs::symlink("../../../../../../../real/group-file", d.path().join("real/group")).unwrap();
        fs::write(d.path().join("real/group-file"), "extra:x:90:app\n").unwrap();
        assert_eq!(r(d.path(), "app").unwrap(), (77, 78, vec![90]));
        // A host user is unknown inside an image that lacks it.
        let empty = tempfile::tempdir().unwrap();
        assert!(matches!(resolve_user(empty.path(), "root"), Err(Error::UnknownUser { .. })));
        assert_eq!(r(empty.path(), "0").unwrap(), (0, 0, vec![]));
    }
}
