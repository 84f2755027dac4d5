//! Authentication, for either front door: bearer-token parsing (RFC 6750 §2.1) over any header values, and the
//! [`Authenticator`] that verifies a token with the key its [`KeySource`] chooses.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use lambda_http::http::header::AUTHORIZATION;
use lambda_http::http::{HeaderMap, HeaderValue};

use crate::claims::{Binding, Claims};
use crate::config::{Config, ConfigError};
use crate::dpop::{Dpop, Mode, ProofHeader, ReplayTable, Target};
use crate::error::{AuthError, BEARER_SHAPE};
use crate::jwks::{HttpJwksClient, KeyStore};
use crate::key_source::{KeySource, Prefetch};
use crate::verify::Verifier;

/// Longest `Authorization` header we read, checked before any decoding. Auth0 access tokens are 1–2 KiB.
pub const MAX_AUTHORIZATION_BYTES: usize = 8 * 1024;

/// Extracts the token from the request's single `Authorization: Bearer <token>` header.
///
/// The scheme is case-insensitive; exactly one space separates it from the token; the token is base64url
/// segments separated by dots. Anything else is [`AuthError::InvalidHeader`], never a 200 or a 500.
pub fn bearer_token(headers: &HeaderMap) -> Result<&str, AuthError> {
    bearer_in(headers.get_all(AUTHORIZATION).iter().map(HeaderValue::as_bytes))
}

/// [`bearer_token`] over the values of every `Authorization` header a request carried, however the front
/// door received them (an `http` header map, an API Gateway event's header maps, a TOKEN authorizer's value).
pub fn bearer_in<'a>(values: impl Iterator<Item = &'a [u8]>) -> Result<&'a str, AuthError> {
    credential_in(values, Schemes::Bearer).map(|(_, token)| token)
}

/// An `Authorization` scheme this API reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// `Bearer` (RFC 6750).
    Bearer,
    /// `DPoP` (RFC 9449): a DPoP-bound token, with a proof in the `DPoP` header.
    Dpop,
}

/// Which schemes a request may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schemes {
    /// `Bearer` only (DPoP off).
    Bearer,
    /// `Bearer` or `DPoP`.
    BearerOrDpop,
    /// `DPoP` only.
    Dpop,
}

/// The scheme a request's `Authorization` header names, if it is one of ours, whatever else is wrong with it:
/// the challenge that carries the error of a refusal.
pub fn scheme_in<'a>(mut values: impl Iterator<Item = &'a [u8]>) -> Option<Scheme> {
    let first = values.next()?;
    let scheme = first.split(|b| *b == b' ').next()?;
    if scheme.eq_ignore_ascii_case(b"bearer") {
        Some(Scheme::Bearer)
    } else if scheme.eq_ignore_ascii_case(b"dpop") {
        Some(Scheme::Dpop)
    } else {
        None
    }
}

/// [`bearer_in`] for the `schemes` a request may use: the scheme and the token.
pub fn credential_in<'a>(
    mut values: impl Iterator<Item = &'a [u8]>,
    schemes: Schemes,
) -> Result<(Scheme, &'a str), AuthError> {
    let bytes = values.next().ok_or(AuthError::MissingHeader)?;
    if values.next().is_some() {
        return Err(AuthError::InvalidHeader("only one Authorization header is allowed"));
    }
    if bytes.is_empty() {
        return Err(AuthError::MissingHeader);
    }
    if bytes.len() > MAX_AUTHORIZATION_BYTES {
        return Err(AuthError::InvalidHeader("Authorization header is too long"));
    }
    // A well-formed header is a scheme, one space and a token whose bytes are all token bytes, which are
    // printable and not a space: one pass over the token settles every check below but the scheme's.
    if let Some(at) = bytes.iter().position(|&b| b == b' ')
        && let (scheme, token) = (&bytes[..at], &bytes[at + 1..])
        && !token.is_empty()
        && ByteClass::PRINTABLE.holds(scheme)
        && ByteClass::TOKEN.holds(token)
        && let (Ok(scheme), Ok(token)) = (std::str::from_utf8(scheme), std::str::from_utf8(token))
    {
        return Ok((scheme_named(scheme, schemes)?, token));
    }
    // Anything else: each check in turn, for the first error it has.
    if !ByteClass::PRINTABLE.holds(bytes) {
        return Err(AuthError::InvalidHeader("Authorization header must be printable ASCII"));
    }
    // Every byte is ASCII, so this cannot fail.
    let header = std::str::from_utf8(bytes)
        .map_err(|_| AuthError::InvalidHeader("Authorization header must be printable ASCII"))?;

    let (scheme, token) = header.split_once(' ').unwrap_or((header, ""));
    let scheme = scheme_named(scheme, schemes)?;
    if token.is_empty() {
        return Err(AuthError::InvalidHeader("Token not found"));
    }
    if token.contains(' ') {
        return Err(AuthError::InvalidHeader(BEARER_SHAPE));
    }
    if !ByteClass::TOKEN.holds(token.as_bytes()) {
        return Err(AuthError::InvalidHeader("token must be base64url segments separated by dots"));
    }
    Ok((scheme, token))
}

