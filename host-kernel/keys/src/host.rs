//! `morgana:crypto` (`wit/crypto/`) for a wasmtime host, the same on every target: `signing`
//! with the host's keys, which a TLS component signs with but never reads, and `aead`, record
//! encryption run natively ([`crate::aead`]). Feature `wasmtime`.

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;

use rand_core::CryptoRng;
use wasmtime::component::HasData;

use crate::{Key, SignatureScheme};

mod bindings {
    wasmtime::component::bindgen!({
        path: "../../wit/crypto",
        world: "morgana:crypto/client",
    });
}

use crate::aead::{AeadError, Algorithm};
use bindings::morgana::crypto::aead::{self, AeadError as WitAeadError, Algorithm as WitAlgorithm};
use bindings::morgana::crypto::signing::{self, SignError, SignatureScheme as WitScheme};

/// The keys a run holds, and the randomness RSA signatures take (PSS salts, blinding).
pub struct HostKeys {
    keys: Arc<[Key]>,
    rng: Box<dyn CryptoRng + Send>,
}

impl HostKeys {
    /// Holds `keys`, in this order (a key's handle is its place in it); `rng` must be seeded
    /// from the machine's entropy.
    pub fn new(keys: Vec<Key>, rng: Box<dyn CryptoRng + Send>) -> HostKeys {
        HostKeys { keys: keys.into(), rng }
    }

    /// The same keys for another store (a server's next instance), with randomness of its own.
    pub fn share(&self, rng: Box<dyn CryptoRng + Send>) -> HostKeys {
        HostKeys { keys: Arc::clone(&self.keys), rng }
    }

    /// The keys held, in handle order.
    pub fn keys(&self) -> &[Key] {
        &self.keys
    }
}

/// Links `morgana:crypto/signing` to the [`HostKeys`] that `get` finds in the store's data,
/// and `morgana:crypto/aead`.
pub fn add_to_linker<T: 'static>(
    linker: &mut wasmtime::component::Linker<T>,
    get: fn(&mut T) -> &mut HostKeys,
) -> wasmtime::Result<()> {
    signing::add_to_linker::<T, Crypto>(linker, get)?;
    aead::add_to_linker::<T, Crypto>(linker, get)
}

/// What the generated `add_to_linker`s see of the store's data.
struct Crypto;

impl HasData for Crypto {
    type Data<'a> = &'a mut HostKeys;
}

impl signing::Host for HostKeys {
    fn keys(&mut self) -> Vec<signing::Key> {
        (0..)
            .zip(self.keys.iter())
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
        key.sign(from_wit(scheme), &message, &mut *self.rng).map_err(|e| match e {
            crate::SignError::UnsupportedScheme => SignError::UnsupportedScheme,
            _ => SignError::Failed,
        })
    }
}

impl aead::Host for HostKeys {
    fn algorithms(&mut self) -> Vec<WitAlgorithm> {
        crate::aead::fastest_first().into_iter().map(algorithm_to_wit).collect()
    }

    fn seal(
        &mut self,
        algorithm: WitAlgorithm,
        key: Vec<u8>,
        nonce: Vec<u8>,
        aad: Vec<u8>,
        plaintext: Vec<u8>,
    ) -> Result<Vec<u8>, WitAeadError> {
        crate::aead::seal(algorithm_from_wit(algorithm), &key, &nonce, &aad, &plaintext).map_err(aead_error_to_wit)
    }

    fn open(
        &mut self,
        algorithm: WitAlgorithm,
        key: Vec<u8>,
        nonce: Vec<u8>,
        aad: Vec<u8>,
        sealed: Vec<u8>,
    ) -> Result<Vec<u8>, WitAeadError> {
        crate::aead::open(algorithm_from_wit(algorithm), &key, &nonce, &aad, &sealed).map_err(aead_error_to_wit)
    }
}

fn algorithm_to_wit(algorithm: Algorithm) -> WitAlgorithm {
    match algorithm {
        Algorithm::Aes128Gcm => WitAlgorithm::Aes128Gcm,
        Algorithm::Aes256Gcm => WitAlgorithm::Aes256Gcm,
        Algorithm::ChaCha20Poly1305 => WitAlgorithm::Chacha20Poly1305,
    }
}

fn algorithm_from_wit(algorithm: WitAlgorithm) -> Algorithm {
    match algorithm {
        WitAlgorithm::Aes128Gcm => Algorithm::Aes128Gcm,
        WitAlgorithm::Aes256Gcm => Algorithm::Aes256Gcm,
        WitAlgorithm::Chacha20Poly1305 => Algorithm::ChaCha20Poly1305,
    }
}

fn aead_error_to_wit(error: AeadError) -> WitAeadError {
    match error {
        AeadError::BadLength => WitAeadError::BadLength,
        AeadError::NotAuthentic => WitAeadError::NotAuthentic,
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
