//! Hostile bytes into the session's byte interface: a server session and a client session
//! each receive the input, cut into pieces where the input says, and must answer with
//! statuses and errors, never a panic.
#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use morgana_tls::{ClientConfig, ClientOptions, HostKey, HostKeys, ServerConfig, ServerOptions, SignFailure, SignatureScheme};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair};

/// One P-256 key with a self-signed certificate for `localhost`, made once per run.
struct Host {
    pkcs8: Vec<u8>,
    certificate: Vec<u8>,
}

impl HostKeys for Host {
    fn keys(&self) -> Vec<HostKey> {
        vec![HostKey {
            handle: 0,
            name: "fuzz".into(),
            schemes: vec![SignatureScheme::ECDSA_NISTP256_SHA256],
            certificate_chain: vec![self.certificate.clone()],
        }]
    }

    fn sign(&self, _: u32, _: SignatureScheme, message: &[u8]) -> Result<Vec<u8>, SignFailure> {
        let rng = SystemRandom::new();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &self.pkcs8, &rng).map_err(|_| SignFailure)?;
        Ok(pair.sign(&rng, message).map_err(|_| SignFailure)?.as_ref().to_vec())
    }
}

fn configs() -> &'static (ServerConfig, ClientConfig) {
    static CONFIGS: OnceLock<(ServerConfig, ClientConfig)> = OnceLock::new();
    CONFIGS.get_or_init(|| {
        let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
        let certificate = certified.cert.der().to_vec();
        let host: Arc<dyn HostKeys> = Arc::new(Host { pkcs8: certified.signing_key.serialize_der(), certificate: certificate.clone() });
        let server = ServerOptions { alpn: vec!["http/1.1".into()], tickets: true, ..ServerOptions::default() };
        let client = ClientOptions { roots: vec![certificate], ..ClientOptions::default() };
        (ServerConfig::new(Arc::clone(&host), &server).unwrap(), ClientConfig::new(host, &client).unwrap())
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&cut, bytes)) = data.split_first() else { return };
    let cut = usize::from(cut).max(1);
    let (server_config, client_config) = configs();
    let mut server = server_config.accept();
    let mut client = client_config.connect("localhost").unwrap();
    for piece in bytes.chunks(cut) {
        let _ = server.receive(piece);
        let _ = client.receive(piece);
        let _ = server.take_ciphertext(usize::MAX);
        let _ = server.read_plaintext(usize::MAX);
        let _ = client.read_plaintext(usize::MAX);
    }
    let _ = server.info();
    let _ = server.write_plaintext(b"reply");
    let _ = server.close();
});
