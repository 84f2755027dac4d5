//! The endpoints, their access rules, and the dispatcher that routes an API Gateway request to them.

use std::convert::Infallible;
use std::time::Instant;

use lambda_http::http::header::{ALLOW, CONTENT_TYPE};
use lambda_http::http::{HeaderValue, Method, Response, StatusCode};
use lambda_http::{Body, Request, RequestExt};

use crate::auth::{ClaimsExt, authenticate};
use crate::config::Config;
use crate::error::{Realm, json_error};
use crate::verify::Verifier;

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone; no token is read.
    Public,
    /// Callers with a valid token; the handler finds its claims through [`ClaimsExt::claims`].
    Authenticated,
}

/// A handler: the request (with claims, on authenticated routes) and the app's settings in, a response out.
pub type Handler = fn(&Request, &App) -> Response<Body>;

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

/// Every endpoint. Protecting a new one is one line here with [`Access::Authenticated`].
pub const ROUTES: &[Route] = &[
    Route {
        method: Method::GET,
        path: "/",
        access: Access::Public,
        handler: hello,
    },
    Route {
        method: Method::GET,
        path: "/protected",
        access: Access::Authenticated,
        handler: protected,
    },
];

/// `GET /`: the seed's greeting, no token needed.
fn hello(_: &Request, _: &App) -> Response<Body> {
    text(StatusCode::OK, "Hello World!".to_owned())
}

/// `GET /protected`: greets the caller by email, the configured email claim, or `sub`.
fn protected(request: &Request, app: &App) -> Response<Body> {
    let name = request
        .claims()
        .and_then(|claims| claims.display_name(app.email_claim.as_deref()));
    text(
        StatusCode::OK,
        name.map_or_else(|| "Hello World!".to_owned(), |name| format!("Hello World {name}!")),
    )
}

fn text(status: StatusCode, body: String) -> Response<Body> {
    let mut response = Response::new(Body::Text(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    response
}

/// The function's state, built once per cold start and shared by every invocation.
#[derive(Debug)]
pub struct App {
    verifier: Verifier,
    realm: Realm,
    email_claim: Option<String>,
}

impl App {
    /// Builds the keys and the verifier from a validated configuration.
    pub fn new(config: Config) -> Result<Self, jsonwebtoken::errors::Error> {
        let verifier = Verifier::new(config.policy(), &config.hmac_secret)?;
        Ok(Self {
            verifier,
            realm: config.realm,
            email_claim: config.email_claim,
        })
    }

    /// Answers one API Gateway request and logs one line for it. Never fails: an auth failure is a 401
    /// response, not an error (API Gateway would turn an error into a 5xx).
    pub async fn handle(&self, mut request: Request) -> Result<Response<Body>, Infallible> {
        let started = Instant::now();
        let (response, code) = self.dispatch(&mut request);
        tracing::info!(
            request_id = request.lambda_context_ref().map(|context| context.request_id.as_str()),
            method = request.method().as_str(),
            path = route_path(&request),
            status = response.status().as_u16(),
            code,
            duration_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
            "request"
        );
        Ok(response)
    }

    /// The response and the outcome code for the log (`ok` or the error code).
    fn dispatch(&self, request: &mut Request) -> (Response<Body>, &'static str) {
        let path = route_path(request);
        let method = request.method();
        let mut on_path = ROUTES.iter().filter(|route| route.path == path).peekable();
        if on_path.peek().is_none() {
            return (
                json_error(StatusCode::NOT_FOUND, "not_found", "no route matches this path"),
                "not_found",
            );
        }
        let Some(route) = on_path.clone().find(|route| route.method == method) else {
            let allow = on_path
                .map(|route| route.method.as_str())
                .chain(["OPTIONS"])
                .collect::<Vec<_>>()
                .join(", ");
            // CORS preflights never carry credentials, so OPTIONS is answered without a token.
            let (mut response, code) = if method == Method::OPTIONS {
                let mut preflight = Response::new(Body::Empty);
                *preflight.status_mut() = StatusCode::NO_CONTENT;
                (preflight, "ok")
            } else {
                let description = "this method is not allowed on this path";
                (
                    json_error(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", description),
                    "method_not_allowed",
                )
            };
            if let Ok(allow) = HeaderValue::try_from(allow) {
                response.headers_mut().insert(ALLOW, allow);
            }
            return (response, code);
        };
        if route.access == Access::Authenticated
            && let Err(error) = authenticate(&self.verifier, request)
        {
            return (error.to_response(&self.realm), error.code());
        }
        ((route.handler)(request, self), "ok")
    }
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
