//! Extended attributes read and written through file descriptors.

use nix::libc;
use std::io;
use std::os::fd::RawFd;

/// Attributes that describe the host they were set on rather than the file:
/// an SELinux label is never copied in or out.
pub(crate) fn is_copied(name: &[u8]) -> bool {
    name != b"security.selinux"
}

/// All `(name, value)` pairs of an open file. A file system without
/// extended attributes gives none.
pub(crate) fn list(fd: RawFd) -> io::Result<Vec<(Vec<u8>, Vec<u8>)>> {
    let names = loop {
        // SAFETY: a NULL buffer of size 0 asks for the needed size only.
        let n = unsafe { libc::flistxattr(fd, std::ptr::null_mut(), 0) };
        if n < 0 {
            return match io::Error::last_os_error() {
                e if e.raw_os_error() == Some(libc::ENOTSUP) => Ok(Vec::new()),
                e => Err(e),
            };
        }
        if n == 0 {
            return Ok(Vec::new());
        }
        let mut buf = vec![0u8; n as usize];
        // SAFETY: buf is valid for writes of buf.len() bytes.
        let m = unsafe { libc::flistxattr(fd, buf.as_mut_ptr().cast(), buf.len()) };
        if m >= 0 {
            buf.truncate(m as usize);
            break buf;
        }
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::ERANGE) {
            return Err(e);
        }
    };
    let mut out = Vec::new();
    for name in names.split(|b| *b == 0).filter(|n| !n.is_empty()) {
        if !is_copied(name) {
            continue;
        }
        match get(fd, name)? {
            Some(v) => out.push((name.to_vec(), v)),
            None => continue, // removed since it was listed
        }
    }
    Ok(out)
}

fn get(fd: RawFd, name: &[u8]) -> io::Result<Option<Vec<u8>>> {
    let cname = std::ffi::CString::new(name).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    loop {
        // SAFETY: cname is NUL-terminated; a NULL buffer of size 0 asks for the size.
        let n = unsafe { libc::fgetxattr(fd, cname.as_ptr(), std::ptr::null_mut(), 0) };
        if n < 0 {
            let e = io::Error::last_os_error();
            return if e.raw_os_error() == Some(libc::ENODATA) { Ok(None) } else { Err(e) };
        }
        let mut buf = vec![0u8; n as usize];
        // SAFETY: buf is valid for writes of buf.len() bytes; cname as above.
        let m = unsafe { libc::fgetxattr(fd, cname.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
        if m >= 0 {
            buf.truncate(m as usize);
            return Ok(Some(buf));
        }
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::ERANGE) => continue,
            Some(libc::ENODATA) => return Ok(None),
            _ => return Err(e),
        }
    }
}

/// Set one attribute on an open file.
pub(crate) fn set(fd: RawFd, name: &[u8], value: &[u8]) -> io::Result<()> {
    let cname = std::ffi::CString::new(name).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: cname is NUL-terminated, value is valid for value.len() bytes.
    let rc = unsafe { libc::fsetxattr(fd, cname.as_ptr(), value.as_ptr().cast(), value.len(), 0) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Errors that mean "this file system or this caller cannot hold that
/// attribute", which a copy reports by skipping it (as docker and podman do).
pub(crate) fn is_unsupported(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOTSUP) | Some(libc::EPERM) | Some(libc::EACCES))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    #[test]
    fn set_and_list_round_trip() {
        std::fs::create_dir_all("/var/tmp").unwrap();
        let d = tempfile::tempdir_in("/var/tmp").unwrap();
        let f = std::fs::File::create(d.path().join("f")).unwrap();
        match set(f.as_raw_fd(), b"user.berth", b"\x00bin\xffary") {
            Err(e) if is_unsupported(&e) => return, // no user xattrs here
            r => r.unwrap(),
        }
        let l = list(f.as_raw_fd()).unwrap();
        assert!(l.contains(&(b"user.berth".to_vec(), b"\x00bin\xffary".to_vec())), "{l:?}");
        assert!(!is_copied(b"security.selinux"));
    }
}
