//! A verification key, parsed once: the HMAC key made from the configured secret, or a public key read from
//! a JWKS. Each verifies exactly one algorithm, fixed when the key is made, never by a token.
//!
//! jsonwebtoken 12's `crypto::verify` builds a verifier for every call, and for RSA and EC keys parses the
//! public key again each time (about 5 µs of an RSA-2048 verification's 21 µs). These keys are made with the
//! same backend, aws-lc-rs, when the configuration or a JWKS document is read, so a request pays for the
//! signature check alone. jsonwebtoken still names the algorithms, and signs the tokens of `mint-token` and
//! the tests.

use aws_lc_rs::hmac;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED, ECDSA_P384_SHA384_FIXED, ED25519, ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256,
    RSA_PKCS1_2048_8192_SHA384, RSA_PKCS1_2048_8192_SHA512, RSA_PSS_2048_8192_SHA256, RSA_PSS_2048_8192_SHA384,
    RSA_PSS_2048_8192_SHA512, RsaParameters, RsaPublicKeyComponents,
};
use jsonwebtoken::Algorithm;

/// A key that verifies one algorithm's signatures.
pub struct VerifyingKey {
    algorithm: Algorithm,
    material: Material,
}

enum Material {
    /// Boxed: aws-lc's HMAC key holds both precomputed digest states (1.2 KiB); a JWKS holds public keys.
    Hmac(Box<hmac::Key>),
    Public(ParsedPublicKey),
}

/// Why a key could not be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyRejected;

impl VerifyingKey {
    /// The HMAC key of `secret` for HS256, HS384 or HS512; `None` for any other algorithm. The secret's
    /// length rules are the configuration's (RFC 7518 §3.2).
    pub fn hmac(algorithm: Algorithm, secret: &[u8]) -> Option<Self> {
        let digest = match algorithm {
            Algorithm::HS256 => hmac::HMAC_SHA256,
            Algorithm::HS384 => hmac::HMAC_SHA384,
            Algorithm::HS512 => hmac::HMAC_SHA512,
            _ => return None,
        };
        Some(Self { algorithm, material: Material::Hmac(Box::new(hmac::Key::new(digest, secret))) })
    }

    /// An RSA public key from its modulus and exponent (big-endian bytes, as a JWK's `n` and `e` decode to),
    /// for one of RS256/384/512 and PS256/384/512. Keys under 2048 bits are refused when a signature is
    /// checked, as by jsonwebtoken.
    pub fn rsa(algorithm: Algorithm, n: &[u8], e: &[u8]) -> Result<Self, KeyRejected> {
        let parameters: &'static RsaParameters = match algorithm {
            Algorithm::RS256 => &RSA_PKCS1_2048_8192_SHA256,
            Algorithm::RS384 => &RSA_PKCS1_2048_8192_SHA384,
            Algorithm::RS512 => &RSA_PKCS1_2048_8192_SHA512,
            Algorithm::PS256 => &RSA_PSS_2048_8192_SHA256,
            Algorithm::PS384 => &RSA_PSS_2048_8192_SHA384,
            Algorithm::PS512 => &RSA_PSS_2048_8192_SHA512,
            _ => return Err(KeyRejected),
        };
        let key = RsaPublicKeyComponents { n, e }.to_parsed_public_key(parameters).map_err(|_| KeyRejected)?;
        Ok(Self { algorithm, material: Material::Public(key) })
    }

    /// An EC public key from its affine coordinates, each of the curve's exact length: P-256 for ES256,
    /// P-384 for ES384. A point not on the curve is refused here.
    pub fn ec(algorithm: Algorithm, x: &[u8], y: &[u8]) -> Result<Self, KeyRejected> {
        let (verification, coordinate_len) = match algorithm {
            Algorithm::ES256 => (&ECDSA_P256_SHA256_FIXED, 32),
            Algorithm::ES384 => (&ECDSA_P384_SHA384_FIXED, 48),
            _ => return Err(KeyRejected),
        };
        if x.len() != coordinate_len || y.len() != coordinate_len {
            return Err(KeyRejected);
        }
        // SEC 1 §2.3.3: the uncompressed point.
        let mut point = Vec::with_capacity(1 + 2 * coordinate_len);
        point.push(4);
        point.extend_from_slice(x);
        point.extend_from_slice(y);
        let key = ParsedPublicKey::new(verification, point).map_err(|_| KeyRejected)?;
        Ok(Self { algorithm, material: Material::Public(key) })
    }

    /// An Ed25519 public key (32 bytes), for EdDSA.
    pub fn ed25519(x: &[u8]) -> Result<Self, KeyRejected> {
        if x.len() != 32 {
            return Err(KeyRejected);
        }
        let key = ParsedPublicKey::new(&ED25519, x).map_err(|_| KeyRejected)?;
        Ok(Self { algorithm: Algorithm::EdDSA, material: Material::Public(key) })
    }

    /// The one algorithm this key verifies.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// Whether `signature` is this key's signature of `message` (compared in constant time for HMAC).
    pub fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        match &self.material {
            Material::Hmac(key) => hmac::verify(key, message, signature).is_ok(),
            Material::Public(key) => key.verify_sig(message, signature).is_ok(),
        }
    }
}

