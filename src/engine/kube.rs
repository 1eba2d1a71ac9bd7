//! kube generate, play and down: the Kubernetes YAML of `crate::kube` on
//! the engine's own create, start, stop and remove paths.

use super::Engine;
use crate::kube::{self, KubeKind, Plan, Source, VolumeRole};
use crate::model::{Error, Result};
use std::collections::BTreeMap;

/// The label of the volumes a play made, with the role they were made for.
pub const PLAY_LABEL: &str = "berth.io/kube-play";

fn role_label(role: VolumeRole) -> &'static str {
    match role {
        VolumeRole::Claim => "claim",
        VolumeRole::EmptyDir => "emptydir",
    }
}

impl Engine {
    /// The containers as one Pod (or Deployment) named `pod_name` (by
    /// default the first container's name and `-pod`).
    pub async fn kube_generate(&self, names: &[String], kind: KubeKind, pod_name: Option<&str>) -> Result<String> {
        if names.is_empty() {
            return Err(Error::invalid("Names", "give at least one container"));
        }
        let mut sources = Vec::new();
        for name in names {
            let rec = self.inspect(name)?;
            let image = self.image_config(&rec).await?;
            let (image_entrypoint, image_cmd) = image.map(|i| (i.entrypoint, i.cmd)).unwrap_or_default();
            sources.push(Source { name: rec.name.to_string(), spec: rec.spec, image_entrypoint, image_cmd });
        }
        Ok(kube::generate(&sources, kind, pod_name)?)
    }

    /// Create and start what a manifest describes; returns the containers'
    /// names. Everything is checked first; when a step fails, what this
    /// play made is removed again.
    pub async fn kube_play(&self, yaml: &str) -> Result<Vec<String>> {
        let mut plan = kube::plan_yaml(yaml)?;
        for c in &mut plan.containers {
            if self.get(&c.name).is_ok() {
                return Err(Error::ContainerExists { name: c.name.clone() });
            }
            if let Some(crate::model::OptionValue::Str(image)) = c.options.get("Image").cloned() {
                let image = self.inspect_image(&image).await?;
                kube::fold_entrypoint(&mut c.options, &image.config.entrypoint);
            }
        }
        let existing: Vec<String> = self.list_volumes().await?.into_iter().map(|v| v.name).collect();
        for v in plan.volumes.iter().filter(|v| v.role == VolumeRole::EmptyDir) {
            if existing.contains(&v.name) {
                return Err(Error::VolumeExists { name: v.name.clone() });
            }
        }
        let mut made_volumes = Vec::new();
        let mut made = Vec::new();
        let r = self.carry_out(&plan, &existing, &mut made_volumes, &mut made).await;
        if let Err(e) = r {
            self.undo_play(&made, &made_volumes).await;
            return Err(e);
        }
        Ok(made)
    }

    async fn carry_out(&self, plan: &Plan, existing: &[String], made_volumes: &mut Vec<String>, made: &mut Vec<String>) -> Result<()> {
        for v in plan.volumes.iter().filter(|v| !existing.contains(&v.name)) {
            let labels: BTreeMap<String, String> = [(PLAY_LABEL.to_string(), role_label(v.role).to_string())].into();
            self.create_volume(&v.name, labels).await?;
            made_volumes.push(v.name.clone());
            self.crash_point("kube play: volume created").await;
        }
        for c in &plan.containers {
            self.create(&c.name, &c.options).await?;
            made.push(c.name.clone());
            self.crash_point("kube play: container created").await;
        }
        for c in &plan.containers {
            self.start(&c.name, false).await?;
        }
        Ok(())
    }

    /// Remove what a failed play made (containers, then volumes); what
    /// cannot be removed is logged.
    async fn undo_play(&self, containers: &[String], volumes: &[String]) {
        for name in containers.iter().rev() {
            if let Err(e) = self.remove(name, true, Some(0)).await {
                tracing::warn!(container = %name, "cannot remove it after a failed kube play: {e}");
            }
        }
        for name in volumes.iter().rev() {
            if let Err(e) = self.remove_volume(name, false).await {
                tracing::warn!(volume = %name, "cannot remove it after a failed kube play: {e}");
            }
        }
    }

    /// Stop and remove the containers a manifest describes (those that
    /// exist), and the emptyDir volumes play made for them; claims stay
    /// unless `force`, as podman's `kube down`. Returns the containers
    /// removed.
    pub async fn kube_down(&self, yaml: &str, force: bool) -> Result<Vec<String>> {
        let plan = kube::plan_yaml(yaml)?;
        let mut removed = Vec::new();
        for c in &plan.containers {
            match self.remove(&c.name, true, None).await {
                Ok(()) => removed.push(c.name.clone()),
                Err(Error::NoSuchContainer { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        let volumes = self.list_volumes().await?;
        for v in &plan.volumes {
            let Some(info) = volumes.iter().find(|i| i.name == v.name) else { continue };
            let made_by_play = info.labels.get(PLAY_LABEL).map(String::as_str) == Some(role_label(v.role));
            if made_by_play && (v.role == VolumeRole::EmptyDir || force) {
                match self.remove_volume(&v.name, false).await {
                    Ok(()) | Err(Error::NoSuchVolume { .. }) => {}
                    Err(Error::VolumeInUse { .. }) if v.role == VolumeRole::Claim => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(removed)
    }
}
