//! Configuration: the `SYSLOG` target and the other `SYSLOG_*` environment variables.

use core::fmt;
use core::str::FromStr;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::{Facility, Level, Message, ParseFacilityError, Timestamp, octet_counted, udp_datagram};

/// The syslog port, for `SYSLOG` values without one (RFC 5426; rsyslog uses it for TCP too).
pub const DEFAULT_PORT: u16 = 514;

/// APP-NAME when neither `SYSLOG_APP_NAME` nor `MORGANA_APP` is set.
pub const DEFAULT_APP_NAME: &str = "morgana";

/// How messages travel to the syslog server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// RFC 5426: one message per datagram.
    Udp,
    /// RFC 6587 octet counting over one TCP connection.
    Tcp,
}

/// The syslog server's host: an address literal, or a name to resolve.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Host {
    Ip(IpAddr),
    Name(String),
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Ip(IpAddr::V6(a)) => write!(f, "[{a}]"),
            Host::Ip(IpAddr::V4(a)) => write!(f, "{a}"),
            Host::Name(n) => f.write_str(n),
        }
    }
}

/// Where to send messages: the parsed value of `SYSLOG`.
///
/// Accepted forms: `udp://HOST[:PORT]` and `tcp://HOST[:PORT]` (scheme in any case), HOST an
/// IPv4 address, an IPv6 address in brackets (`[::1]`) or a DNS name, PORT 1–65535 (default
/// 514). `Display` writes the canonical form, which parses back to the same value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Target {
    pub transport: Transport,
    pub host: Host,
    pub port: u16,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = match self.transport {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
        };
        write!(f, "{scheme}://{}:{}", self.host, self.port)
    }
}

/// A `SYSLOG` value that is not a target; `Display` says what is accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParseTargetError {
    /// Neither `udp://` nor `tcp://`.
    Scheme(String),
    /// HOST is missing, not an address, or not a DNS name (or an IPv6 address without brackets).
    Host(String),
    /// PORT is not a number from 1 to 65535.
    Port(String),
}

impl fmt::Display for ParseTargetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (value, what) = match self {
            ParseTargetError::Scheme(v) => (v, "unknown scheme"),
            ParseTargetError::Host(v) => (v, "bad host"),
            ParseTargetError::Port(v) => (v, "bad port"),
        };
        write!(
            f,
            "invalid SYSLOG={value:?} ({what}): expected udp://HOST[:PORT] or tcp://HOST[:PORT], HOST an IPv4 \
             address, an IPv6 address in brackets or a host name, PORT 1-65535 (default {DEFAULT_PORT})"
        )
    }
}

impl std::error::Error for ParseTargetError {}

/// A DNS name: dot-separated labels of letters, digits, `-` and `_`, each 1–63 long, 253 in
/// all, an optional final dot; all-numeric names must be IPv4 addresses instead.
fn is_dns_name(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name);
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
        && !name.bytes().all(|b| b.is_ascii_digit() || b == b'.')
}

impl FromStr for Target {
    type Err = ParseTargetError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        let scheme = |p: &str| t.get(..6).is_some_and(|h| h.eq_ignore_ascii_case(p));
        let transport = if scheme("udp://") {
            Transport::Udp
        } else if scheme("tcp://") {
            Transport::Tcp
        } else {
            return Err(ParseTargetError::Scheme(s.to_owned()));
        };
        let rest = &t[6..];
        let bad_host = || ParseTargetError::Host(s.to_owned());
        let (host, port) = if let Some(bracketed) = rest.strip_prefix('[') {
            let (addr, after) = bracketed.split_once(']').ok_or_else(bad_host)?;
            let addr: Ipv6Addr = addr.parse().map_err(|_| bad_host())?;
            let port = match after {
                "" => None,
                _ => Some(after.strip_prefix(':').ok_or_else(bad_host)?),
            };
            (Host::Ip(IpAddr::V6(addr)), port)
        } else {
            let (host, port) = match rest.split_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (rest, None),
            };
            let host = if let Ok(a) = host.parse::<Ipv4Addr>() {
                Host::Ip(IpAddr::V4(a))
            } else if is_dns_name(host) && port.is_none_or(|p| !p.contains(':')) {
                Host::Name(host.to_owned())
            } else {
                return Err(bad_host());
            };
            (host, port)
        };
        let port = match port {
            None => DEFAULT_PORT,
            Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
                p.parse().ok().filter(|&p| p != 0).ok_or_else(|| ParseTargetError::Port(s.to_owned()))?
            }
            Some(_) => return Err(ParseTargetError::Port(s.to_owned())),
        };
        Ok(Target { transport, host, port })
    }
}

/// A configuration value that was rejected; the rest of the configuration still applies.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// `SYSLOG` was not a target: log to stderr.
    Target(ParseTargetError),
    /// `SYSLOG_FACILITY` named no facility: use `user`.
    Facility(ParseFacilityError),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Target(e) => write!(f, "{e}; logging to stderr"),
            ConfigError::Facility(e) => write!(f, "{e}; using {}", Facility::default()),
        }
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ConfigError::Target(e) => Some(e),
            ConfigError::Facility(e) => Some(e),
        }
    }
}

