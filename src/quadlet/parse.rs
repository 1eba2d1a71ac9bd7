//! systemd's unit-file syntax (systemd.syntax(7)): `[Section]` headers,
//! `Key=Value` entries, `#`/`;` comments, backslash continuations; and the
//! word splitting systemd applies to Exec= and Environment= values.
//! `%` specifiers are left as they are: systemd expands what it reads.

use super::{quote, Error, Errors};
use std::path::{Path, PathBuf};

/// systemd's longest line (LONG_LINE_MAX): a longer one is cut where it
/// reads it, so the unit it would load differs from the one written.
pub const LINE_MAX: usize = 1 << 20;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub key: String,
    pub value: String,
    /// Where the entry starts (its first line when continued).
    pub line: usize,
    /// The drop-in it comes from; None for the unit file itself.
    pub source: Option<PathBuf>,
}

/// Where an entry was read: its drop-in (None: the unit file) and line.
pub type At = (Option<PathBuf>, usize);

impl Entry {
    pub fn at(&self) -> At {
        (self.source.clone(), self.line)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub name: String,
    pub line: usize,
    pub entries: Vec<Entry>,
    /// The drop-in it comes from; None for the unit file itself.
    pub source: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitFile {
    pub path: PathBuf,
    pub sections: Vec<Section>,
}

impl UnitFile {
    /// The entries of every section called `name`, in file order: systemd
    /// merges a section that appears twice.
    pub fn entries<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Entry> + 'a {
        self.sections.iter().filter(move |s| s.name == name).flat_map(|s| &s.entries)
    }

    /// The line of the first `[name]` header.
    pub fn section_line(&self, name: &str) -> Option<usize> {
        self.sections.iter().find(|s| s.name == name).map(|s| s.line)
    }

    pub fn error(&self, line: usize, message: impl Into<String>) -> Error {
        Error::at(&self.path, line, message)
    }

    /// An error at an entry's place, in the unit file or its drop-in.
    pub fn error_at(&self, at: &At, message: impl Into<String>) -> Error {
        Error::at(at.0.as_deref().unwrap_or(&self.path), at.1, message)
    }

    /// Append a drop-in's sections, as systemd reads a drop-in after the unit.
    pub fn merge(&mut self, dropin: UnitFile) {
        for mut s in dropin.sections {
            s.source = Some(dropin.path.clone());
            for e in &mut s.entries {
                e.source = Some(dropin.path.clone());
            }
            self.sections.push(s);
        }
    }
}

const WHITESPACE: &[char] = &[' ', '\t', '\n', '\r'];

fn is_comment(line: &str) -> bool {
    line.trim_start_matches(WHITESPACE).starts_with(['#', ';'])
}

/// An odd number of trailing backslashes: the last one is not escaped.
fn continues(line: &str) -> bool {
    (line.len() - line.trim_end_matches('\\').len()) % 2 == 1
}

/// Parse a whole file; every line in error is reported, not only the first.
pub fn parse(path: &Path, text: &str) -> Result<UnitFile, Errors> {
    let (file, errors) = parse_all(path, text);
    if errors.is_empty() {
        Ok(file)
    } else {
        Err(Errors(errors))
    }
}

/// Parse what is well-formed and list the lines that are not, so that the
/// rest of the file can still be checked and every error reported.
pub fn parse_all(path: &Path, text: &str) -> (UnitFile, Vec<Error>) {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut file = UnitFile { path: path.to_path_buf(), sections: Vec::new() };
    let mut errors = Vec::new();
    let mut line = |file: &mut UnitFile, n: usize, text: &str| {
        if let Err(e) = parse_line(file, n, text) {
            errors.push(e);
        }
    };
    // A logical line being continued: its first line number and text so far.
    let mut pending: Option<(usize, String)> = None;
    for (i, raw) in text.lines().enumerate() {
        // Comment lines are skipped even inside a continuation, as systemd does.
        if is_comment(raw) {
            continue;
        }
        let (start, mut logical) = match pending.take() {
            Some((start, acc)) => (start, acc + raw),
            None => (i + 1, raw.to_string()),
        };
        if continues(&logical) {
            logical.pop();
            logical.push(' ');
            pending = Some((start, logical));
        } else {
            line(&mut file, start, &logical);
        }
    }
    if let Some((start, logical)) = pending {
        line(&mut file, start, &logical);
    }
    (file, errors)
}

fn parse_line(file: &mut UnitFile, line: usize, text: &str) -> Result<(), Error> {
    let l = text.trim_matches(WHITESPACE);
    if l.is_empty() {
        return Ok(());
    }
    // systemd ends a line at a CR and a string at a NUL: what it would read
    // is not what is written here.
    if l.contains('\r') {
        return Err(file.error(line, "a carriage return inside a line (systemd would end the line there)"));
    }
    if l.contains('\0') {
        return Err(file.error(line, "a NUL byte inside a line"));
    }
    if l.len() > LINE_MAX {
        return Err(file.error(line, format!("the line is longer than systemd's limit of {LINE_MAX} bytes")));
    }
    if let Some(header) = l.strip_prefix('[') {
        let name = header.strip_suffix(']').ok_or_else(|| file.error(line, format!("invalid section header {}", quote(l))))?;
        if name.is_empty() {
            return Err(file.error(line, "empty section name"));
        }
        file.sections.push(Section { name: name.to_string(), line, entries: Vec::new(), source: None });
        return Ok(());
    }
    let (key, value) = l.split_once('=').ok_or_else(|| file.error(line, format!("missing '=' in {}", quote(l))))?;
    let key = key.trim_matches(WHITESPACE);
    if key.is_empty() {
        return Err(file.error(line, "missing key name before '='"));
    }
    let entry = Entry { key: key.to_string(), value: value.trim_matches(WHITESPACE).to_string(), line, source: None };
    match file.sections.last_mut() {
        Some(s) => s.entries.push(entry),
        None => return Err(file.error(line, format!("{}= is outside of any section", quote(key)))),
    }
    Ok(())
}

/// systemd's booleans (parse_boolean), case-insensitive.
pub fn parse_bool(s: &str) -> Option<bool> {
    match s.to_ascii_lowercase().as_str() {
        "1" | "yes" | "y" | "true" | "t" | "on" => Some(true),
        "0" | "no" | "n" | "false" | "f" | "off" => Some(false),
        _ => None,
    }
}

/// Split a value into words like systemd's extract_first_word with
/// unquoting and C unescaping: whitespace separates words, "..." and '...'
/// may appear anywhere in a word, backslash escapes work inside and outside
/// quotes. An unknown escape is kept verbatim, as systemd does after
/// warning; an unterminated quote or a trailing backslash is an error.
pub fn split_words(s: &str) -> Result<Vec<String>, String> {
    let chars: Vec<char> = s.chars().collect();
    let mut words = Vec::new();
    let mut i = 0;
    loop {
        while i < chars.len() && WHITESPACE.contains(&chars[i]) {
            i += 1;
        }
        if i == chars.len() {
            return Ok(words);
        }
        let mut word = String::new();
        let mut quote = None;
        while i < chars.len() {
            let c = chars[i];
            i += 1;
            match (c, quote) {
                ('\\', _) => match unescape(&chars[i..]) {
                    Some((u, used)) => {
                        word.push(u);
                        i += used;
                    }
                    None if i == chars.len() => return Err("trailing backslash".into()),
                    None => {
                        word.push('\\');
                        word.push(chars[i]);
                        i += 1;
                    }
                },
                (c, Some(q)) if c == q => quote = None,
                (c, Some(_)) => word.push(c),
                ('"' | '\'', None) => quote = Some(c),
                (c, None) if WHITESPACE.contains(&c) => break,
                (c, None) => word.push(c),
            }
        }
        if let Some(q) = quote {
            return Err(format!("unterminated quote ({q})"));
        }
        words.push(word);
    }
}

/// One C escape after a backslash (systemd's cunescape_one): the character
/// and how many characters it took; None when `rest` holds no valid escape.
fn unescape(rest: &[char]) -> Option<(char, usize)> {
    let c = *rest.first()?;
    let simple = match c {
        'a' => Some('\x07'),
        'b' => Some('\x08'),
        'f' => Some('\x0c'),
        'n' => Some('\n'),
        'r' => Some('\r'),
        't' => Some('\t'),
        'v' => Some('\x0b'),
        's' => Some(' '),
        '\\' | '"' | '\'' => Some(c),
        _ => None,
    };
    if let Some(s) = simple {
        return Some((s, 1));
    }
    let (radix, skip, len) = match c {
        'x' => (16, 1, 2),
        'u' => (16, 1, 4),
        'U' => (16, 1, 8),
        '0'..='7' => (8, 0, 3),
        _ => return None,
    };
    let digits = rest.get(skip..skip + len)?;
    if !digits.iter().all(|d| d.is_digit(radix)) {
        return None;
    }
    let n = u32::from_str_radix(&digits.iter().collect::<String>(), radix).ok()?;
    // No NUL; and a single byte (\x, octal) above ASCII is not a character
    // on its own, so it stays verbatim rather than become invalid UTF-8.
    if n == 0 || (len <= 3 && n >= 0x80) {
        return None;
    }
    Some((char::from_u32(n)?, skip + len))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Result<UnitFile, Errors> {
        parse(Path::new("/x/a.container"), text)
    }

    fn entries(f: &UnitFile, s: &str) -> Vec<(String, String, usize)> {
        f.entries(s).map(|e| (e.key.clone(), e.value.clone(), e.line)).collect()
    }

    #[test]
    fn sections_comments_and_repeated_keys() {
        let f = p("\u{feff}# top\n[Unit]\n; c\nDescription = web  \n\n[Container]\nEnvironment=A=1\n  Environment=B=2\n[Unit]\nAfter=x\n").unwrap();
        assert_eq!(f.sections.len(), 3);
        assert_eq!(f.section_line("Container"), Some(6));
        assert_eq!(
            entries(&f, "Unit"),
            vec![("Description".into(), "web".into(), 4), ("After".into(), "x".into(), 10)]
        );
        let env = entries(&f, "Container");
        assert_eq!(env[0], ("Environment".into(), "A=1".into(), 7));
        assert_eq!(env[1], ("Environment".into(), "B=2".into(), 8));
    }

    #[test]
    fn continuations_join_lines_and_skip_comments() {
        let f = p("[Container]\nExec=/bin/sh -c \\\n# ignored\n; ignored too\n  'echo hi'\nRootfs=/r\\\\\nX=1\n").unwrap();
        let e = entries(&f, "Container");
        assert_eq!(e[0], ("Exec".into(), "/bin/sh -c    'echo hi'".into(), 2));
        // An escaped backslash does not continue the line.
        assert_eq!(e[1], ("Rootfs".into(), "/r\\\\".into(), 6));
        assert_eq!(e[2].2, 7);
        // A continuation at the end of the file ends there.
        let f = p("[Unit]\nDescription=a \\").unwrap();
        assert_eq!(entries(&f, "Unit")[0].1, "a");
    }

    #[test]
    fn specifiers_are_untouched() {
        let f = p("[Service]\nEnvironment=HOME=%h X=%%\n").unwrap();
        assert_eq!(entries(&f, "Service")[0].1, "HOME=%h X=%%");
    }

    #[test]
    fn syntax_errors_name_file_and_line() {
        let cases = [
            ("Key=1\n", "/x/a.container:1: \"Key\"= is outside of any section"),
            ("[Unit]\n\nnoequals\n", "/x/a.container:3: missing '=' in \"noequals\""),
            ("[Unit\n", "/x/a.container:1: invalid section header \"[Unit\""),
            ("[Unit]\n =v\n", "/x/a.container:2: missing key name before '='"),
            ("[Unit]\nA=x\ry\n", "/x/a.container:2: a carriage return inside a line (systemd would end the line there)"),
            ("[Unit]\nA=x\0y\n", "/x/a.container:2: a NUL byte inside a line"),
        ];
        for (text, want) in cases {
            assert_eq!(p(text).unwrap_err().to_string(), want);
        }
        // CRLF line ends are line ends.
        assert_eq!(entries(&p("[Unit]\r\nA=1\r\n").unwrap(), "Unit")[0].1, "1");
    }

    #[test]
    fn every_error_of_a_file_is_reported() {
        let e = p("[Unit]\nbad one\nA=1\nbad two\n[Sec\n").unwrap_err();
        let lines: Vec<Option<usize>> = e.iter().map(|e| e.line).collect();
        assert_eq!(lines, [Some(2), Some(4), Some(5)]);
    }

    #[test]
    fn errors_quote_a_bounded_prefix() {
        let secret = format!("{}TAIL", "s".repeat(200));
        let e = p(&format!("[Unit]\n{secret}\n")).unwrap_err().to_string();
        assert!(!e.contains("TAIL") && e.len() < 120, "{e}");
    }

    #[test]
    fn lines_over_systemds_limit_are_refused() {
        let long = format!("[Unit]\nDescription={}\n", "x".repeat(LINE_MAX));
        assert!(p(&long).unwrap_err().to_string().ends_with(":2: the line is longer than systemd's limit of 1048576 bytes"));
    }

    #[test]
    fn words_follow_systemd() {
        let w = |s: &str| split_words(s).unwrap();
        assert_eq!(w("  a  b\tc "), ["a", "b", "c"]);
        assert_eq!(w(r#"/bin/sh -c "echo 'hi there'""#), ["/bin/sh", "-c", "echo 'hi there'"]);
        assert_eq!(w(r#"'a b'c"d e" "" x"#), ["a bcd e", "", "x"]);
        assert_eq!(w(r#""q\"uote" \x41\u00e9\101 tab\there"#), ["q\"uote", "AéA", "tab\there"]);
        assert_eq!(w(r"\s"), [" "]);
        // Unknown escapes stay verbatim (systemd warns and keeps them).
        assert_eq!(w(r"grep \d+ \x0 a\ b"), ["grep", r"\d+", r"\x0", r"a\ b"]);
        assert_eq!(w(""), Vec::<String>::new());
        assert_eq!(split_words("'open").unwrap_err(), "unterminated quote (')");
        assert_eq!(split_words("a \"b").unwrap_err(), "unterminated quote (\")");
        assert_eq!(split_words("a\\").unwrap_err(), "trailing backslash");
    }

    #[test]
    fn booleans() {
        for s in ["1", "yes", "Y", "true", "t", "on", "ON"] {
            assert_eq!(parse_bool(s), Some(true), "{s}");
        }
        for s in ["0", "no", "n", "False", "f", "off"] {
            assert_eq!(parse_bool(s), Some(false), "{s}");
        }
        assert_eq!(parse_bool("maybe"), None);
        assert_eq!(parse_bool(""), None);
    }
}
