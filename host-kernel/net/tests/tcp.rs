//! TCP between two real stacks on an in-memory cable, on a virtual clock.

mod common;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use common::*;
use morgana_net::smoltcp::time::Duration;
use morgana_net::{Error, Family, SocketId, Stack, StackOptions};

/// A client connection that sends `data`, then shuts down sending, and reads until the end.
struct Transfer {
    id: SocketId,
    data: Vec<u8>,
    sent: usize,
    shut: bool,
    received: Vec<u8>,
    connected: bool,
    done: bool,
}

impl Transfer {
    fn start(stack: &mut Stack<Port>, to: SocketAddr, data: Vec<u8>) -> Transfer {
        let id = stack.tcp_open(Family::Ipv4).unwrap();
        stack.tcp_connect(id, to).unwrap();
        Transfer { id, data, sent: 0, shut: false, received: Vec::new(), connected: false, done: false }
    }

    fn step(&mut self, stack: &mut Stack<Port>) -> Result<(), Error> {
        if self.done {
            return Ok(());
        }
        if !self.connected {
            match stack.tcp_connect_result(self.id) {
                None => return Ok(()),
                Some(result) => result?,
            }
            self.connected = true;
        }
        if self.sent < self.data.len() {
            self.sent += stack.tcp_send(self.id, &self.data[self.sent..])?;
        } else if !self.shut {
            stack.tcp_shutdown(self.id, true, false)?;
            self.shut = true;
        }
        loop {
            match stack.tcp_recv(self.id, 100_000)? {
                Some(data) if data.is_empty() => break,
                Some(data) => self.received.extend_from_slice(&data),
                None => {
                    self.done = true;
                    stack.tcp_close(self.id);
                    break;
                }
            }
        }
        Ok(())
    }
}

const ECHO: u16 = 7;

#[test]
fn echo_many_connections_in_turn_and_at_once() {
    let mut net = Net::new(StackOptions::default());
    let listener = listen(&mut net.server, ECHO, 32);
    let mut echo = Echo::default();
    let to = v4(SERVER_IP, ECHO);

    // In turn: each connection sends more than a socket buffer holds.
    for i in 0..20 {
        let data = pattern(100_000 + i * 1000, i as u8);
        let mut transfer = Transfer::start(&mut net.client, to, data.clone());
        net.run(Duration::from_secs(30), |net| {
            echo.step(&mut net.server, listener);
            transfer.step(&mut net.client).unwrap();
            transfer.done.then_some(())
        });
        assert_eq!(transfer.received.len(), data.len(), "connection {i}");
        assert!(transfer.received == data, "connection {i}: echo differs");
    }
    assert_eq!(echo.accepted, 20);

    // At once: 30 connections, within the backlog.
    let mut transfers: Vec<Transfer> =
        (0..30).map(|i| Transfer::start(&mut net.client, to, pattern(20_000, 100 + i))).collect();
    net.run(Duration::from_secs(60), |net| {
        echo.step(&mut net.server, listener);
        for t in &mut transfers {
            t.step(&mut net.client).unwrap();
        }
        transfers.iter().all(|t| t.done).then_some(())
    });
    for (i, t) in transfers.iter().enumerate() {
        assert!(t.received == t.data, "concurrent connection {i}");
    }
    assert_eq!(echo.accepted, 50);

    // Every connection is freed once closed (the client's after TIME-WAIT): the server keeps
    // only its listening sockets (on 0.0.0.0: one on the wire, one on loopback).
    net.run(Duration::from_secs(30), |net| {
        echo.step(&mut net.server, listener);
        (net.server.socket_count() == 2 && net.client.socket_count() == 0).then_some(())
    });
    assert_eq!(echo.closed, 50);
    assert_eq!(net.server.tcp_lingering(), 0);
    assert_eq!(net.server.stats().rx_malformed, 0);
}

