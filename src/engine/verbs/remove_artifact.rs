//! RemoveArtifact: one of a container's artifacts deleted.

use super::super::files::files_error;
use super::super::{blocking, Engine};
use crate::files::{validate_artifact_name, ArtifactStore};
use crate::model::{Error, Result, Verb};

impl Engine {
    /// RemoveArtifact(name, artifact); NoSuchArtifact when there is none.
    pub async fn remove_artifact(&self, name: &str, artifact: &str) -> Result<()> {
        validate_artifact_name(artifact).map_err(|e| files_error(name, e))?;
        let (c, _g) = self.locked(name).await?;
        let rec = self.refresh(&c).await?;
        rec.state.check(Verb::Files, name)?;
        let dir = self.inner.store.state_layout().artifact_dir(&rec.id);
        let (n, a) = (name.to_string(), artifact.to_string());
        blocking(move || {
            if !dir.is_dir() {
                return Err(Error::NoSuchArtifact { name: n, artifact: a });
            }
            ArtifactStore::open(dir).and_then(|s| s.remove(&a)).map_err(|e| files_error(&n, e))
        })
        .await?;
        self.crash_point("remove artifact: removed").await;
        Ok(())
    }

    /// The names of the container's artifacts, sorted.
    pub async fn list_artifacts(&self, name: &str) -> Result<Vec<String>> {
        let rec = self.inspect(name)?;
        rec.state.check(Verb::Files, name)?;
        let dir = self.inner.store.state_layout().artifact_dir(&rec.id);
        let n = name.to_string();
        blocking(move || {
            if !dir.is_dir() {
                return Ok(Vec::new());
            }
            ArtifactStore::open(dir).and_then(|s| s.list()).map_err(|e| files_error(&n, e))
        })
        .await
    }

    /// Remove every artifact of the container (at its removal); none is fine.
    pub(crate) async fn remove_artifacts(&self, id: &str) -> Result<()> {
        let dir = self.inner.store.state_layout().artifact_dir(id);
        blocking(move || match std::fs::remove_dir_all(&dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io("remove", &dir, e)),
            _ => Ok(()),
        })
        .await
    }
}
