//! The HS256 secret from AWS Secrets Manager, against moto_server on 127.0.0.1.

mod jwks_server;
mod moto;
mod support;

use std::time::{Duration, Instant};

use auth0_lambda_api::secrets::{SECRET_TIMEOUT, fetch_client_secret, load_config};
use auth0_lambda_api::{App, ConfigError};
use moto::Moto;
use support::lookup;

const SECRET: &str = support::SECRET;
const ARN: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:auth0-AbCdEf";

/// The test configuration with the secret replaced by its ARN.
fn env_with_arn<'a>(arn: &'a str, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut vars: Vec<_> = support::env().into_iter().filter(|(name, _)| *name != "AUTH0_CLIENT_SECRET").collect();
    vars.push(("AUTH0_CLIENT_SECRET_ARN", arn));
    vars.push(("AUTH0_METRICS", "off"));
    vars.push(("AUTH0_EXTRA_CA_CERTS", jwks_server::ca_file()));
    vars.extend_from_slice(extra);
    vars
}

async fn load_error(moto: &Moto, vars: &[(&str, &str)]) -> ConfigError {
    let loader = moto.loader();
    load_config(lookup(vars), || loader).await.expect_err("the configuration loaded")
}

/// A plain `SecretString` is the HMAC secret, also when stored from a file with its final newline
/// (`aws secretsmanager create-secret --secret-string file://secret.txt` keeps it).
#[tokio::test]
async fn a_plain_secret_string_is_the_hmac_secret() {
    let moto = Moto::start();
    for (name, stored) in [("auth0/client-secret", SECRET.to_owned()), ("auth0/from-file", format!("{SECRET}\n"))] {
        let arn = moto.create_secret(name, &stored).await;
        let loader = moto.loader();
        let config = load_config(lookup(&env_with_arn(&arn, &[])), || loader).await.unwrap();
        assert_eq!(config.hmac_secret.as_deref(), Some(SECRET.as_bytes()), "{name}");

        // The app built from it accepts tokens signed with that secret.
        let app = App::new(config).unwrap();
        let answer = support::call_protected(&app, &format!("Bearer {}", support::mint(&support::claims()))).await;
        assert_eq!(answer.status, 200, "{name}: {}", answer.body);
    }
}

#[tokio::test]
async fn a_json_secret_is_read_under_the_configured_key() {
    let moto = Moto::start();
    let json = serde_json::json!({"client_id": "abc", "client_secret": SECRET}).to_string();
    let arn = moto.create_secret("auth0/app", &json).await;
    let secret = fetch_client_secret(moto.loader(), moto::tls(), &arn, Some("client_secret")).await.unwrap();
    assert_eq!(secret, SECRET);
}

/// A secret's ARN names its region, which the call is signed for and sent to, whatever the function's own
/// region (moto keeps each region's secrets apart, by the region the request is signed for).
#[tokio::test]
async fn a_secret_is_read_in_the_region_its_arn_names() {
    let moto = Moto::start();
    let arn = moto.create_secret_in("eu-west-1", "auth0/elsewhere", SECRET).await;
    assert!(arn.starts_with("arn:aws:secretsmanager:eu-west-1:"), "{arn}");
    assert_eq!(fetch_client_secret(moto.loader(), moto::tls(), &arn, None).await.unwrap(), SECRET);

    // A name, not an ARN, is looked up in the function's region.
    let error = fetch_client_secret(moto.loader(), moto::tls(), "auth0/elsewhere", None).await.unwrap_err();
    assert!(error.problem.contains("no such secret"), "{error}");
}

#[tokio::test]
async fn the_legacy_encoding_applies_to_a_secret_from_the_arn() {
    let moto = Moto::start();
    let key = [42u8; 48];
    let encoded = base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, key);
    let arn = moto.create_secret("auth0/legacy", &encoded).await;
    let loader = moto.loader();
    let vars = env_with_arn(&arn, &[("AUTH0_SECRET_ENCODING", "base64url")]);
    let config = load_config(lookup(&vars), || loader).await.unwrap();
    assert_eq!(config.hmac_secret.as_deref(), Some(&key[..]));
}

#[tokio::test]
async fn a_missing_secret_fails_naming_the_arn_variable() {
    let moto = Moto::start();
    let arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:does-not-exist-AbCdEf";
    let error = load_error(&moto, &env_with_arn(arn, &[])).await;
    assert_eq!(error.variable, "AUTH0_CLIENT_SECRET_ARN");
    assert!(error.problem.contains("no such secret"), "{error}");
}

#[tokio::test]
async fn access_denied_fails_naming_the_arn_variable() {
    // Three free requests create the user; the fourth creates the secret; then IAM is enforced.
    let moto = Moto::start_enforcing_iam_after(4);
    let (access_key, secret_key) = moto.user_without_get_secret_value();
    let arn = moto.create_secret("auth0/guarded", SECRET).await;
    let error =
        fetch_client_secret(moto.loader_as(&access_key, &secret_key), moto::tls(), &arn, None).await.unwrap_err();
    assert_eq!(error.variable, "AUTH0_CLIENT_SECRET_ARN");
    assert!(error.problem.contains("access denied"), "{error}");
    assert!(!error.to_string().contains(SECRET));
}

#[tokio::test]
async fn an_empty_value_fails() {
    let moto = Moto::start();
    let arn = moto.create_secret("auth0/blank", "   ").await;
    let error = load_error(&moto, &env_with_arn(&arn, &[])).await;
    assert_eq!((error.variable, error.problem.as_str()), ("AUTH0_CLIENT_SECRET_ARN", "the secret is empty"));
}

