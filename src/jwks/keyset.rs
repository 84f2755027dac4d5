//! Reading a JWKS document into the keys this API may verify with: pure, no I/O, with its own error.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Algorithm;
use serde::Deserialize;
use serde_json::Value;

use crate::key::VerifyingKey;

/// One usable verification key from a JWKS, parsed when the document was read.
#[derive(Debug)]
pub struct Jwk {
    kid: String,
    key: VerifyingKey,
}

impl Jwk {
    /// The key itself, bound to its one algorithm.
    pub fn key(&self) -> &VerifyingKey {
        &self.key
    }
}

/// Why a JWKS document gives no key set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySetError {
    /// It is not a JSON object with a `keys` array.
    NotAJwks,
    /// Every key was skipped: none is one this API can verify with.
    NoUsableKey,
}

impl std::fmt::Display for KeySetError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::NotAJwks => "not a JSON object with a keys array",
            Self::NoUsableKey => "no key this API can verify with",
        })
    }
}

impl std::error::Error for KeySetError {}

/// The usable keys of one JWKS document. Built purely from bytes: no I/O.
#[derive(Debug, Default, Clone)]
pub struct KeySet {
    keys: Vec<Arc<Jwk>>,
}

/// The members of a JWK that we read (RFC 7517 §4, RFC 7518 §6).
#[derive(Deserialize)]
struct JwkDocument {
    kty: String,
    kid: Option<String>,
    #[serde(rename = "use")]
    use_: Option<String>,
    key_ops: Option<Vec<String>>,
    alg: Option<String>,
    crv: Option<String>,
    n: Option<String>,
    e: Option<String>,
    x: Option<String>,
    y: Option<String>,
}

const RSA_ALGORITHMS: &[Algorithm] =
    &[Algorithm::RS256, Algorithm::RS384, Algorithm::RS512, Algorithm::PS256, Algorithm::PS384, Algorithm::PS512];

impl KeySet {
    /// Reads a JWKS document for a verifier that accepts `algorithms`. Each key verifies exactly one
    /// algorithm (RFC 8725 §3.1): its `alg`, or, for an RSA key without one, the one RSA algorithm of
    /// `algorithms` (EC and Ed25519 keys have one by their curve).
    ///
    /// Keys this API cannot or must not use are skipped, not fatal: a key without a `kid`, with a `use` other
    /// than `sig`, with `key_ops` lacking `verify`, of an unsupported type or curve, symmetric (`oct`: HMAC
    /// keys never come from a JWKS), whose `alg` disagrees with its type, or an RSA key without `alg` while
    /// `algorithms` holds none or several RSA algorithms (which one it is for cannot be known).
    pub fn from_json(document: &[u8], algorithms: &[Algorithm]) -> Result<Self, KeySetError> {
        #[derive(Deserialize)]
        struct Document {
            keys: Vec<Value>,
        }
        let document: Document = serde_json::from_slice(document).map_err(|_| KeySetError::NotAJwks)?;
        let keys: Vec<Arc<Jwk>> = document
            .keys
            .into_iter()
            .filter_map(|value| serde_json::from_value::<JwkDocument>(value).ok())
            .filter_map(|jwk| usable_key(jwk, algorithms))
            .map(Arc::new)
            .collect();
        if keys.is_empty() {
            return Err(KeySetError::NoUsableKey);
        }
        Ok(Self { keys })
    }

    /// The key with this `kid` that may verify `algorithm`.
    pub fn find(&self, kid: &str, algorithm: Algorithm) -> Option<&Arc<Jwk>> {
        self.keys.iter().find(|jwk| jwk.kid == kid && jwk.key.algorithm() == algorithm)
    }

    /// Whether some key of the set may verify `algorithm`.
    pub fn supports(&self, algorithm: Algorithm) -> bool {
        self.keys.iter().any(|jwk| jwk.key.algorithm() == algorithm)
    }

