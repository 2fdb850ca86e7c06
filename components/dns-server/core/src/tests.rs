//! Behaviour tests: the sample zones in `testdata/`, queries in wire format, responses decoded
//! with hickory and compared with what NSD 4.6 answers for the same zones (checked against `nsd`
//! with `kdig` and raw queries).

use hickory_proto::op::Message;
use hickory_proto::rr::Record;

use crate::{Catalog, Options, TcpFramer, ZoneErrorKind, frame};

pub(crate) const EXAMPLE: &str = include_str!("../testdata/example.com.zone");

pub(crate) const REVERSE: &str = include_str!("../testdata/2.0.192.in-addr.arpa.zone");

pub(crate) fn catalog() -> Catalog {
    Catalog::from_files([("example.com.zone", EXAMPLE), ("zones/2.0.192.in-addr.arpa.zone", REVERSE)]).unwrap()
}

/// Query options: flags word and an optional OPT (payload, version, DO).
#[derive(Clone, Copy)]
struct Q {
    flags: u16,
    class: u16,
    opt: Option<(u16, u8, bool)>,
}

const RD: Q = Q { flags: 0x0100, class: 1, opt: None };

fn wire_name(name: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for label in name.trim_end_matches('.').split('.').filter(|l| !l.is_empty()) {
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    out
}

fn opt_record(payload: u16, version: u8, dnssec_ok: bool) -> Vec<u8> {
    let mut out = vec![0, 0, 41];
    out.extend_from_slice(&payload.to_be_bytes());
    out.extend_from_slice(&[0, version, if dnssec_ok { 0x80 } else { 0 }, 0, 0, 0]);
    out
}

fn query_with(name: &str, qtype: u16, q: Q) -> Vec<u8> {
    let mut out = vec![0xbe, 0xef];
    out.extend_from_slice(&q.flags.to_be_bytes());
    out.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, u8::from(q.opt.is_some())]);
    out.extend(wire_name(name));
    out.extend_from_slice(&qtype.to_be_bytes());
    out.extend_from_slice(&q.class.to_be_bytes());
    if let Some((payload, version, dnssec_ok)) = q.opt {
        out.extend(opt_record(payload, version, dnssec_ok));
    }
    out
}

fn query(name: &str, qtype: u16) -> Vec<u8> {
    query_with(name, qtype, RD)
}

fn udp_raw(c: &Catalog, msg: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    c.handle_udp(msg, &mut out).map(|_| out)
}

fn udp(c: &Catalog, msg: &[u8]) -> Message {
    Message::from_vec(&udp_raw(c, msg).expect("a response")).expect("a parseable response")
}

fn tcp(c: &Catalog, msg: &[u8]) -> Vec<Message> {
    c.handle_tcp(msg).expect("a response").map(|m| Message::from_vec(&m).expect("parseable")).collect()
}

fn rr(records: &[Record]) -> Vec<String> {
    records.iter().map(|r| r.to_string()).collect()
}

/// "rcode flags an/ns/ar" — flags in dig's order.
fn head(m: &Message) -> String {
    let h = &m.metadata;
    let mut flags = vec!["qr"];
    for (on, name) in [
        (h.authoritative, "aa"),
        (h.truncation, "tc"),
        (h.recursion_desired, "rd"),
        (h.recursion_available, "ra"),
        (h.authentic_data, "ad"),
        (h.checking_disabled, "cd"),
    ] {
        if on {
            flags.push(name);
        }
    }
    format!(
        "{:?} {} {}/{}/{}",
        h.response_code,
        flags.join(" "),
        m.answers.len(),
        m.authorities.len(),
        m.additionals.len()
    )
}

const A: u16 = 1;
const NS: u16 = 2;
const CNAME: u16 = 5;
const SOA: u16 = 6;
const PTR: u16 = 12;
const MX: u16 = 15;
const TXT: u16 = 16;
const AAAA: u16 = 28;
const SRV: u16 = 33;
const DS: u16 = 43;
const IXFR: u16 = 251;
const AXFR: u16 = 252;
const ANY: u16 = 255;
const CAA: u16 = 257;

const APEX_NS: [&str; 2] = ["example.com. 3600 IN NS ns1.example.com.", "example.com. 3600 IN NS ns2.example.com."];
const NS_GLUE: [&str; 3] = [
    "ns1.example.com. 3600 IN A 192.0.2.53",
    "ns2.example.com. 3600 IN A 192.0.2.54",
    "ns1.example.com. 3600 IN AAAA 2001:db8::53",
];
const NEG_SOA: &str =
    "example.com. 300 IN SOA ns1.example.com. hostmaster.example.com. 2024010101 7200 3600 1209600 300";

