//! A container's root file system: mount, unmount, and export as tar into
//! a descriptor or to a callback.

use super::client::berth_client;
use super::ffi::{arg, c_string, guard, string, Failure, Out};
use super::images::borrowed_fd;
use crate::model::ErrorKind;
use std::ffi::{c_char, c_int, c_void};
use std::io::Read;

/// MountContainer: mount the container's root file system and count the
/// mount (it holds the root until `berth_client_unmount()`); `*path` is its
/// path on the host, to free with `berth_string_free()`.
#[no_mangle]
pub extern "C" fn berth_client_mount(client: *const berth_client, name: *const c_char, path: *mut *mut c_char) -> ErrorKind {
    guard(|| {
        let c = arg(client, "client")?;
        let n = string(name, "name")?;
        let out = Out::new(path, "path")?;
        let p = c.inner.call(c.inner.client.mount(n))?;
        out.write(c_string(&p).into_raw());
        Ok(())
    })
}

/// UnmountContainer: release one mount, or with `force` every one; the root
/// is unmounted when nothing holds it. BERTH_RESULT_INVALID_STATE for a
/// running container that holds no mount (its root stays while it runs).
#[no_mangle]
pub extern "C" fn berth_client_unmount(client: *const berth_client, name: *const c_char, force: bool) -> ErrorKind {
    guard(|| {
        let c = arg(client, "client")?;
        let n = string(name, "name")?;
        c.inner.call(c.inner.client.unmount(n, force))
    })
}

/// ExportContainer: write the container's root file system, stopped or
/// running, as a tar archive into `fd` (a file, pipe or socket open for
/// writing; it stays open, the caller's). Returns when the archive is
/// written.
#[no_mangle]
pub extern "C" fn berth_client_export(client: *const berth_client, name: *const c_char, fd: c_int) -> ErrorKind {
    guard(|| {
        let c = arg(client, "client")?;
        let n = string(name, "name")?;
        c.inner.call(c.inner.client.export(n, borrowed_fd(fd)?))
    })
}

/// Called with each piece of an export, in order, on the thread that called
/// `berth_client_export_to()`: `len` bytes at `data`, valid only during the
/// call.
#[allow(non_camel_case_types)]
pub type berth_export_callback = Option<unsafe extern "C" fn(userdata: *mut c_void, data: *const c_char, len: usize)>;

/// As `berth_client_export()`, handing the archive to `callback` piece by
/// piece instead.
#[no_mangle]
pub extern "C" fn berth_client_export_to(
    client: *const berth_client,
    name: *const c_char,
    callback: berth_export_callback,
    userdata: *mut c_void,
) -> ErrorKind {
    guard(|| {
        let c = arg(client, "client")?;
        let name = string(name, "name")?.to_string();
        let cb = callback.ok_or_else(|| Failure::new(ErrorKind::NullParameter, "callback is NULL"))?;
        let (r, w) = nix::unistd::pipe().map_err(|e| Failure::new(ErrorKind::Internal, format!("pipe: {e}")))?;
        let inner = c.inner.clone();
        // berthd writes into the pipe while this thread reads it; the write
        // end closes when the call returns, which ends the reading.
        let call = inner.rt.spawn({
            let client = inner.client.clone();
            async move {
                use std::os::fd::AsFd;
                let res = client.export(&name, w.as_fd()).await;
                drop(w);
                res
            }
        });
        let mut reader = std::fs::File::from(r);
        let mut buf = vec![0u8; 1 << 16];
        loop {
            match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    // SAFETY: the callback gets a valid buffer of `n` bytes for the call.
                    unsafe { cb(userdata, buf.as_ptr().cast(), n) };
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        drop(reader);
        match inner.rt.block_on(call) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(Failure::from(e)),
            Err(e) => Err(Failure::new(ErrorKind::Internal, format!("the export call failed: {e}"))),
        }
    })
}
