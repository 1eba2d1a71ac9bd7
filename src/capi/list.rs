//! `berth_container_list`: a snapshot of ListContainers that C reads by
//! index; the strings it points to live as long as the list.

use super::client::berth_client;
use super::ffi::{arg, c_string, free_box, guard, quiet, Out};
use crate::model::{ErrorKind, State};
use std::ffi::{c_char, CString};

/// One container of a list. The strings belong to the list: valid until
/// `berth_container_list_free()`, not to be freed on their own.
#[allow(non_camel_case_types)]
#[repr(C)]
pub struct berth_container_info {
    /// The container's name.
    pub name: *const c_char,
    /// Its id: 64 hex digits.
    pub id: *const c_char,
    /// Its state when the list was made.
    pub state: State,
}

/// The containers berthd knows, from `berth_client_list()`.
#[allow(non_camel_case_types)]
pub struct berth_container_list {
    items: Vec<berth_container_info>,
    /// Owns what `items` points to (a CString's bytes never move).
    _strings: Vec<CString>,
}

/// ListContainers: every container, in name order. On success `*out` is a
/// new list for `berth_container_list_free()`.
#[no_mangle]
pub extern "C" fn berth_client_list(client: *const berth_client, out: *mut *mut berth_container_list) -> ErrorKind {
    guard(|| {
        let c = &arg(client, "client")?.inner;
        let out = Out::new(out, "out")?;
        let mut rows = c.call(c.client.list())?;
        rows.sort_by(|a, b| a.name.cmp(&b.name));
        let (mut items, mut strings) = (Vec::new(), Vec::new());
        for l in rows {
            let (name, id) = (c_string(&l.name), c_string(&l.id));
            items.push(berth_container_info { name: name.as_ptr(), id: id.as_ptr(), state: l.state });
            strings.extend([name, id]);
        }
        out.write(Box::into_raw(Box::new(berth_container_list { items, _strings: strings })));
        Ok(())
    })
}

/// The number of containers in `list` (0 for NULL).
#[no_mangle]
pub extern "C" fn berth_container_list_len(list: *const berth_container_list) -> usize {
    quiet(0, || arg(list, "list").map_or(0, |l| l.items.len()))
}

/// The container at `index`, or NULL when `list` is NULL or `index` is not
/// below the length. Valid until the list is freed.
#[no_mangle]
pub extern "C" fn berth_container_list_get(list: *const berth_container_list, index: usize) -> *const berth_container_info {
    quiet(std::ptr::null(), || {
        arg(list, "list").ok().and_then(|l| l.items.get(index)).map_or(std::ptr::null(), |i| i as *const _)
    })
}

/// Free a list and its strings; NULL is ignored.
#[no_mangle]
pub extern "C" fn berth_container_list_free(list: *mut berth_container_list) {
    quiet((), || free_box(list))
}