#[test]
fn a_flood_beyond_the_backlog_is_refused_and_the_server_keeps_serving() {
    let mut net = Net::new(StackOptions::default());
    let listener = listen(&mut net.server, ECHO, 2);
    let to = v4(SERVER_IP, ECHO);

    // Five connection attempts at once; nobody accepts. Two fit in the backlog, three are
    // refused (reset), and none is left hanging.
    let ids: Vec<SocketId> = (0..5)
        .map(|_| {
            let id = net.client.tcp_open(Family::Ipv4).unwrap();
            net.client.tcp_connect(id, to).unwrap();
            id
        })
        .collect();
    let results = net.run(Duration::from_secs(10), |net| {
        let results: Vec<_> = ids.iter().map(|&id| net.client.tcp_connect_result(id)).collect();
        results.iter().all(Option::is_some).then(|| results.into_iter().flatten().collect::<Vec<_>>())
    });
    let accepted = results.iter().filter(|r| r.is_ok()).count();
    let refused = results.iter().filter(|r| **r == Err(Error::ConnectionRefused)).count();
    assert_eq!((accepted, refused), (2, 3), "{results:?}");
    // Two connections waiting, no socket listening: the backlog holds exactly what it should.
    assert_eq!(net.server.socket_count(), 2);

    // The server accepts and serves both...
    let mut echo = Echo::default();
    let open: Vec<SocketId> = ids.iter().zip(&results).filter(|(_, r)| r.is_ok()).map(|(&id, _)| id).collect();
    for &id in &open {
        net.client.tcp_send(id, b"hello").unwrap();
    }
    net.run(Duration::from_secs(10), |net| {
        echo.step(&mut net.server, listener);
        open.iter().all(|&id| net.client.tcp_recv_ready(id)).then_some(())
    });
    for &id in &open {
        assert_eq!(net.client.tcp_recv(id, 100).unwrap().unwrap(), b"hello");
        net.client.tcp_close(id);
    }
    for &id in &ids {
        net.client.tcp_close(id);
    }
    // ...and, with room in its backlog again, takes new connections.
    let mut transfer = Transfer::start(&mut net.client, to, pattern(5000, 9));
    net.run(Duration::from_secs(10), |net| {
        echo.step(&mut net.server, listener);
        transfer.step(&mut net.client).unwrap();
        transfer.done.then_some(())
    });
    assert!(transfer.received == transfer.data);
    assert_eq!(echo.accepted, 3);
}

#[test]
fn a_peer_that_vanishes_mid_transfer_frees_its_socket() {
    let options = StackOptions { tcp_timeout: Duration::from_secs(20), ..StackOptions::default() };
    let mut net = Net::new(options);
    let listener = listen(&mut net.server, ECHO, 4);
    let client = connect(&mut net, v4(SERVER_IP, ECHO)).unwrap();
    let conn = net.run(Duration::from_secs(5), |net| net.server.tcp_accept(listener).unwrap());
    // The connection and the listening sockets (wire and loopback).
    assert_eq!(net.server.socket_count(), 3);

    // The server sends more than the client reads; then the client vanishes.
    let data = pattern(300_000, 1);
    let mut sent = net.server.tcp_send(conn, &data).unwrap();
    net.pass(Duration::from_millis(100));
    sent += net.server.tcp_send(conn, &data[sent..]).unwrap();
    assert!(sent < data.len(), "the client's window should have filled");
    net.server_port.cut();

    // The server's writes time out, its socket fails with `TimedOut`...
    let error = net.run(Duration::from_secs(60), |net| net.server.tcp_send(conn, b"x").err());
    assert_eq!(error, Error::TimedOut);
    assert_eq!(net.server.tcp_recv(conn, 10), Err(Error::TimedOut));
    // ...and is freed when closed; the listener is all that is left.
    net.server.tcp_close(conn);
    net.pass(Duration::from_secs(1));
    assert_eq!(net.server.socket_count(), 2);
    assert_eq!(net.server.tcp_lingering(), 0);
    let _ = client;
}

#[test]
fn a_closed_connection_whose_peer_vanished_is_freed_after_lingering() {
    let options = StackOptions { linger: Duration::from_secs(30), ..StackOptions::default() };
    let mut net = Net::new(options);
    let listener = listen(&mut net.server, ECHO, 4);
    connect(&mut net, v4(SERVER_IP, ECHO)).unwrap();
    let conn = net.run(Duration::from_secs(5), |net| net.server.tcp_accept(listener).unwrap());
    net.server.tcp_send(conn, b"bye").unwrap();
    net.server_port.cut();
    net.server.tcp_close(conn);
    net.pass(Duration::from_secs(10));
    assert_eq!(net.server.tcp_lingering(), 1, "the close is still being delivered");
    net.pass(Duration::from_secs(25));
    assert_eq!(net.server.tcp_lingering(), 0);
    assert_eq!(net.server.socket_count(), 2);
}

