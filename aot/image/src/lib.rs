//! The contract between Morgana's image builder (`aot`, on the build host) and its kernel:
//! what an image carries besides the kernel, and the wasmtime settings both sides must share.
//!
//! An image is the kernel's PVH ELF file plus one extra loadable segment, the *payload*,
//! placed at the first 2 MiB boundary after the kernel's last byte in memory (where the kernel
//! looks for it). The payload is versioned and checksummed, so a damaged or foreign image is
//! refused with a message instead of being run:
//!
//! ```text
//! offset  size  field
//! 0       8     magic "MORGANA\0"
//! 8       4     format version (little endian), currently 4
//! 12      4     reserved, zero
//! 16      8     total payload length in bytes, header included
//! 24      8     checksum of bytes 32..total: FNV-1a 64 over their little-endian 64-bit
//!               words, the last one padded with zeros (`checksum`)
//! 32      ...   sections: tag u32, length u32, bytes; in any order, unknown tags skipped
//! ```
//!
//! Sections: the wasmtime version (1), the target (2), the boot configuration (3), the
//! precompiled component (4), the preopened directories (5, when there are any: each a
//! guest path and either an [`archive`] of baked contents or the size of a scratch directory),
//! and padding (6, zeros) that puts the component's first byte on a [`COMPONENT_ALIGN`]
//! boundary, so that the kernel can publish its code where it lies, without a copy.
//!
//! [`engine_settings`] is the single definition of the wasmtime `Config` that precompiled
//! code depends on; the AOT compiler and the kernel both call it, so they cannot drift apart.
//!
//! `no_std` (with `alloc`): it builds into the kernel.

#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod archive;
pub mod boot_params;
pub mod channel;
pub mod exit;
mod wire;

use wire::{Reader, put_bytes};

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

/// The payload's first bytes.
pub const MAGIC: [u8; 8] = *b"MORGANA\0";
/// The payload layout this crate reads and writes.
pub const FORMAT_VERSION: u32 = 6;
/// Where the payload is placed: the first multiple of this after the kernel's end.
pub const PAYLOAD_ALIGN: u64 = 2 << 20;
/// Where the precompiled component starts in the payload (and so in memory): on a page, whose
/// code the kernel maps read + execute in place.
pub const COMPONENT_ALIGN: usize = 4096;
/// The wasmtime version precompiled code is made for; the kernel runs exactly this one.
pub const WASMTIME_VERSION: &str = "48.0.8";
/// The target triple precompiled code is made for.
pub const KERNEL_TARGET: &str = "x86_64-unknown-none";

/// x86-64 features the precompiled code uses beyond the baseline: (Cranelift flag, CPUID name).
/// The kernel's CPU must have them (QEMU: `-cpu max`, or a host CPU under KVM).
pub const X86_64_FEATURES: &[(&str, &str)] = &[
    ("has_sse3", "sse3"),
    ("has_ssse3", "ssse3"),
    ("has_sse41", "sse4.1"),
    ("has_sse42", "sse4.2"),
    ("has_popcnt", "popcnt"),
];

#[cfg(feature = "engine")]
/// The settings precompiled code depends on, identical on the build host and in the kernel:
/// each linear memory reserved for 4 GiB plus a 2 GiB guard region up front (a window of the
/// kernel's address space, backed only where accessible, so it never moves and `memory.grow`
/// copies nothing), bounds checks left to the page tables (`signals_based_traps`: an access past
/// the end faults into the kernel's page-fault handler, which hands it to wasmtime as a trap),
/// explicit stack checks, no copy-on-write memory images, and epoch interruption for timeouts.
///
/// Measured under QEMU TCG (`benches/compute.py`'s sort of 10 M integers): 10.8 s with the
/// memory on the heap and explicit checks, 7.5 s reserved with explicit checks, 4.9 s with
/// the checks left to the page tables.
pub fn engine_settings(config: &mut wasmtime::Config) {
    config.wasm_component_model(true);
    config.memory_init_cow(false);
    config.memory_reservation(4 << 30);
    config.memory_guard_size(2 << 30);
    config.memory_reservation_for_growth(0);
    config.signals_based_traps(true);
    config.epoch_interruption(true);
    config.max_wasm_stack(512 << 10);
}

const TAG_WASMTIME_VERSION: u32 = 1;
const TAG_TARGET: u32 = 2;
const TAG_CONFIG: u32 = 3;
const TAG_COMPONENT: u32 = 4;
const TAG_DIRS: u32 = 5;
const TAG_PADDING: u32 = 6;
const TAG_KEYS: u32 = 7;
const HEADER_LEN: usize = 32;

