//! Reading a query message, in NSD's order of checks (`query_process` in NSD's query.c), so that
//! bad queries get NSD's error responses.
//!
//! Silent drops: a message shorter than the 12-octet header, and a response (QR set). Every
//! other problem gets an answer: NOTIMP for opcodes other than QUERY and NOTIFY, FORMERR for a
//! question that does not parse (truncated, compression pointer, label > 63, name > 255), a
//! QDCOUNT other than 1, records in the answer or authority section, additional records other
//! than one OPT, and a malformed OPT.

use hickory_proto::rr::Name;

use crate::wire::*;

/// What the client said about EDNS(0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Edns {
    Absent,
    Present {
        payload: u16,
        dnssec_ok: bool,
    },
    /// A version above 0: answered with BADVERS.
    BadVersion,
}

/// A query that passed the checks.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    pub id: u16,
    pub flags: u16,
    /// As the client spelled it.
    pub qname: Name,
    pub qtype: u16,
    pub qclass: u16,
    pub edns: Edns,
    /// The serial of the SOA in an IXFR query's authority section.
    pub ixfr_serial: Option<u32>,
}

/// A query answered (or not) before it reaches the zones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Early {
    Drop,
    /// A bare header (all counts zero) with these flags, opcode and RCODE.
    Header {
        id: u16,
        flags: u16,
    },
    /// A header and an OPT record: NSD's answer to an EDNS query without a question.
    EdnsOnly {
        id: u16,
        flags: u16,
        dnssec_ok: bool,
    },
    /// A NOTIFY: REFUSED for a zone we serve (we take no transfers), NXDOMAIN otherwise.
    Notify {
        id: u16,
        flags: u16,
        qname: Name,
    },
    /// A TSIG-signed query: we have no keys, so NOTAUTH with a BADKEY TSIG, as NSD answers.
    Tsig {
        id: u16,
        flags: u16,
        edns: Edns,
        tsig: Box<TsigEcho>,
    },
}

/// The fields of a query's TSIG record that NSD copies into its BADKEY error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TsigEcho {
    pub key: Name,
    pub algorithm: Name,
    pub time_signed: [u8; 6],
    pub fudge: u16,
    pub original_id: u16,
}

const TYPE_IXFR: u16 = 251;
const TYPE_SOA: u16 = 6;
const TYPE_TSIG: u16 = 250;
const CLASS_ANY: u16 = 255;

fn be16(msg: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(msg.get(at..at + 2)?.try_into().ok()?))
}

fn be32(msg: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(msg.get(at..at + 4)?.try_into().ok()?))
}

/// Reads the question at offset 12: no compression pointers, at most 255 octets, then type and
/// class. Returns the name, type, class and the offset after them.
fn read_question(msg: &[u8]) -> Option<(Name, u16, u16, usize)> {
    let start = HEADER_LEN;
    let mut pos = start;
    let mut labels: Vec<&[u8]> = Vec::new();
    loop {
        let len = usize::from(*msg.get(pos)?);
        if len == 0 {
            pos += 1;
            break;
        }
        if len & 0xc0 != 0 || pos + len + 2 > msg.len() || pos + len + 2 > start + 255 {
            return None;
        }
        labels.push(&msg[pos + 1..pos + 1 + len]);
        pos += len + 1;
    }
    if pos - start > 255 {
        return None;
    }
    let qtype = be16(msg, pos)?;
    let qclass = be16(msg, pos + 2)?;
    let name = Name::from_labels(labels).ok()?;
    Some((name, qtype, qclass, pos + 4))
}

/// Reads a possibly compressed name; pointers must point backwards, so there are no loops.
fn read_name(msg: &[u8], mut pos: usize) -> Option<(Name, usize)> {
    let mut labels: Vec<&[u8]> = Vec::new();
    let mut end = None;
    let mut wire_len = 1;
    loop {
        let len = *msg.get(pos)?;
        match len & 0xc0 {
            0x00 if len == 0 => break,
            0x00 => {
                let label = msg.get(pos + 1..pos + 1 + usize::from(len))?;
                wire_len += label.len() + 1;
                if wire_len > 255 {
                    return None;
                }
                labels.push(label);
                pos += usize::from(len) + 1;
            }
            0xc0 => {
                let target = usize::from(u16::from_be_bytes([len & 0x3f, *msg.get(pos + 1)?]));
                if target >= pos {
                    return None;
                }
                end.get_or_insert(pos + 2);
                pos = target;
            }
            _ => return None,
        }
    }
    let end = end.unwrap_or(pos + 1);
    Some((Name::from_labels(labels).ok()?, end))
}

