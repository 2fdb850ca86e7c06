//! One served HTTP/1.1 connection: its TCP socket and its `morgana-http` state, shared by the
//! server's task for the connection and the resources of the request being handled (the
//! request's body stream, the response-outparam, the response's body stream).
//!
//! Every operation is non-blocking: [`Exchange::pump`] moves whatever bytes can move between
//! the socket and the connection and runs its timers; waiting is [`Exchange::poll_ready`],
//! which pumps, checks a condition, and otherwise asks the platform to wake up when the
//! network or a connection timer next needs attention.
//!
//! Bodies reach connections through two traits, so that the same streams serve the server's
//! exchanges and the client's ([`super::outgoing`]): a [`BodySource`] is read from, a
//! [`BodySink`] written into.
//!
//! Locking (one vCPU, spin locks that are never contended but must not be taken twice): a
//! [`WrittenBody`]'s lock may be held while taking its sink's, never the other way round.

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::task::Poll;
use core::time::Duration;

use morgana_http::{BodyRead, Connection, Now};

use crate::network::{Network, ShutdownType, SocketId, TransferError};
use crate::platform::Platform;

pub(crate) type SharedExchange = Arc<spin::Mutex<Exchange>>;
pub(crate) type SharedBody = Arc<spin::Mutex<WrittenBody>>;

/// A connection a body the guest reads comes from.
pub(crate) trait BodySource: Send + Sync {
    /// Up to `max` more bytes of the body as they have arrived (after moving what can move);
    /// `Failed` once the connection has.
    fn read(&self, max: usize) -> BodyRead;
    /// Moves what can move; `Pending` with the platform asked to wake up when the connection
    /// next needs attention.
    fn poll_progress(&self) -> Poll<()>;
    /// The body's trailer fields, once it has ended (none if it had none); once.
    fn trailers(&self) -> Vec<(String, Vec<u8>)>;
}

/// A connection a body the guest writes goes into.
pub(crate) trait BodySink: Send + Sync {
    /// Takes what it can of `data` (moving output to the socket first when there is no room);
    /// returns how much.
    fn take(&self, data: &[u8]) -> usize;
    /// The body is complete; `trailers` follow it (where its framing has room for them).
    fn complete(&self, trailers: &[(String, Vec<u8>)]);
    /// The body cannot be completed: the connection is cut.
    fn abort(&self);
    /// The connection has failed: nothing more can go.
    fn is_broken(&self) -> bool;
    /// As [`BodySource::poll_progress`]; `Ready` once broken.
    fn poll_progress(&self) -> Poll<()>;
}

/// The most bytes taken from the socket at once.
const RECEIVE_CHUNK: usize = 16 * 1024;

/// The connection and what is known of the current request's answer.
pub(crate) struct Exchange {
    pub conn: Connection,
    socket: SocketId,
    pub network: Arc<dyn Network>,
    pub platform: Arc<dyn Platform>,
    /// The socket failed (reset, timed out): nothing more goes in or out.
    pub broken: bool,
    /// The sending side was shut down once the connection wanted to close.
    shut_down: bool,
    /// The answer to the request being handled.
    pub answer: Answer,
}

/// How far the handler has answered the current request.
pub(crate) enum Answer {
    /// `response-outparam.set` has not been called.
    NotYet,
    /// The handler set an error code instead of a response.
    Refused(crate::http::bindings::wasi::http::types::ErrorCode),
    /// The head has been queued; the body follows through this (`None`: the response has no
    /// body resource, so its body is empty).
    Responding(Option<SharedBody>),
}

impl Exchange {
    pub fn new(
        socket: SocketId,
        network: Arc<dyn Network>,
        platform: Arc<dyn Platform>,
        limits: morgana_http::Limits,
    ) -> Self {
        let now = now(&*platform);
        Exchange {
            conn: Connection::new(limits, now),
            socket,
            network,
            platform,
            broken: false,
            shut_down: false,
            answer: Answer::NotYet,
        }
    }

    /// The time as the connection core takes it.
    pub fn now(&self) -> Now {
        now(&*self.platform)
    }

    /// Moves what can move: received bytes into the connection (as much as it wants), its
    /// output out to the socket (as much as the socket takes), runs the connection's timer, and
    /// shuts down sending once the connection wants to close and its output is out.
    pub fn pump(&mut self) {
        if self.broken {
            return;
        }
        let now = self.now();
        while self.conn.wants_input() {
            match self.network.tcp_recv(self.socket, RECEIVE_CHUNK) {
                Ok(bytes) if bytes.is_empty() => break,
                Ok(bytes) => self.conn.receive(now, &bytes),
                Err(TransferError::Closed) => {
                    self.conn.receive_eof(now);
                    break;
                }
                Err(TransferError::Failed(_)) => {
                    self.broken = true;
                    return;
                }
            }
        }
        if self.conn.poll_deadline().is_some_and(|at| at <= now.monotonic) {
            self.conn.on_timeout(now);
        }
        while self.conn.has_output() {
            match self.network.tcp_send(self.socket, self.conn.pending_output()) {
                Ok(0) => break,
                Ok(n) => self.conn.consume_output(n),
                Err(TransferError::Closed | TransferError::Failed(_)) => {
                    self.broken = true;
                    return;
                }
            }
        }
        if self.conn.wants_close() && !self.conn.has_output() && !self.shut_down {
            self.shut_down = true;
            self.network.tcp_shutdown(self.socket, ShutdownType::Send);
        }
    }

