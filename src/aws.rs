//! Calls to AWS services in their JSON protocol, signed with SigV4: `GetSecretValue` for the HS256 secret at
//! cold start, `PutItem` for the DPoP replay table.
//!
//! Two operations do not need two SDK models: the Secrets Manager SDK's client, configuration and endpoint
//! rules cost 2 ms of CPU on every cold start that read a secret, and the DynamoDB SDK's code alone 0.5 MiB of
//! memory on every instance. What the SDK does that matters is kept by using its own parts: the region,
//! endpoint settings and credential providers of `aws-config`, and the signer of `aws-sigv4`. The requests go
//! through the function's HTTPS client ([`crate::tls::https_connector`]), with the same roots as the JWKS.

use std::error::Error as StdError;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use aws_config::environment::{EnvironmentVariableCredentialsProvider, EnvironmentVariableRegionProvider};
use aws_config::{BehaviorVersion, ConfigLoader, SdkConfig};
use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::http::{
    HttpConnector as SdkConnector, HttpConnectorFuture, SharedHttpClient, SharedHttpConnector, http_client_fn,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse as SdkResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_types::body::SdkBody;
use aws_types::service_config::ServiceConfigKey;
use http_body_util::BodyExt as _;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client as HttpClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use lambda_http::http::{Request, StatusCode, Uri};
use serde_json::Value;

/// The AWS configuration of the function's environment: aws-config's defaults, with its own environment
/// providers when the environment holds what Lambda puts there (`AWS_REGION`, the role's
/// `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`). Those providers are the first links of aws-config's
/// default region and credentials chains, which answer with them whenever they have an answer, so the
/// configuration is the same; what is left out is building the chains' other links, which a Lambda function
/// never reaches: profile files, web identity (an STS client, whose endpoint rules parse a partition table
/// and compile regular expressions) and the container and instance metadata clients. That building was 0.8
/// of the 4 million instructions of a cold start that reads the secret. Without them in the environment (a
/// profile, a container's or an instance's role), the whole default chains apply.
pub fn defaults() -> ConfigLoader {
    let loader = aws_config::defaults(BehaviorVersion::latest());
    let (region, credentials) = environment_answers(|name| std::env::var(name).ok());
    let loader = if region { loader.region(EnvironmentVariableRegionProvider::new()) } else { loader };
    if credentials { loader.credentials_provider(EnvironmentVariableCredentialsProvider::new()) } else { loader }
}

/// Whether aws-config's environment providers answer for the region and for the credentials, as they decide
/// it: a region when `AWS_REGION` or `AWS_DEFAULT_REGION` is set; credentials when `AWS_ACCESS_KEY_ID` and
/// `AWS_SECRET_ACCESS_KEY` (or `SECRET_ACCESS_KEY`) are set and not blank.
fn environment_answers(lookup: impl Fn(&str) -> Option<String>) -> (bool, bool) {
    let region = lookup("AWS_REGION").or_else(|| lookup("AWS_DEFAULT_REGION")).is_some();
    let filled = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());
    let credentials = filled("AWS_ACCESS_KEY_ID").is_some()
        && (filled("AWS_SECRET_ACCESS_KEY").or_else(|| filled("SECRET_ACCESS_KEY")).is_some());
    (region, credentials)
}

/// Credentials this close to their expiry are fetched again.
const CREDENTIALS_MARGIN: Duration = Duration::from_secs(60);

/// An AWS service spoken to in its JSON protocol.
#[derive(Debug)]
pub struct Service {
    /// The SDK's service id, which names the endpoint settings (`AWS_ENDPOINT_URL_DYNAMODB`).
    id: &'static str,
    /// The endpoint prefix, which is also the SigV4 signing name.
    name: &'static str,
    /// The `X-Amz-Target` prefix of its operations.
    target: &'static str,
    /// `application/x-amz-json-1.0` or `-1.1`.
    content_type: &'static str,
}

/// Amazon DynamoDB.
pub const DYNAMODB: Service = Service {
    id: "DynamoDB",
    name: "dynamodb",
    target: "DynamoDB_20120810",
    content_type: "application/x-amz-json-1.0",
};

/// AWS Secrets Manager.
pub const SECRETS_MANAGER: Service = Service {
    id: "Secrets Manager",
    name: "secretsmanager",
    target: "secretsmanager",
    content_type: "application/x-amz-json-1.1",
};

/// Why no client could be made from the AWS configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unconfigured {
    /// Neither the resource's ARN nor the configuration names a region.
    NoRegion,
    /// The configuration has no credentials provider.
    NoCredentials,
    /// No endpoint is known for the region's partition, and none is configured.
    NoEndpoint,
}

