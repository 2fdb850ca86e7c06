//! Sessions against each other in memory, with keys and certificates made for the run.

use std::sync::{Arc, Mutex};

use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair};

use super::*;

/// A CA and what it can issue.
struct Ca {
    der: Vec<u8>,
    issuer: Issuer<'static, KeyPair>,
}

impl Ca {
    fn new(name: &str) -> Ca {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(rcgen::DnType::CommonName, name);
        let cert = params.self_signed(&key).unwrap();
        Ca { der: cert.der().to_vec(), issuer: Issuer::new(params, key) }
    }

    /// A P-256 key and its certificate for `names`, as a host would hold them.
    fn issue(&self, key_name: &str, names: &[&str]) -> TestKey {
        let key = KeyPair::generate().unwrap();
        let params = CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        TestKey { name: key_name.into(), pkcs8: key.serialize_der(), chain: vec![cert.der().to_vec()] }
    }
}

struct TestKey {
    name: String,
    pkcs8: Vec<u8>,
    chain: Vec<Vec<u8>>,
}

/// The host side: holds the keys, signs, and counts what it signed.
#[derive(Default)]
struct TestHost {
    keys: Vec<TestKey>,
    refuse: bool,
    signed: Mutex<Vec<u32>>,
}

impl HostKeys for TestHost {
    fn keys(&self) -> Vec<HostKey> {
        (0..)
            .zip(&self.keys)
            .map(|(handle, k)| HostKey {
                handle,
                name: k.name.clone(),
                schemes: vec![SignatureScheme::ECDSA_NISTP256_SHA256],
                certificate_chain: k.chain.clone(),
            })
            .collect()
    }

    fn sign(&self, handle: u32, scheme: SignatureScheme, message: &[u8]) -> Result<Vec<u8>, SignFailure> {
        let key = self.keys.get(handle as usize).ok_or(SignFailure)?;
        if self.refuse || scheme != SignatureScheme::ECDSA_NISTP256_SHA256 {
            return Err(SignFailure);
        }
        let rng = SystemRandom::new();
        let pair =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &key.pkcs8, &rng).map_err(|_| SignFailure)?;
        self.signed.lock().unwrap().push(handle);
        Ok(pair.sign(&rng, message).map_err(|_| SignFailure)?.as_ref().to_vec())
    }
}

fn host(keys: Vec<TestKey>) -> Arc<TestHost> {
    Arc::new(TestHost { keys, ..TestHost::default() })
}

/// Moves records both ways until neither side has any; the results of the last `receive` on
/// each side.
fn pump(client: &mut Session, server: &mut Session) -> (Result<Status, Error>, Result<Status, Error>) {
    let (mut to_client, mut to_server) = (Ok(client.status()), Ok(server.status()));
    for _ in 0..20 {
        let c = client.take_ciphertext(usize::MAX);
        let s = server.take_ciphertext(usize::MAX);
        if c.is_empty() && s.is_empty() {
            break;
        }
        if !c.is_empty() {
            to_server = server.receive(&c);
        }
        if !s.is_empty() {
            to_client = client.receive(&s);
        }
    }
    (to_client, to_server)
}

fn client_for(ca: &Ca, options: ClientOptions) -> ClientConfig {
    let options = ClientOptions { roots: vec![ca.der.clone()], ..options };
    ClientConfig::new(host(Vec::new()), &options).unwrap()
}

#[test]
fn both_versions_carry_data_both_ways_and_close() {
    let ca = Ca::new("test CA");
    let host = host(vec![ca.issue("site", &["localhost"])]);
    let server_options = ServerOptions { alpn: vec!["h2".into(), "http/1.1".into()], ..ServerOptions::default() };
    let server_config = ServerConfig::new(host.clone(), &server_options).unwrap();
    for version in [Version::Tls13, Version::Tls12] {
        let client_config = client_for(
            &ca,
            ClientOptions { alpn: vec!["http/1.1".into()], versions: vec![version], ..ClientOptions::default() },
        );
        let mut client = client_config.connect("localhost").unwrap();
        let mut server = server_config.accept();
        assert!(client.status().handshaking);
        client.write_plaintext(b"GET / HTTP/1.1\r\n\r\n").unwrap();
        let (c, s) = pump(&mut client, &mut server);
        c.unwrap();
        let status = s.unwrap();
        assert!(!status.handshaking);
        assert_eq!(server.read_plaintext(100), b"GET / HTTP/1.1\r\n\r\n");
        let info = server.info().unwrap();
        assert_eq!(info.version, version);
        assert_eq!(info.alpn.as_deref(), Some("http/1.1"));
        assert_eq!(info.server_name.as_deref(), Some("localhost"));
        assert!(info.peer_certificates.is_empty());
        assert_eq!(client.info().unwrap().peer_certificates, host.keys[0].chain);
        server.write_plaintext(&vec![7; 100_000]).unwrap();
        server.close();
        let (c, _) = pump(&mut client, &mut server);
        assert!(c.unwrap().peer_closed);
        assert_eq!(client.read_plaintext(usize::MAX), vec![7; 100_000]);
        assert_eq!(server.write_plaintext(b"late").unwrap_err().kind, ErrorKind::Closed);
    }
    assert_eq!(host.signed.lock().unwrap().len(), 2, "each full handshake signs once");
}

