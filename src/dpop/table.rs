//! The DPoP replay table that every instance shares (`AUTH0_DPOP_REPLAY_TABLE`): Lambda runs many instances
//! at once, and a proof replayed against another instance is only caught by a store they share. One
//! conditional `PutItem` per proof; DynamoDB's TTL deletes the items once their proofs have expired.
//!
//! The call is DynamoDB's JSON protocol, signed with SigV4 by the SDK's own signer (`aws-sigv4`), with the
//! region, endpoint and credentials of the SDK's configuration (`aws-config`), over the function's HTTPS
//! client: one operation does not need the DynamoDB SDK's model, whose code alone added 0.5 MiB to every
//! instance's memory. The client is built on the first proof that reaches the table, not during the cold
//! start. Any failure (throttled, unreachable, access denied, no such table, slow) is an answer of "cannot
//! say", which the caller turns into a 503: a replay is never accepted for want of an answer.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use aws_config::{BehaviorVersion, ConfigLoader};
use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_types::body::SdkBody;
use aws_types::service_config::ServiceConfigKey;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http_body_util::BodyExt as _;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client as HttpClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use lambda_http::http::{Request, Uri};
use serde_json::{Value, json};
use tokio::sync::OnceCell;

use super::replay::ProofId;

/// The table's partition key: the proof's id, base64url.
pub const KEY_ATTRIBUTE: &str = "pk";
/// The table's TTL attribute: the last second the proof could be accepted.
pub const TTL_ATTRIBUTE: &str = "expires_at";
/// The instance that recorded the proof: a write whose answer was lost (a timeout, then a retry, ours or the
/// client's) is recognised as this instance's own, not taken for a replay.
pub const OWNER_ATTRIBUTE: &str = "owner";

/// The longest a request waits for the table, retries included: a proof is checked while the client waits.
pub const TABLE_TIMEOUT: Duration = Duration::from_millis(1500);
const ATTEMPT_TIMEOUT: Duration = Duration::from_millis(600);
/// One attempt and one retry, for throttling, a server error or a connection that broke.
const MAX_ATTEMPTS: u32 = 2;
/// The pause before retrying a throttled write.
const THROTTLED_BACKOFF: Duration = Duration::from_millis(50);
/// Credentials this close to their expiry are fetched again.
const CREDENTIALS_MARGIN: Duration = Duration::from_secs(60);

/// Why the table gave no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableError {
    /// DynamoDB throttled the write.
    Throttled,
    /// The function's role may not write to the table.
    AccessDenied,
    /// There is no such table.
    NoSuchTable,
    /// DynamoDB could not be reached.
    Unreachable,
    /// No answer in [`TABLE_TIMEOUT`].
    TimedOut,
    /// The credentials were refused (unknown, expired) or the signature did not match.
    BadCredentials,
    /// DynamoDB failed (a 5xx).
    ServerError,
    /// No region or no credentials in the function's AWS configuration, or no endpoint known for its
    /// partition or options.
    Unconfigured,
    /// Any other refusal, or an answer that is not DynamoDB's.
    Refused,
}

impl TableError {
    /// The reason in the log line.
    pub fn reason(self) -> &'static str {
        match self {
            Self::Throttled => "throttled",
            Self::AccessDenied => "access denied: the function's role needs dynamodb:PutItem on the table",
            Self::NoSuchTable => "no such table",
            Self::Unreachable => "unreachable",
            Self::TimedOut => "timed out",
            Self::BadCredentials => "the credentials were refused",
            Self::ServerError => "server error",
            Self::Unconfigured => {
                "no AWS region or credentials, or no endpoint for this partition: set AWS_ENDPOINT_URL_DYNAMODB"
            }
            Self::Refused => "refused",
        }
    }

    /// Whether another attempt may succeed.
    fn is_transient(self) -> bool {
        matches!(self, Self::Throttled | Self::Unreachable | Self::TimedOut | Self::ServerError)
    }
}

/// Makes the AWS configuration loader the table's client is built from.
pub type Loader = Box<dyn Fn() -> ConfigLoader + Send + Sync>;

