//! udp-echo: sends every UDP datagram back to where it came from, with `std::net::UdpSocket`.
//! Listens on `0.0.0.0:$PORT` (default 7777); `-- --datagrams N` stops after N datagrams.

use std::net::UdpSocket;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let limit: Option<u64> = args.iter().position(|a| a == "--datagrams").and_then(|i| args.get(i + 1)?.parse().ok());
    let port = std::env::var("PORT").unwrap_or_else(|_| "7777".into());
    let socket = match UdpSocket::bind(format!("0.0.0.0:{port}")) {
        Ok(socket) => socket,
        Err(e) => {
            eprintln!("udp-echo: cannot bind port {port}: {e}");
            std::process::exit(1);
        }
    };
    println!("udp-echo: listening on port {port}");
    let mut buffer = [0u8; 65536];
    let mut echoed = 0u64;
    while limit.is_none_or(|limit| echoed < limit) {
        match socket.recv_from(&mut buffer) {
            Ok((len, peer)) => {
                if let Err(e) = socket.send_to(&buffer[..len], peer) {
                    eprintln!("udp-echo: cannot answer {peer}: {e}");
                    continue;
                }
                echoed += 1;
                println!("udp-echo: echoed {len} bytes");
            }
            Err(e) => eprintln!("udp-echo: receive failed: {e}"),
        }
    }
    println!("udp-echo: echoed {echoed} datagrams");
}
