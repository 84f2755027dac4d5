//! Property tests (proptest): the verifier against a reference predicate written from RFC 7519 and the
//! documented policy, tampering, grants, and the key store's fetch budget over scripted timelines.

mod jwks_server;

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use auth0_lambda_api::claims::Match;
use auth0_lambda_api::jwks::{FetchError, JwksClient, KeyStore, REFETCH_COOLDOWN, REFRESH_INTERVAL};
use auth0_lambda_api::key::VerifyingKey;
use auth0_lambda_api::{AuthError, Claims, GrantSource, KeyPolicy, Policy, Requirement, Verifier};
use hyper::body::Bytes;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

const SECRET: &[u8] = b"a-property-test-secret-of-more-than-32-bytes";
const AUDIENCE: &str = "https://api.example.com";
const ISSUER: &str = "https://tenant.example.auth0.com/";
const NOW: i64 = 1_800_000_000;

fn sign(claims: &Value) -> String {
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &EncodingKey::from_secret(SECRET).unwrap()).unwrap()
}

/// The verifier with the shared secret's HS256 key, the key the key source chooses for an HS256 token.
struct Hs256(Verifier, VerifyingKey);

impl Hs256 {
    fn verify(&self, token: &str, now: u64) -> Result<Claims, AuthError> {
        self.0.finish(self.0.parse(token)?, &self.1, now)
    }
}

fn verifier(issuers: bool, leeway: u64) -> Hs256 {
    let mut policy = Policy::new(vec![AUDIENCE.into()]);
    if issuers {
        policy.issuers = vec![ISSUER.into()];
    }
    policy.leeway = leeway;
    Hs256(Verifier::new(policy), VerifyingKey::hmac(Algorithm::HS256, SECRET).unwrap())
}

/// A JSON number for a NumericDate: whole seconds near now, any `i64`, fractions, negatives, and values
/// beyond `i64`.
fn numeric_date() -> impl Strategy<Value = Value> {
    prop_oneof![
        (-400i64..400).prop_map(|offset| json!(NOW + offset)),
        any::<i64>().prop_map(|seconds| json!(seconds)),
        (-400.0f64..400.0).prop_map(|offset| json!(NOW as f64 + offset)),
        (-1.0e6f64..1.0e6).prop_map(|seconds| json!(seconds)),
        ((i64::MAX as u64 + 1)..=u64::MAX).prop_map(|seconds| json!(seconds)),
        prop_oneof![Just(1.0e19f64), Just(-1.0e19), Just(9.3e18), Just(4.7e18), Just(-4.7e18)].prop_map(|s| json!(s)),
    ]
}

/// An `aud`: a string or an array, holding the configured audience or not.
fn audience() -> impl Strategy<Value = Option<Value>> {
    let one = prop_oneof![Just(AUDIENCE.to_owned()), Just("https://other.example.com".to_owned()), Just(String::new())];
    prop_oneof![
        Just(None),
        one.clone().prop_map(|aud| Some(json!(aud))),
        prop::collection::vec(one, 0..4).prop_map(|list| Some(json!(list))),
    ]
}

fn issuer() -> impl Strategy<Value = Option<&'static str>> {
    prop_oneof![Just(None), Just(Some(ISSUER)), Just(Some("https://evil.example.com/")), Just(Some(""))]
}

/// Claims: `exp` (maybe absent), `nbf` and `iat` (maybe), `aud`, `iss`.
fn claim_set() -> impl Strategy<Value = Value> {
    (
        prop::option::weighted(0.95, numeric_date()),
        prop::option::of(numeric_date()),
        prop::option::of(numeric_date()),
        audience(),
        issuer(),
    )
        .prop_map(|(exp, nbf, iat, aud, iss)| {
            let mut claims = Map::new();
            claims.insert("sub".into(), json!("auth0|property"));
            let mut put = |name: &str, value: Option<Value>| {
                if let Some(value) = value {
                    claims.insert(name.into(), value);
                }
            };
            put("exp", exp);
            put("nbf", nbf);
            put("iat", iat);
            put("aud", aud);
            put("iss", iss.map(|iss| json!(iss)));
            Value::Object(claims)
        })
}

/// A NumericDate as the reference reads it: whole numbers within `i64` as they are; other numbers rounded
/// (`exp` down, `nbf` up, toward the stricter answer) when finite and within ±2^62; anything else unreadable.
fn reference_date(value: &Value, round: fn(f64) -> f64) -> Option<i64> {
    let number = value.as_number()?;
    if let Some(whole) = number.as_i64() {
        return Some(whole);
    }
    let rounded = round(number.as_f64()?);
    (rounded.is_finite() && rounded.abs() < 4.6e18).then_some(rounded as i64)
}

