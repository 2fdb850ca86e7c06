//! `wasi:sockets/tcp` and `wasi:sockets/tcp-create-socket`.
//!
//! A [`TcpSocket`] keeps wasmtime-wasi's state machine (default, listening, connecting,
//! connected, closed) and its checks; the transport is the network's. Option values are clamped
//! as wasmtime-wasi clamps them on Linux (keep-alive times to 1 s..=32767 s in whole seconds,
//! counts to 1..=127, a backlog to at least 1); buffer sizes are the network's to clamp.

use alloc::boxed::Box; // async_trait's expansion names `Box`
use alloc::sync::Arc;
use core::net::SocketAddr;
use core::sync::atomic::{AtomicBool, Ordering};
use wasmtime::component::Resource;
use wasmtime_wasi_io::bytes::Bytes;
use wasmtime_wasi_io::poll::{DynPollable, Pollable, subscribe};
use wasmtime_wasi_io::streams::{
    DynInputStream, DynOutputStream, InputStream, OutputStream, StreamError, StreamResult,
};

use super::network::Network;
use super::{MAX_TRANSFER, NetCtx, is_valid_address_family, is_valid_remote_address, is_valid_unicast_address};
use crate::bindings::wasi::sockets::network::{ErrorCode, IpAddressFamily, IpSocketAddress};
use crate::bindings::wasi::sockets::tcp::{self, Duration, HostTcpSocket, ShutdownType};
use crate::bindings::wasi::sockets::tcp_create_socket;
use crate::ctx::WasiHostCtxView;
use crate::error::{SocketError, StreamFailure};
use crate::network::{SocketId, TcpOptions, TransferError};

type SocketResult<T> = Result<T, SocketError>;

/// wasmtime-wasi's (and Rust std's) default listen backlog.
const DEFAULT_BACKLOG: u32 = 128;
const NANOS_PER_SEC: u64 = 1_000_000_000;

/// A TCP socket: wasmtime-wasi's bookkeeping over a socket of the network.
pub struct TcpSocket {
    net: NetCtx,
    id: SocketId,
    family: IpAddressFamily,
    state: State,
    is_bound: bool,
    in_progress: Option<Operation>,
    backlog: u32,
    options: TcpOptions,
    /// Shared with the streams, once connected.
    shutdown: Option<Arc<Shutdown>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Default,
    Listening,
    Connecting,
    Connected,
    Closed(ErrorCode),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operation {
    Bind,
    Connect,
    Listen,
}

/// Which directions `shutdown` closed, as the streams see it.
#[derive(Default)]
struct Shutdown {
    receive: AtomicBool,
    send: AtomicBool,
}

impl TcpSocket {
    fn new(net: NetCtx, id: SocketId, family: IpAddressFamily, state: State) -> SocketResult<Self> {
        let options = match net.network.tcp_options(id) {
            Ok(options) => options,
            Err(code) => {
                net.network.tcp_close(id);
                return Err(code.into());
            }
        };
        Ok(TcpSocket {
            is_bound: state == State::Connected,
            net,
            id,
            family,
            state,
            in_progress: None,
            backlog: DEFAULT_BACKLOG,
            options,
            shutdown: None,
        })
    }

    /// The socket's own error once closed, `invalid-state` while connecting: the states in
    /// which wasmtime-wasi has no file descriptor to get or set options on.
    fn check_options_state(&self) -> Result<(), ErrorCode> {
        match self.state {
            State::Connecting => Err(ErrorCode::InvalidState),
            State::Closed(code) => Err(code),
            _ => Ok(()),
        }
    }

    fn set_options(&mut self, change: impl FnOnce(&mut TcpOptions)) -> SocketResult<()> {
        self.check_options_state()?;
        let mut options = self.options;
        change(&mut options);
        self.options = self.net.network.tcp_set_options(self.id, options)?;
        Ok(())
    }

    /// Moves a finished connection attempt on to connected or closed.
    fn poll_connect(&mut self) -> Option<Result<(), ErrorCode>> {
        match self.state {
            State::Connecting => {}
            State::Connected => return Some(Ok(())),
            State::Closed(code) => return Some(Err(code)),
            _ => return Some(Err(ErrorCode::InvalidState)),
        }
        let result = self.net.network.tcp_connect_result(self.id)?;
        self.state = match result {
            Ok(()) => {
                self.is_bound = true;
                State::Connected
            }
            Err(code) => State::Closed(code),
        };
        Some(result)
    }

