//! `morgana_wasi::network::Network` for [`SharedStack`]: how `wasi:sockets` reaches the stack.
//! Errors become the `wasi:sockets` codes wasmtime-wasi returns for the matching OS errors.

// Builds without `tcp` or `udp` leave some conversions unused.
#![cfg_attr(not(all(feature = "tcp", feature = "udp")), allow(unused_imports, dead_code))]

use alloc::vec::Vec;
use core::net::{IpAddr, SocketAddr};
use morgana_wasi::network::{
    ErrorCode, IpAddressFamily, NetResult, Network, ShutdownType, SocketId as WasiId, TcpOptions as WasiTcpOptions,
    TransferError, UdpOptions as WasiUdpOptions,
};
use smoltcp::phy::Device;
use smoltcp::time::Duration;

use crate::config::{Family, TcpOptions, UdpOptions};
use crate::error::Error;
use crate::shared::{SharedStack, instant, nanos};
use crate::stack::SocketId;

impl From<Error> for ErrorCode {
    fn from(error: Error) -> Self {
        match error {
            Error::UnknownSocket | Error::InvalidState => ErrorCode::InvalidState,
            Error::InvalidArgument => ErrorCode::InvalidArgument,
            Error::SocketLimit => ErrorCode::NewSocketLimit,
            Error::AddressInUse => ErrorCode::AddressInUse,
            Error::AddressNotBindable => ErrorCode::AddressNotBindable,
            Error::Unreachable => ErrorCode::RemoteUnreachable,
            Error::ConnectionRefused => ErrorCode::ConnectionRefused,
            Error::ConnectionReset => ErrorCode::ConnectionReset,
            Error::TimedOut => ErrorCode::Timeout,
            Error::DatagramTooLarge => ErrorCode::DatagramTooLarge,
            Error::NameUnresolvable => ErrorCode::NameUnresolvable,
            Error::NoDnsServer | Error::LookupLimit => ErrorCode::TemporaryResolverFailure,
            Error::NotSupported => ErrorCode::NotSupported,
            Error::InvalidMac | Error::NotEthernet | Error::InvalidConfig => ErrorCode::Unknown,
        }
    }
}

fn family(family: IpAddressFamily) -> Family {
    match family {
        IpAddressFamily::Ipv4 => Family::Ipv4,
        IpAddressFamily::Ipv6 => Family::Ipv6,
    }
}

fn id(id: WasiId) -> SocketId {
    SocketId(id.0)
}

fn wasi_id(id: SocketId) -> WasiId {
    WasiId(id.0)
}

fn code<T>(result: Result<T, Error>) -> NetResult<T> {
    result.map_err(ErrorCode::from)
}

/// A failure of a connection, or (`invalid-state`) its clean end or a shut-down direction.
#[cfg(feature = "tcp")]
fn transfer(error: Error) -> TransferError {
    match error {
        Error::InvalidState | Error::UnknownSocket => TransferError::Closed,
        error => TransferError::Failed(error.into()),
    }
}

fn nanos_of(duration: Duration) -> u64 {
    duration.total_micros().saturating_mul(1000)
}

fn duration(nanos: u64) -> Duration {
    Duration::from_micros(nanos / 1000)
}

#[cfg(feature = "tcp")]
fn to_wasi_tcp(o: TcpOptions) -> WasiTcpOptions {
    WasiTcpOptions {
        keep_alive_enabled: o.keep_alive_enabled,
        keep_alive_idle_time: nanos_of(o.keep_alive_idle_time),
        keep_alive_interval: nanos_of(o.keep_alive_interval),
        keep_alive_count: o.keep_alive_count,
        hop_limit: o.hop_limit,
        receive_buffer_size: o.receive_buffer_size as u64,
        send_buffer_size: o.send_buffer_size as u64,
    }
}

#[cfg(feature = "tcp")]
fn from_wasi_tcp(o: WasiTcpOptions) -> TcpOptions {
    TcpOptions {
        keep_alive_enabled: o.keep_alive_enabled,
        keep_alive_idle_time: duration(o.keep_alive_idle_time),
        keep_alive_interval: duration(o.keep_alive_interval),
        keep_alive_count: o.keep_alive_count,
        hop_limit: o.hop_limit,
        receive_buffer_size: usize::try_from(o.receive_buffer_size).unwrap_or(usize::MAX),
        send_buffer_size: usize::try_from(o.send_buffer_size).unwrap_or(usize::MAX),
    }
}

