//! Exec sessions (podman exec): a process started in a running container
//! beside its init. [`ExecConfig`] is what `ExecCreate` takes, checked by
//! the one table [`EXEC_OPTIONS`] (D-Bus a{sv} keys, the C API's and
//! berthctl's flags map onto it); [`ExecSessionInfo`] is what berthd tells
//! of a session (ExecInspect, ExecList), serialised like ContainerInfo.

use super::options::{OptionValue, Sig};
use super::spec::{check_abs_path, no_nul, parse_user};
use super::{Error, Result, Usec};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

/// Exit code of an exec whose command does not exist (podman's).
pub const EXEC_NOT_FOUND: i32 = 127;
/// Exit code of an exec whose command cannot be executed (podman's).
pub const EXEC_NOT_EXECUTABLE: i32 = 126;

/// What one exec session runs, and how.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ExecConfig {
    pub command: Vec<String>,
    /// `KEY=VALUE` entries over the container's environment.
    #[serde(default)]
    pub env: Vec<String>,
    /// (uid, gid); None: the container's user.
    pub user: Option<(u32, u32)>,
    /// None: the container's working directory.
    pub working_dir: Option<PathBuf>,
    /// A pseudo-terminal for the process.
    pub terminal: bool,
    /// Its stdin stays open for the attached caller (else /dev/null).
    pub interactive: bool,
    /// Every capability, not only the container's.
    pub privileged: bool,
}

/// One key of ExecCreate's options.
pub struct ExecOptionDef {
    pub key: &'static str,
    pub sig: Sig,
    pub doc: &'static str,
    pub apply: fn(&mut ExecConfig, &OptionValue) -> Result<()>,
}

fn wrong_type(key: &str, want: Sig, got: &OptionValue) -> Error {
    Error::invalid(key, format!("wrong type: expected '{}', got '{}'", want.as_str(), got.signature()))
}

fn text<'a>(key: &str, v: &'a OptionValue) -> Result<&'a str> {
    match v {
        OptionValue::Str(s) => Ok(s),
        v => Err(wrong_type(key, Sig::Str, v)),
    }
}

fn list<'a>(key: &str, v: &'a OptionValue) -> Result<&'a [String]> {
    match v {
        OptionValue::StrList(l) => Ok(l),
        v => Err(wrong_type(key, Sig::StrList, v)),
    }
}

fn boolean(key: &str, v: &OptionValue) -> Result<bool> {
    match v {
        OptionValue::Bool(b) => Ok(*b),
        v => Err(wrong_type(key, Sig::Bool, v)),
    }
}

/// Every ExecCreate option key.
pub static EXEC_OPTIONS: [ExecOptionDef; 7] = [
    ExecOptionDef {
        key: "Command",
        sig: Sig::StrList,
        doc: "argv of the process; required",
        apply: |c, v| {
            let cmd = list("Command", v)?;
            if cmd.is_empty() || cmd[0].is_empty() {
                return Err(Error::invalid("Command", "must name a program to run"));
            }
            cmd.iter().try_for_each(|a| no_nul("Command", a))?;
            c.command = cmd.to_vec();
            Ok(())
        },
    },
    ExecOptionDef {
        key: "Env",
        sig: Sig::StrList,
        doc: "environment entries KEY=VALUE, over the container's",
        apply: |c, v| {
            let env = list("Env", v)?;
            for e in env {
                no_nul("Env", e)?;
                if !e.split_once('=').is_some_and(|(k, _)| !k.is_empty()) {
                    return Err(Error::invalid("Env", format!("{e:?} is not KEY=VALUE")));
                }
            }
            c.env = env.to_vec();
            Ok(())
        },
    },
    ExecOptionDef {
        key: "User",
        sig: Sig::Str,
        doc: "uid[:gid] to run as (default: the container's)",
        apply: |c, v| {
            c.user = Some(parse_user(text("User", v)?)?);
            Ok(())
        },
    },
    ExecOptionDef {
        key: "WorkingDir",
        sig: Sig::Str,
        doc: "working directory (absolute; default: the container's)",
        apply: |c, v| {
            let p = text("WorkingDir", v)?;
            check_abs_path(p, "WorkingDir")?;
            c.working_dir = Some(p.into());
            Ok(())
        },
    },
    ExecOptionDef {
        key: "Terminal",
        sig: Sig::Bool,
        doc: "a pseudo-terminal for the process",
        apply: |c, v| {
            c.terminal = boolean("Terminal", v)?;
            Ok(())
        },
    },
    ExecOptionDef {
        key: "Interactive",
        sig: Sig::Bool,
        doc: "keep its stdin open for the attached caller (default: /dev/null)",
        apply: |c, v| {
            c.interactive = boolean("Interactive", v)?;
            Ok(())
        },
    },
    ExecOptionDef {
        key: "Privileged",
        sig: Sig::Bool,
        doc: "every capability, not only the container's",
        apply: |c, v| {
            c.privileged = boolean("Privileged", v)?;
            Ok(())
        },
    },
];

