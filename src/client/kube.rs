//! kube generate, play and down over D-Bus.

use super::{from_bus, variants, Client};
use crate::model::{OptionValue, Result};
use std::collections::BTreeMap;

impl Client {
    /// GenerateKube: the containers as Kubernetes YAML; `kind` is "pod"
    /// or "deployment", `pod_name` the pod's name (default: the first
    /// container's name and "-pod").
    pub async fn kube_generate(&self, names: &[String], kind: &str, pod_name: Option<&str>) -> Result<String> {
        let mut o = BTreeMap::new();
        o.insert("Type".to_string(), OptionValue::Str(kind.to_string()));
        if let Some(p) = pod_name {
            o.insert("PodName".to_string(), OptionValue::Str(p.to_string()));
        }
        self.manager.generate_kube(names, variants(&o)).await.map_err(from_bus)
    }

    /// PlayKube: create and start what the YAML describes; the containers'
    /// names.
    pub async fn kube_play(&self, yaml: &str) -> Result<Vec<String>> {
        self.manager.play_kube(yaml, variants(&BTreeMap::new())).await.map_err(from_bus)
    }

    /// DownKube: stop and remove what a play of the YAML made; the
    /// containers removed.
    pub async fn kube_down(&self, yaml: &str) -> Result<Vec<String>> {
        self.manager.down_kube(yaml).await.map_err(from_bus)
    }
}
