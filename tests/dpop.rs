//! DPoP (RFC 9449) through both front doors: DPoP-bound tokens with their proofs, every rule a proof must
//! keep, no downgrade either way, replays, server nonces, the challenges, the public URL, the settings.

mod jwks_server;
mod support;

use std::sync::atomic::{AtomicU64, Ordering};

use auth0_lambda_api::dpop::client::ProofKey;
use auth0_lambda_api::{App, Config};
use jsonwebtoken::Algorithm;
use serde_json::{Value, json};
use support::*;

/// The URL of the sample v2 events (HTTP API, `$default` stage).
const V2_URL: &str = "https://abc123defg.execute-api.us-east-1.amazonaws.com/protected";
/// The URL of the sample v1 events (REST API, stage `prod`).
const V1_URL: &str = "https://abc123defg.execute-api.us-east-1.amazonaws.com/prod/protected";

fn dpop_app(extra: &[(&'static str, &'static str)]) -> App {
    app_with(&[[("AUTH0_DPOP", "allowed")].as_slice(), extra].concat())
}

/// A `jti` no other proof of this test run has.
fn jti() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!("jti-{}-{}", now(), NEXT.fetch_add(1, Ordering::Relaxed))
}

/// A valid token bound to `key`.
fn bound_token(key: &ProofKey) -> String {
    let mut claims = claims();
    claims["cnf"] = json!({"jkt": key.thumbprint()});
    mint(&claims)
}

/// A fresh valid proof for `GET` `url` with `token`.
fn proof(key: &ProofKey, url: &str, token: &str) -> String {
    key.proof("GET", url, token, now(), &jti(), None)
}

/// A proof's usual claims for `GET` [`V2_URL`] with `token`, to break one rule at a time.
fn proof_claims(token: &str) -> Value {
    json!({
        "jti": jti(),
        "htm": "GET",
        "htu": V2_URL,
        "iat": now(),
        "ath": b64(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes())),
    })
}

fn proof_header(key: &ProofKey) -> Value {
    json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": key.jwk()})
}

/// The v2 `GET /protected` event with `Authorization: <authorization>` and these `DPoP` headers (an HTTP API
/// joins repeated headers with commas).
fn v2_event(authorization: &str, proofs: &[&str]) -> Value {
    let mut event = with_authorization(event("v2-protected-no-token"), Some(authorization));
    if !proofs.is_empty() {
        event["headers"]["dpop"] = json!(proofs.join(","));
    }
    event
}

/// The v1 (REST) `GET /protected` event, each proof its own `DPoP` header.
fn v1_event(authorization: &str, proofs: &[&str]) -> Value {
    let mut event = with_authorization(event("v1-protected-no-token"), Some(authorization));
    if let Some(last) = proofs.last() {
        event["headers"]["DPoP"] = json!(last);
        event["multiValueHeaders"]["DPoP"] = json!(proofs);
    }
    event
}

async fn dpop_call(app: &App, token: &str, proofs: &[&str]) -> Answer {
    call(app, &v2_event(&format!("DPoP {token}"), proofs)).await
}

