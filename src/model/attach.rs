//! The attach stream: what a caller of Attach, StartAndAttach or
//! ExecStartAndAttach reads and writes on the socket it gets back. The
//! socket is a SOCK_SEQPACKET connection to the container's berth-monitor
//! (berthd is not in the path): every packet is one frame, its first byte
//! the frame's kind (the stream ids are conmon's: 1 stdin, 2 stdout, 3
//! stderr), the rest its payload.
//!
//! | kind | direction | payload |
//! |---|---|---|
//! | 1 stdin | caller to monitor | bytes for the process's stdin; empty: end of input (its stdin is closed) |
//! | 2 stdout, 3 stderr | monitor to caller | the process's output (a terminal's output is stdout) |
//! | 4 exit | monitor to caller | the exit code, i32 little-endian; the last frame |
//! | 5 detached | monitor to caller | none: the detach keys were typed; the process runs on |
//! | 6 resize | caller to monitor | rows, cols: two u16 little-endian (TIOCSWINSZ) |
//!
//! A packet holds at most [`MAX_PACKET`] bytes; read with a buffer that
//! large. The caller's input is scanned for the detach keys (default
//! ctrl-p ctrl-q, as podman's), which end the attachment and never reach
//! the process.

use super::{Error, Result};

pub const STREAM_STDIN: u8 = 1;
pub const STREAM_STDOUT: u8 = 2;
pub const STREAM_STDERR: u8 = 3;
pub const FRAME_EXIT: u8 = 4;
pub const FRAME_DETACHED: u8 = 5;
pub const FRAME_RESIZE: u8 = 6;

/// The largest payload of one frame.
pub const MAX_PAYLOAD: usize = 32 * 1024;
/// The largest packet: a kind byte and a payload.
pub const MAX_PACKET: usize = MAX_PAYLOAD + 1;

/// podman's default detach keys.
pub const DEFAULT_DETACH_KEYS: &str = "ctrl-p,ctrl-q";

