//! Boot parameters: the kernel command line (`qemu -append`), the second configuration route
//! after the values baked into the image. `morgana run` writes it; the kernel reads it.
//!
//! Space-separated `key=value` tokens; values are percent-encoded (every byte outside
//! `A-Z a-z 0-9 - . _ ~` as `%XX`), so any string survives:
//!
//! ```text
//! arg=a arg=two%20words env=GREETING=Hi%20there timeout-ms=5000 wall-clock=1764000000 verbose
//! ```
//!
//! `arg` may repeat (in order); `env` may repeat and overrides a baked variable of the same
//! name; `timeout-ms` overrides the baked timeout (0: none); `wall-clock` (seconds since the
//! Unix epoch) is the fallback when the machine has no real-time clock; `ip=ADDRESS/PREFIX`,
//! `gateway=ADDRESS` and `dns=ADDRESS` (repeatable) configure the network statically instead of
//! by DHCP; `console-channel` says that `morgana run` attached the console channel, over which
//! arguments and environment of any size come (the command line is read up to
//! [`MAX_COMMAND_LINE`] bytes); `probe=NAME` makes the kernel attempt one forbidden memory
//! access (write to code, execute the heap, overflow a stack, ...) just before the application
//! starts, to show that it is stopped and reported: a self-test of the memory protection.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::net::IpAddr;

/// The longest command line the kernel reads; it refuses a longer one with a message (rather
/// than reading part of it), and so does `morgana run`.
pub const MAX_COMMAND_LINE: usize = 65535;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BootParams {
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub timeout_ms: Option<u64>,
    pub wall_clock: Option<u64>,
    /// `verbose`: the kernel reports its boot steps with timestamps on the console.
    pub verbose: bool,
    /// `console-channel`: the standard streams, arguments and environment come over the console
    /// channel (`crate::channel`) that `morgana run` attaches.
    pub console_channel: bool,
    /// `ip=ADDRESS/PREFIX`: a static address instead of DHCP.
    pub ip: Option<(IpAddr, u8)>,
    /// `gateway=ADDRESS`: the default gateway, with `ip`.
    pub gateway: Option<IpAddr>,
    /// `dns=ADDRESS`, repeatable: DNS servers, with `ip`.
    pub dns: Vec<IpAddr>,
    /// `virtio_mmio.device=SIZE@BASE:IRQ`, as QEMU's microvm announces its virtio-mmio devices
    /// (with ACPI off): (base address, interrupt line). Read, never written by `encode`.
    pub virtio_mmio: Vec<(u64, u32)>,
    /// `probe=NAME`: a memory-protection self-test the kernel runs before the application.
    pub probe: Option<String>,
    /// `http-listen=ADDRESS:PORT`: where a `wasi:http` handler is served, as the user asked
    /// (`morgana run --listen`): the kernel listens on the port (on every address of the VM;
    /// QEMU forwards the address to it) and names the address when it reports that it serves.
    pub http_listen: Option<core::net::SocketAddr>,
    /// `http-instance-reuse=N`: requests one instance of a `wasi:http` handler serves before it
    /// is dropped (1, the default: a fresh instance per request).
    pub http_instance_reuse: Option<u32>,
    /// Tokens the kernel does not know, kept to warn about.
    pub unknown: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootParamError {
    pub token: String,
    pub reason: &'static str,
}

impl fmt::Display for BootParamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "boot parameter `{}`: {}", self.token, self.reason)
    }
}

