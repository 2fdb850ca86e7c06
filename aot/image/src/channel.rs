//! The console channel: how `morgana run` and the kernel carry the application's standard
//! streams, arguments and environment between them. One byte stream each way (a virtio-console
//! port in the VM, QEMU's standard input and output on the host) carries frames:
//!
//! ```text
//! offset  size  field
//! 0       1     kind (below)
//! 1       4     payload length, little endian, at most MAX_PAYLOAD
//! 5       ...   payload
//! ```
//!
//! To the kernel ([`ToGuest`]): first [`ToGuest::Start`] (arguments and environment, of any
//! size), then standard input as it comes ([`ToGuest::Stdin`], [`ToGuest::StdinEnd`]), and for
//! each output stream the running count of bytes written out ([`ToGuest::Written`]) or that it
//! can take no more ([`ToGuest::Closed`]: a closed pipe). To the host ([`ToHost`]): output
//! ([`ToHost::Output`]) and requests for standard input ([`ToHost::StdinWanted`], so the host
//! reads its own standard input only as far as the application does), and the application's
//! exit status ([`ToHost::Exit`], all 8 bits of it).
//!
//! Flow control: the kernel keeps at most [`OUTPUT_WINDOW`] bytes of a stream sent but not
//! reported written, so a slow reader slows the application as a pipe would, and it stops only
//! once everything it sent is reported written: nothing written is lost.
//!
//! Sans-IO: [`encode_to_guest`] and [`encode_to_host`] append a frame to a buffer, and a
//! [`FrameReader`] takes bytes as they arrive and hands out whole frames; malformed input is
//! an error, never a panic.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use crate::wire::{Reader, put_bytes};

/// The largest payload of one frame.
pub const MAX_PAYLOAD: usize = 1 << 20;
/// The largest [`ToGuest::Start`] payload: arguments and environment (Linux allows 2 MiB of
/// them per process; a VM allows more).
pub const MAX_START: usize = 64 << 20;
/// How many bytes of one output stream the kernel may have sent but not yet seen written.
pub const OUTPUT_WINDOW: u64 = 1 << 20;
/// A frame's header: kind and length.
pub const HEADER_LEN: usize = 5;

/// The boot parameter that tells the kernel the channel is there (`morgana run` adds it), so
/// it waits for [`ToGuest::Start`].
pub const BOOT_PARAM: &str = "console-channel";

/// An output stream of the application.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    fn code(self) -> u8 {
        match self {
            Stream::Stdout => 1,
            Stream::Stderr => 2,
        }
    }

    fn from_code(code: u8) -> Option<Self> {
        match code {
            1 => Some(Stream::Stdout),
            2 => Some(Stream::Stderr),
            _ => None,
        }
    }
}

/// What the application starts with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Start {
    /// `argv[0]` when given (`--argv0`), else the kernel's default.
    pub argv0: Option<String>,
    /// The arguments after `argv[0]`.
    pub args: Vec<String>,
    /// Environment variables laid over the baked ones.
    pub env: Vec<(String, String)>,
    /// Directories to preopen read-only after the baked ones (`morgana run --dir`): the guest
    /// path and the directory as an [`archive`](crate::archive).
    pub dirs: Vec<(String, Vec<u8>)>,
    /// Keys for `morgana:crypto/signing` given on the command line (`morgana run --key`),
    /// added to the image's, or replacing one of the same name.
    pub keys: Vec<SentKey>,
}

/// A private key and its certificate chain as PEM, sent to the kernel, which keeps it.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct SentKey {
    pub name: String,
    pub certificate_pem: Vec<u8>,
    pub key_pem: Vec<u8>,
}

/// Never prints the key.
impl core::fmt::Debug for SentKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SentKey").field("name", &self.name).finish_non_exhaustive()
    }
}

