//! The per-request cost: bearer parsing, token verification, and a whole API Gateway request through the
//! handler. `cargo bench --bench verify`.

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

criterion_group!(benches, verification, whole_request);
criterion_main!(benches);
