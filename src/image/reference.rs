//! Image names and how a reference a user types finds an image, as podman
//! does it: a name without a registry domain is `localhost/NAME`, a name
//! without a tag is `NAME:latest`, and a short name is looked up first as
//! `localhost/NAME`, then as `docker.io/library/NAME`, then as any stored
//! name whose repository ends with `/NAME`.

use super::digest::is_hex64;
use super::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Longest full name (docker's limit).
const NAME_MAX: usize = 255;
/// Shortest id prefix accepted in a lookup.
pub const MIN_ID_PREFIX: usize = 3;

/// A normalized image name: `domain/path:tag`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ImageName {
    domain: String,
    path: String,
    tag: String,
}

/// How an image named without a registry domain is completed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefaultDomain {
    /// podman's rule for names users give (`tag`, `import`): `localhost/NAME`.
    Localhost,
    /// docker's rule, for names docker wrote into a docker-archive:
    /// `docker.io/library/NAME` or `docker.io/ORG/NAME`.
    DockerHub,
}

impl ImageName {
    /// A name a user gave, normalized as podman does (`localhost/`, `:latest`).
    pub fn parse(s: &str) -> Result<Self> {
        Self::parse_with(s, DefaultDomain::Localhost)
    }

    pub fn parse_with(s: &str, default: DefaultDomain) -> Result<Self> {
        let bad = |reason| Error::InvalidReference { reference: s.to_string(), reason };
        let Split { domain, path, tag } = split(s).map_err(bad)?;
        let (domain, path) = match (domain, default) {
            (Some(d), _) => (d.to_string(), path.to_string()),
            (None, DefaultDomain::Localhost) => ("localhost".to_string(), path.to_string()),
            (None, DefaultDomain::DockerHub) if path.contains('/') => ("docker.io".to_string(), path.to_string()),
            (None, DefaultDomain::DockerHub) => ("docker.io".to_string(), format!("library/{path}")),
        };
        let name = ImageName { domain, path, tag: tag.unwrap_or("latest").to_string() };
        if name.to_string().len() > NAME_MAX {
            return Err(bad("a name is at most 255 characters"));
        }
        Ok(name)
    }

    /// `domain/path`, without the tag.
    pub fn repository(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }

    pub fn domain(&self) -> &str {
        &self.domain
    }

    pub fn path(&self) -> &str {
        &self.path
    }

    pub fn tag(&self) -> &str {
        &self.tag
    }
}

impl fmt::Display for ImageName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}:{}", self.domain, self.path, self.tag)
    }
}

impl fmt::Debug for ImageName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

impl TryFrom<String> for ImageName {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        ImageName::parse(&s)
    }
}

impl From<ImageName> for String {
    fn from(n: ImageName) -> String {
        n.to_string()
    }
}

struct Split<'a> {
    domain: Option<&'a str>,
    path: &'a str,
    tag: Option<&'a str>,
}

/// Split `[domain/]path[:tag]` and check each part (the grammar of
/// github.com/distribution/reference, without digests).
fn split(s: &str) -> std::result::Result<Split<'_>, &'static str> {
    if s.is_empty() {
        return Err("a name must not be empty");
    }
    if s.contains('@') {
        return Err("digest references are not supported here; use the image id");
    }
    let last_slash = s.rfind('/').map_or(0, |i| i + 1);
    let (rest, tag) = match s[last_slash..].rfind(':') {
        Some(i) => (&s[..last_slash + i], Some(&s[last_slash + i + 1..])),
        None => (s, None),
    };
    if let Some(t) = tag {
        if !valid_tag(t) {
            return Err("a tag is [A-Za-z0-9_][A-Za-z0-9_.-]*, at most 128 characters");
        }
    }
    let (domain, path) = match rest.split_once('/') {
        Some((first, path)) if first.contains(['.', ':']) || first == "localhost" => (Some(first), path),
        _ => (None, rest),
    };
    if let Some(d) = domain {
        if !valid_domain(d) {
            return Err("invalid registry domain");
        }
    }
    if path.is_empty() || !path.split('/').all(valid_path_component) {
        return Err("a repository name is lowercase letters and digits, separated by '.', '_', '__', '-' or '/'");
    }
    Ok(Split { domain, path, tag })
}

