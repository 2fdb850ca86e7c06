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
//! Unix epoch) is the fallback when the machine has no real-time clock.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BootParams {
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub timeout_ms: Option<u64>,
    pub wall_clock: Option<u64>,
    /// `verbose`: the kernel reports its boot steps with timestamps on the console.
    pub verbose: bool,
    /// `virtio_mmio.device=SIZE@BASE:IRQ`, as QEMU's microvm announces its virtio-mmio devices
    /// (with ACPI off): (base address, interrupt line). Read, never written by `encode`.
    pub virtio_mmio: Vec<(u64, u32)>,
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
        if self.verbose {
            tokens.push("verbose".into());
        }
        tokens.join(" ")
    }

    /// Reads a command line; never panics, whatever it holds.
    pub fn parse(cmdline: &str) -> Result<Self, BootParamError> {
        let mut params = BootParams::default();
        for token in cmdline.split_ascii_whitespace() {
            let bad = |reason| BootParamError { token: token.into(), reason };
            let Some((key, value)) = token.split_once('=') else {
                match token {
                    "verbose" => params.verbose = true,
                    _ => params.unknown.push(token.into()),
                }
                continue;
            };
            let value = percent_decode(value).ok_or_else(|| bad("bad percent-encoding or not UTF-8"))?;
            match key {
                "arg" => params.args.push(value),
                "env" => {
                    let (name, val) = value.split_once('=').ok_or_else(|| bad("expected env=NAME=VALUE"))?;
                    if name.is_empty() {
                        return Err(bad("the variable name is empty"));
                    }
                    params.env.push((name.into(), val.into()));
                }
                "timeout-ms" => params.timeout_ms = Some(value.parse().map_err(|_| bad("expected milliseconds"))?),
                "wall-clock" => params.wall_clock = Some(value.parse().map_err(|_| bad("expected seconds"))?),
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
            virtio_mmio: vec![],
            unknown: vec![],
        };
        let line = params.encode();
        assert!(!line.contains('\n') && !line.contains("  "), "{line}");
        assert_eq!(BootParams::parse(&line).unwrap(), params);
    }

    #[test]
    fn bad_tokens_are_reported_or_kept_as_unknown() {
        assert!(BootParams::parse("env=NOEQUALS").is_err());
        assert!(BootParams::parse("arg=%zz").is_err());
        assert!(BootParams::parse("arg=%c3").is_err(), "truncated UTF-8");
        assert!(BootParams::parse("timeout-ms=soon").is_err());
        let p = BootParams::parse("arg=y virtio_mmio.device=512@0xfeb00e00:12").unwrap();
        assert_eq!(p.virtio_mmio, vec![(0xfeb0_0e00, 12)]);
        let p = BootParams::parse("console=ttyS0 quiet arg=x").unwrap();
        assert_eq!(p.unknown, vec!["console=ttyS0", "quiet"]);
        assert_eq!(p.args, vec!["x"]);
    }
}
