//! The connection state machine: buffers input, hands out requests one at a time, serialises
//! responses into an output queue, and runs the head, body, idle and linger timers.

use alloc::boxed::Box;
use alloc::format;

use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::vec::Vec;
use core::time::Duration;

use crate::chunked::ChunkedDecoder;
use crate::date::ImfFixdate;
use crate::head::{Framing, HeadScan, RequestError, parse_head};
use crate::message::{Request, Response, is_tchar, list_elements, reason_phrase};

/// Bounds on what one connection may make the server hold or wait for.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Most header fields in a request head (431 beyond). Default 64.
    pub max_headers: usize,
    /// Most bytes in a request head, request line and empty line included (431 beyond); also
    /// caps a chunked body's trailer section and how much pipelined input is held back while a
    /// request is being answered. Default 16 KiB.
    pub max_head_bytes: usize,
    /// Longest request target (414 beyond). Default 8 KiB.
    pub max_target_bytes: usize,
    /// Largest request body, announced or chunked (413 beyond). Default 1 MiB.
    pub max_body_bytes: usize,
    /// Time from the first byte of a head (or from the connection's start, for its first
    /// request) to the head's end (408 beyond). Default 10 s.
    pub head_timeout: Duration,
    /// Time from the end of the head to the end of the body (408 beyond). Default 30 s.
    pub body_timeout: Duration,
    /// How long a kept-alive connection may wait for its next request (closed silently
    /// beyond); also how long queued output may go without the client reading any of it.
    /// Default 30 s.
    pub idle_timeout: Duration,
    /// How long a closing connection waits for its output to drain and the client to close.
    /// Default 5 s.
    pub linger_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_headers: 64,
            max_head_bytes: 16 * 1024,
            max_target_bytes: 8 * 1024,
            max_body_bytes: 1024 * 1024,
            head_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(30),
            linger_timeout: Duration::from_secs(5),
        }
    }
}

/// The time, as the caller's clocks tell it: a monotonic instant (from any fixed origin) for
/// the timers, and wall-clock unix seconds for the `Date` header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Now {
    /// Monotonic time since an arbitrary fixed origin.
    pub monotonic: Duration,
    /// Seconds since 1970-01-01T00:00:00Z.
    pub unix_secs: u64,
}

impl Now {
    /// Bundles the two clock readings.
    pub const fn new(monotonic: Duration, unix_secs: u64) -> Now {
        Now { monotonic, unix_secs }
    }
}

/// Why [`Connection::respond`] refused a response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RespondError {
    /// No request is waiting for an answer: `respond` must follow a request from
    /// [`Connection::poll_request`], once per request.
    NoRequest,
}

impl core::fmt::Display for RespondError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            RespondError::NoRequest => f.write_str("no request is waiting for a response"),
        }
    }
}

impl core::error::Error for RespondError {}

/// What [`Connection::respond`] queued: the facts an access log wants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sent {
    /// The status sent (500 if the handler's response could not be sent as it was).
    pub status: u16,
    /// Body bytes queued (0 for `HEAD` and bodiless statuses).
    pub body_bytes: usize,
    /// Whether the connection stays open for another request.
    pub keep_alive: bool,
}

/// Above this many queued output bytes no further request is parsed, so a client pipelining
/// requests without reading the answers cannot make the server buffer without bound.
pub(crate) const OUTPUT_HIGH_WATER: usize = 64 * 1024;
/// Bodies up to this size are copied behind the response head, to go out in one write.
const COALESCE_BODY: usize = 4096;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TimerKind {
    /// Waiting for a next request on a kept-alive connection: silent close.
    Idle,
    /// Waiting for the rest of a head: 408 (silent close if nothing has arrived).
    Head,
    /// Waiting for the rest of a body: 408.
    Body,
    /// Closing: give up on the output and the client.
    Linger,
}

#[derive(Clone, Copy, Debug)]
struct Timer {
    at: Duration,
    kind: TimerKind,
}

#[derive(Debug)]
enum BodyReader {
    Length(u64),
    Chunked(ChunkedDecoder),
}

#[derive(Debug)]
struct InFlight {
    is_head: bool,
    keep_alive: bool,
}

