//! TLS for `mqtts://` and `wss://`: rustls over any `futures-io` stream, with
//! ring as the crypto provider.
//!
//! [`client_config`] turns the TLS keys of a [`Config`] into a rustls
//! [`ClientConfig`]:
//!
//! - Trusted roots: Mozilla's (the `webpki-roots` crate; with the
//!   `native-roots` feature, the platform's too) unless `cafile`, `capath`
//!   or `cadata` is set: then exactly the CA certificates they hold (all of
//!   them together), like `mosquitto_pub --cafile`.
//! - Client certificate: `certfile` (PEM, the certificate chain) and
//!   `keyfile` (PEM private key: PKCS#8, PKCS#1 or SEC1); without
//!   `keyfile`, the key is read from `certfile` too.
//! - Host name: SNI is always sent (for a DNS name) and the broker's
//!   certificate must name the URI's host, unless `check_hostname = false`,
//!   which skips the name check only (the chain, its dates and its CA are
//!   still verified) and is logged as insecure.
//! - ALPN: the protocol names of `alpn`, in order.
//!
//! Bad files, malformed PEM or a key that does not match its certificate
//! are a [`ConfigError::Tls`] when the config is built, never a surprise at
//! connect time.

use std::fs;
use std::io;
use std::path::Path;
use std::sync::Arc;

use futures_io::{AsyncRead, AsyncWrite};
use futures_rustls::TlsConnector;
pub use futures_rustls::client::TlsStream;
pub use futures_rustls::rustls;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};

use crate::config::{Config, ConfigError};

/// The rustls client configuration of `config`'s TLS keys (see the module
/// documentation): trusted roots, client certificate, host-name check and
/// ALPN. Built once per client; reuse it for every connection. A config
/// with none of these keys set gets one configuration shared by the whole
/// process (the webpki roots and a session cache cost ~25 KiB, too much to
/// repeat for each of a thousand clients that may never use TLS).
pub fn client_config(config: &Config) -> Result<Arc<ClientConfig>, ConfigError> {
    if uses_defaults(config) {
        shared_default()
    } else {
        build_client_config(config)
    }
}

/// The configuration of a config without TLS keys, built by its first
/// user and shared by the process.
pub(crate) fn shared_default() -> Result<Arc<ClientConfig>, ConfigError> {
    static DEFAULT: std::sync::OnceLock<Arc<ClientConfig>> = std::sync::OnceLock::new();
    if let Some(tls) = DEFAULT.get() {
        return Ok(tls.clone());
    }
    let tls = build_client_config(&Config::default())?;
    Ok(DEFAULT.get_or_init(|| tls).clone())
}

/// None of the TLS keys of `config` is set: its rustls configuration is
/// the shared default one.
pub(crate) fn uses_defaults(config: &Config) -> bool {
    config.cafile.is_none()
        && config.capath.is_none()
        && config.cadata.is_none()
        && config.certfile.is_none()
        && config.keyfile.is_none()
        && config.check_hostname
        && config.alpn.is_empty()
}

fn build_client_config(config: &Config) -> Result<Arc<ClientConfig>, ConfigError> {
    let provider = crypto_provider();
    let roots = Arc::new(root_store(config)?);
    let verifier = WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
        .build()
        .map_err(|e| tls_error(ca_key(config), format!("no usable CA certificate: {e}")))?;
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_error("tls", e.to_string()))?;
    let builder = if config.check_hostname {
        builder.with_webpki_verifier(verifier)
    } else {
        log::warn!(
            "check_hostname = false: the broker's TLS certificate is not checked against \
             the host name (insecure: any certificate of a trusted CA is accepted)"
        );
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(ChainOnlyVerifier(verifier)))
    };
    let mut tls = match &config.certfile {
        Some(certfile) => {
            let chain = read_certs(certfile).map_err(|reason| tls_error("certfile", reason))?;
            let keyfile = config.keyfile.as_deref().unwrap_or(certfile);
            let key = read_key(keyfile).map_err(|reason| tls_error("keyfile", reason))?;
            builder.with_client_auth_cert(chain, key).map_err(|e| {
                tls_error(
                    "keyfile",
                    format!(
                        "{} cannot be used with certificate {}: {e}",
                        keyfile.display(),
                        certfile.display()
                    ),
                )
            })?
        }
        None => builder.with_no_client_auth(),
    };
    tls.alpn_protocols = config.alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
    Ok(Arc::new(tls))
}

