//! The stack: its two interfaces (the wire and loopback), their sockets, configuration,
//! polling.
//!
//! The wire interface is the Ethernet device's: DHCP, DNS, ARP and NDP live there. The loopback
//! interface is smoltcp's [`Loopback`] device, which carries IP packets from the stack to itself
//! (no link layer, checksums not computed, an MTU of 65535). It holds 127.0.0.1/8, ::1/128 and a
//! host route (/32, /128) for each of the wire's addresses, kept in sync as DHCP changes them:
//! traffic to 127.0.0.0/8, ::1 or one of the host's own addresses goes over loopback, as on
//! Linux, and never reaches the device. It accepts packets for any address it routes to itself
//! (smoltcp's AnyIP), so every address of 127.0.0.0/8 is the host's.

// Builds without sockets (DHCP and DNS only) leave the socket helpers unused.
#![cfg_attr(not(any(feature = "tcp", feature = "udp")), allow(unused_imports, dead_code))]

use alloc::vec;
use alloc::vec::Vec;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use smoltcp::iface::{Config, Interface, PollIngressSingleResult, PollResult, SocketHandle, SocketSet};
use smoltcp::phy::{Device, Loopback, Medium};
use smoltcp::socket::{AnySocket, dhcpv4, dns};
use smoltcp::time::Instant;
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpAddress, IpCidr, Ipv4Cidr, Ipv6Cidr};

use crate::config::{Family, IpConfig, NetConfig, StackOptions};
use crate::device::{Counting, Stats};
use crate::error::Error;

/// Names a socket or lookup of a [`Stack`]; unique for the stack's lifetime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SocketId(pub u64);

/// How many frames one [`Stack::poll`] takes in at most from the device, and how many packets
/// at most over loopback; more make it ask to be polled again at once, so that a flood cannot
/// keep it busy forever.
const MAX_FRAMES_PER_POLL: usize = 256;
/// The first port of the ephemeral range (IANA's, also Linux's `ip_local_port_range` upper part).
const EPHEMERAL_FIRST: u16 = 49152;

/// One of the stack's two interfaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Iface {
    /// The Ethernet device's.
    Wire,
    /// Loopback: 127.0.0.0/8, ::1 and the wire's own addresses.
    Loopback,
}

impl Iface {
    pub(crate) const BOTH: [Iface; 2] = [Iface::Wire, Iface::Loopback];

    /// An index for per-interface arrays.
    pub(crate) fn index(self) -> usize {
        match self {
            Iface::Wire => 0,
            Iface::Loopback => 1,
        }
    }
}

/// A TCP or UDP socket of smoltcp: which interface's set holds it, and its handle there. Only
/// [`Sockets`] turns it into a socket, so no handle is looked up in the wrong set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Handle {
    pub iface: Iface,
    handle: SocketHandle,
}

/// The socket sets of both interfaces. (DHCP's and DNS's sockets are in the wire's, by plain
/// handle.)
pub(crate) struct Sockets {
    pub wire: SocketSet<'static>,
    pub loopback: SocketSet<'static>,
}

impl Sockets {
    fn set(&self, iface: Iface) -> &SocketSet<'static> {
        match iface {
            Iface::Wire => &self.wire,
            Iface::Loopback => &self.loopback,
        }
    }

    fn set_mut(&mut self, iface: Iface) -> &mut SocketSet<'static> {
        match iface {
            Iface::Wire => &mut self.wire,
            Iface::Loopback => &mut self.loopback,
        }
    }

    /// The socket of `handle`, of type `T` (smoltcp panics on a handle of a removed socket or
    /// of another type: the socket modules keep their handles exact).
    pub(crate) fn get<T: AnySocket<'static>>(&self, handle: Handle) -> &T {
        self.set(handle.iface).get::<T>(handle.handle)
    }

    pub(crate) fn get_mut<T: AnySocket<'static>>(&mut self, handle: Handle) -> &mut T {
        self.set_mut(handle.iface).get_mut::<T>(handle.handle)
    }

    /// Every socket of both interfaces.
    #[cfg(feature = "tcp")]
    pub(crate) fn iter(&self) -> impl Iterator<Item = &smoltcp::socket::Socket<'static>> {
        self.wire.iter().chain(self.loopback.iter()).map(|(_, socket)| socket)
    }
}

