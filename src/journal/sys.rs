//! A safe binding of the part of libsystemd's sd-journal reading API that
//! berth needs, declared here rather than taken from the `systemd` crate
//! (LGPL, `log`/`utf8-cstr`/`foreign-types` dependencies, no cancellable
//! wait): open, matches, seeks, moves, fields, cursors, and the inotify
//! descriptor for following.
//!
//! An sd_journal handle must stay on the thread that opened it for its whole
//! life (sd_journal_open(3): "only a single specific thread may operate on a
//! given object during its entire lifetime"), so [`Journal`] is neither
//! `Send` nor `Sync`. Data it returns points into its mmap windows or its
//! decompression buffer, valid until the next call that reads or moves:
//! the borrows below say so.

use super::error::{Error, Result};
use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::marker::PhantomData;
use std::ops::ControlFlow;
use std::os::fd::{BorrowedFd, RawFd};
use std::ptr::NonNull;

#[repr(C)]
struct SdJournal {
    _private: [u8; 0],
}

const SD_JOURNAL_LOCAL_ONLY: c_int = 1 << 0;
const SD_JOURNAL_SYSTEM: c_int = 1 << 2;

const SD_JOURNAL_NOP: c_int = 0;
const SD_JOURNAL_APPEND: c_int = 1;

#[link(name = "systemd")]
extern "C" {
    fn sd_journal_open(ret: *mut *mut SdJournal, flags: c_int) -> c_int;
    fn sd_journal_close(j: *mut SdJournal);
    fn sd_journal_previous(j: *mut SdJournal) -> c_int;
    fn sd_journal_next(j: *mut SdJournal) -> c_int;
    fn sd_journal_previous_skip(j: *mut SdJournal, skip: u64) -> c_int;
    fn sd_journal_next_skip(j: *mut SdJournal, skip: u64) -> c_int;
    fn sd_journal_get_realtime_usec(j: *mut SdJournal, ret: *mut u64) -> c_int;
    fn sd_journal_set_data_threshold(j: *mut SdJournal, sz: usize) -> c_int;
    fn sd_journal_get_data(j: *mut SdJournal, field: *const c_char, data: *mut *const c_void, l: *mut usize) -> c_int;
    fn sd_journal_enumerate_available_data(j: *mut SdJournal, data: *mut *const c_void, l: *mut usize) -> c_int;
    fn sd_journal_restart_data(j: *mut SdJournal);
    fn sd_journal_add_match(j: *mut SdJournal, data: *const c_void, size: usize) -> c_int;
    fn sd_journal_add_disjunction(j: *mut SdJournal) -> c_int;
    fn sd_journal_flush_matches(j: *mut SdJournal);
    fn sd_journal_seek_head(j: *mut SdJournal) -> c_int;
    fn sd_journal_seek_tail(j: *mut SdJournal) -> c_int;
    fn sd_journal_seek_realtime_usec(j: *mut SdJournal, usec: u64) -> c_int;
    fn sd_journal_seek_cursor(j: *mut SdJournal, cursor: *const c_char) -> c_int;
    fn sd_journal_get_cursor(j: *mut SdJournal, cursor: *mut *mut c_char) -> c_int;
    fn sd_journal_test_cursor(j: *mut SdJournal, cursor: *const c_char) -> c_int;
    fn sd_journal_get_fd(j: *mut SdJournal) -> c_int;
    fn sd_journal_get_events(j: *mut SdJournal) -> c_int;
    fn sd_journal_get_timeout(j: *mut SdJournal, timeout_usec: *mut u64) -> c_int;
    fn sd_journal_process(j: *mut SdJournal) -> c_int;
}

/// What [`Journal::process`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Nothing that matters.
    Nothing,
    /// Entries were appended.
    Appended,
    /// Files were added or removed (rotation, vacuum).
    Invalidated,
}

/// An open journal. Not `Send`: see the module documentation.
pub struct Journal {
    ptr: NonNull<SdJournal>,
    _one_thread: PhantomData<*mut ()>,
}

/// sd-journal returns negative errno values.
fn check(call: &'static str, r: c_int) -> Result<c_int> {
    if r < 0 {
        Err(Error::journal(call, -r))
    } else {
        Ok(r)
    }
}

impl Journal {
    /// The local machine's system journal (runtime and persistent files),
    /// returning whole fields however large (data threshold 0).
    pub fn open() -> Result<Self> {
        let mut p: *mut SdJournal = std::ptr::null_mut();
        // SAFETY: `p` is a valid out-pointer; on success it holds a handle we own.
        let r = unsafe { sd_journal_open(&mut p, SD_JOURNAL_LOCAL_ONLY | SD_JOURNAL_SYSTEM) };
        if r < 0 {
            return Err(Error::Open { source: std::io::Error::from_raw_os_error(-r) });
        }
        let ptr = NonNull::new(p).ok_or_else(|| Error::Open { source: std::io::Error::other("sd_journal_open returned no handle") })?;
        let mut j = Journal { ptr, _one_thread: PhantomData };
        // SAFETY: the handle is open and ours.
        check("sd_journal_set_data_threshold", unsafe { sd_journal_set_data_threshold(j.raw(), 0) })?;
        j.flush_matches();
        Ok(j)
    }

