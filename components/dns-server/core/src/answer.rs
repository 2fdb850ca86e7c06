//! Finding the answer to a query in the catalog: which RRsets go into which section, and the
//! RCODE and AA bit. A transcription of NSD's `answer_lookup_zone`, `answer_authoritative`,
//! `answer_domain` and `add_rrset` (query.c), minus DNSSEC and DNAME.

use hickory_proto::rr::{Name, RData, RecordType};

use crate::catalog::Catalog;
use crate::name::key;
use crate::wire::{NXDOMAIN, REFUSED};
use crate::zone::{Node, RRset, Zone};

/// Response sections in encoding order. The optional ones are left out, without TC, when a UDP
/// response runs out of room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Section {
    Answer,
    Authority,
    /// The apex NS RRset NSD adds to positive answers.
    OptionalAuthority,
    AdditionalA,
    AdditionalAaaa,
}

impl Section {
    pub const ALL: [Section; 5] = [
        Section::Answer,
        Section::Authority,
        Section::OptionalAuthority,
        Section::AdditionalA,
        Section::AdditionalAaaa,
    ];
}

pub(crate) struct Entry<'z> {
    pub section: Section,
    pub owner: Name,
    pub rrset: &'z RRset,
}

/// Bound on CNAMEs followed; NSD stops only at a repeated RRset, which a finite zone reaches.
const MAX_CNAMES: usize = 64;

pub(crate) const TYPE_ANY: u16 = 255;
const TYPE_DS: u16 = 43;
const TYPE_DNSKEY: u16 = 48;

#[derive(Default)]
pub(crate) struct Answer<'z> {
    pub entries: Vec<Entry<'z>>,
    pub rcode: u16,
    pub aa: bool,
    /// The last zone visited had a delegation above the name (NSD's `delegation_domain`).
    pub delegation: bool,
    /// Extended DNS Error for the OPT record.
    pub ede: Option<u16>,
    cnames: usize,
}

impl<'z> Answer<'z> {
    /// NSD's `answer_add_rrset`: an RRset goes in once per owner; added again to an earlier
    /// section, it moves there. Returns whether it was added or moved.
    fn push(&mut self, section: Section, owner: &Name, rrset: &'z RRset) -> bool {
        if let Some(entry) = self.entries.iter_mut().find(|e| core::ptr::eq(e.rrset, rrset) && e.owner == *owner) {
            if section < entry.section {
                entry.section = section;
                return true;
            }
            return false;
        }
        self.entries.push(Entry { section, owner: owner.clone(), rrset });
        true
    }

    /// NSD's `add_rrset`: the RRset, plus the addresses of the names it points to.
    fn add(&mut self, zone: &'z Zone, section: Section, owner: &Name, rrset: &'z RRset) -> bool {
        let added = self.push(section, owner, rrset);
        let allow_glue = match rrset.rtype {
            RecordType::NS => true,
            RecordType::MX | RecordType::SRV => false,
            _ => return added,
        };
        for rr in &rrset.rrs {
            let target = match &rr.rdata {
                RData::NS(ns) => &ns.0,
                RData::MX(mx) => &mx.exchange,
                RData::SRV(srv) => &srv.target,
                _ => continue,
            };
            self.add_addresses(zone, target, allow_glue);
        }
        added
    }

    /// NSD's `add_additional_rrsets`: A and AAAA of `target` from `zone`, synthesized from a
    /// wildcard when the name does not exist; glue only for NS.
    fn add_addresses(&mut self, zone: &'z Zone, target: &Name, allow_glue: bool) {
        if !zone.origin().zone_of(target) {
            return;
        }
        let target_key = key(target);
        if !allow_glue && zone.delegation(&target_key, target_key.len()).is_some() {
            return;
        }
        let (node, owner) = match zone.node(&target_key) {
            Some(node) => (node, &node.name),
            None => {
                let (depth, _) = zone.closest_encloser(&target_key);
                match zone.wildcard_child(&target_key[..depth]) {
                    Some(wildcard) => (wildcard, target),
                    None => return,
                }
            }
        };
        if let Some(a) = node.rrset(RecordType::A) {
            self.push(Section::AdditionalA, owner, a);
        }
        if let Some(aaaa) = node.rrset(RecordType::AAAA) {
            self.push(Section::AdditionalAaaa, owner, aaaa);
        }
    }
}

