//! The realm and every error's `WWW-Authenticate` value: for any realm the configuration accepts, with or
//! without any `resource_metadata` URL it accepts, each challenge is a valid header value, a `Bearer` challenge whose quoted strings are well formed, and whose
//! `error_description` holds only what RFC 6750 §3 allows.
#![no_main]

use auth0_lambda_api::AuthError;
use auth0_lambda_api::api::Realm;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (&str, Option<&str>)| {
    let (realm, metadata_url) = input;
    let Some(mut realm) = Realm::new(realm) else { return };
    if let Some(url) = metadata_url {
        let Some(with_url) = realm.with_resource_metadata(url) else { return };
        realm = with_url;
    }
    for error in [
        AuthError::MissingHeader,
        AuthError::InvalidHeader("Authorization header must be Bearer + \\s + token"),
        AuthError::InvalidAlgorithm,
        AuthError::InvalidSignature,
        AuthError::Expired,
        AuthError::NotYetValid,
        AuthError::WrongAudience,
        AuthError::WrongIssuer,
        AuthError::InvalidToken("a \"quoted\" reason"),
        AuthError::UnknownKey,
        AuthError::TooOld,
        AuthError::MissingClaim,
        AuthError::WrongOrganization,
    ] {
        let response = error.to_response(&realm);
        let value = response.headers().get("www-authenticate").expect("a challenge").to_str().unwrap();
        let rest = value.strip_prefix("Bearer ").expect("a Bearer challenge");
        // auth-params: name="quoted-string", separated by ", ".
        let mut chars = rest.chars().peekable();
        loop {
            let name: String = chars.by_ref().take_while(|c| *c != '=').collect();
            assert!(!name.is_empty() && name.chars().all(|c| c.is_ascii_lowercase() || c == '_'), "{value}");
            assert_eq!(chars.next(), Some('"'), "{value}");
            let mut content = String::new();
            loop {
                match chars.next().expect("an unterminated quoted string") {
                    '\\' => content.push(chars.next().expect("a dangling escape")),
                    '"' => break,
                    c => content.push(c),
                }
            }
            if name == "error_description" {
                assert!(content.bytes().all(|b| matches!(b, 0x20..=0x21 | 0x23..=0x5b | 0x5d..=0x7e)), "{value}");
            }
            match chars.next() {
                None => break,
                Some(',') => assert_eq!(chars.next(), Some(' '), "{value}"),
                Some(other) => panic!("{other:?} after a quoted string in {value}"),
            }
        }
    }
});
