//! TLS server configuration from PEM files (rustls with the ring provider), reloadable: SIGHUP
//! builds a new `ServerConfig` and each shard swaps its `Arc` between connections, so
//! connections already up keep theirs and new ones get the new certificate.

use std::io::BufReader;
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;

use crate::config::TlsFiles;

/// Which file a loading error is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PemFile {
    Certificate,
    PrivateKey,
}

/// A certificate or key that could not be loaded.
#[derive(Clone, Debug)]
pub(crate) struct TlsLoadError {
    pub(crate) file: PemFile,
    pub(crate) message: String,
}

impl std::fmt::Display for TlsLoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let which = match self.file {
            PemFile::Certificate => "certificate",
            PemFile::PrivateKey => "private key",
        };
        write!(f, "{which}: {}", self.message)
    }
}

/// Reads the chain and key and checks they belong together.
pub(crate) fn load_certified_key(
    files: &TlsFiles,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), TlsLoadError> {
    let cert_err = |message: String| TlsLoadError {
        file: PemFile::Certificate,
        message,
    };
    let key_err = |message: String| TlsLoadError {
        file: PemFile::PrivateKey,
        message,
    };
    let f = std::fs::File::open(&files.certificate)
        .map_err(|e| cert_err(format!("cannot open {}: {e}", files.certificate.display())))?;
    let chain: Vec<CertificateDer<'static>> = rustls_pemfile::certs(&mut BufReader::new(f))
        .collect::<Result<_, _>>()
        .map_err(|e| cert_err(format!("{}: not PEM: {e}", files.certificate.display())))?;
    if chain.is_empty() {
        return Err(cert_err(format!(
            "{}: no CERTIFICATE block",
            files.certificate.display()
        )));
    }
    let f = std::fs::File::open(&files.private_key)
        .map_err(|e| key_err(format!("cannot open {}: {e}", files.private_key.display())))?;
    let key = rustls_pemfile::private_key(&mut BufReader::new(f))
        .map_err(|e| key_err(format!("{}: not PEM: {e}", files.private_key.display())))?
        .ok_or_else(|| {
            key_err(format!(
                "{}: no PRIVATE KEY block",
                files.private_key.display()
            ))
        })?;
    // Build once to check that the key is usable and matches the leaf.
    server_config_from(chain.clone(), key.clone_key()).map_err(|e| key_err(e.to_string()))?;
    Ok((chain, key))
}

fn server_config_from(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<ServerConfig, rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut c = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    // WebSocket over TLS negotiates nothing; SIP over TLS neither (RFC 5630 leaves ALPN out).
    c.alpn_protocols = Vec::new();
    Ok(c)
}

/// Loads the files into a server configuration.
pub(crate) fn server_config(files: &TlsFiles) -> Result<Arc<ServerConfig>, TlsLoadError> {
    let (chain, key) = load_certified_key(files)?;
    server_config_from(chain, key)
        .map(Arc::new)
        .map_err(|e| TlsLoadError {
            file: PemFile::PrivateKey,
            message: e.to_string(),
        })
}
