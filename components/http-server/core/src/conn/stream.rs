//! Requests and responses whose bodies stream through the connection instead of being held
//! whole: [`Connection::poll_head`] hands out a request as soon as its head is complete, its
//! body comes out piece by piece from [`Connection::read_body`] as it arrives, and the response
//! goes in the same way ([`Connection::respond_head`], [`Connection::send_body`],
//! [`Connection::finish_body`]), chunked when its length is not known in advance. Memory stays
//! bounded whatever the bodies' sizes: input is held back by [`Connection::wants_input`],
//! output by what [`Connection::send_body`] accepts.
//!
//! A connection serves either way, one request at a time: [`Connection::poll_request`] for
//! whole messages, these for streams.

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use super::{
    BodyReader, Connection, HeadFraming, InFlight, OUTPUT_HIGH_WATER, Phase, RespondError, Sent, TimerKind, bodiless,
    response_head,
};
use crate::Now;
use crate::chunked::ChunkedDecoder;
use crate::head::{Framing, RequestError};
use crate::message::{Version, is_tchar, list_elements};

/// A request whose head has arrived; its body follows through [`Connection::read_body`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestHead {
    /// `GET`, `HEAD`, `POST`, … exactly as sent.
    pub method: String,
    /// The path of the request target, still percent-encoded, without the query.
    pub path: String,
    /// What followed the first `?` of the request target, if anything did.
    pub query: Option<String>,
    /// The version the client spoke.
    pub version: Version,
    /// Header fields in the order they arrived; names as sent, values as raw bytes.
    pub headers: Vec<(String, Vec<u8>)>,
    /// The body's length when `Content-Length` gave it (0: no body); `None` when chunked.
    pub content_length: Option<u64>,
}

/// What [`Connection::read_body`] has for the handler.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BodyRead {
    /// The next bytes of the body, decoded (never empty).
    Data(Vec<u8>),
    /// Nothing yet: more input is needed.
    Pending,
    /// The body is complete.
    End,
    /// The body cannot be completed: it is malformed, or the client stopped sending or took
    /// too long. The connection answers the error itself if no response has begun, and closes.
    Failed,
}

/// One streamed exchange.
#[derive(Debug)]
pub(super) struct Stream {
    flight: InFlight,
    /// The request body still to come; `None` once it has ended.
    reader: Option<BodyReader>,
    /// Decoded body bytes not yet read.
    decoded: Vec<u8>,
    /// The client spoke HTTP/1.0 (no chunked responses).
    http10: bool,
    /// The body could not be completed.
    failed: bool,
    /// The trailer fields of a chunked body that has ended, until taken.
    trailers: Vec<(String, Vec<u8>)>,
    response: Response,
}

/// How far the response has gone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Response {
    NotStarted,
    Started { status: u16, body: BodyFraming, body_bytes: usize, keep_alive: bool },
}

/// How the response's body goes on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BodyFraming {
    /// No body (HEAD, 1xx, 204, 304): bytes sent are dropped.
    None,
    /// `Content-Length`: this many bytes still to send.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Until the connection closes (an HTTP/1.0 client and no length).
    UntilClose,
}

impl Stream {
    /// Whether the response has begun (so an error can no longer be answered with a status).
    pub(super) fn responding(&self) -> bool {
        self.response != Response::NotStarted
    }
}

impl Connection {
    /// Parses buffered input and returns the next request's head once it is complete (and the
    /// previous request has been answered); its body is then read with
    /// [`read_body`](Self::read_body). `Content-Length` bodies of any size and chunked bodies
    /// are accepted: [`Limits::max_body_bytes`](super::Limits) applies only to
    /// [`poll_request`](Self::poll_request). Protocol errors in the head are answered here, as
    /// by `poll_request`.
    pub fn poll_head(&mut self, now: Now) -> Option<RequestHead> {
        let head = self.take_head(now, true)?;
        let (reader, content_length) = match head.framing {
            Framing::Length(0) => (None, Some(0)),
            Framing::Length(n) => (Some(BodyReader::Length(n)), Some(n)),
            Framing::Chunked => (Some(BodyReader::Chunked(ChunkedDecoder::new())), None),
        };
        if reader.is_some() && head.expect_continue && self.input.is_empty() {
            self.push_output(b"HTTP/1.1 100 Continue\r\n\r\n".to_vec());
        }
        let flight = InFlight { is_head: head.method == "HEAD", keep_alive: head.keep_alive };
        let has_body = reader.is_some();
        self.phase = Phase::Streaming(Box::new(Stream {
            flight,
            reader,
            decoded: Vec::new(),
            http10: head.version == Version::Http10,
            failed: false,
            trailers: Vec::new(),
            response: Response::NotStarted,
        }));
        if has_body {
            self.arm(now, TimerKind::Body);
        } else {
            self.timer = None;
        }
        Some(RequestHead {
            method: head.method,
            path: head.path,
            query: head.query,
            version: head.version,
            headers: head.headers,
            content_length,
        })
    }

