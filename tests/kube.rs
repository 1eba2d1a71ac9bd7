//! Kubernetes YAML through the installed berthd: containers to YAML and
//! back (generate, rm, play, down) with the same inspect output; a
//! manifest as Kubernetes users write it (ConfigMap env, a Deployment of
//! three replicas, a claim, an emptyDir) plays and runs; unsupported kinds
//! and fields are named errors that create nothing, and a play that fails
//! midway removes what it made; YAML from podman 4.3's `kube generate`
//! plays under berth, and berth's under `podman kube play`.
//!
//! Run: `systemd/sandbox with cargo test --test kube`

mod common;

use berth::client::Client;
use berth::model::{OptionValue, State};
use common::{ctl, ctl_ok, daemon_lock, scratch};
use std::collections::BTreeMap;
use std::fs;
use std::os::fd::AsFd;
use std::path::Path;
use std::process::{Command, Output};


/// The busybox root file system as a tarball.
fn rootfs_tar(dir: &Path) -> std::path::PathBuf {
    let tar = dir.join("rootfs.tar");
    common::ok("tar", &["-C", &common::installed().rootfs, "--numeric-owner", "-cf", &tar.display().to_string(), "."]);
    tar
}

/// A client, with the busybox root file system imported as image `name`.
async fn client_with_image(name: &str) -> Client {
    common::installed();
    let c = Client::system().await.unwrap();
    let dir = scratch();
    let f = fs::File::open(rootfs_tar(dir.path())).unwrap();
    c.import_image(f.as_fd(), Some(name)).await.unwrap();
    c
}