#[test]
fn apex_a_with_ns_authority_and_glue() {
    let m = udp(&catalog(), &query("example.com", A));
    assert_eq!(head(&m), "NoError qr aa rd 1/2/3");
    assert_eq!(m.metadata.id, 0xbeef);
    assert_eq!(rr(&m.answers), ["example.com. 3600 IN A 192.0.2.1"]);
    assert_eq!(rr(&m.authorities), APEX_NS);
    assert_eq!(rr(&m.additionals), NS_GLUE);
}

#[test]
fn apex_types() {
    let c = catalog();
    let m = udp(&c, &query("example.com", AAAA));
    assert_eq!(rr(&m.answers), ["example.com. 3600 IN AAAA 2001:db8::1"]);
    let m = udp(&c, &query("example.com", TXT));
    assert_eq!(m.answers.len(), 2);
    assert_eq!(head(&m), "NoError qr aa rd 2/2/3");
    let m = udp(&c, &query("example.com", CAA));
    assert_eq!(head(&m), "NoError qr aa rd 1/2/3");
    assert_eq!(rr(&m.answers), ["example.com. 3600 IN CAA 0 issue \"letsencrypt.org\""]);
    let m = udp(&c, &query("example.com", SOA));
    assert_eq!(rr(&m.answers)[0], NEG_SOA.replace(" 300 IN", " 3600 IN"));
    assert_eq!(head(&m), "NoError qr aa rd 1/2/3");
}

#[test]
fn ns_query_at_apex_puts_glue_in_additional() {
    let m = udp(&catalog(), &query("example.com", NS));
    assert_eq!(head(&m), "NoError qr aa rd 2/0/3");
    assert_eq!(rr(&m.answers), APEX_NS);
    assert_eq!(rr(&m.additionals), NS_GLUE);
}

#[test]
fn mx_additional_targets_a_before_aaaa() {
    let m = udp(&catalog(), &query("example.com", MX));
    assert_eq!(head(&m), "NoError qr aa rd 2/2/5");
    assert_eq!(
        rr(&m.additionals),
        [
            "mail.example.com. 3600 IN A 192.0.2.25",
            "ns1.example.com. 3600 IN A 192.0.2.53",
            "ns2.example.com. 3600 IN A 192.0.2.54",
            "mail.example.com. 3600 IN AAAA 2001:db8::25",
            "ns1.example.com. 3600 IN AAAA 2001:db8::53",
        ]
    );
}

#[test]
fn mx_additional_from_wildcard_but_not_from_glue() {
    let c = catalog();
    let m = udp(&c, &query("mxwild.example.com", MX));
    assert_eq!(rr(&m.additionals)[0], "a.wild.example.com. 3600 IN A 192.0.2.200");
    let m = udp(&c, &query("mxglue.example.com", MX));
    assert!(!rr(&m.additionals).iter().any(|r| r.contains("192.0.2.100")), "{:?}", rr(&m.additionals));
}

#[test]
fn srv_with_target_address() {
    let m = udp(&catalog(), &query("_sip._tcp.example.com", SRV));
    assert_eq!(head(&m), "NoError qr aa rd 1/2/4");
    assert_eq!(rr(&m.answers), ["_sip._tcp.example.com. 600 IN SRV 10 60 5060 sip.example.com."]);
    assert_eq!(rr(&m.additionals)[0], "sip.example.com. 3600 IN A 192.0.2.70");
}

#[test]
fn cname_chain_is_followed_within_the_zone() {
    let m = udp(&catalog(), &query("www.example.com", A));
    assert_eq!(head(&m), "NoError qr aa rd 3/2/3");
    assert_eq!(
        rr(&m.answers),
        [
            "www.example.com. 3600 IN CNAME web.example.com.",
            "web.example.com. 3600 IN CNAME host1.example.com.",
            "host1.example.com. 3600 IN A 192.0.2.80",
        ]
    );
}

#[test]
fn cname_edge_cases() {
    let c = catalog();
    // Asked for the CNAME itself: not followed.
    let m = udp(&c, &query("www.example.com", CNAME));
    assert_eq!(head(&m), "NoError qr aa rd 1/2/3");
    // Out of every zone: the CNAME alone, still authoritative.
    let m = udp(&c, &query("ext.example.com", A));
    assert_eq!(head(&m), "NoError qr aa rd 1/0/0");
    // A loop stops when an RRset repeats.
    let m = udp(&c, &query("loop1.example.com", A));
    assert_eq!(head(&m), "NoError qr aa rd 2/0/0");
    // To a name that does not exist: NXDOMAIN with the CNAME.
    let m = udp(&c, &query("tonx.example.com", A));
    assert_eq!(head(&m), "NXDomain qr aa rd 1/1/0");
    assert_eq!(rr(&m.authorities), [NEG_SOA]);
    // Into another zone we serve: followed there.
    let m = udp(&c, &query("torev.example.com", PTR));
    assert_eq!(head(&m), "NoError qr aa rd 2/1/0");
    assert_eq!(rr(&m.answers)[1], "80.2.0.192.in-addr.arpa. 86400 IN PTR host1.example.com.");
    assert_eq!(rr(&m.authorities), ["2.0.192.in-addr.arpa. 86400 IN NS ns1.example.com."]);
    // Into a delegation: the referral, with AA (the CNAME is ours).
    let m = udp(&c, &query("tosub.example.com", A));
    assert_eq!(head(&m), "NoError qr aa rd 1/2/1");
    // A CNAME at the qname but the type exists elsewhere: the chain's NODATA.
    let m = udp(&c, &query("tohost.example.com", MX));
    assert_eq!(head(&m), "NoError qr aa rd 1/1/0");
}

