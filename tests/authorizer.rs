//! The authorizer front door: what each kind of API Gateway authorizer event gets back, in process and
//! through the real binary on a Lambda Runtime API.

mod emulator;
mod support;

use auth0_lambda_api::authorizer::Settings;
use emulator::{Emulator, authorizer_binary};
use serde_json::{Value, json};
use support::*;

const KINDS: &[&str] = &["rest-token", "rest-request", "http-v1", "http-v2"];
const BASE: &str = "arn:aws:execute-api:us-east-1:123456789012:abc123defg";

/// A committed authorizer event of `kind` for `GET /api/private-scoped`, with `authorization` instead of its
/// header, on `method_and_path` when given.
fn authorizer_event(kind: &str, authorization: Option<&str>, method_and_path: Option<&str>) -> Value {
    let mut event = event(&format!("authorizer-{kind}-ok"));
    if kind == "rest-token" {
        event["authorizationToken"] = json!(authorization);
    } else {
        event = with_authorization(event, authorization);
        if let Some(headers) = event["headers"].as_object_mut()
            && kind == "http-v2"
        {
            // HTTP APIs send header names in lower case.
            let value = headers.remove("Authorization");
            headers.remove("authorization");
            if let Some(value) = value {
                headers.insert("authorization".into(), value);
            }
        }
    }
    if let Some(route) = method_and_path {
        let field = if kind == "http-v2" { "routeArn" } else { "methodArn" };
        let stage = if kind == "http-v2" { "$default" } else { "prod" };
        event[field] = json!(format!("{BASE}/{stage}/{route}"));
    }
    event
}

fn bearer(claims: &Value) -> String {
    format!("Bearer {}", mint(claims))
}

fn with(mut claims: Value, extra: Value) -> Value {
    for (name, value) in extra.as_object().unwrap() {
        claims[name] = value.clone();
    }
    claims
}

/// Whether API Gateway lets the request through on this answer: IAM's rules (an explicit deny wins; else an
/// allow is needed; `*` spans any characters) applied to the route's ARN, or the simple response's verdict.
fn admits(answer: &Value, arn: &str) -> bool {
    if let Some(verdict) = answer["isAuthorized"].as_bool() {
        return verdict;
    }
    let statements = answer["policyDocument"]["Statement"].as_array().unwrap();
    let covered = |effect: &str| {
        statements.iter().filter(|statement| statement["Effect"] == effect).any(|statement| {
            assert_eq!(statement["Action"], "execute-api:Invoke");
            statement["Resource"].as_array().unwrap().iter().any(|resource| glob(resource.as_str().unwrap(), arn))
        })
    };
    !covered("Deny") && covered("Allow")
}

/// IAM's wildcard match: `*` is any run of characters, `?` one character.
fn glob(pattern: &str, text: &str) -> bool {
    match (pattern.chars().next(), text.chars().next()) {
        (None, None) => true,
        (Some('*'), _) => {
            glob(&pattern[1..], text)
                || (!text.is_empty() && glob(pattern, &text[text.chars().next().unwrap().len_utf8()..]))
        }
        (Some('?'), Some(c)) => glob(&pattern[1..], &text[c.len_utf8()..]),
        (Some(p), Some(c)) if p == c => glob(&pattern[1..], &text[c.len_utf8()..]),
        _ => false,
    }
}

