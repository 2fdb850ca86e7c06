//! Arbitrary bytes read as a directory archive: no panic, and what decodes encodes back to the
//! same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use morgana_image::archive::{decode, encode};

fuzz_target!(|data: &[u8]| {
    if let Ok(entries) = decode(data) {
        assert_eq!(encode(&entries), data);
    }
});
