//! Cold start and memory of the real release binary against a Lambda Runtime API on 127.0.0.1, in every
//! configuration docs/performance.md reports, beside a bare `lambda_http` function built from `examples/bare-lambda.rs`
//! with the same profile. Keys and secrets come over HTTPS, as in production: the JWKS from a TLS server and
//! the secret from moto_server serving TLS, both with certificates from a private CA the function trusts
//! through `AUTH0_EXTRA_CA_CERTS`. The starts are interleaved (one of each configuration per round) so that
//! the machine's drift falls on all of them alike. Prints figures and the target ratios; asserts nothing
//! about speed.
//!
//! ```text
//! cargo build --release --example bare-lambda && cargo bench --bench cold_start
//! ```
//!
//! `AUTH0_LAMBDA_API_BIN` measures another build of the function, `AUTH0_LAMBDA_AUTHORIZER_BIN` of the
//! authorizer, and `BARE_LAMBDA_BIN` of the baseline: the figures in docs/performance.md are of what
//! `cargo lambda build --release` deploys, for all three:
//!
//! ```text
//! cargo lambda build --release --bin auth0-lambda-api && cargo lambda build --release --bin auth0-lambda-authorizer \
//!   && cargo lambda build --release --example bare-lambda
//! AUTH0_LAMBDA_API_BIN=target/lambda/auth0-lambda-api/bootstrap \
//!   AUTH0_LAMBDA_AUTHORIZER_BIN=target/lambda/auth0-lambda-authorizer/bootstrap \
//!   BARE_LAMBDA_BIN=target/lambda/bare-lambda/bootstrap cargo bench --bench cold_start
//! ```

#[path = "../tests/emulator/mod.rs"]
mod emulator;
#[path = "../tests/jwks_server/mod.rs"]
mod jwks_server;
#[path = "../tests/moto/mod.rs"]
mod moto;
mod process;
#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use auth0_lambda_api::aws;
use emulator::{Emulator, http_get};
use process::{cpu_time, page_faults, peak_rss_kib, percentile};

/// Rounds: each starts every configuration once. Enough for a stable median on a busy two-core machine;
/// `COLD_START_ROUNDS` sets another count (CI runs a few to check that the benchmark works).
fn rounds() -> usize {
    std::env::var("COLD_START_ROUNDS").map_or(31, |n| n.parse().expect("COLD_START_ROUNDS"))
}

/// Requests served before reading the peak memory, so the figure includes steady-state allocations.
const WARM_REQUESTS: usize = 200;

/// One configuration to measure.
struct Run {
    name: &'static str,
    binary: String,
    env: Vec<(&'static str, String)>,
    path: &'static str,
    authorization: String,
    init: Vec<Duration>,
    /// CPU time the function's threads used until the first poll: its own work, without the time it waited
    /// for a server (moto, a Python server, spends most of the secret-ARN cold start).
    init_cpu: Vec<Duration>,
    /// Page faults until the first poll (minor and major): mostly code and data touched for the first time.
    init_faults: Vec<u64>,
    first_request: Vec<Duration>,
    peak_rss_kib: Vec<u64>,
    /// For the authorizer: the authorizer event each request is (instead of an HTTP request to `path`).
    event: Option<serde_json::Value>,
}

impl Run {
    fn new(name: &'static str, binary: &str, env: Vec<(&'static str, String)>, path: &'static str, auth: &str) -> Self {
        Self {
            name,
            binary: binary.to_owned(),
            env,
            path,
            authorization: auth.to_owned(),
            init: Vec::new(),
            init_cpu: Vec::new(),
            init_faults: Vec::new(),
            first_request: Vec::new(),
            peak_rss_kib: Vec::new(),
            event: None,
        }
    }