/// The reference predicate: the code the documented policy gives these claims, or `None` to accept.
fn expected(claims: &Value, issuers: bool, leeway: u64, now: i64) -> Option<&'static str> {
    let leeway = leeway as i64;
    let Some(exp) = claims.get("exp").and_then(|exp| reference_date(exp, f64::floor)) else {
        return Some("invalid_token");
    };
    let nbf = claims.get("nbf").map(|value| reference_date(value, f64::ceil).ok_or(()));
    let iat_ok = claims.get("iat").is_none_or(|value| reference_date(value, f64::floor).is_some());
    if matches!(nbf, Some(Err(()))) || !iat_ok {
        return Some("invalid_token");
    }
    if now >= exp.saturating_add(leeway) {
        return Some("token_expired");
    }
    if let Some(Ok(nbf)) = nbf
        && nbf > now.saturating_add(leeway)
    {
        return Some("token_not_yet_valid");
    }
    if issuers && claims.get("iss").and_then(Value::as_str) != Some(ISSUER) {
        return Some("invalid_issuer");
    }
    let audiences: Vec<&str> = match claims.get("aud") {
        Some(Value::String(one)) => vec![one.as_str()],
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if !audiences.contains(&AUDIENCE) {
        return Some("invalid_audience");
    }
    None
}

/// What a proof is checked against, owned.
struct ProofRequest {
    token: String,
}

impl ProofRequest {
    fn expected(&self) -> auth0_lambda_api::dpop::Expected<'_> {
        auth0_lambda_api::dpop::Expected {
            method: "GET",
            url: "https://api.example.com/protected",
            token: &self.token,
            algorithms: auth0_lambda_api::dpop::DEFAULT_ALGORITHMS,
            max_age: 300,
            leeway: 5,
            now: NOW as u64,
        }
    }
}

/// One valid proof (the same for every case: ECDSA signatures are randomised) and its request.
fn dpop_proof() -> (String, ProofRequest) {
    static PROOF: std::sync::OnceLock<(String, String)> = std::sync::OnceLock::new();
    let (proof, token) = PROOF.get_or_init(|| {
        let key = auth0_lambda_api::dpop::client::ProofKey::generate();
        let token =
            sign(&json!({"sub": "auth0|1", "aud": AUDIENCE, "exp": NOW + 3600, "cnf": {"jkt": key.thumbprint()}}));
        (key.proof("GET", "https://api.example.com/protected", &token, NOW as u64, "jti-1", None), token)
    });
    (proof.clone(), ProofRequest { token: token.clone() })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// Verification succeeds exactly when the reference predicate says so, and fails with its code.
    #[test]
    fn verification_agrees_with_the_reference_predicate(
        claims in claim_set(),
        issuers in any::<bool>(),
        leeway in 0u64..=300,
        skew in -400i64..400,
    ) {
        let now = NOW + skew;
        let outcome = verifier(issuers, leeway).verify(&sign(&claims), now as u64);
        match (outcome, expected(&claims, issuers, leeway, now)) {
            (Ok(_), None) => {}
            (Err(error), Some(code)) => prop_assert_eq!(error.code(), code, "{}", claims),
            (outcome, want) => prop_assert!(false, "{claims}: got {outcome:?}, the reference says {want:?}"),
        }
    }

    /// Any one-character change of a valid token makes it fail.
    #[test]
    fn any_one_character_change_fails(position in any::<prop::sample::Index>(), replacement in prop::char::range('!', '~')) {
        let claims = json!({"sub": "auth0|1", "aud": AUDIENCE, "iss": ISSUER, "exp": NOW + 3600, "iat": NOW});
        let token = sign(&claims);
        let verifier = verifier(true, 5);
        prop_assert!(verifier.verify(&token, NOW as u64).is_ok());
        let at = position.index(token.len());
        prop_assume!(token.as_bytes()[at] != replacement as u8);
        let mut tampered = token.into_bytes();
        tampered[at] = replacement as u8;
        let tampered = String::from_utf8(tampered).unwrap();
        prop_assert!(verifier.verify(&tampered, NOW as u64).is_err(), "{tampered}");
    }

    /// Any one-character change of a valid DPoP proof makes it fail, before it could reach the replay cache.
    #[test]
    fn any_one_character_change_of_a_proof_fails(position in any::<prop::sample::Index>(), replacement in prop::char::range('!', '~')) {
        let (proof, expected) = dpop_proof();
        prop_assert!(auth0_lambda_api::dpop::proof::check(&proof, &expected.expected()).is_ok());
        let at = position.index(proof.len());
        prop_assume!(proof.as_bytes()[at] != replacement as u8);
        let mut tampered = proof.into_bytes();
        tampered[at] = replacement as u8;
        let tampered = String::from_utf8(tampered).unwrap();
        prop_assert!(auth0_lambda_api::dpop::proof::check(&tampered, &expected.expected()).is_err(), "{tampered}");
    }

    /// Granting more (scopes or permissions) never turns a met requirement into an unmet one.
    #[test]
    fn granting_more_never_turns_a_pass_into_a_failure(
        required in prop::sample::subsequence(GRANTS.to_vec(), 1..=GRANTS.len()),
        scope in prop::sample::subsequence(GRANTS.to_vec(), 0..=GRANTS.len()),
        permissions in prop::sample::subsequence(GRANTS.to_vec(), 0..=GRANTS.len()),
        more_scope in prop::sample::subsequence(GRANTS.to_vec(), 0..=GRANTS.len()),
        more_permissions in prop::sample::subsequence(GRANTS.to_vec(), 0..=GRANTS.len()),
        all in any::<bool>(),
        source in prop_oneof![Just(GrantSource::Scope), Just(GrantSource::Permissions), Just(GrantSource::ScopeOrPermissions)],
    ) {
        let grants: &'static [&'static str] = Box::leak(required.into_boxed_slice());
        let requirement =
            Requirement { rule: if all { Match::AllOf } else { Match::AnyOf }, grants, source, organizations: &[] };
        let granted = |scope: &[&str], permissions: &[&str]| {
            let claims = json!({"aud": AUDIENCE, "exp": NOW + 60, "scope": scope.join(" "), "permissions": permissions});
            verifier(false, 5).verify(&sign(&claims), NOW as u64).unwrap()
        };
        let before = granted(&scope, &permissions);
        let mut wider_scope = scope.clone();
        wider_scope.extend(&more_scope);
        let mut wider_permissions = permissions.clone();
        wider_permissions.extend(&more_permissions);
        let after = granted(&wider_scope, &wider_permissions);
        prop_assert!(!requirement.is_met_by(&before) || requirement.is_met_by(&after));
    }

    /// The bearer header is read as its rules say, checked one at a time in the documented order, whatever
    /// the bytes: the parser's shortcut for well-formed headers changes no answer.
    #[test]
    fn a_bearer_header_is_read_as_its_rules_say(header in bearer_header()) {
        let reference = reference_bearer(&header);
        let parsed = auth0_lambda_api::bearer_in(std::iter::once(&header[..]));
        prop_assert_eq!(parsed.map_err(|error| error.description().to_owned()), reference.map_err(str::to_owned));
    }
}

