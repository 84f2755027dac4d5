//! Soak: one warm instance of the function serves many invocations (100,000 by default) through a Lambda
//! Runtime API on 127.0.0.1, each with a fresh X-Ray trace id and request id as Lambda sends them, over both
//! API Gateway payload versions, with a mix of valid, expired, forged, unknown-`kid`, malformed and missing
//! tokens, public routes and a missing grant. The JWKS comes over HTTPS from a server with a certificate of
//! the tests' private CA. Prints the memory at checkpoints, the answer times and the JWKS fetches, and exits
//! with a failure when:
//!
//! - any answer is not the one its token calls for (status and code), or an invocation fails;
//! - the function logs an error or a panic, or exits;
//! - its peak RSS grows by 1 MiB or more after the first 1,000 invocations;
//! - it fetched the JWKS another number of times than the cache policy predicts for the unknown-`kid`
//!   tokens it was sent (one at the cold start, then one per miss at least [`REFETCH_COOLDOWN`] after the
//!   last fetch for a miss).
//!
//! ```text
//! cargo lambda build --release --bin auth0-lambda-api
//! AUTH0_LAMBDA_API_BIN=target/lambda/auth0-lambda-api/bootstrap cargo bench --bench soak
//! ```
//!
//! `SOAK_INVOCATIONS` sets the count. Without `AUTH0_LAMBDA_API_BIN` the soak runs the binary `cargo bench`
//! built for the host (`target/release/auth0-lambda-api`, linked against the host's C library).

#[path = "../tests/emulator/mod.rs"]
mod emulator;
#[path = "../tests/jwks_server/mod.rs"]
mod jwks_server;
mod process;
#[path = "../tests/support/mod.rs"]
mod support;

use std::time::Instant;

use auth0_lambda_api::jwks::REFETCH_COOLDOWN;
use emulator::{Emulator, function_binary};
use jsonwebtoken::Algorithm;
use jwks_server::{JwksServer, SigningKey};
use process::{cpu_time, memory_kib};
use serde_json::{Value, json};

/// Invocations before the memory baseline: allocator pools, the key cache and lazily built state settle.
const WARM_UP: usize = 1_000;
/// The largest growth of the peak RSS after [`WARM_UP`] that counts as flat.
const MAX_GROWTH_KIB: u64 = 1024;

/// One kind of request in the mix, with the answer it must get.
struct Kind {
    name: &'static str,
    path: &'static str,
    authorization: Option<String>,
    status: u16,
    code: Option<&'static str>,
    /// An unknown `kid`: it may cause a JWKS fetch.
    unknown_kid: bool,
}

fn main() {
    // `cargo bench` passes `--bench`; a filter that names another benchmark skips this one.
    if std::env::args().skip(1).any(|arg| !arg.starts_with('-') && !"soak".contains(arg.as_str())) {
        return;
    }
    let invocations: usize =
        std::env::var("SOAK_INVOCATIONS").map_or(100_000, |n| n.parse().expect("SOAK_INVOCATIONS"));
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let failures = runtime.block_on(soak(invocations));
    if !failures.is_empty() {
        for failure in &failures {
            eprintln!("FAILED: {failure}");
        }
        std::process::exit(1);
    }
    println!("soak passed");
}

