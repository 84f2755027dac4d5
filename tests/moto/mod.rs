//! A real AWS API emulator for the tests: `moto_server` (Python package `moto[server]`) on 127.0.0.1, serving
//! HTTPS with a certificate from the tests' CA (as Secrets Manager serves HTTPS), started per test and stopped
//! when dropped.
#![allow(dead_code)] // Each test binary uses its own subset.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, ConfigLoader, Region};
use aws_credential_types::Credentials;

pub const REGION: &str = "us-east-1";

pub struct Moto {
    pub endpoint: String,
    child: Child,
}

impl Moto {
    /// A server that accepts every request.
    pub fn start() -> Self {
        Self::spawn(&[])
    }

    /// A server that enforces IAM after its first `free_actions` requests (moto's
    /// `INITIAL_NO_AUTH_ACTION_COUNT`), so that a test can set up users and policies first.
    pub fn start_enforcing_iam_after(free_actions: u32) -> Self {
        Self::spawn(&[("INITIAL_NO_AUTH_ACTION_COUNT", &free_actions.to_string())])
    }

    fn spawn(env: &[(&str, &str)]) -> Self {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let ca = crate::jwks_server::test_ca();
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .arg("--ssl-cert")
            .arg(&ca.cert_file)
            .arg("--ssl-key")
            .arg(&ca.key_file)
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server is not installed: pip install 'moto[server]'");
        let moto = Self { endpoint: format!("https://127.0.0.1:{port}"), child };
        let address: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let started = Instant::now();
        while TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_err() {
            assert!(started.elapsed() < Duration::from_secs(30), "moto_server did not start listening");
            std::thread::sleep(Duration::from_millis(20));
        }
        moto
    }

    /// An AWS configuration loader aimed at this server with the given credentials.
    pub fn loader_as(&self, access_key: &str, secret_key: &str) -> ConfigLoader {
        loader_at(&self.endpoint, access_key, secret_key)
    }

    /// A loader with moto's default account.
    pub fn loader(&self) -> ConfigLoader {
        self.loader_as("test", "test")
    }

    /// The environment a function process needs to reach this server.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_ACCESS_KEY_ID", "test".into()),
            ("AWS_SECRET_ACCESS_KEY", "test".into()),
            ("AWS_REGION", REGION.into()),
            ("AUTH0_EXTRA_CA_CERTS", crate::jwks_server::ca_file().into()),
        ]
    }

    /// Creates, through boto3, a secret with this `SecretString` and returns its ARN.
    pub async fn create_secret(&self, name: &str, value: &str) -> String {
        self.create(REGION, name, "SecretString", value)
    }

    /// Creates, through boto3, a secret in another region than the loaders' and returns its ARN.
    pub async fn create_secret_in(&self, region: &str, name: &str, value: &str) -> String {
        self.create(region, name, "SecretString", value)
    }

    /// Creates, through boto3, a secret that holds only binary data.
    pub async fn create_binary_secret(&self, name: &str, value: &[u8]) -> String {
        let hex: String = value.iter().map(|byte| format!("{byte:02x}")).collect();
        self.create(REGION, name, "SecretBinary", &hex)
    }

    fn create(&self, region: &str, name: &str, kind: &str, value: &str) -> String {
        let script = r#"
import boto3, sys
region, name, kind, value = sys.argv[3:7]
secrets = boto3.client("secretsmanager", endpoint_url=sys.argv[1], region_name=region, verify=sys.argv[2],
                       aws_access_key_id="test", aws_secret_access_key="test")
value = bytes.fromhex(value) if kind == "SecretBinary" else value
print(secrets.create_secret(Name=name, **{kind: value})["ARN"])
"#;
        self.boto3(script, &[region, name, kind, value]).trim().to_owned()
    }

    /// Creates, through boto3, the DPoP replay table as the template does (partition key `pk`, TTL on
    /// `expires_at`). Costs two requests.
    pub fn create_replay_table(&self, name: &str) {
        let script = r#"
import boto3, sys
dynamodb = boto3.client("dynamodb", endpoint_url=sys.argv[1], region_name="us-east-1", verify=sys.argv[2],
                        aws_access_key_id="test", aws_secret_access_key="test")
dynamodb.create_table(TableName=sys.argv[3], BillingMode="PAY_PER_REQUEST",
                      AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                      KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])
dynamodb.update_time_to_live(TableName=sys.argv[3],
                             TimeToLiveSpecification={"AttributeName": "expires_at", "Enabled": True})
"#;
        self.boto3(script, &[name]);
    }

    /// Runs a boto3 `script` against this server: its arguments are the endpoint, the CA file and `arguments`.
    /// Returns what it printed.
    fn boto3(&self, script: &str, arguments: &[&str]) -> String {
        let output = Command::new("python3")
            .args(["-c", script, &self.endpoint, crate::jwks_server::ca_file()])
            .args(arguments)
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8(output.stdout).unwrap()
    }

    /// Creates, through boto3, an IAM user whose only permission is `secretsmanager:ListSecrets`, and returns
    /// its access key and secret key. Costs three requests.
    pub fn user_without_get_secret_value(&self) -> (String, String) {
        self.user_allowed_only("secretsmanager:ListSecrets")
    }

    /// Creates, through boto3, an IAM user whose only permission is `action`, and returns its access key and
    /// secret key. Costs three requests.
    pub fn user_allowed_only(&self, action: &str) -> (String, String) {
        let script = r#"
import boto3, json, sys
iam = boto3.client("iam", endpoint_url=sys.argv[1], region_name="us-east-1", verify=sys.argv[2],
                   aws_access_key_id="test", aws_secret_access_key="test")
iam.create_user(UserName="reader")
policy = {"Version": "2012-10-17",
          "Statement": [{"Effect": "Allow", "Action": sys.argv[3], "Resource": "*"}]}
iam.put_user_policy(UserName="reader", PolicyName="one-action", PolicyDocument=json.dumps(policy))
key = iam.create_access_key(UserName="reader")["AccessKey"]
print(key["AccessKeyId"], key["SecretAccessKey"])
"#;
        let text = self.boto3(script, &[action]);
        let (access_key, secret_key) = text.trim().split_once(' ').unwrap();
        (access_key.to_owned(), secret_key.to_owned())
    }
}

/// Whom the function would trust with `AUTH0_EXTRA_CA_CERTS` naming the tests' CA.
pub fn trust() -> auth0_lambda_api::tls::Trust {
    auth0_lambda_api::tls::Trust::new(auth0_lambda_api::tls::read_extra_roots(crate::jwks_server::ca_file()).unwrap())
}

/// The TLS settings of [`trust`].
pub fn tls() -> Arc<rustls::ClientConfig> {
    trust().client_config().unwrap()
}

/// An AWS configuration loader aimed at any endpoint on 127.0.0.1, speaking through the function's HTTP client.
pub fn loader_at(endpoint: &str, access_key: &str, secret_key: &str) -> ConfigLoader {
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(auth0_lambda_api::aws::sdk_http_client(tls()))
        .endpoint_url(endpoint)
        .region(Region::new(REGION))
        .credentials_provider(Credentials::new(access_key, secret_key, None, None, "tests"))
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
