//! The API's answer to a refused request: JSON `{code, description}`, never cached, with an RFC 6750
//! `WWW-Authenticate` challenge (or `Retry-After` when the fault is ours). The authorizer's Gateway Responses
//! mirror it as far as API Gateway can.

use std::fmt::Write as _;

use lambda_http::Body;
use lambda_http::http::header::{CACHE_CONTROL, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use lambda_http::http::{HeaderValue, Response, StatusCode};
use serde::Serialize;

use crate::auth::Scheme;
use crate::dpop::Mode;
use crate::error::{AuthError, BEARER_SHAPE};

impl AuthError {
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

    /// The RFC 6750 §3.1 (or RFC 9449 §7.1) `error` attribute: none when no credentials were sent.
    fn rfc6750_error(&self) -> Option<&'static str> {
        match self {
            Self::MissingHeader | Self::KeysUnavailable { .. } | Self::ReplayCheckUnavailable { .. } => None,
            Self::InvalidHeader(_) => Some("invalid_request"),
            Self::InsufficientScope(_) | Self::OrganizationNotAllowed => Some("insufficient_scope"),
            Self::InvalidProof(_) => Some("invalid_dpop_proof"),
            Self::NonceRequired => Some("use_dpop_nonce"),
            _ => Some("invalid_token"),
        }
    }

    /// The response: JSON `{code, description}`, `Cache-Control: no-store`, and a `WWW-Authenticate` value
    /// with a challenge for each scheme `realm` offers (RFC 6750 §3, RFC 9449 §7.1), or `Retry-After` when
    /// the fault is ours. The error attributes go in the challenge of `scheme`, the one the request used (a
    /// proof's error in the DPoP one).
    pub fn to_response(&self, realm: &Realm, scheme: Option<Scheme>) -> Response<Body> {
        let mut response = json_error(self.status(), self.code(), self.description());
        if let Self::KeysUnavailable { retry_after } | Self::ReplayCheckUnavailable { retry_after } = self {
            response.headers_mut().insert(RETRY_AFTER, HeaderValue::from(*retry_after));
            return response;
        }
        let carrier = match self {
            Self::InvalidProof(_) | Self::NonceRequired => Scheme::Dpop,
            _ => scheme.unwrap_or(Scheme::Bearer),
        };
        let carrier = match (carrier, realm.bearer, &realm.dpop_algs) {
            (Scheme::Dpop, true, None) => Scheme::Bearer,
            (Scheme::Bearer, false, Some(_)) => Scheme::Dpop,
            (carrier, _, _) => carrier,
        };
        // One header value, challenges separated by commas (RFC 9110 §11.6.1): an HTTP API answer keeps only
        // the first value of a header.
        let mut challenge = String::with_capacity(2 * realm.params.len() + 160);
        if realm.bearer {
            challenge.push_str("Bearer ");
            challenge.push_str(&realm.params);
            if carrier == Scheme::Bearer {
                self.push_error(&mut challenge);
            }
        }
        if let Some(algs) = &realm.dpop_algs {
            if !challenge.is_empty() {
                challenge.push_str(", ");
            }
            challenge.push_str("DPoP ");
            challenge.push_str(&realm.params);
            challenge.push_str(", algs=\"");
            challenge.push_str(algs);
            challenge.push('"');
            if carrier == Scheme::Dpop {
                self.push_error(&mut challenge);
            }
        }
        // Every byte is visible ASCII: the realm is checked at start-up, descriptions and grants are ours.
        if let Ok(value) = HeaderValue::try_from(challenge) {
            response.headers_mut().insert(WWW_AUTHENTICATE, value);
        }
        response
    }

    /// The error attributes of a challenge: `error`, `error_description`, and `scope` for missing grants.
    fn push_error(&self, challenge: &mut String) {
        if let Some(error) = self.rfc6750_error() {
            let _ = write!(challenge, ", error=\"{error}\", error_description=\"");
            challenge.extend(self.challenge_description());
            challenge.push('"');
        }
        if let Self::InsufficientScope(requirement) = self {
            challenge.push_str(", scope=\"");
            push_quoted_string_content(challenge, &requirement.grants.join(" "));
            challenge.push('"');
        }
    }
}

/// What every challenge says, escaped once at start-up: the `realm` (the seed used its client id; we default
/// to the first audience), the RFC 9728 metadata URL when configured, and which schemes are offered.
#[derive(Debug, Clone)]
pub struct Realm {
    /// `realm="<escaped>"`, and `, resource_metadata="<url>"` when configured.
    params: String,
    /// Whether the Bearer challenge is offered (not when DPoP is required).
    bearer: bool,
    /// The DPoP challenge's `algs` value, when DPoP is on.
    dpop_algs: Option<String>,
}

impl Realm {
    /// The Bearer challenge's parameters. `None` when the realm holds a control or non-ASCII character,
    /// which no header can carry.
    pub fn new(realm: &str) -> Option<Self> {
        if !realm.bytes().all(|b| (0x20..0x7f).contains(&b)) {
            return None;
        }
        let mut params = String::with_capacity(realm.len() + 16);
        params.push_str("realm=\"");
        push_quoted_string_content(&mut params, realm);
        params.push('"');
        Some(Self { params, bearer: true, dpop_algs: None })
    }

