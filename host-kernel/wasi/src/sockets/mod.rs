//! `wasi:sockets`: `network`, `instance-network` and `ip-name-lookup` (feature `sockets`), `tcp`
//! and `tcp-create-socket` (`sockets-tcp`), `udp` and `udp-create-socket` (`sockets-udp`), over
//! the [`Network`](crate::network::Network) the embedder gave the
//! [`WasiCtx`](crate::WasiCtx).
//!
//! The state machine and the error codes are wasmtime-wasi 48's: `start-*`/`finish-*` pairs
//! (`concurrency-conflict` while another is in progress, `not-in-progress` without a start),
//! binding before listening (`invalid-state`), validation of addresses (`invalid-argument` for
//! the wrong family, IPv4-mapped IPv6, multicast, an unspecified remote or port 0), streams as
//! children of their socket, at most `check-send`'s count of datagrams per `send` (more traps),
//! and the same clamping of option values. Without a network, creating a socket is
//! `access-denied` and a lookup `permanent-resolver-failure`.
//!
//! Pollables and streams are ready when the network says their operation can make progress;
//! until then each poll of them polls the network and passes the deadline it returns to
//! [`Platform::wake_at`], so they mix with clock pollables in one
//! `wasi:io/poll.poll`.

#[cfg(feature = "sockets")]
use alloc::sync::Arc;
#[cfg(feature = "sockets")]
use core::future::poll_fn;
#[cfg(feature = "sockets")]
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
#[cfg(feature = "sockets")]
use core::task::Poll;
#[cfg(feature = "sockets")]
use wasmtime::component::Linker;

#[cfg(any(feature = "sockets-tcp", feature = "sockets-udp"))]
use crate::bindings::wasi::sockets::network::IpAddressFamily;
#[cfg(feature = "sockets")]
use crate::bindings::wasi::sockets::network::{
    ErrorCode, IpAddress, IpSocketAddress, Ipv4SocketAddress, Ipv6SocketAddress,
};
#[cfg(feature = "sockets")]
use crate::ctx::WasiHostView;
#[cfg(feature = "sockets")]
use crate::network::Network as NetworkStack;
#[cfg(feature = "sockets")]
use crate::platform::Platform;

#[cfg(feature = "sockets")]
mod ip_name_lookup;
#[cfg(feature = "sockets")]
mod network;
#[cfg(feature = "sockets-tcp")]
mod tcp;
#[cfg(feature = "sockets-udp")]
mod udp;

#[cfg(feature = "sockets")]
pub use ip_name_lookup::ResolveAddressStream;
#[cfg(feature = "sockets")]
pub use network::Network;
#[cfg(feature = "sockets-tcp")]
pub use tcp::TcpSocket;
#[cfg(feature = "sockets-udp")]
pub use udp::{IncomingDatagramStream, OutgoingDatagramStream, UdpSocket};

// Without their feature, the resource types are empty: no such resource can exist, and the
// host functions taking one (never linked) are unreachable.
#[cfg(not(feature = "sockets"))]
pub enum Network {}
#[cfg(not(feature = "sockets"))]
pub enum ResolveAddressStream {}
#[cfg(not(feature = "sockets-tcp"))]
pub enum TcpSocket {}
#[cfg(not(feature = "sockets-udp"))]
pub enum UdpSocket {}
#[cfg(not(feature = "sockets-udp"))]
pub enum IncomingDatagramStream {}
#[cfg(not(feature = "sockets-udp"))]
pub enum OutgoingDatagramStream {}

/// The most bytes one stream read returns or one `check-write` allows, and the most bytes of
/// datagrams one `receive` returns (wasmtime-wasi's figure).
#[cfg(feature = "sockets")]
pub const MAX_TRANSFER: usize = 64 * 1024;

/// Adds every `wasi:sockets` interface this build provides to `linker`: `network`,
/// `instance-network` and `ip-name-lookup`, and `tcp` with `tcp-create-socket` and `udp` with
/// `udp-create-socket` when their features are on.
#[cfg(feature = "sockets")]
pub fn add_to_linker<T: WasiHostView + 'static>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    use crate::bindings::wasi::sockets;
    use crate::ctx::WasiHost;
    sockets::network::add_to_linker::<T, WasiHost>(linker, &Default::default(), T::wasi)?;
    sockets::instance_network::add_to_linker::<T, WasiHost>(linker, T::wasi)?;
    sockets::ip_name_lookup::add_to_linker::<T, WasiHost>(linker, T::wasi)?;
    #[cfg(feature = "sockets-tcp")]
    {
        sockets::tcp::add_to_linker::<T, WasiHost>(linker, T::wasi)?;
        sockets::tcp_create_socket::add_to_linker::<T, WasiHost>(linker, T::wasi)?;
    }
    #[cfg(feature = "sockets-udp")]
    {
        sockets::udp::add_to_linker::<T, WasiHost>(linker, T::wasi)?;
        sockets::udp_create_socket::add_to_linker::<T, WasiHost>(linker, T::wasi)?;
    }
    Ok(())
}