/// The crypto provider of the configurations built here: ring's. Handy to
/// build a custom [`ClientConfig`] for
/// [`DefaultConnector::with_tls_config`](crate::DefaultConnector::with_tls_config)
/// without relying on a process-wide default provider.
pub fn crypto_provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The TLS handshake with `host` over `stream`: SNI for a DNS name, then the
/// checks of `config`. A refused certificate is an `io::Error` saying why
/// (`UnknownIssuer`, `certificate expired`, `certificate not valid for
/// name`), prefixed with the host.
pub async fn connect<S>(
    config: Arc<ClientConfig>,
    host: &str,
    stream: S,
) -> io::Result<TlsStream<S>>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let name = ServerName::try_from(host.to_owned()).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{host:?} is not a valid TLS server name: {e}"),
        )
    })?;
    let stream = TlsConnector::from(config)
        .connect(name, stream)
        .await
        .map_err(|e| handshake_error(host, e))?;
    let (_, session) = stream.get_ref();
    log::debug!(
        "TLS with {host}: {:?}, {:?}, ALPN {:?}",
        session.protocol_version(),
        session.negotiated_cipher_suite().map(|s| s.suite()),
        session
            .alpn_protocol()
            .map(|p| String::from_utf8_lossy(p).into_owned()),
    );
    Ok(stream)
}

/// The handshake error with the host and, for the usual certificate
/// refusals, what to do about it.
fn handshake_error(host: &str, e: io::Error) -> io::Error {
    let hint = match e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    {
        Some(rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer)) => {
            " (the broker's certificate is not signed by a trusted CA: see cafile, capath, cadata)"
        }
        Some(rustls::Error::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
        )) => " (check_hostname = false skips this check, insecurely)",
        _ => "",
    };
    io::Error::new(
        e.kind(),
        format!("TLS handshake with {host} failed: {e}{hint}"),
    )
}

/// The roots to trust: the configured CA certificates when any of
/// `cafile`, `capath`, `cadata` is set, else the default roots.
fn root_store(config: &Config) -> Result<RootCertStore, ConfigError> {
    let mut roots = RootCertStore::empty();
    if config.cafile.is_none() && config.capath.is_none() && config.cadata.is_none() {
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        #[cfg(feature = "native-roots")]
        {
            let native = rustls_native_certs::load_native_certs();
            for e in &native.errors {
                log::warn!("platform root certificates: {e}");
            }
            let (added, ignored) = roots.add_parsable_certificates(native.certs);
            log::debug!("platform root certificates: {added} added, {ignored} ignored");
        }
        return Ok(roots);
    }
    if let Some(path) = &config.cafile {
        let certs = read_certs(path).map_err(|reason| tls_error("cafile", reason))?;
        add_roots(&mut roots, certs, &path.display().to_string())
            .map_err(|reason| tls_error("cafile", reason))?;
    }
    if let Some(dir) = &config.capath {
        read_capath(&mut roots, dir).map_err(|reason| tls_error("capath", reason))?;
    }
    if let Some(pem) = &config.cadata {
        let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| tls_error("cadata", format!("malformed PEM: {e}")))?;
        if certs.is_empty() {
            return Err(tls_error("cadata", "no PEM certificate found".to_owned()));
        }
        add_roots(&mut roots, certs, "cadata").map_err(|reason| tls_error("cadata", reason))?;
    }
    Ok(roots)
}

/// Adds every certificate of a directory's files (in name order, symbolic
/// links followed): files without a PEM certificate are skipped, as
/// OpenSSL's `-CApath` ignores them; a directory without any is an error.
fn read_capath(roots: &mut RootCertStore, dir: &Path) -> Result<(), String> {
    let entries = fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut paths = entries
        .map(|entry| entry.map(|e| e.path()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{}: {e}", dir.display()))?;
    paths.sort();
    let mut found = 0usize;
    for path in paths {
        if !fs::metadata(&path).is_ok_and(|m| m.is_file()) {
            continue;
        }
        let bytes = fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let certs = match CertificateDer::pem_slice_iter(&bytes).collect::<Result<Vec<_>, _>>() {
            Ok(certs) => certs,
            Err(e) => {
                log::warn!("capath: {} skipped: {e}", path.display());
                continue;
            }
        };
        found += certs.len();
        add_roots(roots, certs, &path.display().to_string())?;
    }
    if found == 0 {
        return Err(format!("no PEM certificate in {}", dir.display()));
    }
    Ok(())
}

/// Adds CA certificates, refusing one that is not a valid trust anchor.
fn add_roots(
    roots: &mut RootCertStore,
    certs: Vec<CertificateDer<'static>>,
    source: &str,
) -> Result<(), String> {
    for cert in certs {
        roots
            .add(cert)
            .map_err(|e| format!("{source}: unusable CA certificate: {e}"))?;
    }
    Ok(())
}

/// Every certificate of a PEM file; at least one.
fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("{}: {}", path.display(), pem_error(e)))?;
    if certs.is_empty() {
        return Err(format!("no PEM certificate in {}", path.display()));
    }
    Ok(certs)
}

