//! Arbitrary bytes read as a directory archive: no panic, and what decodes encodes back to the
//! same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use morgana_image::archive::{NewEntry, decode, encode};

fuzz_target!(|data: &[u8]| {
    if let Ok(entries) = decode(data) {
        let again: Vec<NewEntry<'_>> = entries
            .iter()
            .map(|e| NewEntry { kind: e.kind, path: e.path, modified: e.modified, data: e.data })
            .collect();
        assert_eq!(encode(&again), data);
    }
});
