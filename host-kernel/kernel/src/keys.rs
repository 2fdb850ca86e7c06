//! The private keys the image carries for `morgana:crypto/signing` (`[keys]` in the manifest):
//! parsed and checked against the wall clock at boot, then held here for the TLS component to
//! sign with. They live in kernel memory only; the component sees their certificates.

use alloc::boxed::Box;
use alloc::vec::Vec;

use morgana_image::channel::SentKey;
use morgana_image::{PayloadKey, exit};
use morgana_keys::Key;
use morgana_keys::host::HostKeys;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

use crate::Stop;
use crate::random::Random;

/// Every baked key, then every sent one (`morgana run --key`, which replaces a baked key of
/// the same name), checked: one that does not parse stops the boot (a damaged image, or a
/// host error for a sent key), as does one whose certificate is not valid at `now_unix`.
pub fn load(baked: &[PayloadKey<'_>], sent: &[SentKey], now_unix: i64, random: &Random) -> Result<HostKeys, Stop> {
    let sent_names: Vec<&str> = sent.iter().map(|k| k.name.as_str()).collect();
    let baked = baked
        .iter()
        .filter(|key| !sent_names.contains(&key.name.as_str()))
        .map(|key| (&key.name, key.certificate_pem, key.key_pem, "the image's key", exit::BAD_IMAGE));
    let sent = sent
        .iter()
        .map(|key| (&key.name, &key.certificate_pem[..], &key.key_pem[..], "the key sent", exit::HOST_ERROR));
    let keys = baked
        .chain(sent)
        .map(|(name, certificate_pem, key_pem, whose, status)| {
            let loaded = Key::from_pem(name, key_pem, certificate_pem)
                .map_err(|e| Stop(status, alloc::format!("{whose} `{name}`: {e}").into()))?;
            loaded
                .check_validity(now_unix)
                .map_err(|e| Stop(exit::HOST_ERROR, alloc::format!("{whose} `{name}`: {e}").into()))?;
            Ok(loaded)
        })
        .collect::<Result<Vec<Key>, Stop>>()?;
    let mut seed = [0u8; 32];
    random.fill(&mut seed);
    Ok(HostKeys::new(keys, Box::new(ChaCha20Rng::from_seed(seed))))
}

/// The same keys with a generator of their own, for another instance's store.
pub fn share(keys: &HostKeys, random: &Random) -> HostKeys {
    let mut seed = [0u8; 32];
    random.fill(&mut seed);
    keys.share(Box::new(ChaCha20Rng::from_seed(seed)))
}
