//! One zone: its records by owner in canonical order, checked on load.

use core::fmt;
use std::collections::BTreeMap;

use hickory_proto::rr::rdata::SOA;
use hickory_proto::rr::{Name, RData, Record, RecordType};

use crate::name::{Key, NameError, key};
use crate::zonefile;

/// Why a zone file was rejected, with the file and line (0: the file as a whole).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ZoneError {
    /// The file name the zone was loaded under.
    pub file: String,
    /// The line (1-based) of the offending entry; 0 when the error is about the whole file.
    pub line: usize,
    /// What is wrong.
    pub kind: ZoneErrorKind,
}

/// What is wrong with a zone file.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ZoneErrorKind {
    /// A `(` without `)`, or a `)` without `(`.
    UnbalancedParentheses,
    /// A `"` without its closing `"`.
    UnterminatedString,
    /// A name that is not a valid domain name.
    BadName {
        /// The name as written.
        text: String,
        /// Why it is invalid.
        error: NameError,
    },
    /// A TTL that is neither seconds nor BIND units.
    BadTtl(String),
    /// A `$` directive other than `$ORIGIN` and `$TTL`.
    UnknownDirective(String),
    /// A class other than IN.
    UnsupportedClass(String),
    /// A record type this server does not load.
    UnsupportedType(String),
    /// A record ends before this field.
    MissingField(&'static str),
    /// A field that does not parse.
    BadField {
        /// Which field.
        field: &'static str,
        /// The text found.
        text: String,
    },
    /// Text after the last field of a record.
    TrailingData(String),
    /// A TXT string longer than 255 octets.
    StringTooLong,
    /// Record data longer than 65535 octets.
    RdataTooLong,
    /// Relative names but no `$ORIGIN` and no origin from the file name.
    NoOrigin,
    /// A record whose owner is not at or below the apex.
    OutOfZone(String),
    /// No SOA record at the apex.
    MissingSoa,
    /// A second SOA record.
    DuplicateSoa,
    /// An SOA record below the apex.
    SoaNotAtApex(String),
    /// A CNAME and other data (or a second CNAME) at the same owner.
    CnameAndOtherData(String),
    /// A delegation to a name server below it whose address is not in the zone.
    MissingGlue {
        /// The name server without an A or AAAA record.
        ns: String,
        /// The delegation point.
        delegation: String,
    },
    /// Two zones with the same apex in one catalog.
    DuplicateZone(String),
}

impl fmt::Display for ZoneErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ZoneErrorKind::UnbalancedParentheses => f.write_str("unbalanced parentheses"),
            ZoneErrorKind::UnterminatedString => f.write_str("unterminated quoted string"),
            ZoneErrorKind::BadName { text, error } => write!(f, "bad name {text:?}: {error}"),
            ZoneErrorKind::BadTtl(text) => write!(f, "bad TTL {text:?}"),
            ZoneErrorKind::UnknownDirective(text) => write!(f, "unsupported directive {text}"),
            ZoneErrorKind::UnsupportedClass(text) => write!(f, "unsupported class {text} (only IN)"),
            ZoneErrorKind::UnsupportedType(text) => write!(f, "unsupported record type {text}"),
            ZoneErrorKind::MissingField(field) => write!(f, "missing {field}"),
            ZoneErrorKind::BadField { field, text } => write!(f, "bad {field} {text:?}"),
            ZoneErrorKind::TrailingData(text) => write!(f, "unexpected {text:?} after the record"),
            ZoneErrorKind::StringTooLong => f.write_str("string longer than 255 octets"),
            ZoneErrorKind::RdataTooLong => f.write_str("record data longer than 65535 octets"),
            ZoneErrorKind::NoOrigin => f.write_str("no $ORIGIN and no origin from the file name"),
            ZoneErrorKind::OutOfZone(name) => write!(f, "{name} is outside the zone"),
            ZoneErrorKind::MissingSoa => f.write_str("no SOA record at the apex"),
            ZoneErrorKind::DuplicateSoa => f.write_str("second SOA record"),
            ZoneErrorKind::SoaNotAtApex(name) => write!(f, "SOA record at {name}, not at the apex"),
            ZoneErrorKind::CnameAndOtherData(name) => write!(f, "CNAME and other data at {name}"),
            ZoneErrorKind::MissingGlue { ns, delegation } => {
                write!(f, "delegation {delegation} to {ns} needs glue: no A or AAAA record for {ns}")
            }
            ZoneErrorKind::DuplicateZone(name) => write!(f, "zone {name} loaded twice"),
        }
    }
}

