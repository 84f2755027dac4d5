//! The TLS client settings of every outbound HTTPS call (the tenant's JWKS, Secrets Manager, the DPoP replay
//! table), built once, on the first call that needs them: the web PKI roots compiled into the binary, plus the
//! private CAs of `AUTH0_EXTRA_CA_CERTS`.
//!
//! The roots are compiled in (`webpki-roots`) instead of read from the system store: reading and parsing the
//! ~150 PEM certificates of a Linux CA bundle is a millisecond of cold start that no configuration needs.
//! `AUTH0_EXTRA_CA_CERTS` only ever adds trust anchors, for a JWKS or an AWS endpoint behind a private CA (a
//! corporate proxy, a test server); certificate and host name verification stay on, and no setting turns them
//! off. It is read from a variable of this project only, so that a `SSL_CERT_FILE` or `AWS_CA_BUNDLE` set for
//! some other program never changes whom this function trusts.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::SectionKind;
use rustls::{ClientConfig, RootCertStore};

use crate::config::{ConfigError, var};

/// The largest CA file read: a bundle of a few hundred certificates.
const MAX_CA_FILE_BYTES: u64 = 1024 * 1024;

/// Reads the PEM file at `path`: one or more `CERTIFICATE` blocks, each a certificate that can be a trust
/// anchor, and nothing else (a private key in it is a mistake worth stopping for).
pub fn read_extra_roots(path: &str) -> Result<Vec<CertificateDer<'static>>, ConfigError> {
    let invalid = |problem: String| ConfigError { variable: var::EXTRA_CA_CERTS, problem };
    let metadata = std::fs::metadata(path).map_err(|error| invalid(format!("cannot read {path}: {error}")))?;
    if !metadata.is_file() || metadata.len() > MAX_CA_FILE_BYTES {
        return Err(invalid(format!("{path} must be a PEM file of CA certificates of at most 1 MiB")));
    }
    let pem = std::fs::read(path).map_err(|error| invalid(format!("cannot read {path}: {error}")))?;
    parse_extra_roots(&pem).map_err(|problem| invalid(format!("{path}: {problem}")))
}

