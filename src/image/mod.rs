//! berth's image store (layout documented as it is built).

pub mod compression;
pub mod config;
pub mod digest;
pub mod error;
mod fsat;
pub mod reference;
pub mod tree;
pub mod unpack;

pub use error::{Error, Result};
