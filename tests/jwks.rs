//! RS256 and friends against a real JWKS server on 127.0.0.1: key algorithms, rotation, the fetch policy,
//! faults of the key source, algorithm confusion, and scopes and permissions.

mod jwks_server;
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use auth0_lambda_api::key_source::Prefetch;
use auth0_lambda_api::{App, Config, KeyPolicy};
use base64::Engine as _;
use jsonwebtoken::Algorithm;
use jwks_server::{Handshakes, JwksServer, Mode, SigningKey};
use serde_json::{Value, json};
use support::{AUDIENCE, Answer, ISSUER, call, claims, event, lookup, with_authorization, with_route};

const OTHER_ISSUER: &str = "https://login.example.com/";

fn rs256() -> SigningKey {
    SigningKey::rsa("rsa-primary", "primary", Algorithm::RS256)
}

/// A policy that never waits: each rule under test is switched on by the test itself.
fn eager() -> KeyPolicy {
    KeyPolicy { refetch_cooldown: Duration::ZERO, retry_without_keys: Duration::ZERO, ..KeyPolicy::default() }
}

/// An app that fetches its keys from `server`, with `extra` configuration and `policy`.
fn app(server: &JwksServer, extra: &[(&str, &str)], policy: KeyPolicy) -> App {
    let url = server.url();
    let issuers = format!("{ISSUER},{OTHER_ISSUER}");
    let mut vars: Vec<(&str, &str)> = vec![
        ("AUTH0_AUDIENCE", AUDIENCE),
        ("AUTH0_ISSUER", &issuers),
        ("AUTH0_JWKS_URL", &url),
        ("AUTH0_ALGORITHMS", "RS256,PS256,ES256,EdDSA"),
        ("AUTH0_METRICS", "off"),
        ("AUTH0_EXTRA_CA_CERTS", jwks_server::ca_file()),
    ];
    for (name, value) in extra {
        vars.retain(|(existing, _)| existing != name);
        vars.push((name, value));
    }
    let mut config = Config::from_lookup(lookup(&vars)).unwrap();
    config.key_policy = policy;
    App::new(config).unwrap()
}

/// A tenant publishing `key`, and an app that fetches from it under the default policy. The server lives as
/// long as the pair.
async fn tenant(key: &SigningKey) -> (JwksServer, App) {
    let server = JwksServer::serving(&[key.jwk()]).await;
    let app = app(&server, &[], KeyPolicy::default());
    (server, app)
}

/// The cold-start fetch, which must succeed.
async fn prefetched(app: &App) {
    let prefetch = app.prefetch_keys().await;
    assert!(matches!(prefetch, Prefetch::Fetched { .. }), "{prefetch:?}");
}

async fn get(app: &App, path: &str, token: Option<&str>) -> Answer {
    let event = with_route(event("v2-root-ok"), "GET", path);
    call(app, &with_authorization(event, token.map(|token| format!("Bearer {token}")).as_deref())).await
}

fn assert_answer(answer: &Answer, status: u16, code: &str) {
    assert_eq!(answer.status, status, "{}", answer.body);
    assert_eq!(answer.code(), code, "{}", answer.body);
}

#[tokio::test]
async fn rs256_ps256_es256_and_eddsa_tokens_are_accepted() {
    let keys = [
        rs256(),
        SigningKey::rsa("rsa-rotated", "pss", Algorithm::PS256),
        SigningKey::es256("ec"),
        SigningKey::eddsa("ed"),
    ];
    let server = JwksServer::serving(&keys.iter().map(SigningKey::jwk).collect::<Vec<_>>()).await;
    let app = app(&server, &[], KeyPolicy::default());
    prefetched(&app).await;
    for key in &keys {
        let answer = get(&app, "/api/private", Some(&key.sign(&claims()))).await;
        assert_eq!(answer.status, 200, "{:?}: {}", key.alg, answer.body);
        assert_eq!(
            answer.json()["message"],
            "Hello from a private endpoint! You need to be authenticated to see this."
        );
    }
    assert_eq!(server.requests(), 1, "every key came from the one cold-start fetch");
}

