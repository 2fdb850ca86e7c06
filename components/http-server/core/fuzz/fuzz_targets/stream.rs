//! Arbitrary bytes, split arbitrarily, fed into a `Connection` served through the streaming
//! API (`poll_head`, `read_body`, `respond_head`, `send_body`, `finish_body`), interleaved with
//! clock jumps, EOF and partial output reads, the handler's calls chosen by the input too.
//! Asserts no panic, and that what is queued for a client that does not read stays bounded.
#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;

#[path = "../common/limits.rs"]
mod limits;
use morgana_http::{BodyRead, Connection, Now};

fn now(t: u64) -> Now {
    Now::new(Duration::from_millis(t), 1_700_000_000 + t / 1000)
}

/// What may be queued at most: the high-water mark, plus one piece of body with its chunk
/// framing, plus response heads and an error response.
const OUTPUT_BOUND: usize = 64 * 1024 + 4096 + 16 * 1024;

fuzz_target!(|data: &[u8]| {
    let Some((limits, _, mut data)) = limits::split_limits(data) else { return };
    let mut t = 0u64;
    let mut conn = Connection::new(limits, now(t));
    let piece = vec![b'x'; 4096];

    while let Some((&op, rest)) = data.split_first() {
        data = rest;
        let arg = usize::from(op >> 4);
        match op & 15 {
            0 => conn.receive_eof(now(t)),
            1 => {
                t += arg as u64 * 700;
                conn.on_timeout(now(t));
            }
            2 => {
                let n = (arg * 7 + 1).min(data.len());
                let (chunk, rest) = data.split_at(n);
                conn.receive(now(t), chunk);
                data = rest;
            }
            3 => {
                let _ = conn.poll_head(now(t));
            }
            4 => match conn.read_body(now(t), arg * 100 + 1) {
                BodyRead::Data(piece) => assert!(!piece.is_empty() && piece.len() <= arg * 100 + 1),
                BodyRead::Pending | BodyRead::End | BodyRead::Failed => {}
            },
            5 => {
                let status = [200, 204, 304, 404, 101, 500, 99, 1000][arg % 8];
                let length = if arg & 8 == 0 { None } else { Some(arg as u64 * 1000) };
                let headers = [("X-N".to_string(), arg.to_string().into_bytes())];
                let _ = conn.respond_head(now(t), status, &headers, length);
            }
            6 => {
                let taken = conn.send_body(&piece[..arg * 200 + 1]);
                assert!(taken <= arg * 200 + 1);
            }
            7 => {
                let _ = conn.finish_body(now(t));
            }
            8 => {
                let n = (arg * 97).min(conn.pending_output().len());
                conn.consume_output(n);
            }
            _ => {
                let _ = conn.wants_input();
                let _ = conn.poll_deadline();
            }
        }
        let queued: usize = conn.pending_output().len();
        assert!(queued <= OUTPUT_BOUND, "{queued} bytes queued in one piece");
    }
});
