use super::*;
use crate::message::Version;
use alloc::borrow::ToOwned;
use alloc::string::String;
use alloc::vec::Vec;

const UNIX0: u64 = 784_111_777; // Sun, 06 Nov 1994 08:49:37 GMT

fn at_ms(ms: u64) -> Now {
    Now::new(Duration::from_millis(ms), UNIX0 + ms / 1000)
}

fn at(secs: u64) -> Now {
    at_ms(secs * 1000)
}

fn conn() -> Connection {
    Connection::new(Limits::default(), at(0))
}

fn drain(c: &mut Connection) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let p = c.pending_output();
        if p.is_empty() {
            break;
        }
        out.extend_from_slice(p);
        let n = p.len();
        c.consume_output(n);
    }
    assert!(!c.has_output());
    out
}

/// Answers every available request with `handler`; returns the requests seen.
fn serve(c: &mut Connection, now: Now, handler: impl Fn(&Request) -> Response) -> Vec<Request> {
    let mut seen = Vec::new();
    while let Some(r) = c.poll_request(now) {
        c.respond(now, handler(&r)).unwrap();
        seen.push(r);
    }
    seen
}

/// Describes the request in the body, so tests can see what the handler got.
fn echo(r: &Request) -> Response {
    let mut body = format!("{} {} {:?} {:?} ", r.method, r.path, r.query, r.version).into_bytes();
    body.extend_from_slice(&r.body);
    Response::new(200).with_header("Content-Type", "text/plain").with_body(body)
}

#[derive(Debug)]
struct Parsed {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Parsed {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
    fn count(&self, name: &str) -> usize {
        self.headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name)).count()
    }
}

/// Splits the server's output into responses; `heads[i]` says whether response i answers HEAD.
fn parse_responses(mut out: &[u8], heads: &[bool]) -> Vec<Parsed> {
    let mut list = Vec::new();
    let mut i = 0;
    while !out.is_empty() {
        let mut slots = [httparse::EMPTY_HEADER; 32];
        let mut resp = httparse::Response::new(&mut slots);
        let n = match resp.parse(out).unwrap() {
            httparse::Status::Complete(n) => n,
            httparse::Status::Partial => panic!("partial response: {:?}", String::from_utf8_lossy(out)),
        };
        let status = resp.code.unwrap();
        let headers: Vec<(String, String)> =
            resp.headers.iter().map(|h| (h.name.to_owned(), String::from_utf8(h.value.to_vec()).unwrap())).collect();
        out = &out[n..];
        let interim = (100..200).contains(&status);
        let is_head = !interim && heads.get(i).copied().unwrap_or(false);
        let len =
            headers.iter().find(|(n, _)| n.eq_ignore_ascii_case("content-length")).map(|(_, v)| v.parse().unwrap());
        let len = if is_head || interim || status == 204 || status == 304 { 0 } else { len.unwrap_or(0) };
        list.push(Parsed { status, headers, body: out[..len].to_vec() });
        out = &out[len..];
        if !interim {
            i += 1;
        }
    }
    list
}

fn one(out: &[u8]) -> Parsed {
    let mut v = parse_responses(out, &[]);
    assert_eq!(v.len(), 1, "{:?}", String::from_utf8_lossy(out));
    v.remove(0)
}

