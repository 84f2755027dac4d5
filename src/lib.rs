//! An HTTP API on AWS Lambda that only lets in callers with a valid Auth0-issued JWT.
//!
//! The Rust successor of Auth0's "Using Auth0 with Flask Python API" quickstart: the same routes (`/`,
//! `/protected`), the same error contract (401 JSON `{code, description}` with `WWW-Authenticate`), without its
//! flaws (200s and 500s for bad headers and tokens, the algorithm taken from the token).
//!
//! # Layout
//! - [`config`]: the environment, read once at cold start, validated and typed.
//! - [`claims`]: the claims of a verified token.
//! - [`verify`]: the synchronous core: token + keys + policy → claims or error. No I/O.
//! - [`auth`]: bearer-token parsing, the requires-auth step, the `claims()` accessor.
//! - [`error`]: per-request errors and their single mapping to a response.
//! - [`routes`]: the endpoints, their access rules, and the dispatcher.

pub mod auth;
pub mod claims;
pub mod config;
pub mod error;
pub mod routes;
pub mod verify;

pub use auth::{ClaimsExt, bearer_token};
pub use claims::Claims;
pub use config::{Config, ConfigError};
pub use error::AuthError;
pub use routes::App;
pub use verify::{Policy, Verifier};
