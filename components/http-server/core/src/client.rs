//! The client side of one HTTP/1.1 exchange, sans-IO, with the server side's parts: the same
//! `httparse` head parsing, the same chunked decoder, the same bounds. A host that forwards a
//! request (`wasi:http/outgoing-handler`) writes the request head and streams its body in,
//! then reads the response head and streams its body out, over one connection that it closes
//! afterwards.
//!
//! What it promises: it never panics and never holds more than its [`Limits`] allow on any input
//! (`max_head_bytes` and `max_headers` for the response head and a chunked body's trailers;
//! output bounded as [`Connection::send_body`](crate::Connection::send_body) bounds it); the
//! response is delimited as RFC 9112 §6.3 says (no body for `HEAD`, 1xx, 204 and 304; chunked;
//! `Content-Length`; else until the server closes), and interim 1xx responses are skipped.

use alloc::collections::VecDeque;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::chunked::ChunkedDecoder;
use crate::conn::{BodyRead, Limits, OUTPUT_HIGH_WATER};
use crate::message::{is_tchar, list_elements};

/// How the request's body is delimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestBody {
    /// None at all (no `Content-Length`).
    None,
    /// Exactly this many bytes.
    Length(u64),
    /// Of a length not known in advance: `Transfer-Encoding: chunked`.
    Chunked,
}

/// The head of the server's response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResponseHead {
    /// The status code (a final one: 200 to 999).
    pub status: u16,
    /// Header fields in the order they arrived; names as sent, values as raw bytes.
    pub headers: Vec<(String, Vec<u8>)>,
}

/// Why the response cannot be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResponseError {
    /// Not an HTTP/1.x response head, or a malformed one.
    Malformed(&'static str),
    /// The head is longer than `max_head_bytes` or has more than `max_headers` fields.
    HeadTooLarge,
    /// The server closed the connection before the whole head arrived.
    ClosedEarly,
}

impl core::fmt::Display for ResponseError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ResponseError::Malformed(what) => write!(f, "malformed response: {what}"),
            ResponseError::HeadTooLarge => f.write_str("response head too large"),
            ResponseError::ClosedEarly => f.write_str("the server closed the connection before it answered"),
        }
    }
}

impl core::error::Error for ResponseError {}

/// The request body's length differs from the one declared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BodyLengthMismatch {
    /// How many bytes were sent.
    pub sent: u64,
}

/// How the response body is delimited.
#[derive(Debug)]
enum Reader {
    Length(u64),
    Chunked(ChunkedDecoder),
    UntilClose,
}

/// One request and its response.
#[derive(Debug)]
pub struct ClientExchange {
    limits: Limits,
    output: VecDeque<u8>,
    request_body: RequestBody,
    sent: u64,
    head_request: bool,
    input: Vec<u8>,
    peer_eof: bool,
    /// How far the search for the end of the response head got.
    scanned: usize,
    /// Set once the final response head has been read: how its body is delimited (`None`:
    /// the body is complete).
    reader: Option<Option<Reader>>,
    decoded: Vec<u8>,
    /// The response's trailer fields, once its chunked body has ended, until taken.
    trailers: Vec<(String, Vec<u8>)>,
    failed: bool,
}

impl ClientExchange {
    /// An exchange that starts with this request head: `method` and `target` (origin form,
    /// `/path?query`) as given, the fields in order (a `Host` among them; framing fields are
    /// the exchange's and left out), then the framing `body` asks for.
    pub fn new(limits: Limits, method: &str, target: &str, headers: &[(String, Vec<u8>)], body: RequestBody) -> Self {
        let mut head = format!("{method} {target} HTTP/1.1\r\n").into_bytes();
        for (name, value) in headers {
            if ["content-length", "transfer-encoding", "connection"].iter().any(|n| name.eq_ignore_ascii_case(n)) {
                continue;
            }
            head.extend_from_slice(name.as_bytes());
            head.extend_from_slice(b": ");
            head.extend_from_slice(value);
            head.extend_from_slice(b"\r\n");
        }
        match body {
            RequestBody::None => {}
            RequestBody::Length(n) => head.extend_from_slice(format!("content-length: {n}\r\n").as_bytes()),
            RequestBody::Chunked => head.extend_from_slice(b"transfer-encoding: chunked\r\n"),
        }
        head.extend_from_slice(b"\r\n");
        ClientExchange {
            limits,
            output: head.into(),
            request_body: body,
            sent: 0,
            head_request: method == "HEAD",
            input: Vec::new(),
            peer_eof: false,
            scanned: 0,
            reader: None,
            decoded: Vec::new(),
            trailers: Vec::new(),
            failed: false,
        }
    }