/// What the build baked into an image for the kernel to boot with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BootConfig {
    /// The application's name, `argv[0]`.
    pub app_name: String,
    /// Baked environment variables; boot parameters override them.
    pub env: Vec<(String, String)>,
    /// Ends the application after this many milliseconds, when set.
    pub timeout_ms: Option<u64>,
    /// The memory the VM should have, in MiB, when the manifest says.
    pub memory_mib: Option<u64>,
    /// Host ports the VMM should forward to the VM, `[ADDRESS:]HOST:GUEST[/udp]`.
    pub ports: Vec<String>,
    /// Boot parameters baked in (`boot_params` syntax), e.g. a static network configuration;
    /// the command line's come after them and win.
    pub boot_params: String,
    /// The host interfaces compiled into the kernel, for `inspect`.
    pub host_interfaces: Vec<String>,
    /// The size of the composed component before precompilation, for `inspect`.
    pub component_size: u64,
    /// The components composed into it, with their sizes before composition, for `inspect`.
    pub parts: Vec<(String, u64)>,
    /// The application's standard input is empty (`[run] stdin = "null"`), not the caller's.
    pub stdin_null: bool,
    /// The component exports `wasi:http/incoming-handler`: the kernel serves it over HTTP (and
    /// `morgana run` forwards `--listen` to it) instead of calling `wasi:cli/run`.
    pub serves_http: bool,
}

/// A decoded payload, borrowing the precompiled component from the image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payload<'a> {
    pub wasmtime_version: String,
    pub target: String,
    pub config: BootConfig,
    /// The precompiled component (`Engine::precompile_component` output).
    pub component: &'a [u8],
    /// The directories preopened for the application (`[dirs]`), in the order it sees them.
    pub dirs: Vec<PayloadDir<'a>>,
    /// The private keys the kernel holds for `morgana:crypto/signing` (`[keys]`), in order.
    pub keys: Vec<PayloadKey<'a>>,
}

/// A private key and its certificate chain, as the PEM files the build read (borrowed from
/// the image). The kernel parses and checks them at boot; the component never sees them.
#[derive(Clone, PartialEq, Eq)]
pub struct PayloadKey<'a> {
    pub name: String,
    pub certificate_pem: &'a [u8],
    pub key_pem: &'a [u8],
}

/// Never prints the key.
impl fmt::Debug for PayloadKey<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PayloadKey").field("name", &self.name).finish_non_exhaustive()
    }
}

/// A directory the kernel preopens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayloadDir<'a> {
    /// Where the application finds it, e.g. `/data`.
    pub guest: String,
    pub contents: DirContents<'a>,
}

/// What a preopened directory holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DirContents<'a> {
    /// A read-only tree baked at build time ([`archive`] bytes, borrowed from the image).
    Archive(&'a [u8]),
    /// An empty, writable directory in memory, holding at most `capacity` bytes of files.
    Scratch { capacity: u64 },
}

/// Why bytes are not a usable payload.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ImageError {
    /// No payload: the bytes do not start with [`MAGIC`].
    NoPayload,
    /// Made by a Morgana whose payload layout this one does not read.
    UnsupportedVersion(u32),
    /// Shorter than it says it is, or a section runs past its end.
    Truncated,
    /// The checksum does not match: the image was damaged after it was built.
    Corrupted { expected: u64, actual: u64 },
    /// A required section is absent.
    MissingSection(&'static str),
    /// A section's contents do not parse.
    BadSection(&'static str),
}

impl fmt::Display for ImageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImageError::NoPayload => {
                f.write_str("the image carries no application (no Morgana payload after the kernel)")
            }
            ImageError::UnsupportedVersion(v) => write!(
                f,
                "the image's payload has format version {v}, but this kernel reads version {FORMAT_VERSION}; rebuild the image with this version of morgana"
            ),
            ImageError::Truncated => f.write_str("the image's payload is truncated"),
            ImageError::Corrupted { expected, actual } => write!(
                f,
                "the image's payload is corrupted (checksum {actual:#018x}, expected {expected:#018x}); rebuild it"
            ),
            ImageError::MissingSection(s) => write!(f, "the image's payload lacks its {s} section"),
            ImageError::BadSection(s) => write!(f, "the image's payload has a malformed {s} section"),
        }
    }
}

