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
/// and compile regular expressions) and the container and instance metadata clients. That building was 0.69
/// of the 4.0 million instructions of a cold start that reads the secret. Without them in the environment (a
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

/// The `User-Agent` of the calls to AWS.
const USER_AGENT: &str = concat!(env!("CARGO_PKG_NAME"), "/", env!("CARGO_PKG_VERSION"));

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
    /// The region named is not a region name (lower-case letters, digits, hyphens).
    BadRegion,
    /// The configuration has no credentials provider.
    NoCredentials,
    /// The configured endpoint is not a URL with a host.
    BadEndpoint,
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
pub struct Answer {
    pub status: StatusCode,
    /// `Value::Null` when the body is not a JSON object (a proxy's page, an empty body).
    pub body: Value,
    /// The `X-Amzn-ErrorType` header, where an error's name comes first.
    error_type: Option<String>,
}

impl std::fmt::Debug for Answer {
    /// The status and the error's name only: a body may hold a secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Answer")
            .field("status", &self.status)
            .field("error", &self.error_name())
            .finish_non_exhaustive()
    }
}

impl Answer {
    /// Whether the body is a JSON object, as every answer of these services is.
    pub fn is_json(&self) -> bool {
        self.body.is_object()
    }

    /// The error's name, read as the SDKs read it from a JSON-protocol answer: the `X-Amzn-ErrorType` header,
    /// else the body's `code`, else its `__type`; without a URL after a `:` or a namespace before a `#`
    /// (`com.amazonaws.dynamodb.v20120810#ResourceNotFoundException` is `ResourceNotFoundException`). `""`
    /// when there is none.
    pub fn error_name(&self) -> &str {
        let raw = self
            .error_type
            .as_deref()
            .or_else(|| self.body["code"].as_str())
            .or_else(|| self.body["__type"].as_str())
            .unwrap_or_default();
        let raw = raw.split_once(':').map_or(raw, |(name, _)| name);
        raw.rsplit_once('#').map_or(raw, |(_, name)| name)
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
    /// `uri` as the signer takes it.
    url: String,
    /// The `Host` header, which is signed: hyper would otherwise write its own.
    host: String,
    region: String,
    credentials: SharedCredentialsProvider,
    cached: Mutex<Option<Credentials>>,
}

impl Client {
    /// The client of `service` for `resource` (an ARN or a name), with the configuration `loader` makes: in
    /// the region an ARN names, else the configuration's. aws-config's own calls (a container's or an
    /// instance's credentials endpoint, STS) go through the function's HTTPS client too.
    pub async fn for_resource(
        loader: ConfigLoader,
        service: &'static Service,
        resource: &str,
        tls: &Arc<rustls::ClientConfig>,
        connect_timeout: Duration,
    ) -> Result<Self, Unconfigured> {
        let config = loader.http_client(sdk_http_client(tls.clone())).load().await;
        Self::new(&config, service, arn_region(resource), tls, connect_timeout)
    }

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
        if !is_region(&region) {
            return Err(Unconfigured::BadRegion);
        }
        let credentials = config.credentials_provider().ok_or(Unconfigured::NoCredentials)?;
        let uri: Uri =
            format!("{}/", endpoint(config, service, &region)).parse().map_err(|_| Unconfigured::BadEndpoint)?;
        let host = match (uri.host(), uri.port_u16()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(host), None) => host.to_owned(),
            (None, _) => return Err(Unconfigured::BadEndpoint),
        };
        // A connection is kept for the next call; one that broke while the instance was frozen costs the
        // caller's retry, not an answer.
        let http = HttpClient::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(1)
            .build(crate::tls::https_connector(tls, Some(connect_timeout)));
        let url = uri.to_string();
        Ok(Self { service, http, uri, url, host, region, credentials, cached: Mutex::new(None) })
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
        let signable =
            SignableRequest::new("POST", &self.url, headers.into_iter(), SignableBody::Bytes(body.as_bytes()))
                .map_err(|_| Failure::Request)?;
        let (instructions, _) = sign(signable, &params).map_err(|_| Failure::Request)?.into_parts();
        let mut request = Request::post(self.uri.clone());
        for (name, value) in headers {
            request = request.header(name, value);
        }
        // Who called, in CloudTrail's userAgent.
        request = request.header("user-agent", USER_AGENT);
        let mut request = request.body(SdkBody::from(body.to_owned())).map_err(|_| Failure::Request)?;
        instructions.apply_to_request_http1x(&mut request);

