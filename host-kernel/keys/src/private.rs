//! The private key itself: decoding it from PKCS#8, SEC1 or PKCS#1, telling whether a public
//! key is its own, and signing.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use pkcs8::der::asn1::ObjectIdentifier;
use pkcs8::{AssociatedOid, DecodePrivateKey, DecodePublicKey, PrivateKeyInfoRef};
use rand_core::CryptoRng;
use rsa::pkcs1::{self, DecodeRsaPrivateKey};
use rsa::traits::{PublicKeyParts, SignatureScheme as Padding};
use rsa::{Pkcs1v15Sign, Pss};
use sha2::{Digest, Sha256, Sha384, Sha512};
use signature::{SignatureEncoding, Signer};
use zeroize::Zeroizing;

use crate::pem::Block;
use crate::{KeyError, SignError, SignatureScheme};

const ID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const RSA_BITS: core::ops::RangeInclusive<usize> = 2048..=8192;

/// Key types this crate does not sign with, by algorithm or curve OID, for the error message.
const UNSUPPORTED: &[(&str, &str)] = &[
    ("1.3.132.0.35", "ECDSA over secp521r1"),
    ("1.3.132.0.10", "ECDSA over secp256k1"),
    ("1.3.101.110", "X25519 (a key-agreement key)"),
    ("1.3.101.111", "X448 (a key-agreement key)"),
    ("1.3.101.113", "Ed448"),
    ("1.2.840.10040.4.1", "DSA"),
    ("1.2.840.113549.1.1.10", "an RSA key restricted to RSA-PSS"),
];

/// One private key of a supported type.
pub(crate) enum PrivateKey {
    P256(p256::ecdsa::SigningKey),
    P384(p384::ecdsa::SigningKey),
    Ed25519(ed25519_dalek::SigningKey),
    Rsa(rsa::PrivateKey),
}

impl PrivateKey {
    /// Decodes a PEM block of one of the labels OpenSSL writes private keys under, or `None`
    /// when the block is not a private key.
    pub(crate) fn from_block(block: &Block<'_>) -> Option<Result<Self, KeyError>> {
        let decode: fn(&[u8]) -> Result<Self, KeyError> = match block.label {
            "PRIVATE KEY" => Self::from_pkcs8,
            "EC PRIVATE KEY" => Self::from_sec1,
            "RSA PRIVATE KEY" => rsa_from_pkcs1,
            "ENCRYPTED PRIVATE KEY" => return Some(Err(KeyError::EncryptedKey)),
            _ => return None,
        };
        if block.has_headers() {
            return Some(Err(KeyError::EncryptedKey));
        }
        Some(match block.decode().map(Zeroizing::new) {
            Some(der) => decode(&der),
            None => Err(KeyError::MalformedKey),
        })
    }

    fn from_pkcs8(der: &[u8]) -> Result<Self, KeyError> {
        let info = PrivateKeyInfoRef::try_from(der).map_err(|_| KeyError::MalformedKey)?;
        let algorithm = info.algorithm.oid;
        if algorithm == ed25519_dalek::pkcs8::ALGORITHM_OID {
            decoded(ed25519_dalek::SigningKey::from_pkcs8_der(der)).map(Self::Ed25519)
        } else if algorithm == ID_EC_PUBLIC_KEY {
            match info.algorithm.parameters_oid().ok() {
                Some(p256::NistP256::OID) => decoded(p256::ecdsa::SigningKey::from_pkcs8_der(der)).map(Self::P256),
                Some(p384::NistP384::OID) => decoded(p384::ecdsa::SigningKey::from_pkcs8_der(der)).map(Self::P384),
                curve => Err(unsupported_curve(curve)),
            }
        } else if algorithm == pkcs1::ALGORITHM_OID {
            rsa_from_pkcs1(info.private_key.as_bytes())
        } else {
            Err(unsupported("the key algorithm", algorithm))
        }
    }

    fn from_sec1(der: &[u8]) -> Result<Self, KeyError> {
        let key = sec1::EcPrivateKey::try_from(der).map_err(|_| KeyError::MalformedKey)?;
        match key.parameters.and_then(|parameters| parameters.named_curve()) {
            Some(p256::NistP256::OID) => decoded(p256::SecretKey::from_sec1_der(der)).map(|key| Self::P256(key.into())),
            Some(p384::NistP384::OID) => decoded(p384::SecretKey::from_sec1_der(der)).map(|key| Self::P384(key.into())),
            curve => Err(unsupported_curve(curve)),
        }
    }

