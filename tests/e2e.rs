//! End to end: the real binary against a Lambda Runtime API on 127.0.0.1, called over HTTP.

mod emulator;
mod jwks_server;
mod moto;
mod support;

use emulator::{Emulator, http_get};
use serde_json::Value;
use support::{AUDIENCE, claims, env, event, mint, with_authorization};

async fn running() -> Emulator {
    let emulator = Emulator::start(&env()).await;
    emulator.wait_until_ready().await;
    emulator
}

/// A token from the `mint-token` binary, configured exactly like the function.
fn minted_token(args: &[&str]) -> String {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_mint-token"))
        .env_clear()
        .envs(env())
        .args(args)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

fn request_lines(emulator: &Emulator) -> Vec<Value> {
    emulator
        .logs()
        .iter()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| line["message"] == "request")
        .collect()
}

#[tokio::test]
async fn root_answers_over_http() {
    let emulator = running().await;
    let answer = http_get(emulator.gateway, "GET", "/", &[]).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body, "Hello World!");
}

#[tokio::test]
async fn protected_accepts_a_token_from_mint_token() {
    let emulator = running().await;
    let token = minted_token(&["--email", "dev@example.com", "--expires-in", "5m"]);
    let answer =
        http_get(emulator.gateway, "GET", "/protected", &[("authorization", &format!("Bearer {token}"))]).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body, "Hello World dev@example.com!");
}

#[tokio::test]
async fn protected_without_a_token_is_401_with_the_challenge() {
    let emulator = running().await;
    let answer = http_get(emulator.gateway, "GET", "/protected", &[]).await;
    assert_eq!(answer.status, 401);
    assert_eq!(answer.json()["code"], "authorization_header_missing");
    assert_eq!(answer.header("www-authenticate"), Some(format!("Bearer realm=\"{AUDIENCE}\"").as_str()));
}

#[tokio::test]
async fn two_authorization_headers_are_invalid_header() {
    let emulator = running().await;
    let token = minted_token(&[]);
    let bearer = format!("Bearer {token}");
    let answer =
        http_get(emulator.gateway, "GET", "/protected", &[("authorization", &bearer), ("authorization", &bearer)])
            .await;
    assert_eq!(answer.status, 401);
    assert_eq!(answer.json()["code"], "invalid_header");
}

#[tokio::test]
async fn expired_token_from_mint_token_is_token_expired() {
    let emulator = Emulator::start(&env_with("AUTH0_LEEWAY_SECONDS", Some("0"))).await;
    emulator.wait_until_ready().await;
    let token = minted_token(&["--expires-in", "0s"]);
    let answer =
        http_get(emulator.gateway, "GET", "/protected", &[("authorization", &format!("Bearer {token}"))]).await;
    assert_eq!(answer.status, 401);
    assert_eq!(answer.json()["code"], "token_expired");
}

