use super::*;
use crate::model::{ContainerSpec, OptionValue};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use std::collections::BTreeMap;

fn opts(pairs: Vec<(&str, OptionValue)>) -> BTreeMap<String, OptionValue> {
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

fn s(x: &str) -> OptionValue {
    OptionValue::Str(x.into())
}

fn l(x: &[&str]) -> OptionValue {
    OptionValue::StrList(x.iter().map(|s| s.to_string()).collect())
}

fn map(x: &[(&str, &str)]) -> OptionValue {
    OptionValue::StrMap(x.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
}

/// A container with every mapped field set away from its default.
fn full_spec() -> ContainerSpec {
    ContainerSpec::from_options(&opts(vec![
        ("Image", s("localhost/busybox:latest")),
        ("Entrypoint", l(&["/bin/sh", "-c"])),
        ("Command", l(&["echo hi; sleep 1000"])),
        ("Env", l(&["A=1", "B=two words", "C="])),
        ("WorkingDir", s("/tmp")),
        ("User", s("1000:100")),
        ("ReadOnly", OptionValue::Bool(true)),
        ("CapAdd", l(&["NET_ADMIN"])),
        ("CapDrop", l(&["MKNOD", "NET_RAW"])),
        ("Ports", l(&["127.0.0.1:8080:80/tcp", "9000-9001:90-91/udp"])),
        ("MemoryMax", OptionValue::U64(256 << 20)),
        ("CPUQuota", OptionValue::U32(150)),
        ("RestartPolicy", s("on-failure:3")),
        ("StopTimeout", OptionValue::U32(7)),
        ("Volumes", l(&["/srv/data:/data:ro", "cache:/cache"])),
        ("StopSignal", s("SIGINT")),
        ("Notify", OptionValue::Bool(true)),
        ("Labels", map(&[("tier", "web")])),
        ("Annotations", map(&[("org.example/a", "b")])),
        ("Runtime", s("runc")),
        ("TasksMax", OptionValue::U64(64)),
        ("CPUWeight", OptionValue::U64(300)),
        ("Sysctls", map(&[("net.ipv4.ip_unprivileged_port_start", "0")])),
        ("ShmSize", OptionValue::U64(1 << 20)),
        ("DNS", l(&["1.1.1.1"])),
        ("DNSSearch", l(&["example.org"])),
        ("Hosts", l(&["db:10.0.0.9"])),
        ("Tmpfs", l(&["/run:size=1m"])),
        ("Hostname", s("web-1")),
        ("StartTimeout", OptionValue::U32(20)),
        ("Terminal", OptionValue::Bool(true)),
        ("Interactive", OptionValue::Bool(true)),
        ("HealthCmd", s("[\"CMD\", \"/bin/check\", \"--quick\"]")),
        ("HealthInterval", s("15s")),
        ("HealthTimeout", s("1500ms")),
        ("HealthRetries", OptionValue::U32(5)),
        ("HealthStartPeriod", s("2s")),
        ("HealthOnFailure", s("restart")),
    ]))
    .unwrap()
}

fn source(name: &str, spec: ContainerSpec) -> Source {
    Source { name: name.into(), spec, image_entrypoint: vec![], image_cmd: vec!["sh".into()] }
}

/// Play as the engine does, for images without an Entrypoint.
fn played(yaml: &str) -> Vec<(String, ContainerSpec)> {
    let plan = plan_yaml(yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    plan.containers
        .into_iter()
        .map(|mut c| {
            fold_entrypoint(&mut c.options, &[]);
            (c.name, ContainerSpec::from_options(&c.options).unwrap())
        })
        .collect()
}

#[test]
fn spec_round_trips_through_a_pod_and_a_deployment() {
    let spec = full_spec();
    for (kind, name) in [(KubeKind::Pod, "web-pod-web"), (KubeKind::Deployment, "web-pod-deployment-pod-web")] {
        let yaml = generate(&[source("web", spec.clone())], kind, None).unwrap();
        let back = played(&yaml);
        assert_eq!(back.len(), 1);
        assert_eq!(back[0].0, name, "{kind:?}");
        assert_eq!(back[0].1, spec, "{kind:?}:\n{yaml}");
    }
}

#[test]
fn several_containers_share_one_pod() {
    let mut a = full_spec();
    a.ports.clear();
    let mut b = ContainerSpec::from_options(&opts(vec![("Image", s("localhost/busybox")), ("Command", l(&["top"]))])).unwrap();
    b.stop_timeout = 30;
    let yaml = generate(&[source("a", a.clone()), source("b", b.clone())], KubeKind::Pod, Some("both")).unwrap();
    let back = played(&yaml);
    assert_eq!(back.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(), ["both-a", "both-b"]);
    assert_eq!(back[0].1, a);
    assert_eq!(back[1].1, b, "{yaml}");
}

#[test]
fn command_and_args_split_against_the_image() {
    let v = |x: &[&str]| x.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let src = |ep: Option<&[&str]>, cmd: &[&str]| Source {
        name: "c".into(),
        spec: ContainerSpec { image: Some("i".into()), entrypoint: ep.map(v), command: v(cmd), ..ContainerSpec::default() },
        image_entrypoint: v(&["/entry"]),
        image_cmd: v(&["serve"]),
    };
    let pod = |s: Source| {
        let p: Pod = strict(&generate(&[s], KubeKind::Pod, None).unwrap()).unwrap();
        let c = p.spec.unwrap().containers.remove(0);
        (c.command, c.args)
    };
    assert_eq!(pod(src(None, &[])), (None, None), "the image's own");
    assert_eq!(pod(src(None, &["serve"])), (None, None), "Cmd equal to the image's");
    assert_eq!(pod(src(None, &["run"])), (None, Some(v(&["run"]))));
    assert_eq!(pod(src(Some(&["/entry"]), &["run"])), (None, Some(v(&["run"]))), "Entrypoint equal to the image's");
    assert_eq!(pod(src(Some(&["/entry"]), &[])), (Some(v(&["/entry"])), None), "the image's Cmd must not follow");
    assert_eq!(pod(src(Some(&["/bin/sh"]), &["-c", "x"])), (Some(v(&["/bin/sh"])), Some(v(&["-c", "x"]))));
    let bare = |cmd: &[&str]| Source { image_entrypoint: vec![], ..src(None, cmd) };
    assert_eq!(pod(bare(&["run"])), (Some(v(&["run"])), None), "no Entrypoint to prepend: the argv is the command");
    let mut o = BTreeMap::from([("Entrypoint".to_string(), OptionValue::StrList(v(&["run"])))]);
    fold_entrypoint(&mut o, &v(&["/entry"]));
    assert!(o.contains_key("Entrypoint"), "the image's Entrypoint must not run");
    fold_entrypoint(&mut o, &[]);
    assert_eq!(o, BTreeMap::from([("Command".to_string(), OptionValue::StrList(v(&["run"])))]));
}

#[test]
fn generated_yaml_is_strict_kubernetes() {
    let yaml = generate(&[source("web", full_spec())], KubeKind::Pod, None).unwrap();
    let pod: Pod = strict(&yaml).unwrap();
    let spec = pod.spec.unwrap();
    assert_eq!(spec.restart_policy.as_deref(), Some("OnFailure"));
    assert_eq!(spec.termination_grace_period_seconds, Some(7));
    let c = &spec.containers[0];
    assert_eq!(c.resources.as_ref().unwrap().limits.as_ref().unwrap()["memory"].0, "256Mi");
    assert_eq!(c.resources.as_ref().unwrap().limits.as_ref().unwrap()["cpu"].0, "1500m");
    assert_eq!(c.ports.as_ref().unwrap().len(), 3);
    let probe = c.liveness_probe.as_ref().unwrap();
    assert_eq!(probe.exec.as_ref().unwrap().command.as_deref(), Some(&["/bin/check".to_string(), "--quick".to_string()][..]));
    assert_eq!((probe.period_seconds, probe.failure_threshold, probe.initial_delay_seconds), (Some(15), Some(5), Some(2)));
    let annotations = pod.metadata.annotations.unwrap();
    assert_eq!(annotations["berth.io/HealthTimeout.web"], "1500ms", "not whole seconds");
    assert_eq!(annotations["berth.io/HealthOnFailure.web"], "restart");
    assert_eq!(annotations["berth.io/StopSignal.web"], "SIGINT");
    assert_eq!(annotations["berth.io/RestartPolicy.web"], "on-failure:3");
    let yaml = generate(&[source("web", full_spec())], KubeKind::Deployment, None).unwrap();
    let d: Deployment = strict(&yaml).unwrap();
    assert_eq!(d.spec.replicas, Some(1));
    assert!(matches!(strict::<Pod>("apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nbogus: 1\n"), Err(Error::UnknownField { path, .. }) if path == "bogus"));
}

#[test]
fn generate_refuses_what_kubernetes_cannot_say() {
    let rootfs = ContainerSpec::from_options(&opts(vec![("Rootfs", s("/r")), ("Command", l(&["sh"]))])).unwrap();
    assert!(matches!(generate(&[source("r", rootfs)], KubeKind::Pod, None), Err(Error::NotRepresentable { .. })));
}

const MANIFEST: &str = r#"
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  GREETING: hello
  MODE: fast
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: shared
spec:
  accessModes: [ReadWriteOnce]
  resources:
    requests:
      storage: 1Gi
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
spec:
  replicas: 3
  selector:
    matchLabels: {app: app}
  template:
    metadata:
      labels: {app: app}
    spec:
      containers:
      - name: worker
        image: localhost/busybox
        command: [/bin/sh, -c, "sleep 1000"]
        env:
        - name: GREETING
          valueFrom:
            configMapKeyRef: {name: settings, key: GREETING}
        - name: PLAIN
          value: "1"
        envFrom:
        - configMapRef: {name: settings}
          prefix: CFG_
        volumeMounts:
        - {name: data, mountPath: /data}
        - {name: scratch, mountPath: /scratch}
      volumes:
      - name: data
        persistentVolumeClaim: {claimName: shared}
      - name: scratch
        emptyDir: {}
"#;

#[test]
fn a_manifest_as_users_write_it_plans() {
    let plan = plan_yaml(MANIFEST).unwrap();
    let names: Vec<&str> = plan.containers.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["app-pod-0-worker", "app-pod-1-worker", "app-pod-2-worker"]);
    let vols: Vec<(&str, VolumeRole)> = plan.volumes.iter().map(|v| (v.name.as_str(), v.role)).collect();
    assert_eq!(
        vols,
        [
            ("shared", VolumeRole::Claim),
            ("app-pod-0-scratch", VolumeRole::EmptyDir),
            ("app-pod-1-scratch", VolumeRole::EmptyDir),
            ("app-pod-2-scratch", VolumeRole::EmptyDir)
        ]
    );
    let spec = ContainerSpec::from_options(&plan.containers[1].options).unwrap();
    assert_eq!(spec.env, ["CFG_GREETING=hello", "CFG_MODE=fast", "GREETING=hello", "PLAIN=1"]);
    assert_eq!(spec.volumes.iter().map(|v| v.to_string()).collect::<Vec<_>>(), ["shared:/data", "app-pod-1-scratch:/scratch"]);
    assert_eq!(spec.restart_policy, crate::model::RestartPolicy::Always, "Kubernetes' default");
}

#[test]
fn unsupported_and_unknown_fields_are_named_errors() {
    let pod = |extra_spec: &str, extra_container: &str| {
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n{extra_spec}  containers:\n  - name: c\n    image: i\n{extra_container}"
        )
    };
    let cases: Vec<(String, &str, bool)> = vec![
        (pod("  initContainers:\n  - name: i\n    image: i\n", ""), "spec.initContainers", true),
        (pod("", "    readinessProbe:\n      exec:\n        command: [x]\n"), "spec.containers[0].readinessProbe", true),
        (pod("", "    resources:\n      requests:\n        memory: 1Gi\n"), "spec.containers[0].resources.requests", true),
        (pod("  nodeSelector:\n    a: b\n", ""), "spec.nodeSelector", true),
        (pod("  automountServiceAccountToken: true\n", ""), "spec.automountServiceAccountToken (there are no service accounts here)", true),
        (pod("", "    bogusField: 1\n"), "spec.containers[0].bogusField", false),
        (pod("", "    env:\n    - name: A\n      valueFrom:\n        secretKeyRef: {name: s, key: k}\n"), "spec.containers[0].env[0].valueFrom.secretKeyRef", true),
    ];
    for (yaml, path, unsupported) in cases {
        let e = plan_yaml(&yaml).unwrap_err();
        assert_eq!(e.path(), Some(path), "{e}");
        assert_eq!(e.is_unsupported(), unsupported, "{e}");
    }
    let service = "apiVersion: v1\nkind: Service\nmetadata: {name: s}\n";
    assert!(matches!(plan_yaml(&format!("{}---\n{service}", pod("", ""))), Err(Error::UnsupportedKind { document: 2, kind }) if kind == "Service"));
    assert!(matches!(plan_yaml("a: [\n"), Err(Error::Yaml { .. })));
    let e = plan_yaml(&pod("", "    envFrom:\n    - configMapRef: {name: missing}\n")).unwrap_err();
    assert!(matches!(e, Error::NoSuchConfigMap { ref name, .. } if name == "missing"), "{e}");
    let e = plan_yaml(&pod("", "    resources:\n      limits:\n        memory: lots\n")).unwrap_err();
    assert_eq!(e.path(), Some("spec.containers[0].resources.limits.memory"));
    let e = plan_yaml(&format!("{}  annotations:\n    berth.io/Bogus.c: x\n", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - {name: c, image: i}\nmetadata:\n")).unwrap_err();
    assert!(e.to_string().contains("berth.io/Bogus.c") || matches!(e, Error::Yaml { .. }), "{e}");
    let e = plan_yaml("apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  annotations:\n    berth.io/Bogus.c: x\nspec:\n  containers:\n  - {name: c, image: i}\n").unwrap_err();
    assert_eq!(e.path(), Some("metadata.annotations.berth.io/Bogus.c"), "{e}");
    let e = plan_yaml("apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - {name: c, image: i, ports: [{containerPort: 80, hostPort: 70000}]}\n").unwrap_err();
    assert_eq!(e.path(), Some("spec.containers[0].ports[0].hostPort"), "{e}");
}

#[test]
fn replicas_cannot_share_a_host_port() {
    let yaml = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  replicas: 2\n  selector: {matchLabels: {a: b}}\n  template:\n    spec:\n      containers:\n      - {name: c, image: i, ports: [{containerPort: 80, hostPort: 8080}]}\n";
    assert_eq!(plan_yaml(yaml).unwrap_err().path(), Some("spec.replicas"));
}

#[test]
fn a_liveness_probe_is_the_health_check_with_kubernetes_defaults() {
    let yaml = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: c\n    image: i\n    livenessProbe:\n      exec: {command: [CMD, /bin/true]}\n";
    let spec = &played(yaml)[0].1;
    let h = spec.health.as_ref().unwrap();
    assert_eq!(h.command, ["CMD", "/bin/true"], "the probe's argv as given");
    assert_eq!((h.interval_usec, h.timeout_usec, h.retries, h.start_period_usec), (10_000_000, 1_000_000, 3, 0));
    let bad = yaml.replace("exec: {command: [CMD, /bin/true]}", "exec: {command: [x]}\n      periodSeconds: 0");
    assert_eq!(plan_yaml(&bad).unwrap_err().path(), Some("spec.containers[0].livenessProbe.periodSeconds"));
    let http = yaml.replace("exec: {command: [CMD, /bin/true]}", "httpGet: {port: 80}");
    assert_eq!(plan_yaml(&http).unwrap_err().path(), Some("spec.containers[0].livenessProbe.httpGet"));
}

/// The head of what podman 4.3.1's `kube generate` wrote in the sandbox.
const PODMAN_4_3: &str = r#"# Save the output of this file and use kubectl create -f to import
# it into Kubernetes.
#
# Created with podman-4.3.1
apiVersion: v1
kind: Pod
metadata:
  annotations:
    io.kubernetes.cri-o.TTY/kpm-111-2: "false"
    io.podman.annotations.autoremove/kpm-111-2: "FALSE"
    io.podman.annotations.init/kpm-111-2: "FALSE"
    io.podman.annotations.privileged/kpm-111-2: "FALSE"
    io.podman.annotations.publish-all/kpm-111-2: "FALSE"
  creationTimestamp: "2026-11-29T01:33:49Z"
  labels:
    app: kpm-111-2-pod
  name: kpm-111-2-pod
spec:
  automountServiceAccountToken: false
  containers:
  - command:
    - sleep
    - "1000"
    env:
    - name: A
      value: "1"
    image: localhost/kube-pm:1
    name: kpm-111-2
    resources:
      limits:
        memory: 64Mi
    securityContext:
      capabilities:
        drop:
        - CAP_MKNOD
        - CAP_NET_RAW
        - CAP_AUDIT_WRITE
    workingDir: /tmp
  enableServiceLinks: false
"#;

#[test]
fn podmans_yaml_plays() {
    let back = played(PODMAN_4_3);
    let (name, spec) = &back[0];
    assert_eq!(name, "kpm-111-2-pod-kpm-111-2");
    assert_eq!(spec.argv(&[], &[]), ["sleep", "1000"]);
    assert_eq!((spec.env.as_slice(), spec.resources.memory_max), (&["A=1".to_string()][..], Some(64 << 20)));
    assert_eq!(spec.cap_drop, ["MKNOD", "NET_RAW", "AUDIT_WRITE"]);
}
