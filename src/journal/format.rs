//! A log line as `berthctl logs` prints it: optionally its RFC 3339 time
//! (as podman's and docker's `logs -t`) and its stream, then the bytes the
//! container wrote, then a newline unless the line was cut (a partial piece
//! runs on into the next one, so the long line comes out whole). Or, framed,
//! as a binary record of [`crate::model::log_frame`] for readers that need
//! each line's stream and time exactly.

use super::options::Stream;
use super::reader::LogLine;
use crate::model::log_frame::{push_frame, LogStream};
use crate::model::Usec;

/// What to put before each line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Format {
    /// `2023-11-14T22:13:20.123456Z ` before each line.
    pub timestamps: bool,
    /// `stdout ` or `stderr ` before each line (after the time).
    pub stream_tag: bool,
    /// Binary records (`model::log_frame`) instead of text; the prefixes
    /// above do not apply, the records carry both.
    pub framed: bool,
}

/// Formats lines one after another. A cut line's pieces come out as one
/// line with one prefix; a line of the other stream arriving between two
/// pieces ends the open one first.
#[derive(Debug, Clone, Default)]
pub struct LineFormatter {
    format: Format,
    /// The stream whose cut line is still open (its last piece was partial).
    open: Option<Stream>,
}

impl LineFormatter {
    pub fn new(format: Format) -> Self {
        LineFormatter { format, open: None }
    }

    /// Append `line`, formatted, to `out`.
    pub fn push(&mut self, out: &mut Vec<u8>, line: &LogLine<'_>) {
        if self.format.framed {
            let stream = match line.stream {
                Stream::Stdout => LogStream::Stdout,
                Stream::Stderr => LogStream::Stderr,
            };
            push_frame(out, line.usec, stream, line.partial, line.message);
            return;
        }
        let continues = match self.open {
            Some(s) if s == line.stream => true,
            Some(_) => {
                out.push(b'\n');
                false
            }
            None => false,
        };
        if !continues {
            if self.format.timestamps {
                push_rfc3339(out, line.usec);
                out.push(b' ');
            }
            if self.format.stream_tag {
                out.extend_from_slice(line.stream.as_str().as_bytes());
                out.push(b' ');
            }
        }
        out.extend_from_slice(line.message);
        if line.partial {
            self.open = Some(line.stream);
        } else {
            self.open = None;
            out.push(b'\n');
        }
    }

    /// End an open cut line (at the end of the output).
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if self.open.take().is_some() {
            out.push(b'\n');
        }
    }
}

/// UTC RFC 3339 with microseconds, e.g. `2000-02-29T00:00:00.000000Z`.
pub fn rfc3339(usec: Usec) -> String {
    let mut v = Vec::with_capacity(27);
    push_rfc3339(&mut v, usec);
    String::from_utf8_lossy(&v).into_owned()
}

fn push_digits(out: &mut Vec<u8>, n: u64, width: usize) {
    let mut d = [b'0'; 20];
    let mut n = n;
    for i in (0..width).rev() {
        d[i] = b'0' + (n % 10) as u8;
        n /= 10;
    }
    out.extend_from_slice(&d[..width]);
}

/// Append the RFC 3339 form of `usec` without allocating.
pub fn push_rfc3339(out: &mut Vec<u8>, usec: Usec) {
    let secs = (usec / 1_000_000) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    // Years past 9999 (u64 microseconds reach 586,912) get more digits.
    let width = if y > 9999 { y.to_string().len() } else { 4 };
    push_digits(out, y as u64, width);
    out.push(b'-');
    push_digits(out, m as u64, 2);
    out.push(b'-');
    push_digits(out, d as u64, 2);
    out.push(b'T');
    push_digits(out, (rem / 3600) as u64, 2);
    out.push(b':');
    push_digits(out, (rem % 3600 / 60) as u64, 2);
    out.push(b':');
    push_digits(out, (rem % 60) as u64, 2);
    out.push(b'.');
    push_digits(out, usec % 1_000_000, 6);
    out.push(b'Z');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(rfc3339(951_782_400_000_000), "2000-02-29T00:00:00.000000Z");
        assert_eq!(rfc3339(951_868_799_999_999), "2000-02-29T23:59:59.999999Z");
        assert_eq!(rfc3339(1_700_000_000_123_456), "2023-11-14T22:13:20.123456Z");
        assert_eq!(rfc3339(4_107_542_400_000_000), "2100-03-01T00:00:00.000000Z");
        assert_eq!(rfc3339(253_402_300_799_000_000), "9999-12-31T23:59:59.000000Z");
        assert_eq!(rfc3339(253_402_300_800_000_000), "10000-01-01T00:00:00.000000Z");
        assert!(rfc3339(u64::MAX).ends_with(".551615Z"));
    }

    #[test]
    fn lines() {
        let l = LogLine { usec: 1_700_000_000_123_456, stream: Stream::Stderr, seq: Some(4), partial: false, message: b"oops\xff" };
        let mut out = Vec::new();
        LineFormatter::new(Format::default()).push(&mut out, &l);
        LineFormatter::new(Format { timestamps: true, ..Format::default() }).push(&mut out, &l);
        LineFormatter::new(Format { timestamps: true, stream_tag: true, ..Format::default() }).push(&mut out, &l);
        assert_eq!(out, b"oops\xff\n2023-11-14T22:13:20.123456Z oops\xff\n2023-11-14T22:13:20.123456Z stderr oops\xff\n");
    }

    #[test]
    fn cut_lines_come_out_whole() {
        let piece = |stream, partial, message| LogLine { usec: 0, stream, seq: None, partial, message };
        let mut f = LineFormatter::new(Format { stream_tag: true, ..Format::default() });
        let mut out = Vec::new();
        f.push(&mut out, &piece(Stream::Stdout, true, b"aa"));
        f.push(&mut out, &piece(Stream::Stdout, true, b"bb"));
        f.push(&mut out, &piece(Stream::Stdout, false, b"c"));
        f.push(&mut out, &piece(Stream::Stdout, true, b"dd"));
        f.push(&mut out, &piece(Stream::Stderr, false, b"err"));
        f.push(&mut out, &piece(Stream::Stdout, true, b"ee"));
        f.finish(&mut out);
        f.finish(&mut out);
        assert_eq!(out, b"stdout aabbc\nstdout dd\nstderr err\nstdout ee\n");
    }

    #[test]
    fn framed_records_keep_stream_time_and_pieces() {
        let mut f = LineFormatter::new(Format { framed: true, timestamps: true, stream_tag: true });
        let mut out = Vec::new();
        f.push(&mut out, &LogLine { usec: 7, stream: Stream::Stderr, seq: Some(1), partial: true, message: b"a\nb" });
        f.push(&mut out, &LogLine { usec: 8, stream: Stream::Stderr, seq: Some(2), partial: false, message: b"c" });
        f.finish(&mut out);
        let mut want = Vec::new();
        push_frame(&mut want, 7, LogStream::Stderr, true, b"a\nb");
        push_frame(&mut want, 8, LogStream::Stderr, false, b"c");
        assert_eq!(out, want);
    }
}
