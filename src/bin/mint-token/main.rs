//! `mint-token`: signs a token with the function's own configuration, for calling the API locally.
//!
//! It reads the same `AUTH0_*` variables as the function, from `--env-file` (the file `cargo lambda watch
//! --env-file` gives the function, `dev/local.env` for local development) and the environment, so the token
//! it prints is one the function accepts. HS256 tokens use `AUTH0_CLIENT_SECRET`; RS256 tokens use the local
//! development key in `dev/`, whose JWKS `--print-jwks` prints for the function to fetch.

mod events;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use auth0_lambda_api::Config;
use auth0_lambda_api::dpop::client::ProofKey;
use base64::Engine as _;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Map, Value, json};

const USAGE: &str = "\
Usage: mint-token [--env-file FILE] [--alg HS256|RS256] [--email ADDRESS] [--sub SUBJECT]
                  [--expires-in DURATION] [--audience AUDIENCE] [--scope SCOPES] [--permissions LIST]
                  [--dpop-key FILE]
       mint-token --dpop-key FILE --proof METHOD URL --token TOKEN [--nonce NONCE]
       mint-token --print-jwks
       mint-token [--env-file FILE] --write-events DIR

Prints a token for AUTH0_AUDIENCE and AUTH0_ISSUER: HS256 signed with AUTH0_CLIENT_SECRET, or RS256 signed
with the local development key (kid local-development-rs256).

  --env-file FILE        read AUTH0_* variables from FILE (KEY=VALUE lines, # comments), as
                         `cargo lambda watch --env-file FILE` gives them to the function; the file wins
                         over the environment (e.g. dev/local.env, the local development configuration)
  --alg ALG              HS256 or RS256 (default: HS256 when AUTH0_CLIENT_SECRET is set, else RS256)
  --email ADDRESS        the email claim (default: none; the API then greets by sub)
  --sub SUBJECT          the subject (default: auth0|local-developer)
  --expires-in DURATION  lifetime: 90, 90s, 15m, 1h or 1d (default: 1h)
  --audience AUDIENCE    the aud claim (default: the first AUTH0_AUDIENCE)
  --scope SCOPES         the scope claim, space-separated (default: none)
  --permissions LIST     the permissions claim, comma-separated (default: none)
  --dpop-key FILE        bind the token to the DPoP key in FILE (cnf.jkt), created when missing
  --proof METHOD URL     print a DPoP proof (RFC 9449) for a request of METHOD to URL (no query), signed
                         with --dpop-key, for --token (its ath), with the server's --nonce if it asked
  --print-jwks           print the JWKS of the local development key, to serve as AUTH0_JWKS_URL
  --write-events DIR     write API Gateway events (v1, v2, authorizers) for every outcome, tokens fresh";

/// The local development RSA key (PKCS#1). It is public, so no deployed API may ever trust it.
const LOCAL_RSA_KEY: &str = include_str!("../../../dev/local-rs256-private-key.pem");
/// The `kid` of the local development key.
const LOCAL_KID: &str = "local-development-rs256";

struct Options {
    env_file: Option<PathBuf>,
    alg: Option<Algorithm>,
    print_jwks: bool,
    write_events: Option<PathBuf>,
    email: Option<String>,
    sub: String,
    lifetime: u64,
    audience: Option<String>,
    scope: Option<String>,
    permissions: Option<Vec<String>>,
    dpop_key: Option<PathBuf>,
    proof: Option<(String, String)>,
    token: Option<String>,
    nonce: Option<String>,
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
    if options.print_jwks {
        return match local_jwks() {
            Ok(jwks) => {
                println!("{jwks}");
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("mint-token: cannot read the local development key: {error}");
                ExitCode::FAILURE
            }
        };
    }
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_secs());
    if let Some((method, url)) = &options.proof {
        return match proof(&options, method, url, now) {
            Ok(proof) => {
                println!("{proof}");
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("mint-token: {error}");
                ExitCode::FAILURE
            }
        };
    }
    let file = match options.env_file.as_deref().map(read_env_file).transpose() {
        Ok(file) => file.unwrap_or_default(),
        Err(error) => {
            eprintln!("mint-token: {error}");
            return ExitCode::FAILURE;
        }
    };
    let config = match Config::from_lookup(|name| file.get(name).cloned().or_else(|| std::env::var(name).ok())) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("mint-token: invalid configuration: {error}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(dir) = &options.write_events {
        return match events::write_all(dir, now, |options, now| mint(&config, options, now)) {
            Ok(count) => {
                eprintln!("mint-token: wrote {count} events to {}", dir.display());
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("mint-token: cannot write the events: {error}");
                ExitCode::FAILURE
            }
        };
    }
    match mint(&config, options, now) {
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

/// A token for `options`, issued at `now` (seconds since the Unix epoch).
fn mint(config: &Config, options: Options, now: u64) -> Result<String, String> {
    let mut claims = Map::new();
    if let Some(issuer) = config.issuers.first() {
        claims.insert("iss".into(), json!(issuer));
    }
    claims.insert("sub".into(), json!(options.sub));
    claims.insert("aud".into(), json!(options.audience.as_ref().unwrap_or(&config.audiences[0])));
    claims.insert("iat".into(), json!(now));
    claims.insert("exp".into(), json!(now.saturating_add(options.lifetime)));
    if let Some(email) = options.email {
        claims.insert("email".into(), json!(email));
    }
    if let Some(scope) = options.scope {
        claims.insert("scope".into(), json!(scope));
    }
    if let Some(permissions) = options.permissions {
        claims.insert("permissions".into(), json!(permissions));
    }
    if let Some(path) = &options.dpop_key {
        claims.insert("cnf".into(), json!({"jkt": dpop_key(path, true)?.thumbprint()}));
    }
    let alg = options.alg.unwrap_or(if config.hmac_secret.is_some() { Algorithm::HS256 } else { Algorithm::RS256 });
    let (header, key) = match alg {
        Algorithm::HS256 => {
            let secret = config.hmac_secret.as_deref().ok_or("HS256 needs AUTH0_CLIENT_SECRET")?;
            (Header::new(alg), EncodingKey::from_secret(secret).map_err(|error| error.to_string())?)
        }
        _ => {
            let mut header = Header::new(alg);
            header.kid = Some(LOCAL_KID.to_owned());
            (header, local_rsa_key()?)
        }
    };
    jsonwebtoken::encode(&header, &Value::Object(claims), &key).map_err(|error| error.to_string())
}

/// A DPoP proof for `method` and `url` with the options' key, token and nonce.
fn proof(options: &Options, method: &str, url: &str, now: u64) -> Result<String, String> {
    let path = options.dpop_key.as_deref().ok_or("--proof needs --dpop-key, the key the token is bound to")?;
    let token = options.token.as_deref().ok_or("--proof needs --token, the token the proof goes with")?;
    if url.contains(['?', '#']) {
        return Err(format!("--proof {method} {url}: the URL of a proof has no query or fragment"));
    }
    if auth0_lambda_api::dpop::normalize_url(url).is_none() {
        return Err(format!("--proof {method} {url}: the URL must be an absolute http(s) URL"));
    }
    let key = dpop_key(path, false)?;
    let mut jti = [0u8; 16];
    aws_lc_rs::rand::fill(&mut jti).map_err(|_| "no randomness for the proof's jti")?;
    let jti = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(jti);
    Ok(key.proof(method, url, token.trim(), now, &jti, options.nonce.as_deref()))
}

/// The DPoP key in `path` (base64 of its PKCS#8 document); when `create`, a new key written there (readable
/// by its owner only) if the file does not exist.
fn dpop_key(path: &std::path::Path, create: bool) -> Result<ProofKey, String> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let shown = path.display();
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let der = base64::engine::general_purpose::STANDARD
                .decode(text.trim())
                .map_err(|_| format!("{shown} is not a DPoP key written by mint-token"))?;
            ProofKey::from_pkcs8(&der).map_err(|_| format!("{shown} is not a DPoP key written by mint-token"))
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound && create => {
            let key = ProofKey::generate();
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
                .map_err(|error| format!("cannot create {shown}: {error}"))?;
            let text = base64::engine::general_purpose::STANDARD.encode(key.to_pkcs8());
            writeln!(file, "{text}").map_err(|error| format!("cannot write {shown}: {error}"))?;
            eprintln!("mint-token: created the DPoP key {shown}");
            Ok(key)
        }
        Err(error) => Err(format!("cannot read {shown}: {error}")),
    }
}

