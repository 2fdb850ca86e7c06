//! virtio-console with multiport, driving port 1 as a raw byte pipe to the host: what the
//! console channel (`crate::channel`) runs over (QEMU's `virtserialport`).
//!
//! Why port 1 and multiport: QEMU drops what a *console* port (port 0, `virtconsole`) cannot
//! write at once to its host side, but holds a serial port's buffers until the host takes
//! them — and nothing written may be lost. Why not virtio-drivers' console driver: it drives
//! only port 0, moves one byte per call and waits for every send; this one keeps several large
//! buffers in flight each way over virtio-drivers' queues, so that megabytes of output cost a
//! few notifications.
//!
//! The control queues carry the multiport handshake (device ready, port ready, port open);
//! received bytes are announced by an interrupt (routed like the network's); whoever polls
//! calls [`ConsolePort::receive`] and [`ConsolePort::reclaim`]. Nothing here blocks but the
//! handshake's control messages, which QEMU takes at once.

use alloc::boxed::Box;
use alloc::vec;
use alloc::vec::Vec;
use virtio_drivers::queue::VirtQueue;
use virtio_drivers::transport::{DeviceType, SomeTransport, Transport};

use crate::drivers::virtio::{self, IdentityHal};

/// The port the channel uses, and its receive and transmit queues (port N: 2N + 2, 2N + 3).
const PORT: u32 = 1;
const RECEIVE_QUEUE: u16 = 4;
const TRANSMIT_QUEUE: u16 = 5;
/// The control queues: device to driver, driver to device.
const CONTROL_RECEIVE_QUEUE: u16 = 2;
const CONTROL_TRANSMIT_QUEUE: u16 = 3;
const QUEUE_SIZE: usize = 16;
const CONTROL_QUEUE_SIZE: usize = 4;
const CONTROL_BUFFERS: usize = 2;
const CONTROL_BUFFER_LEN: usize = 128;
const RECEIVE_BUFFERS: usize = 4;
const RECEIVE_BUFFER_LEN: usize = 16 * 1024;
const TRANSMIT_BUFFERS: usize = 8;
/// The most bytes one transmit buffer carries.
pub const TRANSMIT_BUFFER_LEN: usize = 64 * 1024;

type Queue = VirtQueue<IdentityHal, QUEUE_SIZE>;
type ControlQueue = VirtQueue<IdentityHal, CONTROL_QUEUE_SIZE>;

bitflags::bitflags! {
    /// The features this driver negotiates.
    #[derive(Copy, Clone, Debug, PartialEq, Eq)]
    struct Features: u64 {
        const MULTIPORT = 1 << 1;
        const VERSION_1 = 1 << 32;
    }
}

/// Control events (virtio 1.2, 5.3.6.2), `struct virtio_console_control { le32 id; le16 event;
/// le16 value; }`.
const DEVICE_READY: u16 = 0;
const DEVICE_ADD: u16 = 1;
const PORT_READY: u16 = 3;
const PORT_OPEN: u16 = 6;

fn control_message(id: u32, event: u16, value: u16) -> [u8; 8] {
    let mut message = [0u8; 8];
    message[..4].copy_from_slice(&id.to_le_bytes());
    message[4..6].copy_from_slice(&event.to_le_bytes());
    message[6..].copy_from_slice(&value.to_le_bytes());
    message
}

struct Slot {
    buffer: Box<[u8]>,
    /// The queue's token while the device holds the buffer, and (transmit) how many bytes.
    in_flight: Option<(u16, usize)>,
}

pub struct ConsolePort {
    transport: SomeTransport<'static>,
    receive_queue: Queue,
    transmit_queue: Queue,
    control_receive_queue: ControlQueue,
    control_transmit_queue: ControlQueue,
    receive_slots: Vec<Slot>,
    transmit_slots: Vec<Slot>,
    control_slots: Vec<Slot>,
    /// The port is announced and opened on our side.
    pub opened: bool,
    /// The interrupt line (GSI) the device raises.
    pub gsi: u32,
}