    /// The stream pair of a connected socket, children of `this` in the table.
    fn streams(&mut self) -> (DynInputStream, DynOutputStream) {
        let shutdown = Arc::new(Shutdown::default());
        self.shutdown = Some(Arc::clone(&shutdown));
        let reader = TcpReader { net: self.net.clone(), id: self.id, shutdown: Arc::clone(&shutdown), closed: false };
        let writer = TcpWriter { net: self.net.clone(), id: self.id, shutdown, permit: 0 };
        (Box::new(reader), Box::new(writer))
    }
}

impl Drop for TcpSocket {
    fn drop(&mut self) {
        self.net.network.tcp_close(self.id);
    }
}

impl tcp_create_socket::Host for WasiHostCtxView<'_> {
    fn create_tcp_socket(&mut self, family: IpAddressFamily) -> SocketResult<Resource<TcpSocket>> {
        let net = NetCtx::of(self.ctx)?;
        let id = net.network.tcp_open(family)?;
        let socket = TcpSocket::new(net, id, family, State::Default)?;
        Ok(self.table.push(socket)?)
    }
}

impl tcp::Host for WasiHostCtxView<'_> {}

impl HostTcpSocket for WasiHostCtxView<'_> {
    fn start_bind(
        &mut self,
        this: Resource<TcpSocket>,
        network: Resource<Network>,
        local_address: IpSocketAddress,
    ) -> SocketResult<()> {
        self.table.get(&network)?;
        let local = SocketAddr::from(local_address);
        let socket = self.table.get_mut(&this)?;
        if socket.in_progress.is_some() {
            return Err(ErrorCode::ConcurrencyConflict.into());
        }
        if socket.is_bound || socket.state != State::Default {
            return Err(ErrorCode::InvalidState.into());
        }
        if !is_valid_unicast_address(local.ip()) || !is_valid_address_family(local.ip(), socket.family) {
            return Err(ErrorCode::InvalidArgument.into());
        }
        socket.net.network.tcp_bind(socket.id, local)?;
        socket.is_bound = true;
        socket.in_progress = Some(Operation::Bind);
        Ok(())
    }

    fn finish_bind(&mut self, this: Resource<TcpSocket>) -> SocketResult<()> {
        let socket = self.table.get_mut(&this)?;
        if socket.in_progress != Some(Operation::Bind) {
            return Err(ErrorCode::NotInProgress.into());
        }
        socket.in_progress = None;
        Ok(())
    }

    fn start_connect(
        &mut self,
        this: Resource<TcpSocket>,
        network: Resource<Network>,
        remote_address: IpSocketAddress,
    ) -> SocketResult<()> {
        self.table.get(&network)?;
        let remote = SocketAddr::from(remote_address);
        let socket = self.table.get_mut(&this)?;
        if socket.in_progress.is_some() {
            return Err(ErrorCode::ConcurrencyConflict.into());
        }
        if socket.state != State::Default {
            return Err(ErrorCode::InvalidState.into());
        }
        if !is_valid_unicast_address(remote.ip())
            || !is_valid_remote_address(remote)
            || !is_valid_address_family(remote.ip(), socket.family)
        {
            return Err(ErrorCode::InvalidArgument.into());
        }
        // As in wasmtime-wasi, failures of the connection itself are reported by
        // `finish-connect`, even those known at once.
        socket.state = match socket.net.network.tcp_connect(socket.id, remote) {
            Ok(()) => State::Connecting,
            Err(code) => State::Closed(code),
        };
        socket.in_progress = Some(Operation::Connect);
        Ok(())
    }

    fn finish_connect(
        &mut self,
        this: Resource<TcpSocket>,
    ) -> SocketResult<(Resource<DynInputStream>, Resource<DynOutputStream>)> {
        let socket = self.table.get_mut(&this)?;
        if socket.in_progress != Some(Operation::Connect) {
            return Err(ErrorCode::NotInProgress.into());
        }
        let Some(result) = socket.poll_connect() else {
            return Err(ErrorCode::WouldBlock.into());
        };
        socket.in_progress = None;
        result?;
        let (input, output) = socket.streams();
        let input = self.table.push_child(input, &this)?;
        let output = self.table.push_child(output, &this)?;
        Ok((input, output))
    }

    fn start_listen(&mut self, this: Resource<TcpSocket>) -> SocketResult<()> {
        let socket = self.table.get_mut(&this)?;
        if socket.in_progress.is_some() {
            return Err(ErrorCode::ConcurrencyConflict.into());
        }
        // In WASI 0.2, sockets had to be bound before listening.
        if !socket.is_bound || socket.state != State::Default {
            return Err(ErrorCode::InvalidState.into());
        }
        socket.net.network.tcp_listen(socket.id, socket.backlog)?;
        socket.state = State::Listening;
        socket.in_progress = Some(Operation::Listen);
        Ok(())
    }

    fn finish_listen(&mut self, this: Resource<TcpSocket>) -> SocketResult<()> {
        let socket = self.table.get_mut(&this)?;
        if socket.in_progress != Some(Operation::Listen) {
            return Err(ErrorCode::NotInProgress.into());
        }
        socket.in_progress = None;
        Ok(())
    }

    fn accept(
        &mut self,
        this: Resource<TcpSocket>,
    ) -> SocketResult<(Resource<TcpSocket>, Resource<DynInputStream>, Resource<DynOutputStream>)> {
        let socket = self.table.get_mut(&this)?;
        if socket.state != State::Listening {
            return Err(ErrorCode::InvalidState.into());
        }
        let Some(id) = socket.net.network.tcp_accept(socket.id)? else {
            return Err(ErrorCode::WouldBlock.into());
        };
        let mut accepted = TcpSocket::new(socket.net.clone(), id, socket.family, State::Connected)?;
        let (input, output) = accepted.streams();
        let accepted = self.table.push(accepted)?;
        let input = self.table.push_child(input, &accepted)?;
        let output = self.table.push_child(output, &accepted)?;
        Ok((accepted, input, output))
    }

    fn local_address(&mut self, this: Resource<TcpSocket>) -> SocketResult<IpSocketAddress> {
        let socket = self.table.get(&this)?;
        if !socket.is_bound {
            return Err(ErrorCode::InvalidState.into());
        }
        match socket.state {
            State::Connecting => Err(ErrorCode::InvalidState.into()),
            State::Closed(code) => Err(code.into()),
            _ => Ok(socket.net.network.tcp_local_address(socket.id)?.into()),
        }
    }

    fn remote_address(&mut self, this: Resource<TcpSocket>) -> SocketResult<IpSocketAddress> {
        let socket = self.table.get(&this)?;
        match socket.state {
            State::Connected => Ok(socket.net.network.tcp_remote_address(socket.id)?.into()),
            State::Closed(code) => Err(code.into()),
            _ => Err(ErrorCode::InvalidState.into()),
        }
    }

    fn is_listening(&mut self, this: Resource<TcpSocket>) -> wasmtime::Result<bool> {
        Ok(self.table.get(&this)?.state == State::Listening)
    }

    fn address_family(&mut self, this: Resource<TcpSocket>) -> wasmtime::Result<IpAddressFamily> {
        Ok(self.table.get(&this)?.family)
    }

    fn set_listen_backlog_size(&mut self, this: Resource<TcpSocket>, value: u64) -> SocketResult<()> {
        const MAX_BACKLOG: u32 = i32::MAX as u32;
        let socket = self.table.get_mut(&this)?;
        if value == 0 {
            return Err(ErrorCode::InvalidArgument.into());
        }
        let value = u32::try_from(value).unwrap_or(MAX_BACKLOG).clamp(1, MAX_BACKLOG);
        match socket.state {
            State::Default => socket.backlog = value,
            State::Listening => {
                socket.net.network.tcp_set_backlog(socket.id, value)?;
                socket.backlog = value;
            }
            State::Closed(code) => return Err(code.into()),
            _ => return Err(ErrorCode::InvalidState.into()),
        }
        Ok(())
    }

    fn keep_alive_enabled(&mut self, this: Resource<TcpSocket>) -> SocketResult<bool> {
        let socket = self.table.get(&this)?;
        socket.check_options_state()?;
        Ok(socket.options.keep_alive_enabled)
    }

    fn set_keep_alive_enabled(&mut self, this: Resource<TcpSocket>, value: bool) -> SocketResult<()> {
        self.table.get_mut(&this)?.set_options(|o| o.keep_alive_enabled = value)
    }

    fn keep_alive_idle_time(&mut self, this: Resource<TcpSocket>) -> SocketResult<Duration> {
        let socket = self.table.get(&this)?;
        socket.check_options_state()?;
        Ok(socket.options.keep_alive_idle_time)
    }

    fn set_keep_alive_idle_time(&mut self, this: Resource<TcpSocket>, value: Duration) -> SocketResult<()> {
        let value = keep_alive_time(value)?;
        self.table.get_mut(&this)?.set_options(|o| o.keep_alive_idle_time = value)
    }

    fn keep_alive_interval(&mut self, this: Resource<TcpSocket>) -> SocketResult<Duration> {
        let socket = self.table.get(&this)?;
        socket.check_options_state()?;
        Ok(socket.options.keep_alive_interval)
    }

    fn set_keep_alive_interval(&mut self, this: Resource<TcpSocket>, value: Duration) -> SocketResult<()> {
        let value = keep_alive_time(value)?;
        self.table.get_mut(&this)?.set_options(|o| o.keep_alive_interval = value)
    }

    fn keep_alive_count(&mut self, this: Resource<TcpSocket>) -> SocketResult<u32> {
        let socket = self.table.get(&this)?;
        socket.check_options_state()?;
        Ok(socket.options.keep_alive_count)
    }

    fn set_keep_alive_count(&mut self, this: Resource<TcpSocket>, value: u32) -> SocketResult<()> {
        if value == 0 {
            return Err(ErrorCode::InvalidArgument.into());
        }
        let value = value.clamp(1, i8::MAX as u32);
        self.table.get_mut(&this)?.set_options(|o| o.keep_alive_count = value)
    }

    fn hop_limit(&mut self, this: Resource<TcpSocket>) -> SocketResult<u8> {
        let socket = self.table.get(&this)?;
        socket.check_options_state()?;
        Ok(socket.options.hop_limit)
    }

    fn set_hop_limit(&mut self, this: Resource<TcpSocket>, value: u8) -> SocketResult<()> {
        let socket = self.table.get_mut(&this)?;
        socket.check_options_state()?;
        if value == 0 {
            return Err(ErrorCode::InvalidArgument.into());
        }
        socket.set_options(|o| o.hop_limit = value)
    }

    fn receive_buffer_size(&mut self, this: Resource<TcpSocket>) -> SocketResult<u64> {
        let socket = self.table.get(&this)?;
        socket.check_options_state()?;
        Ok(socket.options.receive_buffer_size)
    }

    fn set_receive_buffer_size(&mut self, this: Resource<TcpSocket>, value: u64) -> SocketResult<()> {
        let socket = self.table.get_mut(&this)?;
        socket.check_options_state()?;
        if value == 0 {
            return Err(ErrorCode::InvalidArgument.into());
        }
        socket.set_options(|o| o.receive_buffer_size = value)
    }

    fn send_buffer_size(&mut self, this: Resource<TcpSocket>) -> SocketResult<u64> {
        let socket = self.table.get(&this)?;
        socket.check_options_state()?;
        Ok(socket.options.send_buffer_size)
    }

    fn set_send_buffer_size(&mut self, this: Resource<TcpSocket>, value: u64) -> SocketResult<()> {
        let socket = self.table.get_mut(&this)?;
        socket.check_options_state()?;
        if value == 0 {
            return Err(ErrorCode::InvalidArgument.into());
        }
        socket.set_options(|o| o.send_buffer_size = value)
    }

    fn subscribe(&mut self, this: Resource<TcpSocket>) -> wasmtime::Result<Resource<DynPollable>> {
        subscribe(self.table, this)
    }

    fn shutdown(&mut self, this: Resource<TcpSocket>, how: ShutdownType) -> SocketResult<()> {
        let socket = self.table.get_mut(&this)?;
        let Some(shutdown) = &socket.shutdown else {
            return Err(ErrorCode::InvalidState.into());
        };
        if matches!(how, ShutdownType::Receive | ShutdownType::Both) {
            shutdown.receive.store(true, Ordering::Relaxed);
        }
        if matches!(how, ShutdownType::Send | ShutdownType::Both) {
            shutdown.send.store(true, Ordering::Relaxed);
        }
        socket.net.network.tcp_shutdown(socket.id, how);
        Ok(())
    }

    fn drop(&mut self, this: Resource<TcpSocket>) -> wasmtime::Result<()> {
        // Closing never blocks: the network lingers over what is still to send.
        self.table.delete(this)?;
        Ok(())
    }
}

