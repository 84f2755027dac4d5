//! The API front door: the endpoints, their access rules, the requires-auth step, and the dispatcher that
//! routes a request (API Gateway, Application Load Balancer, Function URL) to them.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::time::Instant;

use lambda_http::http::header::{ALLOW, AUTHORIZATION, CONTENT_TYPE, HeaderName};
use lambda_http::http::{HeaderValue, Method, Response, StatusCode};
use lambda_http::{Body, Request, RequestExt};

use crate::auth::{Authenticator, scheme_in, unix_now};
use crate::claims::{Claims, Requirement};
use crate::config::{Config, ConfigError, invalid, var};
use crate::dpop::{Mode, ProofHeader, Target};
use crate::error::AuthError;
use crate::key_source::Prefetch;
use crate::metrics::Reporter;

pub mod metadata;
pub mod response;

pub use metadata::{DpopMetadata, ResourceMetadata};
pub use response::{Realm, json_error, json_response};

/// The request header that carries a DPoP proof (RFC 9449 §4.1).
const DPOP: HeaderName = HeaderName::from_static("dpop");
/// The response header that carries a DPoP server nonce (RFC 9449 §8.1).
const DPOP_NONCE: HeaderName = HeaderName::from_static("dpop-nonce");

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone; no token is read.
    Public,
    /// Callers with a valid token; the handler finds its claims in [`Call::claims`].
    Authenticated,
    /// Callers with a valid token that grants what the requirement names; else 403 `insufficient_scope`.
    Requires(Requirement),
}

/// What a handler is given: the request, its verified claims on an authenticated route, and the app (its
/// settings, and whatever a route needs to call another service).
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    /// The request, without the API Gateway stage in its route path.
    pub request: &'a Request,
    /// The verified claims (the seed's `current_user`); `None` on a public route.
    pub claims: Option<&'a Claims>,
    /// The app.
    pub app: &'a App,
}

/// The response a handler gives, once it has done what it awaits.
pub type Reply<'a> = Pin<Box<dyn Future<Output = Response<Body>> + Send + 'a>>;

/// A handler: an `async` function of a [`Call`], written `fn name(call: Call<'_>) -> Reply<'_>` with its body
/// in `Box::pin(async move { ... })`, so that the route table stays a constant.
pub type Handler = for<'a> fn(Call<'a>) -> Reply<'a>;

/// One endpoint.
#[derive(Debug, Clone)]
pub struct Route {
    /// The method it answers.
    pub method: Method,
    /// The path, without the API Gateway stage.
    pub path: &'static str,
    /// Who may call it.
    pub access: Access,
    /// What answers it.
    pub handler: Handler,
}

impl Route {
    /// A `GET` route.
    pub const fn get(path: &'static str, access: Access, handler: Handler) -> Self {
        Self { method: Method::GET, path, access, handler }
    }
}

/// The scope Auth0's quickstart API requires on its scoped endpoint.
const READ_MESSAGES: Requirement = Requirement::all_of(&["read:messages"]);

/// Every endpoint. Protecting a new one is one line here with [`Access::Authenticated`] or
/// [`Access::Requires`].
pub const ROUTES: &[Route] = &[
    // The Flask quickstart's routes.
    Route::get("/", Access::Public, hello),
    Route::get("/protected", Access::Authenticated, protected),
    // Auth0's current API quickstart routes.
    Route::get("/api/public", Access::Public, api_public),
    Route::get("/api/private", Access::Authenticated, api_private),
    Route::get("/api/private-scoped", Access::Requires(READ_MESSAGES), api_private_scoped),
    // RFC 9728: where a client finds the authorization server (when `AUTH0_RESOURCE` is set).
    Route::get(metadata::PATH, Access::Public, resource_metadata),
];

