//! OCI runtime command lines, as pure functions so that they are tested
//! without running anything.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// How to call one OCI runtime.
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
pub struct Runtime {
    #[arg(long = "runtime")]
    pub program: PathBuf,
    /// The runtime's state directory (`--root`).
    #[arg(long = "runtime-root")]
    pub root: PathBuf,
    /// runc has no "disabled" cgroup manager; crun keeps the container in
    /// the caller's cgroup with `--cgroup-manager=disabled`.
    #[arg(long)]
    pub runc: bool,
}

impl Runtime {
    fn global(&self) -> Vec<OsString> {
        let mut v: Vec<OsString> = vec!["--root".into(), self.root.clone().into()];
        if !self.runc {
            v.push("--cgroup-manager=disabled".into());
        }
        v
    }

    /// `run` in the foreground: the runtime waits for the container's init
    /// and exits with its status (128+N when a signal killed it). With a
    /// terminal, the runtime sends its master to `console_socket`.
    pub fn run_args(&self, bundle: &Path, pid_file: &Path, id: &str, console_socket: Option<&Path>) -> Vec<OsString> {
        let mut v = self.global();
        v.extend(["run".into(), "--bundle".into(), bundle.into(), "--pid-file".into(), pid_file.into()]);
        if let Some(s) = console_socket {
            v.extend(["--console-socket".into(), s.into()]);
        }
        v.push(id.into());
        v
    }

    /// `exec` in the foreground of the process in `process_json`: the
    /// runtime exits with the process's status, or 255 when it could not
    /// start it (then it says why in `log`, as JSON lines).
    pub fn exec_args(&self, id: &str, process_json: &Path, pid_file: &Path, log: &Path, console_socket: Option<&Path>) -> Vec<OsString> {
        let mut v = self.global();
        let mut log_arg = OsString::from("--log=");
        log_arg.push(log);
        v.extend([log_arg, "--log-format=json".into()]);
        v.extend(["exec".into(), "--process".into(), process_json.into(), "--pid-file".into(), pid_file.into()]);
        if let Some(s) = console_socket {
            v.extend(["--console-socket".into(), s.into()]);
        }
        v.push(id.into());
        v
    }

    pub fn kill_args(&self, id: &str, signal: i32) -> Vec<OsString> {
        let mut v = self.global();
        v.extend(["kill".into(), id.into(), signal.to_string().into()]);
        v
    }

    pub fn delete_args(&self, id: &str) -> Vec<OsString> {
        let mut v = self.global();
        v.extend(["delete".into(), "--force".into(), id.into()]);
        v
    }

    /// The runtime keeps state for `id` (left over when it was killed).
    pub fn state_dir(&self, id: &str) -> PathBuf {
        self.root.join(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: Vec<OsString>) -> Vec<String> {
        v.into_iter().map(|x| x.into_string().unwrap()).collect()
    }

    #[test]
    fn crun_runs_in_the_callers_cgroup() {
        let r = Runtime { program: "crun".into(), root: "/run/berth/crun".into(), runc: false };
        assert_eq!(
            s(r.run_args(Path::new("/b"), Path::new("/b/pid"), "abc", None)),
            ["--root", "/run/berth/crun", "--cgroup-manager=disabled", "run", "--bundle", "/b", "--pid-file", "/b/pid", "abc"]
        );
        assert_eq!(
            s(r.run_args(Path::new("/b"), Path::new("/b/pid"), "abc", Some(Path::new("/b/console-0")))),
            [
                "--root", "/run/berth/crun", "--cgroup-manager=disabled", "run", "--bundle", "/b", "--pid-file", "/b/pid",
                "--console-socket", "/b/console-0", "abc"
            ]
        );
        assert_eq!(
            s(r.exec_args("abc", Path::new("/s/process.json"), Path::new("/s/pid"), Path::new("/s/log"), None)),
            [
                "--root", "/run/berth/crun", "--cgroup-manager=disabled", "--log=/s/log", "--log-format=json", "exec",
                "--process", "/s/process.json", "--pid-file", "/s/pid", "abc"
            ]
        );
        assert_eq!(s(r.kill_args("abc", 9)), ["--root", "/run/berth/crun", "--cgroup-manager=disabled", "kill", "abc", "9"]);
    }

    #[test]
    fn runc_has_no_disabled_cgroup_manager() {
        let r = Runtime { program: "runc".into(), root: "/run/berth/runc".into(), runc: true };
        assert_eq!(
            s(r.run_args(Path::new("/b"), Path::new("/p"), "x", None)),
            ["--root", "/run/berth/runc", "run", "--bundle", "/b", "--pid-file", "/p", "x"]
        );
        assert_eq!(s(r.delete_args("x")), ["--root", "/run/berth/runc", "delete", "--force", "x"]);
        assert_eq!(
            s(r.exec_args("x", Path::new("/p.json"), Path::new("/pid"), Path::new("/log"), Some(Path::new("/c")))),
            [
                "--root", "/run/berth/runc", "--log=/log", "--log-format=json", "exec", "--process", "/p.json", "--pid-file",
                "/pid", "--console-socket", "/c", "x"
            ]
        );
        assert_eq!(r.state_dir("x"), PathBuf::from("/run/berth/runc/x"));
    }
}
