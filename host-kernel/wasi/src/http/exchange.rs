//! One served HTTP/1.1 connection: its TCP socket and its `morgana-http` state, shared by the
//! server's task for the connection and the resources of the request being handled (the
//! request's body stream, the response-outparam, the response's body stream).
//!
//! Every operation is non-blocking: [`Exchange::pump`] moves whatever bytes can move between
//! the socket and the connection and runs its timers; waiting is [`Exchange::poll_ready`],
//! which pumps, checks a condition, and otherwise asks the platform to wake up when the
//! network or a connection timer next needs attention.
//!
//! Locking (one vCPU, spin locks that are never contended but must not be taken twice): a
//! [`ResponseBody`]'s lock may be held while taking its exchange's, never the other way round.

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::task::Poll;
use core::time::Duration;

use morgana_http::{Connection, Now};

use crate::network::{Network, ShutdownType, SocketId, TransferError};
use crate::platform::Platform;

pub(crate) type SharedExchange = Arc<spin::Mutex<Exchange>>;
pub(crate) type SharedBody = Arc<spin::Mutex<ResponseBody>>;

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

/// The body of a response the handler is writing: bytes written but not yet taken by the
/// connection, what it declared, and whether it has been finished.
pub(crate) struct ResponseBody {
    pub pending: Vec<u8>,
    /// `Content-Length`, if the response declared one.
    pub declared: Option<u64>,
    pub written: u64,
    pub state: BodyState,
    /// The connection, once `response-outparam.set` sent this response's head.
    pub exchange: Option<SharedExchange>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BodyState {
    /// The handler may write more.
    Open,
    /// `outgoing-body.finish` succeeded: once `pending` is out, the response is complete.
    Finished,
    /// Dropped unfinished, or finished with a length other than declared: the response
    /// cannot be completed, and the connection is cut.
    Aborted,
    /// Handed over completely (the connection has its end, or has been cut).
    Done,
}

/// The most body bytes held between the handler's writes and the connection.
pub(crate) const BODY_BUFFER: usize = 64 * 1024;

impl ResponseBody {
    pub fn new(declared: Option<u64>) -> Self {
        ResponseBody { pending: Vec::new(), declared, written: 0, state: BodyState::Open, exchange: None }
    }

    /// Hands what it can to the connection (once attached) and the connection's output to the
    /// socket; completes or cuts the response when the handler is done with it.
    pub fn flush(&mut self) {
        let Some(exchange) = self.exchange.clone() else { return };
        let mut exchange = exchange.lock();
        while !self.pending.is_empty() && !exchange.broken {
            let mut taken = exchange.conn.send_body(&self.pending);
            if taken == 0 {
                // The connection's output is full: move some of it to the socket first.
                exchange.pump();
                taken = exchange.conn.send_body(&self.pending);
                if taken == 0 {
                    break;
                }
            }
            self.pending.drain(..taken);
        }
        match self.state {
            BodyState::Finished if self.pending.is_empty() => {
                let now = exchange.now();
                let _ = exchange.conn.finish_body(now);
                self.state = BodyState::Done;
            }
            BodyState::Aborted => {
                exchange.abort();
                self.state = BodyState::Done;
            }
            BodyState::Open | BodyState::Finished | BodyState::Done => {}
        }
        exchange.pump();
    }

    /// Room for more bytes from the handler.
    pub fn room(&self) -> usize {
        BODY_BUFFER.saturating_sub(self.pending.len())
    }
}