#[test]
fn keep_alive_detects_a_silent_peer() {
    let mut net = Net::new(StackOptions::default());
    let listener = listen(&mut net.server, ECHO, 4);
    connect(&mut net, v4(SERVER_IP, ECHO)).unwrap();
    let conn = net.run(Duration::from_secs(5), |net| net.server.tcp_accept(listener).unwrap());
    let mut options = net.server.tcp_options(conn).unwrap();
    assert!(!options.keep_alive_enabled);
    options.keep_alive_enabled = true;
    options.keep_alive_idle_time = Duration::from_secs(10);
    options.keep_alive_interval = Duration::from_secs(2);
    options.keep_alive_count = 3;
    net.server.tcp_set_options(conn, options).unwrap();

    // A live peer answers the probes: the idle connection stays up well past the timeout.
    net.pass(Duration::from_secs(60));
    assert_eq!(net.server.tcp_recv(conn, 10), Ok(Some(vec![])));

    // A vanished one does not.
    net.server_port.cut();
    let error = net.run(Duration::from_secs(60), |net| net.server.tcp_recv(conn, 10).err());
    assert_eq!(error, Error::TimedOut);
}

#[test]
fn an_idle_connection_without_keep_alive_stays_up() {
    let mut net = Net::new(StackOptions::default());
    let listener = listen(&mut net.server, ECHO, 4);
    let client = connect(&mut net, v4(SERVER_IP, ECHO)).unwrap();
    let conn = net.run(Duration::from_secs(5), |net| net.server.tcp_accept(listener).unwrap());
    net.pass(Duration::from_secs(600));
    net.client.tcp_send(client, b"still there?").unwrap();
    let data = net.run(Duration::from_secs(5), |net| net.server.tcp_recv(conn, 100).unwrap().filter(|d| !d.is_empty()));
    assert_eq!(data, b"still there?");
}

#[test]
fn binding_connecting_and_their_errors() {
    let mut net = Net::new(StackOptions::default());
    let s = &mut net.server;
    let any = |port| v4(Ipv4Addr::UNSPECIFIED, port);

    // Port 0 is an ephemeral port; a bound port is in use for others.
    let a = s.tcp_open(Family::Ipv4).unwrap();
    s.tcp_bind(a, any(0)).unwrap();
    let port = s.tcp_local_address(a).unwrap().port();
    assert!(port >= 49152, "{port}");
    let b = s.tcp_open(Family::Ipv4).unwrap();
    assert_eq!(s.tcp_bind(b, any(port)), Err(Error::AddressInUse));
    assert_eq!(s.tcp_bind(b, v4(SERVER_IP, port)), Err(Error::AddressInUse));
    // Not this host's address; the other family; twice.
    assert_eq!(s.tcp_bind(b, v4(Ipv4Addr::new(10, 0, 0, 9), 80)), Err(Error::AddressNotBindable));
    assert_eq!(s.tcp_bind(b, SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 80)), Err(Error::InvalidArgument));
    s.tcp_bind(b, v4(SERVER_IP, 80)).unwrap();
    assert_eq!(s.tcp_bind(b, v4(SERVER_IP, 81)), Err(Error::InvalidState));
    // An IPv6 socket may use the same port number.
    let c = s.tcp_open(Family::Ipv6).unwrap();
    s.tcp_bind(c, SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), port)).unwrap();
    // Listening needs a bound socket.
    let d = s.tcp_open(Family::Ipv4).unwrap();
    assert_eq!(s.tcp_listen(d, 5), Err(Error::InvalidState));
    // Closing frees the port.
    s.tcp_close(a);
    s.tcp_bind(d, any(port)).unwrap();
    s.tcp_listen(d, 5).unwrap();
    assert_eq!(s.tcp_accept(d), Ok(None));
    assert_eq!(s.tcp_accept(b), Err(Error::InvalidState));

    // Connecting: no route (no gateway), nobody listening, and success.
    let e = net.client.tcp_open(Family::Ipv4).unwrap();
    assert_eq!(net.client.tcp_connect(e, v4(Ipv4Addr::new(192, 168, 1, 1), 80)), Err(Error::Unreachable));
    assert_eq!(connect(&mut net, v4(SERVER_IP, 9)), Err(Error::ConnectionRefused));
    let f = connect(&mut net, v4(SERVER_IP, port)).unwrap();
    let local = net.client.tcp_local_address(f).unwrap();
    assert_eq!(local.ip(), IpAddr::V4(CLIENT_IP));
    assert!(local.port() >= 49152);
    assert_eq!(net.client.tcp_remote_address(f).unwrap(), v4(SERVER_IP, port));
    let conn = net.run(Duration::from_secs(5), |net| net.server.tcp_accept(d).unwrap());
    assert_eq!(net.server.tcp_remote_address(conn).unwrap(), local);

    // The listener goes, its accepted connection stays, and the port can be bound again.
    net.server.tcp_close(d);
    let g = net.server.tcp_open(Family::Ipv4).unwrap();
    net.server.tcp_bind(g, any(port)).unwrap();
    net.client.tcp_send(f, b"ping").unwrap();
    let data = net.run(Duration::from_secs(5), |net| net.server.tcp_recv(conn, 10).unwrap().filter(|d| !d.is_empty()));
    assert_eq!(data, b"ping");

    // The client resets: the server sees it.
    net.client.tcp_recv(f, 0).unwrap();
    net.server.tcp_send(conn, b"unread").unwrap();
    net.pass(Duration::from_millis(50));
    net.client.tcp_close(f); // with unread data: a reset
    let error = net.run(Duration::from_secs(5), |net| net.server.tcp_recv(conn, 10).err());
    assert_eq!(error, Error::ConnectionReset);
    assert_eq!(net.server.tcp_send(conn, b"x"), Err(Error::ConnectionReset));
}

