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

use std::time::Duration;

use aws_config::ConfigLoader;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;
use tokio::sync::OnceCell;

use super::replay::ProofId;
use crate::aws::{self, Answer, Failure};
use crate::tls::Trust;

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
    /// No region or no credentials in the function's AWS configuration, or a region or endpoint that cannot be
    /// used.
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
                "no AWS region or credentials, or a region or AWS_ENDPOINT_URL_DYNAMODB that cannot be used"
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
    trust: Trust,
    loader: Loader,
    client: OnceCell<Result<Client, TableError>>,
}

/// What a call to DynamoDB needs, built once.
struct Client {
    dynamodb: aws::Client,
    /// This instance's random identity in the table.
    owner: String,
}

impl ReplayTable {
    /// The table `table` (a name or an ARN), reached trusting what `trust` trusts, with the configuration
    /// `loader` makes. Nothing is built until the first proof is recorded: the TLS client, the AWS
    /// configuration and the table's client are made then.
    pub fn new(table: String, trust: Trust, loader: Loader) -> Self {
        Self { table, trust, loader, client: OnceCell::new() }
    }

    /// The table reached as the function's environment says (its role's credentials, its region).
    pub fn from_environment(table: String, trust: Trust) -> Self {
        Self::new(table, trust, Box::new(aws::defaults))
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
                // The extra roots were checked when the configuration was read, so this cannot fail on a
                // configuration; were rustls unable to make a client of its own defaults, no call could be made.
                let tls = self.trust.client_config().map_err(|_| TableError::Unconfigured)?;
                // A table's ARN names its region; a name is in the function's.
                let dynamodb =
                    aws::Client::for_resource((self.loader)(), &aws::DYNAMODB, &self.table, &tls, ATTEMPT_TIMEOUT)
                        .await
                        .map_err(|_| TableError::Unconfigured)?;
                // Instances must never share an owner: one would take another's item for its own.
                let mut owner = [0u8; 16];
                aws_lc_rs::rand::fill(&mut owner).map_err(|_| TableError::Unconfigured)?;
                Ok(Client { dynamodb, owner: URL_SAFE_NO_PAD.encode(owner) })
            })
            .await
    }
}

impl Client {
    /// One signed `PutItem` attempt: whether the item was written (or is this instance's own).
    async fn put_item(&self, body: &str) -> Result<bool, TableError> {
        let answer = self.dynamodb.call("PutItem", body, ATTEMPT_TIMEOUT).await.map_err(|failure| match failure {
            Failure::Unreachable(_) => TableError::Unreachable,
            Failure::TimedOut => TableError::TimedOut,
            Failure::Credentials(_) | Failure::Request => TableError::Unconfigured,
        })?;
        let status = answer.status;
        // DynamoDB answers JSON objects only: anything else (a proxy's page) is not an answer.
        if !answer.is_json() {
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
        let kind = answer.error_name();
        let error = match kind {
            "ConditionalCheckFailedException" => return Ok(self.is_own(&answer)),
            _ if answer.is_throttled() => TableError::Throttled,
            "ResourceNotFoundException" => TableError::NoSuchTable,
            _ if answer.refused_credentials() => {
                // Fetched again for the next request: a role's session may have been renewed.
                self.dynamodb.forget_credentials();
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

    /// Whether the item that failed the condition is this instance's.
    fn is_own(&self, answer: &Answer) -> bool {
        answer.body["Item"][OWNER_ATTRIBUTE]["S"] == self.owner.as_str()
    }
}

impl std::fmt::Debug for ReplayTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplayTable").field("table", &self.table).finish_non_exhaustive()
    }
}