async fn soak(invocations: usize) -> Vec<String> {
    let primary = SigningKey::rsa("rsa-primary", "primary", Algorithm::RS256);
    let rotated = SigningKey::rsa("rsa-rotated", "rotated", Algorithm::RS256);
    let server = JwksServer::serving(&[primary.jwk()]).await;
    let url = server.url();
    let mut env = support::env();
    env.extend([
        ("AUTH0_JWKS_URL", url.as_str()),
        ("AUTH0_EXTRA_CA_CERTS", jwks_server::ca_file()),
        ("AUTH0_ALGORITHMS", "RS256,HS256"),
    ]);
    let binary = function_binary();
    println!("binary: {binary}");
    let emulator = Emulator::start_binary(&binary, &env).await;
    emulator.wait_until_ready().await;
    let pid = emulator.pid().unwrap();

    let kinds = kinds(&primary, &rotated);
    let events = [support::event("v1-protected-no-token"), support::event("v2-protected-no-token")];
    let mut failures = Vec::new();
    let mut answer_times = Vec::with_capacity(invocations);
    // Each unknown-kid invocation's window: the policy's clock read falls between sending and answering.
    let mut misses: Vec<(Instant, Instant)> = Vec::new();
    let mut baseline = None;
    let checkpoints = (1..=10).map(|tenth| invocations * tenth / 10).collect::<Vec<_>>();
    println!("{:>11} {:>10} {:>10}", "invocations", "RSS KiB", "peak KiB");
    let started = Instant::now();

    for n in 0..invocations {
        let kind = &kinds[n % kinds.len()];
        // Both payload versions see every kind: the version alternates with each round of the mix.
        let event = &events[(n / kinds.len()) % 2];
        let event = support::with_route(event.clone(), "GET", kind.path);
        let event = support::with_authorization(event, kind.authorization.as_deref());
        let sent = Instant::now();
        let outcome = emulator.invoke(event).await;
        let answered = Instant::now();
        answer_times.push(answered - sent);
        if kind.unknown_kid {
            misses.push((sent, answered));
        }
        match outcome {
            Ok(response) => {
                if let Err(problem) = check(kind, &response) {
                    failures.push(format!("invocation {n} ({}): {problem}", kind.name));
                }
            }
            Err(error) => failures.push(format!("invocation {n} ({}) failed: {error}", kind.name)),
        }
        if failures.len() > 10 {
            failures.push("stopped after 10 failures".into());
            return failures;
        }
        let done = n + 1;
        if done == WARM_UP.min(invocations) {
            baseline = Some((memory_kib(pid), cpu_time(pid), done));
        }
        if done == WARM_UP || checkpoints.contains(&done) {
            let (rss, peak) = memory_kib(pid);
            println!("{done:>11} {rss:>10} {peak:>10}");
        }
    }
    let elapsed = started.elapsed();

    let (rss, peak) = memory_kib(pid);
    let ((_, baseline_peak), baseline_cpu, counted) = baseline.unwrap_or(((rss, peak), cpu_time(pid), invocations));
    let growth = peak.saturating_sub(baseline_peak);
    let warm = invocations - counted;
    if warm > 0 {
        let per_invocation = (cpu_time(pid) - baseline_cpu) / warm as u32;
        println!("function CPU per warm invocation: {per_invocation:?} (its own threads, after the first {WARM_UP})");
    }
    answer_times.sort();
    let at = |pct: usize| answer_times[(answer_times.len() * pct / 100).min(answer_times.len() - 1)];
    println!(
        "{invocations} invocations in {:.1} s; answer time p50 {:?}, p99 {:?}, max {:?}",
        elapsed.as_secs_f64(),
        at(50),
        at(99),
        answer_times.last().unwrap()
    );
    println!("peak RSS after {WARM_UP} invocations: {baseline_peak} KiB; at the end: {peak} KiB; growth {growth} KiB");
    if growth >= MAX_GROWTH_KIB {
        failures.push(format!("peak RSS grew by {growth} KiB after the first {WARM_UP} invocations"));
    }

    let (fewest, most) = predicted_fetches(&misses);
    let fetches = server.requests();
    println!("JWKS fetches: {fetches}; the policy predicts {fewest}..={most} for {} unknown-kid tokens", misses.len());
    if !(fewest..=most).contains(&fetches) {
        failures.push(format!("{fetches} JWKS fetches where the policy predicts {fewest}..={most}"));
    }

    let logs = emulator.logs();
    let bad: Vec<&String> =
        logs.iter().filter(|line| line.contains("\"level\":\"ERROR\"") || line.contains("panicked")).collect();
    if let Some(first) = bad.first() {
        failures.push(format!("{} error or panic lines, the first: {first}", bad.len()));
    }
    if emulator.next_polls() != invocations + 1 {
        failures.push(format!("the function polled {} times for {invocations} invocations", emulator.next_polls()));
    }
    failures
}

fn kinds(primary: &SigningKey, rotated: &SigningKey) -> Vec<Kind> {
    let claims = support::claims();
    let mut expired = claims.clone();
    expired["exp"] = json!(support::now() - 3600);
    expired["iat"] = json!(support::now() - 7200);
    let bearer = |token: String| Some(format!("Bearer {token}"));
    let kind =
        |name, path, authorization, status, code| Kind { name, path, authorization, status, code, unknown_kid: false };
    vec![
        kind("valid RS256", "/api/private", bearer(primary.sign(&claims)), 200, None),
        kind("valid HS256", "/protected", bearer(support::mint(&claims)), 200, None),
        kind("expired", "/protected", bearer(primary.sign(&expired)), 401, Some("token_expired")),
        // Signed by another key under the known key's kid.
        kind(
            "forged",
            "/api/private",
            bearer(rotated.sign_with_header(&claims, |header| header.kid = Some("primary".into()))),
            401,
            Some("token_invalid_signature"),
        ),
        Kind {
            unknown_kid: true,
            ..kind("unknown kid", "/api/private", bearer(rotated.sign(&claims)), 401, Some("unknown_key"))
        },
        kind("malformed", "/protected", Some("Bearer not-a-jwt".into()), 401, Some("invalid_token")),
        kind("wrong scheme", "/protected", Some("Basic dXNlcjpwYXNz".into()), 401, Some("invalid_header")),
        kind("no token", "/api/private", None, 401, Some("authorization_header_missing")),
        kind("missing grant", "/api/private-scoped", bearer(primary.sign(&claims)), 403, Some("insufficient_scope")),
        kind("public", "/", None, 200, None),
    ]
}

/// Whether the response is the one `kind` calls for.
fn check(kind: &Kind, response: &Value) -> Result<(), String> {
    let status = response["statusCode"].as_u64().unwrap_or_default();
    if status != u64::from(kind.status) {
        return Err(format!("status {status}, expected {}: {response}", kind.status));
    }
    if let Some(code) = kind.code {
        let body: Value =
            response["body"].as_str().and_then(|body| serde_json::from_str(body).ok()).unwrap_or_default();
        if body["code"] != code {
            return Err(format!("code {}, expected {code}", body["code"]));
        }
    }
    Ok(())
}

/// The JWKS fetches the policy allows for these unknown-kid invocations: the cold-start fetch, then one for a
/// miss when no fetch for a miss started within [`REFETCH_COOLDOWN`] before it. The function reads its clock
/// somewhere inside each invocation's window, so the prediction is made with the earliest and the latest
/// reading; they differ only when an invocation straddles the end of a cooldown.
fn predicted_fetches(misses: &[(Instant, Instant)]) -> (usize, usize) {
    let count = |pick: fn(&(Instant, Instant)) -> Instant| {
        let mut last: Option<Instant> = None;
        let mut fetches = 1;
        for window in misses {
            let at = pick(window);
            if last.is_none_or(|last| at.duration_since(last) >= REFETCH_COOLDOWN) {
                last = Some(at);
                fetches += 1;
            }
        }
        fetches
    };
    let (a, b) = (count(|window| window.0), count(|window| window.1));
    (a.min(b), a.max(b))
}
