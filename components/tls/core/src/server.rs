//! The server side: options, the SNI-based choice among the host's keys, sessions.

use std::fmt;
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, DnsName, ServerName};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{RootCertStore, ServerConnection};

use crate::host_keys::certified_keys;
use crate::{Crypto, HostKeys, Session, Version, protocol_versions};

/// Whether clients must show a certificate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ClientAuth {
    /// Clients are not asked.
    #[default]
    None,
    /// Clients are asked for a certificate issued by one of these CAs (DER); one without is
    /// served.
    Optional(Vec<Vec<u8>>),
    /// Only clients with a certificate issued by one of these CAs (DER) are served.
    Required(Vec<Vec<u8>>),
}

/// How a server serves.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerOptions {
    /// The host keys to serve with, by name; empty: all of them.
    pub keys: Vec<String>,
    /// ALPN protocols in preference order.
    pub alpn: Vec<String>,
    /// The versions to offer; empty: both.
    pub versions: Vec<Version>,
    pub client_auth: ClientAuth,
    /// Resumption by session tickets besides the session-ID cache.
    pub tickets: bool,
}

/// A checked server configuration; [`ServerConfig::accept`] makes a session per connection.
pub struct ServerConfig {
    config: Arc<rustls::ServerConfig>,
}

impl ServerConfig {
    /// Checks `options` against the host's keys; the error says what to fix. All crypto but
    /// signing runs in the component ([`Crypto::in_component`]).
    pub fn new(host: Arc<dyn HostKeys>, options: &ServerOptions) -> Result<ServerConfig, String> {
        ServerConfig::with_crypto(host, &Crypto::in_component(), options)
    }

    /// [`ServerConfig::new`] with the crypto placed as `crypto` says.
    pub fn with_crypto(
        host: Arc<dyn HostKeys>,
        crypto: &Crypto,
        options: &ServerOptions,
    ) -> Result<ServerConfig, String> {
        let keys = certified_keys(&host, &options.keys)?;
        if keys.is_empty() {
            return Err(
                "the host holds no key to serve TLS with: give it one ([keys.NAME] in the manifest, or --key)".into()
            );
        }
        let resolver = SniResolver::new(keys)?;
        let provider = Arc::clone(&crypto.provider);
        let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_protocol_versions(&protocol_versions(&options.versions))
            .map_err(|e| format!("the versions asked for cannot be served: {e}"))?;
        let builder = match &options.client_auth {
            ClientAuth::None => builder.with_no_client_auth(),
            ClientAuth::Optional(cas) | ClientAuth::Required(cas) => {
                let roots = root_store(cas).map_err(|e| format!("a client CA certificate is not usable: {e}"))?;
                let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
                let verifier = if matches!(options.client_auth, ClientAuth::Optional(_)) {
                    verifier.allow_unauthenticated()
                } else {
                    verifier
                };
                builder.with_client_cert_verifier(verifier.build().map_err(|e| format!("client authentication: {e}"))?)
            }
        };
        let mut config = builder.with_cert_resolver(Arc::new(resolver));
        config.alpn_protocols = options.alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
        if options.tickets {
            config.ticketer = rustls::crypto::ring::Ticketer::new().map_err(|e| format!("session tickets: {e}"))?;
        }
        // No 0-RTT: early data could be a replay.
        config.max_early_data_size = 0;
        config.ignore_client_order = crypto.prefer_own_order;
        Ok(ServerConfig { config: Arc::new(config) })
    }

    /// A session for a newly accepted connection.
    pub fn accept(&self) -> Session {
        let connection =
            ServerConnection::new(Arc::clone(&self.config)).expect("a checked configuration makes sessions");
        Session::new(connection.into(), None)
    }
}

pub(crate) fn root_store(cas: &[Vec<u8>]) -> Result<RootCertStore, rustls::Error> {
    let mut roots = RootCertStore::empty();
    for der in cas {
        roots.add(CertificateDer::from(der.clone()))?;
    }
    Ok(roots)
}

/// Chooses the key whose certificate names the host the client asked for and that can sign
/// with a scheme the client offers; without a match, the first key that can.
struct SniResolver {
    keys: Vec<Arc<CertifiedKey>>,
}

impl SniResolver {
    fn new(keys: Vec<Arc<CertifiedKey>>) -> Result<SniResolver, String> {
        for key in &keys {
            let leaf = key.end_entity_cert().map_err(|e| e.to_string())?;
            webpki::EndEntityCert::try_from(leaf).map_err(|e| format!("a certificate cannot be parsed: {e}"))?;
        }
        Ok(SniResolver { keys })
    }

    fn names(key: &CertifiedKey, name: &DnsName<'_>) -> bool {
        let Ok(leaf) = key.end_entity_cert() else { return false };
        let Ok(cert) = webpki::EndEntityCert::try_from(leaf) else { return false };
        cert.verify_is_valid_for_subject_name(&ServerName::DnsName(name.to_owned())).is_ok()
    }
}

impl fmt::Debug for SniResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SniResolver").field("keys", &self.keys.len()).finish()
    }
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let offered = hello.signature_schemes();
        let usable = |key: &&Arc<CertifiedKey>| key.key.choose_scheme(offered).is_some();
        let requested = hello.server_name().and_then(|n| DnsName::try_from(n).ok());
        let named = requested.and_then(|name| self.keys.iter().filter(usable).find(|k| Self::names(k, &name)));
        named.or_else(|| self.keys.iter().find(usable)).cloned()
    }
}