#[test]
fn nxdomain_and_nodata_carry_the_negative_soa() {
    let c = catalog();
    let m = udp(&c, &query("nope.example.com", A));
    assert_eq!(head(&m), "NXDomain qr aa rd 0/1/0");
    assert_eq!(rr(&m.authorities), [NEG_SOA]);
    let m = udp(&c, &query("host1.example.com", MX));
    assert_eq!(head(&m), "NoError qr aa rd 0/1/0");
    assert_eq!(rr(&m.authorities), [NEG_SOA]);
    // Unknown and meta types are NODATA too.
    for qtype in [999, 0, 254, 65535] {
        assert_eq!(head(&udp(&c, &query("example.com", qtype))), "NoError qr aa rd 0/1/0", "type {qtype}");
    }
}

#[test]
fn delegation_is_a_referral_with_glue() {
    let c = catalog();
    for (name, qtype) in [("foo.sub.example.com", A), ("sub.example.com", NS), ("ns.sub.example.com", A)] {
        let m = udp(&c, &query(name, qtype));
        assert_eq!(head(&m), "NoError qr rd 0/2/1", "{name}");
        assert_eq!(
            rr(&m.authorities),
            ["sub.example.com. 3600 IN NS ns.sub.example.com.", "sub.example.com. 3600 IN NS ns.elsewhere.net."]
        );
        assert_eq!(rr(&m.additionals), ["ns.sub.example.com. 3600 IN A 192.0.2.100"]);
    }
    // DS is answered by the parent side: NODATA, authoritative.
    let m = udp(&c, &query("sub.example.com", DS));
    assert_eq!(head(&m), "NoError qr aa rd 0/1/0");
}

#[test]
fn wildcards() {
    let c = catalog();
    let m = udp(&c, &query("foo.wild.example.com", A));
    assert_eq!(head(&m), "NoError qr aa rd 1/2/3");
    assert_eq!(rr(&m.answers), ["foo.wild.example.com. 3600 IN A 192.0.2.200"]);
    let m = udp(&c, &query("a.b.wild.example.com", TXT));
    assert_eq!(rr(&m.answers), ["a.b.wild.example.com. 3600 IN TXT wildcard"]);
    // Wildcard NODATA.
    let m = udp(&c, &query("foo.wild.example.com", MX));
    assert_eq!(head(&m), "NoError qr aa rd 0/1/0");
    // The empty non-terminal ent.wild blocks the wildcard below it, and is itself NODATA.
    let m = udp(&c, &query("y.ent.wild.example.com", A));
    assert_eq!(head(&m), "NXDomain qr aa rd 0/1/0");
    let m = udp(&c, &query("ent.wild.example.com", A));
    assert_eq!(head(&m), "NoError qr aa rd 0/1/0");
    // The wildcard's parent is an empty non-terminal, not covered by the wildcard.
    let m = udp(&c, &query("wild.example.com", A));
    assert_eq!(head(&m), "NoError qr aa rd 0/1/0");
    // The owner keeps the client's spelling.
    let m = udp(&c, &query("FoO.WiLd.example.com", A));
    assert_eq!(rr(&m.answers), ["FoO.WiLd.example.com. 3600 IN A 192.0.2.200"]);
}

#[test]
fn reverse_zone_ptr() {
    let m = udp(&catalog(), &query("80.2.0.192.in-addr.arpa", PTR));
    assert_eq!(head(&m), "NoError qr aa rd 1/1/0");
    assert_eq!(rr(&m.answers), ["80.2.0.192.in-addr.arpa. 86400 IN PTR host1.example.com."]);
    let m = udp(&catalog(), &query("81.2.0.192.in-addr.arpa", PTR));
    assert_eq!(head(&m), "NXDomain qr aa rd 0/1/0");
    assert_eq!(m.authorities[0].ttl, 3600);
}