/// Header values near the bearer shape: schemes, spaces, token bytes and the bytes that break the rules.
fn bearer_header() -> impl Strategy<Value = Vec<u8>> {
    let scheme = prop_oneof![Just("Bearer "), Just("bearer "), Just("BEARER"), Just("DPoP "), Just("Basic "), Just("")];
    let part = prop_oneof![
        8 => "[A-Za-z0-9_.-]{1,12}",
        1 => Just(" ".to_owned()),
        1 => Just("\t".to_owned()),
        1 => Just(",".to_owned()),
        1 => "[=+/\"!~]",
        1 => Just("\u{e9}".to_owned()),
    ];
    (scheme, prop::collection::vec(part, 0..6))
        .prop_map(|(scheme, parts)| format!("{scheme}{}", parts.concat()).into_bytes())
}

/// RFC 6750 §2.1 as this API reads it, each rule in turn.
fn reference_bearer(header: &[u8]) -> Result<&str, &'static str> {
    if header.is_empty() {
        return Err("Authorization header is expected");
    }
    if !header.iter().all(|&b| (0x20..0x7f).contains(&b)) {
        return Err("Authorization header must be printable ASCII");
    }
    let header = std::str::from_utf8(header).unwrap();
    let (scheme, token) = header.split_once(' ').unwrap_or((header, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err("Authorization header must start with Bearer");
    }
    if token.is_empty() {
        return Err("Token not found");
    }
    if token.contains(' ') {
        return Err("Authorization header must be Bearer + \\s + token");
    }
    if !token.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)) {
        return Err("token must be base64url segments separated by dots");
    }
    Ok(token)
}

