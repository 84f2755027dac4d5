//! The HS256 secret from AWS Secrets Manager, read once during the cold start.
//!
//! Only when `AUTH0_CLIENT_SECRET_ARN` is set does the function load AWS configuration at all: the other
//! configurations never touch it. The read is one signed `GetSecretValue` call ([`crate::aws`]), not the
//! Secrets Manager SDK. Any failure (no such secret, access denied, an empty value, a missing JSON key, a
//! throttled or unreachable endpoint) fails the cold start with one message that names the variable, within
//! [`SECRET_TIMEOUT`]; it is never a per-request error.

use std::sync::Arc;
use std::time::Duration;

use aws_config::ConfigLoader;
use serde_json::Value;

use crate::aws::{self, Answer, Failure, Unconfigured};
use crate::config::{Config, ConfigError, FetchedSecret, var};

/// The whole read, credentials and retries included. Lambda allows 10 s for init; this leaves room for the
/// JWKS fetch.
pub const SECRET_TIMEOUT: Duration = Duration::from_secs(4);
/// One attempt. A throttled or failed first attempt gets one retry within [`SECRET_TIMEOUT`].
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_millis(1500);
/// Attempts, the first included.
pub const MAX_ATTEMPTS: u32 = 2;
/// The pause before retrying a read that Secrets Manager throttled or failed (an answer, not a lost one).
const RETRY_BACKOFF: Duration = Duration::from_millis(100);
/// Connecting to Secrets Manager.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// Reads the configuration through `lookup`, fetching `AUTH0_CLIENT_SECRET` from Secrets Manager first when
/// `AUTH0_CLIENT_SECRET_ARN` is set. `aws` builds the AWS configuration loader; it is only called then.
pub async fn load_config(
    lookup: impl Fn(&str) -> Option<String>,
    aws: impl FnOnce() -> ConfigLoader,
) -> Result<Config, ConfigError> {
    let get = crate::config::set_values(&lookup);
    let Some(arn) = get(var::CLIENT_SECRET_ARN) else {
        return Config::from_lookup(&lookup);
    };
    if get(var::CLIENT_SECRET).is_some() {
        return Err(invalid("set AUTH0_CLIENT_SECRET or AUTH0_CLIENT_SECRET_ARN, not both"));
    }
    let json_key = get(var::CLIENT_SECRET_JSON_KEY);
    let trust = crate::config::trust(&get)?;
    // Boxed: the AWS configuration loader's future is several kilobytes, and unboxed it would be part of
    // every cold start's stack frame (each page of it probed, a page fault each), secret or not.
    let fetch = fetch_client_secret(aws(), trust.client_config()?, arn.trim(), json_key.as_deref().map(str::trim));
    let client_secret = Box::pin(fetch).await?;
    Config::with_fetched_secret(&lookup, FetchedSecret { client_secret, trust })
}

/// Reads the secret's `SecretString`: the whole string, or the string under `json_key` when the secret is a
/// JSON object (as the console's "key/value" secrets are). The call goes over HTTPS with `tls`, in the ARN's
/// region, with the credentials and endpoint settings of the configuration `loader` makes.
pub async fn fetch_client_secret(
    loader: ConfigLoader,
    tls: Arc<rustls::ClientConfig>,
    arn: &str,
    json_key: Option<&str>,
) -> Result<String, ConfigError> {
    let read = async {
        let client = aws::Client::for_resource(loader, &aws::SECRETS_MANAGER, arn, &tls, CONNECT_TIMEOUT)
            .await
            .map_err(unconfigured)?;
        let request = serde_json::json!({ "SecretId": arn }).to_string();
        let mut attempt = 1;
        loop {
            let outcome = client.call("GetSecretValue", &request, ATTEMPT_TIMEOUT).await;
            let transient = match &outcome {
                Ok(answer) => answer.is_throttled() || answer.status.is_server_error(),
                Err(failure) => failure.is_transient(),
            };
            if !transient || attempt == MAX_ATTEMPTS {
                break outcome.map_err(failed).and_then(secret_string);
            }
            attempt += 1;
            if outcome.is_ok() {
                tokio::time::sleep(RETRY_BACKOFF).await;
            }
        }
    };
    // The bound covers credential discovery too.
    let text = tokio::time::timeout(SECRET_TIMEOUT, read).await.map_err(|_| invalid(timed_out()))??;
    let secret = match json_key {
        None => text,
        Some(key) => {
            let object: serde_json::Map<String, Value> = serde_json::from_str(&text).map_err(|_| {
                invalid("the secret is not a JSON object, as AUTH0_CLIENT_SECRET_JSON_KEY says it should be")
            })?;
            object
                .get(key)
                .and_then(Value::as_str)
                .ok_or_else(|| invalid(format!("the secret's JSON has no string under the key {key:?}")))?
                .to_owned()
        }
    };
    if secret.trim().is_empty() {
        return Err(invalid("the secret is empty"));
    }
    Ok(secret)
}

