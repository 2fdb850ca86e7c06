//! How the stack is configured, and what it reports about itself.

use alloc::vec::Vec;
use core::fmt;
use core::net::IpAddr;
use smoltcp::time::Duration;

/// How the wire interface gets its IP configuration. (The loopback interface needs none.)
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum NetConfig {
    /// DHCPv4: address, prefix, gateway and DNS servers from a DHCP server, renewed as leases
    /// require.
    #[default]
    Dhcp,
    /// A fixed configuration.
    Static(StaticConfig),
    /// No address at all on the wire, not even the IPv6 link-local one, and no DHCP: for a
    /// stack without a network device (see [`NoDevice`](crate::NoDevice)), where only
    /// loopback works and every other destination is unreachable.
    Unconfigured,
}

/// A fixed IP configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaticConfig {
    /// The interface's address (IPv4 or IPv6)...
    pub address: IpAddr,
    /// ...and the length of its network prefix (24 for a /24).
    pub prefix_len: u8,
    /// The default gateway, of the address's family.
    pub gateway: Option<IpAddr>,
    /// DNS servers, in order of preference (at most 3 are used).
    pub dns_servers: Vec<IpAddr>,
}

/// An address family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Ipv4,
    Ipv6,
}

impl Family {
    #[cfg_attr(not(any(feature = "tcp", feature = "udp")), allow(dead_code))]
    pub(crate) fn of(address: IpAddr) -> Family {
        match address {
            IpAddr::V4(_) => Family::Ipv4,
            IpAddr::V6(_) => Family::Ipv6,
        }
    }
}

/// Sizes, limits and timeouts. The defaults suit a small VM: 64 KiB buffers each way per TCP
/// connection, at most 256 sockets, backlogs of at most 64.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackOptions {
    /// A new TCP socket's receive buffer, in bytes.
    pub tcp_receive_buffer: usize,
    /// A new TCP socket's send buffer, in bytes.
    pub tcp_send_buffer: usize,
    /// A new UDP socket's receive buffer (payload bytes).
    pub udp_receive_buffer: usize,
    /// A new UDP socket's send buffer (payload bytes).
    pub udp_send_buffer: usize,
    /// How many datagrams a UDP socket's buffers hold, each way.
    pub udp_datagrams: usize,
    /// The smallest buffer size a socket option may ask for (smaller requests are rounded up;
    /// at least 64).
    pub min_buffer: usize,
    /// The largest buffer size a socket option may ask for (larger requests are clamped; at
    /// most 1 GiB). The buffer sizes above are clamped to these bounds too.
    pub max_buffer: usize,
    /// The most sockets (TCP and UDP, counting connections waiting to be accepted and closed
    /// ones still lingering).
    pub max_sockets: usize,
    /// The largest listen backlog; larger requests are clamped, as operating systems do.
    pub max_backlog: u32,
    /// The most DNS lookups in progress at once.
    pub max_lookups: usize,
    /// How long a TCP handshake (either side) may take.
    pub connect_timeout: Duration,
    /// How long a connection with unacknowledged data may go without hearing from its peer
    /// before it is aborted (`timed-out`).
    pub tcp_timeout: Duration,
    /// How long a connection the application closed may linger to deliver what it had sent
    /// and to finish the close, before it is reset and freed.
    pub linger: Duration,
    /// Nagle's algorithm on new TCP sockets. Off by default: writes between two polls of the
    /// stack are coalesced anyway, and a server's small responses go out at once.
    pub nagle: bool,
}

impl Default for StackOptions {
    fn default() -> Self {
        StackOptions {
            tcp_receive_buffer: 64 * 1024,
            tcp_send_buffer: 64 * 1024,
            udp_receive_buffer: 64 * 1024,
            udp_send_buffer: 64 * 1024,
            udp_datagrams: 64,
            min_buffer: 1024,
            max_buffer: 1024 * 1024,
            max_sockets: 256,
            max_backlog: 64,
            max_lookups: 16,
            connect_timeout: Duration::from_secs(60),
            tcp_timeout: Duration::from_secs(60),
            linger: Duration::from_secs(60),
            nagle: false,
        }
    }
}

/// A TCP socket's options. New sockets get [`StackOptions`]' buffer sizes and Linux's defaults
/// for the rest (keep-alive off, 2 h idle, 75 s interval, 9 probes, hop limit 64); accepted
/// connections get their listener's.
///
/// With keep-alive on, an idle connection is probed every `keep_alive_interval`, and aborted
/// (`timed-out`) once its peer has been silent for `keep_alive_idle_time` plus
/// `keep_alive_count` intervals. Times are clamped to 1 s..=32767 s and counts to 1..=127, as
/// Linux does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpOptions {
    pub keep_alive_enabled: bool,
    pub keep_alive_idle_time: Duration,
    pub keep_alive_interval: Duration,
    pub keep_alive_count: u32,
    /// Never 0 (0 is taken as 64).
    pub hop_limit: u8,
    /// Applies to connections established after it is set.
    pub receive_buffer_size: usize,
    /// Applies to connections established after it is set.
    pub send_buffer_size: usize,
}

/// A UDP socket's options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UdpOptions {
    /// Never 0 (0 is taken as 64).
    pub hop_limit: u8,
    /// Applies when the socket is bound.
    pub receive_buffer_size: usize,
    /// Applies when the socket is bound.
    pub send_buffer_size: usize,
}

/// The IP configuration the interface has now, for logs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IpConfig {
    /// Addresses with their prefix lengths, the IPv6 link-local one included.
    pub addresses: Vec<(IpAddr, u8)>,
    /// Default gateways.
    pub gateways: Vec<IpAddr>,
    /// DNS servers.
    pub dns_servers: Vec<IpAddr>,
    /// Whether the configuration came from DHCP.
    pub dhcp: bool,
}

impl fmt::Display for IpConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for (address, prefix) in &self.addresses {
            if !first {
                f.write_str(" ")?;
            }
            first = false;
            write!(f, "{address}/{prefix}")?;
        }
        if first {
            f.write_str("no address")?;
        }
        for gateway in &self.gateways {
            write!(f, " via {gateway}")?;
        }
        for (i, server) in self.dns_servers.iter().enumerate() {
            write!(f, "{} {server}", if i == 0 { ", dns" } else { "," })?;
        }
        if self.dhcp {
            f.write_str(" (dhcp)")?;
        }
        Ok(())
    }
}
