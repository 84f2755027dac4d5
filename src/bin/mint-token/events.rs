//! `--write-events DIR`: API Gateway events, payload v1 (REST API, stage `prod`) and v2 (HTTP API), for every
//! route and outcome, the same as Application Load Balancer and Lambda Function URL events for each kind of
//! answer, and the events API Gateway sends a Lambda authorizer (REST `TOKEN` and `REQUEST`, HTTP
//! API payload 1.0 and 2.0), with tokens minted now. Run it again when the tokens in `events/` have expired.

use std::path::Path;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Map, Value, json};

use crate::Options;

/// What the `Authorization` header of a sample carries.
#[derive(Clone, Copy)]
enum Credentials {
    /// No header.
    Nothing,
    /// A valid token without grants.
    Valid,
    /// A valid token granting `read:messages`.
    Scoped,
    /// A token that expired an hour ago.
    Expired,
    /// A token signed with another secret.
    Forged,
}

/// One sample: its file name (after `v1-`/`v2-`), method, path and credentials. The name ends with the
/// outcome the function gives it.
const SAMPLES: &[(&str, &str, &str, Credentials)] = &[
    ("root-ok", "GET", "/", Credentials::Nothing),
    ("protected-ok", "GET", "/protected", Credentials::Valid),
    ("protected-no-token", "GET", "/protected", Credentials::Nothing),
    ("protected-bad-token", "GET", "/protected", Credentials::Forged),
    ("protected-expired", "GET", "/protected", Credentials::Expired),
    ("api-public-ok", "GET", "/api/public", Credentials::Nothing),
    ("api-private-ok", "GET", "/api/private", Credentials::Valid),
    ("api-private-no-token", "GET", "/api/private", Credentials::Nothing),
    ("api-private-bad-token", "GET", "/api/private", Credentials::Forged),
    ("api-private-expired", "GET", "/api/private", Credentials::Expired),
    ("api-private-scoped-ok", "GET", "/api/private-scoped", Credentials::Scoped),
    ("api-private-scoped-insufficient-scope", "GET", "/api/private-scoped", Credentials::Valid),
    ("api-private-scoped-no-token", "GET", "/api/private-scoped", Credentials::Nothing),
    ("not-found", "GET", "/nope", Credentials::Nothing),
    ("method-not-allowed", "POST", "/protected", Credentials::Nothing),
    ("preflight", "OPTIONS", "/api/private", Credentials::Nothing),
];

/// The samples also written as an Application Load Balancer event (`alb-`) and a Lambda Function URL event
/// (`url-`): every kind of answer, without repeating each route.
const OTHER_FRONTS: &[&str] = &[
    "root-ok",
    "protected-ok",
    "protected-no-token",
    "protected-bad-token",
    "api-private-scoped-insufficient-scope",
    "not-found",
    "method-not-allowed",
    "preflight",
];

/// The authorizer samples: a route the authorizer is configured to require `read:messages` on
/// (`AUTH0_AUTHORIZER_ROUTES="GET /api/private-scoped = read:messages"`), and the outcome each gets. A REST
/// `TOKEN` authorizer is never invoked without the header, so it has no `no-token` sample.
const AUTHORIZER_SAMPLES: &[(&str, Credentials)] = &[
    ("ok", Credentials::Scoped),
    ("insufficient-scope", Credentials::Valid),
    ("bad-token", Credentials::Forged),
    ("expired", Credentials::Expired),
    ("no-token", Credentials::Nothing),
];

/// The authorizer event kinds, as named in the files.
const AUTHORIZER_KINDS: &[&str] = &["rest-token", "rest-request", "http-v1", "http-v2"];

const HOST: &str = "abc123defg.execute-api.us-east-1.amazonaws.com";