/// A frame to the kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToGuest<'a> {
    Start(Start),
    /// Bytes of standard input, never more than the kernel asked for.
    Stdin(&'a [u8]),
    /// Standard input is over.
    StdinEnd,
    /// This many bytes of the stream have been written out since boot.
    Written {
        stream: Stream,
        total: u64,
    },
    /// The stream can take nothing more (its reader is gone); later writes fail.
    Closed(Stream),
}

/// A frame to the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToHost<'a> {
    Output {
        stream: Stream,
        bytes: &'a [u8],
    },
    /// The kernel can take this many more bytes of standard input.
    StdinWanted(u32),
    /// The application's exit status, whole (the VMM's exit device carries only part of it).
    Exit(u8),
}

const START: u8 = 1;
const STDIN: u8 = 2;
const STDIN_END: u8 = 3;
const WRITTEN: u8 = 4;
const CLOSED: u8 = 5;
const OUTPUT_STDOUT: u8 = 16;
const OUTPUT_STDERR: u8 = 17;
const STDIN_WANTED: u8 = 18;
const EXIT: u8 = 19;

/// Why bytes are not a frame of this protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChannelError {
    /// A kind this side does not know.
    UnknownKind(u8),
    /// A payload longer than its kind allows.
    TooLong { kind: u8, len: usize },
    /// A payload that does not parse for its kind.
    Malformed(u8),
    /// A frame where its kind cannot come (a second start block).
    OutOfOrder(u8),
}

impl fmt::Display for ChannelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChannelError::UnknownKind(kind) => write!(f, "console channel: unknown frame kind {kind}"),
            ChannelError::TooLong { kind, len } => {
                write!(f, "console channel: a frame of kind {kind} is {len} bytes long, more than it may be")
            }
            ChannelError::Malformed(kind) => write!(f, "console channel: a malformed frame of kind {kind}"),
            ChannelError::OutOfOrder(kind) => write!(f, "console channel: a frame of kind {kind} out of order"),
        }
    }
}

impl core::error::Error for ChannelError {}

fn frame(out: &mut Vec<u8>, kind: u8, payload: &[u8]) {
    out.push(kind);
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(payload);
}

/// The kind of a [`ToGuest::Start`] frame.
pub const START_KIND: u8 = START;

/// Appends one frame to the kernel. `Stdin` bytes beyond [`MAX_PAYLOAD`] must be split by the
/// caller; a `Start` block beyond [`MAX_START`] is the caller's to refuse.
pub fn encode_to_guest(out: &mut Vec<u8>, message: &ToGuest<'_>) {
    match message {
        ToGuest::Start(start) => frame(out, START, &start.encode()),
        ToGuest::Stdin(bytes) => frame(out, STDIN, bytes),
        ToGuest::StdinEnd => frame(out, STDIN_END, &[]),
        ToGuest::Written { stream, total } => {
            let mut payload = [0u8; 9];
            payload[0] = stream.code();
            payload[1..].copy_from_slice(&total.to_le_bytes());
            frame(out, WRITTEN, &payload)
        }
        ToGuest::Closed(stream) => frame(out, CLOSED, &[stream.code()]),
    }
}

/// Appends one frame to the host. Output beyond [`MAX_PAYLOAD`] must be split by the caller.
pub fn encode_to_host(out: &mut Vec<u8>, message: &ToHost<'_>) {
    match message {
        ToHost::Output { stream: Stream::Stdout, bytes } => frame(out, OUTPUT_STDOUT, bytes),
        ToHost::Output { stream: Stream::Stderr, bytes } => frame(out, OUTPUT_STDERR, bytes),
        ToHost::StdinWanted(n) => frame(out, STDIN_WANTED, &n.to_le_bytes()),
        ToHost::Exit(status) => frame(out, EXIT, &[*status]),
    }
}

