//! `mint-token`: signs a token with the function's own configuration, for calling `/protected` locally.
//!
//! It reads the same `AUTH0_*` variables as the function (the local-development values in
//! `.cargo/config.toml` under `cargo run`), so the token it prints is one the function accepts.

use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use auth0_lambda_api::Config;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Map, Value, json};

const USAGE: &str = "\
Usage: mint-token [--email ADDRESS] [--sub SUBJECT] [--expires-in DURATION] [--audience AUDIENCE] [--scope SCOPES]

Prints an HS256 token signed with AUTH0_CLIENT_SECRET, for AUTH0_AUDIENCE and AUTH0_ISSUER.

  --email ADDRESS        the email claim (default: none; the API then greets by sub)
  --sub SUBJECT          the subject (default: auth0|local-developer)
  --expires-in DURATION  lifetime: 90, 90s, 15m, 1h or 1d (default: 1h)
  --audience AUDIENCE    the aud claim (default: the first AUTH0_AUDIENCE)
  --scope SCOPES         the scope claim, space-separated (default: none)";

struct Options {
    email: Option<String>,
    sub: String,
    lifetime: u64,
    audience: Option<String>,
    scope: Option<String>,
}

fn main() -> ExitCode {
    let options = match parse_args(std::env::args().skip(1)) {
        Ok(Some(options)) => options,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(problem) => {
            eprintln!("mint-token: {problem}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("mint-token: invalid configuration: {error}");
            return ExitCode::FAILURE;
        }
    };
    match mint(&config, options) {
        Ok(token) => {
            println!("{token}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("mint-token: cannot sign: {error}");
            ExitCode::FAILURE
        }
    }
}

fn mint(config: &Config, options: Options) -> Result<String, jsonwebtoken::errors::Error> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs());
    let mut claims = Map::new();
    if let Some(issuer) = config.issuers.first() {
        claims.insert("iss".into(), json!(issuer));
    }
    claims.insert("sub".into(), json!(options.sub));
    claims.insert(
        "aud".into(),
        json!(options.audience.as_ref().unwrap_or(&config.audiences[0])),
    );
    claims.insert("iat".into(), json!(now));
    claims.insert("exp".into(), json!(now.saturating_add(options.lifetime)));
    if let Some(email) = options.email {
        claims.insert("email".into(), json!(email));
    }
    if let Some(scope) = options.scope {
        claims.insert("scope".into(), json!(scope));
    }
    let key = EncodingKey::from_secret(&config.hmac_secret)?;
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), &Value::Object(claims), &key)
}

/// `Ok(None)` when help was asked for.
fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Option<Options>, String> {
    let mut options = Options {
        email: None,
        sub: "auth0|local-developer".into(),
        lifetime: 3600,
        audience: None,
        scope: None,
    };
    while let Some(flag) = args.next() {
        if flag == "-h" || flag == "--help" {
            return Ok(None);
        }
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--email" => options.email = Some(value),
            "--sub" => options.sub = value,
            "--expires-in" => options.lifetime = parse_duration(&value)?,
            "--audience" => options.audience = Some(value),
            "--scope" => options.scope = Some(value),
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    Ok(Some(options))
}

/// `90`, `90s`, `15m`, `1h`, `1d` → seconds.
fn parse_duration(text: &str) -> Result<u64, String> {
    let (digits, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(split) => text.split_at(split),
        None => (text, "s"),
    };
    let multiplier = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => {
            return Err(format!("--expires-in {text}: use a number with s, m, h or d"));
        }
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|count| count.checked_mul(multiplier))
        .ok_or_else(|| format!("--expires-in {text}: use a number with s, m, h or d"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_accept_every_unit() {
        assert_eq!(parse_duration("90"), Ok(90));
        assert_eq!(parse_duration("90s"), Ok(90));
        assert_eq!(parse_duration("15m"), Ok(900));
        assert_eq!(parse_duration("1h"), Ok(3600));
        assert_eq!(parse_duration("2d"), Ok(172_800));
    }

    #[test]
    fn malformed_durations_are_refused() {
        for bad in ["", "h", "1w", "-1h", "1.5h", "99999999999999999999d"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn unknown_flags_and_missing_values_are_refused() {
        let args = |list: &[&str]| parse_args(list.iter().map(|s| s.to_string()));
        assert!(args(&["--mail", "x"]).is_err());
        assert!(args(&["--email"]).is_err());
        assert!(args(&["--help"]).unwrap().is_none());
        let options = args(&["--email", "a@b", "--expires-in", "5m"]).unwrap().unwrap();
        assert_eq!((options.email.as_deref(), options.lifetime), (Some("a@b"), 300));
    }
}
