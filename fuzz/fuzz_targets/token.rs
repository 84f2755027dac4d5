//! Token parsing and verification, structure-aware: a generated JOSE header and claim set, signed with the
//! configured secret (or another, or not at all) and sometimes tampered with, so that the claim checks are
//! reached. It never panics, and a token it accepts satisfies every rule of the policy.
#![no_main]

use arbitrary::Arbitrary;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use auth0_lambda_api::key_source::KeySource;
use auth0_lambda_api::{Policy, Verifier};
use jsonwebtoken::{Algorithm, EncodingKey};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value, json};

const SECRET: &[u8] = b"a-fuzzing-secret-that-is-long-enough-for-hs384-0123456789";
const AUDIENCE: &str = "https://api.example.com";
const ISSUER: &str = "https://tenant.example.auth0.com/";
const NOW: i64 = 1_800_000_000;
const LEEWAY: i64 = 5;

#[derive(Arbitrary, Debug)]
enum Date {
    Absent,
    NearNow(i16),
    Whole(i64),
    Fraction(f64),
    Huge(u64),
    Text(String),
}

#[derive(Arbitrary, Debug)]
enum Audience {
    Absent,
    Configured,
    Other(String),
    List(Vec<String>, bool),
    Number(i64),
}

#[derive(Arbitrary, Debug)]
struct Input {
    alg: u8,
    kid: Option<String>,
    crit: Option<Vec<String>>,
    exp: Date,
    nbf: Date,
    iat: Date,
    aud: Audience,
    iss: Option<Option<String>>,
    scope: Option<String>,
    permissions: Option<Vec<String>>,
    extra: Vec<(String, String)>,
    key: u8,
    tamper: Option<(u16, u8)>,
    skew: i16,
}

fn date(date: &Date) -> Option<Value> {
    match date {
        Date::Absent => None,
        Date::NearNow(offset) => Some(json!(NOW + i64::from(*offset))),
        Date::Whole(seconds) => Some(json!(seconds)),
        Date::Fraction(seconds) => Some(json!(seconds)),
        Date::Huge(seconds) => Some(json!(seconds)),
        Date::Text(text) => Some(json!(text)),
    }
}

fuzz_target!(|input: Input| {
    let algs = ["HS256", "HS384", "HS512", "RS256", "none", "ES256", "hs256", ""];
    let alg = algs[usize::from(input.alg) % algs.len()];
    let mut header = json!({"alg": alg, "typ": "JWT"});
    if let Some(kid) = &input.kid {
        header["kid"] = json!(kid);
    }
    if let Some(crit) = &input.crit {
        header["crit"] = json!(crit);
    }
    let mut claims = Map::new();
    for (name, value) in [("exp", date(&input.exp)), ("nbf", date(&input.nbf)), ("iat", date(&input.iat))] {
        if let Some(value) = value {
            claims.insert(name.into(), value);
        }
    }
    match &input.aud {
        Audience::Absent => {}
        Audience::Configured => _ = claims.insert("aud".into(), json!(AUDIENCE)),
        Audience::Other(aud) => _ = claims.insert("aud".into(), json!(aud)),
        Audience::List(list, with_configured) => {
            let mut list = list.clone();
            if *with_configured {
                list.push(AUDIENCE.into());
            }
            claims.insert("aud".into(), json!(list));
        }
        Audience::Number(number) => _ = claims.insert("aud".into(), json!(number)),
    }
    match &input.iss {
        None => {}
        Some(None) => _ = claims.insert("iss".into(), json!(ISSUER)),
        Some(Some(iss)) => _ = claims.insert("iss".into(), json!(iss)),
    }
    if let Some(scope) = &input.scope {
        claims.insert("scope".into(), json!(scope));
    }
    if let Some(permissions) = &input.permissions {
        claims.insert("permissions".into(), json!(permissions));
    }
    for (name, value) in &input.extra {
        claims.entry(name.clone()).or_insert(json!(value));
    }
    let b64 = |bytes: &[u8]| {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    };
    let signing_input =
        format!("{}.{}", b64(header.to_string().as_bytes()), b64(Value::Object(claims.clone()).to_string().as_bytes()));
    let signature = match (input.key % 3, alg) {
        (0, "HS256" | "HS384" | "HS512") => {
            let algorithm: Algorithm = alg.parse().unwrap();
            let key = EncodingKey::from_secret(SECRET).unwrap();
            jsonwebtoken::crypto::sign(signing_input.as_bytes(), &key, algorithm).unwrap()
        }
        (1, _) => {
            let key = EncodingKey::from_secret(b"another-secret-another-secret-another-secret").unwrap();
            jsonwebtoken::crypto::sign(signing_input.as_bytes(), &key, Algorithm::HS256).unwrap()
        }
        _ => String::new(),
    };
    let mut token = format!("{signing_input}.{signature}").into_bytes();
    let tampered = match input.tamper {
        Some((at, byte)) if !token.is_empty() => {
            let at = usize::from(at) % token.len();
            let changed = token[at] != byte;
            token[at] = byte;
            changed
        }
        _ => false,
    };
    let Ok(token) = String::from_utf8(token) else { return };

    let mut policy = Policy::new(vec![AUDIENCE.into()]);
    policy.algorithms = vec![Algorithm::HS256, Algorithm::HS384];
    policy.issuers = vec![ISSUER.into()];
    policy.leeway = LEEWAY as u64;
    let keys = KeySource::new(Some(SECRET), &policy.algorithms, None);
    let verifier = Verifier::new(policy);
    let now = NOW + i64::from(input.skew);
    let Ok(parsed) = verifier.parse(&token) else { return };
    // The secret's keys are chosen without awaiting anything: the future is ready at its first poll.
    let Poll::Ready(key) = pin!(keys.key_for(&parsed)).as_mut().poll(&mut Context::from_waker(Waker::noop())) else {
        panic!("choosing an HMAC key awaited");
    };
    let Ok(key) = key else { return };
    let Ok(verified) = verifier.finish(parsed, key.key(), now as u64) else { return };

    // Accepted: every rule held.
    assert!(!tampered, "a tampered token was accepted");
    assert!(matches!(alg, "HS256" | "HS384") && input.key % 3 == 0, "accepted with {alg}, key {}", input.key % 3);
    assert!(input.crit.is_none(), "a token with crit was accepted");
    assert!(now < verified.exp().saturating_add(LEEWAY), "expired");
    assert!(verified.nbf().is_none_or(|nbf| nbf <= now + LEEWAY), "not yet valid");
    assert_eq!(verified.iss(), Some(ISSUER));
    assert!(verified.audiences().any(|aud| aud == AUDIENCE));
});