/// A TCP/IP stack over an Ethernet device, with a loopback interface beside it. See the
/// [crate docs](crate).
pub struct Stack<D: Device> {
    pub(crate) device: Counting<D>,
    /// The wire interface.
    pub(crate) iface: Interface,
    pub(crate) loopback: Loopback,
    pub(crate) loopback_iface: Interface,
    pub(crate) sockets: Sockets,
    pub(crate) options: StackOptions,
    /// The TCP and UDP sockets in `sockets`, of both interfaces (not DHCP's and DNS's).
    pub(crate) socket_count: usize,
    pub(crate) now: Instant,
    next_id: u64,
    random: u64,
    dhcp: Option<SocketHandle>,
    pub(crate) dns: SocketHandle,
    pub(crate) dns_servers: Vec<IpAddr>,
    pub(crate) lookups: crate::dns::Lookups,
    #[cfg(feature = "tcp")]
    pub(crate) tcp: crate::tcp::TcpState,
    #[cfg(feature = "udp")]
    pub(crate) udp: crate::udp::UdpState,
}

impl<D: Device> Stack<D> {
    /// A stack on `device` with MAC address `mac`, configured by `config`, and its loopback
    /// interface. `now` is the time (any fixed origin, the same as later
    /// [`poll`](Stack::poll)s); `seed` should differ on every boot (TCP sequence numbers,
    /// ephemeral ports and DHCP transaction ids derive from it).
    ///
    /// Without a network device, an embedder passes a device that never receives nor
    /// transmits (such as [`NoDevice`](crate::NoDevice)) and [`NetConfig::Unconfigured`]: only
    /// loopback works then.
    pub fn new(
        mut device: D,
        mac: [u8; 6],
        config: NetConfig,
        mut options: StackOptions,
        now: Instant,
        seed: u64,
    ) -> Result<Self, Error> {
        // Sizes smoltcp can work with: some room, and TCP windows it can scale to.
        options.max_buffer = options.max_buffer.clamp(64, 1 << 30);
        options.min_buffer = options.min_buffer.clamp(64, options.max_buffer);
        let buffer = |size: usize| size.clamp(options.min_buffer, options.max_buffer);
        options.tcp_receive_buffer = buffer(options.tcp_receive_buffer);
        options.tcp_send_buffer = buffer(options.tcp_send_buffer);
        options.udp_receive_buffer = buffer(options.udp_receive_buffer);
        options.udp_send_buffer = buffer(options.udp_send_buffer);
        let ethernet = EthernetAddress(mac);
        if !ethernet.is_unicast() {
            return Err(Error::InvalidMac);
        }
        if device.capabilities().medium != Medium::Ethernet {
            return Err(Error::NotEthernet);
        }
        let mut iface_config = Config::new(HardwareAddress::Ethernet(ethernet));
        iface_config.random_seed = seed;
        let iface = Interface::new(iface_config, &mut device, now);
        let mut loopback = Loopback::new(Medium::Ip);
        let mut loopback_config = Config::new(HardwareAddress::Ip);
        loopback_config.random_seed = seed.rotate_left(32) ^ 0x6c6f;
        let mut loopback_iface = Interface::new(loopback_config, &mut loopback, now);
        // Every packet on loopback was sent by this stack to an address it routed there: take
        // them all (127.0.0.0/8 is the host's as a whole).
        loopback_iface.set_any_ip(true);
        let mut sockets = Sockets { wire: SocketSet::new(vec![]), loopback: SocketSet::new(vec![]) };
        let dns = sockets.wire.add(dns::Socket::new(&[], vec![]));
        let mut stack = Stack {
            device: Counting::new(device),
            iface,
            loopback,
            loopback_iface,
            sockets,
            options,
            socket_count: 0,
            now,
            next_id: 1,
            random: seed | 1,
            dhcp: None,
            dns,
            dns_servers: Vec::new(),
            lookups: Default::default(),
            #[cfg(feature = "tcp")]
            tcp: Default::default(),
            #[cfg(feature = "udp")]
            udp: Default::default(),
        };
        stack.sync_loopback();
        if matches!(config, NetConfig::Unconfigured) {
            return Ok(stack);
        }
        // An IPv6 link-local address from the MAC (EUI-64), as every IPv6 host has.
        let [m0, m1, m2, m3, m4, m5] = mac;
        let link_local = Ipv6Addr::new(
            0xfe80,
            0,
            0,
            0,
            u16::from_be_bytes([m0 ^ 0x02, m1]),
            u16::from_be_bytes([m2, 0xff]),
            u16::from_be_bytes([0xfe, m3]),
            u16::from_be_bytes([m4, m5]),
        );
        stack.add_address(IpCidr::Ipv6(Ipv6Cidr::new(link_local, 64)))?;
        match config {
            NetConfig::Unconfigured => {}
            NetConfig::Dhcp => {
                stack.dhcp = Some(stack.sockets.wire.add(dhcpv4::Socket::new()));
            }
            NetConfig::Static(config) => {
                let cidr = match config.address {
                    IpAddr::V4(a) if config.prefix_len <= 32 && !a.is_unspecified() && !a.is_multicast() => {
                        IpCidr::Ipv4(Ipv4Cidr::new(a, config.prefix_len))
                    }
                    IpAddr::V6(a) if config.prefix_len <= 128 && !a.is_unspecified() && !a.is_multicast() => {
                        IpCidr::Ipv6(Ipv6Cidr::new(a, config.prefix_len))
                    }
                    _ => return Err(Error::InvalidConfig),
                };
                stack.add_address(cidr)?;
                let routes = stack.iface.routes_mut();
                match config.gateway {
                    Some(IpAddr::V4(gateway)) if cidr.address().version() == smoltcp::wire::IpVersion::Ipv4 => {
                        routes.add_default_ipv4_route(gateway).map_err(|_| Error::InvalidConfig)?;
                    }
                    Some(IpAddr::V6(gateway)) if cidr.address().version() == smoltcp::wire::IpVersion::Ipv6 => {
                        routes.add_default_ipv6_route(gateway).map_err(|_| Error::InvalidConfig)?;
                    }
                    Some(_) => return Err(Error::InvalidConfig),
                    None => {}
                }
                stack.set_dns_servers(config.dns_servers);
            }
        }
        Ok(stack)
    }