/// `GET /`: the seed's greeting, no token needed.
fn hello(_: Call<'_>) -> Reply<'_> {
    Box::pin(async { text(StatusCode::OK, "Hello World!".to_owned()) })
}

/// `GET /protected`: greets the caller by email, the configured email claim, or `sub`.
fn protected(call: Call<'_>) -> Reply<'_> {
    Box::pin(async move {
        let name = call.claims.and_then(|claims| claims.display_name(call.app.email_claim.as_deref()));
        text(StatusCode::OK, name.map_or_else(|| "Hello World!".to_owned(), |name| format!("Hello World {name}!")))
    })
}

/// A JSON `{"message": ...}` answer, as Auth0's quickstart APIs give, its body written at compile time: the
/// text goes into the JSON as it is, so it must hold no `"`, `\` or control character (a test parses each).
macro_rules! message {
    ($text:literal) => {
        json_response(StatusCode::OK, concat!(r#"{"message":""#, $text, r#""}"#).to_owned(), None)
    };
}

/// `GET /api/public`: no token needed.
fn api_public(_: Call<'_>) -> Reply<'_> {
    Box::pin(async { message!("Hello from a public endpoint! You don't need to be authenticated to see this.") })
}

/// `GET /api/private`: any valid token.
fn api_private(_: Call<'_>) -> Reply<'_> {
    Box::pin(async { message!("Hello from a private endpoint! You need to be authenticated to see this.") })
}

/// `GET /api/private-scoped`: a valid token granting `read:messages`.
fn api_private_scoped(_: Call<'_>) -> Reply<'_> {
    Box::pin(async {
        message!(
            "Hello from a private endpoint! You need to be authenticated and have a scope of read:messages to see \
             this."
        )
    })
}

/// `GET /.well-known/oauth-protected-resource`: the RFC 9728 metadata, or 404 when no resource is configured.
fn resource_metadata(call: Call<'_>) -> Reply<'_> {
    Box::pin(async move {
        match &call.app.metadata {
            Some(metadata) => metadata.response(),
            None => json_error(StatusCode::NOT_FOUND, "not_found", "no route matches this path"),
        }
    })
}

fn text(status: StatusCode, body: String) -> Response<Body> {
    let mut response = Response::new(Body::Text(body));
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    response
}

/// The function's state, built once per cold start and shared by every invocation.
#[derive(Debug)]
pub struct App {
    auth: Authenticator,
    realm: Realm,
    metadata: Option<ResourceMetadata>,
    email_claim: Option<String>,
    metrics: Reporter,
}

impl App {
    /// Builds the verifier, the HMAC key and the JWKS client from a validated configuration. No I/O: the
    /// first JWKS fetch is [`App::prefetch_keys`].
    pub fn new(config: Config) -> Result<Self, ConfigError> {
        let mut realm = Realm::new(&config.realm)
            .ok_or_else(|| invalid(var::REALM, "must be printable ASCII (it is sent in a header)"))?
            .with_dpop(config.dpop.mode, &config.dpop.algorithm_names());
        let metadata = config.resource.as_ref().map(|resource| {
            let scopes: Vec<&str> = ROUTES
                .iter()
                .filter_map(|route| match route.access {
                    Access::Requires(requirement) => Some(requirement.grants),
                    _ => None,
                })
                .flatten()
                .copied()
                .collect();
            let dpop = DpopMetadata {
                algorithms: config.dpop.algorithm_names(),
                required: config.dpop.mode == Mode::Required,
            };
            ResourceMetadata::new(resource, &config.issuers, &scopes, &dpop)
        });
        if let Some(metadata) = &metadata {
            realm = realm
                .with_resource_metadata(metadata.url())
                .ok_or_else(|| invalid(var::RESOURCE, "must be printable ASCII (it is sent in a header)"))?;
        }
        Ok(Self {
            auth: Authenticator::from_config(&config)?,
            realm,
            metadata,
            email_claim: config.email_claim,
            metrics: Reporter::new(config.metrics),
        })
    }

    /// The cold-start JWKS fetch, when a JWKS is configured: bounded by the fetch timeout, and a failure
    /// leaves the instance serving (it fetches again on the first request that needs a key).
    pub async fn prefetch_keys(&self) -> Prefetch {
        self.auth.prefetch_keys().await
    }

    /// The authenticator every protected route goes through: bearer token in, verified claims out.
    pub fn authenticator(&self) -> &Authenticator {
        &self.auth
    }

    /// Answers one API Gateway request and logs one line for it. Never fails: an auth failure is a 401
    /// response, not an error (API Gateway would turn an error into a 5xx).
    pub async fn handle(&self, mut request: Request) -> Result<Response<Body>, Infallible> {
        let started = Instant::now();
        let Answered { response, code, route } = self.dispatch(&mut request).await;
        let duration = started.elapsed();
        self.metrics.report(code, route, duration, self.auth.keys());
        let context = request.lambda_context_ref();
        tracing::info!(
            request_id = context.map(|context| context.request_id.as_str()),
            // The invocation's X-Ray trace id, which Lambda sends with each one: logs and traces line up.
            xray_trace_id = context.and_then(|context| context.xray_trace_id.as_deref()),
            method = request.method().as_str(),
            path = route_path(&request),
            status = response.status().as_u16(),
            code,
            duration_us = u64::try_from(duration.as_micros()).unwrap_or(u64::MAX),
            "request"
        );
        Ok(response)
    }

    /// Routes, authorizes and answers one request.
    async fn dispatch(&self, request: &mut Request) -> Answered {
        let route = match select(route_path(request), request.method()) {
            Ok(route) => route,
            Err(no_route) => return no_route.answer(),
        };
        let route_path = Some(route.path);
        if route.access != Access::Public
            && let Err(error) = self.authorize(route.access, request).await
        {
            let scheme = scheme_in(request.headers().get_all(AUTHORIZATION).iter().map(HeaderValue::as_bytes));
            let mut response = error.to_response(&self.realm, scheme);
            // RFC 9449 §9: a 401 tells the client the nonce its next proof must carry.
            if error.status() == StatusCode::UNAUTHORIZED
                && let Some(nonce) = self.auth.dpop().and_then(|dpop| dpop.nonce(unix_now()))
                && let Ok(nonce) = HeaderValue::try_from(nonce)
            {
                response.headers_mut().insert(DPOP_NONCE, nonce);
            }
            return Answered { response, code: error.code(), route: route_path };
        }
        let call = Call { request, claims: request.claims(), app: self };
        Answered { response: (route.handler)(call).await, code: "ok", route: route_path }
    }

    /// The requires-auth step: verifies the bearer token of `request`, stores its claims in the request's
    /// extensions for the handler, and checks what `access` requires of them.
    async fn authorize(&self, access: Access, request: &mut Request) -> Result<(), AuthError> {
        let headers = request.headers();
        // The proof, and where the request was sent, are read only when DPoP is on.
        let (proof, target) = if self.auth.dpop().is_some() {
            let text = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
            let target = Target {
                method: request.method().as_str(),
                scheme: text("x-forwarded-proto"),
                host: text("host"),
                path: request.uri().path(),
                route_path: route_path(request),
            };
            (ProofHeader::from_values(headers.get_all(DPOP).iter().map(HeaderValue::as_bytes)), target)
        } else {
            (ProofHeader::Missing, Target::default())
        };
        let claims = self
            .auth
            .authenticate(headers.get_all(AUTHORIZATION).iter().map(HeaderValue::as_bytes), proof, &target)
            .await?;
        let checked = match access {
            Access::Requires(requirement) => requirement.check(&claims),
            _ => Ok(()),
        };
        request.extensions_mut().insert(claims);
        checked
    }
}

/// What the dispatcher made of a request.
struct Answered {
    response: Response<Body>,
    /// `ok` or the error code, for the log line and the metric.
    code: &'static str,
    /// The route template that matched, if any.
    route: Option<&'static str>,
}

/// Access to the verified claims of a request (the seed's `current_user`).
pub trait ClaimsExt {
    /// The claims of the verified token; `None` on routes that do not require authentication.
    fn claims(&self) -> Option<&Claims>;
}

impl ClaimsExt for Request {
    fn claims(&self) -> Option<&Claims> {
        self.extensions().get::<Claims>()
    }
}

/// Why no route answers a request.
enum NoRoute {
    /// No route has this path.
    NotFound,
    /// The path exists but not with this method; `allow` lists the methods it has.
    Method { allow: String, preflight: bool },
}

impl NoRoute {
    /// 404; 405 with `Allow`; or, for `OPTIONS`, 204 with `Allow` (CORS preflights never carry credentials,
    /// so they are answered without a token).
    fn answer(self) -> Answered {
        let Self::Method { allow, preflight } = self else {
            let response = json_error(StatusCode::NOT_FOUND, "not_found", "no route matches this path");
            return Answered { response, code: "not_found", route: None };
        };
        let (mut response, code) = if preflight {
            let mut response = Response::new(Body::Empty);
            *response.status_mut() = StatusCode::NO_CONTENT;
            (response, "ok")
        } else {
            let description = "this method is not allowed on this path";
            (json_error(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", description), "method_not_allowed")
        };
        if let Ok(allow) = HeaderValue::try_from(allow) {
            response.headers_mut().insert(ALLOW, allow);
        }
        Answered { response, code, route: None }
    }
}

/// The route for `path` and `method`.
fn select(path: &str, method: &Method) -> Result<&'static Route, NoRoute> {
    let mut on_path = ROUTES.iter().filter(|route| route.path == path).peekable();
    if on_path.peek().is_none() {
        return Err(NoRoute::NotFound);
    }
    if let Some(route) = on_path.clone().find(|route| route.method == method) {
        return Ok(route);
    }
    let allow = on_path.map(|route| route.method.as_str()).chain(["OPTIONS"]).collect::<Vec<_>>().join(", ");
    Err(NoRoute::Method { allow, preflight: method == Method::OPTIONS })
}

/// The path the routes see: without the API Gateway stage (REST APIs put `/prod` in the URI path).
fn route_path(request: &Request) -> &str {
    match request.raw_http_path() {
        "" => match request.uri().path() {
            "" => "/",
            path => path,
        },
        path => path,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A handler that awaits another service (a task on the runtime here) before it answers.
    fn awaiting(call: Call<'_>) -> Reply<'_> {
        Box::pin(async move {
            let sub = call.claims.and_then(Claims::sub).map(str::to_owned);
            let looked_up = tokio::spawn(async move { format!("profile of {sub:?}") }).await.unwrap_or_default();
            text(StatusCode::OK, looked_up)
        })
    }

    /// Each quickstart message is a JSON object with the one string member `message`, whose text is what the
    /// handler wrote.
    #[tokio::test]
    async fn every_message_answer_is_the_json_of_its_text() {
        let request = Request::default();
        let env = |name: &str| match name {
            "AUTH0_AUDIENCE" => Some("https://api.example.com".to_owned()),
            "AUTH0_CLIENT_SECRET" => Some("a-secret-of-at-least-thirty-two-bytes-0123".to_owned()),
            _ => None,
        };
        let app = App::new(Config::from_lookup(env).unwrap()).unwrap();
        for (handler, text) in [
            (api_public as Handler, "Hello from a public endpoint! You don't need to be authenticated to see this."),
            (api_private, "Hello from a private endpoint! You need to be authenticated to see this."),
            (
                api_private_scoped,
                "Hello from a private endpoint! You need to be authenticated and have a scope of read:messages to \
                 see this.",
            ),
        ] {
            let response = handler(Call { request: &request, claims: None, app: &app }).await;
            assert_eq!(response.headers()[CONTENT_TYPE], "application/json");
            let body: serde_json::Value = serde_json::from_slice(response.body().as_ref()).unwrap();
            assert_eq!(body, serde_json::json!({ "message": text }));
        }
    }

    #[tokio::test]
    async fn a_handler_can_await_another_service() {
        let env = |name: &str| match name {
            "AUTH0_AUDIENCE" => Some("https://api.example.com".to_owned()),
            "AUTH0_CLIENT_SECRET" => Some("a-secret-of-at-least-thirty-two-bytes-0123".to_owned()),
            _ => None,
        };
        let app = App::new(Config::from_lookup(env).unwrap()).unwrap();
        let handler: Handler = awaiting;
        let request = Request::default();
        let response = handler(Call { request: &request, claims: None, app: &app }).await;
        assert_eq!(response.body(), &Body::Text("profile of None".to_owned()));
    }
}
