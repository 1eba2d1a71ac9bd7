//! A container's unit as unit-file lines, rendered from the very property
//! list berthd sends for a transient unit ([`UnitConfig::properties`]), so
//! file-defined and transient units share one definition: a property
//! without a unit-file form here is an error, which the tests below catch.

use super::UnitConfig;
use crate::model::{signal_name, Error, Result};
use zbus::OwnedVariant;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Section {
    Unit,
    Service,
}

/// How a D-Bus property's value is written in a unit file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    Text,
    Exec,
    Signal,
    Time,
    /// `aay`: one line per field.
    Fields,
    /// `(aiai)`: exit statuses and signal names on one line.
    Statuses,
    /// A boolean written only when true.
    YesOnly,
    Number,
    /// CPUQuotaPerSecUSec as CPUQuota=N%.
    Percent,
    /// Unit names, space-separated.
    Units,
}

use Form::*;
use Section::{Service, Unit};

/// Every property `UnitConfig::properties()` may emit, with its unit-file
/// key: the D-Bus names of times end in `USec`, the file's in `Sec`.
const TABLE: [(&str, &str, Section, Form); 26] = [
    ("Description", "Description", Unit, Text),
    ("Type", "Type", Service, Text),
    ("NotifyAccess", "NotifyAccess", Service, Text),
    ("ExecStart", "ExecStart", Service, Exec),
    ("ExecStopPost", "ExecStopPost", Service, Exec),
    ("KillMode", "KillMode", Service, Text),
    ("KillSignal", "KillSignal", Service, Signal),
    ("TimeoutStartUSec", "TimeoutStartSec", Service, Time),
    ("TimeoutStopUSec", "TimeoutStopSec", Service, Time),
    ("SyslogIdentifier", "SyslogIdentifier", Service, Text),
    ("LogExtraFields", "LogExtraFields", Service, Fields),
    ("LogRateLimitIntervalUSec", "LogRateLimitIntervalSec", Service, Time),
    ("LogRateLimitBurst", "LogRateLimitBurst", Service, Number),
    ("Restart", "Restart", Service, Text),
    ("RestartUSec", "RestartSec", Service, Time),
    ("SuccessExitStatus", "SuccessExitStatus", Service, Statuses),
    ("RestartPreventExitStatus", "RestartPreventExitStatus", Service, Statuses),
    ("Delegate", "Delegate", Service, YesOnly),
    ("MemoryMax", "MemoryMax", Service, Number),
    ("TasksMax", "TasksMax", Service, Number),
    ("CPUWeight", "CPUWeight", Service, Number),
    ("CPUQuotaPerSecUSec", "CPUQuota", Service, Percent),
    // Start limits and dependencies belong to [Unit] in a file.
    ("StartLimitIntervalUSec", "StartLimitIntervalSec", Unit, Time),
    ("StartLimitBurst", "StartLimitBurst", Unit, Number),
    ("After", "After", Unit, Units),
    ("Requires", "Requires", Unit, Units),
];

/// `Key=Value` lines for a unit's `[Unit]` and `[Service]` sections.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnitFileLines {
    pub unit: Vec<String>,
    pub service: Vec<String>,
}

pub fn lines(config: &UnitConfig) -> Result<UnitFileLines> {
    let mut out = UnitFileLines::default();
    for (name, v) in config.properties()?.into_vec() {
        let &(_, key, section, form) = TABLE
            .iter()
            .find(|(n, ..)| *n == name)
            .ok_or_else(|| Error::internal(format!("property {name} has no unit-file form")))?;
        let values = value(form, &v).map_err(|e| Error::internal(format!("property {name}: {e}")))?;
        let target = if section == Unit { &mut out.unit } else { &mut out.service };
        target.extend(values.into_iter().map(|v| format!("{key}={v}")));
    }
    Ok(out)
}

