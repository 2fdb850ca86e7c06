//! Configuration: the `SYSLOG` target and the other `SYSLOG_*` environment variables
//! (`SYSLOG_TLS_*` for `tls://` targets).

use core::fmt;
use core::str::FromStr;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::{Facility, Level, Message, ParseFacilityError, Timestamp, octet_counted, udp_datagram};

/// The syslog port, for `udp://` and `tcp://` values without one (RFC 5426; rsyslog uses it
/// for TCP too).
pub const DEFAULT_PORT: u16 = 514;

/// The syslog-over-TLS port, for `tls://` values without one (RFC 5425).
pub const DEFAULT_TLS_PORT: u16 = 6514;

/// APP-NAME when neither `SYSLOG_APP_NAME` nor `MORGANA_APP` is set.
pub const DEFAULT_APP_NAME: &str = "morgana";

/// How messages travel to the syslog server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// RFC 5426: one message per datagram.
    Udp,
    /// RFC 6587 octet counting over one TCP connection.
    Tcp,
    /// RFC 5425: the same octet counting (`MSG-LEN SP SYSLOG-MSG`) in one TLS session over a
    /// TCP connection.
    Tls,
}

impl Transport {
    /// Every transport, in the order the `SYSLOG` schemes are listed.
    pub const ALL: [Transport; 3] = [Transport::Udp, Transport::Tcp, Transport::Tls];

    /// The scheme of a `SYSLOG` value: `udp`, `tcp` or `tls`.
    pub const fn scheme(self) -> &'static str {
        match self {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
            Transport::Tls => "tls",
        }
    }

    /// The port of a `SYSLOG` value without one: [`DEFAULT_PORT`], or [`DEFAULT_TLS_PORT`] for
    /// TLS.
    pub const fn default_port(self) -> u16 {
        match self {
            Transport::Udp | Transport::Tcp => DEFAULT_PORT,
            Transport::Tls => DEFAULT_TLS_PORT,
        }
    }

    /// The cargo feature of the syslog component that carries this transport; `None` for UDP,
    /// which every build has.
    pub const fn feature(self) -> Option<&'static str> {
        match self {
            Transport::Udp => None,
            Transport::Tcp => Some("tcp"),
            Transport::Tls => Some("tls"),
        }
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
            Transport::Tls => "TLS",
        })
    }
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
/// Accepted forms: `udp://HOST[:PORT]`, `tcp://HOST[:PORT]` and `tls://HOST[:PORT]` (scheme in
/// any case), HOST an IPv4 address, an IPv6 address in brackets (`[::1]`) or a DNS name, PORT
/// 1–65535 (default 514, and 6514 for `tls`). `Display` writes the canonical form, which
/// parses back to the same value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Target {
    pub transport: Transport,
    pub host: Host,
    pub port: u16,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}:{}", self.transport.scheme(), self.host, self.port)
    }
}

/// A `SYSLOG` value that is not a target; `Display` says what is accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParseTargetError {
    /// Neither `udp://`, `tcp://` nor `tls://`.
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
            "invalid SYSLOG={value:?} ({what}): expected udp://HOST[:PORT], tcp://HOST[:PORT] or tls://HOST[:PORT], \
             HOST an IPv4 address, an IPv6 address in brackets or a host name, PORT 1-65535 (default \
             {DEFAULT_PORT}, {DEFAULT_TLS_PORT} for tls)"
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
        let (scheme, rest) = t.split_once("://").ok_or_else(|| ParseTargetError::Scheme(s.to_owned()))?;
        let transport = Transport::ALL
            .into_iter()
            .find(|transport| scheme.eq_ignore_ascii_case(transport.scheme()))
            .ok_or_else(|| ParseTargetError::Scheme(s.to_owned()))?;
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
            None => transport.default_port(),
            Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
                p.parse().ok().filter(|&p| p != 0).ok_or_else(|| ParseTargetError::Port(s.to_owned()))?
            }
            Some(_) => return Err(ParseTargetError::Port(s.to_owned())),
        };
        Ok(Target { transport, host, port })
    }
}