impl Payload<'_> {
    /// Encodes the payload.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN + self.component.len() + 256);
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&[0; 16]); // length and checksum, filled in below
        section(&mut out, TAG_WASMTIME_VERSION, self.wasmtime_version.as_bytes());
        section(&mut out, TAG_TARGET, self.target.as_bytes());
        section(&mut out, TAG_CONFIG, &self.config.encode());
        // Padding, so that the component's bytes start on a page: two section headers (8 bytes
        // each) and the zeros between them.
        let padding = (out.len() + 16).next_multiple_of(COMPONENT_ALIGN) - (out.len() + 16);
        section(&mut out, TAG_PADDING, &alloc::vec![0; padding]);
        section(&mut out, TAG_COMPONENT, self.component);
        if !self.dirs.is_empty() {
            section(&mut out, TAG_DIRS, &encode_dirs(&self.dirs));
        }
        if !self.keys.is_empty() {
            section(&mut out, TAG_KEYS, &encode_keys(&self.keys));
        }
        let total = out.len() as u64;
        out[16..24].copy_from_slice(&total.to_le_bytes());
        let checksum = checksum(&out[HEADER_LEN..]);
        out[24..32].copy_from_slice(&checksum.to_le_bytes());
        out
    }
}

impl<'a> Payload<'a> {
    /// The payload's length as its header says, to know how much memory to look at.
    pub fn declared_len(header: &[u8]) -> Result<u64, ImageError> {
        if header.len() < HEADER_LEN || header[..8] != MAGIC {
            return Err(ImageError::NoPayload);
        }
        let version = u32::from_le_bytes(header[8..12].try_into().unwrap());
        if version != FORMAT_VERSION {
            return Err(ImageError::UnsupportedVersion(version));
        }
        Ok(u64::from_le_bytes(header[16..24].try_into().unwrap()))
    }

    /// Decodes and verifies a payload that starts at `bytes[0]`.
    pub fn decode(bytes: &'a [u8]) -> Result<Self, ImageError> {
        let total = usize::try_from(Self::declared_len(bytes)?).map_err(|_| ImageError::Truncated)?;
        if total < HEADER_LEN || bytes.len() < total {
            return Err(ImageError::Truncated);
        }
        let bytes = &bytes[..total];
        let expected = u64::from_le_bytes(bytes[24..32].try_into().unwrap());
        let actual = checksum(&bytes[HEADER_LEN..]);
        if expected != actual {
            return Err(ImageError::Corrupted { expected, actual });
        }
        let (mut version, mut target, mut config, mut component) = (None, None, None, None);
        let (mut dirs, mut keys) = (Vec::new(), Vec::new());
        let mut rest = &bytes[HEADER_LEN..];
        while !rest.is_empty() {
            let mut reader = Reader(rest);
            let tag = reader.u32().ok_or(ImageError::Truncated)?;
            let body = reader.bytes().ok_or(ImageError::Truncated)?;
            rest = reader.0;
            match tag {
                TAG_WASMTIME_VERSION => version = Some(utf8(body, "wasmtime version")?),
                TAG_TARGET => target = Some(utf8(body, "target")?),
                TAG_CONFIG => {
                    config = Some(BootConfig::decode(body).ok_or(ImageError::BadSection("boot configuration"))?)
                }
                TAG_COMPONENT => component = Some(body),
                TAG_DIRS => dirs = decode_dirs(body).ok_or(ImageError::BadSection("preopened directories"))?,
                TAG_KEYS => keys = decode_keys(body).ok_or(ImageError::BadSection("keys"))?,
                TAG_PADDING => {}
                _ => {}
            }
        }
        Ok(Payload {
            wasmtime_version: version.ok_or(ImageError::MissingSection("wasmtime version"))?,
            target: target.ok_or(ImageError::MissingSection("target"))?,
            config: config.ok_or(ImageError::MissingSection("boot configuration"))?,
            component: component.ok_or(ImageError::MissingSection("component"))?,
            dirs,
            keys,
        })
    }
}

