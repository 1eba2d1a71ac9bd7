//! AddArtifact: a named blob kept with the container, read from the
//! caller's descriptor to its end.

use super::super::files::{check_readable, detached, files_error, CallerReader};
use super::super::{blocking, Engine};
use crate::files::{validate_artifact_name, ArtifactStore};
use crate::model::{Result, Verb};
use std::fs::File;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

impl Engine {
    /// AddArtifact(name, artifact, fd): store what `input` holds as
    /// artifact `artifact` of the container (replacing one of that name,
    /// atomically); returns its size. The container's lock is held, so a
    /// removal waits for it.
    pub async fn add_artifact(&self, name: &str, artifact: &str, input: File) -> Result<u64> {
        validate_artifact_name(artifact).map_err(|e| files_error(name, e))?;
        check_readable(&input)?;
        let stop = Arc::new(AtomicBool::new(false));
        let (engine, name, artifact, flag) = (self.clone(), name.to_string(), artifact.to_string(), stop.clone());
        detached(stop, async move {
            let (c, _g) = engine.locked(&name).await?;
            let rec = engine.refresh(&c).await?;
            rec.state.check(Verb::Files, &name)?;
            let dir = engine.inner.store.state_layout().artifact_dir(&rec.id);
            let n = name.clone();
            let size = blocking(move || {
                let input = CallerReader::new(input, flag, None)?;
                let store = ArtifactStore::open(dir).map_err(|e| files_error(&n, e))?;
                store.add(&artifact, input).map_err(|e| files_error(&n, e))
            })
            .await?;
            engine.crash_point("add artifact: stored").await;
            Ok(size)
        })
        .await
    }
}
