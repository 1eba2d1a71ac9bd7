//! systemd's `bus_label_escape`: object path components from arbitrary names.

/// Bytes outside `[A-Za-z0-9]`, and a leading digit, become `_xx`; the empty
/// string becomes `_`.
pub fn escape(s: &str) -> String {
    if s.is_empty() {
        return "_".into();
    }
    let mut out = String::with_capacity(s.len() * 3);
    for (i, b) in s.bytes().enumerate() {
        if b.is_ascii_alphabetic() || (i > 0 && b.is_ascii_digit()) {
            out.push(b as char);
        } else {
            out.push_str(&format!("_{b:02x}"));
        }
    }
    out
}

pub fn unescape(s: &str) -> Option<String> {
    if s == "_" {
        return Some(String::new());
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'_' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The object path of a unit, as PID 1 names it.
pub fn unit_path(unit: &str) -> String {
    format!("/org/freedesktop/systemd1/unit/{}", escape(unit))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_systemd() {
        assert_eq!(escape("berth-web.service"), "berth_2dweb_2eservice");
        assert_eq!(escape("1a"), "_31a");
        assert_eq!(escape("a1"), "a1");
        assert_eq!(escape(""), "_");
        for s in ["berth-x_y.z.service", "0abc", "", "é"] {
            assert_eq!(unescape(&escape(s)).unwrap(), s);
        }
        assert_eq!(unit_path("dbus.service"), "/org/freedesktop/systemd1/unit/dbus_2eservice");
        assert!(unescape("_zz").is_none());
    }
}
