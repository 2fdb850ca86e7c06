//! The TLS private keys a Morgana host holds (the no_std kernel and the unix host alike), so
//! that the sandboxed TLS component never sees one: the component gets a [`Key`]'s certificate
//! chain and asks the host to [`sign`](Key::sign) its handshake.
//!
//! A [`Key`] is one private key (ECDSA P-256 or P-384, Ed25519, or RSA of 2048 to 8192 bits)
//! with its certificate chain, loaded from PEM as openssl writes them. It promises:
//! - the leaf certificate carries this key's public key, checked at load;
//! - private material never leaves it: no accessor returns it, `Debug` prints only the name,
//!   algorithm and public fingerprint, and the key types zeroize on drop;
//! - signatures are what TLS expects for each [`SignatureScheme`] (ECDSA in DER, RSA-PSS with
//!   a salt as long as the hash), deterministic except RSA-PSS's salt;
//! - bad input is refused with a [`KeyError`] that says what is wrong, never a panic.
//!
//! [`aead`] is the other half of `morgana:crypto`: AES-GCM and ChaCha20-Poly1305 run by the
//! host with the caller's keys, for the TLS component's records.
//!
//! With feature `wasmtime`, [`host`] links `morgana:crypto` (`signing` over a set of keys, and
//! `aead`) into a wasmtime component linker, the same for the unix host and the kernel.
//!
//! Time and randomness come from the caller: [`Key::check_validity`] takes the current Unix
//! time, [`Key::sign`] a [`rand_core::CryptoRng`].

#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;
#[cfg(test)]
extern crate std;

pub mod aead;
mod error;
#[cfg(feature = "wasmtime")]
pub mod host;
mod pem;
mod private;
#[cfg(test)]
mod tests;

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use rand_core::CryptoRng;
use sha2::{Digest, Sha256};
use x509_cert::Certificate;
use x509_cert::der::{Decode, Encode};
use x509_cert::time::Time;

pub use error::{KeyError, SignError, UnixTime};
use private::PrivateKey;

/// A TLS signature scheme (RFC 8446 §4.2.3) a [`Key`] can sign with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignatureScheme {
    /// ECDSA over P-256 with SHA-256 (`ecdsa_secp256r1_sha256`).
    EcdsaP256Sha256,
    /// ECDSA over P-384 with SHA-384 (`ecdsa_secp384r1_sha384`).
    EcdsaP384Sha384,
    /// Ed25519 (`ed25519`).
    Ed25519,
    /// RSASSA-PKCS1-v1_5 with SHA-256 (`rsa_pkcs1_sha256`).
    RsaPkcs1Sha256,
    /// RSASSA-PKCS1-v1_5 with SHA-384 (`rsa_pkcs1_sha384`).
    RsaPkcs1Sha384,
    /// RSASSA-PKCS1-v1_5 with SHA-512 (`rsa_pkcs1_sha512`).
    RsaPkcs1Sha512,
    /// RSASSA-PSS with SHA-256, MGF1 and a 32-byte salt (`rsa_pss_rsae_sha256`).
    RsaPssSha256,
    /// RSASSA-PSS with SHA-384, MGF1 and a 48-byte salt (`rsa_pss_rsae_sha384`).
    RsaPssSha384,
    /// RSASSA-PSS with SHA-512, MGF1 and a 64-byte salt (`rsa_pss_rsae_sha512`).
    RsaPssSha512,
}

impl SignatureScheme {
    /// Every scheme, in declaration order.
    pub const ALL: [SignatureScheme; 9] = [
        Self::EcdsaP256Sha256,
        Self::EcdsaP384Sha384,
        Self::Ed25519,
        Self::RsaPkcs1Sha256,
        Self::RsaPkcs1Sha384,
        Self::RsaPkcs1Sha512,
        Self::RsaPssSha256,
        Self::RsaPssSha384,
        Self::RsaPssSha512,
    ];

    /// The scheme's name, e.g. "ecdsa-p256-sha256" or "rsa-pss-sha384".
    pub fn name(self) -> &'static str {
        match self {
            Self::EcdsaP256Sha256 => "ecdsa-p256-sha256",
            Self::EcdsaP384Sha384 => "ecdsa-p384-sha384",
            Self::Ed25519 => "ed25519",
            Self::RsaPkcs1Sha256 => "rsa-pkcs1-sha256",
            Self::RsaPkcs1Sha384 => "rsa-pkcs1-sha384",
            Self::RsaPkcs1Sha512 => "rsa-pkcs1-sha512",
            Self::RsaPssSha256 => "rsa-pss-sha256",
            Self::RsaPssSha384 => "rsa-pss-sha384",
            Self::RsaPssSha512 => "rsa-pss-sha512",
        }
    }

    /// The scheme [`name`](Self::name) gives `name`, if any.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|scheme| scheme.name() == name)
    }
}

impl fmt::Display for SignatureScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One private key and its certificate chain.
pub struct Key {
    name: String,
    private: PrivateKey,
    chain: Vec<Vec<u8>>,
    fingerprint: [u8; 32],
    not_before: i64,
    not_after: i64,
}

