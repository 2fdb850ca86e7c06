mod common;
use common::*;
use morgana_net::smoltcp::time::Duration;
use morgana_net::{Family, StackOptions};

#[test]
fn scratch() {
    let mut net = Net::new(StackOptions::default());
    let _listener = listen(&mut net.server, 80, 4);
    let start = net.now;
    let id = net.client.tcp_open(Family::Ipv4).unwrap();
    net.client.tcp_connect(id, v4(SERVER_IP, 80)).unwrap();
    let mut n = 0;
    net.run(Duration::from_secs(10), |net| {
        n += 1;
        if n < 20 { eprintln!("t={} server frames {:?} client {:?}", net.now - start, net.server.stats().tx_frames, net.client.stats().tx_frames); }
        net.client.tcp_connect_result(id)
    }).unwrap();
    eprintln!("connected after {}", net.now - start);
}
