//! What a file-defined container takes from its unit when it starts
//! ([`StartEnv`]): podman reads `--env-file` and expands `${VAR}` on its
//! command line at `podman run`, so berth-monitor does the same in
//! `run-spec`, with the unit's environment (systemd's `Environment=` and
//! `EnvironmentFile=` of `[Service]`) as its own.

use crate::model::{validate_option, ContainerSpec, Error, OptionValue, Result, StartEnv};

/// The spec's environment and command as this start sees them: the
/// environment files' entries first (so `Environment=` wins, as in podman),
/// then `Environment=` with `${VAR}` expanded, then the inherited names that
/// `env` knows. A missing or bad file fails the start.
pub fn apply(spec: &mut ContainerSpec, start: &StartEnv, env: &dyn Fn(&str) -> Option<String>) -> Result<()> {
    let mut out = Vec::new();
    for f in &start.env_files {
        if f.optional && std::fs::symlink_metadata(&f.path).is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound) {
            continue;
        }
        out.extend(crate::model::envfile::read(&f.path).map_err(|m| Error::invalid("EnvironmentFile", m))?);
    }
    if start.expand {
        spec.env = spec.env.iter().map(|e| expand_word(e, env)).collect();
        spec.command = expand_argv(&spec.command, env);
        spec.entrypoint = spec.entrypoint.as_ref().map(|a| expand_argv(a, env));
    }
    out.append(&mut spec.env);
    out.extend(start.inherit.iter().filter_map(|n| env(n).map(|v| format!("{n}={v}"))));
    validate_option("Env", &OptionValue::StrList(out.clone()))?;
    spec.env = out;
    Ok(())
}

/// systemd's replace_env(): `${NAME}` is NAME's value (nothing when
/// unset), `$$` is `$`; any other `$` stays.
pub fn expand_word(word: &str, env: &dyn Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(word.len());
    let mut rest = word;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(r) = after.strip_prefix('$') {
            out.push('$');
            rest = r;
        } else if let Some((name, r)) = after.strip_prefix('{').and_then(|a| a.split_once('}')) {
            out.push_str(&env(name).unwrap_or_default());
            rest = r;
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// systemd's replace_env_argv(): a word that is exactly `$NAME` becomes
/// NAME's value split at whitespace (no word when unset); the others go
/// through [`expand_word`].
pub fn expand_argv(argv: &[String], env: &dyn Fn(&str) -> Option<String>) -> Vec<String> {
    let mut out = Vec::with_capacity(argv.len());
    for w in argv {
        match w.strip_prefix('$').filter(|n| is_env_name(n)) {
            Some(name) => out.extend(env(name).unwrap_or_default().split_whitespace().map(str::to_string)),
            None => out.push(expand_word(w, env)),
        }
    }
    out
}

/// systemd's env_name_is_valid(): `[A-Za-z_][A-Za-z0-9_]*`.
pub fn is_env_name(n: &str) -> bool {
    let mut b = n.bytes();
    b.next().is_some_and(|c| c.is_ascii_alphabetic() || c == b'_') && b.all(|c| c.is_ascii_alphanumeric() || c == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::EnvFile;

    fn env(k: &str) -> Option<String> {
        match k {
            "HOME" => Some("/root".into()),
            "ARGS" => Some(" -a  -b ".into()),
            "SPACE" => Some("a b".into()),
            _ => None,
        }
    }

    #[test]
    fn words_expand_as_systemd_does() {
        assert_eq!(expand_word("A=${HOME}/x $HOME $$HOME ${NOPE}. $", &env), "A=/root/x $HOME $HOME . $");
        assert_eq!(expand_word("${unterminated", &env), "${unterminated");
        let argv: Vec<String> = ["/bin/x", "$ARGS", "${SPACE}", "$NOPE", "pre$HOME", "$$"].map(String::from).into();
        assert_eq!(expand_argv(&argv, &env), ["/bin/x", "-a", "-b", "a b", "pre$HOME", "$"]);
    }

    fn spec() -> ContainerSpec {
        let o = [
            ("Rootfs".to_string(), OptionValue::Str("/r".into())),
            ("Command".to_string(), OptionValue::StrList(vec!["/bin/echo".into(), "$HOME".into()])),
            ("Env".to_string(), OptionValue::StrList(vec!["A=env".into(), "H=${HOME}".into()])),
        ];
        ContainerSpec::from_options(&o.into_iter().collect()).unwrap()
    }

    #[test]
    fn files_then_environment_then_inherited() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("a.env"), "A=file\nB=${HOME}\n").unwrap();
        let start = StartEnv {
            env_files: vec![
                EnvFile { path: d.path().join("a.env"), optional: false },
                EnvFile { path: d.path().join("missing.env"), optional: true },
            ],
            inherit: vec!["HOME".into(), "NOPE".into()],
            expand: true,
        };
        let mut s = spec();
        apply(&mut s, &start, &env).unwrap();
        assert_eq!(s.env, ["A=file", "B=${HOME}", "A=env", "H=/root", "HOME=/root"]);
        assert_eq!(s.command, ["/bin/echo", "/root"]);
        // Without `expand` nothing is touched.
        let mut s = spec();
        apply(&mut s, &StartEnv::default(), &env).unwrap();
        assert_eq!((s.env[1].as_str(), s.command[1].as_str()), ("H=${HOME}", "$HOME"));
    }

    #[test]
    fn a_missing_or_bad_file_fails_the_start() {
        let d = tempfile::tempdir().unwrap();
        let start = |p: &str| StartEnv { env_files: vec![EnvFile { path: d.path().join(p), optional: false }], ..Default::default() };
        let e = apply(&mut spec(), &start("missing.env"), &env).unwrap_err().to_string();
        assert!(e.contains("missing.env") && e.contains("EnvironmentFile"), "{e}");
        std::fs::write(d.path().join("bad.env"), "A=1\nsecret-line\n").unwrap();
        let e = apply(&mut spec(), &start("bad.env"), &env).unwrap_err().to_string();
        assert!(e.contains("bad.env:2") && !e.contains("secret-line"), "{e}");
        nix::unistd::mkfifo(&d.path().join("fifo.env"), nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        let e = apply(&mut spec(), &start("fifo.env"), &env).unwrap_err().to_string();
        assert!(e.contains("not a regular file"), "{e}");
    }
}
