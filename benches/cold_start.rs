//! Cold start and memory of the real release binary against a Lambda Runtime API on 127.0.0.1, beside a bare
//! `lambda_http` function built from `examples/bare-lambda.rs` when it is there. Prints figures; asserts
//! nothing about speed.
//!
//! ```text
//! cargo build --release --example bare-lambda && cargo bench --bench cold_start
//! ```

#[path = "../tests/emulator/mod.rs"]
mod emulator;
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
    let mut binaries = vec![("auth0-lambda-api", emulator::function_binary())];
    if std::path::Path::new(&bare).exists() {
        binaries.push(("bare lambda_http", bare));
    } else {
        println!("(no {bare}: build it with `cargo build --release --example bare-lambda` for the baseline)");
    }
    println!("{COLD_STARTS} cold starts each; memory is the peak RSS after {WARM_REQUESTS} requests to /protected\n");
    println!(
        "{:<20} {:>14} {:>14} {:>18} {:>18}",
        "binary", "init p50", "init p90", "first request p50", "peak RSS p50"
    );
    for (name, binary) in binaries {
        let figures = runtime.block_on(measure(&binary));
        println!(
            "{name:<20} {:>14} {:>14} {:>18} {:>14.1} MiB",
            format!("{:.2?}", percentile(&figures.init, 50)),
            format!("{:.2?}", percentile(&figures.init, 90)),
            format!("{:.2?}", percentile(&figures.first_request, 50)),
            percentile(&figures.peak_rss_kib, 50) as f64 / 1024.0,
        );
    }
}

async fn measure(binary: &str) -> Figures {
    let env = support::env();
    let authorization = format!("Bearer {}", support::mint(&support::claims()));
    let headers = [("authorization", authorization.as_str())];
    let mut figures = Figures { init: Vec::new(), first_request: Vec::new(), peak_rss_kib: Vec::new() };
    for _ in 0..COLD_STARTS {
        let emulator = Emulator::start_binary(binary, &env).await;
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