    /// Adds an address to the wire interface (and its host route to loopback).
    fn add_address(&mut self, cidr: IpCidr) -> Result<(), Error> {
        let mut result = Ok(());
        self.iface.update_ip_addrs(|addrs| {
            if addrs.push(cidr).is_err() {
                result = Err(Error::InvalidConfig);
            }
        });
        self.sync_loopback();
        result
    }

    /// Gives loopback its own addresses and a host route for each of the wire's.
    fn sync_loopback(&mut self) {
        let own: Vec<IpCidr> = self
            .iface
            .ip_addrs()
            .iter()
            .map(|cidr| match cidr {
                IpCidr::Ipv4(c) => IpCidr::Ipv4(Ipv4Cidr::new(c.address(), 32)),
                IpCidr::Ipv6(c) => IpCidr::Ipv6(Ipv6Cidr::new(c.address(), 128)),
            })
            .collect();
        self.loopback_iface.update_ip_addrs(|addrs| {
            addrs.clear();
            // The loopback addresses first: they are the source of connections to 127.0.0.0/8.
            let _ = addrs.push(IpCidr::Ipv4(Ipv4Cidr::new(Ipv4Addr::LOCALHOST, 8)));
            let _ = addrs.push(IpCidr::Ipv6(Ipv6Cidr::new(Ipv6Addr::LOCALHOST, 128)));
            for cidr in own {
                // The feature `iface-max-addr-count-8` leaves room for all of the wire's.
                let _ = addrs.push(cidr);
            }
        });
    }

    pub(crate) fn set_dns_servers(&mut self, mut servers: Vec<IpAddr>) {
        servers.truncate(3);
        let smol: Vec<IpAddress> = servers.iter().map(|&s| s.into()).collect();
        self.sockets.wire.get_mut::<dns::Socket>(self.dns).update_servers(&smol);
        self.dns_servers = servers;
    }