    /// The authorizer binary, answering `event` on every request.
    fn authorizer(name: &'static str, env: Vec<(&'static str, String)>, event: serde_json::Value) -> Self {
        Self { event: Some(event), ..Self::new(name, &emulator::authorizer_binary(), env, "", "") }
    }

    fn median_init(&self) -> Duration {
        percentile(&self.init, 50)
    }

    fn median_init_cpu(&self) -> Duration {
        percentile(&self.init_cpu, 50)
    }
}

fn main() {
    // `cargo bench` passes `--bench`; a filter that names another benchmark skips this one.
    if std::env::args().skip(1).any(|arg| !arg.starts_with('-') && !"cold_start".contains(arg.as_str())) {
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let bare = std::env::var("BARE_LAMBDA_BIN")
        .unwrap_or_else(|_| format!("{}/target/release/examples/bare-lambda", env!("CARGO_MANIFEST_DIR")));
    let function = emulator::function_binary();
    let rsa = jwks_server::SigningKey::rsa("rsa-primary", "primary", jsonwebtoken::Algorithm::RS256);
    // The servers run on the benchmark's runtime for as long as the runs need them.
    let tls_jwks = runtime.block_on(jwks_server::JwksServer::serving(&[rsa.jwk()]));
    let plain_jwks = runtime
        .block_on(jwks_server::JwksServer::start_plain(jwks_server::Mode::Serve(jwks_server::jwks(&[rsa.jwk()]))));
    let moto = moto::Moto::start();
    let arn = runtime.block_on(moto.create_secret("auth0/client-secret", support::SECRET));
    let moto_service_time = runtime.block_on(moto_service_time(&moto, &arn));

    let hs256 = format!("Bearer {}", support::mint(&support::claims()));
    let rs256 = format!("Bearer {}", rsa.sign(&support::claims()));
    let owned = |vars: Vec<(&'static str, &str)>| vars.into_iter().map(|(k, v)| (k, v.to_owned())).collect::<Vec<_>>();
    let env_secret = owned(support::env());
    let rs256_env = |url: &str, extra: &[(&'static str, &str)]| {
        let mut env: Vec<_> = env_secret.iter().filter(|(name, _)| *name != "AUTH0_CLIENT_SECRET").cloned().collect();
        env.push(("AUTH0_JWKS_URL", url.to_owned()));
        env.push(("AUTH0_EXTRA_CA_CERTS", jwks_server::ca_file().to_owned()));
        env.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
        env
    };
    let supplied = jwks_server::jwks(&[rsa.jwk()]);
    let by_name = tls_jwks.url().replace("://127.0.0.1:", "://localhost:");
    assert_ne!(by_name, tls_jwks.url(), "the JWKS server's URL names its IP address");
    let localhost = std::net::ToSocketAddrs::to_socket_addrs(&("localhost", 0)).unwrap().next().unwrap();
    if localhost.ip() != std::net::Ipv4Addr::LOCALHOST {
        // The server listens on 127.0.0.1 only: the row then includes a refused connection to this address.
        println!("(localhost is {} first here: the host-name row includes a refused connection)", localhost.ip());
    }
    let mut arn_env: Vec<_> = env_secret.iter().filter(|(name, _)| *name != "AUTH0_CLIENT_SECRET").cloned().collect();
    arn_env.push(("AUTH0_CLIENT_SECRET_ARN", arn.clone()));
    arn_env.extend(moto.env());

    let mut runs = vec![
        Run::new("public route (HS256 config)", &function, env_secret.clone(), "/", ""),
        Run::new("HS256, secret in env", &function, env_secret.clone(), "/protected", &hs256),
        Run::new("RS256, JWKS over http", &function, rs256_env(&plain_jwks.url(), &[]), "/api/private", &rs256),
        Run::new("RS256, JWKS over TLS", &function, rs256_env(&tls_jwks.url(), &[]), "/api/private", &rs256),
        // As in production, where the URL names the tenant: the name is resolved first (from /etc/hosts here).
        Run::new("RS256, JWKS over TLS, by name", &function, rs256_env(&by_name, &[]), "/api/private", &rs256),
        Run::new(
            "RS256, supplied JWKS",
            &function,
            rs256_env(&tls_jwks.url(), &[("AUTH0_JWKS", &supplied)]),
            "/api/private",
            &rs256,
        ),
        Run::new("HS256, secret ARN over TLS", &function, arn_env, "/protected", &hs256),
        Run::authorizer("authorizer, HS256, HTTP API 2.0", env_secret.clone(), authorizer_event("2.0", &hs256)),
        Run::authorizer(
            "authorizer, RS256 over TLS, TOKEN",
            rs256_env(&tls_jwks.url(), &[]),
            authorizer_event("TOKEN", &rs256),
        ),
    ];
    let have_bare = std::path::Path::new(&bare).exists();
    if have_bare {
        runs.push(Run::new("bare lambda_http", &bare, env_secret.clone(), "/", ""));
    } else {
        println!("(no {bare}: build it with `cargo build --release --example bare-lambda` for the baseline)");
    }

    let fetches_before = tls_jwks.requests();
    let rounds = rounds();
    for _ in 0..rounds {
        for run in &mut runs {
            runtime.block_on(measure(run));
        }
    }
    // The three TLS runs (the API's by address and by name, and the authorizer's) fetch once per start.
    let supplied_fetches = tls_jwks.requests() - fetches_before - 3 * rounds;

    println!("{rounds} interleaved cold starts each; init is exec -> first /next (wall clock), init CPU the");
    println!("function's CPU time until then; memory is the peak RSS after {WARM_REQUESTS} requests. moto's");
    println!(
        "GetSecretValue from a warm process (moto closes every connection: a TLS handshake each): {moto_service_time:.2?}\n"
    );
    println!(
        "{:<30} {:>11} {:>11} {:>13} {:>12} {:>15} {:>13}",
        "configuration", "init p50", "init p90", "init CPU p50", "faults p50", "1st request p50", "peak RSS p50"
    );
    for run in &runs {
        println!(
            "{:<30} {:>11} {:>11} {:>13} {:>12} {:>15} {:>9.1} MiB",
            run.name,
            format!("{:.2?}", run.median_init()),
            format!("{:.2?}", percentile(&run.init, 90)),
            format!("{:.2?}", run.median_init_cpu()),
            percentile(&run.init_faults, 50),
            format!("{:.2?}", percentile(&run.first_request, 50)),
            percentile(&run.peak_rss_kib, 50) as f64 / 1024.0,
        );
    }
    println!("\nJWKS fetches by the supplied-key-set starts: {supplied_fetches}");

    let init = |name: &str| runs.iter().find(|run| run.name == name).map(Run::median_init);
    let cpu = |name: &str| runs.iter().find(|run| run.name == name).map(Run::median_init_cpu);
    let ratio = |label: &str, numerator: Option<Duration>, denominator: Option<Duration>, target: f64| {
        if let (Some(n), Some(d)) = (numerator, denominator) {
            let value = n.as_secs_f64() / d.as_secs_f64();
            let verdict = if value <= target { "met" } else { "MISSED" };
            println!("{label:<62} {value:>5.2}x  (target <= {target}x: {verdict})");
        }
    };
    println!("\nratios of median init times (wall clock; CPU time where moto's own time must be excluded)");
    let hs = init("HS256, secret in env");
    ratio("RS256 JWKS over TLS / over plain http", init("RS256, JWKS over TLS"), init("RS256, JWKS over http"), 1.3);
    ratio("RS256 supplied JWKS / HS256", init("RS256, supplied JWKS"), hs, 1.1);
    let arn = init("HS256, secret ARN over TLS").map(|arn| arn.saturating_sub(moto_service_time));
    ratio("secret ARN over TLS minus moto's GetSecretValue / HS256", arn, hs, 1.5);
    ratio("secret ARN over TLS / HS256, CPU time", cpu("HS256, secret ARN over TLS"), cpu("HS256, secret in env"), 1.5);
    ratio(
        "RS256 JWKS over TLS / over plain http, CPU time",
        cpu("RS256, JWKS over TLS"),
        cpu("RS256, JWKS over http"),
        1.3,
    );
    ratio("HS256 / bare lambda_http", hs, init("bare lambda_http"), 1.2);
    let authorizer = init("authorizer, HS256, HTTP API 2.0");
    if let (Some(authorizer), Some(hs)) = (authorizer, hs) {
        println!(
            "{:<62} {:>5.2}x  (no target)",
            "authorizer HS256 / API HS256",
            authorizer.as_secs_f64() / hs.as_secs_f64()
        );
    }
}

/// An authorizer event carrying `authorization`: HTTP API payload `2.0`, or a REST API `TOKEN` event.
fn authorizer_event(kind: &str, authorization: &str) -> serde_json::Value {
    let arn = "arn:aws:execute-api:us-east-1:123456789012:abc123defg/prod/GET/reports";
    if kind == "TOKEN" {
        return serde_json::json!({"type": "TOKEN", "authorizationToken": authorization, "methodArn": arn});
    }
    serde_json::json!({
        "version": "2.0", "type": "REQUEST", "routeArn": arn, "routeKey": "GET /reports",
        "identitySource": [authorization], "headers": {"authorization": authorization}
    })
}

/// One cold start of `run`: init, the first request, then the warm requests and the peak memory.
async fn measure(run: &mut Run) {
    let env: Vec<(&str, &str)> = run.env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let headers: Vec<(&str, &str)> =
        if run.authorization.is_empty() { Vec::new() } else { vec![("authorization", run.authorization.as_str())] };
    let mut emulator = Emulator::start_binary(&run.binary, &env).await;
    emulator.wait_until_ready().await;
    run.init.push(emulator.init_duration().unwrap());
    run.init_cpu.push(cpu_time(emulator.pid().unwrap()));
    run.init_faults.push(page_faults(emulator.pid().unwrap()));
    let started = Instant::now();
    if let Some(event) = &run.event {
        let answer = emulator.invoke(event.clone()).await.unwrap();
        run.first_request.push(started.elapsed());
        let allowed = answer["isAuthorized"] == true || answer["policyDocument"]["Statement"][0]["Effect"] == "Allow";
        assert!(allowed, "{}: {answer}", run.name);
        for _ in 0..WARM_REQUESTS {
            emulator.invoke(event.clone()).await.unwrap();
        }
    } else {
        let answer = http_get(emulator.gateway, "GET", run.path, &headers).await;
        run.first_request.push(started.elapsed());
        assert_eq!(answer.status / 100, 2, "{}: {}", run.name, answer.body);
        for _ in 0..WARM_REQUESTS {
            http_get(emulator.gateway, "GET", run.path, &headers).await;
        }
    }
    run.peak_rss_kib.push(peak_rss_kib(emulator.pid().unwrap()));
    emulator.stop().await;
}

/// The median time moto takes to answer GetSecretValue to a warm process: what the secret-ARN cold start
/// spends waiting for moto itself (a Python server), as opposed to the function's own work. moto closes every
/// connection after its answer, so each call includes a TLS handshake, as the cold start's does.
async fn moto_service_time(moto: &moto::Moto, arn: &str) -> Duration {
    let client =
        aws::Client::for_resource(moto.loader(), &aws::SECRETS_MANAGER, arn, &moto::tls(), Duration::from_secs(1))
            .await
            .unwrap();
    let request = serde_json::json!({ "SecretId": arn }).to_string();
    let get = || async {
        let answer = client.call("GetSecretValue", &request, Duration::from_secs(5)).await.unwrap();
        assert!(answer.status.is_success(), "{answer:?}");
    };
    get().await;
    let mut times = Vec::new();
    for _ in 0..25 {
        let started = Instant::now();
        get().await;
        times.push(started.elapsed());
    }
    percentile(&times, 50)
}