/// The `SYSLOG_TLS_*` settings of a `tls://` target.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsSettings {
    /// `SYSLOG_TLS_CA`: the path of a PEM file holding the CA certificates the server's chain
    /// must lead to. `None`: the TLS component's built-in root set (which it has only when built
    /// with its `roots` feature).
    pub ca_file: Option<String>,
    /// `SYSLOG_TLS_NAME`: the DNS name or IP address the server's certificate must carry (and
    /// the SNI sent, for a name), without brackets or a final dot. `None`: the target's HOST.
    pub server_name: Option<String>,
    /// `SYSLOG_TLS_KEY`: the name of a host key to present when the server asks for a client
    /// certificate. `None`: no client certificate.
    pub client_key: Option<String>,
}

impl TlsSettings {
    /// The name the server's certificate must carry: `SYSLOG_TLS_NAME`, else the target's HOST
    /// (an IPv6 address without brackets, a name without a final dot).
    pub fn server_name(&self, target: &Target) -> String {
        match (&self.server_name, &target.host) {
            (Some(name), _) => name.clone(),
            (None, Host::Ip(ip)) => ip.to_string(),
            (None, Host::Name(name)) => name.strip_suffix('.').unwrap_or(name).to_owned(),
        }
    }
}

/// A `SYSLOG_TLS_NAME` value made canonical: an IP address (brackets taken off) or a DNS name
/// (final dot taken off); `None` if it is neither.
fn tls_name(value: &str) -> Option<String> {
    let literal = value.strip_prefix('[').and_then(|v| v.strip_suffix(']'));
    if let Some(ip) = literal.and_then(|v| v.parse::<Ipv6Addr>().ok()) {
        return Some(ip.to_string());
    }
    if let Ok(ip) = value.parse::<IpAddr>() {
        return Some(ip.to_string());
    }
    is_dns_name(value).then(|| value.strip_suffix('.').unwrap_or(value).to_owned())
}

/// A configuration value that was rejected; the rest of the configuration still applies.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// `SYSLOG` was not a target: log to stderr.
    Target(ParseTargetError),
    /// `SYSLOG` names a transport this build of the component leaves out: log to stderr.
    NotBuilt(Target),
    /// `SYSLOG_TLS_NAME` (the value) is neither a DNS name nor an IP address: log to stderr.
    TlsName(String),
    /// `SYSLOG_FACILITY` named no facility: use `user`.
    Facility(ParseFacilityError),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Target(e) => write!(f, "{e}; logging to stderr"),
            ConfigError::NotBuilt(target) => {
                let transport = target.transport;
                let feature = transport.feature().unwrap_or_default();
                write!(
                    f,
                    "SYSLOG={target} needs the {transport} transport, but the syslog component was built without \
                     its cargo feature `{feature}`: add `features = [\"{feature}\"]` to the syslog component's \
                     table in the manifest; logging to stderr"
                )
            }
            ConfigError::TlsName(v) => write!(
                f,
                "invalid SYSLOG_TLS_NAME={v:?}: expected the DNS name or IP address the server's certificate \
                 carries; logging to stderr"
            ),
            ConfigError::Facility(e) => write!(f, "{e}; using {}", Facility::default()),
        }
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ConfigError::Target(e) => Some(e),
            ConfigError::Facility(e) => Some(e),
            ConfigError::NotBuilt(_) | ConfigError::TlsName(_) => None,
        }
    }
}

/// Everything a syslog sender needs to know, usually read from the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `SYSLOG`; `None` (unset, empty, invalid or not built) means log to stderr.
    pub target: Option<Target>,
    /// `SYSLOG_TLS_CA`, `SYSLOG_TLS_NAME` and `SYSLOG_TLS_KEY`, read for a `tls://` target only
    /// (all unset otherwise).
    pub tls: TlsSettings,
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
            tls: TlsSettings::default(),
            app_name: DEFAULT_APP_NAME.to_owned(),
            hostname: DEFAULT_APP_NAME.to_owned(),
            facility: Facility::default(),
            udp_max: crate::DEFAULT_UDP_MAX,
        }
    }
}