impl fmt::Display for ZoneError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file, self.kind)
        } else {
            write!(f, "{}:{}: {}", self.file, self.line, self.kind)
        }
    }
}

impl std::error::Error for ZoneError {}

/// One resource record of an RRset: NSD keeps a TTL per record, and so do we.
#[derive(Debug, Clone)]
pub(crate) struct Rr {
    pub ttl: u32,
    pub rdata: RData,
    pub line: usize,
}

/// The records of one owner and type, in file order.
#[derive(Debug, Clone)]
pub(crate) struct RRset {
    pub rtype: RecordType,
    pub rrs: Vec<Rr>,
}

/// One owner name. Nodes without RRsets are empty non-terminals.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub name: Name,
    /// In the order their types first appear in the file (NSD's order, which ANY depends on).
    pub rrsets: Vec<RRset>,
}

impl Node {
    pub fn rrset(&self, rtype: RecordType) -> Option<&RRset> {
        self.rrsets.iter().find(|r| r.rtype == rtype)
    }
}

/// A zone the server is authoritative for.
#[derive(Debug, Clone)]
pub struct Zone {
    origin: Name,
    file: String,
    /// Canonical order; `nodes[0]` is the apex.
    nodes: Vec<Node>,
    index: BTreeMap<Key, usize>,
    origin_labels: usize,
    /// The SOA as negative answers carry it: TTL = min(SOA TTL, SOA MINIMUM) (RFC 2308, NSD).
    soa_negative: RRset,
}

impl Zone {
    /// Parses and checks a master file. `file` names it in errors; `origin` completes relative
    /// names and is the apex unless the file starts with `$ORIGIN`.
    pub fn parse(file: &str, origin: Option<&Name>, text: &str) -> Result<Zone, ZoneError> {
        let error = |(line, kind)| ZoneError { file: file.to_string(), line, kind };
        let parsed = zonefile::parse(text, origin).map_err(error)?;
        Zone::build(file, parsed).map_err(error)
    }

    fn build(file: &str, parsed: zonefile::ParsedFile) -> Result<Zone, zonefile::LineError> {
        let apex = parsed.apex;
        let apex_key = key(&apex);
        let origin_labels = apex_key.len();
        let mut map: BTreeMap<Key, Node> = BTreeMap::new();
        map.insert(apex_key.clone(), Node { name: apex.clone(), rrsets: Vec::new() });
        let mut soa_seen = false;
        for record in parsed.records {
            let line = record.line;
            if !apex.zone_of(&record.owner) {
                return Err((line, ZoneErrorKind::OutOfZone(record.owner.to_ascii())));
            }
            let owner_key = key(&record.owner);
            let rtype = record.rdata.record_type();
            if rtype == RecordType::SOA {
                if owner_key != apex_key {
                    return Err((line, ZoneErrorKind::SoaNotAtApex(record.owner.to_ascii())));
                }
                if soa_seen {
                    return Err((line, ZoneErrorKind::DuplicateSoa));
                }
                soa_seen = true;
            }
            // Empty non-terminals between the apex and the owner.
            for depth in origin_labels + 1..owner_key.len() {
                map.entry(owner_key[..depth].to_vec())
                    .or_insert_with(|| Node { name: record.owner.trim_to(depth), rrsets: Vec::new() });
            }
            let node = map.entry(owner_key).or_insert_with(|| Node { name: record.owner.clone(), rrsets: Vec::new() });
            let has_cname = node.rrset(RecordType::CNAME).is_some();
            let has_other = node.rrsets.iter().any(|r| r.rtype != RecordType::CNAME);
            let conflict = if rtype == RecordType::CNAME { has_other || has_cname } else { has_cname };
            if conflict {
                return Err((line, ZoneErrorKind::CnameAndOtherData(record.owner.to_ascii())));
            }
            let rr = Rr { ttl: record.ttl, rdata: record.rdata, line };
            match node.rrsets.iter_mut().find(|r| r.rtype == rtype) {
                // NSD drops duplicate records (with a warning).
                Some(rrset) if rrset.rrs.iter().any(|r| r.rdata == rr.rdata) => {}
                Some(rrset) => rrset.rrs.push(rr),
                None => node.rrsets.push(RRset { rtype, rrs: vec![rr] }),
            }
        }
        if !soa_seen {
            return Err((0, ZoneErrorKind::MissingSoa));
        }
        let nodes: Vec<Node> = map.into_values().collect();
        let index = nodes.iter().enumerate().map(|(i, n)| (key(&n.name), i)).collect();
        let soa_rr = nodes[0].rrset(RecordType::SOA).map(|r| r.rrs[0].clone()).ok_or((0, ZoneErrorKind::MissingSoa))?;
        let RData::SOA(soa) = &soa_rr.rdata else { return Err((0, ZoneErrorKind::MissingSoa)) };
        let soa_negative =
            RRset { rtype: RecordType::SOA, rrs: vec![Rr { ttl: soa_rr.ttl.min(soa.minimum), ..soa_rr.clone() }] };
        let zone = Zone { origin: apex, file: file.to_string(), nodes, index, origin_labels, soa_negative };
        zone.check_glue()?;
        Ok(zone)
    }

