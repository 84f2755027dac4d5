//! The key store: the current [`KeySet`], cached across invocations, fetched and refreshed under the policy
//! in [the module's documentation](super).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use jsonwebtoken::Algorithm;

use super::{FetchError, Jwk, JwksClient, KeySet};

/// How long one JWKS fetch may take, connection included. API Gateway's JWT authorizer allows 1.5 s.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(2);
/// The least time between two fetches caused by unknown `kid`s: a flood of random `kid`s costs one fetch.
pub const REFETCH_COOLDOWN: Duration = Duration::from_secs(30);
/// How old the keys may grow before a request refreshes them.
pub const REFRESH_INTERVAL: Duration = Duration::from_secs(600);
/// How long keys stay in use past [`REFRESH_INTERVAL`] while every refresh fails (stale-if-error, RFC 5861).
pub const MAX_STALE: Duration = Duration::from_secs(3600);
/// While no key is known, the least time between two attempts.
pub const RETRY_WITHOUT_KEYS: Duration = Duration::from_secs(1);

/// The refresh policy of a [`KeyStore`]. Every field defaults to the constant of the same name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyPolicy {
    /// [`FETCH_TIMEOUT`].
    pub fetch_timeout: Duration,
    /// [`REFETCH_COOLDOWN`].
    pub refetch_cooldown: Duration,
    /// [`REFRESH_INTERVAL`].
    pub refresh_interval: Duration,
    /// [`RETRY_WITHOUT_KEYS`].
    pub retry_without_keys: Duration,
    /// [`MAX_STALE`].
    pub max_stale: Duration,
}

impl Default for KeyPolicy {
    fn default() -> Self {
        Self {
            fetch_timeout: FETCH_TIMEOUT,
            refetch_cooldown: REFETCH_COOLDOWN,
            refresh_interval: REFRESH_INTERVAL,
            retry_without_keys: RETRY_WITHOUT_KEYS,
            max_stale: MAX_STALE,
        }
    }
}

/// What a key store has done since the cold start, or between two readings.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counters {
    /// JWKS fetches started.
    pub fetches: u64,
    /// Lookups whose key was not in the cache.
    pub misses: u64,
}

impl Counters {
    /// What happened between `earlier` and these counters.
    pub fn since(self, earlier: Self) -> Self {
        Self { fetches: self.fetches - earlier.fetches, misses: self.misses - earlier.misses }
    }
}

/// Why no key could be given for a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyError {
    /// The keys are known and none matches the token's `kid` and `alg`.
    Unknown,
    /// No key can be had now because the JWKS cannot be fetched; try again after this many seconds.
    Unavailable { retry_after: u64 },
}

/// Why a fetch is wanted; the policy allows each at its own pace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reason {
    /// The cold start.
    Prefetch,
    /// The keys are old.
    Refresh,
    /// No known key matches a token.
    Miss,
}

/// Whether a fetch was made, and how it went.
enum Attempt {
    /// The policy allowed none now, or another request's fetch answered this one.
    Skipped,
    /// A fetch was made: the number of usable keys, or why there are none.
    Made(Result<usize, FetchError>),
}

/// What the store knows, behind one short-held lock.
#[derive(Default)]
struct State {
    keys: Arc<KeySet>,
    /// When the last fetch started (success or failure).
    last_attempt: Option<Instant>,
    /// When the keys were last fetched successfully.
    last_success: Option<Instant>,
    /// When the last fetch for an unknown `kid` started: the cooldown runs from here.
    last_miss_fetch: Option<Instant>,
    /// Whether the last fetch failed.
    failing: bool,
    /// Counts finished fetches, so that requests that waited for one do not start another.
    generation: u64,
}

/// Fetches, caches and refreshes the JWKS. Build it once per cold start.
pub struct KeyStore {
    client: Box<dyn JwksClient>,
    policy: KeyPolicy,
    /// The verifier's algorithms, which bind a key without `alg` ([`KeySet::from_json`]).
    algorithms: Vec<Algorithm>,
    state: Mutex<State>,
    /// Held for the duration of a fetch, so that concurrent misses share one.
    fetching: tokio::sync::Mutex<()>,
    /// Fetches started, for the metrics.
    fetches: AtomicU64,
    /// Lookups whose key was not in the cache, for the metrics.
    misses: AtomicU64,
}

impl std::fmt::Debug for KeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyStore").field("policy", &self.policy).field("keys", &self.state().keys.len()).finish()
    }
}

