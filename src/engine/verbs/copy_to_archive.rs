//! CopyToArchive: a path in the container written to the caller's
//! descriptor as a tar stream, running or stopped.

use super::super::files::{detached, files_error, watch, CallerWriter};
use super::super::logs::check_writable;
use super::super::Engine;
use crate::model::Result;
use std::fs::File;
use std::io::BufWriter;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

impl Engine {
    /// CopyToArchive(name, path, fd): `path` (podman's rules: `dir/.` for
    /// a directory's contents) as tar into `out`, streamed in constant
    /// memory. Ends with Canceled when the reader closes its end or the
    /// caller leaves; returns the bytes written.
    pub async fn copy_to_archive(&self, name: &str, path: &str, out: File) -> Result<u64> {
        check_writable(&out)?;
        let stop = Arc::new(AtomicBool::new(false));
        let (engine, name, path, flag) = (self.clone(), name.to_string(), path.to_string(), stop.clone());
        detached(stop, async move {
            let stats = engine
                .with_root(&name, false, move |root, rec| {
                    let w = BufWriter::with_capacity(1 << 20, CallerWriter::new(out, flag.clone(), watch(root)?)?);
                    crate::files::copy_out(root, &path, w, &flag).map_err(|e| files_error(rec.name.as_str(), e))
                })
                .await?;
            Ok(stats.bytes)
        })
        .await
    }
}