/// A call that got no answer from the service.
#[derive(Debug)]
pub enum Failure {
    /// The credentials provider gave none (its error, which names the source, never a key).
    Credentials(String),
    /// The request could not be signed or built.
    Request,
    /// The connection could not be made or broke (the error and its causes).
    Unreachable(String),
    /// No answer in the attempt's time.
    TimedOut,
}

impl Failure {
    /// Whether another attempt may get an answer.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unreachable(_) | Self::TimedOut)
    }
}

/// The service's answer: its status and, when the body is a JSON object, the object.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    /// `Value::Null` when the body is not a JSON object (a proxy's page, an empty body).
    pub body: Value,
}

impl Answer {
    /// Whether the body is a JSON object, as every answer of these services is.
    pub fn is_json(&self) -> bool {
        self.body.is_object()
    }

    /// The error's name: `__type` without its namespace (`com.amazonaws.dynamodb.v20120810#ResourceNotFound
    /// Exception` is `ResourceNotFoundException`), or `""`.
    pub fn error_name(&self) -> &str {
        let kind = self.body["__type"].as_str().unwrap_or_default();
        kind.rsplit_once('#').map_or(kind, |(_, name)| name)
    }

    /// The error's message (`message` or `Message`), which may quote the request: not for logs.
    pub fn error_message(&self) -> &str {
        self.body["message"].as_str().or_else(|| self.body["Message"].as_str()).unwrap_or_default()
    }

    /// Whether the service throttled the call.
    pub fn is_throttled(&self) -> bool {
        matches!(
            self.error_name(),
            "ThrottlingException"
                | "Throttling"
                | "TooManyRequestsException"
                | "RequestLimitExceeded"
                | "ProvisionedThroughputExceededException"
        )
    }

    /// Whether the credentials were refused (unknown, expired, or the signature did not match).
    pub fn refused_credentials(&self) -> bool {
        matches!(
            self.error_name(),
            "UnrecognizedClientException"
                | "InvalidSignatureException"
                | "ExpiredTokenException"
                | "IncompleteSignatureException"
                | "MissingAuthenticationTokenException"
                | "InvalidClientTokenId"
                | "SignatureDoesNotMatch"
        )
    }
}

/// A service's client: its endpoint, region and credentials, and an HTTPS client that keeps one connection.
pub struct Client {
    service: &'static Service,
    http: HttpClient<HttpsConnector<HttpConnector>, SdkBody>,
    uri: Uri,
    /// The `Host` header, which is signed: hyper would otherwise write its own.
    host: String,
    region: String,
    credentials: SharedCredentialsProvider,
    cached: Mutex<Option<Credentials>>,
}

impl Client {
    /// A client of `service` in `region` (else the configuration's), at the configured endpoint or the
    /// region's, connecting within `connect_timeout` over `tls`.
    pub fn new(
        config: &SdkConfig,
        service: &'static Service,
        region: Option<&str>,
        tls: &Arc<rustls::ClientConfig>,
        connect_timeout: Duration,
    ) -> Result<Self, Unconfigured> {
        let region = match region {
            Some(region) => region.to_owned(),
            None => config.region().ok_or(Unconfigured::NoRegion)?.to_string(),
        };
        let credentials = config.credentials_provider().ok_or(Unconfigured::NoCredentials)?;
        let endpoint = endpoint(config, service, &region).ok_or(Unconfigured::NoEndpoint)?;
        let uri: Uri = format!("{endpoint}/").parse().map_err(|_| Unconfigured::NoEndpoint)?;
        let host = match (uri.host(), uri.port_u16()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(host), None) => host.to_owned(),
            (None, _) => return Err(Unconfigured::NoEndpoint),
        };
        // A connection is kept for the next call; one that broke while the instance was frozen costs the
        // caller's retry, not an answer.
        let http = HttpClient::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(1)
            .build(crate::tls::https_connector(tls, Some(connect_timeout)));
        Ok(Self { service, http, uri, host, region, credentials, cached: Mutex::new(None) })
    }

    /// One signed call of `operation` with the JSON `body`, answered within `timeout`.
    pub async fn call(&self, operation: &str, body: &str, timeout: Duration) -> Result<Answer, Failure> {
        let credentials = self.credentials().await?;
        let identity = credentials.into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name(self.service.name)
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|_| Failure::Request)?
            .into();
        let target = format!("{}.{operation}", self.service.target);
        let headers = [
            ("host", self.host.as_str()),
            ("content-type", self.service.content_type),
            ("x-amz-target", target.as_str()),
        ];
        let url = self.uri.to_string();
        let signable =
            SignableRequest::new("POST", url.as_str(), headers.into_iter(), SignableBody::Bytes(body.as_bytes()))
                .map_err(|_| Failure::Request)?;
        let (instructions, _) = sign(signable, &params).map_err(|_| Failure::Request)?.into_parts();
        let mut request = Request::post(self.uri.clone());
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let mut request = request.body(SdkBody::from(body.to_owned())).map_err(|_| Failure::Request)?;
        instructions.apply_to_request_http1x(&mut request);

        let exchange = async {
            let response = self.http.request(request).await.map_err(|error| Failure::Unreachable(chain(&error)))?;
            let status = response.status();
            let body = response.into_body().collect().await.map_err(|error| Failure::Unreachable(chain(&error)))?;
            Ok::<_, Failure>((status, body.to_bytes()))
        };
        let (status, body) = tokio::time::timeout(timeout, exchange).await.map_err(|_| Failure::TimedOut)??;
        let body = serde_json::from_slice(&body).ok().filter(Value::is_object).unwrap_or(Value::Null);
        Ok(Answer { status, body })
    }

    /// Drops the kept credentials, after the service refused them: a role's session may have been renewed.
    pub fn forget_credentials(&self) {
        if let Ok(mut cached) = self.cached.lock() {
            *cached = None;
        }
    }

    /// The credentials to sign with: kept until a minute before they expire (a role's session), then fetched
    /// again from the configuration's provider.
    async fn credentials(&self) -> Result<Credentials, Failure> {
        let fresh = |credentials: &Credentials| {
            credentials.expiry().is_none_or(|expiry| expiry > SystemTime::now() + CREDENTIALS_MARGIN)
        };
        if let Some(credentials) = self.cached.lock().ok().and_then(|cached| cached.clone()).filter(fresh) {
            return Ok(credentials);
        }
        let credentials =
            self.credentials.provide_credentials().await.map_err(|error| Failure::Credentials(chain(&error)))?;
        if let Ok(mut cached) = self.cached.lock() {
            *cached = Some(credentials.clone());
        }
        Ok(credentials)
    }
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("service", &self.service.id)
            .field("endpoint", &self.uri)
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

