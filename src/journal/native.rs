//! journald's native protocol (systemd.journal-fields(7), "Native Journal
//! Protocol"): an entry is a run of fields, each `NAME=value\n`, or, for a
//! value that holds a newline, `NAME\n` + the value's length as a 64-bit
//! little-endian number + the value + `\n`. An empty line ends an entry, so
//! one datagram (or one sealed memory file) may carry several entries;
//! journald takes them in order.

/// Whether journald accepts `name` as a field from a client: 1 to 64 of
/// `A-Z`, `0-9` and `_`, not starting with a digit or `_` (fields starting
/// with `_` are the trusted ones journald adds itself).
pub fn valid_field_name(name: &[u8]) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && !name[0].is_ascii_digit()
        && name[0] != b'_'
        && name.iter().all(|&c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == b'_')
}

/// Append one field to an entry being built in `out`. Values with a newline
/// or that are not UTF-8 take the length-prefixed form, every other the
/// simple one.
pub fn push_field(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    if memchr::memchr(b'\n', value).is_some() || std::str::from_utf8(value).is_err() {
        out.reserve(name.len() + 10 + value.len());
        out.extend_from_slice(name);
        out.push(b'\n');
        out.extend_from_slice(&(value.len() as u64).to_le_bytes());
        out.extend_from_slice(value);
        out.push(b'\n');
    } else {
        out.reserve(name.len() + 2 + value.len());
        out.extend_from_slice(name);
        out.push(b'=');
        out.extend_from_slice(value);
        out.push(b'\n');
    }
}

/// Append a field whose value is a number.
pub fn push_number(out: &mut Vec<u8>, name: &[u8], n: u64) {
    out.extend_from_slice(name);
    out.push(b'=');
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    let mut n = n;
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
    out.push(b'\n');
}

/// End the entry being built in `out`.
pub fn end_entry(out: &mut Vec<u8>) {
    out.push(b'\n');
}

/// The entries in a native-protocol buffer, as journald reads them: each a
/// list of (name, value). None when the buffer is malformed.
#[cfg(test)]
pub type Entry = Vec<(Vec<u8>, Vec<u8>)>;

#[cfg(test)]
pub fn parse(mut buf: &[u8]) -> Option<Vec<Entry>> {
    let mut entries = Vec::new();
    let mut entry = Vec::new();
    while !buf.is_empty() {
        let nl = memchr::memchr(b'\n', buf)?;
        if nl == 0 {
            entries.push(std::mem::take(&mut entry));
            buf = &buf[1..];
            continue;
        }
        let line = &buf[..nl];
        if let Some(eq) = memchr::memchr(b'=', line) {
            entry.push((line[..eq].to_vec(), line[eq + 1..].to_vec()));
            buf = &buf[nl + 1..];
        } else {
            let rest = &buf[nl + 1..];
            let len = u64::from_le_bytes(rest.get(..8)?.try_into().ok()?) as usize;
            let value = rest.get(8..8 + len)?;
            if rest.get(8 + len) != Some(&b'\n') {
                return None;
            }
            entry.push((line.to_vec(), value.to_vec()));
            buf = &rest[8 + len + 1..];
        }
    }
    if !entry.is_empty() {
        entries.push(entry);
    }
    Some(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simple_fields() {
        let mut b = Vec::new();
        push_field(&mut b, b"MESSAGE", b"hello world");
        push_number(&mut b, b"BERTH_SEQ", 0);
        push_number(&mut b, b"N", 18_446_744_073_709_551_615);
        end_entry(&mut b);
        assert_eq!(b, b"MESSAGE=hello world\nBERTH_SEQ=0\nN=18446744073709551615\n\n");
    }

    #[test]
    fn values_with_newlines_or_bad_utf8_are_length_prefixed() {
        let mut b = Vec::new();
        push_field(&mut b, b"MESSAGE", b"a\nb");
        assert_eq!(b, b"MESSAGE\n\x03\0\0\0\0\0\0\0a\nb\n");
        let mut b = Vec::new();
        push_field(&mut b, b"MESSAGE", b"\xff=\0");
        assert_eq!(b, b"MESSAGE\n\x03\0\0\0\0\0\0\0\xff=\0\n");
        // An empty value and '=' inside a value stay simple.
        let mut b = Vec::new();
        push_field(&mut b, b"MESSAGE", b"");
        push_field(&mut b, b"X", b"k=v");
        assert_eq!(b, b"MESSAGE=\nX=k=v\n");
    }

    #[test]
    fn entries_round_trip() {
        let mut b = Vec::new();
        let weird: Vec<u8> = (0..=255u8).collect();
        push_field(&mut b, b"MESSAGE", &weird);
        push_field(&mut b, b"PRIORITY", b"3");
        end_entry(&mut b);
        push_field(&mut b, b"MESSAGE", b"second");
        end_entry(&mut b);
        let e = parse(&b).unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!(e[0], vec![(b"MESSAGE".to_vec(), weird), (b"PRIORITY".to_vec(), b"3".to_vec())]);
        assert_eq!(e[1], vec![(b"MESSAGE".to_vec(), b"second".to_vec())]);
    }

    #[test]
    fn field_names() {
        for ok in ["MESSAGE", "BERTH_SEQ", "A", "X9_", &"A".repeat(64)] {
            assert!(valid_field_name(ok.as_bytes()), "{ok}");
        }
        for bad in ["", "_PID", "9A", "lower", "A-B", "A=B", "ÄB", &"A".repeat(65)] {
            assert!(!valid_field_name(bad.as_bytes()), "{bad}");
        }
    }
}
