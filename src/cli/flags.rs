//! berthctl's container option flags, made from the option table: every
//! entry with a [`Flag`] becomes a flag of `create` and `run` (and, for
//! resource keys, of `update`), spelled and converted as the table says.

use crate::model::{Error, Form, OptionDef, OptionValue, Result, Sig, OPTIONS};
use clap::{Arg, ArgAction, ArgMatches, Args, FromArgMatches};
use std::collections::BTreeMap;

/// The values given for the table's flags, as typed; converted by
/// [`OptionFlags::to_options`]. `RESOURCES` selects the resource keys only.
#[derive(Clone, Default)]
pub struct OptionFlags<const RESOURCES: bool> {
    given: Vec<(&'static OptionDef, Vec<String>)>,
}

/// Flags for `create` and `run`.
pub type SpecFlags = OptionFlags<false>;
/// Flags for `update`.
pub type ResourceFlags = OptionFlags<true>;

fn flagged<const RESOURCES: bool>() -> impl Iterator<Item = &'static OptionDef> {
    OPTIONS.iter().filter(|d| d.flag.is_some() && (!RESOURCES || d.resource))
}

impl<const RESOURCES: bool> std::fmt::Debug for OptionFlags<RESOURCES> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.given.iter().map(|(d, v)| (d.key, v))).finish()
    }
}

impl<const RESOURCES: bool> Args for OptionFlags<RESOURCES> {
    fn augment_args(mut cmd: clap::Command) -> clap::Command {
        for d in flagged::<RESOURCES>() {
            let f = d.flag.expect("filtered on flag");
            let mut arg = Arg::new(d.key).long(f.long).help(d.doc.to_string()).value_name(value_name(f.form));
            if let Some(s) = f.short {
                arg = arg.short(s);
            }
            arg = match f.form {
                Form::Flag => arg.action(ArgAction::SetTrue),
                // A boolean whose default is true: podman's `--read-only-tmpfs=false`.
                Form::Text if d.sig == Sig::Bool => {
                    arg.action(ArgAction::Set).num_args(0..=1).require_equals(true).default_missing_value("true")
                }
                Form::Item | Form::ItemWords | Form::Commas | Form::Pair => arg.action(ArgAction::Append),
                _ => arg.action(ArgAction::Set),
            };
            cmd = cmd.arg(arg);
        }
        cmd
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        Self::augment_args(cmd)
    }
}

fn value_name(form: Form) -> &'static str {
    match form {
        Form::Path => "PATH",
        Form::Pair => "KEY=VALUE",
        Form::Number => "N",
        Form::Size => "SIZE",
        Form::Cpus => "CPUS",
        _ => "VALUE",
    }
}

impl<const RESOURCES: bool> FromArgMatches for OptionFlags<RESOURCES> {
    fn from_arg_matches(m: &ArgMatches) -> std::result::Result<Self, clap::Error> {
        let mut given = Vec::new();
        for d in flagged::<RESOURCES>() {
            if d.flag.is_some_and(|f| f.form == Form::Flag) {
                if m.get_flag(d.key) {
                    given.push((d, vec!["true".to_string()]));
                }
            } else if let Some(v) = m.get_many::<String>(d.key) {
                given.push((d, v.cloned().collect()));
            }
        }
        Ok(OptionFlags { given })
    }

    fn update_from_arg_matches(&mut self, m: &ArgMatches) -> std::result::Result<(), clap::Error> {
        *self = Self::from_arg_matches(m)?;
        Ok(())
    }
}

/// `512m`, `1g`, `1048576`.
pub fn parse_size(s: &str, key: &str) -> Result<u64> {
    let bad = || Error::invalid(key, format!("{s:?} is not a size (bytes, or with k, m, g)"));
    let lower = s.trim().to_ascii_lowercase();
    let lower = lower.strip_suffix('b').unwrap_or(&lower);
    let (num, mult) = match lower.chars().last() {
        Some('k') => (&lower[..lower.len() - 1], 1u64 << 10),
        Some('m') => (&lower[..lower.len() - 1], 1 << 20),
        Some('g') => (&lower[..lower.len() - 1], 1 << 30),
        _ => (lower, 1),
    };
    num.parse::<u64>().ok().and_then(|n| n.checked_mul(mult)).ok_or_else(bad)
}