#[test]
fn sni_chooses_the_key_that_names_the_host() {
    let ca = Ca::new("test CA");
    let host = host(vec![ca.issue("a", &["a.test"]), ca.issue("b", &["b.test", "*.b.test"])]);
    let server_config = ServerConfig::new(host.clone(), &ServerOptions::default()).unwrap();
    let client_config = client_for(&ca, ClientOptions::default());
    for (name, chain) in
        [("b.test", &host.keys[1].chain), ("www.b.test", &host.keys[1].chain), ("a.test", &host.keys[0].chain)]
    {
        let mut client = client_config.connect(name).unwrap();
        let mut server = server_config.accept();
        let (c, s) = pump(&mut client, &mut server);
        c.unwrap();
        s.unwrap();
        assert_eq!(&client.info().unwrap().peer_certificates, chain, "{name}");
    }
    // A name no certificate carries gets the first key; the client refuses it, the server
    // hears the alert.
    let mut client = client_config.connect("c.test").unwrap();
    let mut server = server_config.accept();
    let (c, s) = pump(&mut client, &mut server);
    assert_eq!(c.unwrap_err().kind, ErrorKind::BadCertificate);
    assert_eq!(s.unwrap_err().kind, ErrorKind::PeerAlert);
    // Keys can be narrowed by name, and a wrong name says what the host holds.
    let only_b = ServerOptions { keys: vec!["b".into()], ..ServerOptions::default() };
    ServerConfig::new(host.clone(), &only_b).unwrap();
    let wrong = ServerOptions { keys: vec!["c".into()], ..ServerOptions::default() };
    let err = ServerConfig::new(host, &wrong).err().unwrap();
    assert!(err.contains("\"c\"") && err.contains("a, b"), "{err}");
}

#[test]
fn an_unknown_ca_is_refused() {
    let ca = Ca::new("test CA");
    let other = Ca::new("other CA");
    let server_config =
        ServerConfig::new(host(vec![ca.issue("site", &["localhost"])]), &ServerOptions::default()).unwrap();
    let mut client = client_for(&other, ClientOptions::default()).connect("localhost").unwrap();
    let mut server = server_config.accept();
    let (c, s) = pump(&mut client, &mut server);
    let err = c.unwrap_err();
    assert_eq!(err.kind, ErrorKind::BadCertificate);
    assert!(err.message.contains("UnknownIssuer"), "{err}");
    assert_eq!(s.unwrap_err().kind, ErrorKind::PeerAlert);
}

#[test]
fn garbage_is_refused_with_an_alert_and_the_session_stays_failed() {
    let ca = Ca::new("test CA");
    let server_config =
        ServerConfig::new(host(vec![ca.issue("site", &["localhost"])]), &ServerOptions::default()).unwrap();
    for garbage in [&b"GET / HTTP/1.1\r\n\r\n"[..], &[0x16, 0x03, 0x01, 0xff, 0xff, 0, 0, 0, 0, 0], &[0x17; 5000]] {
        let mut server = server_config.accept();
        let err = server.receive(garbage).unwrap_err();
        assert!(matches!(err.kind, ErrorKind::BadRecord | ErrorKind::HandshakeFailed), "{err:?}");
        let alert = server.take_ciphertext(usize::MAX);
        assert_eq!(alert.first(), Some(&0x15), "an alert record is queued: {alert:?}");
        assert_eq!(server.receive(b"more").unwrap_err(), err);
    }
    // A truncated but well-formed start is simply waited on.
    let mut server = server_config.accept();
    let status = server.receive(&[0x16, 0x03, 0x01, 0x00, 0x40, 0x01]).unwrap();
    assert!(status.handshaking && status.ciphertext_ready == 0);
}