impl std::fmt::Debug for VerifyingKey {
    /// The algorithm only: an HMAC key is the secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyingKey").field("algorithm", &self.algorithm).finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair};

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn an_hmac_key_is_made_for_the_hs_algorithms_only() {
        for algorithm in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
            assert_eq!(VerifyingKey::hmac(algorithm, SECRET).unwrap().algorithm(), algorithm);
        }
        for algorithm in [Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA] {
            assert!(VerifyingKey::hmac(algorithm, SECRET).is_none(), "{algorithm:?}");
        }
    }

    #[test]
    fn each_key_verifies_its_own_algorithm_s_signature_and_nothing_else() {
        let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, SECRET), b"message");
        let hs256 = VerifyingKey::hmac(Algorithm::HS256, SECRET).unwrap();
        assert!(hs256.verifies(b"message", tag.as_ref()));
        assert!(!hs256.verifies(b"messagE", tag.as_ref()));
        let hs512 = VerifyingKey::hmac(Algorithm::HS512, SECRET).unwrap();
        assert!(!hs512.verifies(b"message", tag.as_ref()), "an HS256 tag under HS512");

        let ec = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let signature = ec.sign(&rng, b"message").unwrap();
        let (x, y) = ec.public_key().as_ref()[1..].split_at(32);
        let es256 = VerifyingKey::ec(Algorithm::ES256, x, y).unwrap();
        assert!(es256.verifies(b"message", signature.as_ref()));
        assert!(!es256.verifies(b"messagE", signature.as_ref()));

        let ed = Ed25519KeyPair::generate().unwrap();
        let eddsa = VerifyingKey::ed25519(ed.public_key().as_ref()).unwrap();
        assert!(eddsa.verifies(b"message", ed.sign(b"message").as_ref()));
        assert!(!eddsa.verifies(b"message", signature.as_ref()), "an ECDSA signature under Ed25519");
    }

    #[test]
    fn a_key_is_refused_for_another_family_or_a_malformed_encoding() {
        assert_eq!(VerifyingKey::rsa(Algorithm::ES256, &[0xb1; 256], &[1, 0, 1]).unwrap_err(), KeyRejected);
        assert_eq!(VerifyingKey::ec(Algorithm::RS256, &[1; 32], &[1; 32]).unwrap_err(), KeyRejected);
        assert_eq!(VerifyingKey::ec(Algorithm::ES384, &[1; 32], &[1; 32]).unwrap_err(), KeyRejected, "P-256 size");
        assert_eq!(VerifyingKey::ec(Algorithm::ES256, &[1; 32], &[1; 32]).unwrap_err(), KeyRejected, "off curve");
        assert_eq!(VerifyingKey::ed25519(&[1; 31]).unwrap_err(), KeyRejected);
    }

    #[test]
    fn debug_shows_the_algorithm_and_never_the_secret() {
        let shown = format!("{:?}", VerifyingKey::hmac(Algorithm::HS256, SECRET).unwrap());
        assert!(shown.contains("HS256") && !shown.contains("0123456789"), "{shown}");
    }
}
