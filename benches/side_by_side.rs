//! Side by side with what users deploy instead, in one interleaved run on one machine, each against the same
//! Lambda Runtime API on 127.0.0.1 with the same API Gateway v2 event (`GET /protected` with a valid HS256
//! token): this function's release bootstrap; Auth0's Flask quickstart as a Python function (Flask, PyJWT,
//! apig-wsgi, awslambdaric); Express with Auth0's express-oauth2-jwt-bearer behind serverless-http on Node;
//! and a bare `lambda_http` function built like this one.
//!
//! Run it with `bench/side-by-side/run`, which installs the peers (pinned) and builds both Rust functions,
//! then runs this benchmark with their paths in `SIDE_BY_SIDE_*`, `AUTH0_LAMBDA_API_BIN` and
//! `BARE_LAMBDA_BIN`. Prints a Markdown table and the target ratios, and writes the chart the README shows
//! (`SIDE_BY_SIDE_SVG`, default `docs/side-by-side.svg`). Asserts every answer, nothing about speed.

#[path = "../tests/emulator/mod.rs"]
mod emulator;
mod process;
#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use emulator::Emulator;
use jsonwebtoken::Algorithm;
use process::{peak_rss_kib, percentile};
use serde_json::{Value, json};

/// Cold starts of each function (one of each per round; the table shows their median) and warm invocations
/// of each, taken in turns; `SIDE_BY_SIDE_ROUNDS` and `SIDE_BY_SIDE_WARM` set other counts (CI runs a few).
fn count(variable: &str, default: usize) -> usize {
    std::env::var(variable).map_or(default, |n| n.parse().unwrap_or_else(|_| panic!("{variable}")))
}

/// One function to measure.
struct Peer {
    name: &'static str,
    program: String,
    args: Vec<String>,
    env: Vec<(&'static str, String)>,
    /// The body a correct answer carries.
    body: String,
    /// Exec to the first poll of the Runtime API (Lambda's Init Duration).
    init: Vec<Duration>,
    cold: Vec<Duration>,
    warm: Vec<Duration>,
    peak_rss_kib: u64,
}

impl Peer {
    fn new(name: &'static str, command: Vec<String>, env: Vec<(&'static str, String)>, body: &str) -> Self {
        let (program, args) = command.split_first().expect("a command");
        Self {
            name,
            program: program.clone(),
            args: args.to_vec(),
            env,
            body: body.to_owned(),
            init: Vec::new(),
            cold: Vec::new(),
            warm: Vec::new(),
            peak_rss_kib: 0,
        }
    }

    async fn start(&self) -> Emulator {
        let args: Vec<&str> = self.args.iter().map(String::as_str).collect();
        let env: Vec<(&str, &str)> = self.env.iter().map(|(name, value)| (*name, value.as_str())).collect();
        Emulator::start_command(&self.program, &args, &env).await
    }

    /// Hands `event` over, checks the answer, and returns how long it took.
    async fn invoke(&self, emulator: &Emulator, event: &Value) -> Duration {
        let started = Instant::now();
        let answer = emulator.invoke(event.clone()).await;
        let elapsed = started.elapsed();
        let answer = answer.unwrap_or_else(|error| panic!("{}: {error}: {:?}", self.name, emulator.logs()));
        assert_eq!(answer["statusCode"], 200, "{}: {answer}", self.name);
        assert_eq!(answer["body"].as_str(), Some(self.body.as_str()), "{}: {answer}", self.name);
        elapsed
    }
}

fn required(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set: run bench/side-by-side/run"))
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(side_by_side());
}

