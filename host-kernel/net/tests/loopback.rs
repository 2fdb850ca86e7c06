//! The loopback interface: a stack talking to itself over 127.0.0.0/8, ::1 and its own wire
//! addresses, never through the device; beside a second stack on the cable, and without any
//! device at all.

mod common;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use common::*;
use morgana_net::smoltcp::phy::ChecksumCapabilities;
use morgana_net::smoltcp::time::{Duration, Instant};
use morgana_net::smoltcp::wire::{
    EthernetAddress, EthernetFrame, EthernetProtocol, EthernetRepr, IpAddress, IpProtocol, Ipv4Packet, Ipv4Repr,
    UdpPacket, UdpRepr,
};
use morgana_net::{Error, Family, NetConfig, NoDevice, SocketId, Stack, StackOptions};

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const LOCALHOST6: IpAddr = IpAddr::V6(Ipv6Addr::LOCALHOST);
const ANY: IpAddr = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
const ANY6: IpAddr = IpAddr::V6(Ipv6Addr::UNSPECIFIED);
const MIB: usize = 1 << 20;

fn family(ip: IpAddr) -> Family {
    if ip.is_ipv4() { Family::Ipv4 } else { Family::Ipv6 }
}

fn tcp_listen<D: morgana_net::smoltcp::phy::Device>(stack: &mut Stack<D>, at: SocketAddr) -> SocketId {
    let id = stack.tcp_open(family(at.ip())).unwrap();
    stack.tcp_bind(id, at).unwrap();
    stack.tcp_listen(id, 8).unwrap();
    id
}

/// Frames the server stack has sent on the cable so far.
fn server_frames(net: &Net) -> u64 {
    net.server.stats().tx_frames
}

/// Connects the server stack to `to` (over loopback, for these addresses) and waits for the
/// outcome.
fn self_connect(net: &mut Net, to: SocketAddr) -> Result<SocketId, Error> {
    let id = net.server.tcp_open(family(to.ip())).unwrap();
    net.server.tcp_connect(id, to)?;
    net.run(Duration::from_secs(10), |net| net.server.tcp_connect_result(id)).map(|()| id)
}

/// One end of a connection that sends `out`, shuts down sending, and reads to the end.
struct Side {
    id: SocketId,
    out: Vec<u8>,
    sent: usize,
    shut: bool,
    received: Vec<u8>,
    eof: bool,
}

impl Side {
    fn new(id: SocketId, out: Vec<u8>) -> Side {
        Side { id, out, sent: 0, shut: false, received: Vec::new(), eof: false }
    }

    fn step<D: morgana_net::smoltcp::phy::Device>(&mut self, stack: &mut Stack<D>) {
        if self.sent < self.out.len() {
            self.sent += stack.tcp_send(self.id, &self.out[self.sent..]).unwrap();
        } else if !self.shut {
            stack.tcp_shutdown(self.id, true, false).unwrap();
            self.shut = true;
            // Sending is over.
            assert_eq!(stack.tcp_send(self.id, b"x"), Err(Error::InvalidState));
        }
        while !self.eof {
            match stack.tcp_recv(self.id, 100_000).unwrap() {
                Some(data) if data.is_empty() => break,
                Some(data) => self.received.extend_from_slice(&data),
                None => self.eof = true,
            }
        }
    }

    fn done(&self) -> bool {
        self.shut && self.eof
    }
}