/// The local development key, from its PEM text.
fn local_rsa_key() -> Result<EncodingKey, String> {
    let base64: String =
        LOCAL_RSA_KEY.lines().filter(|line| !line.starts_with('#') && !line.starts_with("-----")).collect();
    let der = base64::engine::general_purpose::STANDARD.decode(base64).map_err(|error| error.to_string())?;
    Ok(EncodingKey::from_rsa_der(&der))
}

/// `{"keys": [...]}` with the public half of the local development key.
fn local_jwks() -> Result<Value, String> {
    let jwk = Jwk::from_encoding_key(&local_rsa_key()?, Algorithm::RS256).map_err(|error| error.to_string())?;
    let mut jwk = serde_json::to_value(jwk).map_err(|error| error.to_string())?;
    jwk["kid"] = json!(LOCAL_KID);
    jwk["use"] = json!("sig");
    Ok(json!({ "keys": [jwk] }))
}

impl Default for Options {
    fn default() -> Self {
        Self {
            env_file: None,
            alg: None,
            print_jwks: false,
            write_events: None,
            email: None,
            sub: "auth0|local-developer".into(),
            lifetime: 3600,
            audience: None,
            scope: None,
            permissions: None,
            dpop_key: None,
            proof: None,
            token: None,
            nonce: None,
        }
    }
}