#[derive(Debug)]
enum Phase {
    /// Reading a request head.
    Head,
    /// Reading a request body.
    Body { head: Box<crate::head::Head>, body: Vec<u8>, reader: BodyReader },
    /// A request was handed out; waiting for its response.
    Handling(InFlight),
    /// A request head was handed out ([`Connection::poll_head`]); its body and its response
    /// stream through the connection.
    Streaming(Box<stream::Stream>),
    /// No more requests: output drains, input is discarded, then the connection closes.
    Closing,
    /// Done: drop the socket.
    Closed,
}

/// One HTTP/1.1 server connection, without I/O.
///
/// The caller's loop: [`receive`](Self::receive) what the socket gave (or
/// [`receive_eof`](Self::receive_eof)); take each [`poll_request`](Self::poll_request) and answer
/// it with [`respond`](Self::respond); write [`pending_output`](Self::pending_output) to the
/// socket and [`consume_output`](Self::consume_output) what was written; wake up at
/// [`poll_deadline`](Self::poll_deadline) and call [`on_timeout`](Self::on_timeout). Read from
/// the socket only while [`wants_input`](Self::wants_input); once
/// [`wants_close`](Self::wants_close) and the output is drained, shut down the sending side; drop
/// the socket when [`is_closed`](Self::is_closed).
#[derive(Debug)]
pub struct Connection {
    limits: Limits,
    input: Vec<u8>,
    scan: HeadScan,
    phase: Phase,
    output: VecDeque<Vec<u8>>,
    /// Bytes of `output.front()` already consumed.
    output_offset: usize,
    output_len: usize,
    /// Output was consumed since the timer was last armed.
    output_progress: bool,
    timer: Option<Timer>,
    peer_eof: bool,
    error: Option<RequestError>,
}

impl Connection {
    /// A connection that has just been accepted.
    pub fn new(limits: Limits, now: Now) -> Connection {
        let mut conn = Connection {
            limits,
            input: Vec::new(),
            scan: HeadScan::default(),
            phase: Phase::Head,
            output: VecDeque::new(),
            output_offset: 0,
            output_len: 0,
            output_progress: false,
            timer: None,
            peer_eof: false,
            error: None,
        };
        conn.arm(now, TimerKind::Head);
        conn
    }

    /// The limits this connection enforces.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Takes bytes read from the socket. Nothing is parsed until [`poll_request`](Self::poll_request).
    pub fn receive(&mut self, now: Now, data: &[u8]) {
        match self.phase {
            Phase::Closing | Phase::Closed => return,
            Phase::Head | Phase::Body { .. } | Phase::Handling(_) | Phase::Streaming(_) => {}
        }
        if data.is_empty() {
            return;
        }
        self.input.extend_from_slice(data);
        if matches!(self.phase, Phase::Head) && self.timer.is_some_and(|t| t.kind == TimerKind::Idle) {
            self.arm(now, TimerKind::Head);
        }
    }

    /// The client will send nothing more (its sending side is shut down). Requests already
    /// complete are still answered; a partial one is dropped; then the connection closes.
    pub fn receive_eof(&mut self, now: Now) {
        self.peer_eof = true;
        match self.phase {
            Phase::Head if self.input.is_empty() => self.close_gracefully(now),
            Phase::Head
            | Phase::Body { .. }
            | Phase::Handling(_)
            | Phase::Streaming(_)
            | Phase::Closing
            | Phase::Closed => {}
        }
    }