impl BootParams {
    /// The command line for these parameters.
    pub fn encode(&self) -> String {
        let mut tokens = Vec::new();
        tokens.extend(self.args.iter().map(|a| format!("arg={}", percent_encode(a))));
        tokens.extend(self.env.iter().map(|(k, v)| format!("env={}", percent_encode(&format!("{k}={v}")))));
        if let Some(ms) = self.timeout_ms {
            tokens.push(format!("timeout-ms={ms}"));
        }
        if let Some(seconds) = self.wall_clock {
            tokens.push(format!("wall-clock={seconds}"));
        }
        if let Some((address, prefix)) = self.ip {
            tokens.push(format!("ip={}", percent_encode(&format!("{address}/{prefix}"))));
        }
        if let Some(gateway) = self.gateway {
            tokens.push(format!("gateway={}", percent_encode(&format!("{gateway}"))));
        }
        tokens.extend(self.dns.iter().map(|d| format!("dns={}", percent_encode(&format!("{d}")))));
        if self.verbose {
            tokens.push("verbose".into());
        }
        if self.console_channel {
            tokens.push(crate::channel::BOOT_PARAM.into());
        }
        if let Some(probe) = &self.probe {
            tokens.push(format!("probe={}", percent_encode(probe)));
        }
        if let Some(listen) = self.http_listen {
            tokens.push(format!("http-listen={}", percent_encode(&format!("{listen}"))));
        }
        if let Some(uses) = self.http_instance_reuse {
            tokens.push(format!("http-instance-reuse={uses}"));
        }
        tokens.join(" ")
    }

    /// These parameters with `later`'s laid over them: arguments and environment add up (a
    /// later variable wins), settings given later replace earlier ones.
    pub fn overridden_by(mut self, later: BootParams) -> Self {
        self.args.extend(later.args);
        self.env.extend(later.env);
        self.timeout_ms = later.timeout_ms.or(self.timeout_ms);
        self.wall_clock = later.wall_clock.or(self.wall_clock);
        self.verbose |= later.verbose;
        self.console_channel |= later.console_channel;
        if later.ip.is_some() {
            self.ip = later.ip;
            self.gateway = later.gateway;
            self.dns = later.dns;
        } else if !later.dns.is_empty() {
            self.dns = later.dns;
        }
        self.gateway = later.gateway.or(self.gateway);
        self.virtio_mmio.extend(later.virtio_mmio);
        self.probe = later.probe.or(self.probe);
        self.http_listen = later.http_listen.or(self.http_listen);
        self.http_instance_reuse = later.http_instance_reuse.or(self.http_instance_reuse);
        self.unknown.extend(later.unknown);
        self
    }

    /// Reads a command line; never panics, whatever it holds.
    pub fn parse(cmdline: &str) -> Result<Self, BootParamError> {
        let mut params = BootParams::default();
        for token in cmdline.split_ascii_whitespace() {
            let bad = |reason| BootParamError { token: token.into(), reason };
            let Some((key, value)) = token.split_once('=') else {
                match token {
                    "verbose" => params.verbose = true,
                    crate::channel::BOOT_PARAM => params.console_channel = true,
                    _ => params.unknown.push(token.into()),
                }
                continue;
            };
            let value = percent_decode(value).ok_or_else(|| bad("bad percent-encoding or not UTF-8"))?;
            match key {
                "arg" => params.args.push(value),
                "probe" => params.probe = Some(value),
                "env" => {
                    let (name, val) = value.split_once('=').ok_or_else(|| bad("expected env=NAME=VALUE"))?;
                    if name.is_empty() {
                        return Err(bad("the variable name is empty"));
                    }
                    params.env.push((name.into(), val.into()));
                }
                "timeout-ms" => params.timeout_ms = Some(value.parse().map_err(|_| bad("expected milliseconds"))?),
                "http-instance-reuse" => {
                    let uses = value.parse().ok().filter(|n| *n > 0);
                    params.http_instance_reuse = Some(uses.ok_or_else(|| bad("expected a count of at least 1"))?)
                }
                "http-listen" => params.http_listen = Some(value.parse().map_err(|_| bad("expected ADDRESS:PORT"))?),
                "wall-clock" => params.wall_clock = Some(value.parse().map_err(|_| bad("expected seconds"))?),
                "ip" => {
                    let (address, prefix) = value.split_once('/').ok_or_else(|| bad("expected ADDRESS/PREFIX"))?;
                    let address: IpAddr = address.parse().map_err(|_| bad("not an IP address"))?;
                    let limit = if address.is_ipv4() { 32 } else { 128 };
                    let prefix: u8 =
                        prefix.parse().ok().filter(|p| *p <= limit).ok_or_else(|| bad("bad prefix length"))?;
                    params.ip = Some((address, prefix));
                }
                "gateway" => params.gateway = Some(value.parse().map_err(|_| bad("not an IP address"))?),
                "dns" => params.dns.push(value.parse().map_err(|_| bad("not an IP address"))?),
                "virtio_mmio.device" => {
                    params.virtio_mmio.push(parse_virtio_mmio(&value).ok_or_else(|| bad("expected SIZE@BASE:IRQ"))?)
                }
                _ => params.unknown.push(token.into()),
            }
        }
        Ok(params)
    }
}

