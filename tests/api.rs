//! The handler on real API Gateway events (payload v1 from REST APIs, v2 from HTTP APIs).

mod support;

use serde_json::{Value, json};
use support::*;

const PAYLOADS: [&str; 2] = ["v1", "v2"];

fn protected_event(payload: &str, authorization: Option<&str>) -> Value {
    with_authorization(event(&format!("{payload}-protected-no-token")), authorization)
}

#[tokio::test]
async fn root_is_public_on_both_payloads() {
    for payload in PAYLOADS {
        let answer = call(&app(), &event(&format!("{payload}-root-ok"))).await;
        assert_eq!(answer.status, 200, "{payload}");
        assert_eq!(answer.body, "Hello World!");
        assert!(answer.header("content-type").starts_with("text/plain"));
    }
}

#[tokio::test]
async fn protected_with_a_valid_token_greets_by_email_on_both_payloads() {
    for payload in PAYLOADS {
        let token = mint(&claims());
        let answer = call(&app(), &protected_event(payload, Some(&format!("Bearer {token}")))).await;
        assert_eq!(answer.status, 200, "{payload}: {}", answer.body);
        assert_eq!(answer.body, "Hello World jane@example.com!");
        assert!(answer.header("content-type").starts_with("text/plain"));
    }
}

#[tokio::test]
async fn rest_api_stage_is_not_part_of_the_route() {
    let event = protected_event("v1", None);
    assert_eq!(event["requestContext"]["path"], "/prod/protected", "the sample must carry its stage");
    let request = request(&event);
    assert_eq!(request.uri().path(), "/prod/protected");
    let answer = call(&app(), &event).await;
    assert_eq!(answer.code(), "authorization_header_missing");
}

#[tokio::test]
async fn protected_without_a_token_is_401_with_a_bare_challenge() {
    for payload in PAYLOADS {
        let answer = call(&app(), &event(&format!("{payload}-protected-no-token"))).await;
        assert_eq!(answer.status, 401, "{payload}");
        assert_eq!(answer.code(), "authorization_header_missing");
        assert_eq!(answer.json()["description"], "Authorization header is expected");
        assert_eq!(answer.header("www-authenticate"), format!("Bearer realm=\"{AUDIENCE}\""));
        assert_eq!(answer.header("content-type"), "application/json");
        assert_eq!(answer.header("cache-control"), "no-store");
    }
}

#[tokio::test]
async fn protected_with_the_sample_bad_token_is_an_invalid_signature() {
    for payload in PAYLOADS {
        let answer = call(&app(), &event(&format!("{payload}-protected-bad-token"))).await;
        assert_eq!(answer.status, 401, "{payload}");
        assert_eq!(answer.code(), "token_invalid_signature");
        assert_eq!(
            answer.header("www-authenticate"),
            format!(
                "Bearer realm=\"{AUDIENCE}\", error=\"invalid_token\", error_description=\"token signature is invalid\""
            )
        );
    }
}

#[tokio::test]
async fn another_scheme_is_a_401_not_the_seeds_200() {
    for payload in PAYLOADS {
        let answer = call(&app(), &protected_event(payload, Some("Basic dXNlcjpwYXNz"))).await;
        assert_eq!(answer.status, 401, "{payload}");
        assert_eq!(answer.code(), "invalid_header");
        assert_eq!(
            answer.header("www-authenticate"),
            format!(
                "Bearer realm=\"{AUDIENCE}\", error=\"invalid_request\", error_description=\"Authorization header must start with Bearer\""
            )
        );
    }
}

#[tokio::test]
async fn lowercase_bearer_scheme_is_accepted() {
    let answer = call_protected(&app(), &format!("bearer {}", mint(&claims()))).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
}

#[tokio::test]
async fn several_authorization_headers_joined_by_http_api_are_invalid_header() {
    let (a, b) = (mint(&claims()), mint(&claims()));
    let answer = call_protected(&app(), &format!("Bearer {a},Bearer {b}")).await;
    assert_eq!(answer.status, 401);
    assert_eq!(answer.code(), "invalid_header");
}

#[tokio::test]
async fn token_without_email_greets_by_the_custom_email_claim() {
    let mut claims = claims();
    claims.as_object_mut().unwrap().remove("email");
    claims[EMAIL_CLAIM] = json!("custom@example.com");
    let answer = call_protected(&app(), &format!("Bearer {}", mint(&claims))).await;
    assert_eq!(answer.body, "Hello World custom@example.com!");
}

#[tokio::test]
async fn token_without_any_email_greets_by_sub_instead_of_a_500() {
    let mut claims = claims();
    claims["email"] = json!(null);
    let answer = call_protected(&app(), &format!("Bearer {}", mint(&claims))).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body, "Hello World auth0|5f7c8ec7c33c6c004bbafe82!");
}

#[tokio::test]
async fn token_without_aud_is_invalid_audience_instead_of_a_500() {
    let mut claims = claims();
    claims.as_object_mut().unwrap().remove("aud");
    let answer = call_protected(&app(), &format!("Bearer {}", mint(&claims))).await;
    assert_eq!(answer.status, 401);
    assert_eq!(answer.code(), "invalid_audience");
}

#[tokio::test]
async fn expired_token_is_token_expired() {
    let mut claims = claims();
    claims["exp"] = json!(now() - 60);
    let answer = call_protected(&app(), &format!("Bearer {}", mint(&claims))).await;
    assert_eq!(answer.status, 401);
    assert_eq!(answer.code(), "token_expired");
    assert!(answer.header("www-authenticate").contains("error=\"invalid_token\""));
}