    /// The same challenges naming the RFC 9728 metadata at `url` (`resource_metadata`), so that a client can
    /// discover the authorization server from a 401. `None` when the URL is not printable ASCII.
    pub fn with_resource_metadata(mut self, url: &str) -> Option<Self> {
        if !url.bytes().all(|b| (0x21..0x7f).contains(&b)) {
            return None;
        }
        self.params.push_str(", resource_metadata=\"");
        push_quoted_string_content(&mut self.params, url);
        self.params.push('"');
        Some(self)
    }

    /// The challenges of a DPoP `mode`: a DPoP challenge naming the proof algorithms (`algs`, JOSE names)
    /// beside the Bearer one, or instead of it when DPoP is required.
    pub fn with_dpop(mut self, mode: Mode, algorithms: &[String]) -> Self {
        if mode == Mode::Off {
            return self;
        }
        self.bearer = mode == Mode::Allowed;
        self.dpop_algs = Some(algorithms.join(" "));
        self
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
    json_response(status, body, Some("no-store"))
}

/// Every JSON answer of the API: `body` as `application/json`, with `Cache-Control` when given.
pub fn json_response(status: StatusCode, body: String, cache_control: Option<&'static str>) -> Response<Body> {
    let mut response = Response::new(Body::Text(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Some(cache_control) = cache_control {
        headers.insert(CACHE_CONTROL, HeaderValue::from_static(cache_control));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::claims::Requirement;

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
            .to_response(&realm(), None);
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert_eq!(body_json(&response)["code"], "insufficient_scope");
        assert_eq!(
            challenge(&response),
            r#"Bearer realm="https://api.example.com", error="insufficient_scope", error_description="the token does not grant what this endpoint requires", scope="read:messages write:messages""#
        );
    }

    #[test]
    fn unavailable_keys_are_a_503_with_retry_after_and_no_challenge() {
        let response = AuthError::KeysUnavailable { retry_after: 30 }.to_response(&realm(), None);
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body_json(&response)["code"], "jwks_unavailable");
        assert_eq!(response.headers()[RETRY_AFTER], "30");
        assert!(response.headers().get(WWW_AUTHENTICATE).is_none());
        assert_eq!(response.headers()[CACHE_CONTROL], "no-store");
    }

    #[test]
    fn unknown_key_is_an_invalid_token() {
        let response = AuthError::UnknownKey.to_response(&realm(), None);
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
            let response = error.to_response(&realm(), None);
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
    fn missing_credentials_challenge_has_no_error_attribute() {
        let response = AuthError::MissingHeader.to_response(&realm(), None);
        assert_eq!(challenge(&response), r#"Bearer realm="https://api.example.com""#);
    }

    #[test]
    fn header_problem_challenge_is_invalid_request() {
        let response = AuthError::InvalidHeader("Token not found").to_response(&realm(), None);
        assert_eq!(
            challenge(&response),
            r#"Bearer realm="https://api.example.com", error="invalid_request", error_description="Token not found""#
        );
    }

    #[test]
    fn token_problem_challenge_is_invalid_token() {
        let response = AuthError::Expired.to_response(&realm(), None);
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
            let response = error.to_response(&realm(), None);
            let challenge = challenge(&response);
            let description = challenge.split_once("error_description=\"").unwrap().1.strip_suffix('"').unwrap();
            assert!(
                description.bytes().all(|b| matches!(b, 0x20..=0x21 | 0x23..=0x5b | 0x5d..=0x7e)),
                "{error:?}: {description}"
            );
            assert!(!description.is_empty());
        }
        let shape = AuthError::InvalidHeader(BEARER_SHAPE).to_response(&realm(), None);
        assert!(
            challenge(&shape)
                .ends_with(r#"error_description="Authorization header must be Bearer, one space, and the token""#)
        );
        assert_eq!(body_json(&shape)["description"], r"Authorization header must be Bearer + \s + token");
    }

    #[test]
    fn realm_quotes_and_backslashes_are_escaped() {
        let realm = Realm::new(r#"my "api" \ v2"#).unwrap();
        let response = AuthError::MissingHeader.to_response(&realm, None);
        assert_eq!(challenge(&response), r#"Bearer realm="my \"api\" \\ v2""#);
    }

    #[test]
    fn the_challenge_names_the_resource_metadata_when_configured() {
        let url = "https://api.example.com/.well-known/oauth-protected-resource";
        let with_metadata = realm().with_resource_metadata(url).unwrap();
        assert_eq!(
            challenge(&AuthError::MissingHeader.to_response(&with_metadata, None)),
            format!(r#"Bearer realm="https://api.example.com", resource_metadata="{url}""#)
        );
        assert!(
            challenge(&AuthError::Expired.to_response(&with_metadata, None)).contains(r#"resource_metadata="https://"#)
        );
        assert!(realm().with_resource_metadata("https://x/\u{e9}").is_none());
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
