//! DNS over TCP framing (RFC 1035 section 4.2.2, RFC 7766): each message preceded by its length
//! as two octets.

use core::fmt;

/// A length prefix the framer refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FrameError {
    /// The prefix announces a message longer than the framer's maximum.
    TooLong {
        /// The announced length.
        len: usize,
        /// The maximum.
        max: usize,
    },
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::TooLong { len, max } => write!(f, "TCP message of {len} octets, more than {max}"),
        }
    }
}

impl std::error::Error for FrameError {}

/// Splits a TCP byte stream into DNS messages, incrementally: [`push`](TcpFramer::push) what
/// arrives, then take messages with [`next_message`](TcpFramer::next_message) until it returns
/// `Ok(None)`. A length prefix above the maximum is an error as soon as its two octets are in,
/// before the body is read; the connection should then be closed.
#[derive(Debug, Clone)]
pub struct TcpFramer {
    buf: Vec<u8>,
    start: usize,
    max: usize,
}

impl TcpFramer {
    /// A framer accepting messages of at most `max` octets (at most 65535 can be announced).
    pub fn new(max: usize) -> Self {
        TcpFramer { buf: Vec::new(), start: 0, max }
    }

    /// Appends received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.start > 0 {
            // Forget the messages already returned; what stays is at most one partial message.
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// Octets received and not yet returned as messages.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }

    /// How many more octets would complete the next message (2 when even its prefix is
    /// missing): a hint for the size of the next read.
    pub fn wanted(&self) -> usize {
        match self.prefix() {
            Some(len) => (2 + len).saturating_sub(self.buffered()),
            None => 2 - self.buffered(),
        }
    }

    fn prefix(&self) -> Option<usize> {
        let rest = &self.buf[self.start..];
        (rest.len() >= 2).then(|| usize::from(u16::from_be_bytes([rest[0], rest[1]])))
    }

    /// The next complete message, if one has arrived.
    pub fn next_message(&mut self) -> Result<Option<&[u8]>, FrameError> {
        let Some(len) = self.prefix() else { return Ok(None) };
        if len > self.max {
            return Err(FrameError::TooLong { len, max: self.max });
        }
        if self.buffered() < 2 + len {
            return Ok(None);
        }
        let begin = self.start + 2;
        self.start = begin + len;
        Ok(Some(&self.buf[begin..begin + len]))
    }
}

/// Appends `message` to `out` with its two-octet length prefix; `false` (and nothing appended)
/// when it is longer than 65535 octets.
pub fn frame(message: &[u8], out: &mut Vec<u8>) -> bool {
    let Ok(len) = u16::try_from(message.len()) else { return false };
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(message);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_by_byte_and_pipelined() {
        let mut stream = Vec::new();
        assert!(frame(b"first", &mut stream));
        assert!(frame(b"", &mut stream));
        assert!(frame(b"third message", &mut stream));
        let mut framer = TcpFramer::new(512);
        let mut got: Vec<Vec<u8>> = Vec::new();
        for byte in &stream {
            framer.push(&[*byte]);
            while let Some(message) = framer.next_message().unwrap() {
                got.push(message.to_vec());
            }
        }
        assert_eq!(got, [b"first".to_vec(), Vec::new(), b"third message".to_vec()]);
        assert_eq!(framer.buffered(), 0);
        assert_eq!(framer.wanted(), 2);

        let mut framer = TcpFramer::new(512);
        framer.push(&stream);
        assert_eq!(framer.next_message().unwrap(), Some(&b"first"[..]));
        assert_eq!(framer.next_message().unwrap(), Some(&b""[..]));
        assert_eq!(framer.next_message().unwrap(), Some(&b"third message"[..]));
        assert_eq!(framer.next_message().unwrap(), None);
    }

    #[test]
    fn partial_message_and_wanted() {
        let mut framer = TcpFramer::new(512);
        framer.push(&[0]);
        assert_eq!(framer.wanted(), 1);
        framer.push(&[5, b'a']);
        assert_eq!(framer.next_message().unwrap(), None);
        assert_eq!(framer.wanted(), 4);
        framer.push(b"bcde");
        assert_eq!(framer.next_message().unwrap(), Some(&b"abcde"[..]));
    }

    #[test]
    fn oversized_prefix_is_refused_before_the_body() {
        let mut framer = TcpFramer::new(512);
        framer.push(&[0x02, 0x01]);
        assert_eq!(framer.next_message(), Err(FrameError::TooLong { len: 513, max: 512 }));
        let mut out = Vec::new();
        assert!(!frame(&vec![0; 65536], &mut out));
        assert!(out.is_empty());
    }
}
