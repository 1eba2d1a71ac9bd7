//! Quadlet-style `.container` files (podman quadlet's layout): each file
//! declares one container, and `berth-generator` turns it into a
//! `<name>.service` unit that runs the container through `berth-monitor`.
//!
//! The `[Container]` keys are mapped onto the `CreateContainer` option map
//! and validated by [`crate::model::ContainerSpec::from_options`], the code
//! behind the D-Bus API, so a file and a D-Bus call accept the same values.
//! `[Unit]`, `[Service]` and `[Install]` pass through to the unit.

mod container;
pub mod kube;
pub mod generator;
pub mod parse;
pub mod render;

pub use container::{keys, quadlet_id, Container};
pub use parse::{parse, parse_bool, split_words, Entry, Section, UnitFile};

use std::fmt;
use std::path::{Path, PathBuf};

/// An error in one file: `path:line: message`, or `path: message` when it
/// concerns the file as a whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub path: PathBuf,
    pub line: Option<usize>,
    pub message: String,
}

impl Error {
    pub fn at(path: &Path, line: usize, message: impl Into<String>) -> Self {
        Error { path: path.to_path_buf(), line: Some(line), message: message.into() }
    }

    pub fn file(path: &Path, message: impl Into<String>) -> Self {
        Error { path: path.to_path_buf(), line: None, message: message.into() }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(n) => write!(f, "{}:{n}: {}", self.path.display(), self.message),
            None => write!(f, "{}: {}", self.path.display(), self.message),
        }
    }
}

impl std::error::Error for Error {}

/// Every error of one file, in file order; a file with any error
/// generates nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Errors(pub Vec<Error>);

impl From<Error> for Errors {
    fn from(e: Error) -> Self {
        Errors(vec![e])
    }
}

impl std::ops::Deref for Errors {
    type Target = [Error];
    fn deref(&self) -> &[Error] {
        &self.0
    }
}

impl fmt::Display for Errors {
    /// One error per line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Errors {}

/// Longest piece of a file an error message quotes: a `.container` may be a
/// link to a file that holds secrets, and errors reach the kernel log.
const QUOTE_MAX: usize = 32;

/// `text` as an error quotes it: escaped, and only its first characters.
pub(crate) fn quote(text: &str) -> String {
    match text.char_indices().nth(QUOTE_MAX) {
        None => format!("{text:?}"),
        Some((end, _)) => format!("{:?}...", &text[..end]),
    }
}

/// Keys whose values an error must not show: environments and anything
/// named like a secret.
pub(crate) fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    ["environment", "secret", "password", "passwd", "token", "credential"].iter().any(|s| k.contains(s))
}