/// Writes every sample into `dir`, for both payload versions. `mint` signs a token for the given options
/// and "now" (seconds since the Unix epoch).
pub fn write_all(dir: &Path, now: u64, mint: impl Fn(Options, u64) -> Result<String, String>) -> Result<usize, String> {
    std::fs::create_dir_all(dir).map_err(|error| format!("{}: {error}", dir.display()))?;
    let valid = mint(Options::default(), now)?;
    let scoped = mint(Options { scope: Some("read:messages".into()), ..Options::default() }, now)?;
    let expired = mint(Options { lifetime: 3600, ..Options::default() }, now.saturating_sub(7200))?;
    let forged = forge(&valid)?;
    let authorization = |credentials: &Credentials| {
        let token = match credentials {
            Credentials::Nothing => None,
            Credentials::Valid => Some(&valid),
            Credentials::Scoped => Some(&scoped),
            Credentials::Expired => Some(&expired),
            Credentials::Forged => Some(&forged),
        };
        token.map(|token| format!("Bearer {token}"))
    };
    let write = |name: String, event: Value| {
        let file = dir.join(format!("{name}.json"));
        let text = serde_json::to_string_pretty(&event).map_err(|error| error.to_string())? + "\n";
        std::fs::write(&file, text).map_err(|error| format!("{}: {error}", file.display()))
    };
    let mut written = 0;
    for (name, method, path, credentials) in SAMPLES {
        let authorization = authorization(credentials);
        write(format!("v1-{name}"), rest_event(method, path, authorization.as_deref()))?;
        write(format!("v2-{name}"), http_event(method, path, authorization.as_deref()))?;
        written += 2;
        if OTHER_FRONTS.contains(name) {
            write(format!("alb-{name}"), alb_event(method, path, authorization.as_deref()))?;
            write(format!("url-{name}"), function_url_event(method, path, authorization.as_deref()))?;
            written += 2;
        }
    }
    for (outcome, credentials) in AUTHORIZER_SAMPLES {
        let authorization = authorization(credentials);
        for kind in AUTHORIZER_KINDS {
            if *kind == "rest-token" && authorization.is_none() {
                continue;
            }
            write(format!("authorizer-{kind}-{outcome}"), authorizer_event(kind, authorization.as_deref()))?;
            written += 1;
        }
    }
    Ok(written)
}

/// An Application Load Balancer event (target group without multi-value headers, its default): no stage, the
/// path as sent, header names in lower case.
fn alb_event(method: &str, path: &str, authorization: Option<&str>) -> Value {
    let mut headers = headers(method, authorization, false);
    headers.remove("content-length");
    headers.insert("host".into(), json!("auth0-api-1234567890.us-east-1.elb.amazonaws.com"));
    json!({
        "requestContext": {
            "elb": {
                "targetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/auth0-api/49e9d65c45c6791a"
            }
        },
        "httpMethod": method,
        "path": path,
        "queryStringParameters": {},
        "headers": headers,
        "body": "",
        "isBase64Encoded": false
    })
}

/// A Lambda Function URL event (auth type `NONE`): payload 2.0 with the URL's own domain, no API, no stage.
fn function_url_event(method: &str, path: &str, authorization: Option<&str>) -> Value {
    let url_id = "a1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p6";
    let domain = format!("{url_id}.lambda-url.us-east-1.on.aws");
    let mut event = http_event(method, path, authorization);
    event["headers"]["host"] = json!(domain);
    event["requestContext"]["apiId"] = json!(url_id);
    event["requestContext"]["domainName"] = json!(domain);
    event["requestContext"]["domainPrefix"] = json!(url_id);
    event
}

/// What API Gateway sends a Lambda authorizer of `kind` for `GET /api/private-scoped`.
fn authorizer_event(kind: &str, authorization: Option<&str>) -> Value {
    let (method, path) = ("GET", "/api/private-scoped");
    let arn = |stage: &str| format!("arn:aws:execute-api:us-east-1:123456789012:abc123defg/{stage}/{method}{path}");
    match kind {
        "rest-token" => json!({"type": "TOKEN", "authorizationToken": authorization, "methodArn": arn("prod")}),
        "rest-request" => {
            let mut event = rest_event(method, path, authorization);
            event["type"] = json!("REQUEST");
            event["methodArn"] = json!(arn("prod"));
            for name in ["body", "isBase64Encoded"] {
                event.as_object_mut().map(|event| event.remove(name));
            }
            event
        }
        "http-v1" => {
            // Payload 1.0 of an HTTP API: a REST-shaped request without `multiValueHeaders`.
            let mut event = rest_event(method, path, authorization);
            let object = event.as_object_mut().expect("an object");
            for name in ["multiValueHeaders", "multiValueQueryStringParameters", "body", "isBase64Encoded"] {
                object.remove(name);
            }
            object.insert("version".into(), json!("1.0"));
            object.insert("type".into(), json!("REQUEST"));
            object.insert("methodArn".into(), json!(arn("prod")));
            object.insert("identitySource".into(), json!(authorization.unwrap_or_default()));
            object.insert("authorizationToken".into(), json!(authorization.unwrap_or_default()));
            event
        }
        _ => {
            let mut event = http_event(method, path, authorization);
            let route_key = format!("{method} {path}");
            event["type"] = json!("REQUEST");
            event["routeArn"] = json!(arn("$default"));
            event["identitySource"] = json!(authorization.into_iter().collect::<Vec<_>>());
            event["routeKey"] = json!(route_key);
            event["requestContext"]["routeKey"] = json!(route_key);
            event.as_object_mut().map(|event| event.remove("isBase64Encoded"));
            event
        }
    }
}