#[tokio::test]
async fn every_request_logs_one_json_line_without_the_token_or_claims() {
    let emulator = running().await;
    let token = minted_token(&["--email", "private@example.com"]);
    let bearer = format!("Bearer {token}");
    http_get(emulator.gateway, "GET", "/protected", &[("authorization", &bearer)]).await;
    http_get(emulator.gateway, "GET", "/protected", &[("authorization", "Bearer x.y.z")]).await;
    http_get(emulator.gateway, "GET", "/nope", &[]).await;

    let started = std::time::Instant::now();
    while request_lines(&emulator).len() < 3 {
        assert!(started.elapsed() < emulator::PATIENCE, "missing request lines: {:?}", emulator.logs());
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let lines = request_lines(&emulator);
    assert_eq!(lines.len(), 3, "{lines:?}");
    let outcomes: Vec<(&str, u64, &str)> = lines
        .iter()
        .map(|line| (line["path"].as_str().unwrap(), line["status"].as_u64().unwrap(), line["code"].as_str().unwrap()))
        .collect();
    assert_eq!(
        outcomes,
        [("/protected", 200, "ok"), ("/protected", 401, "invalid_token"), ("/nope", 404, "not_found")]
    );
    for line in &lines {
        assert_eq!(line["level"], "INFO");
        assert_eq!(line["method"], "GET");
        assert!(line["request_id"].as_str().is_some_and(|id| id.starts_with("req-")), "{line}");
        assert!(line["duration_us"].is_u64(), "{line}");
        assert!(line["xray_trace_id"].as_str().is_some_and(|id| id.starts_with("Root=1-")), "{line}");
    }
    // Each invocation's own trace id (the emulator sends a fresh one each time, as Lambda does).
    let mut trace_ids: Vec<&str> = lines.iter().map(|line| line["xray_trace_id"].as_str().unwrap()).collect();
    trace_ids.dedup();
    assert_eq!(trace_ids.len(), 3, "{trace_ids:?}");
    let mut request_ids: Vec<&str> = lines.iter().map(|line| line["request_id"].as_str().unwrap()).collect();
    request_ids.dedup();
    assert_eq!(request_ids.len(), 3, "{request_ids:?}");
    let everything = emulator.logs().join("\n");
    assert!(!everything.contains(&token), "a log line carries the token");
    assert!(!everything.contains("private@example.com"), "a log line carries a claim value");
    assert!(!everything.contains(support::SECRET), "a log line carries the secret");
}

/// The test configuration with `name` set to `value`, or removed when `value` is `None`.
fn env_with<'a>(name: &'static str, value: Option<&'a str>) -> Vec<(&'static str, &'a str)> {
    let mut config: Vec<_> = env().into_iter().filter(|(key, _)| *key != name).collect();
    config.extend(value.map(|value| (name, value)));
    config
}

/// The test configuration with a JWKS at `url`, served over TLS with a certificate from the tests' CA.
fn env_with_jwks(url: &str) -> Vec<(&'static str, &str)> {
    let mut config = env_with("AUTH0_JWKS_URL", Some(url));
    config.push(("AUTH0_EXTRA_CA_CERTS", jwks_server::ca_file()));
    config
}

/// Starts the function with `config`, expects it to exit before serving, and returns its single log line.
async fn failed_cold_start(config: &[(&str, &str)]) -> Value {
    let mut emulator = Emulator::start(config).await;
    assert_ne!(emulator.wait_for_exit().await, Some(0), "a misconfigured function must exit with a failure");
    assert_eq!(emulator.next_polls(), 0, "a misconfigured function must not serve");
    let logs = emulator.logs();
    assert_eq!(logs.len(), 1, "{logs:?}");
    let line: Value = serde_json::from_str(&logs[0]).unwrap();
    assert_eq!(line["level"], "ERROR");
    line
}

#[tokio::test]
async fn missing_audience_fails_the_cold_start_naming_the_variable() {
    let line = failed_cold_start(&env_with("AUTH0_AUDIENCE", None)).await;
    assert_eq!(line["variable"], "AUTH0_AUDIENCE");
    assert!(line["message"].as_str().unwrap().contains("AUTH0_AUDIENCE"));
}

#[tokio::test]
async fn short_secret_fails_the_cold_start_without_echoing_it() {
    let line = failed_cold_start(&env_with("AUTH0_CLIENT_SECRET", Some("too-short-secret"))).await;
    assert_eq!(line["variable"], "AUTH0_CLIENT_SECRET");
    assert!(!line.to_string().contains("too-short-secret"), "the log echoes the secret");
}

#[tokio::test]
async fn invalid_leeway_fails_the_cold_start_naming_the_variable() {
    let line = failed_cold_start(&env_with("AUTH0_LEEWAY_SECONDS", Some("soon"))).await;
    assert_eq!(line["variable"], "AUTH0_LEEWAY_SECONDS");
}

