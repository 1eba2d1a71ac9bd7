//! Containers to a Pod or a Deployment, as `podman kube generate` writes
//! them.

use super::annotations;
use super::quantity;
use super::Error;
use crate::model::{ContainerSpec, Network, RestartPolicy};
use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::{
    Capabilities, Container, ContainerPort, EmptyDirVolumeSource, EnvVar, ExecAction, HostPathVolumeSource, Probe,
    PersistentVolumeClaimVolumeSource, Pod, PodSpec, PodTemplateSpec, ResourceRequirements, SecurityContext, Volume,
    VolumeMount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use std::collections::BTreeMap;

/// The kind of object to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KubeKind {
    Pod,
    Deployment,
}

impl KubeKind {
    pub fn parse(s: &str) -> Option<KubeKind> {
        match s.to_ascii_lowercase().as_str() {
            "pod" | "" => Some(KubeKind::Pod),
            "deployment" => Some(KubeKind::Deployment),
            _ => None,
        }
    }
}

/// One container to describe: its name, spec, and its image's Entrypoint
/// and Cmd (command and args are written only where they differ).
#[derive(Debug, Clone)]
pub struct Source {
    pub name: String,
    pub spec: ContainerSpec,
    pub image_entrypoint: Vec<String>,
    pub image_cmd: Vec<String>,
}

/// The pod's name when none is given: the first container's and `-pod`.
pub fn default_pod_name(first: &str) -> String {
    format!("{first}-pod")
}

/// What the pod's restartPolicy says, and the policy it reads back as.
fn pod_restart(p: RestartPolicy) -> (&'static str, RestartPolicy) {
    match p {
        RestartPolicy::No => ("Never", RestartPolicy::No),
        RestartPolicy::OnFailure(_) => ("OnFailure", RestartPolicy::OnFailure(None)),
        RestartPolicy::Always | RestartPolicy::UnlessStopped => ("Always", RestartPolicy::Always),
    }
}

/// The policy a pod's restartPolicy stands for (Kubernetes' default Always).
pub fn restart_from_pod(p: Option<&str>) -> Option<RestartPolicy> {
    match p.unwrap_or("Always") {
        "Always" => Some(RestartPolicy::Always),
        "OnFailure" => Some(RestartPolicy::OnFailure(None)),
        "Never" => Some(RestartPolicy::No),
        _ => None,
    }
}

/// A volume name Kubernetes accepts (a DNS label) from a host path.
fn host_volume_name(path: &std::path::Path, i: usize) -> String {
    let mut s: String = path
        .to_string_lossy()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' })
        .collect();
    s = s.trim_matches('-').to_string();
    s.truncate(40);
    let s = s.trim_end_matches('-');
    if s.is_empty() {
        format!("host-{i}")
    } else {
        format!("{s}-host-{i}")
    }
}

