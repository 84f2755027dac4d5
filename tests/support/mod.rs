//! Shared test helpers: a test configuration, tokens minted at test time, and API Gateway events.
#![allow(dead_code)] // Each test binary uses its own subset of these helpers.

use std::time::{SystemTime, UNIX_EPOCH};

use auth0_lambda_api::authorizer::{Authorizer, Decision, Event, Settings};
use auth0_lambda_api::{App, Config};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey};
use lambda_http::http::{HeaderMap, StatusCode};
use lambda_http::{Body, Request};
use serde_json::{Value, json};

pub const SECRET: &str = "test-secret-that-is-long-enough-for-hs256-0123456789";
pub const AUDIENCE: &str = "https://api.example.com";
pub const ISSUER: &str = "https://tenant.example.auth0.com/";
pub const EMAIL_CLAIM: &str = "https://example.com/email";

/// The environment the tests configure the function with.
pub fn env() -> Vec<(&'static str, &'static str)> {
    vec![
        ("AUTH0_AUDIENCE", AUDIENCE),
        ("AUTH0_ISSUER", ISSUER),
        ("AUTH0_CLIENT_SECRET", SECRET),
        ("AUTH0_EMAIL_CLAIM", EMAIL_CLAIM),
    ]
}

/// A configuration lookup over `vars`, as the environment is one: the last pair with a name wins, and a
/// name without a pair is unset.
pub fn lookup<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
    move |name| vars.iter().rev().find(|(key, _)| *key == name).map(|(_, value)| (*value).to_owned())
}

/// The app, configured in process like the function; metric lines are off so that they do not mix with the
/// test harness's output (the end-to-end tests check them on the real binary).
pub fn app() -> App {
    app_with(&[])
}

/// [`app`] with `extra` variables on top.
pub fn app_with(extra: &[(&'static str, &'static str)]) -> App {
    let vars = [env(), vec![("AUTH0_METRICS", "off")], extra.to_vec()].concat();
    App::new(Config::from_lookup(lookup(&vars)).unwrap()).unwrap()
}

/// What the tests' authorizer requires: the API's scoped route, so that both front doors protect the same.
pub const AUTHORIZER_ROUTES: &str = "GET /api/private-scoped = read:messages";

/// The authorizer, configured in process like its binary (metric lines off, as for [`app`]), with `extra`
/// variables on top of [`env`] and [`AUTHORIZER_ROUTES`].
pub fn authorizer_with(extra: &[(&'static str, &'static str)]) -> Authorizer {
    let vars = [env(), vec![("AUTH0_METRICS", "off"), ("AUTH0_AUTHORIZER_ROUTES", AUTHORIZER_ROUTES)], extra.to_vec()]
        .concat();
    let lookup = lookup(&vars);
    Authorizer::new(Config::from_lookup(&lookup).unwrap(), Settings::from_lookup(&lookup).unwrap()).unwrap()
}

/// A REST API `TOKEN` authorizer event for `GET /protected` whose header is `authorization`.
pub fn token_authorizer_event(authorization: &str) -> Value {
    json!({
        "type": "TOKEN",
        "authorizationToken": authorization,
        "methodArn": "arn:aws:execute-api:us-east-1:123456789012:abc123defg/prod/GET/protected"
    })
}

/// The authorizer's decision on an event given as JSON.
pub async fn authorize(authorizer: &Authorizer, event: &Value) -> Decision {
    authorizer.decide(&serde_json::from_value::<Event>(event.clone()).unwrap()).await
}

pub fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// Claims of a valid token, fresh for the next hour.
pub fn claims() -> Value {
    json!({
        "iss": ISSUER,
        "sub": "auth0|5f7c8ec7c33c6c004bbafe82",
        "aud": [AUDIENCE, "https://tenant.example.auth0.com/userinfo"],
        "iat": now(),
        "exp": now() + 3600,
        "email": "jane@example.com",
    })
}

pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A token with exactly this header and these claims, signed with `secret` using `alg`.
pub fn sign_raw(header: &Value, claims: &Value, alg: Algorithm, secret: &[u8]) -> String {
    let input = format!("{}.{}", b64(header.to_string()), b64(claims.to_string()));
    let key = EncodingKey::from_secret(secret).unwrap();
    let signature = jsonwebtoken::crypto::sign(input.as_bytes(), &key, alg).unwrap();
    format!("{input}.{signature}")
}

/// A valid HS256 token for `claims`.
pub fn mint(claims: &Value) -> String {
    sign_raw(&json!({"alg": "HS256", "typ": "JWT"}), claims, Algorithm::HS256, SECRET.as_bytes())
}

/// An API Gateway event from `events/`, as JSON.
pub fn event(name: &str) -> Value {
    let path = format!("{}/events/{name}.json", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// Sets (or with `None`, removes) the `Authorization` header of an event, in both header maps of payload v1.
pub fn with_authorization(mut event: Value, authorization: Option<&str>) -> Value {
    for map in ["headers", "multiValueHeaders"] {
        let Some(headers) = event.get_mut(map).and_then(Value::as_object_mut) else {
            continue;
        };
        headers.retain(|name, _| !name.eq_ignore_ascii_case("authorization"));
        if let Some(value) = authorization {
            let value = if map == "headers" { json!(value) } else { json!([value]) };
            headers.insert("Authorization".into(), value);
        }
    }
    event
}

/// Sets the method and path of an event (payload v1 or v2), keeping v1's stage prefix.
pub fn with_route(mut event: Value, method: &str, path: &str) -> Value {
    if event["version"] == "2.0" {
        event["rawPath"] = json!(path);
        event["requestContext"]["http"]["method"] = json!(method);
        event["requestContext"]["http"]["path"] = json!(path);
    } else {
        event["path"] = json!(path);
        event["httpMethod"] = json!(method);
        event["requestContext"]["httpMethod"] = json!(method);
        event["requestContext"]["path"] = json!(format!("/prod{path}"));
    }
    event
}

pub fn request(event: &Value) -> Request {
    lambda_http::request::from_str(&event.to_string()).unwrap()
}

pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|_| panic!("not JSON: {}", self.body))
    }

    pub fn code(&self) -> String {
        self.json()["code"].as_str().unwrap_or_default().to_owned()
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).map_or("", |value| value.to_str().unwrap())
    }
}

pub async fn call(app: &App, event: &Value) -> Answer {
    let response = app.handle(request(event)).await.unwrap();
    let (parts, body) = response.into_parts();
    let body = match body {
        Body::Empty => String::new(),
        Body::Text(text) => text,
        Body::Binary(bytes) => String::from_utf8(bytes).unwrap(),
        _ => unreachable!("unknown body kind"),
    };
    Answer { status: parts.status, headers: parts.headers, body }
}

/// Calls `/protected` on a v2 event with this `Authorization` header value.
pub async fn call_protected(app: &App, authorization: &str) -> Answer {
    call(app, &with_authorization(event("v2-protected-no-token"), Some(authorization))).await
}