    /// Every delegation to a name server at or below the delegation point needs an address.
    fn check_glue(&self) -> Result<(), zonefile::LineError> {
        for node in &self.nodes[1..] {
            let Some(ns) = node.rrset(RecordType::NS) else { continue };
            for rr in &ns.rrs {
                let RData::NS(target) = &rr.rdata else { continue };
                if !node.name.zone_of(target) {
                    continue;
                }
                let has_address = self
                    .node(&key(target))
                    .is_some_and(|n| n.rrset(RecordType::A).is_some() || n.rrset(RecordType::AAAA).is_some());
                if !has_address {
                    let kind = ZoneErrorKind::MissingGlue { ns: target.0.to_ascii(), delegation: node.name.to_ascii() };
                    return Err((rr.line, kind));
                }
            }
        }
        Ok(())
    }

    /// The apex.
    pub fn origin(&self) -> &Name {
        &self.origin
    }

    /// The file name the zone was loaded under.
    pub fn file(&self) -> &str {
        &self.file
    }

    /// The SOA record data.
    pub fn soa(&self) -> &SOA {
        match &self.soa_rrset().rrs[0].rdata {
            RData::SOA(soa) => soa,
            _ => unreachable!("checked on load"),
        }
    }

    /// Every record, SOA first, then by owner in canonical order, types in file order (the
    /// order of an AXFR without its closing SOA).
    pub fn records(&self) -> impl Iterator<Item = Record> + '_ {
        let soa = self.soa_rrset();
        let rest = self.nodes.iter().flat_map(|node| {
            node.rrsets
                .iter()
                .filter(|rrset| rrset.rtype != RecordType::SOA)
                .flat_map(move |rrset| rrset.rrs.iter().map(move |rr| (node, rr)))
        });
        core::iter::once((&self.nodes[0], &soa.rrs[0]))
            .chain(rest)
            .map(|(node, rr)| Record::from_rdata(node.name.clone(), rr.ttl, rr.rdata.clone()))
    }

    /// The number of records.
    pub fn len(&self) -> usize {
        self.nodes.iter().flat_map(|n| &n.rrsets).map(|r| r.rrs.len()).sum()
    }

    /// Whether the zone has no records (never: it has an SOA).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(crate) fn origin_labels(&self) -> usize {
        self.origin_labels
    }

    pub(crate) fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    pub(crate) fn apex(&self) -> &Node {
        &self.nodes[0]
    }

    pub(crate) fn soa_rrset(&self) -> &RRset {
        self.nodes[0].rrset(RecordType::SOA).expect("checked on load")
    }

    pub(crate) fn soa_negative(&self) -> &RRset {
        &self.soa_negative
    }

    pub(crate) fn node(&self, key: &[Box<[u8]>]) -> Option<&Node> {
        self.index.get(key).map(|&i| &self.nodes[i])
    }

    /// The deepest existing node (data or empty non-terminal) at or above `key`, with its depth.
    /// `key` must be at or below the apex.
    pub(crate) fn closest_encloser(&self, key: &[Box<[u8]>]) -> (usize, &Node) {
        (self.origin_labels..=key.len())
            .rev()
            .find_map(|depth| self.node(&key[..depth]).map(|node| (depth, node)))
            .unwrap_or((self.origin_labels, &self.nodes[0]))
    }

    /// The `*` child of the node at `key`.
    pub(crate) fn wildcard_child(&self, key: &[Box<[u8]>]) -> Option<&Node> {
        let mut wildcard = key.to_vec();
        wildcard.push(Box::from(&b"*"[..]));
        self.node(&wildcard)
    }

    /// The highest delegation (NS below the apex) at or above depth `depth` of `key`.
    pub(crate) fn delegation(&self, key: &[Box<[u8]>], depth: usize) -> Option<&Node> {
        (self.origin_labels + 1..=depth.min(key.len()))
            .filter_map(|d| self.node(&key[..d]))
            .find(|node| node.rrset(RecordType::NS).is_some())
    }
}