/// The header of an output frame of `len` bytes: what the kernel writes before the bytes
/// themselves, so that it need not copy them into a frame first.
pub fn output_header(stream: Stream, len: usize) -> [u8; HEADER_LEN] {
    let kind = match stream {
        Stream::Stdout => OUTPUT_STDOUT,
        Stream::Stderr => OUTPUT_STDERR,
    };
    let mut header = [kind, 0, 0, 0, 0];
    header[1..].copy_from_slice(&(len as u32).to_le_bytes());
    header
}

impl Start {
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match &self.argv0 {
            Some(argv0) => {
                out.push(1);
                put_bytes(&mut out, argv0.as_bytes());
            }
            None => out.push(0),
        }
        out.extend_from_slice(&(self.args.len() as u32).to_le_bytes());
        for arg in &self.args {
            put_bytes(&mut out, arg.as_bytes());
        }
        out.extend_from_slice(&(self.env.len() as u32).to_le_bytes());
        for (name, value) in &self.env {
            put_bytes(&mut out, name.as_bytes());
            put_bytes(&mut out, value.as_bytes());
        }
        out.extend_from_slice(&(self.dirs.len() as u32).to_le_bytes());
        for (guest, archive) in &self.dirs {
            put_bytes(&mut out, guest.as_bytes());
            put_bytes(&mut out, archive);
        }
        out.extend_from_slice(&(self.keys.len() as u32).to_le_bytes());
        for key in &self.keys {
            put_bytes(&mut out, key.name.as_bytes());
            put_bytes(&mut out, &key.certificate_pem);
            put_bytes(&mut out, &key.key_pem);
        }
        out
    }

    fn decode(bytes: &[u8]) -> Option<Self> {
        let mut reader = Reader(bytes);
        let argv0 = match reader.take(1)?[0] {
            0 => None,
            1 => Some(reader.string()?),
            _ => return None,
        };
        let count = reader.u32()? as usize;
        // Every string takes at least its 4-byte length: a count beyond that is a lie.
        if count > reader.remaining() / 4 {
            return None;
        }
        let args = (0..count).map(|_| reader.string()).collect::<Option<Vec<_>>>()?;
        let count = reader.u32()? as usize;
        if count > reader.remaining() / 8 {
            return None;
        }
        let env = (0..count).map(|_| Some((reader.string()?, reader.string()?))).collect::<Option<Vec<_>>>()?;
        let count = reader.u32()? as usize;
        if count > reader.remaining() / 8 {
            return None;
        }
        let dirs =
            (0..count).map(|_| Some((reader.string()?, reader.bytes()?.to_vec()))).collect::<Option<Vec<_>>>()?;
        let count = reader.u32()? as usize;
        if count > reader.remaining() / 12 {
            return None;
        }
        let keys = (0..count)
            .map(|_| {
                Some(SentKey {
                    name: reader.string()?,
                    certificate_pem: reader.bytes()?.to_vec(),
                    key_pem: reader.bytes()?.to_vec(),
                })
            })
            .collect::<Option<Vec<_>>>()?;
        if !reader.is_empty() || env.iter().any(|(name, _)| name.is_empty() || name.contains('=')) {
            return None;
        }
        Some(Start { argv0, args, env, dirs, keys })
    }
}

/// Collects bytes as they arrive and hands out whole frames, in order.
#[derive(Debug, Default)]
pub struct FrameReader {
    buffer: Vec<u8>,
    /// Where the unread bytes of `buffer` start.
    start: usize,
}

/// One whole frame, borrowed from the reader until the next call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    pub kind: u8,
    pub payload: &'a [u8],
}

