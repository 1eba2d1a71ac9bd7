//! Files in containers: Stat, copies in and out as tar streams through a
//! descriptor, and artifacts.

use super::{from_bus, parse_json, variants, Client};
use crate::model::{CopyOptions, FileInfo, Result};
use std::os::fd::BorrowedFd;

impl Client {
    /// What is at `path` in the container; with `follow`, a final symlink
    /// is followed as the container resolves it.
    pub async fn stat(&self, name: &str, path: &str, follow: bool) -> Result<FileInfo> {
        parse_json("file description", &self.stat_json(name, path, follow).await?)
    }
    /// [`Client::stat`] as berthd's JSON.
    pub async fn stat_json(&self, name: &str, path: &str, follow: bool) -> Result<String> {
        self.manager.stat_container(name, path, follow).await.map_err(from_bus)
    }
    /// Extract the tar stream `fd` holds (read to its end) under `path`, a
    /// directory in the container; the bytes read.
    pub async fn copy_from_archive(&self, name: &str, path: &str, fd: BorrowedFd<'_>, o: &CopyOptions) -> Result<u64> {
        self.manager.copy_from_archive(name, path, zbus::Fd::from(fd), variants(&o.to_options())).await.map_err(from_bus)
    }
    /// Write `path` in the container into `fd` as a tar stream; the bytes
    /// written.
    pub async fn copy_to_archive(&self, name: &str, path: &str, fd: BorrowedFd<'_>) -> Result<u64> {
        self.manager.copy_to_archive(name, path, zbus::Fd::from(fd)).await.map_err(from_bus)
    }
    /// Keep what `fd` holds as the container's artifact `artifact`; its size.
    pub async fn add_artifact(&self, name: &str, artifact: &str, fd: BorrowedFd<'_>) -> Result<u64> {
        self.manager.add_artifact(name, artifact, zbus::Fd::from(fd)).await.map_err(from_bus)
    }
    /// Write the container's artifact `artifact` into `fd`; its size.
    pub async fn get_artifact(&self, name: &str, artifact: &str, fd: BorrowedFd<'_>) -> Result<u64> {
        self.manager.get_artifact(name, artifact, zbus::Fd::from(fd)).await.map_err(from_bus)
    }
    pub async fn remove_artifact(&self, name: &str, artifact: &str) -> Result<()> {
        self.manager.remove_artifact(name, artifact).await.map_err(from_bus)
    }
    /// The names of the container's artifacts, sorted.
    pub async fn list_artifacts(&self, name: &str) -> Result<Vec<String>> {
        self.manager.list_artifacts(name).await.map_err(from_bus)
    }
}
