//! A Lambda Runtime API and an HTTP API (payload v2) front door on 127.0.0.1, for running the real binary.
//!
//! Clients send plain HTTP to [`Emulator::gateway`]; each request becomes a v2 event that the function takes
//! from the Runtime API (`/2018-06-01/runtime/invocation/next`) and answers on `/response`, and the answer is
//! turned back into HTTP, as API Gateway and `cargo lambda watch` do.
#![allow(dead_code)] // The tests and the cold-start benchmark each use a subset of it.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, Command};
use tokio::sync::{mpsc, oneshot};

const RUNTIME_PREFIX: &str = "/2018-06-01/runtime";
/// How long a test waits for the function: far beyond any healthy answer, short enough to fail fast.
pub const PATIENCE: Duration = Duration::from_secs(20);

struct Invocation {
    id: String,
    event: Value,
    reply: oneshot::Sender<Result<Value, String>>,
}

#[derive(Default)]
struct Shared {
    pending: Mutex<HashMap<String, oneshot::Sender<Result<Value, String>>>>,
    next_polls: AtomicUsize,
    first_poll: Mutex<Option<Instant>>,
    invocations: AtomicUsize,
    /// Invocations handed to the function so far; numbers each one's trace id.
    handed_out: AtomicUsize,
}

/// The emulator and the function process it serves.
pub struct Emulator {
    /// Where clients send HTTP requests.
    pub gateway: SocketAddr,
    spawned: Instant,
    shared: Arc<Shared>,
    queue: mpsc::UnboundedSender<Invocation>,
    child: Child,
    logs: Arc<Mutex<Vec<String>>>,
    /// The tasks that read the function's stdout and stderr, done when the process has closed them.
    readers: Vec<tokio::task::JoinHandle<()>>,
}

/// The binary under test: `AUTH0_LAMBDA_API_BIN` (for example the release build), else the one cargo built.
pub fn function_binary() -> String {
    std::env::var("AUTH0_LAMBDA_API_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_auth0-lambda-api").to_owned())
}

/// The authorizer binary under test: `AUTH0_LAMBDA_AUTHORIZER_BIN` (for example the packaged build), else the
/// one cargo built.
pub fn authorizer_binary() -> String {
    std::env::var("AUTH0_LAMBDA_AUTHORIZER_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_auth0-lambda-authorizer").to_owned())
}

impl Emulator {
    /// Starts both servers and the function under test with exactly `env` (plus the variables Lambda sets).
    pub async fn start(env: &[(&str, &str)]) -> Self {
        Self::start_binary(&function_binary(), env).await
    }

    /// [`Emulator::start`] for any Lambda binary.
    pub async fn start_binary(binary: &str, env: &[(&str, &str)]) -> Self {
        Self::start_command(binary, &[], env).await
    }

    /// [`Emulator::start`] for any Lambda function that a command runs (an interpreter and its arguments).
    pub async fn start_command(program: &str, args: &[&str], env: &[(&str, &str)]) -> Self {
        let runtime_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let gateway_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let runtime_api = runtime_listener.local_addr().unwrap();
        let gateway = gateway_listener.local_addr().unwrap();
        let shared = Arc::new(Shared::default());
        let (queue, inbox) = mpsc::unbounded_channel::<Invocation>();
        let inbox = Arc::new(tokio::sync::Mutex::new(inbox));

        let runtime_shared = shared.clone();
        serve(runtime_listener, move |request| runtime_api_route(runtime_shared.clone(), inbox.clone(), request));
        let gateway_shared = shared.clone();
        let gateway_queue = queue.clone();
        serve(gateway_listener, move |request| gateway_route(gateway_shared.clone(), gateway_queue.clone(), request));

        let spawned = Instant::now();
        let mut child = Command::new(program)
            .args(args)
            .env_clear()
            .env("AWS_LAMBDA_RUNTIME_API", runtime_api.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", "auth0-lambda-api")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_REGION", "us-east-1")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let logs = Arc::new(Mutex::new(Vec::new()));
        let readers = vec![
            tokio::spawn(collect_lines(child.stdout.take().unwrap(), logs.clone())),
            tokio::spawn(collect_lines(child.stderr.take().unwrap(), logs.clone())),
        ];
        Self { gateway, spawned, shared, queue, child, logs, readers }
    }