/// What every socket, stream and lookup holds: the network and the clock to poll it with.
#[cfg(feature = "sockets")]
#[derive(Clone)]
pub(crate) struct NetCtx {
    pub network: Arc<dyn NetworkStack>,
    pub platform: Arc<dyn Platform>,
}

#[cfg(feature = "sockets")]
impl NetCtx {
    /// The context's network, or `access-denied` without one.
    pub fn of(ctx: &crate::WasiCtx) -> Result<Self, ErrorCode> {
        let network = ctx.network().ok_or(ErrorCode::AccessDenied)?;
        Ok(NetCtx { network: Arc::clone(network), platform: Arc::clone(ctx.platform()) })
    }

    /// Polls the network now and tells whether `ready` holds.
    pub fn poll_ready(&self, ready: &mut impl FnMut(&dyn NetworkStack) -> bool) -> Poll<()> {
        let next = self.network.poll(self.platform.monotonic_now());
        if ready(&*self.network) {
            return Poll::Ready(());
        }
        if let Some(next) = next {
            self.platform.wake_at(next);
        }
        Poll::Pending
    }

    /// Waits until `ready` holds, polling the network each time the executor polls this future
    /// and asking the platform to wake up when the network next needs polling.
    pub async fn until(&self, mut ready: impl FnMut(&dyn NetworkStack) -> bool) {
        poll_fn(|_| self.poll_ready(&mut ready)).await
    }
}

// ---- addresses

#[cfg(feature = "sockets")]
impl From<IpSocketAddress> for SocketAddr {
    fn from(address: IpSocketAddress) -> Self {
        match address {
            IpSocketAddress::Ipv4(a) => {
                let (x0, x1, x2, x3) = a.address;
                SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(x0, x1, x2, x3), a.port))
            }
            IpSocketAddress::Ipv6(a) => {
                let (x0, x1, x2, x3, x4, x5, x6, x7) = a.address;
                let ip = Ipv6Addr::new(x0, x1, x2, x3, x4, x5, x6, x7);
                SocketAddr::V6(SocketAddrV6::new(ip, a.port, a.flow_info, a.scope_id))
            }
        }
    }
}

#[cfg(feature = "sockets")]
impl From<SocketAddr> for IpSocketAddress {
    fn from(address: SocketAddr) -> Self {
        match address {
            SocketAddr::V4(a) => {
                let [x0, x1, x2, x3] = a.ip().octets();
                IpSocketAddress::Ipv4(Ipv4SocketAddress { port: a.port(), address: (x0, x1, x2, x3) })
            }
            SocketAddr::V6(a) => {
                let [x0, x1, x2, x3, x4, x5, x6, x7] = a.ip().segments();
                IpSocketAddress::Ipv6(Ipv6SocketAddress {
                    port: a.port(),
                    flow_info: a.flowinfo(),
                    address: (x0, x1, x2, x3, x4, x5, x6, x7),
                    scope_id: a.scope_id(),
                })
            }
        }
    }
}

#[cfg(feature = "sockets")]
impl From<IpAddr> for IpAddress {
    fn from(address: IpAddr) -> Self {
        match address {
            IpAddr::V4(a) => {
                let [x0, x1, x2, x3] = a.octets();
                IpAddress::Ipv4((x0, x1, x2, x3))
            }
            IpAddr::V6(a) => {
                let [x0, x1, x2, x3, x4, x5, x6, x7] = a.segments();
                IpAddress::Ipv6((x0, x1, x2, x3, x4, x5, x6, x7))
            }
        }
    }
}

/// Whether `address` may be used on a socket of `family`: the same family, and for IPv6 neither
/// IPv4-mapped nor the deprecated IPv4-compatible form (wasmtime-wasi's check).
#[cfg(any(feature = "sockets-tcp", feature = "sockets-udp"))]
pub(crate) fn is_valid_address_family(address: IpAddr, family: IpAddressFamily) -> bool {
    match (family, address) {
        (IpAddressFamily::Ipv4, IpAddr::V4(_)) => true,
        (IpAddressFamily::Ipv6, IpAddr::V6(ip)) => {
            let ipv4_compatible = matches!(ip.segments(), [0, 0, 0, 0, 0, 0, _, _])
                && ip != Ipv6Addr::UNSPECIFIED
                && ip != Ipv6Addr::LOCALHOST;
            !ipv4_compatible && ip.to_ipv4_mapped().is_none()
        }
        _ => false,
    }
}

/// A remote address must name a host and a port.
#[cfg(any(feature = "sockets-tcp", feature = "sockets-udp"))]
pub(crate) fn is_valid_remote_address(address: SocketAddr) -> bool {
    !address.ip().to_canonical().is_unspecified() && address.port() != 0
}

/// Neither multicast nor (IPv4) broadcast.
#[cfg(feature = "sockets-tcp")]
pub(crate) fn is_valid_unicast_address(address: IpAddr) -> bool {
    match address.to_canonical() {
        IpAddr::V4(ip) => !ip.is_multicast() && !ip.is_broadcast(),
        IpAddr::V6(ip) => !ip.is_multicast(),
    }
}
