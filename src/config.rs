//! The environment, read once at cold start, validated and typed. Handlers never read the environment.

use std::time::Duration;

use base64::Engine as _;
use base64::alphabet::STANDARD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

use jsonwebtoken::{Algorithm, AlgorithmFamily};
use lambda_http::http::Uri;

use crate::jwks::{KeyPolicy, KeySet};
use crate::metrics::{DEFAULT_NAMESPACE, Dimension, Metrics};
use crate::tls::Trust;
use crate::verify::{DEFAULT_LEEWAY_SECONDS, Policy};

/// The name of every variable the function reads, in one place: each parser and each of its errors names its
/// variable from here.
pub mod var {
    /// `AUTH0_AUDIENCE`: accepted `aud` values.
    pub const AUDIENCE: &str = "AUTH0_AUDIENCE";
    /// `AUTH0_DOMAIN`: the tenant's domain: issuer and JWKS URL.
    pub const DOMAIN: &str = "AUTH0_DOMAIN";
    /// `AUTH0_ISSUER`: accepted `iss` values.
    pub const ISSUER: &str = "AUTH0_ISSUER";
    /// `AUTH0_JWKS_URL`: the JWKS address, when not the domain's.
    pub const JWKS_URL: &str = "AUTH0_JWKS_URL";
    /// `AUTH0_JWKS`: a key set supplied with the deployment.
    pub const JWKS: &str = "AUTH0_JWKS";
    /// `AUTH0_JWKS_MAX_STALE_SECONDS`: how long keys serve past a failed refresh.
    pub const JWKS_MAX_STALE_SECONDS: &str = "AUTH0_JWKS_MAX_STALE_SECONDS";
    /// `AUTH0_ALGORITHMS`: the algorithm allow-list.
    pub const ALGORITHMS: &str = "AUTH0_ALGORITHMS";
    /// `AUTH0_CLIENT_SECRET`: the HS* secret.
    pub const CLIENT_SECRET: &str = "AUTH0_CLIENT_SECRET";
    /// `AUTH0_CLIENT_SECRET_ARN`: the HS* secret's ARN in Secrets Manager.
    pub const CLIENT_SECRET_ARN: &str = "AUTH0_CLIENT_SECRET_ARN";
    /// `AUTH0_CLIENT_SECRET_JSON_KEY`: the key of the secret in a JSON secret.
    pub const CLIENT_SECRET_JSON_KEY: &str = "AUTH0_CLIENT_SECRET_JSON_KEY";
    /// `AUTH0_SECRET_ENCODING`: `raw` or `base64url`.
    pub const SECRET_ENCODING: &str = "AUTH0_SECRET_ENCODING";
    /// `AUTH0_EXTRA_CA_CERTS`: CA certificates trusted beside the compiled-in roots.
    pub const EXTRA_CA_CERTS: &str = "AUTH0_EXTRA_CA_CERTS";
    /// `AUTH0_LEEWAY_SECONDS`: clock skew allowed.
    pub const LEEWAY_SECONDS: &str = "AUTH0_LEEWAY_SECONDS";
    /// `AUTH0_REALM`: the challenge's realm.
    pub const REALM: &str = "AUTH0_REALM";
    /// `AUTH0_EMAIL_CLAIM`: the namespaced email claim.
    pub const EMAIL_CLAIM: &str = "AUTH0_EMAIL_CLAIM";
    /// `AUTH0_REQUIRE_AT_JWT`: whether tokens must be RFC 9068 access tokens (`typ` `at+jwt`).
    pub const REQUIRE_AT_JWT: &str = "AUTH0_REQUIRE_AT_JWT";
    /// `AUTH0_MAX_TOKEN_AGE_SECONDS`: the oldest token accepted, from `iat`.
    pub const MAX_TOKEN_AGE_SECONDS: &str = "AUTH0_MAX_TOKEN_AGE_SECONDS";
    /// `AUTH0_REQUIRED_CLAIMS`: claims every token must carry.
    pub const REQUIRED_CLAIMS: &str = "AUTH0_REQUIRED_CLAIMS";
    /// `AUTH0_ORGANIZATIONS`: the Auth0 Organizations whose tokens are accepted.
    pub const ORGANIZATIONS: &str = "AUTH0_ORGANIZATIONS";
    /// `AUTH0_RESOURCE`: the API's public URL, for its RFC 9728 metadata.
    pub const RESOURCE: &str = "AUTH0_RESOURCE";
    /// `AUTH0_DPOP`: `off`, `allowed` or `required`.
    pub const DPOP: &str = "AUTH0_DPOP";
    /// `AUTH0_DPOP_ALGORITHMS`: the DPoP proof algorithms accepted.
    pub const DPOP_ALGORITHMS: &str = "AUTH0_DPOP_ALGORITHMS";
    /// `AUTH0_DPOP_PROOF_MAX_AGE_SECONDS`: the oldest DPoP proof accepted, from its `iat`.
    pub const DPOP_PROOF_MAX_AGE_SECONDS: &str = "AUTH0_DPOP_PROOF_MAX_AGE_SECONDS";
    /// `AUTH0_DPOP_PUBLIC_URL`: the API's public base URL, which DPoP proofs' `htu` starts with.
    pub const DPOP_PUBLIC_URL: &str = "AUTH0_DPOP_PUBLIC_URL";
    /// `AUTH0_DPOP_NONCE_SECRET`: the key of the stateless DPoP server nonces.
    pub const DPOP_NONCE_SECRET: &str = "AUTH0_DPOP_NONCE_SECRET";
    /// `AUTH0_DPOP_REPLAY_TABLE`: the DynamoDB table every instance records DPoP proofs in.
    pub const DPOP_REPLAY_TABLE: &str = "AUTH0_DPOP_REPLAY_TABLE";
    /// `AUTH0_METRICS`: `on` or `off`.
    pub const METRICS: &str = "AUTH0_METRICS";
    /// `AUTH0_METRICS_NAMESPACE`: the CloudWatch namespace.
    pub const METRICS_NAMESPACE: &str = "AUTH0_METRICS_NAMESPACE";
    /// `AUTH0_METRICS_DIMENSIONS`: the metric dimensions.
    pub const METRICS_DIMENSIONS: &str = "AUTH0_METRICS_DIMENSIONS";
    /// `AUTH0_AUTHORIZER_ROUTES`: the authorizer's grants per route.
    pub const AUTHORIZER_ROUTES: &str = "AUTH0_AUTHORIZER_ROUTES";
    /// `AUTH0_AUTHORIZER_RESPONSE`: the authorizer's payload 2.0 answer.
    pub const AUTHORIZER_RESPONSE: &str = "AUTH0_AUTHORIZER_RESPONSE";
    /// `AUTH0_AUTHORIZER_CONTEXT_CLAIMS`: claims the authorizer hands on.
    pub const AUTHORIZER_CONTEXT_CLAIMS: &str = "AUTH0_AUTHORIZER_CONTEXT_CLAIMS";
    /// `RUST_LOG`: log directives.
    pub const RUST_LOG: &str = "RUST_LOG";
    /// `AWS_LAMBDA_LOG_LEVEL`: Lambda's application log level.
    pub const LAMBDA_LOG_LEVEL: &str = "AWS_LAMBDA_LOG_LEVEL";
    /// `AWS_LAMBDA_FUNCTION_NAME`: the function's name, set by Lambda.
    pub const FUNCTION_NAME: &str = "AWS_LAMBDA_FUNCTION_NAME";
}