#[test]
fn connecting_to_a_silent_address_times_out() {
    let options = StackOptions { connect_timeout: Duration::from_secs(10), ..StackOptions::default() };
    let mut net =
        Net::with(StackOptions::default(), options, static_config(SERVER_IP, &[]), static_config(CLIENT_IP, &[]));
    // 10.0.0.77 is on the link but nobody answers ARP.
    assert_eq!(connect(&mut net, v4(Ipv4Addr::new(10, 0, 0, 77), 80)), Err(Error::TimedOut));
    // The failed connection's socket is freed even before the application drops it.
    net.pass(Duration::from_secs(2));
    assert_eq!(net.client.socket_count(), 0);
}

#[test]
fn ipv6_link_local_echo() {
    let mut net = Net::new(StackOptions::default());
    let server_ll = net
        .server
        .ip_config()
        .addresses
        .iter()
        .find_map(|(a, _)| match a {
            IpAddr::V6(a) => Some(*a),
            _ => None,
        })
        .unwrap();
    assert_eq!(server_ll, "fe80::ff:fe00:1".parse::<Ipv6Addr>().unwrap());
    let listener = net.server.tcp_open(Family::Ipv6).unwrap();
    net.server.tcp_bind(listener, SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 80)).unwrap();
    net.server.tcp_listen(listener, 4).unwrap();
    let mut echo = Echo::default();
    let id = net.client.tcp_open(Family::Ipv6).unwrap();
    net.client.tcp_connect(id, SocketAddr::new(IpAddr::V6(server_ll), 80)).unwrap();
    let mut transfer = Transfer {
        id,
        data: pattern(70_000, 6),
        sent: 0,
        shut: false,
        received: Vec::new(),
        connected: false,
        done: false,
    };
    net.run(Duration::from_secs(10), |net| {
        echo.step(&mut net.server, listener);
        transfer.step(&mut net.client).unwrap();
        transfer.done.then_some(())
    });
    assert!(transfer.received == transfer.data);
    // An IPv4 connection to the same port is not the IPv6 listener's.
    assert_eq!(connect(&mut net, v4(SERVER_IP, 80)), Err(Error::ConnectionRefused));
}

#[test]
fn malformed_frames_are_dropped_and_counted() {
    let mut net = Net::new(StackOptions::default());
    let listener = listen(&mut net.server, ECHO, 4);
    let client_port = net.client_port.clone();
    // Truncated, oversized, a bad IPv4 checksum, nonsense.
    client_port.send_frame(vec![0xff; 5]);
    client_port.send_frame(vec![0; MTU + 100]);
    let mut bad = vec![0xff; 14 + 20];
    bad[12..14].copy_from_slice(&[0x08, 0x00]);
    bad[14] = 0x45;
    client_port.send_frame(bad);
    client_port.send_frame((0..200u8).collect());
    net.settle();
    assert!(net.server.stats().rx_malformed >= 3, "{:?}", net.server.stats());
    // The stack is unharmed.
    let mut echo = Echo::default();
    let mut transfer = Transfer::start(&mut net.client, v4(SERVER_IP, ECHO), pattern(1000, 3));
    net.run(Duration::from_secs(5), |net| {
        echo.step(&mut net.server, listener);
        transfer.step(&mut net.client).unwrap();
        transfer.done.then_some(())
    });
    assert!(transfer.received == transfer.data);
}