#[test]
fn client_certificates_are_asked_for_and_checked() {
    let ca = Ca::new("test CA");
    let client_ca = Ca::new("client CA");
    let server_host = host(vec![ca.issue("site", &["localhost"])]);
    let required =
        ServerOptions { client_auth: ClientAuth::Required(vec![client_ca.der.clone()]), ..ServerOptions::default() };
    let optional =
        ServerOptions { client_auth: ClientAuth::Optional(vec![client_ca.der.clone()]), ..ServerOptions::default() };
    let required = ServerConfig::new(server_host.clone(), &required).unwrap();
    let optional = ServerConfig::new(server_host, &optional).unwrap();

    let anonymous = client_for(&ca, ClientOptions::default());
    let client_key = client_ca.issue("me", &["client.test"]);
    let client_chain = client_key.chain.clone();
    let with_key = ClientConfig::new(
        host(vec![client_key]),
        &ClientOptions { roots: vec![ca.der.clone()], client_key: Some("me".into()), ..ClientOptions::default() },
    )
    .unwrap();
    let stranger = ClientConfig::new(
        host(vec![ca.issue("me", &["client.test"])]),
        &ClientOptions { roots: vec![ca.der.clone()], client_key: Some("me".into()), ..ClientOptions::default() },
    )
    .unwrap();

    let run = |client_config: &ClientConfig, server_config: &ServerConfig| {
        let mut client = client_config.connect("localhost").unwrap();
        let mut server = server_config.accept();
        let (_, s) = pump(&mut client, &mut server);
        s.map(|_| server.info().unwrap().peer_certificates)
    };
    assert_eq!(run(&with_key, &required).unwrap(), client_chain);
    assert_eq!(run(&anonymous, &required).unwrap_err().kind, ErrorKind::BadCertificate);
    assert_eq!(run(&stranger, &required).unwrap_err().kind, ErrorKind::BadCertificate);
    assert!(run(&anonymous, &optional).unwrap().is_empty());
    assert_eq!(run(&with_key, &optional).unwrap(), client_chain);
    assert_eq!(run(&stranger, &optional).unwrap_err().kind, ErrorKind::BadCertificate);
}

#[test]
fn a_second_connection_resumes_without_signing() {
    let ca = Ca::new("test CA");
    for (tickets, version) in
        [(false, Version::Tls12), (true, Version::Tls12), (false, Version::Tls13), (true, Version::Tls13)]
    {
        let host = host(vec![ca.issue("site", &["localhost"])]);
        let options = ServerOptions { tickets, ..ServerOptions::default() };
        let server_config = ServerConfig::new(host.clone(), &options).unwrap();
        let client_config = client_for(&ca, ClientOptions { versions: vec![version], ..ClientOptions::default() });
        let mut resumed = Vec::new();
        for _ in 0..2 {
            let mut client = client_config.connect("localhost").unwrap();
            let mut server = server_config.accept();
            // TLS 1.3 tickets follow the handshake: let the client read them.
            server.write_plaintext(b"hi").unwrap();
            let (c, s) = pump(&mut client, &mut server);
            c.unwrap();
            s.unwrap();
            resumed.push(server.info().unwrap().resumed);
        }
        assert_eq!(resumed, [false, true], "tickets {tickets}, {version:?}");
        assert_eq!(host.signed.lock().unwrap().len(), 1);
    }
}

#[test]
fn a_host_that_will_not_sign_fails_the_handshake() {
    let ca = Ca::new("test CA");
    let host = Arc::new(TestHost { keys: vec![ca.issue("site", &["localhost"])], refuse: true, ..TestHost::default() });
    let server_config = ServerConfig::new(host, &ServerOptions::default()).unwrap();
    let mut client = client_for(&ca, ClientOptions::default()).connect("localhost").unwrap();
    let mut server = server_config.accept();
    let (_, s) = pump(&mut client, &mut server);
    assert_eq!(s.unwrap_err().kind, ErrorKind::SigningFailed);
}