    /// Polls until the function asks for its first invocation, i.e. its cold start is over.
    pub async fn wait_until_ready(&self) {
        let started = Instant::now();
        while self.shared.next_polls.load(Ordering::SeqCst) == 0 {
            assert!(started.elapsed() < PATIENCE, "the function never polled for an invocation: {:?}", self.logs());
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// When the function process was spawned.
    pub fn spawned(&self) -> Instant {
        self.spawned
    }

    /// The cold start: from spawning the process to its first request for an invocation.
    pub fn init_duration(&self) -> Option<Duration> {
        self.shared.first_poll.lock().unwrap().map(|polled| polled - self.spawned)
    }

    /// Polls until the function process exits, and returns its exit code.
    pub async fn wait_for_exit(&mut self) -> Option<i32> {
        let status =
            tokio::time::timeout(PATIENCE, self.child.wait()).await.expect("the function did not exit").unwrap();
        // The process is gone: its pipes are closed once read to the end.
        for reader in self.readers.drain(..) {
            let _ = tokio::time::timeout(PATIENCE, reader).await;
        }
        status.code()
    }

    /// Stops the function (SIGKILL) and waits until it is gone, so that its exit does not overlap the next
    /// measurement (dropping the emulator kills it too, but does not wait).
    pub async fn stop(&mut self) {
        let _ = tokio::time::timeout(PATIENCE, self.child.kill()).await.expect("the function did not exit");
    }

    /// Hands `event` (any payload: API Gateway v1 or v2) to the function as one invocation and waits for its
    /// answer: the response object, or the error it reported.
    pub async fn invoke(&self, event: Value) -> Result<Value, String> {
        let id = format!("req-{}", self.shared.invocations.fetch_add(1, Ordering::SeqCst) + 1);
        let (reply, outcome) = oneshot::channel();
        self.queue.send(Invocation { id, event, reply }).map_err(|_| "no function".to_owned())?;
        tokio::time::timeout(PATIENCE, outcome)
            .await
            .map_err(|_| "no answer in time".to_owned())?
            .map_err(|_| "the invocation was dropped".to_owned())?
    }

    /// How many times the function asked for an invocation.
    pub fn next_polls(&self) -> usize {
        self.shared.next_polls.load(Ordering::SeqCst)
    }

    /// How many invocations the gateway handed over.
    pub fn invocations(&self) -> usize {
        self.shared.invocations.load(Ordering::SeqCst)
    }

    /// The process id of the function, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Everything the function printed so far, a line each.
    pub fn logs(&self) -> Vec<String> {
        self.logs.lock().unwrap().clone()
    }
}

async fn collect_lines(stream: impl tokio::io::AsyncRead + Unpin, logs: Arc<Mutex<Vec<String>>>) {
    let mut lines = BufReader::new(stream).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        logs.lock().unwrap().push(line);
    }
}

type Answer = Response<Full<Bytes>>;

fn serve<F, Fut>(listener: TcpListener, route: F)
where
    F: Fn(Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Answer> + Send + 'static,
{
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let route = route.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request| {
                    let answer = route(request);
                    async move { Ok::<_, Infallible>(answer.await) }
                });
                let _ =
                    hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
            });
        }
    });
}

fn answer(status: StatusCode, body: impl Into<Bytes>) -> Answer {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    response
}

async fn runtime_api_route(
    shared: Arc<Shared>,
    inbox: Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<Invocation>>>,
    request: Request<Incoming>,
) -> Answer {
    let path = request.uri().path().strip_prefix(RUNTIME_PREFIX).unwrap_or_default().to_owned();
    let body = request.into_body().collect().await.map(|body| body.to_bytes()).unwrap_or_default();
    let text = String::from_utf8_lossy(&body).into_owned();
    if path == "/invocation/next" {
        shared.first_poll.lock().unwrap().get_or_insert_with(Instant::now);
        shared.next_polls.fetch_add(1, Ordering::SeqCst);
        let Some(invocation) = inbox.lock().await.recv().await else {
            return answer(StatusCode::GONE, "");
        };
        shared.pending.lock().unwrap().insert(invocation.id.clone(), invocation.reply);
        // A fresh X-Ray trace id per invocation, as Lambda sends (lambda_runtime puts it in the environment).
        let sequence = shared.handed_out.fetch_add(1, Ordering::SeqCst) + 1;
        let trace_id = format!("Root=1-6749f0a0-{sequence:024x};Parent={sequence:016x};Sampled=0");
        let deadline =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap() + Duration::from_secs(30);
        let mut response = answer(StatusCode::OK, invocation.event.to_string());
        let headers = response.headers_mut();
        // As Lambda sends it: the C++ runtime client under awslambdaric crashes on a /next without one.
        headers.insert("content-type", "application/json".parse().unwrap());
        headers.insert("lambda-runtime-aws-request-id", invocation.id.parse().unwrap());
        headers.insert("lambda-runtime-deadline-ms", deadline.as_millis().to_string().parse().unwrap());
        headers.insert(
            "lambda-runtime-invoked-function-arn",
            "arn:aws:lambda:us-east-1:123456789012:function:auth0-lambda-api".parse().unwrap(),
        );
        headers.insert("lambda-runtime-trace-id", trace_id.parse().unwrap());
        return response;
    }
    let Some((id, outcome)) = path.strip_prefix("/invocation/").and_then(|rest| rest.split_once('/')) else {
        return answer(StatusCode::NOT_FOUND, "");
    };
    let Some(reply) = shared.pending.lock().unwrap().remove(id) else {
        return answer(StatusCode::BAD_REQUEST, "unknown request id");
    };
    let result = match outcome {
        "response" => serde_json::from_str(&text).map_err(|error| format!("response is not JSON: {error}")),
        _ => Err(text),
    };
    let _ = reply.send(result);
    answer(StatusCode::ACCEPTED, "{}")
}

