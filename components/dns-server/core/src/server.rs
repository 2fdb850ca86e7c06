//! The entry points: a query message in, response message(s) out.

use hickory_proto::rr::Name;

use crate::EDNS_UDP_PAYLOAD;
use crate::answer::{Answer, Section, TYPE_ANY};
use crate::catalog::Catalog;
use crate::name::key;
use crate::query::{self, Early, Edns, Request};
use crate::wire::*;
use crate::zone::{RRset, Zone};

const TYPE_AXFR: u16 = 252;
const TYPE_IXFR: u16 = 251;
const TYPE_TXT: u16 = 16;
const CLASS_CH: u16 = 3;
const CLASS_ANY: u16 = 255;

/// The most a UDP response without EDNS may carry (RFC 1035).
const UDP_MIN: usize = 512;
/// Past this, NSD leaves out optional RRsets over UDP (its `MINIMAL_RESPONSES` build default).
const MINIMAL_RESPONSE_SIZE: usize = 1232;
/// NSD's cap on each AXFR message (its largest compression offset).
const AXFR_MESSAGE_MAX: usize = 16383;
const TCP_MAX: usize = 65535;
/// Room kept for our OPT record: 11 octets without options.
const OPT_LEN: usize = 11;

/// Extended DNS Errors (RFC 8914) NSD attaches.
const EDE_PROHIBITED: u16 = 18;
const EDE_NOT_SUPPORTED: u16 = 21;

/// What was sent back, for logs and counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reply {
    /// The RCODE, extended (BADVERS is 16).
    pub rcode: u16,
    /// Whether TC was set.
    pub truncated: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Transport {
    Udp,
    Tcp,
}

/// The response messages to one TCP query: one, or a zone transfer's sequence, produced one
/// message at a time so a big zone is never held in memory twice.
pub struct Responses<'a> {
    state: State<'a>,
}

enum State<'a> {
    One(Option<Vec<u8>>),
    Transfer(Transfer<'a>),
}

impl Responses<'_> {
    /// Writes the next message into `out` (cleared first); `false` when there are no more.
    pub fn next_into(&mut self, out: &mut Vec<u8>) -> bool {
        match &mut self.state {
            State::One(message) => match message.take() {
                Some(message) => {
                    *out = message;
                    true
                }
                None => false,
            },
            State::Transfer(transfer) => transfer.next_into(out),
        }
    }
}

impl Iterator for Responses<'_> {
    type Item = Vec<u8>;

    fn next(&mut self) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        self.next_into(&mut out).then_some(out)
    }
}

impl Catalog {
    /// Answers a query that came over UDP, writing the response into `out` (cleared first).
    ///
    /// `None` means send nothing: the message is shorter than a DNS header or is itself a
    /// response (QR set), the two cases where NSD stays silent. Everything else gets an answer,
    /// FORMERR for what cannot be parsed. The response fits the client's EDNS payload size
    /// (at least 512, at most [`EDNS_UDP_PAYLOAD`]); what does not fit is left out RRset by RRset
    /// and TC is set when that hits the answer or authority section. AXFR over UDP gets NOTIMP.
    pub fn handle_udp(&self, query: &[u8], out: &mut Vec<u8>) -> Option<Reply> {
        match query::parse(query) {
            Ok(request) => Some(self.respond(&request, Transport::Udp, out)),
            Err(early) => self.early(early, out),
        }
    }

