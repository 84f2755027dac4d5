//! One DPoP proof (RFC 9449 §4): read, checked against the request it came with, and reduced to what the
//! caller still needs: the thumbprint of its key (for the token's `cnf.jkt`) and its replay-cache entry.
//! Pure: no I/O, the time passed in.

use aws_lc_rs::digest::{SHA256, digest};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Algorithm;
use serde::Deserialize;
use serde::de::IgnoredAny;

use crate::error::AuthError;
use crate::key::VerifyingKey;

/// Longest `DPoP` header read, checked before any decoding (an RSA-4096 proof is about 1.5 KiB).
pub const MAX_PROOF_BYTES: usize = 8 * 1024;

/// Longest `jti` accepted: it names the proof, it is not a place for data.
const MAX_JTI_BYTES: usize = 256;

/// What a proof must agree with.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    /// The request's method (`htm`), compared exactly.
    pub method: &'a str,
    /// The request's URL without query and fragment, normalised by [`normalize_url`] (`htu`).
    pub url: &'a str,
    /// The access token the proof comes with: `ath` is its SHA-256.
    pub token: &'a str,
    /// The signature algorithms accepted for proofs (asymmetric only).
    pub algorithms: &'a [Algorithm],
    /// The oldest `iat` accepted, seconds before `now`.
    pub max_age: u64,
    /// How far `iat` may be ahead of `now` (clock skew), and behind it past `max_age`.
    pub leeway: u64,
    /// The current time, seconds since the epoch.
    pub now: u64,
}

/// A proof that passed every check that needs no state: signature, `typ`, `alg`, `jwk`, `htm`, `htu`, `iat`,
/// `ath`. The nonce and the replay check are the caller's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proof {
    /// The RFC 7638 SHA-256 thumbprint of the proof's key, base64url: what the token's `cnf.jkt` must be.
    pub thumbprint: String,
    /// The proof's `jti`.
    pub jti: String,
    /// The proof's `nonce`, when it carries one.
    pub nonce: Option<String>,
    /// The last second at which this proof is accepted: how long its `jti` must be remembered.
    pub valid_until: u64,
}

/// The proof's JOSE header. serde refuses a member sent twice.
#[derive(Deserialize)]
struct Header {
    typ: Option<String>,
    alg: Option<String>,
    jwk: Option<Jwk>,
    crit: Option<IgnoredAny>,
}

/// The members of a JWK that a proof may or must not carry (RFC 7517, RFC 7518 §6, RFC 8037).
#[derive(Deserialize)]
struct Jwk {
    kty: Option<String>,
    crv: Option<String>,
    x: Option<String>,
    y: Option<String>,
    n: Option<String>,
    e: Option<String>,
    // Private or symmetric key material: a proof carrying any is refused.
    d: Option<IgnoredAny>,
    p: Option<IgnoredAny>,
    q: Option<IgnoredAny>,
    dp: Option<IgnoredAny>,
    dq: Option<IgnoredAny>,
    qi: Option<IgnoredAny>,
    oth: Option<IgnoredAny>,
    k: Option<IgnoredAny>,
}

/// The proof's claims.
#[derive(Deserialize)]
struct Claims {
    jti: Option<String>,
    htm: Option<String>,
    htu: Option<String>,
    iat: Option<serde_json::Number>,
    ath: Option<String>,
    nonce: Option<String>,
}

fn refuse(reason: &'static str) -> AuthError {
    AuthError::InvalidProof(reason)
}