/// Asserts a 401 `invalid_dpop_proof` whose description is `reason`, with the error in the DPoP challenge.
fn assert_refused(answer: &Answer, reason: &str) {
    assert_eq!(answer.status, 401, "{}", answer.body);
    assert_eq!(answer.code(), "invalid_dpop_proof", "{}", answer.body);
    assert_eq!(answer.json()["description"], reason);
    let challenge = answer.header("www-authenticate");
    let (bearer, dpop) = challenge.split_once(", DPoP ").expect("both challenges");
    assert!(!bearer.contains("error="), "{challenge}");
    assert!(dpop.contains(r#"error="invalid_dpop_proof""#), "{challenge}");
}

#[tokio::test]
async fn a_dpop_bound_token_with_a_valid_proof_is_accepted_on_both_payloads() {
    let app = dpop_app(&[]);
    let key = ProofKey::generate();
    let token = bound_token(&key);
    let answer = dpop_call(&app, &token, &[&proof(&key, V2_URL, &token)]).await;
    assert_eq!((answer.status.as_u16(), answer.body.as_str()), (200, "Hello World jane@example.com!"));
    // A REST API puts its stage in the URL the client calls.
    let answer = call(&app, &v1_event(&format!("DPoP {token}"), &[&proof(&key, V1_URL, &token)])).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    // The scheme is case-insensitive, the method and URL compared as RFC 9449 says.
    let url = "HTTPS://ABC123DEFG.execute-api.us-east-1.amazonaws.com:443/protected";
    let answer = call(&app, &v2_event(&format!("dpop {token}"), &[&proof(&key, url, &token)])).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
}

/// A proof signed by `key` (any algorithm jsonwebtoken signs) for `GET` [`V2_URL`] with `token`.
fn proof_by(key: &jwks_server::SigningKey, token: &str) -> String {
    let mut jwk = key.jwk();
    for member in ["kid", "use", "alg"] {
        jwk.as_object_mut().unwrap().remove(member);
    }
    key.sign_with_header(&proof_claims(token), |header| {
        header.typ = Some("dpop+jwt".into());
        header.kid = None;
        header.jwk = Some(serde_json::from_value(jwk).unwrap());
    })
}

/// RFC 7638's thumbprint of `key`, computed from its JWK independently of the function.
fn thumbprint_of(key: &jwks_server::SigningKey) -> String {
    let jwk = key.jwk();
    let required: &[&str] = match jwk["kty"].as_str().unwrap() {
        "RSA" => &["e", "kty", "n"],
        "EC" => &["crv", "kty", "x", "y"],
        _ => &["crv", "kty", "x"],
    };
    let canonical: serde_json::Map<String, Value> =
        required.iter().map(|name| ((*name).to_owned(), jwk[*name].clone())).collect();
    b64(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, serde_json::to_string(&canonical).unwrap().as_bytes()))
}

#[tokio::test]
async fn proofs_of_every_asymmetric_algorithm_are_accepted() {
    let app = dpop_app(&[]);
    for key in [
        jwks_server::SigningKey::es256("p"),
        jwks_server::SigningKey::eddsa("p"),
        jwks_server::SigningKey::rsa("rsa-primary", "p", Algorithm::RS256),
        jwks_server::SigningKey::rsa("rsa-rotated", "p", Algorithm::PS256),
    ] {
        let mut claims = claims();
        claims["cnf"] = json!({"jkt": thumbprint_of(&key)});
        let token = mint(&claims);
        let answer = dpop_call(&app, &token, &[&proof_by(&key, &token)]).await;
        assert_eq!(answer.status, 200, "{:?}: {}", key.alg, answer.body);
        // The same key under another algorithm of its family is refused.
        if key.alg == Algorithm::RS256 {
            let mut claims = self::claims();
            claims["cnf"] = json!({"jkt": thumbprint_of(&key)});
            let token = mint(&claims);
            let mut header = serde_json::from_slice::<Value>(&base64_part(&proof_by(&key, &token), 0)).unwrap();
            header["alg"] = json!("PS256");
            let relabelled =
                format!("{}.{}", b64(header.to_string()), proof_by(&key, &token).split_once('.').unwrap().1);
            assert_refused(&dpop_call(&app, &token, &[&relabelled]).await, "DPoP proof signature is invalid");
        }
    }
}

#[tokio::test]
async fn a_proof_is_accepted_once() {
    let app = dpop_app(&[]);
    let key = ProofKey::generate();
    let token = bound_token(&key);
    let proof = proof(&key, V2_URL, &token);
    assert_eq!(dpop_call(&app, &token, &[&proof]).await.status, 200);
    assert_refused(&dpop_call(&app, &token, &[&proof]).await, "DPoP proof was used before (jti)");
    // The same jti under another key is another proof.
    let other = ProofKey::generate();
    let other_token = bound_token(&other);
    let jti: Value = serde_json::from_slice(&base64_part(&proof, 1)).unwrap();
    let reused = other.proof("GET", V2_URL, &other_token, now(), jti["jti"].as_str().unwrap(), None);
    assert_eq!(dpop_call(&app, &other_token, &[&reused]).await.status, 200);
}

fn base64_part(jwt: &str, index: usize) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(jwt.split('.').nth(index).unwrap()).unwrap()
}

