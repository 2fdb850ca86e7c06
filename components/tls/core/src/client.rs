//! The client side: the server's chain checked against given roots, an optional client key.

use std::fmt;
use std::sync::Arc;

use rustls::client::ResolvesClientCert;
use rustls::pki_types::ServerName;
use rustls::sign::CertifiedKey;
use rustls::{ClientConnection, SignatureScheme};

use crate::host_keys::certified_keys;
use crate::server::root_store;
use crate::{Crypto, HostKeys, Session, Version, protocol_versions};

/// How a client connects.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientOptions {
    /// CA certificates (DER) the server's chain must lead to; empty: the built-in root set
    /// (the `roots` feature).
    pub roots: Vec<Vec<u8>>,
    /// ALPN protocols in preference order.
    pub alpn: Vec<String>,
    /// The versions to offer; empty: both.
    pub versions: Vec<Version>,
    /// A host key, by name, to show when the server asks for a client certificate.
    pub client_key: Option<String>,
}

/// A checked client configuration; [`ClientConfig::connect`] makes a session per connection.
pub struct ClientConfig {
    config: Arc<rustls::ClientConfig>,
}

impl ClientConfig {
    /// Checks `options` against the host's keys; the error says what to fix. All crypto but
    /// signing runs in the component ([`Crypto::in_component`]).
    pub fn new(host: Arc<dyn HostKeys>, options: &ClientOptions) -> Result<ClientConfig, String> {
        ClientConfig::with_crypto(host, &Crypto::in_component(), options)
    }

    /// [`ClientConfig::new`] with the crypto placed as `crypto` says.
    pub fn with_crypto(
        host: Arc<dyn HostKeys>,
        crypto: &Crypto,
        options: &ClientOptions,
    ) -> Result<ClientConfig, String> {
        let mut roots = root_store(&options.roots).map_err(|e| format!("a root certificate is not usable: {e}"))?;
        if options.roots.is_empty() {
            add_builtin_roots(&mut roots)?;
        }
        let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&crypto.provider))
            .with_protocol_versions(&protocol_versions(&options.versions))
            .map_err(|e| format!("the versions asked for cannot be offered: {e}"))?
            .with_root_certificates(roots);
        let mut config = match &options.client_key {
            None => builder.with_no_client_auth(),
            Some(name) => {
                let key = certified_keys(&host, std::slice::from_ref(name))?.remove(0);
                builder.with_client_cert_resolver(Arc::new(ClientKey(key)))
            }
        };
        config.alpn_protocols = options.alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
        Ok(ClientConfig { config: Arc::new(config) })
    }

    /// A session that verifies the server is `server_name` (a DNS name or an IP address) and
    /// sends it as SNI when it is a name.
    pub fn connect(&self, server_name: &str) -> Result<Session, String> {
        let name = ServerName::try_from(server_name.to_owned())
            .map_err(|_| format!("{server_name:?} is neither a DNS name nor an IP address"))?;
        let connection = ClientConnection::new(Arc::clone(&self.config), name).map_err(|e| e.to_string())?;
        Ok(Session::new(connection.into(), Some(server_name.to_owned())))
    }
}

#[cfg(feature = "roots")]
fn add_builtin_roots(roots: &mut rustls::RootCertStore) -> Result<(), String> {
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    Ok(())
}

#[cfg(not(feature = "roots"))]
fn add_builtin_roots(_: &mut rustls::RootCertStore) -> Result<(), String> {
    Err("no root certificates: give the CA certificates to trust (this build has no built-in root set)".into())
}

/// The one client key, shown whenever the server asks.
struct ClientKey(Arc<CertifiedKey>);

impl fmt::Debug for ClientKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientKey")
    }
}

impl ResolvesClientCert for ClientKey {
    fn resolve(&self, _root_hint_subjects: &[&[u8]], schemes: &[SignatureScheme]) -> Option<Arc<CertifiedKey>> {
        self.0.key.choose_scheme(schemes).map(|_| Arc::clone(&self.0))
    }

    fn has_certs(&self) -> bool {
        true
    }
}
