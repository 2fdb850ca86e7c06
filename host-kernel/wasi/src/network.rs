//! What the `wasi:sockets` host needs from a network stack. The kernel implements this over its
//! TCP/IP stack (`morgana-net`); tests may implement it over anything. Like [`Platform`], every
//! method takes `&self`: implementations use interior mutability.
//!
//! The trait speaks in transport terms (open, bind, listen, accept, connect, send, receive,
//! close) and leaves the WASI state machine (`start-*`/`finish-*`, which calls are valid when,
//! streams as children of sockets) to the [`sockets`](crate::sockets) module. Errors are the
//! `wasi:sockets` [`ErrorCode`]s the guest will see, so an implementation decides how each of
//! its failures looks to a guest; the WIT documents which code means what.
//!
//! # Waiting
//!
//! Nothing here blocks. A guest waiting on a socket (a pollable, a blocking stream call) makes
//! the sockets host call [`Network::poll`] with the monotonic time, check the socket again, and
//! if it is still not ready pass the deadline `poll` returned to [`Platform::wake_at`] before
//! returning `Pending`; the executor then calls [`Platform::idle`]. So the embedder's `idle` must
//! return when the network device has something (an interrupt), and — so that connections make
//! progress while the guest waits on a clock alone — should call `poll` itself before halting,
//! halt no longer than the deadline it returns, and not halt at all when that deadline is not
//! after now (the poll changed something a waiting guest must look at first).
//!
//! [`Platform`]: crate::Platform
//! [`Platform::wake_at`]: crate::Platform::wake_at
//! [`Platform::idle`]: crate::Platform::idle

use alloc::vec::Vec;
use core::net::{IpAddr, SocketAddr};

pub use crate::bindings::wasi::sockets::network::{ErrorCode, IpAddressFamily};
pub use crate::bindings::wasi::sockets::tcp::ShutdownType;

/// A result whose error is a `wasi:sockets` code.
pub type NetResult<T> = Result<T, ErrorCode>;

/// Names a socket or a name lookup of one [`Network`]. The network chooses it; it stays valid
/// until the matching `*_close` or [`Network::resolve_cancel`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SocketId(pub u64);

/// Why a TCP stream transfer cannot go on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferError {
    /// Receiving: the peer finished sending and everything it sent has been read. Sending: this
    /// side shut down sending.
    Closed,
    /// The connection failed (reset, timed out, ...).
    Failed(ErrorCode),
}

/// The options of a TCP socket, as `wasi:sockets/tcp` shows them. Durations are nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpOptions {
    pub keep_alive_enabled: bool,
    pub keep_alive_idle_time: u64,
    pub keep_alive_interval: u64,
    pub keep_alive_count: u32,
    /// Never 0.
    pub hop_limit: u8,
    /// Bytes; never 0.
    pub receive_buffer_size: u64,
    /// Bytes; never 0.
    pub send_buffer_size: u64,
}

/// The options of a UDP socket, as `wasi:sockets/udp` shows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UdpOptions {
    /// Never 0.
    pub unicast_hop_limit: u8,
    /// Bytes; never 0.
    pub receive_buffer_size: u64,
    /// Bytes; never 0.
    pub send_buffer_size: u64,
}