#[tokio::test]
async fn the_seed_routes_accept_rs256_tokens_too() {
    let key = rs256();
    let (_server, app) = tenant(&key).await;
    let answer = get(&app, "/protected", Some(&key.sign(&claims()))).await;
    assert_eq!((answer.status.as_u16(), answer.body.as_str()), (200, "Hello World jane@example.com!"));
}

#[tokio::test]
async fn audience_arrays_and_every_configured_issuer_are_accepted() {
    let key = rs256();
    let (_server, app) = tenant(&key).await;
    for issuer in [ISSUER, OTHER_ISSUER] {
        let mut claims = claims();
        claims["iss"] = json!(issuer);
        claims["aud"] = json!(["https://tenant.example.auth0.com/userinfo", AUDIENCE]);
        assert_eq!(get(&app, "/api/private", Some(&key.sign(&claims))).await.status, 200, "{issuer}");
    }
    let mut foreign = claims();
    foreign["iss"] = json!("https://other-tenant.auth0.com/");
    assert_answer(&get(&app, "/api/private", Some(&key.sign(&foreign))).await, 401, "invalid_issuer");
}

#[tokio::test]
async fn a_rotated_key_is_accepted_after_exactly_one_refetch() {
    let (old, new) = (rs256(), SigningKey::rsa("rsa-rotated", "next", Algorithm::RS256));
    let server = JwksServer::serving(&[old.jwk()]).await;
    let app = app(&server, &[], eager());
    prefetched(&app).await;
    assert_eq!(get(&app, "/api/private", Some(&old.sign(&claims()))).await.status, 200);
    assert_eq!(server.requests(), 1);

    server.serve(&[new.jwk()]);
    let token = new.sign(&claims());
    assert_eq!(get(&app, "/api/private", Some(&token)).await.status, 200);
    assert_eq!(server.requests(), 2, "the unknown kid caused one refetch");
    assert_eq!(get(&app, "/api/private", Some(&token)).await.status, 200);
    assert_eq!(server.requests(), 2, "the new key is cached");
}

/// A refetch resumes the TLS session the fetch before it got a ticket for, when the tenant issues tickets:
/// a resumed handshake sends and verifies no certificate chain.
#[tokio::test]
async fn a_refetch_resumes_the_tls_session_of_the_fetch_before() {
    let server = JwksServer::serving(&[rs256().jwk()]).await;
    let app = app(&server, &[], eager());
    prefetched(&app).await;
    assert_eq!(server.handshakes(), Handshakes { full: 1, ..Handshakes::default() }, "the cold start's fetch");

    refetch_for_a_new_key(&server, &app).await;
    let resumed = Handshakes { full: 1, resumed: 1, unknown_tickets: 0 };
    assert_eq!(server.handshakes(), resumed, "the refetch resumed the session");
}

/// A ticket the server no longer knows (it restarted, or the ticket expired while the sandbox was frozen) costs
/// a full handshake, never a failed fetch.
#[tokio::test]
async fn a_ticket_the_server_forgot_gives_a_full_handshake_not_a_failed_fetch() {
    let server = JwksServer::serving(&[rs256().jwk()]).await;
    let app = app(&server, &[], eager());
    prefetched(&app).await;

    server.forget_sessions();
    refetch_for_a_new_key(&server, &app).await;
    let refused = Handshakes { full: 2, resumed: 0, unknown_tickets: 1 };
    assert_eq!(server.handshakes(), refused, "the forgotten ticket was offered, refused, and a full handshake made");
}

/// The tenant rotates in a new key, and a token signed with it makes `app` refetch, successfully.
async fn refetch_for_a_new_key(server: &JwksServer, app: &App) {
    let requests = server.requests();
    let new = SigningKey::rsa("rsa-rotated", "next", Algorithm::RS256);
    server.serve(&[new.jwk()]);
    assert_eq!(get(app, "/api/private", Some(&new.sign(&claims()))).await.status, 200);
    assert_eq!(server.requests(), requests + 1, "the unknown kid caused one refetch");
}

