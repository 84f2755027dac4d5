//! Cold start and memory of the real release binary against a Lambda Runtime API on 127.0.0.1: configured
//! for HS256, and for RS256 with its JWKS fetched during init from a server on 127.0.0.1; beside a bare
//! `lambda_http` function built from `examples/bare-lambda.rs` when it is there. Prints figures; asserts
//! nothing about speed.
//!
//! ```text
//! cargo build --release --example bare-lambda && cargo bench --bench cold_start
//! ```

#[path = "../tests/emulator/mod.rs"]
mod emulator;
#[path = "../tests/jwks_server/mod.rs"]
mod jwks_server;
#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use emulator::{Emulator, http_get};

/// Cold starts per binary: enough for a stable median on a busy two-core machine.
const COLD_STARTS: usize = 30;
/// Requests served before reading the peak memory, so the figure includes steady-state allocations.
const WARM_REQUESTS: usize = 200;

struct Figures {
    init: Vec<Duration>,
    first_request: Vec<Duration>,
    peak_rss_kib: Vec<u64>,
}

fn main() {
    // `cargo bench` passes `--bench`; a filter that names another benchmark skips this one.
    if std::env::args().skip(1).any(|arg| !arg.starts_with('-') && !"cold_start".contains(arg.as_str())) {
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let bare = format!("{}/target/release/examples/bare-lambda", env!("CARGO_MANIFEST_DIR"));
    let function = emulator::function_binary();
    let rsa = jwks_server::SigningKey::rsa("rsa-primary", "primary", jsonwebtoken::Algorithm::RS256);
    // The JWKS server runs on the benchmark's runtime for as long as the runs need it.
    let jwks = runtime.block_on(jwks_server::JwksServer::serving(&[rsa.jwk()]));
    let jwks_url = jwks.url();
    let hs256 = format!("Bearer {}", support::mint(&support::claims()));
    let rs256 = format!("Bearer {}", rsa.sign(&support::claims()));
    let mut rs256_env = support::env();
    rs256_env.retain(|(name, _)| *name != "AUTH0_CLIENT_SECRET");
    rs256_env.push(("AUTH0_JWKS_URL", &jwks_url));
    let mut runs = vec![
        Run { name: "HS256", binary: &function, env: support::env(), authorization: &hs256 },
        Run { name: "RS256 + JWKS fetch", binary: &function, env: rs256_env, authorization: &rs256 },
    ];
    if std::path::Path::new(&bare).exists() {
        runs.push(Run { name: "bare lambda_http", binary: &bare, env: support::env(), authorization: &hs256 });
    } else {
        println!("(no {bare}: build it with `cargo build --release --example bare-lambda` for the baseline)");
    }
    println!("{COLD_STARTS} cold starts each; memory is the peak RSS after {WARM_REQUESTS} requests to /protected\n");
    println!(
        "{:<20} {:>14} {:>14} {:>18} {:>18}",
        "function", "init p50", "init p90", "first request p50", "peak RSS p50"
    );
    for run in &runs {
        let name = run.name;
        let figures = runtime.block_on(measure(run));
        println!(
            "{name:<20} {:>14} {:>14} {:>18} {:>14.1} MiB",
            format!("{:.2?}", percentile(&figures.init, 50)),
            format!("{:.2?}", percentile(&figures.init, 90)),
            format!("{:.2?}", percentile(&figures.first_request, 50)),
            percentile(&figures.peak_rss_kib, 50) as f64 / 1024.0,
        );
    }
}

/// One configuration to measure.
struct Run<'a> {
    name: &'static str,
    binary: &'a str,
    env: Vec<(&'static str, &'a str)>,
    authorization: &'a str,
}

async fn measure(run: &Run<'_>) -> Figures {
    let headers = [("authorization", run.authorization)];
    let mut figures = Figures { init: Vec::new(), first_request: Vec::new(), peak_rss_kib: Vec::new() };
    for _ in 0..COLD_STARTS {
        let emulator = Emulator::start_binary(run.binary, &run.env).await;
        emulator.wait_until_ready().await;
        figures.init.push(emulator.init_duration().unwrap());
        let started = Instant::now();
        assert_eq!(http_get(emulator.gateway, "GET", "/protected", &headers).await.status / 100, 2);
        figures.first_request.push(started.elapsed());
        for _ in 0..WARM_REQUESTS {
            http_get(emulator.gateway, "GET", "/protected", &headers).await;
        }
        figures.peak_rss_kib.push(peak_rss_kib(emulator.pid().unwrap()));
    }
    figures
}

/// `VmHWM`: the peak resident set size, which is what Lambda reports as "Max Memory Used".
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|line| line.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn percentile<T: Copy + Ord>(values: &[T], pct: usize) -> T {
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    sorted[(sorted.len() - 1) * pct / 100]
}
