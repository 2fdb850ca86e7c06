//! The TLS component: exports `morgana:tls` (server and client sessions, sans-IO) over
//! `morgana-tls`, and imports `morgana:crypto/signing` for the keys, which stay with the host,
//! and `morgana:crypto/aead`, which seals and opens records natively (many times faster than
//! AEAD compiled to wasm: `benches/tls_crypto.py`).
//! It does no I/O: the caller moves every byte. See `wit/tls/tls.wit` for the interface and
//! `core/` for the sessions.
#![deny(unsafe_code)]

mod bindings {
    #![allow(unsafe_code)]
    wit_bindgen::generate!({
        path: ["../../wit/crypto", "../../wit/tls"],
        world: "morgana:tls/tls",
        generate_all,
    });
    use super::Component;
    export!(Component with_types_in crate::bindings);
}

use std::cell::RefCell;
use std::sync::{Arc, OnceLock};

use bindings::exports::morgana::tls::{client, server, types};
use bindings::morgana::crypto::{aead, signing};
use morgana_tls::{AeadAlgorithm, AeadFailure, Crypto, HostAead, HostKey, HostKeys, SignFailure, SignatureScheme};

struct Component;

/// The host's keys, through the `morgana:crypto/signing` import.
struct Host;

impl HostKeys for Host {
    fn keys(&self) -> Vec<HostKey> {
        signing::keys()
            .into_iter()
            .map(|k| HostKey {
                handle: k.handle,
                name: k.name,
                schemes: k.schemes.into_iter().map(to_rustls).collect(),
                certificate_chain: k.certificate_chain,
            })
            .collect()
    }

    fn sign(&self, handle: u32, scheme: SignatureScheme, message: &[u8]) -> Result<Vec<u8>, SignFailure> {
        let scheme = from_rustls(scheme).ok_or(SignFailure)?;
        signing::sign(handle, scheme, message).map_err(|_| SignFailure)
    }
}

fn host() -> Arc<dyn HostKeys> {
    Arc::new(Host)
}

/// Record encryption through the `morgana:crypto/aead` import.
impl HostAead for Host {
    fn algorithms(&self) -> Vec<AeadAlgorithm> {
        aead::algorithms().into_iter().map(algorithm_from_wit).collect()
    }

    fn seal(
        &self,
        algorithm: AeadAlgorithm,
        key: &[u8],
        nonce: &[u8; 12],
        aad: &[u8],
        plaintext: &[u8],
    ) -> Result<Vec<u8>, AeadFailure> {
        aead::seal(algorithm_to_wit(algorithm), key, nonce, aad, plaintext).map_err(|_| AeadFailure)
    }

    fn open(
        &self,
        algorithm: AeadAlgorithm,
        key: &[u8],
        nonce: &[u8; 12],
        aad: &[u8],
        sealed: &[u8],
    ) -> Result<Vec<u8>, AeadFailure> {
        aead::open(algorithm_to_wit(algorithm), key, nonce, aad, sealed).map_err(|_| AeadFailure)
    }
}

/// The sessions' crypto, made once: records in the host.
fn crypto() -> &'static Crypto {
    static CRYPTO: OnceLock<Crypto> = OnceLock::new();
    CRYPTO.get_or_init(|| Crypto::with_host_aead(Arc::new(Host)))
}

fn algorithm_from_wit(algorithm: aead::Algorithm) -> AeadAlgorithm {
    match algorithm {
        aead::Algorithm::Aes128Gcm => AeadAlgorithm::Aes128Gcm,
        aead::Algorithm::Aes256Gcm => AeadAlgorithm::Aes256Gcm,
        aead::Algorithm::Chacha20Poly1305 => AeadAlgorithm::ChaCha20Poly1305,
    }
}

fn algorithm_to_wit(algorithm: AeadAlgorithm) -> aead::Algorithm {
    match algorithm {
        AeadAlgorithm::Aes128Gcm => aead::Algorithm::Aes128Gcm,
        AeadAlgorithm::Aes256Gcm => aead::Algorithm::Aes256Gcm,
        AeadAlgorithm::ChaCha20Poly1305 => aead::Algorithm::Chacha20Poly1305,
    }
}

fn to_rustls(scheme: signing::SignatureScheme) -> SignatureScheme {
    use signing::SignatureScheme as S;
    match scheme {
        S::EcdsaP256Sha256 => SignatureScheme::ECDSA_NISTP256_SHA256,
        S::EcdsaP384Sha384 => SignatureScheme::ECDSA_NISTP384_SHA384,
        S::Ed25519 => SignatureScheme::ED25519,
        S::RsaPkcs1Sha256 => SignatureScheme::RSA_PKCS1_SHA256,
        S::RsaPkcs1Sha384 => SignatureScheme::RSA_PKCS1_SHA384,
        S::RsaPkcs1Sha512 => SignatureScheme::RSA_PKCS1_SHA512,
        S::RsaPssSha256 => SignatureScheme::RSA_PSS_SHA256,
        S::RsaPssSha384 => SignatureScheme::RSA_PSS_SHA384,
        S::RsaPssSha512 => SignatureScheme::RSA_PSS_SHA512,
    }
}

