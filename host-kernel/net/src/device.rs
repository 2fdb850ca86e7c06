//! A device wrapper that counts frames, and how many arriving ones are malformed; and
//! [`NoDevice`], for a stack without a network device.
//!
//! The malformed count is informational: smoltcp itself drops what it cannot parse (this
//! wrapper hands such frames on unchanged). A frame is counted as malformed when it is shorter
//! than an Ethernet header, longer than the device's MTU, or carries an IPv4 header that does
//! not parse or whose checksum is wrong, an IPv6 header that does not parse, or an ARP packet
//! that does not parse. A frame whose IP source or destination is a loopback address
//! (127.0.0.0/8, ::1) is counted too, and dropped here: such addresses never come from the wire
//! (Linux drops these "martians" as well), so a peer on the wire cannot pass for the host
//! itself.

use smoltcp::phy::{Device, DeviceCapabilities, Medium, RxToken, TxToken};
use smoltcp::time::Instant;
use smoltcp::wire::{ArpPacket, EthernetFrame, EthernetProtocol, Ipv4Packet, Ipv6Packet};

/// The device's frame counters since the stack was made (traffic over loopback is not counted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    pub rx_frames: u64,
    pub rx_bytes: u64,
    /// Received frames that are dropped: malformed ones (too short or too long, or with an ARP,
    /// IPv4 or IPv6 header that does not parse, or a wrong IPv4 header checksum), and those
    /// whose IP source or destination is a loopback address, which no frame from the wire may
    /// carry.
    pub rx_malformed: u64,
    pub tx_frames: u64,
    pub tx_bytes: u64,
}

pub(crate) struct Counting<D> {
    pub inner: D,
    rx: RxStats,
    tx: TxStats,
    mtu: usize,
}

#[derive(Default)]
struct RxStats {
    frames: u64,
    bytes: u64,
    malformed: u64,
}

#[derive(Default)]
struct TxStats {
    frames: u64,
    bytes: u64,
}

impl<D: Device> Counting<D> {
    pub fn new(inner: D) -> Self {
        let mtu = inner.capabilities().max_transmission_unit;
        Counting { inner, rx: RxStats::default(), tx: TxStats::default(), mtu }
    }

    pub fn stats(&self) -> Stats {
        Stats {
            rx_frames: self.rx.frames,
            rx_bytes: self.rx.bytes,
            rx_malformed: self.rx.malformed,
            tx_frames: self.tx.frames,
            tx_bytes: self.tx.bytes,
        }
    }
}

/// Whether an IP packet in the frame has a loopback source or destination.
fn is_martian(frame: &[u8]) -> bool {
    let Ok(ethernet) = EthernetFrame::new_checked(frame) else {
        return false;
    };
    let payload = ethernet.payload();
    match ethernet.ethertype() {
        EthernetProtocol::Ipv4 => Ipv4Packet::new_checked(payload)
            .is_ok_and(|packet| packet.src_addr().is_loopback() || packet.dst_addr().is_loopback()),
        EthernetProtocol::Ipv6 => Ipv6Packet::new_checked(payload)
            .is_ok_and(|packet| packet.src_addr().is_loopback() || packet.dst_addr().is_loopback()),
        _ => false,
    }
}

fn is_malformed(frame: &[u8], mtu: usize) -> bool {
    if frame.len() > mtu {
        return true;
    }
    let Ok(ethernet) = EthernetFrame::new_checked(frame) else {
        return true;
    };
    let payload = ethernet.payload();
    match ethernet.ethertype() {
        EthernetProtocol::Ipv4 => match Ipv4Packet::new_checked(payload) {
            Ok(packet) => !packet.verify_checksum(),
            Err(_) => true,
        },
        EthernetProtocol::Ipv6 => Ipv6Packet::new_checked(payload).is_err(),
        EthernetProtocol::Arp => ArpPacket::new_checked(payload).is_err(),
        EthernetProtocol::Unknown(_) => false,
    }
}

pub(crate) struct CountingRx<'a, R> {
    inner: R,
    stats: &'a mut RxStats,
    mtu: usize,
}

impl<R: RxToken> RxToken for CountingRx<'_, R> {
    fn consume<T, F: FnOnce(&[u8]) -> T>(self, f: F) -> T {
        let CountingRx { inner, stats, mtu } = self;
        inner.consume(|frame| {
            stats.frames += 1;
            stats.bytes += frame.len() as u64;
            if is_malformed(frame, mtu) {
                stats.malformed += 1;
            } else if is_martian(frame) {
                stats.malformed += 1;
                // An empty frame, which smoltcp drops.
                return f(&[]);
            }
            f(frame)
        })
    }

    fn meta(&self) -> smoltcp::phy::PacketMeta {
        self.inner.meta()
    }
}

pub(crate) struct CountingTx<'a, T> {
    inner: T,
    stats: &'a mut TxStats,
}

impl<T: TxToken> TxToken for CountingTx<'_, T> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        self.stats.frames += 1;
        self.stats.bytes += len as u64;
        self.inner.consume(len, f)
    }

    fn set_meta(&mut self, meta: smoltcp::phy::PacketMeta) {
        self.inner.set_meta(meta)
    }
}

impl<D: Device> Device for Counting<D> {
    type RxToken<'a>
        = CountingRx<'a, D::RxToken<'a>>
    where
        Self: 'a;
    type TxToken<'a>
        = CountingTx<'a, D::TxToken<'a>>
    where
        Self: 'a;

    fn receive(&mut self, timestamp: Instant) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        // The receive and transmit counts are separate fields, so each token borrows its own.
        let (rx, tx) = self.inner.receive(timestamp)?;
        let rx = CountingRx { inner: rx, stats: &mut self.rx, mtu: self.mtu };
        let tx = CountingTx { inner: tx, stats: &mut self.tx };
        Some((rx, tx))
    }

    fn transmit(&mut self, timestamp: Instant) -> Option<Self::TxToken<'_>> {
        let tx = self.inner.transmit(timestamp)?;
        Some(CountingTx { inner: tx, stats: &mut self.tx })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        self.inner.capabilities()
    }
}

/// An Ethernet device that is not there: it never receives and never transmits. A stack over
/// it, with [`NetConfig::Unconfigured`](crate::NetConfig::Unconfigured), serves loopback only:
/// what a VM without a network device has.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoDevice;

/// The tokens of [`NoDevice`], of which there are none.
#[derive(Debug)]
pub enum NoToken {}

impl RxToken for NoToken {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, _: F) -> R {
        match self {}
    }
}

impl TxToken for NoToken {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, _: usize, _: F) -> R {
        match self {}
    }
}

impl Device for NoDevice {
    type RxToken<'a> = NoToken;
    type TxToken<'a> = NoToken;

    fn receive(&mut self, _: Instant) -> Option<(NoToken, NoToken)> {
        None
    }

    fn transmit(&mut self, _: Instant) -> Option<NoToken> {
        None
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut capabilities = DeviceCapabilities::default();
        capabilities.medium = Medium::Ethernet;
        capabilities.max_transmission_unit = 1514;
        capabilities
    }
}