#[test]
fn configurations_say_what_is_wrong() {
    let err = ServerConfig::new(host(Vec::new()), &ServerOptions::default()).err().unwrap();
    assert!(err.contains("no key"), "{err}");
    let err = ClientConfig::new(
        host(Vec::new()),
        &ClientOptions { roots: vec![b"junk".to_vec()], ..ClientOptions::default() },
    )
    .err()
    .unwrap();
    assert!(err.contains("root certificate"), "{err}");
    let ca = Ca::new("test CA");
    let err = client_for(&ca, ClientOptions::default()).connect("not a name").err().unwrap();
    assert!(err.contains("neither"), "{err}");
}

#[test]
fn certificates_are_read_from_pem_in_file_order_and_bad_pem_is_named() {
    let (first, second) = (Ca::new("first"), Ca::new("second"));
    let pem = |der: &[u8]| rustls::pki_types::CertificateDer::from(der.to_vec());
    let encode = |der: &[u8]| {
        use std::fmt::Write;
        let b64 = base64_encode(pem(der).as_ref());
        let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
        for line in b64.as_bytes().chunks(64) {
            let _ = writeln!(out, "{}", std::str::from_utf8(line).unwrap());
        }
        out + "-----END CERTIFICATE-----\n"
    };
    let file = format!(
        "junk before\n{}-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n{}",
        encode(&first.der),
        encode(&second.der)
    );
    assert_eq!(certificates_from_pem(file.as_bytes()).unwrap(), vec![first.der.clone(), second.der.clone()]);

    let err = certificates_from_pem(b"no pem at all").unwrap_err();
    assert!(err.contains("no certificate"), "{err}");
    let err = certificates_from_pem(b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n").unwrap_err();
    assert!(err.contains("certificate 1"), "{err}");
}

/// Standard base64 with padding, for writing PEM in the test.
fn base64_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Record encryption as a host does it, with ring's AEADs (rustls's in-component records use
/// the same ring, so any framing difference shows as a failed session), counting its calls.
struct RingAead {
    order: Vec<AeadAlgorithm>,
    calls: std::sync::atomic::AtomicUsize,
}

impl RingAead {
    fn key(algorithm: AeadAlgorithm, key: &[u8]) -> Result<ring::aead::LessSafeKey, AeadFailure> {
        let algorithm = match algorithm {
            AeadAlgorithm::Aes128Gcm => &ring::aead::AES_128_GCM,
            AeadAlgorithm::Aes256Gcm => &ring::aead::AES_256_GCM,
            AeadAlgorithm::ChaCha20Poly1305 => &ring::aead::CHACHA20_POLY1305,
        };
        Ok(ring::aead::LessSafeKey::new(ring::aead::UnboundKey::new(algorithm, key).map_err(|_| AeadFailure)?))
    }
}

impl HostAead for RingAead {
    fn algorithms(&self) -> Vec<AeadAlgorithm> {
        self.order.clone()
    }

    fn seal(
        &self,
        algorithm: AeadAlgorithm,
        key: &[u8],
        nonce: &[u8; 12],
        aad: &[u8],
        plaintext: &[u8],
    ) -> Result<Vec<u8>, AeadFailure> {
        self.calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut buffer = plaintext.to_vec();
        let nonce = ring::aead::Nonce::assume_unique_for_key(*nonce);
        Self::key(algorithm, key)?
            .seal_in_place_append_tag(nonce, ring::aead::Aad::from(aad), &mut buffer)
            .map_err(|_| AeadFailure)?;
        Ok(buffer)
    }

    fn open(
        &self,
        algorithm: AeadAlgorithm,
        key: &[u8],
        nonce: &[u8; 12],
        aad: &[u8],
        sealed: &[u8],
    ) -> Result<Vec<u8>, AeadFailure> {
        self.calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut buffer = sealed.to_vec();
        let nonce = ring::aead::Nonce::assume_unique_for_key(*nonce);
        let len = Self::key(algorithm, key)?
            .open_in_place(nonce, ring::aead::Aad::from(aad), &mut buffer)
            .map_err(|_| AeadFailure)?
            .len();
        buffer.truncate(len);
        Ok(buffer)
    }
}

/// `crypto` offering only `suite`.
fn only_suite(crypto: &Crypto, suite: rustls::CipherSuite) -> Crypto {
    let mut provider = (*crypto.provider).clone();
    provider.cipher_suites.retain(|s| s.suite() == suite);
    assert_eq!(provider.cipher_suites.len(), 1, "{suite:?}");
    Crypto { provider: Arc::new(provider), prefer_own_order: false }
}

#[test]
fn host_records_interoperate_with_the_components_own_for_every_suite() {
    use AeadAlgorithm::*;
    let ca = Ca::new("test CA");
    let keys = host(vec![ca.issue("site", &["localhost"])]);
    let aead = Arc::new(RingAead { order: vec![ChaCha20Poly1305, Aes128Gcm, Aes256Gcm], calls: Default::default() });
    let in_host = Crypto::with_host_aead(aead.clone());
    let in_component = Crypto::in_component();
    let suites: Vec<_> = in_component
        .cipher_suites()
        .into_iter()
        .filter(|s| !format!("{s:?}").contains("_RSA_")) // the test key is ECDSA
        .collect();
    assert_eq!(suites.len(), 6, "{suites:?}");
    for suite in suites {
        // Each side with its records in the host, against the other in the component.
        for (server_crypto, client_crypto) in [(&in_host, &in_component), (&in_component, &in_host)] {
            let calls_before = aead.calls.load(std::sync::atomic::Ordering::Relaxed);
            let server_config =
                ServerConfig::with_crypto(keys.clone(), &only_suite(server_crypto, suite), &ServerOptions::default())
                    .unwrap();
            let options = ClientOptions { roots: vec![ca.der.clone()], ..ClientOptions::default() };
            let client_config =
                ClientConfig::with_crypto(host(Vec::new()), &only_suite(client_crypto, suite), &options).unwrap();
            let mut client = client_config.connect("localhost").unwrap();
            let mut server = server_config.accept();
            client.write_plaintext(&vec![1; 40_000]).unwrap();
            let (c, s) = pump(&mut client, &mut server);
            c.unwrap();
            s.unwrap();
            assert_eq!(server.read_plaintext(usize::MAX), vec![1; 40_000], "{suite:?}");
            assert_eq!(server.info().unwrap().cipher_suite, format!("{suite:?}"));
            server.write_plaintext(&vec![2; 40_000]).unwrap();
            server.close();
            let (c, _) = pump(&mut client, &mut server);
            assert!(c.unwrap().peer_closed, "{suite:?}");
            assert_eq!(client.read_plaintext(usize::MAX), vec![2; 40_000], "{suite:?}");
            // 40 kB is three records each way, at least; handshake records too in TLS 1.3.
            let calls = aead.calls.load(std::sync::atomic::Ordering::Relaxed) - calls_before;
            assert!(calls >= 6, "{suite:?}: the host sealed or opened {calls} records");
        }
    }
}

#[test]
fn host_records_are_authenticated_and_ordered_by_the_hosts_speed() {
    use AeadAlgorithm::*;
    let ca = Ca::new("test CA");
    let keys = host(vec![ca.issue("site", &["localhost"])]);
    let aead = Arc::new(RingAead { order: vec![Aes256Gcm, ChaCha20Poly1305], calls: Default::default() });
    let crypto = Crypto::with_host_aead(aead);
    let order: Vec<String> = crypto.cipher_suites().iter().map(|s| format!("{s:?}")).collect();
    let tls13: Vec<&String> = order.iter().filter(|s| s.starts_with("TLS13")).collect();
    // What the host cannot run stays in the component, last.
    assert_eq!(tls13, ["TLS13_AES_256_GCM_SHA384", "TLS13_CHACHA20_POLY1305_SHA256", "TLS13_AES_128_GCM_SHA256"]);
    assert!(order[order.len() - 2..].iter().all(|s| s.contains("AES_128_GCM")), "{order:?}");
    // Servers choose by that order, whatever the client prefers.
    let server_config = ServerConfig::with_crypto(keys, &crypto, &ServerOptions::default()).unwrap();
    let mut client = client_for(&ca, ClientOptions::default()).connect("localhost").unwrap();
    let mut server = server_config.accept();
    let (c, s) = pump(&mut client, &mut server);
    c.unwrap();
    s.unwrap();
    assert_eq!(client.info().unwrap().cipher_suite, "TLS13_AES_256_GCM_SHA384");
    // A record changed in flight is refused, and the session fails.
    client.write_plaintext(b"secret").unwrap();
    let mut record = client.take_ciphertext(usize::MAX);
    let last = record.len() - 1;
    record[last] ^= 1;
    assert_eq!(server.receive(&record).unwrap_err().kind, ErrorKind::BadRecord);
}
