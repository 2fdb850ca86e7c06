//! Arbitrary text as a zone file: an error or a zone, never a panic; a zone that loads answers
//! queries for every one of its names.
#![no_main]

use libfuzzer_sys::fuzz_target;
use morgana_dns::Catalog;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match Catalog::from_files([("example.com.zone", text)]) {
        Err(error) => {
            let _ = error.to_string();
        }
        Ok(catalog) => {
            let mut out = Vec::new();
            for zone in catalog.zones() {
                for record in zone.records().take(64) {
                    let mut query = vec![0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0];
                    for label in record.name.iter() {
                        query.push(label.len() as u8);
                        query.extend_from_slice(label);
                    }
                    query.extend_from_slice(&[0, 0, 255, 0, 1]);
                    for qtype in [1u16, 255, 5, 15] {
                        let n = query.len();
                        query[n - 4..n - 2].copy_from_slice(&qtype.to_be_bytes());
                        catalog.handle_udp(&query, &mut out);
                    }
                }
            }
        }
    }
});