#[tokio::test]
async fn every_rule_of_a_proof_has_its_refusal() {
    let app = dpop_app(&[]);
    let key = ProofKey::generate();
    let token = bound_token(&key);
    let with = |name: &str, value: Value| {
        let mut claims = proof_claims(&token);
        claims[name] = value;
        key.sign(&proof_header(&key), &claims)
    };
    let without = |name: &str| {
        let mut claims = proof_claims(&token);
        claims.as_object_mut().unwrap().remove(name);
        key.sign(&proof_header(&key), &claims)
    };
    let header_with = |name: &str, value: Value| {
        let mut header = proof_header(&key);
        header[name] = value;
        key.sign(&header, &proof_claims(&token))
    };
    let mut private_jwk = key.jwk();
    private_jwk["d"] = json!(b64([7; 32]));
    let other = ProofKey::generate();
    let mut forged = other.proof("GET", V2_URL, &token, now(), &jti(), None);
    // The header names `key`, the signature is `other`'s.
    let forged_header = b64(proof_header(&key).to_string());
    forged = format!("{forged_header}.{}", forged.split_once('.').unwrap().1);
    let hmac_proof = sign_raw(
        &json!({"typ": "dpop+jwt", "alg": "HS256", "jwk": {"kty": "oct", "k": b64(SECRET)}}),
        &proof_claims(&token),
        Algorithm::HS256,
        SECRET.as_bytes(),
    );
    let none_proof = format!(
        "{}.{}.",
        b64(json!({"typ": "dpop+jwt", "alg": "none", "jwk": key.jwk()}).to_string()),
        b64(proof_claims(&token).to_string())
    );
    let cases = [
        (with("htm", json!("POST")), "DPoP proof htm is not the request's method"),
        (with("htm", json!("get")), "DPoP proof htm is not the request's method"),
        (with("htu", json!(format!("{V2_URL}?page=2"))), "DPoP proof htu must not have a query or a fragment"),
        (with("htu", json!(format!("{V2_URL}#top"))), "DPoP proof htu must not have a query or a fragment"),
        (with("htu", json!("https://other.example.com/protected")), "DPoP proof htu is not the request's URL"),
        (with("htu", json!(V1_URL)), "DPoP proof htu is not the request's URL"),
        (
            with("htu", json!("http://abc123defg.execute-api.us-east-1.amazonaws.com/protected")),
            "DPoP proof htu is not the request's URL",
        ),
        (with("iat", json!(now() - 306)), "DPoP proof is too old (iat)"),
        (with("iat", json!(now() + 60)), "DPoP proof iat is in the future"),
        (with("iat", json!("now")), "DPoP proof claims cannot be read"),
        (without("iat"), "DPoP proof has no numeric iat"),
        (with("ath", json!(b64([0; 32]))), "DPoP proof ath is not the access token's hash"),
        (without("ath"), "DPoP proof has no ath"),
        (without("jti"), "DPoP proof has no jti"),
        (with("jti", json!("")), "DPoP proof has no jti"),
        (with("jti", json!("j".repeat(257))), "DPoP proof jti is too long"),
        (without("htu"), "DPoP proof has no htu"),
        (
            other.proof("GET", V2_URL, &token, now(), &jti(), None),
            "DPoP proof is not signed with the key the token is bound to",
        ),
        (forged, "DPoP proof signature is invalid"),
        (header_with("jwk", private_jwk), "DPoP proof jwk must be a public key; it holds private key material"),
        (header_with("typ", json!("JWT")), "DPoP proof typ must be dpop+jwt"),
        (header_with("alg", json!("ES384")), "DPoP proof jwk is not a key for its alg"),
        (header_with("crit", json!(["exp"])), "DPoP proof has a critical header this API does not understand"),
        (key.sign(&json!({"typ": "dpop+jwt", "alg": "ES256"}), &proof_claims(&token)), "DPoP proof has no jwk header"),
        (hmac_proof, "DPoP proof is signed with an algorithm this API does not accept"),
        (none_proof, "DPoP proof is signed with an algorithm this API does not accept"),
        ("not-a-jwt".to_owned(), "DPoP proof is not a JWT"),
        ("a.b.c.d".to_owned(), "DPoP proof is not a JWT"),
    ];
    for (proof, reason) in &cases {
        assert_refused(&dpop_call(&app, &token, &[proof]).await, reason);
    }
    // Inside the window, and a second of leeway ahead, a proof is fine.
    assert_eq!(dpop_call(&app, &token, &[&with("iat", json!(now() - 290))]).await.status, 200);
    assert_eq!(dpop_call(&app, &token, &[&with("iat", json!(now() + 4))]).await.status, 200);
}