/// Everything a syslog sender needs to know, usually read from the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `SYSLOG`; `None` (unset, empty or invalid) means log to stderr.
    pub target: Option<Target>,
    /// `SYSLOG_APP_NAME`, else `MORGANA_APP`, else [`DEFAULT_APP_NAME`].
    pub app_name: String,
    /// `SYSLOG_HOSTNAME`, else the app name. (Not the NILVALUE: rsyslog files a nil HOSTNAME
    /// as a literal `-` rather than under the sender's address.)
    pub hostname: String,
    /// `SYSLOG_FACILITY`, else `user`.
    pub facility: Facility,
    /// The largest UDP datagram ([`crate::DEFAULT_UDP_MAX`]).
    pub udp_max: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            target: None,
            app_name: DEFAULT_APP_NAME.to_owned(),
            hostname: DEFAULT_APP_NAME.to_owned(),
            facility: Facility::default(),
            udp_max: crate::DEFAULT_UDP_MAX,
        }
    }
}

impl Config {
    /// Reads `SYSLOG`, `SYSLOG_APP_NAME`, `MORGANA_APP`, `SYSLOG_HOSTNAME` and `SYSLOG_FACILITY`
    /// through `var` (empty values count as unset). Bad values fall back to the defaults and
    /// are returned beside the configuration, to be reported once.
    pub fn from_env<'a>(var: impl Fn(&str) -> Option<&'a str>) -> (Config, Vec<ConfigError>) {
        let var = |name: &str| var(name).map(str::trim).filter(|v| !v.is_empty());
        let mut config = Config::default();
        let mut errors = Vec::new();
        if let Some(v) = var("SYSLOG") {
            match v.parse() {
                Ok(t) => config.target = Some(t),
                Err(e) => errors.push(ConfigError::Target(e)),
            }
        }
        if let Some(app) = var("SYSLOG_APP_NAME").or_else(|| var("MORGANA_APP")) {
            config.app_name = app.to_owned();
        }
        config.hostname = var("SYSLOG_HOSTNAME").unwrap_or(&config.app_name).to_owned();
        if let Some(v) = var("SYSLOG_FACILITY") {
            match v.parse() {
                Ok(f) => config.facility = f,
                Err(e) => errors.push(ConfigError::Facility(e)),
            }
        }
        (config, errors)
    }

    /// The message for one `wasi:logging` call: the level's severity, the context as MSGID
    /// (made PRINTUSASCII, at most 32 characters), no PROCID.
    pub fn message<'a>(&'a self, now: Option<Timestamp>, level: Level, context: &'a str, text: &'a str) -> Message<'a> {
        Message {
            facility: self.facility,
            severity: level.severity(),
            timestamp: now,
            hostname: &self.hostname,
            app_name: &self.app_name,
            procid: "",
            msgid: context,
            msg: text,
        }
    }

    /// The bytes to send for one `wasi:logging` call over `transport`: a datagram cut to
    /// [`Config::udp_max`], or one octet-counted frame.
    pub fn frame(
        &self,
        transport: Transport,
        now: Option<Timestamp>,
        level: Level,
        context: &str,
        text: &str,
    ) -> Vec<u8> {
        let message = self.message(now, level, context, text).to_string();
        match transport {
            Transport::Udp => udp_datagram(&message, self.udp_max).as_bytes().to_vec(),
            Transport::Tcp => {
                let mut out = Vec::with_capacity(message.len() + 6);
                octet_counted(message.as_bytes(), &mut out);
                out
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(s: &str) -> Target {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn ip(s: &str) -> Host {
        Host::Ip(s.parse().unwrap())
    }

    #[test]
    fn accepted_targets() {
        let t = target("udp://127.0.0.1:5514");
        assert_eq!(t, Target { transport: Transport::Udp, host: ip("127.0.0.1"), port: 5514 });
        assert_eq!(target("tcp://10.0.0.1").port, 514);
        assert_eq!(target("TCP://10.0.0.1").transport, Transport::Tcp);
        assert_eq!(target(" udp://[::1]:6514 ").host, ip("::1"));
        assert_eq!(target("udp://[::1]:6514").port, 6514);
        assert_eq!(target("udp://[fe80::1]").port, 514);
        assert_eq!(target("tcp://logs.example.com:601").host, Host::Name("logs.example.com".into()));
        assert_eq!(target("tcp://syslog").host, Host::Name("syslog".into()));
        assert_eq!(target("tcp://syslog.:65535").port, 65535);
        assert_eq!(target("udp://my_host-1.lan").host, Host::Name("my_host-1.lan".into()));
    }

    #[test]
    fn display_round_trips() {
        for s in ["udp://127.0.0.1:5514", "tcp://[::1]:514", "tcp://logs.example.com:601"] {
            assert_eq!(target(s).to_string(), s);
            assert_eq!(target(&target(s).to_string()), target(s));
        }
        assert_eq!(target("udp://[::1]").to_string(), "udp://[::1]:514");
    }

    #[test]
    fn rejected_targets() {
        type Kind = fn(String) -> ParseTargetError;
        let cases: &[(&str, Kind)] = &[
            ("", ParseTargetError::Scheme),
            ("127.0.0.1:514", ParseTargetError::Scheme),
            ("http://x", ParseTargetError::Scheme),
            ("udp:/x", ParseTargetError::Scheme),
            ("udp", ParseTargetError::Scheme),
            ("udp://", ParseTargetError::Host),
            ("udp://:514", ParseTargetError::Host),
            ("udp://::1", ParseTargetError::Host),
            ("udp://fe80::1:514", ParseTargetError::Host),
            ("udp://[::1", ParseTargetError::Host),
            ("udp://[::1]514", ParseTargetError::Host),
            ("udp://[1.2.3.4]", ParseTargetError::Host),
            ("udp://[zz]:1", ParseTargetError::Host),
            ("udp://host/path", ParseTargetError::Host),
            ("udp://a..b", ParseTargetError::Host),
            ("udp://-a", ParseTargetError::Host),
            ("udp://999.1.1.1", ParseTargetError::Host),
            ("udp://1.2.3", ParseTargetError::Host),
            ("udp://héllo", ParseTargetError::Host),
            ("udp://user@host", ParseTargetError::Host),
            ("udp://host:", ParseTargetError::Port),
            ("udp://host:0", ParseTargetError::Port),
            ("udp://host:65536", ParseTargetError::Port),
            ("udp://host:+1", ParseTargetError::Port),
            ("udp://host:51x", ParseTargetError::Port),
            ("udp://[::1]:", ParseTargetError::Port),
            ("udp://[::1]:99999999999999999999", ParseTargetError::Port),
        ];
        for (s, want) in cases {
            let err = s.parse::<Target>().unwrap_err();
            assert_eq!(err, want(s.to_string()), "{s}");
            let msg = err.to_string();
            assert!(msg.contains("udp://HOST[:PORT] or tcp://HOST[:PORT]"), "{msg}");
            assert!(msg.contains(&format!("{s:?}")), "{msg}");
        }
        let long = format!("udp://{}", "a".repeat(64));
        assert!(long.parse::<Target>().is_err());
    }

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<&'a str> {
        |name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| *v)
    }

    #[test]
    fn config_defaults() {
        let (c, errors) = Config::from_env(env(&[("SYSLOG", ""), ("SYSLOG_APP_NAME", " ")]));
        assert_eq!(c, Config::default());
        assert!(errors.is_empty());
        assert_eq!(c.target, None);
        assert_eq!(c.app_name, "morgana");
        assert_eq!(c.hostname, "morgana");
        assert_eq!(c.facility, Facility::User);
    }

    #[test]
    fn config_from_env() {
        let vars = [
            ("SYSLOG", "tcp://[::1]:601"),
            ("MORGANA_APP", "web"),
            ("SYSLOG_HOSTNAME", "vm1"),
            ("SYSLOG_FACILITY", "local0"),
        ];
        let (c, errors) = Config::from_env(env(&vars));
        assert!(errors.is_empty());
        assert_eq!(c.target, Some(target("tcp://[::1]:601")));
        assert_eq!((c.app_name.as_str(), c.hostname.as_str(), c.facility), ("web", "vm1", Facility::Local0));
        let (c, _) = Config::from_env(env(&[("MORGANA_APP", "web"), ("SYSLOG_APP_NAME", "api")]));
        assert_eq!((c.app_name.as_str(), c.hostname.as_str()), ("api", "api"));
    }

    #[test]
    fn bad_config_values_fall_back() {
        let (c, errors) = Config::from_env(env(&[("SYSLOG", "udp:/x"), ("SYSLOG_FACILITY", "local9")]));
        assert_eq!(c.target, None);
        assert_eq!(c.facility, Facility::User);
        assert_eq!(errors.len(), 2);
        assert!(errors[0].to_string().ends_with("; logging to stderr"), "{}", errors[0]);
        assert!(errors[1].to_string().ends_with("; using user"), "{}", errors[1]);
    }

    #[test]
    fn frames() {
        let (c, _) = Config::from_env(env(&[("SYSLOG_APP_NAME", "web")]));
        let now = Some(Timestamp::new(1_795_492_161, 5_000));
        let line = "<14>1 2026-11-24T03:49:21.000005Z web web - http - GET / HTTP/1.1 200";
        let udp = c.frame(Transport::Udp, now, Level::Info, "http", "GET / HTTP/1.1 200\n");
        assert_eq!(String::from_utf8(udp).unwrap(), line);
        let tcp = c.frame(Transport::Tcp, now, Level::Info, "http", "GET / HTTP/1.1 200");
        assert_eq!(String::from_utf8(tcp).unwrap(), format!("{} {line}", line.len()));
        let warn = c.frame(Transport::Udp, None, Level::Warn, "my context", "x");
        assert_eq!(String::from_utf8(warn).unwrap(), "<12>1 - web web - my_context - x");
        let small = Config { udp_max: 10, ..c };
        assert_eq!(small.frame(Transport::Udp, now, Level::Info, "", "x").len(), 10);
    }
}