#[tokio::test]
async fn invalid_log_level_fails_the_cold_start_naming_the_variable() {
    let line = failed_cold_start(&env_with("RUST_LOG", Some("chatty"))).await;
    assert_eq!(line["variable"], "RUST_LOG");
}

#[tokio::test]
async fn the_jwks_is_fetched_during_init_and_rs256_tokens_are_served_from_the_cache() {
    let key = jwks_server::SigningKey::rsa("rsa-primary", "primary", jsonwebtoken::Algorithm::RS256);
    let server = jwks_server::JwksServer::serving(&[key.jwk()]).await;
    let url = server.url();
    let mut config = env_with_jwks(&url);
    config.push(("AUTH0_ALGORITHMS", "RS256,HS256"));
    let emulator = Emulator::start(&config).await;
    emulator.wait_until_ready().await;
    assert_eq!(server.requests(), 1, "the JWKS is fetched before the first invocation");

    let mut claims = support::claims();
    claims["scope"] = serde_json::json!("read:messages");
    let bearer = format!("Bearer {}", key.sign(&claims));
    for path in ["/api/private", "/api/private-scoped", "/protected"] {
        let answer = http_get(emulator.gateway, "GET", path, &[("authorization", &bearer)]).await;
        assert_eq!(answer.status, 200, "{path}: {}", answer.body);
    }
    let hs256 = format!("Bearer {}", minted_token(&[]));
    assert_eq!(http_get(emulator.gateway, "GET", "/api/private", &[("authorization", &hs256)]).await.status, 200);
    assert_eq!(server.requests(), 1, "the keys are cached across invocations");
}

#[tokio::test]
async fn an_unreachable_jwks_at_init_does_not_stop_the_instance() {
    let server = jwks_server::JwksServer::start(jwks_server::Mode::Drop).await;
    let url = server.url();
    let mut config = env_with_jwks(&url);
    config.push(("AUTH0_ALGORITHMS", "RS256,HS256"));
    let emulator = Emulator::start(&config).await;
    emulator.wait_until_ready().await;
    assert!(server.requests() >= 1);
    let key = jwks_server::SigningKey::rsa("rsa-primary", "primary", jsonwebtoken::Algorithm::RS256);
    let bearer = format!("Bearer {}", key.sign(&support::claims()));
    let answer = http_get(emulator.gateway, "GET", "/api/private", &[("authorization", &bearer)]).await;
    assert_eq!(answer.status, 503);
    assert_eq!(answer.json()["code"], "jwks_unavailable");
    assert!(answer.header("retry-after").is_some());
    let public = http_get(emulator.gateway, "GET", "/api/public", &[]).await;
    assert_eq!(public.status, 200);
}

#[tokio::test]
async fn mint_token_rs256_verifies_against_the_jwks_it_prints() {
    let jwks = minted_token(&["--print-jwks"]);
    let server = jwks_server::JwksServer::start(jwks_server::Mode::Serve(jwks)).await;
    let url = server.url();
    let emulator = Emulator::start(&env_with_jwks(&url)).await;
    emulator.wait_until_ready().await;
    let token = minted_token(&["--alg", "RS256", "--permissions", "read:messages,write:messages"]);
    let bearer = format!("Bearer {token}");
    let answer = http_get(emulator.gateway, "GET", "/api/private-scoped", &[("authorization", &bearer)]).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let unscoped = format!("Bearer {}", minted_token(&["--alg", "RS256"]));
    let answer = http_get(emulator.gateway, "GET", "/api/private-scoped", &[("authorization", &unscoped)]).await;
    assert_eq!(answer.status, 403);
    assert_eq!(answer.json()["code"], "insufficient_scope");
}