/// [`read_extra_roots`] on the file's bytes.
fn parse_extra_roots(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, String> {
    let mut reader = pem;
    let mut certificates = Vec::new();
    let mut check = RootCertStore::empty();
    loop {
        match rustls::pki_types::pem::from_buf(&mut reader) {
            Ok(None) => break,
            Ok(Some((SectionKind::Certificate, der))) => {
                let certificate = CertificateDer::from(der);
                check
                    .add(certificate.clone())
                    .map_err(|_| format!("certificate {} is not a valid X.509 certificate", certificates.len() + 1))?;
                certificates.push(certificate);
            }
            Ok(Some((kind, _))) => {
                let what = match kind {
                    SectionKind::RsaPrivateKey | SectionKind::PrivateKey | SectionKind::EcPrivateKey => {
                        "holds a private key; it must hold CA certificates only"
                    }
                    _ => "holds something other than certificates; it must hold CA certificates only",
                };
                return Err(what.to_owned());
            }
            Err(_) => return Err("is not a PEM file".to_owned()),
        }
    }
    if certificates.is_empty() {
        return Err("holds no PEM certificate".to_owned());
    }
    Ok(certificates)
}

/// Whom the outbound HTTPS calls trust: the compiled-in web PKI roots and the extra CA certificates read at
/// cold start. The client configuration is built on first need and then shared (the Secrets Manager read, the
/// JWKS client and the replay table use the same one); an instance that makes no TLS call never builds it.
#[derive(Clone, Default)]
pub struct Trust {
    extra_roots: Arc<[CertificateDer<'static>]>,
    client_config: Arc<OnceLock<Arc<ClientConfig>>>,
}

impl std::fmt::Debug for Trust {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trust").field("extra_roots", &self.extra_roots.len()).finish()
    }
}

impl Trust {
    /// The compiled-in roots and `extra_roots` (from [`read_extra_roots`]).
    pub fn new(extra_roots: Vec<CertificateDer<'static>>) -> Self {
        Self { extra_roots: extra_roots.into(), client_config: Arc::default() }
    }

    /// How many extra CA certificates are trusted.
    pub fn extra_root_count(&self) -> usize {
        self.extra_roots.len()
    }

    /// Whether the client configuration has been built yet.
    #[cfg(test)]
    pub(crate) fn is_built(&self) -> bool {
        self.client_config.get().is_some()
    }

    /// The client configuration: TLS 1.2 and 1.3 through aws-lc-rs, the compiled-in roots and the extra ones.
    pub fn client_config(&self) -> Result<Arc<ClientConfig>, ConfigError> {
        if let Some(config) = self.client_config.get() {
            return Ok(config.clone());
        }
        let invalid = |problem: String| ConfigError { variable: var::EXTRA_CA_CERTS, problem };
        let mut roots = RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
        for certificate in self.extra_roots.iter() {
            roots.add(certificate.clone()).map_err(|_| invalid("holds an invalid certificate".to_owned()))?;
        }
        let config = ClientConfig::builder_with_provider(Arc::new(provider()))
            .with_safe_default_protocol_versions()
            .map_err(|error| invalid(format!("cannot build the TLS client: {error}")))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(self.client_config.get_or_init(|| Arc::new(config)).clone())
    }
}

/// aws-lc-rs with ChaCha20-Poly1305 offered first: every suite rustls offers is still offered, and a server
/// that picks by its own preference still picks. Every outbound connection carries a few kilobytes, so an
/// AEAD's speed does not show, but its code does: a cold start maps in the code a handshake runs, and aws-lc's
/// AES-GCM for AVX-512 CPUs (as Lambda's are) is 700 KB of it, where ChaCha20-Poly1305 is 40 KB and shares
/// SHA-256 with HS256 and RS256 verification. See docs/performance.md.
fn provider() -> rustls::crypto::CryptoProvider {
    let mut provider = rustls::crypto::aws_lc_rs::default_provider();
    let chacha = |suite: &rustls::SupportedCipherSuite| {
        matches!(
            suite.suite(),
            rustls::CipherSuite::TLS13_CHACHA20_POLY1305_SHA256
                | rustls::CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256
                | rustls::CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256
        )
    };
    // Stable: the order among the others, and TLS 1.3's before TLS 1.2's, stay rustls'.
    provider.cipher_suites.sort_by_key(|suite| (suite.version() != &rustls::version::TLS13, !chacha(suite)));
    provider
}

/// The connector of every outbound HTTPS call: TCP, then TLS with `tls`, HTTP/1.1. `http://` URLs stay plain
/// (the configuration allows them for loopback hosts only).
///
/// Nagle's algorithm stays on (hyper's default). With `TCP_NODELAY` set here, the cold-start benchmark's RS256
/// start over TLS went from 4 ms to 47 ms of wall clock at the same CPU time: a 40 ms delayed ACK, against a
/// server that keeps Nagle on as the tests' tokio-rustls server does.
pub fn https_connector(tls: &ClientConfig, connect_timeout: Option<Duration>) -> HttpsConnector<HttpConnector> {
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_connect_timeout(connect_timeout);
    hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls.clone())
        .https_or_http()
        .enable_http1()
        .wrap_connector(http)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pem(kind: &str, body: &[u8]) -> String {
        use base64::Engine as _;
        let encoded = base64::engine::general_purpose::STANDARD.encode(body);
        format!("-----BEGIN {kind}-----\n{encoded}\n-----END {kind}-----\n")
    }

    #[test]
    fn a_file_without_certificates_is_refused() {
        assert_eq!(parse_extra_roots(b"").unwrap_err(), "holds no PEM certificate");
        assert_eq!(parse_extra_roots(b"just some text\n").unwrap_err(), "holds no PEM certificate");
    }

    #[test]
    fn a_private_key_in_the_file_is_refused() {
        let error = parse_extra_roots(pem("PRIVATE KEY", b"not really a key").as_bytes()).unwrap_err();
        assert!(error.contains("private key"), "{error}");
    }

    #[test]
    fn a_certificate_block_that_is_not_a_certificate_is_refused() {
        let error = parse_extra_roots(pem("CERTIFICATE", b"garbage").as_bytes()).unwrap_err();
        assert_eq!(error, "certificate 1 is not a valid X.509 certificate");
    }

    #[test]
    fn the_client_configuration_is_built_once_and_shared() {
        let trust = Trust::new(Vec::new());
        let copy = trust.clone();
        assert!(Arc::ptr_eq(&trust.client_config().unwrap(), &copy.client_config().unwrap()));
    }

    #[test]
    fn chacha20_poly1305_is_offered_first_and_every_default_suite_still_is() {
        let offered: Vec<_> = provider().cipher_suites.iter().map(|suite| suite.suite()).collect();
        assert_eq!(offered[0], rustls::CipherSuite::TLS13_CHACHA20_POLY1305_SHA256);
        let tls12 = offered.iter().position(|suite| format!("{suite:?}").starts_with("TLS_ECDHE")).unwrap();
        assert!(offered[..tls12].iter().all(|suite| format!("{suite:?}").starts_with("TLS13_")), "{offered:?}");
        assert!(format!("{:?}", offered[tls12]).contains("CHACHA20"), "{offered:?}");
        let mut defaults: Vec<_> =
            rustls::crypto::aws_lc_rs::default_provider().cipher_suites.iter().map(|suite| suite.suite()).collect();
        let mut sorted = offered.clone();
        defaults.sort_by_key(|suite| u16::from(*suite));
        sorted.sort_by_key(|suite| u16::from(*suite));
        assert_eq!(sorted, defaults);
    }

    #[test]
    fn a_missing_file_names_the_variable() {
        let error = read_extra_roots("/nonexistent/ca.pem").unwrap_err();
        assert_eq!(error.variable, var::EXTRA_CA_CERTS);
    }
}