fn value(form: Form, v: &OwnedVariant) -> std::result::Result<Vec<String>, zbus::Error> {
    Ok(match form {
        Text => vec![escape_specifiers(<&str>::try_from(v)?)],
        Exec => {
            let cmds: Vec<(String, Vec<String>, bool)> = v.try_clone()?.try_into()?;
            cmds.iter().map(|(path, argv, ignore)| command_line(path, argv, *ignore)).collect()
        }
        Signal => vec![signal_name(i32::try_from(v)?)],
        Time => vec![timespan(u64::try_from(v)?)],
        Fields => {
            let fields: Vec<Vec<u8>> = v.try_clone()?.try_into()?;
            fields.iter().map(|f| quote(&String::from_utf8_lossy(f))).collect()
        }
        Statuses => {
            let (codes, signals): (Vec<i32>, Vec<i32>) = v.try_clone()?.try_into()?;
            let words: Vec<String> =
                codes.iter().map(i32::to_string).chain(signals.iter().map(|s| signal_name(*s))).collect();
            vec![words.join(" ")]
        }
        YesOnly => if bool::try_from(v)? { vec!["yes".into()] } else { vec![] },
        Number => vec![u64::try_from(v).or_else(|_| u32::try_from(v).map(u64::from))?.to_string()],
        Percent => vec![format!("{}%", u64::try_from(v)? / 10_000)],
        Units => {
            let units: Vec<String> = v.try_clone()?.try_into()?;
            vec![escape_specifiers(&units.join(" "))]
        }
    })
}

/// An Exec*= line: `-` when failure is ignored, `@` when argv[0] is not
/// the program. `$VAR` is left alone: systemd expands it at exec time for
/// transient and file units alike.
fn command_line(path: &str, argv: &[String], ignore_failure: bool) -> String {
    let mut line = String::from(if ignore_failure { "-" } else { "" });
    if argv.first().map(String::as_str) != Some(path) {
        line.push('@');
        line.push_str(&quote(path));
        line.push(' ');
    }
    line.push_str(&argv.iter().map(|w| quote(w)).collect::<Vec<_>>().join(" "));
    line
}

/// A time span as systemd writes it: `0`, `infinity`, or whole s, ms or us.
fn timespan(usec: u64) -> String {
    match usec {
        0 => "0".into(),
        u64::MAX => "infinity".into(),
        u if u % 1_000_000 == 0 => format!("{}s", u / 1_000_000),
        u if u % 1_000 == 0 => format!("{}ms", u / 1_000),
        u => format!("{u}us"),
    }
}

/// `%` would start a specifier in a file; transient properties take values
/// literally, so a file must say `%%`.
pub fn escape_specifiers(s: &str) -> String {
    s.replace('%', "%%")
}

