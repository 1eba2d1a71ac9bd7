//! Attaching to a container: a file descriptor the caller owns (close it
//! with close(2); it is O_CLOEXEC), connected to the container's monitor
//! (berthd is not in the path, so the attachment outlives berthd). It is
//! a SOCK_SEQPACKET socket: each recv(2) gives one frame, whose first byte
//! is its kind (BERTH_STREAM_STDOUT, BERTH_STREAM_STDERR, then
//! BERTH_FRAME_EXIT with the exit code as a little-endian int32, or
//! BERTH_FRAME_DETACHED), the rest its payload; receive with a buffer of
//! BERTH_ATTACH_MAX_PACKET bytes. berth_attach_write_stdin(),
//! berth_attach_send_resize() and berth_attach_read() do the framing.

use super::client::berth_client;
use super::ffi::{arg, guard, string, Failure, Out, Res};
use crate::client::Streams;
use crate::model::attach::{self as proto, data_packets, Frame};
use crate::model::ErrorKind;
use std::ffi::{c_char, c_int, c_void};
use std::os::fd::{BorrowedFd, IntoRawFd, OwnedFd};

/// Attach to the process's stdin (`streams` of the attach functions).
pub const BERTH_ATTACH_STDIN: u32 = 1;
/// Attach to its stdout (a terminal's output is stdout).
pub const BERTH_ATTACH_STDOUT: u32 = 2;
/// Attach to its stderr.
pub const BERTH_ATTACH_STDERR: u32 = 4;

/// Frame kinds: input for the process (an empty one ends its input).
pub const BERTH_STREAM_STDIN: u8 = 1;
pub const BERTH_STREAM_STDOUT: u8 = 2;
pub const BERTH_STREAM_STDERR: u8 = 3;
/// The process exited; the payload is its exit code (int32, little-endian).
/// The last frame.
pub const BERTH_FRAME_EXIT: u8 = 4;
/// The detach keys were typed; the process runs on. The last frame.
pub const BERTH_FRAME_DETACHED: u8 = 5;
/// A window size for the process's terminal (rows, cols: uint16 each,
/// little-endian).
pub const BERTH_FRAME_RESIZE: u8 = 6;
/// The largest frame: one kind byte and up to 32 KiB of payload.
pub const BERTH_ATTACH_MAX_PACKET: usize = 32769;

pub(crate) fn streams(bits: u32, detach_keys: *const c_char) -> Res<Streams> {
    let all = BERTH_ATTACH_STDIN | BERTH_ATTACH_STDOUT | BERTH_ATTACH_STDERR;
    if bits & !all != 0 {
        return Err(Failure::new(ErrorKind::InvalidParameter, format!("streams: unknown bits {bits:#x}")));
    }
    let detach_keys = if detach_keys.is_null() { String::new() } else { string(detach_keys, "detach_keys")?.to_string() };
    Ok(Streams {
        stdin: bits & BERTH_ATTACH_STDIN != 0,
        stdout: bits & BERTH_ATTACH_STDOUT != 0,
        stderr: bits & BERTH_ATTACH_STDERR != 0,
        detach_keys,
    })
}

/// Hand a descriptor to C.
pub(crate) fn give(out: Out<c_int>, fd: OwnedFd) {
    out.write(fd.into_raw_fd());
}

/// Attach to a running container: `streams` is an OR of BERTH_ATTACH_*
/// (stdin only for a container created Interactive); `detach_keys` in
/// podman's notation ("ctrl-p,ctrl-q" when NULL or "", "none" for none).
/// On success `*fd` is the caller's.
#[no_mangle]
pub extern "C" fn berth_client_attach(
    client: *const berth_client,
    name: *const c_char,
    streams: u32,
    detach_keys: *const c_char,
    fd: *mut c_int,
) -> ErrorKind {
    guard(|| {
        let c = arg(client, "client")?;
        let name = string(name, "name")?;
        let out = Out::new(fd, "fd")?;
        let s = self::streams(streams, detach_keys)?;
        give(out, c.inner.call(c.inner.client.attach(name, &s))?);
        Ok(())
    })
}

