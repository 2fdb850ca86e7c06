//! TLS crypto workloads for `benches/tls_crypto.py`, built from this one source as a wasm32-wasip2
//! component and as a static native Linux binary, to tell what TLS's primitives cost inside the
//! wasm TLS component against the same code run natively.
//!
//!     tls-crypto [--min-secs=S] WORKLOAD[:N] ...   (several at once, or one argument with commas)
//!
//!     handshake[:N]       N full TLS 1.3 handshakes (default 50), each followed by a 32-byte
//!                         request and a 32-byte reply
//!     handshake12[:N]     the same with TLS 1.2 (ECDHE-ECDSA)
//!     bulk[:MIB]          MIB MiB (default 8) from server to client through one established
//!                         TLS 1.3 session, TLS13_AES_128_GCM_SHA256, in 16 KiB writes
//!     bulk-chacha[:MIB]   the same with TLS13_CHACHA20_POLY1305_SHA256
//!     bulk-aes256[:MIB]   the same with TLS13_AES_256_GCM_SHA384, the suite two sessions with
//!                         morgana-tls's defaults settle on
//!     seal[:MIB]          ring's AEAD alone over MIB MiB (default 8) in 16 KiB records: each
//!                         record sealed (seal_in_place_append_tag) and opened again, as bulk's
//!                         two sessions do; AES-128-GCM
//!     seal-chacha[:MIB]   the same with ChaCha20-Poly1305
//!     bulk-host[:MIB]     bulk with the server's records sealed by the host ([`host_aead`]):
//!                         the server session made with `Crypto::with_host_aead`, the rest as
//!                         in bulk (same suite, same client, same checksum)
//!     bulk-host-chacha[:MIB]  the same as bulk-chacha
//!     seal-host[:MIB]     seal with the host's AEAD: each record handed to the host's `seal`
//!                         and its result to the host's `open`, with the key, nonce and AAD of
//!                         seal (same checksum); what a record's crossing costs; AES-128-GCM
//!     seal-host-chacha[:MIB]  the same with ChaCha20-Poly1305
//!     x25519[:N]          N times one side of an ECDHE exchange: an ephemeral X25519 key, its
//!                         public key, the agreement with a peer's (default 200)
//!     p256-sign[:N]       N ECDSA P-256 SHA-256 signatures (default 100), what the host does
//!                         once per full handshake
//!
//! Each workload runs in passes of N until its passes have taken S seconds (default 0.3) of
//! timed work, so that fast targets are timed over many passes; every pass must give the same
//! checksum.
//!
//! The server side of every session is a `morgana_tls::Session`, as the TLS component runs it;
//! its key is held by a host (this program's [`Host`], which signs with ring as the core's tests
//! do). Its records are sealed and opened in the session with ring (`Crypto::in_component`), or
//! in the *-host workloads by the host's AEAD ([`host_aead`]): compiled to wasm, the
//! `morgana:crypto/aead` import, so the records cross into the host that runs the component
//! (`morgana run --target unix`: RustCrypto on AES-NI; the qemu target's kernel: RustCrypto's
//! portable code); compiled natively, `morgana_keys::aead` called in-process, what that host
//! runs behind the import, without the crossing (but optimized as this program is linked, not
//! as the host is built: see Cargo.toml). The interface keeps nothing between calls, so the
//! host's key schedule runs on every record, which the *-host workloads include. The client is
//! a rustls `ClientConnection` with the same ring provider, offering only X25519 and one suite:
//! in the bulk workloads the one the workload names, in the handshakes ChaCha20-Poly1305 (which
//! morgana-tls's server prefers in wasm, so every side negotiates the same); morgana-tls's
//! options have no cipher-suite choice. The client's records are always ring's, in this
//! program. Resumption is off on both ends. The certificate (a CA and an ECDSA P-256 leaf for
//! `localhost`, valid from 1970) is made at start with rcgen, outside the timing.
//!
//! It first prints `tls-crypto: arch=A cpu=FEATURES host_aead=ALGORITHMS min_secs=S`, the
//! host's AEADs fastest first as the host says; then for each workload, timed by
//! `std::time::Instant` around the workload alone (summed over the passes):
//!
//!     NAME ops=N secs=S n=N passes=P [key=value ...]
//!     NAME checksum=HEX
//!
//! `ops` counts handshakes, 16 KiB records or operations over all passes; `bytes=` gives the
//! data of bulk and seal (and of their *-host variants). Handshakes and bulk add the negotiated
//! `version=`, `suite=`, `kx=` and the seconds spent in the server session (`server_secs=`: the
//! host's signing included, and in bulk-host the host's sealing with its crossings), in the
//! host's signing (`sign_secs=`, handshakes) and in the client (`client_secs=`). The checksum
//! depends only on the workload and N: the same on every target when the same work was done,
//! and a *-host workload's the same as its in-component counterpart's.

