//! The key source for asymmetric tokens, in three parts: [`transport`] gets a JWKS document's bytes (HTTPS,
//! bounded, no redirect); [`keyset`] reads them into a [`KeySet`], purely, with its own error; [`store`]
//! caches the set across invocations and decides when to fetch, under a written-down policy.
//!
//! The policy, in numbers ([`KeyPolicy::default`]):
//! - the JWKS is fetched during the cold start, bounded by [`FETCH_TIMEOUT`]; if that fails the instance
//!   still starts and fetches again on the first request that needs a key;
//! - a token whose `kid` is unknown triggers a refetch at once, unless another unknown `kid` did within the
//!   last [`REFETCH_COOLDOWN`] (the cold-start fetch and refreshes do not count: a key the tenant adds right
//!   after a cold start is picked up at its first use); requests that miss at the same time share one fetch;
//! - after [`REFRESH_INTERVAL`] the next request refetches (bounded by the timeout) so a revoked key stops
//!   working without a cold start;
//! - a failed fetch keeps the keys already known (stale-if-error), but for at most [`MAX_STALE`] past the
//!   refresh that was due: after that they are no longer used and requests that need a key get
//!   `jwks_unavailable` until a fetch succeeds. A failure is never cached as keys; while no key is known, a
//!   new attempt is made at most once per [`RETRY_WITHOUT_KEYS`];
//! - a fetch reads at most [`MAX_JWKS_BYTES`] and follows no redirect.

pub mod keyset;
pub mod store;
pub mod transport;

pub use keyset::{Jwk, KeySet, KeySetError};
pub use store::{
    Counters, FETCH_TIMEOUT, KeyError, KeyPolicy, KeyStore, MAX_STALE, REFETCH_COOLDOWN, REFRESH_INTERVAL,
    RETRY_WITHOUT_KEYS,
};
pub use transport::{FetchError, HttpJwksClient, JwksClient, MAX_JWKS_BYTES};
