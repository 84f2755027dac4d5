//! The TLS client settings of every outbound HTTPS call (the tenant's JWKS, Secrets Manager), built once per
//! cold start: the web PKI roots compiled into the binary, plus the private CAs of `AUTH0_EXTRA_CA_CERTS`.
//!
//! The roots are compiled in (`webpki-roots`) instead of read from the system store: reading and parsing the
//! ~150 PEM certificates of a Linux CA bundle is a millisecond of cold start that no configuration needs.
//! `AUTH0_EXTRA_CA_CERTS` only ever adds trust anchors, for a JWKS or an AWS endpoint behind a private CA (a
//! corporate proxy, a test server); certificate and host name verification stay on, and no setting turns them
//! off. It is read from a variable of this project only, so that a `SSL_CERT_FILE` or `AWS_CA_BUNDLE` set for
//! some other program never changes whom this function trusts.

use std::sync::Arc;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::SectionKind;
use rustls::{ClientConfig, RootCertStore};

use crate::config::ConfigError;

/// The variable naming a PEM file of extra CA certificates.
pub const EXTRA_CA_VARIABLE: &str = "AUTH0_EXTRA_CA_CERTS";

/// The largest CA file read: a bundle of a few hundred certificates.
const MAX_CA_FILE_BYTES: u64 = 1024 * 1024;

/// Reads the PEM file at `path`: one or more `CERTIFICATE` blocks, each a certificate that can be a trust
/// anchor, and nothing else (a private key in it is a mistake worth stopping for).
pub fn read_extra_roots(path: &str) -> Result<Vec<CertificateDer<'static>>, ConfigError> {
    let invalid = |problem: String| ConfigError { variable: EXTRA_CA_VARIABLE, problem };
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

/// The client configuration: TLS 1.2 and 1.3 through aws-lc-rs, the compiled-in web PKI roots and `extra_roots`.
pub fn client_config(extra_roots: &[CertificateDer<'static>]) -> Result<Arc<ClientConfig>, rustls::Error> {
    let mut roots = RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
    for certificate in extra_roots {
        roots.add(certificate.clone()).map_err(|_| rustls::Error::General("invalid extra CA certificate".into()))?;
    }
    let config = ClientConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
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
    fn a_missing_file_names_the_variable() {
        let error = read_extra_roots("/nonexistent/ca.pem").unwrap_err();
        assert_eq!(error.variable, EXTRA_CA_VARIABLE);
    }
}