    /// Whether a method, target and field are fit to be sent as they are.
    pub fn is_sendable(method: &str, target: &str, headers: &[(String, Vec<u8>)]) -> bool {
        !method.is_empty()
            && method.bytes().all(is_tchar)
            && target.bytes().all(|b| b.is_ascii_graphic())
            && headers.iter().all(|(name, value)| {
                !name.is_empty() && name.bytes().all(is_tchar) && !value.iter().any(|&b| matches!(b, b'\r' | b'\n' | 0))
            })
    }

    /// Bytes to write to the socket next.
    pub fn pending_output(&self) -> &[u8] {
        self.output.as_slices().0
    }

    /// Whether any output is queued.
    pub fn has_output(&self) -> bool {
        !self.output.is_empty()
    }

    /// Marks `n` bytes of [`pending_output`](Self::pending_output) as written.
    pub fn consume_output(&mut self, n: usize) {
        self.output.drain(..n.min(self.output.len()));
    }

    /// Queues request body bytes; returns how many it took (fewer once output piles up, none
    /// beyond a declared length).
    pub fn send_body(&mut self, data: &[u8]) -> usize {
        let room = OUTPUT_HIGH_WATER.saturating_sub(self.output.len());
        let take = match self.request_body {
            RequestBody::None => 0,
            RequestBody::Length(n) => data.len().min(room).min(usize::try_from(n - self.sent).unwrap_or(usize::MAX)),
            RequestBody::Chunked => data.len().min(room),
        };
        if take == 0 {
            return 0;
        }
        let bytes = data.get(..take).unwrap_or_default();
        if self.request_body == RequestBody::Chunked {
            self.output.extend(format!("{take:x}\r\n").bytes());
            self.output.extend(bytes);
            self.output.extend(b"\r\n");
        } else {
            self.output.extend(bytes);
        }
        self.sent += take as u64;
        take
    }

    /// Ends the request body: an error if it is shorter than declared.
    pub fn finish_body(&mut self) -> Result<(), BodyLengthMismatch> {
        self.finish_body_with_trailers(&[])
    }

    /// [`finish_body`](Self::finish_body), with trailer fields after a chunked body (dropped
    /// after a body framed otherwise, as are fields that cannot be sent as they are).
    pub fn finish_body_with_trailers(&mut self, trailers: &[(String, Vec<u8>)]) -> Result<(), BodyLengthMismatch> {
        match self.request_body {
            RequestBody::Length(n) if n != self.sent => Err(BodyLengthMismatch { sent: self.sent }),
            RequestBody::Chunked => {
                self.output.extend(crate::conn::last_chunk(trailers));
                Ok(())
            }
            RequestBody::None | RequestBody::Length(_) => Ok(()),
        }
    }

    /// Whether reading more from the socket is useful now.
    pub fn wants_input(&self) -> bool {
        !self.peer_eof && !self.failed && self.input.len() < self.limits.max_head_bytes
    }

    /// Takes bytes read from the socket.
    pub fn receive(&mut self, data: &[u8]) {
        self.input.extend_from_slice(data);
    }

    /// The server will send nothing more.
    pub fn receive_eof(&mut self) {
        self.peer_eof = true;
    }

    /// The final response's head once it has arrived (interim 1xx responses are skipped).
    pub fn poll_response_head(&mut self) -> Result<Option<ResponseHead>, ResponseError> {
        loop {
            if self.reader.is_some() || self.failed {
                return Ok(None);
            }
            let Some(end) = self.head_end() else {
                if self.input.len() >= self.limits.max_head_bytes {
                    return self.fail(ResponseError::HeadTooLarge);
                }
                if self.peer_eof {
                    return self.fail(ResponseError::ClosedEarly);
                }
                return Ok(None);
            };
            let head = match parse_response(self.input.get(..end).unwrap_or_default(), self.limits.max_headers) {
                Ok(head) => head,
                Err(error) => return self.fail(error),
            };
            self.input.drain(..end);
            self.scanned = 0;
            if (100..200).contains(&head.status) {
                continue;
            }
            let reader = match self.body_framing(&head) {
                Ok(reader) => reader,
                Err(error) => return self.fail(error),
            };
            self.reader = Some(reader);
            return Ok(Some(head));
        }
    }