impl KeyStore {
    /// A store with no keys yet, for a verifier that accepts `algorithms`.
    pub fn new(client: Box<dyn JwksClient>, policy: KeyPolicy, algorithms: &[Algorithm]) -> Self {
        Self::starting_with(client, policy, algorithms, State::default())
    }

    fn starting_with(client: Box<dyn JwksClient>, policy: KeyPolicy, algorithms: &[Algorithm], state: State) -> Self {
        Self {
            client,
            policy,
            algorithms: algorithms.to_vec(),
            state: Mutex::new(state),
            fetching: tokio::sync::Mutex::new(()),
            fetches: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// A store that starts with `keys`, a key set supplied with the deployment, as if it had fetched them at
    /// `now`: the cold start needs no fetch, the keys are refreshed after [`KeyPolicy::refresh_interval`], and a
    /// `kid` they lack is fetched at once (no fetch has started the cooldown). The first successful fetch
    /// replaces them, so a key the tenant no longer publishes does not outlive it.
    pub fn with_keys(
        client: Box<dyn JwksClient>,
        policy: KeyPolicy,
        algorithms: &[Algorithm],
        keys: KeySet,
        now: Instant,
    ) -> Self {
        let state = State { keys: Arc::new(keys), last_success: Some(now), ..State::default() };
        Self::starting_with(client, policy, algorithms, state)
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // The state is plain data updated in one assignment; a panic elsewhere cannot leave it half-written.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The cold-start fetch, unless the store started with supplied keys ([`KeyStore::with_keys`]). A failure
    /// is returned for logging; it does not count against [`KeyPolicy::retry_without_keys`], so the first
    /// request that needs a key tries again.
    pub async fn prefetch(&self) -> Result<usize, FetchError> {
        let generation = self.state().generation;
        let result = self.fetch(generation, Instant::now(), Reason::Prefetch).await;
        let result = match result {
            Attempt::Made(result) => result,
            Attempt::Skipped => Ok(self.key_count()),
        };
        if result.is_err() {
            self.state().last_attempt = None;
        }
        result
    }

    /// The key for a token's `kid` and `alg` at `now`, fetching the JWKS when the policy allows.
    pub async fn key_for(&self, kid: &str, algorithm: Algorithm, now: Instant) -> Result<Arc<Jwk>, KeyError> {
        let (keys, generation, current) = {
            let state = self.state();
            (
                state.keys.clone(),
                state.generation,
                !self.refresh_due(&state, now) && self.within_stale_bound(&state, now),
            )
        };
        let reason = match keys.find(kid, algorithm) {
            Some(jwk) if current => return Ok(jwk.clone()),
            Some(_) => Reason::Refresh,
            None => {
                self.misses.fetch_add(1, Ordering::Relaxed);
                Reason::Miss
            }
        };
        let _ = self.fetch(generation, now, reason).await;

        let state = self.state();
        let usable = self.within_stale_bound(&state, now);
        if let Some(jwk) = state.keys.find(kid, algorithm).filter(|_| usable) {
            return Ok(jwk.clone());
        }
        // A server fault must not tell the client its token is bad: while the JWKS cannot be fetched, a key
        // we do not know may be one the tenant just rotated in, and keys past their stale bound may be revoked.
        let wait = match (state.keys.is_empty(), usable && !state.failing) {
            (true, _) => self.policy.retry_without_keys,
            (false, false) => self.policy.refetch_cooldown,
            (false, true) => return Err(KeyError::Unknown),
        };
        Err(KeyError::Unavailable { retry_after: wait.as_secs().max(1) })
    }

    /// Whether the keys are old enough to be refreshed on this request.
    fn refresh_due(&self, state: &State, now: Instant) -> bool {
        let since = |at: Option<Instant>| at.map(|at| now.saturating_duration_since(at));
        since(state.last_success).is_some_and(|age| age >= self.policy.refresh_interval)
            && since(state.last_attempt).is_none_or(|age| age >= self.policy.refetch_cooldown)
    }

    /// Whether the keys may still be used at `now`: fetched at most [`KeyPolicy::refresh_interval`] plus
    /// [`KeyPolicy::max_stale`] ago.
    fn within_stale_bound(&self, state: &State, now: Instant) -> bool {
        state.last_success.is_some_and(|at| {
            now.saturating_duration_since(at) <= self.policy.refresh_interval.saturating_add(self.policy.max_stale)
        })
    }

    /// Whether the policy allows a fetch for `reason` now.
    fn fetch_allowed(&self, state: &State, reason: Reason, now: Instant) -> bool {
        let attempt_age = state.last_attempt.map(|at| now.saturating_duration_since(at));
        match reason {
            // Only a store that has no keys yet fetches for the cold start; supplied keys count as fetched.
            Reason::Prefetch => state.last_success.is_none(),
            Reason::Refresh => self.refresh_due(state, now),
            Reason::Miss if state.keys.is_empty() => {
                attempt_age.is_none_or(|age| age >= self.policy.retry_without_keys)
            }
            Reason::Miss => {
                state.last_miss_fetch.is_none_or(|at| now.saturating_duration_since(at) >= self.policy.refetch_cooldown)
            }
        }
    }

    /// One fetch, shared and rate-limited. The decision is taken under the fetch lock: a request that waited
    /// for a fetch in flight uses its result instead of starting another, and a miss during a cold fetch
    /// waits for it rather than failing.
    async fn fetch(&self, seen_generation: u64, now: Instant, reason: Reason) -> Attempt {
        let _fetching = self.fetching.lock().await;
        {
            let mut state = self.state();
            if state.generation != seen_generation || !self.fetch_allowed(&state, reason, now) {
                return Attempt::Skipped;
            }
            state.last_attempt = Some(now);
            if reason == Reason::Miss {
                state.last_miss_fetch = Some(now);
            }
        }
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let result = match tokio::time::timeout(self.policy.fetch_timeout, self.client.fetch()).await {
            Err(_) => Err(FetchError::TimedOut),
            Ok(fetched) => {
                fetched.and_then(|bytes| KeySet::from_json(&bytes, &self.algorithms).map_err(FetchError::Unusable))
            }
        };
        let mut state = self.state();
        state.generation += 1;
        Attempt::Made(match result {
            Ok(keys) => {
                let count = keys.len();
                state.keys = Arc::new(keys);
                state.last_success = Some(now);
                state.failing = false;
                tracing::info!(keys = count, "JWKS fetched");
                Ok(count)
            }
            Err(error) => {
                state.failing = true;
                tracing::warn!(error = %error, kept_keys = state.keys.len(), "JWKS fetch failed");
                Err(error)
            }
        })
    }

    /// Fetches started and cache misses since the cold start.
    pub fn counters(&self) -> Counters {
        Counters { fetches: self.fetches.load(Ordering::Relaxed), misses: self.misses.load(Ordering::Relaxed) }
    }

    /// How many usable keys the store holds now.
    pub fn key_count(&self) -> usize {
        self.state().keys.len()
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::pin::Pin;

    use hyper::body::Bytes;
    use serde_json::{Value, json};

    use super::*;

    fn rsa_jwk() -> Value {
        // A 2048-bit modulus shape is not needed to parse; the key is only checked when it verifies.
        json!({"kty": "RSA", "kid": "r1", "use": "sig", "alg": "RS256", "n": "sXch", "e": "AQAB"})
    }

    /// What the function accepts by default with a JWKS and a secret.
    const ACCEPTED: &[Algorithm] = &[Algorithm::RS256, Algorithm::HS256];

    fn set(keys: Value) -> Result<KeySet, super::super::KeySetError> {
        KeySet::from_json(json!({ "keys": keys }).to_string().as_bytes(), ACCEPTED)
    }

    /// A client that serves whatever it is given and counts its fetches.
    struct Scripted {
        body: std::sync::Mutex<Result<Bytes, FetchError>>,
        fetches: std::sync::atomic::AtomicUsize,
    }

    impl Scripted {
        fn serving(keys: Value) -> Arc<Self> {
            Arc::new(Self {
                body: std::sync::Mutex::new(Ok(Bytes::from(json!({ "keys": keys }).to_string()))),
                fetches: Default::default(),
            })
        }

        fn fail(&self) {
            *self.body.lock().unwrap() = Err(FetchError::Status(500));
        }

        fn serve(&self, keys: Value) {
            *self.body.lock().unwrap() = Ok(Bytes::from(json!({ "keys": keys }).to_string()));
        }

        fn fetches(&self) -> usize {
            self.fetches.load(std::sync::atomic::Ordering::SeqCst)
        }
    }

    impl JwksClient for Arc<Scripted> {
        fn fetch(&self) -> Pin<Box<dyn Future<Output = Result<Bytes, FetchError>> + Send + '_>> {
            self.fetches.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let body = self.body.lock().unwrap().clone();
            Box::pin(async move { body })
        }
    }

    fn store(client: &Arc<Scripted>) -> KeyStore {
        KeyStore::new(Box::new(client.clone()), KeyPolicy::default(), ACCEPTED)
    }

    fn run<T>(future: impl Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(future)
    }

    #[test]
    fn unknown_kids_refetch_once_per_cooldown() {
        let client = Scripted::serving(json!([rsa_jwk()]));
        let store = store(&client);
        run(async {
            assert_eq!(store.prefetch().await, Ok(1));
            let start = Instant::now();
            for offset in [0, 1, 29] {
                let at = start + Duration::from_secs(offset);
                assert_eq!(store.key_for("nope", Algorithm::RS256, at).await.unwrap_err(), KeyError::Unknown);
            }
            assert_eq!(client.fetches(), 2, "the first miss refetches, the next ones inside the cooldown do not");
            let at = start + REFETCH_COOLDOWN;
            assert_eq!(store.key_for("nope", Algorithm::RS256, at).await.unwrap_err(), KeyError::Unknown);
            assert_eq!(client.fetches(), 3, "one refetch once the cooldown has passed");
            assert_eq!(store.counters(), Counters { fetches: 3, misses: 4 }, "three fetches, four misses");
        });
    }

    #[test]
    fn a_key_added_right_after_the_cold_start_is_picked_up_at_its_first_use() {
        let client = Scripted::serving(json!([rsa_jwk()]));
        let store = store(&client);
        run(async {
            store.prefetch().await.unwrap();
            let mut added = rsa_jwk();
            added["kid"] = json!("r2");
            client.serve(json!([rsa_jwk(), added]));
            assert!(store.key_for("r2", Algorithm::RS256, Instant::now()).await.is_ok());
            assert_eq!(client.fetches(), 2, "the cold-start fetch does not start the unknown-kid cooldown");
        });
    }

    #[test]
    fn a_refresh_does_not_start_the_unknown_kid_cooldown() {
        let client = Scripted::serving(json!([rsa_jwk()]));
        let store = store(&client);
        run(async {
            store.prefetch().await.unwrap();
            let start = Instant::now();
            assert_eq!(store.key_for("nope", Algorithm::RS256, start).await.unwrap_err(), KeyError::Unknown);
            assert!(store.key_for("r1", Algorithm::RS256, start + REFRESH_INTERVAL).await.is_ok());
            assert_eq!(client.fetches(), 3, "cold start, miss, refresh");
            let at = start + REFRESH_INTERVAL + Duration::from_secs(1);
            assert_eq!(store.key_for("nope", Algorithm::RS256, at).await.unwrap_err(), KeyError::Unknown);
            assert_eq!(client.fetches(), 4, "the last miss fetch was long ago; the refresh does not count");
        });
    }

    #[test]
    fn keys_are_not_used_past_the_stale_bound_while_refreshes_fail() {
        let client = Scripted::serving(json!([rsa_jwk()]));
        let store = store(&client);
        run(async {
            store.prefetch().await.unwrap();
            let start = Instant::now();
            client.fail();
            let last_stale = start + REFRESH_INTERVAL + MAX_STALE - Duration::from_secs(1);
            assert!(store.key_for("r1", Algorithm::RS256, last_stale).await.is_ok(), "stale-if-error");
            let bound = start + REFRESH_INTERVAL + MAX_STALE + Duration::from_secs(1);
            let error = store.key_for("r1", Algorithm::RS256, bound).await.unwrap_err();
            assert_eq!(error, KeyError::Unavailable { retry_after: REFETCH_COOLDOWN.as_secs() });
            let fetches = client.fetches();
            // Inside the cooldown no fetch is made, and the old key is still not used.
            let error = store.key_for("r1", Algorithm::RS256, bound + Duration::from_secs(1)).await.unwrap_err();
            assert!(matches!(error, KeyError::Unavailable { .. }));
            assert_eq!(client.fetches(), fetches);
            // Once the JWKS answers again, the key is back.
            client.serve(json!([rsa_jwk()]));
            assert!(store.key_for("r1", Algorithm::RS256, bound + REFETCH_COOLDOWN).await.is_ok());
        });
    }

    #[test]
    fn an_idle_instance_does_not_use_keys_past_the_stale_bound_when_the_refresh_fails() {
        let client = Scripted::serving(json!([rsa_jwk()]));
        let policy = KeyPolicy { max_stale: Duration::ZERO, ..KeyPolicy::default() };
        let store = KeyStore::new(Box::new(client.clone()), policy, ACCEPTED);
        run(async {
            store.prefetch().await.unwrap();
            client.fail();
            let error = store
                .key_for("r1", Algorithm::RS256, Instant::now() + REFRESH_INTERVAL + Duration::from_secs(1))
                .await
                .unwrap_err();
            assert!(matches!(error, KeyError::Unavailable { .. }), "AUTH0_JWKS_MAX_STALE_SECONDS=0: no stale keys");
        });
    }

    #[test]
    fn known_keys_are_served_from_the_cache_until_the_refresh_interval() {
        let client = Scripted::serving(json!([rsa_jwk()]));
        let store = store(&client);
        run(async {
            store.prefetch().await.unwrap();
            let start = Instant::now();
            assert!(store.key_for("r1", Algorithm::RS256, start + REFRESH_INTERVAL / 2).await.is_ok());
            assert_eq!(client.fetches(), 1);
            assert!(store.key_for("r1", Algorithm::RS256, start + REFRESH_INTERVAL).await.is_ok());
            assert_eq!(client.fetches(), 2, "the keys are refreshed once they are old");
        });
    }

    #[test]
    fn a_failed_refresh_keeps_the_known_keys() {
        let client = Scripted::serving(json!([rsa_jwk()]));
        let store = store(&client);
        run(async {
            store.prefetch().await.unwrap();
            let start = Instant::now();
            client.fail();
            assert!(store.key_for("r1", Algorithm::RS256, start + REFRESH_INTERVAL).await.is_ok());
            assert_eq!(client.fetches(), 2);
            assert_eq!(store.key_count(), 1);
            // While the source fails, an unknown kid may be a key rotated in: that is our fault, not the token's.
            let at = start + REFRESH_INTERVAL + REFETCH_COOLDOWN;
            let error = store.key_for("new", Algorithm::RS256, at).await.unwrap_err();
            assert_eq!(error, KeyError::Unavailable { retry_after: REFETCH_COOLDOWN.as_secs() });
        });
    }

    #[test]
    fn without_keys_a_fetch_is_retried_on_first_need_then_rate_limited() {
        let client = Scripted::serving(json!([]));
        let store = store(&client);
        run(async {
            assert!(store.prefetch().await.is_err());
            let start = Instant::now();
            let first = store.key_for("r1", Algorithm::RS256, start).await.unwrap_err();
            assert_eq!(first, KeyError::Unavailable { retry_after: 1 });
            assert_eq!(client.fetches(), 2, "the failed cold-start fetch does not delay the first need");
            assert!(store.key_for("r1", Algorithm::RS256, start).await.is_err());
            assert_eq!(client.fetches(), 2, "at most one attempt per RETRY_WITHOUT_KEYS");
            assert!(store.key_for("r1", Algorithm::RS256, start + RETRY_WITHOUT_KEYS).await.is_err());
            assert_eq!(client.fetches(), 3);
        });
    }

    #[test]
    fn supplied_keys_skip_the_cold_start_fetch_and_age_from_the_start() {
        let client = Scripted::serving(json!([rsa_jwk()]));
        let start = Instant::now();
        let supplied = set(json!([rsa_jwk()])).unwrap();
        let store = KeyStore::with_keys(Box::new(client.clone()), KeyPolicy::default(), ACCEPTED, supplied, start);
        run(async {
            assert_eq!(store.prefetch().await, Ok(1));
            assert!(store.key_for("r1", Algorithm::RS256, start + REFRESH_INTERVAL / 2).await.is_ok());
            assert_eq!(client.fetches(), 0, "no fetch before the refresh interval");
            assert_eq!(store.key_for("new", Algorithm::RS256, start).await.unwrap_err(), KeyError::Unknown);
            assert_eq!(client.fetches(), 1, "an unknown kid fetches at once: no fetch has started the cooldown");
            assert!(store.key_for("r1", Algorithm::RS256, start + REFRESH_INTERVAL).await.is_ok());
            assert_eq!(client.fetches(), 2, "refreshed once the interval has passed");
        });
    }
}