    /// Parses buffered input and returns the next complete request, if there is one and the
    /// previous one has been answered. Protocol errors are answered here (see
    /// [`error`](Self::error)); the connection then closes.
    pub fn poll_request(&mut self, now: Now) -> Option<Request> {
        loop {
            match &mut self.phase {
                Phase::Handling(_) | Phase::Streaming(_) | Phase::Closing | Phase::Closed => return None,
                Phase::Head => {
                    let head = self.take_head(now, false)?;
                    let reader = match head.framing {
                        Framing::Length(0) => return Some(self.start_handling(head, Vec::new())),
                        Framing::Length(n) => BodyReader::Length(n),
                        Framing::Chunked => BodyReader::Chunked(ChunkedDecoder::new()),
                    };
                    if head.expect_continue && self.input.is_empty() {
                        self.push_output(b"HTTP/1.1 100 Continue\r\n\r\n".to_vec());
                    }
                    self.phase = Phase::Body { head: Box::new(head), body: Vec::new(), reader };
                    self.arm(now, TimerKind::Body);
                }
                Phase::Body { body, reader, .. } => {
                    let (used, done) = match reader {
                        BodyReader::Length(remaining) => {
                            let take = self.input.len().min(usize::try_from(*remaining).unwrap_or(usize::MAX));
                            body.extend_from_slice(self.input.get(..take).unwrap_or_default());
                            *remaining -= take as u64;
                            (take, *remaining == 0)
                        }
                        BodyReader::Chunked(decoder) => {
                            let limits = &self.limits;
                            match decoder.decode(&self.input, body, limits.max_body_bytes, limits.max_head_bytes) {
                                Ok(r) => r,
                                Err(e) => return self.fail(now, e),
                            }
                        }
                    };
                    self.input.drain(..used.min(self.input.len()));
                    if !done {
                        if self.peer_eof {
                            self.close_gracefully(now);
                        }
                        return None;
                    }
                    let Phase::Body { head, body, .. } = core::mem::replace(&mut self.phase, Phase::Head) else {
                        return None;
                    };
                    return Some(self.start_handling(*head, body));
                }
            }
        }
    }

    /// Queues the answer to the request [`poll_request`](Self::poll_request) returned last.
    pub fn respond(&mut self, now: Now, response: Response) -> Result<Sent, RespondError> {
        let Phase::Handling(flight) = &self.phase else {
            return Err(RespondError::NoRequest);
        };
        let is_head = flight.is_head;
        let response = match valid(&response) {
            true => response,
            false => Response::new(500).with_body("500 Internal Server Error: the handler's response is invalid\n"),
        };
        let handler_close = response.headers.iter().any(|(n, v)| {
            n.eq_ignore_ascii_case("connection") && list_elements(v).any(|t| t.eq_ignore_ascii_case(b"close"))
        });
        let keep_alive = flight.keep_alive && !handler_close;
        let (status, body_bytes) = self.queue_response(now, response, is_head, keep_alive);
        self.after_response(now, keep_alive);
        Ok(Sent { status, body_bytes, keep_alive })
    }

    /// Bytes to write to the socket next (possibly only part of what is queued: write, then
    /// [`consume_output`](Self::consume_output), then ask again). Empty when nothing is queued.
    pub fn pending_output(&self) -> &[u8] {
        self.output.front().and_then(|f| f.get(self.output_offset..)).unwrap_or_default()
    }

    /// Whether any output is queued.
    pub fn has_output(&self) -> bool {
        self.output_len > 0
    }

    /// Marks the first `n` bytes of [`pending_output`](Self::pending_output) as written.
    pub fn consume_output(&mut self, n: usize) {
        let mut n = n;
        while n > 0 {
            let Some(front) = self.output.front() else { break };
            let left = front.len().saturating_sub(self.output_offset);
            let step = n.min(left);
            self.output_offset += step;
            self.output_len = self.output_len.saturating_sub(step);
            n -= step;
            if step > 0 {
                self.output_progress = true;
            }
            if self.output_offset >= front.len() {
                self.output.pop_front();
                self.output_offset = 0;
            } else {
                break;
            }
        }
    }

    /// When [`on_timeout`](Self::on_timeout) should be called next (monotonic), if ever.
    pub fn poll_deadline(&self) -> Option<Duration> {
        match self.phase {
            Phase::Closed => None,
            _ => self.timer.map(|t| t.at),
        }
    }

    /// Runs the timer if its deadline has passed: a slow head or body gets 408, an idle
    /// connection or one whose output the client does not read is closed.
    pub fn on_timeout(&mut self, now: Now) {
        let Some(timer) = self.timer else { return };
        if now.monotonic < timer.at || matches!(self.phase, Phase::Closed) {
            return;
        }
        if self.output_len > 0 {
            if self.output_progress {
                // The client is reading, just slowly: give it another period.
                self.arm(now, timer.kind);
            } else {
                self.close_now();
            }
            return;
        }
        match timer.kind {
            TimerKind::Idle | TimerKind::Linger => self.close_now(),
            TimerKind::Head if self.input.iter().all(|&b| b == b'\r' || b == b'\n') => self.close_now(),
            // A streamed body that stalls after its response began cannot be answered with 408.
            TimerKind::Body if matches!(&self.phase, Phase::Streaming(stream) if stream.responding()) => {
                self.close_now()
            }
            TimerKind::Head | TimerKind::Body => {
                self.fail(now, RequestError::Timeout);
            }
        }
    }