async fn gateway_route(
    shared: Arc<Shared>,
    queue: mpsc::UnboundedSender<Invocation>,
    request: Request<Incoming>,
) -> Answer {
    let id = format!("req-{}", shared.invocations.fetch_add(1, Ordering::SeqCst) + 1);
    let (parts, body) = request.into_parts();
    let body = body.collect().await.map(|body| body.to_bytes()).unwrap_or_default();
    // Payload v2 joins repeated headers with commas, as HTTP APIs do.
    let mut headers = serde_json::Map::new();
    for name in parts.headers.keys() {
        let values: Vec<&str> = parts.headers.get_all(name).iter().filter_map(|v| v.to_str().ok()).collect();
        headers.insert(name.as_str().to_owned(), json!(values.join(",")));
    }
    let path = parts.uri.path();
    let event = json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": parts.uri.query().unwrap_or(""),
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "emulator",
            "domainName": "127.0.0.1",
            "domainPrefix": "emulator",
            "http": {"method": parts.method.as_str(), "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "test"},
            "requestId": id,
            "routeKey": "$default",
            "stage": "$default",
            "time": "29/Nov/2026:17:00:00 +0000",
            "timeEpoch": 1_795_971_600_000u64
        },
        "body": base64::engine::general_purpose::STANDARD.encode(&body),
        "isBase64Encoded": true
    });
    let (reply, outcome) = oneshot::channel();
    if queue.send(Invocation { id, event, reply }).is_err() {
        return answer(StatusCode::SERVICE_UNAVAILABLE, "no function");
    }
    match tokio::time::timeout(PATIENCE, outcome).await {
        Ok(Ok(Ok(response))) => http_response(&response),
        // API Gateway answers a failed invocation with 502 and this body.
        Ok(Ok(Err(_))) | Ok(Err(_)) => answer(StatusCode::BAD_GATEWAY, r#"{"message":"Internal Server Error"}"#),
        Err(_) => answer(StatusCode::GATEWAY_TIMEOUT, r#"{"message":"Service Unavailable"}"#),
    }
}

/// Turns a payload v2 response object into HTTP.
fn http_response(response: &Value) -> Answer {
    let text = response["body"].as_str().unwrap_or_default();
    let body = if response["isBase64Encoded"] == true {
        base64::engine::general_purpose::STANDARD.decode(text).unwrap()
    } else {
        text.as_bytes().to_vec()
    };
    let status = response["statusCode"].as_u64().and_then(|code| StatusCode::from_u16(code as u16).ok());
    let mut http = answer(status.unwrap_or(StatusCode::BAD_GATEWAY), body);
    let headers = http.headers_mut();
    for (name, value) in response["headers"].as_object().into_iter().flatten() {
        headers.append(name.parse::<hyper::header::HeaderName>().unwrap(), value.as_str().unwrap().parse().unwrap());
    }
    for (name, values) in response["multiValueHeaders"].as_object().into_iter().flatten() {
        for value in values.as_array().into_iter().flatten() {
            headers
                .append(name.parse::<hyper::header::HeaderName>().unwrap(), value.as_str().unwrap().parse().unwrap());
        }
    }
    http
}

/// A response as the test client read it off the wire.
#[derive(Debug)]
pub struct HttpAnswer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl HttpAnswer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(key, _)| key.eq_ignore_ascii_case(name)).map(|(_, value)| value.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|_| panic!("not JSON: {}", self.body))
    }
}

/// Sends one HTTP/1.1 request over a fresh connection and reads the whole answer.
pub async fn http_get(address: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)]) -> HttpAnswer {
    let mut stream = TcpStream::connect(address).await.unwrap();
    let mut request = format!("{method} {path} HTTP/1.1\r\nhost: {address}\r\nconnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(PATIENCE, stream.read_to_end(&mut raw)).await.expect("no answer in time").unwrap();
    let raw = String::from_utf8(raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    HttpAnswer { status, headers, body: body.to_owned() }
}