#[tokio::test]
async fn a_flood_of_unknown_kids_costs_one_fetch() {
    let key = rs256();
    let server = JwksServer::serving(&[key.jwk()]).await;
    let app = Arc::new(app(&server, &[], KeyPolicy::default()));
    let mut flood = tokio::task::JoinSet::new();
    for n in 0..50 {
        let (app, token) =
            (app.clone(), key.sign_with_header(&claims(), |header| header.kid = Some(format!("random-{n}"))));
        flood.spawn(async move { get(&app, "/api/private", Some(&token)).await });
    }
    while let Some(answer) = flood.join_next().await {
        assert_answer(&answer.unwrap(), 401, "unknown_key");
    }
    assert_eq!(server.requests(), 1, "concurrent misses share one fetch, later ones wait for the cooldown");
    assert_eq!(get(&app, "/api/private", Some(&key.sign(&claims()))).await.status, 200);
}

#[tokio::test]
async fn jwks_down_at_cold_start_answers_503_then_recovers() {
    let key = rs256();
    let server = JwksServer::start(Mode::Drop).await;
    let app = app(&server, &[], eager());
    assert!(matches!(app.prefetch_keys().await, Prefetch::Failed(_)), "the instance starts without keys");

    let token = key.sign(&claims());
    let answer = get(&app, "/api/private", Some(&token)).await;
    assert_answer(&answer, 503, "jwks_unavailable");
    assert!(answer.header("retry-after").parse::<u64>().is_ok_and(|seconds| seconds >= 1));
    assert_eq!(answer.header("www-authenticate"), "", "a server fault is not a credentials problem");

    server.serve(&[key.jwk()]);
    assert_eq!(get(&app, "/api/private", Some(&token)).await.status, 200);
}

#[tokio::test]
async fn a_slow_jwks_is_bounded_by_the_fetch_timeout() {
    let key = rs256();
    let server = JwksServer::start(Mode::Slow(Duration::from_secs(30), jwks_server::jwks(&[key.jwk()]))).await;
    let policy = KeyPolicy { fetch_timeout: Duration::from_millis(300), ..eager() };
    let app = app(&server, &[], policy);
    let started = Instant::now();
    assert_answer(&get(&app, "/api/private", Some(&key.sign(&claims()))).await, 503, "jwks_unavailable");
    assert!(started.elapsed() < Duration::from_secs(10), "the request waited {:?}", started.elapsed());
}

#[tokio::test]
async fn a_broken_jwks_is_answered_with_503_and_never_cached_as_keys() {
    let key = rs256();
    let oversized = format!("{{\"keys\": [], \"padding\": \"{}\"}}", "x".repeat(300 * 1024));
    for mode in [
        Mode::Serve("<html>Bad gateway</html>".into()),
        Mode::Serve("{\"keys\": [{\"kty\": \"oct\", \"kid\": \"primary\", \"k\": \"AAAA\"}]}".into()),
        Mode::Serve(oversized),
        Mode::Status(500),
        Mode::Status(404),
    ] {
        let server = JwksServer::start(mode.clone()).await;
        let app = app(&server, &[], eager());
        let token = key.sign(&claims());
        assert_answer(&get(&app, "/api/private", Some(&token)).await, 503, "jwks_unavailable");
        server.serve(&[key.jwk()]);
        assert_eq!(get(&app, "/api/private", Some(&token)).await.status, 200, "{mode:?}: recovery");
    }
}

#[tokio::test]
async fn a_redirect_is_never_followed() {
    let key = rs256();
    let elsewhere = JwksServer::serving(&[key.jwk()]).await;
    let server = JwksServer::start(Mode::Redirect(elsewhere.url())).await;
    let app = app(&server, &[], eager());
    assert_answer(&get(&app, "/api/private", Some(&key.sign(&claims()))).await, 503, "jwks_unavailable");
    assert_eq!(server.requests(), 1);
    assert_eq!(elsewhere.requests(), 0, "the redirect target was fetched");
}

