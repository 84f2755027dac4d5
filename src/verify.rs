//! The synchronous core: a token and the configured keys in, verified [`Claims`] or an [`AuthError`] out.
//! No I/O, no HTTP, no clock: the caller passes the time, so every rule is testable at its boundary.
//!
//! The order of checks is fixed: header (`alg` against the allow-list, `crit`), shape, signature, then the
//! claims (`exp`, `nbf`, `iss`, `aud`). Nothing in the token is trusted before its signature verifies, and
//! nothing in it chooses how it is verified.

use std::borrow::Cow;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Algorithm;
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::Number;

use crate::claims::{Binding, Claims};
use crate::error::AuthError;
use crate::key::VerifyingKey;

/// Default clock-skew allowance, in seconds. jsonwebtoken's 60 s keeps a stolen token alive a minute past
/// its expiry; the seed's 0 s rejects fresh tokens from a server whose clock runs a little ahead.
pub const DEFAULT_LEEWAY_SECONDS: u64 = 5;

/// What a token must satisfy. Built once at start-up from configuration.
#[derive(Debug, Clone)]
pub struct Policy {
    /// The accepted `alg` values. Default: `[HS256]`. Never taken from the token: a token whose `alg` is not
    /// listed is refused before its signature is looked at.
    pub algorithms: Vec<Algorithm>,
    /// `aud` is required and must contain one of these, compared exactly. No default.
    pub audiences: Vec<String>,
    /// When not empty, `iss` is required and must equal one of these exactly. Default: empty (not checked).
    pub issuers: Vec<String>,
    /// Seconds of clock skew allowed on `exp`, `nbf` and the token's age. Default: [`DEFAULT_LEEWAY_SECONDS`].
    pub leeway: u64,
    /// RFC 9068: the header's `typ` must be `at+jwt` (or `application/at+jwt`), so that an ID token of the
    /// same tenant cannot pass as an access token. Default: not required.
    pub access_token_type: bool,
    /// When set, `iat` is required and the token may be at most this many seconds old. Default: none.
    pub max_age: Option<u64>,
    /// Claims every token must carry, with any value but `null`. Default: none.
    pub required_claims: Vec<String>,
    /// Auth0 Organizations: when not empty, the token's `org_id` must be one of the entries that start with
    /// `org_`, or its `org_name` one of the others. Default: empty (not checked).
    pub organizations: Vec<String>,
}

impl Policy {
    /// The default policy for `audiences`: HS256 only, no issuer check, 5 s leeway.
    pub fn new(audiences: Vec<String>) -> Self {
        Self {
            algorithms: vec![Algorithm::HS256],
            audiences,
            issuers: Vec::new(),
            leeway: DEFAULT_LEEWAY_SECONDS,
            access_token_type: false,
            max_age: None,
            required_claims: Vec::new(),
            organizations: Vec::new(),
        }
    }
}

/// A token whose header passed the checks and whose signature is still to be verified.
#[derive(Debug)]
pub struct Unverified<'t> {
    algorithm: Algorithm,
    kid: Option<String>,
    signing_input: &'t str,
    payload: &'t str,
    signature: &'t str,
}

impl Unverified<'_> {
    /// The header's `alg`, already checked against the allow-list.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The header's `kid`, which selects the key from a JWKS.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }
}

/// Verifies tokens against one [`Policy`]. Build it once; it is cheap to share.
///
/// Verification is two steps so that the key can come from an asynchronous source in between:
/// [`Verifier::parse`] checks the header, then [`Verifier::finish`] checks the signature with the key the
/// caller chose for [`Unverified::algorithm`] and [`Unverified::kid`], then the claims.
#[derive(Debug)]
pub struct Verifier {
    policy: Policy,
}

/// The protected header fields we read. Any other member is ignored, except `crit`.
#[derive(Deserialize)]
struct JoseHeader<'a> {
    #[serde(borrow)]
    alg: Cow<'a, str>,
    #[serde(borrow)]
    kid: Option<Cow<'a, str>>,
    #[serde(borrow)]
    typ: Option<Cow<'a, str>>,
    /// RFC 7515 §4.1.11: a recipient must reject a token whose `crit` lists an extension it does not
    /// understand. We understand none, so its mere presence is a refusal.
    crit: Option<IgnoredAny>,
}

impl Verifier {
    /// A verifier for `policy`. It holds no key: [`crate::key_source::KeySource`] chooses one per token.
    pub fn new(policy: Policy) -> Self {
        Self { policy }
    }

