//! Sans-IO TLS sessions on rustls whose private keys stay with the host.
//!
//! A [`Session`] never does I/O and never blocks: the caller passes in what it received from
//! the peer ([`Session::receive`]) and takes out what to send ([`Session::take_ciphertext`]);
//! the application's bytes go in with [`Session::write_plaintext`] and come out of
//! [`Session::read_plaintext`]. [`Status`] says after each call what is ready.
//!
//! The long-term keys are not here. A [`HostKeys`] describes the keys the host holds (name,
//! certificate chain, signature schemes) and signs with them on request, so a component built
//! on this crate can use a key only as the handshake does, and never read it. Servers choose
//! among several keys by the client's SNI ([`ServerConfig`]); clients verify the server's name
//! and chain against given roots ([`ClientConfig`]).
//!
//! Record encryption can move to the host too ([`Crypto::with_host_aead`], a [`HostAead`]),
//! where it runs on the machine's AES instructions; the traffic keys go with each record.
//!
//! Renegotiation is refused (rustls does not implement it) and 0-RTT data is never accepted,
//! so a replayed early-data flight cannot reach the application.

#![forbid(unsafe_code)]

mod client;
mod host_aead;
mod host_keys;
mod server;
mod session;

pub use client::{ClientConfig, ClientOptions};
pub use host_aead::{AeadAlgorithm, AeadFailure, HostAead};
pub use host_keys::{HostKey, HostKeys, SignFailure};
pub use rustls::SignatureScheme;
pub use server::{ClientAuth, ServerConfig, ServerOptions};
pub use session::{Error, ErrorKind, Info, Session, Status, Version};

use std::sync::Arc;

/// The certificates of a PEM file, DER, in file order: its "CERTIFICATE" blocks (other blocks,
/// such as a private key's, are skipped). The error names the bad block, or says there is none.
pub fn certificates_from_pem(pem: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let certificates = CertificateDer::pem_slice_iter(pem)
        .enumerate()
        .map(|(index, certificate)| {
            certificate
                .map(|der| der.to_vec())
                .map_err(|e| format!("certificate {} of the PEM file cannot be read: {e}", index + 1))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if certificates.is_empty() {
        return Err("the PEM file holds no certificate (no \"BEGIN CERTIFICATE\" block)".into());
    }
    Ok(certificates)
}

/// Where the sessions' crypto runs. Key exchange, hashes and HKDF/PRF always run in the
/// component, with rustls's ring provider (its default cipher suites and key-exchange groups:
/// TLS 1.3 AES-GCM and ChaCha20-Poly1305, TLS 1.2 ECDHE with the same); record encryption runs
/// there too ([`Crypto::in_component`]) or in the host ([`Crypto::with_host_aead`]).
#[derive(Clone)]
pub struct Crypto {
    provider: Arc<rustls::crypto::CryptoProvider>,
    /// Whether servers choose the cipher suite by the provider's order, not the client's.
    prefer_own_order: bool,
}

impl Crypto {
    /// All of it in the component.
    ///
    /// Compiled to WebAssembly, which has no AES or carry-less-multiply instructions, ring's
    /// AES-GCM is its portable code: `benches/tls_crypto.py` measured 26 MB/s for AES-128-GCM
    /// and 134 MB/s for ChaCha20-Poly1305 there (natively, with AES-NI, 5.3 GB/s and 1 GB/s).
    /// So in wasm the ChaCha20-Poly1305 suites come first, and servers choose by this order
    /// rather than the client's, as Go's crypto/tls does on machines without AES hardware.
    pub fn in_component() -> Crypto {
        let mut provider = rustls::crypto::ring::default_provider();
        let prefer_own_order = cfg!(target_family = "wasm");
        if prefer_own_order {
            // A stable sort: ChaCha20 first, the rest in ring's order.
            provider.cipher_suites.sort_by_key(|suite| !is_chacha20(suite.suite()));
        }
        Crypto { provider: Arc::new(provider), prefer_own_order }
    }

    /// Records sealed and opened by `host`, with the session's keys, for every algorithm the
    /// host runs; suites in the host's order of speed, which servers choose by. Suites whose
    /// AEAD the host does not run stay in the component.
    ///
    /// Each call leaks the rewritten suite tables (rustls holds suites as `'static`, a few
    /// hundred bytes): make one per process and clone it.
    pub fn with_host_aead(host: Arc<dyn HostAead>) -> Crypto {
        let mut provider = rustls::crypto::ring::default_provider();
        provider.cipher_suites = host_aead::host_suites(&provider.cipher_suites, &host);
        Crypto { provider: Arc::new(provider), prefer_own_order: true }
    }

    /// The cipher suites, in preference order.
    pub fn cipher_suites(&self) -> Vec<rustls::CipherSuite> {
        self.provider.cipher_suites.iter().map(|s| s.suite()).collect()
    }
}

fn is_chacha20(suite: rustls::CipherSuite) -> bool {
    matches!(
        suite,
        rustls::CipherSuite::TLS13_CHACHA20_POLY1305_SHA256
            | rustls::CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256
            | rustls::CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256
    )
}

/// The protocol versions to offer; none given means both.
fn protocol_versions(versions: &[Version]) -> Vec<&'static rustls::SupportedProtocolVersion> {
    let all = [Version::Tls13, Version::Tls12];
    all.iter()
        .filter(|v| versions.is_empty() || versions.contains(v))
        .map(|v| match v {
            Version::Tls13 => &rustls::version::TLS13,
            Version::Tls12 => &rustls::version::TLS12,
        })
        .collect()
}

#[cfg(test)]
mod tests;