impl Key {
    /// Parses a PEM private key and a PEM certificate chain, and checks that they belong
    /// together. `name` is the caller's name for the key, kept for its logs.
    ///
    /// The key is the first private-key block of `key_pem`: PKCS#8 "PRIVATE KEY", SEC1
    /// "EC PRIVATE KEY" or PKCS#1 "RSA PRIVATE KEY" (other blocks, such as openssl's
    /// "EC PARAMETERS", are skipped). The chain is the "CERTIFICATE" blocks of `chain_pem`,
    /// leaf first (other blocks are skipped, so a file holding both key and chain serves as
    /// both). Refused: no key, an encrypted or undecodable key, a key type other than P-256,
    /// P-384, Ed25519 or RSA of 2048 to 8192 bits, no certificate, an undecodable certificate,
    /// and a leaf certificate whose public key is not this key's.
    pub fn from_pem(name: &str, key_pem: &[u8], chain_pem: &[u8]) -> Result<Key, KeyError> {
        let private =
            pem::blocks(key_pem).find_map(|block| PrivateKey::from_block(&block)).ok_or(KeyError::NoKey)??;
        let chain = certificates(chain_pem)?;
        let leaf = Leaf::parse(chain.first().ok_or(KeyError::NoCertificate)?)?;
        if !private.is_public_key(&leaf.spki_der) {
            return Err(KeyError::CertificateMismatch);
        }
        Ok(Key {
            name: name.into(),
            private,
            chain,
            fingerprint: Sha256::digest(&leaf.spki_der).into(),
            not_before: leaf.not_before,
            not_after: leaf.not_after,
        })
    }

    /// The name given to [`from_pem`](Self::from_pem).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The certificate chain, DER, leaf first: what the TLS component sends.
    pub fn certificate_chain(&self) -> &[Vec<u8>] {
        &self.chain
    }

    /// The schemes this key signs with, in order of preference: P-256 and P-384 their ECDSA
    /// scheme, Ed25519 its own, RSA the PSS schemes (SHA-256, -384, -512) then PKCS#1 v1.5.
    pub fn schemes(&self) -> &'static [SignatureScheme] {
        self.private.schemes()
    }

    /// The key's type: "ECDSA P-256", "ECDSA P-384", "Ed25519", or "RSA" with its modulus's
    /// size, e.g. "RSA 2048".
    pub fn algorithm(&self) -> String {
        self.private.algorithm()
    }

    /// The key's public fingerprint: SHA-256 of the leaf certificate's SubjectPublicKeyInfo
    /// (DER), the same as
    /// `openssl x509 -pubkey -noout | openssl pkey -pubin -outform DER | sha256sum`.
    /// It depends on the public key alone.
    pub fn fingerprint(&self) -> [u8; 32] {
        self.fingerprint
    }

    /// [`fingerprint`](Self::fingerprint) as 64 lowercase hex digits.
    pub fn fingerprint_hex(&self) -> String {
        use fmt::Write;
        self.fingerprint.iter().fold(String::with_capacity(64), |mut hex, byte| {
            let _ = write!(hex, "{byte:02x}");
            hex
        })
    }

    /// The start of the leaf certificate's validity, in Unix seconds.
    pub fn not_before(&self) -> i64 {
        self.not_before
    }

    /// The end of the leaf certificate's validity (inclusive), in Unix seconds.
    pub fn not_after(&self) -> i64 {
        self.not_after
    }

    /// Whether `now_unix` lies in the leaf certificate's validity window (both ends included):
    /// [`KeyError::NotYetValid`] before it, [`KeyError::Expired`] after it.
    pub fn check_validity(&self, now_unix: i64) -> Result<(), KeyError> {
        if now_unix < self.not_before {
            Err(KeyError::NotYetValid { not_before: self.not_before })
        } else if now_unix > self.not_after {
            Err(KeyError::Expired { not_after: self.not_after })
        } else {
            Ok(())
        }
    }

    /// Signs `message`, the whole message: the scheme's hash is applied here. ECDSA signatures
    /// are DER-encoded, as TLS carries them; Ed25519 and RSA signatures are the raw octets.
    /// RSA-PSS takes its salt (as long as the hash) from `rng`; the other schemes are
    /// deterministic (ECDSA by RFC 6979), though RSA also uses `rng` to blind the private
    /// operation. [`SignError::UnsupportedScheme`] for a scheme not in
    /// [`schemes`](Self::schemes).
    pub fn sign(&self, scheme: SignatureScheme, message: &[u8], rng: &mut dyn CryptoRng) -> Result<Vec<u8>, SignError> {
        self.private.sign(scheme, message, rng)
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key")
            .field("name", &self.name)
            .field("algorithm", &self.algorithm())
            .field("fingerprint", &self.fingerprint_hex())
            .finish_non_exhaustive()
    }
}

/// The DER of each "CERTIFICATE" block of `chain_pem`, each checked to decode as X.509.
fn certificates(chain_pem: &[u8]) -> Result<Vec<Vec<u8>>, KeyError> {
    pem::blocks(chain_pem)
        .filter(|block| block.label == "CERTIFICATE")
        .enumerate()
        .map(|(index, block)| {
            block
                .decode()
                .filter(|der| Certificate::from_der(der).is_ok())
                .ok_or(KeyError::MalformedCertificate { position: index + 1 })
        })
        .collect()
}

/// What a [`Key`] keeps of its leaf certificate.
struct Leaf {
    spki_der: Vec<u8>,
    not_before: i64,
    not_after: i64,
}

impl Leaf {
    fn parse(der: &[u8]) -> Result<Leaf, KeyError> {
        let malformed = |_| KeyError::MalformedCertificate { position: 1 };
        let certificate = Certificate::from_der(der).map_err(malformed)?;
        let tbs = certificate.tbs_certificate();
        Ok(Leaf {
            spki_der: tbs.subject_public_key_info().to_der().map_err(malformed)?,
            not_before: unix_seconds(tbs.validity().not_before),
            not_after: unix_seconds(tbs.validity().not_after),
        })
    }
}

fn unix_seconds(time: Time) -> i64 {
    i64::try_from(time.to_unix_duration().as_secs()).unwrap_or(i64::MAX)
}
