//! Both key sources behind one type: the shared secret's HMAC keys for HS* tokens, the issuer's JWKS for every
//! other algorithm. The key for a token is chosen here and nowhere else, by the algorithm the verifier has
//! already checked against the allow-list, so the token cannot choose its key material: an HS* token never
//! meets a JWKS key (nor a public key used as an HMAC secret), and no other token ever meets the secret.

use std::sync::Arc;
use std::time::Instant;

use jsonwebtoken::{Algorithm, AlgorithmFamily};

use crate::error::AuthError;
use crate::jwks::{FetchError, Jwk, KeyError, KeyStore};
use crate::key::VerifyingKey;
use crate::verify::Unverified;

/// The key material a verifier may use.
#[derive(Debug)]
pub struct KeySource {
    /// The shared secret's key for each HS* algorithm of the policy (`Debug` shows the algorithms only).
    hmac: Vec<VerifyingKey>,
    /// The issuer's keys, when a JWKS is configured.
    jwks: Option<KeyStore>,
}

/// What the cold-start JWKS fetch did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prefetch {
    /// No JWKS is configured: nothing to fetch.
    NoJwks,
    /// The store holds this many usable keys (fetched now, or supplied with the deployment).
    Fetched {
        /// How many.
        keys: usize,
    },
    /// The fetch failed; the instance serves on and fetches again on first need.
    Failed(FetchError),
}

/// The key chosen for one token: borrowed from the secret's keys, or shared with the JWKS cache.
#[derive(Debug)]
pub enum ChosenKey<'a> {
    /// One of the shared secret's HMAC keys.
    Secret(&'a VerifyingKey),
    /// A key of the issuer's JWKS.
    Jwks(Arc<Jwk>),
}

impl ChosenKey<'_> {
    /// The key itself.
    pub fn key(&self) -> &VerifyingKey {
        match self {
            Self::Secret(key) => key,
            Self::Jwks(jwk) => jwk.key(),
        }
    }
}

impl KeySource {
    /// A key source with `hmac_secret` (raw key bytes) for the HS* algorithms among `algorithms`, one key made
    /// for each now, and `jwks` for the others.
    pub fn new(hmac_secret: Option<&[u8]>, algorithms: &[Algorithm], jwks: Option<KeyStore>) -> Self {
        let hmac = hmac_secret
            .map(|secret| algorithms.iter().filter_map(|algorithm| VerifyingKey::hmac(*algorithm, secret)).collect())
            .unwrap_or_default();
        Self { hmac, jwks }
    }

