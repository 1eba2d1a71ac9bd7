//! Reading a manifest: YAML documents into the Kubernetes API types, with
//! unknown fields an error (the API types ignore them by themselves), and
//! every field set checked against what berth maps ([`SUPPORTED`]).

use super::Error;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim, Pod};
use serde::de::DeserializeOwned;
use serde::Deserialize;

/// One document of a manifest, typed.
#[derive(Debug, Clone)]
pub enum Document {
    Pod(Pod),
    Deployment(Deployment),
    ConfigMap(ConfigMap),
    PersistentVolumeClaim(PersistentVolumeClaim),
}

/// A document and its number in the file (from 1).
#[derive(Debug, Clone)]
pub struct Numbered {
    pub number: usize,
    pub document: Document,
}

/// The fields of a pod's spec berth maps; everything under one of these
/// paths is read (a path ending in a map or list takes all of it).
const POD_SPEC: &[&str] = &[
    "containers[].name",
    "containers[].image",
    "containers[].imagePullPolicy",
    "containers[].command",
    "containers[].args",
    "containers[].env[].name",
    "containers[].env[].value",
    "containers[].env[].valueFrom.configMapKeyRef.name",
    "containers[].env[].valueFrom.configMapKeyRef.key",
    "containers[].env[].valueFrom.configMapKeyRef.optional",
    "containers[].envFrom[].configMapRef.name",
    "containers[].envFrom[].configMapRef.optional",
    "containers[].envFrom[].prefix",
    "containers[].workingDir",
    "containers[].ports[].containerPort",
    "containers[].ports[].hostPort",
    "containers[].ports[].hostIP",
    "containers[].ports[].protocol",
    "containers[].ports[].name",
    "containers[].resources.limits.memory",
    "containers[].resources.limits.cpu",
    "containers[].securityContext.runAsUser",
    "containers[].securityContext.runAsGroup",
    "containers[].securityContext.readOnlyRootFilesystem",
    "containers[].securityContext.capabilities.add",
    "containers[].securityContext.capabilities.drop",
    "containers[].livenessProbe.exec.command",
    "containers[].livenessProbe.periodSeconds",
    "containers[].livenessProbe.timeoutSeconds",
    "containers[].livenessProbe.failureThreshold",
    "containers[].livenessProbe.initialDelaySeconds",
    "containers[].volumeMounts[].name",
    "containers[].volumeMounts[].mountPath",
    "containers[].volumeMounts[].readOnly",
    "containers[].tty",
    "containers[].stdin",
    "restartPolicy",
    "terminationGracePeriodSeconds",
    // No Services and no service accounts here: false is what berth does
    // (play refuses a token asked for).
    "enableServiceLinks",
    "automountServiceAccountToken",
    "hostNetwork",
    "hostname",
    "volumes[].name",
    "volumes[].hostPath.path",
    "volumes[].hostPath.type",
    "volumes[].persistentVolumeClaim.claimName",
    "volumes[].persistentVolumeClaim.readOnly",
    "volumes[].emptyDir",
];

/// Object metadata berth reads (the name, labels, annotations) or that
/// only a cluster gives meaning to (creationTimestamp, namespace).
const METADATA: &[&str] = &["name", "namespace", "labels", "annotations", "creationTimestamp"];

/// Whether `path` (normalised: list indices as `[]`) is supported for
/// `kind`: true for the paths in the table and everything under them.
fn supported(kind: &str, path: &str) -> bool {
    let under = |prefix: &str, table: &[&str]| {
        path.strip_prefix(prefix).is_some_and(|rest| table.iter().any(|t| covers(t, rest)))
    };
    let common = ["apiVersion", "kind", "status"].iter().any(|t| covers(t, path)) || under("metadata.", METADATA);
    common
        || match kind {
            "Pod" => under("spec.", POD_SPEC),
            "Deployment" => {
                ["spec.replicas", "spec.selector.matchLabels"].iter().any(|t| covers(t, path))
                    || under("spec.template.metadata.", METADATA)
                    || under("spec.template.spec.", POD_SPEC)
            }
            "ConfigMap" => covers("data", path),
            // A claim's size and access modes mean nothing to a local volume.
            "PersistentVolumeClaim" => ["spec.accessModes", "spec.resources.requests.storage", "spec.volumeMode"]
                .iter()
                .any(|t| covers(t, path)),
            _ => false,
        }
}

/// `table_path` is `path` or an ancestor of it.
fn covers(table_path: &str, path: &str) -> bool {
    path == table_path || path.strip_prefix(table_path).is_some_and(|r| r.starts_with('.') || r.starts_with('['))
}

/// Some supported path lies under `path` (so walking on may find it).
fn leads_somewhere(kind: &str, path: &str) -> bool {
    let tables: Vec<String> = match kind {
        "Pod" => POD_SPEC.iter().map(|p| format!("spec.{p}")).collect(),
        "Deployment" => POD_SPEC
            .iter()
            .map(|p| format!("spec.template.spec.{p}"))
            .chain(METADATA.iter().map(|m| format!("spec.template.metadata.{m}")))
            .chain(["spec.replicas".to_string(), "spec.selector.matchLabels".to_string()])
            .collect(),
        "PersistentVolumeClaim" => vec!["spec.resources.requests.storage".into(), "spec.accessModes".into()],
        _ => Vec::new(),
    };
    let metadata = METADATA.iter().map(|m| format!("metadata.{m}"));
    tables.into_iter().chain(metadata).any(|t| covers(path, &t))
}