/// The `KEY=VALUE` lines of an env file; blank lines and `#` comments are skipped, and a value in matching
/// quotes is read without them, as `cargo lambda watch --env-file` reads it (a value with spaces needs them).
fn read_env_file(path: &std::path::Path) -> Result<std::collections::HashMap<String, String>, String> {
    let text = std::fs::read_to_string(path).map_err(|error| format!("cannot read {}: {error}", path.display()))?;
    let mut vars = std::collections::HashMap::new();
    for (number, line) in text.lines().enumerate().map(|(index, line)| (index + 1, line.trim())) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) =
            line.split_once('=').ok_or_else(|| format!("{}:{number}: not a KEY=VALUE line", path.display()))?;
        let value = value.trim();
        let unquoted = ['"', '\''].iter().find_map(|quote| value.strip_prefix(*quote)?.strip_suffix(*quote));
        vars.insert(key.trim().to_owned(), unquoted.unwrap_or(value).to_owned());
    }
    Ok(vars)
}

/// `Ok(None)` when help was asked for.
fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Option<Options>, String> {
    let mut options = Options::default();
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "-h" | "--help" => return Ok(None),
            "--print-jwks" => {
                options.print_jwks = true;
                continue;
            }
            "--write-events" => {
                options.write_events = Some(args.next().map_or_else(|| PathBuf::from("events"), PathBuf::from));
                continue;
            }
            _ => {}
        }
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--env-file" => options.env_file = Some(PathBuf::from(value)),
            "--email" => options.email = Some(value),
            "--sub" => options.sub = value,
            "--expires-in" => options.lifetime = parse_duration(&value)?,
            "--audience" => options.audience = Some(value),
            "--scope" => options.scope = Some(value),
            "--dpop-key" => options.dpop_key = Some(PathBuf::from(value)),
            "--token" => options.token = Some(value),
            "--nonce" => options.nonce = Some(value),
            "--proof" => {
                let url = args.next().ok_or("--proof needs a METHOD and a URL")?;
                options.proof = Some((value, url));
            }
            "--permissions" => {
                options.permissions = Some(value.split(',').map(str::trim).map(str::to_owned).collect());
            }
            "--alg" => {
                options.alg = Some(match value.as_str() {
                    "HS256" => Algorithm::HS256,
                    "RS256" => Algorithm::RS256,
                    _ => return Err(format!("--alg {value}: use HS256 or RS256")),
                });
            }
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
    fn the_local_env_file_is_the_local_development_configuration() {
        let path = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/dev/local.env"));
        let vars = read_env_file(path).unwrap();
        let config = Config::from_lookup(|name| vars.get(name).cloned()).unwrap();
        assert_eq!(config.hmac_secret.as_deref(), Some(auth0_lambda_api::config::LOCAL_DEVELOPMENT_SECRET.as_bytes()));
        assert_eq!(config.audiences, ["https://auth0-lambda-api.local"]);
        assert_eq!(config.issuers, ["https://auth0-lambda-api.local/"]);
        // The authorizer's rules, quoted for their spaces, read as they are meant.
        let settings = auth0_lambda_api::authorizer::Settings::from_lookup(|name| vars.get(name).cloned()).unwrap();
        assert!(settings.routes.find("GET/api/private-scoped").is_some());
        let options = parse_args(["--env-file", "dev/local.env"].iter().map(|s| s.to_string())).unwrap().unwrap();
        assert_eq!(options.env_file.as_deref(), Some(std::path::Path::new("dev/local.env")));
    }

    #[test]
    fn the_tenant_example_is_a_tenant_configuration_without_a_secret() {
        let path = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/dev/tenant.env.example"));
        let vars = read_env_file(path).unwrap();
        let config = Config::from_lookup(|name| vars.get(name).cloned()).unwrap();
        assert_eq!(config.issuers, ["https://example.us.auth0.com/"]);
        assert_eq!(config.algorithms, [Algorithm::RS256]);
        assert!(config.hmac_secret.is_none());
    }

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
        assert!(args(&["--proof", "GET"]).is_err());
    }

    #[test]
    fn a_bound_token_and_its_proof_come_from_one_key_file() {
        let dir = std::env::temp_dir().join(format!("mint-token-dpop-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("key");
        let _ = std::fs::remove_file(&path);
        let vars = [
            ("AUTH0_AUDIENCE", "https://api.example.com"),
            ("AUTH0_CLIENT_SECRET", "a-secret-of-at-least-thirty-two-bytes-0123"),
        ];
        let config =
            Config::from_lookup(|name| vars.iter().find(|(key, _)| *key == name).map(|(_, v)| (*v).to_owned()))
                .unwrap();
        let options = Options { dpop_key: Some(path.clone()), ..Options::default() };
        let token = mint(&config, options, 1_800_000_000).unwrap();
        let key = dpop_key(&path, false).unwrap();
        let payload = token.split('.').nth(1).unwrap();
        let claims: Value =
            serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
        assert_eq!(claims["cnf"]["jkt"], key.thumbprint());
        let options = Options { dpop_key: Some(path.clone()), token: Some(token.clone()), ..Options::default() };
        let proof = proof(&options, "GET", "http://127.0.0.1:9000/protected", 1_800_000_000).unwrap();
        let expected = auth0_lambda_api::dpop::Expected {
            method: "GET",
            url: "http://127.0.0.1:9000/protected",
            token: &token,
            algorithms: &[Algorithm::ES256],
            max_age: 300,
            leeway: 5,
            now: 1_800_000_000,
        };
        assert_eq!(auth0_lambda_api::dpop::proof::check(&proof, &expected).unwrap().thumbprint, key.thumbprint());
        assert!(proof_with_query_is_refused(&options));
        assert!(dpop_key(&dir.join("missing"), false).is_err(), "only minting a token creates a key");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn proof_with_query_is_refused(options: &Options) -> bool {
        proof(options, "GET", "http://127.0.0.1:9000/protected?x=1", 0).is_err()
    }
}