    /// Whether reading more from the socket is useful now. False while enough input is held
    /// back (a request is being answered, or output is piling up) and once closed.
    pub fn wants_input(&self) -> bool {
        match self.phase {
            Phase::Closed => false,
            Phase::Closing => true,
            Phase::Head | Phase::Body { .. } | Phase::Handling(_) | Phase::Streaming(_) => {
                self.input.len() < self.limits.max_head_bytes
            }
        }
    }

    /// No more requests will be answered: once [`pending_output`](Self::pending_output) is
    /// empty, shut down the socket's sending side (and keep reading until
    /// [`is_closed`](Self::is_closed), so the client sees the whole answer).
    pub fn wants_close(&self) -> bool {
        matches!(self.phase, Phase::Closing | Phase::Closed)
    }

    /// The connection is finished: drop the socket (any output still queued is abandoned).
    pub fn is_closed(&self) -> bool {
        match self.phase {
            Phase::Closed => true,
            Phase::Closing => self.peer_eof && self.output_len == 0,
            _ => false,
        }
    }

    /// The protocol error this connection was refused for, if it was.
    pub fn error(&self) -> Option<RequestError> {
        self.error
    }

    /// A response is queued whole: on to the next request's head when the connection is kept
    /// alive and the client may still send one, else closing.
    fn after_response(&mut self, now: Now, keep_alive: bool) {
        if keep_alive && !(self.peer_eof && self.input.is_empty()) {
            self.phase = Phase::Head;
            self.arm(now, if self.input.is_empty() { TimerKind::Idle } else { TimerKind::Head });
        } else {
            self.close_gracefully(now);
        }
    }

    fn arm(&mut self, now: Now, kind: TimerKind) {
        let period = match kind {
            TimerKind::Idle => self.limits.idle_timeout,
            TimerKind::Head => self.limits.head_timeout,
            TimerKind::Body => self.limits.body_timeout,
            TimerKind::Linger => self.limits.linger_timeout,
        };
        let at = now.monotonic.checked_add(period).unwrap_or(Duration::MAX);
        self.timer = Some(Timer { at, kind });
        self.output_progress = false;
    }

    /// The next request head from the input, once it is complete and the output is not piling
    /// up; a malformed head is answered (and the connection closes), a partial one at the
    /// client's EOF dropped. A `Content-Length` beyond [`Limits::max_body_bytes`] is refused
    /// (413) unless the body will be `streamed`, in which case no size is too large.
    fn take_head(&mut self, now: Now, streamed: bool) -> Option<crate::head::Head> {
        if !matches!(self.phase, Phase::Head) || self.output_len > OUTPUT_HIGH_WATER {
            return None;
        }
        let end = match self.scan.scan(&self.input, &self.limits) {
            Ok(Some(end)) => end,
            Ok(None) => {
                if self.peer_eof {
                    self.close_gracefully(now);
                }
                return None;
            }
            Err(e) => return self.fail(now, e).and(None),
        };
        let unlimited;
        let limits = match streamed {
            true => {
                unlimited = Limits { max_body_bytes: usize::MAX, ..self.limits.clone() };
                &unlimited
            }
            false => &self.limits,
        };
        let parsed = parse_head(self.input.get(..end).unwrap_or_default(), &self.scan, limits);
        self.input.drain(..end.min(self.input.len()));
        self.scan = HeadScan::default();
        match parsed {
            Ok(head) => Some(head),
            Err(e) => self.fail(now, e).and(None),
        }
    }

    fn start_handling(&mut self, head: crate::head::Head, body: Vec<u8>) -> Request {
        self.phase = Phase::Handling(InFlight { is_head: head.method == "HEAD", keep_alive: head.keep_alive });
        self.timer = None;
        Request {
            method: head.method,
            path: head.path,
            query: head.query,
            version: head.version,
            headers: head.headers,
            body,
        }
    }

