//! Streamed requests and responses against byte-exact expectations from RFC 9112's framing.

use super::*;
use alloc::string::String;
use alloc::vec::Vec;

const UNIX0: u64 = 784_111_777; // Sun, 06 Nov 1994 08:49:37 GMT
const DATE: &str = "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n";

fn at(secs: u64) -> Now {
    Now::new(Duration::from_secs(secs), UNIX0 + secs)
}

fn drain(c: &mut Connection) -> String {
    let mut out = Vec::new();
    while c.has_output() {
        let pending = c.pending_output().to_vec();
        out.extend_from_slice(&pending);
        c.consume_output(pending.len());
    }
    String::from_utf8(out).unwrap()
}

/// Reads the body to its end (or failure), in pieces of at most `max`.
fn read_all(c: &mut Connection, max: usize) -> (Vec<u8>, BodyRead) {
    let mut body = Vec::new();
    loop {
        match c.read_body(at(0), max) {
            BodyRead::Data(piece) => {
                assert!(!piece.is_empty() && piece.len() <= max);
                body.extend_from_slice(&piece);
            }
            other => return (body, other),
        }
    }
}

#[test]
fn a_length_body_streams_out_as_it_arrives() {
    let mut c = Connection::new(Limits::default(), at(0));
    c.receive(at(0), b"POST /up?x=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nhello");
    let head = c.poll_head(at(0)).unwrap();
    assert_eq!((head.method.as_str(), head.path.as_str(), head.query.as_deref()), ("POST", "/up", Some("x=1")));
    assert_eq!(head.content_length, Some(10));
    assert_eq!(read_all(&mut c, 3), (b"hello".to_vec(), BodyRead::Pending));
    c.receive(at(0), b"world");
    assert_eq!(read_all(&mut c, 100), (b"world".to_vec(), BodyRead::End));
}

