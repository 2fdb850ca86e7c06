//! UDP sockets. A socket gets its smoltcp sockets (and buffers) when it is bound: one on each
//! interface it hears (loopback alone for a loopback address; the wire and loopback for an
//! unspecified address or one of the wire's). It receives from all of them, and sends each
//! datagram on the interface of its destination: loopback for a loopback address or one of the
//! wire's, the wire otherwise.

use alloc::collections::BTreeMap;
use alloc::vec;
use alloc::vec::Vec;
use core::net::SocketAddr;
use smoltcp::iface::PollResult;
use smoltcp::phy::Device;
use smoltcp::socket::udp;
use smoltcp::wire::{IpAddress, IpListenEndpoint};

use crate::config::{Family, UdpOptions};
use crate::error::Error;
use crate::stack::{Handle, Iface, SocketId, Stack, overlaps};

#[derive(Default)]
pub(crate) struct UdpState {
    entries: BTreeMap<SocketId, Entry>,
}

struct Entry {
    family: Family,
    options: UdpOptions,
    bound: Option<Bound>,
}

struct Bound {
    /// The address given to `bind`, with the port chosen if it was 0.
    address: SocketAddr,
    /// The socket on each interface ([`Iface::index`]) it hears.
    sockets: [Option<Handle>; 2],
}

impl Bound {
    fn handles(&self) -> impl Iterator<Item = Handle> + '_ {
        self.sockets.iter().flatten().copied()
    }
}

const DEFAULT_HOP_LIMIT: u8 = 64;
/// The UDP header.
const UDP_HEADER: usize = 8;

impl<D: Device> Stack<D> {
    fn udp_entry(&self, id: SocketId) -> Result<&Entry, Error> {
        self.udp.entries.get(&id).ok_or(Error::UnknownSocket)
    }

    /// A bound socket's family and smoltcp sockets.
    fn udp_bound(&self, id: SocketId) -> Result<(Family, &Bound), Error> {
        let entry = self.udp_entry(id)?;
        Ok((entry.family, entry.bound.as_ref().ok_or(Error::InvalidState)?))
    }

    /// A new UDP socket of `family`, not bound yet.
    pub fn udp_open(&mut self, family: Family) -> Result<SocketId, Error> {
        if self.udp.entries.len() >= self.options.max_sockets {
            return Err(Error::SocketLimit);
        }
        let id = self.new_id();
        let options = UdpOptions {
            hop_limit: DEFAULT_HOP_LIMIT,
            receive_buffer_size: self.options.udp_receive_buffer,
            send_buffer_size: self.options.udp_send_buffer,
        };
        self.udp.entries.insert(id, Entry { family, options, bound: None });
        Ok(id)
    }

    /// Binds a socket to `local` (unspecified, a loopback address or one of the wire
    /// interface's addresses, else [`Error::AddressNotBindable`]; port 0 for an ephemeral
    /// port), allocating its buffers: one smoltcp socket per interface it hears.
    pub fn udp_bind(&mut self, id: SocketId, local: SocketAddr) -> Result<(), Error> {
        let entry = self.udp_entry(id)?;
        if entry.bound.is_some() {
            return Err(Error::InvalidState);
        }
        if Family::of(local.ip()) != entry.family {
            return Err(Error::InvalidArgument);
        }
        if !self.is_bindable(local.ip()) {
            return Err(Error::AddressNotBindable);
        }
        let options = entry.options;
        let port = match local.port() {
            0 => {
                let mut used: Vec<u16> =
                    self.udp.entries.values().filter_map(|e| e.bound.as_ref().map(|b| b.address.port())).collect();
                used.sort_unstable();
                self.ephemeral_port(|port| used.binary_search(&port).is_ok()).ok_or(Error::AddressInUse)?
            }
            port => {
                let taken = self.udp.entries.values().any(|e| {
                    e.bound.as_ref().is_some_and(|b| b.address.port() == port && overlaps(b.address.ip(), local.ip()))
                });
                if taken {
                    return Err(Error::AddressInUse);
                }
                port
            }
        };
        let endpoint =
            IpListenEndpoint { addr: (!local.ip().is_unspecified()).then(|| IpAddress::from(local.ip())), port };
        let mut bound = Bound { address: SocketAddr::new(local.ip(), port), sockets: [None, None] };
        for &iface in self.ifaces_for(local.ip()) {
            match self.new_udp_socket(iface, &options, endpoint) {
                Ok(handle) => bound.sockets[iface.index()] = Some(handle),
                Err(error) => {
                    for handle in bound.handles() {
                        self.remove_socket(handle);
                    }
                    return Err(error);
                }
            }
        }
        if let Some(entry) = self.udp.entries.get_mut(&id) {
            entry.bound = Some(bound);
        }
        Ok(())
    }

    fn new_udp_socket(
        &mut self,
        iface: Iface,
        options: &UdpOptions,
        endpoint: IpListenEndpoint,
    ) -> Result<Handle, Error> {
        if self.socket_count >= self.options.max_sockets {
            return Err(Error::SocketLimit);
        }
        let datagrams = self.options.udp_datagrams.max(1);
        let mut socket = udp::Socket::new(
            udp::PacketBuffer::new(vec![udp::PacketMetadata::EMPTY; datagrams], vec![0; options.receive_buffer_size]),
            udp::PacketBuffer::new(vec![udp::PacketMetadata::EMPTY; datagrams], vec![0; options.send_buffer_size]),
        );
        socket.set_hop_limit(Some(options.hop_limit.max(1)));
        socket.bind(endpoint).map_err(|_| Error::InvalidArgument)?;
        self.add_socket(iface, socket)
    }