fn encode_dirs(dirs: &[PayloadDir<'_>]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&(dirs.len() as u32).to_le_bytes());
    for dir in dirs {
        put_bytes(&mut out, dir.guest.as_bytes());
        match dir.contents {
            DirContents::Archive(bytes) => {
                out.push(1);
                out.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
                out.extend_from_slice(bytes);
            }
            DirContents::Scratch { capacity } => {
                out.push(2);
                out.extend_from_slice(&capacity.to_le_bytes());
            }
        }
    }
    out
}

fn encode_keys(keys: &[PayloadKey<'_>]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&(keys.len() as u32).to_le_bytes());
    for key in keys {
        put_bytes(&mut out, key.name.as_bytes());
        put_bytes(&mut out, key.certificate_pem);
        put_bytes(&mut out, key.key_pem);
    }
    out
}

fn decode_keys(bytes: &[u8]) -> Option<Vec<PayloadKey<'_>>> {
    let mut r = Reader(bytes);
    let count = r.u32()? as usize;
    if count > bytes.len() / 12 {
        return None;
    }
    let mut keys = Vec::with_capacity(count);
    for _ in 0..count {
        let name = r.string()?;
        let certificate_pem = r.bytes()?;
        let key_pem = r.bytes()?;
        keys.push(PayloadKey { name, certificate_pem, key_pem });
    }
    r.is_empty().then_some(keys)
}

fn decode_dirs(bytes: &[u8]) -> Option<Vec<PayloadDir<'_>>> {
    let mut r = Reader(bytes);
    let count = r.u32()? as usize;
    if count > bytes.len() / 13 {
        return None;
    }
    let mut dirs = Vec::with_capacity(count);
    for _ in 0..count {
        let guest = r.string()?;
        let contents = match r.take(1)? {
            [1] => {
                let len = usize::try_from(r.u64()?).ok()?;
                DirContents::Archive(r.take(len)?)
            }
            [2] => DirContents::Scratch { capacity: r.u64()? },
            _ => return None,
        };
        dirs.push(PayloadDir { guest, contents });
    }
    r.is_empty().then_some(dirs)
}

impl BootConfig {
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        put_bytes(&mut out, self.app_name.as_bytes());
        out.extend_from_slice(&(self.env.len() as u32).to_le_bytes());
        for (name, value) in &self.env {
            put_bytes(&mut out, name.as_bytes());
            put_bytes(&mut out, value.as_bytes());
        }
        out.extend_from_slice(&self.timeout_ms.unwrap_or(0).to_le_bytes());
        out.extend_from_slice(&self.memory_mib.unwrap_or(0).to_le_bytes());
        out.extend_from_slice(&(self.ports.len() as u32).to_le_bytes());
        for port in &self.ports {
            put_bytes(&mut out, port.as_bytes());
        }
        put_bytes(&mut out, self.boot_params.as_bytes());
        out.extend_from_slice(&(self.host_interfaces.len() as u32).to_le_bytes());
        for interface in &self.host_interfaces {
            put_bytes(&mut out, interface.as_bytes());
        }
        out.extend_from_slice(&self.component_size.to_le_bytes());
        out.extend_from_slice(&(self.parts.len() as u32).to_le_bytes());
        for (name, size) in &self.parts {
            put_bytes(&mut out, name.as_bytes());
            out.extend_from_slice(&size.to_le_bytes());
        }
        out.push(self.stdin_null as u8);
        out.push(self.serves_http as u8);
        out
    }

    fn decode(bytes: &[u8]) -> Option<Self> {
        let mut r = Reader(bytes);
        let app_name = r.string()?;
        let env = (0..r.u32()?).map(|_| Some((r.string()?, r.string()?))).collect::<Option<Vec<_>>>()?;
        let timeout_ms = Some(r.u64()?).filter(|t| *t != 0);
        let memory_mib = Some(r.u64()?).filter(|m| *m != 0);
        let ports = (0..r.u32()?).map(|_| r.string()).collect::<Option<Vec<_>>>()?;
        let boot_params = r.string()?;
        let host_interfaces = (0..r.u32()?).map(|_| r.string()).collect::<Option<Vec<_>>>()?;
        let component_size = r.u64()?;
        let parts = (0..r.u32()?).map(|_| Some((r.string()?, r.u64()?))).collect::<Option<Vec<_>>>()?;
        let mut flag = || match r.take(1)? {
            [0] => Some(false),
            [1] => Some(true),
            _ => None,
        };
        let stdin_null = flag()?;
        let serves_http = flag()?;
        Some(BootConfig {
            app_name,
            env,
            timeout_ms,
            memory_mib,
            ports,
            boot_params,
            host_interfaces,
            component_size,
            parts,
            stdin_null,
            serves_http,
        })
    }
}

fn section(out: &mut Vec<u8>, tag: u32, body: &[u8]) {
    out.extend_from_slice(&tag.to_le_bytes());
    put_bytes(out, body);
}

fn utf8(bytes: &[u8], what: &'static str) -> Result<String, ImageError> {
    core::str::from_utf8(bytes).map(String::from).map_err(|_| ImageError::BadSection(what))
}