/// One word as systemd reads it back (unquoting, C escapes, specifiers):
/// bare when it is plain, otherwise in double quotes.
pub fn quote(word: &str) -> String {
    let plain = !word.is_empty() && word.chars().all(|c| c.is_ascii_alphanumeric() || "/._-+=:,@%".contains(c));
    if plain {
        return escape_specifiers(word);
    }
    let mut s = String::from("\"");
    for c in word.chars() {
        match c {
            '"' | '\\' => {
                s.push('\\');
                s.push(c);
            }
            '%' => s.push_str("%%"),
            '\n' => s.push_str("\\n"),
            '\t' => s.push_str("\\t"),
            '\r' => s.push_str("\\r"),
            c if c.is_control() && (c as u32) < 0x80 => s.push_str(&format!("\\x{:02x}", c as u32)),
            c if c.is_control() => s.push_str(&format!("\\u{:04x}", c as u32)),
            c => s.push(c),
        }
    }
    s.push('"');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Resources;

    /// Every optional property set.
    fn config() -> UnitConfig {
        UnitConfig {
            description: "berth container web".into(),
            exec_start: vec!["/usr/bin/berth-monitor".into(), "run".into(), "--bundle=/run/a b".into()],
            exec_stop_post: vec![vec!["/usr/bin/berth-monitor".into(), "record-exit".into()]],
            kill_signal: 38,
            timeout_start_usec: 90_000_000,
            timeout_stop_usec: 86_460_000_000,
            syslog_identifier: "web".into(),
            name: "web".into(),
            id: "0123456789abcdef".repeat(4),
            restart: "on-failure",
            restart_limit: Some(3),
            user_stop_status: 250,
            resources: Resources { memory_max: Some(1 << 20), tasks_max: Some(5), cpu_weight: Some(10), cpu_quota: Some(50) },
            dependencies: vec!["berth-db.service".into(), "berth-cache.service".into()],
            delegate: true,
        }
    }

    #[test]
    fn every_property_has_a_unit_file_form() {
        let c = config();
        let names: Vec<String> = c.properties().unwrap().names().iter().map(|s| s.to_string()).collect();
        for n in &names {
            assert!(TABLE.iter().any(|(p, ..)| p == n), "{n} has no unit-file form");
        }
        let l = lines(&c).unwrap();
        for (prop, key, section, _) in TABLE {
            let lines = if section == Unit { &l.unit } else { &l.service };
            assert!(names.contains(&prop.to_string()), "{prop} is in the table but not emitted");
            assert!(lines.iter().any(|l| l.starts_with(&format!("{key}="))), "{key}= not rendered");
        }
    }

    #[test]
    fn renders_like_a_unit_file() {
        let l = lines(&config()).unwrap();
        let id = "0123456789abcdef".repeat(4);
        assert_eq!(
            l.unit,
            [
                "Description=berth container web",
                "StartLimitIntervalSec=infinity",
                "StartLimitBurst=4",
                "After=berth-db.service berth-cache.service",
                "Requires=berth-db.service berth-cache.service",
            ]
        );
        assert_eq!(
            l.service,
            [
                "Type=notify".to_string(),
                "NotifyAccess=main".into(),
                "ExecStart=/usr/bin/berth-monitor run \"--bundle=/run/a b\"".into(),
                "ExecStopPost=/usr/bin/berth-monitor record-exit".into(),
                "KillMode=mixed".into(),
                "KillSignal=SIGRTMIN+4".into(),
                "TimeoutStartSec=90s".into(),
                "TimeoutStopSec=86460s".into(),
                "SyslogIdentifier=web".into(),
                "LogExtraFields=CONTAINER_NAME=web".into(),
                "LogExtraFields=CONTAINER_ID=0123456789ab".into(),
                format!("LogExtraFields=CONTAINER_ID_FULL={id}"),
                "LogRateLimitIntervalSec=1us".into(),
                "LogRateLimitBurst=1000000000".into(),
                "Restart=on-failure".into(),
                "RestartSec=100ms".into(),
                "SuccessExitStatus=250 SIGKILL".into(),
                "RestartPreventExitStatus=250 SIGKILL".into(),
                "Delegate=yes".into(),
                "MemoryMax=1048576".into(),
                "TasksMax=5".into(),
                "CPUWeight=10".into(),
                "CPUQuota=50%".into(),
            ]
        );
    }

    #[test]
    fn optional_settings_are_left_out() {
        let mut c = config();
        c.delegate = false;
        c.restart_limit = None;
        c.dependencies.clear();
        c.resources = Resources::default();
        let l = lines(&c).unwrap();
        assert_eq!(l.unit, ["Description=berth container web"]);
        assert!(!l.service.iter().any(|l| l.starts_with("Delegate=") || l.starts_with("CPUQuota=")));
        c.exec_start.clear();
        assert!(lines(&c).is_err());
    }

    #[test]
    fn words_read_back_as_written() {
        use crate::quadlet::split_words;
        for w in ["plain", "", "two words", "q\"uote", "back\\slash", "it's", ";", "tab\there", "new\nline", "é", "\x01"] {
            assert_eq!(split_words(&quote(w)).unwrap(), [w], "{w:?} -> {}", quote(w));
        }
        assert_eq!(quote("100%"), "100%%");
        assert_eq!(quote("a %b"), "\"a %%b\"");
        assert_eq!(command_line("/bin/x", &["x".into(), "-v".into()], true), "-@/bin/x x -v");
        assert_eq!(timespan(1_500), "1500us");
        assert_eq!(timespan(2_000), "2ms");
    }
}
