//! RFC 5424 messages: priority, header fields, and the rendering of one message.

use core::fmt::{self, Write as _};
use core::str::FromStr;

/// RFC 5424 HOSTNAME: at most 255 printable US-ASCII characters.
pub const HOSTNAME_MAX: usize = 255;
/// RFC 5424 APP-NAME: at most 48 printable US-ASCII characters.
pub const APP_NAME_MAX: usize = 48;
/// RFC 5424 PROCID: at most 128 printable US-ASCII characters.
pub const PROCID_MAX: usize = 128;
/// RFC 5424 MSGID: at most 32 printable US-ASCII characters.
pub const MSGID_MAX: usize = 32;

/// The `wasi:logging/logging` level of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
    Critical,
}

impl Level {
    /// The syslog severity this level is sent as: trace and debug → debug (7), info →
    /// informational (6), warn → warning (4), error → error (3), critical → critical (2).
    pub const fn severity(self) -> Severity {
        match self {
            Level::Trace | Level::Debug => Severity::Debug,
            Level::Info => Severity::Informational,
            Level::Warn => Severity::Warning,
            Level::Error => Severity::Error,
            Level::Critical => Severity::Critical,
        }
    }

    /// The upper-case name written on stderr lines: `TRACE`, `DEBUG`, `INFO`, `WARN`, `ERROR`,
    /// `CRITICAL`.
    pub const fn name(self) -> &'static str {
        match self {
            Level::Trace => "TRACE",
            Level::Debug => "DEBUG",
            Level::Info => "INFO",
            Level::Warn => "WARN",
            Level::Error => "ERROR",
            Level::Critical => "CRITICAL",
        }
    }
}

impl From<Level> for Severity {
    fn from(level: Level) -> Self {
        level.severity()
    }
}

/// RFC 5424 severity (the low three bits of PRI).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Severity {
    Emergency = 0,
    Alert = 1,
    Critical = 2,
    Error = 3,
    Warning = 4,
    Notice = 5,
    Informational = 6,
    Debug = 7,
}

impl Severity {
    /// The numeric code, 0 (emergency) to 7 (debug).
    pub const fn code(self) -> u8 {
        self as u8
    }
}

/// RFC 5424 facility (PRI divided by eight).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[repr(u8)]
pub enum Facility {
    Kern = 0,
    /// The default: user-level messages.
    #[default]
    User = 1,
    Mail = 2,
    Daemon = 3,
    Auth = 4,
    Syslog = 5,
    Lpr = 6,
    News = 7,
    Uucp = 8,
    Cron = 9,
    Authpriv = 10,
    Ftp = 11,
    Ntp = 12,
    Audit = 13,
    Alert = 14,
    Clock = 15,
    Local0 = 16,
    Local1 = 17,
    Local2 = 18,
    Local3 = 19,
    Local4 = 20,
    Local5 = 21,
    Local6 = 22,
    Local7 = 23,
}

impl Facility {
    /// Every facility, in code order.
    pub const ALL: [Facility; 24] = [
        Facility::Kern,
        Facility::User,
        Facility::Mail,
        Facility::Daemon,
        Facility::Auth,
        Facility::Syslog,
        Facility::Lpr,
        Facility::News,
        Facility::Uucp,
        Facility::Cron,
        Facility::Authpriv,
        Facility::Ftp,
        Facility::Ntp,
        Facility::Audit,
        Facility::Alert,
        Facility::Clock,
        Facility::Local0,
        Facility::Local1,
        Facility::Local2,
        Facility::Local3,
        Facility::Local4,
        Facility::Local5,
        Facility::Local6,
        Facility::Local7,
    ];

    /// The numeric code, 0 (kern) to 23 (local7).
    pub const fn code(self) -> u8 {
        self as u8
    }

