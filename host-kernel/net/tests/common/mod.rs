//! What the tests share: an in-memory Ethernet cable between two ports, and two stacks joined by
//! it, driven on a virtual clock (so that timeouts of a minute take no time).

#![allow(dead_code)] // each test file uses a different part of this module

use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration as StdDuration;

use morgana_net::smoltcp::phy::{Device, DeviceCapabilities, Medium, RxToken, TxToken};
use morgana_net::smoltcp::time::{Duration, Instant};
use morgana_net::{Error, Family, NetConfig, SocketId, Stack, StackOptions, StaticConfig};

/// Frames on their way to one port.
#[derive(Default)]
pub struct Queue {
    frames: Mutex<VecDeque<Vec<u8>>>,
    arrived: Condvar,
}

impl Queue {
    pub fn push(&self, frame: Vec<u8>) {
        self.frames.lock().unwrap().push_back(frame);
        self.arrived.notify_all();
    }

    pub fn pop(&self) -> Option<Vec<u8>> {
        self.frames.lock().unwrap().pop_front()
    }

    pub fn is_empty(&self) -> bool {
        self.frames.lock().unwrap().is_empty()
    }

    /// Waits until a frame is there or `timeout` has passed: the "interrupt" of the tests.
    pub fn wait(&self, timeout: StdDuration) {
        let frames = self.frames.lock().unwrap();
        if frames.is_empty() {
            let _ = self.arrived.wait_timeout(frames, timeout).unwrap();
        }
    }
}

/// One end of a cable: an Ethernet device. Frames it sends arrive at the other end, unless
/// the cable is cut.
#[derive(Clone)]
pub struct Port {
    pub inbox: Arc<Queue>,
    pub outbox: Arc<Queue>,
    pub cut: Arc<AtomicBool>,
}

pub const MTU: usize = 1514;

/// Two ports joined by a cable.
pub fn cable() -> (Port, Port) {
    let (x, y) = (Arc::new(Queue::default()), Arc::new(Queue::default()));
    let cut = Arc::new(AtomicBool::new(false));
    let a = Port { inbox: x.clone(), outbox: y.clone(), cut: cut.clone() };
    let b = Port { inbox: y, outbox: x, cut };
    (a, b)
}

impl Port {
    /// Sends a raw frame to the other end.
    pub fn send_frame(&self, frame: Vec<u8>) {
        if !self.cut.load(Ordering::SeqCst) {
            self.outbox.push(frame);
        }
    }

    /// Cuts the cable: frames in flight are lost, and nothing passes any more.
    pub fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        while self.inbox.pop().is_some() {}
        while self.outbox.pop().is_some() {}
    }
}

pub struct PortRx(Vec<u8>);
pub struct PortTx(Port);

impl RxToken for PortRx {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.0)
    }
}

impl TxToken for PortTx {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut frame = vec![0; len];
        let result = f(&mut frame);
        self.0.send_frame(frame);
        result
    }
}

impl Device for Port {
    type RxToken<'a> = PortRx;
    type TxToken<'a> = PortTx;

    fn receive(&mut self, _: Instant) -> Option<(PortRx, PortTx)> {
        let frame = self.inbox.pop()?;
        Some((PortRx(frame), PortTx(self.clone())))
    }

    fn transmit(&mut self, _: Instant) -> Option<PortTx> {
        Some(PortTx(self.clone()))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = MTU;
        caps
    }
}

pub const SERVER_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
pub const CLIENT_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];
pub const SERVER_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
pub const CLIENT_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

pub fn static_config(address: Ipv4Addr, dns: &[Ipv4Addr]) -> NetConfig {
    NetConfig::Static(StaticConfig {
        address: IpAddr::V4(address),
        prefix_len: 24,
        gateway: None,
        dns_servers: dns.iter().map(|&d| IpAddr::V4(d)).collect(),
    })
}

/// A server stack (10.0.0.1) and a client stack (10.0.0.2) on one cable, and a virtual clock.
pub struct Net {
    pub server: Stack<Port>,
    pub client: Stack<Port>,
    pub server_port: Port,
    pub client_port: Port,
    pub now: Instant,
}

impl Net {
    pub fn new(server_options: StackOptions) -> Net {
        Net::with(server_options, StackOptions::default(), static_config(SERVER_IP, &[]), static_config(CLIENT_IP, &[]))
    }

    pub fn with(
        server_options: StackOptions,
        client_options: StackOptions,
        server_config: NetConfig,
        client_config: NetConfig,
    ) -> Net {
        let (a, b) = cable();
        let now = Instant::from_secs(1000);
        let server = Stack::new(a.clone(), SERVER_MAC, server_config, server_options, now, 1).unwrap();
        let client = Stack::new(b.clone(), CLIENT_MAC, client_config, client_options, now, 2).unwrap();
        Net { server, client, server_port: a, client_port: b, now }
    }

