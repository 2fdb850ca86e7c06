//! Arbitrary bytes read as a key file and a chain file (split where the first byte says): no
//! panic; a key that loads signs with each of its schemes, and its validity check answers for
//! any time.
#![no_main]

use libfuzzer_sys::fuzz_target;
use morgana_keys::Key;
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;

fuzz_target!(|data: &[u8]| {
    let Some((&split, rest)) = data.split_first() else { return };
    let at = usize::from(split).min(rest.len()) * rest.len() / 255;
    let (key_pem, chain_pem) = rest.split_at(at.min(rest.len()));
    for (key, chain) in [(key_pem, chain_pem), (rest, rest)] {
        if let Ok(key) = Key::from_pem("fuzz", key, chain) {
            let _ = key.check_validity(i64::from(split) << 24);
            let mut rng = ChaCha20Rng::from_seed([7; 32]);
            for scheme in key.schemes() {
                key.sign(*scheme, b"message", &mut rng).expect("a loaded key signs with its own schemes");
            }
        }
    }
});