#[tokio::test]
async fn a_failed_refresh_keeps_the_keys_already_known() {
    let key = rs256();
    let server = JwksServer::serving(&[key.jwk()]).await;
    let app = app(&server, &[], eager());
    prefetched(&app).await;
    server.set(Mode::Status(503));
    let unknown = key.sign_with_header(&claims(), |header| header.kid = Some("rotated-in".into()));
    assert_answer(&get(&app, "/api/private", Some(&unknown)).await, 503, "jwks_unavailable");
    assert_eq!(server.requests(), 2, "the unknown kid tried a refetch");
    assert_eq!(get(&app, "/api/private", Some(&key.sign(&claims()))).await.status, 200, "stale keys still verify");
}

#[tokio::test]
async fn keys_past_the_stale_bound_are_not_used_while_the_jwks_is_down() {
    let key = rs256();
    let server = JwksServer::serving(&[key.jwk()]).await;
    // Every request is due a refresh, and keys may not outlive a failed one (AUTH0_JWKS_MAX_STALE_SECONDS=0).
    let app = app(&server, &[], KeyPolicy { refresh_interval: Duration::ZERO, max_stale: Duration::ZERO, ..eager() });
    prefetched(&app).await;
    let token = key.sign(&claims());
    assert_eq!(get(&app, "/api/private", Some(&token)).await.status, 200);
    server.set(Mode::Status(503));
    let answer = get(&app, "/api/private", Some(&token)).await;
    assert_answer(&answer, 503, "jwks_unavailable");
    assert!(answer.header("retry-after").parse::<u64>().is_ok_and(|seconds| seconds >= 1));
    server.serve(&[key.jwk()]);
    assert_eq!(get(&app, "/api/private", Some(&token)).await.status, 200, "the key is back with the JWKS");
}

#[tokio::test]
async fn a_new_kid_right_after_the_cold_start_is_fetched_at_its_first_use() {
    let (old, new) = (rs256(), SigningKey::rsa("rsa-rotated", "added", Algorithm::RS256));
    let server = JwksServer::serving(&[old.jwk()]).await;
    let app = app(&server, &[], KeyPolicy::default());
    prefetched(&app).await;
    server.serve(&[old.jwk(), new.jwk()]);
    assert_eq!(get(&app, "/api/private", Some(&new.sign(&claims()))).await.status, 200);
    assert_eq!(server.requests(), 2, "the cold-start fetch did not start the unknown-kid cooldown");
    let other = new.sign_with_header(&claims(), |header| header.kid = Some("still-unknown".into()));
    assert_answer(&get(&app, "/api/private", Some(&other)).await, 401, "unknown_key");
    assert_eq!(server.requests(), 2, "a second unknown kid inside the cooldown fetches nothing");
}

#[tokio::test]
async fn an_rsa_key_without_alg_verifies_only_the_one_rsa_algorithm_allowed() {
    let rs = rs256();
    let mut jwk = rs.jwk();
    jwk.as_object_mut().unwrap().remove("alg");
    let server = JwksServer::serving(&[jwk]).await;
    let rs256_only = app(&server, &[("AUTH0_ALGORITHMS", "RS256")], KeyPolicy::default());
    assert_eq!(get(&rs256_only, "/api/private", Some(&rs.sign(&claims()))).await.status, 200);

    // With RS256 and PS256 both allowed, which one the key is for cannot be known: it is not used.
    let both = app(&server, &[("AUTH0_ALGORITHMS", "RS256,PS256")], KeyPolicy::default());
    assert_eq!(get(&both, "/api/private", Some(&rs.sign(&claims()))).await.status, 503);
    let ps = SigningKey::rsa("rsa-primary", "primary", Algorithm::PS256);
    let ps256_only = app(&server, &[("AUTH0_ALGORITHMS", "PS256")], KeyPolicy::default());
    assert_eq!(get(&ps256_only, "/api/private", Some(&ps.sign(&claims()))).await.status, 200);
    assert_answer(&get(&ps256_only, "/api/private", Some(&rs.sign(&claims()))).await, 401, "invalid_algorithm");
}