/// Checks one proof against `expected`.
pub fn check(proof: &str, expected: &Expected<'_>) -> Result<Proof, AuthError> {
    if proof.len() > MAX_PROOF_BYTES {
        return Err(refuse("DPoP proof is too long"));
    }
    let mut segments = proof.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (segments.next(), segments.next(), segments.next(), segments.next())
    else {
        return Err(refuse("DPoP proof is not a JWT"));
    };
    let decode = |segment: &str| URL_SAFE_NO_PAD.decode(segment).map_err(|_| refuse("DPoP proof is not a JWT"));
    // serde reads a struct from a JSON array too; a JOSE header and a claim set are objects (RFC 7515 §4).
    let object = |json: Vec<u8>| json.trim_ascii_start().starts_with(b"{").then_some(json);
    let header: Header = object(decode(header)?)
        .and_then(|json| serde_json::from_slice(&json).ok())
        .ok_or(refuse("DPoP proof header cannot be read"))?;

    let typ_ok = header.typ.as_deref().is_some_and(|typ| typ.eq_ignore_ascii_case("dpop+jwt"));
    if !typ_ok {
        return Err(refuse("DPoP proof typ must be dpop+jwt"));
    }
    if header.crit.is_some() {
        return Err(refuse("DPoP proof has a critical header this API does not understand"));
    }
    let algorithm = header
        .alg
        .as_deref()
        .and_then(|alg| alg.parse::<Algorithm>().ok())
        .filter(|algorithm| expected.algorithms.contains(algorithm))
        .ok_or(refuse("DPoP proof is signed with an algorithm this API does not accept"))?;
    let jwk = header.jwk.ok_or(refuse("DPoP proof has no jwk header"))?;
    let private = [&jwk.d, &jwk.p, &jwk.q, &jwk.dp, &jwk.dq, &jwk.qi, &jwk.oth, &jwk.k];
    if private.iter().any(|member| member.is_some()) {
        return Err(refuse("DPoP proof jwk must be a public key; it holds private key material"));
    }
    let (key, thumbprint) = public_key(&jwk, algorithm)?;

    let signing_input = &proof[..proof.len() - signature.len() - 1];
    let signature = decode(signature)?;
    if !key.verifies(signing_input.as_bytes(), &signature) {
        return Err(refuse("DPoP proof signature is invalid"));
    }

    let claims: Claims = object(decode(payload)?)
        .and_then(|json| serde_json::from_slice(&json).ok())
        .ok_or(refuse("DPoP proof claims cannot be read"))?;
    let jti = claims.jti.filter(|jti| !jti.is_empty()).ok_or(refuse("DPoP proof has no jti"))?;
    if jti.len() > MAX_JTI_BYTES {
        return Err(refuse("DPoP proof jti is too long"));
    }
    if claims.htm.as_deref() != Some(expected.method) {
        return Err(refuse("DPoP proof htm is not the request's method"));
    }
    let htu = claims.htu.ok_or(refuse("DPoP proof has no htu"))?;
    if htu.contains(['?', '#']) {
        return Err(refuse("DPoP proof htu must not have a query or a fragment"));
    }
    if normalize_url(&htu).as_deref() != Some(expected.url) {
        return Err(refuse("DPoP proof htu is not the request's URL"));
    }
    let iat = claims
        .iat
        .and_then(|iat| iat.as_i64().or_else(|| iat.as_f64().filter(|f| f.is_finite()).map(|f| f.floor() as i64)))
        .ok_or(refuse("DPoP proof has no numeric iat"))?;
    let now = i64::try_from(expected.now).unwrap_or(i64::MAX);
    let leeway = i64::try_from(expected.leeway).unwrap_or(0);
    let max_age = i64::try_from(expected.max_age).unwrap_or(0);
    if iat > now.saturating_add(leeway) {
        return Err(refuse("DPoP proof iat is in the future"));
    }
    let valid_until = iat.saturating_add(max_age).saturating_add(leeway);
    if valid_until < now {
        return Err(refuse("DPoP proof is too old (iat)"));
    }
    let ath = claims.ath.ok_or(refuse("DPoP proof has no ath"))?;
    if ath != URL_SAFE_NO_PAD.encode(digest(&SHA256, expected.token.as_bytes())) {
        return Err(refuse("DPoP proof ath is not the access token's hash"));
    }
    Ok(Proof { thumbprint, jti, nonce: claims.nonce, valid_until: u64::try_from(valid_until).unwrap_or(0) })
}

