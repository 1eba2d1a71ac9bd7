//! User and group names from the container's own `/etc/passwd` and
//! `/etc/group`, read through the root fd: never the host's name service.

use super::resolve::{file_type, open_in_root};
use super::root::ContainerRoot;
use nix::fcntl::OFlag;
use nix::sys::stat::{fstat, SFlag};
use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::os::fd::AsRawFd;

/// At most this much of each file is read: a container's passwd is small,
/// a hostile one gains nothing by being large.
const MAX_FILE: u64 = 4 << 20;

/// The container's accounts: numbers to names and back. Missing or
/// unreadable files give no names, and owners stay numbers.
#[derive(Debug, Default, Clone)]
pub struct Accounts {
    users: HashMap<u32, String>,
    groups: HashMap<u32, String>,
    uids: HashMap<String, u32>,
    gids: HashMap<String, u32>,
}

impl Accounts {
    pub fn read(root: &ContainerRoot) -> Self {
        let (users, uids) = parse(&read_small(root, "/etc/passwd"));
        let (groups, gids) = parse(&read_small(root, "/etc/group"));
        Accounts { users, groups, uids, gids }
    }

    pub fn user_name(&self, uid: u32) -> Option<&str> {
        self.users.get(&uid).map(String::as_str)
    }

    pub fn group_name(&self, gid: u32) -> Option<&str> {
        self.groups.get(&gid).map(String::as_str)
    }

    pub fn uid(&self, name: &str) -> Option<u32> {
        self.uids.get(name).copied()
    }

    pub fn gid(&self, name: &str) -> Option<u32> {
        self.gids.get(name).copied()
    }
}

/// A regular file's content, or nothing: a FIFO or device planted at
/// /etc/passwd is never read (opened non-blocking, checked before reading).
fn read_small(root: &ContainerRoot, path: &str) -> String {
    let Ok(fd) = open_in_root(root, path, OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_NOCTTY) else {
        return String::new();
    };
    match fstat(fd.as_raw_fd()) {
        Ok(st) if file_type(&st) == SFlag::S_IFREG => {}
        _ => return String::new(),
    }
    let mut buf = Vec::new();
    if File::from(fd).take(MAX_FILE).read_to_end(&mut buf).is_err() {
        return String::new();
    }
    String::from_utf8_lossy(&buf).into_owned()
}

/// `name:x:id:...` lines (both files share the first three fields). The
/// first name of an id wins; names a tar header cannot hold (32 bytes with
/// its NUL) are left out.
fn parse(text: &str) -> (HashMap<u32, String>, HashMap<String, u32>) {
    let mut by_id = HashMap::new();
    let mut by_name = HashMap::new();
    for line in text.lines() {
        let mut f = line.split(':');
        let (Some(name), Some(_), Some(id)) = (f.next(), f.next(), f.next()) else { continue };
        let Ok(id) = id.trim().parse::<u32>() else { continue };
        if name.is_empty() || name.len() > 31 || name.starts_with(['#', '+', '-']) {
            continue;
        }
        by_id.entry(id).or_insert_with(|| name.to_string());
        by_name.entry(name.to_string()).or_insert(id);
    }
    (by_id, by_name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn names_come_from_the_containers_files() {
        let d = tempfile::tempdir().unwrap();
        fs::create_dir(d.path().join("etc")).unwrap();
        fs::write(
            d.path().join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\n# comment\nbroken\napp:x:1000:1000::/home/app:/bin/sh\nalias:x:1000:1000::/:/bin/sh\n",
        )
        .unwrap();
        fs::write(d.path().join("etc/group"), "root:x:0:\nstaff:x:50:app\n").unwrap();
        let a = Accounts::read(&ContainerRoot::of_dir(d.path()).unwrap());
        assert_eq!(a.user_name(1000), Some("app"));
        assert_eq!(a.uid("alias"), Some(1000));
        assert_eq!(a.group_name(50), Some("staff"));
        assert_eq!(a.gid("staff"), Some(50));
        assert_eq!(a.user_name(7), None);
    }

    #[test]
    fn missing_or_odd_files_give_no_names() {
        let d = tempfile::tempdir().unwrap();
        fs::create_dir(d.path().join("etc")).unwrap();
        nix::unistd::mkfifo(&d.path().join("etc/passwd"), nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        let a = Accounts::read(&ContainerRoot::of_dir(d.path()).unwrap());
        assert_eq!(a.user_name(0), None);
        assert_eq!(a.group_name(0), None);
    }
}