// Denied, not forbidden: the wit-bindgen bindings of `host_aead` allow it for themselves.
#![deny(unsafe_code)]

mod host_aead;

use std::io::{ErrorKind as IoErrorKind, Read, Write};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use morgana_tls::{
    AeadAlgorithm, Crypto, HostAead, HostKey, HostKeys, ServerConfig, ServerOptions, Session, SignFailure,
    SignatureScheme, Version,
};
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use ring::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey};
use ring::agreement;
use ring::rand::SystemRandom;
use ring::signature::{self, ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair as _};
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore};

const KIB: usize = 1024;
const MIB: usize = 1 << 20;
const RECORD: usize = 16 * KIB;
const SEED: u64 = 0x9E37_79B9_7F4A_7C15;
const FOLD_START: u64 = 0xCBF2_9CE4_8422_2325;
const SERVER_NAME: &str = "localhost";

/// FNV-1a-style folding of 64-bit values into a checksum.
fn fold(hash: u64, value: u64) -> u64 {
    (hash ^ value).wrapping_mul(0x0000_0100_0000_01B3)
}

fn fold_bytes(hash: u64, bytes: &[u8]) -> u64 {
    bytes.iter().fold(hash, |h, &b| fold(h, u64::from(b)))
}

/// 1 MiB of Marsaglia's xorshift64 output from a fixed seed: the same bytes on every target.
fn data() -> Vec<u8> {
    let mut x = SEED;
    let mut buffer = vec![0u8; MIB];
    for word in buffer.chunks_exact_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        word.copy_from_slice(&x.to_le_bytes());
    }
    buffer
}

/// Record `index` of the stream: 16 KiB of `data`, cycling, its first 8 bytes the index (so no
/// two records are alike).
fn fill_record(record: &mut [u8], data: &[u8], index: usize) {
    let start = (index * RECORD) % data.len();
    record.copy_from_slice(&data[start..start + RECORD]);
    record[..8].copy_from_slice(&(index as u64).to_le_bytes());
}

/// Folds one word per 4 KiB of a record into the checksum.
fn fold_record(hash: u64, record: &[u8]) -> u64 {
    record.chunks(4 * KIB).fold(hash, |h, page| fold(h, u64::from_le_bytes(page[..8].try_into().unwrap())))
}

// ---------------------------------------------------------------------------------------------
// The host and the peers

/// The host side of the keys: one ECDSA P-256 key, parsed once, as a host keeps it.
struct Host {
    pair: EcdsaKeyPair,
    chain: Vec<Vec<u8>>,
    rng: SystemRandom,
    signing_nanos: AtomicU64,
}

impl HostKeys for Host {
    fn keys(&self) -> Vec<HostKey> {
        vec![HostKey {
            handle: 0,
            name: "site".into(),
            schemes: vec![SignatureScheme::ECDSA_NISTP256_SHA256],
            certificate_chain: self.chain.clone(),
        }]
    }

