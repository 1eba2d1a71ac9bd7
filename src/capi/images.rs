//! Images and named volumes: import (from a file or a descriptor), list
//! and inspect (as JSON), tag, untag and remove; volume create, list,
//! inspect and remove.

use super::client::berth_client;
use super::ffi::{arg, c_string, guard, string, Failure, Out, Res};
use crate::model::ErrorKind;
use std::ffi::{c_char, c_int};
use std::os::fd::BorrowedFd;

/// A string result handed to C.
fn give(out: Out<*mut c_char>, s: &str) {
    out.write(c_string(s).into_raw());
}

/// An optional string from C (NULL: none).
fn optional<'a>(p: *const c_char, what: &str) -> Res<Option<&'a str>> {
    if p.is_null() {
        Ok(None)
    } else {
        string(p, what).map(Some)
    }
}

/// A descriptor C lends for the call.
pub(crate) fn borrowed_fd<'a>(fd: c_int) -> Res<BorrowedFd<'a>> {
    if fd < 0 {
        return Err(Failure::new(ErrorKind::InvalidParameter, format!("fd {fd} is not a descriptor")));
    }
    // SAFETY: C lends an open descriptor for the duration of the call (the
    // header's contract); it is not closed here.
    Ok(unsafe { BorrowedFd::borrow_raw(fd) })
}

fn import(c: &berth_client, fd: BorrowedFd<'_>, name: Option<&str>, ids: Out<*mut c_char>) -> Res {
    let inner = &c.inner;
    let got = inner.call(inner.client.import_image(fd, name))?;
    give(ids, &serde_json::to_string(&got).expect("strings serialize"));
    Ok(())
}

/// ImportImage from the file at `path`: an oci-archive, a docker-archive
/// (every image it holds) or a root file system tarball, gzip, zstd or
/// uncompressed, as podman save, docker save, skopeo and umoci write them.
/// `name` (NULL: none) names a root file system tarball's image (needed
/// there) or adds a name to an archive's single image. On success `*ids` is
/// a JSON array of the ids of the images imported; free it with
/// `berth_string_free()`. A damaged or hostile archive is
/// BERTH_RESULT_INVALID_IMAGE and leaves nothing behind.
#[no_mangle]
pub extern "C" fn berth_client_image_import(
    client: *const berth_client,
    path: *const c_char,
    name: *const c_char,
    ids: *mut *mut c_char,
) -> ErrorKind {
    guard(|| {
        let c = arg(client, "client")?;
        let path = string(path, "path")?;
        let name = optional(name, "name")?;
        let ids = Out::new(ids, "ids")?;
        let f = std::fs::File::open(path).map_err(|e| Failure::new(ErrorKind::InvalidParameter, format!("cannot open {path}: {e}")))?;
        if f.metadata().is_ok_and(|m| m.is_dir()) {
            return Err(Failure::new(ErrorKind::InvalidParameter, format!("{path} is a directory; pass an archive")));
        }
        use std::os::fd::AsFd;
        import(c, f.as_fd(), name, ids)
    })
}

/// As `berth_client_image_import()`, reading the archive from `fd` (a
/// pipe, socket or file, read to its end; it stays open, the caller's).
#[no_mangle]
pub extern "C" fn berth_client_image_import_fd(
    client: *const berth_client,
    fd: c_int,
    name: *const c_char,
    ids: *mut *mut c_char,
) -> ErrorKind {
    guard(|| {
        let c = arg(client, "client")?;
        let name = optional(name, "name")?;
        let ids = Out::new(ids, "ids")?;
        import(c, borrowed_fd(fd)?, name, ids)
    })
}

/// Every image as a JSON array (Id, Names, Digest, Size, Layers,
/// Containers, ...), newest import first; free it with `berth_string_free()`.
#[no_mangle]
pub extern "C" fn berth_client_image_list(client: *const berth_client, json: *mut *mut c_char) -> ErrorKind {
    guard(|| {
        let c = arg(client, "client")?;
        let out = Out::new(json, "json")?;
        let s = c.inner.call(c.inner.client.list_images_json())?;
        give(out, &s);
        Ok(())
    })
}