    fn raw(&self) -> *mut SdJournal {
        self.ptr.as_ptr()
    }

    /// Add a `FIELD=value` match: matches on one field are ORed, on
    /// different fields ANDed, as sd_journal_add_match(3) says.
    pub fn add_match(&mut self, expr: &[u8]) -> Result<()> {
        // SAFETY: the pointer and length describe `expr`, which sd-journal copies.
        check("sd_journal_add_match", unsafe { sd_journal_add_match(self.raw(), expr.as_ptr().cast(), expr.len()) }).map(drop)
    }

    /// Start a new group of matches, ORed with the ones before.
    pub fn add_disjunction(&mut self) -> Result<()> {
        // SAFETY: the handle is open.
        check("sd_journal_add_disjunction", unsafe { sd_journal_add_disjunction(self.raw()) }).map(drop)
    }

    pub fn flush_matches(&mut self) {
        // SAFETY: the handle is open.
        unsafe { sd_journal_flush_matches(self.raw()) }
    }

    pub fn seek_head(&mut self) -> Result<()> {
        // SAFETY: the handle is open.
        check("sd_journal_seek_head", unsafe { sd_journal_seek_head(self.raw()) }).map(drop)
    }

    pub fn seek_tail(&mut self) -> Result<()> {
        // SAFETY: the handle is open.
        check("sd_journal_seek_tail", unsafe { sd_journal_seek_tail(self.raw()) }).map(drop)
    }

    pub fn seek_realtime_usec(&mut self, usec: u64) -> Result<()> {
        // SAFETY: the handle is open.
        check("sd_journal_seek_realtime_usec", unsafe { sd_journal_seek_realtime_usec(self.raw(), usec) }).map(drop)
    }

    pub fn seek_cursor(&mut self, cursor: &CStr) -> Result<()> {
        // SAFETY: `cursor` is a valid NUL-terminated string for the call.
        let r = unsafe { sd_journal_seek_cursor(self.raw(), cursor.as_ptr()) };
        if r < 0 {
            return Err(Error::BadCursor {
                cursor: cursor.to_string_lossy().into_owned(),
                source: std::io::Error::from_raw_os_error(-r),
            });
        }
        Ok(())
    }

    /// Move to the next matching entry; false at the end.
    pub fn next_entry(&mut self) -> Result<bool> {
        // SAFETY: the handle is open.
        check("sd_journal_next", unsafe { sd_journal_next(self.raw()) }).map(|n| n > 0)
    }

    /// Move to the previous matching entry; false at the start.
    pub fn previous_entry(&mut self) -> Result<bool> {
        // SAFETY: the handle is open.
        check("sd_journal_previous", unsafe { sd_journal_previous(self.raw()) }).map(|n| n > 0)
    }

    /// Move up to `n` entries forward; how many it moved.
    pub fn next_skip(&mut self, n: u64) -> Result<u64> {
        // SAFETY: the handle is open.
        check("sd_journal_next_skip", unsafe { sd_journal_next_skip(self.raw(), n) }).map(|k| k as u64)
    }

    /// Move up to `n` entries back; how many it moved.
    pub fn previous_skip(&mut self, n: u64) -> Result<u64> {
        // SAFETY: the handle is open.
        check("sd_journal_previous_skip", unsafe { sd_journal_previous_skip(self.raw(), n) }).map(|k| k as u64)
    }

    /// The current entry's wall-clock time, in microseconds since the epoch.
    pub fn realtime_usec(&mut self) -> Result<u64> {
        let mut u = 0u64;
        // SAFETY: `u` is a valid out-pointer.
        check("sd_journal_get_realtime_usec", unsafe { sd_journal_get_realtime_usec(self.raw(), &mut u) })?;
        Ok(u)
    }

    /// The current entry's `FIELD=value` for `field`, if it has one.
    pub fn data(&mut self, field: &CStr) -> Result<Option<&[u8]>> {
        let mut d: *const c_void = std::ptr::null();
        let mut l = 0usize;
        // SAFETY: out-pointers are valid; `field` is NUL-terminated.
        let r = unsafe { sd_journal_get_data(self.raw(), field.as_ptr(), &mut d, &mut l) };
        if r == -nix::libc::ENOENT {
            return Ok(None);
        }
        check("sd_journal_get_data", r)?;
        // SAFETY: sd-journal returned `l` readable bytes at `d`, valid until the
        // next call on this handle that reads or moves, which needs `&mut self`
        // while this borrow lives.
        Ok(Some(unsafe { std::slice::from_raw_parts(d.cast::<u8>(), l) }))
    }