    fn sign(&self, handle: u32, scheme: SignatureScheme, message: &[u8]) -> Result<Vec<u8>, SignFailure> {
        if handle != 0 || scheme != SignatureScheme::ECDSA_NISTP256_SHA256 {
            return Err(SignFailure);
        }
        let began = Instant::now();
        let signature = self.pair.sign(&self.rng, message).map_err(|_| SignFailure)?.as_ref().to_vec();
        self.signing_nanos.fetch_add(began.elapsed().as_nanos() as u64, Relaxed);
        Ok(signature)
    }
}

/// A CA, the host with a leaf key it issued for `localhost`, the host's AEAD, and the server
/// configurations: records sealed in the session, and by the host.
struct Setup {
    ca: Vec<u8>,
    host: Arc<Host>,
    aead: Arc<dyn HostAead>,
    server: ServerConfig,
    server_host_records: ServerConfig,
}

impl Setup {
    fn new() -> Setup {
        let ca_key = KeyPair::generate().expect("a CA key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
        // Valid from the epoch: the Linux VM's guest has no RTC and starts its clock at 1970.
        params.not_before = rcgen::date_time_ymd(1970, 1, 1);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(rcgen::DnType::CommonName, "tls-crypto bench CA");
        let ca = params.self_signed(&ca_key).expect("the CA certificate").der().to_vec();
        let issuer = Issuer::new(params, ca_key);
        let leaf_key = KeyPair::generate().expect("a leaf key");
        let mut leaf = CertificateParams::new(vec![SERVER_NAME.to_string()]).expect("leaf parameters");
        leaf.not_before = rcgen::date_time_ymd(1970, 1, 1);
        let leaf = leaf.signed_by(&leaf_key, &issuer).expect("the leaf certificate");
        let rng = SystemRandom::new();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &leaf_key.serialize_der(), &rng)
            .expect("ring reads rcgen's key");
        let host = Arc::new(Host { pair, chain: vec![leaf.der().to_vec()], rng, signing_nanos: AtomicU64::new(0) });
        let server = ServerConfig::new(host.clone(), &ServerOptions::default()).expect("a server configuration");
        // Made once: `Crypto::with_host_aead` leaks its suite tables.
        let aead = host_aead::host_aead();
        let server_host_records =
            ServerConfig::with_crypto(host.clone(), &Crypto::with_host_aead(aead.clone()), &ServerOptions::default())
                .expect("a server configuration with the host's AEAD");
        Setup { ca, host, aead, server, server_host_records }
    }

    /// A client offering `version`, X25519 only, and `suite` only when given; no resumption.
    fn client(&self, version: Version, suite: Option<rustls::SupportedCipherSuite>) -> Arc<ClientConfig> {
        let mut provider = rustls::crypto::ring::default_provider();
        provider.kx_groups = vec![rustls::crypto::ring::kx_group::X25519];
        if let Some(suite) = suite {
            provider.cipher_suites = vec![suite];
        }
        let version = match version {
            Version::Tls13 => &rustls::version::TLS13,
            Version::Tls12 => &rustls::version::TLS12,
        };
        let mut roots = RootCertStore::empty();
        roots.add(CertificateDer::from(self.ca.clone())).expect("the CA is usable");
        let mut config = ClientConfig::builder_with_provider(Arc::new(provider))
            .with_protocol_versions(&[version])
            .expect("the version")
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.resumption = rustls::client::Resumption::disabled();
        Arc::new(config)
    }
}

fn connect(config: &Arc<ClientConfig>) -> ClientConnection {
    ClientConnection::new(Arc::clone(config), ServerName::try_from(SERVER_NAME).unwrap()).expect("a client")
}

/// The client's records for the server.
fn client_output(client: &mut ClientConnection) -> Vec<u8> {
    let mut out = Vec::new();
    while client.wants_write() {
        client.write_tls(&mut out).expect("writing to a Vec");
    }
    out
}