async fn side_by_side() {
    let secret = support::SECRET.to_owned();
    let claims = json!({
        "iss": support::ISSUER,
        "sub": "auth0|5f7c8ec7c33c6c004bbafe82",
        "aud": support::AUDIENCE,
        "iat": support::now(),
        "exp": support::now() + 3600,
        "email": "jane@example.com",
    });
    let token = support::sign_raw(&json!({"alg": "HS256", "typ": "JWT"}), &claims, Algorithm::HS256, secret.as_bytes());
    let event = support::with_authorization(support::event("v2-protected-no-token"), Some(&format!("Bearer {token}")));
    let greeting = "Hello World jane@example.com!";
    let common = |extra: &[(&'static str, String)]| {
        let mut env = vec![("AUTH0_AUDIENCE", support::AUDIENCE.to_owned())];
        env.extend(extra.iter().cloned());
        env
    };
    let flask = required("SIDE_BY_SIDE_FLASK");
    let express = required("SIDE_BY_SIDE_EXPRESS");
    let mut peers = [
        Peer::new(
            "auth0-lambda-api (Rust)",
            vec![required("AUTH0_LAMBDA_API_BIN")],
            common(&[("AUTH0_ISSUER", support::ISSUER.to_owned()), ("AUTH0_CLIENT_SECRET", secret.clone())]),
            greeting,
        ),
        Peer::new(
            "Flask quickstart (Python)",
            vec![required("SIDE_BY_SIDE_PYTHON"), "-m".into(), "awslambdaric".into(), "app.handler".into()],
            common(&[("AUTH0_CLIENT_SECRET_BASE64URL", support::b64(&secret)), ("PYTHONPATH", flask)]),
            greeting,
        ),
        Peer::new(
            "Express + express-oauth2-jwt-bearer (Node)",
            vec![required("SIDE_BY_SIDE_NODE"), format!("{express}/runtime.js")],
            common(&[("AUTH0_ISSUER", support::ISSUER.to_owned()), ("AUTH0_CLIENT_SECRET", secret.clone())]),
            greeting,
        ),
        Peer::new("bare lambda_http (Rust)", vec![required("BARE_LAMBDA_BIN")], Vec::new(), "Hello World!"),
    ];

    // Cold starts: exec to the first answer, the invocation waiting for the function's first poll.
    for _ in 0..count("SIDE_BY_SIDE_ROUNDS", 21) {
        for peer in &mut peers {
            let mut emulator = peer.start().await;
            let answer = peer.invoke(&emulator, &event).await;
            let cold = emulator.spawned().elapsed();
            assert!(answer <= cold);
            peer.init.push(emulator.init_duration().unwrap());
            peer.cold.push(cold);
            // Gone before the next start, so that no process's exit overlaps another's cold start.
            emulator.stop().await;
        }
    }

    // Warm: every function running, one invocation of each in turn, then the peak memory.
    let mut running = Vec::new();
    for peer in &peers {
        let emulator = peer.start().await;
        peer.invoke(&emulator, &event).await;
        running.push(emulator);
    }
    for _ in 0..count("SIDE_BY_SIDE_WARM", 1000) {
        for (peer, emulator) in peers.iter_mut().zip(&running) {
            let elapsed = peer.invoke(emulator, &event).await;
            peer.warm.push(elapsed);
        }
    }
    for (peer, emulator) in peers.iter_mut().zip(&running) {
        peer.peak_rss_kib = peak_rss_kib(emulator.pid().unwrap());
    }
    drop(running);

    report(&peers);
    let chart = std::env::var("SIDE_BY_SIDE_SVG").unwrap_or_else(|_| "docs/side-by-side.svg".to_owned());
    std::fs::write(&chart, svg(&peers)).unwrap();
    println!("\nchart written to {chart}");
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// Milliseconds with two decimals under 10 ms, one above.
fn shown(duration: Duration) -> String {
    let ms = ms(duration);
    if ms < 10.0 { format!("{ms:.2} ms") } else { format!("{ms:.1} ms") }
}

fn report(peers: &[Peer]) {
    let warm = peers[0].warm.len();
    println!(
        "\n| `GET /protected`, valid HS256 token | Cold start p50 (exec to first answer) | Init p50 | Warm p50 / p99 ({warm}) | Peak RSS |"
    );
    println!("| --- | --- | --- | --- | --- |");
    for peer in peers {
        println!(
            "| {} | {} | {} | {:.2} ms / {:.2} ms | {:.1} MiB |",
            peer.name,
            shown(percentile(&peer.cold, 50)),
            shown(percentile(&peer.init, 50)),
            ms(percentile(&peer.warm, 50)),
            ms(percentile(&peer.warm, 99)),
            mib(peer.peak_rss_kib)
        );
    }
    let [ours, flask, _, bare] = peers else { unreachable!() };
    let cold = |peer: &Peer| percentile(&peer.cold, 50).as_secs_f64();
    println!("\n| Target | Value | |\n| --- | --- | --- |");
    let faster = cold(flask) / cold(ours);
    let verdict = |met: bool| if met { "met" } else { "missed" };
    println!("| Cold start >= 40x faster than the Flask quickstart | {faster:.0}x | {} |", verdict(faster >= 40.0));
    let over_bare = cold(ours) / cold(bare);
    println!(
        "| Cold start <= 1.2x the bare `lambda_http` function | {over_bare:.2}x | {} |",
        verdict(over_bare <= 1.2)
    );
    let lower = flask.peak_rss_kib as f64 / ours.peak_rss_kib as f64;
    println!("| Peak RSS >= 5x lower than the Flask quickstart | {lower:.1}x | {} |", verdict(lower >= 5.0));
}

/// Three bar panels (cold start, warm p50, peak RSS), one bar per function, each panel on its own scale.
fn svg(peers: &[Peer]) -> String {
    const WIDTH: f64 = 820.0;
    const LABEL: f64 = 340.0;
    const BAR: f64 = 18.0;
    const GAP: f64 = 6.0;
    const COLOURS: [&str; 4] = ["#d9480f", "#1c7ed6", "#2f9e44", "#868e96"];
    let panels: [(&str, Vec<f64>, &str); 3] = [
        (
            "Cold start, p50 (exec to first answer; lower is better)",
            peers.iter().map(|p| ms(percentile(&p.cold, 50))).collect(),
            "ms",
        ),
        ("Warm invocation, p50", peers.iter().map(|p| ms(percentile(&p.warm, 50))).collect(), "ms"),
        ("Peak RSS", peers.iter().map(|p| mib(p.peak_rss_kib)).collect(), "MiB"),
    ];
    let panel_height = 28.0 + peers.len() as f64 * (BAR + GAP) + 14.0;
    let height = panels.len() as f64 * panel_height + 10.0;
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{height}\" viewBox=\"0 0 {WIDTH} {height}\" \
         font-family=\"-apple-system, Segoe UI, Helvetica, Arial, sans-serif\" font-size=\"13\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n"
    );
    for (index, (title, values, unit)) in panels.iter().enumerate() {
        let top = index as f64 * panel_height + 10.0;
        out += &format!("<text x=\"10\" y=\"{:.0}\" font-weight=\"bold\">{title}</text>\n", top + 14.0);
        let max = values.iter().copied().fold(f64::MIN_POSITIVE, f64::max);
        for (row, (peer, value)) in peers.iter().zip(values).enumerate() {
            let y = top + 24.0 + row as f64 * (BAR + GAP);
            let length = ((WIDTH - LABEL - 90.0) * value / max).max(1.0);
            let precision = if *value < 10.0 { 2 } else { 1 };
            out += &format!(
                "<text x=\"10\" y=\"{:.0}\">{}</text>\n<rect x=\"{LABEL}\" y=\"{y:.0}\" width=\"{length:.1}\" height=\"{BAR}\" fill=\"{}\"/>\n\
                 <text x=\"{:.1}\" y=\"{:.0}\">{value:.precision$} {unit}</text>\n",
                y + 13.0,
                peer.name.replace('&', "&amp;"),
                COLOURS[row % COLOURS.len()],
                LABEL + length + 6.0,
                y + 13.0,
            );
        }
    }
    out + "</svg>\n"
}
