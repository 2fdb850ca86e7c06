//! What the stream transports (TCP, and TLS over TCP) share: a connection made lazily on the
//! first message, checked before each write, made again at once when the server closed it (a
//! restarted server costs no message), and after a failure tried again at most every
//! [`RETRY_SECS`] while messages go to stderr. When the server closes two connections in a row
//! within [`RETRY_SECS`] of their making, the second close counts as a failure (the server
//! refuses this client), not as a restart. Trouble is reported on stderr once per outage; an
//! outage ends when a connection has lasted [`RETRY_SECS`].

use morgana_syslog::Target;

use crate::stderr;

/// After a failure, messages go to stderr for this long before the next connection attempt; a
/// connection has lasted once it is this old.
pub const RETRY_SECS: u64 = 5;

/// Why a connection can carry no more messages.
pub(crate) enum Broken {
    /// The server closed it, or a write failed: connect again at once, reporting nothing.
    Closed,
    /// It failed in a way worth reporting (a TLS alert, a bad record): report, and send
    /// messages to stderr until the next attempt. (Plain TCP fails only by closing.)
    #[cfg_attr(not(feature = "tls"), allow(dead_code))]
    Failed(String),
}

/// How to reach the server over one transport.
pub(crate) trait Dial {
    type Conn: Conn;

    /// The target, for the line saying the transport is back.
    fn target(&self) -> &Target;

    /// The stderr report (after `syslog: `) of a problem `why`.
    fn describe(&self, why: &str) -> String;

    /// One connection attempt, blocking until it is ready for messages or failed (`why`).
    fn dial(&self) -> Result<Self::Conn, String>;

    /// The report when the server closes every connection soon after it was made.
    fn closed_soon(&self) -> String {
        "the server closes the connection soon after accepting it, each time".to_owned()
    }
}

/// A connection to the server.
pub(crate) trait Conn {
    /// Whether the connection can still carry a message, from what the server sent (never
    /// blocks). Called before each write.
    fn check(&mut self) -> Result<(), Broken>;

    /// Writes one frame; returns once all of it is written and flushed.
    fn write(&mut self, frame: &[u8]) -> Result<(), Broken>;
}

/// A stream transport: connected lazily, connected again at once when the connection closes,
/// then tried again at most every [`RETRY_SECS`] while messages go to stderr.
pub(crate) struct Stream<D: Dial> {
    dial: D,
    /// The connection and the unix second it was made.
    conn: Option<(D::Conn, u64)>,
    /// While down: the unix second of the next connection attempt.
    retry_at: Option<u64>,
    /// An outage was reported and has not ended: report nothing more until it has.
    reported: bool,
    /// The server closed the last connection before it had lasted.
    closed_young: bool,
}

impl<D: Dial> Stream<D> {
    pub(crate) fn new(dial: D) -> Stream<D> {
        Stream { dial, conn: None, retry_at: None, reported: false, closed_young: false }
    }

    /// Sends one frame; false if it went nowhere (the caller writes the message to stderr).
    pub(crate) fn send(&mut self, frame: &[u8], now: u64) -> bool {
        if let Some((conn, since)) = &mut self.conn {
            let young = now < since.saturating_add(RETRY_SECS);
            let result = conn.check().and_then(|()| {
                if !young {
                    self.closed_young = false;
                    if self.reported {
                        self.reported = false;
                        stderr(&format!("syslog: connected to {} again", self.dial.target()));
                    }
                }
                conn.write(frame)
            });
            match result {
                Ok(()) => return true,
                Err(Broken::Closed) if young && self.closed_young => {
                    self.conn = None;
                    self.down(&self.dial.closed_soon(), now);
                    return false;
                }
                Err(Broken::Closed) => {
                    self.closed_young = young;
                    self.conn = None;
                }
                Err(Broken::Failed(why)) => {
                    self.conn = None;
                    self.down(&why, now);
                    return false;
                }
            }
        } else if self.retry_at.is_some_and(|at| now < at) {
            return false;
        }
        // Not connected (first message, due for a retry, or the connection just closed): one
        // attempt.
        let attempt = self.dial.dial().and_then(|mut conn| match conn.write(frame) {
            Ok(()) => Ok(conn),
            Err(Broken::Closed) => Err("write failed".to_owned()),
            Err(Broken::Failed(why)) => Err(why),
        });
        match attempt {
            Ok(conn) => {
                self.retry_at = None;
                self.conn = Some((conn, now));
                true
            }
            Err(why) => {
                self.down(&why, now);
                false
            }
        }
    }

    /// Reports `why` unless this outage was reported already; the next attempt waits.
    fn down(&mut self, why: &str, now: u64) {
        if !self.reported {
            self.reported = true;
            stderr(&format!("syslog: {}; logging to stderr, retrying every {RETRY_SECS} s", self.dial.describe(why)));
        }
        self.retry_at = Some(now.saturating_add(RETRY_SECS));
    }
}
