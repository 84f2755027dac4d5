//! Getting a JWKS document: the bytes, over HTTPS (plain HTTP to loopback only), bounded in size, no redirect.

use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;

use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Bytes;
use hyper::{StatusCode, Uri};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use super::KeySetError;
use crate::tls::Trust;

/// The largest JWKS read. Auth0's holds two or three keys in about 4 KiB.
pub const MAX_JWKS_BYTES: usize = 256 * 1024;

/// Why a JWKS could not be had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchError {
    /// The server could not be reached, or the connection failed.
    Unreachable(String),
    /// The fetch took longer than the timeout.
    TimedOut,
    /// The server answered with a status other than 200 (a redirect included: none is followed).
    Status(u16),
    /// The body is larger than [`MAX_JWKS_BYTES`].
    TooLarge,
    /// The body is not a JWKS with at least one key this API can use.
    Unusable(KeySetError),
}

impl std::fmt::Display for FetchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unreachable(reason) => write!(f, "JWKS unreachable: {reason}"),
            Self::TimedOut => write!(f, "JWKS fetch timed out"),
            Self::Status(status) => write!(f, "JWKS answered HTTP {status}"),
            Self::TooLarge => write!(f, "JWKS is larger than {MAX_JWKS_BYTES} bytes"),
            Self::Unusable(reason) => write!(f, "JWKS unusable: {reason}"),
        }
    }
}

impl std::error::Error for FetchError {}

/// Gets the JWKS document. Behind a trait so that tests can count and fault fetches.
pub trait JwksClient: Send + Sync {
    /// Fetches the document's bytes, at most [`MAX_JWKS_BYTES`].
    fn fetch(&self) -> Pin<Box<dyn Future<Output = Result<Bytes, FetchError>> + Send + '_>>;
}

/// The production client: HTTPS with rustls and the roots of [`crate::tls::Trust`]; plain HTTP only
/// where the configuration allowed it (loopback). No redirect is followed.
///
/// Every fetch opens its own connection. Fetches are at least [`super::REFETCH_COOLDOWN`] apart and the sandbox is
/// frozen between invocations, so a kept-alive connection would almost always be one the server has closed
/// meanwhile: reusing it would turn a refresh into a failed fetch. A full TLS handshake costs about 0.4 ms of
/// CPU more than a plain connection; a refetch resumes the session of the fetch before when the server still
/// knows its ticket, which saves about half of that (docs/performance.md).
///
/// The TLS configuration and the HTTP client are made on the first fetch, not with the client: an instance
/// that starts with a supplied key set may never fetch, and its cold start does not pay for them.
pub struct HttpJwksClient {
    url: Uri,
    trust: Trust,
    client: OnceLock<Client<HttpsConnector<HttpConnector>, Empty<Bytes>>>,
}

impl HttpJwksClient {
    /// A client for `url`, which the configuration has already checked, trusting what `trust` trusts. The
    /// fetch timeout bounds the connection too.
    pub fn new(url: Uri, trust: Trust) -> Self {
        Self { url, trust, client: OnceLock::new() }
    }

    fn client(&self) -> Result<&Client<HttpsConnector<HttpConnector>, Empty<Bytes>>, FetchError> {
        if let Some(client) = self.client.get() {
            return Ok(client);
        }
        // The extra roots were checked when the configuration was read, so this fails only if rustls cannot
        // make a client of its own defaults.
        let tls = self.trust.client_config().map_err(|error| FetchError::Unreachable(error.to_string()))?;
        let connector = crate::tls::https_connector(&tls, None);
        let client = Client::builder(TokioExecutor::new()).pool_max_idle_per_host(0).build(connector);
        Ok(self.client.get_or_init(|| client))
    }
}

impl JwksClient for HttpJwksClient {
    fn fetch(&self) -> Pin<Box<dyn Future<Output = Result<Bytes, FetchError>> + Send + '_>> {
        Box::pin(async move {
            let response = self.client()?.get(self.url.clone()).await.map_err(|error| {
                // The innermost cause says what went wrong (refused, DNS, certificate) without the URL's
                // query string, which never carries a secret here anyway.
                let mut cause: &dyn std::error::Error = &error;
                while let Some(inner) = cause.source() {
                    cause = inner;
                }
                FetchError::Unreachable(cause.to_string())
            })?;
            if response.status() != StatusCode::OK {
                return Err(FetchError::Status(response.status().as_u16()));
            }
            let body = Limited::new(response.into_body(), MAX_JWKS_BYTES).collect().await.map_err(|error| {
                if error.is::<http_body_util::LengthLimitError>() {
                    FetchError::TooLarge
                } else {
                    FetchError::Unreachable(error.to_string())
                }
            })?;
            Ok(body.to_bytes())
        })
    }
}