/// The largest `AUTH0_MAX_TOKEN_AGE_SECONDS`: 30 days.
pub const MAX_TOKEN_AGE_SECONDS: u64 = 30 * 24 * 3600;

/// Largest accepted `AUTH0_LEEWAY_SECONDS`: more than five minutes of skew is a broken clock, not skew.
pub const MAX_LEEWAY_SECONDS: u64 = 300;

/// Largest accepted `AUTH0_JWKS_MAX_STALE_SECONDS`: a week. Keys older than that are a risk, not a fallback.
pub const MAX_STALE_SECONDS: u64 = 7 * 24 * 3600;

/// RFC 7518 §3.2: an HMAC key must be at least as long as the hash output (32 bytes for HS256, and
/// [`min_secret_bytes`] for the others).
pub const MIN_SECRET_BYTES: usize = 32;

/// The shortest key RFC 7518 §3.2 allows for an HMAC algorithm: the size of its hash output.
pub fn min_secret_bytes(algorithm: Algorithm) -> usize {
    match algorithm {
        Algorithm::HS384 => 48,
        Algorithm::HS512 => 64,
        _ => MIN_SECRET_BYTES,
    }
}

/// The secret of the local development configuration (`dev/local.env`). It is public: the function refuses it
/// beside a tenant, so that a local run against a real tenant, or a deployment, never accepts tokens signed
/// with it.
pub const LOCAL_DEVELOPMENT_SECRET: &str = "local-development-secret-do-not-deploy-0123456789";

/// How `AUTH0_CLIENT_SECRET` is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretEncoding {
    /// The secret's bytes are the key, as Auth0 issues client secrets today.
    Raw,
    /// Auth0 client secrets created before December 2016: base64url, decoded the way the Flask quickstart
    /// did (padded or not, `-`/`_` or `+`/`/`).
    Base64Url,
}

/// What the cold start read before the configuration when the secret is in Secrets Manager: the secret, and
/// the trust settings the AWS call needed (so that the CA file is read and the TLS client built once).
pub struct FetchedSecret {
    /// The client secret, as stored (whitespace around it is trimmed when it is decoded).
    pub client_secret: String,
    /// `AUTH0_EXTRA_CA_CERTS`, already read.
    pub trust: Trust,
}

/// The validated configuration of one function instance.
#[derive(Clone)]
pub struct Config {
    /// `AUTH0_AUDIENCE`: accepted `aud` values.
    pub audiences: Vec<String>,
    /// `AUTH0_ISSUER`, or `https://<AUTH0_DOMAIN>/`: accepted `iss` values; empty means `iss` is not checked.
    /// Never empty when a JWKS is configured.
    pub issuers: Vec<String>,
    /// `AUTH0_CLIENT_SECRET`, decoded according to `AUTH0_SECRET_ENCODING`: the HS* key, when set.
    pub hmac_secret: Option<Vec<u8>>,
    /// `AUTH0_JWKS_URL`, or `https://<AUTH0_DOMAIN>/.well-known/jwks.json`: the keys of every other algorithm.
    pub jwks_url: Option<Uri>,
    /// `AUTH0_JWKS`: a key set supplied with the deployment, which the JWKS key store starts with instead of
    /// fetching during the cold start. Only with a JWKS URL, from which it is refreshed.
    pub supplied_keys: Option<KeySet>,
    /// `AUTH0_EXTRA_CA_CERTS`: CA certificates trusted beside the compiled-in web PKI roots.
    pub trust: Trust,
    /// `AUTH0_ALGORITHMS`: the allow-list; by default RS256 with a JWKS, HS256 with a secret.
    pub algorithms: Vec<Algorithm>,
    /// How the JWKS is cached and refreshed: [`KeyPolicy::default`], with `AUTH0_JWKS_MAX_STALE_SECONDS`.
    pub key_policy: KeyPolicy,
    /// `AUTH0_LEEWAY_SECONDS`.
    pub leeway: u64,
    /// `AUTH0_REALM`, defaulting to the first audience.
    pub realm: String,
    /// `AUTH0_EMAIL_CLAIM`: the namespaced claim holding the email in access tokens.
    pub email_claim: Option<String>,
    /// `AUTH0_REQUIRE_AT_JWT`: tokens must be RFC 9068 access tokens (`typ` `at+jwt`).
    pub access_token_type: bool,
    /// `AUTH0_MAX_TOKEN_AGE_SECONDS`: the oldest token accepted, from `iat`.
    pub max_token_age: Option<u64>,
    /// `AUTH0_REQUIRED_CLAIMS`: claims every token must carry.
    pub required_claims: Vec<String>,
    /// `AUTH0_ORGANIZATIONS`: accepted `org_id`s (`org_...`) and `org_name`s; empty means not checked.
    pub organizations: Vec<String>,
    /// `AUTH0_RESOURCE`: the API's public URL, which its RFC 9728 metadata describes; none, no metadata.
    pub resource: Option<Uri>,
    /// `AUTH0_DPOP` and its settings: DPoP-bound tokens and their proofs.
    pub dpop: crate::dpop::Settings,
    /// `AUTH0_METRICS`, `AUTH0_METRICS_NAMESPACE`, `AUTH0_METRICS_DIMENSIONS`: `None` when metrics are off.
    pub metrics: Option<Metrics>,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("audiences", &self.audiences)
            .field("issuers", &self.issuers)
            .field("hmac_secret", &self.hmac_secret.as_ref().map(|_| "[redacted]"))
            .field("jwks_url", &self.jwks_url)
            .field("supplied_keys", &self.supplied_keys.as_ref().map(KeySet::len))
            .field("trust", &self.trust)
            .field("algorithms", &self.algorithms)
            .field("leeway", &self.leeway)
            .field("realm", &self.realm)
            .field("email_claim", &self.email_claim)
            .field("access_token_type", &self.access_token_type)
            .field("max_token_age", &self.max_token_age)
            .field("required_claims", &self.required_claims)
            .field("organizations", &self.organizations)
            .field("resource", &self.resource)
            .field("dpop", &self.dpop)
            .field("metrics", &self.metrics)
            .finish()
    }
}

/// A configuration value that is missing or invalid. The message names the variable, never its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The environment variable at fault.
    pub variable: &'static str,
    /// What is wrong with it.
    pub problem: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.variable, self.problem)
    }
}

impl std::error::Error for ConfigError {}