#[tokio::test]
async fn a_jwks_with_unusable_keys_still_serves_the_usable_ones() {
    let key = rs256();
    let mut encryption = SigningKey::rsa("rsa-rotated", "enc", Algorithm::RS256).jwk();
    encryption["use"] = json!("enc");
    let keys = [
        json!({"kty": "oct", "kid": "hmac", "k": "c2VjcmV0", "alg": "HS256"}),
        json!({"kty": "EC", "kid": "p521", "crv": "P-521", "x": "AA", "y": "AA"}),
        json!({"kty": "RSA", "kid": "oaep", "alg": "RSA-OAEP", "n": "AQAB", "e": "AQAB"}),
        encryption,
        key.jwk(),
    ];
    let server = JwksServer::serving(&keys).await;
    let app = app(&server, &[], KeyPolicy::default());
    assert_eq!(get(&app, "/api/private", Some(&key.sign(&claims()))).await.status, 200);
    let enc = SigningKey::rsa("rsa-rotated", "enc", Algorithm::RS256);
    assert_answer(&get(&app, "/api/private", Some(&enc.sign(&claims()))).await, 401, "unknown_key");
}

#[tokio::test]
async fn a_jwk_whose_alg_disagrees_with_the_token_is_never_used() {
    let key = rs256(); // its JWK says RS256
    let (_server, app) = tenant(&key).await;
    let pss = SigningKey::rsa("rsa-primary", "primary", Algorithm::PS256);
    assert_answer(&get(&app, "/api/private", Some(&pss.sign(&claims()))).await, 401, "unknown_key");
}

#[tokio::test]
async fn hs256_signed_with_the_rsa_public_key_is_refused_in_every_form() {
    let key = rs256();
    let jwk = key.jwk();
    let n = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(jwk["n"].as_str().unwrap()).unwrap();
    let der = rsa_public_key_der(&n);
    let pem = format!(
        "-----BEGIN RSA PUBLIC KEY-----\n{}\n-----END RSA PUBLIC KEY-----\n",
        base64::engine::general_purpose::STANDARD.encode(&der)
    );
    let server = JwksServer::serving(std::slice::from_ref(&jwk)).await;
    let rs256_only = app(&server, &[], KeyPolicy::default());
    let with_secret = app(
        &server,
        &[("AUTH0_CLIENT_SECRET", support::SECRET), ("AUTH0_ALGORITHMS", "RS256,HS256")],
        KeyPolicy::default(),
    );
    for public_key in [pem.into_bytes(), der, jwk.to_string().into_bytes(), n] {
        let header = json!({"alg": "HS256", "typ": "JWT", "kid": "primary"});
        let token = support::sign_raw(&header, &claims(), Algorithm::HS256, &public_key);
        assert_answer(&get(&rs256_only, "/api/private", Some(&token)).await, 401, "invalid_algorithm");
        assert_answer(&get(&with_secret, "/api/private", Some(&token)).await, 401, "token_invalid_signature");
    }
}

/// PKCS#1 `RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }` for exponent 65537.
fn rsa_public_key_der(modulus: &[u8]) -> Vec<u8> {
    fn length(len: usize) -> Vec<u8> {
        match len {
            0..=127 => vec![len as u8],
            128..=255 => vec![0x81, len as u8],
            _ => vec![0x82, (len >> 8) as u8, len as u8],
        }
    }
    let mut integer = vec![0u8];
    integer.extend_from_slice(modulus);
    let mut body = vec![0x02];
    body.extend(length(integer.len()));
    body.extend(integer);
    body.extend([0x02, 0x03, 0x01, 0x00, 0x01]);
    let mut der = vec![0x30];
    der.extend(length(body.len()));
    der.extend(body);
    der
}

