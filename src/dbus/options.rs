//! `a{sv}` options to berth's option values, with the key named in every
//! error.

use crate::model::{Error, OptionValue, Result, OPTION_KEYS};
use std::collections::{BTreeMap, HashMap};
use zbus::OwnedVariant;

/// Where the D-Bus API takes a timeout, this means "the container's own".
pub const DEFAULT_TIMEOUT: u32 = u32::MAX;

pub fn timeout_arg(t: u32) -> Option<u32> {
    (t != DEFAULT_TIMEOUT).then_some(t)
}

fn convert(key: &str, want: &str, v: &OwnedVariant) -> Result<OptionValue> {
    let got = v.value_signature().to_string();
    if got != want {
        return Err(Error::invalid(key, format!("wrong type: expected '{want}', got '{got}'")));
    }
    let v = v.try_clone().map_err(|e| Error::Internal(e.to_string()))?;
    let bad = |e: zbus::wire::Error| Error::invalid(key, e.to_string());
    Ok(match want {
        "s" => OptionValue::Str(String::try_from(v).map_err(bad)?),
        "as" => OptionValue::StrList(Vec::<String>::try_from(v).map_err(bad)?),
        "b" => OptionValue::Bool(bool::try_from(v).map_err(bad)?),
        "u" => OptionValue::U32(u32::try_from(v).map_err(bad)?),
        "t" => OptionValue::U64(u64::try_from(v).map_err(bad)?),
        "a{ss}" => OptionValue::StrMap(HashMap::<String, String>::try_from(v).map_err(bad)?.into_iter().collect()),
        _ => unreachable!("OPTION_KEYS holds only these signatures"),
    })
}

/// Convert CreateContainer / UpdateContainer options; unknown keys and wrong
/// types are InvalidArgument naming the key.
pub fn from_variants(options: HashMap<String, OwnedVariant>) -> Result<BTreeMap<String, OptionValue>> {
    let mut out = BTreeMap::new();
    for (key, v) in &options {
        let Some((_, want)) = OPTION_KEYS.iter().find(|(k, _)| k == key) else {
            let known: Vec<&str> = OPTION_KEYS.iter().map(|(k, _)| *k).collect();
            return Err(Error::invalid(key, format!("unknown option (known: {})", known.join(", "))));
        };
        out.insert(key.clone(), convert(key, want, v)?);
    }
    Ok(out)
}

/// Logs options: Follow b, Since t, Until t (µs since the epoch), Tail t,
/// Timestamps b, Stdout b, Stderr b.
pub fn log_options(options: HashMap<String, OwnedVariant>) -> Result<crate::engine::LogOptions> {
    let mut o = crate::engine::LogOptions::default();
    for (key, v) in &options {
        let want = match key.as_str() {
            "Follow" | "Timestamps" | "Stdout" | "Stderr" => "b",
            "Since" | "Until" | "Tail" => "t",
            _ => return Err(Error::invalid(key, "unknown option (known: Follow, Since, Until, Tail, Timestamps, Stdout, Stderr)")),
        };
        match (key.as_str(), convert(key, want, v)?) {
            ("Follow", OptionValue::Bool(b)) => o.follow = b,
            ("Timestamps", OptionValue::Bool(b)) => o.timestamps = b,
            ("Stdout", OptionValue::Bool(b)) => o.stdout = b,
            ("Stderr", OptionValue::Bool(b)) => o.stderr = b,
            ("Since", OptionValue::U64(t)) => o.since = Some(t),
            ("Until", OptionValue::U64(t)) => o.until = Some(t),
            ("Tail", OptionValue::U64(t)) => o.tail = Some(t),
            _ => unreachable!("types were checked"),
        }
    }
    Ok(o)
}

#[cfg(test)]
mod tests {
    use super::*;
    use zbus::Variant;

    fn ov<'a>(v: impl Into<Variant<'a>>) -> OwnedVariant {
        OwnedVariant::try_from(v.into()).unwrap()
    }

    #[test]
    fn converts_each_type() {
        let mut m = HashMap::new();
        m.insert("Rootfs".to_string(), ov("/r".to_string()));
        m.insert("Command".to_string(), ov(vec!["sh".to_string()]));
        m.insert("Notify".to_string(), ov(true));
        m.insert("StopTimeout".to_string(), ov(5u32));
        m.insert("MemoryMax".to_string(), ov(7u64));
        let labels: HashMap<String, String> = [("a".to_string(), "b".to_string())].into();
        m.insert("Labels".to_string(), ov(labels));
        let o = from_variants(m).unwrap();
        assert_eq!(o["StopTimeout"], OptionValue::U32(5));
        assert_eq!(o["MemoryMax"], OptionValue::U64(7));
        assert!(matches!(&o["Labels"], OptionValue::StrMap(l) if l["a"] == "b"));
    }

    #[test]
    fn names_the_key() {
        for (k, v) in [("StopTimeout", ov(-1i32)), ("Bogus", ov(true)), ("Command", ov("sh".to_string()))] {
            let e = from_variants([(k.to_string(), v)].into()).unwrap_err();
            assert!(matches!(&e, Error::InvalidArgument { key, .. } if key == k), "{e}");
        }
    }
}
