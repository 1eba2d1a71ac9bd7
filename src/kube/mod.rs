//! Kubernetes YAML out and in: `kube generate` describes containers as a
//! `v1` Pod (or an `apps/v1` Deployment) in the Kubernetes API types, and
//! `kube play` reads Pods, Deployments, ConfigMaps and
//! PersistentVolumeClaims back into a [`Plan`] of volumes and containers
//! (as `CreateContainer` options) that the engine makes. Everything here is
//! pure: the engine looks up specs and images and makes what the plan says.
//!
//! - [`generate`]`(sources, kind, pod_name) -> yaml`: podman's `kube generate`.
//! - [`parse`]`(yaml) -> documents`: unknown fields and fields berth does
//!   not map are errors naming their YAML path; other kinds too.
//! - [`plan`]`(documents) -> Plan`: containers `<pod>-<container>`
//!   (Deployments: pod `<name>-pod`, or `<name>-pod-<i>` for several
//!   replicas), ConfigMap env, claims and emptyDirs as named volumes; every
//!   option checked as CreateContainer checks it.
//! - Settings without a Kubernetes field travel as pod annotations
//!   `berth.io/<Key>.<container>` ([`annotations`]).

pub mod annotations;
mod error;
mod generate;
mod manifest;
mod play;
mod quantity;
#[cfg(test)]
mod tests;

pub use error::Error;
pub use generate::{default_pod_name, generate, KubeKind, Source};
pub use manifest::{parse, strict, Document, Numbered};
pub use play::{fold_entrypoint, plan, Plan, PlannedContainer, PlannedVolume, VolumeRole};

/// Parse and plan in one step.
pub fn plan_yaml(yaml: &str) -> Result<Plan, Error> {
    plan(&parse(yaml)?)
}
