//! Named volumes in the engine: create, list, inspect and remove through
//! the volume store (`<state_root>/volumes`), with in-use checks from the
//! container records.

use super::{blocking, Engine};
use crate::image::Volume;
use crate::model::{Error, Result, VolumeInfo};
use crate::runtime::launch::ANONYMOUS_LABEL;
use std::collections::BTreeMap;

impl Engine {
    /// Names of the containers that use volume `name`.
    fn users_of_volume(&self, name: &str) -> Vec<String> {
        self.list()
            .into_iter()
            .filter(|r| r.spec.volumes.iter().any(|v| v.volume.as_deref() == Some(name)))
            .map(|r| r.name.to_string())
            .collect()
    }

    fn volume_info(&self, v: Volume) -> VolumeInfo {
        let containers = self.users_of_volume(&v.name);
        let anonymous = v.labels.contains_key(ANONYMOUS_LABEL);
        VolumeInfo { name: v.name, mountpoint: v.mountpoint, created: v.created, labels: v.labels, anonymous, containers }
    }

    /// Make an empty named volume (a container naming one that does not
    /// exist makes it too, filled from its image).
    pub async fn create_volume(&self, name: &str, labels: BTreeMap<String, String>) -> Result<VolumeInfo> {
        crate::model::check_volume_name(name).map_err(|m| Error::invalid("Name", m))?;
        let (inner, n) = (self.inner.clone(), name.to_string());
        let v = blocking(move || inner.volumes.create(&n, labels)).await?;
        Ok(self.volume_info(v))
    }

    /// Every volume, by name.
    pub async fn list_volumes(&self) -> Result<Vec<VolumeInfo>> {
        let inner = self.inner.clone();
        let vols = blocking(move || inner.volumes.list()).await?;
        Ok(vols.into_iter().map(|v| self.volume_info(v)).collect())
    }

    pub async fn inspect_volume(&self, name: &str) -> Result<VolumeInfo> {
        let (inner, n) = (self.inner.clone(), name.to_string());
        let v = blocking(move || inner.volumes.inspect(&n)).await?;
        Ok(self.volume_info(v))
    }

    /// Remove a volume and its content; refused while a container uses it,
    /// unless forced.
    pub async fn remove_volume(&self, name: &str, force: bool) -> Result<()> {
        let (engine, n) = (self.clone(), name.to_string());
        let r = blocking(move || engine.inner.volumes.remove(&n, force, |v| !engine.users_of_volume(&v.name).is_empty())).await;
        match r {
            Err(crate::image::Error::VolumeInUse { name }) => {
                let containers = self.users_of_volume(&name);
                Err(Error::VolumeInUse { name, containers })
            }
            r => Ok(r?),
        }
    }

    /// Remove the anonymous volumes made for a container (with it).
    pub(crate) async fn remove_anonymous_volumes(&self, rec: &crate::store::Record) -> Result<()> {
        let names: Vec<String> = rec.spec.volumes.iter().filter(|v| v.anonymous).filter_map(|v| v.volume.clone()).collect();
        if names.is_empty() {
            return Ok(());
        }
        let inner = self.inner.clone();
        blocking(move || {
            for n in names {
                match inner.volumes.remove(&n, true, |_| false) {
                    Ok(()) | Err(crate::image::Error::VolumeNotFound { .. }) => {}
                    Err(e) => return Err(Error::from(e)),
                }
            }
            Ok(())
        })
        .await
    }
}
