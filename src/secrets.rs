//! The HS256 secret from AWS Secrets Manager, read once during the cold start.
//!
//! Only when `AUTH0_CLIENT_SECRET_ARN` is set does the function load AWS configuration at all: the other
//! configurations never touch the SDK. Any failure (no such secret, access denied, an empty value, a missing
//! JSON key, a throttled or unreachable endpoint) fails the cold start with one message that names the
//! variable, within [`SECRET_TIMEOUT`]; it is never a per-request error.

use std::sync::Arc;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, ConfigLoader};
use aws_sdk_secretsmanager::config::http::HttpResponse;
use aws_sdk_secretsmanager::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueError;
use aws_smithy_runtime_api::client::http::{
    HttpConnector as SdkConnector, HttpConnectorFuture, SharedHttpClient, SharedHttpConnector, http_client_fn,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse as SdkResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_types::body::SdkBody;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::config::{Config, ConfigError, FetchedSecret, var};

/// The whole read, credentials and retries included. Lambda allows 10 s for init; this leaves room for the
/// JWKS fetch.
pub const SECRET_TIMEOUT: Duration = Duration::from_secs(4);
/// One attempt. A throttled or failed first attempt gets one retry within [`SECRET_TIMEOUT`].
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_millis(1500);
/// Attempts, the first included.
pub const MAX_ATTEMPTS: u32 = 2;

/// The AWS configuration loader production uses: the environment Lambda provides (region, role credentials).
pub fn aws_defaults() -> ConfigLoader {
    aws_config::defaults(BehaviorVersion::latest())
}

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
    let client_secret =
        fetch_client_secret(aws(), trust.client_config()?, arn.trim(), json_key.as_deref().map(str::trim)).await?;
    Config::with_fetched_secret(&lookup, FetchedSecret { client_secret, trust })
}

/// Reads the secret's `SecretString`: the whole string, or the string under `json_key` when the secret is a
/// JSON object (as the console's "key/value" secrets are). The SDK speaks HTTPS through [`http_client`] with
/// `tls`.
pub async fn fetch_client_secret(
    loader: ConfigLoader,
    tls: Arc<rustls::ClientConfig>,
    arn: &str,
    json_key: Option<&str>,
) -> Result<String, ConfigError> {
    let read = async {
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(1))
            .operation_attempt_timeout(ATTEMPT_TIMEOUT)
            .operation_timeout(SECRET_TIMEOUT)
            .build();
        let aws = loader
            .http_client(http_client(tls))
            .timeout_config(timeouts)
            .retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS));
        let client = aws_sdk_secretsmanager::Client::new(&aws.load().await);
        client.get_secret_value().secret_id(arn).send().await
    };
    // The outer bound also covers credential discovery, which the SDK's operation timeout does not.
    let output =
        tokio::time::timeout(SECRET_TIMEOUT, read).await.map_err(|_| invalid(timed_out()))?.map_err(describe)?;
    let text = output
        .secret_string()
        .ok_or_else(|| invalid("the secret has no SecretString (binary secrets are not supported)"))?;
    let secret = match json_key {
        None => text.to_owned(),
        Some(key) => {
            let object: serde_json::Map<String, serde_json::Value> = serde_json::from_str(text).map_err(|_| {
                invalid("the secret is not a JSON object, as AUTH0_CLIENT_SECRET_JSON_KEY says it should be")
            })?;
            object
                .get(key)
                .and_then(serde_json::Value::as_str)
                .ok_or_else(|| invalid(format!("the secret's JSON has no string under the key {key:?}")))?
                .to_owned()
        }
    };
    if secret.trim().is_empty() {
        return Err(invalid("the secret is empty"));
    }
    Ok(secret)
}

/// The AWS SDK's HTTP client: the function's own connector ([`crate::tls::https_connector`]) over `tls`, with
/// the connect timeout the SDK asks for. Plain `http://` endpoints work too (`AWS_ENDPOINT_URL` on loopback).
pub fn http_client(tls: Arc<rustls::ClientConfig>) -> SharedHttpClient {
    http_client_fn(move |settings, _components| {
        let https = crate::tls::https_connector(&tls, settings.connect_timeout());
        SharedHttpConnector::new(HyperConnector { client: Client::builder(TokioExecutor::new()).build(https) })
    })
}

/// One SDK request through hyper.
#[derive(Debug)]
struct HyperConnector {
    client: Client<HttpsConnector<HttpConnector>, SdkBody>,
}

impl SdkConnector for HyperConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let client = self.client.clone();
        HttpConnectorFuture::new(async move {
            let request = request.try_into_http1x().map_err(|error| ConnectorError::user(error.into()))?;
            let response = client.request(request).await.map_err(|error| {
                // A connection that could not be made, or broke, is worth the SDK's retry; anything else is not.
                if error.is_connect() {
                    ConnectorError::io(error.into())
                } else {
                    ConnectorError::other(error.into(), None)
                }
            })?;
            SdkResponse::try_from(response.map(SdkBody::from_body_1_x))
                .map_err(|error| ConnectorError::other(error.into(), None))
        })
    }
}

/// The one message for a read that ran out of time, whichever bound fired first: the SDK's operation timeout
/// or the outer one around credential discovery (both are [`SECRET_TIMEOUT`]).
fn timed_out() -> String {
    format!("Secrets Manager did not answer in time ({} s)", SECRET_TIMEOUT.as_secs())
}

fn invalid(problem: impl Into<String>) -> ConfigError {
    ConfigError { variable: var::CLIENT_SECRET_ARN, problem: problem.into() }
}

/// One sentence for each way the call can fail. Error messages from AWS name the ARN and the role, never
/// the secret's value.
fn describe(error: SdkError<GetSecretValueError, HttpResponse>) -> ConfigError {
    let problem = match &error {
        SdkError::ServiceError(service) => {
            let code = service.err().code().unwrap_or_default();
            let forbidden = service.raw().status().as_u16() == 403;
            // Secrets Manager answers DecryptionFailure, or AccessDenied naming KMS, when the secret's
            // customer-managed key does not let the caller decrypt.
            let kms = code == "DecryptionFailure" || service.err().message().is_some_and(|text| text.contains("KMS"));
            match code {
                "ResourceNotFoundException" => "no such secret (ResourceNotFoundException)".to_owned(),
                _ if kms => "the secret cannot be decrypted: the function's role needs kms:Decrypt on the secret's \
                             KMS key (template parameter Auth0ClientSecretKmsKeyArn)"
                    .to_owned(),
                _ if forbidden || code.contains("AccessDenied") => {
                    "access denied: the function's role needs secretsmanager:GetSecretValue on this secret".to_owned()
                }
                "" => format!("Secrets Manager refused the request: {}", DisplayErrorContext(&error)),
                _ => format!("Secrets Manager refused the request ({code})"),
            }
        }
        SdkError::TimeoutError(_) => timed_out(),
        SdkError::DispatchFailure(_) => format!("Secrets Manager is unreachable: {}", DisplayErrorContext(&error)),
        _ => format!("cannot read the secret: {}", DisplayErrorContext(&error)),
    };
    invalid(problem)
}