proptest! {
    // Each case runs a timeline of up to 60 requests through a real key store.
    #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

    /// Over any timeline of requests with known and unknown `kid`s, at any pace, with a JWKS that sometimes
    /// fails: a fetch for an unknown `kid` comes at least the cooldown after the previous one, a refresh only
    /// for keys at least the refresh interval old and at least the cooldown after any fetch, a retry without
    /// keys at least a second after the previous attempt; and never more than one fetch per request.
    #[test]
    fn the_key_store_never_fetches_more_than_its_policy_allows(
        steps in prop::collection::vec((0u64..120, any::<bool>(), prop::bool::weighted(0.2)), 1..60),
        prefetch_fails in any::<bool>(),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        runtime.block_on(async {
            let client = Arc::new(Scripted::default());
            client.fail(prefetch_fails);
            let store = KeyStore::new(Box::new(Shared(client.clone())), KeyPolicy::default(), &[Algorithm::RS256]);
            let base = Instant::now();
            let _ = store.prefetch().await;
            // (time, was the kid unknown, were there keys before) of each fetch a request caused.
            let mut fetches: Vec<(u64, bool, bool)> = Vec::new();
            let mut last_success = (!prefetch_fails).then_some(0u64);
            let mut now = 0u64;
            for (gap, unknown, fails) in steps {
                now += gap;
                client.fail(fails);
                let before = client.count();
                let had_keys = store.key_count() > 0;
                let kid = if unknown { "unknown" } else { "primary" };
                let _ = store.key_for(kid, Algorithm::RS256, base + Duration::from_secs(now)).await;
                let made = client.count() - before;
                prop_assert!(made <= 1, "{made} fetches for one request");
                if made == 1 {
                    if had_keys && !unknown {
                        let age = now - last_success.unwrap_or(0);
                        prop_assert!(age >= REFRESH_INTERVAL.as_secs(), "a refresh of keys {age} s old");
                        if let Some(&(previous, _, _)) = fetches.last() {
                            prop_assert!(now - previous >= REFETCH_COOLDOWN.as_secs(), "a refresh {} s after a fetch", now - previous);
                        }
                    }
                    if had_keys && unknown
                        && let Some(&(previous, _, _)) = fetches.iter().rev().find(|(_, unknown, _)| *unknown)
                    {
                        prop_assert!(now - previous >= REFETCH_COOLDOWN.as_secs(), "a miss fetch {} s after the last", now - previous);
                    }
                    if !had_keys && let Some(&(previous, _, _)) = fetches.last() {
                        prop_assert!(now - previous >= 1, "a retry without keys {} s after the last attempt", now - previous);
                    }
                    fetches.push((now, unknown, had_keys));
                    if !fails {
                        last_success = Some(now);
                    }
                }
            }
            Ok(())
        })?;
    }
}

const GRANTS: [&str; 4] = ["read:messages", "write:messages", "read:users", "admin"];

/// A JWKS that serves one RSA key, or fails when told to, and counts its fetches.
#[derive(Default)]
struct Scripted {
    fetches: AtomicUsize,
    failing: Mutex<bool>,
}

impl Scripted {
    fn fail(&self, failing: bool) {
        *self.failing.lock().unwrap() = failing;
    }

    fn count(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

/// The store's handle on a [`Scripted`] JWKS, which the test keeps the other handle on.
struct Shared(Arc<Scripted>);

impl JwksClient for Shared {
    fn fetch(&self) -> Pin<Box<dyn Future<Output = Result<Bytes, FetchError>> + Send + '_>> {
        self.0.fetches.fetch_add(1, Ordering::SeqCst);
        let failing = *self.0.failing.lock().unwrap();
        Box::pin(async move {
            if failing {
                return Err(FetchError::Status(503));
            }
            let key = jwks_server::SigningKey::rsa("rsa-primary", "primary", Algorithm::RS256);
            Ok(Bytes::from(jwks_server::jwks(&[key.jwk()])))
        })
    }
}

#[test]
fn the_reference_predicate_knows_the_boundaries() {
    // The reference is code too: a few hand-checked cases keep it honest.
    let claims = |exp: Value| json!({"aud": AUDIENCE, "iss": ISSUER, "exp": exp});
    assert_eq!(expected(&claims(json!(NOW)), true, 0, NOW), Some("token_expired"));
    assert_eq!(expected(&claims(json!(NOW + 1)), true, 0, NOW), None);
    assert_eq!(expected(&claims(json!(NOW as f64 + 0.5)), true, 0, NOW), Some("token_expired"));
    assert_eq!(expected(&claims(json!(NOW - 4)), true, 5, NOW), None);
    assert_eq!(expected(&json!({"aud": [AUDIENCE], "exp": NOW + 9}), true, 0, NOW), Some("invalid_issuer"));
    assert_eq!(expected(&json!({"aud": ["x"], "exp": NOW + 9}), false, 0, NOW), Some("invalid_audience"));
    assert!(matches!(verifier(true, 0).verify(&sign(&claims(json!(NOW))), NOW as u64), Err(AuthError::Expired)));
}
