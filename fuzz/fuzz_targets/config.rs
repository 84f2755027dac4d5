//! Configuration parsing: any values for the variables the function reads. It never panics, and neither an
//! error nor the configuration's Debug ever contains the client secret.
#![no_main]

use arbitrary::Arbitrary;
use auth0_lambda_api::Config;
use libfuzzer_sys::fuzz_target;

const VARIABLES: [&str; 16] = [
    "AUTH0_AUDIENCE",
    "AUTH0_DOMAIN",
    "AUTH0_ISSUER",
    "AUTH0_JWKS_URL",
    "AUTH0_JWKS",
    "AUTH0_ALGORITHMS",
    "AUTH0_SECRET_ENCODING",
    "AUTH0_LEEWAY_SECONDS",
    "AUTH0_REALM",
    "AUTH0_EMAIL_CLAIM",
    "AUTH0_METRICS",
    "AUTH0_METRICS_NAMESPACE",
    "AUTH0_METRICS_DIMENSIONS",
    "AUTH0_JWKS_MAX_STALE_SECONDS",
    "AWS_LAMBDA_LOG_LEVEL",
    "AWS_LAMBDA_FUNCTION_NAME",
];

/// Never part of a message: whatever follows it is secret.
const MARKER: &str = "SeCrEt#";

#[derive(Arbitrary, Debug)]
struct Input {
    vars: Vec<(u8, String)>,
    secret: Option<String>,
}

fuzz_target!(|input: Input| {
    let secret = input.secret.map(|secret| format!("{MARKER}{secret}"));
    let lookup = |name: &str| -> Option<String> {
        if name == "AUTH0_CLIENT_SECRET" {
            return secret.clone();
        }
        if name == "AUTH0_EXTRA_CA_CERTS" {
            return None; // a path: the fuzzer must not read files
        }
        input
            .vars
            .iter()
            .rev()
            .find(|(index, _)| VARIABLES[usize::from(*index) % VARIABLES.len()] == name)
            .map(|(_, value)| value.clone())
    };
    match Config::from_lookup(lookup) {
        Ok(config) => assert!(!format!("{config:?}").contains(MARKER), "Debug shows the secret"),
        Err(error) => assert!(!error.to_string().contains(MARKER), "the error shows the secret: {error}"),
    }
});