/// Connects the server stack to its own listener at `listen` through `to`, moves 1 MiB each
/// way at once, shuts both down, and checks that every byte arrived, the ends saw the end of
/// the stream, and not one frame went on the cable.
fn transfer_over_loopback(listen: SocketAddr, to: SocketAddr) -> (SocketAddr, SocketAddr) {
    let mut net = Net::new(StackOptions::default());
    let frames = server_frames(&net);
    let listener = tcp_listen(&mut net.server, listen);
    let client = self_connect(&mut net, to).unwrap();
    let server = net.run(Duration::from_secs(5), |net| net.server.tcp_accept(listener).unwrap());
    let client_local = net.server.tcp_local_address(client).unwrap();
    assert_eq!(net.server.tcp_remote_address(client).unwrap(), to);
    assert_eq!(net.server.tcp_remote_address(server).unwrap(), client_local);
    assert_eq!(net.server.tcp_local_address(server).unwrap(), to);
    assert!(client_local.port() >= 49152, "{client_local}");

    let mut a = Side::new(client, pattern(MIB, 1));
    let mut b = Side::new(server, pattern(MIB, 2));
    net.run(Duration::from_secs(60), |net| {
        a.step(&mut net.server);
        b.step(&mut net.server);
        (a.done() && b.done()).then_some(())
    });
    assert_eq!(a.received.len(), MIB);
    assert_eq!(b.received.len(), MIB);
    assert!(a.received == b.out && b.received == a.out, "the data differs");
    // After the end, reading stays at the end.
    assert_eq!(net.server.tcp_recv(client, 10), Ok(None));
    net.server.tcp_close(client);
    net.server.tcp_close(server);
    net.server.tcp_close(listener);
    // Everything is freed (the side that closed first after TIME-WAIT).
    net.run(Duration::from_secs(30), |net| (net.server.socket_count() == 0).then_some(()));
    assert_eq!(net.server.tcp_lingering(), 0);
    assert_eq!(server_frames(&net), frames, "loopback traffic went on the cable");
    (client_local, to)
}

#[test]
fn tcp_over_127_0_0_1_on_a_loopback_and_an_unspecified_listener() {
    let (local, _) = transfer_over_loopback(SocketAddr::new(LOCALHOST, 8080), SocketAddr::new(LOCALHOST, 8080));
    assert_eq!(local.ip(), LOCALHOST);
    let (local, _) = transfer_over_loopback(SocketAddr::new(ANY, 8080), SocketAddr::new(LOCALHOST, 8080));
    assert_eq!(local.ip(), LOCALHOST);
    // Every address of 127.0.0.0/8 is the host's; the source stays 127.0.0.1.
    let other = IpAddr::V4(Ipv4Addr::new(127, 1, 2, 3));
    let (local, _) = transfer_over_loopback(SocketAddr::new(other, 8080), SocketAddr::new(other, 8080));
    assert_eq!(local.ip(), LOCALHOST);
}

#[test]
fn tcp_over_ipv6_loopback() {
    let (local, _) = transfer_over_loopback(SocketAddr::new(LOCALHOST6, 8080), SocketAddr::new(LOCALHOST6, 8080));
    assert_eq!(local.ip(), LOCALHOST6);
    let (local, _) = transfer_over_loopback(SocketAddr::new(ANY6, 8080), SocketAddr::new(LOCALHOST6, 8080));
    assert_eq!(local.ip(), LOCALHOST6);
}

#[test]
fn a_connection_to_the_hosts_own_wire_address_goes_over_loopback() {
    let own = SocketAddr::new(IpAddr::V4(SERVER_IP), 8080);
    let (local, _) = transfer_over_loopback(SocketAddr::new(ANY, 8080), own);
    // The source is the address connected to, as on Linux.
    assert_eq!(local.ip(), IpAddr::V4(SERVER_IP));
    transfer_over_loopback(own, own);
    // From a socket bound to a loopback address, too.
    let mut net = Net::new(StackOptions::default());
    let listener = tcp_listen(&mut net.server, own);
    let id = net.server.tcp_open(Family::Ipv4).unwrap();
    net.server.tcp_bind(id, SocketAddr::new(LOCALHOST, 0)).unwrap();
    net.server.tcp_connect(id, own).unwrap();
    net.run(Duration::from_secs(5), |net| net.server.tcp_connect_result(id)).unwrap();
    let conn = net.run(Duration::from_secs(5), |net| net.server.tcp_accept(listener).unwrap());
    assert_eq!(net.server.tcp_remote_address(conn).unwrap().ip(), LOCALHOST);
    assert_eq!(server_frames(&net), 0);
    // The link-local IPv6 address is the host's too.
    let link_local: Ipv6Addr = "fe80::ff:fe00:1".parse().unwrap();
    let (local, _) = transfer_over_loopback(SocketAddr::new(ANY6, 80), SocketAddr::new(IpAddr::V6(link_local), 80));
    assert_eq!(local.ip(), IpAddr::V6(link_local));
}

