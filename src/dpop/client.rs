//! The client's side of DPoP, for `mint-token` and the tests: a P-256 key that proofs are signed with, its
//! thumbprint for a token's `cnf.jkt`, and proofs for a method, a URL and a token. Not used by the function.

use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

/// A DPoP key pair (ES256).
pub struct ProofKey {
    pair: EcdsaKeyPair,
    pkcs8: Vec<u8>,
}

/// Why a key could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotAKey;

impl ProofKey {
    /// A new random key.
    pub fn generate() -> Self {
        let rng = SystemRandom::new();
        // Generating a P-256 key from the system's randomness does not fail.
        let document = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .unwrap_or_else(|_| unreachable!("P-256 key generation failed"));
        Self::from_pkcs8(document.as_ref()).unwrap_or_else(|_| unreachable!("a fresh key is readable"))
    }

    /// The key in a PKCS#8 document (DER).
    pub fn from_pkcs8(der: &[u8]) -> Result<Self, NotAKey> {
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der).map_err(|_| NotAKey)?;
        Ok(Self { pair, pkcs8: der.to_vec() })
    }

    /// The PKCS#8 document (DER) of the key, to keep it.
    pub fn to_pkcs8(&self) -> &[u8] {
        &self.pkcs8
    }

    /// The public key as a JWK, the proofs' `jwk` header.
    pub fn jwk(&self) -> Value {
        let point = self.pair.public_key().as_ref();
        json!({
            "kty": "EC",
            "crv": "P-256",
            "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
            "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
        })
    }

    /// The RFC 7638 thumbprint of the public key: the `cnf.jkt` of tokens bound to it.
    pub fn thumbprint(&self) -> String {
        let jwk = self.jwk();
        let canonical = format!(
            r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
            jwk["x"].as_str().unwrap_or_default(),
            jwk["y"].as_str().unwrap_or_default()
        );
        URL_SAFE_NO_PAD.encode(digest(&SHA256, canonical.as_bytes()))
    }

    /// A proof for a request of `method` to `url` (without query or fragment) with `token`, issued at `iat`,
    /// named `jti`, carrying the server's `nonce` when given.
    pub fn proof(&self, method: &str, url: &str, token: &str, iat: u64, jti: &str, nonce: Option<&str>) -> String {
        let mut claims = json!({
            "jti": jti,
            "htm": method,
            "htu": url,
            "iat": iat,
            "ath": URL_SAFE_NO_PAD.encode(digest(&SHA256, token.as_bytes())),
        });
        if let Some(nonce) = nonce {
            claims["nonce"] = nonce.into();
        }
        self.sign(&json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": self.jwk()}), &claims)
    }

    /// A JWT with this header and these claims, signed with the key (ES256) whatever the header says: for
    /// proofs that break a rule on purpose.
    pub fn sign(&self, header: &Value, claims: &Value) -> String {
        self.sign_bytes(header.to_string().as_bytes(), claims.to_string().as_bytes())
    }

    /// [`ProofKey::sign`] over the exact bytes of a header and a claim set, which need not be valid JSON.
    pub fn sign_bytes(&self, header: &[u8], claims: &[u8]) -> String {
        let signing_input = format!("{}.{}", URL_SAFE_NO_PAD.encode(header), URL_SAFE_NO_PAD.encode(claims));
        let signature = self
            .pair
            .sign(&SystemRandom::new(), signing_input.as_bytes())
            .unwrap_or_else(|_| unreachable!("ECDSA signing failed"));
        format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature.as_ref()))
    }
}

impl std::fmt::Debug for ProofKey {
    /// The thumbprint only: the key is private.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProofKey").field("thumbprint", &self.thumbprint()).finish_non_exhaustive()
    }
}