    /// Answers a protocol error and closes. Returns `None` for `poll_request`'s convenience.
    fn fail(&mut self, now: Now, error: RequestError) -> Option<Request> {
        self.error = Some(error);
        let status = error.status();
        let body = format!("{status} {}: {error}\n", reason_phrase(status));
        let response = Response::new(status).with_header("Content-Type", "text/plain; charset=utf-8").with_body(body);
        self.queue_response(now, response, false, false);
        self.close_gracefully(now);
        None
    }

    fn close_gracefully(&mut self, now: Now) {
        self.phase = Phase::Closing;
        self.input = Vec::new();
        self.arm(now, TimerKind::Linger);
    }

    fn close_now(&mut self) {
        self.phase = Phase::Closed;
        self.input = Vec::new();
        self.output.clear();
        self.output_offset = 0;
        self.output_len = 0;
        self.timer = None;
    }

    fn push_output(&mut self, bytes: Vec<u8>) {
        if !bytes.is_empty() {
            self.output_len += bytes.len();
            self.output.push_back(bytes);
        }
    }

    /// Serialises a (valid) response; returns the status and body bytes sent.
    fn queue_response(&mut self, now: Now, response: Response, is_head: bool, keep_alive: bool) -> (u16, usize) {
        let status = response.status;
        let send_body = !is_head && !bodiless(status);
        // 1xx and 204 never carry Content-Length; a 304 only the one a GET would get.
        let no_length = (100..200).contains(&status) || status == 204 || (status == 304 && response.body.is_empty());
        let framing = if no_length { HeadFraming::None } else { HeadFraming::Length(response.body.len() as u64) };
        let mut out = response_head(now, status, &response.headers, framing, keep_alive);
        let body = if send_body { response.body } else { Vec::new() };
        let body_bytes = body.len();
        if body.len() <= COALESCE_BODY {
            out.extend_from_slice(&body);
            self.push_output(out);
        } else {
            self.push_output(out);
            self.push_output(body);
        }
        (status, body_bytes)
    }
}

/// Whether a response with this status carries no body, whatever its headers say: 1xx, 204
/// and 304.
fn bodiless(status: u16) -> bool {
    (100..200).contains(&status) || status == 204 || status == 304
}

/// How a response head announces its body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum HeadFraming {
    /// Neither `Content-Length` nor `Transfer-Encoding`.
    None,
    Length(u64),
    Chunked,
}

/// A response head: status line, `Date`, the handler's fields (less those the server owns:
/// `Date`, `Content-Length`, `Connection`, `Transfer-Encoding`), the framing and `Connection`.
fn response_head(
    now: Now,
    status: u16,
    headers: &[(String, Vec<u8>)],
    framing: HeadFraming,
    keep_alive: bool,
) -> Vec<u8> {
    use core::fmt::Write as _;
    let mut text = String::with_capacity(64);
    let _ = write!(text, "HTTP/1.1 {status} {}\r\nDate: {}\r\n", reason_phrase(status), ImfFixdate(now.unix_secs));
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(text.as_bytes());
    for (name, value) in headers {
        if ["date", "content-length", "connection", "transfer-encoding"].iter().any(|n| name.eq_ignore_ascii_case(n)) {
            continue;
        }
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
    }
    match framing {
        HeadFraming::None => {}
        HeadFraming::Length(n) => out.extend_from_slice(format!("Content-Length: {n}\r\n").as_bytes()),
        HeadFraming::Chunked => out.extend_from_slice(b"Transfer-Encoding: chunked\r\n"),
    }
    out.extend_from_slice(if keep_alive { b"Connection: keep-alive\r\n\r\n" } else { b"Connection: close\r\n\r\n" });
    out
}

/// Whether a handler's response can be sent as it is.
fn valid(response: &Response) -> bool {
    (200..=999).contains(&response.status)
        && response.headers.iter().all(|(name, value)| {
            !name.is_empty() && name.bytes().all(is_tchar) && !value.iter().any(|&b| b == b'\r' || b == b'\n' || b == 0)
        })
}

mod stream;

pub(crate) use stream::last_chunk;
pub use stream::{BodyRead, RequestHead};

#[cfg(test)]
mod stream_tests;
#[cfg(test)]
mod tests;