#[tokio::test]
async fn unknown_path_is_404_json_on_both_payloads() {
    for payload in PAYLOADS {
        let event = with_route(event(&format!("{payload}-root-ok")), "GET", "/nope");
        let answer = call(&app(), &event).await;
        assert_eq!(answer.status, 404, "{payload}");
        assert_eq!(answer.code(), "not_found");
        assert_eq!(answer.header("content-type"), "application/json");
    }
}

#[tokio::test]
async fn other_method_on_a_known_path_is_405_with_allow() {
    for payload in PAYLOADS {
        let event = with_route(event(&format!("{payload}-root-ok")), "POST", "/protected");
        let answer = call(&app(), &event).await;
        assert_eq!(answer.status, 405, "{payload}");
        assert_eq!(answer.code(), "method_not_allowed");
        assert_eq!(answer.header("allow"), "GET, OPTIONS");
    }
}

#[tokio::test]
async fn options_on_a_protected_path_is_204_without_a_token() {
    for payload in PAYLOADS {
        let event = with_route(event(&format!("{payload}-root-ok")), "OPTIONS", "/protected");
        let answer = call(&app(), &event).await;
        assert_eq!(answer.status, 204, "{payload}");
        assert_eq!(answer.header("allow"), "GET, OPTIONS");
        assert!(answer.body.is_empty());
    }
}

#[tokio::test]
async fn protected_path_with_a_trailing_slash_is_not_found() {
    let event = with_route(event("v2-root-ok"), "GET", "/protected/");
    assert_eq!(call(&app(), &event).await.status, 404);
}

// RFC 9068 access tokens, Auth0 Organizations, token age: the core's rules, on both front doors.

const PROFILE: [(&str, &str); 3] =
    [("AUTH0_REQUIRE_AT_JWT", "true"), ("AUTH0_ORGANIZATIONS", "org_abc123"), ("AUTH0_MAX_TOKEN_AGE_SECONDS", "600")];

/// An HS256 token with `typ` and the test claims plus `extra`.
fn profiled(typ: &str, extra: Value) -> String {
    let mut claims = claims();
    for (name, value) in extra.as_object().unwrap() {
        claims[name] = value.clone();
    }
    sign_raw(&json!({"alg": "HS256", "typ": typ}), &claims, jsonwebtoken::Algorithm::HS256, SECRET.as_bytes())
}

#[tokio::test]
async fn an_access_token_of_the_organization_passes_and_every_other_is_refused_on_both_front_doors() {
    let (app, authorizer) = (app_with(&PROFILE), authorizer_with(&PROFILE));
    let cases = [
        (profiled("at+jwt", json!({"org_id": "org_abc123"})), "ok"),
        (profiled("JWT", json!({"org_id": "org_abc123"})), "invalid_token"),
        (profiled("at+jwt", json!({"org_id": "org_other"})), "invalid_organization"),
        (profiled("at+jwt", json!({})), "invalid_organization"),
        (profiled("at+jwt", json!({"org_id": "org_abc123", "iat": now() - 3600})), "token_too_old"),
    ];
    for (token, code) in cases {
        let answer = call_protected(&app, &format!("Bearer {token}")).await;
        let decision = authorize(&authorizer, &token_authorizer_event(&format!("Bearer {token}"))).await;
        assert_eq!(decision.outcome, code, "authorizer");
        if code == "ok" {
            assert_eq!(answer.status, 200, "{}", answer.body);
            continue;
        }
        assert_eq!((answer.status.as_u16(), answer.code()), (401, code.to_owned()), "{}", answer.body);
        assert!(answer.header("www-authenticate").contains(r#"error="invalid_token""#));
        assert_eq!(decision.answer.unwrap_err().error_message, "Unauthorized");
    }
}

// RFC 9728: the protected resource metadata, and the challenges that point to it.

#[tokio::test]
async fn the_resource_metadata_is_served_and_named_in_every_challenge() {
    let app = app_with(&[("AUTH0_RESOURCE", "https://api.example.com")]);
    let metadata = call(&app, &with_route(event("v2-root-ok"), "GET", "/.well-known/oauth-protected-resource")).await;
    assert_eq!(metadata.status, 200, "{}", metadata.body);
    assert_eq!(
        metadata.json(),
        json!({
            "resource": "https://api.example.com",
            "authorization_servers": [ISSUER],
            "scopes_supported": ["read:messages"],
            "bearer_methods_supported": ["header"],
        })
    );
    let url = "https://api.example.com/.well-known/oauth-protected-resource";
    let missing = call(&app, &event("v1-protected-no-token")).await;
    assert_eq!(missing.header("www-authenticate"), format!(r#"Bearer realm="{AUDIENCE}", resource_metadata="{url}""#));
    let forged = call_protected(&app, "Bearer a.b.c").await;
    assert!(forged.header("www-authenticate").contains(&format!(r#"resource_metadata="{url}""#)));
}

#[tokio::test]
async fn without_a_resource_there_is_no_metadata_and_no_pointer_to_it() {
    let app = app();
    let metadata = call(&app, &with_route(event("v2-root-ok"), "GET", "/.well-known/oauth-protected-resource")).await;
    assert_eq!((metadata.status.as_u16(), metadata.code()), (404, "not_found".to_owned()));
    let missing = call(&app, &event("v2-protected-no-token")).await;
    assert!(!missing.header("www-authenticate").contains("resource_metadata"));
}