impl Config {
    /// Reads `SYSLOG`, `SYSLOG_APP_NAME`, `MORGANA_APP`, `SYSLOG_HOSTNAME`, `SYSLOG_FACILITY`
    /// and, for a `tls://` target, `SYSLOG_TLS_CA`, `SYSLOG_TLS_NAME` and `SYSLOG_TLS_KEY`
    /// through `var` (empty values count as unset). `built` lists the transports the caller
    /// has: a target with another one is an error. Bad values fall back to the defaults (no
    /// target: stderr) and are returned beside the configuration, to be reported once.
    pub fn from_env<'a>(var: impl Fn(&str) -> Option<&'a str>, built: &[Transport]) -> (Config, Vec<ConfigError>) {
        let var = |name: &str| var(name).map(str::trim).filter(|v| !v.is_empty());
        let mut config = Config::default();
        let mut errors = Vec::new();
        if let Some(v) = var("SYSLOG") {
            match v.parse::<Target>() {
                Ok(t) if !built.contains(&t.transport) => errors.push(ConfigError::NotBuilt(t)),
                Ok(t) => config.target = Some(t),
                Err(e) => errors.push(ConfigError::Target(e)),
            }
        }
        if config.target.as_ref().is_some_and(|t| t.transport == Transport::Tls) {
            config.tls.ca_file = var("SYSLOG_TLS_CA").map(str::to_owned);
            config.tls.client_key = var("SYSLOG_TLS_KEY").map(str::to_owned);
            if let Some(v) = var("SYSLOG_TLS_NAME") {
                match tls_name(v) {
                    Some(name) => config.tls.server_name = Some(name),
                    None => {
                        errors.push(ConfigError::TlsName(v.to_owned()));
                        config.target = None;
                        config.tls = TlsSettings::default();
                    }
                }
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
    /// [`Config::udp_max`], or one octet-counted frame (TCP and TLS alike).
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
            Transport::Tcp | Transport::Tls => {
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
        let t = target("tls://10.0.2.2");
        assert_eq!(t, Target { transport: Transport::Tls, host: ip("10.0.2.2"), port: 6514 });
        assert_eq!(target("TLS://logs.example.com:10514").port, 10514);
        assert_eq!(target("tls://[::1]").port, DEFAULT_TLS_PORT);
        assert_eq!(target("Tls://[::1]:514").transport, Transport::Tls);
    }

    #[test]
    fn display_round_trips() {
        for s in ["udp://127.0.0.1:5514", "tcp://[::1]:514", "tcp://logs.example.com:601", "tls://[::1]:6514"] {
            assert_eq!(target(s).to_string(), s);
            assert_eq!(target(&target(s).to_string()), target(s));
        }
        assert_eq!(target("udp://[::1]").to_string(), "udp://[::1]:514");
        assert_eq!(target("tls://logs").to_string(), "tls://logs:6514");
    }

    #[test]
    fn rejected_targets() {
        type Kind = fn(String) -> ParseTargetError;
        let cases: &[(&str, Kind)] = &[
            ("", ParseTargetError::Scheme),
            ("127.0.0.1:514", ParseTargetError::Scheme),
            ("http://x", ParseTargetError::Scheme),
            ("udp:/x", ParseTargetError::Scheme),
            ("ssl://x", ParseTargetError::Scheme),
            ("tls:/x", ParseTargetError::Scheme),
            (" tls ://x", ParseTargetError::Scheme),
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
            ("tls://", ParseTargetError::Host),
            ("tls://::1", ParseTargetError::Host),
            ("tls://host:0", ParseTargetError::Port),
        ];
        for (s, want) in cases {
            let err = s.parse::<Target>().unwrap_err();
            assert_eq!(err, want(s.to_string()), "{s}");
            let msg = err.to_string();
            assert!(msg.contains("udp://HOST[:PORT], tcp://HOST[:PORT] or tls://HOST[:PORT]"), "{msg}");
            assert!(msg.contains("default 514, 6514 for tls"), "{msg}");
            assert!(msg.contains(&format!("{s:?}")), "{msg}");
        }
        let long = format!("udp://{}", "a".repeat(64));
        assert!(long.parse::<Target>().is_err());
    }

    const ALL: [Transport; 3] = Transport::ALL;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<&'a str> {
        |name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| *v)
    }

    #[test]
    fn config_defaults() {
        let (c, errors) = Config::from_env(env(&[("SYSLOG", ""), ("SYSLOG_APP_NAME", " ")]), &ALL);
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
        let (c, errors) = Config::from_env(env(&vars), &ALL);
        assert!(errors.is_empty());
        assert_eq!(c.target, Some(target("tcp://[::1]:601")));
        assert_eq!((c.app_name.as_str(), c.hostname.as_str(), c.facility), ("web", "vm1", Facility::Local0));
        let (c, _) = Config::from_env(env(&[("MORGANA_APP", "web"), ("SYSLOG_APP_NAME", "api")]), &ALL);
        assert_eq!((c.app_name.as_str(), c.hostname.as_str()), ("api", "api"));
    }

    #[test]
    fn bad_config_values_fall_back() {
        let (c, errors) = Config::from_env(env(&[("SYSLOG", "udp:/x"), ("SYSLOG_FACILITY", "local9")]), &ALL);
        assert_eq!(c.target, None);
        assert_eq!(c.facility, Facility::User);
        assert_eq!(errors.len(), 2);
        assert!(errors[0].to_string().ends_with("; logging to stderr"), "{}", errors[0]);
        assert!(errors[1].to_string().ends_with("; using user"), "{}", errors[1]);
    }

    #[test]
    fn frames() {
        let (c, _) = Config::from_env(env(&[("SYSLOG_APP_NAME", "web")]), &ALL);
        let now = Some(Timestamp::new(1_795_492_161, 5_000));
        let line = "<14>1 2026-11-24T03:49:21.000005Z web web - http - GET / HTTP/1.1 200";
        let udp = c.frame(Transport::Udp, now, Level::Info, "http", "GET / HTTP/1.1 200\n");
        assert_eq!(String::from_utf8(udp).unwrap(), line);
        let tcp = c.frame(Transport::Tcp, now, Level::Info, "http", "GET / HTTP/1.1 200");
        assert_eq!(String::from_utf8(tcp).unwrap(), format!("{} {line}", line.len()));
        let tls = c.frame(Transport::Tls, now, Level::Info, "http", "GET / HTTP/1.1 200");
        assert_eq!(String::from_utf8(tls).unwrap(), format!("{} {line}", line.len()));
        let warn = c.frame(Transport::Udp, None, Level::Warn, "my context", "x");
        assert_eq!(String::from_utf8(warn).unwrap(), "<12>1 - web web - my_context - x");
        let small = Config { udp_max: 10, ..c };
        assert_eq!(small.frame(Transport::Udp, now, Level::Info, "", "x").len(), 10);
    }

    #[test]
    fn tls_settings() {
        let vars = [
            ("SYSLOG", "tls://10.0.2.2"),
            ("SYSLOG_TLS_CA", " /etc/ca.pem "),
            ("SYSLOG_TLS_NAME", "logs.example.com."),
            ("SYSLOG_TLS_KEY", "client"),
        ];
        let (c, errors) = Config::from_env(env(&vars), &ALL);
        assert!(errors.is_empty(), "{errors:?}");
        let t = c.target.clone().unwrap();
        assert_eq!((t.transport, t.port), (Transport::Tls, 6514));
        let want = TlsSettings {
            ca_file: Some("/etc/ca.pem".into()),
            server_name: Some("logs.example.com".into()),
            client_key: Some("client".into()),
        };
        assert_eq!(c.tls, want);
        assert_eq!(c.tls.server_name(&t), "logs.example.com");

        // Unset or empty: the built-in roots, HOST as the name, no client certificate.
        let (c, errors) = Config::from_env(env(&[("SYSLOG", "tls://10.0.2.2:10514"), ("SYSLOG_TLS_CA", "")]), &ALL);
        assert!(errors.is_empty());
        assert_eq!(c.tls, TlsSettings::default());
        assert_eq!(c.tls.server_name(c.target.as_ref().unwrap()), "10.0.2.2");
        assert_eq!(TlsSettings::default().server_name(&target("tls://[::1]")), "::1");
        assert_eq!(TlsSettings::default().server_name(&target("tls://logs.lan.")), "logs.lan");

        // Not read for other transports.
        let (c, errors) = Config::from_env(env(&[("SYSLOG", "tcp://10.0.2.2"), ("SYSLOG_TLS_NAME", "!")]), &ALL);
        assert!(errors.is_empty());
        assert_eq!(c.tls, TlsSettings::default());
    }

    #[test]
    fn tls_names() {
        for (value, want) in [
            ("logs", "logs"),
            ("Logs.Example.COM.", "Logs.Example.COM"),
            ("192.0.2.1", "192.0.2.1"),
            ("[2001:db8::1]", "2001:db8::1"),
            ("2001:DB8::1", "2001:db8::1"),
        ] {
            let (c, errors) = Config::from_env(env(&[("SYSLOG", "tls://h"), ("SYSLOG_TLS_NAME", value)]), &ALL);
            assert!(errors.is_empty(), "{value}: {errors:?}");
            assert_eq!(c.tls.server_name.as_deref(), Some(want));
        }
        for value in ["*.example.com", "a b", "[logs]", "1.2.3", "https://logs"] {
            let vars = [("SYSLOG", "tls://h"), ("SYSLOG_TLS_NAME", value), ("SYSLOG_TLS_CA", "/ca.pem")];
            let (c, errors) = Config::from_env(env(&vars), &ALL);
            assert_eq!(errors, [ConfigError::TlsName(value.into())]);
            assert_eq!((c.target, c.tls), (None, TlsSettings::default()), "{value}");
            let msg = errors[0].to_string();
            assert!(msg.starts_with(&format!("invalid SYSLOG_TLS_NAME={value:?}: ")), "{msg}");
            assert!(msg.ends_with("; logging to stderr"), "{msg}");
        }
    }

    #[test]
    fn transports_left_out_of_the_build() {
        let (c, errors) = Config::from_env(
            env(&[("SYSLOG", "tls://10.0.2.2"), ("SYSLOG_TLS_CA", "/ca")]),
            &[Transport::Udp, Transport::Tcp],
        );
        assert_eq!((c.target, c.tls), (None, TlsSettings::default()));
        assert_eq!(errors, [ConfigError::NotBuilt(target("tls://10.0.2.2:6514"))]);
        let msg = errors[0].to_string();
        assert!(msg.starts_with("SYSLOG=tls://10.0.2.2:6514 needs the TLS transport"), "{msg}");
        assert!(msg.contains("built without its cargo feature `tls`"), "{msg}");
        assert!(msg.contains(r#"add `features = ["tls"]` to the syslog component's table in the manifest"#), "{msg}");
        assert!(msg.ends_with("; logging to stderr"), "{msg}");

        let (c, errors) = Config::from_env(env(&[("SYSLOG", "tcp://[::1]")]), &[Transport::Udp]);
        assert_eq!(c.target, None);
        assert!(errors[0].to_string().contains(r#"`features = ["tcp"]`"#), "{}", errors[0]);
        let (c, errors) = Config::from_env(env(&[("SYSLOG", "udp://[::1]")]), &[Transport::Udp]);
        assert!(errors.is_empty());
        assert_eq!(c.target, Some(target("udp://[::1]:514")));
    }
}
