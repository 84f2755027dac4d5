//! The DPoP replay table that every instance shares (`AUTH0_DPOP_REPLAY_TABLE`): Lambda runs many instances
//! at once, and a proof replayed against another instance is only caught by a store they share. One
//! conditional `PutItem` per proof; DynamoDB's TTL deletes the items once their proofs have expired.
//!
//! The client is built on the first proof that reaches the table, not during the cold start: an instance
//! that serves no DPoP request never loads the AWS SDK's configuration. Any failure (throttled, unreachable,
//! access denied, no such table, slow) is an answer of "cannot say", which the caller turns into a 503: a
//! replay is never accepted for want of an answer.

use std::sync::Arc;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, ConfigLoader};
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use tokio::sync::OnceCell;

use super::replay::ProofId;

/// The table's partition key: the proof's id, base64url.
pub const KEY_ATTRIBUTE: &str = "pk";
/// The table's TTL attribute: the last second the proof could be accepted.
pub const TTL_ATTRIBUTE: &str = "expires_at";
/// The instance that recorded the proof: a write whose answer was lost (a timeout, then the SDK's retry or
/// the client's) is recognised as this instance's own, not taken for a replay.
pub const OWNER_ATTRIBUTE: &str = "owner";

/// The longest a request waits for the table, retries included: a proof is checked while the client waits.
pub const TABLE_TIMEOUT: Duration = Duration::from_millis(1500);
const ATTEMPT_TIMEOUT: Duration = Duration::from_millis(600);
const MAX_ATTEMPTS: u32 = 2;

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
    /// Any other refusal.
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
            Self::Refused => "refused",
        }
    }
}

/// Makes the AWS configuration loader the table's client is built from.
pub type Loader = Box<dyn Fn() -> ConfigLoader + Send + Sync>;

/// The shared replay table.
pub struct ReplayTable {
    table: String,
    tls: Arc<rustls::ClientConfig>,
    loader: Loader,
    client: OnceCell<Client>,
}

/// The DynamoDB client, and this instance's random identity in the table.
struct Client {
    dynamodb: aws_sdk_dynamodb::Client,
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
        let put = async {
            let client = self.client().await;
            let sent = client
                .dynamodb
                .put_item()
                .table_name(&self.table)
                .item(KEY_ATTRIBUTE, AttributeValue::S(URL_SAFE_NO_PAD.encode(id)))
                .item(TTL_ATTRIBUTE, AttributeValue::N(valid_until.to_string()))
                .item(OWNER_ATTRIBUTE, AttributeValue::S(client.owner.clone()))
                // An item whose proof expired (TTL deletes within days, not at once) does not count.
                .condition_expression("attribute_not_exists(#pk) OR #expires_at < :now")
                .expression_attribute_names("#pk", KEY_ATTRIBUTE)
                .expression_attribute_names("#expires_at", TTL_ATTRIBUTE)
                .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
                .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
                .send()
                .await;
            (sent, client)
        };
        let (sent, client) = tokio::time::timeout(TABLE_TIMEOUT, put).await.map_err(|_| TableError::TimedOut)?;
        match sent {
            Ok(_) => Ok(true),
            Err(SdkError::ServiceError(service)) if service.err().is_conditional_check_failed_exception() => {
                let recorded_by = match service.err() {
                    PutItemError::ConditionalCheckFailedException(failed) => failed.item(),
                    _ => None,
                };
                let ours = recorded_by
                    .and_then(|item| item.get(OWNER_ATTRIBUTE))
                    .is_some_and(|owner| owner.as_s().is_ok_and(|owner| *owner == client.owner));
                Ok(ours)
            }
            Err(error) => Err(classify(&error)),
        }
    }

    async fn client(&self) -> &Client {
        self.client
            .get_or_init(|| async {
                let timeouts = TimeoutConfig::builder()
                    .connect_timeout(ATTEMPT_TIMEOUT)
                    .operation_attempt_timeout(ATTEMPT_TIMEOUT)
                    .operation_timeout(TABLE_TIMEOUT)
                    .build();
                let config = (self.loader)()
                    .http_client(crate::secrets::http_client(self.tls.clone()))
                    .timeout_config(timeouts)
                    .retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS))
                    .load()
                    .await;
                let mut owner = [0u8; 16];
                // The system's randomness does not fail on Lambda; a fixed owner would only lose the
                // recognition of this instance's own lost writes, never accept a replay.
                let _ = aws_lc_rs::rand::fill(&mut owner);
                Client { dynamodb: aws_sdk_dynamodb::Client::new(&config), owner: URL_SAFE_NO_PAD.encode(owner) }
            })
            .await
    }
}

fn classify<E: ProvideErrorMetadata>(error: &SdkError<E, HttpResponse>) -> TableError {
    match error {
        SdkError::ServiceError(service) if service.raw().status().as_u16() == 403 => TableError::AccessDenied,
        SdkError::ServiceError(service) => match service.err().code().unwrap_or_default() {
            "ProvisionedThroughputExceededException" | "ThrottlingException" | "RequestLimitExceeded" => {
                TableError::Throttled
            }
            "ResourceNotFoundException" => TableError::NoSuchTable,
            code if code.contains("AccessDenied") || code == "UnrecognizedClientException" => TableError::AccessDenied,
            _ => TableError::Refused,
        },
        SdkError::TimeoutError(_) => TableError::TimedOut,
        SdkError::DispatchFailure(_) => TableError::Unreachable,
        _ => TableError::Refused,
    }
}

impl std::fmt::Debug for ReplayTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplayTable").field("table", &self.table).finish_non_exhaustive()
    }
}