    /// Answers a query that came over TCP (without its length prefix; see
    /// [`TcpFramer`](crate::TcpFramer)). `None` as for [`Catalog::handle_udp`], and also for a
    /// message too short to hold a header and a question (which NSD does not read further);
    /// NSD closes the connection then. AXFR (and IXFR, which NSD answers AXFR-style) yields the
    /// zone in messages of at most 16383 octets, the SOA first and last.
    pub fn handle_tcp(&self, query: &[u8]) -> Option<Responses<'_>> {
        /// A header and the shortest question (the root name, type and class).
        const SHORTEST_TCP_QUERY: usize = 12 + 1 + 4;
        if query.len() < SHORTEST_TCP_QUERY {
            return None;
        }
        let request = match query::parse(query) {
            Ok(request) => request,
            Err(early) => {
                let mut out = Vec::new();
                self.early(early, &mut out)?;
                return Some(Responses { state: State::One(Some(out)) });
            }
        };
        if let Some(transfer) = self.transfer(&request, Transport::Tcp) {
            return Some(Responses { state: State::Transfer(transfer) });
        }
        let mut out = Vec::new();
        self.respond(&request, Transport::Tcp, &mut out);
        Some(Responses { state: State::One(Some(out)) })
    }

    fn early(&self, early: Early, out: &mut Vec<u8>) -> Option<Reply> {
        let mut w = Writer::new(out);
        let (id, flags) = match early {
            Early::Drop => return None,
            Early::Header { id, flags } => (id, flags),
            Early::EdnsOnly { id, flags, dnssec_ok } => {
                w.header(id, flags, [0, 0, 0, 1]);
                w.opt(EDNS_UDP_PAYLOAD, 0, dnssec_ok, None);
                return Some(Reply { rcode: NOERROR, truncated: false });
            }
            Early::Tsig { id, flags, edns, tsig } => {
                let edns_count = u16::from(edns != Edns::Absent);
                w.header(id, flags, [0, 0, 0, edns_count + 1]);
                match edns {
                    Edns::Present { dnssec_ok, .. } => w.opt(EDNS_UDP_PAYLOAD, 0, dnssec_ok, None),
                    Edns::BadVersion => w.opt(EDNS_UDP_PAYLOAD, 1, false, None),
                    Edns::Absent => {}
                }
                // The TSIG error record (RFC 8945 section 5.3.2): no MAC, error BADKEY (17).
                w.name(&tsig.key, false);
                w.u16(250);
                w.u16(255);
                w.u32(0);
                let at = w.len();
                w.u16(0);
                w.name(&tsig.algorithm, false);
                w.bytes(&tsig.time_signed);
                w.u16(tsig.fudge);
                w.u16(0);
                w.u16(tsig.original_id);
                w.u16(17);
                w.u16(0);
                let len = (w.len() - at - 2) as u16;
                w.set_u16(at, len);
                return Some(Reply { rcode: NOTAUTH, truncated: false });
            }
            Early::Notify { id, flags, qname } => {
                let rcode = if self.zone_at(&key(&qname)).is_some() { REFUSED } else { NXDOMAIN };
                (id, flags | rcode)
            }
        };
        w.header(id, flags, [0; 4]);
        Some(Reply { rcode: flags & RCODE_MASK, truncated: false })
    }

    /// A zone transfer stream, when `request` is an AXFR or IXFR that gets one.
    fn transfer(&self, request: &Request, transport: Transport) -> Option<Transfer<'_>> {
        if request.edns == Edns::BadVersion || !matches!(request.qclass, CLASS_IN | CLASS_ANY) {
            return None;
        }
        let zone = self.zone_at(&key(&request.qname))?;
        if !self.options.allow_transfer {
            return None;
        }
        let limit = match (request.qtype, transport) {
            (TYPE_AXFR, Transport::Tcp) => AXFR_MESSAGE_MAX,
            (TYPE_IXFR, _) => {
                let serial = request.ixfr_serial?;
                if serial_ge(serial, zone.soa().serial) {
                    return None; // up to date: a single SOA, answered by `respond`
                }
                match transport {
                    Transport::Tcp => AXFR_MESSAGE_MAX,
                    Transport::Udp => udp_limit(request.edns),
                }
            }
            _ => return None,
        };
        let dnssec_ok = match request.edns {
            Edns::Present { dnssec_ok, .. } => Some(dnssec_ok),
            _ => None,
        };
        Some(Transfer {
            zone,
            id: request.id,
            flags: QR | AA | (request.flags & RD),
            question: Some((request.qname.clone(), request.qtype, request.qclass)),
            edns: dnssec_ok,
            limit,
            single: transport == Transport::Udp,
            node: 0,
            rrset: 0,
            rr: 0,
            done: false,
        })
    }

    /// Every response that is a single message.
    fn respond(&self, request: &Request, transport: Transport, out: &mut Vec<u8>) -> Reply {
        let mut w = Writer::new(out);
        let (payload_ok, dnssec_ok) = match request.edns {
            Edns::Absent => (false, false),
            Edns::Present { dnssec_ok, .. } => (true, dnssec_ok),
            Edns::BadVersion => {
                // NSD: the query's flags, the question, and an OPT with extended RCODE 1.
                w.header(request.id, (request.flags | QR) & !AD & !RCODE_MASK, [1, 0, 0, 1]);
                question(&mut w, request);
                w.opt(EDNS_UDP_PAYLOAD, 1, false, None);
                return Reply { rcode: BADVERS, truncated: false };
            }
        };
        let flags = QR | (request.flags & RD);
        let opt = |w: &mut Writer<'_>, ede: Option<u16>| {
            if payload_ok {
                w.opt(EDNS_UDP_PAYLOAD, 0, dnssec_ok, ede);
            }
        };
        let error = |w: &mut Writer<'_>, rcode: u16, with_question: bool, ede: Option<u16>| {
            let counts = [u16::from(with_question), 0, 0, u16::from(payload_ok)];
            w.header(request.id, flags | rcode, counts);
            if with_question {
                question(w, request);
            }
            opt(w, ede);
            Reply { rcode, truncated: false }
        };

        if request.qclass != CLASS_IN && request.qclass != CLASS_ANY {
            if request.qclass == CLASS_CH {
                // NSD answers id.server and version.bind; we hide them (as NSD's hide-identity
                // and hide-version do) and refuse the rest of CHAOS as NSD does.
                let hidden = matches!(request.qtype, TYPE_TXT | TYPE_ANY) && is_identity_name(&request.qname);
                return error(&mut w, REFUSED, true, Some(if hidden { EDE_PROHIBITED } else { EDE_NOT_SUPPORTED }));
            }
            return error(&mut w, REFUSED, false, Some(EDE_NOT_SUPPORTED));
        }
        if matches!(request.qtype, TYPE_AXFR | TYPE_IXFR) {
            // NSD's answer_axfr_ixfr: AXFR over UDP is not implemented, then the zone must be
            // one we serve (NOTAUTH) and transfers allowed (REFUSED).
            if request.qtype == TYPE_AXFR && transport == Transport::Udp {
                return error(&mut w, NOTIMP, true, None);
            }
            let Some(zone) = self.zone_at(&key(&request.qname)) else {
                return error(&mut w, NOTAUTH, true, None);
            };
            if !self.options.allow_transfer {
                return error(&mut w, REFUSED, true, Some(EDE_PROHIBITED));
            }
            let Some(serial) = request.ixfr_serial.filter(|_| request.qtype == TYPE_IXFR) else {
                // An IXFR without the client's SOA (or an AXFR that `transfer` did not take).
                return error(&mut w, FORMERR, false, None);
            };
            if serial_ge(serial, zone.soa().serial) {
                // Up to date: the current SOA alone (RFC 1995 section 2).
                w.header(request.id, flags | AA, [1, 1, 0, u16::from(payload_ok)]);
                question(&mut w, request);
                let soa = zone.soa_rrset();
                w.record(&zone.apex().name, CLASS_IN, soa.rrs[0].ttl, &soa.rrs[0].rdata);
                opt(&mut w, None);
                return Reply { rcode: NOERROR, truncated: false };
            }
            // An older serial over UDP: the first message of the AXFR-style answer, as NSD.
            let Some(mut transfer) = self.transfer(request, transport) else {
                return error(&mut w, FORMERR, false, None);
            };
            drop(w);
            transfer.next_into(out);
            return Reply { rcode: NOERROR, truncated: false };
        }

        let answer = self.resolve(&request.qname, request.qtype, request.qclass == CLASS_ANY);
        let (max_len, reserved) = match transport {
            Transport::Udp => (udp_limit(request.edns), if payload_ok { OPT_LEN } else { 0 }),
            Transport::Tcp => (TCP_MAX, if payload_ok { OPT_LEN } else { 0 }),
        };
        question(&mut w, request);
        let (counts, truncated) = encode(&mut w, &answer, max_len - reserved, transport);
        let mut header_flags = flags | answer.rcode;
        if answer.aa {
            header_flags |= AA;
        }
        if truncated {
            header_flags |= TC;
        }
        w.header(request.id, header_flags, [1, counts[0], counts[1], counts[2] + u16::from(payload_ok)]);
        opt(&mut w, answer.ede);
        Reply { rcode: answer.rcode, truncated }
    }
}

