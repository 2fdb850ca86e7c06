//! Arbitrary bytes, split arbitrarily, interleaved with clock jumps, EOF and partial output
//! reads, fed into a `Connection`. Asserts no panic, one request at a time within the limits,
//! and that the output is a well-formed sequence of responses, one per request answered (plus
//! 100-continues and at most one error response).
#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;

#[path = "../common/limits.rs"]
mod limits;
use morgana_http::{Connection, Now, Request, Response};

fn now(t: u64) -> Now {
    Now::new(Duration::from_millis(t), 1_700_000_000 + t / 1000)
}

fn answer(r: &Request, n: usize) -> Response {
    let status = [200, 204, 304, 404, 101, 500][n % 6];
    Response::new(status).with_header("X-N", n.to_string()).with_body(r.body.clone())
}

fn read_all(conn: &mut Connection, out: &mut Vec<u8>) {
    loop {
        let p = conn.pending_output();
        if p.is_empty() {
            break;
        }
        out.extend_from_slice(p);
        let k = p.len();
        conn.consume_output(k);
    }
    assert!(!conn.has_output());
}

fuzz_target!(|data: &[u8]| {
    let Some((limits, _, mut data)) = limits::split_limits(data) else { return };
    let mut t = 0u64;
    let mut conn = Connection::new(limits.clone(), now(t));
    let mut out = Vec::new();
    let mut heads = Vec::new(); // per final response: answers HEAD?
    let mut abandoned = false;
    let mut n = 0usize;

    while let Some((&op, rest)) = data.split_first() {
        data = rest;
        let arg = usize::from(op >> 3);
        match op & 7 {
            0 => conn.receive_eof(now(t)),
            1 => {
                t += arg as u64 * 700;
                let had_output = conn.has_output();
                conn.on_timeout(now(t));
                abandoned |= had_output && conn.is_closed();
            }
            2 => {
                let p = conn.pending_output();
                let k = p.len().min(arg * 97);
                out.extend_from_slice(&p[..k]);
                conn.consume_output(k);
            }
            k => {
                let len = ((arg + 1) << (k - 3)).min(data.len());
                let (chunk, rest) = data.split_at(len);
                data = rest;
                conn.receive(now(t), chunk);
            }
        }
        while let Some(r) = conn.poll_request(now(t)) {
            assert!(r.body.len() <= limits.max_body_bytes);
            assert!(r.headers.len() <= limits.max_headers);
            assert!(!r.path.is_empty() && !r.method.is_empty());
            assert!(conn.poll_request(now(t)).is_none(), "one request at a time");
            heads.push(r.method == "HEAD");
            let sent = conn.respond(now(t), answer(&r, n)).expect("a request is in flight");
            // (101 is refused and replaced by the server's own 500.)
            assert!(sent.status == 500 || sent.body_bytes <= r.body.len());
            n += 1;
        }
        if conn.error().is_some() {
            assert!(conn.wants_close());
        }
        // Input is refused only while the output must drain first: never a stall.
        if !conn.wants_input() && !conn.wants_close() {
            assert!(conn.has_output(), "refuses input with nothing else to do");
        }
        if conn.is_closed() {
            assert!(!conn.wants_input() || conn.wants_close());
        }
        if op & 0x40 == 0 {
            // Usually the client reads everything.
            read_all(&mut conn, &mut out);
        }
    }
    read_all(&mut conn, &mut out);
    if abandoned {
        return;
    }
    if conn.error().is_some() {
        heads.push(false);
    }
    // The output must be exactly the expected responses.
    let mut rest = &out[..];
    let mut finals = 0;
    while !rest.is_empty() {
        let mut slots = [httparse::EMPTY_HEADER; 16];
        let mut resp = httparse::Response::new(&mut slots);
        let end = match resp.parse(rest) {
            Ok(httparse::Status::Complete(end)) => end,
            other => panic!("bad response {other:?}: {:?}", String::from_utf8_lossy(rest)),
        };
        let status = resp.code.unwrap_or(0);
        let len: Option<usize> = resp
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case("content-length"))
            .map(|h| std::str::from_utf8(h.value).unwrap().parse().unwrap());
        rest = &rest[end..];
        if status == 100 {
            continue;
        }
        let is_head = heads.get(finals).copied().expect("more responses than requests");
        finals += 1;
        let body = if is_head || status == 204 || status == 304 { 0 } else { len.expect("Content-Length") };
        assert!(rest.len() >= body, "truncated body");
        rest = &rest[body..];
    }
    assert_eq!(finals, heads.len());
});
