//! `a{sv}` options to berth's option values, with the key named in every
//! error.

use crate::model::{option, Error, EventOptions, LogOptions, NetworkCreateOptions, OptionValue, Result, Sig};
use std::collections::{BTreeMap, HashMap};
use zbus::OwnedVariant;

pub use crate::model::DEFAULT_TIMEOUT;

pub fn timeout_arg(t: u32) -> Option<u32> {
    (t != DEFAULT_TIMEOUT).then_some(t)
}

fn convert(key: &str, want: Sig, v: &OwnedVariant) -> Result<OptionValue> {
    let got = v.value_signature().to_string();
    if got != want.as_str() {
        return Err(Error::invalid(key, format!("wrong type: expected '{}', got '{got}'", want.as_str())));
    }
    let v = v.try_clone().map_err(|e| Error::invalid(key, e.to_string()))?;
    let bad = |e: zbus::wire::Error| Error::invalid(key, e.to_string());
    Ok(match want {
        Sig::Str => OptionValue::Str(String::try_from(v).map_err(bad)?),
        Sig::StrList => OptionValue::StrList(Vec::<String>::try_from(v).map_err(bad)?),
        Sig::Bool => OptionValue::Bool(bool::try_from(v).map_err(bad)?),
        Sig::U32 => OptionValue::U32(u32::try_from(v).map_err(bad)?),
        Sig::U64 => OptionValue::U64(u64::try_from(v).map_err(bad)?),
        Sig::StrMap => OptionValue::StrMap(HashMap::<String, String>::try_from(v).map_err(bad)?.into_iter().collect()),
    })
}

/// Convert CreateContainer / UpdateContainer options; unknown keys and wrong
/// types are InvalidArgument naming the key.
pub fn from_variants(options: HashMap<String, OwnedVariant>) -> Result<BTreeMap<String, OptionValue>> {
    let mut out = BTreeMap::new();
    for (key, v) in &options {
        out.insert(key.clone(), convert(key, option(key)?.sig, v)?);
    }
    Ok(out)
}

/// A method's own `a{sv}` options, converted by the signature each value
/// carries (the model's parser checks keys and types).
fn plain(options: HashMap<String, OwnedVariant>) -> Result<BTreeMap<String, OptionValue>> {
    let mut out = BTreeMap::new();
    for (key, v) in &options {
        let sig = match v.value_signature().to_string().as_str() {
            "s" => Sig::Str,
            "as" => Sig::StrList,
            "b" => Sig::Bool,
            "u" => Sig::U32,
            "t" => Sig::U64,
            "a{ss}" => Sig::StrMap,
            other => return Err(Error::invalid(key, format!("unsupported type '{other}'"))),
        };
        out.insert(key.clone(), convert(key, sig, v)?);
    }
    Ok(out)
}

/// ExecCreate's options, converted by the signature each value carries
/// (the model's exec table checks keys and types).
pub fn from_variants_plain(options: HashMap<String, OwnedVariant>) -> Result<BTreeMap<String, OptionValue>> {
    plain(options)
}

/// Logs options: Follow b, Since t, Until t (µs since the epoch), Tail t,
/// Timestamps b, Stdout b, Stderr b, StreamTag b, Format s ("text" or
/// "framed": binary records, see `model::log_frame`).
pub fn log_options(options: HashMap<String, OwnedVariant>) -> Result<LogOptions> {
    LogOptions::from_options(&plain(options)?)
}

/// CreateNetwork options: Subnet s, Gateway s, Internal b, DNS b, Labels a{ss}.
pub fn network_create_options(options: HashMap<String, OwnedVariant>) -> Result<NetworkCreateOptions> {
    NetworkCreateOptions::from_options(&plain(options)?)
}

/// ImportImage options: Name s (the name of a root file system
/// tarball's image, or one more name of an archive's single image).
pub fn import_options(options: HashMap<String, OwnedVariant>) -> Result<Option<String>> {
    let mut name = None;
    for (k, v) in plain(options)? {
        match (k.as_str(), v) {
            ("Name", OptionValue::Str(n)) => name = Some(n),
            ("Name", v) => return Err(Error::invalid(&k, format!("wrong type: expected 's', got '{}'", v.signature()))),
            _ => return Err(Error::invalid(&k, "unknown option (known: Name)")),
        }
    }
    Ok(name)
}

/// CreateVolume options: Labels a{ss}.
pub fn volume_options(options: HashMap<String, OwnedVariant>) -> Result<BTreeMap<String, String>> {
    let mut labels = BTreeMap::new();
    for (k, v) in plain(options)? {
        match (k.as_str(), v) {
            ("Labels", OptionValue::StrMap(m)) => labels = m,
            ("Labels", v) => return Err(Error::invalid(&k, format!("wrong type: expected 'a{{ss}}', got '{}'", v.signature()))),
            _ => return Err(Error::invalid(&k, "unknown option (known: Labels)")),
        }
    }
    Ok(labels)
}

/// CopyFromArchive options: Chown b, Pause b, NoOverwriteDirNonDir b,
/// Rename a{ss}.
pub fn copy_options(options: HashMap<String, OwnedVariant>) -> Result<crate::model::CopyOptions> {
    crate::model::CopyOptions::from_options(&plain(options)?)
}

/// Events options: Follow b, Since t, Until t, Container s.
pub fn event_options(options: HashMap<String, OwnedVariant>) -> Result<EventOptions> {
    EventOptions::from_options(&plain(options)?)
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
    fn image_and_volume_options() {
        assert_eq!(import_options([("Name".to_string(), ov("web".to_string()))].into()).unwrap().as_deref(), Some("web"));
        assert_eq!(import_options(HashMap::new()).unwrap(), None);
        assert_eq!(import_options([("Name".to_string(), ov(1u32))].into()).unwrap_err().key(), Some("Name"));
        assert_eq!(import_options([("Tag".to_string(), ov("x".to_string()))].into()).unwrap_err().key(), Some("Tag"));
        let labels: HashMap<String, String> = [("a".to_string(), "b".to_string())].into();
        assert_eq!(volume_options([("Labels".to_string(), ov(labels))].into()).unwrap()["a"], "b");
        assert_eq!(volume_options([("Driver".to_string(), ov("local".to_string()))].into()).unwrap_err().key(), Some("Driver"));
    }

    #[test]
    fn names_the_key() {
        for (k, v) in [("StopTimeout", ov(-1i32)), ("Bogus", ov(true)), ("Command", ov("sh".to_string()))] {
            let e = from_variants([(k.to_string(), v)].into()).unwrap_err();
            assert!(matches!(&e, Error::InvalidArgument { key, .. } if key == k), "{e}");
        }
    }
}
