//! `EnvironmentFile=` of a `[Container]`, read by berth-monitor when the container starts:
//! podman's `--env-file` format, `KEY=VALUE` lines with the value taken
//! literally, blank lines and `#` comments skipped.

use std::path::Path;

/// Largest environment file read (podman has none; a generator must).
pub const MAX_SIZE: u64 = 1 << 20;

/// The `KEY=VALUE` entries of `path`; errors name the file and its line,
/// never its content: environment files hold secrets.
pub fn read(path: &Path) -> Result<Vec<String>, String> {
    let text = crate::fsutil::regular_file(path, MAX_SIZE).map_err(|e| format!("{}: {e}", path.display()))?;
    parse(&text).map_err(|(n, m)| format!("{}:{n}: {m}", path.display()))
}

fn parse(text: &str) -> Result<Vec<String>, (usize, String)> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if line.contains('\0') {
            return Err((i + 1, "holds a NUL byte".into()));
        }
        match line.split_once('=') {
            Some((k, v)) if !k.is_empty() && !k.contains(char::is_whitespace) => out.push(format!("{k}={v}")),
            // podman would take a bare KEY from its own environment; berth
            // takes inherited names from Environment=NAME only.
            _ => return Err((i + 1, "not KEY=VALUE (the line is not shown: it may hold a secret)".into())),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_comments_and_literal_values() {
        let env = parse("# c\n\n  A=1\nB= two words \"q\" \nC=\n").unwrap();
        assert_eq!(env, ["A=1", "B= two words \"q\" ", "C="]);
    }

    #[test]
    fn errors_carry_the_line() {
        let e = parse("A=1\nhunter2\n").unwrap_err();
        assert_eq!(e.0, 2);
        assert!(!e.1.contains("hunter2"), "{e:?}");
        assert_eq!(parse("A B=1\n").unwrap_err().0, 1);
        assert_eq!(parse("=1\n").unwrap_err().0, 1);
    }
}