/// Gives the server's records to the client, handing every piece of plaintext to `take`.
fn client_input(
    client: &mut ClientConnection,
    mut records: &[u8],
    plaintext: &mut [u8],
    mut take: impl FnMut(&[u8]),
) -> Result<(), String> {
    while !records.is_empty() {
        client.read_tls(&mut records).map_err(|e| format!("client read_tls: {e}"))?;
        client.process_new_packets().map_err(|e| format!("client: {e}"))?;
        loop {
            match client.reader().read(plaintext) {
                Ok(0) => break,
                Ok(n) => take(&plaintext[..n]),
                Err(e) if e.kind() == IoErrorKind::WouldBlock => break,
                Err(e) => return Err(format!("client read: {e}")),
            }
        }
    }
    Ok(())
}

/// Time spent on each side.
#[derive(Default)]
struct Sides {
    server: Duration,
    client: Duration,
}

/// Moves records both ways until neither side has any, timing each side's part.
fn pump(
    client: &mut ClientConnection,
    server: &mut Session,
    sides: &mut Sides,
    mut take: impl FnMut(&[u8]),
) -> Result<(), String> {
    let mut plaintext = vec![0u8; RECORD];
    loop {
        let began = Instant::now();
        let to_server = client_output(client);
        sides.client += began.elapsed();
        let began = Instant::now();
        if !to_server.is_empty() {
            server.receive(&to_server).map_err(|e| format!("server: {e}"))?;
        }
        let to_client = server.take_ciphertext(usize::MAX);
        sides.server += began.elapsed();
        if to_server.is_empty() && to_client.is_empty() {
            return Ok(());
        }
        let began = Instant::now();
        client_input(client, &to_client, &mut plaintext, &mut take)?;
        sides.client += began.elapsed();
    }
}

// ---------------------------------------------------------------------------------------------
// Workloads

