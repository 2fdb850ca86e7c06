//! UDP between two real stacks on an in-memory cable.

mod common;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use common::*;
use morgana_net::smoltcp::time::Duration;
use morgana_net::{Error, Family, StackOptions};

#[test]
fn udp_echo() {
    let mut net = Net::new(StackOptions::default());
    let server = net.server.udp_open(Family::Ipv4).unwrap();
    net.server.udp_bind(server, v4(Ipv4Addr::UNSPECIFIED, 5300)).unwrap();
    let client = net.client.udp_open(Family::Ipv4).unwrap();
    net.client.udp_bind(client, v4(Ipv4Addr::UNSPECIFIED, 0)).unwrap();
    let client_address = net.client.udp_local_address(client).unwrap();
    assert!(client_address.port() >= 49152);

    let datagrams: Vec<Vec<u8>> = (0..10).map(|i| pattern(100 + i * 100, i as u8)).collect();
    for d in &datagrams {
        assert!(net.client.udp_send(client, d, v4(SERVER_IP, 5300)).unwrap());
    }
    let mut echoed = Vec::new();
    net.run(Duration::from_secs(5), |net| {
        while let Some((data, from)) = net.server.udp_recv(server).unwrap() {
            assert_eq!(from, v4(CLIENT_IP, client_address.port()));
            assert!(net.server.udp_send(server, &data, from).unwrap());
        }
        while let Some((data, from)) = net.client.udp_recv(client).unwrap() {
            assert_eq!(from, v4(SERVER_IP, 5300));
            echoed.push(data);
        }
        (echoed.len() == datagrams.len()).then_some(())
    });
    assert_eq!(echoed, datagrams);
    assert!(!net.client.udp_recv_ready(client));
    assert!(net.client.udp_send_ready(client));

    // Limits and errors.
    assert_eq!(net.client.udp_send(client, &[0; 1473], v4(SERVER_IP, 5300)), Err(Error::DatagramTooLarge));
    assert_eq!(net.client.udp_send(client, &[0; 1472], v4(SERVER_IP, 5300)), Ok(true));
    assert_eq!(net.client.udp_send(client, b"x", v4(Ipv4Addr::new(8, 8, 8, 8), 53)), Err(Error::Unreachable));
    let six = SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 5300);
    assert_eq!(net.client.udp_send(client, b"x", six), Err(Error::InvalidArgument));
    let other = net.server.udp_open(Family::Ipv4).unwrap();
    assert_eq!(net.server.udp_bind(other, v4(SERVER_IP, 5300)), Err(Error::AddressInUse));
    assert_eq!(net.server.udp_send(other, b"x", v4(CLIENT_IP, 9)), Err(Error::InvalidState));
    let v6 = net.server.udp_open(Family::Ipv6).unwrap();
    net.server.udp_bind(v6, six).unwrap();

    // Closing frees the sockets (two for each socket bound to an unspecified address: one on
    // the wire, one on loopback).
    assert_eq!(net.server.socket_count(), 4);
    net.server.udp_close(server);
    net.server.udp_close(v6);
    net.server.udp_close(other);
    assert_eq!(net.server.socket_count(), 0);
    let again = net.server.udp_open(Family::Ipv4).unwrap();
    net.server.udp_bind(again, v4(SERVER_IP, 5300)).unwrap();
}