/// One frame of the attach stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame<'a> {
    /// Input; empty means the end of input.
    Stdin(&'a [u8]),
    Stdout(&'a [u8]),
    Stderr(&'a [u8]),
    Exit(i32),
    Detached,
    Resize { rows: u16, cols: u16 },
}

impl<'a> Frame<'a> {
    /// A received packet as a frame; None for a packet this version does
    /// not know (to be skipped).
    pub fn parse(packet: &'a [u8]) -> Option<Frame<'a>> {
        let (&kind, body) = packet.split_first()?;
        Some(match kind {
            STREAM_STDIN => Frame::Stdin(body),
            STREAM_STDOUT => Frame::Stdout(body),
            STREAM_STDERR => Frame::Stderr(body),
            FRAME_EXIT => Frame::Exit(i32::from_le_bytes(body.get(..4)?.try_into().ok()?)),
            FRAME_DETACHED => Frame::Detached,
            FRAME_RESIZE => {
                let rows = u16::from_le_bytes(body.get(..2)?.try_into().ok()?);
                let cols = u16::from_le_bytes(body.get(2..4)?.try_into().ok()?);
                Frame::Resize { rows, cols }
            }
            _ => return None,
        })
    }

    /// The packet of this frame. Data frames longer than [`MAX_PAYLOAD`]
    /// must be cut by the caller (see [`data_packets`]).
    pub fn encode(&self) -> Vec<u8> {
        let data = |kind: u8, d: &[u8]| {
            let mut v = Vec::with_capacity(d.len() + 1);
            v.push(kind);
            v.extend_from_slice(d);
            v
        };
        match *self {
            Frame::Stdin(d) => data(STREAM_STDIN, d),
            Frame::Stdout(d) => data(STREAM_STDOUT, d),
            Frame::Stderr(d) => data(STREAM_STDERR, d),
            Frame::Exit(code) => data(FRAME_EXIT, &code.to_le_bytes()),
            Frame::Detached => vec![FRAME_DETACHED],
            Frame::Resize { rows, cols } => {
                let mut v = vec![FRAME_RESIZE];
                v.extend_from_slice(&rows.to_le_bytes());
                v.extend_from_slice(&cols.to_le_bytes());
                v
            }
        }
    }
}

/// `data` of stream `kind` (stdin, stdout or stderr) as packets of at most
/// [`MAX_PACKET`] bytes.
pub fn data_packets(kind: u8, data: &[u8]) -> impl Iterator<Item = Vec<u8>> + '_ {
    data.chunks(MAX_PAYLOAD).map(move |c| {
        let mut v = Vec::with_capacity(c.len() + 1);
        v.push(kind);
        v.extend_from_slice(c);
        v
    })
}

/// The key sequence that detaches a caller, parsed from podman's notation:
/// comma-separated keys, each one character or `ctrl-X` (X one of a-z, @,
/// [, \, ], ^, _). Empty means the default; `none` means no detach keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetachKeys(Vec<u8>);

impl DetachKeys {
    pub fn parse(s: &str) -> Result<Self> {
        let s = if s.is_empty() { DEFAULT_DETACH_KEYS } else { s };
        if s == "none" {
            return Ok(DetachKeys(Vec::new()));
        }
        let bad = |m: String| Error::invalid("DetachKeys", format!("{s:?}: {m}"));
        let mut keys = Vec::new();
        for k in s.split(',') {
            let b = match k.strip_prefix("ctrl-") {
                Some(c) if c.len() == 1 => match c.as_bytes()[0] {
                    c @ b'a'..=b'z' => c - b'a' + 1,
                    b'@' => 0,
                    b'[' => 27,
                    b'\\' => 28,
                    b']' => 29,
                    b'^' => 30,
                    b'_' => 31,
                    _ => return Err(bad(format!("{k:?} is not ctrl- and one of a-z @ [ \\ ] ^ _"))),
                },
                _ if k.len() == 1 && k.is_ascii() => k.as_bytes()[0],
                _ => return Err(bad(format!("{k:?} is not one character or ctrl-X"))),
            };
            keys.push(b);
        }
        Ok(DetachKeys(keys))
    }

    /// The bytes of the sequence (empty: detaching by keys is off).
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }

    pub fn from_bytes(b: Vec<u8>) -> Self {
        DetachKeys(b)
    }
}

/// Watches a caller's input for the detach keys. Bytes that could begin
/// the sequence are held back until the next ones show whether it is;
/// bytes that turn out not to be it are passed on, in order.
#[derive(Debug, Clone)]
pub struct DetachScanner {
    keys: Vec<u8>,
    matched: usize,
}

/// What one piece of input comes to.
#[derive(Debug, PartialEq, Eq)]
pub struct Scanned {
    /// Bytes for the process.
    pub forward: Vec<u8>,
    /// The sequence was typed: the attachment ends (what follows it is dropped).
    pub detach: bool,
}

impl DetachScanner {
    pub fn new(keys: &DetachKeys) -> Self {
        DetachScanner { keys: keys.0.clone(), matched: 0 }
    }

    pub fn feed(&mut self, data: &[u8]) -> Scanned {
        if self.keys.is_empty() {
            return Scanned { forward: data.to_vec(), detach: false };
        }
        let mut forward = Vec::with_capacity(data.len());
        for &b in data {
            if b == self.keys[self.matched] {
                self.matched += 1;
                if self.matched == self.keys.len() {
                    self.matched = 0;
                    return Scanned { forward, detach: true };
                }
                continue;
            }
            // Not the sequence after all: what was held goes on, and this
            // byte may begin the sequence afresh.
            forward.extend_from_slice(&self.keys[..self.matched]);
            self.matched = 0;
            if b == self.keys[0] {
                self.matched = 1;
                if self.keys.len() == 1 {
                    self.matched = 0;
                    return Scanned { forward, detach: true };
                }
            } else {
                forward.push(b);
            }
        }
        Scanned { forward, detach: false }
    }

    /// The input ended: bytes held back go on after all.
    pub fn finish(&mut self) -> Vec<u8> {
        let held = self.keys[..self.matched].to_vec();
        self.matched = 0;
        held
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip() {
        let frames = [
            Frame::Stdin(b"ls\n"),
            Frame::Stdin(b""),
            Frame::Stdout(b"out"),
            Frame::Stderr(b"err"),
            Frame::Exit(-1),
            Frame::Exit(137),
            Frame::Detached,
            Frame::Resize { rows: 50, cols: 132 },
        ];
        for f in frames {
            let p = f.encode();
            assert_eq!(Frame::parse(&p), Some(f));
        }
        assert_eq!(Frame::parse(&[]), None);
        assert_eq!(Frame::parse(&[FRAME_EXIT, 1]), None, "a short exit frame");
        assert_eq!(Frame::parse(&[FRAME_RESIZE, 1, 2, 3]), None);
        assert_eq!(Frame::parse(&[99, 1]), None, "unknown kinds are skipped");
        let big = vec![b'x'; MAX_PAYLOAD * 2 + 1];
        let packets: Vec<Vec<u8>> = data_packets(STREAM_STDOUT, &big).collect();
        assert_eq!(packets.iter().map(Vec::len).collect::<Vec<_>>(), [MAX_PACKET, MAX_PACKET, 2]);
    }

    #[test]
    fn detach_keys_parse_like_podmans() {
        assert_eq!(DetachKeys::parse("").unwrap().bytes(), [16, 17]);
        assert_eq!(DetachKeys::parse("ctrl-a,x,ctrl-@,ctrl-_").unwrap().bytes(), [1, b'x', 0, 31]);
        assert!(DetachKeys::parse("none").unwrap().bytes().is_empty());
        for bad in ["ctrl-", "ctrl-1", "ab", "ctrl-p,,ctrl-q", "é"] {
            assert_eq!(DetachKeys::parse(bad).unwrap_err().key(), Some("DetachKeys"), "{bad}");
        }
    }

    #[test]
    fn scanner_holds_a_prefix_and_detaches_on_the_sequence() {
        let keys = DetachKeys::parse("").unwrap();
        let mut s = DetachScanner::new(&keys);
        assert_eq!(s.feed(b"ab\x10"), Scanned { forward: b"ab".to_vec(), detach: false });
        assert_eq!(s.feed(b"c"), Scanned { forward: b"\x10c".to_vec(), detach: false }, "a lone ctrl-p goes on");
        assert_eq!(s.feed(b"\x10\x10\x11zz"), Scanned { forward: b"\x10".to_vec(), detach: true });
        assert_eq!(s.feed(b"\x10"), Scanned { forward: vec![], detach: false });
        assert_eq!(s.finish(), b"\x10");
        let mut none = DetachScanner::new(&DetachKeys::parse("none").unwrap());
        assert_eq!(none.feed(b"\x10\x11"), Scanned { forward: b"\x10\x11".to_vec(), detach: false });
        let mut one = DetachScanner::new(&DetachKeys::parse("ctrl-d").unwrap());
        assert_eq!(one.feed(b"x\x04y"), Scanned { forward: b"x".to_vec(), detach: true });
    }
}