impl ConsolePort {
    /// The first virtio-console device with multiport, on PCI or virtio-mmio (`announced`:
    /// the slots QEMU named on the command line), with its buffers posted and port 1 opened
    /// (if the device has announced it yet).
    pub fn probe(announced: &[(u64, u32)]) -> Result<Self, &'static str> {
        let found = virtio::find(DeviceType::Console, announced).ok_or("the VM has no virtio-console device")?;
        let mut transport = found.transport;
        let features = transport.begin_init(Features::MULTIPORT | Features::VERSION_1);
        if !features.contains(Features::MULTIPORT) {
            return Err("the virtio-console device does not offer multiple ports");
        }
        let unusable = "the virtio-console device's queues cannot be set up";
        let receive_queue = Queue::new(&mut transport, RECEIVE_QUEUE, false, false).map_err(|_| unusable)?;
        let transmit_queue = Queue::new(&mut transport, TRANSMIT_QUEUE, false, false).map_err(|_| unusable)?;
        let control_receive_queue =
            ControlQueue::new(&mut transport, CONTROL_RECEIVE_QUEUE, false, false).map_err(|_| unusable)?;
        let control_transmit_queue =
            ControlQueue::new(&mut transport, CONTROL_TRANSMIT_QUEUE, false, false).map_err(|_| unusable)?;
        transport.finish_init();
        let slots = |count, len| -> Vec<Slot> {
            (0..count).map(|_| Slot { buffer: vec![0u8; len].into_boxed_slice(), in_flight: None }).collect()
        };
        let mut port = ConsolePort {
            transport,
            receive_queue,
            transmit_queue,
            control_receive_queue,
            control_transmit_queue,
            receive_slots: slots(RECEIVE_BUFFERS, RECEIVE_BUFFER_LEN),
            transmit_slots: slots(TRANSMIT_BUFFERS, TRANSMIT_BUFFER_LEN),
            control_slots: slots(CONTROL_BUFFERS, CONTROL_BUFFER_LEN),
            opened: false,
            gsi: found.gsi,
        };
        for index in 0..RECEIVE_BUFFERS {
            port.post_receive(index).ok_or(unusable)?;
        }
        for index in 0..CONTROL_BUFFERS {
            port.post_control(index).ok_or(unusable)?;
        }
        // The device answers at once with the ports it has (QEMU handles control messages as
        // they are sent); port 1 is ready and opened when its announcement is read.
        port.send_control(control_message(0, DEVICE_READY, 1)).ok_or(unusable)?;
        port.take_control();
        Ok(port)
    }

    fn post_receive(&mut self, index: usize) -> Option<()> {
        let slot = &mut self.receive_slots[index];
        // SAFETY: the buffer is a boxed slice owned by this port that is neither moved, read
        // nor freed while the device holds it (until `pop_used` returns it in `receive`).
        let token = unsafe { self.receive_queue.add(&[], &mut [&mut slot.buffer[..]]) }.ok()?;
        slot.in_flight = Some((token, 0));
        if self.receive_queue.should_notify() {
            self.transport.notify(RECEIVE_QUEUE);
        }
        Some(())
    }

    fn post_control(&mut self, index: usize) -> Option<()> {
        let slot = &mut self.control_slots[index];
        // SAFETY: as for `post_receive`, until `take_control` pops it.
        let token = unsafe { self.control_receive_queue.add(&[], &mut [&mut slot.buffer[..]]) }.ok()?;
        slot.in_flight = Some((token, 0));
        if self.control_receive_queue.should_notify() {
            self.transport.notify(CONTROL_RECEIVE_QUEUE);
        }
        Some(())
    }

    /// Sends a control message and waits for the device to take it (QEMU does so at once).
    fn send_control(&mut self, message: [u8; 8]) -> Option<()> {
        self.control_transmit_queue.add_notify_wait_pop(&[&message], &mut [], &mut self.transport).ok()?;
        Some(())
    }

    /// Reads the device's control messages: when it announces port 1, says the port is ready
    /// and open (which makes the device pass data both ways).
    fn take_control(&mut self) {
        while let Some(token) = self.control_receive_queue.peek_used() {
            let Some(index) = self.control_slots.iter().position(|s| matches!(s.in_flight, Some((t, _)) if t == token))
            else {
                return;
            };
            let slot = &mut self.control_slots[index];
            // SAFETY: the same buffer `post_control` added with this token.
            let len = unsafe { self.control_receive_queue.pop_used(token, &[], &mut [&mut slot.buffer[..]]) };
            slot.in_flight = None;
            let message = &slot.buffer[..len.map_or(0, |l| l as usize).min(CONTROL_BUFFER_LEN)];
            let announced_port = match message {
                [a, b, c, d, e0, e1, ..] if u16::from_le_bytes([*e0, *e1]) == DEVICE_ADD => {
                    u32::from_le_bytes([*a, *b, *c, *d]) == PORT
                }
                _ => false,
            };
            let _ = self.post_control(index);
            if announced_port && !self.opened {
                self.opened = self.send_control(control_message(PORT, PORT_READY, 1)).is_some()
                    && self.send_control(control_message(PORT, PORT_OPEN, 1)).is_some();
                // Tell the device its receive buffers are there now that the port is open:
                // QEMU looks at the host side for input again only when the receive queue is
                // kicked (the buffers were posted while the port was closed), else at its
                // main loop's next wake-up, tens of milliseconds later.
                self.transport.notify(RECEIVE_QUEUE);
            }
        }
    }

    /// Acknowledges the device's interrupt, lowering its line so that the next event raises it
    /// again.
    pub fn acknowledge_interrupt(&mut self) {
        self.transport.ack_interrupt();
    }

    /// Hands every received chunk to `each`, in order, and posts the buffers again (and
    /// handles the device's control messages).
    pub fn receive(&mut self, mut each: impl FnMut(&[u8])) {
        self.take_control();
        while let Some(token) = self.receive_queue.peek_used() {
            let Some(index) = self.receive_slots.iter().position(|s| matches!(s.in_flight, Some((t, _)) if t == token))
            else {
                return; // not ours: nothing sane to do but stop looking
            };
            let slot = &mut self.receive_slots[index];
            // SAFETY: the same buffer `post_receive` added with this token.
            let len = unsafe { self.receive_queue.pop_used(token, &[], &mut [&mut slot.buffer[..]]) };
            slot.in_flight = None;
            if let Ok(len) = len {
                each(&slot.buffer[..(len as usize).min(slot.buffer.len())]);
            }
            let _ = self.post_receive(index);
        }
    }

    /// Whether received bytes or control messages wait to be taken by
    /// [`receive`](Self::receive).
    pub fn has_received(&self) -> bool {
        self.receive_queue.can_pop() || self.control_receive_queue.can_pop()
    }

    /// Frees the transmit buffers the device is done with.
    pub fn reclaim(&mut self) {
        while let Some(token) = self.transmit_queue.peek_used() {
            let Some(slot) = self.transmit_slots.iter_mut().find(|s| matches!(s.in_flight, Some((t, _)) if t == token))
            else {
                return;
            };
            let (_, len) = slot.in_flight.take().unwrap_or_default();
            // SAFETY: the same buffer (and length) `send` added with this token.
            let _ = unsafe { self.transmit_queue.pop_used(token, &[&slot.buffer[..len]], &mut []) };
        }
    }

    /// Whether a transmit buffer is free for [`send`](Self::send).
    pub fn can_send(&self) -> bool {
        self.transmit_slots.iter().any(|s| s.in_flight.is_none())
    }

    /// Whether the device still holds bytes given to [`send`](Self::send) (QEMU has not yet
    /// written them to its side).
    pub fn is_sending(&self) -> bool {
        self.transmit_slots.iter().any(|s| s.in_flight.is_some())
    }

    /// Sends the concatenation of `parts` (at most [`TRANSMIT_BUFFER_LEN`] bytes) in one buffer;
    /// false if no buffer is free (call [`reclaim`](Self::reclaim) first).
    pub fn send(&mut self, parts: &[&[u8]]) -> bool {
        let Some(slot) = self.transmit_slots.iter_mut().find(|s| s.in_flight.is_none()) else {
            return false;
        };
        let mut len = 0;
        for part in parts {
            let end = (len + part.len()).min(slot.buffer.len());
            slot.buffer[len..end].copy_from_slice(&part[..end - len]);
            len = end;
        }
        if len == 0 {
            return true;
        }
        // SAFETY: the buffer is owned by this port and left untouched until `reclaim` pops it.
        let Ok(token) = (unsafe { self.transmit_queue.add(&[&slot.buffer[..len]], &mut []) }) else {
            return false;
        };
        slot.in_flight = Some((token, len));
        if self.transmit_queue.should_notify() {
            self.transport.notify(TRANSMIT_QUEUE);
        }
        true
    }
}