/// NSD's `tsig_parse_rr` for a TSIG record whose owner starts at `pos`.
fn read_tsig(msg: &[u8], pos: usize) -> Option<TsigEcho> {
    let (key, after) = read_name(msg, pos)?;
    let rdlen = usize::from(be16(msg, after + 8)?);
    let rdata = after + 10;
    let end = rdata.checked_add(rdlen).filter(|&end| end <= msg.len())?;
    let (algorithm, at) = read_name(msg, rdata)?;
    let time_signed: [u8; 6] = msg.get(at..at + 6)?.try_into().ok()?;
    let fudge = be16(msg, at + 6)?;
    let mac_len = usize::from(be16(msg, at + 8)?);
    let at = at + 10 + mac_len;
    let original_id = be16(msg, at)?;
    let other_len = usize::from(be16(msg, at + 4)?);
    (at + 6 + other_len <= end).then_some(TsigEcho { key, algorithm, time_signed, fudge, original_id })
}

/// Skips a possibly compressed name.
fn skip_name(msg: &[u8], mut pos: usize) -> Option<usize> {
    loop {
        let len = *msg.get(pos)?;
        match len & 0xc0 {
            0x00 if len == 0 => return Some(pos + 1),
            0x00 => pos += usize::from(len) + 1,
            0xc0 => return msg.get(pos + 1).map(|_| pos + 2),
            _ => return None,
        }
    }
}

/// Skips a resource record; returns (type, start of rdata, end of rdata).
fn skip_rr(msg: &[u8], pos: usize) -> Option<(u16, usize, usize)> {
    let pos = skip_name(msg, pos)?;
    let rtype = be16(msg, pos)?;
    let rdlen = usize::from(be16(msg, pos + 8)?);
    let rdata = pos + 10;
    let end = rdata + rdlen;
    (end <= msg.len()).then_some((rtype, rdata, end))
}

/// NSD's `edns_parse_record`: `None` when the record at `pos` is not a well-formed OPT.
fn read_opt(msg: &[u8], pos: usize) -> Option<(Edns, usize)> {
    if msg.len() < pos + 11 || msg[pos] != 0 || be16(msg, pos + 1)? != TYPE_OPT {
        return None;
    }
    let payload = be16(msg, pos + 3)?;
    let version = msg[pos + 6];
    let flags = be16(msg, pos + 7)?;
    let mut rdlen = usize::from(be16(msg, pos + 9)?);
    let mut at = pos + 11;
    if version != 0 {
        return Some((Edns::BadVersion, at));
    }
    if rdlen > 0 {
        if msg.len() - at < rdlen || rdlen > 65530 {
            return None;
        }
        while rdlen >= 4 {
            let len = usize::from(be16(msg, at + 2)?);
            rdlen -= 4;
            if rdlen < len {
                return None;
            }
            rdlen -= len;
            at += 4 + len;
        }
        if rdlen != 0 {
            return None;
        }
    }
    Some((Edns::Present { payload, dnssec_ok: flags & 0x8000 != 0 }, at))
}

