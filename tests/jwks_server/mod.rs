//! A JWKS server on 127.0.0.1 that counts its requests and can be told to misbehave, and the signing keys
//! the tests mint RS256, PS256, ES256 and EdDSA tokens with.
#![allow(dead_code)] // Each test binary uses its own subset.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair};
use base64::Engine as _;
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::{Response, StatusCode};
use hyper_util::rt::TokioIo;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use tokio::net::TcpListener;

/// How the server answers.
#[derive(Clone, Debug)]
pub enum Mode {
    /// 200 with this body.
    Serve(String),
    /// This status and an empty body.
    Status(u16),
    /// This status and this body.
    Reply(u16, String),
    /// 200 with this body, after this delay.
    Slow(Duration, String),
    /// 302 to this location.
    Redirect(String),
    /// Accepts the connection and closes it at once, as a server that is down behind a load balancer.
    Drop,
}

struct Shared {
    mode: Mutex<Mode>,
    requests: AtomicUsize,
}

/// The server. It stops when dropped with the test's runtime.
pub struct JwksServer {
    pub address: SocketAddr,
    shared: Arc<Shared>,
}

impl JwksServer {
    pub async fn start(mode: Mode) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let shared = Arc::new(Shared { mode: Mutex::new(mode), requests: AtomicUsize::new(0) });
        let serving = shared.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let shared = serving.clone();
                tokio::spawn(async move {
                    if matches!(*shared.mode.lock().unwrap(), Mode::Drop) {
                        shared.requests.fetch_add(1, Ordering::SeqCst);
                        return; // the stream is dropped: connection closed before any answer
                    }
                    let service = hyper::service::service_fn(move |_request| {
                        let shared = shared.clone();
                        async move { Ok::<_, Infallible>(answer(&shared).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self { address, shared }
    }

    /// A server that serves these keys.
    pub async fn serving(keys: &[Value]) -> Self {
        Self::start(Mode::Serve(jwks(keys))).await
    }

    pub fn url(&self) -> String {
        format!("http://{}/.well-known/jwks.json", self.address)
    }

    pub fn set(&self, mode: Mode) {
        *self.shared.mode.lock().unwrap() = mode;
    }

    pub fn serve(&self, keys: &[Value]) {
        self.set(Mode::Serve(jwks(keys)));
    }

    /// How many requests (or connections, in [`Mode::Drop`]) it received.
    pub fn requests(&self) -> usize {
        self.shared.requests.load(Ordering::SeqCst)
    }
}

async fn answer(shared: &Shared) -> Response<Full<Bytes>> {
    shared.requests.fetch_add(1, Ordering::SeqCst);
    let mode = shared.mode.lock().unwrap().clone();
    let (status, body, location) = match mode {
        Mode::Serve(body) => (200, body, None),
        Mode::Status(status) => (status, String::new(), None),
        Mode::Reply(status, body) => (status, body, None),
        Mode::Slow(delay, body) => {
            tokio::time::sleep(delay).await;
            (200, body, None)
        }
        Mode::Redirect(location) => (302, String::new(), Some(location)),
        Mode::Drop => (500, String::new(), None),
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = StatusCode::from_u16(status).unwrap();
    response.headers_mut().insert("content-type", "application/json".parse().unwrap());
    if let Some(location) = location {
        response.headers_mut().insert("location", location.parse().unwrap());
    }
    response
}

/// `{"keys": [...]}`.
pub fn jwks(keys: &[Value]) -> String {
    json!({ "keys": keys }).to_string()
}

/// A private key, the algorithm it signs with, and its `kid`.
pub struct SigningKey {
    pub kid: String,
    pub alg: Algorithm,
    pub key: EncodingKey,
    /// The public JWK where jsonwebtoken cannot derive it (Ed25519 from a PKCS#8 v2 document).
    public: Option<Value>,
}

impl SigningKey {
    /// An RSA key from `tests/keys/<name>.pem` (PKCS#1).
    pub fn rsa(name: &str, kid: &str, alg: Algorithm) -> Self {
        let path = format!("{}/tests/keys/{name}.pem", env!("CARGO_MANIFEST_DIR"));
        let pem = std::fs::read_to_string(path).unwrap();
        let base64: String = pem.lines().filter(|line| !line.starts_with("-----")).collect();
        let der = base64::engine::general_purpose::STANDARD.decode(base64).unwrap();
        Self { kid: kid.into(), alg, key: EncodingKey::from_rsa_der(&der), public: None }
    }

    /// A P-256 key generated now.
    pub fn es256(kid: &str) -> Self {
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new()).unwrap();
        Self { kid: kid.into(), alg: Algorithm::ES256, key: EncodingKey::from_ec_der(pkcs8.as_ref()), public: None }
    }

    /// An Ed25519 key generated now.
    pub fn eddsa(kid: &str) -> Self {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        let public = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap().public_key().as_ref().to_vec();
        let x = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(public);
        let jwk = json!({"kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "x": x});
        Self {
            kid: kid.into(),
            alg: Algorithm::EdDSA,
            key: EncodingKey::from_ed_der(pkcs8.as_ref()),
            public: Some(jwk),
        }
    }

    /// The public JWK, as Auth0 publishes it (`kid`, `use: sig`, `alg`).
    pub fn jwk(&self) -> Value {
        let mut jwk = match &self.public {
            Some(jwk) => jwk.clone(),
            None => serde_json::to_value(Jwk::from_encoding_key(&self.key, self.alg).unwrap()).unwrap(),
        };
        jwk["kid"] = json!(self.kid);
        jwk["use"] = json!("sig");
        jwk
    }

    /// A token with these claims, its header naming this key.
    pub fn sign(&self, claims: &Value) -> String {
        self.sign_with_header(claims, |_| {})
    }

    /// A token whose header `edit` may change (to add `jku`, `jwk`, another `kid`...).
    pub fn sign_with_header(&self, claims: &Value, edit: impl FnOnce(&mut Header)) -> String {
        let mut header = Header::new(self.alg);
        header.kid = Some(self.kid.clone());
        edit(&mut header);
        jsonwebtoken::encode(&header, claims, &self.key).unwrap()
    }
}