#[test]
fn any_returns_one_rrset_as_nsd() {
    let c = catalog();
    let m = udp(&c, &query("example.com", ANY));
    assert_eq!(head(&m), "NoError qr aa rd 1/0/0");
    assert_eq!(m.answers[0].record_type().to_string(), "SOA");
    let m = udp(&c, &query("www.example.com", ANY));
    assert_eq!(rr(&m.answers), ["www.example.com. 3600 IN CNAME web.example.com."]);
    let m = udp(&c, &query("_sip._tcp.example.com", ANY));
    assert_eq!(head(&m), "NoError qr aa rd 1/0/1");
    let m = udp(&c, &query("_tcp.example.com", ANY));
    assert_eq!(head(&m), "NoError qr aa rd 0/1/0");
}

#[test]
fn refused_outside_served_zones() {
    let c = catalog();
    let m = udp(&c, &query("example.org", A));
    assert_eq!(head(&m), "Refused qr rd 0/0/0");
    assert_eq!(m.queries.len(), 1);
    let m = udp(&c, &query(".", NS));
    assert_eq!(head(&m), "Refused qr rd 0/0/0");
    // With EDNS: OPT echoed with EDE 20 (not authoritative), as NSD.
    let raw = udp_raw(&c, &query_with("example.org", A, Q { opt: Some((1232, 0, false)), ..RD })).unwrap();
    assert!(raw.ends_with(&[0, 0, 41, 4, 0xd0, 0, 0, 0, 0, 0, 6, 0, 15, 0, 2, 0, 20]), "{raw:02x?}");
}

#[test]
fn classes() {
    let c = catalog();
    // CLASS ANY: answered, but not authoritative, and without SOA or NS.
    let m = udp(&c, &query_with("example.com", A, Q { class: 255, ..RD }));
    assert_eq!(head(&m), "NoError qr rd 1/0/0");
    let m = udp(&c, &query_with("nope.example.com", A, Q { class: 255, ..RD }));
    assert_eq!(head(&m), "NXDomain qr rd 0/0/0");
    // Other classes: REFUSED without the question.
    for class in [2, 4, 42, 254] {
        let m = udp(&c, &query_with("example.com", A, Q { class, ..RD }));
        assert_eq!(head(&m), "Refused qr rd 0/0/0", "class {class}");
        assert!(m.queries.is_empty());
    }
    // CHAOS: REFUSED with the question.
    let m = udp(&c, &query_with("version.bind", TXT, Q { class: 3, ..RD }));
    assert_eq!(head(&m), "Refused qr rd 0/0/0");
    assert_eq!(m.queries.len(), 1);
}

#[test]
fn edns() {
    let c = catalog();
    let m = udp(&c, &query_with("example.com", A, Q { opt: Some((4096, 0, true)), ..RD }));
    let edns = m.edns.as_ref().expect("OPT echoed");
    assert_eq!((edns.max_payload(), edns.version(), edns.flags().dnssec_ok), (1232, 0, true));
    assert_eq!(head(&m), "NoError qr aa rd 1/2/3");
    // No OPT in, none out.
    assert!(udp(&c, &query("example.com", A)).edns.is_none());
    // Version 1: BADVERS, the question kept, DO not echoed.
    let raw = udp_raw(&c, &query_with("example.com", A, Q { opt: Some((4096, 1, true)), ..RD })).unwrap();
    assert_eq!(&raw[2..12], &[0x81, 0x00, 0, 1, 0, 0, 0, 0, 0, 1]);
    assert!(raw.ends_with(&[0, 0, 41, 4, 0xd0, 1, 0, 0, 0, 0, 0]));
    // Two OPT records: FORMERR, header only, no OPT.
    let mut two = query_with("example.com", A, Q { opt: Some((4096, 0, false)), ..RD });
    two[11] = 2;
    two.extend(opt_record(4096, 0, false));
    let raw = udp_raw(&c, &two).unwrap();
    assert_eq!(raw, [0xbe, 0xef, 0x81, 0x01, 0, 0, 0, 0, 0, 0, 0, 0]);
    // An EDNS query without a question: NOERROR and the OPT (NSD).
    let mut probe = vec![0xbe, 0xef, 0x01, 0x00, 0, 0, 0, 0, 0, 0, 0, 1];
    probe.extend(opt_record(1232, 0, false));
    let raw = udp_raw(&c, &probe).unwrap();
    assert_eq!(&raw[..12], &[0xbe, 0xef, 0x81, 0x00, 0, 0, 0, 0, 0, 0, 0, 1]);
}

