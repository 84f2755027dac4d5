//! Per-request failures: why a token or a request was refused, its stable code, its description and the HTTP
//! status it means. Each front door turns them into its own answer (the API: [`crate::api::response`]).

use lambda_http::http::StatusCode;

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
    /// The token is older than the configured maximum age (from `iat`).
    TooOld,
    /// A claim the configuration requires is absent or `null` (`iat`, with a maximum age).
    MissingClaim,
    /// The token's organization (`org_id`, `org_name`) is not one the configuration accepts.
    WrongOrganization,
    /// The DPoP proof is missing, malformed, or does not match the request or the token (RFC 9449 §7.1); the
    /// reason says which rule it broke.
    InvalidProof(&'static str),
    /// The DPoP proof lacks the server's current nonce (RFC 9449 §9); the answer carries one in `DPoP-Nonce`.
    NonceRequired,
    /// The token is valid but not for an organization the route is for (`403`).
    OrganizationNotAllowed,
    /// The token is valid but lacks what the route requires (`403`).
    InsufficientScope(Requirement),
    /// The issuer's keys cannot be fetched now (`503`): a fault on our side, not the token's.
    KeysUnavailable {
        /// Seconds until a retry can succeed, sent as `Retry-After`.
        retry_after: u64,
    },
    /// Whether a DPoP proof was used before cannot be known now (`503`): the replay table did not answer, or
    /// the instance's cache is full of live proofs. Never an acceptance: a replay must not pass for want of an
    /// answer.
    ReplayCheckUnavailable {
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
            Self::TooOld => "token_too_old",
            Self::MissingClaim => "missing_required_claim",
            Self::WrongOrganization => "invalid_organization",
            Self::InvalidProof(_) => "invalid_dpop_proof",
            Self::NonceRequired => "use_dpop_nonce",
            Self::OrganizationNotAllowed => "organization_not_allowed",
            Self::InsufficientScope(_) => "insufficient_scope",
            Self::KeysUnavailable { .. } => "jwks_unavailable",
            Self::ReplayCheckUnavailable { .. } => "replay_check_unavailable",
        }
    }

    /// A human-readable sentence. Static text only: it can never echo the token or the secret.
    pub fn description(&self) -> &'static str {
        match self {
            Self::MissingHeader => "Authorization header is expected",
            Self::InvalidHeader(reason) | Self::InvalidToken(reason) | Self::InvalidProof(reason) => reason,
            Self::InvalidAlgorithm => "token is signed with an algorithm this API does not accept",
            Self::InvalidSignature => "token signature is invalid",
            Self::Expired => "token is expired",
            Self::NotYetValid => "token is not valid yet",
            Self::WrongAudience => "the audience does not match",
            Self::WrongIssuer => "the issuer does not match",
            Self::UnknownKey => "no signing key of the issuer matches the token's kid",
            Self::TooOld => "token was issued too long ago",
            Self::MissingClaim => "token lacks a claim this API requires",
            Self::WrongOrganization => "token is not for an organization this API accepts",
            Self::NonceRequired => "the DPoP proof must carry the nonce this API sends in DPoP-Nonce",
            Self::OrganizationNotAllowed => "the token is not for an organization this endpoint serves",
            Self::InsufficientScope(_) => "the token does not grant what this endpoint requires",
            Self::KeysUnavailable { .. } => "the issuer's signing keys cannot be fetched right now; retry later",
            Self::ReplayCheckUnavailable { .. } => {
                "whether the DPoP proof was used before cannot be checked right now; retry later"
            }
        }
    }

    /// The HTTP status: 401 for credentials, 403 for missing grants, 503 when the keys or the replay check
    /// cannot be had.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::InsufficientScope(_) | Self::OrganizationNotAllowed => StatusCode::FORBIDDEN,
            Self::KeysUnavailable { .. } | Self::ReplayCheckUnavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::UNAUTHORIZED,
        }
    }
}

impl std::fmt::Display for AuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code(), self.description())
    }
}

impl std::error::Error for AuthError {}

#[cfg(test)]
mod tests {
    use super::*;

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
}
