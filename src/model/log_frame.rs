//! The framed form of a log read (LogsContainer with Format "framed"):
//! binary-safe records that keep each line's stream and time exactly, for
//! readers that need them (libberth's log callback). A record is a 16-byte
//! header, then the bytes of the line:
//!
//! | bytes  | field                                                        |
//! |--------|--------------------------------------------------------------|
//! | 0..8   | usec: when journald took the line in, µs since the epoch     |
//! | 8      | stream: 1 standard output, 2 standard error (the Streams bits) |
//! | 9      | flags: bit 0 PARTIAL, a piece of a line longer than berth-monitor's limit (1 MiB); the next record of the same stream continues it |
//! | 10..12 | reserved, 0                                                  |
//! | 12..16 | the length of the bytes that follow                          |
//!
//! Numbers are little-endian. The bytes are what the container wrote,
//! without the newline: any bytes at all (NUL, invalid UTF-8).
//! [`FrameDecoder`] reads records back and joins a cut line's pieces.

use super::Usec;

/// The size of a record's header.
pub const FRAME_HEADER: usize = 16;

/// The PARTIAL bit of a record's flags.
pub const FRAME_PARTIAL: u8 = 1;

/// The stream a line was written to; the value is its bit in the Streams
/// masks of D-Bus and C (BERTH_LOGS_STDOUT, BERTH_LOGS_STDERR).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum LogStream {
    Stdout = 1,
    Stderr = 2,
}

impl LogStream {
    pub fn bit(self) -> u32 {
        self as u32
    }

    /// `stdout` or `stderr`, as `berthctl logs --tag` prints it.
    pub fn as_str(self) -> &'static str {
        match self {
            LogStream::Stdout => "stdout",
            LogStream::Stderr => "stderr",
        }
    }

    fn from_byte(b: u8) -> Option<Self> {
        match b {
            1 => Some(LogStream::Stdout),
            2 => Some(LogStream::Stderr),
            _ => None,
        }
    }
}

/// Append one record. A message too long for one record's length field
/// (4 GiB) goes out as several, all but the last flagged partial.
pub fn push_frame(out: &mut Vec<u8>, usec: Usec, stream: LogStream, partial: bool, message: &[u8]) {
    let mut chunks = message.chunks(u32::MAX as usize).peekable();
    if chunks.peek().is_none() {
        push_one(out, usec, stream, partial, message);
    }
    while let Some(c) = chunks.next() {
        push_one(out, usec, stream, partial || chunks.peek().is_some(), c);
    }
}

fn push_one(out: &mut Vec<u8>, usec: Usec, stream: LogStream, partial: bool, bytes: &[u8]) {
    out.reserve(FRAME_HEADER + bytes.len());
    out.extend_from_slice(&usec.to_le_bytes());
    out.push(stream as u8);
    out.push(if partial { FRAME_PARTIAL } else { 0 });
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(bytes);
}

/// A stream of records that is not what [`push_frame`] writes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("a log record names stream {byte}, which does not exist")]
    UnknownStream { byte: u8 },
    #[error("the log stream ended inside a record ({held} bytes of it)")]
    Truncated { held: usize },
}

/// One whole line, as [`FrameDecoder`] hands it over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FramedLine<'a> {
    pub stream: LogStream,
    /// The time of the line's first piece.
    pub usec: Usec,
    pub message: &'a [u8],
}

/// A cut line whose last piece has not come yet.
struct Open {
    stream: LogStream,
    usec: Usec,
    bytes: Vec<u8>,
}

/// Reads records from bytes that arrive in any slices, and hands over whole
/// lines: the pieces of a cut line are joined (a line of the other stream
/// arriving in between ends the open one first, as berthctl prints it).
#[derive(Default)]
pub struct FrameDecoder {
    /// Bytes of records not yet complete, from `start` on.
    held: Vec<u8>,
    start: usize,
    open: Option<Open>,
}

/// What the line callback says: go on, or stop the decoding here.
pub type Flow = std::ops::ControlFlow<()>;

impl FrameDecoder {
    pub fn new() -> Self {
        FrameDecoder::default()
    }