#[tokio::test]
async fn rs256_is_refused_when_only_hs256_is_allowed() {
    let key = rs256();
    let server = JwksServer::serving(&[key.jwk()]).await;
    let hs_only = support::app();
    assert_answer(&get(&hs_only, "/api/private", Some(&key.sign(&claims()))).await, 401, "invalid_algorithm");
    assert_eq!(server.requests(), 0);
}

#[tokio::test]
async fn embedded_jwk_jku_and_x5u_headers_are_ignored_and_never_fetched() {
    let trusted = rs256();
    let server = JwksServer::serving(&[trusted.jwk()]).await;
    let attacker = SigningKey::rsa("rsa-rotated", "attacker", Algorithm::RS256);
    let attacker_server = JwksServer::serving(&[attacker.jwk()]).await;
    let app = app(&server, &[], eager());
    let embedded_jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(attacker.jwk()).unwrap();
    for kid in ["attacker", "primary"] {
        let token = attacker.sign_with_header(&claims(), |header| {
            header.kid = Some(kid.into());
            header.jku = Some(attacker_server.url());
            header.x5u = Some(attacker_server.url());
            header.jwk = Some(embedded_jwk.clone());
        });
        let expected = if kid == "primary" { "token_invalid_signature" } else { "unknown_key" };
        assert_answer(&get(&app, "/api/private", Some(&token)).await, 401, expected);
    }
    assert_eq!(attacker_server.requests(), 0, "a URL from the token was fetched");
}

#[tokio::test]
async fn es256_signature_of_zeros_is_refused() {
    // CVE-2022-21449: r = s = 0 verified against any message with some ECDSA implementations.
    let key = SigningKey::es256("ec");
    let (_server, app) = tenant(&key).await;
    let token = key.sign(&claims());
    let (body, _) = token.rsplit_once('.').unwrap();
    let zeros = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([0u8; 64]);
    assert_answer(&get(&app, "/api/private", Some(&format!("{body}.{zeros}"))).await, 401, "token_invalid_signature");
}

#[tokio::test]
async fn a_token_without_kid_is_an_unknown_key() {
    let key = rs256();
    let (_server, app) = tenant(&key).await;
    let token = key.sign_with_header(&claims(), |header| header.kid = None);
    assert_answer(&get(&app, "/api/private", Some(&token)).await, 401, "unknown_key");
}

fn with_grants(scope: Option<&str>, permissions: Option<Value>) -> Value {
    let mut claims = claims();
    if let Some(scope) = scope {
        claims["scope"] = json!(scope);
    }
    if let Some(permissions) = permissions {
        claims["permissions"] = permissions;
    }
    claims
}

#[tokio::test]
async fn the_scoped_route_accepts_the_scope_or_the_permission() {
    let key = rs256();
    let (_server, app) = tenant(&key).await;
    for claims in [
        with_grants(Some("openid read:messages"), None),
        with_grants(None, Some(json!(["read:messages"]))),
        with_grants(Some("openid"), Some(json!(["write:messages", "read:messages"]))),
    ] {
        let answer = get(&app, "/api/private-scoped", Some(&key.sign(&claims))).await;
        assert_eq!(answer.status, 200, "{claims}: {}", answer.body);
        assert!(answer.json()["message"].as_str().unwrap().contains("read:messages"));
    }
}

#[tokio::test]
async fn the_scoped_route_refuses_a_token_without_the_grant_with_403() {
    let key = rs256();
    let (_server, app) = tenant(&key).await;
    for claims in [
        with_grants(None, None),
        with_grants(Some("openid read:messages:all write:messages"), None),
        with_grants(None, Some(json!(["READ:MESSAGES"]))),
        with_grants(Some(""), Some(json!([]))),
    ] {
        let answer = get(&app, "/api/private-scoped", Some(&key.sign(&claims))).await;
        assert_answer(&answer, 403, "insufficient_scope");
        assert_eq!(
            answer.header("www-authenticate"),
            format!(
                "Bearer realm=\"{AUDIENCE}\", error=\"insufficient_scope\", error_description=\"the token does not grant what this endpoint requires\", scope=\"read:messages\""
            )
        );
    }
}