/// One pass of a workload: its count, time, checksum, what was negotiated, and the parts of its
/// time (summed over passes).
struct Outcome {
    ops: usize,
    bytes: usize,
    elapsed: Duration,
    checksum: u64,
    negotiated: String,
    parts: Vec<(&'static str, Duration)>,
}

impl Outcome {
    fn new(ops: usize, elapsed: Duration, checksum: u64) -> Outcome {
        Outcome { ops, bytes: 0, elapsed, checksum, negotiated: String::new(), parts: Vec::new() }
    }
}

fn handshakes(setup: &Setup, version: Version, n: usize) -> Result<Outcome, String> {
    // One suite, so that every side negotiates the same: the ChaCha20-Poly1305 one, which the
    // component chooses in wasm when offered (morgana-tls's provider).
    let suite = match version {
        Version::Tls13 => rustls::crypto::ring::cipher_suite::TLS13_CHACHA20_POLY1305_SHA256,
        Version::Tls12 => rustls::crypto::ring::cipher_suite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    };
    let config = setup.client(version, Some(suite));
    let signed_before = setup.host.signing_nanos.load(Relaxed);
    let mut sides = Sides::default();
    let mut hash = FOLD_START;
    let mut negotiated = None;
    let began = Instant::now();
    for i in 0..n {
        let mut request = [0u8; 32];
        request[..8].copy_from_slice(&(i as u64).to_le_bytes());
        let t = Instant::now();
        let mut client = connect(&config);
        client.writer().write_all(&request).map_err(|e| e.to_string())?;
        sides.client += t.elapsed();
        let t = Instant::now();
        let mut server = setup.server.accept();
        sides.server += t.elapsed();
        pump(&mut client, &mut server, &mut sides, |_| ())?;
        let t = Instant::now();
        let got = server.read_plaintext(usize::MAX);
        if got != request {
            return Err(format!("handshake {i}: the server read {} bytes, not the request", got.len()));
        }
        let mut reply = request;
        reply[8..].fill(0x5a);
        server.write_plaintext(&reply).map_err(|e| format!("server: {e}"))?;
        sides.server += t.elapsed();
        let mut answer = Vec::new();
        pump(&mut client, &mut server, &mut sides, |p| answer.extend_from_slice(p))?;
        let info = server.info().ok_or("the handshake did not finish")?;
        if info.resumed {
            return Err(format!("handshake {i} was resumed"));
        }
        hash = fold_bytes(hash, &answer);
        let kx = client.negotiated_key_exchange_group().map(|g| format!("{:?}", g.name())).unwrap_or_default();
        negotiated.get_or_insert((format!("{:?}", info.version), info.cipher_suite, kx));
    }
    let elapsed = began.elapsed();
    let (version, suite, kx) = negotiated.unwrap_or_default();
    for text in [&version, &suite, &kx] {
        hash = fold_bytes(hash, text.as_bytes());
    }
    let signing = Duration::from_nanos(setup.host.signing_nanos.load(Relaxed) - signed_before);
    Ok(Outcome {
        negotiated: format!("version={version} suite={suite} kx={kx}"),
        parts: vec![("server_secs", sides.server), ("sign_secs", signing), ("client_secs", sides.client)],
        ..Outcome::new(n, elapsed, hash)
    })
}

/// MIB MiB from a session of `server` (records sealed in it, or by the host) to a client
/// offering `suite` only.
fn bulk(
    setup: &Setup,
    server: &ServerConfig,
    suite: rustls::SupportedCipherSuite,
    mib: usize,
) -> Result<Outcome, String> {
    let config = setup.client(Version::Tls13, Some(suite));
    let mut client = connect(&config);
    let mut server = server.accept();
    let mut sides = Sides::default();
    pump(&mut client, &mut server, &mut sides, |_| ())?;
    let suite = server.info().ok_or("the handshake did not finish")?.cipher_suite;
    let kx = client.negotiated_key_exchange_group().map(|g| format!("{:?}", g.name())).unwrap_or_default();

    let data = data();
    let records = mib * MIB / RECORD;
    let mut record = vec![0u8; RECORD];
    let mut plaintext = vec![0u8; RECORD];
    let mut received = Vec::with_capacity(2 * RECORD);
    let (mut hash, mut bytes) = (FOLD_START, 0usize);
    let mut sides = Sides::default();
    let began = Instant::now();
    for index in 0..records {
        fill_record(&mut record, &data, index);
        let t = Instant::now();
        server.write_plaintext(&record).map_err(|e| format!("server: {e}"))?;
        let to_client = server.take_ciphertext(usize::MAX);
        sides.server += t.elapsed();
        let t = Instant::now();
        client_input(&mut client, &to_client, &mut plaintext, |p| received.extend_from_slice(p))?;
        while received.len() >= RECORD {
            hash = fold_record(hash, &received[..RECORD]);
            bytes += RECORD;
            received.drain(..RECORD);
        }
        sides.client += t.elapsed();
    }
    let elapsed = began.elapsed();
    if bytes != records * RECORD || !received.is_empty() {
        return Err(format!("the client received {} bytes of {}", bytes + received.len(), records * RECORD));
    }
    hash = fold_bytes(fold_bytes(fold(hash, bytes as u64), suite.as_bytes()), kx.as_bytes());
    Ok(Outcome {
        bytes,
        negotiated: format!("suite={suite} kx={kx}"),
        parts: vec![("server_secs", sides.server), ("client_secs", sides.client)],
        ..Outcome::new(records, elapsed, hash)
    })
}

/// One AEAD with its key, as the seal workloads use it.
trait Records {
    /// Seals `record` under `nonce` and `header`, its tag appended.
    fn seal(&self, nonce: [u8; aead::NONCE_LEN], header: [u8; 5], record: &mut Vec<u8>) -> Result<(), &'static str>;
    /// Opens what `seal` made of `record`: its plaintext.
    fn open<'a>(
        &self,
        nonce: [u8; aead::NONCE_LEN],
        header: [u8; 5],
        record: &'a mut Vec<u8>,
    ) -> Result<&'a [u8], &'static str>;
}

/// The key of the seal workloads: bytes 0, 1, 2...
fn seal_key(algorithm: AeadAlgorithm) -> Vec<u8> {
    (0..ring_algorithm(algorithm).key_len() as u8).collect()
}

