//! Per-request failures and their single mapping to an HTTP response (status, JSON body, RFC 6750 header).

use std::fmt::Write as _;

use lambda_http::Body;
use lambda_http::http::header::{CACHE_CONTROL, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use lambda_http::http::{HeaderValue, Response, StatusCode};
use serde::Serialize;

use crate::claims::Requirement;

/// The seed's description of a header with more than `Bearer <token>`, kept word for word in the JSON body.
pub(crate) const BEARER_SHAPE: &str = "Authorization header must be Bearer + \\s + token";

/// Why a request was refused. Every variant becomes a response (401, 403 or 503), never an `Err` from the
/// handler: API Gateway turns a failed invocation into a 5xx, and a bad token is the client's fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthError {
    /// No `Authorization` header, or an empty one: no credentials at all (RFC 6750 §3.1: no error code).
    MissingHeader,
    /// The `Authorization` header is not exactly `Bearer <token>`; the reason says which rule it broke.
    InvalidHeader(&'static str),
    /// The token's `alg` is unknown, `none`, or not on the configured allow-list.
    InvalidAlgorithm,
    /// The signature does not verify with the configured key.
    InvalidSignature,
    /// The token's `exp` has passed, leeway included.
    Expired,
    /// The token's `nbf` is still ahead, leeway included.
    NotYetValid,
    /// `aud` is missing or names none of the configured audiences.
    WrongAudience,
    /// `iss` is missing or is not one of the configured issuers.
    WrongIssuer,
    /// The token cannot be read: bad segments, bad base64 or JSON, a claim of the wrong type, an unsupported
    /// critical header. The reason says which.
    InvalidToken(&'static str),
    /// No key of the issuer matches the token's `kid` and `alg`.
    UnknownKey,
    /// The token is valid but lacks what the route requires (`403`).
    InsufficientScope(Requirement),
    /// The issuer's keys cannot be fetched now (`503`): a fault on our side, not the token's.
    KeysUnavailable {
        /// Seconds until a retry can succeed, sent as `Retry-After`.
        retry_after: u64,
    },
}

impl AuthError {
    /// The stable machine-readable code of the JSON body (the seed's codes, plus the ones it lacked).
    pub fn code(&self) -> &'static str {
        match self {
            Self::MissingHeader => "authorization_header_missing",
            Self::InvalidHeader(_) => "invalid_header",
            Self::InvalidAlgorithm => "invalid_algorithm",
            Self::InvalidSignature => "token_invalid_signature",
            Self::Expired => "token_expired",
            Self::NotYetValid => "token_not_yet_valid",
            Self::WrongAudience => "invalid_audience",
            Self::WrongIssuer => "invalid_issuer",
            Self::InvalidToken(_) => "invalid_token",
            Self::UnknownKey => "unknown_key",
            Self::InsufficientScope(_) => "insufficient_scope",
            Self::KeysUnavailable { .. } => "jwks_unavailable",
        }
    }

    /// A human-readable sentence. Static text only: it can never echo the token or the secret.
    pub fn description(&self) -> &'static str {
        match self {
            Self::MissingHeader => "Authorization header is expected",
            Self::InvalidHeader(reason) | Self::InvalidToken(reason) => reason,
            Self::InvalidAlgorithm => "token is signed with an algorithm this API does not accept",
            Self::InvalidSignature => "token signature is invalid",
            Self::Expired => "token is expired",
            Self::NotYetValid => "token is not valid yet",
            Self::WrongAudience => "the audience does not match",
            Self::WrongIssuer => "the issuer does not match",
            Self::UnknownKey => "no signing key of the issuer matches the token's kid",
            Self::InsufficientScope(_) => "the token does not grant what this endpoint requires",
            Self::KeysUnavailable { .. } => "the issuer's signing keys cannot be fetched right now; retry later",
        }
    }

    /// [`AuthError::description`] as RFC 6750 §3 allows it in `error_description`: visible ASCII without `"`
    /// and `\`. The one description that has a backslash (the seed's `\s`) is reworded; any other such
    /// character is dropped, so a future description cannot produce an invalid challenge.
    fn challenge_description(&self) -> impl Iterator<Item = char> {
        let text = match self.description() {
            BEARER_SHAPE => "Authorization header must be Bearer, one space, and the token",
            text => text,
        };
        text.chars().filter(|c| matches!(c, '\x20'..='\x21' | '\x23'..='\x5b' | '\x5d'..='\x7e'))
    }

    /// The HTTP status: 401 for credentials, 403 for missing grants, 503 when the keys cannot be had.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::InsufficientScope(_) => StatusCode::FORBIDDEN,
            Self::KeysUnavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::UNAUTHORIZED,
        }
    }

    /// The RFC 6750 §3.1 `error` attribute: none when no credentials were sent.
    fn rfc6750_error(&self) -> Option<&'static str> {
        match self {
            Self::MissingHeader | Self::KeysUnavailable { .. } => None,
            Self::InvalidHeader(_) => Some("invalid_request"),
            Self::InsufficientScope(_) => Some("insufficient_scope"),
            _ => Some("invalid_token"),
        }
    }

    /// The response: JSON `{code, description}`, `Cache-Control: no-store`, and a `WWW-Authenticate` challenge
    /// for `realm` (RFC 6750 §3), or `Retry-After` when the fault is ours.
    pub fn to_response(&self, realm: &Realm) -> Response<Body> {
        let mut response = json_error(self.status(), self.code(), self.description());
        if let Self::KeysUnavailable { retry_after } = self {
            response.headers_mut().insert(RETRY_AFTER, HeaderValue::from(*retry_after));
            return response;
        }
        let mut challenge = String::with_capacity(realm.challenge.len() + 128);
        challenge.push_str(&realm.challenge);
        if let Some(error) = self.rfc6750_error() {
            let _ = write!(challenge, ", error=\"{error}\", error_description=\"");
            challenge.extend(self.challenge_description());
            challenge.push('"');
        }
        if let Self::InsufficientScope(requirement) = self {
            challenge.push_str(", scope=\"");
            push_quoted_string_content(&mut challenge, &requirement.grants.join(" "));
            challenge.push('"');
        }
        // Every byte is visible ASCII: the realm is checked at start-up, descriptions and grants are ours.
        if let Ok(value) = HeaderValue::try_from(challenge) {
            response.headers_mut().insert(WWW_AUTHENTICATE, value);
        }
        response
    }
}

