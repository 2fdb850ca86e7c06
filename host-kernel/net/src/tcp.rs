//! TCP sockets.
//!
//! smoltcp has no accept queue: a listening socket becomes the connection. So a listener here is
//! a pool: one smoltcp socket listening on the port at any time on each interface the listener
//! hears (loopback alone for a loopback address; the wire and loopback for an unspecified
//! address or one of the wire's, since the host's connections to itself arrive over loopback),
//! and the connections they took (handshaking or established) queued until accepted, from
//! either interface in one backlog. After every frame or packet that changed a socket the pool
//! gets fresh listening sockets, as long as fewer connections than the backlog wait; when the
//! backlog is full no socket listens, and smoltcp answers connection attempts with a reset (the
//! client sees "connection refused") while the server keeps serving the others.
//!
//! A connection goes over loopback when its destination is a loopback address or one of the
//! wire interface's own, over the wire otherwise.
//!
//! A connection the application drops becomes an orphan: closed gracefully (or reset, when it
//! had received data the application never read) and freed once the close has completed or
//! [`StackOptions::linger`](crate::StackOptions::linger) has passed. Timeouts: a handshake
//! ([`connect_timeout`](crate::StackOptions::connect_timeout)), unacknowledged data
//! ([`tcp_timeout`](crate::StackOptions::tcp_timeout)) and keep-alive abort the connection.

use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec;
use alloc::vec::Vec;
use core::net::SocketAddr;
use smoltcp::phy::Device;
use smoltcp::socket::tcp::{self, State};
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::{IpAddress, IpListenEndpoint};

use crate::config::{Family, TcpOptions};
use crate::error::Error;
use crate::stack::{Handle, Iface, SocketId, Stack, is_loopback, overlaps};

#[derive(Default)]
pub(crate) struct TcpState {
    entries: BTreeMap<SocketId, Entry>,
    orphans: Vec<Orphan>,
}

struct Entry {
    family: Family,
    options: TcpOptions,
    /// The address given to `bind` (port chosen if it was 0); holds the port while the socket
    /// lives. Accepted connections have none.
    bound: Option<SocketAddr>,
    kind: Kind,
}

enum Kind {
    /// Open or bound.
    Idle,
    Listening(Listener),
    Connection(Conn),
    /// The connection is over and its smoltcp socket freed; how it ended.
    Done {
        failure: Option<Error>,
        local: Option<SocketAddr>,
        remote: Option<SocketAddr>,
    },
}

struct Listener {
    backlog: usize,
    /// The socket listening now on each interface ([`Iface::index`]), if any.
    listening: [Option<Handle>; 2],
    /// Connections taken, from either interface, in arrival order, not accepted yet.
    pending: VecDeque<Handle>,
}

impl Listener {
    fn new(backlog: usize) -> Self {
        Listener { backlog, listening: [None, None], pending: VecDeque::new() }
    }

    fn is_full(&self) -> bool {
        self.pending.len() >= self.backlog
    }
}

struct Conn {
    handle: Handle,
    /// Started by `connect` and neither established nor failed yet.
    connecting: bool,
    local: Option<SocketAddr>,
    remote: Option<SocketAddr>,
    /// The state the last look at the socket saw, to tell a reset from a clean close.
    last_state: State,
    failure: Option<Error>,
}

struct Orphan {
    handle: Handle,
    deadline: Instant,
    /// Already reset once the deadline passed; freed at the next.
    aborted: bool,
}

/// Linux's keep-alive defaults.
const KEEP_ALIVE_IDLE: Duration = Duration::from_secs(7200);
const KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(75);
const KEEP_ALIVE_COUNT: u32 = 9;
const KEEP_ALIVE_MIN: Duration = Duration::from_secs(1);
const KEEP_ALIVE_MAX: Duration = Duration::from_secs(i16::MAX as u64);
const DEFAULT_HOP_LIMIT: u8 = 64;
/// How long an aborted orphan may take to get its reset out before it is freed regardless.
const RESET_GRACE: Duration = Duration::from_secs(1);

fn endpoint_addr(endpoint: smoltcp::wire::IpEndpoint) -> SocketAddr {
    SocketAddr::new(endpoint.addr.into(), endpoint.port)
}