fn from_rustls(scheme: SignatureScheme) -> Option<signing::SignatureScheme> {
    use signing::SignatureScheme as S;
    [
        S::EcdsaP256Sha256,
        S::EcdsaP384Sha384,
        S::Ed25519,
        S::RsaPkcs1Sha256,
        S::RsaPkcs1Sha384,
        S::RsaPkcs1Sha512,
        S::RsaPssSha256,
        S::RsaPssSha384,
        S::RsaPssSha512,
    ]
    .into_iter()
    .find(|s| to_rustls(*s) == scheme)
}

fn versions(versions: Vec<types::ProtocolVersion>) -> Vec<morgana_tls::Version> {
    versions
        .into_iter()
        .map(|v| match v {
            types::ProtocolVersion::Tls12 => morgana_tls::Version::Tls12,
            types::ProtocolVersion::Tls13 => morgana_tls::Version::Tls13,
        })
        .collect()
}

/// Lengths cross the interface as u32; a session never holds 4 GiB.
fn len32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn status(s: morgana_tls::Status) -> types::Status {
    types::Status {
        handshaking: s.handshaking,
        plaintext_ready: len32(s.plaintext_ready),
        ciphertext_ready: len32(s.ciphertext_ready),
        peer_closed: s.peer_closed,
    }
}

fn error(e: morgana_tls::Error) -> types::TlsError {
    use morgana_tls::ErrorKind as K;
    use types::ErrorKind as W;
    let kind = match e.kind {
        K::BadRecord => W::BadRecord,
        K::BadCertificate => W::BadCertificate,
        K::PeerAlert => W::PeerAlert,
        K::Closed => W::Closed,
        K::SigningFailed => W::SigningFailed,
        _ => W::HandshakeFailed,
    };
    types::TlsError { kind, message: e.message }
}

impl types::Guest for Component {
    type Session = Session;

    fn certificates_from_pem(pem: Vec<u8>) -> Result<Vec<Vec<u8>>, String> {
        morgana_tls::certificates_from_pem(&pem)
    }
}

/// A session resource: the core's session behind the interior mutability the bindings need.
struct Session(RefCell<morgana_tls::Session>);

impl Session {
    fn wrap(session: morgana_tls::Session) -> types::Session {
        types::Session::new(Session(RefCell::new(session)))
    }
}

impl types::GuestSession for Session {
    fn receive(&self, ciphertext: Vec<u8>) -> Result<types::Status, types::TlsError> {
        self.0.borrow_mut().receive(&ciphertext).map(status).map_err(error)
    }

    fn take_ciphertext(&self, max: u32) -> Vec<u8> {
        self.0.borrow_mut().take_ciphertext(max as usize)
    }

    fn read_plaintext(&self, max: u32) -> Vec<u8> {
        self.0.borrow_mut().read_plaintext(max as usize)
    }

    fn write_plaintext(&self, plaintext: Vec<u8>) -> Result<types::Status, types::TlsError> {
        self.0.borrow_mut().write_plaintext(&plaintext).map(status).map_err(error)
    }

    fn close(&self) -> types::Status {
        status(self.0.borrow_mut().close())
    }

    fn status(&self) -> types::Status {
        status(self.0.borrow().status())
    }

    fn info(&self) -> Option<types::SessionInfo> {
        let info = self.0.borrow().info()?;
        Some(types::SessionInfo {
            version: match info.version {
                morgana_tls::Version::Tls12 => types::ProtocolVersion::Tls12,
                morgana_tls::Version::Tls13 => types::ProtocolVersion::Tls13,
            },
            cipher_suite: info.cipher_suite,
            alpn: info.alpn,
            server_name: info.server_name,
            peer_certificates: info.peer_certificates,
            resumed: info.resumed,
        })
    }
}

impl server::Guest for Component {
    type ServerConfig = ServerConfig;
}

struct ServerConfig(morgana_tls::ServerConfig);

impl server::GuestServerConfig for ServerConfig {
    fn create(options: server::ServerOptions) -> Result<server::ServerConfig, String> {
        let client_auth = match options.client_auth {
            server::ClientAuth::None => morgana_tls::ClientAuth::None,
            server::ClientAuth::Optional(cas) => morgana_tls::ClientAuth::Optional(cas),
            server::ClientAuth::Required(cas) => morgana_tls::ClientAuth::Required(cas),
        };
        let options = morgana_tls::ServerOptions {
            keys: options.keys,
            alpn: options.alpn,
            versions: versions(options.versions),
            client_auth,
            tickets: options.tickets,
        };
        let config = morgana_tls::ServerConfig::with_crypto(host(), crypto(), &options)?;
        Ok(server::ServerConfig::new(ServerConfig(config)))
    }

    fn accept(&self) -> types::Session {
        Session::wrap(self.0.accept())
    }
}

impl client::Guest for Component {
    type ClientConfig = ClientConfig;
}

struct ClientConfig(morgana_tls::ClientConfig);

impl client::GuestClientConfig for ClientConfig {
    fn create(options: client::ClientOptions) -> Result<client::ClientConfig, String> {
        let options = morgana_tls::ClientOptions {
            roots: options.roots,
            alpn: options.alpn,
            versions: versions(options.versions),
            client_key: options.client_key,
        };
        let config = morgana_tls::ClientConfig::with_crypto(host(), crypto(), &options)?;
        Ok(client::ClientConfig::new(ClientConfig(config)))
    }

    fn connect(&self, server_name: String) -> Result<types::Session, String> {
        self.0.connect(&server_name).map(Session::wrap)
    }
}
