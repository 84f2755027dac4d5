//! A JWKS server on 127.0.0.1 that counts its requests and TLS handshakes and can be told to misbehave, the
//! private CA whose certificate it serves HTTPS with (as the tenant's JWKS is served), and the signing keys the
//! tests mint RS256, PS256, ES256 and EdDSA tokens with.
#![allow(dead_code)] // Each test binary uses its own subset.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
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
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;

/// The tests' private certificate authority: a root made once per test process, written to a PEM file that
/// the function trusts through `AUTH0_EXTRA_CA_CERTS`, and a server certificate it issued for `127.0.0.1`
/// and `localhost`.
pub struct TestCa {
    /// The root certificate's PEM file.
    pub ca_file: PathBuf,
    /// The server certificate and its private key, as PEM files (for moto_server).
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    /// The TLS settings of a server presenting that certificate.
    pub server: Arc<rustls::ServerConfig>,
}

/// The process's test CA.
pub fn test_ca() -> &'static TestCa {
    static CA: OnceLock<TestCa> = OnceLock::new();
    CA.get_or_init(|| {
        use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose};
        let mut root = CertificateParams::new(Vec::<String>::new()).unwrap();
        root.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        root.distinguished_name.push(DnType::CommonName, "auth0-lambda-api test CA");
        root.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let issuer = CertifiedIssuer::self_signed(root, KeyPair::generate().unwrap()).unwrap();
        let server_key = KeyPair::generate().unwrap();
        let mut server = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).unwrap();
        server.distinguished_name.push(DnType::CommonName, "127.0.0.1");
        let certificate = server.signed_by(&server_key, &issuer).unwrap();

        // Cargo's scratch directory for tests (under target/, gone with `cargo clean`); one CA per process.
        let directory = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("test-ca-{}", std::process::id()));
        std::fs::create_dir_all(&directory).unwrap();
        let write = |name: &str, text: String| {
            let path = directory.join(name);
            std::fs::write(&path, text).unwrap();
            path
        };
        let server_config =
            rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_no_client_auth()
                .with_single_cert(
                    vec![certificate.der().clone()],
                    rustls::pki_types::PrivateKeyDer::try_from(server_key.serialize_der()).unwrap(),
                )
                .unwrap();
        TestCa {
            ca_file: write("ca.pem", issuer.pem()),
            cert_file: write("server.pem", certificate.pem()),
            key_file: write("server-key.pem", server_key.serialize_pem()),
            server: Arc::new(server_config),
        }
    })
}

/// The `AUTH0_EXTRA_CA_CERTS` value that makes the function trust [`test_ca`].
pub fn ca_file() -> &'static str {
    test_ca().ca_file.to_str().unwrap()
}

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
    /// 200 with this body to the first request of each connection; a later request on a kept-alive
    /// connection finds it closed, as after a Lambda thaw when the server has timed the connection out.
    ClosesIdleConnections(String),
}

struct Shared {
    mode: Mutex<Mode>,
    requests: AtomicUsize,
    full_handshakes: AtomicUsize,
    resumed_handshakes: AtomicUsize,
    unknown_tickets: Arc<AtomicUsize>,
    /// The TLS settings each new connection is accepted with (none for plain http).
    tls: Mutex<Option<TlsAcceptor>>,
}

/// The TLS handshakes a server completed, and the session tickets it was offered and did not know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Handshakes {
    /// With the certificate chain sent (and verified by the client).
    pub full: usize,
    /// Resuming a session the server gave a ticket for: no certificate.
    pub resumed: usize,
    /// TLS 1.3 tickets offered for sessions the server does not know (forgotten, or never its own: the client
    /// keeps tickets by server name, and every test server is `127.0.0.1`).
    pub unknown_tickets: usize,
}

/// A server's own TLS session cache, which counts the TLS 1.3 tickets it is offered and does not know. The
/// server has no ticketer, so a ticket is the key of a session in this cache, and rustls `take`s it (single
/// use) for each ticket a client offers.
#[derive(Debug)]
struct Sessions {
    cache: Arc<rustls::server::ServerSessionMemoryCache>,
    unknown: Arc<AtomicUsize>,
}

impl Sessions {
    /// TLS settings with [`test_ca`]'s certificate and a new, empty session cache of their own, counting into
    /// `unknown`.
    fn acceptor(unknown: &Arc<AtomicUsize>) -> TlsAcceptor {
        let sessions = Self { cache: rustls::server::ServerSessionMemoryCache::new(256), unknown: unknown.clone() };
        let mut config = (*test_ca().server).clone();
        config.session_storage = Arc::new(sessions);
        TlsAcceptor::from(Arc::new(config))
    }

    fn counted(&self, session: Option<Vec<u8>>) -> Option<Vec<u8>> {
        if session.is_none() {
            self.unknown.fetch_add(1, Ordering::SeqCst);
        }
        session
    }
}

impl rustls::server::StoresServerSessions for Sessions {
    fn put(&self, key: Vec<u8>, value: Vec<u8>) -> bool {
        self.cache.put(key, value)
    }