    /// The key for `token`: the secret's key for its HS* algorithm, or the JWKS key with its `kid` for its
    /// algorithm (fetching the JWKS when the store's policy allows). `invalid_algorithm` when the source its
    /// algorithm belongs to is not configured, `unknown_key` when no key matches, `jwks_unavailable` when the
    /// keys cannot be had now.
    pub async fn key_for(&self, token: &Unverified<'_>) -> Result<ChosenKey<'_>, AuthError> {
        let algorithm = token.algorithm();
        if algorithm.family() == AlgorithmFamily::Hmac {
            let key = self.hmac.iter().find(|key| key.algorithm() == algorithm);
            return key.map(ChosenKey::Secret).ok_or(AuthError::InvalidAlgorithm);
        }
        let store = self.jwks.as_ref().ok_or(AuthError::InvalidAlgorithm)?;
        let kid = token.kid().ok_or(AuthError::UnknownKey)?;
        match store.key_for(kid, algorithm, Instant::now()).await {
            Ok(jwk) => Ok(ChosenKey::Jwks(jwk)),
            Err(KeyError::Unknown) => Err(AuthError::UnknownKey),
            Err(KeyError::Unavailable { retry_after }) => Err(AuthError::KeysUnavailable { retry_after }),
        }
    }

    /// The JWKS key store, when one is configured.
    pub fn jwks(&self) -> Option<&KeyStore> {
        self.jwks.as_ref()
    }

    /// The cold-start JWKS fetch, when a JWKS is configured.
    pub async fn prefetch(&self) -> Prefetch {
        match &self.jwks {
            None => Prefetch::NoJwks,
            Some(store) => match store.prefetch().await {
                Ok(keys) => Prefetch::Fetched { keys },
                Err(error) => Prefetch::Failed(error),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::pin::Pin;

    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use hyper::body::Bytes;
    use serde_json::json;

    use super::*;
    use crate::jwks::{JwksClient, KeyPolicy, KeySet};
    use crate::verify::{Policy, Verifier};

    const SECRET: &[u8] = b"an-hmac-secret-of-at-least-thirty-two-bytes";

    /// A JWKS server that serves one document.
    struct Serving(String);

    impl JwksClient for Serving {
        fn fetch(&self) -> Pin<Box<dyn Future<Output = Result<Bytes, FetchError>> + Send + '_>> {
            Box::pin(async { Ok(Bytes::from(self.0.clone())) })
        }
    }

    /// A store holding one P-256 key, `kid` `ec`, and serving the same JWKS when asked.
    fn store(algorithms: &[Algorithm]) -> KeyStore {
        use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
        let key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
        let (x, y) = key.public_key().as_ref()[1..].split_at(32);
        let document = json!({"keys": [
            {"kty": "EC", "kid": "ec", "crv": "P-256", "x": URL_SAFE_NO_PAD.encode(x), "y": URL_SAFE_NO_PAD.encode(y)},
        ]});
        let keys = KeySet::from_json(document.to_string().as_bytes(), algorithms).unwrap();
        KeyStore::with_keys(
            Box::new(Serving(document.to_string())),
            KeyPolicy::default(),
            algorithms,
            keys,
            Instant::now(),
        )
    }

    fn header(alg: &str, kid: Option<&str>) -> String {
        let header = match kid {
            Some(kid) => json!({"alg": alg, "kid": kid}),
            None => json!({"alg": alg}),
        };
        format!("{}.e30.c2ln", URL_SAFE_NO_PAD.encode(header.to_string()))
    }

    /// The key `source` chooses for a token with this header, under a policy accepting `algorithms`.
    fn chosen(
        source: &KeySource,
        algorithms: &[Algorithm],
        alg: &str,
        kid: Option<&str>,
    ) -> Result<Algorithm, AuthError> {
        let mut policy = Policy::new(vec!["aud".into()]);
        policy.algorithms = algorithms.to_vec();
        let verifier = Verifier::new(policy);
        let token = header(alg, kid);
        let token = verifier.parse(&token)?;
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(source.key_for(&token)).map(|key| key.key().algorithm())
    }

    #[test]
    fn each_algorithm_gets_a_key_of_its_own_source_and_exactly_its_algorithm() {
        let algorithms = [Algorithm::HS256, Algorithm::HS512, Algorithm::ES256];
        let both = KeySource::new(Some(&[7u8; 64]), &algorithms, Some(store(&algorithms)));
        assert_eq!(chosen(&both, &algorithms, "HS256", None), Ok(Algorithm::HS256));
        assert_eq!(chosen(&both, &algorithms, "HS512", Some("ec")), Ok(Algorithm::HS512), "a kid does not matter");
        assert_eq!(chosen(&both, &algorithms, "ES256", Some("ec")), Ok(Algorithm::ES256));
        assert_eq!(chosen(&both, &algorithms, "ES256", Some("other")), Err(AuthError::UnknownKey));
        assert_eq!(chosen(&both, &algorithms, "ES256", None), Err(AuthError::UnknownKey));
    }

    #[test]
    fn a_token_never_reaches_the_other_source() {
        let algorithms = [Algorithm::HS256, Algorithm::ES256];
        // HS256 with only a JWKS: its keys are never an HMAC secret.
        let jwks_only = KeySource::new(None, &algorithms, Some(store(&algorithms)));
        assert_eq!(chosen(&jwks_only, &algorithms, "HS256", Some("ec")), Err(AuthError::InvalidAlgorithm));
        // ES256 with only the secret: the secret never verifies it.
        let secret_only = KeySource::new(Some(SECRET), &algorithms, None);
        assert_eq!(chosen(&secret_only, &algorithms, "ES256", Some("ec")), Err(AuthError::InvalidAlgorithm));
        // An HS* algorithm the key source was not made for has no key, even with the secret.
        let accepted = [Algorithm::HS256, Algorithm::HS384];
        assert_eq!(chosen(&secret_only, &accepted, "HS384", None), Err(AuthError::InvalidAlgorithm));
    }
}