    /// Polls both stacks until no frame is in flight and neither wants to be polled again at
    /// once; returns the earliest deadline.
    pub fn settle(&mut self) -> Option<Instant> {
        for _ in 0..10_000 {
            let a = self.server.poll(self.now);
            let b = self.client.poll(self.now);
            let next = [a, b].into_iter().flatten().min();
            let idle = self.server_port.inbox.is_empty() && self.server_port.outbox.is_empty();
            if idle && next.is_none_or(|next| next > self.now) {
                return next;
            }
        }
        panic!("the stacks never settle");
    }

    fn frames_sent(&self) -> u64 {
        self.server.stats().tx_frames + self.client.stats().tx_frames
    }

    /// Runs the network (and `step`, the test's side of it, after each round) until `step`
    /// returns `Some`. Time stands still while frames flow, and jumps to the next deadline
    /// (at least 1 ms, at most 1 s) when nothing happens. Panics after `limit` of virtual time.
    pub fn run<T>(&mut self, limit: Duration, mut step: impl FnMut(&mut Net) -> Option<T>) -> T {
        let end = self.now + limit;
        loop {
            let before = self.frames_sent();
            self.settle();
            if let Some(result) = step(self) {
                return result;
            }
            let next = self.settle();
            if self.frames_sent() != before {
                continue;
            }
            let next = next.unwrap_or(self.now + Duration::from_secs(1));
            let next = next.max(self.now + Duration::from_millis(1)).min(self.now + Duration::from_secs(1));
            self.now = next;
            assert!(self.now <= end, "not done after {limit}");
        }
    }

    /// Lets `duration` of virtual time pass with the network running.
    pub fn pass(&mut self, duration: Duration) {
        let end = self.now + duration;
        self.run(duration + Duration::from_secs(2), |net| (net.now >= end).then_some(()));
    }
}

pub fn v4(ip: Ipv4Addr, port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(ip), port)
}

/// A listening socket on `stack`'s `port`.
pub fn listen(stack: &mut Stack<Port>, port: u16, backlog: u32) -> SocketId {
    let id = stack.tcp_open(Family::Ipv4).unwrap();
    stack.tcp_bind(id, v4(Ipv4Addr::UNSPECIFIED, port)).unwrap();
    stack.tcp_listen(id, backlog).unwrap();
    id
}

/// Connects the client to `to` and waits for the outcome.
pub fn connect(net: &mut Net, to: SocketAddr) -> Result<SocketId, Error> {
    let id = net.client.tcp_open(Family::of_addr(to.ip())).unwrap();
    net.client.tcp_connect(id, to)?;
    net.run(Duration::from_secs(120), |net| net.client.tcp_connect_result(id)).map(|()| id)
}

pub trait FamilyOf {
    fn of_addr(ip: IpAddr) -> Family;
}

impl FamilyOf for Family {
    fn of_addr(ip: IpAddr) -> Family {
        match ip {
            IpAddr::V4(_) => Family::Ipv4,
            IpAddr::V6(_) => Family::Ipv6,
        }
    }
}

/// Deterministic test data.
pub fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect()
}

/// Echo service on the server stack: accepts what `listener` has, echoes every connection,
/// closes those whose peer finished. Call once per round of [`Net::run`].
#[derive(Default)]
pub struct Echo {
    pub connections: Vec<(SocketId, Vec<u8>)>,
    pub accepted: usize,
    pub closed: usize,
}

impl Echo {
    pub fn step(&mut self, stack: &mut Stack<Port>, listener: SocketId) {
        while let Some(id) = stack.tcp_accept(listener).unwrap() {
            self.accepted += 1;
            self.connections.push((id, Vec::new()));
        }
        let mut i = 0;
        while i < self.connections.len() {
            let (id, pending) = &mut self.connections[i];
            let id = *id;
            let mut finished = false;
            while pending.len() < 1 << 20 {
                match stack.tcp_recv(id, 65536) {
                    Ok(Some(data)) if data.is_empty() => break,
                    Ok(Some(data)) => pending.extend_from_slice(&data),
                    Ok(None) | Err(_) => {
                        finished = true;
                        break;
                    }
                }
            }
            if !pending.is_empty() {
                match stack.tcp_send(id, pending) {
                    Ok(n) => {
                        pending.drain(..n);
                    }
                    Err(_) => pending.clear(),
                }
            }
            if finished && pending.is_empty() {
                stack.tcp_close(id);
                self.closed += 1;
                self.connections.swap_remove(i);
            } else {
                i += 1;
            }
        }
    }
}