#[test]
fn connection_refused_on_a_closed_loopback_port() {
    let mut net = Net::new(StackOptions::default());
    for to in [LOCALHOST, LOCALHOST6, IpAddr::V4(SERVER_IP), IpAddr::V4(Ipv4Addr::new(127, 9, 9, 9))] {
        assert_eq!(self_connect(&mut net, SocketAddr::new(to, 9)), Err(Error::ConnectionRefused), "{to}");
    }
    // An IPv6 listener does not take IPv4 connections, nor a listener on another loopback
    // address those to 127.0.0.1.
    let six = tcp_listen(&mut net.server, SocketAddr::new(ANY6, 7000));
    assert_eq!(self_connect(&mut net, SocketAddr::new(LOCALHOST, 7000)), Err(Error::ConnectionRefused));
    let two = tcp_listen(&mut net.server, SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)), 7001));
    assert_eq!(self_connect(&mut net, SocketAddr::new(LOCALHOST, 7001)), Err(Error::ConnectionRefused));
    // A listener on a loopback address is not reachable from the wire.
    let lo = tcp_listen(&mut net.server, SocketAddr::new(LOCALHOST, 7002));
    assert_eq!(connect(&mut net, v4(SERVER_IP, 7002)), Err(Error::ConnectionRefused));
    // The failed attempts left nothing behind: the three listeners' listening sockets only
    // (loopback alone for the loopback ones; wire and loopback for the IPv6 one).
    net.pass(Duration::from_secs(1));
    assert_eq!(net.server.socket_count(), 4);
    for id in [six, two, lo] {
        net.server.tcp_close(id);
    }
    assert_eq!(net.server.socket_count(), 0);
}

#[test]
fn binding_loopback_addresses_and_their_errors() {
    let mut net = Net::new(StackOptions::default());
    let s = &mut net.server;
    let at = |ip: IpAddr, port| SocketAddr::new(ip, port);
    let a = tcp_listen(s, at(LOCALHOST, 5000));
    // In use on the same address and on the unspecified one; another loopback address is free.
    for (ip, expected) in [
        (LOCALHOST, Err(Error::AddressInUse)),
        (ANY, Err(Error::AddressInUse)),
        (IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)), Ok(())),
    ] {
        let id = s.tcp_open(Family::Ipv4).unwrap();
        assert_eq!(s.tcp_bind(id, at(ip, 5000)), expected, "{ip}");
        s.tcp_close(id);
    }
    // A listener on 0.0.0.0 holds the port on every address, loopback ones included.
    let b = tcp_listen(s, at(ANY, 5001));
    let id = s.tcp_open(Family::Ipv4).unwrap();
    assert_eq!(s.tcp_bind(id, at(LOCALHOST, 5001)), Err(Error::AddressInUse));
    assert_eq!(s.tcp_bind(id, at(IpAddr::V4(SERVER_IP), 5001)), Err(Error::AddressInUse));
    // Not the host's: neither 10.99.99.99 nor an IPv6 address other than ::1 and its own.
    assert_eq!(s.tcp_bind(id, at(IpAddr::V4(Ipv4Addr::new(10, 99, 99, 99)), 80)), Err(Error::AddressNotBindable));
    let six = s.tcp_open(Family::Ipv6).unwrap();
    assert_eq!(s.tcp_bind(six, at("::2".parse().unwrap(), 80)), Err(Error::AddressNotBindable));
    assert_eq!(s.tcp_bind(six, at("2001:db8::1".parse().unwrap(), 80)), Err(Error::AddressNotBindable));
    // ::1 on the same port as the IPv4 listener: another family.
    s.tcp_bind(six, at(LOCALHOST6, 5000)).unwrap();
    let six2 = s.tcp_open(Family::Ipv6).unwrap();
    assert_eq!(s.tcp_bind(six2, at(LOCALHOST6, 5000)), Err(Error::AddressInUse));
    assert_eq!(s.tcp_bind(six2, at(ANY6, 5000)), Err(Error::AddressInUse));
    // Ephemeral ports are free on both interfaces.
    s.tcp_bind(id, at(LOCALHOST, 0)).unwrap();
    let port = s.tcp_local_address(id).unwrap().port();
    assert!(port >= 49152 && port != 5000 && port != 5001);

    // UDP alike.
    let u = s.udp_open(Family::Ipv4).unwrap();
    s.udp_bind(u, at(LOCALHOST, 5000)).unwrap();
    for (ip, expected) in [
        (LOCALHOST, Err(Error::AddressInUse)),
        (ANY, Err(Error::AddressInUse)),
        (IpAddr::V4(Ipv4Addr::new(10, 99, 99, 99)), Err(Error::AddressNotBindable)),
        (IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)), Ok(())),
    ] {
        let id = s.udp_open(Family::Ipv4).unwrap();
        assert_eq!(s.udp_bind(id, at(ip, 5000)), expected, "{ip}");
        s.udp_close(id);
    }
    let u6 = s.udp_open(Family::Ipv6).unwrap();
    assert_eq!(s.udp_bind(u6, at("::2".parse().unwrap(), 5000)), Err(Error::AddressNotBindable));
    s.udp_bind(u6, at(LOCALHOST6, 5000)).unwrap();
    for id in [a, b, id, six, six2] {
        s.tcp_close(id);
    }
    s.udp_close(u);
    s.udp_close(u6);
    assert_eq!(s.socket_count(), 0);
}

