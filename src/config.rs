//! The environment, read once at cold start, validated and typed. Handlers never read the environment.

use base64::Engine as _;
use base64::alphabet::STANDARD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

use tracing::level_filters::LevelFilter;

use crate::error::Realm;
use crate::verify::{DEFAULT_LEEWAY_SECONDS, Policy};

/// Largest accepted `AUTH0_LEEWAY_SECONDS`: more than five minutes of skew is a broken clock, not skew.
pub const MAX_LEEWAY_SECONDS: u64 = 300;

/// RFC 7518 §3.2: an HMAC key must be at least as long as the hash output (32 bytes for HS256).
pub const MIN_SECRET_BYTES: usize = 32;

/// How `AUTH0_CLIENT_SECRET` is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretEncoding {
    /// The secret's bytes are the key, as Auth0 issues client secrets today.
    Raw,
    /// Auth0 client secrets created before December 2016: base64url, decoded the way the Flask quickstart
    /// did (padded or not, `-`/`_` or `+`/`/`).
    Base64Url,
}

/// The validated configuration of one function instance.
#[derive(Clone)]
pub struct Config {
    /// `AUTH0_AUDIENCE`: accepted `aud` values.
    pub audiences: Vec<String>,
    /// `AUTH0_ISSUER`: accepted `iss` values; empty means `iss` is not checked.
    pub issuers: Vec<String>,
    /// `AUTH0_CLIENT_SECRET`, decoded according to `AUTH0_SECRET_ENCODING`.
    pub hmac_secret: Vec<u8>,
    /// `AUTH0_LEEWAY_SECONDS`.
    pub leeway: u64,
    /// `AUTH0_REALM`, defaulting to the first audience.
    pub realm: Realm,
    /// `AUTH0_EMAIL_CLAIM`: the namespaced claim holding the email in access tokens.
    pub email_claim: Option<String>,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("audiences", &self.audiences)
            .field("issuers", &self.issuers)
            .field("hmac_secret", &"[redacted]")
            .field("leeway", &self.leeway)
            .field("realm", &self.realm)
            .field("email_claim", &self.email_claim)
            .finish()
    }
}

/// A configuration value that is missing or invalid. The message names the variable, never its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The environment variable at fault.
    pub variable: &'static str,
    /// What is wrong with it.
    pub problem: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.variable, self.problem)
    }
}

impl std::error::Error for ConfigError {}

fn invalid(variable: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError {
        variable,
        problem: problem.into(),
    }
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads configuration through `lookup` (the environment in production, a map in tests). An empty value
    /// counts as unset, as SAM passes unused parameters as empty strings.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());

        let audiences = list(get("AUTH0_AUDIENCE"));
        if audiences.is_empty() {
            return Err(invalid(
                "AUTH0_AUDIENCE",
                "is required: the API identifier(s) from the Auth0 dashboard",
            ));
        }
        let issuers = list(get("AUTH0_ISSUER"));

        let encoding = match get("AUTH0_SECRET_ENCODING").as_deref().map(str::trim) {
            None | Some("raw") => SecretEncoding::Raw,
            Some("base64url") => SecretEncoding::Base64Url,
            Some(_) => {
                return Err(invalid("AUTH0_SECRET_ENCODING", "must be `raw` or `base64url`"));
            }
        };
        let secret = get("AUTH0_CLIENT_SECRET")
            .ok_or_else(|| invalid("AUTH0_CLIENT_SECRET", "is required: the HS256 signing secret"))?;
        let hmac_secret = decode_secret(&secret, encoding)?;

        let leeway = match get("AUTH0_LEEWAY_SECONDS") {
            None => DEFAULT_LEEWAY_SECONDS,
            Some(text) => text
                .trim()
                .parse::<u64>()
                .ok()
                .filter(|seconds| *seconds <= MAX_LEEWAY_SECONDS)
                .ok_or_else(|| {
                    invalid(
                        "AUTH0_LEEWAY_SECONDS",
                        format!("must be a whole number of seconds from 0 to {MAX_LEEWAY_SECONDS}"),
                    )
                })?,
        };

        let realm_text = get("AUTH0_REALM").unwrap_or_else(|| audiences[0].clone());
        let realm = Realm::new(&realm_text)
            .ok_or_else(|| invalid("AUTH0_REALM", "must be printable ASCII (it is sent in a header)"))?;

        let email_claim = get("AUTH0_EMAIL_CLAIM").map(|claim| claim.trim().to_owned());

        Ok(Self {
            audiences,
            issuers,
            hmac_secret,
            leeway,
            realm,
            email_claim,
        })
    }

    /// The token policy this configuration describes.
    pub fn policy(&self) -> Policy {
        let mut policy = Policy::new(self.audiences.clone());
        policy.issuers = self.issuers.clone();
        policy.leeway = self.leeway;
        policy
    }
}

