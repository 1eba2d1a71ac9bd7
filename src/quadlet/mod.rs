//! Quadlet-style `.container` files (podman quadlet's layout): each file
//! declares one container, and `berth-generator` turns it into a
//! `<name>.service` unit that runs the container through `berth-monitor`.
//!
//! The `[Container]` keys are mapped onto the `CreateContainer` option map
//! and validated by [`crate::model::ContainerSpec::from_options`], the code
//! behind the D-Bus API, so a file and a D-Bus call accept the same values.
//! `[Unit]`, `[Service]` and `[Install]` pass through to the unit.

mod container;
mod envfile;
pub mod generator;
pub mod parse;
pub mod render;
mod specifier;

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