/// The verification key of a proof's `jwk` for `algorithm`, and its RFC 7638 thumbprint.
fn public_key(jwk: &Jwk, algorithm: Algorithm) -> Result<(VerifyingKey, String), AuthError> {
    let mismatch = || refuse("DPoP proof jwk is not a key for its alg");
    let bytes = |member: &Option<String>| {
        member.as_deref().and_then(|text| URL_SAFE_NO_PAD.decode(text).ok()).ok_or_else(mismatch)
    };
    fn text(member: &Option<String>) -> Result<&str, AuthError> {
        member.as_deref().ok_or(refuse("DPoP proof jwk is not a key for its alg"))
    }
    let kty = jwk.kty.as_deref().ok_or_else(mismatch)?;
    let crv = jwk.crv.as_deref();
    // RFC 7638 §3.2: the required members only, in lexicographic order, no whitespace. Their values are
    // base64url and curve names, which JSON writes as they are; anything else was refused by the decoder.
    let (key, canonical) = match (kty, algorithm) {
        ("EC", Algorithm::ES256 | Algorithm::ES384) => {
            let curve = if algorithm == Algorithm::ES256 { "P-256" } else { "P-384" };
            if crv != Some(curve) {
                return Err(mismatch());
            }
            let key = VerifyingKey::ec(algorithm, &bytes(&jwk.x)?, &bytes(&jwk.y)?).map_err(|_| mismatch())?;
            let canonical =
                format!(r#"{{"crv":"{curve}","kty":"EC","x":"{}","y":"{}"}}"#, text(&jwk.x)?, text(&jwk.y)?);
            (key, canonical)
        }
        ("RSA", Algorithm::RS256 | Algorithm::RS384 | Algorithm::RS512)
        | ("RSA", Algorithm::PS256 | Algorithm::PS384 | Algorithm::PS512) => {
            let key = VerifyingKey::rsa(algorithm, &bytes(&jwk.n)?, &bytes(&jwk.e)?).map_err(|_| mismatch())?;
            (key, format!(r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#, text(&jwk.e)?, text(&jwk.n)?))
        }
        ("OKP", Algorithm::EdDSA) => {
            if crv != Some("Ed25519") {
                return Err(mismatch());
            }
            let key = VerifyingKey::ed25519(&bytes(&jwk.x)?).map_err(|_| mismatch())?;
            (key, format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#, text(&jwk.x)?))
        }
        _ => return Err(mismatch()),
    };
    Ok((key, URL_SAFE_NO_PAD.encode(digest(&SHA256, canonical.as_bytes()))))
}

/// `url` in the form `htu` is compared in (RFC 9449 §4.3, RFC 3986 §6.2.2–6.2.3): the scheme and host in lower
/// case, the scheme's default port dropped, an empty path as `/`. `None` for anything but an absolute `http`
/// or `https` URL without userinfo.
pub fn normalize_url(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "https" => ":443",
        "http" => ":80",
        _ => return None,
    };
    let (authority, path) = rest.find('/').map_or((rest, "/"), |at| rest.split_at(at));
    let (authority, query_or_fragment) = match authority.find(['?', '#']) {
        Some(at) => (&authority[..at], true),
        None => (authority, false),
    };
    if authority.is_empty() || authority.contains('@') || query_or_fragment {
        return None;
    }
    if !url.bytes().all(|b| b.is_ascii_graphic()) {
        return None;
    }
    let authority = authority.to_ascii_lowercase();
    let authority = authority.strip_suffix(default_port).unwrap_or(&authority);
    Some(format!("{scheme}://{authority}{path}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dpop::client::ProofKey;
    use serde_json::{Value, json};

    const NOW: u64 = 1_800_000_000;
    const URL: &str = "https://api.example.com/protected";
    const TOKEN: &str = "a.b.c";

    fn expected() -> Expected<'static> {
        Expected {
            method: "GET",
            url: URL,
            token: TOKEN,
            algorithms: crate::dpop::DEFAULT_ALGORITHMS,
            max_age: 300,
            leeway: 5,
            now: NOW,
        }
    }

    fn jwk(value: Value) -> Jwk {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn the_thumbprint_is_rfc_7638_s_example() {
        // RFC 7638 §3.1.
        let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
        let key = jwk(json!({"kty": "RSA", "n": n, "e": "AQAB", "alg": "RS256", "kid": "2011-04-29"}));
        let (_, thumbprint) = public_key(&key, Algorithm::RS256).unwrap();
        assert_eq!(thumbprint, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
    }

    #[test]
    fn an_ec_thumbprint_is_the_hash_of_the_sorted_required_members() {
        let key = ProofKey::generate();
        let members = key.jwk();
        // serde_json's map keeps its keys sorted: the RFC 7638 canonical form, made independently.
        let canonical =
            serde_json::to_string(&json!({"crv": "P-256", "kty": "EC", "x": members["x"], "y": members["y"]})).unwrap();
        let independent = URL_SAFE_NO_PAD.encode(digest(&SHA256, canonical.as_bytes()));
        let mut with_extras = members.clone();
        with_extras["kid"] = json!("k1");
        with_extras["use"] = json!("sig");
        assert_eq!(public_key(&jwk(with_extras), Algorithm::ES256).unwrap().1, independent);
        assert_eq!(key.thumbprint(), independent);
    }

    fn proof_at(iat: i64) -> String {
        let key = ProofKey::generate();
        let ath = URL_SAFE_NO_PAD.encode(digest(&SHA256, TOKEN.as_bytes()));
        let claims = json!({"jti": "j", "htm": "GET", "htu": URL, "iat": iat, "ath": ath});
        key.sign(&json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": key.jwk()}), &claims)
    }

    #[test]
    fn iat_is_accepted_from_max_age_plus_leeway_ago_to_leeway_ahead() {
        let now = NOW as i64;
        for (iat, accepted) in [(now - 305, true), (now - 306, false), (now + 5, true), (now + 6, false), (now, true)] {
            assert_eq!(check(&proof_at(iat), &expected()).is_ok(), accepted, "iat {}", iat - now);
        }
        let proof = check(&proof_at(now - 100), &expected()).unwrap();
        assert_eq!(proof.valid_until, NOW + 205, "remembered until the last second it is accepted");
    }

    #[test]
    fn a_header_or_claim_set_that_is_not_one_object_is_refused() {
        let key = ProofKey::generate();
        let ath = URL_SAFE_NO_PAD.encode(digest(&SHA256, TOKEN.as_bytes()));
        let claims = json!({"jti": "j", "htm": "GET", "htu": URL, "iat": NOW, "ath": ath});
        let header = json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": key.jwk()});
        assert!(check(&key.sign(&header, &claims), &expected()).is_ok());
        // The same members, as an array in struct order.
        let array_header = json!(["dpop+jwt", "ES256", key.jwk(), null]);
        assert_eq!(
            check(&key.sign(&array_header, &claims), &expected()),
            Err(refuse("DPoP proof header cannot be read"))
        );
        let array_claims = json!(["j", "GET", URL, NOW, ath, null]);
        assert_eq!(
            check(&key.sign(&header, &array_claims), &expected()),
            Err(refuse("DPoP proof claims cannot be read"))
        );
    }

    #[test]
    fn a_member_sent_twice_is_refused() {
        let key = ProofKey::generate();
        let header = format!(r#"{{"typ":"dpop+jwt","alg":"ES256","alg":"ES256","jwk":{}}}"#, key.jwk());
        let ath = URL_SAFE_NO_PAD.encode(digest(&SHA256, TOKEN.as_bytes()));
        let claims = format!(r#"{{"jti":"j","htm":"GET","htu":"{URL}","iat":{NOW},"ath":"{ath}","htm":"GET"}}"#);
        let twice_in_header = key.sign_bytes(
            header.as_bytes(),
            json!({"jti": "j", "htm": "GET", "htu": URL, "iat": NOW, "ath": ath}).to_string().as_bytes(),
        );
        assert_eq!(check(&twice_in_header, &expected()), Err(refuse("DPoP proof header cannot be read")));
        let good_header = json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": key.jwk()}).to_string();
        let twice_in_claims = key.sign_bytes(good_header.as_bytes(), claims.as_bytes());
        assert_eq!(check(&twice_in_claims, &expected()), Err(refuse("DPoP proof claims cannot be read")));
        let once = key.sign_bytes(
            good_header.as_bytes(),
            json!({"jti": "j", "htm": "GET", "htu": URL, "iat": NOW, "ath": ath}).to_string().as_bytes(),
        );
        assert!(check(&once, &expected()).is_ok());
    }

    #[test]
    fn urls_are_compared_with_scheme_and_host_case_and_default_ports_normalised() {
        assert_eq!(normalize_url("HTTPS://API.Example.com:443/Prod/x").unwrap(), "https://api.example.com/Prod/x");
        assert_eq!(normalize_url("http://localhost:80").unwrap(), "http://localhost/");
        assert_eq!(normalize_url("https://h:8443/a").unwrap(), "https://h:8443/a");
        for bad in ["ftp://h/", "https://", "https://user@h/", "h/x", "https://h?x", "https://h/\u{e9}", "https://h/ a"]
        {
            assert_eq!(normalize_url(bad), None, "{bad}");
        }
    }
}