fn ring_algorithm(algorithm: AeadAlgorithm) -> &'static aead::Algorithm {
    match algorithm {
        AeadAlgorithm::Aes128Gcm => &aead::AES_128_GCM,
        AeadAlgorithm::Aes256Gcm => &aead::AES_256_GCM,
        AeadAlgorithm::ChaCha20Poly1305 => &aead::CHACHA20_POLY1305,
    }
}

/// ring's AEAD in this program, in place, as rustls's sessions use it.
struct RingRecords(LessSafeKey);

impl RingRecords {
    fn new(algorithm: AeadAlgorithm) -> Result<RingRecords, String> {
        let key = UnboundKey::new(ring_algorithm(algorithm), &seal_key(algorithm)).map_err(|_| "the AEAD key")?;
        Ok(RingRecords(LessSafeKey::new(key)))
    }
}

impl Records for RingRecords {
    fn seal(&self, nonce: [u8; aead::NONCE_LEN], header: [u8; 5], record: &mut Vec<u8>) -> Result<(), &'static str> {
        self.0
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(header), record)
            .map_err(|_| "seal failed")
    }

    fn open<'a>(
        &self,
        nonce: [u8; aead::NONCE_LEN],
        header: [u8; 5],
        record: &'a mut Vec<u8>,
    ) -> Result<&'a [u8], &'static str> {
        let opened = self.0.open_in_place(Nonce::assume_unique_for_key(nonce), Aad::from(header), record);
        opened.map(|plaintext| &*plaintext).map_err(|_| "does not open")
    }
}

/// The host's AEAD: each record handed over with the key and the result taken back, as
/// morgana-tls's records sealed by the host are.
struct HostRecords {
    host: Arc<dyn HostAead>,
    algorithm: AeadAlgorithm,
    key: Vec<u8>,
}

impl HostRecords {
    fn new(host: &Arc<dyn HostAead>, algorithm: AeadAlgorithm) -> HostRecords {
        HostRecords { host: Arc::clone(host), algorithm, key: seal_key(algorithm) }
    }
}

impl Records for HostRecords {
    fn seal(&self, nonce: [u8; aead::NONCE_LEN], header: [u8; 5], record: &mut Vec<u8>) -> Result<(), &'static str> {
        *record =
            self.host.seal(self.algorithm, &self.key, &nonce, &header, record).map_err(|_| "the host's seal failed")?;
        Ok(())
    }

    fn open<'a>(
        &self,
        nonce: [u8; aead::NONCE_LEN],
        header: [u8; 5],
        record: &'a mut Vec<u8>,
    ) -> Result<&'a [u8], &'static str> {
        *record = self.host.open(self.algorithm, &self.key, &nonce, &header, record).map_err(|_| "does not open")?;
        Ok(record)
    }
}

/// MIB MiB of 16 KiB records, each sealed by `cipher` under its own nonce with a TLS 1.3 record
/// header as AAD, and opened again: what bulk's two sessions do per record, without them.
fn seal(cipher: &impl Records, mib: usize) -> Result<Outcome, String> {
    let data = data();
    let records = mib * MIB / RECORD;
    let mut record = Vec::with_capacity(RECORD + 16);
    let mut hash = FOLD_START;
    let began = Instant::now();
    for index in 0..records {
        record.resize(RECORD, 0);
        fill_record(&mut record, &data, index);
        let header = [0x17, 0x03, 0x03, ((RECORD + 16) >> 8) as u8, (RECORD + 16) as u8];
        let mut nonce = [0u8; aead::NONCE_LEN];
        nonce[4..].copy_from_slice(&(index as u64).to_be_bytes());
        cipher.seal(nonce, header, &mut record).map_err(|e| format!("record {index}: {e}"))?;
        hash = fold(hash, u64::from_le_bytes(record[RECORD..RECORD + 8].try_into().unwrap()));
        let opened = cipher.open(nonce, header, &mut record).map_err(|e| format!("record {index} {e}"))?;
        hash = fold_record(hash, opened);
    }
    let elapsed = began.elapsed();
    Ok(Outcome { bytes: records * RECORD, ..Outcome::new(records, elapsed, fold(hash, (records * RECORD) as u64)) })
}