pub(crate) fn parse(msg: &[u8]) -> Result<Request, Early> {
    if msg.len() < HEADER_LEN {
        return Err(Early::Drop);
    }
    let id = be16(msg, 0).unwrap_or(0);
    let flags = be16(msg, 2).unwrap_or(0);
    let [qdcount, ancount, nscount, arcount] = [4, 6, 8, 10].map(|at| be16(msg, at).unwrap_or(0));
    if flags & QR != 0 {
        return Err(Early::Drop);
    }
    let opcode = (flags >> 11) & 0xf;
    let reply_flags = (flags | QR) & !AD & !RCODE_MASK;
    if opcode != OPCODE_QUERY && opcode != OPCODE_NOTIFY {
        return Err(Early::Header { id, flags: reply_flags | NOTIMP });
    }
    let formerr = Early::Header { id, flags: QR | (flags & RD) | (opcode << 11) | FORMERR };
    if flags & RCODE_MASK != 0 {
        return Err(formerr);
    }
    let Some((qname, qtype, qclass, mut pos)) = read_question(msg) else { return Err(formerr) };
    if opcode == OPCODE_NOTIFY {
        return Err(Early::Notify { id, flags: reply_flags, qname });
    }
    if qdcount != 1 {
        // NSD clears all flags here, and answers an EDNS query without a question with its OPT.
        if qdcount == 0
            && ancount == 0
            && nscount == 0
            && arcount == 1
            && let Some((Edns::Present { dnssec_ok, .. }, _)) = read_opt(msg, HEADER_LEN)
        {
            return Err(Early::EdnsOnly { id, flags: QR | (flags & RD) | (opcode << 11), dnssec_ok });
        }
        return Err(Early::Header { id, flags: QR | FORMERR });
    }
    if ancount != 0 || (qtype != TYPE_IXFR && nscount != 0) {
        return Err(formerr);
    }
    let mut ixfr_serial = None;
    if nscount > 0 {
        if nscount > 64 {
            return Err(formerr);
        }
        for i in 0..nscount {
            let Some((rtype, rdata, end)) = skip_rr(msg, pos) else { return Err(formerr) };
            if i == 0 && rtype == TYPE_SOA && end - rdata >= 22 {
                ixfr_serial = be32(msg, end - 20);
            }
            pos = end;
        }
    }
    let mut remaining = arcount;
    let mut edns = Edns::Absent;
    if remaining > 0
        && let Some((found, after)) = read_opt(msg, pos)
    {
        edns = found;
        pos = after;
        remaining -= 1;
    }
    if remaining > 0 {
        // NSD looks for a TSIG next (it must be last); we have no keys, so NOTAUTH.
        let Some(after) = skip_name(msg, pos) else { return Err(formerr) };
        let (Some(rtype), Some(rclass)) = (be16(msg, after), be16(msg, after + 2)) else { return Err(formerr) };
        if msg.len() < after + 10 {
            return Err(formerr);
        }
        if rtype == TYPE_TSIG && rclass == CLASS_ANY && remaining == 1 {
            let Some(tsig) = read_tsig(msg, pos) else { return Err(formerr) };
            return Err(Early::Tsig { id, flags: reply_flags | NOTAUTH, edns, tsig: Box::new(tsig) });
        }
        return Err(formerr);
    }
    // Trailing bytes are ignored, as by NSD.
    Ok(Request { id, flags, qname, qtype, qclass, edns, ixfr_serial })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(name: &[u8], qtype: u16, extra: &[u8], counts: [u16; 4], flags: u16) -> Vec<u8> {
        let mut m = vec![0x12, 0x34];
        m.extend_from_slice(&flags.to_be_bytes());
        for c in counts {
            m.extend_from_slice(&c.to_be_bytes());
        }
        m.extend_from_slice(name);
        m.extend_from_slice(&qtype.to_be_bytes());
        m.extend_from_slice(&1u16.to_be_bytes());
        m.extend_from_slice(extra);
        m
    }

    const NAME: &[u8] = b"\x07example\x03com\x00";

    #[test]
    fn plain_query() {
        let r = parse(&query(NAME, 1, b"junk", [1, 0, 0, 0], RD)).unwrap();
        assert_eq!(r.qname, Name::from_ascii("example.com.").unwrap());
        assert_eq!((r.qtype, r.qclass, r.edns), (1, 1, Edns::Absent));
    }

    #[test]
    fn drops() {
        assert_eq!(parse(&[0; 11]).unwrap_err(), Early::Drop);
        assert_eq!(parse(&query(NAME, 1, b"", [1, 0, 0, 0], QR)).unwrap_err(), Early::Drop);
    }

    #[test]
    fn opt_parsing() {
        let opt = b"\x00\x00\x29\x10\x00\x00\x00\x80\x00\x00\x04\x00\x63\x00\x00";
        let r = parse(&query(NAME, 1, opt, [1, 0, 0, 1], 0)).unwrap();
        assert_eq!(r.edns, Edns::Present { payload: 4096, dnssec_ok: true });
        let bad_len = b"\x00\x00\x29\x10\x00\x00\x00\x00\x00\x00\x04\x00\x63\x00\x01";
        assert!(matches!(parse(&query(NAME, 1, bad_len, [1, 0, 0, 1], 0)), Err(Early::Header { .. })));
        let v1 = b"\x00\x00\x29\x10\x00\x00\x01\x00\x00\x00\x00";
        assert_eq!(parse(&query(NAME, 1, v1, [1, 0, 0, 1], 0)).unwrap().edns, Edns::BadVersion);
    }

    #[test]
    fn name_limits() {
        let mut long = Vec::new();
        for _ in 0..3 {
            long.push(63);
            long.extend_from_slice(&[b'a'; 63]);
        }
        let mut ok = long.clone();
        ok.push(61);
        ok.extend_from_slice(&[b'a'; 61]);
        ok.push(0);
        assert!(parse(&query(&ok, 1, b"", [1, 0, 0, 0], 0)).is_ok());
        long.push(62);
        long.extend_from_slice(&[b'a'; 62]);
        long.push(0);
        assert!(matches!(parse(&query(&long, 1, b"", [1, 0, 0, 0], 0)), Err(Early::Header { .. })));
        let label64 = [&[64u8][..], &[b'a'; 64], &[0]].concat();
        assert!(matches!(parse(&query(&label64, 1, b"", [1, 0, 0, 0], 0)), Err(Early::Header { .. })));
        assert!(matches!(parse(&query(b"\xc0\x0c", 1, b"", [1, 0, 0, 0], 0)), Err(Early::Header { .. })));
    }

    #[test]
    fn ixfr_serial_from_authority() {
        let soa = b"\xc0\x0c\x00\x06\x00\x01\x00\x00\x00\x00\x00\x16\x00\x00\x00\x00\x00\x2a\x00\x00\x00\x01\x00\x00\x00\x01\x00\x00\x00\x01\x00\x00\x00\x01";
        let r = parse(&query(NAME, 251, soa, [1, 0, 1, 0], 0)).unwrap();
        assert_eq!(r.ixfr_serial, Some(42));
    }
}