    /// Up to `max` more bytes of the body of the request [`poll_head`](Self::poll_head)
    /// returned, decoded, as they have arrived.
    pub fn read_body(&mut self, now: Now, max: usize) -> BodyRead {
        let Phase::Streaming(stream) = &mut self.phase else { return BodyRead::Failed };
        if stream.failed {
            return BodyRead::Failed;
        }
        let (used, done, error) = match &mut stream.reader {
            None => (0, true, None),
            Some(BodyReader::Length(remaining)) => {
                let take = self.input.len().min(usize::try_from(*remaining).unwrap_or(usize::MAX));
                stream.decoded.extend_from_slice(self.input.get(..take).unwrap_or_default());
                *remaining -= take as u64;
                (take, *remaining == 0, None)
            }
            Some(BodyReader::Chunked(decoder)) => {
                match decoder.decode(&self.input, &mut stream.decoded, usize::MAX, self.limits.max_head_bytes) {
                    Ok((used, done)) => (used, done, None),
                    Err(e) => (0, false, Some(e)),
                }
            }
        };
        self.input.drain(..used.min(self.input.len()));
        if done {
            // The body is in: no timer while the handler works, as for a whole request.
            if let Some(BodyReader::Chunked(decoder)) = &mut stream.reader {
                stream.trailers = decoder.take_trailers();
            }
            stream.reader = None;
            self.timer = None;
        } else if used > 0 {
            // The body timer runs between bytes.
            self.arm(now, TimerKind::Body);
        }
        let Phase::Streaming(stream) = &mut self.phase else { return BodyRead::Failed };
        if !stream.decoded.is_empty() {
            let take = max.min(stream.decoded.len());
            let rest = stream.decoded.split_off(take);
            return BodyRead::Data(core::mem::replace(&mut stream.decoded, rest));
        }
        if let Some(error) = error {
            return self.fail_stream(now, error);
        }
        match (&stream.reader, self.peer_eof) {
            (None, _) => BodyRead::End,
            (Some(_), true) => self.fail_stream(now, RequestError::Malformed("the body ended early")),
            (Some(_), false) => BodyRead::Pending,
        }
    }

    /// Starts the response to the request [`poll_head`](Self::poll_head) returned: status and
    /// header fields (`Date`, `Content-Length`, `Transfer-Encoding` and `Connection` are the
    /// connection's). With `content_length` the body is exactly that long; without, it is
    /// chunked (HTTP/1.1) or runs until the connection closes (HTTP/1.0). A response that
    /// cannot be sent as it is (a bad status or field) is replaced by a 500, and the body then
    /// sent is dropped.
    pub fn respond_head(
        &mut self,
        now: Now,
        status: u16,
        headers: &[(String, Vec<u8>)],
        content_length: Option<u64>,
    ) -> Result<(), RespondError> {
        let Phase::Streaming(stream) = &mut self.phase else { return Err(RespondError::NoRequest) };
        if stream.responding() {
            return Err(RespondError::NoRequest);
        }
        let valid = (200..=999).contains(&status)
            && headers.iter().all(|(name, value)| {
                !name.is_empty() && name.bytes().all(is_tchar) && !value.iter().any(|&b| matches!(b, b'\r' | b'\n' | 0))
            });
        if !valid {
            let body = b"500 Internal Server Error: the handler's response is invalid\n";
            let fields = [(String::from("Content-Type"), b"text/plain; charset=utf-8".to_vec())];
            let mut out = response_head(now, 500, &fields, HeadFraming::Length(body.len() as u64), false);
            if !stream.flight.is_head {
                out.extend_from_slice(body);
            }
            stream.response =
                Response::Started { status: 500, body: BodyFraming::None, body_bytes: 0, keep_alive: false };
            self.push_output(out);
            return Ok(());
        }
        let handler_close = headers.iter().any(|(n, v)| {
            n.eq_ignore_ascii_case("connection") && list_elements(v).any(|t| t.eq_ignore_ascii_case(b"close"))
        });
        let (head_framing, body) = if stream.flight.is_head || bodiless(status) {
            // HEAD keeps the length a GET would get; 1xx, 204 and 304 carry none of their own
            // (a 304 may repeat the resource's).
            let length = content_length.filter(|_| stream.flight.is_head || status == 304);
            (length.map_or(HeadFraming::None, HeadFraming::Length), BodyFraming::None)
        } else {
            match content_length {
                Some(n) => (HeadFraming::Length(n), BodyFraming::Length(n)),
                None if stream.http10 => (HeadFraming::None, BodyFraming::UntilClose),
                None => (HeadFraming::Chunked, BodyFraming::Chunked),
            }
        };
        let keep_alive = stream.flight.keep_alive && !handler_close && body != BodyFraming::UntilClose;
        let out = response_head(now, status, headers, head_framing, keep_alive);
        stream.response = Response::Started { status, body, body_bytes: 0, keep_alive };
        self.push_output(out);
        Ok(())
    }

