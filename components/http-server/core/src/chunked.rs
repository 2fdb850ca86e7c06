//! Decoding `Transfer-Encoding: chunked` bodies (RFC 9112 §7.1): chunk extensions are checked
//! for stray control bytes and skipped, trailer fields are checked and kept for whoever wants
//! them ([`ChunkedDecoder::take_trailers`]).

use alloc::string::String;
use alloc::vec::Vec;

use crate::head::RequestError;
use crate::message::is_tchar;

/// A chunk-size line (size and extensions) longer than this is refused.
const MAX_CHUNK_LINE: usize = 4096;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Expecting a chunk-size line.
    Size,
    /// Inside chunk data, this many bytes to go.
    Data(u64),
    /// Expecting the CRLF after chunk data.
    DataEnd,
    /// After the last chunk: trailer lines until an empty one.
    Trailer,
    Done,
}

/// An incremental chunked-body decoder.
#[derive(Clone, Debug)]
pub(crate) struct ChunkedDecoder {
    state: State,
    /// How far into the unconsumed input the search for the current line's LF got.
    scanned: usize,
    trailer_bytes: usize,
    /// The trailer fields received: names as sent, values without surrounding whitespace.
    trailers: Vec<(String, Vec<u8>)>,
}

impl ChunkedDecoder {
    pub fn new() -> ChunkedDecoder {
        ChunkedDecoder { state: State::Size, scanned: 0, trailer_bytes: 0, trailers: Vec::new() }
    }

    /// Decodes what it can of `input` into `body`. Returns how many bytes of `input` it used and
    /// whether the body (with its trailer section) is complete.
    pub fn decode(
        &mut self,
        input: &[u8],
        body: &mut Vec<u8>,
        max_body: usize,
        max_trailer: usize,
    ) -> Result<(usize, bool), RequestError> {
        let mut used = 0;
        loop {
            let rest = input.get(used..).unwrap_or_default();
            match self.state {
                State::Done => return Ok((used, true)),
                State::Size => {
                    let Some(line) = self.line(rest, MAX_CHUNK_LINE, RequestError::Malformed("chunk line too long"))?
                    else {
                        return Ok((used, false));
                    };
                    used += line.len() + 2;
                    let size = parse_chunk_line(line)?;
                    if size == 0 {
                        self.state = State::Trailer;
                    } else if (body.len() as u64).saturating_add(size) > max_body as u64 {
                        return Err(RequestError::BodyTooLarge);
                    } else {
                        self.state = State::Data(size);
                    }
                }
                State::Data(remaining) => {
                    let take = rest.len().min(usize::try_from(remaining).unwrap_or(usize::MAX));
                    body.extend_from_slice(rest.get(..take).unwrap_or_default());
                    used += take;
                    let left = remaining - take as u64;
                    if left > 0 {
                        self.state = State::Data(left);
                        return Ok((used, false));
                    }
                    self.state = State::DataEnd;
                }
                State::DataEnd => match rest {
                    [b'\r', b'\n', ..] => {
                        used += 2;
                        self.state = State::Size;
                    }
                    [] | [b'\r'] => return Ok((used, false)),
                    _ => return Err(RequestError::Malformed("chunk data not followed by CRLF")),
                },
                State::Trailer => {
                    let budget = max_trailer.saturating_sub(self.trailer_bytes);
                    let Some(line) = self.line(rest, budget, RequestError::HeadTooLarge)? else {
                        return Ok((used, false));
                    };
                    used += line.len() + 2;
                    self.trailer_bytes += line.len() + 2;
                    if line.is_empty() {
                        self.state = State::Done;
                    } else {
                        self.trailers.push(trailer_field(line)?);
                    }
                }
            }
        }
    }

    /// The trailer fields of a body decoded to its end (none before), once.
    pub fn take_trailers(&mut self) -> Vec<(String, Vec<u8>)> {
        core::mem::take(&mut self.trailers)
    }

    /// The next CRLF-terminated line of `rest` (without the CRLF), once complete. A line of
    /// more than `max` bytes with its LF (so one of `max` bytes still without it) is refused
    /// with `too_long`.
    fn line<'a>(
        &mut self,
        rest: &'a [u8],
        max: usize,
        too_long: RequestError,
    ) -> Result<Option<&'a [u8]>, RequestError> {
        let from = self.scanned.min(rest.len());
        let found = rest.get(from..).unwrap_or_default().iter().position(|&b| b == b'\n');
        let Some(lf) = found.map(|p| from + p) else {
            if rest.len() >= max {
                return Err(too_long);
            }
            self.scanned = rest.len();
            return Ok(None);
        };
        self.scanned = 0;
        if lf >= max {
            return Err(too_long);
        }
        match rest.get(..lf).and_then(|l| l.strip_suffix(b"\r")) {
            Some(line) => Ok(Some(line)),
            None => Err(RequestError::Malformed("chunk line not ended by CRLF")),
        }
    }
}