/// Start a container attached from before it runs (no output is missed);
/// as berth_client_start() and berth_client_attach().
#[no_mangle]
pub extern "C" fn berth_client_start_and_attach(
    client: *const berth_client,
    name: *const c_char,
    recursive: bool,
    streams: u32,
    detach_keys: *const c_char,
    fd: *mut c_int,
) -> ErrorKind {
    guard(|| {
        let c = arg(client, "client")?;
        let name = string(name, "name")?;
        let out = Out::new(fd, "fd")?;
        let s = self::streams(streams, detach_keys)?;
        give(out, c.inner.call(c.inner.client.start_and_attach(name, recursive, &s))?);
        Ok(())
    })
}

/// Set the window size of a running container's terminal
/// (BERTH_RESULT_NOT_A_TERMINAL without one).
#[no_mangle]
pub extern "C" fn berth_client_attach_resize(client: *const berth_client, name: *const c_char, rows: u16, cols: u16) -> ErrorKind {
    guard(|| {
        let c = arg(client, "client")?;
        let name = string(name, "name")?;
        c.inner.call(c.inner.client.attach_resize(name, rows, cols))
    })
}

fn borrowed<'a>(fd: c_int) -> Res<BorrowedFd<'a>> {
    if fd < 0 {
        return Err(Failure::new(ErrorKind::InvalidParameter, format!("fd {fd} is not a descriptor")));
    }
    // SAFETY: C passes a descriptor it owns and keeps open during the call.
    Ok(unsafe { BorrowedFd::borrow_raw(fd) })
}

fn send(fd: BorrowedFd<'_>, packet: &[u8]) -> Res {
    loop {
        match nix::sys::socket::send(std::os::fd::AsRawFd::as_raw_fd(&fd), packet, nix::sys::socket::MsgFlags::MSG_NOSIGNAL) {
            Ok(_) => return Ok(()),
            Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(Failure::new(ErrorKind::Internal, format!("sending on the attach descriptor: {e}"))),
        }
    }
}

/// Send `len` bytes of input to the process on an attach descriptor
/// (framed; blocks while the monitor's queue is full). `len` 0 ends its
/// input: its stdin is closed (a terminal stays open).
#[no_mangle]
pub extern "C" fn berth_attach_write_stdin(fd: c_int, data: *const c_void, len: usize) -> ErrorKind {
    guard(|| {
        let fd = borrowed(fd)?;
        if len == 0 {
            return send(fd, &Frame::Stdin(&[]).encode());
        }
        if data.is_null() {
            return Err(Failure::new(ErrorKind::NullParameter, "data is NULL"));
        }
        // SAFETY: non-NULL, and C promises `len` readable bytes.
        let data = unsafe { std::slice::from_raw_parts(data.cast::<u8>(), len) };
        data_packets(proto::STREAM_STDIN, data).try_for_each(|p| send(fd, &p))
    })
}

/// Set the window size of the attached process's terminal, in band: this
/// needs no call to berthd.
#[no_mangle]
pub extern "C" fn berth_attach_send_resize(fd: c_int, rows: u16, cols: u16) -> ErrorKind {
    guard(|| send(borrowed(fd)?, &Frame::Resize { rows, cols }.encode()))
}

