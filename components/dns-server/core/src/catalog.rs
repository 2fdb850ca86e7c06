//! The set of zones a server answers for.

use std::collections::BTreeMap;

use hickory_proto::rr::Name;

use crate::name::{Key, key, parse_name};
use crate::zone::{Zone, ZoneError, ZoneErrorKind};

/// Server behaviour that is configuration rather than protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Options {
    /// Answer AXFR (and IXFR, which falls back to AXFR) over TCP. When off, transfers get
    /// REFUSED as NSD gives them without a matching `provide-xfr`. Default: on.
    pub allow_transfer: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options { allow_transfer: true }
    }
}

/// The zones a server is authoritative for, and the entry points that answer queries
/// ([`Catalog::handle_udp`], [`Catalog::handle_tcp`]).
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    zones: BTreeMap<Key, Zone>,
    pub(crate) options: Options,
}

impl Catalog {
    /// An empty catalog: every query is REFUSED.
    pub fn new() -> Self {
        Catalog::default()
    }

    /// Loads one zone per `(file name, text)` pair. The origin of a file is its first `$ORIGIN`
    /// (before any record), else its file name without directories and a `.zone` suffix
    /// (`zones/example.com.zone` is `example.com.`).
    pub fn from_files<I, N, T>(files: I) -> Result<Catalog, ZoneError>
    where
        I: IntoIterator<Item = (N, T)>,
        N: AsRef<str>,
        T: AsRef<str>,
    {
        let mut catalog = Catalog::new();
        for (file, text) in files {
            let file = file.as_ref();
            let zone = Zone::parse(file, origin_from_file_name(file).as_ref(), text.as_ref())?;
            catalog.insert(zone)?;
        }
        Ok(catalog)
    }

    /// Adds a zone; its apex must not be served already.
    pub fn insert(&mut self, zone: Zone) -> Result<(), ZoneError> {
        let apex = key(zone.origin());
        if let Some(existing) = self.zones.get(&apex) {
            return Err(ZoneError {
                file: zone.file().to_string(),
                line: 0,
                kind: ZoneErrorKind::DuplicateZone(existing.origin().to_ascii()),
            });
        }
        self.zones.insert(apex, zone);
        Ok(())
    }

    /// Replaces the options.
    pub fn set_options(&mut self, options: Options) {
        self.options = options;
    }

    /// The options in force.
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// The zones, by apex in canonical order.
    pub fn zones(&self) -> impl Iterator<Item = &Zone> {
        self.zones.values()
    }

    /// The zone whose apex is `apex`.
    pub fn zone(&self, apex: &Name) -> Option<&Zone> {
        self.zones.get(&key(apex))
    }

    /// The zone with the apex `key` exactly.
    pub(crate) fn zone_at(&self, key: &[Box<[u8]>]) -> Option<&Zone> {
        self.zones.get(key)
    }

    /// The zone with the deepest apex at or above `key`.
    pub(crate) fn find_zone(&self, key: &[Box<[u8]>]) -> Option<&Zone> {
        (0..=key.len()).rev().find_map(|depth| self.zones.get(&key[..depth]))
    }
}

/// `dir/example.com.zone` → `example.com.`; `None` when that is not a name.
fn origin_from_file_name(file: &str) -> Option<Name> {
    let base = file.rsplit('/').next().unwrap_or(file);
    let stem = base.strip_suffix(".zone").unwrap_or(base);
    if stem.is_empty() {
        return None;
    }
    if stem.ends_with('.') { parse_name(stem, None) } else { parse_name(&format!("{stem}."), None) }.ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_from_file_names() {
        let n = |s: &str| Some(Name::from_ascii(s).unwrap());
        assert_eq!(origin_from_file_name("example.com.zone"), n("example.com."));
        assert_eq!(origin_from_file_name("zones/2.0.192.in-addr.arpa.zone"), n("2.0.192.in-addr.arpa."));
        assert_eq!(origin_from_file_name("example.org"), n("example.org."));
        assert_eq!(origin_from_file_name(".zone"), None);
        assert_eq!(origin_from_file_name("a..b.zone"), None);
    }

    #[test]
    fn duplicate_zone_is_an_error() {
        let soa = "@ SOA ns h 1 2 3 4 5\n";
        let err = Catalog::from_files([("a/example.com.zone", soa), ("b/example.com.zone", soa)]).unwrap_err();
        assert_eq!(err.file, "b/example.com.zone");
        assert!(matches!(err.kind, ZoneErrorKind::DuplicateZone(_)));
    }

    #[test]
    fn deepest_zone_wins() {
        let soa = "@ SOA ns h 1 2 3 4 5\n";
        let catalog = Catalog::from_files([("example.com.zone", soa), ("sub.example.com.zone", soa)]).unwrap();
        let k = key(&Name::from_ascii("a.sub.example.com.").unwrap());
        assert_eq!(catalog.find_zone(&k).unwrap().origin(), &Name::from_ascii("sub.example.com.").unwrap());
        let k = key(&Name::from_ascii("example.org.").unwrap());
        assert!(catalog.find_zone(&k).is_none());
    }
}