#[tokio::test]
async fn a_binary_secret_fails() {
    let moto = Moto::start();
    let arn = moto.create_binary_secret("auth0/binary", SECRET.as_bytes()).await;
    let error = load_error(&moto, &env_with_arn(&arn, &[])).await;
    assert!(error.problem.contains("no SecretString"), "{error}");
}

#[tokio::test]
async fn a_wrong_json_key_fails_without_echoing_the_secret() {
    let moto = Moto::start();
    let json = serde_json::json!({"client_secret": SECRET}).to_string();
    let arn = moto.create_secret("auth0/json", &json).await;
    let error = load_error(&moto, &env_with_arn(&arn, &[("AUTH0_CLIENT_SECRET_JSON_KEY", "secret")])).await;
    assert_eq!(error.variable, "AUTH0_CLIENT_SECRET_ARN");
    assert!(error.problem.contains("\"secret\""), "{error}");
    assert!(!error.to_string().contains(SECRET));

    let not_json = moto.create_secret("auth0/plain", SECRET).await;
    let error = load_error(&moto, &env_with_arn(&not_json, &[("AUTH0_CLIENT_SECRET_JSON_KEY", "secret")])).await;
    assert!(error.problem.contains("not a JSON object"), "{error}");
}

#[tokio::test]
async fn a_secret_too_short_for_hs256_names_the_arn_variable() {
    let moto = Moto::start();
    let arn = moto.create_secret("auth0/short", "short").await;
    let error = load_error(&moto, &env_with_arn(&arn, &[])).await;
    assert_eq!(error.variable, "AUTH0_CLIENT_SECRET_ARN");
}

#[tokio::test]
async fn the_secret_and_its_arn_together_are_refused() {
    let moto = Moto::start();
    let mut vars = env_with_arn(ARN, &[]);
    vars.push(("AUTH0_CLIENT_SECRET", SECRET));
    assert_eq!(load_error(&moto, &vars).await.variable, "AUTH0_CLIENT_SECRET_ARN");
}

#[tokio::test]
async fn an_unreachable_endpoint_fails_within_the_timeout() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let loader = moto::loader_at(&format!("http://{closed}"), "test", "test");
    let started = Instant::now();
    let error = fetch_client_secret(loader, moto::tls(), ARN, None).await.unwrap_err();
    assert_eq!(error.variable, "AUTH0_CLIENT_SECRET_ARN");
    assert!(error.problem.contains("unreachable") || error.problem.contains("in time"), "{error}");
    assert!(started.elapsed() <= SECRET_TIMEOUT + Duration::from_secs(1), "{:?}", started.elapsed());
}

#[tokio::test]
async fn a_throttled_endpoint_fails_after_its_retry() {
    let throttle = r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#;
    let server = jwks_server::JwksServer::start_plain(jwks_server::Mode::Reply(400, throttle.into())).await;
    let loader = moto::loader_at(&format!("http://{}", server.address), "test", "test");
    let error = fetch_client_secret(loader, moto::tls(), ARN, None).await.unwrap_err();
    assert!(error.problem.contains("ThrottlingException"), "{error}");
    assert_eq!(server.requests(), 2, "one attempt and one retry");
}

/// The two answers Secrets Manager gives when the secret's customer-managed KMS key refuses the caller.
#[tokio::test]
async fn a_kms_key_that_refuses_the_function_names_kms_decrypt() {
    for (status, body) in [
        (
            400,
            r#"{"__type":"DecryptionFailure","message":"Secrets Manager can't decrypt the protected secret text using the provided KMS key."}"#,
        ),
        (400, r#"{"__type":"AccessDeniedException","message":"Access to KMS is not allowed"}"#),
    ] {
        let server = jwks_server::JwksServer::start_plain(jwks_server::Mode::Reply(status, body.into())).await;
        let loader = moto::loader_at(&format!("http://{}", server.address), "test", "test");
        let error = fetch_client_secret(loader, moto::tls(), ARN, None).await.unwrap_err();
        assert_eq!(error.variable, "AUTH0_CLIENT_SECRET_ARN");
        assert!(
            error.problem.contains("kms:Decrypt") && error.problem.contains("Auth0ClientSecretKmsKeyArn"),
            "{error}"
        );
    }
}

#[tokio::test]
async fn a_silent_endpoint_fails_within_the_timeout() {
    let server =
        jwks_server::JwksServer::start_plain(jwks_server::Mode::Slow(Duration::from_secs(60), "{}".into())).await;
    let loader = moto::loader_at(&format!("http://{}", server.address), "test", "test");
    let started = Instant::now();
    let error = fetch_client_secret(loader, moto::tls(), ARN, None).await.unwrap_err();
    assert!(error.problem.contains("in time"), "{error}");
    assert!(started.elapsed() <= SECRET_TIMEOUT + Duration::from_secs(1), "{:?}", started.elapsed());
}

#[tokio::test]
async fn an_endpoint_whose_certificate_no_root_vouches_for_fails_naming_the_arn_variable() {
    let moto = Moto::start();
    let vars: Vec<_> = env_with_arn(ARN, &[]).into_iter().filter(|(name, _)| *name != "AUTH0_EXTRA_CA_CERTS").collect();
    let error = load_error(&moto, &vars).await;
    assert_eq!(error.variable, "AUTH0_CLIENT_SECRET_ARN");
    assert!(error.problem.contains("unreachable") && error.problem.contains("certificate"), "{error}");
}

#[tokio::test]
async fn an_unreadable_ca_file_fails_naming_its_variable_before_any_request() {
    let moto = Moto::start();
    let error = load_error(&moto, &env_with_arn(ARN, &[("AUTH0_EXTRA_CA_CERTS", "/nonexistent/ca.pem")])).await;
    assert_eq!(error.variable, "AUTH0_EXTRA_CA_CERTS");
}