    /// Checks the header and the shape of `token` (the compact JWS from the bearer header). Nothing in it is
    /// trusted yet.
    pub fn parse<'t>(&self, token: &'t str) -> Result<Unverified<'t>, AuthError> {
        // The header is read first so that `alg: none` is named as such whether or not the token kept its
        // trailing dot.
        let (header, rest) = token.split_once('.').unwrap_or((token, ""));
        // Auth0's headers are under 100 bytes: decoded on the stack.
        let mut buffer = [0u8; 256];
        let header_json = decode_segment(header, &mut buffer)?;
        let header: JoseHeader<'_> = serde_json::from_slice(&header_json)
            .map_err(|_| AuthError::InvalidToken("token header is not a valid JOSE header"))?;
        let algorithm = header
            .alg
            .parse::<Algorithm>()
            .ok()
            .filter(|alg| self.policy.algorithms.contains(alg))
            .ok_or(AuthError::InvalidAlgorithm)?;
        if header.crit.is_some() {
            return Err(AuthError::InvalidToken("token header lists critical extensions this API does not support"));
        }
        // RFC 9068 §4: `typ` is a media type, compared without regard to case, with or without `application/`.
        let access_token = header.typ.as_deref().is_some_and(|typ| {
            let typ =
                typ.get(..12).filter(|prefix| prefix.eq_ignore_ascii_case("application/")).map_or(typ, |_| &typ[12..]);
            typ.eq_ignore_ascii_case("at+jwt")
        });
        if self.policy.access_token_type && !access_token {
            return Err(AuthError::InvalidToken("token is not an access token: its typ must be at+jwt (RFC 9068)"));
        }
        let Some((payload, signature)) = rest.split_once('.').filter(|(_, signature)| !signature.contains('.')) else {
            return Err(AuthError::InvalidToken("token must be a signed JWT of three segments"));
        };
        let signing_input = &token[..token.len() - signature.len() - 1];
        // The header was decoded into a temporary buffer, so the `kid` is copied out of it.
        let kid = header.kid.map(Cow::into_owned);
        Ok(Unverified { algorithm, kid, signing_input, payload, signature })
    }

    /// Verifies the signature of `token` with `key`, then its claims at `now` (seconds since the Unix epoch).
    /// The caller picks `key` for the token's algorithm; a key made for another algorithm never verifies.
    pub fn finish(&self, token: Unverified<'_>, key: &VerifyingKey, now: u64) -> Result<Claims, AuthError> {
        if key.algorithm() != token.algorithm {
            return Err(AuthError::InvalidAlgorithm);
        }
        // No signature of an accepted algorithm is longer than RSA-8192's 1024 bytes.
        let mut signature = [0u8; 1024];
        let len =
            URL_SAFE_NO_PAD.decode_slice(token.signature, &mut signature).map_err(|_| AuthError::InvalidSignature)?;
        if !key.verifies(token.signing_input.as_bytes(), &signature[..len]) {
            return Err(AuthError::InvalidSignature);
        }
        // The claim set goes to the heap (zeroing a stack buffer that fits one costs what it saves), and on into
        // the claims.
        let payload = decode_segment(token.payload, &mut [])?.into_owned();
        let registered = Registered::read(&payload)?;
        self.check_claims(&registered, now)?;
        let Registered { exp, nbf, iat, binding, .. } = registered;
        let claims = Claims::new(exp, nbf, iat, payload).with_binding(binding);
        self.check_configured_claims(&claims)?;
        Ok(claims)
    }

    fn check_claims(&self, claims: &Registered<'_>, now: u64) -> Result<(), AuthError> {
        let now = i64::try_from(now).unwrap_or(i64::MAX);
        let leeway = i64::try_from(self.policy.leeway).unwrap_or(i64::MAX);
        // RFC 7519 §4.1.4: the current time must be before `exp`.
        if now >= claims.exp.saturating_add(leeway) {
            return Err(AuthError::Expired);
        }
        // RFC 7519 §4.1.5: the current time must be at or after `nbf`.
        if claims.nbf.is_some_and(|nbf| nbf > now.saturating_add(leeway)) {
            return Err(AuthError::NotYetValid);
        }
        if !self.policy.issuers.is_empty() {
            let iss = claims.iss.as_deref().ok_or(AuthError::WrongIssuer)?;
            if !self.policy.issuers.iter().any(|accepted| accepted == iss) {
                return Err(AuthError::WrongIssuer);
            }
        }
        if !claims.aud.iter().any(|aud| self.policy.audiences.iter().any(|accepted| accepted == aud)) {
            return Err(AuthError::WrongAudience);
        }
        if let Some(max_age) = self.policy.max_age {
            let iat = claims.iat.ok_or(AuthError::MissingClaim)?;
            // A token issued in the future would never grow old.
            if iat > now.saturating_add(leeway) {
                return Err(AuthError::NotYetValid);
            }
            let max_age = i64::try_from(max_age).unwrap_or(i64::MAX);
            if now.saturating_sub(iat) > max_age.saturating_add(leeway) {
                return Err(AuthError::TooOld);
            }
        }
        Ok(())
    }

    /// The checks of claims that are not registered ones, when configured: these read the claim map, which
    /// is otherwise only built when a handler asks for it.
    fn check_configured_claims(&self, claims: &Claims) -> Result<(), AuthError> {
        let present = |name: &str| claims.get(name).is_some_and(|value| !value.is_null());
        if !self.policy.required_claims.iter().all(|name| present(name)) {
            return Err(AuthError::MissingClaim);
        }
        if !self.policy.organizations.is_empty() && !claims.in_organization(&self.policy.organizations) {
            return Err(AuthError::WrongOrganization);
        }
        Ok(())
    }
}