fn listen_endpoint(bound: SocketAddr) -> IpListenEndpoint {
    IpListenEndpoint { addr: (!bound.ip().is_unspecified()).then(|| IpAddress::from(bound.ip())), port: bound.port() }
}

/// A handshake is over (either way) once the socket has left these.
fn is_handshaking(state: State) -> bool {
    matches!(state, State::SynSent | State::SynReceived | State::Listen)
}

fn apply_options(socket: &mut tcp::Socket<'static>, options: &TcpOptions) {
    socket.set_hop_limit(Some(options.hop_limit.max(1)));
    socket.set_keep_alive(options.keep_alive_enabled.then_some(options.keep_alive_interval));
}

impl Conn {
    fn new(handle: Handle, socket: &tcp::Socket<'static>, connecting: bool) -> Self {
        Conn {
            handle,
            connecting,
            local: socket.local_endpoint().map(endpoint_addr),
            remote: socket.remote_endpoint().map(endpoint_addr),
            last_state: socket.state(),
            failure: None,
        }
    }

    /// Looks at the socket: notes how it ended if it just did, and arms the timeout that fits
    /// its state.
    ///
    /// smoltcp does not say why a connection closed, but when: a reset from the peer closes it
    /// while frames are taken in, a timeout while frames are sent out. So a close first seen
    /// after sending (`after_egress`) is a timeout, one seen before is a reset (or, while
    /// connecting, a refusal). Between polls nothing closes a connection.
    fn observe(
        &mut self,
        socket: &mut tcp::Socket<'static>,
        options: &TcpOptions,
        stack: &crate::StackOptions,
        after_egress: bool,
    ) {
        let state = socket.state();
        if let (Some(local), Some(remote)) = (socket.local_endpoint(), socket.remote_endpoint()) {
            self.local = Some(endpoint_addr(local));
            self.remote = Some(endpoint_addr(remote));
        }
        if self.connecting {
            if state == State::Closed {
                self.connecting = false;
                self.failure = Some(if after_egress { Error::TimedOut } else { Error::ConnectionRefused });
            } else if !is_handshaking(state) {
                self.connecting = false;
            }
        } else if state == State::Closed
            && self.failure.is_none()
            && !matches!(self.last_state, State::TimeWait | State::LastAck | State::Closed)
        {
            self.failure = Some(if after_egress { Error::TimedOut } else { Error::ConnectionReset });
        }
        self.last_state = state;

        let timeout = match state {
            State::SynSent | State::SynReceived => Some(stack.connect_timeout),
            State::Established | State::CloseWait | State::FinWait1 | State::Closing | State::LastAck
                if socket.send_queue() > 0 =>
            {
                Some(stack.tcp_timeout)
            }
            State::Established | State::CloseWait if options.keep_alive_enabled => Some(keep_alive_timeout(options)),
            _ => None,
        };
        socket.set_timeout(timeout);
    }
}

fn keep_alive_timeout(options: &TcpOptions) -> Duration {
    options.keep_alive_idle_time + options.keep_alive_interval * options.keep_alive_count
}

impl<D: Device> Stack<D> {
    fn new_tcp_socket(&mut self, iface: Iface, options: &TcpOptions) -> Result<Handle, Error> {
        if self.socket_count >= self.options.max_sockets {
            return Err(Error::SocketLimit);
        }
        let mut socket = tcp::Socket::new(
            tcp::SocketBuffer::new(vec![0; options.receive_buffer_size]),
            tcp::SocketBuffer::new(vec![0; options.send_buffer_size]),
        );
        socket.set_nagle_enabled(self.options.nagle);
        apply_options(&mut socket, options);
        self.add_socket(iface, socket)
    }