#[cfg(feature = "udp")]
fn to_wasi_udp(o: UdpOptions) -> WasiUdpOptions {
    WasiUdpOptions {
        unicast_hop_limit: o.hop_limit,
        receive_buffer_size: o.receive_buffer_size as u64,
        send_buffer_size: o.send_buffer_size as u64,
    }
}

#[cfg(feature = "udp")]
fn from_wasi_udp(o: WasiUdpOptions) -> UdpOptions {
    UdpOptions {
        hop_limit: o.unicast_hop_limit,
        receive_buffer_size: usize::try_from(o.receive_buffer_size).unwrap_or(usize::MAX),
        send_buffer_size: usize::try_from(o.send_buffer_size).unwrap_or(usize::MAX),
    }
}

impl<D: Device + Send + 'static> Network for SharedStack<D> {
    fn poll(&self, now: u64) -> Option<u64> {
        self.with(|stack| stack.poll(instant(now))).map(nanos)
    }

    #[cfg(feature = "tcp")]
    fn tcp_open(&self, f: IpAddressFamily) -> NetResult<WasiId> {
        code(self.with(|s| s.tcp_open(family(f))).map(wasi_id))
    }

    #[cfg(feature = "tcp")]
    fn tcp_bind(&self, socket: WasiId, local: SocketAddr) -> NetResult<()> {
        code(self.with(|s| s.tcp_bind(id(socket), local)))
    }

    #[cfg(feature = "tcp")]
    fn tcp_listen(&self, socket: WasiId, backlog: u32) -> NetResult<()> {
        code(self.with(|s| s.tcp_listen(id(socket), backlog)))
    }

    #[cfg(feature = "tcp")]
    fn tcp_set_backlog(&self, socket: WasiId, backlog: u32) -> NetResult<()> {
        code(self.with(|s| s.tcp_set_backlog(id(socket), backlog)))
    }

    #[cfg(feature = "tcp")]
    fn tcp_accept(&self, socket: WasiId) -> NetResult<Option<WasiId>> {
        code(self.with(|s| s.tcp_accept(id(socket))).map(|a| a.map(wasi_id)))
    }

    #[cfg(feature = "tcp")]
    fn tcp_accept_ready(&self, socket: WasiId) -> bool {
        self.with(|s| s.tcp_accept_ready(id(socket)))
    }

    #[cfg(feature = "tcp")]
    fn tcp_connect(&self, socket: WasiId, remote: SocketAddr) -> NetResult<()> {
        code(self.with(|s| s.tcp_connect(id(socket), remote)))
    }

    #[cfg(feature = "tcp")]
    fn tcp_connect_result(&self, socket: WasiId) -> Option<NetResult<()>> {
        self.with(|s| s.tcp_connect_result(id(socket))).map(code)
    }

    #[cfg(feature = "tcp")]
    fn tcp_recv(&self, socket: WasiId, max: usize) -> Result<Vec<u8>, TransferError> {
        match self.with(|s| s.tcp_recv(id(socket), max)) {
            Ok(Some(data)) => Ok(data),
            Ok(None) => Err(TransferError::Closed),
            Err(error) => Err(TransferError::Failed(error.into())),
        }
    }

    #[cfg(feature = "tcp")]
    fn tcp_recv_ready(&self, socket: WasiId) -> bool {
        self.with(|s| s.tcp_recv_ready(id(socket)))
    }

    #[cfg(feature = "tcp")]
    fn tcp_send(&self, socket: WasiId, data: &[u8]) -> Result<usize, TransferError> {
        self.with(|s| s.tcp_send(id(socket), data)).map_err(transfer)
    }

    #[cfg(feature = "tcp")]
    fn tcp_send_capacity(&self, socket: WasiId) -> Result<usize, TransferError> {
        self.with(|s| s.tcp_send_capacity(id(socket))).map_err(transfer)
    }

    #[cfg(feature = "tcp")]
    fn tcp_shutdown(&self, socket: WasiId, how: ShutdownType) {
        let (send, receive) = match how {
            ShutdownType::Send => (true, false),
            ShutdownType::Receive => (false, true),
            ShutdownType::Both => (true, true),
        };
        let _ = self.with(|s| s.tcp_shutdown(id(socket), send, receive));
    }

    #[cfg(feature = "tcp")]
    fn tcp_close(&self, socket: WasiId) {
        self.with(|s| s.tcp_close(id(socket)))
    }

    #[cfg(feature = "tcp")]
    fn tcp_local_address(&self, socket: WasiId) -> NetResult<SocketAddr> {
        code(self.with(|s| s.tcp_local_address(id(socket))))
    }

    #[cfg(feature = "tcp")]
    fn tcp_remote_address(&self, socket: WasiId) -> NetResult<SocketAddr> {
        code(self.with(|s| s.tcp_remote_address(id(socket))))
    }

    #[cfg(feature = "tcp")]
    fn tcp_options(&self, socket: WasiId) -> NetResult<WasiTcpOptions> {
        code(self.with(|s| s.tcp_options(id(socket))).map(to_wasi_tcp))
    }

    #[cfg(feature = "tcp")]
    fn tcp_set_options(&self, socket: WasiId, options: WasiTcpOptions) -> NetResult<WasiTcpOptions> {
        code(self.with(|s| s.tcp_set_options(id(socket), from_wasi_tcp(options))).map(to_wasi_tcp))
    }

    #[cfg(feature = "udp")]
    fn udp_open(&self, f: IpAddressFamily) -> NetResult<WasiId> {
        code(self.with(|s| s.udp_open(family(f))).map(wasi_id))
    }

    #[cfg(feature = "udp")]
    fn udp_bind(&self, socket: WasiId, local: SocketAddr) -> NetResult<()> {
        code(self.with(|s| s.udp_bind(id(socket), local)))
    }

    #[cfg(feature = "udp")]
    fn udp_local_address(&self, socket: WasiId) -> NetResult<SocketAddr> {
        code(self.with(|s| s.udp_local_address(id(socket))))
    }

    #[cfg(feature = "udp")]
    fn udp_send(&self, socket: WasiId, data: &[u8], remote: SocketAddr) -> NetResult<bool> {
        code(self.with(|s| s.udp_send(id(socket), data, remote)))
    }

    #[cfg(feature = "udp")]
    fn udp_send_ready(&self, socket: WasiId) -> bool {
        self.with(|s| s.udp_send_ready(id(socket)))
    }

    #[cfg(feature = "udp")]
    fn udp_recv(&self, socket: WasiId) -> NetResult<Option<(Vec<u8>, SocketAddr)>> {
        code(self.with(|s| s.udp_recv(id(socket))))
    }

    #[cfg(feature = "udp")]
    fn udp_recv_ready(&self, socket: WasiId) -> bool {
        self.with(|s| s.udp_recv_ready(id(socket)))
    }

    #[cfg(feature = "udp")]
    fn udp_options(&self, socket: WasiId) -> NetResult<WasiUdpOptions> {
        code(self.with(|s| s.udp_options(id(socket))).map(to_wasi_udp))
    }

    #[cfg(feature = "udp")]
    fn udp_set_options(&self, socket: WasiId, options: WasiUdpOptions) -> NetResult<WasiUdpOptions> {
        code(self.with(|s| s.udp_set_options(id(socket), from_wasi_udp(options))).map(to_wasi_udp))
    }

    #[cfg(feature = "udp")]
    fn udp_close(&self, socket: WasiId) {
        self.with(|s| s.udp_close(id(socket)))
    }

    fn resolve(&self, name: &str) -> NetResult<WasiId> {
        code(self.with(|s| s.resolve(name)).map(wasi_id))
    }

    fn resolve_result(&self, lookup: WasiId) -> Option<NetResult<Vec<IpAddr>>> {
        self.with(|s| s.resolve_result(id(lookup))).map(code)
    }

    fn resolve_cancel(&self, lookup: WasiId) {
        self.with(|s| s.resolve_cancel(id(lookup)))
    }
}
