//! Arbitrary text read as a kernel command line: no panic, and what parses (without unknown
//! tokens or announced devices, which are read but never written) survives a round trip.
#![no_main]

use libfuzzer_sys::fuzz_target;
use morgana_image::boot_params::BootParams;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(params) = BootParams::parse(text) {
        if params.unknown.is_empty() && params.virtio_mmio.is_empty() {
            let again = BootParams::parse(&params.encode()).unwrap();
            assert_eq!(again, params);
        }
    }
});
