//! DPoP (RFC 9449): sender-constrained access tokens. A DPoP-bound token (its `cnf.jkt` names a key) is sent
//! as `Authorization: DPoP <token>` with a `DPoP` header holding a proof: a JWT the client signs, for this
//! request, with the key the token is bound to. A stolen token is useless without that key.
//!
//! - [`proof`]: one proof read and checked against its request (pure).
//! - [`nonce`]: stateless server nonces.
//! - [`replay`]: the instance's cache of proofs already used.
//! - [`table`]: the replay table every instance shares (DynamoDB), when configured.
//! - [`client`]: the client's side (a key, proofs), for `mint-token` and the tests.

pub mod client;
pub mod nonce;
pub mod proof;
pub mod replay;
pub mod table;

use jsonwebtoken::Algorithm;

use crate::claims::Claims;
use crate::config::{ConfigError, MIN_SECRET_BYTES, invalid, var};
use crate::error::AuthError;
pub use nonce::Nonces;
pub use proof::{Expected, Proof, normalize_url};
pub use replay::{ReplayCache, Seen, proof_id};
pub use table::{ReplayTable, TableError};

/// Which tokens the API takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Bearer tokens only; a `DPoP` header is ignored (the default).
    Off,
    /// Bearer tokens and DPoP-bound tokens with their proofs; a DPoP-bound token is never taken as Bearer.
    Allowed,
    /// DPoP-bound tokens with their proofs only.
    Required,
}

/// Proof algorithms accepted by default: every asymmetric algorithm of the key module, strongest first as
/// clients read `algs` in order.
pub const DEFAULT_ALGORITHMS: &[Algorithm] = &[
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
];

/// Default and largest accepted proof age, seconds (from the proof's `iat`).
pub const DEFAULT_PROOF_MAX_AGE_SECONDS: u64 = 300;
const MAX_PROOF_MAX_AGE_SECONDS: u64 = 3600;

/// The DPoP settings, read at cold start.
#[derive(Clone, PartialEq, Eq)]
pub struct Settings {
    /// `AUTH0_DPOP`: `off`, `allowed` or `required`.
    pub mode: Mode,
    /// `AUTH0_DPOP_ALGORITHMS`: the proof algorithms accepted (asymmetric only).
    pub algorithms: Vec<Algorithm>,
    /// `AUTH0_DPOP_PROOF_MAX_AGE_SECONDS`: the oldest proof accepted, from its `iat`.
    pub max_age: u64,
    /// `AUTH0_DPOP_PUBLIC_URL`: the API's public base URL (custom domain, base path), normalised, without a
    /// trailing `/`; `htu` is it plus the route's path. Unset, `htu` is the URL the request was sent to.
    pub public_url: Option<String>,
    /// `AUTH0_DPOP_NONCE_SECRET`: when set, proofs must carry a server nonce made with it.
    pub nonce_secret: Option<Vec<u8>>,
    /// `AUTH0_DPOP_REPLAY_TABLE`: the DynamoDB table (name or ARN) every instance records proofs in.
    pub replay_table: Option<String>,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("mode", &self.mode)
            .field("algorithms", &self.algorithms)
            .field("max_age", &self.max_age)
            .field("public_url", &self.public_url)
            .field("nonce_secret", &self.nonce_secret.as_ref().map(|_| "[redacted]"))
            .field("replay_table", &self.replay_table)
            .finish()
    }
}

