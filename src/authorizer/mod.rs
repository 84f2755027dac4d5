//! The authorizer front door: an API Gateway Lambda authorizer that puts the same verification in front of
//! routes whose integrations are not this function (other Lambdas, HTTP backends).
//!
//! The token is verified by the core exactly as the API front door does it; what differs is the answer. A
//! missing or invalid credential is the error `Unauthorized` for REST APIs (API Gateway's 401) and a denial
//! for HTTP APIs (which have no 401 from an authorizer: 403); a valid token without a route's grants is a
//! denial (403) everywhere; keys that cannot be fetched, or a DPoP replay check that cannot be made, are a
//! function error (API Gateway's 500). IAM
//! policies cover every route for the token (allow the stage, deny each route whose grants it lacks), so an
//! answer API Gateway caches under the token alone never admits it to a route it does not grant.

pub mod event;
pub mod routes;

use std::time::Instant;

use lambda_http::lambda_runtime::{Diagnostic, LambdaEvent};
use serde_json::{Map, Value, json};

use crate::auth::Authenticator;
use crate::claims::Claims;
use crate::config::{Config, ConfigError, invalid, var};
use crate::dpop::{ProofHeader, Target};
use crate::error::AuthError;
use crate::metrics::Reporter;
pub use event::{Event, Kind, MethodArn};
pub use routes::{RouteRule, RouteTable};

/// Context keys the authorizer sets itself, which a configured claim cannot take.
const RESERVED_KEYS: &[&str] = &["sub", "scope", "permissions", "code", "description", "principalId"];

/// What an HTTP API payload 2.0 authorizer answers; it must match the API's `EnableSimpleResponses`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseFormat {
    /// `{"isAuthorized": …, "context": …}`.
    Simple,
    /// An IAM policy, as payload 1.0 and REST APIs always take.
    Iam,
}

/// A claim handed to the integration under a context key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContextClaim {
    /// The key in the authorizer context (`$context.authorizer.<key>`).
    pub key: String,
    /// The claim's name in the token.
    pub claim: String,
}

/// The authorizer's own settings, read at cold start beside [`Config`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `AUTH0_AUTHORIZER_ROUTES`.
    pub routes: RouteTable,
    /// `AUTH0_AUTHORIZER_RESPONSE`, `simple` by default.
    pub response: ResponseFormat,
    /// `AUTH0_AUTHORIZER_CONTEXT_CLAIMS`: `email, org=org_id, roles=https://example.com/roles`.
    pub context_claims: Vec<ContextClaim>,
}

impl Settings {
    /// Reads the settings through `lookup`; an empty value counts as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = crate::config::set_values(lookup);
        let routes = RouteTable::parse(get(var::AUTHORIZER_ROUTES).as_deref())?;
        let response = match get(var::AUTHORIZER_RESPONSE).as_deref().map(str::trim) {
            None | Some("simple") => ResponseFormat::Simple,
            Some("iam") => ResponseFormat::Iam,
            Some(_) => return Err(invalid(var::AUTHORIZER_RESPONSE, "must be `simple` or `iam`")),
        };
        let mut context_claims: Vec<ContextClaim> = Vec::new();
        for item in get(var::AUTHORIZER_CONTEXT_CLAIMS).iter().flat_map(|text| text.split(',')).map(str::trim) {
            if item.is_empty() {
                continue;
            }
            let (key, claim) = item.split_once('=').map_or((item, item), |(key, claim)| (key.trim(), claim.trim()));
            let bad = |problem: String| Err(invalid(var::AUTHORIZER_CONTEXT_CLAIMS, problem));
            if key.is_empty() || !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return bad(format!(
                    "`{key}` is not a context key (letters, digits, `_`); name a namespaced claim as `key=claim`"
                ));
            }
            if claim.is_empty() {
                return bad(format!("`{key}=` names no claim"));
            }
            if RESERVED_KEYS.contains(&key) || context_claims.iter().any(|other| other.key == key) {
                return bad(format!("the context key `{key}` is already taken"));
            }
            context_claims.push(ContextClaim { key: key.to_owned(), claim: claim.to_owned() });
        }
        Ok(Self { routes, response, context_claims })
    }
}