    /// The connection is over: drop the socket.
    pub fn is_over(&self) -> bool {
        self.broken || self.conn.is_closed()
    }

    /// Pumps and tells whether `ready` holds; if not, asks the platform to wake up when the
    /// network or the connection's timer next needs attention.
    pub fn poll_ready(&mut self, ready: impl FnOnce(&mut Exchange) -> bool) -> Poll<()> {
        let now_ns = self.platform.monotonic_now();
        self.network.poll(now_ns);
        self.pump();
        if ready(self) {
            return Poll::Ready(());
        }
        // What the pump queued goes out now; the network says when it next needs a poll.
        if let Some(next) = self.network.poll(self.platform.monotonic_now()) {
            self.platform.wake_at(next);
        }
        if let Some(at) = self.conn.poll_deadline() {
            self.platform.wake_at(u64::try_from(at.as_nanos()).unwrap_or(u64::MAX));
        }
        Poll::Pending
    }

    /// Ends the connection at once (a response that cannot be completed): the client sees it
    /// cut short.
    pub fn abort(&mut self) {
        self.broken = true;
    }
}

impl Drop for Exchange {
    fn drop(&mut self) {
        self.network.tcp_close(self.socket);
    }
}

fn now(platform: &dyn Platform) -> Now {
    Now::new(Duration::from_nanos(platform.monotonic_now()), platform.wall_now().seconds)
}

impl BodySource for spin::Mutex<Exchange> {
    fn read(&self, max: usize) -> BodyRead {
        let mut exchange = self.lock();
        exchange.pump();
        let now = exchange.now();
        let read = exchange.conn.read_body(now, max);
        // Whatever the read released (buffer room, a 408) goes on now.
        exchange.pump();
        match read {
            BodyRead::Pending if exchange.broken => BodyRead::Failed,
            read => read,
        }
    }

    fn poll_progress(&self) -> Poll<()> {
        self.lock().poll_ready(|_| false)
    }

    fn trailers(&self) -> Vec<(String, Vec<u8>)> {
        self.lock().conn.take_trailers()
    }
}

impl BodySink for spin::Mutex<Exchange> {
    fn take(&self, data: &[u8]) -> usize {
        let mut exchange = self.lock();
        let mut taken = exchange.conn.send_body(data);
        if taken == 0 {
            exchange.pump();
            taken = exchange.conn.send_body(data);
        }
        exchange.pump();
        taken
    }

    fn complete(&self, trailers: &[(String, Vec<u8>)]) {
        let mut exchange = self.lock();
        let now = exchange.now();
        let _ = exchange.conn.finish_body_with_trailers(now, trailers);
        exchange.pump();
    }

    fn abort(&self) {
        self.lock().abort();
    }

    fn is_broken(&self) -> bool {
        self.lock().broken
    }

    fn poll_progress(&self) -> Poll<()> {
        self.lock().poll_ready(|exchange| exchange.broken)
    }
}

/// A body the guest writes (a served response's, or a forwarded request's): bytes written but
/// not yet taken by the connection, what it declared, and whether it has been finished.
pub(crate) struct WrittenBody {
    pub pending: Vec<u8>,
    /// `Content-Length`, if the message declared one.
    pub declared: Option<u64>,
    pub written: u64,
    pub state: BodyState,
    /// The connection, once the message's head has gone (`response-outparam.set`, or
    /// `outgoing-handler.handle`).
    pub sink: Option<Arc<dyn BodySink>>,
    /// Of a request (its errors are the request's).
    pub of_request: bool,
    /// The trailer fields `outgoing-body.finish` gave.
    pub trailers: Vec<(String, Vec<u8>)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BodyState {
    /// The guest may write more.
    Open,
    /// `outgoing-body.finish` succeeded: once `pending` is out, the message is complete.
    Finished,
    /// Dropped unfinished, or finished with a length other than declared: the message cannot
    /// be completed, and the connection is cut.
    Aborted,
    /// Handed over completely (the connection has its end, or has been cut).
    Done,
}

/// The most body bytes held between the guest's writes and the connection.
pub(crate) const BODY_BUFFER: usize = 64 * 1024;

impl WrittenBody {
    pub fn new(declared: Option<u64>, of_request: bool) -> Self {
        WrittenBody {
            pending: Vec::new(),
            declared,
            written: 0,
            state: BodyState::Open,
            sink: None,
            of_request,
            trailers: Vec::new(),
        }
    }

    /// Hands what it can to the connection (once there is one); completes or cuts the message
    /// when the guest is done with it.
    pub fn flush(&mut self) {
        let Some(sink) = self.sink.clone() else { return };
        while !self.pending.is_empty() && !sink.is_broken() {
            let taken = sink.take(&self.pending);
            if taken == 0 {
                break;
            }
            self.pending.drain(..taken);
        }
        match self.state {
            BodyState::Finished if self.pending.is_empty() => {
                sink.complete(&self.trailers);
                self.state = BodyState::Done;
            }
            BodyState::Aborted => {
                sink.abort();
                self.state = BodyState::Done;
            }
            BodyState::Open | BodyState::Finished | BodyState::Done => {}
        }
    }

    /// Room for more bytes from the guest.
    pub fn room(&self) -> usize {
        BODY_BUFFER.saturating_sub(self.pending.len())
    }
}
