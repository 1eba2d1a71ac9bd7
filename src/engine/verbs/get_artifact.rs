//! GetArtifact: a container's artifact written to the caller's descriptor.

use super::super::files::{detached, files_error, CallerWriter};
use super::super::logs::check_writable;
use super::super::{blocking, Engine};
use crate::files::{validate_artifact_name, ArtifactStore};
use crate::model::{Error, Result, Verb};
use std::fs::File;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

impl Engine {
    /// GetArtifact(name, artifact, fd): write artifact `artifact` into
    /// `out`; returns its size.
    pub async fn get_artifact(&self, name: &str, artifact: &str, out: File) -> Result<u64> {
        validate_artifact_name(artifact).map_err(|e| files_error(name, e))?;
        check_writable(&out)?;
        let stop = Arc::new(AtomicBool::new(false));
        let (engine, name, artifact, flag) = (self.clone(), name.to_string(), artifact.to_string(), stop.clone());
        detached(stop, async move {
            let (c, _g) = engine.locked(&name).await?;
            let rec = engine.refresh(&c).await?;
            rec.state.check(Verb::Files, &name)?;
            let dir = engine.inner.store.state_layout().artifact_dir(&rec.id);
            let n = name.clone();
            blocking(move || {
                // A container without artifacts has no directory, and a
                // read makes none.
                if !dir.is_dir() {
                    return Err(Error::NoSuchArtifact { name: n, artifact });
                }
                let store = ArtifactStore::open(dir).map_err(|e| files_error(&n, e))?;
                store.get(&artifact, CallerWriter::new(out, flag, None)?).map_err(|e| files_error(&n, e))
            })
            .await
        })
        .await
    }
}
