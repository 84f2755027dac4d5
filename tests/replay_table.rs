//! The DPoP replay table every instance shares, against moto_server's DynamoDB on 127.0.0.1 over TLS: a proof
//! is accepted once across function processes, and every way the table can fail refuses the request (503)
//! instead of accepting a replay.

mod emulator;
mod jwks_server;
mod moto;
mod support;

use std::time::{Duration, Instant};

use auth0_lambda_api::dpop::client::ProofKey;
use auth0_lambda_api::dpop::table::TABLE_TIMEOUT;
use auth0_lambda_api::dpop::{ReplayTable, TableError, proof_id};
use emulator::Emulator;
use moto::Moto;
use serde_json::{Value, json};

const TABLE: &str = "auth0-dpop-replay";
const URL: &str = "https://api.example.com/protected";

fn table_at(loader: aws_config::ConfigLoader) -> ReplayTable {
    let loader = std::sync::Mutex::new(Some(loader));
    ReplayTable::new(
        TABLE.to_owned(),
        moto::trust(),
        Box::new(move || loader.lock().unwrap().take().expect("the client is built once")),
    )
}

#[tokio::test]
async fn a_proof_is_recorded_once_across_instances_until_it_expires() {
    let moto = Moto::start();
    moto.create_replay_table(TABLE);
    let (one, another) = (table_at(moto.loader()), table_at(moto.loader()));
    let now = support::now();
    let id = proof_id("thumbprint", "jti-1");
    assert_eq!(one.record(&id, now + 300, now).await, Ok(true));
    assert_eq!(another.record(&id, now + 300, now + 1).await, Ok(false), "a replay to another instance");
    assert_eq!(another.record(&id, now + 300, now + 300).await, Ok(false), "live through its last second");
    assert_eq!(another.record(&proof_id("thumbprint", "jti-2"), now + 300, now).await, Ok(true));
    assert_eq!(another.record(&proof_id("another key", "jti-1"), now + 300, now).await, Ok(true));
    // A write of this instance whose answer was lost (the SDK's retry, the client's retry after a 503) is
    // its own, not a replay: the instance's cache decides repeats before the table is asked.
    assert_eq!(one.record(&id, now + 300, now + 2).await, Ok(true));
    // Once its proof has expired an item no longer counts, whenever TTL deletes it.
    assert_eq!(another.record(&id, now + 900, now + 301).await, Ok(true));
}

#[tokio::test]
async fn a_missing_table_a_role_without_put_item_or_a_bad_signature_gives_no_answer() {
    let moto = Moto::start_enforcing_iam_after(5);
    moto.create_replay_table(TABLE); // two requests
    let (access_key, secret_key) = moto.user_allowed_only("dynamodb:GetItem"); // three
    let denied = table_at(moto.loader_as(&access_key, &secret_key));
    let now = support::now();
    assert_eq!(denied.record(&proof_id("k", "j"), now + 300, now).await, Err(TableError::AccessDenied));

    // The same with the permission: moto checks the signature of every request once IAM is enforced.
    let moto = Moto::start_enforcing_iam_after(5);
    moto.create_replay_table(TABLE);
    let (access_key, secret_key) = moto.user_allowed_only("dynamodb:PutItem");
    let allowed = table_at(moto.loader_as(&access_key, &secret_key));
    assert_eq!(allowed.record(&proof_id("k", "j"), now + 300, now).await, Ok(true));
    let forged = table_at(moto.loader_as(&access_key, "not-the-secret-key"));
    assert_eq!(forged.record(&proof_id("k", "j2"), now + 300, now).await, Err(TableError::AccessDenied));

    let moto = Moto::start();
    let missing = table_at(moto.loader());
    assert_eq!(missing.record(&proof_id("k", "j"), now + 300, now).await, Err(TableError::NoSuchTable));
}