#[tokio::test]
async fn one_proof_header_exactly() {
    let app = dpop_app(&[]);
    let key = ProofKey::generate();
    let token = bound_token(&key);
    let (first, second) = (proof(&key, V2_URL, &token), proof(&key, V2_URL, &token));
    assert_refused(&dpop_call(&app, &token, &[&first, &second]).await, "only one DPoP proof header is allowed");
    assert_refused(&dpop_call(&app, &token, &[]).await, "DPoP proof header is missing");
    assert_eq!(dpop_call(&app, &token, &[&first]).await.status, 200, "neither was used");
}

#[tokio::test]
async fn no_downgrade_either_way() {
    let app = dpop_app(&[]);
    let key = ProofKey::generate();
    let bound = bound_token(&key);
    let answer = call(&app, &v2_event(&format!("Bearer {bound}"), &[])).await;
    assert_eq!((answer.status.as_u16(), answer.code().as_str()), (401, "invalid_token"));
    assert_eq!(answer.json()["description"], "token is DPoP-bound: send it as Authorization: DPoP with a DPoP proof");
    assert!(
        answer
            .header("www-authenticate")
            .starts_with(r#"Bearer realm="https://api.example.com", error="invalid_token""#)
    );

    let plain = mint(&claims());
    let answer = call(&app, &v2_event(&format!("Bearer {plain}"), &[&proof(&key, V2_URL, &plain)])).await;
    assert_eq!((answer.status.as_u16(), answer.code().as_str()), (401, "invalid_header"));
    let answer = dpop_call(&app, &plain, &[&proof(&key, V2_URL, &plain)]).await;
    assert_eq!((answer.status.as_u16(), answer.code().as_str()), (401, "invalid_token"));
    // A plain Bearer token still works where DPoP is allowed.
    assert_eq!(call(&app, &v2_event(&format!("Bearer {plain}"), &[])).await.status, 200);
    // A token bound some other way is not a plain Bearer token either.
    let mut x5t = claims();
    x5t["cnf"] = json!({"x5t#S256": "abc"});
    let answer = call(&app, &v2_event(&format!("Bearer {}", mint(&x5t)), &[])).await;
    assert_eq!(answer.code(), "invalid_token");
    // Token errors come first, in the DPoP challenge.
    let mut expired = claims();
    expired["exp"] = json!(now() - 3600);
    expired["cnf"] = json!({"jkt": key.thumbprint()});
    let expired = mint(&expired);
    let answer = dpop_call(&app, &expired, &[&proof(&key, V2_URL, &expired)]).await;
    assert_eq!(answer.code(), "token_expired");
    assert!(answer.header("www-authenticate").contains(r#"DPoP realm="https://api.example.com", algs="#));
    assert!(
        answer.header("www-authenticate").ends_with(r#"error="invalid_token", error_description="token is expired""#)
    );
}

#[tokio::test]
async fn the_challenges_follow_the_mode() {
    let algs = r#"algs="ES256 ES384 EdDSA PS256 PS384 PS512 RS256 RS384 RS512""#;
    let allowed = call(&dpop_app(&[]), &event("v2-protected-no-token")).await;
    assert_eq!(allowed.code(), "authorization_header_missing");
    assert_eq!(
        allowed.header("www-authenticate"),
        format!(r#"Bearer realm="https://api.example.com", DPoP realm="https://api.example.com", {algs}"#)
    );
    let required = dpop_app(&[("AUTH0_DPOP", "required"), ("AUTH0_DPOP_ALGORITHMS", "ES256, EdDSA")]);
    let answer = call(&required, &v2_event(&format!("Bearer {}", mint(&claims())), &[])).await;
    assert_eq!(answer.code(), "invalid_header");
    assert_eq!(answer.json()["description"], "Authorization header must start with DPoP");
    assert_eq!(
        answer.header("www-authenticate"),
        r#"DPoP realm="https://api.example.com", algs="ES256 EdDSA", error="invalid_request", error_description="Authorization header must start with DPoP""#
    );
    let key = ProofKey::generate();
    let token = bound_token(&key);
    assert_eq!(dpop_call(&required, &token, &[&proof(&key, V2_URL, &token)]).await.status, 200);
    // An algorithm off the list.
    let ps256_only = dpop_app(&[("AUTH0_DPOP_ALGORITHMS", "PS256")]);
    let answer = dpop_call(&ps256_only, &token, &[&proof(&key, V2_URL, &token)]).await;
    assert_eq!(answer.json()["description"], "DPoP proof is signed with an algorithm this API does not accept");
    // Off: the scheme is not one this API reads, and a DPoP header beside a Bearer token is not read.
    let off = app();
    let answer = dpop_call(&off, &token, &[&proof(&key, V2_URL, &token)]).await;
    assert_eq!(answer.json()["description"], "Authorization header must start with Bearer");
    assert_eq!(answer.header("www-authenticate").matches("realm=").count(), 1);
    let plain = mint(&claims());
    assert_eq!(call(&off, &v2_event(&format!("Bearer {plain}"), &["x.y.z"])).await.status, 200);
    // Off, a DPoP-bound token is still no Bearer token (RFC 9449 §7.2); one bound to an mTLS certificate is
    // taken as before.
    let answer = call(&off, &v2_event(&format!("Bearer {token}"), &[])).await;
    assert_eq!((answer.status.as_u16(), answer.code().as_str()), (401, "invalid_token"));
    assert_eq!(
        answer.json()["description"],
        "token is DPoP-bound, and this API does not take DPoP proofs (AUTH0_DPOP is off)"
    );
    let mut mtls = claims();
    mtls["cnf"] = json!({"x5t#S256": "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"});
    assert_eq!(call(&off, &v2_event(&format!("Bearer {}", mint(&mtls)), &[])).await.status, 200);
    // The claim's name is read as JSON, escapes and all.
    let payload = format!(
        r#"{{"iss":"{ISSUER}","aud":"{AUDIENCE}","exp":{},"\u0063nf":{{"\u006akt":"{}"}}}}"#,
        now() + 3600,
        key.thumbprint()
    );
    let input = format!("{}.{}", b64(r#"{"alg":"HS256"}"#), b64(payload));
    let secret = jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()).unwrap();
    let signature = jsonwebtoken::crypto::sign(input.as_bytes(), &secret, Algorithm::HS256).unwrap();
    let answer = call(&off, &v2_event(&format!("Bearer {input}.{signature}"), &[])).await;
    assert_eq!(answer.code(), "invalid_token", "{}", answer.body);
    // A 403 is told in the challenge of the scheme used.
    let answer = call(
        &dpop_app(&[]),
        &with_route(
            v2_event(
                &format!("DPoP {token}"),
                &[&key.proof(
                    "GET",
                    "https://abc123defg.execute-api.us-east-1.amazonaws.com/api/private-scoped",
                    &token,
                    now(),
                    &jti(),
                    None,
                )],
            ),
            "GET",
            "/api/private-scoped",
        ),
    )
    .await;
    assert_eq!((answer.status.as_u16(), answer.code().as_str()), (403, "insufficient_scope"));
    assert!(answer.header("www-authenticate").ends_with(r#"error="insufficient_scope", error_description="the token does not grant what this endpoint requires", scope="read:messages""#));
}

#[tokio::test]
async fn with_nonces_a_proof_must_carry_the_current_one() {
    let app = dpop_app(&[("AUTH0_DPOP_NONCE_SECRET", "a-nonce-secret-of-at-least-32-bytes-0123")]);
    let key = ProofKey::generate();
    let token = bound_token(&key);
    let answer = dpop_call(&app, &token, &[&proof(&key, V2_URL, &token)]).await;
    assert_eq!((answer.status.as_u16(), answer.code().as_str()), (401, "use_dpop_nonce"));
    assert!(answer.header("www-authenticate").ends_with(r#"error="use_dpop_nonce", error_description="the DPoP proof must carry the nonce this API sends in DPoP-Nonce""#));
    let nonce = answer.header("dpop-nonce").to_owned();
    assert!(!nonce.is_empty());
    let with_nonce = key.proof("GET", V2_URL, &token, now(), &jti(), Some(&nonce));
    assert_eq!(dpop_call(&app, &token, &[&with_nonce]).await.status, 200);
    // Another instance with the same secret takes it; one with another secret does not.
    let same = dpop_app(&[("AUTH0_DPOP_NONCE_SECRET", "a-nonce-secret-of-at-least-32-bytes-0123")]);
    let again = key.proof("GET", V2_URL, &token, now(), &jti(), Some(&nonce));
    assert_eq!(dpop_call(&same, &token, &[&again]).await.status, 200);
    let other = dpop_app(&[("AUTH0_DPOP_NONCE_SECRET", "another-nonce-secret-of-32-bytes-or-more")]);
    let answer = dpop_call(&other, &token, &[&key.proof("GET", V2_URL, &token, now(), &jti(), Some(&nonce))]).await;
    assert_eq!(answer.code(), "use_dpop_nonce");
    assert_ne!(answer.header("dpop-nonce"), nonce);
    // Without nonces configured, no DPoP-Nonce is sent.
    assert!(call(&dpop_app(&[]), &event("v2-protected-no-token")).await.headers.get("dpop-nonce").is_none());
}

#[tokio::test]
async fn the_public_url_is_what_htu_starts_with() {
    let app = dpop_app(&[("AUTH0_DPOP_PUBLIC_URL", "https://API.example.com/v1/")]);
    let key = ProofKey::generate();
    let token = bound_token(&key);
    let answer = dpop_call(&app, &token, &[&proof(&key, "https://api.example.com/v1/protected", &token)]).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    // The REST stage is not part of it: the custom domain's base path mapping replaces it.
    let answer = call(
        &app,
        &v1_event(&format!("DPoP {token}"), &[&proof(&key, "https://api.example.com/v1/protected", &token)]),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_refused(
        &dpop_call(&app, &token, &[&proof(&key, V2_URL, &token)]).await,
        "DPoP proof htu is not the request's URL",
    );
}

#[tokio::test]
async fn the_resource_metadata_names_the_proof_algorithms() {
    let app = dpop_app(&[
        ("AUTH0_RESOURCE", "https://api.example.com"),
        ("AUTH0_DPOP", "required"),
        ("AUTH0_DPOP_ALGORITHMS", "ES256"),
    ]);
    let answer = call(&app, &with_route(event("v2-root-ok"), "GET", "/.well-known/oauth-protected-resource")).await;
    assert_eq!(answer.json()["dpop_signing_alg_values_supported"], json!(["ES256"]));
    assert_eq!(answer.json()["dpop_bound_access_tokens_required"], true);
    let answer = call(&app, &event("v2-protected-no-token")).await;
    assert_eq!(
        answer.header("www-authenticate"),
        r#"DPoP realm="https://api.example.com", resource_metadata="https://api.example.com/.well-known/oauth-protected-resource", algs="ES256""#
    );
}

#[test]
fn bad_settings_fail_the_cold_start_naming_the_variable() {
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[("AUTH0_DPOP", "maybe")], "AUTH0_DPOP"),
        (&[("AUTH0_DPOP_PUBLIC_URL", "https://api.example.com")], "AUTH0_DPOP_PUBLIC_URL"),
        (&[("AUTH0_DPOP_NONCE_SECRET", "a-nonce-secret-of-at-least-32-bytes-0123")], "AUTH0_DPOP_NONCE_SECRET"),
        (&[("AUTH0_DPOP", "allowed"), ("AUTH0_DPOP_ALGORITHMS", "ES256 HS256")], "AUTH0_DPOP_ALGORITHMS"),
        (&[("AUTH0_DPOP", "allowed"), ("AUTH0_DPOP_ALGORITHMS", "none")], "AUTH0_DPOP_ALGORITHMS"),
        (&[("AUTH0_DPOP", "allowed"), ("AUTH0_DPOP_ALGORITHMS", " , ")], "AUTH0_DPOP_ALGORITHMS"),
        (&[("AUTH0_DPOP", "allowed"), ("AUTH0_DPOP_PROOF_MAX_AGE_SECONDS", "0")], "AUTH0_DPOP_PROOF_MAX_AGE_SECONDS"),
        (
            &[("AUTH0_DPOP", "allowed"), ("AUTH0_DPOP_PROOF_MAX_AGE_SECONDS", "3601")],
            "AUTH0_DPOP_PROOF_MAX_AGE_SECONDS",
        ),
        (&[("AUTH0_DPOP", "allowed"), ("AUTH0_DPOP_PUBLIC_URL", "api.example.com")], "AUTH0_DPOP_PUBLIC_URL"),
        (
            &[("AUTH0_DPOP", "allowed"), ("AUTH0_DPOP_PUBLIC_URL", "https://api.example.com/?x")],
            "AUTH0_DPOP_PUBLIC_URL",
        ),
        (&[("AUTH0_DPOP", "allowed"), ("AUTH0_DPOP_NONCE_SECRET", "short")], "AUTH0_DPOP_NONCE_SECRET"),
    ];
    for (extra, variable) in cases {
        let vars = [env(), extra.to_vec()].concat();
        let error = Config::from_lookup(lookup(&vars)).unwrap_err();
        assert_eq!(error.variable, *variable, "{extra:?}: {error}");
        assert!(!error.to_string().contains("a-nonce-secret"), "{error}");
    }
    // The authorizer cannot send a nonce to the client.
    let vars = [
        env(),
        vec![("AUTH0_DPOP", "allowed"), ("AUTH0_DPOP_NONCE_SECRET", "a-nonce-secret-of-at-least-32-bytes-0123")],
    ]
    .concat();
    let config = Config::from_lookup(lookup(&vars)).unwrap();
    let settings = auth0_lambda_api::authorizer::Settings::from_lookup(lookup(&vars)).unwrap();
    let error = auth0_lambda_api::authorizer::Authorizer::new(config, settings).unwrap_err();
    assert_eq!(error.variable, "AUTH0_DPOP_NONCE_SECRET");
}

/// The REST `REQUEST` authorizer event for `GET /protected` on stage `prod`, with these headers.
fn rest_request_event(headers: Value) -> Value {
    json!({
        "type": "REQUEST",
        "methodArn": "arn:aws:execute-api:us-east-1:123456789012:abc123defg/prod/GET/protected",
        "headers": headers,
    })
}

/// The HTTP API payload 2.0 authorizer event for `GET /protected` on the `$default` stage.
fn http_v2_event(headers: Value) -> Value {
    json!({
        "version": "2.0",
        "type": "REQUEST",
        "routeArn": "arn:aws:execute-api:us-east-1:123456789012:abc123defg/$default/GET/protected",
        "headers": headers,
    })
}

#[tokio::test]
async fn the_authorizer_checks_proofs_on_request_events() {
    let authorizer = authorizer_with(&[("AUTH0_DPOP", "allowed")]);
    let key = ProofKey::generate();
    let token = bound_token(&key);
    let host = "abc123defg.execute-api.us-east-1.amazonaws.com";
    let headers = |proof: &str| json!({"Authorization": format!("DPoP {token}"), "DPoP": proof, "Host": host});
    let proof = proof(&key, V1_URL, &token);
    let decision = authorize(&authorizer, &rest_request_event(headers(&proof))).await;
    assert_eq!(decision.outcome, "ok");
    let decision = authorize(&authorizer, &rest_request_event(headers(&proof))).await;
    assert_eq!(decision.outcome, "invalid_dpop_proof", "a replay");
    assert_eq!(decision.answer.unwrap_err().error_type, "Unauthorized");

    let v2 =
        |proof: &str| http_v2_event(json!({"authorization": format!("DPoP {token}"), "dpop": proof, "host": host}));
    let decision = authorize(&authorizer, &v2(&self::proof(&key, V2_URL, &token))).await;
    assert_eq!(decision.outcome, "ok");
    let decision = authorize(&authorizer, &v2(&self::proof(&key, V1_URL, &token))).await;
    assert_eq!(decision.outcome, "invalid_dpop_proof", "another URL");
    let answer = decision.answer.unwrap();
    assert_eq!(answer["isAuthorized"], false);
    assert_eq!(answer["context"]["description"], "DPoP proof htu is not the request's URL");
    // Its replay cache is the API's: a proof used once is refused, with its reason.
    let used = self::proof(&key, V2_URL, &token);
    assert_eq!(authorize(&authorizer, &v2(&used)).await.outcome, "ok");
    let answer = authorize(&authorizer, &v2(&used)).await.answer.unwrap();
    assert_eq!(answer["context"]["description"], "DPoP proof was used before (jti)");
    // A REST API lists repeated headers in multiValueHeaders.
    let mut two = rest_request_event(headers(&self::proof(&key, V1_URL, &token)));
    let (first, second) = (self::proof(&key, V1_URL, &token), self::proof(&key, V1_URL, &token));
    two["multiValueHeaders"] =
        json!({"Authorization": [format!("DPoP {token}")], "Host": [host], "DPoP": [first, second]});
    two["type"] = json!("REQUEST");
    two["version"] = json!("1.0");
    let answer = authorize(&authorizer, &two).await.answer.unwrap();
    assert_eq!(answer["context"]["description"], "only one DPoP proof header is allowed");
    // A TOKEN authorizer sees no DPoP header.
    let decision = authorize(&authorizer, &token_authorizer_event(&format!("DPoP {token}"))).await;
    assert_eq!(decision.outcome, "invalid_dpop_proof");
    assert_eq!(decision.answer.unwrap_err().error_type, "Unauthorized");
    // Bearer still works, and a bound token is no Bearer token.
    let decision = authorize(&authorizer, &token_authorizer_event(&format!("Bearer {}", mint(&claims())))).await;
    assert_eq!(decision.outcome, "ok");
    let decision = authorize(&authorizer, &token_authorizer_event(&format!("Bearer {token}"))).await;
    assert_eq!(decision.outcome, "invalid_token");
}

#[test]
fn behind_a_base_path_the_public_url_and_the_route_make_htu_whichever_path_api_gateway_hands_on() {
    use auth0_lambda_api::dpop::{Dpop, Settings, Target};
    let vars =
        [env(), vec![("AUTH0_DPOP", "allowed"), ("AUTH0_DPOP_PUBLIC_URL", "https://api.example.com/v1")]].concat();
    let config = Config::from_lookup(lookup(&vars)).unwrap();
    let dpop = Dpop::new(&config.dpop, 5).unwrap();
    let target =
        |route_path| Target { method: "GET", scheme: None, host: Some("x"), path: "/prod/protected", route_path };
    for route_path in ["/protected", "/v1/protected"] {
        assert_eq!(dpop.url(&target(route_path)).unwrap(), "https://api.example.com/v1/protected", "{route_path}");
    }
    assert_eq!(dpop.url(&target("/v1x/protected")).unwrap(), "https://api.example.com/v1/v1x/protected");
    let root = Settings { public_url: Some("https://api.example.com".into()), ..config.dpop.clone() };
    assert_eq!(Dpop::new(&root, 5).unwrap().url(&target("/protected")).unwrap(), "https://api.example.com/protected");
}