/// Receive one frame: its kind in `*kind`, its payload in `buf` and its
/// length in `*len`. At the end of the stream `*kind` is 0. Blocks until a
/// frame comes. A `cap` of BERTH_ATTACH_MAX_PACKET - 1 bytes holds any
/// frame; a frame larger than `cap` is lost (BERTH_RESULT_INVALID_PARAMETER).
#[no_mangle]
pub extern "C" fn berth_attach_read(fd: c_int, buf: *mut c_void, cap: usize, kind: *mut u8, len: *mut usize) -> ErrorKind {
    guard(|| {
        let fd = borrowed(fd)?;
        let (kind, len) = (Out::new(kind, "kind")?, Out::new(len, "len")?);
        if buf.is_null() && cap > 0 {
            return Err(Failure::new(ErrorKind::NullParameter, "buf is NULL"));
        }
        let mut packet = vec![0u8; BERTH_ATTACH_MAX_PACKET];
        let n = loop {
            match nix::sys::socket::recv(std::os::fd::AsRawFd::as_raw_fd(&fd), &mut packet, nix::sys::socket::MsgFlags::empty()) {
                Ok(n) => break n,
                Err(nix::errno::Errno::EINTR) => {}
                Err(e) => return Err(Failure::new(ErrorKind::Internal, format!("reading the attach descriptor: {e}"))),
            }
        };
        if n == 0 {
            kind.write(0);
            len.write(0);
            return Ok(());
        }
        let payload = &packet[1..n];
        if payload.len() > cap {
            return Err(Failure::new(ErrorKind::InvalidParameter, format!("cap {cap} is less than the frame's {} bytes", payload.len())));
        }
        // SAFETY: `buf` holds `cap` writable bytes (C's promise), and the
        // payload is no longer.
        unsafe { std::ptr::copy_nonoverlapping(payload.as_ptr(), buf.cast::<u8>(), payload.len()) };
        kind.write(packet[0]);
        len.write(payload.len());
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::socket::{socketpair, AddressFamily, MsgFlags, SockFlag, SockType};
    use std::os::fd::AsRawFd;

    #[test]
    fn the_constants_are_the_protocol_s() {
        assert_eq!(BERTH_STREAM_STDIN, proto::STREAM_STDIN);
        assert_eq!(BERTH_STREAM_STDOUT, proto::STREAM_STDOUT);
        assert_eq!(BERTH_STREAM_STDERR, proto::STREAM_STDERR);
        assert_eq!(BERTH_FRAME_EXIT, proto::FRAME_EXIT);
        assert_eq!(BERTH_FRAME_DETACHED, proto::FRAME_DETACHED);
        assert_eq!(BERTH_FRAME_RESIZE, proto::FRAME_RESIZE);
        assert_eq!(BERTH_ATTACH_MAX_PACKET, proto::MAX_PACKET);
    }

    #[test]
    fn frames_through_the_helpers() {
        let (a, b) = socketpair(AddressFamily::Unix, SockType::SeqPacket, None, SockFlag::SOCK_CLOEXEC).unwrap();
        assert_eq!(berth_attach_write_stdin(a.as_raw_fd(), b"hi".as_ptr().cast(), 2), ErrorKind::Ok);
        assert_eq!(berth_attach_write_stdin(a.as_raw_fd(), std::ptr::null(), 0), ErrorKind::Ok);
        assert_eq!(berth_attach_send_resize(a.as_raw_fd(), 24, 80), ErrorKind::Ok);
        let mut buf = [0u8; 8];
        for want in [Frame::Stdin(b"hi"), Frame::Stdin(b""), Frame::Resize { rows: 24, cols: 80 }] {
            let (mut kind, mut len) = (0u8, 0usize);
            assert_eq!(berth_attach_read(b.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), &mut kind, &mut len), ErrorKind::Ok);
            let mut p = vec![kind];
            p.extend_from_slice(&buf[..len]);
            assert_eq!(Frame::parse(&p), Some(want));
        }
        nix::sys::socket::send(a.as_raw_fd(), &Frame::Stdout(&[7; 9]).encode(), MsgFlags::empty()).unwrap();
        let (mut kind, mut len) = (0u8, 0usize);
        let r = berth_attach_read(b.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), &mut kind, &mut len);
        assert_eq!(r, ErrorKind::InvalidParameter, "a buffer too small is refused");
        drop(a);
        assert_eq!(berth_attach_read(b.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), &mut kind, &mut len), ErrorKind::Ok);
        assert_eq!((kind, len), (0, 0), "the end of the stream");
        assert_eq!(berth_attach_write_stdin(-1, std::ptr::null(), 0), ErrorKind::InvalidParameter);
        assert_eq!(streams(8, std::ptr::null()).unwrap_err().code, ErrorKind::InvalidParameter);
    }
}