fn options(pairs: Vec<(&str, OptionValue)>) -> BTreeMap<String, OptionValue> {
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

fn strs(x: &[&str]) -> OptionValue {
    OptionValue::StrList(x.iter().map(|s| s.to_string()).collect())
}

async fn exists(c: &Client, name: &str) -> bool {
    c.list().await.unwrap().iter().any(|l| l.name == name)
}

async fn volume_exists(c: &Client, name: &str) -> bool {
    c.list_volumes().await.unwrap().iter().any(|v| v.name == name)
}

async fn wait_running(c: &Client, name: &str) {
    for _ in 0..100 {
        if c.state(name).await.unwrap() == State::Running {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("{name} is not running: {:?}", c.state(name).await);
}

#[tokio::test]
async fn generate_rm_play_down_round_trip() {
    let _g = daemon_lock().read().await;
    let image = "localhost/kube-rt:1";
    let c = client_with_image(image).await;
    let dir = scratch();
    let host = dir.path().join("shared");
    fs::create_dir(&host).unwrap();
    let name = common::unique("krt");
    let o = options(vec![
        ("Image", OptionValue::Str(image.into())),
        ("Entrypoint", strs(&["/bin/sh", "-c"])),
        ("Command", strs(&["echo started; sleep 1000"])),
        ("Env", strs(&["GREETING=hello world", "EMPTY="])),
        ("WorkingDir", OptionValue::Str("/tmp".into())),
        ("User", OptionValue::Str("1000:100".into())),
        ("Ports", strs(&["127.0.0.1:18431:80/tcp"])),
        ("MemoryMax", OptionValue::U64(64 << 20)),
        ("CPUQuota", OptionValue::U32(50)),
        ("RestartPolicy", OptionValue::Str("on-failure:2".into())),
        ("StopTimeout", OptionValue::U32(4)),
        ("StopSignal", OptionValue::Str("SIGINT".into())),
        ("Volumes", strs(&[&format!("{}:/shared:ro", host.display()), &format!("{name}-data:/data")])),
        ("CapAdd", strs(&["NET_ADMIN"])),
        ("CapDrop", strs(&["MKNOD"])),
        ("Labels", OptionValue::StrMap([("tier".to_string(), "web".to_string())].into())),
        ("TasksMax", OptionValue::U64(100)),
        ("HealthCmd", OptionValue::Str("test -d /tmp".into())),
        ("HealthInterval", OptionValue::Str("5s".into())),
        ("HealthRetries", OptionValue::U32(2)),
        ("HealthOnFailure", OptionValue::Str("restart".into())),
        ("Ulimits", strs(&["nofile=1024:2048"])),
        ("NoNewPrivileges", OptionValue::Bool(false)),
    ]);
    c.create(&name, &o).await.unwrap();
    c.start(&name, false).await.unwrap();
    let before = c.info(&name).await.unwrap();

    let yaml = c.kube_generate(&[name.clone()], "pod", None).await.unwrap();
    assert!(yaml.contains("kind: Pod") && yaml.contains(&format!("name: {name}-pod")), "{yaml}");
    // berthctl writes the same YAML to a file.
    let file = dir.path().join("pod.yaml");
    ctl_ok(&["kube", "generate", "-f", &file.display().to_string(), &name]);
    assert_eq!(fs::read_to_string(&file).unwrap(), yaml);

    c.remove(&name, true, Some(0)).await.unwrap();
    let played = ctl_ok(&["kube", "play", &file.display().to_string()]);
    let new = format!("{name}-pod-{name}");
    assert_eq!(played.lines().collect::<Vec<_>>(), [new.as_str()]);
    wait_running(&c, &new).await;
    let after = c.info(&new).await.unwrap();
    assert_eq!(after.spec, before.spec, "{yaml}");
    assert_eq!(after.image, before.image);

    // A second play of the same file finds its containers there.
    let e = c.kube_play(&yaml).await.unwrap_err();
    assert_eq!(e.name(), "ContainerExists", "{e}");

    let down = ctl_ok(&["kube", "down", &file.display().to_string()]);
    assert_eq!(down.lines().collect::<Vec<_>>(), [new.as_str()]);
    assert!(!exists(&c, &new).await);
    assert!(volume_exists(&c, &format!("{name}-data")).await, "kube down keeps claims");
    let e = c.kube_generate(&[], "deployment", None).await.unwrap_err();
    assert_eq!(e.name(), "InvalidArgument", "no containers: {e}");
    c.remove_volume(&format!("{name}-data"), false).await.unwrap();
}

const MANIFEST: &str = r#"
apiVersion: v1
kind: ConfigMap
metadata:
  name: NAME-settings
data:
  GREETING: hello
  MODE: fast
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: NAME-shared
spec:
  accessModes: [ReadWriteOnce]
  resources:
    requests:
      storage: 1Gi
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: NAME
spec:
  replicas: 3
  selector:
    matchLabels: {app: NAME}
  template:
    metadata:
      labels: {app: NAME}
    spec:
      restartPolicy: Always
      containers:
      - name: worker
        image: localhost/kube-m:1
        command: [/bin/sh, -c]
        args: ["echo $GREETING $CFG_MODE > /data/$(hostname); sleep 1000"]
        env:
        - name: GREETING
          valueFrom:
            configMapKeyRef: {name: NAME-settings, key: GREETING}
        envFrom:
        - configMapRef: {name: NAME-settings}
          prefix: CFG_
        resources:
          limits: {memory: 64Mi, cpu: 250m}
        volumeMounts:
        - {name: data, mountPath: /data}
        - {name: scratch, mountPath: /scratch}
      volumes:
      - name: data
        persistentVolumeClaim: {claimName: NAME-shared}
      - name: scratch
        emptyDir: {}
"#;

#[tokio::test]
async fn a_manifest_with_configmap_deployment_and_claim_plays_and_runs() {
    let _g = daemon_lock().read().await;
    let c = client_with_image("localhost/kube-m:1").await;
    let name = common::unique("km");
    let yaml = MANIFEST.replace("NAME", &name);
    let names = c.kube_play(&yaml).await.unwrap();
    let want: Vec<String> = (0..3).map(|i| format!("{name}-pod-{i}-worker")).collect();
    assert_eq!(names, want);
    for n in &names {
        wait_running(&c, n).await;
        let info = c.info(n).await.unwrap();
        assert_eq!(info.spec.env, ["CFG_GREETING=hello", "CFG_MODE=fast", "GREETING=hello"]);
        assert_eq!(info.spec.resources.memory_max, Some(64 << 20));
        assert_eq!(info.spec.resources.cpu_quota, Some(25));
    }
    assert!(volume_exists(&c, &format!("{name}-shared")).await);
    for i in 0..3 {
        assert!(volume_exists(&c, &format!("{name}-pod-{i}-scratch")).await);
    }
    // Each replica wrote into the shared claim.
    let mountpoint = c.inspect_volume(&format!("{name}-shared")).await.unwrap().mountpoint;
    common::wait_until(std::time::Duration::from_secs(10), || fs::read_dir(&mountpoint).map(|d| d.count()).unwrap_or(0) == 3);
    for e in fs::read_dir(&mountpoint).unwrap() {
        assert_eq!(fs::read_to_string(e.unwrap().path()).unwrap(), "hello fast\n");
    }

    let down = c.kube_down(&yaml).await.unwrap();
    assert_eq!(down, want);
    for n in &want {
        assert!(!exists(&c, n).await, "{n}");
    }
    for i in 0..3 {
        assert!(!volume_exists(&c, &format!("{name}-pod-{i}-scratch")).await, "emptyDir volumes go with down");
    }
    assert!(volume_exists(&c, &format!("{name}-shared")).await, "claims stay");
    c.remove_volume(&format!("{name}-shared"), false).await.unwrap();
}

#[tokio::test]
async fn unsupported_or_failing_manifests_create_nothing() {
    let _g = daemon_lock().read().await;
    let c = client_with_image("localhost/kube-m:1").await;
    let name = common::unique("kbad");
    let good = MANIFEST.replace("NAME", &name);
    // Other tests run at the same time: count only this test's names.
    let ours = |n: &str| n.starts_with(name.as_str());
    let containers = || async { c.list().await.unwrap().into_iter().filter(|l| ours(&l.name)).count() };
    let volumes = || async { c.list_volumes().await.unwrap().into_iter().filter(|v| ours(&v.name)).count() };
    let service = format!("{good}---\napiVersion: v1\nkind: Service\nmetadata: {{name: {name}}}\nspec:\n  ports: [{{port: 80}}]\n");
    let e = c.kube_play(&service).await.unwrap_err();
    assert_eq!(e.name(), "KubeUnsupported", "{e}");
    assert!(e.to_string().contains("Service"), "{e}");
    let init = good.replace("      containers:\n", "      initContainers:\n      - {name: init, image: localhost/kube-m:1}\n      containers:\n");
    let e = c.kube_play(&init).await.unwrap_err();
    assert_eq!(e.name(), "KubeUnsupported", "{e}");
    assert!(e.to_string().contains("spec.template.spec.initContainers"), "{e}");
    let unknown = good.replace("        image: localhost", "        imagePolicy: x\n        image: localhost");
    let e = c.kube_play(&unknown).await.unwrap_err();
    assert_eq!(e.name(), "KubeInvalid", "{e}");
    assert!(e.to_string().contains("imagePolicy"), "{e}");
    let no_image = good.replace("localhost/kube-m:1", "localhost/kube-none:1");
    assert_eq!(c.kube_play(&no_image).await.unwrap_err().name(), "NoSuchImage");
    let o = ctl(&["kube", "play", "-"]);
    assert!(!o.status.success());

    // The third replica's host port is taken: the play fails after making
    // two, and removes them and its volumes again.
    let blocker = format!("{name}-blocker");
    let o = options(vec![
        ("Image", OptionValue::Str("localhost/kube-m:1".into())),
        ("Command", strs(&["sleep", "1000"])),
        ("Ports", strs(&["127.0.0.1:18432:80"])),
    ]);
    c.create(&blocker, &o).await.unwrap();
    c.start(&blocker, false).await.unwrap();
    let pods = format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}-a}}\nspec:\n  containers:\n  - {{name: c, image: localhost/kube-m:1, command: [sleep, '1000']}}\n  volumes:\n  - {{name: s, emptyDir: {{}}}}\n---\n\
         apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}-b}}\nspec:\n  containers:\n  - {{name: c, image: localhost/kube-m:1, command: [sleep, '1000'], ports: [{{containerPort: 80, hostPort: 18432, hostIP: 127.0.0.1}}]}}\n"
    );
    let e = c.kube_play(&pods).await.unwrap_err();
    assert_eq!(e.name(), "PortInUse", "{e}");
    c.remove(&blocker, true, Some(0)).await.unwrap();
    assert_eq!(containers().await, 0, "nothing of the failed plays is left");
    assert_eq!(volumes().await, 0);
}