#[test]
fn a_listener_on_0_0_0_0_takes_connections_from_the_wire_and_from_loopback() {
    let mut net = Net::new(StackOptions::default());
    let listener = tcp_listen(&mut net.server, SocketAddr::new(ANY, 9000));
    let from_wire = connect(&mut net, v4(SERVER_IP, 9000)).unwrap();
    let from_self = self_connect(&mut net, SocketAddr::new(LOCALHOST, 9000)).unwrap();
    let from_self_wire_address = self_connect(&mut net, v4(SERVER_IP, 9000)).unwrap();
    let mut accepted = Vec::new();
    net.run(Duration::from_secs(5), |net| {
        while let Some(id) = net.server.tcp_accept(listener).unwrap() {
            accepted.push(id);
        }
        (accepted.len() == 3).then_some(())
    });
    let mut peers: Vec<IpAddr> = accepted.iter().map(|&id| net.server.tcp_remote_address(id).unwrap().ip()).collect();
    peers.sort();
    assert_eq!(peers, [IpAddr::V4(SERVER_IP), IpAddr::V4(CLIENT_IP), LOCALHOST]);
    // Each one carries data.
    net.client.tcp_send(from_wire, b"wire").unwrap();
    net.server.tcp_send(from_self, b"self").unwrap();
    net.server.tcp_send(from_self_wire_address, b"own").unwrap();
    let mut got = Vec::new();
    net.run(Duration::from_secs(5), |net| {
        for &id in &accepted {
            if let Some(data) = net.server.tcp_recv(id, 100).unwrap().filter(|d| !d.is_empty()) {
                got.push(String::from_utf8(data).unwrap());
            }
        }
        (got.len() == 3).then_some(())
    });
    got.sort();
    assert_eq!(got, ["own", "self", "wire"]);
}

#[test]
fn a_full_backlog_refuses_on_both_interfaces() {
    let mut net = Net::new(StackOptions::default());
    let id = net.server.tcp_open(Family::Ipv4).unwrap();
    net.server.tcp_bind(id, SocketAddr::new(ANY, 9100)).unwrap();
    net.server.tcp_listen(id, 1).unwrap();
    assert_eq!(net.server.socket_count(), 2, "listening on the wire and on loopback");
    self_connect(&mut net, SocketAddr::new(LOCALHOST, 9100)).unwrap();
    // The backlog is full: nobody listens on either interface.
    assert_eq!(self_connect(&mut net, SocketAddr::new(LOCALHOST, 9100)), Err(Error::ConnectionRefused));
    assert_eq!(connect(&mut net, v4(SERVER_IP, 9100)), Err(Error::ConnectionRefused));
    // Once accepted, both listen again.
    let conn = net.server.tcp_accept(id).unwrap().unwrap();
    connect(&mut net, v4(SERVER_IP, 9100)).unwrap();
    net.server.tcp_accept(id).unwrap().unwrap();
    self_connect(&mut net, SocketAddr::new(LOCALHOST, 9100)).unwrap();
    let _ = conn;
}