pub(crate) fn invalid(variable: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError { variable, problem: problem.into() }
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads configuration through `lookup` (the environment in production, a map in tests). An empty value
    /// counts as unset, as SAM passes unused parameters as empty strings.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Self::read(lookup, None)
    }

    /// [`Config::from_lookup`] with the client secret fetched from Secrets Manager: the secret enters as what
    /// it is, and every error about it names `AUTH0_CLIENT_SECRET_ARN`, where it came from.
    pub(crate) fn with_fetched_secret(
        lookup: impl Fn(&str) -> Option<String>,
        fetched: FetchedSecret,
    ) -> Result<Self, ConfigError> {
        Self::read(lookup, Some(fetched))
    }

    fn read(lookup: impl Fn(&str) -> Option<String>, fetched: Option<FetchedSecret>) -> Result<Self, ConfigError> {
        let get = set_values(lookup);

        let audiences = list(get(var::AUDIENCE));
        if audiences.is_empty() {
            return Err(invalid(var::AUDIENCE, "is required: the API identifier(s) from the Auth0 dashboard"));
        }
        let domain = get(var::DOMAIN).map(|domain| tenant_domain(&domain)).transpose()?;
        let jwks_url = match (get(var::JWKS_URL), &domain) {
            (Some(url), _) => Some(jwks_url(var::JWKS_URL, url.trim())?),
            (None, Some(domain)) => Some(jwks_url(var::DOMAIN, &format!("https://{domain}/.well-known/jwks.json"))?),
            (None, None) => None,
        };
        let mut issuers = list(get(var::ISSUER));
        if issuers.is_empty()
            && let Some(domain) = &domain
        {
            issuers.push(format!("https://{domain}/"));
        }
        if jwks_url.is_some() && issuers.is_empty() {
            return Err(invalid(
                var::ISSUER,
                "is required with AUTH0_JWKS_URL: the tenant's issuer, or set AUTH0_DOMAIN",
            ));
        }

        let encoding = secret_encoding(get(var::SECRET_ENCODING))?;
        let (secret, trust) = match fetched {
            Some(FetchedSecret { client_secret, trust }) => {
                (Some((client_secret, var::CLIENT_SECRET_ARN)), Some(trust))
            }
            None => (get(var::CLIENT_SECRET).map(|secret| (secret, var::CLIENT_SECRET)), None),
        };
        let secret_variable = secret.as_ref().map_or(var::CLIENT_SECRET, |(_, variable)| *variable);
        let hmac_secret = secret.map(|(secret, variable)| decode_secret(&secret, encoding, variable)).transpose()?;
        let tenant = domain.is_some() || jwks_url.as_ref().is_some_and(|url| !is_loopback(url));
        if tenant && hmac_secret.as_deref() == Some(LOCAL_DEVELOPMENT_SECRET.as_bytes()) {
            return Err(invalid(
                secret_variable,
                "is the public local-development secret (dev/local.env), which never goes with a tenant \
                 (AUTH0_DOMAIN, or a JWKS URL that is not loopback): unset it, or set the application's secret",
            ));
        }
        if hmac_secret.is_none() && jwks_url.is_none() {
            return Err(invalid(
                var::DOMAIN,
                "is required (or AUTH0_JWKS_URL) for RS256 tokens, unless AUTH0_CLIENT_SECRET is set for HS256",
            ));
        }
        let algorithms = algorithms(get(var::ALGORITHMS), hmac_secret.is_some(), jwks_url.is_some())?;
        if let Some(secret) = &hmac_secret {
            long_enough_for(secret, &algorithms, secret_variable)?;
        }
        let supplied_keys =
            get(var::JWKS).map(|document| supplied_keys(&document, jwks_url.is_some(), &algorithms)).transpose()?;
        let trust = match trust {
            Some(trust) => trust,
            None => self::trust(&get)?,
        };

        let key_policy = KeyPolicy {
            max_stale: Duration::from_secs(seconds(
                var::JWKS_MAX_STALE_SECONDS,
                get(var::JWKS_MAX_STALE_SECONDS),
                crate::jwks::MAX_STALE.as_secs(),
                MAX_STALE_SECONDS,
            )?),
            ..KeyPolicy::default()
        };
        let leeway =
            seconds(var::LEEWAY_SECONDS, get(var::LEEWAY_SECONDS), DEFAULT_LEEWAY_SECONDS, MAX_LEEWAY_SECONDS)?;
        let realm = realm(get(var::REALM), &audiences[0])?;

        let email_claim = get(var::EMAIL_CLAIM).map(|claim| claim.trim().to_owned());
        let access_token_type = switch(var::REQUIRE_AT_JWT, get(var::REQUIRE_AT_JWT))?;
        let max_token_age = match get(var::MAX_TOKEN_AGE_SECONDS) {
            None => None,
            Some(text) => Some(seconds(var::MAX_TOKEN_AGE_SECONDS, Some(text), 0, MAX_TOKEN_AGE_SECONDS)?)
                .filter(|age| *age > 0)
                .map(Some)
                .ok_or_else(|| invalid(var::MAX_TOKEN_AGE_SECONDS, "must be at least 1 second"))?,
        };
        let required_claims = list(get(var::REQUIRED_CLAIMS));
        let organizations = list(get(var::ORGANIZATIONS));
        let resource = get(var::RESOURCE).map(|text| resource(text.trim())).transpose()?;
        let dpop = crate::dpop::Settings::read(&get)?;
        let metrics = metrics(&get)?;

        Ok(Self {
            audiences,
            issuers,
            hmac_secret,
            jwks_url,
            supplied_keys,
            trust,
            algorithms,
            key_policy,
            leeway,
            realm,
            email_claim,
            access_token_type,
            max_token_age,
            required_claims,
            organizations,
            resource,
            dpop,
            metrics,
        })
    }

    /// Logs the effective configuration as one `info` line at cold start, so that a wrong setup shows at once:
    /// issuers, audiences, algorithms, the JWKS URL, whether a secret is configured (never its value), and
    /// the rest of the settings that change what is accepted.
    pub fn log_summary(&self) {
        let jwks_url = self.jwks_url.as_ref().map(ToString::to_string);
        // jsonwebtoken's Debug of an algorithm is its JOSE name (`RS256`, `EdDSA`).
        let algorithms: Vec<String> = self.algorithms.iter().map(|algorithm| format!("{algorithm:?}")).collect();
        tracing::info!(
            audiences = self.audiences.join(","),
            issuers = if self.issuers.is_empty() { "(not checked)".to_owned() } else { self.issuers.join(",") },
            algorithms = algorithms.join(","),
            jwks_url,
            supplied_jwks_keys = self.supplied_keys.as_ref().map(KeySet::len),
            jwks_max_stale_seconds = self.key_policy.max_stale.as_secs(),
            hmac_secret = if self.hmac_secret.is_some() { "configured" } else { "none" },
            extra_ca_certificates = self.trust.extra_root_count(),
            leeway_seconds = self.leeway,
            email_claim = self.email_claim.as_deref(),
            require_at_jwt = self.access_token_type,
            max_token_age_seconds = self.max_token_age,
            required_claims = self.required_claims.join(","),
            organizations = self.organizations.join(","),
            resource = self.resource.as_ref().map(ToString::to_string),
            dpop = match self.dpop.mode {
                crate::dpop::Mode::Off => "off",
                crate::dpop::Mode::Allowed => "allowed",
                crate::dpop::Mode::Required => "required",
            },
            dpop_public_url = self.dpop.public_url.as_deref(),
            dpop_nonces = self.dpop.nonce_secret.is_some(),
            dpop_replay_table = self.dpop.replay_table.as_deref(),
            metrics = self.metrics.is_some(),
            "configuration"
        );
        if self.dpop.mode != crate::dpop::Mode::Off && self.dpop.replay_table.is_none() {
            tracing::warn!(
                "DPoP is on without AUTH0_DPOP_REPLAY_TABLE: each instance catches the proofs replayed to it, not \
                 those replayed to another instance"
            );
        }
    }

    /// The token policy this configuration describes.
    pub fn policy(&self) -> Policy {
        let mut policy = Policy::new(self.audiences.clone());
        policy.algorithms = self.algorithms.clone();
        policy.issuers = self.issuers.clone();
        policy.leeway = self.leeway;
        policy.access_token_type = self.access_token_type;
        policy.max_age = self.max_token_age;
        policy.required_claims = self.required_claims.clone();
        policy.organizations = self.organizations.clone();
        policy
    }
}