impl std::fmt::Display for AuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code(), self.description())
    }
}

impl std::error::Error for AuthError {}

/// The `realm` of every challenge, escaped once at start-up (the seed used its client id; we default to the
/// first audience).
#[derive(Debug, Clone)]
pub struct Realm {
    /// `Bearer realm="<escaped>"`, ready to extend with error attributes.
    challenge: String,
}

impl Realm {
    /// Builds the challenge prefix. `None` when the realm holds a control or non-ASCII character, which no
    /// header can carry.
    pub fn new(realm: &str) -> Option<Self> {
        if !realm.bytes().all(|b| (0x20..0x7f).contains(&b)) {
            return None;
        }
        let mut challenge = String::with_capacity(realm.len() + 16);
        challenge.push_str("Bearer realm=\"");
        push_quoted_string_content(&mut challenge, realm);
        challenge.push('"');
        Some(Self { challenge })
    }
}

/// Appends `text` as the content of an RFC 9110 quoted-string: `"` and `\` are backslash-escaped.
fn push_quoted_string_content(out: &mut String, text: &str) {
    for c in text.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    code: &'a str,
    description: &'a str,
}

/// Any JSON error the API answers: `{"code", "description"}`, `application/json`, never cached.
pub fn json_error(status: StatusCode, code: &str, description: &str) -> Response<Body> {
    // Serialising two strings into a Vec cannot fail.
    let body = serde_json::to_string(&ErrorBody { code, description }).unwrap_or_default();
    let mut response = Response::new(Body::Text(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn realm() -> Realm {
        Realm::new("https://api.example.com").unwrap()
    }

    fn body_json(response: &Response<Body>) -> serde_json::Value {
        serde_json::from_slice(response.body().as_ref()).unwrap()
    }

    fn challenge(response: &Response<Body>) -> &str {
        response.headers()[WWW_AUTHENTICATE].to_str().unwrap()
    }

    #[test]
    fn missing_scope_is_a_403_naming_the_required_scope() {
        let response = AuthError::InsufficientScope(Requirement::all_of(&["read:messages", "write:messages"]))
            .to_response(&realm());
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert_eq!(body_json(&response)["code"], "insufficient_scope");
        assert_eq!(
            challenge(&response),
            r#"Bearer realm="https://api.example.com", error="insufficient_scope", error_description="the token does not grant what this endpoint requires", scope="read:messages write:messages""#
        );
    }

    #[test]
    fn unavailable_keys_are_a_503_with_retry_after_and_no_challenge() {
        let response = AuthError::KeysUnavailable { retry_after: 30 }.to_response(&realm());
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body_json(&response)["code"], "jwks_unavailable");
        assert_eq!(response.headers()[RETRY_AFTER], "30");
        assert!(response.headers().get(WWW_AUTHENTICATE).is_none());
        assert_eq!(response.headers()[CACHE_CONTROL], "no-store");
    }

    #[test]
    fn unknown_key_is_an_invalid_token() {
        let response = AuthError::UnknownKey.to_response(&realm());
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(body_json(&response)["code"], "unknown_key");
        assert!(challenge(&response).contains(r#"error="invalid_token""#));
    }

    /// Every credential error that carries an `error` attribute in its challenge.
    fn token_errors() -> Vec<AuthError> {
        vec![
            AuthError::InvalidAlgorithm,
            AuthError::InvalidSignature,
            AuthError::Expired,
            AuthError::NotYetValid,
            AuthError::WrongAudience,
            AuthError::WrongIssuer,
            AuthError::UnknownKey,
            AuthError::InvalidHeader(BEARER_SHAPE),
            AuthError::InvalidToken("a \"quoted\" \\ reason"),
        ]
    }

    #[test]
    fn every_error_is_a_401_json_body_that_is_never_cached() {
        let mut all = token_errors();
        all.extend([AuthError::MissingHeader, AuthError::InvalidHeader("x"), AuthError::InvalidToken("y")]);
        for error in all {
            let response = error.to_response(&realm());
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{error}");
            assert_eq!(response.headers()[CONTENT_TYPE], "application/json");
            assert_eq!(response.headers()[CACHE_CONTROL], "no-store");
            let body = body_json(&response);
            assert_eq!(body["code"], error.code());
            assert_eq!(body["description"], error.description());
            assert_eq!(body.as_object().unwrap().len(), 2);
        }
    }

    #[test]
    fn codes_match_the_seed_and_its_additions() {
        assert_eq!(AuthError::MissingHeader.code(), "authorization_header_missing");
        assert_eq!(AuthError::InvalidHeader("x").code(), "invalid_header");
        assert_eq!(AuthError::Expired.code(), "token_expired");
        assert_eq!(AuthError::InvalidSignature.code(), "token_invalid_signature");
        assert_eq!(AuthError::WrongAudience.code(), "invalid_audience");
        assert_eq!(AuthError::WrongIssuer.code(), "invalid_issuer");
        assert_eq!(AuthError::NotYetValid.code(), "token_not_yet_valid");
        assert_eq!(AuthError::InvalidAlgorithm.code(), "invalid_algorithm");
        assert_eq!(AuthError::InvalidToken("x").code(), "invalid_token");
    }

    #[test]
    fn missing_credentials_challenge_has_no_error_attribute() {
        let response = AuthError::MissingHeader.to_response(&realm());
        assert_eq!(challenge(&response), r#"Bearer realm="https://api.example.com""#);
    }

    #[test]
    fn header_problem_challenge_is_invalid_request() {
        let response = AuthError::InvalidHeader("Token not found").to_response(&realm());
        assert_eq!(
            challenge(&response),
            r#"Bearer realm="https://api.example.com", error="invalid_request", error_description="Token not found""#
        );
    }

    #[test]
    fn token_problem_challenge_is_invalid_token() {
        let response = AuthError::Expired.to_response(&realm());
        assert_eq!(
            challenge(&response),
            r#"Bearer realm="https://api.example.com", error="invalid_token", error_description="token is expired""#
        );
    }

    #[test]
    fn error_descriptions_in_challenges_have_only_the_characters_rfc_6750_allows() {
        let mut all = token_errors();
        // Every reason the header parser gives.
        for header in [&b"Basic x"[..], b"Bearer", b"Bearer a b", b"Bearer a!b", b"Bearer \xff", &[b'a'; 9000]] {
            let mut headers = lambda_http::http::HeaderMap::new();
            headers.insert("authorization", HeaderValue::from_bytes(header).unwrap());
            all.push(crate::auth::bearer_token(&headers).unwrap_err());
        }
        for error in all {
            let response = error.to_response(&realm());
            let challenge = challenge(&response);
            let description = challenge.split_once("error_description=\"").unwrap().1.strip_suffix('"').unwrap();
            assert!(
                description.bytes().all(|b| matches!(b, 0x20..=0x21 | 0x23..=0x5b | 0x5d..=0x7e)),
                "{error:?}: {description}"
            );
            assert!(!description.is_empty());
        }
        let shape = AuthError::InvalidHeader(BEARER_SHAPE).to_response(&realm());
        assert!(
            challenge(&shape)
                .ends_with(r#"error_description="Authorization header must be Bearer, one space, and the token""#)
        );
        assert_eq!(body_json(&shape)["description"], r"Authorization header must be Bearer + \s + token");
    }

    #[test]
    fn realm_quotes_and_backslashes_are_escaped() {
        let realm = Realm::new(r#"my "api" \ v2"#).unwrap();
        let response = AuthError::MissingHeader.to_response(&realm);
        assert_eq!(challenge(&response), r#"Bearer realm="my \"api\" \\ v2""#);
    }

    #[test]
    fn realm_with_control_or_non_ascii_characters_is_refused() {
        assert!(Realm::new("api\r\nSet-Cookie: x").is_none());
        assert!(Realm::new("api\u{e9}").is_none());
    }

    #[test]
    fn json_error_escapes_its_strings() {
        let response = json_error(StatusCode::NOT_FOUND, "not_found", "no \"route\"");
        assert_eq!(body_json(&response)["description"], "no \"route\"");
    }
}
