//! `%` specifiers in `[Container]` values. systemd expands specifiers in
//! what it reads, but `[Container]` values reach the container through the
//! spec file, which systemd never reads. So the generator expands those
//! whose value is fixed for a system unit, and refuses the others rather
//! than hand a literal `%x` to the container.
//!
//! `unit` is the unit's name without `.service`: `web`, an instance
//! `web@blue` (whose `%i` is known) or a template `web@`, whose `%i` only
//! systemd knows when it starts an instance: a template's values keep `%i`,
//! `%I` and `%%` for berth-monitor to expand with the instance
//! ([`expand_instance`]).

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
            _ if is_template(unit) && matches!(s, 'i' | 'I' | '%') => {
                out.push('%');
                out.push(s);
            }
            Some(v) => out.push_str(&v),
            None => {
                return Err(format!(
                    "specifier %{s} is not supported here (only %n %N %p %i %I %h %u %U %g %G %t %S %C %L %E %T %V and %%)"
                ))
            }
        }
    }
    Ok(out)
}

/// A template's value for `instance`: `%i` is the instance, `%I` its
/// unescaped form, `%%` a `%` (what [`expand`] left of a template's value).
pub fn expand_instance(value: &str, instance: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        match (c, chars.clone().next()) {
            ('%', Some('i')) => out.push_str(instance),
            ('%', Some('I')) => out.push_str(&unescape(instance)),
            ('%', Some('%')) => out.push('%'),
            _ => {
                out.push(c);
                continue;
            }
        }
        chars.next();
    }
    out
}

/// `web@` names a template.
pub fn is_template(unit: &str) -> bool {
    unit.ends_with('@')
}

/// The unit's prefix (before `@`) and instance (after it; empty for a
/// template), as systemd's `%p` and `%i`.
pub fn parts(unit: &str) -> (&str, Option<&str>) {
    match unit.split_once('@') {
        Some((p, i)) => (p, Some(i)),
        None => (unit, None),
    }
}

/// systemd's unit_name_unescape(): `\xNN` is the byte NN, `-` is `/`.
pub fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |j: usize| b.get(j).and_then(|c| (*c as char).to_digit(16));
        match (b[i], b.get(i + 1), hex(i + 2), hex(i + 3)) {
            (b'\\', Some(b'x'), Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 4;
            }
            (b'-', ..) => {
                out.push(b'/');
                i += 1;
            }
            (c, ..) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The specifiers whose value a system unit knows in advance
/// (systemd.unit(5), "Specifiers", for the system manager).
fn fixed(c: char, unit: &str) -> Option<String> {
    let (prefix, instance) = parts(unit);
    let instance = instance.filter(|i| !i.is_empty());
    let v = match c {
        '%' => "%",
        'n' => return Some(format!("{unit}.service")),
        'N' => unit,
        'p' => prefix,
        'P' => return Some(unescape(prefix)),
        'i' => instance?,
        'I' => return instance.map(unescape),
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
    fn instances_know_their_instance() {
        assert_eq!(expand("%n %N %p %i %I", "web@a-b\\x2dc").unwrap(), "web@a-b\\x2dc.service web@a-b\\x2dc web a-b\\x2dc a/b-c");
        // A template's keep what only its instance knows.
        assert_eq!(expand("%p %n %i %I 100%%", "web@").unwrap(), "web web@.service %i %I 100%%");
        assert_eq!(expand_instance("/srv/%i %I 100%% %x", "a-b"), "/srv/a-b a/b 100% %x");
    }

    #[test]
    fn refuses_the_others() {
        assert!(expand("%i", "web").unwrap_err().starts_with("specifier %i is not supported"));
        assert!(expand("%H", "web").is_err());
        assert!(expand("50%", "web").unwrap_err().contains("lone %"));
    }
}