/// podman with its storage under `root` and a short runroot.
fn podman(root: &Path, args: &[&str]) -> Output {
    let runroot = format!("/run/kp-{}", std::process::id());
    let storage = root.join("storage").display().to_string();
    let tmp = root.join("tmp");
    fs::create_dir_all(&tmp).unwrap();
    let base = ["--root", &storage, "--runroot", &runroot, "--storage-driver", "vfs", "--events-backend", "file", "--cgroup-manager", "systemd"];
    // A pod's infra container from the test image: podman would build its
    // pause image from catatonit, which the sandbox lacks.
    let conf = root.join("containers.conf");
    fs::write(&conf, "[engine]\ninfra_image = \"localhost/kube-pause:1\"\n").unwrap();
    Command::new("podman").args(base).args(args).env("TMPDIR", &tmp).env("CONTAINERS_CONF", &conf).output().unwrap()
}

fn podman_ok(root: &Path, args: &[&str]) -> String {
    let o = podman(root, args);
    assert!(o.status.success(), "podman {args:?}: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[tokio::test]
async fn podman_yaml_plays_under_berth_and_berth_yaml_under_podman() {
    let _g = daemon_lock().read().await;
    let image = "localhost/kube-pm:1";
    let c = client_with_image(image).await;
    let dir = tempfile::tempdir_in(env!("CARGO_MANIFEST_DIR").to_string() + "/target").unwrap();
    let tar = rootfs_tar(dir.path());
    podman_ok(dir.path(), &["import", &tar.display().to_string(), image]);
    podman_ok(dir.path(), &["import", "--change", "CMD [\"/bin/sleep\", \"1000000\"]", &tar.display().to_string(), "localhost/kube-pause:1"]);
    let name = common::unique("kpm");

    // podman's YAML under berth.
    podman_ok(dir.path(), &["create", "--name", &name, "-e", "A=1", "-w", "/tmp", "--memory", "64m", image, "sleep", "1000"]);
    let yaml = podman_ok(dir.path(), &["kube", "generate", &name]);
    let names = c.kube_play(&yaml).await.unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    let new = format!("{name}-pod-{name}");
    assert_eq!(names, [new.clone()]);
    wait_running(&c, &new).await;
    let info = c.info(&new).await.unwrap();
    // podman writes the whole argv as command (the image has no Entrypoint).
    assert_eq!(info.spec.argv(&[], &[]), ["sleep", "1000"]);
    assert!(info.spec.env.contains(&"A=1".to_string()), "{:?}", info.spec.env);
    assert_eq!(info.spec.working_dir.as_deref(), Some(Path::new("/tmp")));
    assert_eq!(info.spec.resources.memory_max, Some(64 << 20));
    assert_eq!(c.kube_down(&yaml).await.unwrap(), [new]);
    podman_ok(dir.path(), &["rm", "-f", &name]);

    // berth's YAML under podman.
    let o = options(vec![
        ("Image", OptionValue::Str(image.into())),
        ("Command", strs(&["sleep", "1000"])),
        ("Env", strs(&["B=2"])),
        ("WorkingDir", OptionValue::Str("/tmp".into())),
        ("StopSignal", OptionValue::Str("SIGINT".into())),
    ]);
    c.create(&name, &o).await.unwrap();
    let yaml = c.kube_generate(&[name.clone()], "pod", None).await.unwrap();
    c.remove(&name, true, Some(0)).await.unwrap();
    let file = dir.path().join("berth.yaml");
    fs::write(&file, &yaml).unwrap();
    let o = podman(dir.path(), &["kube", "play", "--start=false", &file.display().to_string()]);
    assert!(o.status.success(), "podman kube play: {}\n{yaml}", String::from_utf8_lossy(&o.stderr));
    let cfg = podman_ok(dir.path(), &["inspect", "--format", "{{.Path}} {{.Args}} {{.Config.WorkingDir}} {{.Config.Env}}", &format!("{name}-pod-{name}")]);
    assert!(cfg.starts_with("sleep [1000] /tmp ") && cfg.contains("B=2"), "{cfg}\n{yaml}");
    podman_ok(dir.path(), &["kube", "down", &file.display().to_string()]);
    let _ = podman(dir.path(), &["system", "reset", "-f"]);
}
