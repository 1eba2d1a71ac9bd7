//! An exec session for the OCI runtime: the process spec that `runtime exec
//! --process` runs (the container's environment, user, working directory
//! and capabilities, with the session's own over them), and what the
//! runtime's exit status means (podman's codes: 126, 127).

use super::bundle::{merge_env, CAPABILITIES};
use super::monitor::START_FAILURE_CODE;
use crate::model::{Error, ExecConfig, Result, EXEC_NOT_EXECUTABLE, EXEC_NOT_FOUND};
use oci_spec::runtime::{Capabilities, Capability, LinuxCapabilitiesBuilder, Process, ProcessBuilder, Spec, UserBuilder};
use std::path::Path;

fn oci(what: &'static str) -> impl Fn(oci_spec::OciSpecError) -> Error {
    move |e| Error::internal(format!("building the exec {what}: {e}"))
}

/// Every capability the kernel knows, for a privileged exec.
const ALL_CAPABILITIES: [Capability; 41] = {
    use Capability::*;
    [
        AuditControl, AuditRead, AuditWrite, BlockSuspend, Bpf, CheckpointRestore, Chown, DacOverride, DacReadSearch,
        Fowner, Fsetid, IpcLock, IpcOwner, Kill, Lease, LinuxImmutable, MacAdmin, MacOverride, Mknod, NetAdmin,
        NetBindService, NetBroadcast, NetRaw, Perfmon, Setgid, Setfcap, Setpcap, Setuid, SysAdmin, SysBoot, SysChroot,
        SysModule, SysNice, SysPacct, SysPtrace, SysRawio, SysResource, SysTime, SysTtyConfig, Syslog, WakeAlarm,
    ]
};

/// The process of exec session `exec` in a container whose init runs as
/// `init` (the process of its config.json: the spec's settings over its
/// image's, as launched): the init's environment, user, working directory
/// and capabilities, with the session's own over them.
pub fn exec_process(init: &Process, exec: &ExecConfig) -> Result<Process> {
    let env = merge_env(&[init.env().clone().unwrap_or_default(), exec.env.clone()]);
    let user = match exec.user {
        Some((uid, gid)) => UserBuilder::default().uid(uid).gid(gid).build().map_err(oci("user"))?,
        None => init.user().clone(),
    };
    let cwd = exec.working_dir.clone().unwrap_or_else(|| init.cwd().clone());
    let capabilities = match (exec.privileged, init.capabilities()) {
        (false, Some(c)) => c.clone(),
        (privileged, _) => {
            let caps: Capabilities =
                if privileged { ALL_CAPABILITIES.into_iter().collect() } else { CAPABILITIES.into_iter().collect() };
            let mut c = LinuxCapabilitiesBuilder::default()
                .bounding(caps.clone())
                .effective(caps.clone())
                .permitted(caps)
                .build()
                .map_err(oci("capabilities"))?;
            c.set_inheritable(None).set_ambient(None);
            c
        }
    };
    ProcessBuilder::default()
        .terminal(exec.terminal)
        .args(exec.command.clone())
        .env(env)
        .cwd(cwd)
        .user(user)
        // The container's NoNewPrivileges and Ulimits hold for its execs too.
        .no_new_privileges(init.no_new_privileges().unwrap_or(true))
        .capabilities(capabilities)
        .rlimits(init.rlimits().clone().unwrap_or_default())
        .build()
        .map_err(oci("process"))
}

/// The process of a running container's init, from its bundle's
/// config.json (which the runtime read to start it).
pub fn init_process(config_json: &Path) -> Result<Process> {
    let bad = |message: String| Error::Corrupt { what: "OCI config", path: config_json.into(), message };
    let bytes = std::fs::read(config_json).map_err(Error::io_at("read", config_json))?;
    let config: Spec = serde_json::from_slice(&bytes).map_err(|e| bad(e.to_string()))?;
    config.process().clone().ok_or_else(|| bad("no process".into()))
}