/// `lookup` with an empty or blank value counted as unset, as SAM passes unused parameters as empty strings:
/// the one rule every reader of the environment follows.
pub(crate) fn set_values(lookup: impl Fn(&str) -> Option<String>) -> impl Fn(&str) -> Option<String> {
    move |name| lookup(name).filter(|value| !value.trim().is_empty())
}

/// `AUTH0_SECRET_ENCODING`: `raw` (the default) or `base64url`.
fn secret_encoding(text: Option<String>) -> Result<SecretEncoding, ConfigError> {
    match text.as_deref().map(str::trim) {
        None | Some("raw") => Ok(SecretEncoding::Raw),
        Some("base64url") => Ok(SecretEncoding::Base64Url),
        Some(_) => Err(invalid(var::SECRET_ENCODING, "must be `raw` or `base64url`")),
    }
}

/// `AUTH0_RESOURCE`: an absolute `https://` URL without query or fragment (`http://` to loopback for local
/// runs), as clients call the API.
fn resource(text: &str) -> Result<Uri, ConfigError> {
    let problem = "must be the API's public https:// URL, without query or fragment";
    let uri: Uri = text.parse().map_err(|_| invalid(var::RESOURCE, problem))?;
    let secure = uri.scheme_str() == Some("https") || (uri.scheme_str() == Some("http") && is_loopback(&uri));
    let userinfo = uri.authority().is_some_and(|authority| authority.as_str().contains('@'));
    if !secure || userinfo || uri.host().is_none_or(str::is_empty) || uri.query().is_some() || text.contains('#') {
        return Err(invalid(var::RESOURCE, problem));
    }
    Ok(uri)
}

/// `true` or `false` in `variable`, `false` when unset.
fn switch(variable: &'static str, text: Option<String>) -> Result<bool, ConfigError> {
    match text.as_deref().map(str::trim) {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(_) => Err(invalid(variable, "must be `true` or `false`")),
    }
}

/// A whole number of seconds from 0 to `max` in `variable`, `default` when unset.
fn seconds(variable: &'static str, text: Option<String>, default: u64, max: u64) -> Result<u64, ConfigError> {
    let Some(text) = text else { return Ok(default) };
    text.trim()
        .parse::<u64>()
        .ok()
        .filter(|seconds| *seconds <= max)
        .ok_or_else(|| invalid(variable, format!("must be a whole number of seconds from 0 to {max}")))
}

/// `AUTH0_REALM`, the first audience by default: printable ASCII, as it is sent in a header.
fn realm(text: Option<String>, first_audience: &str) -> Result<String, ConfigError> {
    let realm = text.unwrap_or_else(|| first_audience.to_owned());
    if !realm.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return Err(invalid(var::REALM, "must be printable ASCII (it is sent in a header)"));
    }
    Ok(realm)
}