    /// What the key can sign with, in order of preference.
    pub(crate) fn schemes(&self) -> &'static [SignatureScheme] {
        use SignatureScheme::*;
        match self {
            Self::P256(_) => &[EcdsaP256Sha256],
            Self::P384(_) => &[EcdsaP384Sha384],
            Self::Ed25519(_) => &[Ed25519],
            Self::Rsa(_) => &[RsaPssSha256, RsaPssSha384, RsaPssSha512, RsaPkcs1Sha256, RsaPkcs1Sha384, RsaPkcs1Sha512],
        }
    }

    pub(crate) fn algorithm(&self) -> String {
        match self {
            Self::P256(_) => "ECDSA P-256".into(),
            Self::P384(_) => "ECDSA P-384".into(),
            Self::Ed25519(_) => "Ed25519".into(),
            Self::Rsa(key) => format!("RSA {}", key.n().bit_width()),
        }
    }

    /// Whether `spki_der`, a SubjectPublicKeyInfo, holds this key's public key.
    pub(crate) fn is_public_key(&self, spki_der: &[u8]) -> bool {
        match self {
            Self::P256(key) => same_key(spki_der, key.verifying_key()),
            Self::P384(key) => same_key(spki_der, key.verifying_key()),
            Self::Ed25519(key) => same_key(spki_der, &key.verifying_key()),
            Self::Rsa(key) => same_key(spki_der, key.as_public_key()),
        }
    }

    pub(crate) fn sign(
        &self,
        scheme: SignatureScheme,
        message: &[u8],
        rng: &mut dyn CryptoRng,
    ) -> Result<Vec<u8>, SignError> {
        use SignatureScheme::*;
        match (self, scheme) {
            (Self::P256(key), EcdsaP256Sha256) => sign::<p256::ecdsa::DerSignature>(key, message),
            (Self::P384(key), EcdsaP384Sha384) => sign::<p384::ecdsa::DerSignature>(key, message),
            (Self::Ed25519(key), Ed25519) => sign::<ed25519_dalek::Signature>(key, message),
            (Self::Rsa(key), RsaPssSha256) => rsa_pss::<Sha256>(key, message, rng),
            (Self::Rsa(key), RsaPssSha384) => rsa_pss::<Sha384>(key, message, rng),
            (Self::Rsa(key), RsaPssSha512) => rsa_pss::<Sha512>(key, message, rng),
            (Self::Rsa(key), RsaPkcs1Sha256) => rsa_pkcs1::<Sha256>(key, message, rng),
            (Self::Rsa(key), RsaPkcs1Sha384) => rsa_pkcs1::<Sha384>(key, message, rng),
            (Self::Rsa(key), RsaPkcs1Sha512) => rsa_pkcs1::<Sha512>(key, message, rng),
            _ => Err(SignError::UnsupportedScheme),
        }
    }
}

/// An RSA key from its PKCS#1 RSAPrivateKey, refused by size before anything is computed.
fn rsa_from_pkcs1(der: &[u8]) -> Result<PrivateKey, KeyError> {
    let key = pkcs1::RsaPrivateKeyRef::try_from(der).map_err(|_| KeyError::MalformedKey)?;
    let bits = bit_length(key.modulus.as_bytes());
    if bits < *RSA_BITS.start() {
        return Err(KeyError::RsaTooSmall { bits });
    }
    if bits > *RSA_BITS.end() {
        return Err(KeyError::UnsupportedKey(format!("RSA with {bits} bits")));
    }
    decoded(rsa::PrivateKey::from_pkcs1_der(der)).map(PrivateKey::Rsa)
}

/// The bit length of a big-endian unsigned integer.
fn bit_length(be_bytes: &[u8]) -> usize {
    let digits = be_bytes.iter().position(|&byte| byte != 0).map_or(&[][..], |i| &be_bytes[i..]);
    digits.first().map_or(0, |&top| digits.len() * 8 - top.leading_zeros() as usize)
}

fn decoded<K, E>(result: Result<K, E>) -> Result<K, KeyError> {
    result.map_err(|_| KeyError::MalformedKey)
}

fn unsupported_curve(curve: Option<ObjectIdentifier>) -> KeyError {
    match curve {
        Some(curve) => unsupported("ECDSA over the curve", curve),
        None => KeyError::UnsupportedKey("an EC key that does not name its curve".into()),
    }
}

/// A key of unsupported type `oid`: named where it is known, else described with `what`.
fn unsupported(what: &str, oid: ObjectIdentifier) -> KeyError {
    let known = UNSUPPORTED.iter().find(|(known, _)| ObjectIdentifier::new(known) == Ok(oid));
    KeyError::UnsupportedKey(match known {
        Some((_, name)) => String::from(*name),
        None => format!("{what} {oid}"),
    })
}

fn same_key<K: DecodePublicKey + PartialEq>(spki_der: &[u8], ours: &K) -> bool {
    K::from_public_key_der(spki_der).is_ok_and(|theirs| theirs == *ours)
}

fn sign<S: SignatureEncoding>(key: &impl Signer<S>, message: &[u8]) -> Result<Vec<u8>, SignError> {
    Ok(key.try_sign(message)?.to_vec())
}

/// RSASSA-PSS with MGF1 over `D` and a salt as long as `D`'s output (what TLS 1.3 requires).
fn rsa_pss<D: Digest>(key: &rsa::PrivateKey, message: &[u8], rng: &mut dyn CryptoRng) -> Result<Vec<u8>, SignError>
where
    Pss<D>: Padding,
{
    rsa_sign(key, Pss::<D>::new(), &D::digest(message), rng)
}

/// RSASSA-PKCS1-v1_5 over `D`, deterministic; `rng` only blinds the private operation.
fn rsa_pkcs1<D: Digest + AssociatedOid>(
    key: &rsa::PrivateKey,
    message: &[u8],
    rng: &mut dyn CryptoRng,
) -> Result<Vec<u8>, SignError> {
    rsa_sign(key, Pkcs1v15Sign::new::<D>(), &D::digest(message), rng)
}

fn rsa_sign(
    key: &rsa::PrivateKey,
    padding: impl Padding,
    digest: &[u8],
    rng: &mut dyn CryptoRng,
) -> Result<Vec<u8>, SignError> {
    key.sign_with_rng(rng, padding, digest).map_err(|_| SignError::Failed)
}