/// `chunk-size [ chunk-ext ]`: hex digits, then nothing or (after optional whitespace) `;` and
/// extensions without control bytes.
fn parse_chunk_line(line: &[u8]) -> Result<u64, RequestError> {
    let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    if digits == 0 {
        return Err(RequestError::Malformed("invalid chunk size"));
    }
    let mut size: u64 = 0;
    for &d in line.get(..digits).unwrap_or_default() {
        let v = (d as char).to_digit(16).unwrap_or(0);
        size = size.checked_mul(16).and_then(|s| s.checked_add(u64::from(v))).ok_or(RequestError::BodyTooLarge)?;
    }
    let ext = line.get(digits..).unwrap_or_default();
    let ext_start = ext.iter().position(|&b| b != b' ' && b != b'\t').and_then(|i| ext.get(i..)).unwrap_or_default();
    if !ext_start.is_empty() && ext_start.first() != Some(&b';') {
        return Err(RequestError::Malformed("invalid chunk size"));
    }
    if ext.iter().any(|&b| (b < 0x20 && b != b'\t') || b == 0x7f) {
        return Err(RequestError::Malformed("invalid chunk extension"));
    }
    Ok(size)
}

/// A trailer line must look like a field: `token ":" value` with no control bytes in the value.
fn trailer_field(line: &[u8]) -> Result<(String, Vec<u8>), RequestError> {
    let colon = line.iter().position(|&b| b == b':').unwrap_or(0);
    let (name, value) = line.split_at(colon);
    let value = value.get(1..).unwrap_or_default();
    if name.is_empty()
        || !name.iter().copied().all(is_tchar)
        || value.iter().any(|&b| (b < 0x20 && b != b'\t') || b == 0x7f)
    {
        return Err(RequestError::Malformed("invalid trailer field"));
    }
    let name = String::from_utf8_lossy(name).into_owned();
    Ok((name, value.trim_ascii().to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::String;

    fn decode_all(input: &[u8]) -> Result<(Vec<u8>, usize), RequestError> {
        let mut d = ChunkedDecoder::new();
        let mut body = Vec::new();
        let (used, done) = d.decode(input, &mut body, 1 << 20, 1024)?;
        assert!(done, "incomplete");
        Ok((body, used))
    }

    #[test]
    fn simple_and_extensions_and_trailers() {
        let input = b"4\r\nWiki\r\n5;name=val;x\r\npedia\r\nE \t; ext=\"q\"\r\n in\r\n\r\nchunks.\r\n0\r\nX-Trailer: 1\r\n\r\nNEXT";
        let (body, used) = decode_all(input).unwrap();
        assert_eq!(body, b"Wikipedia in\r\n\r\nchunks.");
        assert_eq!(used, input.len() - 4);
        assert_eq!(decode_all(b"0\r\n\r\n").unwrap().0, b"");
        assert_eq!(decode_all(b"00000000000000000000001\r\na\r\n0\r\n\r\n").unwrap().0, b"a");
        assert_eq!(decode_all(b"A\r\n0123456789\r\n0\r\n\r\n").unwrap().0, b"0123456789");
    }

    #[test]
    fn byte_at_a_time() {
        let input = b"3;a=b\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nT: v\r\n\r\n";
        let mut d = ChunkedDecoder::new();
        let mut body = Vec::new();
        let mut buf = Vec::new();
        let mut done = false;
        for &b in input.iter() {
            assert!(!done);
            buf.push(b);
            let (used, fin) = d.decode(&buf, &mut body, 1 << 20, 1024).unwrap();
            buf.drain(..used);
            done = fin;
        }
        assert!(done);
        assert!(buf.is_empty());
        assert_eq!(body, b"abc0123456789abcdef");
    }

    #[test]
    fn invalid() {
        for bad in [
            &b"x\r\n"[..],
            b"-1\r\n",
            b"0x10\r\n",
            b"\r\n",
            b" 5\r\n",
            b"5 x\r\n",
            b"5\n",
            b"5\r\nabcdeXY",
            b"5;a\x01\r\n",
            b"0\r\nno colon\r\n\r\n",
            b"0\r\n: empty\r\n\r\n",
        ] {
            let mut d = ChunkedDecoder::new();
            let r = d.decode(bad, &mut Vec::new(), 1 << 20, 1024);
            assert_eq!(r.map_err(|e| e.status()), Err(400), "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn limits() {
        let mut d = ChunkedDecoder::new();
        assert_eq!(d.decode(b"11\r\n", &mut Vec::new(), 16, 1024), Err(RequestError::BodyTooLarge));
        let mut d = ChunkedDecoder::new();
        let mut body = Vec::new();
        let r = d.decode(b"8\r\n01234567\r\n8\r\n01234567\r\n1\r\n", &mut body, 16, 1024);
        assert_eq!(r, Err(RequestError::BodyTooLarge));
        let mut d = ChunkedDecoder::new();
        assert_eq!(d.decode(b"fffffffffffffffff\r\n", &mut Vec::new(), 16, 1024), Err(RequestError::BodyTooLarge));
        let long = vec![b'1'; MAX_CHUNK_LINE + 1];
        let mut d = ChunkedDecoder::new();
        assert_eq!(d.decode(&long, &mut Vec::new(), 16, 1024).map_err(|e| e.status()), Err(400));
        let mut d = ChunkedDecoder::new();
        let trailer = [&b"0\r\n"[..], &[b'a'; 2000]].concat();
        assert_eq!(d.decode(&trailer, &mut Vec::new(), 16, 1024), Err(RequestError::HeadTooLarge));
    }
}