    /// Does everything due at `now`: takes in the frames the device has received (up to a
    /// bound), handles DHCP, runs the sockets' timers, reclaims closed sockets, and sends what is
    /// queued; then carries what sockets sent over loopback to their peers until nothing is
    /// left in flight (up to a bound). Returns when it should be called next at the latest
    /// (`None`: only when a frame arrives or a socket call was made); it may be called
    /// earlier, harmlessly.
    ///
    /// A returned time that is not after `now` means "again, at once": this poll changed what
    /// sockets can do (a frame arrived, something was sent, a packet went over loopback, the
    /// interface was configured) or left frames unread. An idle loop that polls before halting
    /// must not halt then, so that whoever waits on a socket gets to look at it first. Loopback
    /// traffic raises no interrupt: it moves only when the stack is polled.
    pub fn poll(&mut self, now: Instant) -> Option<Instant> {
        self.now = now;
        self.iface.poll_maintenance(now);
        let mut again = false;
        for taken in 0.. {
            if taken == MAX_FRAMES_PER_POLL {
                again = true;
                break;
            }
            match self.iface.poll_ingress_single(now, &mut self.device, &mut self.sockets.wire) {
                PollIngressSingleResult::None => break,
                PollIngressSingleResult::PacketProcessed => {}
                PollIngressSingleResult::SocketStateChanged => {
                    again = true;
                    // A listener whose listening socket just took a connection gets a fresh
                    // one before the next frame, which may be the next connection attempt.
                    #[cfg(feature = "tcp")]
                    self.tcp_after_ingress();
                }
            }
        }
        again |= self.poll_dhcp();
        #[cfg(feature = "tcp")]
        self.tcp_maintain();
        while self.iface.poll_egress(now, &mut self.device, &mut self.sockets.wire) != PollResult::None {
            again = true;
        }
        again |= self.poll_loopback();
        #[cfg(feature = "tcp")]
        self.tcp_reclaim();
        if again {
            return Some(now);
        }
        let next = earliest(
            self.iface.poll_at(now, &self.sockets.wire),
            self.loopback_iface.poll_at(now, &self.sockets.loopback),
        );
        #[cfg(feature = "tcp")]
        let next = earliest(next, self.tcp_deadline());
        next
    }

    /// Sends what loopback's sockets have queued and takes it in, in rounds, until a round
    /// moves nothing or [`MAX_FRAMES_PER_POLL`] packets have been taken in (the rest wait in
    /// the device for the next poll); whether any packet moved.
    ///
    /// Connections are looked at after each half of a round, so that they tell a close while
    /// sending (a timeout) from one while taking in (a reset, a refusal), as on the wire.
    fn poll_loopback(&mut self) -> bool {
        let now = self.now;
        self.loopback_iface.poll_maintenance(now);
        let mut moved = false;
        let mut taken = 0;
        while taken < MAX_FRAMES_PER_POLL {
            let mut sent = false;
            while self.loopback_iface.poll_egress(now, &mut self.loopback, &mut self.sockets.loopback)
                != PollResult::None
            {
                sent = true;
            }
            #[cfg(feature = "tcp")]
            if sent {
                self.tcp_observe(Iface::Loopback, true);
            }
            let before = taken;
            while taken < MAX_FRAMES_PER_POLL {
                match self.loopback_iface.poll_ingress_single(now, &mut self.loopback, &mut self.sockets.loopback) {
                    PollIngressSingleResult::None => break,
                    PollIngressSingleResult::PacketProcessed => taken += 1,
                    PollIngressSingleResult::SocketStateChanged => {
                        taken += 1;
                        // As on the wire: a listener gets a fresh listening socket before the
                        // next packet, which may be the next connection attempt.
                        #[cfg(feature = "tcp")]
                        self.tcp_after_ingress();
                    }
                }
            }
            if taken == before && !sent {
                break;
            }
            moved = true;
            #[cfg(feature = "tcp")]
            if taken > before {
                self.tcp_observe(Iface::Loopback, false);
            }
        }
        moved
    }

    /// Applies what DHCP has to say; whether it said anything.
    fn poll_dhcp(&mut self) -> bool {
        let Some(handle) = self.dhcp else { return false };
        let event = match self.sockets.wire.get_mut::<dhcpv4::Socket>(handle).poll() {
            None => return false,
            Some(dhcpv4::Event::Configured(config)) => {
                Some((config.address, config.router, config.dns_servers.iter().map(|&s| IpAddr::V4(s)).collect()))
            }
            Some(dhcpv4::Event::Deconfigured) => None,
        };
        let routes = self.iface.routes_mut();
        routes.remove_default_ipv4_route();
        self.iface.update_ip_addrs(|addrs| addrs.retain(|cidr| !matches!(cidr, IpCidr::Ipv4(_))));
        match event {
            Some((address, router, dns_servers)) => {
                let _ = self.add_address(IpCidr::Ipv4(address));
                if let Some(router) = router {
                    let _ = self.iface.routes_mut().add_default_ipv4_route(router);
                }
                self.set_dns_servers(dns_servers);
            }
            None => self.set_dns_servers(Vec::new()),
        }
        self.sync_loopback();
        true
    }