/// The one message for a read that ran out of time, whichever bound fired first.
fn timed_out() -> String {
    format!("Secrets Manager did not answer in time ({} s)", SECRET_TIMEOUT.as_secs())
}

fn invalid(problem: impl Into<String>) -> ConfigError {
    ConfigError { variable: var::CLIENT_SECRET_ARN, problem: problem.into() }
}

fn unconfigured(why: Unconfigured) -> ConfigError {
    invalid(match why {
        Unconfigured::NoRegion => "no AWS region: the ARN names none and AWS_REGION is not set",
        Unconfigured::BadRegion => "the region (the ARN's, else AWS_REGION) is not an AWS region name",
        Unconfigured::NoCredentials => "no AWS credentials provider in the function's AWS configuration",
        Unconfigured::BadEndpoint => "AWS_ENDPOINT_URL_SECRETS_MANAGER (or AWS_ENDPOINT_URL) is not a URL with a host",
    })
}

/// One sentence for a call that got no answer.
fn failed(failure: Failure) -> ConfigError {
    invalid(match failure {
        Failure::Credentials(error) => format!("no AWS credentials: {error}"),
        Failure::Request => "the request could not be signed".to_owned(),
        Failure::Unreachable(error) => format!("Secrets Manager is unreachable: {error}"),
        Failure::TimedOut => timed_out(),
    })
}

/// The secret's `SecretString`, or one sentence for each way Secrets Manager refuses. Its error messages name
/// the ARN and the role, never the secret's value; only the error's name is quoted.
fn secret_string(answer: Answer) -> Result<String, ConfigError> {
    if answer.status.is_success() {
        let Value::Object(mut body) = answer.body else {
            return Err(invalid("the endpoint's answer is not Secrets Manager's (not a JSON object)"));
        };
        return match body.remove("SecretString") {
            Some(Value::String(text)) => Ok(text),
            _ => Err(invalid("the secret has no SecretString (binary secrets are not supported)")),
        };
    }
    let code = answer.error_name();
    // Secrets Manager answers DecryptionFailure, or AccessDenied naming KMS, when the secret's customer-managed
    // key does not let the caller decrypt.
    let kms = code == "DecryptionFailure" || answer.error_message().contains("KMS");
    let problem = match code {
        "ResourceNotFoundException" => "no such secret (ResourceNotFoundException)".to_owned(),
        _ if kms => "the secret cannot be decrypted: the function's role needs kms:Decrypt on the secret's KMS key \
                     (template parameter Auth0ClientSecretKmsKeyArn)"
            .to_owned(),
        _ if answer.status == 403 || code.contains("AccessDenied") => {
            "access denied: the function's role needs secretsmanager:GetSecretValue on this secret".to_owned()
        }
        _ if answer.refused_credentials() => format!("the AWS credentials were refused ({code})"),
        "" => format!("Secrets Manager refused the request (HTTP {}, not a Secrets Manager answer)", answer.status),
        _ => format!("Secrets Manager refused the request ({code})"),
    };
    Err(invalid(problem))
}
