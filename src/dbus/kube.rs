//! The options of GenerateKube and PlayKube.

use super::options::from_variants_plain;
use crate::kube::KubeKind;
use crate::model::{Error, OptionValue, Result};
use std::collections::HashMap;
use zbus::OwnedVariant;

/// GenerateKube options: Type s ("pod" or "deployment"), PodName s.
pub fn generate_options(options: HashMap<String, OwnedVariant>) -> Result<(KubeKind, Option<String>)> {
    let (mut kind, mut pod) = (KubeKind::Pod, None);
    for (k, v) in from_variants_plain(options)? {
        match (k.as_str(), v) {
            ("Type", OptionValue::Str(t)) => {
                kind = KubeKind::parse(&t).ok_or_else(|| Error::invalid(&k, format!("{t:?} is not pod or deployment")))?
            }
            ("PodName", OptionValue::Str(n)) => pod = Some(n),
            ("Type" | "PodName", v) => return Err(Error::invalid(&k, format!("wrong type: expected 's', got '{}'", v.signature()))),
            _ => return Err(Error::invalid(&k, "unknown option (known: Type, PodName)")),
        }
    }
    Ok((kind, pod))
}

/// PlayKube options: none yet (every key is refused, so a newer caller's
/// option is never ignored).
pub fn play_options(options: HashMap<String, OwnedVariant>) -> Result<()> {
    match from_variants_plain(options)?.into_keys().next() {
        Some(k) => Err(Error::invalid(&k, "unknown option (PlayKube takes none)")),
        None => Ok(()),
    }
}