fn valid_tag(t: &str) -> bool {
    let ok = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    !t.is_empty() && t.len() <= 128 && ok(t.as_bytes()[0]) && t.bytes().all(|b| ok(b) || b == b'.' || b == b'-')
}

fn valid_domain(d: &str) -> bool {
    let (host, port) = match d.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (d, None),
    };
    let label_ok = |l: &str| {
        !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') && !l.starts_with('-') && !l.ends_with('-')
    };
    host.split('.').all(label_ok) && port.map_or(true, |p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`
fn valid_path_component(c: &str) -> bool {
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    let mut i = 0;
    let run = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && alnum(b[*i]) {
            *i += 1;
        }
        *i > start
    };
    if !run(&mut i) {
        return false;
    }
    while i < b.len() {
        match b[i] {
            b'.' => i += 1,
            b'_' => i += if b.get(i + 1) == Some(&b'_') { 2 } else { 1 },
            b'-' => {
                while i < b.len() && b[i] == b'-' {
                    i += 1;
                }
            }
            _ => return false,
        }
        if !run(&mut i) {
            return false;
        }
    }
    true
}

/// What a reference a user typed can mean.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// A full id (`<64 hex>` or `sha256:<64 hex>`).
    Id(String),
    /// A name with a registry domain: only that name.
    Name(ImageName),
    /// A name without a domain: podman's short-name search; `id_prefix`
    /// when it also reads as an id prefix (tried when no name matches).
    Short { path: String, tag: String, id_prefix: Option<String> },
}

impl Lookup {
    pub fn parse(reference: &str) -> Result<Self> {
        let hex = reference.strip_prefix("sha256:").unwrap_or(reference);
        if is_hex64(hex) {
            return Ok(Lookup::Id(hex.to_string()));
        }
        let id_prefix = (hex.len() >= MIN_ID_PREFIX && hex.len() < 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
            .then(|| hex.to_string());
        if reference.starts_with("sha256:") {
            return match id_prefix {
                Some(p) => Ok(Lookup::Short { path: String::new(), tag: String::new(), id_prefix: Some(p) }),
                None => Err(Error::InvalidReference { reference: reference.to_string(), reason: "not an image id" }),
            };
        }
        let Split { domain, path, tag } = split(reference).map_err(|reason| Error::InvalidReference { reference: reference.to_string(), reason })?;
        match domain {
            Some(_) => Ok(Lookup::Name(ImageName::parse(reference)?)),
            None => Ok(Lookup::Short { path: path.to_string(), tag: tag.unwrap_or("latest").to_string(), id_prefix }),
        }
    }
}

/// The stored names a short name matches, in podman's order of preference:
/// the first rule that matches anything decides.
pub fn match_short<'a>(path: &str, tag: &str, names: impl Iterator<Item = &'a ImageName> + Clone) -> Vec<ImageName> {
    if path.is_empty() {
        return Vec::new();
    }
    let hub_path = if path.contains('/') { path.to_string() } else { format!("library/{path}") };
    let exact = |domain: &str, p: &str| names.clone().find(|n| n.domain == domain && n.path == p && n.tag == tag).cloned();
    if let Some(n) = exact("localhost", path) {
        return vec![n];
    }
    if let Some(n) = exact("docker.io", &hub_path) {
        return vec![n];
    }
    let suffix = format!("/{path}");
    let mut found: Vec<ImageName> = names.filter(|n| n.tag == tag && n.repository().ends_with(&suffix)).cloned().collect();
    found.sort();
    found.dedup();
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> String {
        ImageName::parse(s).unwrap().to_string()
    }

    #[test]
    fn normalizes_like_podman() {
        assert_eq!(n("foo"), "localhost/foo:latest");
        assert_eq!(n("foo:1.0"), "localhost/foo:1.0");
        assert_eq!(n("org/foo"), "localhost/org/foo:latest");
        assert_eq!(n("localhost/foo"), "localhost/foo:latest");
        assert_eq!(n("quay.io/org/foo:v2"), "quay.io/org/foo:v2");
        assert_eq!(n("registry:5000/foo"), "registry:5000/foo:latest");
        assert_eq!(n("my.reg:5000/a/b:c"), "my.reg:5000/a/b:c");
        assert_eq!(n("a__b.c-d---e"), "localhost/a__b.c-d---e:latest");
    }

    #[test]
    fn docker_names_go_to_docker_hub() {
        let d = |s| ImageName::parse_with(s, DefaultDomain::DockerHub).unwrap().to_string();
        assert_eq!(d("busybox:latest"), "docker.io/library/busybox:latest");
        assert_eq!(d("org/app"), "docker.io/org/app:latest");
        assert_eq!(d("localhost/x:1"), "localhost/x:1");
    }

    #[test]
    fn refuses_bad_names() {
        for s in ["", "Foo", "foo:", "foo:-x", "foo/", "/foo", "a//b", "foo@sha256:abc", "a..b", "-a", "a_", "x y", "reg.io:port/x", &format!("a:{}", "t".repeat(129)), &"a".repeat(256)] {
            assert!(matches!(ImageName::parse(s), Err(Error::InvalidReference { .. })), "{s:?}");
        }
    }

    #[test]
    fn lookup_forms() {
        let id = "a".repeat(64);
        assert_eq!(Lookup::parse(&id).unwrap(), Lookup::Id(id.clone()));
        assert_eq!(Lookup::parse(&format!("sha256:{id}")).unwrap(), Lookup::Id(id.clone()));
        assert_eq!(Lookup::parse("quay.io/x").unwrap(), Lookup::Name(ImageName::parse("quay.io/x:latest").unwrap()));
        assert_eq!(
            Lookup::parse("abc1").unwrap(),
            Lookup::Short { path: "abc1".into(), tag: "latest".into(), id_prefix: Some("abc1".into()) }
        );
        assert_eq!(Lookup::parse("foo:2").unwrap(), Lookup::Short { path: "foo".into(), tag: "2".into(), id_prefix: None });
        assert_eq!(Lookup::parse("ab").unwrap(), Lookup::Short { path: "ab".into(), tag: "latest".into(), id_prefix: None });
        assert!(matches!(Lookup::parse("sha256:xyz"), Err(Error::InvalidReference { .. })));
        assert!(matches!(Lookup::parse("sha256:abcd").unwrap(), Lookup::Short { id_prefix: Some(_), .. }));
    }

    #[test]
    fn short_names_in_podman_order() {
        let names: Vec<ImageName> = ["docker.io/library/busybox:latest", "localhost/busybox:latest", "quay.io/org/app:1", "quay.io/other/app:1", "docker.io/library/alpine:3"]
            .iter()
            .map(|s| ImageName::parse(s).unwrap())
            .collect();
        let m = |p: &str, t: &str| match_short(p, t, names.iter()).iter().map(|n| n.to_string()).collect::<Vec<_>>();
        assert_eq!(m("busybox", "latest"), ["localhost/busybox:latest"]);
        assert_eq!(m("alpine", "3"), ["docker.io/library/alpine:3"]);
        assert_eq!(m("org/app", "1"), ["quay.io/org/app:1"]);
        assert_eq!(m("app", "1"), ["quay.io/org/app:1", "quay.io/other/app:1"]);
        assert!(m("app", "2").is_empty());
        assert!(m("pp", "1").is_empty());
    }
}