    /// The address a socket is bound to.
    pub fn udp_local_address(&self, id: SocketId) -> Result<SocketAddr, Error> {
        Ok(self.udp_bound(id)?.1.address)
    }

    /// Queues a datagram to `remote`, on the interface that leads there; `Ok(false)` when the
    /// send buffer has no room for it now. [`Error::InvalidArgument`] (as Linux has it) for a
    /// destination outside the host from a socket bound to a loopback address.
    pub fn udp_send(&mut self, id: SocketId, data: &[u8], remote: SocketAddr) -> Result<bool, Error> {
        let family = self.udp_entry(id)?.family;
        if remote.port() == 0 || remote.ip().is_unspecified() || Family::of(remote.ip()) != family {
            return Err(Error::InvalidArgument);
        }
        if !self.is_routable(remote.ip()) {
            return Err(Error::Unreachable);
        }
        let iface = self.route(remote.ip());
        let handle = self.udp_bound(id)?.1.sockets[iface.index()].ok_or(Error::InvalidArgument)?;
        let max = self.max_ip_payload(iface, family).saturating_sub(UDP_HEADER);
        let socket = self.sockets.get_mut::<udp::Socket>(handle);
        if data.len() > max || data.len() > socket.payload_send_capacity() {
            return Err(Error::DatagramTooLarge);
        }
        match socket.send_slice(data, (IpAddress::from(remote.ip()), remote.port())) {
            Ok(()) => Ok(true),
            Err(udp::SendError::BufferFull) => Ok(false),
            Err(udp::SendError::Unaddressable) => Err(Error::Unreachable),
        }
    }

    /// Whether a bound socket's send buffers (on every interface it has one) have room for a
    /// datagram.
    pub fn udp_send_ready(&mut self, id: SocketId) -> bool {
        match self.udp_bound(id) {
            Ok((_, bound)) => bound.handles().all(|handle| self.sockets.get::<udp::Socket>(handle).can_send()),
            Err(_) => true,
        }
    }

    /// The next received datagram and its sender, if any, from either interface (datagrams of
    /// the other address family, which a socket bound to an unspecified address also gets, are
    /// dropped).
    pub fn udp_recv(&mut self, id: SocketId) -> Result<Option<(Vec<u8>, SocketAddr)>, Error> {
        let (family, bound) = self.udp_bound(id)?;
        let handles = bound.sockets;
        for handle in handles.into_iter().flatten() {
            let socket = self.sockets.get_mut::<udp::Socket>(handle);
            loop {
                match socket.recv() {
                    Ok((data, meta)) => {
                        let from = SocketAddr::new(meta.endpoint.addr.into(), meta.endpoint.port);
                        if Family::of(from.ip()) == family {
                            return Ok(Some((data.to_vec(), from)));
                        }
                    }
                    Err(udp::RecvError::Exhausted) => break,
                    Err(udp::RecvError::Truncated) => {}
                }
            }
        }
        Ok(None)
    }

    /// Whether [`udp_recv`](Stack::udp_recv) would return a datagram.
    pub fn udp_recv_ready(&mut self, id: SocketId) -> bool {
        match self.udp_bound(id) {
            Ok((_, bound)) => bound.handles().any(|handle| self.sockets.get::<udp::Socket>(handle).can_recv()),
            Err(_) => true,
        }
    }

    /// A socket's options.
    pub fn udp_options(&self, id: SocketId) -> Result<UdpOptions, Error> {
        Ok(self.udp_entry(id)?.options)
    }

    /// Sets a socket's options; returns them as in effect (buffer sizes clamped as for TCP, a hop
    /// limit of 0 taken as 64). Buffer sizes apply when the socket is bound.
    pub fn udp_set_options(&mut self, id: SocketId, mut options: UdpOptions) -> Result<UdpOptions, Error> {
        let (min, max) = (self.options.min_buffer, self.options.max_buffer);
        options.receive_buffer_size = options.receive_buffer_size.clamp(min, max);
        options.send_buffer_size = options.send_buffer_size.clamp(min, max);
        if options.hop_limit == 0 {
            options.hop_limit = DEFAULT_HOP_LIMIT;
        }
        let entry = self.udp.entries.get_mut(&id).ok_or(Error::UnknownSocket)?;
        entry.options = options;
        if let Some(bound) = &entry.bound {
            for handle in bound.handles() {
                self.sockets.get_mut::<udp::Socket>(handle).set_hop_limit(Some(options.hop_limit));
            }
        }
        Ok(options)
    }

    /// Closes a socket and frees it (datagrams it had not sent yet are sent first; datagrams
    /// received and not read are dropped).
    pub fn udp_close(&mut self, id: SocketId) {
        let Some(Entry { bound: Some(bound), .. }) = self.udp.entries.remove(&id) else {
            return;
        };
        // Datagrams already sent are the application's last word: put them on the wire (or in
        // loopback's queue, for the next poll) before the socket and its queue go (an
        // application that answers and exits).
        let now = self.now;
        for handle in bound.handles() {
            match handle.iface {
                Iface::Wire => {
                    while self.iface.poll_egress(now, &mut self.device, &mut self.sockets.wire) != PollResult::None {}
                }
                Iface::Loopback => {
                    while self.loopback_iface.poll_egress(now, &mut self.loopback, &mut self.sockets.loopback)
                        != PollResult::None
                    {}
                }
            }
            self.remove_socket(handle);
        }
    }
}
