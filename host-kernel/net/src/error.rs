//! The stack's errors.

use core::fmt;

/// Why a [`Stack`](crate::Stack) call failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// [`Stack::new`](crate::Stack::new): the MAC address is multicast or broadcast.
    InvalidMac,
    /// [`Stack::new`](crate::Stack::new): the device is not an Ethernet device.
    NotEthernet,
    /// [`Stack::new`](crate::Stack::new): the static configuration is unusable (a prefix
    /// longer than the address, a multicast or unspecified address, too many addresses).
    InvalidConfig,
    /// No open socket or lookup has this id.
    UnknownSocket,
    /// The call does not fit the socket's state (listen before bind, accept on a connection, a
    /// second bind, ...).
    InvalidState,
    /// An argument the socket cannot use (an address of the other family, port 0 to connect to,
    /// a destination outside the host for a socket bound to a loopback address).
    InvalidArgument,
    /// Too many sockets ([`StackOptions::max_sockets`](crate::StackOptions::max_sockets)).
    SocketLimit,
    /// Another socket is bound to this address and port.
    AddressInUse,
    /// The address is not one of this host's (neither a loopback address nor one of the wire
    /// interface's).
    AddressNotBindable,
    /// No route to the address (no address of its family, no gateway; never for the host's own
    /// addresses).
    Unreachable,
    /// The peer refused the connection.
    ConnectionRefused,
    /// The peer reset the connection.
    ConnectionReset,
    /// The peer stopped answering.
    TimedOut,
    /// The datagram does not fit in one packet, or in the socket's send buffer.
    DatagramTooLarge,
    /// The name has no address, or the DNS servers did not answer.
    NameUnresolvable,
    /// No DNS server is configured (yet: DHCP may not have finished).
    NoDnsServer,
    /// Too many lookups in progress.
    LookupLimit,
    /// This build has no support for it (feature `tcp` or `udp` off).
    NotSupported,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Error::InvalidMac => "the MAC address is not a unicast address",
            Error::NotEthernet => "the device is not an Ethernet device",
            Error::InvalidConfig => "the static IP configuration is unusable",
            Error::UnknownSocket => "no such socket",
            Error::InvalidState => "the socket is not in a state for this",
            Error::InvalidArgument => "invalid argument",
            Error::SocketLimit => "too many sockets",
            Error::AddressInUse => "address in use",
            Error::AddressNotBindable => "address not available on this host",
            Error::Unreachable => "no route to the address",
            Error::ConnectionRefused => "connection refused",
            Error::ConnectionReset => "connection reset by peer",
            Error::TimedOut => "connection timed out",
            Error::DatagramTooLarge => "datagram too large",
            Error::NameUnresolvable => "name does not resolve",
            Error::NoDnsServer => "no DNS server configured",
            Error::LookupLimit => "too many lookups in progress",
            Error::NotSupported => "not supported by this build",
        })
    }
}

impl core::error::Error for Error {}