/// Feeds `input` at once and expects the connection to refuse it with `status` and close.
fn refused(input: &[u8], limits: Limits) -> (u16, Connection) {
    let mut c = Connection::new(limits, at(0));
    c.receive(at(0), input);
    let seen = serve(&mut c, at(0), echo);
    assert!(seen.is_empty(), "no request should get through");
    let p = one(&drain(&mut c));
    assert_eq!(p.header("connection"), Some("close"));
    assert_eq!(p.header("content-length").map(|v| v.parse::<usize>().unwrap()), Some(p.body.len()));
    assert!(c.wants_close());
    assert_eq!(c.error().map(|e| e.status()), Some(p.status));
    // Anything after is ignored.
    c.receive(at(0), b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    assert!(c.poll_request(at(0)).is_none());
    assert!(!c.has_output());
    (p.status, c)
}

#[test]
fn simple_get() {
    let mut c = conn();
    c.receive(at(1), b"GET /index.html?a=b&c HTTP/1.1\r\nHost: example\r\nUser-Agent: t\r\n\r\n");
    let r = c.poll_request(at(1)).unwrap();
    assert_eq!(r.method, "GET");
    assert_eq!(r.path, "/index.html");
    assert_eq!(r.query.as_deref(), Some("a=b&c"));
    assert_eq!(r.version, Version::Http11);
    assert_eq!(r.headers, vec![("Host".to_owned(), b"example".to_vec()), ("User-Agent".to_owned(), b"t".to_vec())]);
    assert!(r.body.is_empty());
    assert!(c.poll_request(at(1)).is_none(), "one request at a time");
    let sent = c.respond(at(1), Response::new(200).with_body("hello")).unwrap();
    assert_eq!(sent, Sent { status: 200, body_bytes: 5, keep_alive: true });
    let out = drain(&mut c);
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "HTTP/1.1 200 OK\r\nDate: Sun, 06 Nov 1994 08:49:38 GMT\r\nContent-Length: 5\r\nConnection: keep-alive\r\n\r\nhello"
    );
    assert!(!c.wants_close());
    assert_eq!(c.respond(at(1), Response::new(200)), Err(RespondError::NoRequest));
}

const MIXED: &[u8] = b"GET /a HTTP/1.1\r\nHost: h\r\n\r\n\
POST /b?x HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\nhello world\
POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nT: x\r\n\r\n\
HEAD /d HTTP/1.1\r\nHost: h\r\n\r\n\
\r\nGET /e HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n";

fn check_mixed(out: &[u8], seen: &[Request]) {
    let paths: Vec<&str> = seen.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(paths, ["/a", "/b", "/c", "/d", "/e"]);
    assert_eq!(seen[1].body, b"hello world");
    assert_eq!(seen[2].body, b"hello world");
    let rs = parse_responses(out, &[false, false, false, true, false]);
    assert_eq!(rs.len(), 5);
    let bodies: Vec<String> = rs.iter().map(|r| String::from_utf8(r.body.clone()).unwrap()).collect();
    assert_eq!(bodies[0], "GET /a None Http11 ");
    assert_eq!(bodies[1], "POST /b Some(\"x\") Http11 hello world");
    assert_eq!(bodies[2], "POST /c None Http11 hello world");
    assert_eq!(bodies[3], "");
    assert_eq!(rs[3].header("content-length"), Some("20"), "HEAD keeps the GET's length");
    assert_eq!(bodies[4], "GET /e None Http11 ");
    assert_eq!(rs[4].header("connection"), Some("close"));
}

#[test]
fn pipelined_in_one_read() {
    let mut c = conn();
    c.receive(at(0), MIXED);
    let seen = serve(&mut c, at(0), echo);
    check_mixed(&drain(&mut c), &seen);
    assert!(c.wants_close());
    c.receive_eof(at(0));
    assert!(c.is_closed());
}

#[test]
fn byte_at_a_time() {
    let mut c = conn();
    let mut seen = Vec::new();
    let mut out = Vec::new();
    for (i, b) in MIXED.iter().enumerate() {
        let now = at_ms(i as u64);
        c.receive(now, &[*b]);
        seen.extend(serve(&mut c, now, echo));
        out.extend(drain(&mut c));
    }
    check_mixed(&out, &seen);
}

#[test]
fn every_two_way_split() {
    for split in 0..=MIXED.len() {
        let mut c = conn();
        let mut seen = Vec::new();
        c.receive(at(0), &MIXED[..split]);
        seen.extend(serve(&mut c, at(0), echo));
        c.receive(at(0), &MIXED[split..]);
        seen.extend(serve(&mut c, at(0), echo));
        check_mixed(&drain(&mut c), &seen);
    }
}