/// The pod spec and its annotations for the containers.
fn pod_spec(sources: &[Source]) -> Result<(PodSpec, BTreeMap<String, String>), Error> {
    let first = sources.first().ok_or(Error::NothingToPlay)?;
    let (policy, restart_back) = pod_restart(first.spec.restart_policy);
    let grace = first.spec.stop_timeout;
    let host_network = first.spec.network == Network::Host;
    // One hostname for the pod when all share it, else each its own.
    let shared_hostname = sources.iter().all(|s| s.spec.hostname == first.spec.hostname);
    let mut annotations = BTreeMap::new();
    let mut volumes: Vec<Volume> = Vec::new();
    let mut containers = Vec::new();
    for s in sources {
        let spec = &s.spec;
        let not = |reason: &str| Error::NotRepresentable { name: s.name.clone(), reason: reason.to_string() };
        let image = spec.image.clone().ok_or_else(|| not("it is made from a Rootfs, not an image"))?;
        if (spec.network == Network::Host) != host_network {
            return Err(not("all containers of a pod share the host's network or none does"));
        }
        if !spec.dependencies.is_empty() {
            return Err(not("Dependencies have no Kubernetes form"));
        }
        let mut c = Container { name: s.name.clone(), image: Some(image), ..Container::default() };
        // podman's split: command and args only where they differ from the
        // image's, and command whenever the image's Cmd must not follow.
        if let Some(ep) = &spec.entrypoint {
            if *ep != s.image_entrypoint || (spec.command.is_empty() && !s.image_cmd.is_empty()) {
                c.command = Some(ep.clone());
            }
        }
        if !spec.command.is_empty() && (c.command.is_some() || spec.command != s.image_cmd) {
            if spec.entrypoint.is_none() && s.image_entrypoint.is_empty() {
                // Nothing to prepend: podman writes the whole argv as
                // command (and its play wants one).
                c.command = Some(spec.command.clone());
            } else {
                c.args = Some(spec.command.clone());
            }
        }
        if !spec.env.is_empty() {
            let env = spec.env.iter().map(|e| {
                let (k, v) = e.split_once('=').unwrap_or((e, ""));
                EnvVar { name: k.to_string(), value: Some(v.to_string()), value_from: None }
            });
            c.env = Some(env.collect());
        }
        c.working_dir = spec.working_dir.as_ref().map(|w| w.display().to_string());
        if !spec.ports.is_empty() {
            let mut ports = Vec::new();
            for p in &spec.ports {
                for i in 0..p.range.max(1) {
                    ports.push(ContainerPort {
                        container_port: (p.container_port + i).into(),
                        host_port: (p.host_port != 0).then(|| (p.host_port + i).into()),
                        host_ip: (!p.host_ip.is_empty()).then(|| p.host_ip.clone()),
                        protocol: Some(p.protocol.to_ascii_uppercase()),
                        name: None,
                    });
                }
            }
            c.ports = Some(ports);
        }
        let mut limits = BTreeMap::new();
        if let Some(m) = spec.resources.memory_max {
            limits.insert("memory".to_string(), quantity::memory(m));
        }
        if let Some(q) = spec.resources.cpu_quota {
            limits.insert("cpu".to_string(), quantity::cpu(q));
        }
        if !limits.is_empty() {
            c.resources = Some(ResourceRequirements { limits: Some(limits), ..Default::default() });
        }
        let caps = (!spec.cap_add.is_empty() || !spec.cap_drop.is_empty()).then(|| Capabilities {
            add: (!spec.cap_add.is_empty()).then(|| spec.cap_add.clone()),
            drop: (!spec.cap_drop.is_empty()).then(|| spec.cap_drop.clone()),
        });
        if spec.user.is_some() || spec.read_only || caps.is_some() {
            c.security_context = Some(SecurityContext {
                run_as_user: spec.user.map(|(u, _)| u.into()),
                run_as_group: spec.user.map(|(_, g)| g.into()),
                read_only_root_filesystem: spec.read_only.then_some(true),
                capabilities: caps,
                ..Default::default()
            });
        }
        if let Some(h) = &spec.health {
            let secs = |u: u64| i32::try_from(u / 1_000_000).unwrap_or(i32::MAX);
            c.liveness_probe = Some(Probe {
                exec: Some(ExecAction { command: Some(h.command.clone()) }),
                period_seconds: (h.interval_usec >= 1_000_000).then(|| secs(h.interval_usec)),
                timeout_seconds: (h.timeout_usec >= 1_000_000).then(|| secs(h.timeout_usec)),
                failure_threshold: Some(i32::try_from(h.retries).unwrap_or(i32::MAX)),
                initial_delay_seconds: Some(secs(h.start_period_usec)),
                ..Default::default()
            });
        }
        c.tty = spec.terminal.then_some(true);
        c.stdin = spec.interactive.then_some(true);
        let mut mounts = Vec::new();
        for (i, v) in spec.volumes.iter().enumerate() {
            let (name, source) = if let (Some(n), false) = (&v.volume, v.anonymous) {
                let source = Volume {
                    name: format!("{n}-pvc"),
                    persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource { claim_name: n.clone(), read_only: None }),
                    ..Default::default()
                };
                (format!("{n}-pvc"), source)
            } else if v.anonymous {
                let name = format!("{}-anon-{i}", s.name.to_ascii_lowercase());
                let source = Volume { name: name.clone(), empty_dir: Some(EmptyDirVolumeSource::default()), ..Default::default() };
                (name, source)
            } else {
                let name = host_volume_name(&v.source, i);
                let source = Volume {
                    name: name.clone(),
                    host_path: Some(HostPathVolumeSource { path: v.source.display().to_string(), type_: None }),
                    ..Default::default()
                };
                (name, source)
            };
            if !volumes.iter().any(|w| w.name == name) {
                volumes.push(source);
            }
            mounts.push(VolumeMount {
                name,
                mount_path: v.destination.display().to_string(),
                read_only: v.read_only.then_some(true),
                ..Default::default()
            });
        }
        c.volume_mounts = (!mounts.is_empty()).then_some(mounts);
        for (k, v) in annotations::values(spec, grace, restart_back) {
            annotations.insert(annotations::key(k, &s.name), annotations::encode(&v));
        }
        if let (Some(h), false) = (&spec.hostname, shared_hostname) {
            annotations.insert(annotations::key("Hostname", &s.name), h.clone());
        }
        containers.push(c);
    }
    let pod = PodSpec {
        containers,
        restart_policy: Some(policy.into()),
        termination_grace_period_seconds: Some(grace.into()),
        host_network: host_network.then_some(true),
        hostname: if shared_hostname { first.spec.hostname.clone() } else { None },
        volumes: (!volumes.is_empty()).then_some(volumes),
        ..Default::default()
    };
    Ok((pod, annotations))
}

/// YAML of one Pod (or one Deployment of one replica) holding the
/// containers, named `pod_name` (default: the first's name and `-pod`).
pub fn generate(sources: &[Source], kind: KubeKind, pod_name: Option<&str>) -> Result<String, Error> {
    let (spec, annotations) = pod_spec(sources)?;
    let pod_name = pod_name.map(str::to_string).unwrap_or_else(|| default_pod_name(&sources[0].name));
    let labels: BTreeMap<String, String> = [("app".to_string(), pod_name.clone())].into();
    let annotations = (!annotations.is_empty()).then_some(annotations);
    let write = |e: serde_norway::Error| Error::Write { message: e.to_string() };
    match kind {
        KubeKind::Pod => {
            let pod = Pod {
                metadata: ObjectMeta { name: Some(pod_name), labels: Some(labels), annotations, ..Default::default() },
                spec: Some(spec),
                status: None,
            };
            serde_norway::to_string(&pod).map_err(write)
        }
        KubeKind::Deployment => {
            let deployment = Deployment {
                metadata: ObjectMeta { name: Some(format!("{pod_name}-deployment")), labels: Some(labels.clone()), ..Default::default() },
                spec: DeploymentSpec {
                    replicas: Some(1),
                    selector: LabelSelector { match_labels: Some(labels.clone()), match_expressions: None },
                    template: PodTemplateSpec {
                        metadata: Some(ObjectMeta { name: Some(pod_name), labels: Some(labels), annotations, ..Default::default() }),
                        spec: Some(spec),
                    },
                    ..Default::default()
                },
                status: None,
            };
            serde_norway::to_string(&deployment).map_err(write)
        }
    }
}