/// One flag's values as its option's value.
fn convert(d: &OptionDef, form: Form, values: &[String]) -> Result<OptionValue> {
    let last = values.last().map(String::as_str).unwrap_or_default();
    let number = |s: &str| s.parse::<u64>().map_err(|_| Error::invalid(d.key, format!("{s:?} is not a number")));
    Ok(match (form, d.sig) {
        (Form::Flag, _) => OptionValue::Bool(true),
        (Form::Path, _) => {
            // Relative paths are the caller's, as podman resolves them.
            let abs = std::path::absolute(last).map_err(|e| Error::invalid(d.key, e.to_string()))?;
            OptionValue::Str(abs.to_string_lossy().into_owned())
        }
        (Form::Item | Form::ItemWords, _) => OptionValue::StrList(values.to_vec()),
        (Form::Commas, _) => OptionValue::StrList(values.iter().flat_map(|v| v.split(',')).map(str::to_string).collect()),
        (Form::Pair, _) => OptionValue::StrMap(
            values.iter().map(|p| p.split_once('=').unwrap_or((p, ""))).map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        ),
        (Form::Size, _) => OptionValue::U64(parse_size(last, d.key)?),
        (Form::Argv, _) => OptionValue::StrList(crate::model::parse_argv(last, d.key)?),
        (Form::Cpus, _) => {
            let c: f64 = last.parse().map_err(|_| Error::invalid(d.key, format!("--cpus {last:?} is not a number")))?;
            if !(c > 0.0 && c <= 1024.0) {
                return Err(Error::invalid(d.key, format!("--cpus {c} is not in (0, 1024]")));
            }
            OptionValue::U32((c * 100.0).round() as u32)
        }
        (Form::Number, Sig::U32) => {
            OptionValue::U32(u32::try_from(number(last)?).map_err(|_| Error::invalid(d.key, format!("{last} is too large")))?)
        }
        (Form::Number, _) => OptionValue::U64(number(last)?),
        (Form::Text, Sig::Bool) => OptionValue::Bool(match last {
            "true" | "yes" | "1" | "on" => true,
            "false" | "no" | "0" | "off" => false,
            _ => return Err(Error::invalid(d.key, format!("{last:?} is not true or false"))),
        }),
        (Form::Text | Form::Words, _) => OptionValue::Str(last.to_string()),
    })
}

impl<const RESOURCES: bool> OptionFlags<RESOURCES> {
    pub fn is_empty(&self) -> bool {
        self.given.is_empty()
    }

    /// The option map the flags stand for.
    pub fn to_options(&self) -> Result<BTreeMap<String, OptionValue>> {
        let mut o = BTreeMap::new();
        for (d, values) in &self.given {
            let form = d.flag.expect("only flagged options are given").form;
            o.insert(d.key.to_string(), convert(d, form, values)?);
        }
        Ok(o)
    }

    /// The long names of the flags, for help texts.
    pub fn names() -> Vec<String> {
        flagged::<RESOURCES>().map(|d| format!("--{}", d.flag.expect("flagged").long)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct T {
        #[command(flatten)]
        flags: SpecFlags,
    }

    #[test]
    fn flags_map_to_option_keys() {
        let t = T::try_parse_from([
            "t", "-e", "A=1", "-e", "B=2", "--notify", "--stop-signal", "INT", "--stop-timeout", "3", "--restart", "always",
            "--requires", "db,cache", "-l", "k=v", "-v", "/a:/b:ro", "--read-only", "--network", "host", "--runtime", "runc",
            "-m", "1g", "--pids-limit", "9", "--cpus", "1.5",
        ])
        .unwrap();
        let o = t.flags.to_options().unwrap();
        assert_eq!(o["Env"], OptionValue::StrList(vec!["A=1".into(), "B=2".into()]));
        assert_eq!(o["Dependencies"], OptionValue::StrList(vec!["db".into(), "cache".into()]));
        assert_eq!(o["CPUQuota"], OptionValue::U32(150));
        assert_eq!(o["MemoryMax"], OptionValue::U64(1 << 30));
        assert_eq!(o["StopTimeout"], OptionValue::U32(3));
        assert_eq!(o["Notify"], OptionValue::Bool(true));
        for (k, v) in &o {
            crate::model::validate_option(k, v).unwrap();
        }
    }

    #[test]
    fn podman_spellings_of_the_process_options() {
        let t = T::try_parse_from([
            "t", "--no-new-privileges=false", "--read-only-tmpfs", "--tz", "UTC", "--ulimit", "nofile=10:20", "--ulimit",
            "core=-1", "--device", "/dev/fuse",
        ])
        .unwrap();
        let o = t.flags.to_options().unwrap();
        assert_eq!((&o["NoNewPrivileges"], &o["ReadOnlyTmpfs"]), (&OptionValue::Bool(false), &OptionValue::Bool(true)));
        assert_eq!(o["Ulimits"], OptionValue::StrList(vec!["nofile=10:20".into(), "core=-1".into()]));
        assert_eq!((&o["Timezone"], &o["Devices"]), (&OptionValue::Str("UTC".into()), &OptionValue::StrList(vec!["/dev/fuse".into()])));
        let t = T::try_parse_from(["t", "--no-new-privileges=maybe"]).unwrap();
        assert_eq!(t.flags.to_options().unwrap_err().key(), Some("NoNewPrivileges"));
    }

    #[test]
    fn bad_values_name_their_key() {
        let t = T::try_parse_from(["t", "-m", "lots"]).unwrap();
        assert_eq!(t.flags.to_options().unwrap_err().key(), Some("MemoryMax"));
        let t = T::try_parse_from(["t", "--cpus", "0"]).unwrap();
        assert_eq!(t.flags.to_options().unwrap_err().key(), Some("CPUQuota"));
        assert_eq!(parse_size("512m", "k").unwrap(), 512 << 20);
    }

    #[test]
    fn update_takes_resource_flags_only() {
        assert_eq!(ResourceFlags::names(), ["--memory", "--pids-limit", "--cpu-weight", "--cpus"]);
    }
}