/// A token segment, base64url-decoded into `buffer` when it fits, else into a new vector.
fn decode_segment<'b>(segment: &str, buffer: &'b mut [u8]) -> Result<Cow<'b, [u8]>, AuthError> {
    let invalid = |_| AuthError::InvalidToken("token segment is not valid base64url");
    match URL_SAFE_NO_PAD.decode_slice(segment, buffer) {
        Ok(len) => Ok(Cow::Borrowed(&buffer[..len])),
        Err(base64::DecodeSliceError::OutputSliceTooSmall) => {
            URL_SAFE_NO_PAD.decode(segment).map(Cow::Owned).map_err(invalid)
        }
        Err(base64::DecodeSliceError::DecodeError(error)) => Err(invalid(error)),
    }
}

/// The registered claims verification reads (RFC 7519 §4.1, and Auth0's `scope` and `permissions`), borrowed
/// from the claim set and typed. Nothing else of the claim set is copied or kept apart from it.
struct Registered<'a> {
    exp: i64,
    nbf: Option<i64>,
    iat: Option<i64>,
    iss: Option<Cow<'a, str>>,
    /// `aud`, whether the token sent one string or an array.
    aud: Vec<Cow<'a, str>>,
    /// What `cnf` binds the token to.
    binding: Binding,
}

/// The registered claims as they are in the JSON, before their types are checked.
#[derive(Default)]
struct RawRegistered<'a> {
    exp: Option<Claim<'a>>,
    nbf: Option<Claim<'a>>,
    iat: Option<Claim<'a>>,
    iss: Option<Claim<'a>>,
    sub: Option<Claim<'a>>,
    scope: Option<Claim<'a>>,
    permissions: Option<Claim<'a>>,
    aud: Option<Claim<'a>>,
    cnf: Option<Binding>,
}

/// Reads a JSON object (an array is refused), picks out the registered claims, and reads every other value in
/// full, so that a claim set verification accepts is one [`Claims::all`] can read (a number out of range or a
/// broken escape anywhere fails here, not later as an empty claim set). A registered name the object holds
/// twice is refused: no two readers of the token may see different values.
impl<'de: 'a, 'a> Deserialize<'de> for RawRegistered<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Fields<'a>(std::marker::PhantomData<RawRegistered<'a>>);

        impl<'de: 'a, 'a> serde::de::Visitor<'de> for Fields<'a> {
            type Value = RawRegistered<'a>;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<RawRegistered<'a>, A::Error> {
                let mut raw = RawRegistered::default();
                while let Some(name) = map.next_key::<Claim<'a>>()? {
                    let Claim::Text(name) = name else { return Err(serde::de::Error::custom("a key is a string")) };
                    if name == "cnf" {
                        if raw.cnf.is_some() {
                            return Err(serde::de::Error::custom("a registered claim appears twice"));
                        }
                        raw.cnf = Some(map.next_value::<Confirmation>()?.0);
                        continue;
                    }
                    let slot = match name.as_ref() {
                        "exp" => &mut raw.exp,
                        "nbf" => &mut raw.nbf,
                        "iat" => &mut raw.iat,
                        "iss" => &mut raw.iss,
                        "sub" => &mut raw.sub,
                        "scope" => &mut raw.scope,
                        "permissions" => &mut raw.permissions,
                        "aud" => &mut raw.aud,
                        _ => {
                            map.next_value::<Claim<'a>>()?;
                            continue;
                        }
                    };
                    if slot.is_some() {
                        return Err(serde::de::Error::custom("a registered claim appears twice"));
                    }
                    *slot = Some(map.next_value()?);
                }
                Ok(raw)
            }
        }

        deserializer.deserialize_map(Fields(std::marker::PhantomData))
    }
}