/// What the authorizer decided for one event.
#[derive(Debug)]
pub struct Decision {
    /// The kind of event, when it was one.
    pub kind: Option<Kind>,
    /// `ok` or the reason code (`token_expired`, `insufficient_scope`, …), for the log line and the metric.
    pub outcome: &'static str,
    /// The rule that covers the route called, when one does.
    pub route: Option<&'static str>,
    /// The answer for API Gateway, or the function error it turns into a 401 (`Unauthorized`) or a 500.
    pub answer: Result<Value, Diagnostic>,
}

/// The authorizer's state, built once per cold start.
#[derive(Debug)]
pub struct Authorizer {
    auth: Authenticator,
    settings: Settings,
    metrics: Reporter,
}

impl Authorizer {
    /// Builds the authorizer from the configuration both front doors share and its own settings. No I/O.
    pub fn new(config: Config, settings: Settings) -> Result<Self, ConfigError> {
        if config.dpop.nonce_secret.is_some() {
            return Err(invalid(
                var::DPOP_NONCE_SECRET,
                "is for the API front door: API Gateway does not pass an authorizer's DPoP-Nonce header to the client",
            ));
        }
        Ok(Self { auth: Authenticator::from_config(&config)?, settings, metrics: Reporter::new(config.metrics) })
    }

    /// [`Authorizer::new`] with the settings read from the process environment.
    pub fn from_env(config: Config) -> Result<Self, ConfigError> {
        Self::new(config, Settings::from_lookup(|name| std::env::var(name).ok())?)
    }

    /// The authenticator every event's token goes through.
    pub fn authenticator(&self) -> &Authenticator {
        &self.auth
    }

    /// Answers one invocation, and logs one line and writes one metric line for it (never a claim value).
    pub async fn handle(&self, event: LambdaEvent<Event>) -> Result<Value, Diagnostic> {
        let started = Instant::now();
        let decision = self.decide(&event.payload).await;
        let duration = started.elapsed();
        self.metrics.report(decision.outcome, decision.route, duration, self.auth.keys());
        tracing::info!(
            request_id = event.context.request_id.as_str(),
            xray_trace_id = event.context.xray_trace_id.as_deref(),
            kind = decision.kind.map(Kind::name),
            route = decision.route,
            code = decision.outcome,
            allowed = decision.outcome == "ok",
            duration_us = u64::try_from(duration.as_micros()).unwrap_or(u64::MAX),
            "authorization"
        );
        decision.answer
    }

    /// The decision for `event`.
    pub async fn decide(&self, event: &Event) -> Decision {
        let (kind, arn) = match event.route() {
            Ok(route) => route,
            Err(reason) => {
                let answer = Err(failure("InvalidEvent", reason.0));
                return Decision { kind: None, outcome: "invalid_event", route: None, answer };
            }
        };
        let rule = self.settings.routes.find(arn.method_and_path);
        let route = rule.map(RouteRule::key);
        let decision = |outcome, answer| Decision { kind: Some(kind), outcome, route, answer };

        let values = event.authorization(kind);
        // `GET/reports/7`: the method, then the path after the stage.
        let (method, route_path) = arn.method_and_path.split_at(arn.method_and_path.find('/').unwrap_or(0));
        // The proof, and where the request was sent, are read only when DPoP is on.
        let dpop = self.auth.dpop().is_some();
        let header = |name| if dpop { event.header(kind, name) } else { Vec::new() };
        let (proofs, host, scheme) = (header("dpop"), header("host"), header("x-forwarded-proto"));
        let path = match arn.base.rsplit_once('/').map(|(_, stage)| stage) {
            // The default stage of an HTTP API is not in its URLs.
            Some(stage) if dpop && stage != "$default" => std::borrow::Cow::Owned(format!("/{stage}{route_path}")),
            _ => std::borrow::Cow::Borrowed(route_path),
        };
        let target =
            Target { method, scheme: scheme.first().copied(), host: host.first().copied(), path: &path, route_path };
        let claims = self
            .auth
            .authenticate(
                values.iter().map(|value| value.as_bytes()),
                ProofHeader::from_values(proofs.iter().map(|value| value.as_bytes())),
                &target,
            )
            .await;
        let claims = match claims {
            Ok(claims) => claims,
            Err(error @ AuthError::KeysUnavailable { .. }) => {
                return decision(error.code(), Err(failure("KeysUnavailable", error.description())));
            }
            // Our fault, not the token's: API Gateway's 500 (the template's Gateway Response makes it 503).
            Err(error @ AuthError::ReplayCheckUnavailable { .. }) => {
                return decision(error.code(), Err(failure("ReplayCheckUnavailable", error.description())));
            }
            Err(error) if kind.has_unauthorized() => {
                // API Gateway answers 401 only for this exact message.
                return decision(error.code(), Err(failure("Unauthorized", "Unauthorized")));
            }
            Err(error) => return decision(error.code(), Ok(self.refusal(kind, &arn, &error))),
        };

        let refused = rule.and_then(|rule| rule.requirement().check(&claims).err());
        let mut context = self.context(&claims);
        let answer = if kind == Kind::HttpV2 && self.settings.response == ResponseFormat::Simple {
            // A simple answer is about this route alone, and so is its reason.
            if let Some(error) = &refused {
                add_reason(&mut context, error);
            }
            json!({"isAuthorized": refused.is_none(), "context": context})
        } else {
            // A policy covers every route for the token, and API Gateway may reuse it, context included, on
            // any of them: a route's reason stays out of it (it is in the log line and the metric).
            let unmet = self.settings.routes.unmet(&claims).flat_map(|rule| rule.resources(arn.base)).collect();
            json!({
                "principalId": claims.sub().unwrap_or("unknown"),
                "policyDocument": policy(arn.base, unmet),
                "context": context,
            })
        };
        decision(refused.as_ref().map_or("ok", AuthError::code), Ok(answer))
    }