/// The session's exit code from the runtime's exit status and its log:
/// the command's own status, or, when the runtime could not run it (it
/// exits 255 and logs an error), 127 for a command that does not exist,
/// 126 for one that cannot be executed, 125 for any other failure.
pub fn exec_exit_code(runtime_code: i32, runtime_log: &str) -> i32 {
    if runtime_code != 255 {
        return runtime_code;
    }
    let errors: Vec<String> = runtime_log
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["level"] == "error")
        .filter_map(|v| v["msg"].as_str().map(str::to_ascii_lowercase))
        .collect();
    if errors.is_empty() {
        // The command itself exited 255.
        return 255;
    }
    let said = |needle: &str| errors.iter().any(|m| m.contains(needle));
    if said("not found") || said("no such file") {
        EXEC_NOT_FOUND
    } else if said("permission denied") || said("operation not permitted") || said("exec format error") {
        EXEC_NOT_EXECUTABLE
    } else {
        START_FAILURE_CODE
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ContainerName, ContainerSpec, OptionValue};
    use crate::runtime::bundle::{config_for, write_config};
    use crate::runtime::launch::Launch;
    use std::collections::BTreeMap;

    /// The init of a container with an image's environment under its own.
    fn init() -> Process {
        let o: BTreeMap<String, OptionValue> = [
            ("Rootfs".to_string(), OptionValue::Str("/r".into())),
            ("Command".to_string(), OptionValue::StrList(vec!["sleep".into()])),
            ("Env".to_string(), OptionValue::StrList(vec!["A=1".into(), "B=2".into()])),
            ("User".to_string(), OptionValue::Str("10:20".into())),
            ("NoNewPrivileges".to_string(), OptionValue::Bool(false)),
            ("Ulimits".to_string(), OptionValue::StrList(vec!["nofile=100:200".into()])),
        ]
        .into();
        let spec = ContainerSpec::from_options(&o).unwrap();
        let mut launch = Launch::plain(&spec);
        launch.env_layers.insert(0, vec!["PATH=/image/bin".into(), "A=0".into()]);
        launch.cwd = "/srv".into();
        launch.additional_gids = vec![7];
        let id = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        let config = config_for(&spec, &ContainerName::new("c").unwrap(), id, &launch).unwrap();
        let d = tempfile::tempdir().unwrap();
        let path = write_config(d.path(), &config).unwrap();
        init_process(&path).unwrap()
    }

    #[test]
    fn the_container_s_settings_under_the_session_s() {
        let plain = ExecConfig { command: vec!["sh".into()], ..Default::default() };
        let p = exec_process(&init(), &plain).unwrap();
        assert_eq!(p.args().as_deref().unwrap(), ["sh"]);
        assert_eq!((p.user().uid(), p.user().gid()), (10, 20));
        assert_eq!(p.user().additional_gids().as_deref(), Some(&[7][..]));
        assert_eq!(p.cwd(), Path::new("/srv"));
        assert_eq!(p.terminal(), Some(false));
        let env = p.env().clone().unwrap();
        assert!(env.contains(&"A=1".to_string()) && env.contains(&"PATH=/image/bin".to_string()), "{env:?}");
        assert_eq!(p.capabilities().as_ref().unwrap().bounding().as_ref().unwrap().len(), CAPABILITIES.len());
        // The container's NoNewPrivileges and Ulimits.
        assert_eq!(p.no_new_privileges(), Some(false));
        assert_eq!(p.rlimits().as_ref().unwrap().iter().map(|r| (r.soft(), r.hard())).collect::<Vec<_>>(), [(100, 200)]);

        let own = ExecConfig {
            command: vec!["id".into()],
            env: vec!["A=9".into()],
            user: Some((0, 0)),
            working_dir: Some("/tmp".into()),
            terminal: true,
            interactive: true,
            privileged: true,
        };
        let p = exec_process(&init(), &own).unwrap();
        assert_eq!((p.user().uid(), p.cwd().as_path(), p.terminal()), (0, Path::new("/tmp"), Some(true)));
        let env = p.env().clone().unwrap();
        assert!(env.contains(&"A=9".to_string()) && !env.contains(&"A=1".to_string()), "{env:?}");
        let caps = p.capabilities().as_ref().unwrap();
        assert!(caps.effective().as_ref().unwrap().contains(&Capability::SysAdmin));
    }

    #[test]
    fn a_config_without_a_process_is_named() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("config.json");
        std::fs::write(&path, b"{\"ociVersion\": \"1.0.2\"}").unwrap();
        let e = init_process(&path).unwrap_err();
        assert!(matches!(e, Error::Corrupt { .. }), "{e}");
        assert!(init_process(&d.path().join("none")).is_err());
    }

    #[test]
    fn exit_codes_as_podman_s() {
        let crun_missing = r#"{"msg":"executable file `/bin/nope` not found in $PATH: No such file or directory","level":"error","time":"x"}"#;
        let runc_missing = r#"{"level":"error","msg":"exec failed: unable to start container process: exec: \"/bin/nope\": stat /bin/nope: no such file or directory","time":"x"}"#;
        let crun_dir = r#"{"msg":"open executable: Operation not permitted","level":"error","time":"x"}"#;
        let runc_perm = r#"{"level":"error","msg":"exec failed: unable to start container process: exec: \"/tmp/x\": permission denied","time":"x"}"#;
        let other = r#"{"level":"error","msg":"container is not running"}"#;
        assert_eq!(exec_exit_code(5, ""), 5);
        assert_eq!(exec_exit_code(137, crun_missing), 137);
        assert_eq!(exec_exit_code(255, ""), 255, "the command's own 255");
        assert_eq!(exec_exit_code(255, "{\"level\":\"warning\",\"msg\":\"not found\"}"), 255);
        assert_eq!(exec_exit_code(255, crun_missing), 127);
        assert_eq!(exec_exit_code(255, runc_missing), 127);
        assert_eq!(exec_exit_code(255, crun_dir), 126);
        assert_eq!(exec_exit_code(255, runc_perm), 126);
        assert_eq!(exec_exit_code(255, other), 125);
    }
}