/// A keep-alive time as wasmtime-wasi sets it on Linux: 0 is `invalid-argument`, others are
/// clamped to 1 s..=32767 s and kept in whole seconds.
fn keep_alive_time(value: u64) -> Result<u64, ErrorCode> {
    if value == 0 {
        return Err(ErrorCode::InvalidArgument);
    }
    let value = value.clamp(NANOS_PER_SEC, i16::MAX as u64 * NANOS_PER_SEC);
    Ok(value / NANOS_PER_SEC * NANOS_PER_SEC)
}

#[wasmtime_wasi_io::async_trait]
impl Pollable for TcpSocket {
    /// Ready when `finish-connect` or `accept` would not return `would-block`; at once in
    /// other states (a listen in progress included: `finish-listen` never waits).
    async fn ready(&mut self) {
        match self.state {
            State::Connecting if self.in_progress == Some(Operation::Connect) => {
                let net = self.net.clone();
                let id = self.id;
                net.until(|network| network.tcp_connect_result(id).is_some()).await;
                self.poll_connect();
            }
            // `finish-listen` has not been called: it would not block (wasmtime-wasi is ready).
            State::Listening if self.in_progress == Some(Operation::Listen) => {}
            State::Listening => {
                let net = self.net.clone();
                let id = self.id;
                net.until(|network| network.tcp_accept_ready(id)).await;
            }
            _ => {}
        }
    }
}

