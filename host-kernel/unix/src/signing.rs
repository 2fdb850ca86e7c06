//! `morgana:crypto/signing` on the unix target: the host's TLS keys, which the TLS component
//! signs with but never reads (`wit/crypto/signing.wit`).

use morgana_keys::{Key, SignatureScheme};
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;
use wasmtime::component::HasData;

mod bindings {
    wasmtime::component::bindgen!({
        path: "../../wit/crypto",
        world: "morgana:crypto/client",
    });
}

use bindings::morgana::crypto::signing::{self, SignError, SignatureScheme as WitScheme};

/// The keys a run holds, and the randomness RSA signatures take.
pub struct HostKeys {
    keys: Vec<Key>,
    rng: ChaCha20Rng,
}

impl HostKeys {
    /// Holds `keys`, in this order (a key's handle is its place in it).
    pub fn new(keys: Vec<Key>) -> HostKeys {
        HostKeys { keys, rng: ChaCha20Rng::from_seed(os_seed()) }
    }
}

/// A seed from the operating system's generator.
fn os_seed() -> [u8; 32] {
    let mut seed = [0; 32];
    getrandom::fill(&mut seed).expect("the operating system's random generator is unavailable");
    seed
}

/// Links `morgana:crypto/signing` to the [`HostKeys`] that `get` finds in the store's data.
pub fn add_to_linker<T: 'static>(
    linker: &mut wasmtime::component::Linker<T>,
    get: fn(&mut T) -> &mut HostKeys,
) -> wasmtime::Result<()> {
    signing::add_to_linker::<T, Signing>(linker, get)
}

struct Signing;

impl HasData for Signing {
    type Data<'a> = &'a mut HostKeys;
}

impl signing::Host for HostKeys {
    fn keys(&mut self) -> Vec<signing::Key> {
        (0..)
            .zip(&self.keys)
            .map(|(handle, key)| signing::Key {
                handle,
                name: key.name().into(),
                schemes: key.schemes().iter().map(|s| to_wit(*s)).collect(),
                certificate_chain: key.certificate_chain().to_vec(),
            })
            .collect()
    }

    fn sign(&mut self, handle: u32, scheme: WitScheme, message: Vec<u8>) -> Result<Vec<u8>, SignError> {
        let key = usize::try_from(handle).ok().and_then(|i| self.keys.get(i)).ok_or(SignError::NoSuchKey)?;
        key.sign(from_wit(scheme), &message, &mut self.rng).map_err(|e| match e {
            morgana_keys::SignError::UnsupportedScheme => SignError::UnsupportedScheme,
            _ => SignError::Failed,
        })
    }
}

fn to_wit(scheme: SignatureScheme) -> WitScheme {
    match scheme {
        SignatureScheme::EcdsaP256Sha256 => WitScheme::EcdsaP256Sha256,
        SignatureScheme::EcdsaP384Sha384 => WitScheme::EcdsaP384Sha384,
        SignatureScheme::Ed25519 => WitScheme::Ed25519,
        SignatureScheme::RsaPkcs1Sha256 => WitScheme::RsaPkcs1Sha256,
        SignatureScheme::RsaPkcs1Sha384 => WitScheme::RsaPkcs1Sha384,
        SignatureScheme::RsaPkcs1Sha512 => WitScheme::RsaPkcs1Sha512,
        SignatureScheme::RsaPssSha256 => WitScheme::RsaPssSha256,
        SignatureScheme::RsaPssSha384 => WitScheme::RsaPssSha384,
        SignatureScheme::RsaPssSha512 => WitScheme::RsaPssSha512,
    }
}

fn from_wit(scheme: WitScheme) -> SignatureScheme {
    match scheme {
        WitScheme::EcdsaP256Sha256 => SignatureScheme::EcdsaP256Sha256,
        WitScheme::EcdsaP384Sha384 => SignatureScheme::EcdsaP384Sha384,
        WitScheme::Ed25519 => SignatureScheme::Ed25519,
        WitScheme::RsaPkcs1Sha256 => SignatureScheme::RsaPkcs1Sha256,
        WitScheme::RsaPkcs1Sha384 => SignatureScheme::RsaPkcs1Sha384,
        WitScheme::RsaPkcs1Sha512 => SignatureScheme::RsaPkcs1Sha512,
        WitScheme::RsaPssSha256 => SignatureScheme::RsaPssSha256,
        WitScheme::RsaPssSha384 => SignatureScheme::RsaPssSha384,
        WitScheme::RsaPssSha512 => SignatureScheme::RsaPssSha512,
    }
}