/// A TCP/IP stack seen from the WASI host. Methods an implementation does not support keep
/// their default, which fails with `not-supported` (or reports "not ready").
///
/// Addresses given to it have been checked by the sockets host as wasmtime-wasi checks them:
/// the socket's family, unicast, and for remote addresses a port and a specified address.
pub trait Network: Send + Sync + 'static {
    /// Does whatever the stack has to do at monotonic time `now` (nanoseconds, the
    /// [`Platform`](crate::Platform)'s clock): takes in received frames, sends what is queued,
    /// runs timers. Returns when it next needs to be called at the latest, `None` if only when
    /// something happens (a frame arrives, a socket call). A time not after `now` means at
    /// once: the poll changed what sockets can do, and waiters should look before anyone halts.
    fn poll(&self, now: u64) -> Option<u64>;

    // ---- TCP

    /// A new, unbound TCP socket of `family`. `new-socket-limit` when there are too many.
    fn tcp_open(&self, _family: IpAddressFamily) -> NetResult<SocketId> {
        Err(ErrorCode::NotSupported)
    }
    /// Binds an open socket to `local` (port 0: an ephemeral port, chosen now).
    /// `address-in-use`, `address-not-bindable` (not one of this host's addresses).
    fn tcp_bind(&self, _socket: SocketId, _local: SocketAddr) -> NetResult<()> {
        Err(ErrorCode::NotSupported)
    }
    /// Makes a bound socket a listener that queues up to `backlog` connections not yet accepted;
    /// connection attempts beyond that are refused.
    fn tcp_listen(&self, _socket: SocketId, _backlog: u32) -> NetResult<()> {
        Err(ErrorCode::NotSupported)
    }
    /// Changes a listener's backlog.
    fn tcp_set_backlog(&self, _socket: SocketId, _backlog: u32) -> NetResult<()> {
        Err(ErrorCode::NotSupported)
    }
    /// The next established connection of a listener, as a new socket with the listener's
    /// options; `None` if there is none yet.
    fn tcp_accept(&self, _socket: SocketId) -> NetResult<Option<SocketId>> {
        Err(ErrorCode::NotSupported)
    }
    /// Whether [`tcp_accept`](Network::tcp_accept) would return a connection (or an error).
    fn tcp_accept_ready(&self, _socket: SocketId) -> bool {
        false
    }
    /// Starts connecting an open socket (bound or not) to `remote`. Errors that are known at
    /// once (`remote-unreachable`: no route) are returned here; the others come from
    /// [`tcp_connect_result`](Network::tcp_connect_result).
    fn tcp_connect(&self, _socket: SocketId, _remote: SocketAddr) -> NetResult<()> {
        Err(ErrorCode::NotSupported)
    }
    /// How a connection attempt ended: `None` while it is in progress, then `Ok` once
    /// established or the error (`connection-refused`, `timeout`, ...).
    fn tcp_connect_result(&self, _socket: SocketId) -> Option<NetResult<()>> {
        Some(Err(ErrorCode::NotSupported))
    }
    /// Takes up to `max` received bytes of a connection; an empty vector if none are there yet.
    fn tcp_recv(&self, _socket: SocketId, _max: usize) -> Result<Vec<u8>, TransferError> {
        Err(TransferError::Failed(ErrorCode::NotSupported))
    }
    /// Whether [`tcp_recv`](Network::tcp_recv) would return bytes, the end, or an error.
    fn tcp_recv_ready(&self, _socket: SocketId) -> bool {
        false
    }
    /// Queues bytes for sending; returns how many were taken, 0 if there is no room yet.
    fn tcp_send(&self, _socket: SocketId, _data: &[u8]) -> Result<usize, TransferError> {
        Err(TransferError::Failed(ErrorCode::NotSupported))
    }
    /// How many bytes [`tcp_send`](Network::tcp_send) would take now.
    fn tcp_send_capacity(&self, _socket: SocketId) -> Result<usize, TransferError> {
        Err(TransferError::Failed(ErrorCode::NotSupported))
    }
    /// Shuts down one or both directions of a connection: `send` sends FIN once what is queued
    /// has gone; `receive` discards what arrives from now on.
    fn tcp_shutdown(&self, _socket: SocketId, _how: ShutdownType) {}
    /// The guest dropped the socket: closes it gracefully (or resets it, when received data was
    /// never read) and frees it once the connection is over.
    fn tcp_close(&self, _socket: SocketId) {}
    /// The local address of a bound, listening or connected socket.
    fn tcp_local_address(&self, _socket: SocketId) -> NetResult<SocketAddr> {
        Err(ErrorCode::NotSupported)
    }
    /// The peer's address of a connected socket.
    fn tcp_remote_address(&self, _socket: SocketId) -> NetResult<SocketAddr> {
        Err(ErrorCode::NotSupported)
    }
    /// The socket's options (the network's defaults for a new socket).
    fn tcp_options(&self, _socket: SocketId) -> NetResult<TcpOptions> {
        Err(ErrorCode::NotSupported)
    }
    /// Sets the socket's options and returns them as in effect (buffer sizes may be clamped).
    /// Buffer sizes apply to connections established after the call.
    fn tcp_set_options(&self, _socket: SocketId, _options: TcpOptions) -> NetResult<TcpOptions> {
        Err(ErrorCode::NotSupported)
    }

    // ---- UDP

    /// A new, unbound UDP socket of `family`.
    fn udp_open(&self, _family: IpAddressFamily) -> NetResult<SocketId> {
        Err(ErrorCode::NotSupported)
    }
    /// Binds an open socket to `local` (port 0: an ephemeral port).
    fn udp_bind(&self, _socket: SocketId, _local: SocketAddr) -> NetResult<()> {
        Err(ErrorCode::NotSupported)
    }
    /// The local address of a bound socket.
    fn udp_local_address(&self, _socket: SocketId) -> NetResult<SocketAddr> {
        Err(ErrorCode::NotSupported)
    }
    /// Queues one datagram to `remote`; `Ok(false)` if there is no room for it yet.
    /// `datagram-too-large`, `remote-unreachable`.
    fn udp_send(&self, _socket: SocketId, _data: &[u8], _remote: SocketAddr) -> NetResult<bool> {
        Err(ErrorCode::NotSupported)
    }
    /// Whether [`udp_send`](Network::udp_send) would have room for a datagram.
    fn udp_send_ready(&self, _socket: SocketId) -> bool {
        false
    }
    /// The next received datagram and its sender, if any.
    fn udp_recv(&self, _socket: SocketId) -> NetResult<Option<(Vec<u8>, SocketAddr)>> {
        Err(ErrorCode::NotSupported)
    }
    /// Whether [`udp_recv`](Network::udp_recv) would return a datagram.
    fn udp_recv_ready(&self, _socket: SocketId) -> bool {
        false
    }
    /// The socket's options (the network's defaults for a new socket).
    fn udp_options(&self, _socket: SocketId) -> NetResult<UdpOptions> {
        Err(ErrorCode::NotSupported)
    }
    /// Sets the socket's options and returns them as in effect. Buffer sizes apply when the
    /// socket is bound.
    fn udp_set_options(&self, _socket: SocketId, _options: UdpOptions) -> NetResult<UdpOptions> {
        Err(ErrorCode::NotSupported)
    }
    /// The guest dropped the socket: frees it (datagrams still queued are dropped).
    fn udp_close(&self, _socket: SocketId) {}

    // ---- Names

    /// Starts looking up the addresses of `name`, a syntactically valid DNS name (not an IP
    /// address: the sockets host answers those itself).
    fn resolve(&self, _name: &str) -> NetResult<SocketId> {
        Err(ErrorCode::PermanentResolverFailure)
    }
    /// How a lookup ended: `None` while in progress, then the addresses (IPv4 first) or
    /// `name-unresolvable`, `temporary-resolver-failure`, .... Once it has returned `Some`, the
    /// lookup is over and its id is free.
    fn resolve_result(&self, _lookup: SocketId) -> Option<NetResult<Vec<IpAddr>>> {
        Some(Err(ErrorCode::PermanentResolverFailure))
    }
    /// Abandons a lookup that has not returned its result yet.
    fn resolve_cancel(&self, _lookup: SocketId) {}
}
