//! DHCPv4: the stack configures itself from a tiny DHCP server that speaks raw frames on the
//! other end of the cable (written here with smoltcp's wire types).

mod common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use common::*;
use morgana_net::smoltcp::phy::ChecksumCapabilities;
use morgana_net::smoltcp::time::{Duration, Instant};
use morgana_net::smoltcp::wire::{
    DhcpMessageType, DhcpPacket, DhcpRepr, EthernetAddress, EthernetFrame, EthernetProtocol, EthernetRepr, IpProtocol,
    Ipv4Packet, Ipv4Repr, UdpPacket, UdpRepr,
};
use morgana_net::{Error, Family, NetConfig, Stack, StackOptions};

const SERVER: Ipv4Addr = Ipv4Addr::new(192, 168, 7, 1);
const OFFERED: Ipv4Addr = Ipv4Addr::new(192, 168, 7, 50);
const DNS: Ipv4Addr = Ipv4Addr::new(192, 168, 7, 53);
const SERVER_MAC: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 0x99]);

/// The DHCP message in a frame, if it is one sent to a DHCP server.
fn parse(frame: &[u8]) -> Option<(DhcpMessageType, u32, EthernetAddress)> {
    let ethernet = EthernetFrame::new_checked(frame).ok()?;
    let ip = Ipv4Packet::new_checked(ethernet.payload()).ok()?;
    let udp = UdpPacket::new_checked(ip.payload()).ok()?;
    if udp.dst_port() != 67 {
        return None;
    }
    let dhcp = DhcpPacket::new_checked(udp.payload()).ok()?;
    let repr = DhcpRepr::parse(&dhcp).ok()?;
    Some((repr.message_type, repr.transaction_id, repr.client_hardware_address))
}

/// The server's reply of `kind` to a client's transaction.
fn reply(kind: DhcpMessageType, xid: u32, client: EthernetAddress) -> Vec<u8> {
    let mut dhcp = DhcpRepr {
        message_type: kind,
        transaction_id: xid,
        secs: 0,
        client_hardware_address: client,
        client_ip: Ipv4Addr::UNSPECIFIED,
        your_ip: OFFERED,
        server_ip: SERVER,
        router: Some(SERVER),
        subnet_mask: Some(Ipv4Addr::new(255, 255, 255, 0)),
        relay_agent_ip: Ipv4Addr::UNSPECIFIED,
        broadcast: false,
        requested_ip: None,
        client_identifier: None,
        server_identifier: Some(SERVER),
        parameter_request_list: None,
        dns_servers: Some(Default::default()),
        max_size: None,
        lease_duration: Some(3600),
        renew_duration: None,
        rebind_duration: None,
        additional_options: &[],
    };
    if let Some(servers) = dhcp.dns_servers.as_mut() {
        servers.push(DNS).unwrap();
    }
    let dhcp_len = dhcp.buffer_len();
    let ip = Ipv4Repr {
        src_addr: SERVER,
        dst_addr: Ipv4Addr::BROADCAST,
        next_header: IpProtocol::Udp,
        payload_len: 8 + dhcp_len,
        hop_limit: 64,
    };
    let ethernet =
        EthernetRepr { src_addr: SERVER_MAC, dst_addr: EthernetAddress::BROADCAST, ethertype: EthernetProtocol::Ipv4 };
    let mut frame = vec![0; ethernet.buffer_len() + ip.buffer_len() + 8 + dhcp_len];
    let mut eth = EthernetFrame::new_unchecked(&mut frame[..]);
    ethernet.emit(&mut eth);
    let mut packet = Ipv4Packet::new_unchecked(eth.payload_mut());
    ip.emit(&mut packet, &ChecksumCapabilities::default());
    let mut udp = UdpPacket::new_unchecked(packet.payload_mut());
    UdpRepr { src_port: 67, dst_port: 68 }.emit(
        &mut udp,
        &SERVER.into(),
        &Ipv4Addr::BROADCAST.into(),
        dhcp_len,
        |buffer| dhcp.emit(&mut DhcpPacket::new_unchecked(buffer)).unwrap(),
        &ChecksumCapabilities::default(),
    );
    frame
}

#[test]
fn dhcp_configures_the_interface() {
    let (ours, theirs) = cable();
    let mut now = Instant::from_secs(10);
    let mut stack = Stack::new(ours, CLIENT_MAC, NetConfig::Dhcp, StackOptions::default(), now, 7).unwrap();
    assert!(!stack.is_configured());
    let mut seen = Vec::new();
    for _ in 0..200 {
        let next = stack.poll(now);
        while let Some(frame) = theirs.inbox.pop() {
            let Some((kind, xid, mac)) = parse(&frame) else { continue };
            seen.push(kind);
            let answer = match kind {
                DhcpMessageType::Discover => DhcpMessageType::Offer,
                DhcpMessageType::Request => DhcpMessageType::Ack,
                _ => continue,
            };
            theirs.send_frame(reply(answer, xid, mac));
        }
        if stack.is_configured() {
            break;
        }
        if theirs.outbox.is_empty() {
            now = next.unwrap_or(now + Duration::from_secs(1)).max(now + Duration::from_millis(1));
        }
    }
    assert_eq!(seen, [DhcpMessageType::Discover, DhcpMessageType::Request]);
    let config = stack.ip_config();
    assert!(config.dhcp);
    assert!(config.addresses.contains(&(IpAddr::V4(OFFERED), 24)), "{config}");
    assert_eq!(config.gateways, [IpAddr::V4(SERVER)]);
    assert_eq!(config.dns_servers, [IpAddr::V4(DNS)]);
    assert!(
        config.to_string().starts_with("fe80::ff:fe00:2/64 192.168.7.50/24 via 192.168.7.1, dns 192.168.7.53"),
        "{config}"
    );

    // The leased address is the host's: bindable, and reached over loopback (no frame on the
    // cable), as the addresses of 127.0.0.0/8 are.
    let leased = SocketAddr::new(IpAddr::V4(OFFERED), 5353);
    let socket = stack.udp_open(Family::Ipv4).unwrap();
    stack.udp_bind(socket, leased).unwrap();
    let sent = stack.stats().tx_frames;
    assert!(stack.udp_send(socket, b"to my lease", leased).unwrap());
    stack.poll(now);
    assert_eq!(stack.udp_recv(socket).unwrap(), Some((b"to my lease".to_vec(), leased)));
    assert_eq!(stack.stats().tx_frames, sent);
    let other = stack.udp_open(Family::Ipv4).unwrap();
    let elsewhere = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 168, 7, 51)), 0);
    assert_eq!(stack.udp_bind(other, elsewhere), Err(Error::AddressNotBindable));
}