fn failure(code: ErrorCode) -> StreamError {
    StreamError::LastOperationFailed(wasmtime::Error::new(StreamFailure(code)))
}

/// The input stream of a connection.
struct TcpReader {
    net: NetCtx,
    id: SocketId,
    shutdown: Arc<Shutdown>,
    /// The end or an error has been reported: the stream stays closed.
    closed: bool,
}

#[wasmtime_wasi_io::async_trait]
impl InputStream for TcpReader {
    fn read(&mut self, size: usize) -> StreamResult<Bytes> {
        if self.closed || self.shutdown.receive.load(Ordering::Relaxed) {
            return Err(StreamError::Closed);
        }
        if size == 0 {
            return Ok(Bytes::new());
        }
        match self.net.network.tcp_recv(self.id, size.min(MAX_TRANSFER)) {
            Ok(bytes) => Ok(Bytes::from(bytes)),
            Err(TransferError::Closed) => {
                self.closed = true;
                Err(StreamError::Closed)
            }
            Err(TransferError::Failed(code)) => {
                self.closed = true;
                Err(failure(code))
            }
        }
    }
}

#[wasmtime_wasi_io::async_trait]
impl Pollable for TcpReader {
    async fn ready(&mut self) {
        if self.closed || self.shutdown.receive.load(Ordering::Relaxed) {
            return;
        }
        let id = self.id;
        self.net.until(|network| network.tcp_recv_ready(id)).await
    }
}

