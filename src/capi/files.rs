//! Files in containers: stat, copies in and out as tar streams through a
//! descriptor, and artifacts (named blobs kept with a container).

use super::client::berth_client;
use super::ffi::{arg, c_string, guard, string, Failure, Out};
use super::images::borrowed_fd;
use crate::model::{CopyOptions, ErrorKind};
use std::ffi::{c_char, c_int};

/// `berth_client_copy_in()`: what is extracted belongs to the container's
/// user (its User, else its image's), as `podman cp` does; without it the
/// archive's numeric owners are kept.
pub const BERTH_COPY_CHOWN: u32 = 1;
/// `berth_client_copy_in()`: a running container is frozen during the copy
/// (and always thawed after).
pub const BERTH_COPY_PAUSE: u32 = 2;
/// `berth_client_copy_in()`: refuse to replace a directory by a
/// non-directory and the other way round.
pub const BERTH_COPY_NO_OVERWRITE_DIR_NONDIR: u32 = 4;

/// StatContainer: what is at `path` in the container (running or not), as
/// JSON (Name, Size, Mode, UnixMode, Uid, Gid, MtimeSecs, MtimeNanos,
/// IsDir, LinkTarget); with `follow`, a final symlink is followed as the
/// container resolves it. A missing path is BERTH_RESULT_NO_SUCH_PATH.
/// Free `*json` with `berth_string_free()`.
#[no_mangle]
pub extern "C" fn berth_client_stat(
    client: *const berth_client,
    name: *const c_char,
    path: *const c_char,
    follow: bool,
    json: *mut *mut c_char,
) -> ErrorKind {
    guard(|| {
        let c = arg(client, "client")?;
        let (n, p) = (string(name, "name")?, string(path, "path")?);
        let out = Out::new(json, "json")?;
        let s = c.inner.call(c.inner.client.stat_json(n, p, follow))?;
        out.write(c_string(&s).into_raw());
        Ok(())
    })
}

/// CopyFromArchive: extract the tar stream read from `fd` (a file, pipe or
/// socket open for reading, read to its end; it stays open, the caller's)
/// under `path`, a directory in the container, running or stopped.
/// `flags`: an OR of BERTH_COPY_*. Entries that would land outside `path`
/// are refused (BERTH_RESULT_INVALID_ARCHIVE); a `path` that is not a
/// directory is BERTH_RESULT_NOT_A_DIRECTORY.
#[no_mangle]
pub extern "C" fn berth_client_copy_in(
    client: *const berth_client,
    name: *const c_char,
    path: *const c_char,
    fd: c_int,
    flags: u32,
) -> ErrorKind {
    guard(|| {
        let c = arg(client, "client")?;
        let (n, p) = (string(name, "name")?, string(path, "path")?);
        let known = BERTH_COPY_CHOWN | BERTH_COPY_PAUSE | BERTH_COPY_NO_OVERWRITE_DIR_NONDIR;
        if flags & !known != 0 {
            return Err(Failure::new(ErrorKind::InvalidParameter, format!("unknown copy flags {:#x}", flags & !known)));
        }
        let o = CopyOptions {
            chown: flags & BERTH_COPY_CHOWN != 0,
            pause: flags & BERTH_COPY_PAUSE != 0,
            no_overwrite_dir_nondir: flags & BERTH_COPY_NO_OVERWRITE_DIR_NONDIR != 0,
            rename: Default::default(),
        };
        c.inner.call(c.inner.client.copy_from_archive(n, p, borrowed_fd(fd)?, &o)).map(drop)
    })
}

/// CopyToArchive: write `path` in the container (`dir/.`: the directory's
/// contents) into `fd` (open for writing; it stays open, the caller's) as a
/// tar stream. BERTH_RESULT_CANCELED when the reader closes its end.
#[no_mangle]
pub extern "C" fn berth_client_copy_out(client: *const berth_client, name: *const c_char, path: *const c_char, fd: c_int) -> ErrorKind {
    guard(|| {
        let c = arg(client, "client")?;
        let (n, p) = (string(name, "name")?, string(path, "path")?);
        c.inner.call(c.inner.client.copy_to_archive(n, p, borrowed_fd(fd)?)).map(drop)
    })
}

/// AddArtifact: keep what `fd` holds (read to its end) as the container's
/// artifact `artifact` (no `/`, no leading dot), replacing one of that
/// name; artifacts are removed with the container.
#[no_mangle]
pub extern "C" fn berth_client_artifact_add(
    client: *const berth_client,
    name: *const c_char,
    artifact: *const c_char,
    fd: c_int,
) -> ErrorKind {
    guard(|| {
        let c = arg(client, "client")?;
        let (n, a) = (string(name, "name")?, string(artifact, "artifact")?);
        c.inner.call(c.inner.client.add_artifact(n, a, borrowed_fd(fd)?)).map(drop)
    })
}

/// GetArtifact: write the container's artifact `artifact` into `fd`;
/// BERTH_RESULT_NO_SUCH_ARTIFACT when there is none.
#[no_mangle]
pub extern "C" fn berth_client_artifact_get(
    client: *const berth_client,
    name: *const c_char,
    artifact: *const c_char,
    fd: c_int,
) -> ErrorKind {
    guard(|| {
        let c = arg(client, "client")?;
        let (n, a) = (string(name, "name")?, string(artifact, "artifact")?);
        c.inner.call(c.inner.client.get_artifact(n, a, borrowed_fd(fd)?)).map(drop)
    })
}

/// RemoveArtifact; BERTH_RESULT_NO_SUCH_ARTIFACT when there is none.
#[no_mangle]
pub extern "C" fn berth_client_artifact_remove(client: *const berth_client, name: *const c_char, artifact: *const c_char) -> ErrorKind {
    guard(|| {
        let c = arg(client, "client")?;
        let (n, a) = (string(name, "name")?, string(artifact, "artifact")?);
        c.inner.call(c.inner.client.remove_artifact(n, a))
    })
}

/// The names of the container's artifacts as a JSON array of strings,
/// sorted; free it with `berth_string_free()`.
#[no_mangle]
pub extern "C" fn berth_client_artifact_list(client: *const berth_client, name: *const c_char, json: *mut *mut c_char) -> ErrorKind {
    guard(|| {
        let c = arg(client, "client")?;
        let n = string(name, "name")?;
        let out = Out::new(json, "json")?;
        let names = c.inner.call(c.inner.client.list_artifacts(n))?;
        out.write(c_string(&serde_json::to_string(&names).expect("strings serialize")).into_raw());
        Ok(())
    })
}