    fn tcp_socket(&mut self, handle: Handle) -> &mut tcp::Socket<'static> {
        self.sockets.get_mut::<tcp::Socket>(handle)
    }

    fn tcp_entry(&self, id: SocketId) -> Result<&Entry, Error> {
        self.tcp.entries.get(&id).ok_or(Error::UnknownSocket)
    }

    fn tcp_entry_mut(&mut self, id: SocketId) -> Result<&mut Entry, Error> {
        self.tcp.entries.get_mut(&id).ok_or(Error::UnknownSocket)
    }

    /// The options of a new TCP socket.
    pub fn tcp_default_options(&self) -> TcpOptions {
        TcpOptions {
            keep_alive_enabled: false,
            keep_alive_idle_time: KEEP_ALIVE_IDLE,
            keep_alive_interval: KEEP_ALIVE_INTERVAL,
            keep_alive_count: KEEP_ALIVE_COUNT,
            hop_limit: DEFAULT_HOP_LIMIT,
            receive_buffer_size: self.options.tcp_receive_buffer,
            send_buffer_size: self.options.tcp_send_buffer,
        }
    }

    /// A new TCP socket of `family`, neither bound nor connected.
    pub fn tcp_open(&mut self, family: Family) -> Result<SocketId, Error> {
        if self.tcp.entries.len() >= self.options.max_sockets {
            return Err(Error::SocketLimit);
        }
        let id = self.new_id();
        let options = self.tcp_default_options();
        self.tcp.entries.insert(id, Entry { family, options, bound: None, kind: Kind::Idle });
        Ok(id)
    }

    /// Binds an open socket to `local`: unspecified, a loopback address or one of the wire
    /// interface's addresses (else [`Error::AddressNotBindable`]); port 0 for an ephemeral
    /// port. Another socket bound to an overlapping address and the same port is
    /// [`Error::AddressInUse`]; connections still closing are not.
    pub fn tcp_bind(&mut self, id: SocketId, local: SocketAddr) -> Result<(), Error> {
        let entry = self.tcp_entry(id)?;
        if entry.bound.is_some() || !matches!(entry.kind, Kind::Idle) {
            return Err(Error::InvalidState);
        }
        if Family::of(local.ip()) != entry.family {
            return Err(Error::InvalidArgument);
        }
        if !self.is_bindable(local.ip()) {
            return Err(Error::AddressNotBindable);
        }
        let port = match local.port() {
            0 => self.tcp_ephemeral_port().ok_or(Error::AddressInUse)?,
            port => {
                let taken = self.tcp.entries.iter().any(|(&other, e)| {
                    other != id && e.bound.is_some_and(|b| b.port() == port && overlaps(b.ip(), local.ip()))
                });
                if taken {
                    return Err(Error::AddressInUse);
                }
                port
            }
        };
        self.tcp_entry_mut(id)?.bound = Some(SocketAddr::new(local.ip(), port));
        Ok(())
    }

    fn tcp_ephemeral_port(&mut self) -> Option<u16> {
        // Collect the ports in use (on both interfaces) first: the search below borrows the
        // stack mutably.
        let mut used: Vec<u16> = self.tcp.entries.values().filter_map(|e| e.bound.map(|b| b.port())).collect();
        for socket in self.sockets.iter() {
            if let smoltcp::socket::Socket::Tcp(s) = socket {
                used.extend(s.local_endpoint().map(|e| e.port));
                used.push(s.listen_endpoint().port);
            }
        }
        used.sort_unstable();
        self.ephemeral_port(|port| used.binary_search(&port).is_ok())
    }

    /// Makes a bound socket listen, queueing up to `backlog` connections (clamped to
    /// 1..=[`max_backlog`](crate::StackOptions::max_backlog)) until they are accepted.
    pub fn tcp_listen(&mut self, id: SocketId, backlog: u32) -> Result<(), Error> {
        let backlog = self.clamp_backlog(backlog);
        let entry = self.tcp_entry_mut(id)?;
        if entry.bound.is_none() || !matches!(entry.kind, Kind::Idle) {
            return Err(Error::InvalidState);
        }
        entry.kind = Kind::Listening(Listener::new(backlog));
        if let Err(error) = self.replenish(id) {
            let entry = self.tcp_entry_mut(id)?;
            if let Kind::Listening(listener) = core::mem::replace(&mut entry.kind, Kind::Idle) {
                for handle in listener.listening.into_iter().flatten() {
                    self.remove_socket(handle);
                }
            }
            return Err(error);
        }
        Ok(())
    }

    fn clamp_backlog(&self, backlog: u32) -> usize {
        backlog.clamp(1, self.options.max_backlog.max(1)) as usize
    }

    /// Changes a listener's backlog.
    pub fn tcp_set_backlog(&mut self, id: SocketId, backlog: u32) -> Result<(), Error> {
        let backlog = self.clamp_backlog(backlog);
        let Kind::Listening(listener) = &mut self.tcp_entry_mut(id)?.kind else {
            return Err(Error::InvalidState);
        };
        listener.backlog = backlog;
        let _ = self.replenish(id);
        Ok(())
    }

    /// Gives a listener a listening socket on each interface it hears that has none, if there
    /// is room in its backlog; takes the idle ones away when there is not.
    fn replenish(&mut self, id: SocketId) -> Result<(), Error> {
        let entry = self.tcp_entry(id)?;
        let (Kind::Listening(listener), Some(bound)) = (&entry.kind, entry.bound) else {
            return Ok(());
        };
        let (full, listening, options) = (listener.is_full(), listener.listening, entry.options);
        for &iface in self.ifaces_for(bound.ip()) {
            match listening[iface.index()] {
                // A socket that has left the listening state is queued after the next frame.
                Some(handle) if full && self.sockets.get::<tcp::Socket>(handle).state() == State::Listen => {
                    self.remove_socket(handle);
                    if let Ok(Entry { kind: Kind::Listening(listener), .. }) = self.tcp_entry_mut(id) {
                        listener.listening[iface.index()] = None;
                    }
                }
                None if !full => {
                    let handle = self.new_tcp_socket(iface, &options)?;
                    if self.tcp_socket(handle).listen(listen_endpoint(bound)).is_err() {
                        self.remove_socket(handle);
                        return Err(Error::InvalidState);
                    }
                    if let Ok(Entry { kind: Kind::Listening(listener), .. }) = self.tcp_entry_mut(id) {
                        listener.listening[iface.index()] = Some(handle);
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// After a frame or packet that changed sockets: queues the connections listening sockets
    /// took, on the listener of their address family, and gives listeners fresh listening
    /// sockets.
    pub(crate) fn tcp_after_ingress(&mut self) {
        let mut taken = Vec::new();
        for (&id, entry) in self.tcp.entries.iter_mut() {
            let Kind::Listening(listener) = &mut entry.kind else { continue };
            for slot in &mut listener.listening {
                if let Some(handle) = *slot
                    && self.sockets.get::<tcp::Socket>(handle).state() != State::Listen
                {
                    *slot = None;
                    taken.push((id, handle));
                }
            }
        }
        for (from, handle) in taken {
            self.queue_connection(from, handle);
        }
        let listeners: Vec<SocketId> =
            self.tcp.entries.iter().filter(|(_, e)| matches!(e.kind, Kind::Listening(_))).map(|(&id, _)| id).collect();
        for id in listeners {
            let _ = self.replenish(id);
        }
    }

    /// Queues a connection that `from`'s listening socket took on the listener it belongs to:
    /// `from` unless the connection is of the other address family (a socket listening on an
    /// unspecified address takes both), then another listener on the port, else it is reset.
    fn queue_connection(&mut self, from: SocketId, handle: Handle) {
        let socket = self.sockets.get::<tcp::Socket>(handle);
        let Some(local) = socket.local_endpoint().map(endpoint_addr) else {
            // It left the listening state without a connection: nothing to queue.
            self.orphan(handle, Duration::ZERO);
            return;
        };
        let fits = |entry: &Entry| {
            matches!(&entry.kind, Kind::Listening(l) if !l.is_full())
                && entry.family == Family::of(local.ip())
                && entry
                    .bound
                    .is_some_and(|b| b.port() == local.port() && (b.ip().is_unspecified() || b.ip() == local.ip()))
        };
        let target = match self.tcp.entries.get(&from) {
            Some(entry) if fits(entry) => Some(from),
            _ => self.tcp.entries.iter().find(|(_, e)| fits(e)).map(|(&id, _)| id),
        };
        match target.and_then(|id| self.tcp.entries.get_mut(&id)) {
            Some(Entry { kind: Kind::Listening(listener), .. }) => listener.pending.push_back(handle),
            _ => {
                self.tcp_socket(handle).abort();
                self.orphan(handle, Duration::ZERO);
            }
        }
    }

    /// Whether [`tcp_accept`](Stack::tcp_accept) would return a connection.
    pub fn tcp_accept_ready(&self, id: SocketId) -> bool {
        match self.tcp.entries.get(&id) {
            Some(Entry { kind: Kind::Listening(listener), .. }) => {
                listener.pending.iter().any(|&h| self.is_acceptable(h))
            }
            // Accepting on anything else fails at once.
            _ => true,
        }
    }

    fn is_acceptable(&self, handle: Handle) -> bool {
        let state = self.sockets.get::<tcp::Socket>(handle).state();
        !is_handshaking(state) && state != State::Closed
    }

    /// The oldest established connection of a listener, as a new socket with the listener's
    /// options, or `None` if none has arrived.
    pub fn tcp_accept(&mut self, id: SocketId) -> Result<Option<SocketId>, Error> {
        let entry = self.tcp_entry(id)?;
        let Kind::Listening(listener) = &entry.kind else {
            return Err(Error::InvalidState);
        };
        let Some(index) = listener.pending.iter().position(|&h| self.is_acceptable(h)) else {
            return Ok(None);
        };
        let (family, options) = (entry.family, entry.options);
        let Ok(Entry { kind: Kind::Listening(listener), .. }) = self.tcp_entry_mut(id) else {
            return Err(Error::InvalidState);
        };
        let Some(handle) = listener.pending.remove(index) else {
            return Ok(None);
        };
        let socket = self.tcp_socket(handle);
        apply_options(socket, &options);
        let conn = Conn::new(handle, socket, false);
        let accepted = self.new_id();
        self.tcp.entries.insert(accepted, Entry { family, options, bound: None, kind: Kind::Connection(conn) });
        let _ = self.replenish(id);
        Ok(Some(accepted))
    }

    /// Starts connecting an open (possibly bound) socket to `remote`, over loopback for a
    /// loopback address or one of the wire interface's, else over the wire. An unroutable
    /// address is [`Error::Unreachable`] at once, and so is (as [`Error::InvalidArgument`], as
    /// Linux has it) one outside the host from a socket bound to a loopback address; refusal
    /// and timeouts come from [`tcp_connect_result`](Stack::tcp_connect_result).
    pub fn tcp_connect(&mut self, id: SocketId, remote: SocketAddr) -> Result<(), Error> {
        let entry = self.tcp_entry(id)?;
        if !matches!(entry.kind, Kind::Idle) {
            return Err(Error::InvalidState);
        }
        if Family::of(remote.ip()) != entry.family || remote.port() == 0 || remote.ip().is_unspecified() {
            return Err(Error::InvalidArgument);
        }
        if !self.is_routable(remote.ip()) {
            return Err(Error::Unreachable);
        }
        let (bound, options) = (entry.bound, entry.options);
        let iface = self.route(remote.ip());
        if iface == Iface::Wire && bound.is_some_and(|b| is_loopback(b.ip())) {
            return Err(Error::InvalidArgument);
        }
        let local = match bound {
            Some(bound) => listen_endpoint(bound),
            None => IpListenEndpoint { addr: None, port: self.tcp_ephemeral_port().ok_or(Error::AddressNotBindable)? },
        };
        let handle = self.new_tcp_socket(iface, &options)?;
        let (interface, sockets) = self.iface_and_sockets(iface);
        let context = interface.context();
        let socket = sockets.get_mut::<tcp::Socket>(handle);
        if let Err(error) = socket.connect(context, (IpAddress::from(remote.ip()), remote.port()), local) {
            self.remove_socket(handle);
            return Err(match error {
                tcp::ConnectError::InvalidState => Error::InvalidState,
                tcp::ConnectError::Unaddressable => Error::Unreachable,
            });
        }
        let conn = Conn::new(handle, self.sockets.get::<tcp::Socket>(handle), true);
        self.tcp_entry_mut(id)?.kind = Kind::Connection(conn);
        Ok(())
    }

    /// How a connection attempt ended: `None` while in progress.
    pub fn tcp_connect_result(&mut self, id: SocketId) -> Option<Result<(), Error>> {
        self.tcp_refresh(id);
        match self.tcp.entries.get(&id) {
            None => Some(Err(Error::UnknownSocket)),
            Some(entry) => match &entry.kind {
                Kind::Connection(conn) if conn.connecting => None,
                Kind::Connection(conn) => Some(conn.failure.map_or(Ok(()), Err)),
                Kind::Done { failure, .. } => Some(failure.map_or(Ok(()), Err)),
                _ => Some(Err(Error::InvalidState)),
            },
        }
    }

    /// Brings one connection's observation up to date (between polls).
    fn tcp_refresh(&mut self, id: SocketId) {
        let Some(Entry { kind: Kind::Connection(conn), options, .. }) = self.tcp.entries.get_mut(&id) else {
            return;
        };
        let socket = self.sockets.get_mut::<tcp::Socket>(conn.handle);
        conn.observe(socket, options, &self.options, false);
    }

    /// Takes up to `max` received bytes: `Some` bytes (empty if none have arrived), `None` at
    /// the end of the stream (the peer finished, or the connection closed cleanly), or how
    /// the connection failed.
    pub fn tcp_recv(&mut self, id: SocketId, max: usize) -> Result<Option<Vec<u8>>, Error> {
        self.tcp_refresh(id);
        let entry = self.tcp_entry(id)?;
        let handle = match &entry.kind {
            Kind::Connection(conn) if conn.connecting => return Ok(Some(Vec::new())),
            Kind::Connection(conn) => conn.handle,
            Kind::Done { failure: None, .. } => return Ok(None),
            Kind::Done { failure: Some(error), .. } => return Err(*error),
            _ => return Err(Error::InvalidState),
        };
        let failure = match &entry.kind {
            Kind::Connection(conn) => conn.failure,
            _ => None,
        };
        let socket = self.tcp_socket(handle);
        if socket.can_recv() {
            let mut data = vec![0; max.min(socket.recv_queue())];
            let n = socket.recv_slice(&mut data).unwrap_or(0);
            data.truncate(n);
            return Ok(Some(data));
        }
        if socket.may_recv() {
            return Ok(Some(Vec::new()));
        }
        match failure {
            Some(error) => Err(error),
            None => Ok(None),
        }
    }

    /// Whether [`tcp_recv`](Stack::tcp_recv) would return bytes, the end, or an error.
    pub fn tcp_recv_ready(&mut self, id: SocketId) -> bool {
        self.tcp_refresh(id);
        match self.tcp.entries.get(&id).map(|e| &e.kind) {
            Some(Kind::Connection(conn)) if conn.connecting => false,
            Some(Kind::Connection(conn)) => {
                let socket = self.sockets.get::<tcp::Socket>(conn.handle);
                socket.can_recv() || !socket.may_recv()
            }
            _ => true,
        }
    }

    /// Queues bytes to send; returns how many fit (0 when the send buffer is full).
    /// [`Error::InvalidState`] once sending was shut down or the connection closed cleanly.
    pub fn tcp_send(&mut self, id: SocketId, data: &[u8]) -> Result<usize, Error> {
        let handle = self.tcp_sendable(id)?;
        let socket = self.tcp_socket(handle);
        socket.send_slice(data).map_err(|_| Error::InvalidState)
    }

    /// How many bytes [`tcp_send`](Stack::tcp_send) would take now.
    pub fn tcp_send_capacity(&mut self, id: SocketId) -> Result<usize, Error> {
        let handle = self.tcp_sendable(id)?;
        let socket = self.sockets.get::<tcp::Socket>(handle);
        Ok(socket.send_capacity() - socket.send_queue())
    }

    /// The socket of a connection that may send, or why it may not.
    fn tcp_sendable(&mut self, id: SocketId) -> Result<Handle, Error> {
        self.tcp_refresh(id);
        match &self.tcp_entry(id)?.kind {
            Kind::Connection(conn) => {
                let socket = self.sockets.get::<tcp::Socket>(conn.handle);
                if conn.connecting || socket.may_send() {
                    Ok(conn.handle)
                } else {
                    Err(conn.failure.unwrap_or(Error::InvalidState))
                }
            }
            Kind::Done { failure: Some(error), .. } => Err(*error),
            _ => Err(Error::InvalidState),
        }
    }

    /// Shuts down sending (a FIN follows what is queued) and/or receiving (nothing more is
    /// delivered; what arrives is still acknowledged).
    pub fn tcp_shutdown(&mut self, id: SocketId, send: bool, receive: bool) -> Result<(), Error> {
        let Kind::Connection(conn) = &self.tcp_entry(id)?.kind else {
            return Err(Error::InvalidState);
        };
        let handle = conn.handle;
        let socket = self.tcp_socket(handle);
        if receive {
            let mut sink = [0; 512];
            while socket.recv_slice(&mut sink).unwrap_or(0) > 0 {}
        }
        if send {
            socket.close();
        }
        Ok(())
    }

    /// Closes a socket: a listener resets the connections it had not handed out; a connection
    /// is closed gracefully (reset if received data was never read) and freed once that is
    /// over or [`linger`](crate::StackOptions::linger) has passed.
    pub fn tcp_close(&mut self, id: SocketId) {
        let Some(entry) = self.tcp.entries.remove(&id) else {
            return;
        };
        match entry.kind {
            Kind::Idle | Kind::Done { .. } => {}
            Kind::Listening(listener) => {
                for handle in listener.listening.into_iter().flatten() {
                    self.remove_socket(handle);
                }
                for handle in listener.pending {
                    self.tcp_socket(handle).abort();
                    self.orphan(handle, Duration::ZERO);
                }
            }
            Kind::Connection(conn) => {
                let socket = self.tcp_socket(conn.handle);
                if socket.recv_queue() > 0 || is_handshaking(socket.state()) {
                    socket.abort();
                    self.orphan(conn.handle, Duration::ZERO);
                } else {
                    socket.close();
                    let linger = self.options.linger;
                    self.orphan(conn.handle, linger);
                }
            }
        }
    }

    fn orphan(&mut self, handle: Handle, linger: Duration) {
        let deadline = self.now + linger;
        self.tcp.orphans.push(Orphan { handle, deadline, aborted: false });
    }

    /// The local address of a bound, listening or connected socket.
    pub fn tcp_local_address(&mut self, id: SocketId) -> Result<SocketAddr, Error> {
        self.tcp_refresh(id);
        let entry = self.tcp_entry(id)?;
        match &entry.kind {
            Kind::Connection(Conn { local: Some(local), .. }) | Kind::Done { local: Some(local), .. } => Ok(*local),
            _ => entry.bound.ok_or(Error::InvalidState),
        }
    }

    /// The peer's address of a connection.
    pub fn tcp_remote_address(&mut self, id: SocketId) -> Result<SocketAddr, Error> {
        self.tcp_refresh(id);
        match &self.tcp_entry(id)?.kind {
            Kind::Connection(Conn { remote: Some(remote), .. }) | Kind::Done { remote: Some(remote), .. } => {
                Ok(*remote)
            }
            _ => Err(Error::InvalidState),
        }
    }

    /// A socket's options.
    pub fn tcp_options(&self, id: SocketId) -> Result<TcpOptions, Error> {
        Ok(self.tcp_entry(id)?.options)
    }

    /// Sets a socket's options; returns them as in effect (buffer sizes clamped to
    /// [`min_buffer`](crate::StackOptions::min_buffer)..=[`max_buffer`](crate::StackOptions::max_buffer),
    /// a hop limit of 0 taken as 64). Keep-alive and hop limit apply at once, buffer sizes to
    /// connections made (or accepted) afterwards.
    pub fn tcp_set_options(&mut self, id: SocketId, mut options: TcpOptions) -> Result<TcpOptions, Error> {
        let (min, max) = (self.options.min_buffer, self.options.max_buffer);
        options.receive_buffer_size = options.receive_buffer_size.clamp(min, max);
        options.send_buffer_size = options.send_buffer_size.clamp(min, max);
        if options.hop_limit == 0 {
            options.hop_limit = DEFAULT_HOP_LIMIT;
        }
        // Linux's limits, which also keep the timeout they add up to representable.
        options.keep_alive_idle_time = options.keep_alive_idle_time.clamp(KEEP_ALIVE_MIN, KEEP_ALIVE_MAX);
        options.keep_alive_interval = options.keep_alive_interval.clamp(KEEP_ALIVE_MIN, KEEP_ALIVE_MAX);
        options.keep_alive_count = options.keep_alive_count.clamp(1, 127);
        let entry = self.tcp_entry_mut(id)?;
        entry.options = options;
        let handles: Vec<Handle> = match &entry.kind {
            Kind::Connection(conn) => vec![conn.handle],
            Kind::Listening(listener) => {
                listener.listening.iter().flatten().chain(&listener.pending).copied().collect()
            }
            _ => Vec::new(),
        };
        for handle in handles {
            apply_options(self.tcp_socket(handle), &options);
        }
        Ok(options)
    }

    /// Before sending: notes how connections ended, arms timeouts, tidies listeners.
    pub(crate) fn tcp_maintain(&mut self) {
        let stack_options = self.options.clone();
        let mut strays = Vec::new();
        for entry in self.tcp.entries.values_mut() {
            match &mut entry.kind {
                Kind::Connection(conn) => {
                    let socket = self.sockets.get_mut::<tcp::Socket>(conn.handle);
                    conn.observe(socket, &entry.options, &stack_options, false);
                }
                Kind::Listening(listener) => {
                    // Connections reset before being accepted go; a socket a reset put back
                    // into the listening state listens again (or goes, if another does).
                    let mut kept = VecDeque::with_capacity(listener.pending.len());
                    for handle in listener.pending.drain(..) {
                        let socket = self.sockets.get_mut::<tcp::Socket>(handle);
                        let slot = &mut listener.listening[handle.iface.index()];
                        match socket.state() {
                            State::Closed => strays.push(handle),
                            State::Listen if slot.is_none() => *slot = Some(handle),
                            State::Listen => strays.push(handle),
                            State::SynReceived => {
                                socket.set_timeout(Some(stack_options.connect_timeout));
                                kept.push_back(handle);
                            }
                            _ => {
                                socket.set_timeout(None);
                                kept.push_back(handle);
                            }
                        }
                    }
                    listener.pending = kept;
                }
                _ => {}
            }
        }
        for handle in strays {
            self.orphan(handle, Duration::ZERO);
        }
        self.tcp_after_ingress();
    }

    /// Looks at `iface`'s connections (see `Conn::observe`): after its packets were sent out
    /// (`after_egress`) or taken in. The loopback interface's are looked at this way between
    /// its rounds; everything else by [`tcp_maintain`](Stack::tcp_maintain) and
    /// [`tcp_reclaim`](Stack::tcp_reclaim).
    pub(crate) fn tcp_observe(&mut self, iface: Iface, after_egress: bool) {
        for entry in self.tcp.entries.values_mut() {
            if let Kind::Connection(conn) = &mut entry.kind
                && conn.handle.iface == iface
            {
                let socket = self.sockets.get_mut::<tcp::Socket>(conn.handle);
                conn.observe(socket, &entry.options, &self.options, after_egress);
            }
        }
    }

    /// After sending: hands the sockets of connections that are over to the orphans (keeping
    /// how they ended), and frees orphans that are done.
    pub(crate) fn tcp_reclaim(&mut self) {
        let (now, stack_options) = (self.now, self.options.clone());
        let mut over = Vec::new();
        for entry in self.tcp.entries.values_mut() {
            if let Kind::Connection(conn) = &mut entry.kind {
                let socket = self.sockets.get_mut::<tcp::Socket>(conn.handle);
                conn.observe(socket, &entry.options, &stack_options, true);
                // A connection that failed loses what it had received (as on a reset under
                // Linux); one that closed cleanly stays until everything is read.
                if socket.state() == State::Closed && (conn.failure.is_some() || socket.recv_queue() == 0) {
                    over.push(conn.handle);
                    entry.kind = Kind::Done { failure: conn.failure, local: conn.local, remote: conn.remote };
                }
            }
        }
        for handle in over {
            self.orphan(handle, Duration::ZERO);
        }
        let mut freed = Vec::new();
        let mut orphans = core::mem::take(&mut self.tcp.orphans);
        orphans.retain_mut(|orphan| {
            let socket = self.sockets.get_mut::<tcp::Socket>(orphan.handle);
            // Closed and without a connection: any reset has gone out.
            let done = socket.state() == State::Closed && socket.local_endpoint().is_none();
            if done || (orphan.aborted && now >= orphan.deadline) {
                freed.push(orphan.handle);
                return false;
            }
            if now >= orphan.deadline {
                socket.abort();
                orphan.aborted = true;
                orphan.deadline = now + RESET_GRACE;
            }
            true
        });
        self.tcp.orphans = orphans;
        for handle in freed {
            self.remove_socket(handle);
        }
    }

    /// The earliest orphan deadline.
    pub(crate) fn tcp_deadline(&self) -> Option<Instant> {
        self.tcp.orphans.iter().map(|o| o.deadline).min()
    }

    /// How many connections the stack is still closing for sockets the application dropped
    /// (not counting those in TIME-WAIT, which have nothing left to deliver).
    pub fn tcp_lingering(&self) -> usize {
        self.tcp
            .orphans
            .iter()
            .filter(|orphan| self.sockets.get::<tcp::Socket>(orphan.handle).state() != State::TimeWait)
            .count()
    }
}