#[test]
fn truncation_over_udp_drops_rrsets_that_do_not_fit() {
    let c = catalog();
    // 6 x 115-octet TXT records do not fit in 512: nothing in the answer, TC.
    let m = udp(&c, &query("big.example.com", TXT));
    assert_eq!(head(&m), "NoError qr aa tc rd 0/0/0");
    assert_eq!(m.queries.len(), 1);
    // RRsets before the one that does not fit stay (NSD).
    let m = udp(&c, &query("bigcname.example.com", TXT));
    assert_eq!(head(&m), "NoError qr aa tc rd 1/0/0");
    // A payload size below 512 counts as 512; 600 is too small too.
    let m = udp(&c, &query_with("big.example.com", TXT, Q { opt: Some((100, 0, false)), ..RD }));
    assert_eq!(head(&m), "NoError qr aa tc rd 0/0/0");
    assert!(m.edns.is_some());
    let m = udp(&c, &query_with("big.example.com", TXT, Q { opt: Some((600, 0, false)), ..RD }));
    assert_eq!(head(&m), "NoError qr aa tc rd 0/0/0");
    // 4096 is capped at 1232, which fits everything.
    let raw = udp_raw(&c, &query_with("big.example.com", TXT, Q { opt: Some((4096, 0, false)), ..RD })).unwrap();
    assert_eq!(raw.len(), 818);
    assert_eq!(head(&Message::from_vec(&raw).unwrap()), "NoError qr aa rd 6/2/3");
    // Over TCP the whole answer.
    let m = tcp(&c, &query("big.example.com", TXT));
    assert_eq!(m.len(), 1);
    assert_eq!(head(&m[0]), "NoError qr aa rd 6/2/3");
}

#[test]
fn optional_sections_are_dropped_without_tc() {
    // An answer that fits but leaves no room for the NS RRset: authority and additional go.
    let mut zone = String::from("@ SOA ns h 1 2 3 4 5\n@ NS ns\nns A 192.0.2.1\n");
    for i in 0..3 {
        zone.push_str(&format!("t TXT \"{}\"\n", "x".repeat(145 + i)));
    }
    let c = Catalog::from_files([("example.com.zone", zone.as_str())]).unwrap();
    let m = udp(&c, &query("t.example.com", TXT));
    assert_eq!(head(&m), "NoError qr aa rd 3/0/0");
}

#[test]
fn header_flags_from_the_query() {
    let c = catalog();
    // RD is copied, every other query flag is cleared.
    let m = udp(&c, &query_with("example.com", A, Q { flags: 0x0100 | 0x0400 | 0x0200 | 0x0020 | 0x0010, ..RD }));
    assert_eq!(head(&m), "NoError qr aa rd 1/2/3");
    let m = udp(&c, &query_with("example.com", A, Q { flags: 0, ..RD }));
    assert_eq!(head(&m), "NoError qr aa 1/2/3");
}

#[test]
fn malformed_queries() {
    let c = catalog();
    let formerr = |flags: u8| vec![0xbe, 0xef, 0x80 | flags, 0x01, 0, 0, 0, 0, 0, 0, 0, 0];
    // Silently dropped: short, or a response.
    assert!(udp_raw(&c, &[0xbe, 0xef, 1, 0, 0]).is_none());
    assert!(udp_raw(&c, &query_with("example.com", A, Q { flags: 0x8100, ..RD })).is_none());
    // Header readable: FORMERR, header only, RD kept.
    let q = query("example.com", A);
    assert_eq!(udp_raw(&c, &q[..q.len() - 2]).unwrap(), formerr(1));
    assert_eq!(udp_raw(&c, &q[..12]).unwrap(), formerr(1));
    let mut pointer = q[..12].to_vec();
    pointer.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1]);
    assert_eq!(udp_raw(&c, &pointer).unwrap(), formerr(1));
    let mut rcode = q.clone();
    rcode[3] = 3;
    assert_eq!(udp_raw(&c, &rcode).unwrap(), formerr(1));
    let mut answer_count = q.clone();
    answer_count[7] = 1;
    assert_eq!(udp_raw(&c, &answer_count).unwrap(), formerr(1));
    // QDCOUNT 0 or 2: FORMERR with every flag cleared.
    for qdcount in [0, 2] {
        let mut m = q.clone();
        m[5] = qdcount;
        assert_eq!(udp_raw(&c, &m).unwrap(), formerr(0));
    }
    // Trailing garbage is ignored.
    let mut trailing = q.clone();
    trailing.extend_from_slice(b"garbage");
    assert_eq!(head(&udp(&c, &trailing)), "NoError qr aa rd 1/2/3");
    // Label of 64, name of 256.
    let mut long = q[..12].to_vec();
    long.push(64);
    long.extend_from_slice(&[b'a'; 64]);
    long.extend_from_slice(&[0, 0, 1, 0, 1]);
    assert_eq!(udp_raw(&c, &long).unwrap(), formerr(1));
}