    /// Queues body bytes of the started response; returns how many it took, which is fewer
    /// than given once output is piling up (a client that does not read): write the output,
    /// then offer the rest again. Bytes beyond a `Content-Length` are refused (0).
    pub fn send_body(&mut self, data: &[u8]) -> usize {
        let room = OUTPUT_HIGH_WATER.saturating_sub(self.output_len);
        let Phase::Streaming(stream) = &mut self.phase else { return 0 };
        let Response::Started { body, body_bytes, .. } = &mut stream.response else { return 0 };
        let take = match *body {
            BodyFraming::None => return data.len(),
            BodyFraming::Length(remaining) => {
                data.len().min(room).min(usize::try_from(remaining).unwrap_or(usize::MAX))
            }
            BodyFraming::Chunked | BodyFraming::UntilClose => data.len().min(room),
        };
        if take == 0 {
            return 0;
        }
        let bytes = data.get(..take).unwrap_or_default();
        *body_bytes += take;
        let framed = match body {
            BodyFraming::Length(remaining) => {
                *remaining -= take as u64;
                bytes.to_vec()
            }
            BodyFraming::Chunked => {
                let mut chunk = format!("{take:x}\r\n").into_bytes();
                chunk.extend_from_slice(bytes);
                chunk.extend_from_slice(b"\r\n");
                chunk
            }
            BodyFraming::UntilClose | BodyFraming::None => bytes.to_vec(),
        };
        self.push_output(framed);
        take
    }

    /// The trailer fields of the request's body, once [`read_body`](Self::read_body) has
    /// returned its end (none for a body that was not chunked or had none); once.
    pub fn take_trailers(&mut self) -> Vec<(String, Vec<u8>)> {
        match &mut self.phase {
            Phase::Streaming(stream) => core::mem::take(&mut stream.trailers),
            _ => Vec::new(),
        }
    }

    /// Ends the started response; the connection goes on to the next request, or closes
    /// (when either side asked to, the request's body was not read to its end, or the
    /// response is shorter than its `Content-Length`, which the client then sees cut short).
    pub fn finish_body(&mut self, now: Now) -> Result<Sent, RespondError> {
        self.finish_body_with_trailers(now, &[])
    }

    /// [`finish_body`](Self::finish_body), with trailer fields after a chunked body (a body
    /// framed otherwise has no place for them: they are dropped). Fields that cannot be sent
    /// as they are (a bad name, a line break in a value) are dropped too.
    pub fn finish_body_with_trailers(
        &mut self,
        now: Now,
        trailers: &[(String, Vec<u8>)],
    ) -> Result<Sent, RespondError> {
        let Phase::Streaming(stream) = &mut self.phase else { return Err(RespondError::NoRequest) };
        let Response::Started { status, body, body_bytes, keep_alive } = stream.response else {
            return Err(RespondError::NoRequest);
        };
        let complete = !matches!(body, BodyFraming::Length(remaining) if remaining > 0);
        let keep_alive = keep_alive && complete && stream.reader.is_none() && !stream.failed;
        if body == BodyFraming::Chunked {
            self.push_output(last_chunk(trailers));
        }
        self.after_response(now, keep_alive);
        Ok(Sent { status, body_bytes, keep_alive })
    }

    /// The streamed body failed: answered with its status if no response has begun, else the
    /// connection closes as soon as the response is finished.
    fn fail_stream(&mut self, now: Now, error: RequestError) -> BodyRead {
        let Phase::Streaming(stream) = &mut self.phase else { return BodyRead::Failed };
        stream.failed = true;
        if !stream.responding() {
            self.fail(now, error);
        } else {
            self.error = Some(error);
        }
        BodyRead::Failed
    }
}

/// The last chunk of a chunked body and its trailer section (RFC 9112 §7.1): the fields that
/// can be sent as they are.
pub(crate) fn last_chunk(trailers: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut out = b"0\r\n".to_vec();
    for (name, value) in trailers {
        let sendable =
            !name.is_empty() && name.bytes().all(is_tchar) && !value.iter().any(|&b| matches!(b, b'\r' | b'\n' | 0));
        if sendable {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value);
            out.extend_from_slice(b"\r\n");
        }
    }
    out.extend_from_slice(b"\r\n");
    out
}