#[tokio::test]
async fn a_token_with_the_grant_is_allowed_with_its_context_in_every_kind() {
    let authorizer = authorizer_with(&[(
        "AUTH0_AUTHORIZER_CONTEXT_CLAIMS",
        "email, email_verified, org=org_id, roles=https://example.com/roles, tier, missing",
    )]);
    let claims = with(
        claims(),
        json!({
            "scope": "openid read:messages",
            "permissions": ["read:messages", "write:messages"],
            "email_verified": true,
            "org_id": "org_123",
            "https://example.com/roles": ["admin", "auditor"],
            "tier": 3,
        }),
    );
    for kind in KINDS {
        let decision = authorize(&authorizer, &authorizer_event(kind, Some(&bearer(&claims)), None)).await;
        assert_eq!(decision.outcome, "ok", "{kind}");
        assert_eq!(decision.route, Some("GET /api/private-scoped"));
        let answer = decision.answer.unwrap();
        let expected_context = json!({
            "sub": "auth0|5f7c8ec7c33c6c004bbafe82",
            "scope": "openid read:messages",
            "permissions": "read:messages write:messages",
            "email": "jane@example.com",
            "email_verified": true,
            "org": "org_123",
            "roles": "[\"admin\",\"auditor\"]",
            "tier": 3,
        });
        assert_eq!(answer["context"], expected_context, "{kind}");
        if *kind == "http-v2" {
            assert_eq!(answer["isAuthorized"], true);
        } else {
            assert_eq!(answer["principalId"], "auth0|5f7c8ec7c33c6c004bbafe82");
            assert_eq!(
                answer["policyDocument"],
                json!({"Version": "2012-10-17", "Statement": [
                    {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": [format!("{BASE}/prod/*")]}
                ]})
            );
        }
    }
}

#[tokio::test]
async fn a_valid_token_without_the_grant_is_denied_that_route_with_the_reason() {
    let authorizer = authorizer_with(&[]);
    for kind in KINDS {
        let decision = authorize(&authorizer, &authorizer_event(kind, Some(&bearer(&claims())), None)).await;
        assert_eq!(decision.outcome, "insufficient_scope", "{kind}");
        let answer = decision.answer.unwrap();
        assert_eq!(answer["context"]["sub"], "auth0|5f7c8ec7c33c6c004bbafe82");
        // A simple answer is about this route: it says why. A policy covers every route and may be reused on
        // routes it allows: no route's reason goes into its context.
        let reason = if *kind == "http-v2" { json!("insufficient_scope") } else { Value::Null };
        assert_eq!(answer["context"]["code"], reason, "{kind}");
        let stage = if *kind == "http-v2" { "$default" } else { "prod" };
        assert!(!admits(&answer, &format!("{BASE}/{stage}/GET/api/private-scoped")), "{kind}: {answer}");
        if *kind != "http-v2" {
            assert!(admits(&answer, &format!("{BASE}/{stage}/GET/api/private")), "other routes stay open");
        }
    }
}

#[tokio::test]
async fn missing_and_invalid_credentials_are_unauthorized_on_rest_apis_and_denied_on_http_apis() {
    let authorizer = authorizer_with(&[]);
    let expired = bearer(&with(claims(), json!({"exp": now() - 3600})));
    let cases: [(Option<&str>, &str); 4] = [
        (None, "authorization_header_missing"),
        (Some("Basic dXNlcjpwYXNz"), "invalid_header"),
        (Some("Bearer a.b.c"), "invalid_token"),
        (Some(&expired), "token_expired"),
    ];
    for kind in KINDS {
        for (authorization, code) in &cases {
            let decision = authorize(&authorizer, &authorizer_event(kind, *authorization, None)).await;
            assert_eq!(decision.outcome, *code, "{kind} {authorization:?}");
            match *kind {
                "rest-token" | "rest-request" => {
                    let error = decision.answer.unwrap_err();
                    assert_eq!(
                        (error.error_type.as_str(), error.error_message.as_str()),
                        ("Unauthorized", "Unauthorized")
                    );
                }
                _ => {
                    let answer = decision.answer.unwrap();
                    assert_eq!(
                        answer["context"],
                        json!({"code": code, "description": answer["context"]["description"]})
                    );
                    assert!(!admits(&answer, &format!("{BASE}/prod/GET/api/private")), "{kind}: {answer}");
                }
            }
        }
    }
}

#[tokio::test]
async fn two_authorization_headers_are_invalid_header_in_every_request_kind() {
    let authorizer = authorizer_with(&[]);
    let token = bearer(&claims());
    let mut rest = authorizer_event("rest-request", Some(&token), None);
    rest["multiValueHeaders"]["Authorization"] = json!([token, token]);
    let mut v1 = authorizer_event("http-v1", Some(&token), None);
    v1["headers"]["authorization"] = json!(token);
    let mut v2 = authorizer_event("http-v2", None, None);
    v2["headers"]["authorization"] = json!(format!("{token},{token}"));
    for event in [rest, v1, v2] {
        assert_eq!(authorize(&authorizer, &event).await.outcome, "invalid_header", "{event}");
    }
}

#[tokio::test]
async fn http_api_payload_2_answers_an_iam_policy_when_configured() {
    let authorizer = authorizer_with(&[("AUTH0_AUTHORIZER_RESPONSE", "iam")]);
    let scoped = with(claims(), json!({"scope": "read:messages"}));
    let allowed = authorize(&authorizer, &authorizer_event("http-v2", Some(&bearer(&scoped)), None)).await;
    let answer = allowed.answer.unwrap();
    assert!(answer.get("isAuthorized").is_none());
    assert!(admits(&answer, &format!("{BASE}/$default/GET/api/private-scoped")), "{answer}");
    let refused = authorize(&authorizer, &authorizer_event("http-v2", Some("Bearer a.b.c"), None)).await;
    let answer = refused.answer.unwrap();
    assert_eq!(answer["principalId"], "anonymous");
    assert!(!admits(&answer, &format!("{BASE}/$default/GET/")), "{answer}");
}

/// API Gateway caches an answer under the identity sources (a `TOKEN` authorizer: the header alone) and
/// applies it to every route the same token calls until the TTL ends: each answer must admit exactly the
/// routes a fresh decision would.
#[tokio::test]
async fn a_cached_policy_admits_the_token_to_exactly_the_routes_it_grants() {
    const ROUTES: &str = "GET /reports = read:reports | admin; DELETE /reports/{id} = delete:reports admin; \
                          ANY /admin/{proxy+} = admin; GET / = read:root";
    let authorizer = authorizer_with(&[("AUTH0_AUTHORIZER_ROUTES", ROUTES)]);
    let routes = [
        "GET/reports",
        "GET/reports/",
        "POST/reports",
        "DELETE/reports/7",
        "DELETE/reports/7/attachments/1",
        "GET/reports/7",
        "PATCH/admin/users/1",
        "GET/admin",
        "GET/",
        "GET/api/private",
    ];
    let grants = ["", "read:reports", "admin", "delete:reports", "delete:reports admin", "read:root admin"];
    for scope in grants {
        let token = bearer(&with(claims(), json!({"scope": scope})));
        for cached_for in routes {
            let cached = authorize(&authorizer, &authorizer_event("rest-token", Some(&token), Some(cached_for))).await;
            let cached = cached.answer.unwrap();
            for route in routes {
                let fresh = authorize(&authorizer, &authorizer_event("rest-token", Some(&token), Some(route))).await;
                let arn = format!("{BASE}/prod/{route}");
                assert_eq!(
                    admits(&cached, &arn),
                    fresh.outcome == "ok",
                    "scope `{scope}`: the answer for {cached_for} applied to {route}"
                );
            }
        }
    }
}

#[tokio::test]
async fn unavailable_keys_are_a_function_error_so_api_gateway_answers_500_not_a_denial() {
    // A JWKS nobody serves: the first RS256 token cannot get its key.
    let authorizer =
        authorizer_with(&[("AUTH0_JWKS_URL", "http://127.0.0.1:9/jwks.json"), ("AUTH0_ALGORITHMS", "RS256")]);
    let header = json!({"alg": "RS256", "typ": "JWT", "kid": "k1"});
    let token = format!("{}.{}.{}", b64(header.to_string()), b64(claims().to_string()), b64([7u8; 256]));
    for kind in KINDS {
        let decision = authorize(&authorizer, &authorizer_event(kind, Some(&format!("Bearer {token}")), None)).await;
        assert_eq!(decision.outcome, "jwks_unavailable", "{kind}");
        assert_eq!(decision.answer.unwrap_err().error_type, "KeysUnavailable");
    }
}

#[tokio::test]
async fn an_event_of_another_kind_is_a_function_error() {
    let authorizer = authorizer_with(&[]);
    let decision = authorize(&authorizer, &event("v2-protected-ok")).await;
    assert_eq!(decision.outcome, "invalid_event");
    assert_eq!(decision.answer.unwrap_err().error_type, "InvalidEvent");
}

#[test]
fn bad_settings_name_their_variable() {
    let cases = [
        ("AUTH0_AUTHORIZER_RESPONSE", "policy"),
        ("AUTH0_AUTHORIZER_CONTEXT_CLAIMS", "https://example.com/roles"),
        ("AUTH0_AUTHORIZER_CONTEXT_CLAIMS", "roles="),
        ("AUTH0_AUTHORIZER_CONTEXT_CLAIMS", "sub"),
        ("AUTH0_AUTHORIZER_CONTEXT_CLAIMS", "email, email"),
        ("AUTH0_AUTHORIZER_ROUTES", "GET /reports"),
    ];
    for (variable, value) in cases {
        let error = Settings::from_lookup(|name| (name == variable).then(|| value.to_owned())).unwrap_err();
        assert_eq!(error.variable, variable, "{value}");
    }
    let defaults = Settings::from_lookup(|_| Some(" ".to_owned())).unwrap();
    assert!(defaults.routes.is_empty() && defaults.context_claims.is_empty());
}

// Through the real binary, as Lambda runs it.

async fn running(extra: &[(&'static str, &'static str)]) -> Emulator {
    let mut vars = env();
    vars.push(("AUTH0_AUTHORIZER_ROUTES", AUTHORIZER_ROUTES));
    vars.extend_from_slice(extra);
    let emulator = Emulator::start_binary(&authorizer_binary(), &vars).await;
    emulator.wait_until_ready().await;
    emulator
}

#[tokio::test]
async fn the_binary_answers_every_kind_and_logs_and_counts_each_outcome_without_the_token() {
    let emulator = running(&[]).await;
    let scoped = bearer(&with(claims(), json!({"scope": "read:messages"})));
    let plain = bearer(&claims());
    for kind in KINDS {
        let allowed = emulator.invoke(authorizer_event(kind, Some(&scoped), None)).await.unwrap();
        assert_eq!(allowed["context"]["scope"], "read:messages", "{kind}");
        let denied = emulator.invoke(authorizer_event(kind, Some(&plain), None)).await.unwrap();
        assert!(!admits(&denied, &format!("{BASE}/prod/GET/api/private-scoped")), "{kind}: {denied}");
        let expired = bearer(&with(claims(), json!({"exp": now() - 3600})));
        // A TOKEN authorizer is never invoked without the header: API Gateway answers 401 itself.
        let missing = if *kind == "rest-token" { None } else { Some(None) };
        let refusals = [(Some("Bearer a.b.c"), "invalid_token"), (Some(expired.as_str()), "token_expired")]
            .into_iter()
            .chain(missing.map(|none| (none, "authorization_header_missing")));
        for (authorization, code) in refusals {
            let refused = emulator.invoke(authorizer_event(kind, authorization, None)).await;
            if kind.starts_with("rest-") {
                let error: Value = serde_json::from_str(&refused.unwrap_err()).unwrap();
                assert_eq!(error["errorMessage"], "Unauthorized", "{kind}: API Gateway's 401 needs this exact message");
            } else {
                assert_eq!(refused.unwrap()["context"]["code"], code, "{kind}");
            }
        }
    }
    let logs = emulator.logs();
    let lines: Vec<Value> = logs.iter().filter_map(|line| serde_json::from_str(line).ok()).collect();
    let decisions: Vec<&Value> = lines.iter().filter(|line| line["message"] == "authorization").collect();
    assert_eq!(decisions.len(), 19, "{logs:?}");
    for kind in KINDS {
        let codes: Vec<&str> = decisions
            .iter()
            .filter(|line| line["kind"] == kind.replace('-', "_").as_str())
            .map(|line| line["code"].as_str().unwrap())
            .collect();
        let mut expected = vec!["ok", "insufficient_scope", "invalid_token", "token_expired"];
        if *kind != "rest-token" {
            expected.push("authorization_header_missing");
        }
        assert_eq!(codes, expected, "{kind}");
    }
    assert!(decisions.iter().all(|line| line["route"] == "GET /api/private-scoped" && line["request_id"].is_string()));
    let metrics: Vec<&Value> = lines.iter().filter(|line| line.get("_aws").is_some()).collect();
    assert_eq!(metrics.len(), 19);
    assert_eq!(metrics.iter().filter(|line| line["Outcome"] == "insufficient_scope").count(), 4);
    assert_eq!(metrics[0]["ColdStart"], 1);
    for token in [&scoped, &plain] {
        let token = token.trim_start_matches("Bearer ");
        assert!(logs.iter().all(|line| !line.contains(token)), "a token reached the logs");
    }
}

#[tokio::test]
async fn the_binary_fails_the_invocations_it_cannot_decide_so_api_gateway_answers_5xx() {
    // A JWKS nobody serves: RS256 tokens cannot get their key.
    let emulator =
        running(&[("AUTH0_JWKS_URL", "http://127.0.0.1:9/jwks.json"), ("AUTH0_ALGORITHMS", "HS256,RS256")]).await;
    let header = json!({"alg": "RS256", "typ": "JWT", "kid": "k1"});
    let token = format!("Bearer {}.{}.{}", b64(header.to_string()), b64(claims().to_string()), b64([7u8; 256]));
    for kind in KINDS {
        let failed = emulator.invoke(authorizer_event(kind, Some(&token), None)).await.unwrap_err();
        let error: Value = serde_json::from_str(&failed).unwrap();
        assert_eq!(error["errorType"], "KeysUnavailable", "{kind}");
    }
    let failed = emulator.invoke(event("v2-protected-ok")).await.unwrap_err();
    assert_eq!(serde_json::from_str::<Value>(&failed).unwrap()["errorType"], "InvalidEvent");
    let codes: Vec<String> = emulator
        .logs()
        .iter()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| line["message"] == "authorization")
        .map(|line| line["code"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        codes,
        ["jwks_unavailable", "jwks_unavailable", "jwks_unavailable", "jwks_unavailable", "invalid_event"]
    );
}

#[tokio::test]
async fn the_binary_refuses_bad_settings_at_cold_start_naming_the_variable() {
    let mut emulator = Emulator::start_binary(
        &authorizer_binary(),
        &[env(), vec![("AUTH0_AUTHORIZER_ROUTES", "GET /a = x; GET /{id} = y")]].concat(),
    )
    .await;
    assert_ne!(emulator.wait_for_exit().await, Some(0));
    let logs = emulator.logs();
    assert!(
        logs.iter().any(|line| line.contains("\"variable\":\"AUTH0_AUTHORIZER_ROUTES\"") && line.contains("overlap")),
        "{logs:?}"
    );
}

/// A token granting `read:messages`, with these organization claims.
fn organization_token(org: Value) -> String {
    let mut claims = claims();
    claims["scope"] = json!("read:messages");
    for (name, value) in org.as_object().into_iter().flatten() {
        claims[name] = value.clone();
    }
    format!("Bearer {}", mint(&claims))
}

#[tokio::test]
async fn a_route_for_some_organizations_refuses_tokens_of_others() {
    let authorizer =
        authorizer_with(&[("AUTH0_AUTHORIZER_ROUTES", "GET /protected [org_abc123, acme] = read:messages")]);
    for member in [json!({"org_id": "org_abc123"}), json!({"org_name": "ACME"})] {
        let event = token_authorizer_event(&organization_token(member));
        assert_eq!(authorize(&authorizer, &event).await.outcome, "ok");
    }
    for other in [json!({"org_id": "org_other"}), json!({}), json!({"org_name": "org_abc123"})] {
        let decision = authorize(&authorizer, &token_authorizer_event(&organization_token(other))).await;
        assert_eq!(decision.outcome, "organization_not_allowed");
        // The token-wide policy denies the route.
        let policy = decision.answer.unwrap();
        assert_eq!(policy["policyDocument"]["Statement"][1]["Effect"], "Deny", "{policy}");
    }
}