#[test]
fn udp_over_loopback() {
    let mut net = Net::new(StackOptions::default());
    let frames = server_frames(&net);
    let s = &mut net.server;
    for ip in [LOCALHOST, LOCALHOST6] {
        // To itself.
        let a = s.udp_open(family(ip)).unwrap();
        s.udp_bind(a, SocketAddr::new(ip, 0)).unwrap();
        let a_address = s.udp_local_address(a).unwrap();
        assert!(s.udp_send(a, b"to myself", a_address).unwrap());
        // A poll that moved a packet over loopback asks to be polled again at once.
        let now = Instant::from_secs(1000);
        assert!(s.poll(now).is_some_and(|next| next <= now));
        assert_eq!(s.udp_recv(a).unwrap(), Some((b"to myself".to_vec(), a_address)));
        assert_eq!(s.udp_recv(a).unwrap(), None);
        // ...and then rests.
        assert!(s.poll(now).is_none_or(|next| next > now));

        // Two sockets, one on the unspecified address.
        let b = s.udp_open(family(ip)).unwrap();
        s.udp_bind(b, SocketAddr::new(if ip.is_ipv4() { ANY } else { ANY6 }, 0)).unwrap();
        let b_port = s.udp_local_address(b).unwrap().port();
        for i in 0..10u8 {
            assert!(s.udp_send(a, &pattern(1000 + usize::from(i), i), SocketAddr::new(ip, b_port)).unwrap());
        }
        s.poll(now);
        for i in 0..10u8 {
            let (data, from) = s.udp_recv(b).unwrap().unwrap();
            assert_eq!((data, from), (pattern(1000 + usize::from(i), i), a_address));
        }
        assert!(s.udp_send(b, b"back", a_address).unwrap());
        s.poll(now);
        assert_eq!(s.udp_recv(a).unwrap(), Some((b"back".to_vec(), SocketAddr::new(ip, b_port))));

        // Nobody on the port: the datagram goes, and nothing comes back.
        assert!(s.udp_send(a, b"anyone?", SocketAddr::new(ip, 9)).unwrap());
        s.poll(now);
        assert_eq!(s.udp_recv(a).unwrap(), None);
        assert!(!s.udp_recv_ready(a));
        s.udp_close(a);
        s.udp_close(b);
    }
    assert_eq!(s.socket_count(), 0);
    assert_eq!(server_frames(&net), frames, "loopback traffic went on the cable");
}

#[test]
fn udp_datagram_sizes_over_loopback() {
    let mut net = Net::new(StackOptions::default());
    let s = &mut net.server;
    let now = Instant::from_secs(1000);
    for (ip, max) in [(LOCALHOST, 65507), (LOCALHOST6, 65535 - 40 - 8)] {
        let a = s.udp_open(family(ip)).unwrap();
        s.udp_bind(a, SocketAddr::new(ip, 0)).unwrap();
        let to = s.udp_local_address(a).unwrap();
        // Small ones first, so that the largest has to wrap around in the buffers.
        for _ in 0..3 {
            assert!(s.udp_send(a, &[1; 1000], to).unwrap());
            s.poll(now);
            assert_eq!(s.udp_recv(a).unwrap().unwrap().0.len(), 1000);
        }
        assert_eq!(s.udp_send(a, &vec![0; max + 1], to), Err(Error::DatagramTooLarge), "{ip}");
        let big = pattern(max, 7);
        assert!(s.udp_send(a, &big, to).unwrap());
        let received = (0..5).find_map(|_| {
            s.poll(now);
            s.udp_recv(a).unwrap()
        });
        assert_eq!(received.map(|(data, _)| data == big), Some(true), "{ip}");
        s.udp_close(a);
    }
    // The wire's limit is its MTU's.
    let w = s.udp_open(Family::Ipv4).unwrap();
    s.udp_bind(w, SocketAddr::new(ANY, 0)).unwrap();
    assert_eq!(s.udp_send(w, &[0; 1473], v4(CLIENT_IP, 9)), Err(Error::DatagramTooLarge));
    assert_eq!(s.udp_send(w, &[0; 1473], SocketAddr::new(LOCALHOST, 9)), Ok(true));
}