#[test]
fn opcodes() {
    let c = catalog();
    // STATUS, UPDATE, unassigned: NOTIMP, header only, query flags kept.
    for (opcode, rd) in [(2u16, true), (5, false), (15, true)] {
        let flags = (opcode << 11) | if rd { 0x0100 } else { 0 };
        let raw = udp_raw(&c, &query_with("example.com", SOA, Q { flags, ..RD })).unwrap();
        let want = ((flags | 0x8000) | 4).to_be_bytes();
        assert_eq!(raw, [0xbe, 0xef, want[0], want[1], 0, 0, 0, 0, 0, 0, 0, 0], "opcode {opcode}");
    }
    // NOTIFY: REFUSED for our zones (we take no transfers), NXDOMAIN for others.
    let raw = udp_raw(&c, &query_with("example.com", SOA, Q { flags: 0x2000, ..RD })).unwrap();
    assert_eq!(&raw[2..4], &[0xa0, 0x05]);
    let raw = udp_raw(&c, &query_with("example.org", SOA, Q { flags: 0x2000, ..RD })).unwrap();
    assert_eq!(&raw[2..4], &[0xa0, 0x03]);
}

#[test]
fn axfr_over_tcp() {
    let c = catalog();
    let messages = tcp(&c, &query_with("example.com", AXFR, Q { opt: Some((1232, 0, false)), ..RD }));
    assert_eq!(messages.len(), 1);
    let m = &messages[0];
    assert_eq!(head(m), "NoError qr aa rd 44/0/0");
    assert!(m.edns.is_some());
    let records = rr(&m.answers);
    assert_eq!(records.first(), records.last());
    assert!(records[0].contains(" SOA "));
    assert_eq!(records[1], APEX_NS[0]);
    assert_eq!(records[10], "_sip._tcp.example.com. 600 IN SRV 10 60 5060 sip.example.com.");
    // Everything in the zone is there, the SOA twice.
    let zone = c.zone(&"example.com.".parse().unwrap()).unwrap();
    assert_eq!(records.len(), zone.len() + 1);
    let glue = records.iter().position(|r| r.starts_with("ns.sub.example.com.")).unwrap();
    let cut = records.iter().position(|r| r.starts_with("sub.example.com.")).unwrap();
    assert!(cut < glue, "canonical order");
}

#[test]
fn axfr_spans_messages_for_big_zones() {
    let mut zone = String::from("@ SOA ns h 7 2 3 4 5\n@ NS ns\nns A 192.0.2.1\n");
    for i in 0..3000 {
        zone.push_str(&format!("host{i} A 10.0.{}.{}\n", i / 256, i % 256));
    }
    let c = Catalog::from_files([("example.com.zone", zone.as_str())]).unwrap();
    let raw: Vec<Vec<u8>> = c.handle_tcp(&query("example.com", AXFR)).unwrap().collect();
    assert!(raw.len() > 2, "{} messages", raw.len());
    assert!(raw.iter().all(|m| m.len() <= 16383));
    let messages: Vec<Message> = raw.iter().map(|m| Message::from_vec(m).unwrap()).collect();
    assert_eq!(messages[0].queries.len(), 1);
    assert!(messages[1..].iter().all(|m| m.queries.is_empty() && m.metadata.authoritative));
    let all: Vec<&Record> = messages.iter().flat_map(|m| &m.answers).collect();
    assert_eq!(all.len(), 3000 + 3 + 1);
    assert_eq!(all[0].record_type().to_string(), "SOA");
    assert_eq!(all[all.len() - 1].record_type().to_string(), "SOA");
    assert!(all[1..all.len() - 1].iter().all(|r| r.record_type().to_string() != "SOA"));
}

#[test]
fn transfers_refused_notauth_notimp() {
    let mut c = catalog();
    // AXFR over UDP: NOTIMP with the question.
    let m = udp(&c, &query("example.com", AXFR));
    assert_eq!(head(&m), "NotImp qr rd 0/0/0");
    assert_eq!(m.queries.len(), 1);
    // Not a zone apex: NOTAUTH.
    let m = &tcp(&c, &query("www.example.com", AXFR))[0];
    assert_eq!(head(m), "NotAuth qr rd 0/0/0");
    let m = &tcp(&c, &query("example.org", AXFR))[0];
    assert_eq!(head(m), "NotAuth qr rd 0/0/0");
    // Transfers off: REFUSED.
    c.set_options(Options { allow_transfer: false });
    let m = &tcp(&c, &query("example.com", AXFR))[0];
    assert_eq!(head(m), "Refused qr rd 0/0/0");
}

fn ixfr(serial: u32) -> Vec<u8> {
    let mut q = query("example.com", IXFR);
    q[9] = 1; // NSCOUNT
    q.extend_from_slice(&[0xc0, 0x0c, 0, 6, 0, 1, 0, 0, 0, 0, 0, 22, 0, 0]);
    q.extend_from_slice(&serial.to_be_bytes());
    q.extend_from_slice(&[0; 16]);
    q
}