#[test]
fn a_chunked_body_streams_out_decoded_across_receives() {
    let mut c = Connection::new(Limits::default(), at(0));
    c.receive(at(0), b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel");
    assert_eq!(c.poll_head(at(0)).unwrap().content_length, None);
    assert_eq!(read_all(&mut c, 100), (b"hel".to_vec(), BodyRead::Pending));
    c.receive(at(0), b"lo\r\n6;ext=1\r\n world\r\n0\r\nTrailer: t\r\n\r\n");
    assert_eq!(read_all(&mut c, 100), (b"lo world".to_vec(), BodyRead::End));
}

#[test]
fn a_response_of_unknown_length_is_chunked_and_the_connection_kept() {
    let mut c = Connection::new(Limits::default(), at(0));
    c.receive(at(0), b"GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /next HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(c.poll_head(at(0)).unwrap().path, "/");
    assert_eq!(c.read_body(at(0), 10), BodyRead::End);
    // The next request waits for this one's answer.
    assert_eq!(c.poll_head(at(0)), None);
    c.respond_head(at(0), 200, &[("X-A".into(), b"1".to_vec())], None).unwrap();
    assert_eq!(c.send_body(b"abc"), 3);
    assert_eq!(c.send_body(b"0123456789abcdef"), 16);
    let sent = c.finish_body(at(0)).unwrap();
    assert_eq!(sent, Sent { status: 200, body_bytes: 19, keep_alive: true });
    assert_eq!(
        drain(&mut c),
        format!(
            "HTTP/1.1 200 OK\r\n{DATE}X-A: 1\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n3\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\n\r\n"
        )
    );
    assert_eq!(c.poll_head(at(0)).unwrap().path, "/next");
}

#[test]
fn a_response_of_known_length_is_sent_as_is_and_no_more() {
    let mut c = Connection::new(Limits::default(), at(0));
    c.receive(at(0), b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    c.poll_head(at(0)).unwrap();
    c.respond_head(at(0), 201, &[("Content-Length".into(), b"99".to_vec())], Some(4)).unwrap();
    assert_eq!(c.send_body(b"abcdef"), 4, "no byte beyond the length");
    assert_eq!(c.send_body(b"x"), 0);
    assert_eq!(c.finish_body(at(0)).unwrap(), Sent { status: 201, body_bytes: 4, keep_alive: true });
    assert_eq!(
        drain(&mut c),
        format!("HTTP/1.1 201 Created\r\n{DATE}Content-Length: 4\r\nConnection: keep-alive\r\n\r\nabcd")
    );
}

#[test]
fn a_short_body_closes_the_connection() {
    let mut c = Connection::new(Limits::default(), at(0));
    c.receive(at(0), b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    c.poll_head(at(0)).unwrap();
    c.respond_head(at(0), 200, &[], Some(10)).unwrap();
    c.send_body(b"abc");
    assert!(!c.finish_body(at(0)).unwrap().keep_alive);
    assert!(c.wants_close());
}

#[test]
fn http_1_0_without_a_length_is_delimited_by_the_close() {
    let mut c = Connection::new(Limits::default(), at(0));
    c.receive(at(0), b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    c.poll_head(at(0)).unwrap();
    c.respond_head(at(0), 200, &[], None).unwrap();
    c.send_body(b"raw bytes");
    assert!(!c.finish_body(at(0)).unwrap().keep_alive);
    assert_eq!(drain(&mut c), format!("HTTP/1.1 200 OK\r\n{DATE}Connection: close\r\n\r\nraw bytes"));
    assert!(c.wants_close());
}

#[test]
fn head_and_bodiless_statuses_send_no_body() {
    let mut c = Connection::new(Limits::default(), at(0));
    c.receive(at(0), b"HEAD / HTTP/1.1\r\nHost: a\r\n\r\n");
    c.poll_head(at(0)).unwrap();
    c.respond_head(at(0), 200, &[], Some(612)).unwrap();
    assert_eq!(c.send_body(b"dropped"), 7);
    c.finish_body(at(0)).unwrap();
    assert_eq!(
        drain(&mut c),
        format!("HTTP/1.1 200 OK\r\n{DATE}Content-Length: 612\r\nConnection: keep-alive\r\n\r\n")
    );

    c.receive(at(0), b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    c.poll_head(at(0)).unwrap();
    c.respond_head(at(0), 204, &[], None).unwrap();
    c.send_body(b"dropped");
    c.finish_body(at(0)).unwrap();
    assert_eq!(drain(&mut c), format!("HTTP/1.1 204 No Content\r\n{DATE}Connection: keep-alive\r\n\r\n"));
}

#[test]
fn output_is_bounded_when_the_client_does_not_read() {
    let mut c = Connection::new(Limits::default(), at(0));
    c.receive(at(0), b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    c.poll_head(at(0)).unwrap();
    c.respond_head(at(0), 200, &[], None).unwrap();
    let piece = [7u8; 16 * 1024];
    let mut taken = 0;
    for _ in 0..100 {
        taken += c.send_body(&piece);
    }
    assert!(taken <= OUTPUT_HIGH_WATER, "{taken} bytes queued for a client that reads nothing");
    assert_eq!(c.send_body(&piece), 0);
    // Once the client reads, more is taken.
    let pending = c.pending_output().len();
    c.consume_output(pending);
    assert!(c.send_body(&piece) > 0);
}

#[test]
fn an_unread_body_closes_the_connection_after_the_response() {
    let mut c = Connection::new(Limits::default(), at(0));
    c.receive(at(0), b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\npartial");
    c.poll_head(at(0)).unwrap();
    c.respond_head(at(0), 200, &[], Some(2)).unwrap();
    c.send_body(b"ok");
    let sent = c.finish_body(at(0)).unwrap();
    assert!(!sent.keep_alive);
    assert!(c.wants_close());
}

#[test]
fn bad_or_stalled_bodies_fail_and_are_answered_if_they_can_be() {
    // A malformed chunk before the response: 400, then close.
    let mut c = Connection::new(Limits::default(), at(0));
    c.receive(at(0), b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n");
    c.poll_head(at(0)).unwrap();
    assert_eq!(c.read_body(at(0), 100), BodyRead::Failed);
    assert!(drain(&mut c).starts_with("HTTP/1.1 400 Bad Request\r\n"));
    assert!(c.wants_close());

    // A client that stops sending: 408 when the body timer runs out.
    let mut c = Connection::new(Limits::default(), at(0));
    c.receive(at(0), b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nab");
    c.poll_head(at(0)).unwrap();
    assert_eq!(read_all(&mut c, 100), (b"ab".to_vec(), BodyRead::Pending));
    c.on_timeout(at(31));
    assert!(drain(&mut c).starts_with("HTTP/1.1 408 Request Timeout\r\n"));

    // A client that closes mid-body, after the response began: no second status, just close.
    let mut c = Connection::new(Limits::default(), at(0));
    c.receive(at(0), b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nab");
    c.poll_head(at(0)).unwrap();
    c.respond_head(at(0), 200, &[], None).unwrap();
    c.receive_eof(at(0));
    assert_eq!(read_all(&mut c, 100), (b"ab".to_vec(), BodyRead::Failed));
    assert!(!c.finish_body(at(0)).unwrap().keep_alive);
    assert!(!drain(&mut c).contains("HTTP/1.1 400"));
}

#[test]
fn an_invalid_response_head_becomes_a_500() {
    let mut c = Connection::new(Limits::default(), at(0));
    c.receive(at(0), b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    c.poll_head(at(0)).unwrap();
    c.respond_head(at(0), 200, &[("Bad Name".into(), b"x".to_vec())], None).unwrap();
    c.send_body(b"dropped");
    assert_eq!(c.finish_body(at(0)).unwrap().status, 500);
    let out = drain(&mut c);
    assert!(out.starts_with("HTTP/1.1 500 Internal Server Error\r\n"), "{out}");
    assert!(!out.contains("dropped"), "{out}");
}

#[test]
fn a_streamed_body_may_be_larger_than_a_whole_one_may() {
    let limits = Limits { max_body_bytes: 16, ..Limits::default() };
    let head = b"POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 104857600\r\n\r\n";
    let mut streamed = Connection::new(limits.clone(), at(0));
    streamed.receive(at(0), head);
    assert_eq!(streamed.poll_head(at(0)).map(|h| h.content_length), Some(Some(100 << 20)));
    assert!(!streamed.has_output(), "{}", drain(&mut streamed));
    let mut whole = Connection::new(limits, at(0));
    whole.receive(at(0), head);
    assert_eq!(whole.poll_request(at(0)), None);
    assert!(drain(&mut whole).starts_with("HTTP/1.1 413 "));
}

#[test]
fn trailers_are_kept_from_a_chunked_request_and_sent_after_a_chunked_response() {
    let mut c = Connection::new(Limits::default(), at(0));
    c.receive(at(0), b"POST /t HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX-Sum: 123 \r\nX-B:\r\n\r\n");
    c.poll_head(at(0)).unwrap();
    assert!(c.take_trailers().is_empty(), "none before the end");
    assert_eq!(read_all(&mut c, 100), (b"abc".to_vec(), BodyRead::End));
    assert_eq!(c.take_trailers(), vec![("X-Sum".into(), b"123".to_vec()), ("X-B".into(), Vec::new())]);
    assert!(c.take_trailers().is_empty(), "once");
    c.respond_head(at(0), 200, &[], None).unwrap();
    c.send_body(b"hi");
    let trailers = [(String::from("x-back"), b"yes".to_vec()), (String::from("bad name"), b"no".to_vec())];
    c.finish_body_with_trailers(at(0), &trailers).unwrap();
    let out = drain(&mut c);
    assert!(out.ends_with("\r\n\r\n2\r\nhi\r\n0\r\nx-back: yes\r\n\r\n"), "{out}");
}