fn x25519(n: usize) -> Result<Outcome, String> {
    let rng = SystemRandom::new();
    let peer = agreement::EphemeralPrivateKey::generate(&agreement::X25519, &rng).map_err(|_| "a peer key")?;
    let peer_public = peer.compute_public_key().map_err(|_| "the peer's public key")?;
    let peer_public = agreement::UnparsedPublicKey::new(&agreement::X25519, peer_public.as_ref().to_vec());
    let mut agreed = 0u64;
    let began = Instant::now();
    for _ in 0..n {
        let private = agreement::EphemeralPrivateKey::generate(&agreement::X25519, &rng).map_err(|_| "a key")?;
        let public = private.compute_public_key().map_err(|_| "a public key")?;
        let secret_len =
            agreement::agree_ephemeral(private, &peer_public, |secret| secret.len()).map_err(|_| "no agreement")?;
        agreed += (public.as_ref().len() == 32 && secret_len == 32) as u64;
    }
    let elapsed = began.elapsed();
    Ok(Outcome::new(n, elapsed, fold(fold(FOLD_START, n as u64), agreed)))
}

fn p256_sign(setup: &Setup, n: usize) -> Result<Outcome, String> {
    let message = [0x42u8; 130]; // about what TLS 1.3's CertificateVerify signs
    let mut last = Vec::new();
    let began = Instant::now();
    for _ in 0..n {
        last = setup.host.sign(0, SignatureScheme::ECDSA_NISTP256_SHA256, &message).map_err(|e| e.to_string())?;
    }
    let elapsed = began.elapsed();
    let public =
        signature::UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_ASN1, setup.host.pair.public_key().as_ref());
    let verified = public.verify(&message, &last).is_ok();
    Ok(Outcome::new(n, elapsed, fold(fold(FOLD_START, n as u64), verified as u64)))
}

// ---------------------------------------------------------------------------------------------

/// (workload, N) from `WORKLOAD[:N]`, with the workload's default N.
fn parse(arg: &str) -> Option<(&str, usize)> {
    let (name, count) = match arg.split_once(':') {
        Some((name, count)) => (name, Some(count.parse().ok().filter(|&n: &usize| n > 0)?)),
        None => (arg, None),
    };
    let default = match name {
        "handshake" | "handshake12" => 50,
        "bulk" | "bulk-chacha" | "bulk-aes256" | "seal" | "seal-chacha" | "bulk-host" | "bulk-host-chacha"
        | "seal-host" | "seal-host-chacha" => 8,
        "x25519" => 200,
        "p256-sign" => 100,
        _ => return None,
    };
    Some((name, count.unwrap_or(default)))
}

fn features() -> String {
    #[cfg(target_arch = "x86_64")]
    {
        let mut found = Vec::new();
        macro_rules! probe {
            ($($f:tt),*) => { $(if std::is_x86_feature_detected!($f) { found.push($f); })* };
        }
        probe!("aes", "pclmulqdq", "ssse3", "avx", "avx2", "bmi2", "adx", "sha");
        format!("arch=x86_64 cpu={}", found.join(","))
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        format!("arch={} cpu=portable", std::env::consts::ARCH)
    }
}