#[tokio::test]
async fn a_supplied_key_set_needs_no_fetch_during_init_nor_for_the_first_request() {
    let key = jwks_server::SigningKey::rsa("rsa-primary", "primary", jsonwebtoken::Algorithm::RS256);
    let server = jwks_server::JwksServer::serving(&[key.jwk()]).await;
    let url = server.url();
    let supplied = jwks_server::jwks(&[key.jwk()]);
    let mut config = env_with_jwks(&url);
    config.push(("AUTH0_JWKS", &supplied));
    let emulator = Emulator::start(&config).await;
    emulator.wait_until_ready().await;
    let bearer = format!("Bearer {}", key.sign(&support::claims()));
    let answer = http_get(emulator.gateway, "GET", "/api/private", &[("authorization", &bearer)]).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(server.requests(), 0, "the JWKS was fetched");
}

#[tokio::test]
async fn a_malformed_supplied_key_set_fails_the_cold_start_naming_the_variable() {
    let mut config = env_with_jwks("https://127.0.0.1:9/.well-known/jwks.json");
    config.push(("AUTH0_JWKS", "{\"keys\": [{\"kty\": \"RSA\"}"));
    let line = failed_cold_start(&config).await;
    assert_eq!(line["variable"], "AUTH0_JWKS");
}

#[tokio::test]
async fn an_unreadable_ca_file_fails_the_cold_start_naming_the_variable() {
    let mut config = env_with_jwks("https://127.0.0.1:9/.well-known/jwks.json");
    config.retain(|(name, _)| *name != "AUTH0_EXTRA_CA_CERTS");
    config.push(("AUTH0_EXTRA_CA_CERTS", "/nonexistent/ca.pem"));
    let line = failed_cold_start(&config).await;
    assert_eq!(line["variable"], "AUTH0_EXTRA_CA_CERTS");
}

