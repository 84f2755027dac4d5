//! The per-request cost: bearer parsing, token verification, and a whole API Gateway request through the
//! handler; and the in-process parts of a TLS cold start: the client configuration with its root store, a
//! TLS handshake and JWKS fetch on loopback, and parsing a key set. `cargo bench --bench verify`.

#[path = "../tests/jwks_server/mod.rs"]
mod jwks_server;
#[path = "../tests/support/mod.rs"]
mod support;

use std::hint::black_box;

use auth0_lambda_api::{Policy, Verifier, bearer_token};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use lambda_http::http::{HeaderMap, HeaderValue};

fn verification(c: &mut Criterion) {
    let mut policy = Policy::new(vec![support::AUDIENCE.to_owned()]);
    policy.issuers = vec![support::ISSUER.to_owned()];
    let verifier = Verifier::new(policy, Some(support::SECRET.as_bytes())).unwrap();
    let token = support::mint(&support::claims());
    let forged = format!("{}AAAA", &token[..token.len() - 4]);
    let now = support::now();

    let mut headers = HeaderMap::new();
    headers.insert("authorization", HeaderValue::try_from(format!("Bearer {token}")).unwrap());
    c.bench_function("bearer_token", |b| b.iter(|| bearer_token(black_box(&headers)).unwrap().len()));
    c.bench_function("verify/hs256_valid", |b| b.iter(|| verifier.verify(black_box(&token), now).unwrap()));
    c.bench_function("verify/hs256_bad_signature", |b| {
        b.iter(|| verifier.verify(black_box(&forged), now).unwrap_err())
    });
}

fn asymmetric(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let keys = [
        jwks_server::SigningKey::rsa("rsa-primary", "rs", jsonwebtoken::Algorithm::RS256),
        jwks_server::SigningKey::es256("es"),
        jwks_server::SigningKey::eddsa("ed"),
    ];
    let jwks: Vec<_> = keys.iter().map(jwks_server::SigningKey::jwk).collect();
    let server = runtime.block_on(jwks_server::JwksServer::serving(&jwks));
    let url = server.url();
    let vars = [
        ("AUTH0_AUDIENCE", support::AUDIENCE),
        ("AUTH0_ISSUER", support::ISSUER),
        ("AUTH0_JWKS_URL", url.as_str()),
        ("AUTH0_ALGORITHMS", "RS256,ES256,EdDSA"),
        ("AUTH0_METRICS", "off"),
        ("AUTH0_EXTRA_CA_CERTS", jwks_server::ca_file()),
    ];
    let config = auth0_lambda_api::Config::from_lookup(|name| {
        vars.iter().find(|(key, _)| *key == name).map(|(_, value)| (*value).to_owned())
    })
    .unwrap();
    let app = auth0_lambda_api::App::new(config).unwrap();
    runtime.block_on(app.prefetch_keys()).unwrap().unwrap();
    for key in &keys {
        let bearer = format!("Bearer {}", key.sign(&support::claims()));
        let event = support::with_route(support::event("v2-root-ok"), "GET", "/api/private");
        let event = support::with_authorization(event, Some(&bearer));
        c.bench_function(&format!("handle/v2_api_private_{:?}", key.alg), |b| {
            b.iter_batched(
                || support::request(&event),
                |request| runtime.block_on(app.handle(request)).unwrap(),
                BatchSize::SmallInput,
            )
        });
    }
    assert_eq!(server.requests(), 1, "the benchmark must measure cached keys");
}

fn whole_request(c: &mut Criterion) {
    let app = support::app();
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let token = support::mint(&support::claims());
    let with_token =
        support::with_authorization(support::event("v2-protected-no-token"), Some(&format!("Bearer {token}")));
    let without_token = support::event("v2-protected-no-token");
    for (name, event) in [("handle/v2_protected_ok", with_token), ("handle/v2_protected_no_token", without_token)] {
        c.bench_function(name, |b| {
            b.iter_batched(
                || support::request(&event),
                |request| runtime.block_on(app.handle(request)).unwrap(),
                BatchSize::SmallInput,
            )
        });
    }
}

fn cold_start_parts(c: &mut Criterion) {
    use auth0_lambda_api::jwks::{HttpJwksClient, JwksClient};
    // A new Trust each time: the configuration is built, not taken from the first build.
    c.bench_function("cold/tls_client_config", |b| {
        b.iter(|| auth0_lambda_api::tls::Trust::new(Vec::new()).client_config().unwrap())
    });

    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let key = jwks_server::SigningKey::rsa("rsa-primary", "rs", jsonwebtoken::Algorithm::RS256);
    let document = jwks_server::jwks(&[key.jwk(), jwks_server::SigningKey::rsa("rsa-rotated", "next", key.alg).jwk()]);
    c.bench_function("cold/keyset_parse_two_rsa_keys", |b| {
        b.iter(|| {
            auth0_lambda_api::KeySet::from_json(black_box(document.as_bytes()), &[jsonwebtoken::Algorithm::RS256])
                .unwrap()
        })
    });

    let tls_server = runtime.block_on(jwks_server::JwksServer::serving(&[key.jwk()]));
    let plain_server = runtime.block_on(jwks_server::JwksServer::start_plain(jwks_server::Mode::Serve(document)));
    let roots = auth0_lambda_api::tls::read_extra_roots(jwks_server::ca_file()).unwrap();
    let tls = auth0_lambda_api::tls::Trust::new(roots).client_config().unwrap();
    for (name, server) in [("cold/jwks_fetch_tls", &tls_server), ("cold/jwks_fetch_plain_http", &plain_server)] {
        // A new connection per fetch, as in production: the TLS row is one full handshake.
        let client = HttpJwksClient::new(server.url().parse().unwrap(), &tls);
        c.bench_function(name, |b| b.iter(|| runtime.block_on(client.fetch()).unwrap()));
    }
}

criterion_group!(benches, verification, whole_request, asymmetric, cold_start_parts);
criterion_main!(benches);
