//! The host's AEAD, as the bulk-host and seal-host workloads seal and open with it: a
//! [`morgana_tls::HostAead`] that is, compiled to wasm, the `morgana:crypto/aead` import (as the
//! TLS component has it: every record and its keys cross into the host that runs the component,
//! and the sealed record comes back), and compiled natively, `morgana_keys::aead` called
//! directly: what that host runs behind the import, without the boundary.

use std::sync::Arc;

use morgana_tls::{AeadAlgorithm, AeadFailure, HostAead};

/// The host's AEAD on this target.
pub fn host_aead() -> Arc<dyn HostAead> {
    Arc::new(Host)
}

/// The algorithms' names as the program prints them (`wit/crypto/aead.wit`'s).
pub fn name(algorithm: AeadAlgorithm) -> &'static str {
    match algorithm {
        AeadAlgorithm::Aes128Gcm => "aes-128-gcm",
        AeadAlgorithm::Aes256Gcm => "aes-256-gcm",
        AeadAlgorithm::ChaCha20Poly1305 => "chacha20-poly1305",
    }
}

struct Host;

#[cfg(target_family = "wasm")]
mod bindings {
    #![allow(unsafe_code)]
    wit_bindgen::generate!({
        path: ["../../wit/crypto", "wit"],
        world: "morgana:tls-crypto-bench/tls-crypto",
        generate_all,
    });
}

/// Through the `morgana:crypto/aead` import, as components/tls does it.
#[cfg(target_family = "wasm")]
impl HostAead for Host {
    fn algorithms(&self) -> Vec<AeadAlgorithm> {
        use bindings::morgana::crypto::aead::{Algorithm, algorithms};
        algorithms()
            .into_iter()
            .map(|algorithm| match algorithm {
                Algorithm::Aes128Gcm => AeadAlgorithm::Aes128Gcm,
                Algorithm::Aes256Gcm => AeadAlgorithm::Aes256Gcm,
                Algorithm::Chacha20Poly1305 => AeadAlgorithm::ChaCha20Poly1305,
            })
            .collect()
    }

    fn seal(
        &self,
        algorithm: AeadAlgorithm,
        key: &[u8],
        nonce: &[u8; 12],
        aad: &[u8],
        plaintext: &[u8],
    ) -> Result<Vec<u8>, AeadFailure> {
        bindings::morgana::crypto::aead::seal(to_wit(algorithm), key, nonce, aad, plaintext).map_err(|_| AeadFailure)
    }

    fn open(
        &self,
        algorithm: AeadAlgorithm,
        key: &[u8],
        nonce: &[u8; 12],
        aad: &[u8],
        sealed: &[u8],
    ) -> Result<Vec<u8>, AeadFailure> {
        bindings::morgana::crypto::aead::open(to_wit(algorithm), key, nonce, aad, sealed).map_err(|_| AeadFailure)
    }
}

#[cfg(target_family = "wasm")]
fn to_wit(algorithm: AeadAlgorithm) -> bindings::morgana::crypto::aead::Algorithm {
    use bindings::morgana::crypto::aead::Algorithm;
    match algorithm {
        AeadAlgorithm::Aes128Gcm => Algorithm::Aes128Gcm,
        AeadAlgorithm::Aes256Gcm => Algorithm::Aes256Gcm,
        AeadAlgorithm::ChaCha20Poly1305 => Algorithm::Chacha20Poly1305,
    }
}

/// `morgana_keys::aead` in this process: RustCrypto's aes-gcm and chacha20poly1305, on AES-NI
/// and PCLMULQDQ where the CPU has them, as the unix host runs them.
#[cfg(not(target_family = "wasm"))]
impl HostAead for Host {
    fn algorithms(&self) -> Vec<AeadAlgorithm> {
        use morgana_keys::aead::Algorithm;
        morgana_keys::aead::fastest_first()
            .into_iter()
            .map(|algorithm| match algorithm {
                Algorithm::Aes128Gcm => AeadAlgorithm::Aes128Gcm,
                Algorithm::Aes256Gcm => AeadAlgorithm::Aes256Gcm,
                Algorithm::ChaCha20Poly1305 => AeadAlgorithm::ChaCha20Poly1305,
            })
            .collect()
    }

    fn seal(
        &self,
        algorithm: AeadAlgorithm,
        key: &[u8],
        nonce: &[u8; 12],
        aad: &[u8],
        plaintext: &[u8],
    ) -> Result<Vec<u8>, AeadFailure> {
        morgana_keys::aead::seal(to_keys(algorithm), key, nonce, aad, plaintext).map_err(|_| AeadFailure)
    }

    fn open(
        &self,
        algorithm: AeadAlgorithm,
        key: &[u8],
        nonce: &[u8; 12],
        aad: &[u8],
        sealed: &[u8],
    ) -> Result<Vec<u8>, AeadFailure> {
        morgana_keys::aead::open(to_keys(algorithm), key, nonce, aad, sealed).map_err(|_| AeadFailure)
    }
}

#[cfg(not(target_family = "wasm"))]
fn to_keys(algorithm: AeadAlgorithm) -> morgana_keys::aead::Algorithm {
    use morgana_keys::aead::Algorithm;
    match algorithm {
        AeadAlgorithm::Aes128Gcm => Algorithm::Aes128Gcm,
        AeadAlgorithm::Aes256Gcm => Algorithm::Aes256Gcm,
        AeadAlgorithm::ChaCha20Poly1305 => Algorithm::ChaCha20Poly1305,
    }
}