/// The test configuration with the secret behind an ARN on `moto`.
fn env_with_secret_arn<'a>(moto: &'a [(&'static str, String)], arn: &'a str) -> Vec<(&'static str, &'a str)> {
    let mut config = env_with("AUTH0_CLIENT_SECRET", None);
    config.push(("AUTH0_CLIENT_SECRET_ARN", arn));
    config.extend(moto.iter().map(|(name, value)| (*name, value.as_str())));
    config
}

#[tokio::test]
async fn the_secret_is_read_from_secrets_manager_during_init() {
    let moto = moto::Moto::start();
    let arn = moto.create_secret("auth0/client-secret", support::SECRET).await;
    let moto_env = moto.env();
    let emulator = Emulator::start(&env_with_secret_arn(&moto_env, &arn)).await;
    emulator.wait_until_ready().await;
    let bearer = format!("Bearer {}", minted_token(&[]));
    let answer = http_get(emulator.gateway, "GET", "/protected", &[("authorization", &bearer)]).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(!emulator.logs().join("\n").contains(support::SECRET), "a log line carries the secret");
}

/// Without credentials in the environment (a profile, a container's or an instance's role), aws-config's whole
/// default chain finds them: here a shared credentials file of a user that may only read secrets, against moto
/// enforcing IAM, so that the read succeeds with that file's keys alone.
#[tokio::test]
async fn the_secret_is_read_with_credentials_from_the_shared_credentials_file() {
    // Three free requests create the user; the fourth creates the secret; then IAM is enforced.
    let moto = moto::Moto::start_enforcing_iam_after(4);
    let (access_key, secret_key) = moto.user_allowed_only("secretsmanager:GetSecretValue");
    let arn = moto.create_secret("auth0/from-profile", support::SECRET).await;
    let file = std::env::temp_dir().join(format!("auth0-lambda-api-credentials-{}", std::process::id()));
    std::fs::write(
        &file,
        format!("[default]\naws_access_key_id = {access_key}\naws_secret_access_key = {secret_key}\n"),
    )
    .unwrap();
    let mut moto_env: Vec<_> = moto
        .env()
        .into_iter()
        .filter(|(name, _)| !name.starts_with("AWS_SECRET") && *name != "AWS_ACCESS_KEY_ID")
        .collect();
    moto_env.push(("AWS_SHARED_CREDENTIALS_FILE", file.to_str().unwrap().to_owned()));
    let emulator = Emulator::start(&env_with_secret_arn(&moto_env, &arn)).await;
    emulator.wait_until_ready().await;
    let bearer = format!("Bearer {}", minted_token(&[]));
    let answer = http_get(emulator.gateway, "GET", "/protected", &[("authorization", &bearer)]).await;
    std::fs::remove_file(&file).unwrap();
    assert_eq!(answer.status, 200, "{}", answer.body);
    let logs = emulator.logs().join("\n");
    assert!(!logs.contains(support::SECRET) && !logs.contains(&secret_key), "a log line carries a secret");
}

#[tokio::test]
async fn the_cold_start_states_the_effective_configuration_without_the_secret() {
    let url = "https://127.0.0.1:9/.well-known/jwks.json";
    let emulator = Emulator::start(&env_with_jwks(url)).await;
    emulator.wait_until_ready().await;
    let lines: Vec<Value> = emulator.logs().iter().filter_map(|line| serde_json::from_str(line).ok()).collect();
    let summary: Vec<&Value> = lines.iter().filter(|line| line["message"] == "configuration").collect();
    assert_eq!(summary.len(), 1, "{lines:?}");
    let summary = summary[0];
    assert_eq!(summary["level"], "INFO");
    assert_eq!(summary["audiences"], AUDIENCE);
    assert_eq!(summary["issuers"], support::ISSUER);
    assert_eq!(summary["algorithms"], "RS256,HS256");
    assert_eq!(summary["jwks_url"], url);
    assert_eq!(summary["hmac_secret"], "configured");
    assert_eq!(summary["extra_ca_certificates"], 1);
    assert!(!emulator.logs().join("\n").contains(support::SECRET), "a log line carries the secret");
}

#[tokio::test]
async fn every_line_written_during_an_invocation_names_it() {
    let key = jwks_server::SigningKey::rsa("rsa-primary", "primary", jsonwebtoken::Algorithm::RS256);
    let server = jwks_server::JwksServer::serving(&[key.jwk()]).await;
    let url = server.url();
    let mut config = env_with_jwks(&url);
    config.push(("RUST_LOG", "warn,auth0_lambda_api=info"));
    let emulator = Emulator::start(&config).await;
    emulator.wait_until_ready().await;
    // An unknown kid: the key store fetches the JWKS inside the invocation and logs it.
    let unknown = key.sign_with_header(&support::claims(), |header| header.kid = Some("rotated".into()));
    let answer =
        http_get(emulator.gateway, "GET", "/api/private", &[("authorization", &format!("Bearer {unknown}"))]).await;
    assert_eq!(answer.status, 401);
    let started = std::time::Instant::now();
    while request_lines(&emulator).is_empty() {
        assert!(started.elapsed() < emulator::PATIENCE, "missing request line: {:?}", emulator.logs());
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let lines: Vec<Value> = emulator.logs().iter().filter_map(|line| serde_json::from_str(line).ok()).collect();
    let fetches: Vec<&Value> = lines.iter().filter(|line| line["message"] == "JWKS fetched").collect();
    assert_eq!(fetches.len(), 2, "the init fetch and the one for the unknown kid: {lines:?}");
    assert!(fetches[0].get("spans").is_none_or(|spans| spans.as_array().unwrap().is_empty()), "init is no invocation");
    for line in [fetches[1], &request_lines(&emulator)[0]] {
        let invocation = &line["spans"][0];
        assert_eq!(invocation["requestId"], line_request_id(&lines), "{line}");
        assert!(invocation["xrayTraceId"].as_str().is_some_and(|id| id.starts_with("Root=1-")), "{line}");
    }
}

/// The request id of the one request line among `lines`.
fn line_request_id(lines: &[Value]) -> Value {
    lines.iter().find(|line| line["message"] == "request").unwrap()["request_id"].clone()
}

/// At the most verbose level, set either way, with a secret from Secrets Manager under temporary credentials
/// and a JWKS over TLS: no line carries the token, the client secret, the AWS secret key or session token.
#[tokio::test]
async fn no_log_level_lets_a_token_a_secret_or_a_credential_through() {
    const SECRET_KEY: &str = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY";
    const SESSION_TOKEN: &str = "IQoJb3JpZ2luX2VjEXAMPLE-session-token-0123456789";
    let moto = moto::Moto::start();
    let arn = moto.create_secret("auth0/verbose", support::SECRET).await;
    let key = jwks_server::SigningKey::rsa("rsa-primary", "primary", jsonwebtoken::Algorithm::RS256);
    let server = jwks_server::JwksServer::serving(&[key.jwk()]).await;
    let url = server.url();
    let mut moto_env = moto.env();
    for (name, value) in &mut moto_env {
        if *name == "AWS_SECRET_ACCESS_KEY" {
            *value = SECRET_KEY.into();
        }
    }
    moto_env.push(("AWS_SESSION_TOKEN", SESSION_TOKEN.into()));
    for level in [("RUST_LOG", "trace"), ("AWS_LAMBDA_LOG_LEVEL", "TRACE")] {
        let mut config = env_with_secret_arn(&moto_env, &arn);
        config.extend([("AUTH0_JWKS_URL", url.as_str()), ("AUTH0_ALGORITHMS", "RS256,HS256"), level]);
        let emulator = Emulator::start(&config).await;
        emulator.wait_until_ready().await;
        let rs256 = key.sign(&support::claims());
        let hs256 = minted_token(&[]);
        for token in [&rs256, &hs256] {
            let bearer = format!("Bearer {token}");
            let answer = http_get(emulator.gateway, "GET", "/protected", &[("authorization", &bearer)]).await;
            assert_eq!(answer.status, 200, "{}", answer.body);
        }
        let started = std::time::Instant::now();
        while request_lines(&emulator).len() < 2 {
            assert!(started.elapsed() < emulator::PATIENCE, "missing request lines: {:?}", emulator.logs());
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        let everything = emulator.logs().join("\n");
        assert!(everything.lines().count() > 10, "{level:?} is not verbose: {everything}");
        for (what, value) in [
            ("the RS256 token", rs256.as_str()),
            ("the HS256 token", hs256.as_str()),
            ("a token's signature", rs256.rsplit('.').next().unwrap()),
            ("the client secret", support::SECRET),
            ("the AWS secret key", SECRET_KEY),
            ("the AWS session token", SESSION_TOKEN),
        ] {
            assert!(!everything.contains(value), "{level:?} logs {what}");
        }
    }
}

#[tokio::test]
async fn a_missing_secret_fails_the_cold_start_naming_the_arn_variable() {
    let moto = moto::Moto::start();
    let moto_env = moto.env();
    let arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:missing-AbCdEf";
    let line = failed_cold_start(&env_with_secret_arn(&moto_env, arn)).await;
    assert_eq!(line["variable"], "AUTH0_CLIENT_SECRET_ARN");
    assert!(line["message"].as_str().unwrap().contains("no such secret"), "{line}");
}

/// The Embedded Metric Format lines the function printed.
fn metric_lines(emulator: &Emulator) -> Vec<Value> {
    emulator
        .logs()
        .iter()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| line.get("_aws").is_some())
        .collect()
}

async fn wait_for_metric_lines(emulator: &Emulator, count: usize) -> Vec<Value> {
    let started = std::time::Instant::now();
    while metric_lines(emulator).len() < count {
        assert!(started.elapsed() < emulator::PATIENCE, "missing metric lines: {:?}", emulator.logs());
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    metric_lines(emulator)
}

/// With Lambda's JSON log format and an application log level of ERROR, Lambda drops lines below ERROR (and
/// counts a line without a level as INFO): metric lines carry that level, so none is dropped.
#[tokio::test]
async fn metric_lines_survive_lambdas_application_log_level() {
    let mut config = env();
    config.push(("AWS_LAMBDA_LOG_LEVEL", "ERROR"));
    let emulator = Emulator::start(&config).await;
    emulator.wait_until_ready().await;
    http_get(emulator.gateway, "GET", "/", &[]).await;
    http_get(emulator.gateway, "GET", "/protected", &[]).await;
    let lines = wait_for_metric_lines(&emulator, 2).await;
    assert!(lines.iter().all(|line| line["level"] == "ERROR"), "{lines:?}");
    assert!(request_lines(&emulator).is_empty(), "request lines are INFO: not written at ERROR");
}

#[tokio::test]
async fn every_request_publishes_one_metric_line_with_its_outcome() {
    let mut config = env();
    config.push(("AUTH0_METRICS_DIMENSIONS", "Outcome,Route"));
    let emulator = Emulator::start(&config).await;
    emulator.wait_until_ready().await;
    let token = minted_token(&["--email", "private@example.com"]);
    http_get(emulator.gateway, "GET", "/protected", &[("authorization", &format!("Bearer {token}"))]).await;
    http_get(emulator.gateway, "GET", "/protected", &[]).await;
    http_get(emulator.gateway, "GET", "/secret-path-123", &[]).await;

    let lines = wait_for_metric_lines(&emulator, 3).await;
    let outcomes: Vec<(&str, &str)> =
        lines.iter().map(|line| (line["Outcome"].as_str().unwrap(), line["Route"].as_str().unwrap())).collect();
    assert_eq!(
        outcomes,
        [("ok", "/protected"), ("authorization_header_missing", "/protected"), ("not_found", "unmatched")]
    );
    let declaration = &lines[0]["_aws"]["CloudWatchMetrics"][0];
    assert_eq!(declaration["Namespace"], "Auth0LambdaApi");
    assert_eq!(declaration["Dimensions"], serde_json::json!([["Outcome", "Route"]]));
    assert_eq!(lines[0]["Requests"], 1);
    let cold_starts: Vec<bool> = lines.iter().map(|line| line["ColdStart"] == 1).collect();
    assert_eq!(cold_starts, [true, false, false], "the instance's first request counts its cold start");
    let everything = emulator.logs().join("\n");
    assert!(!everything.contains(&token) && !everything.contains("private@example.com"));
    assert!(lines.iter().all(|line| !line.to_string().contains("secret-path-123")), "a raw path became a dimension");
}

#[tokio::test]
async fn metrics_count_jwks_fetches_and_cache_misses() {
    let key = jwks_server::SigningKey::rsa("rsa-primary", "primary", jsonwebtoken::Algorithm::RS256);
    let server = jwks_server::JwksServer::serving(&[key.jwk()]).await;
    let url = server.url();
    let emulator = Emulator::start(&env_with_jwks(&url)).await;
    emulator.wait_until_ready().await;
    let good = format!("Bearer {}", key.sign(&support::claims()));
    let unknown = format!("Bearer {}", key.sign_with_header(&support::claims(), |h| h.kid = Some("other".into())));
    for bearer in [&good, &good, &unknown, &unknown] {
        http_get(emulator.gateway, "GET", "/api/private", &[("authorization", bearer)]).await;
    }
    let lines = wait_for_metric_lines(&emulator, 4).await;
    let counts: Vec<(u64, u64)> = lines
        .iter()
        .map(|line| (line["JwksFetches"].as_u64().unwrap(), line["JwksCacheMisses"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        counts,
        [(1, 0), (0, 0), (1, 1), (0, 1)],
        "the init fetch, a cache hit, a miss that fetches at once, a miss inside its cooldown"
    );
}

#[tokio::test]
async fn metrics_can_be_switched_off() {
    let mut config = env();
    config.push(("AUTH0_METRICS", "off"));
    let emulator = Emulator::start(&config).await;
    emulator.wait_until_ready().await;
    http_get(emulator.gateway, "GET", "/", &[]).await;
    let started = std::time::Instant::now();
    while request_lines(&emulator).is_empty() {
        assert!(started.elapsed() < emulator::PATIENCE);
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    assert!(metric_lines(&emulator).is_empty(), "{:?}", emulator.logs());
}

// Behind an Application Load Balancer and a Lambda Function URL: the same routes and answers, in their shapes.

#[tokio::test]
async fn an_alb_event_gets_an_alb_response_with_the_same_contract() {
    let emulator = running().await;
    let token = format!("Bearer {}", mint(&claims()));
    let ok = emulator.invoke(with_authorization(event("alb-protected-ok"), Some(&token))).await.unwrap();
    assert_eq!((ok["statusCode"].as_u64(), ok["statusDescription"].as_str()), (Some(200), Some("200 OK")), "{ok}");
    assert_eq!(ok["body"], "Hello World jane@example.com!");
    let refused = emulator.invoke(event("alb-protected-no-token")).await.unwrap();
    assert_eq!(refused["statusCode"], 401);
    assert_eq!(refused["statusDescription"], "401 Unauthorized");
    assert_eq!(refused["headers"]["www-authenticate"], format!("Bearer realm=\"{AUDIENCE}\""));
    let body: Value = serde_json::from_str(refused["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["code"], "authorization_header_missing");
    // A health check of the load balancer: the public root, no token.
    let mut health = event("alb-root-ok");
    health["headers"]["user-agent"] = "ELB-HealthChecker/2.0".into();
    assert_eq!(emulator.invoke(health).await.unwrap()["statusCode"], 200);
}

#[tokio::test]
async fn an_alb_with_multi_value_headers_refuses_two_authorization_headers_and_answers_in_kind() {
    let emulator = running().await;
    let token = format!("Bearer {}", mint(&claims()));
    let mut alb = event("alb-protected-ok");
    let headers = alb.as_object_mut().unwrap().remove("headers").unwrap();
    let mut multi = serde_json::Map::new();
    for (name, value) in headers.as_object().unwrap() {
        multi.insert(name.clone(), serde_json::json!([value]));
    }
    multi.insert("authorization".into(), serde_json::json!([token, token]));
    alb["multiValueHeaders"] = multi.into();
    let answer = emulator.invoke(alb).await.unwrap();
    assert_eq!(answer["statusCode"], 401, "{answer}");
    assert!(answer["multiValueHeaders"]["www-authenticate"].is_array(), "{answer}");
    let body: Value = serde_json::from_str(answer["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["code"], "invalid_header");
}

#[tokio::test]
async fn a_function_url_event_gets_the_same_answers() {
    let emulator = running().await;
    let token = format!("Bearer {}", mint(&claims()));
    let ok = emulator.invoke(with_authorization(event("url-protected-ok"), Some(&token))).await.unwrap();
    assert_eq!(ok["statusCode"], 200, "{ok}");
    assert_eq!(ok["body"], "Hello World jane@example.com!");
    let scoped = with_authorization(event("url-api-private-scoped-insufficient-scope"), Some(&token));
    let refused = emulator.invoke(scoped).await.unwrap();
    assert_eq!(refused["statusCode"], 403, "{refused}");
    let challenge = refused["headers"]["www-authenticate"].as_str().unwrap();
    assert!(challenge.contains("error=\"insufficient_scope\""), "{challenge}");
    // No CORS of API Gateway's kind: a preflight reaches the function, which answers it.
    let preflight = emulator.invoke(event("url-preflight")).await.unwrap();
    assert_eq!(preflight["statusCode"], 204);
}