    /// The name rsyslog uses for it (`kern`, `user`, …, `local7`).
    pub const fn name(self) -> &'static str {
        match self {
            Facility::Kern => "kern",
            Facility::User => "user",
            Facility::Mail => "mail",
            Facility::Daemon => "daemon",
            Facility::Auth => "auth",
            Facility::Syslog => "syslog",
            Facility::Lpr => "lpr",
            Facility::News => "news",
            Facility::Uucp => "uucp",
            Facility::Cron => "cron",
            Facility::Authpriv => "authpriv",
            Facility::Ftp => "ftp",
            Facility::Ntp => "ntp",
            Facility::Audit => "audit",
            Facility::Alert => "alert",
            Facility::Clock => "clock",
            Facility::Local0 => "local0",
            Facility::Local1 => "local1",
            Facility::Local2 => "local2",
            Facility::Local3 => "local3",
            Facility::Local4 => "local4",
            Facility::Local5 => "local5",
            Facility::Local6 => "local6",
            Facility::Local7 => "local7",
        }
    }
}

impl fmt::Display for Facility {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A `SYSLOG_FACILITY` value that names no facility.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ParseFacilityError {
    /// The rejected value.
    pub value: String,
}

impl fmt::Display for ParseFacilityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown syslog facility {:?}: expected a name (kern, user, mail, daemon, auth, syslog, lpr, news, \
             uucp, cron, authpriv, ftp, ntp, audit, alert, clock, local0 … local7) or a number 0 … 23",
            self.value
        )
    }
}

impl std::error::Error for ParseFacilityError {}

impl FromStr for Facility {
    type Err = ParseFacilityError;

    /// A name as [`Facility::name`] gives it (any case, an optional `LOG_` prefix) or a code.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        let name = t.get(..4).filter(|p| p.eq_ignore_ascii_case("log_")).map_or(t, |_| &t[4..]);
        Facility::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(name) || t.parse::<u8>().is_ok_and(|n| n == f.code()))
            .ok_or_else(|| ParseFacilityError { value: s.to_owned() })
    }
}

/// Writes an RFC 5424 header field: characters outside PRINTUSASCII (33–126) become `_`, the
/// value is cut to `max` characters, and an empty value becomes the NILVALUE `-`.
pub fn header_field(out: &mut impl fmt::Write, value: &str, max: usize) -> fmt::Result {
    if value.is_empty() || max == 0 {
        return out.write_char('-');
    }
    for c in value.chars().take(max) {
        out.write_char(if ('!'..='~').contains(&c) { c } else { '_' })?;
    }
    Ok(())
}

/// The text of a message with trailing line ends removed (a syslog message is one record; a
/// logger's `\n` would show up as `#012` in rsyslog's files).
fn trim_line_end(msg: &str) -> &str {
    msg.trim_end_matches(['\r', '\n'])
}

/// One RFC 5424 message. `Display` renders it:
/// `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID - MSG`.
///
/// Header fields go through [`header_field`]; there is no structured data (`-`); MSG is the
/// text as UTF-8 without BOM, with trailing CR/LF removed, and left out (with its space) when
/// empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Message<'a> {
    pub facility: Facility,
    pub severity: Severity,
    /// `None` writes the NILVALUE (the receiver stamps the message itself).
    pub timestamp: Option<crate::Timestamp>,
    pub hostname: &'a str,
    pub app_name: &'a str,
    pub procid: &'a str,
    pub msgid: &'a str,
    pub msg: &'a str,
}

impl Message<'_> {
    /// PRI: facility × 8 + severity.
    pub const fn pri(&self) -> u8 {
        self.facility.code() * 8 + self.severity.code()
    }
}

impl fmt::Display for Message<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{}>1 ", self.pri())?;
        match self.timestamp {
            Some(ts) => write!(f, "{ts}")?,
            None => f.write_char('-')?,
        }
        f.write_char(' ')?;
        header_field(f, self.hostname, HOSTNAME_MAX)?;
        f.write_char(' ')?;
        header_field(f, self.app_name, APP_NAME_MAX)?;
        f.write_char(' ')?;
        header_field(f, self.procid, PROCID_MAX)?;
        f.write_char(' ')?;
        header_field(f, self.msgid, MSGID_MAX)?;
        f.write_str(" -")?;
        let msg = trim_line_end(self.msg);
        if !msg.is_empty() {
            f.write_char(' ')?;
            f.write_str(msg)?;
        }
        Ok(())
    }
}

