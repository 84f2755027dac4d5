//! The realm and every error's `WWW-Authenticate` value: for any realm the configuration accepts, with or
//! without any `resource_metadata` URL it accepts, under each DPoP mode and whichever scheme the request used,
//! the value is a valid header value made of `Bearer` and `DPoP` challenges whose quoted strings are well
//! formed, one of them at most carries an `error`, and every `error_description` holds only what RFC 6750 §3
//! allows.
#![no_main]

use auth0_lambda_api::AuthError;
use auth0_lambda_api::api::Realm;
use auth0_lambda_api::auth::Scheme;
use auth0_lambda_api::dpop::Mode;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (&str, Option<&str>, u8)| {
    let (realm, metadata_url, choice) = input;
    let Some(mut realm) = Realm::new(realm) else { return };
    if let Some(url) = metadata_url {
        let Some(with_url) = realm.with_resource_metadata(url) else { return };
        realm = with_url;
    }
    let mode = [Mode::Off, Mode::Allowed, Mode::Required][usize::from(choice % 3)];
    let realm = realm.with_dpop(mode, &["ES256".to_owned(), "EdDSA".to_owned()]);
    let scheme = [None, Some(Scheme::Bearer), Some(Scheme::Dpop)][usize::from(choice / 3 % 3)];
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
        AuthError::InvalidProof("DPoP proof htu is not the request's URL"),
        AuthError::NonceRequired,
    ] {
        let response = error.to_response(&realm, scheme);
        let value = response.headers().get("www-authenticate").expect("a challenge").to_str().unwrap();
        let mut schemes = Vec::new();
        let mut errors = 0;
        // Challenges separated by ", ": a scheme, a space, then auth-params name="quoted-string" separated
        // by ", ".
        let mut chars = value.chars().peekable();
        let mut expect_scheme = true;
        loop {
            let mut word = String::new();
            while let Some(c) = chars.next_if(|c| *c != '=' && *c != ' ') {
                word.push(c);
            }
            if expect_scheme || chars.peek() == Some(&' ') {
                assert!(word == "Bearer" || word == "DPoP", "{word:?} is no scheme in {value}");
                assert_eq!(chars.next(), Some(' '), "{value}");
                schemes.push(word);
                expect_scheme = false;
                continue;
            }
            let name = word;
            assert!(!name.is_empty() && name.chars().all(|c| c.is_ascii_lowercase() || c == '_'), "{value}");
            assert_eq!(chars.next(), Some('='), "{value}");
            assert_eq!(chars.next(), Some('"'), "{value}");
            let mut content = String::new();
            loop {
                match chars.next().expect("an unterminated quoted string") {
                    '\\' => content.push(chars.next().expect("a dangling escape")),
                    '"' => break,
                    c => content.push(c),
                }
            }
            if name == "error" {
                errors += 1;
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
        let offered: &[&str] = match mode {
            Mode::Off => &["Bearer"],
            Mode::Allowed => &["Bearer", "DPoP"],
            Mode::Required => &["DPoP"],
        };
        assert_eq!(schemes, offered, "{value}");
        assert_eq!(errors, usize::from(error != AuthError::MissingHeader), "{value}");
    }
});