#[test]
fn ixfr_falls_back_to_axfr_or_answers_current_soa() {
    let c = catalog();
    for serial in [2024010101, 2024010102] {
        let m = udp(&c, &ixfr(serial));
        assert_eq!(head(&m), "NoError qr aa rd 1/0/0");
        assert_eq!(head(&tcp(&c, &ixfr(serial))[0]), "NoError qr aa rd 1/0/0");
    }
    let m = &tcp(&c, &ixfr(1))[0];
    assert_eq!(head(m), "NoError qr aa rd 44/0/0");
    // Over UDP: what fits of the AXFR-style answer, no TC (NSD).
    let m = udp(&c, &ixfr(1));
    assert_eq!(head(&m), "NoError qr aa rd 12/0/0");
    // Without the client's SOA: FORMERR.
    assert_eq!(head(&udp(&c, &query("example.com", IXFR))), "FormErr qr rd 0/0/0");
}

#[test]
fn tcp_answers_and_framing_together() {
    let c = catalog();
    let mut stream = Vec::new();
    frame(&query("www.example.com", A), &mut stream);
    frame(&query("example.com", MX), &mut stream);
    let mut framer = TcpFramer::new(65535);
    framer.push(&stream);
    let mut heads = Vec::new();
    while let Some(message) = framer.next_message().unwrap() {
        for response in c.handle_tcp(message).unwrap() {
            heads.push(head(&Message::from_vec(&response).unwrap()));
        }
    }
    assert_eq!(heads, ["NoError qr aa rd 3/2/3", "NoError qr aa rd 2/2/5"]);
    assert!(c.handle_tcp(&[1, 2, 3]).is_none());
    // A header alone, or a header whose QDCOUNT is 0: over UDP a FORMERR, over TCP NSD stops
    // reading and closes the connection.
    let header_alone = [0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    let no_question = [0x12, 0x34, 0x01, 0x00, 0, 0, 0, 0, 0, 0, 0, 0];
    for message in [&header_alone[..], &no_question[..]] {
        assert!(c.handle_tcp(message).is_none());
        let mut out = Vec::new();
        assert!(c.handle_udp(message, &mut out).is_some(), "UDP answers FORMERR");
    }
}

#[test]
fn compression_pointers_use_the_question() {
    let raw = udp_raw(&catalog(), &query("WwW.ExAmPlE.CoM", A)).unwrap();
    let m = Message::from_vec(&raw).unwrap();
    assert_eq!(rr(&m.answers)[1], "web.ExAmPlE.CoM. 3600 IN CNAME host1.ExAmPlE.CoM.");
    // Answer owner is a pointer to the question name.
    assert_eq!(&raw[33..35], &[0xc0, 0x0c]);
}

fn zone_error(text: &str) -> (usize, ZoneErrorKind) {
    let err = Catalog::from_files([("example.com.zone", text)]).unwrap_err();
    assert_eq!(err.file, "example.com.zone");
    (err.line, err.kind)
}

#[test]
fn zone_checks() {
    const SOA_LINE: &str = "@ SOA ns h 1 2 3 4 5\n";
    let (line, kind) = zone_error("a A 192.0.2.1\n");
    assert_eq!((line, kind), (0, ZoneErrorKind::MissingSoa));
    let (line, kind) = zone_error(&format!("{SOA_LINE}a A 192.0.2.1\n@ SOA ns h 1 2 3 4 5\n"));
    assert_eq!((line, kind), (3, ZoneErrorKind::DuplicateSoa));
    let (line, kind) = zone_error(&format!("{SOA_LINE}a SOA ns h 1 2 3 4 5\n"));
    assert_eq!((line, kind), (2, ZoneErrorKind::SoaNotAtApex("a.example.com.".into())));
    let (line, kind) = zone_error(&format!("{SOA_LINE}www CNAME a\nwww A 192.0.2.1\n"));
    assert_eq!((line, kind), (3, ZoneErrorKind::CnameAndOtherData("www.example.com.".into())));
    let (line, kind) = zone_error(&format!("{SOA_LINE}www TXT x\nwww CNAME a\n"));
    assert_eq!((line, kind), (3, ZoneErrorKind::CnameAndOtherData("www.example.com.".into())));
    let (line, _) = zone_error(&format!("{SOA_LINE}www CNAME a\nwww CNAME b\n"));
    assert_eq!(line, 3);
    let (line, _) = zone_error(&format!("{SOA_LINE}@ CNAME a\n"));
    assert_eq!(line, 2);
    let (line, kind) = zone_error(&format!("{SOA_LINE}www.example.org. A 192.0.2.1\n"));
    assert_eq!((line, kind), (2, ZoneErrorKind::OutOfZone("www.example.org.".into())));
    let (line, kind) = zone_error(&format!("{SOA_LINE}\nsub NS ns.sub\nsub NS ns.other.net.\n"));
    assert_eq!(
        (line, kind),
        (3, ZoneErrorKind::MissingGlue { ns: "ns.sub.example.com.".into(), delegation: "sub.example.com.".into() })
    );
    // Glue present (AAAA is enough), or a name server outside the delegation: fine.
    assert!(Catalog::from_files([("example.com.zone", format!("{SOA_LINE}sub NS ns.sub\nns.sub AAAA ::1\n"))]).is_ok());
    assert!(Catalog::from_files([("example.com.zone", format!("{SOA_LINE}sub NS ns.example.net.\n"))]).is_ok());
    // Display names the file and the line.
    let err = Catalog::from_files([("z/example.com.zone", "@ SOA ns h 1 2 3 4 5\nbad A 1.2.3\n")]).unwrap_err();
    assert_eq!(err.to_string(), "z/example.com.zone:2: bad address \"1.2.3\"");
}

#[test]
fn zone_records_and_soa() {
    let c = catalog();
    let zone = c.zone(&"example.com.".parse().unwrap()).unwrap();
    assert_eq!(zone.soa().serial, 2024010101);
    let first = zone.records().next().unwrap();
    assert_eq!(first.record_type().to_string(), "SOA");
    assert_eq!(c.zones().count(), 2);
    // Duplicate records are dropped.
    let c = Catalog::from_files([("example.com.zone", "@ SOA ns h 1 2 3 4 5\na A 192.0.2.1\na A 192.0.2.1\n")]);
    assert_eq!(c.unwrap().zones().next().unwrap().len(), 2);
}

#[test]
fn tsig_gets_notauth_badkey() {
    let c = catalog();
    let mut rdata = wire_name("hmac-sha256");
    rdata.extend_from_slice(&[0, 0, 0x65, 0x53, 0xf1, 0, 1, 0x2c, 0, 32]);
    rdata.extend_from_slice(&[0; 32]);
    rdata.extend_from_slice(&[0x12, 0x34, 0, 0, 0, 0]);
    let mut q = query("example.com", A);
    q[11] = 1;
    q.extend(wire_name("key"));
    q.extend_from_slice(&[0, 250, 0, 255, 0, 0, 0, 0]);
    q.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
    q.extend_from_slice(&rdata);
    let raw = udp_raw(&c, &q).unwrap();
    // What NSD 4.6 sends for the same query.
    let nsd = "beef8109000000000000000103".to_string()
        + "6b65790000fa00ff00000000001d0b686d61632d7368613235360000006553f100012c0000123400110000";
    let hex: String = raw.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(hex, nsd);
    // A TSIG that does not parse: FORMERR.
    q.truncate(q.len() - 10);
    assert_eq!(&udp_raw(&c, &q).unwrap()[2..4], &[0x81, 0x01]);
}

#[test]
fn garbage_never_panics() {
    // A deterministic stand-in for the fuzzer: mutations of real queries and random bytes.
    let c = catalog();
    let seeds = [
        query("www.example.com", A),
        query_with("big.example.com", TXT, Q { opt: Some((1232, 0, true)), ..RD }),
        ixfr(1),
        query("example.com", AXFR),
    ];
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut out = Vec::new();
    for round in 0..20_000 {
        let mut message = seeds[round % seeds.len()].clone();
        for _ in 0..1 + next() % 4 {
            let at = (next() as usize) % (message.len() + 1);
            match next() % 3 {
                0 if at < message.len() => message[at] = next() as u8,
                1 => message.insert(at, next() as u8),
                _ => message.truncate(at),
            }
        }
        if round % 7 == 0 {
            message = (0..next() % 64).map(|_| next() as u8).collect();
        }
        if c.handle_udp(&message, &mut out).is_some() {
            assert!(out.len() <= 1232);
            Message::from_vec(&out).expect("parseable");
        }
        if let Some(responses) = c.handle_tcp(&message) {
            responses.take(3).for_each(|r| assert!(Message::from_vec(&r).is_ok()));
        }
    }
}

#[test]
fn zone_names_are_lowercased_as_nsd_stores_them() {
    let c = Catalog::from_files([("example.com.zone", "@ SOA NS H 1 2 3 4 5\nUP A 192.0.2.1\nx CNAME Up\n")]).unwrap();
    let m = udp(&c, &query("x.example.com", A));
    assert_eq!(rr(&m.answers), ["x.example.com. 3600 IN CNAME up.example.com.", "up.example.com. 3600 IN A 192.0.2.1"]);
    let m = udp(&c, &query("UP.example.com", A));
    assert_eq!(rr(&m.answers), ["UP.example.com. 3600 IN A 192.0.2.1"]);
}
