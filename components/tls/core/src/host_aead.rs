//! Record encryption by the host: rustls cipher suites whose AEAD is a call to the host (on a
//! Morgana target, the `morgana:crypto/aead` import), the rest of each suite (key exchange,
//! HKDF or PRF, hashes) ring's in the component.
//!
//! The traffic keys are the session's own, derived by its handshake in the component; they go
//! to the host with each record and the host keeps nothing. What moves is the work:
//! WebAssembly has no AES or carry-less-multiply instructions, so the host's AEAD is many
//! times faster (`benches/tls_crypto.py`).

use std::fmt;
use std::sync::Arc;

use rustls::crypto::cipher::{
    AeadKey, InboundOpaqueMessage, InboundPlainMessage, Iv, KeyBlockShape, MessageDecrypter, MessageEncrypter,
    NONCE_LEN, Nonce, OutboundOpaqueMessage, OutboundPlainMessage, PrefixedPayload, Tls12AeadAlgorithm,
    Tls13AeadAlgorithm, UnsupportedOperationError, make_tls12_aad, make_tls13_aad,
};
use rustls::{CipherSuite, ConnectionTrafficSecrets, ContentType, ProtocolVersion, SupportedCipherSuite};

/// The AEADs the host may run, each with a 12-byte nonce and a 16-byte tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AeadAlgorithm {
    Aes128Gcm,
    Aes256Gcm,
    ChaCha20Poly1305,
}

impl AeadAlgorithm {
    fn key_len(self) -> usize {
        match self {
            AeadAlgorithm::Aes128Gcm => 16,
            AeadAlgorithm::Aes256Gcm | AeadAlgorithm::ChaCha20Poly1305 => 32,
        }
    }

    /// The AEAD of a suite rustls's ring provider offers.
    fn of_suite(suite: CipherSuite) -> Option<AeadAlgorithm> {
        use CipherSuite as S;
        match suite {
            S::TLS13_AES_128_GCM_SHA256
            | S::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
            | S::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 => Some(AeadAlgorithm::Aes128Gcm),
            S::TLS13_AES_256_GCM_SHA384
            | S::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384
            | S::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 => Some(AeadAlgorithm::Aes256Gcm),
            S::TLS13_CHACHA20_POLY1305_SHA256
            | S::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256
            | S::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256 => Some(AeadAlgorithm::ChaCha20Poly1305),
            _ => None,
        }
    }
}

/// The host refused to seal or open: a bad length, or (opening) a tag that does not match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AeadFailure;

impl fmt::Display for AeadFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the host's AEAD refused the record")
    }
}

impl std::error::Error for AeadFailure {}

/// The host side of record encryption: on a Morgana target, the `morgana:crypto/aead` import.
pub trait HostAead: Send + Sync {
    /// The algorithms the host runs, fastest first.
    fn algorithms(&self) -> Vec<AeadAlgorithm>;
    /// `plaintext` encrypted and authenticated with `aad`, the 16-byte tag appended.
    fn seal(
        &self,
        algorithm: AeadAlgorithm,
        key: &[u8],
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        plaintext: &[u8],
    ) -> Result<Vec<u8>, AeadFailure>;
    /// The plaintext of `sealed` if it is authentic.
    fn open(
        &self,
        algorithm: AeadAlgorithm,
        key: &[u8],
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        sealed: &[u8],
    ) -> Result<Vec<u8>, AeadFailure>;
}

const TAG_LEN: usize = 16;
/// rustls's limit on a record's plaintext (RFC 8446, 5.1), which a decrypted TLS 1.2 record must
/// keep (TLS 1.3's is checked by rustls after unpadding).
const MAX_FRAGMENT_LEN: usize = 16384;
/// TLS 1.2 AES-GCM sends the nonce's last 8 bytes before the ciphertext (RFC 5288, 3).
const GCM_EXPLICIT_NONCE_LEN: usize = 8;

/// `suites` (ring's), each whose AEAD the host runs rewritten to call it, in the host's order of
/// speed (TLS 1.3 before TLS 1.2 otherwise kept); suites the host cannot run stay in the
/// component, last.
///
/// The rewritten suites live for the rest of the process (rustls takes suites as `'static`):
/// build them once per process, not per session.
pub(crate) fn host_suites(suites: &[SupportedCipherSuite], host: &Arc<dyn HostAead>) -> Vec<SupportedCipherSuite> {
    let order = host.algorithms();
    let rank = |suite: &SupportedCipherSuite| {
        let speed = AeadAlgorithm::of_suite(suite.suite())
            .and_then(|a| order.iter().position(|b| *b == a))
            .unwrap_or(order.len());
        (speed == order.len(), matches!(suite, SupportedCipherSuite::Tls12(_)), speed)
    };
    let mut suites: Vec<SupportedCipherSuite> = suites
        .iter()
        .map(|suite| match AeadAlgorithm::of_suite(suite.suite()).filter(|a| order.contains(a)) {
            Some(algorithm) => rewrite(*suite, HostRecords { algorithm, host: Arc::clone(host) }),
            None => *suite,
        })
        .collect();
    suites.sort_by_key(rank);
    suites
}