#[test]
fn udp_between_the_wire_and_loopback() {
    let mut net = Net::new(StackOptions::default());
    // A socket on 0.0.0.0 hears both the wire and loopback...
    let server = net.server.udp_open(Family::Ipv4).unwrap();
    net.server.udp_bind(server, SocketAddr::new(ANY, 5300)).unwrap();
    let local = net.server.udp_open(Family::Ipv4).unwrap();
    net.server.udp_bind(local, SocketAddr::new(ANY, 0)).unwrap();
    let local_port = net.server.udp_local_address(local).unwrap().port();
    let remote = net.client.udp_open(Family::Ipv4).unwrap();
    net.client.udp_bind(remote, SocketAddr::new(ANY, 0)).unwrap();
    let remote_port = net.client.udp_local_address(remote).unwrap().port();
    assert!(net.client.udp_send(remote, b"from the wire", v4(SERVER_IP, 5300)).unwrap());
    assert!(net.server.udp_send(local, b"from loopback", SocketAddr::new(LOCALHOST, 5300)).unwrap());
    assert!(net.server.udp_send(local, b"from my own address", v4(SERVER_IP, 5300)).unwrap());
    let mut got = Vec::new();
    net.run(Duration::from_secs(5), |net| {
        while let Some((data, from)) = net.server.udp_recv(server).unwrap() {
            got.push((String::from_utf8(data).unwrap(), from));
        }
        (got.len() == 3).then_some(())
    });
    got.sort();
    assert_eq!(
        got,
        [
            ("from loopback".to_string(), SocketAddr::new(LOCALHOST, local_port)),
            ("from my own address".to_string(), v4(SERVER_IP, local_port)),
            ("from the wire".to_string(), v4(CLIENT_IP, remote_port)),
        ]
    );
    // ...and answers each on the interface it came from.
    for (_, from) in &got {
        assert!(net.server.udp_send(server, b"answer", *from).unwrap());
    }
    let mut answers = 0;
    net.run(Duration::from_secs(5), |net| {
        while net.server.udp_recv(local).unwrap().is_some() {
            answers += 1;
        }
        while net.client.udp_recv(remote).unwrap().is_some() {
            answers += 1;
        }
        (answers == 3).then_some(())
    });

    // A socket on a loopback address hears nothing from the wire, and cannot send there.
    let lo = net.server.udp_open(Family::Ipv4).unwrap();
    net.server.udp_bind(lo, SocketAddr::new(LOCALHOST, 5400)).unwrap();
    assert_eq!(net.server.udp_send(lo, b"x", v4(CLIENT_IP, remote_port)), Err(Error::InvalidArgument));
    assert!(net.client.udp_send(remote, b"x", v4(SERVER_IP, 5400)).unwrap());
    net.pass(Duration::from_millis(100));
    assert_eq!(net.server.udp_recv(lo).unwrap(), None);
}

#[test]
fn frames_from_the_wire_with_loopback_addresses_are_dropped() {
    let mut net = Net::new(StackOptions::default());
    let server = net.server.udp_open(Family::Ipv4).unwrap();
    net.server.udp_bind(server, SocketAddr::new(ANY, 5300)).unwrap();
    let frame = |source: Ipv4Addr| {
        let payload = b"spoofed";
        let udp = UdpRepr { src_port: 1234, dst_port: 5300 };
        let ip = Ipv4Repr {
            src_addr: source,
            dst_addr: SERVER_IP,
            next_header: IpProtocol::Udp,
            payload_len: 8 + payload.len(),
            hop_limit: 64,
        };
        let ethernet = EthernetRepr {
            src_addr: EthernetAddress(CLIENT_MAC),
            dst_addr: EthernetAddress(SERVER_MAC),
            ethertype: EthernetProtocol::Ipv4,
        };
        let mut bytes = vec![0; 14 + 20 + 8 + payload.len()];
        let mut frame = EthernetFrame::new_unchecked(&mut bytes);
        ethernet.emit(&mut frame);
        let mut packet = Ipv4Packet::new_unchecked(frame.payload_mut());
        let caps = ChecksumCapabilities::default();
        ip.emit(&mut packet, &caps);
        let mut datagram = UdpPacket::new_unchecked(packet.payload_mut());
        udp.emit(
            &mut datagram,
            &IpAddress::Ipv4(source),
            &IpAddress::Ipv4(SERVER_IP),
            payload.len(),
            |buffer| buffer.copy_from_slice(payload),
            &caps,
        );
        bytes
    };
    net.client_port.send_frame(frame(Ipv4Addr::new(127, 0, 0, 1)));
    net.settle();
    assert_eq!(net.server.udp_recv(server).unwrap(), None);
    assert_eq!(net.server.stats().rx_malformed, 1);
    // The same from the client's address arrives.
    net.client_port.send_frame(frame(CLIENT_IP));
    net.settle();
    assert_eq!(net.server.udp_recv(server).unwrap(), Some((b"spoofed".to_vec(), v4(CLIENT_IP, 1234))));
    assert_eq!(net.server.stats().rx_malformed, 1);
}