    /// Call `f` with each `FIELD=value` of the current entry (fields it
    /// cannot read, such as ones compressed in an unsupported way, are left
    /// out), until it breaks. Each slice is valid only during its call.
    pub fn for_each_field(&mut self, mut f: impl FnMut(&[u8]) -> ControlFlow<()>) -> Result<()> {
        // SAFETY: the handle is open.
        unsafe { sd_journal_restart_data(self.raw()) };
        loop {
            let mut d: *const c_void = std::ptr::null();
            let mut l = 0usize;
            // SAFETY: out-pointers are valid.
            let r = check("sd_journal_enumerate_available_data", unsafe {
                sd_journal_enumerate_available_data(self.raw(), &mut d, &mut l)
            })?;
            if r == 0 {
                return Ok(());
            }
            // SAFETY: sd-journal returned `l` readable bytes at `d`, valid until
            // the next enumeration call, which happens after `f` returns.
            let field = unsafe { std::slice::from_raw_parts(d.cast::<u8>(), l) };
            if f(field).is_break() {
                return Ok(());
            }
        }
    }

    /// The current entry's cursor.
    pub fn cursor(&mut self) -> Result<String> {
        let mut c: *mut c_char = std::ptr::null_mut();
        // SAFETY: `c` is a valid out-pointer; on success it is a malloc'd string we free.
        check("sd_journal_get_cursor", unsafe { sd_journal_get_cursor(self.raw(), &mut c) })?;
        // SAFETY: sd-journal returned a NUL-terminated string.
        let s = unsafe { CStr::from_ptr(c) }.to_string_lossy().into_owned();
        // SAFETY: `c` came from malloc in libsystemd and is freed once.
        unsafe { nix::libc::free(c.cast()) };
        Ok(s)
    }

    /// Whether the current entry is the one `cursor` names.
    pub fn test_cursor(&mut self, cursor: &CStr) -> Result<bool> {
        // SAFETY: `cursor` is NUL-terminated.
        let r = unsafe { sd_journal_test_cursor(self.raw(), cursor.as_ptr()) };
        if r < 0 {
            return Err(Error::BadCursor {
                cursor: cursor.to_string_lossy().into_owned(),
                source: std::io::Error::from_raw_os_error(-r),
            });
        }
        Ok(r > 0)
    }

    /// The descriptor that becomes readable when the journal changes
    /// (inotify); take it before reading, so that no change is missed.
    pub fn fd(&mut self) -> Result<BorrowedFd<'_>> {
        // SAFETY: the handle is open.
        let fd: RawFd = check("sd_journal_get_fd", unsafe { sd_journal_get_fd(self.raw()) })?;
        // SAFETY: the descriptor belongs to the handle and lives as long as it;
        // the borrow is tied to `self`.
        Ok(unsafe { BorrowedFd::borrow_raw(fd) })
    }

    /// The poll events to wait for on [`Journal::fd`].
    pub fn events(&mut self) -> Result<i16> {
        // SAFETY: the handle is open.
        check("sd_journal_get_events", unsafe { sd_journal_get_events(self.raw()) }).map(|e| e as i16)
    }

    /// When (CLOCK_MONOTONIC, microseconds) to call [`Journal::process`] even
    /// without an event; None: only on events.
    pub fn timeout(&mut self) -> Result<Option<u64>> {
        let mut t = 0u64;
        // SAFETY: `t` is a valid out-pointer.
        check("sd_journal_get_timeout", unsafe { sd_journal_get_timeout(self.raw(), &mut t) })?;
        Ok((t != u64::MAX).then_some(t))
    }

    /// Take in what changed since the last call (after the descriptor woke).
    pub fn process(&mut self) -> Result<Change> {
        // SAFETY: the handle is open.
        let r = check("sd_journal_process", unsafe { sd_journal_process(self.raw()) })?;
        Ok(match r {
            SD_JOURNAL_NOP => Change::Nothing,
            SD_JOURNAL_APPEND => Change::Appended,
            _ => Change::Invalidated,
        })
    }
}

impl Drop for Journal {
    fn drop(&mut self) {
        // SAFETY: the handle is open, ours, and closed exactly once.
        unsafe { sd_journal_close(self.raw()) }
    }
}

/// `cursor` as a C string, or the error that names it.
pub fn cursor_cstring(cursor: &str) -> Result<CString> {
    if cursor.is_empty() {
        return Err(Error::BadCursor { cursor: String::new(), source: std::io::Error::other("empty cursor") });
    }
    CString::new(cursor).map_err(|_| Error::BadCursor {
        cursor: cursor.to_string(),
        source: std::io::Error::other("a cursor cannot contain a NUL byte"),
    })
}