/// The scheme `name` (case-insensitive) if the request may use it.
fn scheme_named(name: &str, schemes: Schemes) -> Result<Scheme, AuthError> {
    match schemes {
        Schemes::Bearer | Schemes::BearerOrDpop if name.eq_ignore_ascii_case("bearer") => Ok(Scheme::Bearer),
        Schemes::Dpop | Schemes::BearerOrDpop if name.eq_ignore_ascii_case("dpop") => Ok(Scheme::Dpop),
        Schemes::Bearer => Err(AuthError::InvalidHeader("Authorization header must start with Bearer")),
        Schemes::BearerOrDpop => Err(AuthError::InvalidHeader("Authorization header must start with Bearer or DPoP")),
        Schemes::Dpop => Err(AuthError::InvalidHeader("Authorization header must start with DPoP")),
    }
}

/// The bytes a header value may hold, as a table: the bearer header is the longest input of a request, so
/// each byte costs one load and no branch. (The crate is built for size, `opt-level = "s"`,
/// which does not vectorise loops: a branch-free comparison chain measured four times slower than the table.)
struct ByteClass([bool; 256]);

impl ByteClass {
    /// Visible ASCII and the space (RFC 9110 field values, without obs-text).
    const PRINTABLE: Self = Self::new(false);
    /// RFC 6750 §2.1 `b64token` as Auth0 issues it: base64url segments separated by dots.
    const TOKEN: Self = Self::new(true);

    const fn new(token: bool) -> Self {
        let mut table = [false; 256];
        let mut at = 0;
        while at < 256 {
            let b = at as u8;
            table[at] = if token {
                b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.'
            } else {
                b >= 0x20 && b < 0x7f
            };
            at += 1;
        }
        Self(table)
    }

    fn holds(&self, bytes: &[u8]) -> bool {
        bytes.iter().fold(true, |all, &b| all & self.0[usize::from(b)])
    }
}

/// Verifies bearer tokens: the verifier's checks with the key [`KeySource`] chooses. Built once.
#[derive(Debug)]
pub struct Authenticator {
    verifier: Verifier,
    keys: KeySource,
    dpop: Option<Dpop>,
}

impl Authenticator {
    /// An authenticator for `verifier`'s policy with the key material of `keys`, Bearer tokens only.
    pub fn new(verifier: Verifier, keys: KeySource) -> Self {
        Self { verifier, keys, dpop: None }
    }

    /// The same, taking DPoP-bound tokens as `dpop` says.
    pub fn with_dpop(mut self, dpop: Option<Dpop>) -> Self {
        self.dpop = dpop;
        self
    }

    /// The authenticator a validated configuration describes: the verifier for its policy, the HMAC keys of
    /// its secret, and the JWKS key store (seeded with the supplied key set, if any) when a JWKS URL is
    /// configured. No I/O, and no TLS client yet: the first fetch makes it ([`Authenticator::prefetch_keys`];
    /// with a supplied key set, the first unknown `kid` or refresh).
    pub fn from_config(config: &Config) -> Result<Self, ConfigError> {
        let jwks = match &config.jwks_url {
            None => None,
            Some(url) => {
                let client = Box::new(HttpJwksClient::new(url.clone(), config.trust.clone()));
                Some(match &config.supplied_keys {
                    Some(keys) => {
                        KeyStore::with_keys(client, config.key_policy, &config.algorithms, keys.clone(), Instant::now())
                    }
                    None => KeyStore::new(client, config.key_policy, &config.algorithms),
                })
            }
        };
        let keys = KeySource::new(config.hmac_secret.as_deref(), &config.algorithms, jwks);
        let dpop = match (Dpop::new(&config.dpop, config.leeway), &config.dpop.replay_table) {
            (Some(dpop), Some(table)) => {
                Some(dpop.with_table(ReplayTable::from_environment(table.clone(), config.trust.clone())))
            }
            (dpop, _) => dpop,
        };
        Ok(Self::new(Verifier::new(config.policy()), keys).with_dpop(dpop))
    }

    /// The cold-start JWKS fetch, when a JWKS is configured: bounded by the fetch timeout; a failure leaves
    /// the instance serving (it fetches again on the first request that needs a key).
    pub async fn prefetch_keys(&self) -> Prefetch {
        self.keys.prefetch().await
    }

    /// The JWKS key store, when one is configured.
    pub fn keys(&self) -> Option<&KeyStore> {
        self.keys.jwks()
    }