    /// Up to `max` more bytes of the response body, decoded, as they have arrived.
    pub fn read_body(&mut self, max: usize) -> BodyRead {
        if self.failed {
            return BodyRead::Failed;
        }
        let Some(reader) = &mut self.reader else { return BodyRead::Pending };
        let (used, done) = match reader {
            None => (0, true),
            Some(Reader::Length(remaining)) => {
                let take = self.input.len().min(usize::try_from(*remaining).unwrap_or(usize::MAX));
                self.decoded.extend_from_slice(self.input.get(..take).unwrap_or_default());
                *remaining -= take as u64;
                (take, *remaining == 0)
            }
            Some(Reader::Chunked(decoder)) => {
                match decoder.decode(&self.input, &mut self.decoded, usize::MAX, self.limits.max_head_bytes) {
                    Ok(progress) => progress,
                    Err(_) => {
                        self.failed = true;
                        (0, false)
                    }
                }
            }
            Some(Reader::UntilClose) => {
                self.decoded.append(&mut self.input);
                (0, self.peer_eof)
            }
        };
        self.input.drain(..used.min(self.input.len()));
        if done {
            if let Some(Reader::Chunked(decoder)) = reader {
                self.trailers = decoder.take_trailers();
            }
            *reader = None;
        }
        if !self.decoded.is_empty() {
            let take = max.min(self.decoded.len());
            let rest = self.decoded.split_off(take);
            return BodyRead::Data(core::mem::replace(&mut self.decoded, rest));
        }
        match (&self.reader, self.failed, self.peer_eof) {
            (_, true, _) => BodyRead::Failed,
            (Some(None), _, _) => BodyRead::End,
            (_, _, true) => {
                self.failed = true;
                BodyRead::Failed
            }
            _ => BodyRead::Pending,
        }
    }

    /// Whether the response has been read to its end (head, body and trailers).
    pub fn response_complete(&self) -> bool {
        matches!(self.reader, Some(None))
    }

    /// The trailer fields of the response's body, once [`read_body`](Self::read_body) has
    /// returned its end (none for a body that was not chunked); once.
    pub fn take_trailers(&mut self) -> Vec<(String, Vec<u8>)> {
        core::mem::take(&mut self.trailers)
    }

    /// Where the head ends (after its empty line), if it has arrived.
    fn head_end(&mut self) -> Option<usize> {
        let input = &self.input;
        let mut i = self.scanned;
        while i < input.len() {
            if input[i] == b'\n' {
                let rest = &input[..i];
                if rest.ends_with(b"\n") || rest.ends_with(b"\n\r") {
                    return Some(i + 1);
                }
            }
            i += 1;
        }
        self.scanned = i;
        None
    }

    /// How the body of the response `head` is delimited (RFC 9112 §6.3).
    fn body_framing(&self, head: &ResponseHead) -> Result<Option<Reader>, ResponseError> {
        if self.head_request || matches!(head.status, 204 | 304) {
            return Ok(None);
        }
        let headers = &head.headers;
        let field = |name: &'static str| headers.iter().filter(move |(n, _)| n.eq_ignore_ascii_case(name));
        if let Some((_, codings)) = field("transfer-encoding").next_back() {
            let last = list_elements(codings).last().unwrap_or_default();
            return Ok(Some(if last.eq_ignore_ascii_case(b"chunked") {
                Reader::Chunked(ChunkedDecoder::new())
            } else {
                Reader::UntilClose
            }));
        }
        let mut lengths = field("content-length").flat_map(|(_, v)| list_elements(v));
        let Some(first) = lengths.next() else { return Ok(Some(Reader::UntilClose)) };
        if lengths.any(|other| other != first) {
            return Err(ResponseError::Malformed("conflicting Content-Length"));
        }
        let length = core::str::from_utf8(first)
            .ok()
            .filter(|s| s.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|s| s.parse::<u64>().ok())
            .ok_or(ResponseError::Malformed("invalid Content-Length"))?;
        Ok(if length == 0 { None } else { Some(Reader::Length(length)) })
    }

    fn fail<T>(&mut self, error: ResponseError) -> Result<T, ResponseError> {
        self.failed = true;
        Err(error)
    }
}