#[tokio::test]
async fn a_throttled_unreachable_or_silent_table_gives_no_answer_in_time() {
    let now = support::now();
    let throttled = r#"{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"Rate exceeded"}"#;
    let server = jwks_server::JwksServer::start_plain(jwks_server::Mode::Reply(400, throttled.into())).await;
    let table = table_at(moto::loader_at(&format!("http://{}", server.address), "test", "test"));
    assert_eq!(table.record(&proof_id("k", "j"), now + 300, now).await, Err(TableError::Throttled));
    assert_eq!(server.requests(), 2, "one attempt and one retry");

    // A server error is retried once; a request DynamoDB refuses is not; a page that is not DynamoDB's (a
    // proxy's 200) is no write.
    for (status, body, expected, requests) in [
        (500, r#"{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError"}"#, TableError::ServerError, 2),
        (400, r#"{"__type":"com.amazon.coral.validate#ValidationException"}"#, TableError::Refused, 1),
        (400, r#"{"__type":"com.amazon.coral.service#UnrecognizedClientException"}"#, TableError::BadCredentials, 1),
        (200, "<html>Sign in to the network</html>", TableError::Refused, 1),
    ] {
        let server = jwks_server::JwksServer::start_plain(jwks_server::Mode::Reply(status, body.into())).await;
        let table = table_at(moto::loader_at(&format!("http://{}", server.address), "test", "test"));
        assert_eq!(table.record(&proof_id("k", "j"), now + 300, now).await, Err(expected), "{body}");
        assert_eq!(server.requests(), requests, "{body}");
    }

    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let table = table_at(moto::loader_at(&format!("http://{closed}"), "test", "test"));
    let started = Instant::now();
    let error = table.record(&proof_id("k", "j"), now + 300, now).await.unwrap_err();
    assert!(matches!(error, TableError::Unreachable | TableError::TimedOut), "{error:?}");
    assert!(started.elapsed() <= TABLE_TIMEOUT + Duration::from_millis(500), "{:?}", started.elapsed());

    let silent =
        jwks_server::JwksServer::start_plain(jwks_server::Mode::Slow(Duration::from_secs(60), "{}".into())).await;
    let table = table_at(moto::loader_at(&format!("http://{}", silent.address), "test", "test"));
    let started = Instant::now();
    assert_eq!(table.record(&proof_id("k", "j"), now + 300, now).await, Err(TableError::TimedOut));
    assert!(started.elapsed() <= TABLE_TIMEOUT + Duration::from_millis(500), "{:?}", started.elapsed());
}

/// The function's environment: DPoP on, proofs recorded in the table on `aws` (moto, or an endpoint that
/// fails).
fn env<'a>(aws: &'a [(&'static str, String)]) -> Vec<(&'a str, &'a str)> {
    let mut env = support::env();
    env.extend([
        ("AUTH0_DPOP", "allowed"),
        ("AUTH0_DPOP_PUBLIC_URL", "https://api.example.com"),
        ("AUTH0_DPOP_REPLAY_TABLE", TABLE),
        ("AUTH0_METRICS", "off"),
    ]);
    env.extend(aws.iter().map(|(name, value)| (*name, value.as_str())));
    env
}

/// The v2 `GET /protected` event with a DPoP-bound token and this proof.
fn dpop_event(token: &str, proof: &str) -> Value {
    let mut event =
        support::with_authorization(support::event("v2-protected-no-token"), Some(&format!("DPoP {token}")));
    event["headers"]["dpop"] = json!(proof);
    event
}

fn bound_token(key: &ProofKey) -> String {
    let mut claims = support::claims();
    claims["cnf"] = json!({"jkt": key.thumbprint()});
    support::mint(&claims)
}

#[tokio::test]
async fn two_function_processes_sharing_the_table_accept_a_proof_once() {
    let moto = Moto::start();
    moto.create_replay_table(TABLE);
    let aws = moto.env();
    let env = env(&aws);
    let (first, second) = tokio::join!(Emulator::start(&env), Emulator::start(&env));
    let key = ProofKey::generate();
    let token = bound_token(&key);
    let proof = key.proof("GET", URL, &token, support::now(), "proof-shared-1", None);

    let answer = first.invoke(dpop_event(&token, &proof)).await.unwrap();
    assert_eq!(answer["statusCode"], 200, "{answer}");
    let answer = second.invoke(dpop_event(&token, &proof)).await.unwrap();
    assert_eq!(answer["statusCode"], 401, "{answer}");
    let body: Value = serde_json::from_str(answer["body"].as_str().unwrap()).unwrap();
    assert_eq!(body, json!({"code": "invalid_dpop_proof", "description": "DPoP proof was used before (jti)"}));
    let fresh = key.proof("GET", URL, &token, support::now(), "proof-shared-2", None);
    assert_eq!(second.invoke(dpop_event(&token, &fresh)).await.unwrap()["statusCode"], 200);
    let logs = [first.logs(), second.logs()].concat().join("\n");
    assert!(!logs.contains(&proof) && !logs.contains(&token), "a log line carries the proof or the token");
}

/// AWS settings whose endpoint is a closed port on 127.0.0.1.
fn unreachable_aws() -> Vec<(&'static str, String)> {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    vec![
        ("AWS_ENDPOINT_URL", format!("http://{closed}")),
        ("AWS_ACCESS_KEY_ID", "test".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "test".to_owned()),
    ]
}

#[tokio::test]
async fn a_table_that_gives_no_answer_is_a_503_and_the_proof_stays_usable() {
    let aws = unreachable_aws();
    let emulator = Emulator::start(&env(&aws)).await;
    let key = ProofKey::generate();
    let token = bound_token(&key);
    let proof = key.proof("GET", URL, &token, support::now(), "proof-unanswered", None);
    for _ in 0..2 {
        let answer = emulator.invoke(dpop_event(&token, &proof)).await.unwrap();
        assert_eq!(answer["statusCode"], 503, "{answer}");
        let body: Value = serde_json::from_str(answer["body"].as_str().unwrap()).unwrap();
        assert_eq!(body["code"], "replay_check_unavailable");
        assert_eq!(answer["headers"]["retry-after"], "1");
    }
    let warning = emulator.logs().into_iter().find(|line| line.contains("replay table")).expect("a warning");
    assert!(warning.contains("\"WARN\"") && !warning.contains(&proof), "{warning}");
    // Bearer tokens never reach the table.
    let bearer = format!("Bearer {}", support::mint(&support::claims()));
    let event = support::with_authorization(support::event("v2-protected-no-token"), Some(&bearer));
    assert_eq!(emulator.invoke(event).await.unwrap()["statusCode"], 200);
}

#[tokio::test]
async fn the_authorizer_answers_a_table_that_gives_no_answer_with_a_function_error() {
    let aws = unreachable_aws();
    let emulator = Emulator::start_binary(&emulator::authorizer_binary(), &env(&aws)).await;
    let key = ProofKey::generate();
    let token = bound_token(&key);
    let proof = key.proof("GET", URL, &token, support::now(), "proof-authorizer", None);
    let event = json!({
        "type": "REQUEST",
        "methodArn": "arn:aws:execute-api:us-east-1:123456789012:abc123defg/prod/GET/protected",
        "headers": {"Authorization": format!("DPoP {token}"), "DPoP": proof, "Host": "api.example.com"},
    });
    let error = emulator.invoke(event).await.unwrap_err();
    assert!(error.contains("ReplayCheckUnavailable"), "{error}");
}
