//! The host's keys as rustls sees them: a [`rustls::sign::SigningKey`] whose signing is a call
//! to the host.

use std::fmt;
use std::sync::Arc;

use rustls::pki_types::CertificateDer;
use rustls::sign::{CertifiedKey, Signer, SigningKey};
use rustls::{SignatureAlgorithm, SignatureScheme};

/// One key the host holds, described by what is public about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostKey {
    /// What [`HostKeys::sign`] takes to use this key.
    pub handle: u32,
    /// Its name in the host's configuration, e.g. `site`.
    pub name: String,
    /// What the key can sign with, the host's preference first.
    pub schemes: Vec<SignatureScheme>,
    /// Its certificate chain, DER, leaf first.
    pub certificate_chain: Vec<Vec<u8>>,
}

/// The host refused or failed to sign.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignFailure;

impl fmt::Display for SignFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the host would not sign with its key")
    }
}

impl std::error::Error for SignFailure {}

/// The host side of the keys: on a Morgana target, the `morgana:crypto/signing` import.
pub trait HostKeys: Send + Sync {
    /// Every key the host holds for this component.
    fn keys(&self) -> Vec<HostKey>;
    /// Signs the whole `message` with key `handle` (the scheme's hash is the host's to apply).
    fn sign(&self, handle: u32, scheme: SignatureScheme, message: &[u8]) -> Result<Vec<u8>, SignFailure>;
}

/// The host's keys named in `names` (all of them when `names` is empty), in the host's order,
/// as rustls certified keys. The error names a key the host does not hold.
pub(crate) fn certified_keys(host: &Arc<dyn HostKeys>, names: &[String]) -> Result<Vec<Arc<CertifiedKey>>, String> {
    let keys = host.keys();
    for name in names {
        if !keys.iter().any(|k| &k.name == name) {
            let held: Vec<&str> = keys.iter().map(|k| k.name.as_str()).collect();
            return Err(format!("the host holds no key named {name:?} (it holds: {})", list_or_none(&held)));
        }
    }
    keys.into_iter().filter(|k| names.is_empty() || names.contains(&k.name)).map(|k| certified_key(host, k)).collect()
}

fn certified_key(host: &Arc<dyn HostKeys>, key: HostKey) -> Result<Arc<CertifiedKey>, String> {
    if key.certificate_chain.is_empty() {
        return Err(format!("the host's key {:?} has no certificate", key.name));
    }
    let Some(algorithm) = key.schemes.first().map(|s| algorithm_of(*s)) else {
        return Err(format!("the host's key {:?} offers no signature scheme", key.name));
    };
    let chain = key.certificate_chain.iter().map(|der| CertificateDer::from(der.clone())).collect();
    let signing =
        HostSigningKey { host: Arc::clone(host), handle: key.handle, name: key.name, schemes: key.schemes, algorithm };
    Ok(Arc::new(CertifiedKey::new(chain, Arc::new(signing))))
}

fn list_or_none(names: &[&str]) -> String {
    if names.is_empty() { "none".into() } else { names.join(", ") }
}

fn algorithm_of(scheme: SignatureScheme) -> SignatureAlgorithm {
    match scheme {
        SignatureScheme::ECDSA_NISTP256_SHA256 | SignatureScheme::ECDSA_NISTP384_SHA384 => SignatureAlgorithm::ECDSA,
        SignatureScheme::ED25519 => SignatureAlgorithm::ED25519,
        _ => SignatureAlgorithm::RSA,
    }
}

/// A key that signs by asking the host.
struct HostSigningKey {
    host: Arc<dyn HostKeys>,
    handle: u32,
    name: String,
    schemes: Vec<SignatureScheme>,
    algorithm: SignatureAlgorithm,
}

impl fmt::Debug for HostSigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HostSigningKey").field("handle", &self.handle).field("name", &self.name).finish()
    }
}

impl SigningKey for HostSigningKey {
    fn choose_scheme(&self, offered: &[SignatureScheme]) -> Option<Box<dyn Signer>> {
        let scheme = self.schemes.iter().find(|s| offered.contains(s))?;
        Some(Box::new(HostSigner { host: Arc::clone(&self.host), handle: self.handle, scheme: *scheme }))
    }

    fn algorithm(&self) -> SignatureAlgorithm {
        self.algorithm
    }
}

struct HostSigner {
    host: Arc<dyn HostKeys>,
    handle: u32,
    scheme: SignatureScheme,
}

impl fmt::Debug for HostSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HostSigner").field("handle", &self.handle).field("scheme", &self.scheme).finish()
    }
}

impl Signer for HostSigner {
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, rustls::Error> {
        // Carried as itself, so the session can tell this failure from the handshake's own.
        self.host
            .sign(self.handle, self.scheme, message)
            .map_err(|e| rustls::Error::Other(rustls::OtherError(Arc::new(e))))
    }

    fn scheme(&self) -> SignatureScheme {
        self.scheme
    }
}