impl Settings {
    /// Reads the DPoP variables through `get` (unset or empty: `None`). A DPoP setting beside `AUTH0_DPOP=off`
    /// is an error: it would silently do nothing.
    pub fn read(get: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mode = match get(var::DPOP).as_deref().map(str::trim).map(str::to_ascii_lowercase).as_deref() {
            None | Some("off") => Mode::Off,
            Some("allowed") => Mode::Allowed,
            Some("required") => Mode::Required,
            Some(_) => return Err(invalid(var::DPOP, "must be `off`, `allowed` or `required`")),
        };
        if mode == Mode::Off {
            let stray =
                [var::DPOP_ALGORITHMS, var::DPOP_PROOF_MAX_AGE_SECONDS, var::DPOP_PUBLIC_URL, var::DPOP_NONCE_SECRET]
                    .into_iter()
                    .find(|name| get(name).is_some());
            if let Some(name) = stray {
                return Err(invalid(name, "has no effect unless AUTH0_DPOP is `allowed` or `required`"));
            }
            return Ok(Self::off());
        }
        let algorithms = match get(var::DPOP_ALGORITHMS) {
            None => DEFAULT_ALGORITHMS.to_vec(),
            Some(text) => {
                let mut algorithms = Vec::new();
                for name in text.split([',', ' ']).map(str::trim).filter(|name| !name.is_empty()) {
                    let algorithm = name
                        .parse::<Algorithm>()
                        .ok()
                        .filter(|algorithm| DEFAULT_ALGORITHMS.contains(algorithm))
                        .ok_or_else(|| {
                            invalid(
                                var::DPOP_ALGORITHMS,
                                format!("`{name}` is not an asymmetric JWS algorithm (ES256, ES384, EdDSA, PS*, RS*)"),
                            )
                        })?;
                    if !algorithms.contains(&algorithm) {
                        algorithms.push(algorithm);
                    }
                }
                if algorithms.is_empty() {
                    return Err(invalid(var::DPOP_ALGORITHMS, "names no algorithm"));
                }
                algorithms
            }
        };
        let max_age = match get(var::DPOP_PROOF_MAX_AGE_SECONDS) {
            None => DEFAULT_PROOF_MAX_AGE_SECONDS,
            Some(text) => {
                text.trim()
                    .parse::<u64>()
                    .ok()
                    .filter(|age| (1..=MAX_PROOF_MAX_AGE_SECONDS).contains(age))
                    .ok_or_else(|| invalid(var::DPOP_PROOF_MAX_AGE_SECONDS, "must be whole seconds from 1 to 3600"))?
            }
        };
        let public_url = get(var::DPOP_PUBLIC_URL)
            .map(|text| {
                let text = text.trim();
                if text.contains(['?', '#']) {
                    return Err(invalid(var::DPOP_PUBLIC_URL, "must not have a query or a fragment"));
                }
                normalize_url(text).map(|url| url.trim_end_matches('/').to_owned()).ok_or_else(|| {
                    invalid(
                        var::DPOP_PUBLIC_URL,
                        "must be an absolute https:// URL, such as https://api.example.com/v1",
                    )
                })
            })
            .transpose()?;
        let nonce_secret = get(var::DPOP_NONCE_SECRET)
            .map(|secret| {
                let secret = secret.trim().as_bytes().to_vec();
                if secret.len() < MIN_SECRET_BYTES {
                    return Err(invalid(var::DPOP_NONCE_SECRET, format!("must be at least {MIN_SECRET_BYTES} bytes")));
                }
                Ok(secret)
            })
            .transpose()?;
        let replay_table = get(var::DPOP_REPLAY_TABLE).map(|text| replay_table(text.trim())).transpose()?;
        Ok(Self { mode, algorithms, max_age, public_url, nonce_secret, replay_table })
    }

    /// The JOSE names of the proof algorithms accepted, in the order `algs` lists them; none when DPoP is off.
    /// What the challenge's `algs` and the RFC 9728 metadata name.
    pub fn algorithm_names(&self) -> Vec<String> {
        if self.mode == Mode::Off {
            return Vec::new();
        }
        // jsonwebtoken's Debug of an algorithm is its JOSE name (`ES256`, `EdDSA`).
        self.algorithms.iter().map(|algorithm| format!("{algorithm:?}")).collect()
    }

    /// DPoP off.
    pub fn off() -> Self {
        Self {
            mode: Mode::Off,
            algorithms: Vec::new(),
            max_age: 0,
            public_url: None,
            nonce_secret: None,
            replay_table: None,
        }
    }
}