/// Parses a complete response head.
fn parse_response(buf: &[u8], max_headers: usize) -> Result<ResponseHead, ResponseError> {
    let mut slots = alloc::vec![httparse::EMPTY_HEADER; max_headers];
    let mut response = httparse::Response::new(&mut slots);
    match response.parse(buf) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => return Err(ResponseError::Malformed("incomplete head")),
        Err(httparse::Error::TooManyHeaders) => return Err(ResponseError::HeadTooLarge),
        Err(_) => return Err(ResponseError::Malformed("not an HTTP/1.x response head")),
    }
    let status = response.code.ok_or(ResponseError::Malformed("no status"))?;
    let headers = response.headers.iter().map(|h| (String::from(h.name), h.value.to_vec())).collect();
    Ok(ResponseHead { status, headers })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exchange(method: &str, body: RequestBody) -> ClientExchange {
        let host = [(String::from("host"), b"example.test".to_vec())];
        ClientExchange::new(Limits::default(), method, "/a?b=1", &host, body)
    }

    fn output(c: &mut ClientExchange) -> String {
        let mut out = Vec::new();
        while c.has_output() {
            let pending = c.pending_output().to_vec();
            out.extend_from_slice(&pending);
            c.consume_output(pending.len());
        }
        String::from_utf8(out).unwrap()
    }

    fn read_all(c: &mut ClientExchange) -> (Vec<u8>, BodyRead) {
        let mut body = Vec::new();
        loop {
            match c.read_body(3) {
                BodyRead::Data(piece) => body.extend_from_slice(&piece),
                other => return (body, other),
            }
        }
    }

    #[test]
    fn a_request_is_framed_by_length_or_chunks() {
        let mut c = exchange("PUT", RequestBody::Length(5));
        assert_eq!(c.send_body(b"hello world"), 5);
        assert_eq!(c.finish_body(), Ok(()));
        assert_eq!(output(&mut c), "PUT /a?b=1 HTTP/1.1\r\nhost: example.test\r\ncontent-length: 5\r\n\r\nhello");
        let mut c = exchange("POST", RequestBody::Chunked);
        c.send_body(b"hi");
        c.finish_body().unwrap();
        assert_eq!(
            output(&mut c),
            "POST /a?b=1 HTTP/1.1\r\nhost: example.test\r\ntransfer-encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n"
        );
        let mut short = exchange("PUT", RequestBody::Length(5));
        short.send_body(b"hi");
        assert_eq!(short.finish_body(), Err(BodyLengthMismatch { sent: 2 }));
    }

    #[test]
    fn a_response_is_read_after_interim_ones_by_its_framing() {
        let mut c = exchange("GET", RequestBody::None);
        c.receive(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: 1\r\n\r\nhel");
        let head = c.poll_response_head().unwrap().unwrap();
        assert_eq!(head.status, 200);
        assert_eq!(head.headers[1], ("X-A".into(), b"1".to_vec()));
        assert_eq!(read_all(&mut c), (b"hel".to_vec(), BodyRead::Pending));
        c.receive(b"lo");
        assert_eq!(read_all(&mut c), (b"lo".to_vec(), BodyRead::End));

        let mut chunked = exchange("GET", RequestBody::None);
        chunked.receive(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n");
        chunked.poll_response_head().unwrap().unwrap();
        assert_eq!(read_all(&mut chunked), (b"abc".to_vec(), BodyRead::End));

        let mut until_close = exchange("GET", RequestBody::None);
        until_close.receive(b"HTTP/1.0 200 OK\r\n\r\nall of it");
        until_close.poll_response_head().unwrap().unwrap();
        assert_eq!(read_all(&mut until_close), (b"all of it".to_vec(), BodyRead::Pending));
        until_close.receive_eof();
        assert_eq!(read_all(&mut until_close), (Vec::new(), BodyRead::End));

        let mut head = exchange("HEAD", RequestBody::None);
        head.receive(b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n");
        head.poll_response_head().unwrap().unwrap();
        assert_eq!(read_all(&mut head), (Vec::new(), BodyRead::End));
    }

    #[test]
    fn trailers_go_after_a_chunked_request_and_come_after_a_chunked_response() {
        let mut c = exchange("POST", RequestBody::Chunked);
        c.finish_body_with_trailers(&[(String::from("x-sum"), b"1".to_vec())]).unwrap();
        assert!(output(&mut c).ends_with("\r\n\r\n0\r\nx-sum: 1\r\n\r\n"));
        c.receive(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\nX-Back: yes\r\n\r\n");
        c.poll_response_head().unwrap().unwrap();
        assert_eq!(read_all(&mut c), (b"a".to_vec(), BodyRead::End));
        assert_eq!(c.take_trailers(), [(String::from("X-Back"), b"yes".to_vec())]);
    }

    #[test]
    fn bad_or_cut_responses_fail() {
        let mut garbage = exchange("GET", RequestBody::None);
        garbage.receive(b"SSH-2.0-OpenSSH\r\n\r\n");
        assert!(matches!(garbage.poll_response_head(), Err(ResponseError::Malformed(_))));
        let mut early = exchange("GET", RequestBody::None);
        early.receive(b"HTTP/1.1 200 OK\r\n");
        early.receive_eof();
        assert_eq!(early.poll_response_head(), Err(ResponseError::ClosedEarly));
        let mut huge = exchange("GET", RequestBody::None);
        huge.receive(&alloc::vec![b'a'; 20 * 1024]);
        assert_eq!(huge.poll_response_head(), Err(ResponseError::HeadTooLarge));
        let mut cut = exchange("GET", RequestBody::None);
        cut.receive(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
        cut.poll_response_head().unwrap().unwrap();
        cut.receive_eof();
        assert_eq!(read_all(&mut cut), (b"abc".to_vec(), BodyRead::Failed));
        let mut conflicting = exchange("GET", RequestBody::None);
        conflicting.receive(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n");
        assert!(conflicting.poll_response_head().is_err());
    }
}