        let exchange = async {
            let response = self.http.request(request).await.map_err(|error| Failure::Unreachable(chain(&error)))?;
            let status = response.status();
            let error_type =
                response.headers().get("x-amzn-errortype").and_then(|value| value.to_str().ok()).map(str::to_owned);
            let body = response.into_body().collect().await.map_err(|error| Failure::Unreachable(chain(&error)))?;
            Ok::<_, Failure>((status, error_type, body.to_bytes()))
        };
        let (status, error_type, body) =
            tokio::time::timeout(timeout, exchange).await.map_err(|_| Failure::TimedOut)??;
        let body = serde_json::from_slice(&body).ok().filter(Value::is_object).unwrap_or(Value::Null);
        Ok(Answer { status, body, error_type })
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
/// the SDKs read them, else the region's, in its partition, with the FIPS and dual-stack options, as the
/// service's SDK resolves it.
fn endpoint(config: &SdkConfig, service: &Service, region: &str) -> String {
    let key = ServiceConfigKey::builder().service_id(service.id).env("AWS_ENDPOINT_URL").profile("endpoint_url");
    let configured = config
        .service_config()
        .and_then(|services| services.load_config(key.build().ok()?))
        .or_else(|| config.endpoint_url().map(str::to_owned));
    if let Some(url) = configured {
        return url.trim_end_matches('/').to_owned();
    }
    let (fips, dual_stack) = (config.use_fips() == Some(true), config.use_dual_stack() == Some(true));
    let partition = Partition::of(region);
    // Where a service's endpoint rules depart from the partition's pattern.
    let (fips_name, dual_stack_domain) = match (service.name, partition.name) {
        // Secrets Manager's own hosts in these partitions already answer over IPv6.
        ("secretsmanager", "aws" | "aws-us-gov") => (fips, false),
        ("secretsmanager", "aws-cn") if !fips => (false, false),
        // DynamoDB's own hosts in GovCloud are FIPS endpoints already.
        ("dynamodb", "aws-us-gov") if fips && !dual_stack => (false, false),
        _ => (fips, dual_stack),
    };
    let name = service.name;
    let host = if fips_name { format!("{name}-fips") } else { name.to_owned() };
    let domain = if dual_stack_domain { partition.dual_stack_domain } else { partition.domain };
    format!("https://{host}.{region}.{domain}")
}

/// An AWS partition's domains, as the SDKs' partition table has them.
struct Partition {
    name: &'static str,
    domain: &'static str,
    dual_stack_domain: &'static str,
}

impl Partition {
    /// The partition of `region`; regions no other partition claims are in `aws`, as in the SDKs.
    fn of(region: &str) -> Self {
        let (name, domain, dual_stack_domain) = match region {
            _ if region.starts_with("us-gov-") => ("aws-us-gov", "amazonaws.com", "api.aws"),
            _ if region.starts_with("cn-") => ("aws-cn", "amazonaws.com.cn", "api.amazonwebservices.com.cn"),
            _ if region.starts_with("eusc-") => ("aws-eusc", "amazonaws.eu", "api.amazonwebservices.eu"),
            _ if region.starts_with("us-iso-") => ("aws-iso", "c2s.ic.gov", "api.aws.ic.gov"),
            _ if region.starts_with("us-isob-") => ("aws-iso-b", "sc2s.sgov.gov", "api.aws.scloud"),
            _ if region.starts_with("us-isof-") => ("aws-iso-f", "csp.hci.ic.gov", "api.aws.hci.ic.gov"),
            _ if region.starts_with("eu-isoe-") => ("aws-iso-e", "cloud.adc-e.uk", "api.cloud-aws.adc-e.uk"),
            _ => ("aws", "amazonaws.com", "api.aws"),
        };
        Self { name, domain, dual_stack_domain }
    }
}

/// Whether `region` can be a region name: a host label of lower-case letters, digits and inner hyphens. It
/// goes into the endpoint's host name.
fn is_region(region: &str) -> bool {
    !region.is_empty()
        && region.len() <= 63
        && !region.starts_with('-')
        && !region.ends_with('-')
        && region.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
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

    /// The hosts the services' SDKs resolve (their endpoint rule tests), by region, FIPS and dual-stack.
    #[test]
    fn the_endpoint_is_the_one_the_service_s_sdk_resolves() {
        let cases: &[(&Service, &str, bool, bool, &str)] = &[
            (&SECRETS_MANAGER, "eu-west-1", false, false, "https://secretsmanager.eu-west-1.amazonaws.com"),
            (&SECRETS_MANAGER, "us-east-1", true, false, "https://secretsmanager-fips.us-east-1.amazonaws.com"),
            (&SECRETS_MANAGER, "us-east-1", false, true, "https://secretsmanager.us-east-1.amazonaws.com"),
            (&SECRETS_MANAGER, "us-east-1", true, true, "https://secretsmanager-fips.us-east-1.amazonaws.com"),
            (&SECRETS_MANAGER, "us-gov-east-1", false, true, "https://secretsmanager.us-gov-east-1.amazonaws.com"),
            (&SECRETS_MANAGER, "us-gov-east-1", true, true, "https://secretsmanager-fips.us-gov-east-1.amazonaws.com"),
            (&SECRETS_MANAGER, "cn-north-1", false, false, "https://secretsmanager.cn-north-1.amazonaws.com.cn"),
            (&SECRETS_MANAGER, "cn-north-1", false, true, "https://secretsmanager.cn-north-1.amazonaws.com.cn"),
            (&SECRETS_MANAGER, "cn-north-1", true, false, "https://secretsmanager-fips.cn-north-1.amazonaws.com.cn"),
            (
                &SECRETS_MANAGER,
                "cn-north-1",
                true,
                true,
                "https://secretsmanager-fips.cn-north-1.api.amazonwebservices.com.cn",
            ),
            (&SECRETS_MANAGER, "us-iso-east-1", false, false, "https://secretsmanager.us-iso-east-1.c2s.ic.gov"),
            (
                &SECRETS_MANAGER,
                "us-isob-east-1",
                true,
                false,
                "https://secretsmanager-fips.us-isob-east-1.sc2s.sgov.gov",
            ),
            (&DYNAMODB, "eu-west-1", false, false, "https://dynamodb.eu-west-1.amazonaws.com"),
            (&DYNAMODB, "us-east-1", true, false, "https://dynamodb-fips.us-east-1.amazonaws.com"),
            (&DYNAMODB, "us-east-1", false, true, "https://dynamodb.us-east-1.api.aws"),
            (&DYNAMODB, "us-east-1", true, true, "https://dynamodb-fips.us-east-1.api.aws"),
            (&DYNAMODB, "us-gov-east-1", false, false, "https://dynamodb.us-gov-east-1.amazonaws.com"),
            (&DYNAMODB, "us-gov-east-1", true, false, "https://dynamodb.us-gov-east-1.amazonaws.com"),
            (&DYNAMODB, "us-gov-east-1", false, true, "https://dynamodb.us-gov-east-1.api.aws"),
            (&DYNAMODB, "us-gov-east-1", true, true, "https://dynamodb-fips.us-gov-east-1.api.aws"),
            (&DYNAMODB, "cn-north-1", false, true, "https://dynamodb.cn-north-1.api.amazonwebservices.com.cn"),
            (&DYNAMODB, "cn-north-1", true, false, "https://dynamodb-fips.cn-north-1.amazonaws.com.cn"),
            (&DYNAMODB, "us-iso-east-1", false, true, "https://dynamodb.us-iso-east-1.api.aws.ic.gov"),
            (&DYNAMODB, "us-iso-east-1", true, false, "https://dynamodb-fips.us-iso-east-1.c2s.ic.gov"),
            (&DYNAMODB, "eusc-de-east-1", false, false, "https://dynamodb.eusc-de-east-1.amazonaws.eu"),
        ];
        for &(service, region, fips, dual_stack, expected) in cases {
            let config = config(region).use_fips(fips).use_dual_stack(dual_stack).build();
            assert_eq!(endpoint(&config, service, region), expected, "{region} fips={fips} dual-stack={dual_stack}");
        }
        let configured = config("us-east-1").endpoint_url("http://127.0.0.1:8000/").build();
        assert_eq!(endpoint(&configured, &SECRETS_MANAGER, "us-east-1"), "http://127.0.0.1:8000");
    }

    #[test]
    fn a_region_goes_into_a_host_name_only_when_it_is_a_region_name() {
        for region in ["us-east-1", "eusc-de-east-1", "us-isob-east-1"] {
            assert!(is_region(region), "{region}");
        }
        for region in ["", "-us-east-1", "us-east-1-", "US-EAST-1", "x.evil.example/", "us east 1", "us_east_1"] {
            assert!(!is_region(region), "{region}");
        }
        let arn = "arn:aws:secretsmanager:x.evil.example/:123456789012:secret:auth0";
        let config = config("us-east-1").build();
        let tls = crate::tls::Trust::new(Vec::new()).client_config().unwrap();
        let client = Client::new(&config, &SECRETS_MANAGER, arn_region(arn), &tls, Duration::from_secs(1));
        assert_eq!(client.map(|_| ()).unwrap_err(), Unconfigured::BadRegion);
    }

    #[test]
    fn an_error_is_named_as_the_sdks_name_it() {
        let answer = |error_type: Option<&str>, body: Value| Answer {
            status: StatusCode::BAD_REQUEST,
            body,
            error_type: error_type.map(str::to_owned),
        };
        let namespaced = serde_json::json!({"__type": "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException"});
        assert_eq!(answer(None, namespaced.clone()).error_name(), "ResourceNotFoundException");
        let header = "ThrottlingException:http://internal.amazon.com/coral/com.amazon.coral.availability/";
        assert_eq!(answer(Some(header), namespaced).error_name(), "ThrottlingException", "the header first");
        assert!(answer(Some(header), Value::Null).is_throttled(), "a header without a JSON body");
        assert_eq!(
            answer(None, serde_json::json!({"code": "AccessDeniedException"})).error_name(),
            "AccessDeniedException"
        );
        assert_eq!(answer(None, Value::Null).error_name(), "");
        let secret = answer(None, serde_json::json!({"SecretString": "the-secret"}));
        assert!(!format!("{secret:?}").contains("the-secret"), "an answer's Debug holds no body");
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