/// `512@0xfeb00e00:12` → (0xfeb00e00, 12).
fn parse_virtio_mmio(value: &str) -> Option<(u64, u32)> {
    let (_size, rest) = value.split_once('@')?;
    let (base, irq) = rest.split_once(':')?;
    let base = u64::from_str_radix(base.strip_prefix("0x").unwrap_or(base), 16).ok()?;
    Some((base, irq.parse().ok()?))
}

fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = core::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn round_trip_of_awkward_values() {
        let params = BootParams {
            args: vec!["a".into(), "two words".into(), "".into(), "%=ü\n".into()],
            env: vec![("GREETING".into(), "Hi there = you".into()), ("EMPTY".into(), "".into())],
            timeout_ms: Some(5000),
            wall_clock: Some(1_764_000_000),
            verbose: true,
            console_channel: true,
            ip: Some(("10.0.0.2".parse().unwrap(), 24)),
            gateway: Some("10.0.0.1".parse().unwrap()),
            dns: vec!["10.0.0.1".parse().unwrap(), "fd00::1".parse().unwrap()],
            virtio_mmio: vec![],
            probe: Some("write-code".into()),
            http_listen: Some("[::1]:8080".parse().unwrap()),
            http_instance_reuse: Some(3),
            unknown: vec![],
        };
        let line = params.encode();
        assert!(!line.contains('\n') && !line.contains("  "), "{line}");
        assert_eq!(BootParams::parse(&line).unwrap(), params);
    }

    #[test]
    fn command_line_values_override_baked_ones() {
        let baked = BootParams::parse("ip=10.0.0.2/24 gateway=10.0.0.1 dns=10.0.0.1 timeout-ms=100").unwrap();
        let merged = baked.clone().overridden_by(BootParams::parse("dns=9.9.9.9 arg=x").unwrap());
        assert_eq!(merged.ip, baked.ip);
        assert_eq!(merged.dns, vec!["9.9.9.9".parse::<IpAddr>().unwrap()]);
        assert_eq!((merged.timeout_ms, merged.args.as_slice()), (Some(100), &[String::from("x")][..]));
        let replaced = baked.overridden_by(BootParams::parse("ip=192.168.1.5/16").unwrap());
        assert_eq!((replaced.ip.unwrap().1, replaced.gateway, replaced.dns.len()), (16, None, 0));
    }

    #[test]
    fn bad_tokens_are_reported_or_kept_as_unknown() {
        assert!(BootParams::parse("env=NOEQUALS").is_err());
        assert!(BootParams::parse("arg=%zz").is_err());
        assert!(BootParams::parse("arg=%c3").is_err(), "truncated UTF-8");
        assert!(BootParams::parse("timeout-ms=soon").is_err());
        assert!(BootParams::parse("ip=10.0.0.2").is_err());
        assert!(BootParams::parse("ip=10.0.0.2/33").is_err());
        assert!(BootParams::parse("gateway=ten").is_err());
        let p = BootParams::parse("arg=y virtio_mmio.device=512@0xfeb00e00:12").unwrap();
        assert_eq!(p.virtio_mmio, vec![(0xfeb0_0e00, 12)]);
        let p = BootParams::parse("console=ttyS0 quiet arg=x").unwrap();
        assert_eq!(p.unknown, vec!["console=ttyS0", "quiet"]);
        assert_eq!(p.args, vec!["x"]);
    }
}