fn question(w: &mut Writer<'_>, request: &Request) {
    w.name(&request.qname, true);
    w.u16(request.qtype);
    w.u16(request.qclass);
}

/// The UDP size limit: the client's EDNS payload size within [512, 1232], else 512.
fn udp_limit(edns: Edns) -> usize {
    match edns {
        Edns::Present { payload, .. } if usize::from(payload) > UDP_MIN => {
            usize::from(payload).min(usize::from(EDNS_UDP_PAYLOAD))
        }
        _ => UDP_MIN,
    }
}

/// RFC 1982 serial number arithmetic: `a` is the same as or newer than `b`.
fn serial_ge(a: u32, b: u32) -> bool {
    a == b || (a.wrapping_sub(b) as i32) > 0
}

fn is_identity_name(name: &Name) -> bool {
    let text = name.to_ascii().to_ascii_lowercase();
    matches!(text.as_str(), "id.server." | "hostname.bind." | "version.server." | "version.bind.")
}

/// NSD's `encode_answer`/`packet_encode_rrset`: RRsets section by section while they fit in
/// `limit`. An RRset that does not fit is left out whole; in the answer or authority section
/// that sets TC and ends the message. Over UDP, the optional sections stop at the first RRset
/// that does not fit or that takes the message past 1232 octets, without TC (unless that leaves
/// a referral without any A glue). Returns the answer, authority and additional counts.
fn encode(w: &mut Writer<'_>, answer: &Answer<'_>, limit: usize, transport: Transport) -> ([u16; 3], bool) {
    let udp = transport == Transport::Udp;
    let mut counts = [0u16; 5];
    let mut truncated = false;
    'sections: for (index, section) in Section::ALL.into_iter().enumerate() {
        let optional = section >= Section::OptionalAuthority;
        let mut done = false;
        for entry in answer.entries.iter().filter(|e| e.section == section) {
            let start = w.mark();
            let (added, complete) = encode_rrset(w, &entry.owner, entry.rrset, limit);
            if optional && udp && (!complete || w.len() > MINIMAL_RESPONSE_SIZE) {
                // NSD still tries the rest of this section, then stops.
                w.rollback(start);
                done = true;
                continue;
            }
            if !complete && !optional {
                w.rollback(start);
                truncated = true;
                break 'sections;
            }
            // Over TCP an optional RRset may end up partial, as in NSD.
            counts[index] = counts[index].saturating_add(added);
        }
        if done {
            if section == Section::AdditionalA && counts[index] == 0 && answer.delegation {
                truncated = true;
            }
            break;
        }
    }
    ([counts[0], counts[1].saturating_add(counts[2]), counts[3].saturating_add(counts[4])], truncated)
}