/// The region an ARN names (`arn:aws:dynamodb:eu-west-1:123456789012:table/name`), if it is one.
pub fn arn_region(arn: &str) -> Option<&str> {
    let mut parts = arn.strip_prefix("arn:")?.split(':');
    let (_partition, _service, region) = (parts.next()?, parts.next()?, parts.next()?);
    Some(region).filter(|region| !region.is_empty())
}

/// The service's endpoint: `AWS_ENDPOINT_URL_<SERVICE>` or `AWS_ENDPOINT_URL` (and their profile settings) as
/// the SDKs read them, else the region's, in its partition, with the FIPS and dual-stack options. `None` for a
/// partition whose domain is not known here.
fn endpoint(config: &SdkConfig, service: &Service, region: &str) -> Option<String> {
    let key = ServiceConfigKey::builder().service_id(service.id).env("AWS_ENDPOINT_URL").profile("endpoint_url");
    let configured = config
        .service_config()
        .and_then(|services| services.load_config(key.build().ok()?))
        .or_else(|| config.endpoint_url().map(str::to_owned));
    if let Some(url) = configured {
        return Some(url.trim_end_matches('/').to_owned());
    }
    let (fips, dual_stack) = (config.use_fips() == Some(true), config.use_dual_stack() == Some(true));
    let name = service.name;
    let prefix = if fips { format!("{name}-fips") } else { name.to_owned() };
    let domain = match region {
        _ if region.starts_with("cn-") => {
            if dual_stack {
                "api.amazonwebservices.com.cn"
            } else {
                "amazonaws.com.cn"
            }
        }
        _ if region.starts_with("eusc-") => "amazonaws.eu",
        _ if region.contains("-iso") => return None,
        _ if dual_stack => "api.aws",
        _ => "amazonaws.com",
    };
    Some(format!("https://{prefix}.{region}.{domain}"))
}

/// An error and its causes, `: `-separated (hyper's own is only "client error (Connect)").
fn chain(error: &dyn StdError) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// The HTTP client of `aws-config`'s own calls (a container's or an instance's credentials endpoint, STS): the
/// function's connector over `tls`, with the connect timeout the SDK asks for; it has none of its own in this
/// build. Plain `http://` endpoints work too (`AWS_ENDPOINT_URL` on loopback).
pub fn sdk_http_client(tls: Arc<rustls::ClientConfig>) -> SharedHttpClient {
    http_client_fn(move |settings, _components| {
        let https = crate::tls::https_connector(&tls, settings.connect_timeout());
        SharedHttpConnector::new(HyperConnector { client: HttpClient::builder(TokioExecutor::new()).build(https) })
    })
}

/// One SDK request through hyper.
#[derive(Debug)]
struct HyperConnector {
    client: HttpClient<HttpsConnector<HttpConnector>, SdkBody>,
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

#[cfg(test)]
mod tests {
    use super::*;
    use aws_config::Region;

    fn config(region: &str) -> aws_types::sdk_config::Builder {
        SdkConfig::builder().region(Region::new(region.to_owned()))
    }

