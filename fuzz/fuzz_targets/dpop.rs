//! DPoP proofs, structure-aware: a generated JOSE header and claim set, signed with one P-256 key (whatever
//! the header says) and sometimes tampered with, checked against one request. It never panics, and a proof
//! it accepts keeps every rule of RFC 9449 §4.3 that the check is responsible for.
#![no_main]

use std::sync::OnceLock;

use arbitrary::Arbitrary;
use auth0_lambda_api::dpop::client::ProofKey;
use auth0_lambda_api::dpop::{DEFAULT_ALGORITHMS, Expected, normalize_url, proof};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};

const URL: &str = "https://api.example.com/prod/protected";
const TOKEN: &str = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln";
const NOW: i64 = 1_800_000_000;
const MAX_AGE: i64 = 300;
const LEEWAY: i64 = 5;

#[derive(Arbitrary, Debug)]
enum Jwk {
    Absent,
    Own,
    OwnWithPrivate(String),
    Other(Vec<(String, String)>),
}

/// A member that is mostly right, so that the later checks are reached.
#[derive(Arbitrary, Debug)]
enum Text {
    Absent,
    Right,
    Variant(u8),
    Other(String),
}

impl Text {
    /// The member's value: `right`, a variant of it (case, port, a query...), anything, or none.
    fn value(&self, right: &str) -> Option<String> {
        match self {
            Self::Absent => None,
            Self::Right => Some(right.to_owned()),
            Self::Variant(n) => Some(match n % 6 {
                0 => right.to_ascii_uppercase(),
                1 => right.replacen("api.example.com", "API.Example.com:443", 1),
                2 => format!("{right}?q=1"),
                3 => format!("{right}#f"),
                4 => format!("{right}/"),
                _ => right[..right.len() - 1].to_owned(),
            }),
            Self::Other(text) => Some(text.clone()),
        }
    }
}

#[derive(Arbitrary, Debug)]
struct Input {
    typ: Text,
    alg: Text,
    jwk: Jwk,
    crit: bool,
    jti: Text,
    htm: Text,
    htu: Text,
    iat: Option<i16>,
    ath: Option<Option<String>>,
    extra: Vec<(String, String)>,
    tamper: Option<(u16, u8)>,
    raw: Option<String>,
}

fn key() -> &'static ProofKey {
    static KEY: OnceLock<ProofKey> = OnceLock::new();
    KEY.get_or_init(ProofKey::generate)
}

/// The token's `ath`: its SHA-256, base64url.
fn ath() -> String {
    URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, TOKEN.as_bytes()))
}

fuzz_target!(|input: Input| {
    let key = key();
    let proof = match &input.raw {
        Some(raw) => raw.clone(),
        None => {
            let mut header = json!({});
            if let Some(typ) = input.typ.value("dpop+jwt") {
                header["typ"] = json!(typ);
            }
            if let Some(alg) = input.alg.value("ES256") {
                header["alg"] = json!(alg);
            }
            match &input.jwk {
                Jwk::Absent => {}
                Jwk::Own => header["jwk"] = key.jwk(),
                Jwk::OwnWithPrivate(d) => {
                    header["jwk"] = key.jwk();
                    header["jwk"]["d"] = json!(d);
                }
                Jwk::Other(members) => {
                    header["jwk"] = members.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
                }
            }
            if input.crit {
                header["crit"] = json!(["x"]);
            }
            let mut claims = json!({});
            for (name, value) in &input.extra {
                claims[name] = json!(value);
            }
            for (name, value) in
                [("jti", input.jti.value("a-jti")), ("htm", input.htm.value("GET")), ("htu", input.htu.value(URL))]
            {
                if let Some(value) = value {
                    claims[name] = json!(value);
                }
            }
            if let Some(skew) = input.iat {
                claims["iat"] = json!(NOW + i64::from(skew));
            }
            match &input.ath {
                None => {}
                Some(None) => claims["ath"] = json!(ath()),
                Some(Some(other)) => claims["ath"] = json!(other),
            }
            let mut proof = key.sign(&header, &claims).into_bytes();
            if let Some((at, byte)) = input.tamper
                && !proof.is_empty()
            {
                let at = usize::from(at) % proof.len();
                proof[at] = byte;
            }
            String::from_utf8_lossy(&proof).into_owned()
        }
    };
    let expected = Expected {
        method: "GET",
        url: URL,
        token: TOKEN,
        algorithms: DEFAULT_ALGORITHMS,
        max_age: MAX_AGE as u64,
        leeway: LEEWAY as u64,
        now: NOW as u64,
    };
    let Ok(accepted) = proof::check(&proof, &expected) else { return };
    // Only this key signs, so only its JWK (public, whole) and its thumbprint can pass.
    assert_eq!(accepted.thumbprint, key.thumbprint(), "{proof}");
    let header: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(proof.split('.').next().unwrap()).unwrap()).unwrap();
    assert!(header["typ"].as_str().unwrap().eq_ignore_ascii_case("dpop+jwt"), "{header}");
    assert_eq!(header["alg"], "ES256", "{header}");
    assert!(header.get("crit").is_none(), "{header}");
    assert!(header["jwk"].get("d").is_none(), "{header}");
    let claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(proof.split('.').nth(1).unwrap()).unwrap()).unwrap();
    assert_eq!(claims["htm"], "GET", "{claims}");
    let htu = claims["htu"].as_str().unwrap();
    assert!(!htu.contains(['?', '#']) && normalize_url(htu).as_deref() == Some(URL), "{claims}");
    let iat = claims["iat"].as_i64().unwrap();
    assert!(iat <= NOW + LEEWAY && iat + MAX_AGE + LEEWAY >= NOW, "{claims}");
    assert_eq!(claims["ath"], ath(), "{claims}");
    let jti = claims["jti"].as_str().unwrap();
    assert!(!jti.is_empty() && jti.len() <= 256 && jti == accepted.jti, "{claims}");
});