fn rewrite(suite: SupportedCipherSuite, records: HostRecords) -> SupportedCipherSuite {
    let aead: &'static HostRecords = Box::leak(Box::new(records));
    match suite {
        SupportedCipherSuite::Tls13(s) => SupportedCipherSuite::Tls13(Box::leak(Box::new(rustls::Tls13CipherSuite {
            common: common(&s.common),
            hkdf_provider: s.hkdf_provider,
            aead_alg: aead,
            quic: s.quic,
        }))),
        SupportedCipherSuite::Tls12(s) => SupportedCipherSuite::Tls12(Box::leak(Box::new(rustls::Tls12CipherSuite {
            common: common(&s.common),
            prf_provider: s.prf_provider,
            kx: s.kx,
            sign: s.sign,
            aead_alg: aead,
        }))),
    }
}

fn common(c: &rustls::CipherSuiteCommon) -> rustls::CipherSuiteCommon {
    rustls::CipherSuiteCommon {
        suite: c.suite,
        hash_provider: c.hash_provider,
        confidentiality_limit: c.confidentiality_limit,
    }
}

/// One AEAD, run by the host: the `aead_alg` of a rewritten suite.
struct HostRecords {
    algorithm: AeadAlgorithm,
    host: Arc<dyn HostAead>,
}

impl HostRecords {
    fn cipher(&self, key: AeadKey, iv: Iv, version: RecordVersion) -> Box<HostCipher> {
        Box::new(HostCipher {
            algorithm: self.algorithm,
            host: Arc::clone(&self.host),
            key: key.as_ref().to_vec(),
            iv,
            version,
        })
    }

    fn traffic_secrets(&self, key: AeadKey, iv: Iv) -> ConnectionTrafficSecrets {
        match self.algorithm {
            AeadAlgorithm::Aes128Gcm => ConnectionTrafficSecrets::Aes128Gcm { key, iv },
            AeadAlgorithm::Aes256Gcm => ConnectionTrafficSecrets::Aes256Gcm { key, iv },
            AeadAlgorithm::ChaCha20Poly1305 => ConnectionTrafficSecrets::Chacha20Poly1305 { key, iv },
        }
    }

    fn is_gcm(&self) -> bool {
        self.algorithm != AeadAlgorithm::ChaCha20Poly1305
    }
}

impl Tls13AeadAlgorithm for HostRecords {
    fn encrypter(&self, key: AeadKey, iv: Iv) -> Box<dyn MessageEncrypter> {
        self.cipher(key, iv, RecordVersion::Tls13)
    }

    fn decrypter(&self, key: AeadKey, iv: Iv) -> Box<dyn MessageDecrypter> {
        self.cipher(key, iv, RecordVersion::Tls13)
    }

    fn key_len(&self) -> usize {
        self.algorithm.key_len()
    }

    fn extract_keys(&self, key: AeadKey, iv: Iv) -> Result<ConnectionTrafficSecrets, UnsupportedOperationError> {
        Ok(self.traffic_secrets(key, iv))
    }
}

/// TLS 1.2's nonces: ChaCha20-Poly1305 as TLS 1.3 (RFC 7905, a 12-byte IV XORed with the
/// sequence number); AES-GCM with a 4-byte salt and 8 explicit bytes sent in the record, which
/// rustls (and this) start from the key block and XOR with the sequence number.
impl Tls12AeadAlgorithm for HostRecords {
    fn encrypter(&self, key: AeadKey, iv: &[u8], explicit: &[u8]) -> Box<dyn MessageEncrypter> {
        let version = if self.is_gcm() { RecordVersion::Tls12Gcm } else { RecordVersion::Tls12 };
        self.cipher(key, tls12_iv(iv, explicit), version)
    }

    fn decrypter(&self, key: AeadKey, iv: &[u8]) -> Box<dyn MessageDecrypter> {
        // A GCM decrypter has only the salt: the rest of each nonce comes in its record.
        let version = if self.is_gcm() { RecordVersion::Tls12Gcm } else { RecordVersion::Tls12 };
        self.cipher(key, tls12_iv(iv, &[]), version)
    }

    fn key_block_shape(&self) -> KeyBlockShape {
        if self.is_gcm() {
            KeyBlockShape { enc_key_len: self.algorithm.key_len(), fixed_iv_len: 4, explicit_nonce_len: 8 }
        } else {
            KeyBlockShape { enc_key_len: 32, fixed_iv_len: NONCE_LEN, explicit_nonce_len: 0 }
        }
    }

    fn extract_keys(
        &self,
        key: AeadKey,
        iv: &[u8],
        explicit: &[u8],
    ) -> Result<ConnectionTrafficSecrets, UnsupportedOperationError> {
        Ok(self.traffic_secrets(key, tls12_iv(iv, explicit)))
    }
}