/// The first private key of a PEM file.
fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, String> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| match e {
        rustls_pki_types::pem::Error::NoItemsFound => {
            format!("no PEM private key in {}", path.display())
        }
        e => format!("{}: {}", path.display(), pem_error(e)),
    })
}

/// A PEM reading error, the I/O cause as is.
fn pem_error(e: rustls_pki_types::pem::Error) -> String {
    match e {
        rustls_pki_types::pem::Error::Io(io) => io.to_string(),
        e => format!("malformed PEM: {e}"),
    }
}

/// The CA key to blame when the roots are unusable.
fn ca_key(config: &Config) -> &'static str {
    if config.cafile.is_some() {
        "cafile"
    } else if config.capath.is_some() {
        "capath"
    } else {
        "cadata"
    }
}

fn tls_error(key: &'static str, reason: String) -> ConfigError {
    ConfigError::Tls { key, reason }
}

/// `check_hostname = false`: the WebPKI verifier, but a certificate that
/// does not name the host is accepted. Only the name check is skipped: the
/// webpki verifier checks the name last, after the chain, the dates and the
/// key usage, so a name error means everything else passed.
#[derive(Debug)]
struct ChainOnlyVerifier(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnlyVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => {
                log::warn!(
                    "check_hostname = false: accepting a certificate not valid for {}",
                    server_name.to_str()
                );
                Ok(ServerCertVerified::assertion())
            }
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(mutate: impl FnOnce(&mut Config)) -> Config {
        let mut c = Config::default();
        mutate(&mut c);
        c
    }

    fn err(c: &Config) -> (&'static str, String) {
        match client_config(c) {
            Err(ConfigError::Tls { key, reason }) => (key, reason),
            other => panic!("expected a TLS config error, got {other:?}"),
        }
    }

    #[test]
    fn default_config_trusts_the_webpki_roots() {
        let tls = client_config(&Config::default()).unwrap();
        assert!(tls.alpn_protocols.is_empty());
        assert!(!tls.client_auth_cert_resolver.has_certs());
        assert!(root_store(&Config::default()).unwrap().len() > 100);
    }

    #[test]
    fn alpn_is_offered_in_order() {
        let tls = client_config(&config(|c| c.alpn = vec!["mqtt".into(), "x".into()])).unwrap();
        assert_eq!(tls.alpn_protocols, [b"mqtt".to_vec(), b"x".to_vec()]);
    }

    #[test]
    fn bad_ca_settings_are_config_errors() {
        let (key, reason) = err(&config(|c| c.cafile = Some("/nonexistent/ca.pem".into())));
        assert_eq!(key, "cafile");
        assert!(reason.contains("/nonexistent/ca.pem"), "{reason}");
        let (key, reason) = err(&config(|c| c.cadata = Some("not pem at all".into())));
        assert_eq!(key, "cadata");
        assert!(reason.contains("no PEM certificate"), "{reason}");
        let (key, reason) = err(&config(|c| {
            c.cadata = Some("-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n".into())
        }));
        assert_eq!(key, "cadata");
        assert!(reason.contains("malformed PEM"), "{reason}");
        let (key, reason) = err(&config(|c| c.capath = Some("/nonexistent-dir".into())));
        assert_eq!(key, "capath");
        assert!(reason.contains("/nonexistent-dir"), "{reason}");
    }

    #[test]
    fn capath_without_certificates_is_refused() {
        let dir = std::env::temp_dir().join(format!("sansmqtt-capath-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("README"), "nothing here").unwrap();
        let (key, reason) = err(&config(|c| c.capath = Some(dir.clone())));
        let _ = fs::remove_dir_all(&dir);
        assert_eq!(key, "capath");
        assert!(reason.contains("no PEM certificate"), "{reason}");
    }

    #[test]
    fn missing_client_certificate_or_key_is_a_config_error() {
        let (key, reason) = err(&config(|c| c.certfile = Some("/nonexistent/c.pem".into())));
        assert_eq!(key, "certfile");
        assert!(reason.contains("/nonexistent/c.pem"), "{reason}");
    }
}
