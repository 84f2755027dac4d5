//! The per-request cost against the floor of its cryptography, and the in-process parts of a TLS cold start.
//! `cargo bench --bench verify`.
//!
//! For each algorithm (HS256, RS256, ES256, EdDSA), in one run:
//! - `floor/<alg>`: the primitive alone through aws-lc-rs, the backend the function uses, with the key parsed
//!   beforehand: HMAC-SHA256, RSA-2048 PKCS#1 v1.5 with SHA-256, ECDSA P-256 with SHA-256, Ed25519, each over
//!   the token's own signing input and signature;
//! - `verify/<alg>`: what production does with a bearer token: `Authenticator::claims_for`, with the function's
//!   key store holding the keys a TLS JWKS server sent at cold start (the HMAC key from the configuration);
//! - `request/<alg>`: a whole API Gateway v2 request to `/api/private` through `App::handle`;
//! - `request/bare_lambda_http`: what a bare `lambda_http` function does with the same request (drops it,
//!   answers a text), the part of `request/<alg>` that is lambda_http's own.
//!
//! `dpop/request/HS256_dpop` is the HS256 request with `AUTH0_DPOP=allowed`, a bound token and a proof.
//!
//! Then the ratios the README reports are printed against their targets, each measured paired (batches of
//! both sides back to back, median of 51 rounds), so that the machine's drift does not pick a side.

#[path = "../tests/jwks_server/mod.rs"]
mod jwks_server;
#[path = "../tests/support/mod.rs"]
mod support;

use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use auth0_lambda_api::key_source::Prefetch;
use auth0_lambda_api::{App, bearer_token};
use aws_lc_rs::hmac;
use aws_lc_rs::signature::{self, ParsedPublicKey, RsaPublicKeyComponents};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::{BatchSize, Criterion};
use jsonwebtoken::Algorithm;
use lambda_http::http::{HeaderMap, HeaderValue};
use serde_json::Value;

/// Runs a future that must not wait (a cached key, no I/O) to completion, without a runtime: what is measured
/// is the function's own work, not a scheduler's.
fn ready<T>(future: impl Future<Output = T>) -> T {
    match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(value) => value,
        Poll::Pending => panic!("the measured path waited"),
    }
}

/// A verification primitive with its key parsed, as the floor under one algorithm.
#[allow(clippy::large_enum_variant)] // Four values, made once; the floor adds no pointer chase to the primitive.
enum Floor {
    Hmac(hmac::Key),
    Public(ParsedPublicKey),
}

impl Floor {
    /// RSA-2048 PKCS#1 v1.5 with SHA-256, P-256 with SHA-256, or Ed25519, by the JWK's type.
    fn from_jwk(jwk: &Value) -> Self {
        let member = |name: &str| URL_SAFE_NO_PAD.decode(jwk[name].as_str().unwrap()).unwrap();
        let key = match jwk["kty"].as_str().unwrap() {
            "RSA" => RsaPublicKeyComponents { n: member("n"), e: member("e") }
                .to_parsed_public_key(&signature::RSA_PKCS1_2048_8192_SHA256)
                .unwrap(),
            "EC" => {
                ParsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, [vec![4], member("x"), member("y")].concat())
                    .unwrap()
            }
            _ => ParsedPublicKey::new(&signature::ED25519, member("x")).unwrap(),
        };
        Self::Public(key)
    }

    fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        match self {
            Self::Hmac(key) => hmac::verify(key, message, signature).is_ok(),
            Self::Public(key) => key.verify_sig(message, signature).is_ok(),
        }
    }
}