/// The line written to stderr when there is no syslog server: `LEVEL context: message`
/// (`LEVEL message` without a context), without a line end.
pub fn stderr_line(level: Level, context: &str, message: &str) -> String {
    let message = trim_line_end(message);
    if context.is_empty() {
        format!("{} {message}", level.name())
    } else {
        format!("{} {context}: {message}", level.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Timestamp;

    fn msg<'a>(msgid: &'a str, text: &'a str) -> Message<'a> {
        Message {
            facility: Facility::User,
            severity: Severity::Informational,
            timestamp: Some(Timestamp::new(1_795_492_161, 123_456_000)),
            hostname: "web1",
            app_name: "morgana",
            procid: "",
            msgid,
            msg: text,
        }
    }

    fn field(value: &str, max: usize) -> String {
        let mut s = String::new();
        header_field(&mut s, value, max).unwrap();
        s
    }

    #[test]
    fn renders_rfc5424() {
        assert_eq!(
            msg("http", "GET / 200").to_string(),
            "<14>1 2026-11-24T03:49:21.123456Z web1 morgana - http - GET / 200"
        );
    }

    #[test]
    fn nil_values_and_empty_msg() {
        let m = Message {
            facility: Facility::Kern,
            severity: Severity::Emergency,
            timestamp: None,
            hostname: "",
            app_name: "",
            procid: "",
            msgid: "",
            msg: "",
        };
        assert_eq!(m.to_string(), "<0>1 - - - - - -");
        let m = Message { facility: Facility::Local7, severity: Severity::Debug, msg: "\r\n", ..m };
        assert_eq!(m.pri(), 191);
        assert_eq!(m.to_string(), "<191>1 - - - - - -");
    }

    #[test]
    fn msg_is_utf8_without_bom_and_without_trailing_newline() {
        let s = msg("", "grüße 🌍\nline two\n").to_string();
        assert!(s.ends_with(" - - grüße 🌍\nline two"), "{s}");
        assert!(!s.contains('\u{feff}'));
    }

    #[test]
    fn header_fields_are_printusascii_and_bounded() {
        assert_eq!(field("a b\tc", 10), "a_b_c");
        assert_eq!(field("héllo", 10), "h_llo");
        assert_eq!(field("🌍x", 10), "_x");
        assert_eq!(field("\u{7f}~!", 10), "_~!");
        assert_eq!(field("", 10), "-");
        assert_eq!(field("abc", 0), "-");
        assert_eq!(field(&"x".repeat(300), HOSTNAME_MAX).len(), 255);
        assert_eq!(field(&"é".repeat(100), APP_NAME_MAX), "_".repeat(48));
        let long = msg(&"m".repeat(40), "x").to_string();
        assert!(long.contains(&format!(" {} - x", "m".repeat(32))), "{long}");
        let m = Message { app_name: &"a".repeat(60), procid: &"p".repeat(200), ..msg("", "") };
        let s = m.to_string();
        let parts: Vec<&str> = s.split(' ').collect();
        assert_eq!(parts[3].len(), 48);
        assert_eq!(parts[4].len(), 128);
    }

    #[test]
    fn level_to_severity() {
        let pairs = [
            (Level::Trace, 7),
            (Level::Debug, 7),
            (Level::Info, 6),
            (Level::Warn, 4),
            (Level::Error, 3),
            (Level::Critical, 2),
        ];
        for (level, code) in pairs {
            assert_eq!(Severity::from(level).code(), code, "{level:?}");
        }
    }

    #[test]
    fn facility_names_and_codes() {
        for (i, f) in Facility::ALL.into_iter().enumerate() {
            assert_eq!(f.code() as usize, i);
            assert_eq!(f.name().parse(), Ok(f));
            assert_eq!(i.to_string().parse(), Ok(f));
        }
        assert_eq!(Facility::default(), Facility::User);
        assert_eq!("LOCAL3".parse(), Ok(Facility::Local3));
        assert_eq!("LOG_DAEMON".parse(), Ok(Facility::Daemon));
        assert_eq!(" user ".parse(), Ok(Facility::User));
        for bad in ["", "24", "-1", "local8", "log_", "users", "l"] {
            let err = bad.parse::<Facility>().unwrap_err();
            assert!(err.to_string().contains("local0 … local7"), "{bad}: {err}");
        }
    }

    #[test]
    fn stderr_lines() {
        assert_eq!(stderr_line(Level::Info, "http", "GET / 200\n"), "INFO http: GET / 200");
        assert_eq!(stderr_line(Level::Critical, "", "down"), "CRITICAL down");
    }
}
