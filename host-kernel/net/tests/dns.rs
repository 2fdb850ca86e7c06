//! Name lookups through a DNS server: a small responder on the other stack's UDP port 53.

mod common;

use std::net::{IpAddr, Ipv4Addr};

use common::*;
use morgana_net::smoltcp::time::Duration;
use morgana_net::{Error, Family, SocketId, Stack, StackOptions};

/// Answers A queries for `service.test` with 10.0.0.99 and 10.0.0.98; every other name does
/// not exist.
fn answer(query: &[u8]) -> Option<Vec<u8>> {
    if query.len() < 12 {
        return None;
    }
    // The question: labels up to the root, then type and class.
    let mut end = 12;
    let mut name = Vec::new();
    loop {
        let len = *query.get(end)? as usize;
        end += 1;
        if len == 0 {
            break;
        }
        name.push(String::from_utf8_lossy(query.get(end..end + len)?).into_owned());
        end += len;
    }
    let qtype = u16::from_be_bytes([*query.get(end)?, *query.get(end + 1)?]);
    end += 4;
    let known = name.join(".") == "service.test";
    let addresses: &[[u8; 4]] = if known && qtype == 1 { &[[10, 0, 0, 99], [10, 0, 0, 98]] } else { &[] };
    let mut reply = Vec::new();
    reply.extend_from_slice(&query[0..2]); // id
    reply.extend_from_slice(&[0x81, if known { 0x80 } else { 0x83 }]); // response, NXDOMAIN if unknown
    reply.extend_from_slice(&[0, 1, 0, addresses.len() as u8, 0, 0, 0, 0]);
    reply.extend_from_slice(&query[12..end]);
    for address in addresses {
        reply.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4]);
        reply.extend_from_slice(address);
    }
    Some(reply)
}

fn serve_dns(stack: &mut Stack<Port>, socket: SocketId) {
    while let Some((query, from)) = stack.udp_recv(socket).unwrap() {
        if let Some(reply) = answer(&query) {
            stack.udp_send(socket, &reply, from).unwrap();
        }
    }
}

fn resolve(net: &mut Net, dns: SocketId, name: &str) -> Result<Vec<IpAddr>, Error> {
    let lookup = net.server.resolve(name)?;
    net.run(Duration::from_secs(30), |net| {
        serve_dns(&mut net.client, dns);
        net.server.resolve_result(lookup)
    })
}

#[test]
fn lookups_through_the_configured_server() {
    // The server stack resolves through the client stack, which runs the DNS responder.
    let mut net = Net::with(
        StackOptions::default(),
        StackOptions::default(),
        static_config(SERVER_IP, &[CLIENT_IP]),
        static_config(CLIENT_IP, &[]),
    );
    assert_eq!(net.server.ip_config().dns_servers, [IpAddr::V4(CLIENT_IP)]);
    let dns = net.client.udp_open(Family::Ipv4).unwrap();
    net.client.udp_bind(dns, v4(Ipv4Addr::UNSPECIFIED, 53)).unwrap();

    assert_eq!(
        resolve(&mut net, dns, "service.test"),
        Ok(vec![IpAddr::V4(Ipv4Addr::new(10, 0, 0, 99)), IpAddr::V4(Ipv4Addr::new(10, 0, 0, 98))])
    );
    assert_eq!(resolve(&mut net, dns, "service.test."), resolve(&mut net, dns, "service.test"));
    assert_eq!(resolve(&mut net, dns, "nothing.test"), Err(Error::NameUnresolvable));
    assert_eq!(net.server.resolve("a..b"), Err(Error::NameUnresolvable));
    // Cancelled and unknown lookups.
    let lookup = net.server.resolve("service.test").unwrap();
    net.server.resolve_cancel(lookup);
    assert_eq!(net.server.resolve_result(lookup), Some(Err(Error::UnknownSocket)));

    // A server that does not answer: the lookup gives up.
    net.client.udp_close(dns);
    let lookup = net.server.resolve("service.test").unwrap();
    let result = net.run(Duration::from_secs(60), |net| net.server.resolve_result(lookup));
    assert_eq!(result, Err(Error::NameUnresolvable));

    // Without servers there is nothing to ask.
    assert_eq!(net.client.resolve("service.test"), Err(Error::NoDnsServer));
}