/// The shared replay table.
pub struct ReplayTable {
    table: String,
    tls: Arc<rustls::ClientConfig>,
    loader: Loader,
    client: OnceCell<Result<Client, TableError>>,
}

/// What a call to DynamoDB needs, built once.
struct Client {
    /// The same client type as the Secrets Manager connector's (`secrets::http_client`), so that the code is
    /// shared.
    http: HttpClient<HttpsConnector<HttpConnector>, SdkBody>,
    endpoint: String,
    region: String,
    credentials: SharedCredentialsProvider,
    cached: Mutex<Option<Credentials>>,
    /// This instance's random identity in the table.
    owner: String,
}

impl ReplayTable {
    /// The table `table` (a name or an ARN), reached over `tls` with the configuration `loader` makes.
    pub fn new(table: String, tls: Arc<rustls::ClientConfig>, loader: Loader) -> Self {
        Self { table, tls, loader, client: OnceCell::new() }
    }

    /// The table reached as the function's environment says (its role's credentials, its region).
    pub fn from_environment(table: String, tls: Arc<rustls::ClientConfig>) -> Self {
        Self::new(table, tls, Box::new(|| aws_config::defaults(BehaviorVersion::latest())))
    }

    /// Records the proof `id`, valid until `valid_until`: `Ok(true)` the first time, or when this instance
    /// recorded it before (a write whose answer was lost: the instance's own cache is the judge of repeats);
    /// `Ok(false)` when another instance recorded it and it has not expired.
    pub async fn record(&self, id: &ProofId, valid_until: u64, now: u64) -> Result<bool, TableError> {
        let attempts = async {
            let client = self.client().await.as_ref().map_err(|error| *error)?;
            let body = json!({
                "TableName": self.table,
                "Item": {
                    KEY_ATTRIBUTE: {"S": URL_SAFE_NO_PAD.encode(id)},
                    TTL_ATTRIBUTE: {"N": valid_until.to_string()},
                    OWNER_ATTRIBUTE: {"S": client.owner},
                },
                // An item whose proof expired (TTL deletes within days, not at once) does not count.
                "ConditionExpression": "attribute_not_exists(#pk) OR #expires_at < :now",
                "ExpressionAttributeNames": {"#pk": KEY_ATTRIBUTE, "#expires_at": TTL_ATTRIBUTE},
                "ExpressionAttributeValues": {":now": {"N": now.to_string()}},
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            })
            .to_string();
            let mut attempt = 1;
            loop {
                match client.put_item(&body).await {
                    Err(error) if error.is_transient() && attempt < MAX_ATTEMPTS => {
                        attempt += 1;
                        if error == TableError::Throttled {
                            tokio::time::sleep(THROTTLED_BACKOFF).await;
                        }
                    }
                    outcome => return outcome,
                }
            }
        };
        tokio::time::timeout(TABLE_TIMEOUT, attempts).await.map_err(|_| TableError::TimedOut)?
    }

    async fn client(&self) -> &Result<Client, TableError> {
        self.client
            .get_or_init(|| async {
                // The provider chain's own calls (a container or instance metadata endpoint, STS) go through
                // the function's HTTPS client too; aws-config has none of its own in this build.
                let config = (self.loader)().http_client(crate::secrets::http_client(self.tls.clone())).load().await;
                // A table's ARN names its region; a name is in the function's.
                let region = match table_region(&self.table) {
                    Some(region) => region.to_owned(),
                    None => config.region().ok_or(TableError::Unconfigured)?.to_string(),
                };
                let credentials = config.credentials_provider().ok_or(TableError::Unconfigured)?;
                let endpoint = endpoint(&config, &region).ok_or(TableError::Unconfigured)?;
                let connector = crate::tls::https_connector(&self.tls, Some(ATTEMPT_TIMEOUT));
                // Connections are kept for the next proof; one that broke while the instance was frozen costs
                // the retry, not an answer.
                let http = HttpClient::builder(TokioExecutor::new())
                    .pool_idle_timeout(Duration::from_secs(30))
                    .pool_max_idle_per_host(1)
                    .build(connector);
                // Instances must never share an owner: one would take another's item for its own.
                let mut owner = [0u8; 16];
                aws_lc_rs::rand::fill(&mut owner).map_err(|_| TableError::Unconfigured)?;
                Ok(Client {
                    http,
                    endpoint,
                    region,
                    credentials,
                    cached: Mutex::new(None),
                    owner: URL_SAFE_NO_PAD.encode(owner),
                })
            })
            .await
    }
}