    /// The DPoP verifier, when DPoP is allowed or required.
    pub fn dpop(&self) -> Option<&Dpop> {
        self.dpop.as_ref()
    }

    /// The schemes a request may use.
    pub fn schemes(&self) -> Schemes {
        match self.dpop.as_ref().map(Dpop::mode) {
            None | Some(Mode::Off) => Schemes::Bearer,
            Some(Mode::Allowed) => Schemes::BearerOrDpop,
            Some(Mode::Required) => Schemes::Dpop,
        }
    }

    /// Authenticates a request from its `Authorization` header values, its `DPoP` proof header, and where
    /// it was sent: a Bearer token, or, when DPoP is on, a DPoP-bound token with its proof. A DPoP-bound
    /// token sent as Bearer, and a Bearer token sent with a proof, are refused (no downgrade). With DPoP off
    /// the `DPoP` header is not read, and a DPoP-bound token is refused all the same.
    pub async fn authenticate<'a>(
        &self,
        authorization: impl Iterator<Item = &'a [u8]>,
        proof: ProofHeader<'_>,
        target: &Target<'_>,
    ) -> Result<Claims, AuthError> {
        let Some(dpop) = &self.dpop else {
            let claims = self.claims_for(bearer_in(authorization)?).await?;
            // RFC 9449 §7.2: a DPoP-bound token is only good with a proof, which this API does not take.
            if claims.binding() == Binding::Dpop {
                return Err(AuthError::InvalidToken(
                    "token is DPoP-bound, and this API does not take DPoP proofs (AUTH0_DPOP is off)",
                ));
            }
            return Ok(claims);
        };
        match credential_in(authorization, self.schemes())? {
            (Scheme::Bearer, token) => {
                if proof != ProofHeader::Missing {
                    return Err(AuthError::InvalidHeader("a DPoP proof goes with Authorization: DPoP, not Bearer"));
                }
                let claims = self.claims_for(token).await?;
                if claims.binding() != Binding::None {
                    return Err(AuthError::InvalidToken(
                        "token is DPoP-bound: send it as Authorization: DPoP with a DPoP proof",
                    ));
                }
                Ok(claims)
            }
            (Scheme::Dpop, token) => {
                let claims = self.claims_for(token).await?;
                dpop.check(proof, token, &claims, target, unix_now()).await?;
                Ok(claims)
            }
        }
    }

    /// Verifies `token` and returns its claims, with the key [`KeySource`] chooses for its algorithm.
    pub async fn claims_for(&self, token: &str) -> Result<Claims, AuthError> {
        let token = self.verifier.parse(token)?;
        let key = self.keys.key_for(&token).await?;
        // The time is read after the key: a JWKS fetch may have taken up to its timeout.
        self.verifier.finish(token, key.key(), unix_now())
    }
}