impl FrameReader {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds bytes that arrived.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.start > 0 && self.start == self.buffer.len() {
            self.buffer.clear();
            self.start = 0;
        }
        self.buffer.extend_from_slice(bytes);
    }

    /// How many bytes wait, not yet handed out in a frame.
    pub fn buffered(&self) -> usize {
        self.buffer.len() - self.start
    }

    /// The next whole frame, if one has arrived. A header announcing more than `max_payload`
    /// bytes is an error (and so is every call after it: the stream has lost its framing).
    pub fn next_frame(&mut self, max_payload: usize) -> Result<Option<Frame<'_>>, ChannelError> {
        if self.start > 0 && self.start * 2 > self.buffer.len() {
            self.buffer.drain(..self.start);
            self.start = 0;
        }
        let unread = &self.buffer[self.start..];
        let Some(header) = unread.get(..HEADER_LEN) else { return Ok(None) };
        let kind = header[0];
        let len = u32::from_le_bytes([header[1], header[2], header[3], header[4]]) as usize;
        if len > max_payload {
            return Err(ChannelError::TooLong { kind, len });
        }
        if unread.len() < HEADER_LEN + len {
            return Ok(None);
        }
        let begin = self.start + HEADER_LEN;
        self.start = begin + len;
        Ok(Some(Frame { kind, payload: &self.buffer[begin..begin + len] }))
    }
}

