//! Arbitrary bytes, split arbitrarily, fed as a server's answer into a `ClientExchange` (a GET,
//! a HEAD or a POST with a chunked body), interleaved with body writes, EOF and reads of the
//! response. Asserts no panic, that the input held back stays within the head limit plus one
//! receive, and that a body never comes out after the end or a failure.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../common/limits.rs"]
mod limits;
use morgana_http::{BodyRead, ClientExchange, RequestBody};

fuzz_target!(|data: &[u8]| {
    let Some((limits, cfg, mut data)) = limits::split_limits(data) else { return };
    let (method, body) = match cfg >> 1 & 3 {
        0 => ("GET", RequestBody::None),
        1 => ("HEAD", RequestBody::None),
        _ => ("POST", RequestBody::Chunked),
    };
    let host = [(String::from("host"), b"fuzz.test".to_vec())];
    let mut exchange = ClientExchange::new(limits, method, "/", &host, body);
    let mut ended = false;
    while let Some((&op, rest)) = data.split_first() {
        data = rest;
        let arg = usize::from(op >> 4);
        match op & 7 {
            0 => exchange.receive_eof(),
            1 | 2 => {
                if exchange.wants_input() {
                    let n = (arg * 13 + 1).min(data.len());
                    let (chunk, rest) = data.split_at(n);
                    exchange.receive(chunk);
                    data = rest;
                }
            }
            3 => {
                let _ = exchange.poll_response_head();
            }
            4 => match exchange.read_body(arg * 100 + 1) {
                BodyRead::Data(bytes) => assert!(!ended && !bytes.is_empty() && bytes.len() <= arg * 100 + 1),
                BodyRead::End | BodyRead::Failed => ended = true,
                BodyRead::Pending => {}
            },
            5 => {
                exchange.send_body(&[b'x'; 64][..arg * 4]);
            }
            6 => {
                let _ = exchange.finish_body();
            }
            _ => {
                let n = exchange.pending_output().len().min(arg * 1000);
                exchange.consume_output(n);
            }
        }
    }
});