/// A DynamoDB table name (3–255 of `A-Z a-z 0-9 _ - .`) or table ARN.
fn replay_table(text: &str) -> Result<String, ConfigError> {
    let name = match text.strip_prefix("arn:") {
        Some(_) => {
            let parts: Vec<&str> = text.splitn(6, ':').collect();
            match parts.as_slice() {
                [_, _, "dynamodb", region, account, resource] if !region.is_empty() && !account.is_empty() => {
                    resource.strip_prefix("table/").unwrap_or_default()
                }
                _ => "",
            }
        }
        None => text,
    };
    let valid = (3..=255).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if !valid {
        return Err(invalid(
            var::DPOP_REPLAY_TABLE,
            "must be a DynamoDB table name (3 to 255 of A-Z a-z 0-9 _ - .) or a table ARN",
        ));
    }
    Ok(text.to_owned())
}

/// The `DPoP` header values of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProofHeader<'a> {
    /// None, or an empty one.
    Missing,
    /// Exactly one.
    One(&'a [u8]),
    /// Several (or one holding a comma, as HTTP APIs join repeated headers).
    Several,
}

impl<'a> ProofHeader<'a> {
    /// Reads the values of every `DPoP` header of a request.
    pub fn from_values(mut values: impl Iterator<Item = &'a [u8]>) -> Self {
        match (values.next(), values.next()) {
            (None, _) => Self::Missing,
            (Some(_), Some(_)) => Self::Several,
            (Some(value), None) if value.contains(&b',') => Self::Several,
            (Some(value), None) if value.iter().all(u8::is_ascii_whitespace) => Self::Missing,
            (Some(value), None) => Self::One(value),
        }
    }
}

/// Where a request was sent, as far as the front door knows it: what `htu` is compared with. The default is
/// nowhere, for a front door whose DPoP is off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Target<'a> {
    /// The method (`htm`).
    pub method: &'a str,
    /// `X-Forwarded-Proto`, which API Gateway, Function URLs and load balancers set; `https` when absent.
    pub scheme: Option<&'a str>,
    /// The `Host` header.
    pub host: Option<&'a str>,
    /// The path the client sent, stage included (REST APIs and named HTTP API stages put it in the URL).
    pub path: &'a str,
    /// The route's path, without the stage: what follows the configured public URL.
    pub route_path: &'a str,
}

/// Verifies DPoP proofs for the authenticator: its settings, nonces and replay cache, built once.
#[derive(Debug)]
pub struct Dpop {
    settings: Settings,
    leeway: u64,
    nonces: Option<Nonces>,
    replay: ReplayCache,
    table: Option<ReplayTable>,
}

impl Dpop {
    /// The verifier of `settings`, with the tokens' clock leeway. `None` when DPoP is off.
    pub fn new(settings: &Settings, leeway: u64) -> Option<Self> {
        if settings.mode == Mode::Off {
            return None;
        }
        Some(Self {
            settings: settings.clone(),
            leeway,
            nonces: settings.nonce_secret.as_deref().map(Nonces::new),
            replay: ReplayCache::default(),
            table: None,
        })
    }

    /// The same, recording each proof in `table` too, which every instance shares.
    pub fn with_table(mut self, table: ReplayTable) -> Self {
        self.table = Some(table);
        self
    }

    /// Allowed or required.
    pub fn mode(&self) -> Mode {
        self.settings.mode
    }

    /// The nonce a client should use now, when nonces are on.
    pub fn nonce(&self, now: u64) -> Option<String> {
        self.nonces.as_ref().map(|nonces| nonces.current(now))
    }