impl<'a> Frame<'a> {
    /// This frame as one the kernel receives.
    pub fn to_guest(self) -> Result<ToGuest<'a>, ChannelError> {
        let malformed = ChannelError::Malformed(self.kind);
        Ok(match self.kind {
            START => ToGuest::Start(Start::decode(self.payload).ok_or(malformed)?),
            STDIN => ToGuest::Stdin(self.payload),
            STDIN_END if self.payload.is_empty() => ToGuest::StdinEnd,
            WRITTEN => {
                let [code, total @ ..] = self.payload else { return Err(malformed) };
                let total: [u8; 8] = total.try_into().map_err(|_| malformed.clone())?;
                let stream = Stream::from_code(*code).ok_or(malformed)?;
                ToGuest::Written { stream, total: u64::from_le_bytes(total) }
            }
            CLOSED => match self.payload {
                [code] => ToGuest::Closed(Stream::from_code(*code).ok_or(malformed)?),
                _ => return Err(malformed),
            },
            STDIN_END => return Err(malformed),
            kind => return Err(ChannelError::UnknownKind(kind)),
        })
    }

    /// This frame as one the host receives.
    pub fn to_host(self) -> Result<ToHost<'a>, ChannelError> {
        Ok(match self.kind {
            OUTPUT_STDOUT => ToHost::Output { stream: Stream::Stdout, bytes: self.payload },
            OUTPUT_STDERR => ToHost::Output { stream: Stream::Stderr, bytes: self.payload },
            STDIN_WANTED => {
                let n: [u8; 4] = self.payload.try_into().map_err(|_| ChannelError::Malformed(self.kind))?;
                ToHost::StdinWanted(u32::from_le_bytes(n))
            }
            EXIT => match self.payload {
                [status] => ToHost::Exit(*status),
                _ => return Err(ChannelError::Malformed(self.kind)),
            },
            kind => return Err(ChannelError::UnknownKind(kind)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::{format, vec};

    fn decode(kind: u8, payload: &[u8]) -> Result<ToGuest<'_>, ChannelError> {
        Frame { kind, payload }.to_guest()
    }

    fn round_trip_guest(message: ToGuest<'_>) {
        let mut bytes = Vec::new();
        encode_to_guest(&mut bytes, &message);
        let mut reader = FrameReader::new();
        // Byte by byte: frames split anywhere still come out whole.
        for (i, byte) in bytes.iter().enumerate() {
            reader.push(&[*byte]);
            let frame = reader.next_frame(MAX_START).unwrap();
            if i + 1 < bytes.len() {
                assert!(frame.is_none());
            } else {
                assert_eq!(frame.unwrap().to_guest().unwrap(), message);
            }
        }
    }

    #[test]
    fn sent_keys_never_show_in_debug_output() {
        let key = SentKey { name: "site".into(), certificate_pem: b"chain".to_vec(), key_pem: b"secret".to_vec() };
        let text = format!("{:?}", Start { keys: vec![key], ..Start::default() });
        assert!(text.contains("site") && !text.contains("secret"), "{text}");
    }

    #[test]
    fn every_message_survives_a_round_trip() {
        round_trip_guest(ToGuest::Start(Start {
            argv0: Some("app.wasm".into()),
            args: vec!["a".into(), "".into(), "two words\n".into(), "x".repeat(70_000)],
            env: vec![("A".into(), "1".into()), ("EMPTY".into(), "".into())],
            dirs: vec![("/data".into(), vec![1, 2, 3])],
            keys: vec![SentKey {
                name: "site".into(),
                certificate_pem: b"chain".to_vec(),
                key_pem: b"secret".to_vec(),
            }],
        }));
        round_trip_guest(ToGuest::Start(Start::default()));
        round_trip_guest(ToGuest::Stdin(b"hello\0\xff"));
        round_trip_guest(ToGuest::StdinEnd);
        round_trip_guest(ToGuest::Written { stream: Stream::Stderr, total: u64::MAX - 1 });
        round_trip_guest(ToGuest::Closed(Stream::Stdout));

        let mut bytes = Vec::new();
        encode_to_host(&mut bytes, &ToHost::Output { stream: Stream::Stdout, bytes: b"out" });
        bytes.extend_from_slice(&output_header(Stream::Stderr, 3));
        bytes.extend_from_slice(b"err");
        encode_to_host(&mut bytes, &ToHost::StdinWanted(65536));
        encode_to_host(&mut bytes, &ToHost::Exit(200));
        let mut reader = FrameReader::new();
        reader.push(&bytes);
        let mut seen = Vec::new();
        while let Some(frame) = reader.next_frame(MAX_PAYLOAD).unwrap() {
            seen.push(format!("{:?}", frame.to_host().unwrap()));
        }
        assert_eq!(
            seen,
            [
                "Output { stream: Stdout, bytes: [111, 117, 116] }",
                "Output { stream: Stderr, bytes: [101, 114, 114] }",
                "StdinWanted(65536)",
                "Exit(200)"
            ]
        );
        assert_eq!(reader.buffered(), 0);
    }

    #[test]
    fn bad_frames_are_errors() {
        let mut reader = FrameReader::new();
        reader.push(&[STDIN, 0xff, 0xff, 0xff, 0x7f]);
        assert!(matches!(reader.next_frame(MAX_PAYLOAD), Err(ChannelError::TooLong { .. })));

        assert_eq!(decode(99, &[]), Err(ChannelError::UnknownKind(99)));
        assert!(decode(WRITTEN, &[1, 2, 3]).is_err());
        assert!(decode(WRITTEN, &[9, 0, 0, 0, 0, 0, 0, 0, 0]).is_err());
        assert!(decode(CLOSED, &[]).is_err());
        assert!(decode(STDIN_END, &[0]).is_err());
        // A count of a billion arguments in a few bytes.
        assert!(decode(START, &[0, 0, 0xca, 0x9a, 0x3b]).is_err());
        // An environment variable named with `=`.
        let bad_env = Start { env: vec![("A=B".into(), "c".into())], ..Start::default() };
        assert!(decode(START, &bad_env.encode()).is_err());
        assert!(Frame { kind: STDIN_WANTED, payload: &[1] }.to_host().is_err());
    }

    #[test]
    fn garbage_never_panics() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for round in 0..2000 {
            let len = round % 64;
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    // Mostly small kinds and lengths, so that frames complete.
                    if state % 3 == 0 { (state >> 8) as u8 % 20 } else { (state >> 16) as u8 % 4 }
                })
                .collect();
            let mut reader = FrameReader::new();
            reader.push(&bytes);
            while let Ok(Some(frame)) = reader.next_frame(MAX_PAYLOAD) {
                let _ = frame.to_guest();
                let _ = frame.to_host();
            }
        }
    }
}