#[tokio::test]
async fn the_scoped_route_still_authenticates_first() {
    let key = rs256();
    let (_server, app) = tenant(&key).await;
    assert_answer(&get(&app, "/api/private-scoped", None).await, 401, "authorization_header_missing");
    let mut expired = with_grants(Some("read:messages"), None);
    expired["exp"] = json!(support::now() - 3600);
    assert_answer(&get(&app, "/api/private-scoped", Some(&key.sign(&expired))).await, 401, "token_expired");
}

#[tokio::test]
async fn grants_of_the_wrong_type_are_invalid_tokens() {
    let key = rs256();
    let (_server, app) = tenant(&key).await;
    for claims in [with_grants(None, Some(json!("read:messages"))), with_grants(None, Some(json!([1])))] {
        assert_answer(&get(&app, "/api/private-scoped", Some(&key.sign(&claims))).await, 401, "invalid_token");
    }
}

#[tokio::test]
async fn the_public_quickstart_route_needs_no_token() {
    let server = JwksServer::start(Mode::Drop).await;
    let app = app(&server, &[], KeyPolicy::default());
    let answer = get(&app, "/api/public", None).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("content-type"), "application/json");
    assert_eq!(
        answer.json()["message"],
        "Hello from a public endpoint! You don't need to be authenticated to see this."
    );
    assert_eq!(server.requests(), 0, "a public route fetches no key");
}

#[tokio::test]
async fn a_plain_http_jwks_on_loopback_is_still_fetched() {
    let key = rs256();
    let server = JwksServer::start_plain(Mode::Serve(jwks_server::jwks(&[key.jwk()]))).await;
    assert!(server.url().starts_with("http://"));
    let app = app(&server, &[], KeyPolicy::default());
    prefetched(&app).await;
    assert_eq!(get(&app, "/api/private", Some(&key.sign(&claims()))).await.status, 200);
}

#[tokio::test]
async fn a_jwks_certificate_that_no_trusted_root_vouches_for_is_refused() {
    let key = rs256();
    let server = JwksServer::serving(&[key.jwk()]).await;
    // An empty value is unset: only the compiled-in web PKI roots are trusted, and the tests' CA is not one.
    let app = app(&server, &[("AUTH0_EXTRA_CA_CERTS", "")], eager());
    let Prefetch::Failed(error) = app.prefetch_keys().await else { panic!("the JWKS was fetched") };
    assert!(error.to_string().contains("certificate"), "{error}");
    assert_answer(&get(&app, "/api/private", Some(&key.sign(&claims()))).await, 503, "jwks_unavailable");
    assert_eq!(server.requests(), 0, "a request went over an unverified connection");
}

#[tokio::test]
async fn a_jwks_certificate_for_another_host_is_refused_even_from_a_trusted_ca() {
    let key = rs256();
    let server = JwksServer::start_at_unnamed_address(Mode::Serve(jwks_server::jwks(&[key.jwk()]))).await;
    let app = app(&server, &[], eager());
    let Prefetch::Failed(error) = app.prefetch_keys().await else { panic!("the JWKS was fetched") };
    assert!(error.to_string().contains("certificate"), "{error}");
    assert_eq!(server.requests(), 0, "a request went to a host the certificate does not name");
}

