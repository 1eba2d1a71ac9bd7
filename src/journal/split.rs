//! Bytes read from a pipe, cut into lines. Memory stays bounded: a line
//! longer than the limit (default 1 MiB) is handed over in pieces of the
//! limit's size, every piece but the last flagged partial, so that a reader
//! can join them again. Lines keep every byte but the newline (NUL bytes,
//! carriage returns, invalid UTF-8); a last line without a newline comes out
//! at end of file.

/// Cuts a byte stream into lines.
#[derive(Debug, Clone)]
pub struct LineSplitter {
    /// The start of a line whose newline has not come yet (at most `max` bytes).
    held: Vec<u8>,
    max: usize,
}

impl Default for LineSplitter {
    fn default() -> Self {
        LineSplitter::new(LineSplitter::DEFAULT_MAX_LINE)
    }
}

impl LineSplitter {
    /// The longest piece handed over as one entry.
    pub const DEFAULT_MAX_LINE: usize = 1 << 20;

    /// Lines longer than `max_line` bytes (at least 1) are cut.
    pub fn new(max_line: usize) -> Self {
        LineSplitter { held: Vec::new(), max: max_line.max(1) }
    }

    /// The bytes held back waiting for a newline.
    pub fn held(&self) -> usize {
        self.held.len()
    }

    /// Take in `data`; `emit(line, partial)` is called for each line or
    /// piece it completes, in order.
    pub fn push(&mut self, data: &[u8], mut emit: impl FnMut(&[u8], bool)) {
        let mut rest = data;
        while let Some(nl) = memchr::memchr(b'\n', rest) {
            let (line, after) = (&rest[..nl], &rest[nl + 1..]);
            if self.held.is_empty() {
                self.emit_whole(line, &mut emit);
            } else {
                self.held_extend(line, &mut emit);
                emit(&self.held, false);
                self.held.clear();
            }
            rest = after;
        }
        self.held_extend(rest, &mut emit);
    }

    /// End of file: hand over a last line that had no newline.
    pub fn finish(&mut self, mut emit: impl FnMut(&[u8], bool)) {
        if !self.held.is_empty() {
            emit(&self.held, false);
            self.held.clear();
        }
    }

    /// A complete line: in pieces of `max` when longer.
    fn emit_whole(&self, mut line: &[u8], emit: &mut impl FnMut(&[u8], bool)) {
        while line.len() > self.max {
            emit(&line[..self.max], true);
            line = &line[self.max..];
        }
        emit(line, false);
    }

    /// Hold more of an unfinished line, handing over full pieces beyond `max`
    /// (a line exactly `max` long still waits for its newline to come whole).
    fn held_extend(&mut self, mut data: &[u8], emit: &mut impl FnMut(&[u8], bool)) {
        while self.held.len() + data.len() > self.max {
            let take = self.max - self.held.len();
            if self.held.is_empty() {
                emit(&data[..take], true);
            } else {
                self.held.extend_from_slice(&data[..take]);
                emit(&self.held, true);
                self.held.clear();
            }
            data = &data[take..];
        }
        self.held.extend_from_slice(data);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(max: usize, chunks: &[&[u8]]) -> Vec<(Vec<u8>, bool)> {
        let mut s = LineSplitter::new(max);
        let mut out = Vec::new();
        for c in chunks {
            s.push(c, |l, p| out.push((l.to_vec(), p)));
            assert!(s.held() <= max, "held {} over the limit {max}", s.held());
        }
        s.finish(|l, p| out.push((l.to_vec(), p)));
        out
    }

    fn whole(v: &[u8]) -> (Vec<u8>, bool) {
        (v.to_vec(), false)
    }

    #[test]
    fn lines_across_chunks() {
        assert_eq!(run(100, &[b"a\nb", b"c\n", b"\n", b"d"]), vec![whole(b"a"), whole(b"bc"), whole(b""), whole(b"d")]);
        assert_eq!(run(100, &[b"x\n"]), vec![whole(b"x")]);
        assert!(run(100, &[b""]).is_empty());
    }

    #[test]
    fn binary_bytes_stay() {
        let bin = b"\0\xff\r\x1b[0m";
        let mut data = bin.to_vec();
        data.push(b'\n');
        assert_eq!(run(100, &[&data]), vec![whole(bin)]);
    }

    #[test]
    fn long_lines_are_cut_into_flagged_pieces() {
        // A complete long line in one chunk.
        assert_eq!(run(3, &[b"abcdefgh\n"]), vec![(b"abc".to_vec(), true), (b"def".to_vec(), true), whole(b"gh")]);
        // The same, trickling in.
        let out = run(3, &[b"ab", b"cde", b"f", b"gh\nz"]);
        assert_eq!(out, vec![(b"abc".to_vec(), true), (b"def".to_vec(), true), whole(b"gh"), whole(b"z")]);
        // Exactly the limit is not cut, wherever the newline comes.
        assert_eq!(run(3, &[b"abc\n"]), vec![whole(b"abc")]);
        assert_eq!(run(3, &[b"abc", b"\n"]), vec![whole(b"abc")]);
        // A multiple of the limit without a newline at end of file.
        assert_eq!(run(2, &[b"abcd"]), vec![(b"ab".to_vec(), true), whole(b"cd")]);
        // Joining the pieces gives the line back.
        let line: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).filter(|&b| b != b'\n').collect();
        let mut data = line.clone();
        data.push(b'\n');
        let chunks: Vec<&[u8]> = data.chunks(777).collect();
        let out = run(1000, &chunks);
        assert!(out[..out.len() - 1].iter().all(|(p, partial)| *partial && p.len() == 1000));
        assert!(!out.last().unwrap().1);
        assert_eq!(out.iter().flat_map(|(p, _)| p.clone()).collect::<Vec<u8>>(), line);
    }
}