/// Seconds since the epoch.
pub fn unix_now() -> u64 {
    // A clock before 1970 is not a state a Lambda sandbox can be in; 0 would then reject every token.
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(values: &[&[u8]]) -> Result<String, AuthError> {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(AUTHORIZATION, HeaderValue::from_bytes(value).unwrap());
        }
        bearer_token(&headers).map(str::to_owned)
    }

    fn reason(values: &[&[u8]]) -> AuthError {
        parse(values).expect_err("header was accepted")
    }

    #[test]
    fn bearer_token_is_extracted() {
        assert_eq!(parse(&[b"Bearer a.b.c"]).unwrap(), "a.b.c");
    }

    #[test]
    fn scheme_is_case_insensitive() {
        assert_eq!(parse(&[b"bearer a.b.c"]).unwrap(), "a.b.c");
        assert_eq!(parse(&[b"BEARER a-_.b.c"]).unwrap(), "a-_.b.c");
    }

    #[test]
    fn missing_header_is_authorization_header_missing() {
        assert_eq!(reason(&[]), AuthError::MissingHeader);
        assert_eq!(reason(&[b""]), AuthError::MissingHeader);
    }

    #[test]
    fn another_scheme_is_invalid_header() {
        assert_eq!(
            reason(&[b"Basic dXNlcjpwYXNz"]),
            AuthError::InvalidHeader("Authorization header must start with Bearer")
        );
        assert_eq!(reason(&[b"Bearer_a.b.c"]), AuthError::InvalidHeader("Authorization header must start with Bearer"));
        assert_eq!(reason(&[b"a.b.c"]), AuthError::InvalidHeader("Authorization header must start with Bearer"));
    }

    #[test]
    fn bearer_alone_is_token_not_found() {
        assert_eq!(reason(&[b"Bearer"]), AuthError::InvalidHeader("Token not found"));
        assert_eq!(reason(&[b"Bearer "]), AuthError::InvalidHeader("Token not found"));
    }

    #[test]
    fn extra_parts_are_invalid_header() {
        let extra = AuthError::InvalidHeader(BEARER_SHAPE);
        assert_eq!(reason(&[b"Bearer a.b.c d"]), extra);
        assert_eq!(reason(&[b"Bearer  a.b.c"]), extra);
        assert_eq!(reason(&[b"Bearer a.b.c "]), extra);
    }

    #[test]
    fn several_authorization_headers_are_invalid_header() {
        assert_eq!(reason(&[b"Bearer a.b.c", b"Bearer d.e.f"]).code(), "invalid_header");
    }

    #[test]
    fn headers_joined_with_a_comma_are_invalid_header() {
        assert_eq!(reason(&[b"Bearer a.b.c,Bearer d.e.f"]).code(), "invalid_header");
        assert_eq!(reason(&[b"Bearer a.b.c, Bearer d.e.f"]).code(), "invalid_header");
    }

    #[test]
    fn control_characters_are_invalid_header() {
        // A tab is the only control character an HTTP header value can carry.
        let printable = AuthError::InvalidHeader("Authorization header must be printable ASCII");
        assert_eq!(reason(&[b"Bearer\ta.b.c"]), printable);
        assert_eq!(reason(&[b"Bearer a.b.c\t"]), printable);
    }

    #[test]
    fn non_ascii_is_invalid_header() {
        assert_eq!(
            reason(&["Bearer a.b.\u{e9}".as_bytes()]),
            AuthError::InvalidHeader("Authorization header must be printable ASCII")
        );
    }

    #[test]
    fn characters_outside_base64url_are_invalid_header() {
        for token in [&b"Bearer a.b.c="[..], b"Bearer a+b.c.d", b"Bearer a/b.c.d", b"Bearer \"a.b.c\""] {
            assert_eq!(
                reason(&[token]),
                AuthError::InvalidHeader("token must be base64url segments separated by dots")
            );
        }
    }

    #[test]
    fn header_over_8_kib_is_invalid_header_before_decoding() {
        let mut long = b"Bearer ".to_vec();
        long.resize(MAX_AUTHORIZATION_BYTES + 1, b'a');
        assert_eq!(reason(&[&long]), AuthError::InvalidHeader("Authorization header is too long"));
        long.truncate(MAX_AUTHORIZATION_BYTES);
        assert!(parse(&[&long]).is_ok());
    }

    /// The configuration these variables describe, which must be valid.
    fn config_of(vars: &[(&str, &str)]) -> Config {
        Config::from_lookup(|name| vars.iter().find(|(n, _)| *n == name).map(|(_, v)| v.to_string())).unwrap()
    }

    #[tokio::test]
    async fn the_tls_client_is_made_on_the_first_fetch_not_at_cold_start() {
        let supplied = r#"{"keys": [{"kty": "RSA", "kid": "k1", "use": "sig", "n": "sXch", "e": "AQAB"}]}"#;
        let vars = [
            ("AUTH0_AUDIENCE", "a"),
            ("AUTH0_ISSUER", "https://t.auth0.com/"),
            // Nothing listens on port 1: the fetch fails, after the client is made.
            ("AUTH0_JWKS_URL", "https://127.0.0.1:1/.well-known/jwks.json"),
            ("AUTH0_JWKS", supplied),
        ];
        let config = config_of(&vars);
        let authenticator = Authenticator::from_config(&config).unwrap();
        // The cold start's prefetch is satisfied by the supplied keys.
        assert_eq!(authenticator.prefetch_keys().await, Prefetch::Fetched { keys: 1 });
        assert!(!config.trust.is_built(), "a start with a supplied key set built the TLS client");
        // A kid the supplied set lacks is fetched at once.
        let key = authenticator.keys().unwrap().key_for("k2", jsonwebtoken::Algorithm::RS256, Instant::now()).await;
        assert!(matches!(key, Err(crate::jwks::KeyError::Unavailable { .. })), "{key:?}");
        assert!(config.trust.is_built(), "the fetch did not use the configuration's trust");
    }

    #[test]
    fn a_replay_table_makes_no_tls_client_at_cold_start() {
        let vars = [
            ("AUTH0_AUDIENCE", "a"),
            ("AUTH0_ISSUER", "https://t.auth0.com/"),
            ("AUTH0_CLIENT_SECRET", "a-secret-of-at-least-thirty-two-bytes-0123"),
            ("AUTH0_DPOP", "allowed"),
            ("AUTH0_DPOP_REPLAY_TABLE", "auth0-dpop-replay"),
        ];
        let config = config_of(&vars);
        assert_eq!(config.dpop.replay_table.as_deref(), Some("auth0-dpop-replay"));
        Authenticator::from_config(&config).unwrap();
        assert!(!config.trust.is_built(), "a replay table built the TLS client before its first proof");
    }
}