    /// The denial an HTTP API gets for a missing or invalid credential.
    fn refusal(&self, kind: Kind, arn: &MethodArn<'_>, error: &AuthError) -> Value {
        let mut context = Map::new();
        add_reason(&mut context, error);
        if kind == Kind::HttpV2 && self.settings.response == ResponseFormat::Simple {
            return json!({"isAuthorized": false, "context": context});
        }
        json!({
            "principalId": "anonymous",
            "policyDocument": {"Version": "2012-10-17", "Statement": [statement("Deny", vec![format!("{}/*", arn.base)])]},
            "context": context,
        })
    }

    /// What the integration receives: `sub`, `scope`, `permissions` (space-separated) and the configured
    /// claims, as the strings, numbers and booleans API Gateway accepts (an array or object as its JSON text).
    fn context(&self, claims: &Claims) -> Map<String, Value> {
        let mut context = Map::new();
        if let Some(sub) = claims.sub() {
            context.insert("sub".to_owned(), sub.into());
        }
        if let Some(scope) = claims.str_claim("scope") {
            context.insert("scope".to_owned(), scope.into());
        }
        let permissions: Vec<&str> = claims.permissions().collect();
        if !permissions.is_empty() {
            context.insert("permissions".to_owned(), permissions.join(" ").into());
        }
        for ContextClaim { key, claim } in &self.settings.context_claims {
            let value = match claims.get(claim) {
                None | Some(Value::Null) => continue,
                Some(value @ (Value::String(_) | Value::Number(_) | Value::Bool(_))) => value.clone(),
                Some(value) => Value::String(value.to_string()),
            };
            context.insert(key.clone(), value);
        }
        context
    }
}

/// The reason of a refusal, in the context: REST Gateway Responses and HTTP API access logs can show it.
fn add_reason(context: &mut Map<String, Value>, error: &AuthError) {
    context.insert("code".to_owned(), error.code().into());
    context.insert("description".to_owned(), error.description().into());
}

/// A policy that allows the stage and denies the routes in `denied`.
fn policy(base: &str, denied: Vec<String>) -> Value {
    let mut statements = vec![statement("Allow", vec![format!("{base}/*")])];
    if !denied.is_empty() {
        statements.push(statement("Deny", denied));
    }
    json!({"Version": "2012-10-17", "Statement": statements})
}

fn statement(effect: &str, resources: Vec<String>) -> Value {
    json!({"Action": "execute-api:Invoke", "Effect": effect, "Resource": resources})
}

fn failure(error_type: &str, message: &str) -> Diagnostic {
    Diagnostic { error_type: error_type.to_owned(), error_message: message.to_owned() }
}