impl<'a> Registered<'a> {
    /// Reads the claim set and checks the JSON type of every registered claim we rely on, in a fixed order,
    /// so that the reason given for a token with several bad claims does not depend on their order.
    fn read(payload: &'a [u8]) -> Result<Self, AuthError> {
        let raw: RawRegistered<'a> = serde_json::from_slice(payload)
            .map_err(|_| AuthError::InvalidToken("token claims are not a JSON object"))?;
        let exp = match raw.exp {
            None => return Err(AuthError::InvalidToken("token has no exp claim")),
            Some(claim) => claim.numeric_date(f64::floor).ok_or(AuthError::InvalidToken("exp must be a number"))?,
        };
        let nbf = optional(raw.nbf, |claim| claim.numeric_date(f64::ceil), "nbf must be a number")?;
        let iat = optional(raw.iat, |claim| claim.numeric_date(f64::floor), "iat must be a number")?;
        let iss = optional(raw.iss, Claim::text, "iss must be a string")?;
        optional(raw.sub, Claim::text, "sub must be a string")?;
        optional(raw.scope, Claim::text, "scope must be a space-separated string")?;
        optional(raw.permissions, Claim::texts, "permissions must be an array of strings")?;
        let aud = match raw.aud {
            None => Vec::new(),
            Some(Claim::Text(one)) => vec![one],
            Some(Claim::Texts(many)) => many,
            Some(_) => return Err(AuthError::InvalidToken("aud must be a string or an array of strings")),
        };
        Ok(Self { exp, nbf, iat, iss, aud, binding: raw.cnf.unwrap_or_default() })
    }
}

/// The `cnf` claim (RFC 7800), read for what it binds the token to: a `jkt` member is a DPoP key; any other
/// object or value is another binding; `null` none. Read in full, as every claim is.
struct Confirmation(Binding);

impl<'de> Deserialize<'de> for Confirmation {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Members;

        impl<'de> serde::de::Visitor<'de> for Members {
            type Value = Confirmation;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON value")
            }

            fn visit_unit<E>(self) -> Result<Confirmation, E> {
                Ok(Confirmation(Binding::None))
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Confirmation, A::Error> {
                let mut binding = Binding::Other;
                while let Some(name) = map.next_key::<Claim<'de>>()? {
                    map.next_value::<Claim<'de>>()?;
                    if matches!(&name, Claim::Text(name) if name == "jkt") {
                        binding = Binding::Dpop;
                    }
                }
                Ok(Confirmation(binding))
            }

            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Confirmation, A::Error> {
                while seq.next_element::<Claim<'de>>()?.is_some() {}
                Ok(Confirmation(Binding::Other))
            }

            fn visit_bool<E>(self, _: bool) -> Result<Confirmation, E> {
                Ok(Confirmation(Binding::Other))
            }

            fn visit_i64<E>(self, _: i64) -> Result<Confirmation, E> {
                Ok(Confirmation(Binding::Other))
            }

            fn visit_u64<E>(self, _: u64) -> Result<Confirmation, E> {
                Ok(Confirmation(Binding::Other))
            }

            fn visit_f64<E>(self, _: f64) -> Result<Confirmation, E> {
                Ok(Confirmation(Binding::Other))
            }

            fn visit_str<E>(self, _: &str) -> Result<Confirmation, E> {
                Ok(Confirmation(Binding::Other))
            }
        }

        deserializer.deserialize_any(Members)
    }
}

/// `Ok(None)` when the claim is absent; the reason when it is present but `read` rejects it.
fn optional<'a, T>(
    claim: Option<Claim<'a>>,
    read: impl Fn(Claim<'a>) -> Option<T>,
    reason: &'static str,
) -> Result<Option<T>, AuthError> {
    claim.map(|claim| read(claim).ok_or(AuthError::InvalidToken(reason))).transpose()
}

/// One claim's value as verification sees it: a number, a string, an array of strings, or anything else.
/// Strings without escapes are borrowed from the claim set.
enum Claim<'a> {
    Number(Number),
    Text(Cow<'a, str>),
    Texts(Vec<Cow<'a, str>>),
    Other,
}

impl<'a> Claim<'a> {
    fn text(self) -> Option<Cow<'a, str>> {
        match self {
            Self::Text(text) => Some(text),
            _ => None,
        }
    }

    fn texts(self) -> Option<Vec<Cow<'a, str>>> {
        match self {
            Self::Texts(texts) => Some(texts),
            _ => None,
        }
    }

    /// RFC 7519 NumericDate: a JSON number of seconds, possibly fractional. `round` says which way a fraction
    /// goes, always toward the stricter answer.
    fn numeric_date(self, round: fn(f64) -> f64) -> Option<i64> {
        let Self::Number(number) = self else { return None };
        if let Some(whole) = number.as_i64() {
            return Some(whole);
        }
        let seconds = round(number.as_f64()?);
        // Beyond ±2^62 s any date is nonsense; the bound also keeps the cast exact.
        (seconds.is_finite() && seconds.abs() < 4.6e18).then_some(seconds as i64)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Claim<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ClaimVisitor(std::marker::PhantomData))
    }
}

