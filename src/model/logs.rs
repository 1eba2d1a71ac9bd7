//! What a log read asks for: the same keys on D-Bus (`a{sv}`), in the C
//! options struct and in berthctl's flags.

use super::{Error, OptionValue, Result, Sig, Usec};
use std::collections::BTreeMap;

/// How LogsContainer writes the lines into the caller's descriptor.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// Text, one line per line written, as `berthctl logs` prints it
    /// (with the Timestamps and StreamTag prefixes when asked).
    #[default]
    Text,
    /// Binary records that keep each line's stream and time exactly
    /// (see [`super::log_frame`]); Timestamps and StreamTag do not apply.
    Framed,
}

impl LogFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            LogFormat::Text => "text",
            LogFormat::Framed => "framed",
        }
    }

    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "text" => Ok(LogFormat::Text),
            "framed" => Ok(LogFormat::Framed),
            _ => Err(Error::invalid("Format", format!("{s:?} is not text or framed"))),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogOptions {
    /// Keep reading new lines until the container stops (or `until`).
    pub follow: bool,
    pub since: Option<Usec>,
    pub until: Option<Usec>,
    /// Only the last N lines.
    pub tail: Option<u64>,
    /// Prefix each line with its RFC 3339 time.
    pub timestamps: bool,
    /// Which streams; both when both are false.
    pub stdout: bool,
    pub stderr: bool,
    /// Prefix each line with its stream, `stdout ` or `stderr ` (after the time).
    pub stream_tag: bool,
    pub format: LogFormat,
}

/// The keys of LogsContainer's options, with their types.
const KEYS: [(&str, Sig); 9] = [
    ("Follow", Sig::Bool),
    ("Since", Sig::U64),
    ("Until", Sig::U64),
    ("Tail", Sig::U64),
    ("Timestamps", Sig::Bool),
    ("Stdout", Sig::Bool),
    ("Stderr", Sig::Bool),
    ("StreamTag", Sig::Bool),
    ("Format", Sig::Str),
];

impl LogOptions {
    pub fn to_options(&self) -> BTreeMap<String, OptionValue> {
        let mut m = BTreeMap::new();
        let mut put = |k: &str, v: OptionValue| {
            m.insert(k.to_string(), v);
        };
        put("Follow", OptionValue::Bool(self.follow));
        put("Timestamps", OptionValue::Bool(self.timestamps));
        put("Stdout", OptionValue::Bool(self.stdout));
        put("Stderr", OptionValue::Bool(self.stderr));
        // The newer keys only when they differ from the default, so that an
        // older berthd, which refuses keys it does not know, still serves
        // what it can.
        if self.stream_tag {
            put("StreamTag", OptionValue::Bool(true));
        }
        if self.format != LogFormat::Text {
            put("Format", OptionValue::Str(self.format.as_str().into()));
        }
        for (k, v) in [("Since", self.since), ("Until", self.until), ("Tail", self.tail)] {
            if let Some(v) = v {
                put(k, OptionValue::U64(v));
            }
        }
        m
    }

    pub fn from_options(options: &BTreeMap<String, OptionValue>) -> Result<Self> {
        let mut o = LogOptions::default();
        for (key, v) in options {
            let Some((_, sig)) = KEYS.iter().find(|(k, _)| k == key) else {
                let known: Vec<&str> = KEYS.iter().map(|(k, _)| *k).collect();
                return Err(Error::invalid(key, format!("unknown option (known: {})", known.join(", "))));
            };
            if v.sig() != *sig {
                return Err(Error::invalid(key, format!("wrong type: expected '{}', got '{}'", sig.as_str(), v.signature())));
            }
            match (key.as_str(), v) {
                ("Follow", OptionValue::Bool(b)) => o.follow = *b,
                ("Timestamps", OptionValue::Bool(b)) => o.timestamps = *b,
                ("Stdout", OptionValue::Bool(b)) => o.stdout = *b,
                ("Stderr", OptionValue::Bool(b)) => o.stderr = *b,
                ("StreamTag", OptionValue::Bool(b)) => o.stream_tag = *b,
                ("Format", OptionValue::Str(f)) => o.format = LogFormat::parse(f)?,
                ("Since", OptionValue::U64(t)) => o.since = Some(*t),
                ("Until", OptionValue::U64(t)) => o.until = Some(*t),
                ("Tail", OptionValue::U64(t)) => o.tail = Some(*t),
                _ => unreachable!("the type was checked against KEYS"),
            }
        }
        Ok(o)
    }

    /// The key type of each option, for front ends that convert values.
    pub fn signature_of(key: &str) -> Option<Sig> {
        KEYS.iter().find(|(k, _)| *k == key).map(|(_, s)| *s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let o = LogOptions { follow: true, since: Some(5), tail: Some(3), stderr: true, ..Default::default() };
        assert_eq!(LogOptions::from_options(&o.to_options()).unwrap(), o);
        assert!(!o.to_options().contains_key("Format") && !o.to_options().contains_key("StreamTag"));
        let o = LogOptions { stream_tag: true, format: LogFormat::Framed, ..Default::default() };
        assert_eq!(LogOptions::from_options(&o.to_options()).unwrap(), o);
        let bad: BTreeMap<String, OptionValue> = [("Tail".to_string(), OptionValue::U32(1))].into();
        assert_eq!(LogOptions::from_options(&bad).unwrap_err().key(), Some("Tail"));
        let bad: BTreeMap<String, OptionValue> = [("Format".to_string(), OptionValue::Str("json".into()))].into();
        assert_eq!(LogOptions::from_options(&bad).unwrap_err().key(), Some("Format"));
    }
}
