//! What can go wrong loading a key or signing with it.

use alloc::string::String;
use core::fmt;
use core::time::Duration;

use x509_cert::der::DateTime;

/// Why [`Key::from_pem`](crate::Key::from_pem) refused a key and its certificate chain, or
/// [`Key::check_validity`](crate::Key::check_validity) refused the time.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyError {
    /// The key PEM has no "PRIVATE KEY", "EC PRIVATE KEY" or "RSA PRIVATE KEY" block.
    NoKey,
    /// The private key is protected by a passphrase.
    EncryptedKey,
    /// The key block is there but its contents do not decode.
    MalformedKey,
    /// A key of a type this crate does not sign with; says which, e.g. "ECDSA over secp521r1".
    UnsupportedKey(String),
    /// An RSA key with fewer than 2048 bits.
    RsaTooSmall {
        /// The modulus's size.
        bits: usize,
    },
    /// The chain PEM has no "CERTIFICATE" block.
    NoCertificate,
    /// A certificate that does not decode as X.509.
    MalformedCertificate {
        /// Its place in the chain, 1 for the leaf.
        position: usize,
    },
    /// The leaf certificate's public key is not this private key's.
    CertificateMismatch,
    /// The leaf certificate is no longer valid.
    Expired {
        /// The end of its validity, in Unix seconds.
        not_after: i64,
    },
    /// The leaf certificate is not valid yet.
    NotYetValid {
        /// The start of its validity, in Unix seconds.
        not_before: i64,
    },
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyError::NoKey => f.write_str(
                "no private key found: expected a PEM block \"PRIVATE KEY\" (PKCS#8), \
                 \"EC PRIVATE KEY\" (SEC1) or \"RSA PRIVATE KEY\" (PKCS#1)",
            ),
            KeyError::EncryptedKey => f.write_str(
                "the private key is encrypted; store it unencrypted \
                 (openssl pkey -in KEY -out PLAIN_KEY)",
            ),
            KeyError::MalformedKey => f.write_str("the private key's PEM block does not decode; is the file complete?"),
            KeyError::UnsupportedKey(what) => {
                write!(f, "{what} is not supported; use P-256, P-384, Ed25519 or RSA 2048-8192")
            }
            KeyError::RsaTooSmall { bits } => write!(
                f,
                "the RSA key has {bits} bits, fewer than the 2048 required; make a new one \
                 (openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048)"
            ),
            KeyError::NoCertificate => f.write_str(
                "no certificate found: expected one or more PEM blocks \"CERTIFICATE\", \
                 the leaf first",
            ),
            KeyError::MalformedCertificate { position } => write!(
                f,
                "certificate {position} of the chain (1 is the leaf) is not a valid X.509 \
                 certificate"
            ),
            KeyError::CertificateMismatch => f.write_str(
                "the certificate does not belong to this key: the leaf certificate (the first \
                 in the chain) must carry this key's public key",
            ),
            KeyError::Expired { not_after } => {
                write!(f, "the certificate expired at {}; renew it", UnixTime(*not_after))
            }
            KeyError::NotYetValid { not_before } => write!(
                f,
                "the certificate is not valid before {}; check the clock or the certificate",
                UnixTime(*not_before)
            ),
        }
    }
}

impl core::error::Error for KeyError {}

/// Why [`Key::sign`](crate::Key::sign) did not sign.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignError {
    /// The key cannot sign with this scheme (see [`Key::schemes`](crate::Key::schemes)).
    UnsupportedScheme,
    /// The signature operation itself failed.
    Failed,
}

impl fmt::Display for SignError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SignError::UnsupportedScheme => {
                "this key cannot sign with that signature scheme; offer one of the key's schemes"
            }
            SignError::Failed => "the signature operation failed",
        })
    }
}

impl core::error::Error for SignError {}

impl From<signature::Error> for SignError {
    fn from(_: signature::Error) -> Self {
        SignError::Failed
    }
}

/// Unix seconds shown as an RFC 3339 date where they can be (`2027-12-07T20:49:03Z`).
pub struct UnixTime(pub i64);

impl fmt::Display for UnixTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let date =
            u64::try_from(self.0).ok().and_then(|secs| DateTime::from_unix_duration(Duration::from_secs(secs)).ok());
        match date {
            Some(date) => write!(f, "{date}"),
            None => write!(f, "{} (Unix seconds)", self.0),
        }
    }
}
