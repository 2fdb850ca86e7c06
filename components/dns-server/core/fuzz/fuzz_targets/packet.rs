//! Arbitrary bytes as a UDP query, a TCP query and a TCP stream: never a panic, and every
//! response parses, fits its transport's limit and answers the query's ID.
#![no_main]

use std::sync::OnceLock;

use hickory_proto::op::Message;
use libfuzzer_sys::fuzz_target;
use morgana_dns::{Catalog, TcpFramer};

const EXAMPLE: &str = include_str!("../../testdata/example.com.zone");
const REVERSE: &str = include_str!("../../testdata/2.0.192.in-addr.arpa.zone");

fn catalog() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(|| {
        Catalog::from_files([("example.com.zone", EXAMPLE), ("2.0.192.in-addr.arpa.zone", REVERSE)]).unwrap()
    })
}

fn check(query: &[u8], response: &[u8]) {
    assert!(response.len() >= 12);
    assert_eq!(response[..2], query[..2], "the response answers the query's ID");
    assert!(response[2] & 0x80 != 0, "QR set");
    Message::from_vec(response).expect("every response parses");
}

fuzz_target!(|data: &[u8]| {
    let catalog = catalog();
    let mut out = Vec::new();
    if catalog.handle_udp(data, &mut out).is_some() {
        check(data, &out);
        assert!(out.len() <= 1232, "UDP response of {} octets", out.len());
    }
    if let Some(responses) = catalog.handle_tcp(data) {
        for response in responses.take(64) {
            check(data, &response);
            assert!(response.len() <= 65535);
        }
    }
    let mut framer = TcpFramer::new(4096);
    framer.push(data);
    while let Ok(Some(message)) = framer.next_message() {
        let message = message.to_vec();
        if let Some(responses) = catalog.handle_tcp(&message) {
            responses.take(4).for_each(drop);
        }
    }
});
