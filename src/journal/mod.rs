//! Container output and lifecycle events in journald, both ways.
//!
//! Writing (berth-monitor): [`JournalWriter`] sends each line the monitor
//! read from the container's stdout and stderr pipes (cut by
//! [`LineSplitter`]) as one entry through one native-protocol socket, in
//! the order read, numbered by `BERTH_SEQ`; [`JournalWriter::drain`] waits
//! until journald has read them all.
//!
//! Reading (berthd, the C API): [`LogReader`] reads a container's entries
//! through libsystemd's sd-journal (see `sys.rs`) in the journal's order,
//! with since/until/tail/stream/cursor options, optionally following until
//! until, a [`Stop`] or a [`Cancel`]; each line goes to a [`LineSink`],
//! such as [`FdSink`], which writes to a client's descriptor with
//! back-pressure. [`EventReader`] reads berth's event entries.
//! [`logs_to_fd`] runs a read from async code.

mod error;
mod events;
mod follow;
mod format;
mod native;
mod options;
mod reader;
mod sink;
mod split;
mod sync;
mod sys;
mod task;
mod walk;
mod writer;

pub use error::{Error, Result};
pub use events::{EventEntry, EventQuery, EventReader, EVENT_MESSAGE_ID};
pub use follow::{Cancel, Stop};
pub use format::{push_rfc3339, rfc3339, Format, LineFormatter};
pub use native::valid_field_name;
pub use options::{check_match, Follow, ReadOptions, Stream, Streams};
pub use reader::{LogLine, LogReader, OwnedLogLine};
pub use sink::{Delivery, FdSink, LineSink, FLUSH_AT};
pub use split::LineSplitter;
pub use sync::{synchronize, VARLINK_SOCKET};
pub use sys::{Change, Journal};
pub use task::{event_history, logs_to_fd};
pub use walk::{EndReason, ReadEnd};
pub use writer::{JournalWriter, JOURNAL_SOCKET, PARTIAL_FIELD, SEQ_FIELD};