/// FNV-1a, 64 bits, byte by byte: good enough to tell files apart (the build's cache keys).
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        hash ^= b as u64;
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// The payload's checksum: FNV-1a 64 taken a 64-bit little-endian word at a time (the last word
/// padded with zeros) rather than a byte at a time — eight times fewer steps, which the kernel
/// feels at every boot (under emulation, a byte-wise pass over a few hundred KiB took ms).
pub fn checksum(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut words = bytes.chunks_exact(8);
    for word in &mut words {
        hash ^= u64::from_le_bytes(word.try_into().expect("8 bytes"));
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    let tail = words.remainder();
    if !tail.is_empty() {
        let mut last = [0u8; 8];
        last[..tail.len()].copy_from_slice(tail);
        hash ^= u64::from_le_bytes(last);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn sample(component: &[u8]) -> Payload<'_> {
        Payload {
            wasmtime_version: WASMTIME_VERSION.into(),
            target: KERNEL_TARGET.into(),
            config: BootConfig {
                app_name: "hello".into(),
                env: vec![("GREETING".into(), "Hello".into()), ("EMPTY".into(), String::new())],
                timeout_ms: Some(1500),
                memory_mib: Some(256),
                ports: vec!["8080:80".into(), "5353:53/udp".into()],
                boot_params: "ip=10.0.0.2%2F24".into(),
                host_interfaces: vec!["wasi:cli/stdout".into()],
                component_size: 1234,
                parts: vec![("app".into(), 1000), ("store".into(), 234)],
                stdin_null: true,
                serves_http: true,
            },
            component,
            dirs: vec![
                PayloadDir { guest: "/data".into(), contents: DirContents::Archive(b"archive bytes") },
                PayloadDir { guest: "/tmp".into(), contents: DirContents::Scratch { capacity: 8 << 20 } },
            ],
            keys: vec![PayloadKey { name: "site".into(), certificate_pem: b"chain", key_pem: b"secret" }],
        }
    }

    #[test]
    fn keys_never_show_in_debug_output() {
        let component = [7u8; 10];
        let text = alloc::format!("{:?}", sample(&component));
        assert!(text.contains("site") && !text.contains("secret"), "{text}");
    }

    #[test]
    fn round_trip() {
        let component = [7u8; 1000];
        let payload = sample(&component);
        let bytes = payload.encode();
        assert_eq!(Payload::decode(&bytes).unwrap(), payload);
        // Trailing bytes (the rest of memory) are ignored.
        let mut longer = bytes.clone();
        longer.extend_from_slice(&[0xff; 100]);
        assert_eq!(Payload::decode(&longer).unwrap(), payload);
    }

    #[test]
    fn the_component_starts_on_a_page() {
        for len in [0, 1, 1000, 5000] {
            let component = vec![7u8; len];
            let bytes = sample(&component).encode();
            let decoded = Payload::decode(&bytes).unwrap();
            let offset = decoded.component.as_ptr() as usize - bytes.as_ptr() as usize;
            assert_eq!((offset % COMPONENT_ALIGN, decoded.component), (0, &component[..]));
        }
    }

    #[test]
    fn damage_is_detected() {
        let component = [7u8; 1000];
        let bytes = sample(&component).encode();
        let mut flipped = bytes.clone();
        flipped[500] ^= 1;
        assert!(matches!(Payload::decode(&flipped), Err(ImageError::Corrupted { .. })));
        assert_eq!(Payload::decode(&bytes[..bytes.len() - 1]), Err(ImageError::Truncated));
        assert_eq!(Payload::decode(&[0u8; 64]), Err(ImageError::NoPayload));
        let mut future = bytes.clone();
        future[8..12].copy_from_slice(&(FORMAT_VERSION + 1).to_le_bytes());
        assert_eq!(Payload::decode(&future), Err(ImageError::UnsupportedVersion(FORMAT_VERSION + 1)));
    }

    #[test]
    fn garbage_never_panics() {
        let mut state = 0x1234_5678u64;
        for len in 0..200 {
            let mut bytes: Vec<u8> = (0..len)
                .map(|_| {
                    state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    (state >> 33) as u8
                })
                .collect();
            if len >= 32 {
                bytes[..8].copy_from_slice(&MAGIC);
                bytes[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
                bytes[16..24].copy_from_slice(&(len as u64).to_le_bytes());
                let sum = fnv1a(&bytes[32..]);
                bytes[24..32].copy_from_slice(&sum.to_le_bytes());
            }
            let _ = Payload::decode(&bytes);
        }
    }
}