impl ExecConfig {
    /// Build a config from ExecCreate's options: every key known and valid,
    /// Command present.
    pub fn from_options(options: &BTreeMap<String, OptionValue>) -> Result<Self> {
        let mut c = ExecConfig::default();
        for (key, v) in options {
            let def = EXEC_OPTIONS.iter().find(|d| d.key == key).ok_or_else(|| {
                let known: Vec<&str> = EXEC_OPTIONS.iter().map(|d| d.key).collect();
                Error::invalid(key, format!("unknown exec option (known: {})", known.join(", ")))
            })?;
            if v.sig() != def.sig {
                return Err(wrong_type(key, def.sig, v));
            }
            (def.apply)(&mut c, v)?;
        }
        if c.command.is_empty() {
            return Err(Error::invalid("Command", "is required"));
        }
        Ok(c)
    }

    /// The options that give this config back (what a client sends).
    pub fn to_options(&self) -> BTreeMap<String, OptionValue> {
        let mut o = BTreeMap::from([
            ("Command".to_string(), OptionValue::StrList(self.command.clone())),
            ("Terminal".to_string(), OptionValue::Bool(self.terminal)),
            ("Interactive".to_string(), OptionValue::Bool(self.interactive)),
            ("Privileged".to_string(), OptionValue::Bool(self.privileged)),
        ]);
        if !self.env.is_empty() {
            o.insert("Env".into(), OptionValue::StrList(self.env.clone()));
        }
        if let Some((u, g)) = self.user {
            o.insert("User".into(), OptionValue::Str(format!("{u}:{g}")));
        }
        if let Some(w) = &self.working_dir {
            o.insert("WorkingDir".into(), OptionValue::Str(w.to_string_lossy().into_owned()));
        }
        o
    }
}

/// Where an exec session is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExecState {
    /// Created; not started yet.
    Created,
    Running,
    /// Ended (or its container stopped); the exit code is known.
    Exited,
}

impl ExecState {
    pub fn as_str(self) -> &'static str {
        match self {
            ExecState::Created => "created",
            ExecState::Running => "running",
            ExecState::Exited => "exited",
        }
    }
}

impl fmt::Display for ExecState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What berthd tells of one exec session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ExecSessionInfo {
    pub id: String,
    /// The container's name.
    pub container: String,
    pub state: ExecState,
    /// The process on the host while it runs, else 0.
    pub pid: u32,
    /// -1 until the session has exited (and when its end went unrecorded).
    pub exit_code: i32,
    pub created_at: Usec,
    pub started_at: Usec,
    pub finished_at: Usec,
    pub config: ExecConfig,
}

impl ExecSessionInfo {
    /// Hide the environment's values (for callers other than root).
    pub fn redact(&mut self) {
        for e in &mut self.config.env {
            if let Some((k, _)) = e.split_once('=') {
                *e = format!("{k}=<hidden>");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(pairs: &[(&str, OptionValue)]) -> BTreeMap<String, OptionValue> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
    }

    fn cmd() -> (&'static str, OptionValue) {
        ("Command", OptionValue::StrList(vec!["/bin/sh".into()]))
    }

    #[test]
    fn options_round_trip() {
        let c = ExecConfig::from_options(&opts(&[
            cmd(),
            ("Env", OptionValue::StrList(vec!["A=1".into()])),
            ("User", OptionValue::Str("1000".into())),
            ("WorkingDir", OptionValue::Str("/tmp".into())),
            ("Terminal", OptionValue::Bool(true)),
            ("Interactive", OptionValue::Bool(true)),
            ("Privileged", OptionValue::Bool(true)),
        ]))
        .unwrap();
        assert_eq!(c.user, Some((1000, 1000)));
        assert!(c.terminal && c.interactive && c.privileged);
        assert_eq!(ExecConfig::from_options(&c.to_options()).unwrap(), c);
        let plain = ExecConfig::from_options(&opts(&[cmd()])).unwrap();
        assert_eq!(ExecConfig::from_options(&plain.to_options()).unwrap(), plain);
    }

    #[test]
    fn bad_options_name_their_key() {
        let cases = [
            ("Command", OptionValue::StrList(vec![])),
            ("Command", OptionValue::Str("sh".into())),
            ("Env", OptionValue::StrList(vec!["=x".into()])),
            ("User", OptionValue::Str("root".into())),
            ("WorkingDir", OptionValue::Str("rel".into())),
            ("Terminal", OptionValue::U32(1)),
            ("Rootfs", OptionValue::Str("/".into())),
        ];
        for (k, v) in cases {
            let e = ExecConfig::from_options(&opts(&[cmd(), (k, v.clone())])).unwrap_err();
            assert_eq!(e.key(), Some(k), "{k} = {v:?}: {e}");
        }
        let e = ExecConfig::from_options(&opts(&[("Terminal", OptionValue::Bool(true))])).unwrap_err();
        assert_eq!(e.key(), Some("Command"));
    }

    #[test]
    fn info_serialises_like_container_info() {
        let mut i = ExecSessionInfo {
            id: "s".into(),
            container: "c".into(),
            state: ExecState::Exited,
            pid: 0,
            exit_code: 5,
            created_at: 1,
            started_at: 2,
            finished_at: 3,
            config: ExecConfig { command: vec!["sh".into()], env: vec!["SECRET=x".into()], ..Default::default() },
        };
        let j = serde_json::to_value(&i).unwrap();
        assert_eq!((j["State"].as_str(), j["ExitCode"].as_i64()), (Some("exited"), Some(5)));
        i.redact();
        assert_eq!(i.config.env, ["SECRET=<hidden>"]);
    }
}
