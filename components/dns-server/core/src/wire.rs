//! The message encoder: header, question, records, with name compression that matches names
//! case-insensitively (as NSD's does, so answers carry the question's spelling) and marks to
//! roll back a record or an RRset that does not fit.

use std::collections::HashMap;

use hickory_proto::rr::{Name, RData};
use hickory_proto::serialize::binary::{BinEncodable, BinEncoder};

pub(crate) const HEADER_LEN: usize = 12;

pub(crate) const QR: u16 = 0x8000;
pub(crate) const AA: u16 = 0x0400;
pub(crate) const TC: u16 = 0x0200;
pub(crate) const RD: u16 = 0x0100;
pub(crate) const AD: u16 = 0x0020;
pub(crate) const RCODE_MASK: u16 = 0x000f;

pub(crate) const OPCODE_QUERY: u16 = 0;
pub(crate) const OPCODE_NOTIFY: u16 = 4;

pub(crate) const NOERROR: u16 = 0;
pub(crate) const FORMERR: u16 = 1;
pub(crate) const NXDOMAIN: u16 = 3;
pub(crate) const NOTIMP: u16 = 4;
pub(crate) const REFUSED: u16 = 5;
pub(crate) const NOTAUTH: u16 = 9;
/// Extended RCODE 16 (BADVERS): 1 in the OPT's upper bits, 0 in the header.
pub(crate) const BADVERS: u16 = 16;

pub(crate) const TYPE_OPT: u16 = 41;
pub(crate) const CLASS_IN: u16 = 1;

/// Names written at offsets past this cannot be pointed to.
const MAX_POINTER: usize = 0x3fff;

/// A rollback point.
#[derive(Clone, Copy)]
pub(crate) struct Mark {
    len: usize,
    names: usize,
}

pub(crate) struct Writer<'b> {
    buf: &'b mut Vec<u8>,
    /// Lowercased wire form of a name suffix → offset of its first occurrence.
    names: HashMap<Vec<u8>, u16>,
    /// Keys of `names` in insertion order, for rollback.
    log: Vec<Vec<u8>>,
}

impl<'b> Writer<'b> {
    /// Starts a message in `buf` (cleared) with a zeroed header.
    pub fn new(buf: &'b mut Vec<u8>) -> Self {
        buf.clear();
        buf.extend_from_slice(&[0; HEADER_LEN]);
        Writer { buf, names: HashMap::new(), log: Vec::new() }
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn mark(&self) -> Mark {
        Mark { len: self.buf.len(), names: self.log.len() }
    }

    pub fn rollback(&mut self, mark: Mark) {
        self.buf.truncate(mark.len);
        for name in self.log.drain(mark.names..) {
            self.names.remove(&name);
        }
    }

    pub fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }

    pub fn u16(&mut self, v: u16) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    pub fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    pub fn bytes(&mut self, v: &[u8]) {
        self.buf.extend_from_slice(v);
    }

    pub fn set_u16(&mut self, at: usize, v: u16) {
        self.buf[at..at + 2].copy_from_slice(&v.to_be_bytes());
    }

    pub fn header(&mut self, id: u16, flags: u16, counts: [u16; 4]) {
        self.set_u16(0, id);
        self.set_u16(2, flags);
        for (i, count) in counts.into_iter().enumerate() {
            self.set_u16(4 + 2 * i, count);
        }
    }

    /// Writes `name`; with `compress`, points to an earlier copy of its longest known suffix and
    /// remembers the suffixes it writes out.
    pub fn name(&mut self, name: &Name, compress: bool) {
        let labels: Vec<&[u8]> = name.iter().collect();
        let suffix = |from: usize| {
            let mut wire = Vec::new();
            for label in &labels[from..] {
                wire.push(label.len() as u8);
                wire.extend(label.iter().map(u8::to_ascii_lowercase));
            }
            wire
        };
        let (written, pointer) = if compress {
            (0..labels.len())
                .find_map(|i| self.names.get(&suffix(i)).map(|&p| (i, Some(p))))
                .unwrap_or((labels.len(), None))
        } else {
            (labels.len(), None)
        };
        for (i, label) in labels[..written].iter().enumerate() {
            let offset = self.buf.len();
            if compress && offset <= MAX_POINTER {
                let key = suffix(i);
                if !self.names.contains_key(&key) {
                    self.names.insert(key.clone(), offset as u16);
                    self.log.push(key);
                }
            }
            self.buf.push(label.len() as u8);
            self.buf.extend_from_slice(label);
        }
        match pointer {
            Some(p) => self.u16(0xc000 | p),
            None => self.u8(0),
        }
    }