impl Catalog {
    /// Answers `qname`/`qtype` (class IN, or ANY with `class_any`).
    pub(crate) fn resolve(&self, qname: &Name, qtype: u16, class_any: bool) -> Answer<'_> {
        let mut answer = Answer::default();
        self.lookup(&mut answer, qname, qtype, class_any);
        answer
    }

    /// NSD's `answer_lookup_zone`, for the query name and for each CNAME target.
    fn lookup<'z>(&'z self, answer: &mut Answer<'z>, name: &Name, qtype: u16, class_any: bool) {
        let name_key = key(name);
        let Some(mut zone) = self.find_zone(&name_key) else {
            if answer.cnames == 0 {
                answer.rcode = REFUSED;
                answer.ede = Some(20); // Not Authoritative
            }
            return;
        };
        let (mut depth, mut encloser) = zone.closest_encloser(&name_key);
        let exact = depth == name_key.len();
        if exact && qtype == TYPE_DS && depth == zone.origin_labels() {
            // DS lives on the parent side of a cut: answer from the parent zone if we have it.
            match self.find_zone(&name_key[..name_key.len() - 1]) {
                Some(parent) => {
                    zone = parent;
                    (depth, encloser) = zone.closest_encloser(&name_key);
                }
                None => {
                    answer.aa = !class_any;
                    answer.delegation = false;
                    nodata(answer, zone, class_any);
                    return;
                }
            }
        }
        let exact = depth == name_key.len();
        let delegation = zone.delegation(&name_key, depth);
        answer.delegation = delegation.is_some();
        if let Some(cut) = delegation.filter(|cut| !(exact && qtype == TYPE_DS && core::ptr::eq(*cut, encloser))) {
            // A referral; AA only if a CNAME from our own data led here.
            answer.aa = answer.cnames > 0;
            let ns = cut.rrset(RecordType::NS).expect("a delegation has NS");
            answer.add(zone, Section::Authority, &cut.name, ns);
            return;
        }
        answer.aa = !class_any;
        let (node, owner) = if exact {
            (encloser, &encloser.name)
        } else if let Some(wildcard) = zone.wildcard_child(&name_key[..depth]) {
            (wildcard, name)
        } else {
            answer.rcode = NXDOMAIN;
            if !class_any {
                answer.add(zone, Section::Authority, &zone.apex().name, zone.soa_negative());
            }
            return;
        };
        self.answer_node(answer, zone, node, owner, qtype, class_any);
    }

    /// NSD's `answer_domain`: the data of one name (exact or synthesized from a wildcard).
    fn answer_node<'z>(
        &'z self,
        answer: &mut Answer<'z>,
        zone: &'z Zone,
        node: &'z Node,
        owner: &Name,
        qtype: u16,
        class_any: bool,
    ) {
        if qtype == TYPE_ANY {
            // RFC 8482: one RRset, preferring small popular types; NSD's choice.
            let mut preferred = None;
            let mut normal = None;
            for rrset in &node.rrsets {
                match rrset.rtype {
                    RecordType::A | RecordType::AAAA | RecordType::SOA | RecordType::MX | RecordType::PTR => {
                        preferred = Some(rrset);
                        break;
                    }
                    _ => normal = Some(rrset),
                }
            }
            match preferred.or(normal) {
                Some(rrset) => {
                    answer.add(zone, Section::Answer, owner, rrset);
                }
                None => nodata(answer, zone, class_any),
            }
            return;
        }
        let rtype = RecordType::from(qtype);
        if let Some(rrset) = node.rrset(rtype) {
            answer.add(zone, Section::Answer, owner, rrset);
        } else if let Some(cname) = node.rrset(RecordType::CNAME) {
            let added = answer.add(zone, Section::Answer, owner, cname);
            if added
                && answer.cnames < MAX_CNAMES
                && let RData::CNAME(target) = &cname.rrs[0].rdata
            {
                answer.cnames += 1;
                self.lookup(answer, &target.0, qtype, class_any);
            }
            return;
        } else {
            nodata(answer, zone, class_any);
            return;
        }
        if !class_any
            && qtype != TYPE_DS
            && qtype != TYPE_DNSKEY
            && let Some(ns) = zone.apex().rrset(RecordType::NS)
        {
            answer.add(zone, Section::OptionalAuthority, &zone.apex().name, ns);
        }
    }
}

/// The name exists but has no data of the type: the SOA in authority (not for class ANY).
fn nodata<'z>(answer: &mut Answer<'z>, zone: &'z Zone, class_any: bool) {
    if !class_any {
        answer.add(zone, Section::Authority, &zone.apex().name, zone.soa_negative());
    }
}
