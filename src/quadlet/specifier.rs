//! `%` specifiers in `[Container]` values. systemd expands specifiers in
//! what it reads, but `[Container]` values reach the container through the
//! spec file, which systemd never reads. So the generator expands those
//! whose value is fixed for a system unit, and refuses the others rather
//! than hand a literal `%x` to the container.

/// Expand the specifiers of `value` for unit `<unit>.service`.
pub fn expand(value: &str, unit: &str) -> Result<String, String> {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let Some(s) = chars.next() else {
            return Err("a lone % at the end (write %% for a literal %)".into());
        };
        match fixed(s, unit) {
            Some(v) => out.push_str(&v),
            None => {
                return Err(format!(
                    "specifier %{s} is not supported here (only %n %N %p %h %u %U %g %G %t %S %C %L %E %T %V and %%)"
                ))
            }
        }
    }
    Ok(out)
}

/// The specifiers whose value a system unit without instance knows in
/// advance (systemd.unit(5), "Specifiers", for the system manager).
fn fixed(c: char, unit: &str) -> Option<String> {
    let v = match c {
        '%' => "%",
        'n' => return Some(format!("{unit}.service")),
        'N' | 'p' => unit,
        'h' => "/root",
        'u' | 'g' => "root",
        'U' | 'G' => "0",
        't' => "/run",
        'S' => "/var/lib",
        'C' => "/var/cache",
        'L' => "/var/log",
        'E' => "/etc",
        'T' => "/tmp",
        'V' => "/var/tmp",
        _ => return None,
    };
    Some(v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_fixed_specifiers() {
        assert_eq!(expand("%n %N %p 100%% %t/x %S", "web").unwrap(), "web.service web web 100% /run/x /var/lib");
        assert_eq!(expand("plain", "web").unwrap(), "plain");
    }

    #[test]
    fn refuses_the_others() {
        assert!(expand("%i", "web").unwrap_err().starts_with("specifier %i is not supported"));
        assert!(expand("%H", "web").is_err());
        assert!(expand("50%", "web").unwrap_err().contains("lone %"));
    }
}