struct ClaimVisitor<'a>(std::marker::PhantomData<Claim<'a>>);

impl<'de: 'a, 'a> serde::de::Visitor<'de> for ClaimVisitor<'a> {
    type Value = Claim<'a>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<Claim<'a>, E> {
        Ok(Claim::Other)
    }

    fn visit_i64<E>(self, value: i64) -> Result<Claim<'a>, E> {
        Ok(Claim::Number(value.into()))
    }

    fn visit_u64<E>(self, value: u64) -> Result<Claim<'a>, E> {
        Ok(Claim::Number(value.into()))
    }

    fn visit_f64<E>(self, value: f64) -> Result<Claim<'a>, E> {
        Ok(Number::from_f64(value).map_or(Claim::Other, Claim::Number))
    }

    fn visit_borrowed_str<E>(self, value: &'de str) -> Result<Claim<'a>, E> {
        Ok(Claim::Text(Cow::Borrowed(value)))
    }

    fn visit_str<E>(self, value: &str) -> Result<Claim<'a>, E> {
        Ok(Claim::Text(Cow::Owned(value.to_owned())))
    }

    fn visit_unit<E>(self) -> Result<Claim<'a>, E> {
        Ok(Claim::Other)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Claim<'a>, A::Error> {
        let mut texts = Vec::new();
        let mut all_texts = true;
        while let Some(element) = seq.next_element::<Claim<'a>>()? {
            match element {
                Claim::Text(text) if all_texts => texts.push(text),
                _ => all_texts = false,
            }
        }
        Ok(if all_texts { Claim::Texts(texts) } else { Claim::Other })
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Claim<'a>, A::Error> {
        // Read in full, not skipped: see `RawRegistered`.
        while map.next_entry::<Claim<'a>, Claim<'a>>()?.is_some() {}
        Ok(Claim::Other)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{EncodingKey, Header};
    use serde_json::{Value, json};

    const SECRET: &[u8] = b"an-hmac-secret-of-at-least-thirty-two-bytes";
    const NOW: u64 = 1_800_000_000;
    const AUD: &str = "https://api.example.com";
    const ISS: &str = "https://tenant.auth0.com/";

    fn verifier() -> Verifier {
        let mut policy = Policy::new(vec![AUD.into(), "https://other.example.com".into()]);
        policy.issuers = vec!["https://tenant.auth0.com/".into()];
        Verifier::new(policy)
    }

    impl Verifier {
        /// Both steps with the shared secret's HS256 key, as the key source gives it to an HS256 token.
        fn verify(&self, token: &str, now: u64) -> Result<Claims, AuthError> {
            let key = VerifyingKey::hmac(Algorithm::HS256, SECRET).unwrap();
            self.finish(self.parse(token)?, &key, now)
        }
    }

    fn claims() -> Value {
        json!({"sub": "auth0|1", "aud": AUD, "iss": ISS, "exp": NOW + 60})
    }

    fn sign(claims: &Value) -> String {
        jsonwebtoken::encode(&Header::default(), claims, &EncodingKey::from_secret(SECRET).unwrap()).unwrap()
    }

    fn with(mut base: Value, key: &str, value: Value) -> Value {
        base[key] = value;
        base
    }

    fn without(mut base: Value, key: &str) -> Value {
        base.as_object_mut().unwrap().remove(key);
        base
    }

    fn verify(claims: &Value) -> Result<Claims, AuthError> {
        verifier().verify(&sign(claims), NOW)
    }

    fn code(result: Result<Claims, AuthError>) -> &'static str {
        result.expect_err("token was accepted").code()
    }

    #[test]
    fn valid_token_is_accepted_with_its_claims() {
        let claims = verify(&claims()).unwrap();
        assert_eq!(claims.sub(), Some("auth0|1"));
        assert_eq!(claims.exp(), (NOW + 60) as i64);
        assert_eq!(claims.get("iss"), Some(&json!("https://tenant.auth0.com/")));
    }

    #[test]
    fn exp_is_required() {
        assert_eq!(verify(&without(claims(), "exp")), Err(AuthError::InvalidToken("token has no exp claim")));
    }

    #[test]
    fn exp_one_second_inside_the_leeway_is_accepted() {
        let exp = NOW - DEFAULT_LEEWAY_SECONDS + 1;
        assert!(verify(&with(claims(), "exp", json!(exp))).is_ok());
    }

    #[test]
    fn exp_at_the_leeway_edge_is_expired() {
        let exp = NOW - DEFAULT_LEEWAY_SECONDS;
        assert_eq!(code(verify(&with(claims(), "exp", json!(exp)))), "token_expired");
    }

    #[test]
    fn exp_with_zero_leeway_expires_at_exp() {
        let mut verifier = verifier();
        verifier.policy.leeway = 0;
        let at = |exp: u64| verifier.verify(&sign(&with(claims(), "exp", json!(exp))), NOW);
        assert_eq!(at(NOW).unwrap_err(), AuthError::Expired);
        assert!(at(NOW + 1).is_ok());
    }

    #[test]
    fn fractional_exp_is_rounded_down() {
        let exp = (NOW - DEFAULT_LEEWAY_SECONDS) as f64 + 0.9;
        assert_eq!(code(verify(&with(claims(), "exp", json!(exp)))), "token_expired");
    }

    #[test]
    fn nbf_at_the_leeway_edge_is_accepted() {
        let nbf = NOW + DEFAULT_LEEWAY_SECONDS;
        assert!(verify(&with(claims(), "nbf", json!(nbf))).is_ok());
    }

    #[test]
    fn nbf_one_second_past_the_leeway_is_not_yet_valid() {
        let nbf = NOW + DEFAULT_LEEWAY_SECONDS + 1;
        assert_eq!(code(verify(&with(claims(), "nbf", json!(nbf)))), "token_not_yet_valid");
    }

    #[test]
    fn claims_of_the_wrong_type_are_invalid_tokens() {
        for (claim, value) in [
            ("exp", json!((NOW + 60).to_string())),
            ("exp", json!(null)),
            ("nbf", json!("0")),
            ("iat", json!(true)),
            ("aud", json!(42)),
            ("aud", json!([AUD, 42])),
            ("aud", json!({"aud": AUD})),
            ("iss", json!(["https://tenant.auth0.com/"])),
            ("sub", json!(7)),
            ("scope", json!(["read:messages"])),
            ("permissions", json!("read:messages")),
            ("permissions", json!(["read:messages", 1])),
        ] {
            assert_eq!(code(verify(&with(claims(), claim, value.clone()))), "invalid_token", "{claim}: {value}");
        }
    }

    #[test]
    fn audience_array_containing_a_configured_audience_is_accepted() {
        assert!(verify(&with(claims(), "aud", json!(["https://userinfo", AUD]))).is_ok());
        assert!(verify(&with(claims(), "aud", json!("https://other.example.com"))).is_ok());
    }

    #[test]
    fn audience_must_match_an_element_exactly() {
        for aud in [json!("https://api.example.com/"), json!("https://api.example"), json!([]), json!(["x", "y"])] {
            assert_eq!(code(verify(&with(claims(), "aud", aud.clone()))), "invalid_audience", "{aud}");
        }
    }

    #[test]
    fn missing_audience_is_invalid_audience() {
        assert_eq!(code(verify(&without(claims(), "aud"))), "invalid_audience");
    }

    #[test]
    fn issuer_must_be_one_of_the_configured_issuers() {
        assert_eq!(code(verify(&with(claims(), "iss", json!("https://evil.auth0.com/")))), "invalid_issuer");
        assert_eq!(code(verify(&without(claims(), "iss"))), "invalid_issuer");
    }

    #[test]
    fn issuer_is_not_required_when_none_is_configured() {
        let verifier = Verifier::new(Policy::new(vec![AUD.into()]));
        assert!(verifier.verify(&sign(&without(claims(), "iss")), NOW).is_ok());
    }

    #[test]
    fn expiry_is_checked_before_audience() {
        let claims = with(with(claims(), "exp", json!(1)), "aud", json!("nope"));
        assert_eq!(code(verify(&claims)), "token_expired");
    }

    #[test]
    fn claims_are_only_read_after_the_signature_verifies() {
        let token = sign(&with(claims(), "exp", json!("not a number")));
        let forged = format!("{}.{}", &token[..token.rfind('.').unwrap()], "AAAA");
        assert_eq!(verifier().verify(&forged, NOW).unwrap_err(), AuthError::InvalidSignature);
    }

    #[test]
    fn the_shared_secret_never_verifies_an_asymmetric_algorithm() {
        let mut policy = Policy::new(vec![AUD.into()]);
        policy.algorithms = vec![Algorithm::HS256, Algorithm::RS256];
        let verifier = Verifier::new(policy);
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256"}"#),
            URL_SAFE_NO_PAD.encode(claims().to_string())
        );
        let sig =
            jsonwebtoken::crypto::sign(input.as_bytes(), &EncodingKey::from_secret(SECRET).unwrap(), Algorithm::HS256)
                .unwrap();
        assert_eq!(verifier.verify(&format!("{input}.{sig}"), NOW).unwrap_err(), AuthError::InvalidAlgorithm);
    }

    #[test]
    fn a_key_made_for_another_algorithm_of_the_same_family_never_verifies() {
        let mut policy = Policy::new(vec![AUD.into()]);
        policy.algorithms = vec![Algorithm::HS256, Algorithm::HS512];
        let verifier = Verifier::new(policy);
        let token = sign(&claims());
        let hs512 = VerifyingKey::hmac(Algorithm::HS512, SECRET).unwrap();
        let refused = verifier.finish(verifier.parse(&token).unwrap(), &hs512, NOW);
        assert_eq!(refused.unwrap_err(), AuthError::InvalidAlgorithm);
        assert!(verifier.verify(&token, NOW).is_ok(), "its own key verifies it");
    }

    #[test]
    fn token_that_is_not_three_segments_is_invalid() {
        let token = sign(&claims());
        assert_eq!(code(verifier().verify(&format!("{token}.x.y"), NOW)), "invalid_token");
        assert_eq!(code(verifier().verify(token.rsplit_once('.').unwrap().0, NOW)), "invalid_token");
    }

    #[test]
    fn claims_that_are_not_an_object_are_invalid() {
        // An array in the order of the registered claims would fill them if it were read as a struct.
        let in_order = format!(r#"[{}, null, null, "https://issuer/", null, null, null, "{AUD}"]"#, NOW + 60);
        for payload in ["[1]", "\"x\"", "{", "", &in_order, " [1]"] {
            assert_eq!(
                verify_raw(payload),
                Err(AuthError::InvalidToken("token claims are not a JSON object")),
                "{payload}"
            );
        }
    }

    /// Verifies a token whose claim set is exactly `payload`, signed with the test secret.
    fn verify_raw(payload: &str) -> Result<Claims, AuthError> {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256"}"#);
        let input = format!("{header}.{}", URL_SAFE_NO_PAD.encode(payload));
        let sig =
            jsonwebtoken::crypto::sign(input.as_bytes(), &EncodingKey::from_secret(SECRET).unwrap(), Algorithm::HS256)
                .unwrap();
        verifier().verify(&format!("{input}.{sig}"), NOW)
    }

    #[test]
    fn a_registered_claim_sent_twice_is_invalid() {
        let exp = NOW + 60;
        for payload in [
            format!(r#"{{"iss": "{ISS}", "exp": {exp}, "aud": "{AUD}", "exp": {exp}}}"#),
            format!(r#"{{"iss": "{ISS}", "exp": {exp}, "aud": "https://evil.example", "aud": "{AUD}"}}"#),
        ] {
            assert_eq!(code(verify_raw(&payload)), "invalid_token", "{payload}");
        }
        // Another claim sent twice is not read by verification: the last one is the claim set's, as before.
        let claims =
            verify_raw(&format!(r#"{{"iss": "{ISS}", "exp": {exp}, "aud": "{AUD}", "x": 1, "x": 2}}"#)).unwrap();
        assert_eq!(claims.get("x"), Some(&json!(2)));
    }

    #[test]
    fn a_claim_set_the_handler_could_not_read_is_invalid() {
        let exp = NOW + 60;
        for extra in [r#""x": 1e400"#, r#""x": "\ud800""#, r#""x": {"y": [1, -1e999]}"#, r#""x": [{"\udfff": 1}]"#] {
            let payload = format!(r#"{{"iss": "{ISS}", "exp": {exp}, "aud": "{AUD}", {extra}}}"#);
            assert_eq!(
                verify_raw(&payload),
                Err(AuthError::InvalidToken("token claims are not a JSON object")),
                "{extra}"
            );
            assert!(serde_json::from_str::<Value>(&payload).is_err(), "a claim set serde_json reads: {extra}");
        }
    }

    #[test]
    fn escaped_strings_are_compared_as_decoded() {
        let (aud, iss) = (AUD.replace('/', "\\/"), ISS.replace('t', "\\u0074"));
        let claims = verify_raw(&format!(r#"{{"iss": "{iss}", "exp": {}, "aud": ["{aud}"]}}"#, NOW + 60)).unwrap();
        assert_eq!(claims.audiences().collect::<Vec<_>>(), [AUD]);
        assert_eq!(claims.iss(), Some(ISS));
    }

    #[test]
    fn the_claim_set_handed_on_is_the_token_s_whole_claim_set() {
        let sent = with(with(claims(), "https://example.com/roles", json!(["admin"])), "scope", json!("read"));
        let verified = verify(&sent).unwrap();
        assert_eq!(&Value::Object(verified.all().clone()), &sent);
        assert_eq!(verified.scopes().collect::<Vec<_>>(), ["read"]);
    }

    /// A verifier whose policy `configure` changes, and an HS256 token with this header `typ` and claims.
    fn verify_with(
        configure: impl FnOnce(&mut Policy),
        typ: Option<&str>,
        claims: &Value,
    ) -> Result<Claims, AuthError> {
        let mut policy = Policy::new(vec![AUD.into()]);
        configure(&mut policy);
        let header = Header { typ: typ.map(str::to_owned), ..Header::default() };
        let token = jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(SECRET).unwrap()).unwrap();
        Verifier::new(policy).verify(&token, NOW)
    }

    #[test]
    fn rfc_9068_access_tokens_are_required_when_configured() {
        let require = |policy: &mut Policy| policy.access_token_type = true;
        for typ in ["at+jwt", "AT+JWT", "application/at+jwt", "Application/At+Jwt"] {
            assert!(verify_with(require, Some(typ), &claims()).is_ok(), "{typ}");
        }
        for typ in [None, Some("JWT"), Some("jwt"), Some("application/jwt"), Some("at+jwt "), Some("x/at+jwt")] {
            let refused = verify_with(require, typ, &claims()).unwrap_err();
            assert_eq!(
                refused,
                AuthError::InvalidToken("token is not an access token: its typ must be at+jwt (RFC 9068)")
            );
        }
        assert!(verify_with(|_| {}, Some("JWT"), &claims()).is_ok(), "not required by default");
    }

    #[test]
    fn the_maximum_age_counts_from_iat_with_the_leeway() {
        let at_most = |policy: &mut Policy| policy.max_age = Some(600);
        let issued = |iat: u64| with(claims(), "iat", json!(iat));
        assert!(verify_with(at_most, None, &issued(NOW - 600 - 5)).is_ok(), "the leeway's edge");
        assert_eq!(verify_with(at_most, None, &issued(NOW - 600 - 6)).unwrap_err(), AuthError::TooOld);
        assert!(verify_with(at_most, None, &issued(NOW)).is_ok());
        assert_eq!(verify_with(at_most, None, &claims()).unwrap_err(), AuthError::MissingClaim, "iat is required");
        assert!(verify_with(at_most, None, &issued(NOW + 5)).is_ok(), "the leeway's edge, ahead");
        assert_eq!(verify_with(at_most, None, &issued(NOW + 6)).unwrap_err(), AuthError::NotYetValid, "issued ahead");
        assert!(verify_with(|_| {}, None, &claims()).is_ok(), "no maximum by default");
    }

    #[test]
    fn required_claims_must_be_present_and_not_null() {
        let require = |policy: &mut Policy| policy.required_claims = vec!["sub".into(), "azp".into()];
        assert!(verify_with(require, None, &with(claims(), "azp", json!("client"))).is_ok());
        assert!(verify_with(require, None, &with(claims(), "azp", json!(false))).is_ok(), "any value but null");
        assert_eq!(verify_with(require, None, &claims()).unwrap_err(), AuthError::MissingClaim);
        assert_eq!(
            verify_with(require, None, &with(claims(), "azp", Value::Null)).unwrap_err(),
            AuthError::MissingClaim
        );
    }

    #[test]
    fn organizations_are_matched_by_id_or_by_name() {
        let accept = |policy: &mut Policy| policy.organizations = vec!["org_abc123".into(), "acme".into()];
        let member = |claim: &str, value: Value| verify_with(accept, None, &with(claims(), claim, value));
        assert!(member("org_id", json!("org_abc123")).is_ok());
        assert!(member("org_name", json!("Acme")).is_ok(), "names compare without regard to case");
        assert_eq!(member("org_id", json!("org_other")).unwrap_err(), AuthError::WrongOrganization);
        assert_eq!(member("org_id", json!("acme")).unwrap_err(), AuthError::WrongOrganization, "an id is not a name");
        assert_eq!(member("org_name", json!("org_abc123")).unwrap_err(), AuthError::WrongOrganization);
        assert_eq!(member("org_id", json!(["org_abc123"])).unwrap_err(), AuthError::WrongOrganization);
        assert_eq!(verify_with(accept, None, &claims()).unwrap_err(), AuthError::WrongOrganization, "no organization");
        assert!(verify_with(|_| {}, None, &claims()).is_ok(), "not checked by default");
    }
}