#[test]
fn a_stack_without_a_device_serves_loopback() {
    let now = Instant::from_secs(5);
    let mut stack =
        Stack::new(NoDevice, [0x02, 0, 0, 0, 0, 0], NetConfig::Unconfigured, StackOptions::default(), now, 7).unwrap();
    assert!(!stack.is_configured());
    assert!(stack.ip_config().addresses.is_empty());
    assert_eq!(stack.poll(now), None);

    // Nothing is reachable but the host itself, and only its loopback addresses are its own.
    let tcp = stack.tcp_open(Family::Ipv4).unwrap();
    assert_eq!(stack.tcp_connect(tcp, v4(Ipv4Addr::new(10, 0, 0, 1), 80)), Err(Error::Unreachable));
    let six = stack.tcp_open(Family::Ipv6).unwrap();
    let link_local: Ipv6Addr = "fe80::1".parse().unwrap();
    assert_eq!(stack.tcp_connect(six, SocketAddr::new(IpAddr::V6(link_local), 80)), Err(Error::Unreachable));
    assert_eq!(stack.tcp_bind(tcp, v4(Ipv4Addr::new(10, 0, 0, 1), 80)), Err(Error::AddressNotBindable));
    let udp = stack.udp_open(Family::Ipv4).unwrap();
    stack.udp_bind(udp, SocketAddr::new(ANY, 0)).unwrap();
    assert_eq!(stack.udp_send(udp, b"x", v4(Ipv4Addr::new(8, 8, 8, 8), 53)), Err(Error::Unreachable));
    assert!(
        stack.udp_send(udp, b"me", SocketAddr::new(LOCALHOST, stack.udp_local_address(udp).unwrap().port())).unwrap()
    );
    stack.poll(now);
    assert_eq!(stack.udp_recv(udp).unwrap().map(|(data, _)| data), Some(b"me".to_vec()));
    assert_eq!(stack.resolve("example.com"), Err(Error::NoDnsServer));

    // TCP: listen, connect, transfer, close.
    stack.tcp_bind(tcp, SocketAddr::new(ANY, 80)).unwrap();
    stack.tcp_listen(tcp, 4).unwrap();
    let client = stack.tcp_open(Family::Ipv4).unwrap();
    stack.tcp_connect(client, SocketAddr::new(LOCALHOST, 80)).unwrap();
    let mut time = now;
    let mut next = |stack: &mut Stack<NoDevice>| {
        let deadline = stack.poll(time);
        if let Some(deadline) = deadline {
            time = time.max(deadline);
        }
    };
    let mut server = None;
    for _ in 0..100 {
        next(&mut stack);
        if server.is_none() {
            server = stack.tcp_accept(tcp).unwrap();
        }
        if server.is_some() && stack.tcp_connect_result(client).is_some() {
            break;
        }
    }
    let server = server.unwrap();
    assert_eq!(stack.tcp_connect_result(client), Some(Ok(())));
    let mut a = Side::new(client, pattern(MIB, 3));
    let mut b = Side::new(server, pattern(MIB / 2, 4));
    for _ in 0..10_000 {
        a.step(&mut stack);
        b.step(&mut stack);
        if a.done() && b.done() {
            break;
        }
        next(&mut stack);
    }
    assert!(a.done() && b.done());
    assert!(a.received == b.out && b.received == a.out);
    assert_eq!(stack.stats().tx_frames, 0);
}