fn pass(setup: &Setup, name: &str, n: usize) -> Result<Outcome, String> {
    use AeadAlgorithm::{Aes128Gcm, ChaCha20Poly1305};
    use rustls::crypto::ring::cipher_suite::{
        TLS13_AES_128_GCM_SHA256, TLS13_AES_256_GCM_SHA384, TLS13_CHACHA20_POLY1305_SHA256,
    };
    match name {
        "handshake" => handshakes(setup, Version::Tls13, n),
        "handshake12" => handshakes(setup, Version::Tls12, n),
        "bulk" => bulk(setup, &setup.server, TLS13_AES_128_GCM_SHA256, n),
        "bulk-chacha" => bulk(setup, &setup.server, TLS13_CHACHA20_POLY1305_SHA256, n),
        "bulk-aes256" => bulk(setup, &setup.server, TLS13_AES_256_GCM_SHA384, n),
        "bulk-host" => bulk(setup, &setup.server_host_records, TLS13_AES_128_GCM_SHA256, n),
        "bulk-host-chacha" => bulk(setup, &setup.server_host_records, TLS13_CHACHA20_POLY1305_SHA256, n),
        "seal" => seal(&RingRecords::new(Aes128Gcm)?, n),
        "seal-chacha" => seal(&RingRecords::new(ChaCha20Poly1305)?, n),
        "seal-host" => seal(&HostRecords::new(&setup.aead, Aes128Gcm), n),
        "seal-host-chacha" => seal(&HostRecords::new(&setup.aead, ChaCha20Poly1305), n),
        "x25519" => x25519(n),
        _ => p256_sign(setup, n),
    }
}

/// Passes of the workload until `min_secs` of timed work: the sum of their counts and times,
/// the first pass's checksum (every pass must agree), the number of passes.
fn measure(setup: &Setup, name: &str, n: usize, min_secs: f64) -> Result<(Outcome, usize), String> {
    let mut total = pass(setup, name, n)?;
    let mut passes = 1;
    while total.elapsed.as_secs_f64() < min_secs {
        let more = pass(setup, name, n)?;
        if more.checksum != total.checksum || more.negotiated != total.negotiated {
            return Err(format!("pass {} differs from the first", passes + 1));
        }
        total.ops += more.ops;
        total.bytes += more.bytes;
        total.elapsed += more.elapsed;
        for (part, more) in total.parts.iter_mut().zip(more.parts) {
            part.1 += more.1;
        }
        passes += 1;
    }
    Ok((total, passes))
}

const USAGE: &str = "usage: tls-crypto [--min-secs=S] WORKLOAD[:N] ...
  handshake handshake12 (N handshakes; 50), bulk bulk-chacha bulk-aes256 seal seal-chacha bulk-host
  bulk-host-chacha seal-host seal-host-chacha (N MiB; 8), x25519 (N agreements; 200),
  p256-sign (N signatures; 100); each repeated until S seconds (0.3)";

fn main() -> ExitCode {
    let mut min_secs = 0.3;
    let mut workloads = Vec::new();
    for arg in std::env::args().skip(1).flat_map(|a| a.split(',').map(str::to_owned).collect::<Vec<_>>()) {
        if let Some(secs) = arg.strip_prefix("--min-secs=") {
            match secs.parse::<f64>() {
                Ok(secs) if secs >= 0.0 => min_secs = secs,
                _ => {
                    eprintln!("{USAGE}");
                    return ExitCode::from(2);
                }
            }
        } else if !arg.is_empty() {
            match parse(&arg) {
                Some((name, n)) => workloads.push((name.to_owned(), n)),
                None => {
                    eprintln!("{USAGE}");
                    return ExitCode::from(2);
                }
            }
        }
    }
    if workloads.is_empty() {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    }
    let setup = Setup::new();
    let host_aead: Vec<&str> = setup.aead.algorithms().into_iter().map(host_aead::name).collect();
    println!("tls-crypto: {} host_aead={} min_secs={min_secs}", features(), host_aead.join(","));
    let mut failed = false;
    for (name, n) in workloads {
        match measure(&setup, &name, n, min_secs) {
            Ok((o, passes)) => {
                let mut line =
                    format!("{name} ops={} secs={:.6} n={n} passes={passes}", o.ops, o.elapsed.as_secs_f64());
                if o.bytes > 0 {
                    line += &format!(" bytes={}", o.bytes);
                }
                if !o.negotiated.is_empty() {
                    line += &format!(" {}", o.negotiated);
                }
                for (part, time) in &o.parts {
                    line += &format!(" {part}={:.6}", time.as_secs_f64());
                }
                println!("{line}");
                println!("{name} checksum={:016x}", o.checksum);
            }
            Err(e) => {
                println!("{name} error={e}");
                failed = true;
            }
        }
    }
    if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS }
}