    /// The IP configuration the wire interface has now (loopback's never changes: 127.0.0.1/8,
    /// ::1/128 and the wire's addresses).
    pub fn ip_config(&self) -> IpConfig {
        let addresses =
            self.iface.ip_addrs().iter().map(|cidr| (IpAddr::from(cidr.address()), cidr.prefix_len())).collect();
        let routes = self.iface.routes();
        let gateways = [routes.get_default_ipv4_route(), routes.get_default_ipv6_route()]
            .into_iter()
            .flatten()
            .map(|route| IpAddr::from(route.via_router))
            .collect();
        IpConfig { addresses, gateways, dns_servers: self.dns_servers.clone(), dhcp: self.dhcp.is_some() }
    }

    /// Whether the interface has an IPv4 address or an IPv6 address beyond link-local: with
    /// DHCP, whether it has finished. An embedder may wait for this before starting the
    /// application.
    pub fn is_configured(&self) -> bool {
        self.iface.ip_addrs().iter().any(|cidr| match cidr {
            IpCidr::Ipv4(_) => true,
            IpCidr::Ipv6(c) => !is_link_local(c.address()),
        })
    }

    /// The device's frame counters (loopback traffic is not counted).
    pub fn stats(&self) -> Stats {
        self.device.stats()
    }

    /// The device, e.g. to acknowledge its interrupts.
    pub fn device_mut(&mut self) -> &mut D {
        &mut self.device.inner
    }

    /// How many TCP and UDP sockets the stack holds now (lingering and not yet accepted
    /// connections included).
    pub fn socket_count(&self) -> usize {
        self.socket_count
    }

    // ---- for the socket modules

    pub(crate) fn new_id(&mut self) -> SocketId {
        let id = SocketId(self.next_id);
        self.next_id += 1;
        id
    }

