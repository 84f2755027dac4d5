//! The JWKS document parser: any bytes, for any allow-list. It never panics; a key set it accepts holds at
//! least one key, and only for an algorithm of the list.
#![no_main]

use auth0_lambda_api::KeySet;
use jsonwebtoken::Algorithm;
use libfuzzer_sys::fuzz_target;

const ALGORITHMS: [Algorithm; 10] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
    Algorithm::HS256,
];

fuzz_target!(|input: (u16, &[u8])| {
    let accepted: Vec<Algorithm> =
        ALGORITHMS.iter().enumerate().filter(|(bit, _)| input.0 & (1 << bit) != 0).map(|(_, alg)| *alg).collect();
    if let Ok(keys) = KeySet::from_json(input.1, &accepted) {
        assert!(!keys.is_empty());
        assert!(!keys.supports(Algorithm::HS256), "an HMAC key came from a JWKS");
    }
});
