//! UDP sockets. A socket gets its smoltcp socket (and buffers) when it is bound.

use alloc::collections::BTreeMap;
use alloc::vec;
use alloc::vec::Vec;
use core::net::SocketAddr;
use smoltcp::iface::PollResult;
use smoltcp::iface::SocketHandle;
use smoltcp::phy::Device;
use smoltcp::socket::udp;
use smoltcp::wire::{IpAddress, IpListenEndpoint};

use crate::config::{Family, UdpOptions};
use crate::error::Error;
use crate::stack::{SocketId, Stack, overlaps};

#[derive(Default)]
pub(crate) struct UdpState {
    entries: BTreeMap<SocketId, Entry>,
}

struct Entry {
    family: Family,
    options: UdpOptions,
    bound: Option<(SocketAddr, SocketHandle)>,
}

const DEFAULT_HOP_LIMIT: u8 = 64;
/// The UDP header.
const UDP_HEADER: usize = 8;

impl<D: Device> Stack<D> {
    fn udp_entry(&self, id: SocketId) -> Result<&Entry, Error> {
        self.udp.entries.get(&id).ok_or(Error::UnknownSocket)
    }

    /// The socket of a bound UDP socket.
    fn udp_socket(&mut self, id: SocketId) -> Result<(Family, &mut udp::Socket<'static>), Error> {
        let entry = self.udp.entries.get(&id).ok_or(Error::UnknownSocket)?;
        let (_, handle) = entry.bound.ok_or(Error::InvalidState)?;
        Ok((entry.family, self.sockets.get_mut::<udp::Socket>(handle)))
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

    /// Binds a socket to `local` (unspecified or one of the interface's addresses; port 0 for an
    /// ephemeral port), allocating its buffers.
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
                    self.udp.entries.values().filter_map(|e| e.bound.map(|(b, _)| b.port())).collect();
                used.sort_unstable();
                self.ephemeral_port(|port| used.binary_search(&port).is_ok()).ok_or(Error::AddressInUse)?
            }
            port => {
                let taken = self
                    .udp
                    .entries
                    .values()
                    .any(|e| e.bound.is_some_and(|(b, _)| b.port() == port && overlaps(b.ip(), local.ip())));
                if taken {
                    return Err(Error::AddressInUse);
                }
                port
            }
        };
        let datagrams = self.options.udp_datagrams.max(1);
        let mut socket = udp::Socket::new(
            udp::PacketBuffer::new(vec![udp::PacketMetadata::EMPTY; datagrams], vec![0; options.receive_buffer_size]),
            udp::PacketBuffer::new(vec![udp::PacketMetadata::EMPTY; datagrams], vec![0; options.send_buffer_size]),
        );
        socket.set_hop_limit(Some(options.hop_limit.max(1)));
        let endpoint =
            IpListenEndpoint { addr: (!local.ip().is_unspecified()).then(|| IpAddress::from(local.ip())), port };
        socket.bind(endpoint).map_err(|_| Error::InvalidArgument)?;
        let handle = self.add_socket(socket)?;
        if let Some(entry) = self.udp.entries.get_mut(&id) {
            entry.bound = Some((SocketAddr::new(local.ip(), port), handle));
        }
        Ok(())
    }

    /// The address a socket is bound to.
    pub fn udp_local_address(&self, id: SocketId) -> Result<SocketAddr, Error> {
        let (address, _) = self.udp_entry(id)?.bound.ok_or(Error::InvalidState)?;
        Ok(address)
    }

    /// Queues a datagram to `remote`; `Ok(false)` when the send buffer has no room for it now.
    pub fn udp_send(&mut self, id: SocketId, data: &[u8], remote: SocketAddr) -> Result<bool, Error> {
        let family = self.udp_entry(id)?.family;
        if remote.port() == 0 || remote.ip().is_unspecified() || Family::of(remote.ip()) != family {
            return Err(Error::InvalidArgument);
        }
        if !self.is_routable(remote.ip()) {
            return Err(Error::Unreachable);
        }
        let max = self.max_ip_payload(family).saturating_sub(UDP_HEADER);
        let (_, socket) = self.udp_socket(id)?;
        if data.len() > max || data.len() > socket.payload_send_capacity() {
            return Err(Error::DatagramTooLarge);
        }
        match socket.send_slice(data, (IpAddress::from(remote.ip()), remote.port())) {
            Ok(()) => Ok(true),
            Err(udp::SendError::BufferFull) => Ok(false),
            Err(udp::SendError::Unaddressable) => Err(Error::Unreachable),
        }
    }

    /// Whether a bound socket's send buffer has room for a datagram.
    pub fn udp_send_ready(&mut self, id: SocketId) -> bool {
        match self.udp_socket(id) {
            Ok((_, socket)) => socket.can_send(),
            Err(_) => true,
        }
    }

    /// The next received datagram and its sender, if any (datagrams of the other address
    /// family, which a socket bound to an unspecified address also gets, are dropped).
    pub fn udp_recv(&mut self, id: SocketId) -> Result<Option<(Vec<u8>, SocketAddr)>, Error> {
        let (family, socket) = self.udp_socket(id)?;
        loop {
            match socket.recv() {
                Ok((data, meta)) => {
                    let from = SocketAddr::new(meta.endpoint.addr.into(), meta.endpoint.port);
                    if Family::of(from.ip()) == family {
                        return Ok(Some((data.to_vec(), from)));
                    }
                }
                Err(udp::RecvError::Exhausted) => return Ok(None),
                Err(udp::RecvError::Truncated) => {}
            }
        }
    }

    /// Whether [`udp_recv`](Stack::udp_recv) would return a datagram.
    pub fn udp_recv_ready(&mut self, id: SocketId) -> bool {
        match self.udp_socket(id) {
            Ok((_, socket)) => socket.can_recv(),
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
        if let Some((_, handle)) = entry.bound {
            self.sockets.get_mut::<udp::Socket>(handle).set_hop_limit(Some(options.hop_limit));
        }
        Ok(options)
    }

    /// Closes a socket and frees it (queued datagrams are dropped).
    pub fn udp_close(&mut self, id: SocketId) {
        if let Some(Entry { bound: Some((_, handle)), .. }) = self.udp.entries.remove(&id) {
            // Datagrams already sent are the application's last word: put them on the wire
            // before the socket and its queue go (an application that answers and exits).
            let now = self.now;
            while self.iface.poll_egress(now, &mut self.device, &mut self.sockets) != PollResult::None {}
            self.remove_socket(handle);
        }
    }
}