/// The same claims, signed with a secret the function does not know.
fn forge(token: &str) -> Result<String, String> {
    let claims: Value =
        jsonwebtoken::dangerous::insecure_decode::<Value>(token).map_err(|error| error.to_string())?.claims;
    let key = EncodingKey::from_secret(b"a-secret-the-function-does-not-know-0123456789")
        .map_err(|error| error.to_string())?;
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &key).map_err(|error| error.to_string())
}

/// The headers of a sample request, with those API Gateway adds (`x-amzn-trace-id`, `content-length` on HTTP
/// APIs, the `x-forwarded-*` set) and, for a CORS preflight, what a browser sends with one.
fn headers(method: &str, authorization: Option<&str>, capitalised: bool) -> Map<String, Value> {
    let mut headers = Map::new();
    let mut add = |name: &str, value: &str| {
        let name = if capitalised { capitalise(name) } else { name.to_owned() };
        headers.insert(name, json!(value));
    };
    add("accept", "*/*");
    add("host", HOST);
    add("user-agent", "curl/8.5.0");
    add("x-forwarded-for", "203.0.113.10");
    add("x-forwarded-port", "443");
    add("x-forwarded-proto", "https");
    add("x-amzn-trace-id", "Root=1-6749f0a0-0123456789abcdef01234567");
    if !capitalised {
        add("content-length", "0");
    }
    if method == "OPTIONS" {
        add("origin", "https://app.example.com");
        add("access-control-request-method", "GET");
        add("access-control-request-headers", "authorization");
    }
    if let Some(value) = authorization {
        add("authorization", value);
    }
    headers
}

fn capitalise(name: &str) -> String {
    name.split('-').map(|part| part[..1].to_uppercase() + &part[1..]).collect::<Vec<_>>().join("-")
}

/// A REST API (payload v1) event, stage `prod`.
fn rest_event(method: &str, path: &str, authorization: Option<&str>) -> Value {
    let headers = headers(method, authorization, true);
    let multi: Map<String, Value> = headers.iter().map(|(name, value)| (name.clone(), json!([value]))).collect();
    json!({
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": multi,
        "queryStringParameters": null,
        "multiValueQueryStringParameters": null,
        "pathParameters": null,
        "stageVariables": null,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123defg",
            "domainName": HOST,
            "domainPrefix": "abc123defg",
            "extendedRequestId": "Cc5EKgCOIAMEJjw=",
            "httpMethod": method,
            "identity": {"sourceIp": "203.0.113.10", "userAgent": "curl/8.5.0"},
            "path": format!("/prod{path}"),
            "protocol": "HTTP/1.1",
            "requestId": "6f1a5b52-6f1e-4a53-9c55-3f1e1c3e8a11",
            "requestTime": "29/Nov/2026:17:00:00 +0000",
            "requestTimeEpoch": 1_795_971_600_000u64,
            "resourceId": "a1b2c3",
            "resourcePath": path,
            "stage": "prod"
        },
        "body": null,
        "isBase64Encoded": false
    })
}

/// An HTTP API (payload v2) event, stage `$default`, through the template's one route, `$default`.
fn http_event(method: &str, path: &str, authorization: Option<&str>) -> Value {
    json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": headers(method, authorization, false),
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123defg",
            "domainName": HOST,
            "domainPrefix": "abc123defg",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.10", "userAgent": "curl/8.5.0"},
            "requestId": "Cc5EKgCOIAMEJjw=",
            "routeKey": "$default",
            "stage": "$default",
            "time": "29/Nov/2026:17:00:00 +0000",
            "timeEpoch": 1_795_971_600_000u64
        },
        "isBase64Encoded": false
    })
}