/// One image (by name, name:tag, id or unique id prefix) and its Config
/// (Entrypoint, Cmd, Env, WorkingDir, User, ...) as JSON.
#[no_mangle]
pub extern "C" fn berth_client_image_inspect(client: *const berth_client, reference: *const c_char, json: *mut *mut c_char) -> ErrorKind {
    guard(|| {
        let c = arg(client, "client")?;
        let r = string(reference, "reference")?;
        let out = Out::new(json, "json")?;
        let s = c.inner.call(c.inner.client.inspect_image_json(r))?;
        give(out, &s);
        Ok(())
    })
}

/// Give the image `reference` finds the name `name` (a name without a
/// registry is `localhost/NAME`, without a tag `:latest`).
#[no_mangle]
pub extern "C" fn berth_client_image_tag(client: *const berth_client, reference: *const c_char, name: *const c_char) -> ErrorKind {
    guard(|| {
        let c = arg(client, "client")?;
        let (r, n) = (string(reference, "reference")?, string(name, "name")?);
        c.inner.call(c.inner.client.tag_image(r, n))
    })
}

/// Take the name `name` from the image `reference` finds.
#[no_mangle]
pub extern "C" fn berth_client_image_untag(client: *const berth_client, reference: *const c_char, name: *const c_char) -> ErrorKind {
    guard(|| {
        let c = arg(client, "client")?;
        let (r, n) = (string(reference, "reference")?, string(name, "name")?);
        c.inner.call(c.inner.client.untag_image(r, n))
    })
}

/// Remove an image (by one of several names: only that name goes).
/// BERTH_RESULT_IMAGE_IN_USE while containers are made from it, unless
/// `force`, which removes them first.
#[no_mangle]
pub extern "C" fn berth_client_image_remove(client: *const berth_client, reference: *const c_char, force: bool) -> ErrorKind {
    guard(|| {
        let c = arg(client, "client")?;
        let r = string(reference, "reference")?;
        c.inner.call(c.inner.client.remove_image(r, force))
    })
}

/// Make an empty named volume (`[a-zA-Z0-9][a-zA-Z0-9_.-]*`); a container
/// naming a volume that does not exist makes it too, filled from its image.
#[no_mangle]
pub extern "C" fn berth_client_volume_create(client: *const berth_client, name: *const c_char) -> ErrorKind {
    guard(|| {
        let c = arg(client, "client")?;
        let n = string(name, "name")?;
        c.inner.call(c.inner.client.create_volume(n, &Default::default()))
    })
}

/// Every volume as a JSON array (Name, Mountpoint, Created, Labels,
/// Anonymous, Containers).
#[no_mangle]
pub extern "C" fn berth_client_volume_list(client: *const berth_client, json: *mut *mut c_char) -> ErrorKind {
    guard(|| {
        let c = arg(client, "client")?;
        let out = Out::new(json, "json")?;
        let s = c.inner.call(c.inner.client.list_volumes_json())?;
        give(out, &s);
        Ok(())
    })
}

/// One volume as JSON.
#[no_mangle]
pub extern "C" fn berth_client_volume_inspect(client: *const berth_client, name: *const c_char, json: *mut *mut c_char) -> ErrorKind {
    guard(|| {
        let c = arg(client, "client")?;
        let n = string(name, "name")?;
        let out = Out::new(json, "json")?;
        let s = c.inner.call(c.inner.client.inspect_volume_json(n))?;
        give(out, &s);
        Ok(())
    })
}

/// Remove a volume and its content; BERTH_RESULT_VOLUME_IN_USE while a
/// container uses it, unless `force`.
#[no_mangle]
pub extern "C" fn berth_client_volume_remove(client: *const berth_client, name: *const c_char, force: bool) -> ErrorKind {
    guard(|| {
        let c = arg(client, "client")?;
        let n = string(name, "name")?;
        c.inner.call(c.inner.client.remove_volume(n, force))
    })
}