    /// Take in `data`; `line` is called for each line it completes, in order.
    /// `Break` from `line` stops at once (the rest stays unread) and is
    /// returned.
    pub fn push(&mut self, data: &[u8], line: &mut dyn FnMut(FramedLine<'_>) -> Flow) -> Result<Flow, FrameError> {
        self.held.extend_from_slice(data);
        let flow = self.drain(line);
        // Keep the unread rest at the front, so that the buffer stays as
        // large as one record plus one read.
        self.held.drain(..self.start);
        self.start = 0;
        flow
    }

    fn drain(&mut self, line: &mut dyn FnMut(FramedLine<'_>) -> Flow) -> Result<Flow, FrameError> {
        loop {
            let rest = &self.held[self.start..];
            if rest.len() < FRAME_HEADER {
                return Ok(Flow::Continue(()));
            }
            let usec = u64::from_le_bytes(rest[0..8].try_into().expect("8 bytes"));
            let stream = LogStream::from_byte(rest[8]).ok_or(FrameError::UnknownStream { byte: rest[8] })?;
            let partial = rest[9] & FRAME_PARTIAL != 0;
            let len = u32::from_le_bytes(rest[12..16].try_into().expect("4 bytes")) as usize;
            if rest.len() < FRAME_HEADER + len {
                self.held.reserve(FRAME_HEADER + len - rest.len());
                return Ok(Flow::Continue(()));
            }
            let begin = self.start + FRAME_HEADER;
            self.start = begin + len;
            let bytes = &self.held[begin..begin + len];
            // A cut line of the other stream ends here.
            if let Some(o) = self.open.take() {
                if o.stream == stream {
                    self.open = Some(o);
                } else if line(FramedLine { stream: o.stream, usec: o.usec, message: &o.bytes }).is_break() {
                    return Ok(Flow::Break(()));
                }
            }
            let flow = match (self.open.as_mut(), partial) {
                (Some(o), true) => {
                    o.bytes.extend_from_slice(bytes);
                    Flow::Continue(())
                }
                (Some(o), false) => {
                    o.bytes.extend_from_slice(bytes);
                    let flow = line(FramedLine { stream, usec: o.usec, message: &o.bytes });
                    self.open = None;
                    flow
                }
                (None, true) => {
                    self.open = Some(Open { stream, usec, bytes: bytes.to_vec() });
                    Flow::Continue(())
                }
                (None, false) => line(FramedLine { stream, usec, message: bytes }),
            };
            if flow.is_break() {
                return Ok(flow);
            }
        }
    }

    /// The end of the stream: hand over a cut line whose last piece never
    /// came; a record cut short is an error.
    pub fn finish(&mut self, line: &mut dyn FnMut(FramedLine<'_>) -> Flow) -> Result<Flow, FrameError> {
        if let Some(o) = self.open.take() {
            if line(FramedLine { stream: o.stream, usec: o.usec, message: &o.bytes }).is_break() {
                return Ok(Flow::Break(()));
            }
        }
        let held = self.held.len() - self.start;
        if held > 0 {
            return Err(FrameError::Truncated { held });
        }
        Ok(Flow::Continue(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Got = Vec<(LogStream, Usec, Vec<u8>)>;

    fn decode(data: &[u8], step: usize) -> Result<Got, FrameError> {
        let mut d = FrameDecoder::new();
        let mut got = Vec::new();
        let mut take = |l: FramedLine<'_>| {
            got.push((l.stream, l.usec, l.message.to_vec()));
            Flow::Continue(())
        };
        for c in data.chunks(step.max(1)) {
            assert!(d.push(c, &mut take)?.is_continue());
        }
        assert!(d.finish(&mut take)?.is_continue());
        Ok(got)
    }

    #[test]
    fn the_layout_is_the_documented_one() {
        let mut out = Vec::new();
        push_frame(&mut out, 0x0102_0304_0506_0708, LogStream::Stderr, true, b"hi");
        assert_eq!(out, [8, 7, 6, 5, 4, 3, 2, 1, 2, 1, 0, 0, 2, 0, 0, 0, b'h', b'i']);
    }

    #[test]
    fn records_split_anywhere_come_back_whole() {
        let mut out = Vec::new();
        push_frame(&mut out, 1, LogStream::Stdout, false, b"out\0with nul");
        push_frame(&mut out, 2, LogStream::Stderr, false, b"");
        push_frame(&mut out, 3, LogStream::Stderr, false, b"\xff\xfe");
        let want: Got = vec![
            (LogStream::Stdout, 1, b"out\0with nul".to_vec()),
            (LogStream::Stderr, 2, vec![]),
            (LogStream::Stderr, 3, b"\xff\xfe".to_vec()),
        ];
        for step in [1, 2, 7, 16, 17, 1000] {
            assert_eq!(decode(&out, step).unwrap(), want, "in slices of {step}");
        }
    }

    #[test]
    fn pieces_are_joined_and_the_other_stream_ends_an_open_line() {
        let mut out = Vec::new();
        push_frame(&mut out, 1, LogStream::Stdout, true, b"aa");
        push_frame(&mut out, 2, LogStream::Stdout, true, b"bb");
        push_frame(&mut out, 3, LogStream::Stdout, false, b"c");
        push_frame(&mut out, 4, LogStream::Stdout, true, b"dd");
        push_frame(&mut out, 5, LogStream::Stderr, false, b"err");
        push_frame(&mut out, 6, LogStream::Stdout, true, b"ee");
        let got = decode(&out, 5).unwrap();
        let want: Got = vec![
            (LogStream::Stdout, 1, b"aabbc".to_vec()),
            (LogStream::Stdout, 4, b"dd".to_vec()),
            (LogStream::Stderr, 5, b"err".to_vec()),
            (LogStream::Stdout, 6, b"ee".to_vec()),
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn bad_records_are_named() {
        let mut out = Vec::new();
        push_frame(&mut out, 1, LogStream::Stdout, false, b"abc");
        assert_eq!(decode(&out[..out.len() - 1], 4), Err(FrameError::Truncated { held: 18 }));
        out[8] = 4;
        assert_eq!(decode(&out, 100), Err(FrameError::UnknownStream { byte: 4 }));
    }

    #[test]
    fn a_break_stops_at_once() {
        let mut out = Vec::new();
        for i in 0..3 {
            push_frame(&mut out, i, LogStream::Stdout, false, b"x");
        }
        let mut d = FrameDecoder::new();
        let mut n = 0;
        let flow = d
            .push(&out, &mut |_| {
                n += 1;
                Flow::Break(())
            })
            .unwrap();
        assert!(flow.is_break());
        assert_eq!(n, 1);
    }
}