#[test]
fn http10_keep_alive_only_when_asked() {
    let mut c = conn();
    c.receive(at(0), b"GET / HTTP/1.0\r\n\r\n");
    let sent = serve(&mut c, at(0), echo);
    assert_eq!(sent.len(), 1);
    assert_eq!(one(&drain(&mut c)).header("connection"), Some("close"));
    assert!(c.wants_close());

    let mut c = conn();
    c.receive(
        at(0),
        b"GET /1 HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /2 HTTP/1.0\r\n\r\nGET /3 HTTP/1.0\r\n\r\n",
    );
    assert_eq!(serve(&mut c, at(0), echo).len(), 2, "the second closes");
    let rs = parse_responses(&drain(&mut c), &[]);
    assert_eq!(rs[0].header("connection"), Some("keep-alive"));
    assert_eq!(rs[1].header("connection"), Some("close"));
    assert!(rs[0].headers.iter().all(|(n, _)| n != "Keep-Alive"));
}

#[test]
fn connection_close_stops_pipeline() {
    let mut c = conn();
    c.receive(at(0), b"GET /1 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(serve(&mut c, at(0), echo).len(), 1);
    assert!(c.wants_close());
    assert!(!c.is_closed(), "output first");
    let p = one(&drain(&mut c));
    assert_eq!(p.header("connection"), Some("close"));
    assert!(!c.is_closed(), "lingers until the client closes");
    c.receive(at(1), b"more");
    c.on_timeout(at(6));
    assert!(c.is_closed(), "or the linger timeout passes");
}

#[test]
fn handler_connection_close_is_honoured_and_server_fields_replaced() {
    let mut c = conn();
    c.receive(at(0), b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    serve(&mut c, at(0), |_| {
        Response::new(200)
            .with_header("Date", "yesterday")
            .with_header("content-length", "99")
            .with_header("Transfer-Encoding", "chunked")
            .with_header("Connection", "Close")
            .with_header("X-Kept", "1")
            .with_body("ok")
    });
    let p = one(&drain(&mut c));
    assert_eq!(p.header("date"), Some("Sun, 06 Nov 1994 08:49:37 GMT"));
    assert_eq!((p.count("date"), p.count("content-length"), p.count("connection")), (1, 1, 1));
    assert_eq!(p.header("content-length"), Some("2"));
    assert_eq!(p.header("connection"), Some("close"));
    assert_eq!(p.count("transfer-encoding"), 0);
    assert_eq!(p.header("x-kept"), Some("1"));
    assert!(c.wants_close());
}

#[test]
fn bodiless_statuses() {
    for (method, status, body, want_len, want_body) in [
        ("HEAD", 200, "abc", Some("3"), ""),
        ("HEAD", 404, "", Some("0"), ""),
        ("GET", 204, "abc", None, ""),
        ("GET", 304, "", None, ""),
        ("GET", 304, "abc", Some("3"), ""),
        ("HEAD", 304, "abc", Some("3"), ""),
        ("GET", 200, "", Some("0"), ""),
        ("GET", 404, "nope", Some("4"), "nope"),
    ] {
        let mut c = conn();
        c.receive(at(0), format!("{method} / HTTP/1.1\r\nHost: a\r\n\r\n").as_bytes());
        let r = c.poll_request(at(0)).unwrap();
        let sent = c.respond(at(0), Response::new(status).with_body(body)).unwrap();
        assert_eq!(sent.body_bytes, want_body.len());
        let out = drain(&mut c);
        let p = parse_responses(&out, &[method == "HEAD"]).remove(0);
        assert_eq!(p.status, status);
        assert_eq!(p.header("content-length"), want_len, "{method} {status}");
        assert!(out.ends_with(b"\r\n\r\n") || out.ends_with(want_body.as_bytes()));
        assert_eq!(out.ends_with(b"\r\n\r\n"), want_body.is_empty(), "{method} {status}: no body bytes");
        drop(r);
        // The connection is still usable afterwards.
        c.receive(at(0), b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        assert!(c.poll_request(at(0)).is_some());
    }
}

#[test]
fn invalid_handler_responses_become_500() {
    for bad in [
        Response::new(101),
        Response::new(99),
        Response::new(1000),
        Response::new(200).with_header("X", "a\r\nSet-Cookie: x"),
        Response::new(200).with_header("Bad Name", "v"),
        Response::new(200).with_header("", "v"),
    ] {
        let mut c = conn();
        c.receive(at(0), b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        c.poll_request(at(0)).unwrap();
        assert_eq!(c.respond(at(0), bad).unwrap().status, 500);
        let p = one(&drain(&mut c));
        assert_eq!(p.status, 500);
        assert_eq!(p.count("set-cookie"), 0);
    }
    // Unknown but valid statuses go out with an empty reason phrase.
    let mut c = conn();
    c.receive(at(0), b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    c.poll_request(at(0)).unwrap();
    c.respond(at(0), Response::new(299)).unwrap();
    assert!(drain(&mut c).starts_with(b"HTTP/1.1 299 \r\n"));
}

#[test]
fn large_bodies_go_out_unchanged() {
    let mut c = conn();
    let body: Vec<u8> = (0..200_000u32).map(|i| i as u8).collect();
    let req = [&b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 200000\r\n\r\n"[..], &body].concat();
    for chunk in req.chunks(1000) {
        c.receive(at(0), chunk);
        serve(&mut c, at(0), |r| Response::new(200).with_body(r.body.clone()));
    }
    let out = drain(&mut c);
    assert_eq!(one(&out).body, body);
}

#[test]
fn expect_100_continue() {
    let mut c = conn();
    c.receive(at(0), b"PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n");
    assert!(c.poll_request(at(0)).is_none());
    assert_eq!(drain(&mut c), b"HTTP/1.1 100 Continue\r\n\r\n");
    c.receive(at(0), b"abc");
    let seen = serve(&mut c, at(0), echo);
    assert_eq!(seen[0].body, b"abc");
    assert_eq!(one(&drain(&mut c)).status, 200);

    // Not when the body is already there, and not for a body that is refused anyway.
    let mut c = conn();
    c.receive(at(0), b"PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc");
    serve(&mut c, at(0), echo);
    assert_eq!(parse_responses(&drain(&mut c), &[]).len(), 1);
    let limits = Limits { max_body_bytes: 2, ..Limits::default() };
    let (status, _) =
        refused(b"PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n", limits);
    assert_eq!(status, 413);
}

#[test]
fn bad_requests() {
    for input in [
        &b"GET\r\n\r\n"[..],
        b"GET / HTTP/1.1\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        b"G@T / HTTP/1.1\r\nHost: a\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
        b"GET / HTTP/1.1\r\nHost: a\r\nNo-Colon\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nX:\x7f\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\n Folded: x\r\n\r\n",
        b"GET / HTTP/1.1\rHost: a\r\n\r\n",
        b"GET foo HTTP/1.1\r\nHost: a\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1x\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcd\r\n",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n-3\r\n",
    ] {
        let (status, c) = refused(input, Limits::default());
        assert_eq!(status, 400, "{:?}", String::from_utf8_lossy(input));
        assert!(matches!(c.error(), Some(RequestError::Malformed(_))));
    }
}

#[test]
fn error_statuses() {
    let small =
        Limits { max_headers: 4, max_head_bytes: 256, max_target_bytes: 64, max_body_bytes: 16, ..Limits::default() };
    let cases: [(&[u8], u16); 10] = [
        (b"GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n", 431),
        (&[&b"GET / HTTP/1.1\r\nHost: a\r\nX: "[..], &[b'x'; 300]].concat(), 431),
        (&[&b"GET /"[..], &[b'x'; 70]].concat(), 414),
        (&[&b"GET /"[..], &[b'x'; 70], b" HTTP/1.1\r\nHost: a\r\n\r\n"].concat(), 414),
        (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 17\r\n\r\n", 413),
        (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n01234567\r\n9\r\n", 413),
        (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
        (b"GET / HTTP/1.2\r\nHost: a\r\n\r\n", 505),
        (b"GET / HTTP/3.0\r\nHost: a\r\n\r\n", 505),
        (b"GET / HTTP/1.1\r\nHost: a\r\nExpect: nonsense\r\n\r\n", 417),
    ];
    for (input, want) in cases {
        let (status, _) = refused(input, small.clone());
        assert_eq!(status, want, "{:?}", String::from_utf8_lossy(input));
    }
    // Headers at the limit are fine.
    let mut c = Connection::new(small.clone(), at(0));
    c.receive(at(0), b"GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n");
    assert!(c.poll_request(at(0)).is_some());
}

#[test]
fn head_too_large_is_noticed_before_the_end() {
    let mut c = conn();
    c.receive(at(0), b"GET / HTTP/1.1\r\nHost: a\r\n");
    let filler = format!("X-Filler: {}\r\n", "y".repeat(100));
    for _ in 0..200 {
        c.receive(at(0), filler.as_bytes());
        if c.poll_request(at(0)).is_none() && c.wants_close() {
            break;
        }
    }
    assert_eq!(c.error(), Some(RequestError::HeadTooLarge));
    assert_eq!(one(&drain(&mut c)).status, 431);
}

#[test]
fn slowloris_head_gets_408() {
    let mut c = conn();
    assert_eq!(c.poll_deadline(), Some(Duration::from_secs(10)));
    c.receive(at(1), b"GET / HTTP/1.1\r\nHost:");
    assert!(c.poll_request(at(1)).is_none());
    // Trickling bytes does not extend the deadline.
    for s in 2..10 {
        c.receive(at(s), b" ");
        assert!(c.poll_request(at(s)).is_none());
        c.on_timeout(at(s));
    }
    assert!(!c.wants_close());
    c.on_timeout(at(10));
    assert!(c.wants_close());
    assert_eq!(c.error(), Some(RequestError::Timeout));
    let p = one(&drain(&mut c));
    assert_eq!((p.status, p.header("connection")), (408, Some("close")));
    c.on_timeout(at(14));
    assert!(!c.is_closed());
    c.on_timeout(at(15));
    assert!(c.is_closed());
    assert_eq!(c.poll_deadline(), None);
}

#[test]
fn slow_body_gets_408() {
    let mut c = conn();
    c.receive(at(0), b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc");
    assert!(c.poll_request(at(0)).is_none());
    assert_eq!(c.poll_deadline(), Some(Duration::from_secs(30)));
    c.receive(at(20), b"def");
    assert!(c.poll_request(at(20)).is_none());
    c.on_timeout(at(30));
    assert_eq!(one(&drain(&mut c)).status, 408);

    let mut c = conn();
    c.receive(at(0), b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab");
    assert!(c.poll_request(at(0)).is_none());
    c.on_timeout(at(30));
    assert_eq!(one(&drain(&mut c)).status, 408);
}

#[test]
fn silent_closes() {
    // A connection that never sends anything.
    let mut c = conn();
    c.on_timeout(at(9));
    assert!(!c.is_closed());
    c.on_timeout(at(10));
    assert!(c.is_closed());
    assert!(!c.has_output());

    // An idle kept-alive connection: the next head's timer starts with its first byte.
    let mut c = conn();
    c.receive(at(1), b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    serve(&mut c, at(1), echo);
    drain(&mut c);
    assert_eq!(c.poll_deadline(), Some(Duration::from_secs(31)));
    c.receive(at(25), b"GET / HT");
    assert_eq!(c.poll_deadline(), Some(Duration::from_secs(35)));
    c.on_timeout(at(31));
    assert!(!c.wants_close());
    c.receive(at(26), b"TP/1.1\r\nHost: a\r\n\r\n");
    serve(&mut c, at(26), echo);
    drain(&mut c);
    c.on_timeout(at(56));
    assert!(c.is_closed());
    assert!(!c.has_output(), "no 408 for an idle connection");
}

#[test]
fn unread_output_times_out_but_slow_reading_does_not() {
    let mut c = conn();
    c.receive(at(0), b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    serve(&mut c, at(0), |_| Response::new(200).with_body(vec![b'x'; 100_000]));
    // The client reads a little in every period: kept.
    for s in 1..5 {
        c.consume_output(1000);
        c.on_timeout(at(30 * s));
        assert!(!c.wants_close());
    }
    // Then stops reading.
    c.on_timeout(at(149));
    assert!(!c.is_closed());
    c.on_timeout(at(150));
    assert!(c.is_closed());
    assert!(!c.has_output());
}

#[test]
fn pipelining_without_reading_is_bounded() {
    let mut c = conn();
    let req = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    let mut answered = 0;
    for _ in 0..10_000 {
        if !c.wants_input() {
            break;
        }
        c.receive(at(0), req);
        answered += serve(&mut c, at(0), |_| Response::new(200).with_body(vec![b'x'; 10_000])).len();
    }
    assert!(!c.wants_input(), "reading stops");
    assert!(answered < 10, "parsing stops while output piles up: {answered}");
    // Reading the output resumes service.
    drain(&mut c);
    assert!(!serve(&mut c, at(0), echo).is_empty());
}

#[test]
fn eof_answers_complete_requests_then_closes() {
    let mut c = conn();
    c.receive(at(0), b"GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\nGET /3 HTT");
    c.receive_eof(at(0));
    assert_eq!(serve(&mut c, at(0), echo).len(), 2);
    assert!(c.wants_close());
    assert!(!c.is_closed());
    assert_eq!(parse_responses(&drain(&mut c), &[]).len(), 2);
    assert!(c.is_closed());

    let mut c = conn();
    c.receive_eof(at(0));
    assert!(c.is_closed());

    // EOF while a request is being handled: answered, then closed.
    let mut c = conn();
    c.receive(at(0), b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    let r = c.poll_request(at(0)).unwrap();
    c.receive_eof(at(0));
    c.respond(at(0), echo(&r)).unwrap();
    assert!(c.wants_close());
    drain(&mut c);
    assert!(c.is_closed());
}

#[test]
fn absolute_form_and_options() {
    let mut c = conn();
    c.receive(
        at(0),
        b"GET http://example.com/p?q HTTP/1.1\r\nHost: example.com\r\n\r\nOPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
    );
    let seen = serve(&mut c, at(0), echo);
    assert_eq!((seen[0].path.as_str(), seen[0].query.as_deref()), ("/p", Some("q")));
    assert_eq!(seen[1].path, "*");
}

#[test]
fn consume_output_tolerates_nonsense() {
    let mut c = conn();
    c.consume_output(usize::MAX);
    c.receive(at(0), b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    serve(&mut c, at(0), |_| Response::new(200).with_body(vec![b'x'; 10_000]));
    assert!(c.has_output());
    c.consume_output(usize::MAX);
    assert!(!c.has_output());
    assert!(c.pending_output().is_empty());
}

#[test]
fn reading_only_while_wanted_never_stalls() {
    // Like the component: read (16 KiB at a time) only while the connection wants input.
    let huge_head = [&b"GET / HTTP/1.1\r\nHost: a\r\nX: "[..], &[b'a'; 17_000], b"\r\n\r\n"].concat();
    let exact_head = [&b"GET / HTTP/1.1\r\nHost: a\r\nX: "[..], &[b'a'; 16 * 1024 - 28]].concat();
    let huge_trailer =
        [&b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: "[..], &[b'a'; 40_000]].concat();
    for (input, status) in [(huge_head, 431), (exact_head, 431), (huge_trailer, 431)] {
        let mut c = conn();
        let mut fed = 0;
        while fed < input.len() && c.wants_input() && !c.wants_close() {
            let n = (input.len() - fed).min(16 * 1024);
            c.receive(at(0), &input[fed..fed + n]);
            fed += n;
            serve(&mut c, at(0), echo);
        }
        assert!(c.wants_close(), "stalled after {fed} of {} bytes", input.len());
        assert_eq!(one(&drain(&mut c)).status, status);
    }
}