fn per_algorithm(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let keys = [
        jwks_server::SigningKey::rsa("rsa-primary", "rs", Algorithm::RS256),
        jwks_server::SigningKey::es256("es"),
        jwks_server::SigningKey::eddsa("ed"),
    ];
    let jwks: Vec<_> = keys.iter().map(jwks_server::SigningKey::jwk).collect();
    let server = runtime.block_on(jwks_server::JwksServer::serving(&jwks));
    let url = server.url();
    let vars = [
        ("AUTH0_AUDIENCE", support::AUDIENCE),
        ("AUTH0_ISSUER", support::ISSUER),
        ("AUTH0_CLIENT_SECRET", support::SECRET),
        ("AUTH0_JWKS_URL", url.as_str()),
        ("AUTH0_ALGORITHMS", "HS256,RS256,ES256,EdDSA"),
        ("AUTH0_METRICS", "off"),
        ("AUTH0_EXTRA_CA_CERTS", jwks_server::ca_file()),
    ];
    let config = auth0_lambda_api::Config::from_lookup(|name| {
        vars.iter().find(|(key, _)| *key == name).map(|(_, value)| (*value).to_owned())
    })
    .unwrap();
    let app = App::new(config).unwrap();
    let prefetch = runtime.block_on(app.prefetch_keys());
    assert!(matches!(prefetch, Prefetch::Fetched { .. }), "{prefetch:?}");

    let claims = support::claims();
    let cases = [
        ("HS256", support::mint(&claims), Floor::Hmac(hmac::Key::new(hmac::HMAC_SHA256, support::SECRET.as_bytes()))),
        ("RS256", keys[0].sign(&claims), Floor::from_jwk(&jwks[0])),
        ("ES256", keys[1].sign(&claims), Floor::from_jwk(&jwks[1])),
        ("EdDSA", keys[2].sign(&claims), Floor::from_jwk(&jwks[2])),
    ];
    // What any lambda_http function pays per request before its handler's own work: the Request lambda_http
    // built (its request context, the Lambda context, headers) dropped and a text response made, as the
    // bare function of the cold-start benchmark does.
    let bare_event = support::with_route(support::event("v2-root-ok"), "GET", "/api/private");
    c.bench_function("request/bare_lambda_http", |b| {
        b.iter_batched(
            || support::request(&bare_event),
            |request| {
                drop(request);
                lambda_http::Response::new(lambda_http::Body::from("Hello World!"))
            },
            BatchSize::SmallInput,
        )
    });

    let mut paired_cases = Vec::new();
    for (name, token, floor) in &cases {
        let (input, signature) = token.rsplit_once('.').unwrap();
        let signature = URL_SAFE_NO_PAD.decode(signature).unwrap();
        assert!(floor.verify(input.as_bytes(), &signature), "{name}: the floor must verify the token");
        let authenticator = app.authenticator();
        ready(authenticator.claims_for(token)).unwrap();

        c.bench_function(&format!("floor/{name}"), |b| {
            b.iter(|| floor.verify(black_box(input.as_bytes()), black_box(&signature)))
        });
        c.bench_function(&format!("verify/{name}"), |b| {
            b.iter(|| ready(authenticator.claims_for(black_box(token))).unwrap())
        });
        let event = support::with_route(support::event("v2-root-ok"), "GET", "/api/private");
        let event = support::with_authorization(event, Some(&format!("Bearer {token}")));
        c.bench_function(&format!("request/{name}"), |b| {
            b.iter_batched(
                || support::request(&event),
                |request| {
                    let response = ready(app.handle(request)).unwrap();
                    assert_eq!(response.status(), 200);
                },
                BatchSize::SmallInput,
            )
        });

        let (app, signature) = (&app, signature.clone());
        // One request at a time, as Lambda hands them over; only the handling is timed.
        let request: Timed<'_> = Box::new(move |iterations| {
            let mut spent = Duration::ZERO;
            for _ in 0..iterations {
                let request = support::request(&event);
                let started = Instant::now();
                drop(black_box(ready(app.handle(request)).unwrap()));
                spent += started.elapsed();
            }
            spent
        });
        paired_cases.push((
            *name,
            [
                timed(move || assert!(floor.verify(black_box(input.as_bytes()), black_box(&signature)))),
                timed(|| drop(black_box(ready(authenticator.claims_for(black_box(token))).unwrap()))),
                request,
            ],
        ));
    }
    let mut bare: Timed<'_> = Box::new(|iterations| {
        let mut spent = Duration::ZERO;
        for _ in 0..iterations {
            let request = support::request(&bare_event);
            let started = Instant::now();
            drop(request);
            drop(black_box(lambda_http::Response::new(lambda_http::Body::from("Hello World!"))));
            spent += started.elapsed();
        }
        spent
    });
    report(paired_cases, &mut bare);
    assert_eq!(server.requests(), 1, "the benchmark must measure cached keys");
}

