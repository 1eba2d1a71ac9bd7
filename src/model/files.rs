//! Files in containers as the API describes them: what StatContainer
//! returns and the options of CopyFromArchive (podman's `define.FileInfo`
//! and `CopyOptions`).

use super::{Error, OptionValue, Result, Sig};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One path in a container, as StatContainer describes it (JSON,
/// PascalCase; podman's `FileInfo` fields plus the Unix view).
///
/// `Mode` holds Go's `os.FileMode` bits as podman sends them (permission
/// bits plus its type and setuid/setgid/sticky bits); `UnixMode` is the
/// file's `st_mode`. With `FollowLink`, `LinkTarget` is the absolute path
/// in the container a symlink at the path leads to and the other fields
/// describe that target; without it, the link's own text, and the fields
/// describe the link. No `LinkTarget` when the path is not a symlink.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FileInfo {
    pub name: String,
    pub size: u64,
    pub mode: u32,
    pub unix_mode: u32,
    pub uid: u32,
    pub gid: u32,
    /// Modification time: seconds since the epoch, and nanoseconds.
    pub mtime_secs: i64,
    pub mtime_nanos: u32,
    pub is_dir: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_target: Option<String>,
}

/// CopyFromArchive's options (D-Bus `a{sv}` keys in brackets).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CopyOptions {
    /// [Chown b] Own everything extracted by the container's user (its
    /// `User`, or the image's), as `podman cp` does by default; false keeps
    /// the archive's numeric owners.
    pub chown: bool,
    /// [Pause b] Freeze a running container during the copy (thawed after,
    /// whatever happens).
    pub pause: bool,
    /// [NoOverwriteDirNonDir b] Refuse to replace a directory by a
    /// non-directory or the other way round.
    pub no_overwrite_dir_nondir: bool,
    /// [Rename a{ss}] Archive paths extracted under another name (how
    /// `cp file ctr:/dir/newname` names the new file).
    pub rename: BTreeMap<String, String>,
}

/// The keys of CopyFromArchive's options, with their types.
const COPY_KEYS: [(&str, Sig); 4] =
    [("Chown", Sig::Bool), ("Pause", Sig::Bool), ("NoOverwriteDirNonDir", Sig::Bool), ("Rename", Sig::StrMap)];

impl CopyOptions {
    pub fn to_options(&self) -> BTreeMap<String, OptionValue> {
        let mut m = BTreeMap::new();
        m.insert("Chown".to_string(), OptionValue::Bool(self.chown));
        m.insert("Pause".to_string(), OptionValue::Bool(self.pause));
        m.insert("NoOverwriteDirNonDir".to_string(), OptionValue::Bool(self.no_overwrite_dir_nondir));
        if !self.rename.is_empty() {
            m.insert("Rename".to_string(), OptionValue::StrMap(self.rename.clone()));
        }
        m
    }

    /// Options as D-Bus sends them; a key missing is false (or empty).
    pub fn from_options(options: &BTreeMap<String, OptionValue>) -> Result<Self> {
        let mut o = CopyOptions::default();
        for (key, v) in options {
            let Some((_, sig)) = COPY_KEYS.iter().find(|(k, _)| k == key) else {
                let known: Vec<&str> = COPY_KEYS.iter().map(|(k, _)| *k).collect();
                return Err(Error::invalid(key, format!("unknown option (known: {})", known.join(", "))));
            };
            if v.sig() != *sig {
                return Err(Error::invalid(key, format!("wrong type: expected '{}', got '{}'", sig.as_str(), v.signature())));
            }
            match (key.as_str(), v) {
                ("Chown", OptionValue::Bool(b)) => o.chown = *b,
                ("Pause", OptionValue::Bool(b)) => o.pause = *b,
                ("NoOverwriteDirNonDir", OptionValue::Bool(b)) => o.no_overwrite_dir_nondir = *b,
                ("Rename", OptionValue::StrMap(m)) => o.rename = m.clone(),
                _ => unreachable!("the type was checked against COPY_KEYS"),
            }
        }
        Ok(o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_options_round_trip_and_name_bad_keys() {
        let o = CopyOptions { chown: true, pause: false, no_overwrite_dir_nondir: true, rename: [("a".into(), "b".into())].into() };
        assert_eq!(CopyOptions::from_options(&o.to_options()).unwrap(), o);
        assert_eq!(CopyOptions::from_options(&BTreeMap::new()).unwrap(), CopyOptions::default());
        let bad = [("Chown".to_string(), OptionValue::Str("yes".into()))].into();
        assert_eq!(CopyOptions::from_options(&bad).unwrap_err().key(), Some("Chown"));
        let bad = [("Overwrite".to_string(), OptionValue::Bool(true))].into();
        assert_eq!(CopyOptions::from_options(&bad).unwrap_err().key(), Some("Overwrite"));
    }

    #[test]
    fn file_info_is_podmans_shape() {
        let i = FileInfo {
            name: "passwd".into(),
            size: 3,
            mode: 0o644,
            unix_mode: 0o100644,
            uid: 0,
            gid: 0,
            mtime_secs: 1,
            mtime_nanos: 2,
            is_dir: false,
            link_target: None,
        };
        let j = serde_json::to_value(&i).unwrap();
        assert_eq!(j["Name"], "passwd");
        assert_eq!(j["IsDir"], false);
        assert!(j.get("LinkTarget").is_none());
        assert_eq!(serde_json::from_value::<FileInfo>(j).unwrap(), i);
    }
}
