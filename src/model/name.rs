use super::{Error, Result};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Longest container name, in bytes (podman's rule).
pub const NAME_MAX: usize = 128;

/// A valid container name: `[a-zA-Z0-9][a-zA-Z0-9_.-]*`, at most 128 bytes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ContainerName(String);

impl ContainerName {
    pub fn new(name: &str) -> Result<Self> {
        Self::check(name, "Name")?;
        Ok(ContainerName(name.to_string()))
    }

    /// Validate `name`, reporting errors against option `key`.
    pub fn check(name: &str, key: &str) -> Result<()> {
        let bad = |m: &str| Err(Error::invalid(key, format!("{m}: {name:?}")));
        if name.is_empty() {
            return bad("a container name must not be empty");
        }
        if name.len() > NAME_MAX {
            return Err(Error::invalid(
                key,
                format!("a container name is at most {NAME_MAX} bytes, this one has {}", name.len()),
            ));
        }
        let mut bytes = name.bytes();
        let first = bytes.next().unwrap();
        if !first.is_ascii_alphanumeric() {
            return bad("a container name must start with a letter or digit");
        }
        if !bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-') {
            return bad("a container name may hold only [a-zA-Z0-9_.-]");
        }
        Ok(())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The systemd unit that runs this container.
    pub fn unit(&self) -> String {
        format!("berth-{}.service", self.0)
    }
}

/// A name for a container created without one, podman-style
/// (`adjective_noun`), from two random numbers.
pub fn generated_name(a: u32, b: u32) -> ContainerName {
    const ADJECTIVES: [&str; 24] = [
        "agile", "bold", "brave", "calm", "clever", "eager", "fair", "gentle", "happy", "jolly", "keen", "kind",
        "lively", "lucid", "merry", "nimble", "proud", "quiet", "rapid", "sharp", "steady", "swift", "tidy", "witty",
    ];
    const NOUNS: [&str; 24] = [
        "anchor", "beacon", "buoy", "cabin", "capstan", "compass", "cove", "dock", "ferry", "harbor", "hull", "jetty",
        "keel", "lantern", "mast", "mooring", "pier", "quay", "rudder", "sail", "schooner", "tide", "wharf", "yawl",
    ];
    let n = format!("{}_{}", ADJECTIVES[a as usize % ADJECTIVES.len()], NOUNS[b as usize % NOUNS.len()]);
    ContainerName(n)
}

impl TryFrom<String> for ContainerName {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        Self::check(&s, "Name")?;
        Ok(ContainerName(s))
    }
}

impl From<ContainerName> for String {
    fn from(n: ContainerName) -> String {
        n.0
    }
}

impl fmt::Display for ContainerName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A new random container id: 64 lowercase hex digits.
pub fn new_id() -> String {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).expect("the kernel's random source failed");
    b.iter().map(|x| format!("{x:02x}")).collect()
}

pub fn validate_id(id: &str) -> bool {
    id.len() == 64 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The 12-digit short id podman shows and journald carries in CONTAINER_ID.
pub fn short_id(id: &str) -> &str {
    &id[..id.len().min(12)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_podman_names() {
        for n in ["a", "web", "Web-1", "x.y_z", "0abc", &"a".repeat(128)] {
            assert!(ContainerName::new(n).is_ok(), "{n}");
        }
    }

    #[test]
    fn rejects_bad_names() {
        for n in ["", "-a", "_a", ".a", "a/b", "a b", "é", "a\n", &"a".repeat(129)] {
            let e = ContainerName::new(n).unwrap_err();
            assert_eq!(e.name(), "InvalidArgument", "{n}");
            assert!(e.to_string().contains("Name"), "{e}");
        }
    }

    #[test]
    fn ids() {
        let a = new_id();
        assert!(validate_id(&a));
        assert_ne!(a, new_id());
        assert_eq!(short_id(&a).len(), 12);
        assert!(!validate_id("ABC"));
    }

    #[test]
    fn unit_name() {
        assert_eq!(ContainerName::new("web").unwrap().unit(), "berth-web.service");
    }
}