    /// How many usable keys the set holds.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the set holds no key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

fn usable_key(mut jwk: JwkDocument, accepted: &[Algorithm]) -> Option<Jwk> {
    let kid = jwk.kid.take()?;
    if jwk.use_.as_deref().is_some_and(|use_| use_ != "sig") {
        return None;
    }
    if jwk.key_ops.as_ref().is_some_and(|ops| !ops.iter().any(|op| op == "verify")) {
        return None;
    }
    let algorithms: &'static [Algorithm] = match (jwk.kty.as_str(), jwk.crv.as_deref()) {
        ("RSA", _) => RSA_ALGORITHMS,
        ("EC", Some("P-256")) => &[Algorithm::ES256],
        ("EC", Some("P-384")) => &[Algorithm::ES384],
        ("OKP", Some("Ed25519")) => &[Algorithm::EdDSA],
        _ => return None,
    };
    let algorithm = match jwk.alg.as_deref() {
        Some(alg) => {
            let named = alg.parse::<Algorithm>().ok()?;
            *algorithms.iter().find(|candidate| **candidate == named)?
        }
        None => {
            let mut candidates = algorithms.iter().filter(|candidate| accepted.contains(candidate));
            match (candidates.next(), candidates.next()) {
                (Some(only), None) => *only,
                _ if algorithms.len() == 1 => algorithms[0],
                _ => return None,
            }
        }
    };
    let member = |value: &Option<String>| URL_SAFE_NO_PAD.decode(value.as_deref()?).ok();
    let key = match jwk.kty.as_str() {
        "RSA" => VerifyingKey::rsa(algorithm, &member(&jwk.n)?, &member(&jwk.e)?),
        "EC" => VerifyingKey::ec(algorithm, &member(&jwk.x)?, &member(&jwk.y)?),
        _ => VerifyingKey::ed25519(&member(&jwk.x)?),
    };
    Some(Jwk { kid, key: key.ok()? })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rsa_jwk() -> Value {
        // A 2048-bit modulus shape is not needed to parse; the key is only checked when it verifies.
        json!({"kty": "RSA", "kid": "r1", "use": "sig", "alg": "RS256", "n": "sXch", "e": "AQAB"})
    }

    /// A P-256 public key (generated now) as a JWK with this `kid`, `crv` and no `alg`.
    fn p256_jwk(kid: &str, crv: &str) -> Value {
        use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
        let key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
        let point = key.public_key().as_ref();
        let (x, y) = point[1..].split_at(32);
        json!({"kty": "EC", "kid": kid, "crv": crv, "x": URL_SAFE_NO_PAD.encode(x), "y": URL_SAFE_NO_PAD.encode(y)})
    }

    /// What the function accepts by default with a JWKS and a secret.
    const ACCEPTED: &[Algorithm] = &[Algorithm::RS256, Algorithm::HS256];

    fn set(keys: Value) -> Result<KeySet, KeySetError> {
        set_for(keys, ACCEPTED)
    }

    fn set_for(keys: Value, accepted: &[Algorithm]) -> Result<KeySet, KeySetError> {
        KeySet::from_json(json!({ "keys": keys }).to_string().as_bytes(), accepted)
    }

    #[test]
    fn rsa_key_with_alg_verifies_only_that_alg() {
        let keys = set(json!([rsa_jwk()])).unwrap();
        assert!(keys.find("r1", Algorithm::RS256).is_some());
        assert!(keys.find("r1", Algorithm::PS256).is_none());
        assert!(keys.find("r2", Algorithm::RS256).is_none());
    }

    #[test]
    fn rsa_key_without_alg_verifies_only_the_one_accepted_rsa_alg() {
        let mut jwk = rsa_jwk();
        jwk.as_object_mut().unwrap().remove("alg");
        let keys = set(json!([jwk])).unwrap();
        assert!(keys.find("r1", Algorithm::RS256).is_some());
        for other in [Algorithm::RS384, Algorithm::PS256, Algorithm::PS384, Algorithm::ES256, Algorithm::HS256] {
            assert!(keys.find("r1", other).is_none(), "{other:?}");
        }
        let keys = set_for(json!([jwk]), &[Algorithm::PS384, Algorithm::ES256]).unwrap();
        assert!(keys.find("r1", Algorithm::PS384).is_some());
        assert!(keys.find("r1", Algorithm::RS256).is_none());
    }

