//! The claims of a verified token: registered claims typed, the whole claim set kept as sent.

use serde_json::{Map, Value};

/// The claims of a token that passed every check (the seed's `current_user`).
///
/// The registered time claims are parsed once; string claims are read from the original claim set, so
/// nothing is copied. `Debug` prints claim names only: claim values never reach a log by accident.
#[derive(Clone, PartialEq)]
pub struct Claims {
    pub(crate) exp: i64,
    pub(crate) nbf: Option<i64>,
    pub(crate) iat: Option<i64>,
    pub(crate) all: Map<String, Value>,
}

impl Claims {
    /// `sub`: the user (or `<client-id>@clients` for machine-to-machine tokens), when present.
    pub fn sub(&self) -> Option<&str> {
        self.str_claim("sub")
    }

    /// `iss`: the issuer, when present (always present when issuers are configured).
    pub fn iss(&self) -> Option<&str> {
        self.str_claim("iss")
    }

    /// `aud`: the audiences, whether the token sent one string or an array.
    pub fn audiences(&self) -> impl Iterator<Item = &str> {
        let (single, many) = match self.all.get("aud") {
            Some(Value::String(one)) => (Some(one.as_str()), None),
            Some(Value::Array(list)) => (None, Some(list.iter().filter_map(Value::as_str))),
            _ => (None, None),
        };
        single.into_iter().chain(many.into_iter().flatten())
    }

    /// `exp`: expiry, in seconds since the Unix epoch (rounded down when the token sent a fraction).
    pub fn exp(&self) -> i64 {
        self.exp
    }

    /// `nbf`: not-before, in seconds since the Unix epoch (rounded up), when present.
    pub fn nbf(&self) -> Option<i64> {
        self.nbf
    }

    /// `iat`: issued-at, in seconds since the Unix epoch, when present.
    pub fn iat(&self) -> Option<i64> {
        self.iat
    }

    /// Any claim, as sent.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.all.get(name)
    }

    /// A claim that is a JSON string; `None` when it is absent or of another type.
    pub fn str_claim(&self, name: &str) -> Option<&str> {
        self.all.get(name).and_then(Value::as_str)
    }

    /// The whole claim set, as sent.
    pub fn all(&self) -> &Map<String, Value> {
        &self.all
    }

    /// Who to greet: `email`, else the custom claim named by `email_claim` (Auth0 access tokens carry the
    /// email only in a namespaced claim), else `sub`. A claim of another type is skipped, never an error.
    pub fn display_name<'a>(&'a self, email_claim: Option<&str>) -> Option<&'a str> {
        self.str_claim("email")
            .or_else(|| email_claim.and_then(|name| self.str_claim(name)))
            .or_else(|| self.sub())
    }
}

impl std::fmt::Debug for Claims {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Claims")
            .field("names", &self.all.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(value: Value) -> Claims {
        let Value::Object(all) = value else { unreachable!() };
        Claims {
            exp: 0,
            nbf: None,
            iat: None,
            all,
        }
    }

    #[test]
    fn audiences_accept_a_string_or_an_array() {
        assert_eq!(claims(json!({"aud": "a"})).audiences().collect::<Vec<_>>(), ["a"]);
        assert_eq!(
            claims(json!({"aud": ["a", "b"]})).audiences().collect::<Vec<_>>(),
            ["a", "b"]
        );
        assert_eq!(claims(json!({})).audiences().count(), 0);
    }

    #[test]
    fn display_name_prefers_email() {
        let c = claims(json!({"email": "e@x", "https://x/email": "c@x", "sub": "s"}));
        assert_eq!(c.display_name(Some("https://x/email")), Some("e@x"));
    }

    #[test]
    fn display_name_falls_back_to_the_custom_claim() {
        let c = claims(json!({"https://x/email": "c@x", "sub": "s"}));
        assert_eq!(c.display_name(Some("https://x/email")), Some("c@x"));
        assert_eq!(c.display_name(None), Some("s"));
    }

    #[test]
    fn display_name_skips_claims_that_are_not_strings() {
        let c = claims(json!({"email": 42, "https://x/email": null, "sub": "s"}));
        assert_eq!(c.display_name(Some("https://x/email")), Some("s"));
        assert_eq!(claims(json!({"email": ["a"]})).display_name(None), None);
    }

    #[test]
    fn debug_prints_names_but_never_values() {
        let shown = format!("{:?}", claims(json!({"email": "secret@example.com"})));
        assert!(shown.contains("email"));
        assert!(!shown.contains("secret@example.com"));
    }
}
