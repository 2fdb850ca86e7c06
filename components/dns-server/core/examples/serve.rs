//! A plain std::net server around the sans-IO core, for trying it and comparing it with NSD on
//! the build host (the component in `components/dns-server` is the real shell):
//!
//! ```text
//! cargo run -p morgana-dns --example serve -- 127.0.0.1:5354 example.com.zone other.zone
//! ```

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::sync::Arc;

use morgana_dns::{Catalog, TcpFramer, frame};

fn main() {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:5354".to_string());
    let mut files = Vec::new();
    for path in args {
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        files.push((path, text));
    }
    let catalog = Arc::new(Catalog::from_files(files).unwrap_or_else(|e| panic!("{e}")));
    for zone in catalog.zones() {
        eprintln!("serving {} ({} records)", zone.origin(), zone.len());
    }
    let udp = UdpSocket::bind(&addr).expect("bind UDP");
    let tcp = TcpListener::bind(&addr).expect("bind TCP");
    let tcp_catalog = catalog.clone();
    std::thread::spawn(move || {
        for stream in tcp.incoming().flatten() {
            let catalog = tcp_catalog.clone();
            std::thread::spawn(move || serve_tcp(&catalog, stream));
        }
    });
    let mut buf = [0u8; 65535];
    let mut out = Vec::new();
    loop {
        let Ok((len, peer)) = udp.recv_from(&mut buf) else { continue };
        if catalog.handle_udp(&buf[..len], &mut out).is_some() {
            let _ = udp.send_to(&out, peer);
        }
    }
}

fn serve_tcp(catalog: &Catalog, mut stream: TcpStream) {
    let mut framer = TcpFramer::new(65535);
    let mut buf = [0u8; 4096];
    loop {
        let Ok(n) = stream.read(&mut buf) else { return };
        if n == 0 {
            return;
        }
        framer.push(&buf[..n]);
        loop {
            let message = match framer.next_message() {
                Ok(Some(message)) => message,
                Ok(None) => break,
                Err(_) => return,
            };
            let Some(responses) = catalog.handle_tcp(message) else { return };
            for response in responses {
                let mut framed = Vec::new();
                frame(&response, &mut framed);
                if stream.write_all(&framed).is_err() {
                    return;
                }
            }
        }
    }
}