    /// Writes one resource record.
    pub fn record(&mut self, owner: &Name, class: u16, ttl: u32, rdata: &RData) {
        self.name(owner, true);
        self.u16(u16::from(rdata.record_type()));
        self.u16(class);
        self.u32(ttl);
        let at = self.buf.len();
        self.u16(0);
        self.rdata(rdata);
        let len = self.buf.len() - at - 2;
        self.set_u16(at, len.min(0xffff) as u16);
    }

    /// Record data; the names of the RFC 1035 types are compressed (NS, CNAME, PTR, MX, SOA),
    /// others (SRV, RFC 2782) are not, as in NSD.
    fn rdata(&mut self, rdata: &RData) {
        match rdata {
            RData::A(a) => self.bytes(&a.0.octets()),
            RData::AAAA(aaaa) => self.bytes(&aaaa.0.octets()),
            RData::NS(ns) => self.name(&ns.0, true),
            RData::CNAME(cname) => self.name(&cname.0, true),
            RData::PTR(ptr) => self.name(&ptr.0, true),
            RData::MX(mx) => {
                self.u16(mx.preference);
                self.name(&mx.exchange, true);
            }
            RData::SOA(soa) => {
                self.name(&soa.mname, true);
                self.name(&soa.rname, true);
                self.u32(soa.serial);
                self.u32(soa.refresh as u32);
                self.u32(soa.retry as u32);
                self.u32(soa.expire as u32);
                self.u32(soa.minimum);
            }
            RData::SRV(srv) => {
                self.u16(srv.priority);
                self.u16(srv.weight);
                self.u16(srv.port);
                self.name(&srv.target, false);
            }
            RData::TXT(txt) => {
                for s in txt.txt_data.iter() {
                    self.u8(s.len() as u8);
                    self.bytes(s);
                }
            }
            RData::CAA(caa) => {
                self.u8(caa.flags());
                self.u8(caa.tag.len() as u8);
                self.bytes(caa.tag.as_bytes());
                self.bytes(&caa.value);
            }
            other => {
                // Not produced by the zone parser; encode without compression.
                let mut scratch = Vec::new();
                let mut encoder = BinEncoder::new(&mut scratch);
                encoder.set_canonical_form(true);
                if other.emit(&mut encoder).is_ok() {
                    self.bytes(&scratch);
                }
            }
        }
    }

    /// Appends an OPT record (RFC 6891).
    pub fn opt(&mut self, payload: u16, extended_rcode: u8, dnssec_ok: bool, ede: Option<u16>) {
        self.u8(0);
        self.u16(TYPE_OPT);
        self.u16(payload);
        self.u8(extended_rcode);
        self.u8(0);
        self.u16(if dnssec_ok { 0x8000 } else { 0 });
        match ede {
            Some(code) => {
                // RFC 8914 Extended DNS Error, no text.
                self.u16(6);
                self.u16(15);
                self.u16(2);
                self.u16(code);
            }
            None => self.u16(0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compression_ignores_case_and_rolls_back() {
        let mut buf = Vec::new();
        let mut w = Writer::new(&mut buf);
        w.name(&Name::from_ascii("WWW.Example.COM.").unwrap(), true);
        let mark = w.mark();
        w.name(&Name::from_ascii("mail.example.com.").unwrap(), true);
        assert_eq!(&w.buf[HEADER_LEN + 17..], b"\x04mail\xc0\x10");
        w.rollback(mark);
        w.name(&Name::from_ascii("a.mail.example.com.").unwrap(), true);
        assert_eq!(&w.buf[HEADER_LEN + 17..], b"\x01a\x04mail\xc0\x10", "mail.example.com must be forgotten");
        w.name(&Name::from_ascii("x.a.mail.example.com.").unwrap(), false);
        assert!(w.buf.ends_with(b"\x01x\x01a\x04mail\x07example\x03com\x00"));
    }
}
