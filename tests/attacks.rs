//! Forged and malformed tokens against `/protected`: each must be a 401 with its specific code, never a 200
//! and never a 5xx; and against the authorizer front door, the same code and API Gateway's 401.

mod support;

use jsonwebtoken::Algorithm;
use serde_json::{Value, json};
use support::*;

async fn assert_refused(token: &str, code: &str) {
    let answer = call_protected(&app(), &format!("Bearer {token}")).await;
    assert_eq!(answer.status, 401, "{code}: {token} -> {}", answer.body);
    assert_eq!(answer.code(), code, "{token}");
    assert!(!answer.body.contains(token), "the answer must not echo the token");
    let decision = authorize(&authorizer_with(&[]), &token_authorizer_event(&format!("Bearer {token}"))).await;
    assert_eq!(decision.outcome, code, "authorizer: {token}");
    assert_eq!(decision.answer.unwrap_err().error_message, "Unauthorized", "authorizer: {token}");
}

fn hs256_header() -> Value {
    json!({"alg": "HS256", "typ": "JWT"})
}

fn unsigned(header: &Value, claims: &Value) -> String {
    format!("{}.{}", b64(header.to_string()), b64(claims.to_string()))
}

#[tokio::test]
async fn alg_none_in_every_spelling_with_and_without_the_trailing_dot() {
    for alg in ["none", "None", "NONE", "nOnE"] {
        let body = unsigned(&json!({"alg": alg, "typ": "JWT"}), &claims());
        assert_refused(&format!("{body}."), "invalid_algorithm").await;
        assert_refused(&body, "invalid_algorithm").await;
    }
}

#[tokio::test]
async fn alg_none_carrying_a_valid_hs256_signature_is_still_refused() {
    let token = mint(&claims());
    let signature = token.rsplit('.').next().unwrap();
    let body = unsigned(&json!({"alg": "none"}), &claims());
    assert_refused(&format!("{body}.{signature}"), "invalid_algorithm").await;
}

#[tokio::test]
async fn stripped_signature_is_invalid() {
    let token = mint(&claims());
    let (body, _) = token.rsplit_once('.').unwrap();
    assert_refused(&format!("{body}."), "token_invalid_signature").await;
}

#[tokio::test]
async fn altered_signature_is_invalid() {
    let token = mint(&claims());
    let (body, signature) = token.rsplit_once('.').unwrap();
    let mut altered: Vec<u8> = signature.bytes().collect();
    altered[3] = if altered[3] == b'A' { b'B' } else { b'A' };
    assert_refused(&format!("{body}.{}", String::from_utf8(altered).unwrap()), "token_invalid_signature").await;
}

#[tokio::test]
async fn altered_claims_under_the_original_signature_are_invalid() {
    let token = mint(&claims());
    let signature = token.rsplit('.').next().unwrap();
    let mut escalated = claims();
    escalated["sub"] = json!("auth0|admin");
    assert_refused(&format!("{}.{signature}", unsigned(&hs256_header(), &escalated)), "token_invalid_signature").await;
}

#[tokio::test]
async fn signature_with_the_wrong_secret_is_invalid() {
    let token = sign_raw(&hs256_header(), &claims(), Algorithm::HS256, b"another-secret-that-is-long-enough-for-hs256");
    assert_refused(&token, "token_invalid_signature").await;
}

#[tokio::test]
async fn hs384_and_hs512_with_the_right_secret_are_not_on_the_allow_list() {
    for (name, alg) in [("HS384", Algorithm::HS384), ("HS512", Algorithm::HS512)] {
        let token = sign_raw(&json!({"alg": name, "typ": "JWT"}), &claims(), alg, SECRET.as_bytes());
        assert_refused(&token, "invalid_algorithm").await;
    }
}

#[tokio::test]
async fn rs256_header_over_an_hmac_signature_is_refused() {
    let token = sign_raw(&json!({"alg": "RS256"}), &claims(), Algorithm::HS256, SECRET.as_bytes());
    assert_refused(&token, "invalid_algorithm").await;
}

#[tokio::test]
async fn unknown_algorithm_names_are_refused() {
    for alg in [json!("hs256"), json!("HS257"), json!(""), json!(null), json!(256)] {
        let body = unsigned(&json!({"alg": alg}), &claims());
        let expected = if alg.is_string() { "invalid_algorithm" } else { "invalid_token" };
        assert_refused(&format!("{body}.c2ln"), expected).await;
    }
}

#[tokio::test]
async fn crit_header_with_an_unknown_extension_is_refused() {
    for crit in [json!(["exp"]), json!(["b64"]), json!([])] {
        let header = json!({"alg": "HS256", "crit": crit, "b64": false, "exp": 1});
        let token = sign_raw(&header, &claims(), Algorithm::HS256, SECRET.as_bytes());
        assert_refused(&token, "invalid_token").await;
    }
}

#[tokio::test]
async fn claims_of_the_wrong_type_are_refused() {
    for (claim, value) in [
        ("exp", json!((now() + 3600).to_string())),
        ("nbf", json!("yesterday")),
        ("aud", json!(7)),
        ("iss", json!(false)),
    ] {
        let mut claims = claims();
        claims[claim] = value;
        assert_refused(&mint(&claims), "invalid_token").await;
    }
}

#[tokio::test]
async fn oversized_token_is_refused_before_decoding() {
    let mut claims = claims();
    claims["padding"] = json!("x".repeat(9 * 1024));
    assert_refused(&mint(&claims), "invalid_header").await;
}

#[tokio::test]
async fn non_ascii_token_is_refused() {
    let token = format!("{}\u{e9}", mint(&claims()));
    assert_refused(&token, "invalid_header").await;
}

#[tokio::test]
async fn garbage_segments_are_refused() {
    for (token, code) in [
        ("a.b.c", "invalid_token"),
        ("...", "invalid_token"),
        ("e30.e30.", "invalid_token"),
        ("e30", "invalid_token"),
        ("eyJhbGciOiJIUzI1NiJ9.e30", "invalid_token"),
        ("eyJhbGciOiJIUzI1NiJ9.e30.x.y.z", "invalid_token"),
        ("eyJhbGciOiJIUzI1NiJ9.!!!.x", "invalid_header"),
    ] {
        assert_refused(token, code).await;
    }
}

#[tokio::test]
async fn token_for_another_issuer_is_refused() {
    let mut claims = claims();
    claims["iss"] = json!("https://attacker.auth0.com/");
    assert_refused(&mint(&claims), "invalid_issuer").await;
}

#[tokio::test]
async fn token_not_yet_valid_is_refused() {
    let mut claims = claims();
    claims["nbf"] = json!(now() + 600);
    assert_refused(&mint(&claims), "token_not_yet_valid").await;
}