/// The fixed IV followed by the explicit bytes: 12 bytes in all, as the key block shapes above
/// make them.
fn tls12_iv(iv: &[u8], explicit: &[u8]) -> Iv {
    let mut bytes = [0; NONCE_LEN];
    let fixed = iv.len().min(NONCE_LEN);
    bytes[..fixed].copy_from_slice(&iv[..fixed]);
    let rest = explicit.len().min(NONCE_LEN - fixed);
    bytes[fixed..fixed + rest].copy_from_slice(&explicit[..rest]);
    Iv::new(bytes)
}

/// How records are framed around the AEAD.
#[derive(Clone, Copy, PartialEq, Eq)]
enum RecordVersion {
    /// RFC 8446, 5.2: the content type inside, padding, the header as AAD.
    Tls13,
    /// RFC 5246, 6.2.3.3 with the nonce of RFC 7905.
    Tls12,
    /// RFC 5288: the nonce's last 8 bytes precede the ciphertext.
    Tls12Gcm,
}

/// One direction of one session's records.
struct HostCipher {
    algorithm: AeadAlgorithm,
    host: Arc<dyn HostAead>,
    key: Vec<u8>,
    iv: Iv,
    version: RecordVersion,
}

impl MessageEncrypter for HostCipher {
    fn encrypt(&mut self, msg: OutboundPlainMessage<'_>, seq: u64) -> Result<OutboundOpaqueMessage, rustls::Error> {
        let nonce = Nonce::new(&self.iv, seq).0;
        let total_len = self.encrypted_payload_len(msg.payload.len());
        let mut plaintext = Vec::with_capacity(msg.payload.len() + 1);
        msg.payload.copy_to_vec(&mut plaintext);
        let (aad, typ, version) = match self.version {
            RecordVersion::Tls13 => {
                plaintext.extend_from_slice(&msg.typ.to_array());
                (make_tls13_aad(total_len).to_vec(), ContentType::ApplicationData, ProtocolVersion::TLSv1_2)
            }
            RecordVersion::Tls12 | RecordVersion::Tls12Gcm => {
                (make_tls12_aad(seq, msg.typ, msg.version, msg.payload.len()).to_vec(), msg.typ, msg.version)
            }
        };
        let sealed = self
            .host
            .seal(self.algorithm, &self.key, &nonce, &aad, &plaintext)
            .map_err(|_| rustls::Error::EncryptError)?;
        let mut payload = PrefixedPayload::with_capacity(total_len);
        if self.version == RecordVersion::Tls12Gcm {
            payload.extend_from_slice(&nonce[NONCE_LEN - GCM_EXPLICIT_NONCE_LEN..]);
        }
        payload.extend_from_slice(&sealed);
        Ok(OutboundOpaqueMessage::new(typ, version, payload))
    }

    fn encrypted_payload_len(&self, payload_len: usize) -> usize {
        match self.version {
            RecordVersion::Tls13 => payload_len + 1 + TAG_LEN,
            RecordVersion::Tls12 => payload_len + TAG_LEN,
            RecordVersion::Tls12Gcm => payload_len + GCM_EXPLICIT_NONCE_LEN + TAG_LEN,
        }
    }
}

impl MessageDecrypter for HostCipher {
    fn decrypt<'a>(
        &mut self,
        mut msg: InboundOpaqueMessage<'a>,
        seq: u64,
    ) -> Result<InboundPlainMessage<'a>, rustls::Error> {
        let explicit_len = if self.version == RecordVersion::Tls12Gcm { GCM_EXPLICIT_NONCE_LEN } else { 0 };
        if msg.payload.len() < explicit_len + TAG_LEN {
            return Err(rustls::Error::DecryptError);
        }
        let mut nonce = Nonce::new(&self.iv, seq).0;
        if explicit_len > 0 {
            nonce[NONCE_LEN - explicit_len..].copy_from_slice(&msg.payload[..explicit_len]);
        }
        let aad = match self.version {
            RecordVersion::Tls13 => make_tls13_aad(msg.payload.len()).to_vec(),
            RecordVersion::Tls12 | RecordVersion::Tls12Gcm => {
                make_tls12_aad(seq, msg.typ, msg.version, msg.payload.len() - explicit_len - TAG_LEN).to_vec()
            }
        };
        let plaintext = self
            .host
            .open(self.algorithm, &self.key, &nonce, &aad, &msg.payload[explicit_len..])
            .map_err(|_| rustls::Error::DecryptError)?;
        if self.version != RecordVersion::Tls13 && plaintext.len() > MAX_FRAGMENT_LEN {
            return Err(rustls::Error::PeerSentOversizedRecord);
        }
        msg.payload[..plaintext.len()].copy_from_slice(&plaintext);
        msg.payload.truncate(plaintext.len());
        match self.version {
            RecordVersion::Tls13 => msg.into_tls13_unpadded_message(),
            RecordVersion::Tls12 | RecordVersion::Tls12Gcm => Ok(msg.into_plain_message()),
        }
    }
}