impl Client {
    /// One signed `PutItem` attempt: whether the item was written (or is this instance's own).
    async fn put_item(&self, body: &str) -> Result<bool, TableError> {
        let credentials = self.credentials().await?;
        let identity = credentials.into();
        let settings = SigningSettings::default();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name("dynamodb")
            .time(SystemTime::now())
            .settings(settings)
            .build()
            .map_err(|_| TableError::Unconfigured)?
            .into();
        let url = format!("{}/", self.endpoint);
        let uri: Uri = url.parse().map_err(|_| TableError::Unconfigured)?;
        // The Host the request carries is the one signed: hyper would otherwise write its own.
        let host = match (uri.host(), uri.port_u16()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(host), None) => host.to_owned(),
            (None, _) => return Err(TableError::Unconfigured),
        };
        let headers = [
            ("host", host.as_str()),
            ("content-type", "application/x-amz-json-1.0"),
            ("x-amz-target", "DynamoDB_20120810.PutItem"),
        ];
        let signable =
            SignableRequest::new("POST", url.as_str(), headers.into_iter(), SignableBody::Bytes(body.as_bytes()))
                .map_err(|_| TableError::Unconfigured)?;
        let (instructions, _) = sign(signable, &params).map_err(|_| TableError::Unconfigured)?.into_parts();
        let mut request = Request::post(uri);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let mut request = request.body(SdkBody::from(body)).map_err(|_| TableError::Unconfigured)?;
        instructions.apply_to_request_http1x(&mut request);

        let exchange = async {
            let response = self.http.request(request).await.map_err(|_| TableError::Unreachable)?;
            let status = response.status();
            let body = response.into_body().collect().await.map_err(|_| TableError::Unreachable)?.to_bytes();
            Ok::<_, TableError>((status, body))
        };
        let (status, body) =
            tokio::time::timeout(ATTEMPT_TIMEOUT, exchange).await.map_err(|_| TableError::TimedOut)??;
        // DynamoDB answers JSON objects only: anything else (a proxy's page) is not an answer.
        let answer: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        if !answer.is_object() {
            tracing::warn!(status = status.as_u16(), "the replay table's endpoint did not answer as DynamoDB");
            return Err(match status.as_u16() {
                403 => TableError::AccessDenied,
                500.. => TableError::ServerError,
                _ => TableError::Refused,
            });
        }
        if status.is_success() {
            return Ok(true);
        }
        // `com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException`, or the bare name.
        let kind = answer["__type"].as_str().unwrap_or_default();
        let kind = kind.rsplit_once('#').map_or(kind, |(_, name)| name);
        let error = match kind {
            "ConditionalCheckFailedException" => return Ok(answer["Item"][OWNER_ATTRIBUTE]["S"] == self.owner.as_str()),
            "ProvisionedThroughputExceededException" | "ThrottlingException" | "RequestLimitExceeded" => {
                TableError::Throttled
            }
            "ResourceNotFoundException" => TableError::NoSuchTable,
            "UnrecognizedClientException"
            | "InvalidSignatureException"
            | "ExpiredTokenException"
            | "IncompleteSignatureException"
            | "MissingAuthenticationTokenException" => {
                // Fetched again for the next request: a role's session may have been renewed.
                if let Ok(mut cached) = self.cached.lock() {
                    *cached = None;
                }
                TableError::BadCredentials
            }
            _ if kind.contains("AccessDenied") || status.as_u16() == 403 => TableError::AccessDenied,
            _ if status.is_server_error() => TableError::ServerError,
            _ => TableError::Refused,
        };
        // The error's name and status, never its message (which may quote the request).
        tracing::warn!(dynamodb_error = kind, status = status.as_u16(), "the replay table refused a write");
        Err(error)
    }

    /// The credentials to sign with: kept until a minute before they expire (a role's session), then fetched
    /// again from the configuration's provider.
    async fn credentials(&self) -> Result<Credentials, TableError> {
        let fresh = |credentials: &Credentials| {
            credentials.expiry().is_none_or(|expiry| expiry > SystemTime::now() + CREDENTIALS_MARGIN)
        };
        if let Some(credentials) = self.cached.lock().ok().and_then(|cached| cached.clone()).filter(fresh) {
            return Ok(credentials);
        }
        let credentials = self.credentials.provide_credentials().await.map_err(|_| TableError::Unconfigured)?;
        if let Ok(mut cached) = self.cached.lock() {
            *cached = Some(credentials.clone());
        }
        Ok(credentials)
    }
}