/// Writes the records of an RRset while they fit in `limit`; returns how many were written and
/// whether that was all of them.
fn encode_rrset(w: &mut Writer<'_>, owner: &Name, rrset: &RRset, limit: usize) -> (u16, bool) {
    let mut added = 0u16;
    for rr in &rrset.rrs {
        let mark = w.mark();
        w.record(owner, CLASS_IN, rr.ttl, &rr.rdata);
        if w.len() > limit {
            w.rollback(mark);
            return (added, false);
        }
        added = added.saturating_add(1);
    }
    (added, true)
}

/// An AXFR (or AXFR-style IXFR) in progress: SOA, every other record by owner in canonical
/// order, SOA again, in messages of at most `limit` octets.
struct Transfer<'a> {
    zone: &'a Zone,
    id: u16,
    flags: u16,
    /// The question, in the first message only.
    question: Option<(Name, u16, u16)>,
    /// The OPT's DO bit when the query had EDNS; first message only.
    edns: Option<bool>,
    limit: usize,
    /// One message only (IXFR over UDP): what fits, as NSD sends it.
    single: bool,
    node: usize,
    rrset: usize,
    rr: usize,
    done: bool,
}

impl Transfer<'_> {
    fn next_into(&mut self, out: &mut Vec<u8>) -> bool {
        if self.done {
            return false;
        }
        let mut w = Writer::new(out);
        let first = self.question.take();
        let edns = if first.is_some() { self.edns.take() } else { None };
        let limit = self.limit - if edns.is_some() { OPT_LEN } else { 0 };
        let mut count = 0u16;
        let soa = self.zone.soa_rrset();
        let apex = &self.zone.apex().name;
        if let Some((qname, qtype, qclass)) = &first {
            w.name(qname, true);
            w.u16(*qtype);
            w.u16(*qclass);
            w.record(apex, CLASS_IN, soa.rrs[0].ttl, &soa.rrs[0].rdata);
            count += 1;
        }
        let nodes = self.zone.nodes();
        let mut full = false;
        'nodes: while self.node < nodes.len() {
            let node = &nodes[self.node];
            while self.rrset < node.rrsets.len() {
                let rrset = &node.rrsets[self.rrset];
                if rrset.rtype != hickory_proto::rr::RecordType::SOA {
                    while self.rr < rrset.rrs.len() {
                        let rr = &rrset.rrs[self.rr];
                        let mark = w.mark();
                        w.record(&node.name, CLASS_IN, rr.ttl, &rr.rdata);
                        // A record too big for any message goes alone (up to 64 KiB).
                        if w.len() > limit && count > 0 {
                            w.rollback(mark);
                            full = true;
                            break 'nodes;
                        }
                        count += 1;
                        self.rr += 1;
                    }
                }
                self.rrset += 1;
                self.rr = 0;
            }
            self.node += 1;
            self.rrset = 0;
        }
        if !full {
            let mark = w.mark();
            w.record(apex, CLASS_IN, soa.rrs[0].ttl, &soa.rrs[0].rdata);
            if w.len() > limit && count > 0 {
                w.rollback(mark);
            } else {
                count += 1;
                self.done = true;
            }
        }
        if self.single {
            self.done = true;
        }
        let questions = u16::from(first.is_some());
        w.header(self.id, self.flags, [questions, count, 0, u16::from(edns.is_some())]);
        if let Some(dnssec_ok) = edns {
            w.opt(EDNS_UDP_PAYLOAD, 0, dnssec_ok, None);
        }
        true
    }
}
