//! Export: the container's root file system as a tar stream into the
//! caller's descriptor, for a stopped container (mounted for the export
//! if it is not) and a running one alike.

use super::super::logs::{check_writable, write_polled};
use super::super::{blocking, Engine};
use crate::model::{Error, EventKind, Result, Verb};
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Writes into the caller's descriptor from a blocking thread, waiting in
/// poll for room (the caller's descriptor may be non-blocking: its flags
/// are shared and are not changed); gives up when told to stop.
struct PolledWriter {
    out: File,
    stop: Arc<AtomicBool>,
}

impl Write for PolledWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if write_polled(&mut self.out, buf, &self.stop) {
            Ok(buf.len())
        } else {
            Err(io::Error::new(io::ErrorKind::BrokenPipe, "the reader went away"))
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Tells the writing thread to stop when the call is dropped.
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Release);
    }
}

impl Engine {
    /// Export(name, fd): write the root as tar into `out`. The container's
    /// lock is held only while its root is found: the tree is read through
    /// a descriptor of it, and a root mounted only for the export is
    /// detached at once (it lives on while that descriptor is open).
    pub async fn export(&self, name: &str, out: File) -> Result<()> {
        check_writable(&out)?;
        let root = {
            let (c, _g) = self.locked(name).await?;
            let rec = self.refresh(&c).await?;
            rec.state.check(Verb::Mount, name)?;
            let was_mounted = self.root_is_mounted(&rec).await?;
            let path = self.mount_root(&rec).await?;
            let dir = blocking(move || crate::image::fsat::open_dir(&path).map_err(Error::io_at("open", &path))).await?;
            if !was_mounted {
                self.crash_point("export: root mounted").await;
                self.unmount_root(&rec).await?;
            }
            self.emit(&rec, EventKind::Export);
            dir
        };
        let stop = Arc::new(AtomicBool::new(false));
        let _stop_on_drop = StopOnDrop(stop.clone());
        blocking(move || {
            let path = std::path::PathBuf::from(format!("/proc/self/fd/{}", root.as_raw_fd()));
            let w = io::BufWriter::with_capacity(1 << 16, PolledWriter { out, stop });
            let r = crate::image::export_tree(&path, w);
            drop(root);
            match r {
                Err(crate::image::Error::Io { ref source, .. }) if source.kind() == io::ErrorKind::BrokenPipe => {
                    Err(Error::Canceled { what: "the export (its reader went away)".into() })
                }
                r => Ok(r?),
            }
        })
        .await
    }
}