/// The region of a table given by its ARN (`arn:aws:dynamodb:eu-west-1:123456789012:table/name`).
fn table_region(table: &str) -> Option<&str> {
    let mut parts = table.strip_prefix("arn:")?.split(':');
    let (_partition, _service, region) = (parts.next()?, parts.next()?, parts.next()?);
    Some(region).filter(|region| !region.is_empty())
}

/// DynamoDB's endpoint: `AWS_ENDPOINT_URL_DYNAMODB` or `AWS_ENDPOINT_URL` (and their profile settings) as the
/// SDK reads them, else the region's, in its partition, with the FIPS and dual-stack options. `None` for a
/// partition whose domain is not known here.
fn endpoint(config: &aws_config::SdkConfig, region: &str) -> Option<String> {
    let key = ServiceConfigKey::builder().service_id("DynamoDB").env("AWS_ENDPOINT_URL").profile("endpoint_url");
    let configured = config
        .service_config()
        .and_then(|service| service.load_config(key.build().ok()?))
        .or_else(|| config.endpoint_url().map(str::to_owned));
    if let Some(url) = configured {
        return Some(url.trim_end_matches('/').to_owned());
    }
    let (fips, dual_stack) = (config.use_fips() == Some(true), config.use_dual_stack() == Some(true));
    let service = if fips { "dynamodb-fips" } else { "dynamodb" };
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
    Some(format!("https://{service}.{region}.{domain}"))
}

impl std::fmt::Debug for ReplayTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplayTable").field("table", &self.table).finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_config::{Region, SdkConfig};

    fn config(region: &str) -> aws_types::sdk_config::Builder {
        SdkConfig::builder().region(Region::new(region.to_owned()))
    }

    #[test]
    fn the_endpoint_is_the_region_s_in_its_partition_with_its_options() {
        let cases = [
            (config("eu-west-1"), "https://dynamodb.eu-west-1.amazonaws.com"),
            (config("us-gov-west-1"), "https://dynamodb.us-gov-west-1.amazonaws.com"),
            (config("cn-north-1"), "https://dynamodb.cn-north-1.amazonaws.com.cn"),
            (config("eusc-de-east-1"), "https://dynamodb.eusc-de-east-1.amazonaws.eu"),
            (config("us-east-1").use_fips(true), "https://dynamodb-fips.us-east-1.amazonaws.com"),
            (config("us-east-1").use_dual_stack(true), "https://dynamodb.us-east-1.api.aws"),
            (config("us-east-1").use_fips(true).use_dual_stack(true), "https://dynamodb-fips.us-east-1.api.aws"),
            (config("us-east-1").endpoint_url("http://127.0.0.1:8000/"), "http://127.0.0.1:8000"),
        ];
        for (builder, expected) in cases {
            let config = builder.build();
            let region = config.region().unwrap().to_string();
            assert_eq!(endpoint(&config, &region).as_deref(), Some(expected));
        }
        assert_eq!(endpoint(&config("us-iso-east-1").build(), "us-iso-east-1"), None, "an unknown domain");
    }

    #[test]
    fn a_table_arn_names_its_region() {
        assert_eq!(table_region("arn:aws:dynamodb:eu-west-1:123456789012:table/replay"), Some("eu-west-1"));
        assert_eq!(table_region("arn:aws-cn:dynamodb:cn-north-1:123456789012:table/replay"), Some("cn-north-1"));
        assert_eq!(table_region("replay"), None);
    }
}