/// The output stream of a connection. Dropping it shuts down sending, as in wasmtime-wasi.
struct TcpWriter {
    net: NetCtx,
    id: SocketId,
    shutdown: Arc<Shutdown>,
    /// What the last `check-write` allowed and no `write` has used yet.
    permit: usize,
}

impl TcpWriter {
    fn capacity(&self) -> StreamResult<usize> {
        if self.shutdown.send.load(Ordering::Relaxed) {
            return Err(StreamError::Closed);
        }
        match self.net.network.tcp_send_capacity(self.id) {
            Ok(n) => Ok(n.min(MAX_TRANSFER)),
            Err(TransferError::Closed) => Err(StreamError::Closed),
            Err(TransferError::Failed(code)) => Err(failure(code)),
        }
    }
}

#[wasmtime_wasi_io::async_trait]
impl OutputStream for TcpWriter {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        if self.shutdown.send.load(Ordering::Relaxed) {
            return Err(StreamError::Closed);
        }
        if bytes.len() > self.permit {
            return Err(StreamError::Trap(wasmtime::format_err!("not permitted to write {} bytes", bytes.len())));
        }
        if bytes.is_empty() {
            return Ok(());
        }
        // The permit never exceeds the room the network reported, and only this stream adds to
        // the connection's send buffer, so everything fits.
        match self.net.network.tcp_send(self.id, &bytes) {
            Ok(n) if n == bytes.len() => {
                self.permit -= n;
                Ok(())
            }
            Ok(_) => Err(StreamError::Trap(wasmtime::format_err!("the network took less than it had room for"))),
            Err(TransferError::Closed) => Err(StreamError::Closed),
            Err(TransferError::Failed(code)) => Err(failure(code)),
        }
    }

    fn flush(&mut self) -> StreamResult<()> {
        // Written bytes are in the network's send buffer already, which sends them as soon as
        // it can (as the OS does under wasmtime-wasi).
        if self.shutdown.send.load(Ordering::Relaxed) {
            return Err(StreamError::Closed);
        }
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        self.permit = self.capacity()?;
        Ok(self.permit)
    }
}

#[wasmtime_wasi_io::async_trait]
impl Pollable for TcpWriter {
    async fn ready(&mut self) {
        if self.shutdown.send.load(Ordering::Relaxed) {
            return;
        }
        let id = self.id;
        self.net.until(|network| !matches!(network.tcp_send_capacity(id), Ok(0))).await
    }
}

impl Drop for TcpWriter {
    fn drop(&mut self) {
        self.net.network.tcp_shutdown(self.id, ShutdownType::Send);
    }
}
