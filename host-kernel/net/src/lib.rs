//! Morgana's TCP/IP stack: the one owner of the smoltcp [`Interface`](smoltcp::iface::Interface)s
//! and their sockets: one over any Ethernet [`Device`](smoltcp::phy::Device) (the kernel's
//! virtio-net driver, an in-memory cable in tests, or [`NoDevice`] when there is none), and a
//! loopback interface beside it.
//!
//! [`Stack`] is built from a device, a MAC address and a [`NetConfig`] (DHCPv4, the default, a
//! static address with gateway and DNS servers, or no address at all for a stack without a
//! device) and offers BSD-like, non-blocking sockets by [`SocketId`]: TCP listeners with a real
//! backlog (several listening smoltcp sockets on the port, a fresh one after every connection,
//! connection attempts beyond the backlog refused with a reset), TCP connections, UDP sockets,
//! and DNS lookups through the configured servers. [`SharedStack`] puts it behind a lock so the
//! kernel's idle loop and the WASI host can share it; with feature `wasi` it implements
//! `morgana_wasi::network::Network`, which is how `wasi:sockets` reaches it.
//!
//! The host talks to itself as on Linux: traffic to a loopback address (all of 127.0.0.0/8,
//! and ::1) or to one of the wire interface's own addresses goes over the loopback interface
//! (smoltcp's [`Loopback`](smoltcp::phy::Loopback), MTU 65535) and never reaches the device;
//! everything else goes over the wire. A socket may bind to an unspecified address, a loopback
//! address or one of the wire's (else [`Error::AddressNotBindable`]); one bound to an
//! unspecified address or to one of the wire's hears both interfaces, one bound to a loopback
//! address loopback alone. Ports are shared: a port bound on either interface is in use on
//! both. DHCP and DNS work on the wire only.
//!
//! How an embedder wires it (the kernel, or a test):
//!
//! ```ignore
//! let stack = Stack::new(device, mac, NetConfig::Dhcp, StackOptions::default(), now, seed)?;
//! // Without a network device: Stack::new(NoDevice, mac, NetConfig::Unconfigured, ...).
//! let net = Arc::new(SharedStack::new(stack));
//! // Optionally, before starting the application: poll until `net.with(|s| s.is_configured())`.
//! let wasi = WasiCtx::new(platform, args, env).with_network(net.clone());
//! // Platform::idle, each time:
//! //     let next = net.poll_ns(now_ns);
//! //     let deadline = min(next, the earliest wake_at deadline);
//! //     if deadline is not after now_ns { return }   // the poll changed something: look first
//! //     halt until the network interrupt (or any other) or the deadline
//! // The interrupt handler only acknowledges the device; it never touches the stack.
//! // Loopback traffic raises no interrupt: a poll that moved some returns "at once".
//! ```
//!
//! It promises: it is sans-IO (time comes in through [`Stack::poll`], randomness as a seed; it
//! reads no clock and never blocks), it never panics on what arrives from the network or on
//! arguments its callers pass (bad frames are dropped and counted in [`Stats`], bad arguments are
//! an [`Error`]), memory is bounded by [`StackOptions`] (buffer sizes, socket and backlog limits,
//! sockets on both interfaces counted alike), and sockets are reclaimed: a closed connection
//! lingers only until its peer acknowledges the close or [`StackOptions::linger`] passes; a
//! connection whose peer vanishes while it has data to deliver is aborted after
//! [`StackOptions::tcp_timeout`] (an idle one only with keep-alive on, as under Linux); a
//! handshake that never completes, after [`StackOptions::connect_timeout`]; and a failed
//! connection's buffers are freed at once, even before the application closes it. Loopback
//! traffic never leaves the stack, and frames from the wire that claim a loopback source or
//! destination are dropped. It never fragments IP packets (a datagram larger than the path MTU
//! allows is [`Error::DatagramTooLarge`]: 65507 bytes of UDP payload over IPv4 loopback), and
//! never does IPv6 autoconfiguration beyond a link-local address.

#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

mod config;
mod device;
mod dns;
mod error;
mod shared;
mod stack;
#[cfg(feature = "tcp")]
mod tcp;
#[cfg(feature = "udp")]
mod udp;
#[cfg(feature = "wasi")]
mod wasi;

pub use config::{Family, IpConfig, NetConfig, StackOptions, StaticConfig, TcpOptions, UdpOptions};
pub use device::{NoDevice, NoToken, Stats};
pub use error::Error;
pub use shared::SharedStack;
pub use stack::{SocketId, Stack};

/// The smoltcp this crate is built on, for [`Device`](smoltcp::phy::Device) implementations and
/// [`Instant`](smoltcp::time::Instant)s.
pub use smoltcp;