#[tokio::test]
async fn a_refresh_after_the_server_closed_its_idle_connection_still_fetches() {
    let key = rs256();
    let server = JwksServer::start(Mode::ClosesIdleConnections(jwks_server::jwks(&[key.jwk()]))).await;
    let app = app(&server, &[], KeyPolicy { refresh_interval: Duration::ZERO, ..eager() });
    prefetched(&app).await;
    for fetches in 2..=4 {
        assert_eq!(get(&app, "/api/private", Some(&key.sign(&claims()))).await.status, 200);
        assert_eq!(server.requests(), fetches, "the refresh failed on a connection the server had closed");
    }
}

/// The `AUTH0_JWKS` value that supplies these keys.
fn supplied(keys: &[&SigningKey]) -> String {
    jwks_server::jwks(&keys.iter().map(|key| key.jwk()).collect::<Vec<_>>())
}

#[tokio::test]
async fn supplied_keys_serve_the_first_request_without_a_fetch() {
    let key = rs256();
    let server = JwksServer::serving(&[key.jwk()]).await;
    let app = app(&server, &[("AUTH0_JWKS", &supplied(&[&key]))], KeyPolicy::default());
    assert_eq!(app.prefetch_keys().await, Prefetch::Fetched { keys: 1 }, "the cold start has its keys");
    assert_eq!(get(&app, "/api/private", Some(&key.sign(&claims()))).await.status, 200);
    assert_eq!(server.requests(), 0, "nothing was fetched");
}

#[tokio::test]
async fn supplied_keys_serve_while_the_jwks_is_down() {
    let key = rs256();
    let server = JwksServer::start(Mode::Drop).await;
    let app = app(&server, &[("AUTH0_JWKS", &supplied(&[&key]))], KeyPolicy::default());
    prefetched(&app).await;
    assert_eq!(get(&app, "/api/private", Some(&key.sign(&claims()))).await.status, 200);
}

#[tokio::test]
async fn a_kid_missing_from_the_supplied_keys_is_fetched_at_once() {
    let (old, new) = (rs256(), SigningKey::rsa("rsa-rotated", "next", Algorithm::RS256));
    let server = JwksServer::serving(&[old.jwk(), new.jwk()]).await;
    // The default policy: a fetch would start the 30 s cooldown, but none has happened yet.
    let app = app(&server, &[("AUTH0_JWKS", &supplied(&[&old]))], KeyPolicy::default());
    prefetched(&app).await;
    assert_eq!(get(&app, "/api/private", Some(&new.sign(&claims()))).await.status, 200);
    assert_eq!(server.requests(), 1);
}

#[tokio::test]
async fn a_supplied_key_the_tenant_no_longer_publishes_stops_verifying_after_the_first_fetch() {
    let (revoked, current) = (rs256(), SigningKey::rsa("rsa-rotated", "next", Algorithm::RS256));
    let server = JwksServer::serving(&[current.jwk()]).await;
    let app = app(&server, &[("AUTH0_JWKS", &supplied(&[&revoked]))], KeyPolicy::default());
    prefetched(&app).await;
    assert_eq!(get(&app, "/api/private", Some(&revoked.sign(&claims()))).await.status, 200, "before any fetch");
    assert_eq!(get(&app, "/api/private", Some(&current.sign(&claims()))).await.status, 200);
    assert_eq!(server.requests(), 1);
    let answer = get(&app, "/api/private", Some(&revoked.sign(&claims()))).await;
    assert_answer(&answer, 401, "unknown_key");
}

#[tokio::test]
async fn supplied_keys_are_replaced_at_the_refresh_interval() {
    let (revoked, current) = (rs256(), SigningKey::rsa("rsa-rotated", "next", Algorithm::RS256));
    let server = JwksServer::serving(&[current.jwk()]).await;
    let policy = KeyPolicy { refresh_interval: Duration::ZERO, ..KeyPolicy::default() };
    let app = app(&server, &[("AUTH0_JWKS", &supplied(&[&revoked]))], policy);
    prefetched(&app).await;
    assert_answer(&get(&app, "/api/private", Some(&revoked.sign(&claims()))).await, 401, "unknown_key");
    assert_eq!(server.requests(), 1, "the refresh fetched the tenant's keys");
}
