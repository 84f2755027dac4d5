//! An HTTP API on AWS Lambda that only lets in callers with a valid Auth0-issued JWT.
//!
//! The Rust successor of Auth0's "Using Auth0 with Flask Python API" quickstart: the same routes (`/`,
//! `/protected`), the same error contract (401 JSON `{code, description}` with `WWW-Authenticate`), without its
//! flaws (200s and 500s for bad headers and tokens, the algorithm taken from the token).
//!
//! # Layout
//! - [`config`]: the environment, read once at cold start, validated and typed.
//! - [`secrets`]: the HS256 secret from AWS Secrets Manager, when its ARN is configured.
//! - [`aws`]: signed calls to AWS services (Secrets Manager, DynamoDB) in their JSON protocol.
//! - [`tls`]: the TLS client settings of the outbound HTTPS calls: compiled-in roots plus private CAs.
//! - [`claims`]: the claims of a verified token; scope and permission requirements.
//! - [`key`]: a verification key, parsed once and bound to one algorithm.
//! - [`key_source`]: both key sources behind one type: the secret's HMAC keys and the JWKS; it alone chooses
//!   a token's key.
//! - [`verify`]: the synchronous core: token + key + policy → claims or error. No I/O.
//! - [`jwks`]: the key source: a key set built from a JWKS document; the store that fetches, caches, refreshes.
//! - [`dpop`]: DPoP (RFC 9449): proofs, server nonces, the replay cache.
//! - [`auth`]: `Authorization` parsing over any header values; the authenticator (verifier, key source,
//!   DPoP).
//! - [`error`]: per-request errors: their codes, descriptions and HTTP statuses.
//! - [`logging`]: JSON log lines, their filter, and what no level lets through.
//! - [`metrics`]: CloudWatch Embedded Metric Format lines, one per request.
//! - [`start`]: the cold start both front doors share.
//!
//! Two front doors sit on that core, each with its own binary:
//! - [`api`]: the API: the endpoints, their access rules, the requires-auth step, the dispatcher, and the
//!   single mapping of a refusal to a response (`auth0-lambda-api`).
//! - [`authorizer`]: an API Gateway Lambda authorizer for routes served by other integrations
//!   (`auth0-lambda-authorizer`).

pub mod api;
pub mod auth;
pub mod authorizer;
pub mod aws;
pub mod claims;
pub mod config;
pub mod dpop;
pub mod error;
pub mod jwks;
pub mod key;
pub mod key_source;
pub mod logging;
pub mod metrics;
pub mod secrets;
pub mod start;
pub mod tls;
pub mod verify;

pub use api::{Access, App, Call, ClaimsExt, ROUTES, Reply, Route};
pub use auth::{Authenticator, bearer_in, bearer_token};
pub use claims::{Claims, GrantSource, Requirement};
pub use config::{Config, ConfigError};
pub use error::AuthError;
pub use jwks::{KeyPolicy, KeySet, KeyStore};
pub use verify::{Policy, Verifier};
