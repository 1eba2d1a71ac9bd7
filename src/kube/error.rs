//! What can go wrong reading or writing Kubernetes YAML.

use thiserror::Error;

/// One failure of kube generate, play or down. `document` counts the YAML
/// documents of the file from 1; `path` is the field's YAML path
/// (`spec.containers[0].ports[1].hostPort`).
#[derive(Debug, Clone, Error)]
pub enum Error {
    #[error("document {document}: not valid YAML: {message}")]
    Yaml { document: usize, message: String },
    #[error("document {document}: {path}: {message}")]
    Invalid { document: usize, path: String, message: String },
    #[error("document {document}: unknown field {path}")]
    UnknownField { document: usize, path: String },
    #[error("document {document}: kind {kind:?} is not supported (Pod, Deployment, ConfigMap, PersistentVolumeClaim)")]
    UnsupportedKind { document: usize, kind: String },
    #[error("document {document}: {path} is not supported by berth")]
    UnsupportedField { document: usize, path: String },
    #[error("document {document}: {path}: no ConfigMap named {name} in the file")]
    NoSuchConfigMap { document: usize, path: String, name: String },
    #[error("document {document}: {path}: ConfigMap {name} has no key {key}")]
    NoSuchConfigMapKey { document: usize, path: String, name: String, key: String },
    #[error("document {document}: {path}: no volume named {name} in the pod")]
    NoSuchPodVolume { document: usize, path: String, name: String },
    #[error("two containers would be named {name} (documents {first} and {second})")]
    DuplicateContainer { name: String, first: usize, second: usize },
    #[error("the file has no Pod or Deployment")]
    NothingToPlay,
    #[error("container {name} cannot be described in Kubernetes YAML: {reason}")]
    NotRepresentable { name: String, reason: String },
    #[error("cannot write YAML: {message}")]
    Write { message: String },
    #[error("document {document}: {path}: {source}")]
    Option { document: usize, path: String, #[source] source: crate::model::Error },
}

impl Error {
    /// The YAML path of the field at fault, when one is.
    pub fn path(&self) -> Option<&str> {
        match self {
            Error::Invalid { path, .. }
            | Error::UnknownField { path, .. }
            | Error::UnsupportedField { path, .. }
            | Error::NoSuchConfigMap { path, .. }
            | Error::NoSuchConfigMapKey { path, .. }
            | Error::NoSuchPodVolume { path, .. }
            | Error::Option { path, .. } => Some(path),
            _ => None,
        }
    }

    /// Unsupported (a kind or field berth has no mapping for), as opposed
    /// to invalid (wrong in itself).
    pub fn is_unsupported(&self) -> bool {
        matches!(self, Error::UnsupportedKind { .. } | Error::UnsupportedField { .. } | Error::NotRepresentable { .. })
    }
}

impl From<Error> for crate::model::Error {
    fn from(e: Error) -> Self {
        let path = e.path().unwrap_or("").to_string();
        if e.is_unsupported() {
            crate::model::Error::KubeUnsupported { path, message: e.to_string() }
        } else {
            crate::model::Error::KubeInvalid { path, message: e.to_string() }
        }
    }
}
