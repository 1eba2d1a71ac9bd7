//! Reading files a user names (unit files, environment files), as a
//! generator at boot must: regular files only (a FIFO would block forever, a device could be read
//! without end), opened without blocking and read up to a bound.

use nix::fcntl::OFlag;
use std::fs::OpenOptions;
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// The text of the regular file `path`, at most `max` bytes; an error
/// (without the path, which the caller names) otherwise.
pub fn regular_file(path: &Path, max: u64) -> Result<String, String> {
    // O_NONBLOCK: opening a FIFO without a writer returns at once (and is
    // then refused as not regular); O_NOCTTY: a terminal never becomes ours.
    let flags = (OFlag::O_NONBLOCK | OFlag::O_NOCTTY | OFlag::O_CLOEXEC).bits();
    let f = OpenOptions::new().read(true).custom_flags(flags).open(path).map_err(|e| e.to_string())?;
    let meta = f.metadata().map_err(|e| e.to_string())?;
    if !meta.is_file() {
        return Err("not a regular file".into());
    }
    if meta.len() > max {
        return Err(format!("larger than {max} bytes"));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    // The file may grow while read: never take more than the bound.
    f.take(max + 1).read_to_end(&mut bytes).map_err(|e| e.to_string())?;
    if bytes.len() as u64 > max {
        return Err(format!("larger than {max} bytes"));
    }
    String::from_utf8(bytes).map_err(|_| "not UTF-8 text".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_bounded_regular_files() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("f");
        std::fs::write(&p, "A=1\n").unwrap();
        assert_eq!(regular_file(&p, 4).unwrap(), "A=1\n");
        assert_eq!(regular_file(&p, 3).unwrap_err(), "larger than 3 bytes");
        // A FIFO without a writer neither blocks nor is read.
        let fifo = d.path().join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        assert_eq!(regular_file(&fifo, 1 << 20).unwrap_err(), "not a regular file");
        assert_eq!(regular_file(Path::new("/dev/zero"), 1 << 20).unwrap_err(), "not a regular file");
        assert_eq!(regular_file(d.path(), 1 << 20).unwrap_err(), "not a regular file");
        std::fs::write(&p, b"\xff").unwrap();
        assert_eq!(regular_file(&p, 4).unwrap_err(), "not UTF-8 text");
        assert!(regular_file(&d.path().join("missing"), 4).is_err());
    }
}
