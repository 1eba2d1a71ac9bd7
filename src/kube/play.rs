//! A manifest to a plan: the volumes to make and the containers to create
//! (as `CreateContainer` options), all checked before anything is made.

use super::annotations;
use super::generate::restart_from_pod;
use super::manifest::{Document, Numbered};
use super::quantity;
use super::Error;
use crate::model::{ContainerSpec, OptionValue};
use k8s_openapi::api::core::v1::{ConfigMap, Container, PodSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use std::collections::BTreeMap;

/// Why a volume is in the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VolumeRole {
    /// A PersistentVolumeClaim (a document, or a claim a pod names): made
    /// if missing, kept by `down` unless forced.
    Claim,
    /// An emptyDir: made fresh for the pod, removed by `down`.
    EmptyDir,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedVolume {
    pub name: String,
    pub role: VolumeRole,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PlannedContainer {
    /// `<pod>-<container>`, as podman names them.
    pub name: String,
    /// The pod it belongs to.
    pub pod: String,
    pub options: BTreeMap<String, OptionValue>,
}

/// Everything a manifest makes, in the order to make it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    pub volumes: Vec<PlannedVolume>,
    pub containers: Vec<PlannedContainer>,
}

/// The containers and volumes of a manifest, every option checked.
pub fn plan(docs: &[Numbered]) -> Result<Plan, Error> {
    let mut config_maps: BTreeMap<String, &ConfigMap> = BTreeMap::new();
    let mut plan = Plan::default();
    let mut origin: BTreeMap<String, usize> = BTreeMap::new();
    for d in docs {
        match &d.document {
            Document::ConfigMap(c) => {
                config_maps.insert(name_of(&c.metadata, d.number)?, c);
            }
            Document::PersistentVolumeClaim(c) => add_volume(&mut plan, name_of(&c.metadata, d.number)?, VolumeRole::Claim),
            _ => {}
        }
    }
    for d in docs {
        let pods: Vec<(String, &ObjectMeta, &PodSpec, &str)> = match &d.document {
            Document::Pod(p) => {
                let spec = p.spec.as_ref().ok_or_else(|| missing(d.number, "spec"))?;
                vec![(name_of(&p.metadata, d.number)?, &p.metadata, spec, "spec")]
            }
            Document::Deployment(dep) => {
                let name = name_of(&dep.metadata, d.number)?;
                let spec = &dep.spec;
                let template_spec = spec.template.spec.as_ref().ok_or_else(|| missing(d.number, "spec.template.spec"))?;
                let meta = spec.template.metadata.as_ref().unwrap_or(&dep.metadata);
                let replicas = spec.replicas.unwrap_or(1);
                if !(0..=100).contains(&replicas) {
                    let message = format!("{replicas} is not in 0..100");
                    return Err(Error::Invalid { document: d.number, path: "spec.replicas".into(), message });
                }
                let published = template_spec.containers.iter().flat_map(|c| c.ports.iter().flatten()).any(|p| p.host_port.is_some());
                if replicas > 1 && published {
                    let message = "replicas cannot share a host port: give hostPort to one replica only".to_string();
                    return Err(Error::Invalid { document: d.number, path: "spec.replicas".into(), message });
                }
                (0..replicas)
                    .map(|i| {
                        let pod = if replicas == 1 { format!("{name}-pod") } else { format!("{name}-pod-{i}") };
                        (pod, meta, template_spec, "spec.template.spec")
                    })
                    .collect()
            }
            _ => continue,
        };
        for (pod, meta, spec, at) in pods {
            for c in pod_containers(d.number, &pod, meta, spec, at, &config_maps, &mut plan)? {
                if let Some(first) = origin.insert(c.name.clone(), d.number) {
                    return Err(Error::DuplicateContainer { name: c.name, first, second: d.number });
                }
                plan.containers.push(c);
            }
        }
    }
    if plan.containers.is_empty() && !docs.iter().any(|d| matches!(d.document, Document::Deployment(_))) {
        return Err(Error::NothingToPlay);
    }
    Ok(plan)
}

fn add_volume(plan: &mut Plan, name: String, role: VolumeRole) {
    if !plan.volumes.iter().any(|v| v.name == name) {
        plan.volumes.push(PlannedVolume { name, role });
    }
}

fn missing(document: usize, path: &str) -> Error {
    Error::Invalid { document, path: path.to_string(), message: "is missing".into() }
}

fn name_of(meta: &ObjectMeta, document: usize) -> Result<String, Error> {
    meta.name.clone().filter(|n| !n.is_empty()).ok_or_else(|| missing(document, "metadata.name"))
}

/// One pod's containers as create options.
fn pod_containers(
    document: usize,
    pod: &str,
    meta: &ObjectMeta,
    spec: &PodSpec,
    at: &str,
    config_maps: &BTreeMap<String, &ConfigMap>,
    plan: &mut Plan,
) -> Result<Vec<PlannedContainer>, Error> {
    let invalid = |path: String, message: String| Error::Invalid { document, path, message };
    let restart = restart_from_pod(spec.restart_policy.as_deref())
        .ok_or_else(|| invalid(format!("{at}.restartPolicy"), "is not Always, OnFailure or Never".into()))?;
    if spec.automount_service_account_token == Some(true) {
        return Err(Error::UnsupportedField { document, path: format!("{at}.automountServiceAccountToken (there are no service accounts here)") });
    }
    let annotations = meta.annotations.clone().unwrap_or_default();
    let mut by_container: BTreeMap<&str, Vec<(&str, OptionValue)>> = BTreeMap::new();
    for (k, text) in &annotations {
        let Some((key, container)) = annotations::split(k) else { continue };
        let path = format!("metadata.annotations.{k}");
        if !spec.containers.iter().any(|c| c.name == container) {
            return Err(invalid(path, format!("no container named {container} in the pod")));
        }
        let v = annotations::decode(key, text).map_err(|m| invalid(path, m))?;
        by_container.entry(container).or_default().push((key, v));
    }
    let mut out = Vec::new();
    for (i, c) in spec.containers.iter().enumerate() {
        let here = format!("{at}.containers[{i}]");
        let mut o = container_options(document, &here, c, config_maps)?;
        o.insert("RestartPolicy".into(), OptionValue::Str(restart.to_string()));
        if let Some(g) = spec.termination_grace_period_seconds {
            let g = u32::try_from(g).map_err(|_| invalid(format!("{at}.terminationGracePeriodSeconds"), format!("{g} is out of range")))?;
            o.insert("StopTimeout".into(), OptionValue::U32(g));
        }
        if spec.host_network == Some(true) {
            o.insert("Network".into(), OptionValue::Str("host".into()));
        }
        if let Some(h) = &spec.hostname {
            o.insert("Hostname".into(), OptionValue::Str(h.clone()));
        }
        let mut volumes = Vec::new();
        for (j, m) in c.volume_mounts.iter().flatten().enumerate() {
            let path = format!("{here}.volumeMounts[{j}]");
            let v = spec.volumes.iter().flatten().find(|v| v.name == m.name).ok_or_else(|| Error::NoSuchPodVolume {
                document,
                path: format!("{path}.name"),
                name: m.name.clone(),
            })?;
            let ro = if m.read_only == Some(true) { ":ro" } else { "" };
            let source = if let Some(h) = &v.host_path {
                h.path.clone()
            } else if let Some(claim) = &v.persistent_volume_claim {
                add_volume(plan, claim.claim_name.clone(), VolumeRole::Claim);
                claim.claim_name.clone()
            } else if v.empty_dir.is_some() {
                let name = format!("{pod}-{}", v.name);
                add_volume(plan, name.clone(), VolumeRole::EmptyDir);
                name
            } else {
                return Err(Error::UnsupportedField { document, path: format!("{at}.volumes (the source of {})", v.name) });
            };
            let ro = if v.persistent_volume_claim.as_ref().and_then(|p| p.read_only) == Some(true) { ":ro" } else { ro };
            volumes.push(format!("{source}:{}{ro}", m.mount_path));
        }
        if !volumes.is_empty() {
            o.insert("Volumes".into(), OptionValue::StrList(volumes));
        }
        for (key, v) in by_container.remove(c.name.as_str()).unwrap_or_default() {
            o.insert(key.to_string(), v);
        }
        // Every value and the checks across keys, as CreateContainer makes them.
        ContainerSpec::from_options(&o).map_err(|e| Error::Option { document, path: here.clone(), source: e })?;
        out.push(PlannedContainer { name: format!("{pod}-{}", c.name), pod: pod.to_string(), options: o });
    }
    Ok(out)
}

/// A value from a ConfigMap of the file.
fn config_value(
    config_maps: &BTreeMap<String, &ConfigMap>,
    document: usize,
    path: &str,
    name: &str,
    key: Option<&str>,
) -> Result<Option<BTreeMap<String, String>>, Error> {
    let Some(cm) = config_maps.get(name) else {
        return Err(Error::NoSuchConfigMap { document, path: path.to_string(), name: name.to_string() });
    };
    let data = cm.data.clone().unwrap_or_default();
    match key {
        None => Ok(Some(data)),
        Some(k) => match data.get(k) {
            Some(v) => Ok(Some([(k.to_string(), v.clone())].into())),
            None => Ok(None),
        },
    }
}

fn container_options(
    document: usize,
    here: &str,
    c: &Container,
    config_maps: &BTreeMap<String, &ConfigMap>,
) -> Result<BTreeMap<String, OptionValue>, Error> {
    let invalid = |path: String, message: String| Error::Invalid { document, path, message };
    let mut o = BTreeMap::new();
    let image = c.image.clone().filter(|i| !i.is_empty()).ok_or_else(|| missing(document, &format!("{here}.image")))?;
    o.insert("Image".into(), OptionValue::Str(image));
    if let Some(p) = c.image_pull_policy.as_deref().filter(|p| *p == "Always") {
        return Err(Error::UnsupportedField { document, path: format!("{here}.imagePullPolicy ({p}: berth does not pull)") });
    }
    if let Some(cmd) = &c.command {
        o.insert("Entrypoint".into(), OptionValue::StrList(cmd.clone()));
    }
    if let Some(args) = c.args.clone().filter(|a| !a.is_empty()) {
        o.insert("Command".into(), OptionValue::StrList(args));
    }
    // envFrom first: env overrides it, as in Kubernetes.
    let mut env: Vec<(String, String)> = Vec::new();
    let set = |env: &mut Vec<(String, String)>, k: String, v: String| {
        env.retain(|(e, _)| *e != k);
        env.push((k, v));
    };
    for (j, from) in c.env_from.iter().flatten().enumerate() {
        let path = format!("{here}.envFrom[{j}].configMapRef");
        let Some(r) = &from.config_map_ref else { return Err(missing(document, &path)) };
        match config_value(config_maps, document, &path, &r.name, None) {
            Ok(Some(data)) => {
                for (k, v) in data {
                    set(&mut env, format!("{}{k}", from.prefix.clone().unwrap_or_default()), v);
                }
            }
            Ok(None) => {}
            Err(_) if r.optional == Some(true) => {}
            Err(e) => return Err(e),
        }
    }
    for (j, e) in c.env.iter().flatten().enumerate() {
        let path = format!("{here}.env[{j}]");
        match (&e.value, &e.value_from) {
            (_, Some(from)) => {
                let path = format!("{path}.valueFrom.configMapKeyRef");
                let Some(r) = &from.config_map_key_ref else { return Err(missing(document, &path)) };
                let optional = r.optional == Some(true);
                match config_value(config_maps, document, &path, &r.name, Some(&r.key)) {
                    Ok(Some(v)) => set(&mut env, e.name.clone(), v.into_values().next().unwrap_or_default()),
                    Ok(None) if optional => {}
                    Ok(None) => {
                        return Err(Error::NoSuchConfigMapKey { document, path, name: r.name.clone(), key: r.key.clone() })
                    }
                    Err(_) if optional => {}
                    Err(err) => return Err(err),
                }
            }
            (v, None) => set(&mut env, e.name.clone(), v.clone().unwrap_or_default()),
        }
    }
    if !env.is_empty() {
        o.insert("Env".into(), OptionValue::StrList(env.into_iter().map(|(k, v)| format!("{k}={v}")).collect()));
    }
    if let Some(w) = &c.working_dir {
        o.insert("WorkingDir".into(), OptionValue::Str(w.clone()));
    }
    let mut ports = Vec::new();
    for (j, p) in c.ports.iter().flatten().enumerate() {
        let path = format!("{here}.ports[{j}]");
        let port = |n: i32, f: &str| {
            u16::try_from(n).ok().filter(|n| *n > 0).ok_or_else(|| invalid(format!("{path}.{f}"), format!("{n} is not a port")))
        };
        let container = port(p.container_port, "containerPort")?;
        // Without a host port a port is only declared, as in podman.
        let Some(host) = p.host_port else { continue };
        let host = port(host, "hostPort")?;
        let proto = p.protocol.as_deref().unwrap_or("TCP").to_ascii_lowercase();
        let ip = match p.host_ip.as_deref() {
            Some(ip) if ip.contains(':') => format!("[{ip}]:"),
            Some(ip) if !ip.is_empty() => format!("{ip}:"),
            _ => String::new(),
        };
        // Consecutive ports (as generate writes a range) make one range again.
        match ports.last_mut() {
            Some((i, h, c, p, n)) if *i == ip && *p == proto && u32::from(*h) + u32::from(*n) == u32::from(host) && u32::from(*c) + u32::from(*n) == u32::from(container) => *n += 1,
            _ => ports.push((ip, host, container, proto, 1u16)),
        }
    }
    if !ports.is_empty() {
        let range = |start: u16, n: u16| if n == 1 { start.to_string() } else { format!("{start}-{}", start + n - 1) };
        let ports = ports.into_iter().map(|(ip, h, c, p, n)| format!("{ip}{}:{}/{p}", range(h, n), range(c, n)));
        o.insert("Ports".into(), OptionValue::StrList(ports.collect()));
    }
    if let Some(limits) = c.resources.as_ref().and_then(|r| r.limits.as_ref()) {
        if let Some(m) = limits.get("memory") {
            let b = quantity::parse_memory(m)
                .ok_or_else(|| invalid(format!("{here}.resources.limits.memory"), format!("{:?} is not a memory quantity", m.0)))?;
            o.insert("MemoryMax".into(), OptionValue::U64(b));
        }
        if let Some(q) = limits.get("cpu") {
            let p = quantity::parse_cpu(q)
                .ok_or_else(|| invalid(format!("{here}.resources.limits.cpu"), format!("{:?} is not a CPU quantity", q.0)))?;
            o.insert("CPUQuota".into(), OptionValue::U32(p));
        }
        if let Some(k) = limits.keys().find(|k| *k != "memory" && *k != "cpu") {
            return Err(Error::UnsupportedField { document, path: format!("{here}.resources.limits.{k}") });
        }
    }
    if let Some(sc) = &c.security_context {
        let id = |n: i64, f: &str| u32::try_from(n).map_err(|_| invalid(format!("{here}.securityContext.{f}"), format!("{n} is not an id")));
        match (sc.run_as_user, sc.run_as_group) {
            (Some(u), Some(g)) => {
                o.insert("User".into(), OptionValue::Str(format!("{}:{}", id(u, "runAsUser")?, id(g, "runAsGroup")?)));
            }
            (Some(u), None) => {
                o.insert("User".into(), OptionValue::Str(id(u, "runAsUser")?.to_string()));
            }
            (None, Some(_)) => return Err(Error::UnsupportedField { document, path: format!("{here}.securityContext.runAsGroup (without runAsUser)") }),
            (None, None) => {}
        }
        if sc.read_only_root_filesystem == Some(true) {
            o.insert("ReadOnly".into(), OptionValue::Bool(true));
        }
        if let Some(caps) = &sc.capabilities {
            if let Some(a) = caps.add.clone().filter(|a| !a.is_empty()) {
                o.insert("CapAdd".into(), OptionValue::StrList(a));
            }
            if let Some(d) = caps.drop.clone().filter(|d| !d.is_empty()) {
                o.insert("CapDrop".into(), OptionValue::StrList(d));
            }
        }
    }
    if let Some(p) = &c.liveness_probe {
        let at = format!("{here}.livenessProbe");
        let argv = p.exec.as_ref().and_then(|e| e.command.clone()).filter(|a| !a.is_empty());
        let argv = argv.ok_or_else(|| missing(document, &format!("{at}.exec.command")))?;
        // The exec form, whatever the first word is.
        let cmd = std::iter::once("CMD".to_string()).chain(argv).collect::<Vec<_>>();
        o.insert("HealthCmd".into(), OptionValue::Str(serde_json::to_string(&cmd).unwrap_or_default()));
        let seconds = |v: Option<i32>, default: i32, f: &str| -> Result<Option<String>, Error> {
            match v.unwrap_or(default) {
                0 if f == "initialDelaySeconds" => Ok(None),
                n if n >= 1 => Ok(Some(format!("{n}s"))),
                n => Err(invalid(format!("{at}.{f}"), format!("{n} is not a number of seconds of at least 1"))),
            }
        };
        // Kubernetes' defaults where the probe is silent.
        if let Some(s) = seconds(p.period_seconds, 10, "periodSeconds")? {
            o.insert("HealthInterval".into(), OptionValue::Str(s));
        }
        if let Some(s) = seconds(p.timeout_seconds, 1, "timeoutSeconds")? {
            o.insert("HealthTimeout".into(), OptionValue::Str(s));
        }
        if let Some(s) = seconds(p.initial_delay_seconds, 0, "initialDelaySeconds")? {
            o.insert("HealthStartPeriod".into(), OptionValue::Str(s));
        }
        let retries = p.failure_threshold.unwrap_or(3);
        let retries = u32::try_from(retries).ok().filter(|r| *r >= 1).ok_or_else(|| invalid(format!("{at}.failureThreshold"), format!("{retries} is not at least 1")))?;
        o.insert("HealthRetries".into(), OptionValue::U32(retries));
    }
    if c.tty == Some(true) {
        o.insert("Terminal".into(), OptionValue::Bool(true));
    }
    if c.stdin == Some(true) {
        o.insert("Interactive".into(), OptionValue::Bool(true));
    }
    Ok(o)
}

/// A `command` without `args` for an image without an Entrypoint is the
/// container's Command, as berth's own containers hold it (the argv is the
/// same either way); how generate writes such a container, as podman does.
pub fn fold_entrypoint(options: &mut BTreeMap<String, OptionValue>, image_entrypoint: &[String]) {
    if image_entrypoint.is_empty() && !options.contains_key("Command") {
        if let Some(OptionValue::StrList(argv)) = options.remove("Entrypoint") {
            if !argv.is_empty() {
                options.insert("Command".into(), OptionValue::StrList(argv));
            }
        }
    }
}