    #[test]
    fn the_endpoint_is_the_region_s_in_its_partition_with_its_options() {
        let cases = [
            (config("eu-west-1"), &DYNAMODB, "https://dynamodb.eu-west-1.amazonaws.com"),
            (config("eu-west-1"), &SECRETS_MANAGER, "https://secretsmanager.eu-west-1.amazonaws.com"),
            (config("us-gov-west-1"), &DYNAMODB, "https://dynamodb.us-gov-west-1.amazonaws.com"),
            (config("cn-north-1"), &DYNAMODB, "https://dynamodb.cn-north-1.amazonaws.com.cn"),
            (
                config("cn-north-1").use_dual_stack(true),
                &SECRETS_MANAGER,
                "https://secretsmanager.cn-north-1.api.amazonwebservices.com.cn",
            ),
            (config("eusc-de-east-1"), &DYNAMODB, "https://dynamodb.eusc-de-east-1.amazonaws.eu"),
            (config("us-east-1").use_fips(true), &DYNAMODB, "https://dynamodb-fips.us-east-1.amazonaws.com"),
            (
                config("us-east-1").use_fips(true),
                &SECRETS_MANAGER,
                "https://secretsmanager-fips.us-east-1.amazonaws.com",
            ),
            (config("us-east-1").use_dual_stack(true), &DYNAMODB, "https://dynamodb.us-east-1.api.aws"),
            (
                config("us-east-1").use_fips(true).use_dual_stack(true),
                &DYNAMODB,
                "https://dynamodb-fips.us-east-1.api.aws",
            ),
            (config("us-east-1").endpoint_url("http://127.0.0.1:8000/"), &SECRETS_MANAGER, "http://127.0.0.1:8000"),
        ];
        for (builder, service, expected) in cases {
            let config = builder.build();
            let region = config.region().unwrap().to_string();
            assert_eq!(endpoint(&config, service, &region).as_deref(), Some(expected));
        }
        assert_eq!(endpoint(&config("us-iso-east-1").build(), &DYNAMODB, "us-iso-east-1"), None, "an unknown domain");
    }

    #[test]
    fn the_environment_providers_answer_as_aws_config_s_do() {
        let answers = |vars: &[(&str, &str)]| {
            environment_answers(|name| vars.iter().find(|(key, _)| *key == name).map(|(_, value)| value.to_string()))
        };
        let lambda = [("AWS_REGION", "eu-west-1"), ("AWS_ACCESS_KEY_ID", "AKIA"), ("AWS_SECRET_ACCESS_KEY", "s")];
        assert_eq!(answers(&lambda), (true, true));
        assert_eq!(answers(&[("AWS_DEFAULT_REGION", "eu-west-1")]), (true, false));
        assert_eq!(answers(&[("AWS_ACCESS_KEY_ID", "AKIA"), ("SECRET_ACCESS_KEY", "s")]), (false, true));
        assert_eq!(answers(&[("AWS_ACCESS_KEY_ID", "AKIA")]), (false, false), "no secret key");
        assert_eq!(answers(&[("AWS_ACCESS_KEY_ID", " "), ("AWS_SECRET_ACCESS_KEY", "s")]), (false, false), "blank");
        assert_eq!(answers(&[("AWS_ACCESS_KEY_ID", "AKIA"), ("AWS_SECRET_ACCESS_KEY", "")]), (false, false));
        assert_eq!(answers(&[]), (false, false));
    }

    #[test]
    fn an_arn_names_its_region() {
        assert_eq!(arn_region("arn:aws:dynamodb:eu-west-1:123456789012:table/replay"), Some("eu-west-1"));
        assert_eq!(arn_region("arn:aws-cn:dynamodb:cn-north-1:123456789012:table/replay"), Some("cn-north-1"));
        assert_eq!(arn_region("arn:aws:secretsmanager:us-east-1:123456789012:secret:auth0-AbCdEf"), Some("us-east-1"));
        assert_eq!(arn_region("replay"), None);
        assert_eq!(arn_region("arn:aws:iam::123456789012:role/x"), None, "a global resource");
    }

    #[test]
    fn an_error_is_described_with_its_causes() {
        let io = std::io::Error::other("invalid peer certificate: UnknownIssuer");
        let outer = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, io);
        assert_eq!(chain(&outer), "invalid peer certificate: UnknownIssuer");
        #[derive(Debug)]
        struct Outer(std::io::Error);
        impl std::fmt::Display for Outer {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("client error (Connect)")
            }
        }
        impl StdError for Outer {
            fn source(&self) -> Option<&(dyn StdError + 'static)> {
                Some(&self.0)
            }
        }
        let error = Outer(std::io::Error::other("invalid peer certificate: UnknownIssuer"));
        assert_eq!(chain(&error), "client error (Connect): invalid peer certificate: UnknownIssuer");
    }
}