    /// Checks the proof of a DPoP request whose token verified as `claims`: the proof itself, its binding to
    /// the token (`cnf.jkt`), the nonce, and last, once everything else holds, that it was not used before:
    /// by this instance (its cache), then by any (the shared table, when configured).
    pub async fn check(
        &self,
        proof: ProofHeader<'_>,
        token: &str,
        claims: &Claims,
        target: &Target<'_>,
        now: u64,
    ) -> Result<(), AuthError> {
        let proof = match proof {
            ProofHeader::One(proof) => proof,
            ProofHeader::Missing => return Err(AuthError::InvalidProof("DPoP proof header is missing")),
            ProofHeader::Several => return Err(AuthError::InvalidProof("only one DPoP proof header is allowed")),
        };
        let proof = std::str::from_utf8(proof)
            .ok()
            .filter(|proof| proof.bytes().all(|b| b.is_ascii_graphic()))
            .ok_or(AuthError::InvalidProof("DPoP proof is not a JWT"))?;
        let jkt = bound_key(claims).ok_or(AuthError::InvalidToken(
            "token is not DPoP-bound (it has no cnf.jkt): send it as Authorization: Bearer",
        ))?;
        let url = self
            .url(target)
            .ok_or(AuthError::InvalidProof("the request's URL is unknown, so htu cannot be checked"))?;
        let expected = Expected {
            method: target.method,
            url: &url,
            token,
            algorithms: &self.settings.algorithms,
            max_age: self.settings.max_age,
            leeway: self.leeway,
            now,
        };
        let proof = proof::check(proof, &expected)?;
        if proof.thumbprint != jkt {
            return Err(AuthError::InvalidProof("DPoP proof is not signed with the key the token is bound to"));
        }
        if let Some(nonces) = &self.nonces
            && !proof.nonce.as_deref().is_some_and(|nonce| nonces.accepts(nonce, now))
        {
            return Err(AuthError::NonceRequired);
        }
        let replayed = AuthError::InvalidProof("DPoP proof was used before (jti)");
        let id = proof_id(&proof.thumbprint, &proof.jti);
        match self.replay.record(id, proof.valid_until, now) {
            Seen::First => {}
            Seen::Again => return Err(replayed),
            Seen::Full => return Err(AuthError::ReplayCheckUnavailable { retry_after: 1 }),
        }
        let Some(table) = &self.table else {
            return Ok(());
        };
        // Boxed: the table's first write builds its AWS client, a future of several kilobytes that would
        // otherwise be part of every request's future, DPoP or not, moved and probed on the stack each time.
        match Box::pin(table.record(&id, proof.valid_until, now)).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(replayed),
            Err(error) => {
                // Not seen here after all: the client may send the same proof again once the table answers.
                self.replay.forget(&id);
                tracing::warn!(reason = error.reason(), "DPoP replay table gave no answer; the request is refused");
                Err(AuthError::ReplayCheckUnavailable { retry_after: 1 })
            }
        }
    }

    /// The `htu` a proof for `target` must have: the public URL plus the route's path, or the URL the
    /// request was sent to.
    pub fn url(&self, target: &Target<'_>) -> Option<String> {
        match &self.settings.public_url {
            Some(base) => {
                // Behind a base path mapping (`https://api.example.com/v1`) API Gateway may hand the path on
                // with the base path in it, or without: either way the URL is the base plus the route.
                let authority_and_path = base.split_once("://").map_or(base.as_str(), |(_, rest)| rest);
                let base_path = authority_and_path.find('/').map_or("", |at| &authority_and_path[at..]);
                let route = target
                    .route_path
                    .strip_prefix(base_path)
                    .filter(|rest| !base_path.is_empty() && (rest.is_empty() || rest.starts_with('/')))
                    .unwrap_or(target.route_path);
                normalize_url(&format!("{base}{route}"))
            }
            None => {
                let scheme = target.scheme.unwrap_or("https");
                normalize_url(&format!("{scheme}://{}{}", target.host?, target.path))
            }
        }
    }
}

/// The token's `cnf.jkt`: the thumbprint of the key it is bound to (RFC 9449 §6.1).
pub fn bound_key(claims: &Claims) -> Option<&str> {
    claims.get("cnf")?.get("jkt")?.as_str()
}