    #[test]
    fn rsa_key_without_alg_is_skipped_when_its_algorithm_cannot_be_known() {
        let mut jwk = rsa_jwk();
        jwk.as_object_mut().unwrap().remove("alg");
        let keys =
            set_for(json!([jwk, p256_jwk("e", "P-256")]), &[Algorithm::RS256, Algorithm::PS256, Algorithm::ES256])
                .unwrap();
        assert_eq!(keys.len(), 1, "two RSA algorithms accepted: the key without alg is for neither");
        assert!(keys.find("r1", Algorithm::RS256).is_none());
        assert!(set_for(json!([jwk]), &[Algorithm::ES256]).is_err(), "no RSA algorithm accepted");
        // A key that names its algorithm is not affected.
        assert!(
            set_for(json!([rsa_jwk()]), &[Algorithm::RS256, Algorithm::PS256])
                .unwrap()
                .find("r1", Algorithm::RS256)
                .is_some()
        );
    }

    #[test]
    fn keys_not_for_signatures_are_skipped() {
        let mut enc = rsa_jwk();
        enc["use"] = json!("enc");
        enc["kid"] = json!("enc");
        let mut ops = rsa_jwk();
        ops["key_ops"] = json!(["encrypt"]);
        ops["kid"] = json!("ops");
        let keys = set(json!([enc, ops, rsa_jwk()])).unwrap();
        assert_eq!(keys.len(), 1);
        assert!(keys.find("enc", Algorithm::RS256).is_none());
    }

    #[test]
    fn symmetric_keys_never_come_from_a_jwks() {
        let oct = json!({"kty": "oct", "kid": "h", "k": "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0cw", "alg": "HS256"});
        assert_eq!(set(json!([oct])).unwrap_err(), KeySetError::NoUsableKey);
    }

    #[test]
    fn alg_that_disagrees_with_the_key_type_is_skipped() {
        let mut jwk = rsa_jwk();
        jwk["alg"] = json!("ES256");
        assert!(set(json!([jwk])).is_err());
        let mut jwk = rsa_jwk();
        jwk["alg"] = json!("HS256");
        assert!(set(json!([jwk])).is_err());
    }

    #[test]
    fn unsupported_keys_do_not_hide_supported_ones() {
        let p521 = json!({"kty": "EC", "kid": "p521", "crv": "P-521", "x": "AA", "y": "AA"});
        let weird = json!({"kty": "RSA", "kid": "weird", "alg": "RSA-OAEP-256", "n": "sXch", "e": "AQAB"});
        let no_kid = json!({"kty": "RSA", "n": "sXch", "e": "AQAB"});
        let keys = set(json!([p521, weird, no_kid, 42, "x", rsa_jwk()])).unwrap();
        assert_eq!(keys.len(), 1);
    }

    #[test]
    fn ec_coordinates_must_fit_the_curve() {
        let keys = set(json!([p256_jwk("e", "P-256")])).unwrap();
        assert!(keys.find("e", Algorithm::ES256).is_some());
        assert!(keys.find("e", Algorithm::ES384).is_none());
        assert!(set(json!([p256_jwk("e", "P-384")])).is_err(), "P-256 coordinates under P-384");
    }

    #[test]
    fn a_point_off_the_curve_is_skipped_when_the_document_is_read() {
        let one = URL_SAFE_NO_PAD.encode([1u8; 32]);
        let off_curve = json!({"kty": "EC", "kid": "e", "crv": "P-256", "x": one, "y": one});
        assert!(set(json!([off_curve])).is_err());
        let short = json!({"kty": "OKP", "kid": "d", "crv": "Ed25519", "x": URL_SAFE_NO_PAD.encode([1u8; 31])});
        assert!(set(json!([short])).is_err());
    }

    #[test]
    fn documents_that_are_not_a_jwks_are_unusable() {
        for body in [&b"not json"[..], b"{}", b"[]", b"{\"keys\": {}}"] {
            assert_eq!(
                KeySet::from_json(body, ACCEPTED).unwrap_err(),
                KeySetError::NotAJwks,
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        assert_eq!(KeySet::from_json(b"{\"keys\": []}", ACCEPTED).unwrap_err(), KeySetError::NoUsableKey);
    }
}