    /// Adds a TCP or UDP socket to `iface`'s set, counting it against the limit.
    #[cfg(any(feature = "tcp", feature = "udp"))]
    pub(crate) fn add_socket<S: AnySocket<'static>>(&mut self, iface: Iface, socket: S) -> Result<Handle, Error> {
        if self.socket_count >= self.options.max_sockets {
            return Err(Error::SocketLimit);
        }
        self.socket_count += 1;
        Ok(Handle { iface, handle: self.sockets.set_mut(iface).add(socket) })
    }

    /// Removes a socket [`add_socket`](Stack::add_socket) added.
    #[cfg(any(feature = "tcp", feature = "udp"))]
    pub(crate) fn remove_socket(&mut self, handle: Handle) {
        self.sockets.set_mut(handle.iface).remove(handle.handle);
        self.socket_count -= 1;
    }

    /// An interface with the socket set beside it, to make or connect a socket on it.
    #[cfg(feature = "tcp")]
    pub(crate) fn iface_and_sockets(&mut self, iface: Iface) -> (&mut Interface, &mut Sockets) {
        match iface {
            Iface::Wire => (&mut self.iface, &mut self.sockets),
            Iface::Loopback => (&mut self.loopback_iface, &mut self.sockets),
        }
    }

    /// Whether `address` is one of the wire interface's addresses.
    #[cfg(any(feature = "tcp", feature = "udp"))]
    pub(crate) fn is_own(&self, address: IpAddr) -> bool {
        self.iface.has_ip_addr(IpAddress::from(address))
    }

    /// Which interface packets to `destination` leave by: loopback for a loopback address or
    /// one of the host's own, else the wire.
    #[cfg(any(feature = "tcp", feature = "udp"))]
    pub(crate) fn route(&self, destination: IpAddr) -> Iface {
        if is_loopback(destination) || self.is_own(destination) { Iface::Loopback } else { Iface::Wire }
    }

    /// The interfaces a socket bound to `local` needs a smoltcp socket on, to hear everything
    /// addressed to it: loopback alone for a loopback address, both for an unspecified address
    /// or one of the wire's (the host talking to itself arrives over loopback).
    #[cfg(any(feature = "tcp", feature = "udp"))]
    pub(crate) fn ifaces_for(&self, local: IpAddr) -> &'static [Iface] {
        if is_loopback(local) { &[Iface::Loopback] } else { &Iface::BOTH }
    }

    /// Whether a socket may bind to `address`: unspecified, a loopback address (all of
    /// 127.0.0.0/8, and ::1), or one of the wire interface's.
    #[cfg(any(feature = "tcp", feature = "udp"))]
    pub(crate) fn is_bindable(&self, address: IpAddr) -> bool {
        address.is_unspecified() || is_loopback(address) || self.is_own(address)
    }

    /// Whether packets to `destination` have somewhere to go: always over loopback (a loopback
    /// address or one of the host's own); on the wire, an address of its family on the
    /// interface and either a prefix containing it or a default gateway for the family.
    #[cfg(any(feature = "tcp", feature = "udp"))]
    pub(crate) fn is_routable(&self, destination: IpAddr) -> bool {
        if self.route(destination) == Iface::Loopback {
            return true;
        }
        let destination = IpAddress::from(destination);
        let family = destination.version();
        let on_link = self
            .iface
            .ip_addrs()
            .iter()
            .any(|cidr| cidr.address().version() == family && cidr.contains_addr(&destination));
        if on_link {
            return true;
        }
        let has_source = self.iface.ip_addrs().iter().any(|cidr| match (cidr, destination) {
            (IpCidr::Ipv4(_), IpAddress::Ipv4(_)) => true,
            (IpCidr::Ipv6(c), IpAddress::Ipv6(_)) => !is_link_local(c.address()),
            _ => false,
        });
        let routes = self.iface.routes();
        let gateway = match destination {
            IpAddress::Ipv4(_) => routes.get_default_ipv4_route().is_some(),
            IpAddress::Ipv6(_) => routes.get_default_ipv6_route().is_some(),
        };
        has_source && gateway
    }

    /// The IP MTU of `iface` for an address of `family`, less the IP header (an IPv4 packet
    /// holds at most 65535 bytes, header included).
    #[cfg(feature = "udp")]
    pub(crate) fn max_ip_payload(&self, iface: Iface, family: Family) -> usize {
        let mtu = match iface {
            // Ethernet devices count the 14-byte Ethernet header in their MTU.
            Iface::Wire => self.device.inner.capabilities().max_transmission_unit.saturating_sub(14),
            Iface::Loopback => self.loopback.capabilities().max_transmission_unit,
        };
        match family {
            Family::Ipv4 => mtu.min(usize::from(u16::MAX)).saturating_sub(20),
            Family::Ipv6 => mtu.saturating_sub(40),
        }
    }

    /// A port of the ephemeral range for which `used` is false, if any. The search starts at a
    /// pseudo-random point, so that ports are hard to predict.
    #[cfg(any(feature = "tcp", feature = "udp"))]
    pub(crate) fn ephemeral_port(&mut self, used: impl Fn(u16) -> bool) -> Option<u16> {
        // xorshift64
        self.random ^= self.random << 13;
        self.random ^= self.random >> 7;
        self.random ^= self.random << 17;
        let count = u32::from(u16::MAX - EPHEMERAL_FIRST) + 1;
        let start = (self.random % u64::from(count)) as u32;
        (0..count).map(|i| EPHEMERAL_FIRST + ((start + i) % count) as u16).find(|&port| !used(port))
    }
}

/// Whether two bindings of the same family overlap: the same address, or either unspecified.
#[cfg(any(feature = "tcp", feature = "udp"))]
pub(crate) fn overlaps(a: IpAddr, b: IpAddr) -> bool {
    Family::of(a) == Family::of(b) && (a == b || a.is_unspecified() || b.is_unspecified())
}

fn is_link_local(address: Ipv6Addr) -> bool {
    address.segments()[0] & 0xffc0 == 0xfe80
}

/// 127.0.0.0/8 and ::1.
pub(crate) fn is_loopback(address: IpAddr) -> bool {
    address.is_loopback()
}

fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}