/// A DPoP request (RFC 9449, `AUTH0_DPOP=allowed`): an HS256 token bound to an ES256 key, sent with a fresh
/// proof each time (made beforehand, as a client makes it). What the proof adds to a Bearer request: its
/// parse, its P-256 verification, the key's thumbprint, the token's hash and the replay cache.
fn dpop_request(c: &mut Criterion) {
    use auth0_lambda_api::dpop::client::ProofKey;
    let app = support::app_with(&[("AUTH0_DPOP", "allowed")]);
    let key = ProofKey::generate();
    let mut claims = support::claims();
    claims["cnf"] = serde_json::json!({"jkt": key.thumbprint()});
    let token = support::mint(&claims);
    let event = support::with_route(support::event("v2-root-ok"), "GET", "/api/private");
    let event = support::with_authorization(event, Some(&format!("DPoP {token}")));
    let url = format!("https://{}/api/private", event["headers"]["host"].as_str().unwrap());
    let mut proofs = 0u64;
    let mut request = || {
        proofs += 1;
        let mut event = event.clone();
        event["headers"]["dpop"] =
            key.proof("GET", &url, &token, support::now(), &format!("bench-{proofs}"), None).into();
        support::request(&event)
    };
    assert_eq!(ready(app.handle(request())).unwrap().status(), 200, "the DPoP request must be accepted");
    // Every proof stays in the replay cache (100,000 at most) for its five minutes: a short run.
    let mut group = c.benchmark_group("dpop");
    group.warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(2)).sample_size(20);
    group.bench_function("request/HS256_dpop", |b| {
        b.iter_batched(
            &mut request,
            |request| {
                let response = ready(app.handle(request)).unwrap();
                assert_eq!(response.status(), 200);
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

fn refusals(c: &mut Criterion) {
    let app = support::app();
    let token = support::mint(&support::claims());
    let forged = format!("{}AAAA", &token[..token.len() - 4]);
    let mut headers = HeaderMap::new();
    headers.insert("authorization", HeaderValue::try_from(format!("Bearer {token}")).unwrap());
    c.bench_function("bearer_token", |b| b.iter(|| bearer_token(black_box(&headers)).unwrap().len()));
    c.bench_function("refuse/HS256_bad_signature", |b| {
        b.iter(|| ready(app.authenticator().claims_for(black_box(&forged))).unwrap_err())
    });
    let without_token = support::event("v2-protected-no-token");
    c.bench_function("refuse/request_no_token", |b| {
        b.iter_batched(
            || support::request(&without_token),
            |request| ready(app.handle(request)).unwrap(),
            BatchSize::SmallInput,
        )
    });
}

fn cold_start_parts(c: &mut Criterion) {
    use auth0_lambda_api::jwks::{HttpJwksClient, JwksClient};
    // A new Trust each time: the configuration is built, not taken from the first build.
    c.bench_function("cold/tls_client_config", |b| {
        b.iter(|| auth0_lambda_api::tls::Trust::new(Vec::new()).client_config().unwrap())
    });

    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let key = jwks_server::SigningKey::rsa("rsa-primary", "rs", Algorithm::RS256);
    let document = jwks_server::jwks(&[key.jwk(), jwks_server::SigningKey::rsa("rsa-rotated", "next", key.alg).jwk()]);
    c.bench_function("cold/keyset_parse_two_rsa_keys", |b| {
        b.iter(|| auth0_lambda_api::KeySet::from_json(black_box(document.as_bytes()), &[Algorithm::RS256]).unwrap())
    });

    let tls_server = runtime.block_on(jwks_server::JwksServer::serving(&[key.jwk()]));
    let plain_server = runtime.block_on(jwks_server::JwksServer::start_plain(jwks_server::Mode::Serve(document)));
    let roots = auth0_lambda_api::tls::read_extra_roots(jwks_server::ca_file()).unwrap();
    // A new connection per fetch, as in production. A new client for each TLS fetch, as at a cold start: a full
    // handshake (its TLS configuration, 1.6 µs, made on the fetch). Then one client for every fetch, as on a
    // warm instance: each handshake after the first resumes a session the server gave a ticket for.
    let url = tls_server.url().parse::<hyper::Uri>().unwrap();
    c.bench_function("cold/jwks_fetch_tls", |b| {
        b.iter_batched(
            || HttpJwksClient::new(url.clone(), auth0_lambda_api::tls::Trust::new(roots.clone())),
            |client| runtime.block_on(client.fetch()).unwrap(),
            BatchSize::SmallInput,
        )
    });
    let before = tls_server.handshakes();
    assert_eq!(before.resumed, 0, "each handshake of cold/jwks_fetch_tls is a full one: {before:?}");

    let client = HttpJwksClient::new(url, auth0_lambda_api::tls::Trust::new(roots));
    c.bench_function("cold/jwks_fetch_tls_resumed", |b| b.iter(|| runtime.block_on(client.fetch()).unwrap()));
    let after = tls_server.handshakes();
    // Criterion runs nothing for a benchmark its filter leaves out.
    if after.full > before.full {
        assert_eq!(after.full, before.full + 1, "cold/jwks_fetch_tls_resumed resumes all but its first: {after:?}");
    }

    let client = HttpJwksClient::new(plain_server.url().parse().unwrap(), auth0_lambda_api::tls::Trust::default());
    c.bench_function("cold/jwks_fetch_plain_http", |b| b.iter(|| runtime.block_on(client.fetch()).unwrap()));
}

/// Runs `iterations` of one measured operation and returns how long they took (inputs are made before the
/// clock starts).
type Timed<'a> = Box<dyn FnMut(u32) -> Duration + 'a>;

fn timed<'a>(mut operation: impl FnMut() + 'a) -> Timed<'a> {
    Box::new(move |iterations| {
        let started = Instant::now();
        for _ in 0..iterations {
            operation();
        }
        started.elapsed()
    })
}

/// Times `items` in rounds, a batch of each per round in rotating order, and returns each round's time per
/// iteration of each item. The ratios are then taken within a round: the machine's drift and its
/// neighbours' noise fall on all items alike, which separate runs minutes apart do not give.
fn interleaved<'a>(items: &mut [&mut Timed<'a>]) -> Vec<Vec<Duration>> {
    const ROUNDS: usize = 51;
    // Batches of about 2 ms of the slowest item.
    let probe = items.iter_mut().map(|item| item(10)).max().unwrap_or_default() / 10;
    let iterations = u32::try_from(Duration::from_millis(2).as_nanos() / probe.as_nanos().max(1)).unwrap_or(1).max(1);
    // Warm-up: caches, branch predictors, the allocator's free lists and the CPU's clock settle first.
    for _ in 0..100 {
        for item in items.iter_mut() {
            item(iterations);
        }
    }
    (0..ROUNDS)
        .map(|round| {
            let mut times = vec![Duration::ZERO; items.len()];
            for offset in 0..items.len() {
                let at = (round + offset) % items.len();
                times[at] = items[at](iterations) / iterations;
            }
            times
        })
        .collect()
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// The targets of the per-request cost, each ratio taken within interleaved rounds of the floor, the
/// verification, the whole request and a bare lambda_http request (`bare`).
fn report<'a>(cases: Vec<(&'static str, [Timed<'a>; 3])>, bare: &mut Timed<'a>) {
    println!("\n| Ratio, median over interleaved rounds of this run | Value | Target |\n| --- | --- | --- |");
    for (name, [mut floor, mut verify, mut request]) in cases {
        let rounds = interleaved(&mut [&mut floor, &mut verify, &mut request, bare]);
        let time = |at: usize| Duration::from_secs_f64(median(rounds.iter().map(|r| r[at].as_secs_f64()).collect()));
        let ratio = |value: fn(&[f64]) -> f64| {
            median(rounds.iter().map(|r| value(&r.iter().map(Duration::as_secs_f64).collect::<Vec<_>>())).collect())
        };
        let verdict = |value: f64, target: f64| if value <= target { "met" } else { "missed" };
        let (floor_time, verify_time, request_time, bare_time) = (time(0), time(1), time(2), time(3));
        let floor_target = if name == "HS256" { 4.0 } else { 1.3 };
        let over_floor = ratio(|t| t[1] / t[0]);
        println!(
            "| `verify/{name}` {verify_time:.2?} / `floor/{name}` {floor_time:.2?} | {over_floor:.2}x | <= {floor_target}x, {} |",
            verdict(over_floor, floor_target)
        );
        let over_verify = ratio(|t| t[2] / t[1]);
        println!(
            "| `request/{name}` {request_time:.2?} / `verify/{name}` | {over_verify:.2}x | <= 1.5x, {} |",
            verdict(over_verify, 1.5)
        );
        let own = ratio(|t| (t[2] - t[3]) / t[1]);
        println!(
            "| `request/{name}` less lambda_http's own `request/bare_lambda_http` {bare_time:.2?}, / `verify/{name}` \
             | {own:.2}x | what this function adds to lambda_http's request |"
        );
    }
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    per_algorithm(&mut criterion);
    dpop_request(&mut criterion);
    refusals(&mut criterion);
    cold_start_parts(&mut criterion);
    criterion.final_summary();
}