/// Report the first field set that berth does not map: the highest node
/// that leads to nothing supported (`spec.initContainers`). Empty maps and
/// lists set nothing and pass.
fn check_supported(kind: &str, v: &serde_json::Value, norm: &str, real: &str, document: usize) -> Result<(), Error> {
    let empty = match v {
        serde_json::Value::Object(m) => m.is_empty(),
        serde_json::Value::Array(a) => a.is_empty(),
        serde_json::Value::Null => true,
        _ => false,
    };
    if empty || (!norm.is_empty() && supported(kind, norm)) {
        return Ok(());
    }
    if !norm.is_empty() && !leads_somewhere(kind, norm) {
        return Err(Error::UnsupportedField { document, path: real.to_string() });
    }
    match v {
        serde_json::Value::Object(m) => {
            for (k, child) in m {
                let join = |p: &str| if p.is_empty() { k.clone() } else { format!("{p}.{k}") };
                check_supported(kind, child, &join(norm), &join(real), document)?;
            }
            Ok(())
        }
        serde_json::Value::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                check_supported(kind, child, &format!("{norm}[]"), &format!("{real}[{i}]"), document)?;
            }
            Ok(())
        }
        _ => Err(Error::UnsupportedField { document, path: real.to_string() }),
    }
}

/// serde_ignored's path (`spec.containers.0.bogus`) in YAML path form
/// (`spec.containers[0].bogus`).
fn yaml_path(p: &serde_ignored::Path<'_>) -> String {
    use serde_ignored::Path;
    match p {
        Path::Root => String::new(),
        Path::Seq { parent, index } => format!("{}[{index}]", yaml_path(parent)),
        Path::Map { parent, key } => {
            let up = yaml_path(parent);
            if up.is_empty() {
                key.clone()
            } else {
                format!("{up}.{key}")
            }
        }
        Path::Some { parent } | Path::NewtypeStruct { parent } | Path::NewtypeVariant { parent } => yaml_path(parent),
    }
}

/// One document as the type its kind names, unknown fields an error.
fn typed<T: DeserializeOwned + serde::Serialize>(value: serde_norway::Value, kind: &str, document: usize) -> Result<T, Error> {
    let mut unknown: Option<String> = None;
    let r: Result<T, _> = serde_ignored::deserialize(value, |p| {
        unknown.get_or_insert_with(|| yaml_path(&p));
    });
    let t = r.map_err(|e| Error::Invalid { document, path: String::new(), message: e.to_string() })?;
    if let Some(path) = unknown {
        return Err(Error::UnknownField { document, path });
    }
    let json = serde_json::to_value(&t).map_err(|e| Error::Invalid { document, path: String::new(), message: e.to_string() })?;
    check_supported(kind, &json, "", "", document)?;
    Ok(t)
}

/// Read every document of a manifest (empty documents are skipped).
pub fn parse(yaml: &str) -> Result<Vec<Numbered>, Error> {
    let mut out = Vec::new();
    for (i, de) in serde_norway::Deserializer::from_str(yaml).enumerate() {
        let document = i + 1;
        let value = serde_norway::Value::deserialize(de).map_err(|e| Error::Yaml { document, message: e.to_string() })?;
        if value.is_null() {
            continue;
        }
        let kind = value.get("kind").and_then(|k| k.as_str()).unwrap_or("").to_string();
        let doc = match kind.as_str() {
            "Pod" => Document::Pod(typed(value, &kind, document)?),
            "Deployment" => Document::Deployment(typed(value, &kind, document)?),
            "ConfigMap" => Document::ConfigMap(typed(value, &kind, document)?),
            "PersistentVolumeClaim" => Document::PersistentVolumeClaim(typed(value, &kind, document)?),
            "" => return Err(Error::Invalid { document, path: "kind".into(), message: "is missing".into() }),
            _ => return Err(Error::UnsupportedKind { document, kind }),
        };
        out.push(Numbered { number: document, document: doc });
    }
    Ok(out)
}

/// Deserialize one document strictly (unknown fields an error) without
/// the check of what berth maps: what a cluster would accept.
pub fn strict<T: DeserializeOwned>(yaml: &str) -> Result<T, Error> {
    let value: serde_norway::Value = serde_norway::from_str(yaml).map_err(|e| Error::Yaml { document: 1, message: e.to_string() })?;
    let mut unknown: Option<String> = None;
    let t = serde_ignored::deserialize(value, |p| {
        unknown.get_or_insert_with(|| yaml_path(&p));
    })
    .map_err(|e: serde_norway::Error| Error::Invalid { document: 1, path: String::new(), message: e.to_string() })?;
    match unknown {
        Some(path) => Err(Error::UnknownField { document: 1, path }),
        None => Ok(t),
    }
}