/// The log level: `RUST_LOG`, else Lambda's `AWS_LAMBDA_LOG_LEVEL` (set by its advanced logging controls),
/// else `info`. Read apart from [`Config`] because logging starts before the configuration is read, so that
/// a configuration error can be logged.
pub fn log_level(lookup: impl Fn(&str) -> Option<String>) -> Result<LevelFilter, ConfigError> {
    for variable in ["RUST_LOG", "AWS_LAMBDA_LOG_LEVEL"] {
        let Some(text) = lookup(variable).filter(|text| !text.trim().is_empty()) else {
            continue;
        };
        return match text.trim() {
            // Lambda's scale ends at FATAL; tracing's at ERROR.
            fatal if fatal.eq_ignore_ascii_case("fatal") => Ok(LevelFilter::ERROR),
            level => level
                .parse::<LevelFilter>()
                .map_err(|_| invalid(variable, "must be one of error, warn, info, debug, trace, off")),
        };
    }
    Ok(LevelFilter::INFO)
}

/// Splits a comma-separated list, trimming items and dropping empty ones.
fn list(value: Option<String>) -> Vec<String> {
    value
        .iter()
        .flat_map(|text| text.split(','))
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Standard alphabet, padding optional: the legacy secrets are mapped onto it first.
const LENIENT_BASE64: GeneralPurpose = GeneralPurpose::new(
    &STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Turns the configured secret into key bytes.
pub fn decode_secret(secret: &str, encoding: SecretEncoding) -> Result<Vec<u8>, ConfigError> {
    let bytes = match encoding {
        SecretEncoding::Raw => secret.as_bytes().to_vec(),
        SecretEncoding::Base64Url => {
            let standard: String = secret
                .trim()
                .chars()
                .map(|c| match c {
                    '-' => '+',
                    '_' => '/',
                    other => other,
                })
                .collect();
            LENIENT_BASE64.decode(standard).map_err(|_| {
                invalid(
                    "AUTH0_CLIENT_SECRET",
                    "is not valid base64url, as AUTH0_SECRET_ENCODING=base64url says",
                )
            })?
        }
    };
    if bytes.len() < MIN_SECRET_BYTES {
        return Err(invalid(
            "AUTH0_CLIENT_SECRET",
            format!("must be at least {MIN_SECRET_BYTES} bytes once decoded (RFC 7518 §3.2)"),
        ));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const SECRET: &str = "a-raw-client-secret-that-is-long-enough-0123";

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    fn minimal(extra: &[(&'static str, &'static str)]) -> Result<Config, ConfigError> {
        let mut vars = vec![
            ("AUTH0_AUDIENCE", "https://api.example.com"),
            ("AUTH0_CLIENT_SECRET", SECRET),
        ];
        vars.extend_from_slice(extra);
        config(&vars)
    }

    fn failing_variable(result: Result<Config, ConfigError>) -> &'static str {
        result.expect_err("configuration was accepted").variable
    }

    #[test]
    fn minimal_configuration_has_the_documented_defaults() {
        let config = minimal(&[]).unwrap();
        assert_eq!(config.audiences, ["https://api.example.com"]);
        assert!(config.issuers.is_empty());
        assert_eq!(config.hmac_secret, SECRET.as_bytes());
        assert_eq!(config.leeway, 5);
        assert_eq!(config.email_claim, None);
        let challenge = crate::error::AuthError::MissingHeader.to_response(&config.realm);
        assert_eq!(
            challenge.headers()["www-authenticate"],
            "Bearer realm=\"https://api.example.com\""
        );
    }

    #[test]
    fn audience_is_required() {
        assert_eq!(
            failing_variable(config(&[("AUTH0_CLIENT_SECRET", SECRET)])),
            "AUTH0_AUDIENCE"
        );
        assert_eq!(
            failing_variable(config(&[("AUTH0_AUDIENCE", " , "), ("AUTH0_CLIENT_SECRET", SECRET)])),
            "AUTH0_AUDIENCE"
        );
    }

    #[test]
    fn audiences_and_issuers_are_comma_separated_and_trimmed() {
        let config = config(&[
            ("AUTH0_AUDIENCE", "https://a, https://b ,"),
            ("AUTH0_ISSUER", "https://t.auth0.com/,https://login.example.com/"),
            ("AUTH0_CLIENT_SECRET", SECRET),
        ])
        .unwrap();
        assert_eq!(config.audiences, ["https://a", "https://b"]);
        assert_eq!(config.issuers, ["https://t.auth0.com/", "https://login.example.com/"]);
    }

    #[test]
    fn secret_is_required() {
        assert_eq!(
            failing_variable(config(&[("AUTH0_AUDIENCE", "a")])),
            "AUTH0_CLIENT_SECRET"
        );
        assert_eq!(
            failing_variable(config(&[("AUTH0_AUDIENCE", "a"), ("AUTH0_CLIENT_SECRET", "")])),
            "AUTH0_CLIENT_SECRET"
        );
    }

    #[test]
    fn secret_shorter_than_32_bytes_is_refused() {
        assert_eq!(
            failing_variable(config(&[("AUTH0_AUDIENCE", "a"), ("AUTH0_CLIENT_SECRET", "short")])),
            "AUTH0_CLIENT_SECRET"
        );
    }

    #[test]
    fn unknown_secret_encoding_is_refused() {
        assert_eq!(
            failing_variable(minimal(&[("AUTH0_SECRET_ENCODING", "hex")])),
            "AUTH0_SECRET_ENCODING"
        );
    }

    #[test]
    fn legacy_base64url_secret_decodes_in_every_spelling() {
        let key: Vec<u8> = (0u8..48).map(|i| i.wrapping_mul(37) ^ 0xfb).collect();
        let standard = base64::engine::general_purpose::STANDARD.encode(&key);
        assert!(
            standard.contains('+') || standard.contains('/'),
            "the sample must exercise the alphabet"
        );
        let url_padded = standard.replace('+', "-").replace('/', "_");
        let url_bare = url_padded.trim_end_matches('=').to_owned();
        for spelling in [
            standard.clone(),
            url_padded,
            url_bare,
            standard.trim_end_matches('=').to_owned(),
        ] {
            assert_eq!(
                decode_secret(&spelling, SecretEncoding::Base64Url).unwrap(),
                key,
                "{spelling}"
            );
        }
    }

    #[test]
    fn legacy_secret_with_a_padding_remainder_decodes() {
        let key = [7u8; 34]; // 34 bytes: base64 ends in "==", exercising padded and bare forms.
        let padded = base64::engine::general_purpose::URL_SAFE.encode(key);
        assert!(padded.ends_with("=="));
        assert_eq!(decode_secret(&padded, SecretEncoding::Base64Url).unwrap(), key);
        assert_eq!(
            decode_secret(padded.trim_end_matches('='), SecretEncoding::Base64Url).unwrap(),
            key
        );
    }

    #[test]
    fn invalid_base64url_secret_names_the_secret_variable() {
        let error = decode_secret("not base64 at all!!", SecretEncoding::Base64Url).unwrap_err();
        assert_eq!(error.variable, "AUTH0_CLIENT_SECRET");
        assert!(
            !error.to_string().contains("not base64 at all"),
            "the message must not echo the secret"
        );
    }

    #[test]
    fn base64url_encoding_is_selected_by_the_variable() {
        let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([9u8; 40]);
        let mut vars = vec![("AUTH0_AUDIENCE", "a"), ("AUTH0_SECRET_ENCODING", "base64url")];
        vars.push(("AUTH0_CLIENT_SECRET", &secret));
        assert_eq!(config(&vars).unwrap().hmac_secret, [9u8; 40]);
    }

    #[test]
    fn leeway_must_be_a_bounded_whole_number() {
        assert_eq!(minimal(&[("AUTH0_LEEWAY_SECONDS", "0")]).unwrap().leeway, 0);
        assert_eq!(minimal(&[("AUTH0_LEEWAY_SECONDS", "300")]).unwrap().leeway, 300);
        for bad in ["-1", "301", "1.5", "five"] {
            assert_eq!(
                failing_variable(minimal(&[("AUTH0_LEEWAY_SECONDS", bad)])),
                "AUTH0_LEEWAY_SECONDS",
                "{bad}"
            );
        }
    }

    #[test]
    fn realm_with_a_line_break_is_refused() {
        assert_eq!(failing_variable(minimal(&[("AUTH0_REALM", "a\r\nb")])), "AUTH0_REALM");
    }

    #[test]
    fn email_claim_is_read() {
        let config = minimal(&[("AUTH0_EMAIL_CLAIM", "https://example.com/email")]).unwrap();
        assert_eq!(config.email_claim.as_deref(), Some("https://example.com/email"));
    }

    #[test]
    fn log_level_defaults_to_info_and_prefers_rust_log() {
        let level = |vars: &[(&str, &str)]| {
            let map: HashMap<String, String> = vars.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect();
            log_level(|name| map.get(name).cloned())
        };
        assert_eq!(level(&[]), Ok(LevelFilter::INFO));
        assert_eq!(level(&[("AWS_LAMBDA_LOG_LEVEL", "DEBUG")]), Ok(LevelFilter::DEBUG));
        assert_eq!(level(&[("AWS_LAMBDA_LOG_LEVEL", "FATAL")]), Ok(LevelFilter::ERROR));
        assert_eq!(
            level(&[("RUST_LOG", "warn"), ("AWS_LAMBDA_LOG_LEVEL", "DEBUG")]),
            Ok(LevelFilter::WARN)
        );
        assert_eq!(level(&[("RUST_LOG", "verbose")]).unwrap_err().variable, "RUST_LOG");
    }

    #[test]
    fn debug_never_shows_the_secret() {
        assert!(!format!("{:?}", minimal(&[]).unwrap()).contains(SECRET));
    }
}