    /// TLS 1.2 session ids, which rustls clients send without a session too: not counted.
    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.cache.get(key)
    }

    fn take(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.counted(self.cache.take(key))
    }

    fn can_cache(&self) -> bool {
        self.cache.can_cache()
    }
}

/// The server. It stops when dropped with the test's runtime.
pub struct JwksServer {
    pub address: SocketAddr,
    shared: Arc<Shared>,
}

impl JwksServer {
    /// An HTTPS server with a certificate from [`test_ca`], as a tenant's JWKS is served.
    pub async fn start(mode: Mode) -> Self {
        Self::listen_at("127.0.0.1:0", mode, true).await
    }

    /// A plain HTTP server (the function accepts `http://` for loopback hosts only).
    pub async fn start_plain(mode: Mode) -> Self {
        Self::listen_at("127.0.0.1:0", mode, false).await
    }

    /// An HTTPS server on another loopback address than the certificate names.
    pub async fn start_at_unnamed_address(mode: Mode) -> Self {
        Self::listen_at("127.0.0.2:0", mode, true).await
    }

    async fn listen_at(address: &str, mode: Mode, tls: bool) -> Self {
        let listener = TcpListener::bind(address).await.unwrap();
        let address = listener.local_addr().unwrap();
        let unknown_tickets = Arc::new(AtomicUsize::new(0));
        let acceptor = tls.then(|| Sessions::acceptor(&unknown_tickets));
        let shared = Arc::new(Shared {
            mode: Mutex::new(mode),
            requests: AtomicUsize::new(0),
            full_handshakes: AtomicUsize::new(0),
            resumed_handshakes: AtomicUsize::new(0),
            unknown_tickets,
            tls: Mutex::new(acceptor),
        });
        let serving = shared.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let shared = serving.clone();
                let tls = shared.tls.lock().unwrap().clone();
                tokio::spawn(async move {
                    if matches!(*shared.mode.lock().unwrap(), Mode::Drop) {
                        shared.requests.fetch_add(1, Ordering::SeqCst);
                        return; // the stream is dropped: connection closed before any answer
                    }
                    match tls {
                        Some(acceptor) => {
                            if let Ok(stream) = acceptor.accept(stream).await {
                                let resumed =
                                    stream.get_ref().1.handshake_kind() == Some(rustls::HandshakeKind::Resumed);
                                let counter =
                                    if resumed { &shared.resumed_handshakes } else { &shared.full_handshakes };
                                counter.fetch_add(1, Ordering::SeqCst);
                                serve_connection(TokioIo::new(stream), shared).await;
                            }
                        }
                        None => serve_connection(TokioIo::new(stream), shared).await,
                    }
                });
            }
        });
        Self { address, shared }
    }

    /// An HTTPS server that serves these keys.
    pub async fn serving(keys: &[Value]) -> Self {
        Self::start(Mode::Serve(jwks(keys))).await
    }

    pub fn url(&self) -> String {
        let scheme = if self.is_tls() { "https" } else { "http" };
        format!("{scheme}://{}/.well-known/jwks.json", self.address)
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

    /// Forgets the TLS sessions it gave tickets for, as a restarted server does, or one whose tickets expired:
    /// the next ticket a client offers is unknown, and the handshake is a full one.
    pub fn forget_sessions(&self) {
        assert!(self.is_tls(), "a plain http server has no TLS sessions");
        *self.shared.tls.lock().unwrap() = Some(Sessions::acceptor(&self.shared.unknown_tickets));
    }

    /// Whether it serves HTTPS: it has TLS settings for new connections.
    fn is_tls(&self) -> bool {
        self.shared.tls.lock().unwrap().is_some()
    }

    /// The TLS handshakes it completed so far.
    pub fn handshakes(&self) -> Handshakes {
        let count = |counter: &AtomicUsize| counter.load(Ordering::SeqCst);
        Handshakes {
            full: count(&self.shared.full_handshakes),
            resumed: count(&self.shared.resumed_handshakes),
            unknown_tickets: count(&self.shared.unknown_tickets),
        }
    }
}

/// Serves HTTP/1.1 on one connection until the client closes it (or, in [`Mode::ClosesIdleConnections`], until
/// its second request).
async fn serve_connection<S>(io: TokioIo<S>, shared: Arc<Shared>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let served = Arc::new(AtomicUsize::new(0));
    let service = hyper::service::service_fn(move |_request| {
        let shared = shared.clone();
        let first = served.fetch_add(1, Ordering::SeqCst) == 0;
        async move {
            let closes_idle = matches!(*shared.mode.lock().unwrap(), Mode::ClosesIdleConnections(_));
            if closes_idle && !first {
                // An error from the service makes hyper close the connection without an answer.
                return Err("connection timed out while idle");
            }
            Ok(answer(&shared).await)
        }
    });
    let _ = hyper::server::conn::http1::Builder::new().serve_connection(io, service).await;
}

async fn answer(shared: &Shared) -> Response<Full<Bytes>> {
    shared.requests.fetch_add(1, Ordering::SeqCst);
    let mode = shared.mode.lock().unwrap().clone();
    let (status, body, location) = match mode {
        Mode::Serve(body) | Mode::ClosesIdleConnections(body) => (200, body, None),
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
