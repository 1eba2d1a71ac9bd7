//! The container's output into journald: the bytes the monitor read from
//! the container's stdout and stderr (or its terminal, as stdout) cut into
//! lines and sent through one native socket in the order read (each with
//! its BERTH_SEQ), so that the journal keeps both streams in one order and
//! tells them apart by PRIORITY. Attached callers get the same bytes from
//! the loop (attach.rs); the journal gets every line whoever is attached.

use crate::journal::{JournalWriter, LineSplitter, Stream};
use std::io::Write;
use std::time::Duration;

/// Say what failed, in the unit's journal; the monitor goes on.
fn warn(what: &str, e: impl std::fmt::Display) {
    eprintln!("berth-monitor: {what}: {e}");
}

/// Where the lines go: journald, or (a monitor run by hand) the monitor's
/// own stdout and stderr.
enum Sink {
    Journal(JournalWriter),
    Own,
}

pub(super) struct Output {
    sink: Sink,
    split: [LineSplitter; 2],
    /// A terminal ends lines with CR LF: the CR is not part of the line.
    terminal: bool,
}

fn index(stream: Stream) -> usize {
    usize::from(stream == Stream::Stderr)
}

impl Output {
    /// Lines to journald as `identifier`.
    pub fn journal(identifier: &str, terminal: bool) -> crate::journal::Result<Output> {
        let writer = JournalWriter::connect(identifier, std::iter::empty::<(&str, &[u8])>())?;
        Ok(Output { sink: Sink::Journal(writer), split: Default::default(), terminal })
    }

    /// Output to the monitor's own stdout and stderr, unchanged.
    pub fn own() -> Output {
        Output { sink: Sink::Own, split: Default::default(), terminal: false }
    }

    /// Take in bytes the container wrote to `stream`.
    pub fn write(&mut self, stream: Stream, data: &[u8]) {
        let Output { sink, split, terminal } = self;
        match sink {
            Sink::Journal(w) => split[index(stream)].push(data, |line, partial| push(w, stream, line, partial, *terminal)),
            Sink::Own => {
                let r = match stream {
                    Stream::Stdout => std::io::stdout().write_all(data),
                    Stream::Stderr => std::io::stderr().write_all(data),
                };
                if let Err(e) = r {
                    warn("writing the container's output", e);
                }
            }
        }
    }

    /// Send what is batched (when no more output is at hand).
    pub fn flush(&mut self) {
        if let Sink::Journal(w) = &mut self.sink {
            if let Err(e) = w.flush() {
                warn("writing the container's output to the journal", e);
            }
        }
    }

    /// The container is gone and its output read: pass on the last lines
    /// without a newline, then wait (at most `limit`) until journald has
    /// stored every line.
    pub fn finish(&mut self, limit: Duration) {
        let Output { sink, split, terminal } = self;
        let Sink::Journal(w) = sink else { return };
        for (i, stream) in [Stream::Stdout, Stream::Stderr].into_iter().enumerate() {
            split[i].finish(|line, partial| push(w, stream, line, partial, *terminal));
        }
        if let Err(e) = w.drain(limit) {
            warn("waiting for journald to store the container's output", e);
        }
    }
}

fn push(writer: &mut JournalWriter, stream: Stream, line: &[u8], partial: bool, terminal: bool) {
    let line = if terminal && !partial { line.strip_suffix(b"\r").unwrap_or(line) } else { line };
    if let Err(e) = writer.push(stream, line, partial) {
        warn("writing the container's output to the journal", e);
    }
}
