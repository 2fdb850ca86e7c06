//! The network: the virtio-net device, found at boot with its interrupt routed to this CPU,
//! under `morgana-net`'s TCP/IP stack (DHCP-configured), with its loopback interface. The
//! executor's idle loop polls the stack before halting and halts no longer than the stack
//! asks; the device's interrupt wakes the CPU (or, arriving just before the halt, cancels it:
//! `time::wake_now`) and does nothing else. Loopback traffic needs no interrupt: a poll that
//! moved some asks to be polled again at once.
//!
//! A VM without a network device (`morgana run --net none`) still gets the stack, over an
//! absent device and without any address on it: the application's sockets work over loopback
//! (127.0.0.0/8, ::1), and everything else is unreachable.

use alloc::sync::Arc;

use morgana_image::boot_params::BootParams;
use morgana_net::smoltcp::time::Instant;
use morgana_net::{NetConfig, SharedStack, Stack, StackOptions, StaticConfig};

use crate::arch::{idt, ioapic};
use crate::drivers::virtio_net::{NetDevice, VirtioNet};
use crate::{kprintln, time};

/// The stack over the network device (or none), shared by the WASI host and the idle loop.
pub type Network = SharedStack<NetDevice>;

/// How long boot waits for DHCP before starting the application anyway.
const DHCP_WAIT_NS: u64 = 5_000_000_000;

/// A locally administered MAC address for the stack of a VM without a network device: it
/// never leaves the VM.
const ABSENT_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0];

/// Finds the virtio-net device, routes its interrupt, starts the stack (statically configured
/// by the `ip`, `gateway` and `dns` boot parameters, else by DHCP) and waits for DHCP. Without
/// a device, starts the stack at once for loopback alone. `None` only if the stack could not
/// start.
pub fn init(params: &BootParams, seed: u64, verbose: bool) -> Option<Arc<Network>> {
    let now = Instant::from_micros((time::now_ns() / 1000) as i64);
    let Some(device) = VirtioNet::probe(&params.virtio_mmio) else {
        let network = start(NetDevice::Absent, ABSENT_MAC, NetConfig::Unconfigured, now, seed)?;
        if verbose {
            kprintln!("[kernel] t={}us network: no device, loopback only", time::now_ns() / 1000);
        }
        return Some(network);
    };
    ioapic::route(device.gsi, idt::DEVICE_VECTOR);
    let mac = device.mac_address();
    let config = match params.ip {
        Some((address, prefix_len)) => NetConfig::Static(StaticConfig {
            address,
            prefix_len,
            gateway: params.gateway,
            dns_servers: params.dns.clone(),
        }),
        None => NetConfig::Dhcp,
    };
    let network = start(NetDevice::Virtio(device), mac, config, now, seed)?;
    let started = time::now_ns();
    while !network.with(|stack| stack.is_configured()) && time::now_ns() - started < DHCP_WAIT_NS {
        idle(&network);
    }
    let config = network.with(|stack| stack.ip_config());
    if !network.with(|stack| stack.is_configured()) {
        kprintln!("morgana kernel: warning: no DHCP answer after 5 s; the application starts without an address");
    } else if verbose {
        kprintln!("[kernel] t={}us network: {config}", time::now_ns() / 1000);
    }
    Some(network)
}

fn start(device: NetDevice, mac: [u8; 6], config: NetConfig, now: Instant, seed: u64) -> Option<Arc<Network>> {
    match Stack::new(device, mac, config, StackOptions::default(), now, seed) {
        Ok(stack) => Some(Arc::new(SharedStack::new(stack))),
        Err(e) => {
            kprintln!("morgana kernel: warning: the network stack could not start: {e}");
            None
        }
    }
}

/// Polls the stack, then halts until an interrupt or the earliest deadline (the stack's or
/// anyone's given to `time::wake_at`); returns at once when the stack has more to do now.
pub fn idle(network: &Network) {
    let now = time::now_ns();
    let next = network.poll_ns(now);
    // Acknowledge after polling (which may transmit and so raise the line again), then look
    // once more: a frame that arrived before the acknowledgement raised no new edge.
    let pending = network.with(|stack| {
        let device = stack.device_mut();
        device.acknowledge_interrupt();
        device.has_pending_frames()
    });
    match next {
        _ if pending => return,
        Some(next) if next <= now => return,
        Some(next) => time::wake_at(next),
        None => {}
    }
    time::idle();
}

/// After the application ended: sends the datagrams still queued and lets connections it closed
/// deliver what they still had to send (until their peers acknowledge, at most `DRAIN_NS`), so
/// its last answers are not lost when the VM stops.
pub fn drain(network: &Network) {
    const DRAIN_NS: u64 = 2_000_000_000;
    let started = time::now_ns();
    // Datagrams the application sent last still wait in their sockets' queues.
    network.poll_ns(started);
    while lingering(network) > 0 && time::now_ns() - started < DRAIN_NS {
        time::wake_at(started + DRAIN_NS);
        idle(network);
    }
}

#[cfg(feature = "wasi-sockets-tcp")]
fn lingering(network: &Network) -> usize {
    network.with(|stack| stack.tcp_lingering())
}

#[cfg(not(feature = "wasi-sockets-tcp"))]
fn lingering(_: &Network) -> usize {
    0
}