/// `AUTH0_DOMAIN` as a host name: `example.us.auth0.com`; a leading `https://` and a trailing `/` are
/// forgiven, anything else (a path, a port, another scheme) is refused.
fn tenant_domain(text: &str) -> Result<String, ConfigError> {
    let domain = text.trim();
    let domain = domain.strip_prefix("https://").unwrap_or(domain);
    let domain = domain.strip_suffix('/').unwrap_or(domain).to_ascii_lowercase();
    let valid_label = |label: &str| {
        !label.is_empty()
            && label.len() <= 63
            && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    if domain.len() > 253 || !domain.contains('.') || !domain.split('.').all(valid_label) {
        return Err(invalid(var::DOMAIN, "must be the tenant's host name, e.g. example.us.auth0.com"));
    }
    Ok(domain)
}

/// A JWKS address: `https://`, or `http://` to a loopback host only (tests and local development).
fn jwks_url(variable: &'static str, text: &str) -> Result<Uri, ConfigError> {
    let uri: Uri = text.parse().map_err(|_| invalid(variable, "must be an absolute https:// URL of the JWKS"))?;
    let host = uri.host().unwrap_or_default();
    match uri.scheme_str() {
        Some("https") if !host.is_empty() => Ok(uri),
        Some("http") if matches!(host, "127.0.0.1" | "localhost" | "[::1]") => Ok(uri),
        Some("http") => Err(invalid(variable, "must use https:// (plain http:// is accepted for loopback hosts only)")),
        _ => Err(invalid(variable, "must be an absolute https:// URL of the JWKS")),
    }
}

/// Whether a URL's host is this machine (the local development JWKS, tests).
fn is_loopback(url: &Uri) -> bool {
    matches!(url.host(), Some("127.0.0.1" | "localhost" | "[::1]"))
}

/// `AUTH0_JWKS`: a JWKS document with at least one key for an allowed algorithm. Keys the API cannot use are
/// skipped as in a fetched document.
fn supplied_keys(document: &str, have_jwks_url: bool, algorithms: &[Algorithm]) -> Result<KeySet, ConfigError> {
    const VARIABLE: &str = var::JWKS;
    if !have_jwks_url {
        return Err(invalid(
            VARIABLE,
            "needs AUTH0_DOMAIN or AUTH0_JWKS_URL: the supplied keys are refreshed from the tenant's JWKS",
        ));
    }
    let keys = KeySet::from_json(document.as_bytes(), algorithms)
        .map_err(|error| invalid(VARIABLE, format!("is not a usable JWKS document: {error}")))?;
    if !algorithms.iter().any(|algorithm| keys.supports(*algorithm)) {
        return Err(invalid(VARIABLE, "holds no key for an algorithm of AUTH0_ALGORITHMS"));
    }
    Ok(keys)
}

/// `AUTH0_EXTRA_CA_CERTS`: the file is read here, when set, and nowhere else.
pub(crate) fn trust(get: &impl Fn(&str) -> Option<String>) -> Result<Trust, ConfigError> {
    match get(var::EXTRA_CA_CERTS) {
        Some(path) => Ok(Trust::new(crate::tls::read_extra_roots(path.trim())?)),
        None => Ok(Trust::default()),
    }
}

/// `AUTH0_ALGORITHMS`, checked against the key material that is configured: HS* needs the secret, every other
/// algorithm a JWKS.
fn algorithms(text: Option<String>, have_secret: bool, have_jwks: bool) -> Result<Vec<Algorithm>, ConfigError> {
    const VARIABLE: &str = var::ALGORITHMS;
    let Some(text) = text else {
        let mut defaults = Vec::new();
        if have_jwks {
            defaults.push(Algorithm::RS256);
        }
        if have_secret {
            defaults.push(Algorithm::HS256);
        }
        return Ok(defaults);
    };
    let mut chosen = Vec::new();
    for name in list(Some(text)) {
        let algorithm = name.parse::<Algorithm>().map_err(|_| {
            invalid(VARIABLE, format!("{name} is not one of HS256, HS384, HS512, RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, EdDSA"))
        })?;
        let symmetric = algorithm.family() == AlgorithmFamily::Hmac;
        if symmetric && !have_secret {
            return Err(invalid(VARIABLE, format!("{name} needs AUTH0_CLIENT_SECRET")));
        }
        if !symmetric && !have_jwks {
            return Err(invalid(VARIABLE, format!("{name} needs AUTH0_DOMAIN or AUTH0_JWKS_URL")));
        }
        if !chosen.contains(&algorithm) {
            chosen.push(algorithm);
        }
    }
    if chosen.is_empty() {
        return Err(invalid(VARIABLE, "must name at least one algorithm"));
    }
    Ok(chosen)
}

/// The metrics settings; `None` when `AUTH0_METRICS=off`.
fn metrics(get: &impl Fn(&str) -> Option<String>) -> Result<Option<Metrics>, ConfigError> {
    match get(var::METRICS).as_deref().map(str::trim) {
        None | Some("on") => {}
        Some("off") => return Ok(None),
        Some(_) => return Err(invalid(var::METRICS, "must be `on` or `off`")),
    }
    let namespace = get(var::METRICS_NAMESPACE).map_or_else(|| DEFAULT_NAMESPACE.to_owned(), |ns| ns.trim().to_owned());
    // CloudWatch: 1 to 255 characters of letters, digits and . - _ / # :
    let valid_namespace = namespace.len() <= 255
        && namespace.bytes().all(|b| b.is_ascii_alphanumeric() || b" .-_/#:".contains(&b))
        && !namespace.starts_with(':');
    if !valid_namespace {
        return Err(invalid(var::METRICS_NAMESPACE, "must be 1 to 255 letters, digits and . - _ / # :"));
    }
    let dimensions = match get(var::METRICS_DIMENSIONS).as_deref().map(str::trim) {
        None => vec![Dimension::Outcome],
        Some("none") => Vec::new(),
        Some(text) => list(Some(text.to_owned()))
            .iter()
            .map(|name| Dimension::parse(name))
            .collect::<Option<Vec<_>>>()
            .filter(|dimensions| !dimensions.is_empty())
            .ok_or_else(|| invalid(var::METRICS_DIMENSIONS, "must list Outcome, Route, FunctionName, or be `none`"))?,
    };
    let function_name = get(var::FUNCTION_NAME).unwrap_or_else(|| "unknown".to_owned());
    // Lambda sets AWS_LAMBDA_LOG_LEVEL from the function's application log level (JSON log format only).
    let level = match get(var::LAMBDA_LOG_LEVEL).map(|level| level.trim().to_ascii_uppercase()).as_deref() {
        Some("TRACE") => "TRACE",
        Some("DEBUG") => "DEBUG",
        Some("WARN") => "WARN",
        Some("ERROR") => "ERROR",
        Some("FATAL") => "FATAL",
        _ => "INFO",
    };
    Ok(Some(Metrics { namespace, dimensions, function_name, level }))
}

/// Splits a comma-separated list, trimming items and dropping empty ones.
fn list(value: Option<String>) -> Vec<String> {
    value
        .iter()
        .flat_map(|text| text.split(','))
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Standard alphabet, padding optional: the legacy secrets are mapped onto it first.
const LENIENT_BASE64: GeneralPurpose = GeneralPurpose::new(
    &STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Turns the configured secret into key bytes. One rule for both encodings: whitespace around the secret (the
/// newline a file ends with, as `--secret-string file://secret.txt` stores it) is not part of it, and
/// whitespace or a control character inside it is refused: no Auth0 client secret has any.
/// Errors name `variable`, where the secret came from.
pub fn decode_secret(secret: &str, encoding: SecretEncoding, variable: &'static str) -> Result<Vec<u8>, ConfigError> {
    let secret = secret.trim();
    if secret.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid(
            variable,
            "contains whitespace or a control character: a client secret has none (only whitespace around it, \
             such as a file's final newline, is ignored)",
        ));
    }
    let bytes = match encoding {
        SecretEncoding::Raw => secret.as_bytes().to_vec(),
        SecretEncoding::Base64Url => {
            let standard: String = secret
                .chars()
                .map(|c| match c {
                    '-' => '+',
                    '_' => '/',
                    other => other,
                })
                .collect();
            LENIENT_BASE64
                .decode(standard)
                .map_err(|_| invalid(variable, "is not valid base64url, as AUTH0_SECRET_ENCODING=base64url says"))?
        }
    };
    if bytes.len() < MIN_SECRET_BYTES {
        return Err(invalid(
            variable,
            format!("must be at least {MIN_SECRET_BYTES} bytes once decoded (RFC 7518 §3.2)"),
        ));
    }
    Ok(bytes)
}

/// Checks the key against every HMAC algorithm of the allow-list: HS384 needs 48 bytes, HS512 64.
fn long_enough_for(secret: &[u8], algorithms: &[Algorithm], variable: &'static str) -> Result<(), ConfigError> {
    let strictest = algorithms.iter().copied().max_by_key(|algorithm| min_secret_bytes(*algorithm));
    match strictest {
        Some(algorithm) if secret.len() < min_secret_bytes(algorithm) => Err(invalid(
            variable,
            format!(
                "must be at least {} bytes once decoded for {algorithm:?} (RFC 7518 §3.2), as AUTH0_ALGORITHMS allows it",
                min_secret_bytes(algorithm)
            ),
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const SECRET: &str = "a-raw-client-secret-that-is-long-enough-0123";

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    fn minimal(extra: &[(&'static str, &'static str)]) -> Result<Config, ConfigError> {
        let mut vars = vec![("AUTH0_AUDIENCE", "https://api.example.com"), ("AUTH0_CLIENT_SECRET", SECRET)];
        vars.extend_from_slice(extra);
        config(&vars)
    }

    fn failing_variable(result: Result<Config, ConfigError>) -> &'static str {
        result.expect_err("configuration was accepted").variable
    }

    #[test]
    fn minimal_configuration_has_the_documented_defaults() {
        let config = minimal(&[]).unwrap();
        assert_eq!(config.audiences, ["https://api.example.com"]);
        assert!(config.issuers.is_empty());
        assert_eq!(config.hmac_secret.as_deref(), Some(SECRET.as_bytes()));
        assert_eq!(config.algorithms, [Algorithm::HS256]);
        assert_eq!(config.jwks_url, None);
        assert_eq!(config.leeway, 5);
        assert_eq!(config.email_claim, None);
        assert_eq!(config.realm, "https://api.example.com");
    }

    #[test]
    fn audience_is_required() {
        assert_eq!(failing_variable(config(&[("AUTH0_CLIENT_SECRET", SECRET)])), "AUTH0_AUDIENCE");
        assert_eq!(
            failing_variable(config(&[("AUTH0_AUDIENCE", " , "), ("AUTH0_CLIENT_SECRET", SECRET)])),
            "AUTH0_AUDIENCE"
        );
    }

    #[test]
    fn audiences_and_issuers_are_comma_separated_and_trimmed() {
        let config = config(&[
            ("AUTH0_AUDIENCE", "https://a, https://b ,"),
            ("AUTH0_ISSUER", "https://t.auth0.com/,https://login.example.com/"),
            ("AUTH0_CLIENT_SECRET", SECRET),
        ])
        .unwrap();
        assert_eq!(config.audiences, ["https://a", "https://b"]);
        assert_eq!(config.issuers, ["https://t.auth0.com/", "https://login.example.com/"]);
    }

    #[test]
    fn a_secret_or_a_jwks_source_is_required() {
        assert_eq!(failing_variable(config(&[("AUTH0_AUDIENCE", "a")])), "AUTH0_DOMAIN");
        assert_eq!(failing_variable(config(&[("AUTH0_AUDIENCE", "a"), ("AUTH0_CLIENT_SECRET", "")])), "AUTH0_DOMAIN");
    }

    #[test]
    fn domain_gives_the_issuer_the_jwks_url_and_rs256() {
        let config = config(&[("AUTH0_AUDIENCE", "a"), ("AUTH0_DOMAIN", "example.us.auth0.com")]).unwrap();
        assert_eq!(config.issuers, ["https://example.us.auth0.com/"]);
        assert_eq!(config.jwks_url.unwrap().to_string(), "https://example.us.auth0.com/.well-known/jwks.json");
        assert_eq!(config.algorithms, [Algorithm::RS256]);
        assert_eq!(config.hmac_secret, None);
    }

    #[test]
    fn domain_forgives_a_scheme_and_a_trailing_slash() {
        let config = config(&[("AUTH0_AUDIENCE", "a"), ("AUTH0_DOMAIN", "https://Example.us.auth0.com/")]).unwrap();
        assert_eq!(config.issuers, ["https://example.us.auth0.com/"]);
    }

    #[test]
    fn domain_that_is_not_a_host_name_is_refused() {
        for bad in ["example", "example.com/path", "http://example.com", "exa mple.com", "example.com:8443", "-a.com"] {
            assert_eq!(
                failing_variable(config(&[("AUTH0_AUDIENCE", "a"), ("AUTH0_DOMAIN", bad)])),
                "AUTH0_DOMAIN",
                "{bad}"
            );
        }
    }

    #[test]
    fn issuer_and_jwks_url_override_the_domain() {
        let config = config(&[
            ("AUTH0_AUDIENCE", "a"),
            ("AUTH0_DOMAIN", "example.us.auth0.com"),
            ("AUTH0_ISSUER", "https://example.us.auth0.com/,https://login.example.com/"),
            ("AUTH0_JWKS_URL", "https://login.example.com/.well-known/jwks.json"),
        ])
        .unwrap();
        assert_eq!(config.issuers, ["https://example.us.auth0.com/", "https://login.example.com/"]);
        assert_eq!(config.jwks_url.unwrap().host(), Some("login.example.com"));
    }

    #[test]
    fn jwks_url_without_an_issuer_is_refused() {
        let vars = [("AUTH0_AUDIENCE", "a"), ("AUTH0_JWKS_URL", "https://login.example.com/jwks.json")];
        assert_eq!(failing_variable(config(&vars)), "AUTH0_ISSUER");
    }

    #[test]
    fn plain_http_jwks_is_accepted_for_loopback_only() {
        let with_url =
            |url| config(&[("AUTH0_AUDIENCE", "a"), ("AUTH0_ISSUER", "https://i/"), ("AUTH0_JWKS_URL", url)]);
        for loopback in ["http://127.0.0.1:8000/jwks.json", "http://localhost/jwks.json", "http://[::1]:9/jwks.json"] {
            assert!(with_url(loopback).is_ok(), "{loopback}");
        }
        for refused in ["http://example.com/jwks.json", "http://10.0.0.1/jwks.json", "ftp://example.com/j", "jwks.json"]
        {
            assert_eq!(failing_variable(with_url(refused)), "AUTH0_JWKS_URL", "{refused}");
        }
    }

    #[test]
    fn both_key_sources_allow_both_default_algorithms() {
        let config = minimal(&[("AUTH0_DOMAIN", "example.us.auth0.com")]).unwrap();
        assert_eq!(config.algorithms, [Algorithm::RS256, Algorithm::HS256]);
    }

    #[test]
    fn algorithms_are_read_and_checked_against_the_key_material() {
        let with_jwks =
            |algs| config(&[("AUTH0_AUDIENCE", "a"), ("AUTH0_DOMAIN", "t.auth0.com"), ("AUTH0_ALGORITHMS", algs)]);
        assert_eq!(
            with_jwks("RS256, PS256,ES256,EdDSA,RS256").unwrap().algorithms,
            [Algorithm::RS256, Algorithm::PS256, Algorithm::ES256, Algorithm::EdDSA]
        );
        for bad in ["HS256", "none", "rs256", "RS256,ES512", ","] {
            assert_eq!(failing_variable(with_jwks(bad)), "AUTH0_ALGORITHMS", "{bad}");
        }
        assert_eq!(failing_variable(minimal(&[("AUTH0_ALGORITHMS", "RS256")])), "AUTH0_ALGORITHMS");
        let long = "a-raw-client-secret-of-sixty-four-bytes-for-hs512-0123456789abcd";
        let hs512 = config(&[("AUTH0_AUDIENCE", "a"), ("AUTH0_CLIENT_SECRET", long), ("AUTH0_ALGORITHMS", "HS512")]);
        assert_eq!(hs512.unwrap().algorithms, [Algorithm::HS512]);
    }

    #[test]
    fn hs384_and_hs512_need_keys_as_long_as_their_hash() {
        let with = |secret: &str, algs: &str| {
            config(&[("AUTH0_AUDIENCE", "a"), ("AUTH0_CLIENT_SECRET", secret), ("AUTH0_ALGORITHMS", algs)])
        };
        let bytes = |n: usize| "k".repeat(n);
        assert!(with(&bytes(32), "HS256").is_ok());
        assert!(with(&bytes(47), "HS256,HS384").is_err());
        assert!(with(&bytes(48), "HS256,HS384").is_ok());
        assert!(with(&bytes(63), "HS512").is_err());
        assert!(with(&bytes(64), "HS512,HS256").is_ok());
        let error = with(&bytes(48), "HS256,HS512").unwrap_err();
        assert_eq!(error.variable, "AUTH0_CLIENT_SECRET");
        assert!(error.to_string().contains("64 bytes") && error.to_string().contains("HS512"), "{error}");
        // The legacy encoding counts decoded bytes.
        let encoded = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([3u8; 48]);
        let legacy = config(&[
            ("AUTH0_AUDIENCE", "a"),
            ("AUTH0_CLIENT_SECRET", &encoded),
            ("AUTH0_SECRET_ENCODING", "base64url"),
            ("AUTH0_ALGORITHMS", "HS384"),
        ]);
        assert!(legacy.is_ok());
    }

    #[test]
    fn whitespace_around_the_secret_is_not_part_of_it_in_either_encoding() {
        let raw = minimal(&[("AUTH0_CLIENT_SECRET", "a-raw-client-secret-that-is-long-enough-0123\n")]).unwrap();
        assert_eq!(raw.hmac_secret.as_deref(), Some(SECRET.as_bytes()));
        let crlf = decode_secret(&format!(" {SECRET}\r\n"), SecretEncoding::Raw, var::CLIENT_SECRET).unwrap();
        assert_eq!(crlf, SECRET.as_bytes());
        let encoded = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([5u8; 40]);
        assert_eq!(
            decode_secret(&format!("{encoded}\n"), SecretEncoding::Base64Url, var::CLIENT_SECRET).unwrap(),
            [5u8; 40]
        );
    }

    #[test]
    fn whitespace_or_control_characters_inside_the_secret_are_refused() {
        for bad in [
            "a-raw-client-secret that-is-long-enough-0123",
            "a-raw-client-secret\nthat-is-long-enough-0123",
            "a-raw-client-secret\u{7}that-is-long-enough-0123",
        ] {
            for encoding in [SecretEncoding::Raw, SecretEncoding::Base64Url] {
                let error = decode_secret(bad, encoding, var::CLIENT_SECRET).unwrap_err();
                assert_eq!(error.variable, "AUTH0_CLIENT_SECRET");
                assert!(error.to_string().contains("whitespace or a control character"), "{error}");
                assert!(!error.to_string().contains("long-enough"), "the message must not echo the secret");
            }
        }
    }

    #[test]
    fn the_local_development_secret_never_goes_with_a_tenant() {
        let local = [("AUTH0_AUDIENCE", "a"), ("AUTH0_CLIENT_SECRET", LOCAL_DEVELOPMENT_SECRET)];
        assert!(config(&local).is_ok(), "the local development configuration");
        let loopback = [&local[..], &[("AUTH0_ISSUER", "https://i/"), ("AUTH0_JWKS_URL", "http://127.0.0.1:8/j")]];
        assert!(config(&loopback.concat()).is_ok(), "RS256 locally, with the local key's JWKS on loopback");
        let tenant = [&local[..], &[("AUTH0_DOMAIN", "example.us.auth0.com")]].concat();
        let error = config(&tenant).unwrap_err();
        assert_eq!(error.variable, "AUTH0_CLIENT_SECRET");
        assert!(!error.to_string().contains(LOCAL_DEVELOPMENT_SECRET), "the message must not echo the secret");
        let remote = [&local[..], &[("AUTH0_ISSUER", "https://i/"), ("AUTH0_JWKS_URL", "https://login.example.com/j")]];
        assert_eq!(failing_variable(config(&remote.concat())), "AUTH0_CLIENT_SECRET");
        // With a file's final newline it is the same key.
        let padded = format!("{LOCAL_DEVELOPMENT_SECRET}\n");
        let tenant = [("AUTH0_AUDIENCE", "a"), ("AUTH0_DOMAIN", "t.auth0.com"), ("AUTH0_CLIENT_SECRET", &padded)];
        assert_eq!(failing_variable(config(&tenant)), "AUTH0_CLIENT_SECRET");
    }

    #[test]
    fn secret_shorter_than_32_bytes_is_refused() {
        assert_eq!(
            failing_variable(config(&[("AUTH0_AUDIENCE", "a"), ("AUTH0_CLIENT_SECRET", "short")])),
            "AUTH0_CLIENT_SECRET"
        );
    }

    #[test]
    fn a_fetched_secret_enters_as_itself_and_its_errors_name_its_arn() {
        let fetched = |client_secret: &str, vars: &[(&str, &str)]| {
            let map: HashMap<String, String> = vars.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect();
            let fetched = FetchedSecret { client_secret: client_secret.to_owned(), trust: Trust::default() };
            Config::with_fetched_secret(|name| map.get(name).cloned(), fetched)
        };
        let audience = [("AUTH0_AUDIENCE", "a")];
        assert_eq!(fetched(SECRET, &audience).unwrap().hmac_secret.as_deref(), Some(SECRET.as_bytes()));
        assert_eq!(failing_variable(fetched("short", &audience)), "AUTH0_CLIENT_SECRET_ARN");
        assert_eq!(failing_variable(fetched("in side", &audience)), "AUTH0_CLIENT_SECRET_ARN");
        let legacy = [("AUTH0_AUDIENCE", "a"), ("AUTH0_SECRET_ENCODING", "base64url")];
        assert_eq!(failing_variable(fetched("not-base64!!", &legacy)), "AUTH0_CLIENT_SECRET_ARN");
        let hs512 = [("AUTH0_AUDIENCE", "a"), ("AUTH0_ALGORITHMS", "HS512")];
        assert_eq!(failing_variable(fetched(SECRET, &hs512)), "AUTH0_CLIENT_SECRET_ARN");
        let tenant = [("AUTH0_AUDIENCE", "a"), ("AUTH0_DOMAIN", "example.us.auth0.com")];
        assert_eq!(failing_variable(fetched(LOCAL_DEVELOPMENT_SECRET, &tenant)), "AUTH0_CLIENT_SECRET_ARN");
    }

    #[test]
    fn the_token_profile_settings_are_read_into_the_policy() {
        let config = minimal(&[
            ("AUTH0_REQUIRE_AT_JWT", "true"),
            ("AUTH0_MAX_TOKEN_AGE_SECONDS", " 3600 "),
            ("AUTH0_REQUIRED_CLAIMS", "azp, org_id"),
            ("AUTH0_ORGANIZATIONS", "org_abc123, acme"),
        ])
        .unwrap();
        let policy = config.policy();
        assert!(policy.access_token_type);
        assert_eq!(policy.max_age, Some(3600));
        assert_eq!(policy.required_claims, ["azp", "org_id"]);
        assert_eq!(policy.organizations, ["org_abc123", "acme"]);
        let defaults = minimal(&[]).unwrap().policy();
        assert!(!defaults.access_token_type && defaults.max_age.is_none());
        assert!(defaults.required_claims.is_empty() && defaults.organizations.is_empty());
    }

    #[test]
    fn the_resource_is_an_https_url_without_query() {
        let config = minimal(&[("AUTH0_RESOURCE", "https://api.example.com/prod")]).unwrap();
        assert_eq!(config.resource.unwrap().to_string(), "https://api.example.com/prod");
        assert!(minimal(&[("AUTH0_RESOURCE", "http://127.0.0.1:9000")]).is_ok());
        for bad in
            ["http://api.example.com", "api.example.com", "https://api.example.com/?a=b", "https://x/#f", "ftp://x"]
        {
            assert_eq!(failing_variable(minimal(&[("AUTH0_RESOURCE", bad)])), "AUTH0_RESOURCE", "{bad}");
        }
    }

    #[test]
    fn bad_token_profile_settings_name_their_variable() {
        for (variable, value) in [
            ("AUTH0_REQUIRE_AT_JWT", "yes"),
            ("AUTH0_MAX_TOKEN_AGE_SECONDS", "0"),
            ("AUTH0_MAX_TOKEN_AGE_SECONDS", "-5"),
            ("AUTH0_MAX_TOKEN_AGE_SECONDS", "2592001"),
            ("AUTH0_MAX_TOKEN_AGE_SECONDS", "1h"),
        ] {
            assert_eq!(failing_variable(minimal(&[(variable, value)])), variable, "{value}");
        }
    }

    #[test]
    fn unknown_secret_encoding_is_refused() {
        assert_eq!(failing_variable(minimal(&[("AUTH0_SECRET_ENCODING", "hex")])), "AUTH0_SECRET_ENCODING");
    }

    #[test]
    fn legacy_base64url_secret_decodes_in_every_spelling() {
        let key: Vec<u8> = (0u8..48).map(|i| i.wrapping_mul(37) ^ 0xfb).collect();
        let standard = base64::engine::general_purpose::STANDARD.encode(&key);
        assert!(standard.contains('+') || standard.contains('/'), "the sample must exercise the alphabet");
        let url_padded = standard.replace('+', "-").replace('/', "_");
        let url_bare = url_padded.trim_end_matches('=').to_owned();
        for spelling in [standard.clone(), url_padded, url_bare, standard.trim_end_matches('=').to_owned()] {
            assert_eq!(
                decode_secret(&spelling, SecretEncoding::Base64Url, var::CLIENT_SECRET).unwrap(),
                key,
                "{spelling}"
            );
        }
    }

    #[test]
    fn legacy_secret_with_a_padding_remainder_decodes() {
        let key = [7u8; 34]; // 34 bytes: base64 ends in "==", exercising padded and bare forms.
        let padded = base64::engine::general_purpose::URL_SAFE.encode(key);
        assert!(padded.ends_with("=="));
        assert_eq!(decode_secret(&padded, SecretEncoding::Base64Url, var::CLIENT_SECRET).unwrap(), key);
        assert_eq!(
            decode_secret(padded.trim_end_matches('='), SecretEncoding::Base64Url, var::CLIENT_SECRET).unwrap(),
            key
        );
    }

    #[test]
    fn invalid_base64url_secret_names_the_secret_variable() {
        let error = decode_secret("not-base64-at-all!!", SecretEncoding::Base64Url, var::CLIENT_SECRET).unwrap_err();
        assert_eq!(error.variable, "AUTH0_CLIENT_SECRET");
        assert!(!error.to_string().contains("not-base64-at-all"), "the message must not echo the secret");
    }

    #[test]
    fn base64url_encoding_is_selected_by_the_variable() {
        let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([9u8; 40]);
        let mut vars = vec![("AUTH0_AUDIENCE", "a"), ("AUTH0_SECRET_ENCODING", "base64url")];
        vars.push(("AUTH0_CLIENT_SECRET", &secret));
        assert_eq!(config(&vars).unwrap().hmac_secret.as_deref(), Some(&[9u8; 40][..]));
    }

    #[test]
    fn leeway_must_be_a_bounded_whole_number() {
        assert_eq!(minimal(&[("AUTH0_LEEWAY_SECONDS", "0")]).unwrap().leeway, 0);
        assert_eq!(minimal(&[("AUTH0_LEEWAY_SECONDS", "300")]).unwrap().leeway, 300);
        for bad in ["-1", "301", "1.5", "five"] {
            assert_eq!(failing_variable(minimal(&[("AUTH0_LEEWAY_SECONDS", bad)])), "AUTH0_LEEWAY_SECONDS", "{bad}");
        }
    }

    #[test]
    fn jwks_max_stale_is_a_bounded_whole_number_of_seconds() {
        assert_eq!(minimal(&[]).unwrap().key_policy.max_stale, crate::jwks::MAX_STALE);
        let zero = minimal(&[("AUTH0_JWKS_MAX_STALE_SECONDS", "0")]).unwrap();
        assert_eq!(zero.key_policy.max_stale, Duration::ZERO);
        let week = minimal(&[("AUTH0_JWKS_MAX_STALE_SECONDS", " 604800 ")]).unwrap();
        assert_eq!(week.key_policy.max_stale, Duration::from_secs(604_800));
        for bad in ["-1", "604801", "1h", "1.5"] {
            let failing = failing_variable(minimal(&[("AUTH0_JWKS_MAX_STALE_SECONDS", bad)]));
            assert_eq!(failing, "AUTH0_JWKS_MAX_STALE_SECONDS", "{bad}");
        }
    }

    #[test]
    fn realm_with_a_line_break_is_refused() {
        assert_eq!(failing_variable(minimal(&[("AUTH0_REALM", "a\r\nb")])), "AUTH0_REALM");
    }

    #[test]
    fn email_claim_is_read() {
        let config = minimal(&[("AUTH0_EMAIL_CLAIM", "https://example.com/email")]).unwrap();
        assert_eq!(config.email_claim.as_deref(), Some("https://example.com/email"));
    }

    #[test]
    fn metric_lines_carry_lambdas_application_log_level() {
        let level = |value| minimal(&[("AWS_LAMBDA_LOG_LEVEL", value)]).unwrap().metrics.unwrap().level;
        assert_eq!(level("WARN"), "WARN");
        assert_eq!(level("error"), "ERROR");
        assert_eq!(level("FATAL"), "FATAL");
        assert_eq!(minimal(&[]).unwrap().metrics.unwrap().level, "INFO");
    }

    #[test]
    fn metrics_default_to_the_outcome_dimension() {
        let metrics = minimal(&[("AWS_LAMBDA_FUNCTION_NAME", "api")]).unwrap().metrics.unwrap();
        assert_eq!(
            metrics,
            Metrics {
                namespace: "Auth0LambdaApi".into(),
                dimensions: vec![Dimension::Outcome],
                function_name: "api".into(),
                level: "INFO",
            }
        );
    }

    #[test]
    fn metrics_can_be_configured_or_switched_off() {
        let metrics =
            minimal(&[("AUTH0_METRICS_NAMESPACE", "Team/Api"), ("AUTH0_METRICS_DIMENSIONS", "Route, FunctionName")])
                .unwrap()
                .metrics
                .unwrap();
        assert_eq!(
            (metrics.namespace.as_str(), metrics.dimensions),
            ("Team/Api", vec![Dimension::Route, Dimension::FunctionName])
        );
        assert_eq!(minimal(&[("AUTH0_METRICS_DIMENSIONS", "none")]).unwrap().metrics.unwrap().dimensions, []);
        assert_eq!(minimal(&[("AUTH0_METRICS", "off")]).unwrap().metrics, None);
    }

    #[test]
    fn bad_metrics_settings_name_their_variable() {
        assert_eq!(failing_variable(minimal(&[("AUTH0_METRICS", "yes")])), "AUTH0_METRICS");
        assert_eq!(failing_variable(minimal(&[("AUTH0_METRICS_NAMESPACE", "bad{ns}")])), "AUTH0_METRICS_NAMESPACE");
        assert_eq!(
            failing_variable(minimal(&[("AUTH0_METRICS_DIMENSIONS", "Outcome,Token")])),
            "AUTH0_METRICS_DIMENSIONS"
        );
    }

    fn with_supplied_keys(document: &str, extra: &[(&'static str, &'static str)]) -> Result<Config, ConfigError> {
        let mut vars = vec![("AUTH0_AUDIENCE", "a"), ("AUTH0_DOMAIN", "t.auth0.com"), ("AUTH0_JWKS", document)];
        vars.extend_from_slice(extra);
        config(&vars)
    }

    const SUPPLIED_RSA_KEY: &str = r#"{"keys": [{"kty": "RSA", "kid": "k1", "use": "sig", "n": "sXch", "e": "AQAB"}]}"#;

    #[test]
    fn supplied_keys_are_read() {
        let config = with_supplied_keys(SUPPLIED_RSA_KEY, &[]).unwrap();
        assert_eq!(config.supplied_keys.map(|keys| keys.len()), Some(1));
    }

    #[test]
    fn supplied_keys_that_are_not_a_jwks_name_the_variable() {
        for document in ["{not json", "[]", r#"{"keys": []}"#, r#"{"keys": [{"kty": "oct", "kid": "h", "k": "AAAA"}]}"#]
        {
            let error = with_supplied_keys(document, &[]).unwrap_err();
            assert_eq!(error.variable, "AUTH0_JWKS", "{document}");
            assert!(error.problem.starts_with("is not a usable JWKS document"), "{error}");
        }
    }

    #[test]
    fn supplied_keys_for_no_allowed_algorithm_are_refused() {
        let error = with_supplied_keys(SUPPLIED_RSA_KEY, &[("AUTH0_ALGORITHMS", "ES256")]).unwrap_err();
        assert_eq!(error.variable, "AUTH0_JWKS");
    }

    #[test]
    fn supplied_keys_need_a_jwks_to_be_refreshed_from() {
        let vars = [("AUTH0_AUDIENCE", "a"), ("AUTH0_CLIENT_SECRET", SECRET), ("AUTH0_JWKS", SUPPLIED_RSA_KEY)];
        assert_eq!(failing_variable(config(&vars)), "AUTH0_JWKS");
    }

    #[test]
    fn an_extra_ca_file_that_cannot_be_read_is_refused() {
        assert_eq!(
            failing_variable(minimal(&[("AUTH0_EXTRA_CA_CERTS", "/nonexistent/ca.pem")])),
            "AUTH0_EXTRA_CA_CERTS"
        );
    }

    #[test]
    fn debug_never_shows_the_secret() {
        assert!(!format!("{:?}", minimal(&[]).unwrap()).contains(SECRET));
    }
}
