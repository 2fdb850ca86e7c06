//! The combined access-log format (Apache's `%h %l %u %t "%r" %>s %b "%{Referer}i"
//! "%{User-agent}i"`), with client-controlled text escaped so a request cannot forge log lines.

use alloc::string::String;

use core::fmt::Write as _;

use crate::date::ClfDate;
use crate::message::Request;

/// One combined-log-format line (no trailing newline) for an exchange:
/// `1.2.3.4 - - [24/Nov/2026:03:49:21 +0000] "GET / HTTP/1.1" 200 612 "-" "curl/7.88.1"`.
///
/// `remote` is the client's address as it should appear (usually the IP alone), `body_bytes`
/// the response body bytes sent (`-` when 0, as Apache's `%b`). Quotes, backslashes, control
/// and non-ASCII bytes in the request line, `Referer` and `User-Agent` are escaped (`\"`, `\\`,
/// `\xHH`).
pub fn combined_log_line(remote: &str, request: &Request, status: u16, body_bytes: usize, unix_secs: u64) -> String {
    let mut line = String::with_capacity(128);
    escape_into(&mut line, remote.as_bytes());
    let _ = write!(line, " - - [{}] \"", ClfDate(unix_secs));
    escape_into(&mut line, request.method.as_bytes());
    line.push(' ');
    escape_into(&mut line, request.path.as_bytes());
    if let Some(q) = &request.query {
        line.push('?');
        escape_into(&mut line, q.as_bytes());
    }
    let _ = write!(line, " {}\" {status} ", request.version);
    if body_bytes == 0 {
        line.push('-');
    } else {
        let _ = write!(line, "{body_bytes}");
    }
    for name in ["referer", "user-agent"] {
        line.push_str(" \"");
        match request.header(name) {
            Some(v) if !v.is_empty() => escape_into(&mut line, v),
            _ => line.push('-'),
        }
        line.push('"');
    }
    line
}

fn escape_into(out: &mut String, bytes: &[u8]) {
    for &b in bytes {
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(b as char),
            _ => {
                let _ = write!(out, "\\x{b:02x}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Version;
    use alloc::borrow::ToOwned;
    use alloc::vec::Vec;

    fn request(headers: Vec<(&str, &[u8])>) -> Request {
        Request {
            method: "GET".into(),
            path: "/".into(),
            query: None,
            version: Version::Http11,
            headers: headers.into_iter().map(|(n, v)| (n.to_owned(), v.to_vec())).collect(),
            body: Vec::new(),
        }
    }

    #[test]
    fn the_documented_example() {
        let r = request(vec![("Host", b"x"), ("User-Agent", b"curl/7.88.1")]);
        assert_eq!(
            combined_log_line("1.2.3.4", &r, 200, 612, 1_795_492_161),
            r#"1.2.3.4 - - [24/Nov/2026:03:49:21 +0000] "GET / HTTP/1.1" 200 612 "-" "curl/7.88.1""#
        );
    }

    #[test]
    fn query_referer_zero_bytes_and_escapes() {
        let mut r = request(vec![("referer", b"http://a/\"x\""), ("User-Agent", b"evil\n\xff\\")]);
        r.method = "HEAD".into();
        r.path = "/p".into();
        r.query = Some("q=1".into());
        r.version = Version::Http10;
        assert_eq!(
            combined_log_line("::1", &r, 304, 0, 0),
            r#"::1 - - [01/Jan/1970:00:00:00 +0000] "HEAD /p?q=1 HTTP/1.0" 304 - "http://a/\"x\"" "evil\x0a\xff\\""#
        );
    }
}
