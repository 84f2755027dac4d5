//! The API Gateway authorizer events: REST API `TOKEN` and `REQUEST`, HTTP API payload 1.0 and 2.0. Read into
//! one shape: which kind it is, the ARN of the route called, and the `Authorization` header values.

use serde::Deserialize;
use serde_json::{Map, Value};

/// Which authorizer sent the event, and so which answers it takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A REST API `TOKEN` authorizer: the header value alone, an IAM policy back, the error `Unauthorized`
    /// for a 401.
    RestToken,
    /// A REST API `REQUEST` authorizer: the request's headers, otherwise as `TOKEN`.
    RestRequest,
    /// An HTTP API authorizer, payload 1.0: an IAM policy back; HTTP APIs have no 401 from an authorizer.
    HttpV1,
    /// An HTTP API authorizer, payload 2.0: a simple response or an IAM policy, as the API is set up.
    HttpV2,
}

impl Kind {
    /// The name in the log line.
    pub fn name(self) -> &'static str {
        match self {
            Self::RestToken => "rest_token",
            Self::RestRequest => "rest_request",
            Self::HttpV1 => "http_v1",
            Self::HttpV2 => "http_v2",
        }
    }

    /// Whether API Gateway answers 401 when the function fails with `Unauthorized` (REST APIs only).
    pub fn has_unauthorized(self) -> bool {
        matches!(self, Self::RestToken | Self::RestRequest)
    }
}

/// An authorizer event as API Gateway sends it. Only what the authorizer reads; everything else is ignored.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    #[serde(rename = "type")]
    kind: Option<String>,
    version: Option<String>,
    authorization_token: Option<String>,
    method_arn: Option<String>,
    route_arn: Option<String>,
    headers: Option<Map<String, Value>>,
    multi_value_headers: Option<Map<String, Value>>,
}

/// The route of a method ARN, `arn:aws:execute-api:region:account:api-id/stage/METHOD/path`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MethodArn<'a> {
    /// `arn:aws:execute-api:region:account:api-id/stage`: what every resource of a policy starts with.
    pub base: &'a str,
    /// `METHOD/path`, `GET/reports/7`.
    pub method_and_path: &'a str,
}

impl<'a> MethodArn<'a> {
    fn parse(arn: &'a str) -> Option<Self> {
        let (api, rest) = arn.split_once('/')?;
        let (stage, method_and_path) = rest.split_once('/')?;
        let (method, _) = method_and_path.split_once('/')?;
        let well_formed = api.starts_with("arn:")
            && api.split(':').nth(2) == Some("execute-api")
            && !stage.is_empty()
            && !method.is_empty();
        well_formed.then(|| Self { base: &arn[..api.len() + 1 + stage.len()], method_and_path })
    }
}

/// Why an event cannot be answered: it is not one of API Gateway's authorizer events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotAnAuthorizerEvent(pub &'static str);

impl Event {
    /// The kind and the route's ARN.
    pub fn route(&self) -> Result<(Kind, MethodArn<'_>), NotAnAuthorizerEvent> {
        let kind = match (self.kind.as_deref(), self.version.as_deref()) {
            (Some("TOKEN"), _) => Kind::RestToken,
            (Some("REQUEST"), None) => Kind::RestRequest,
            (Some("REQUEST"), Some("1.0")) => Kind::HttpV1,
            (Some("REQUEST"), Some("2.0")) => Kind::HttpV2,
            _ => return Err(NotAnAuthorizerEvent("`type` must be TOKEN or REQUEST, `version` absent, 1.0 or 2.0")),
        };
        let arn = match kind {
            Kind::HttpV2 => self.route_arn.as_deref(),
            _ => self.method_arn.as_deref(),
        };
        let arn = arn.and_then(MethodArn::parse).ok_or(NotAnAuthorizerEvent("no execute-api method or route ARN"))?;
        Ok((kind, arn))
    }

    /// Every `Authorization` header value the request carried: the `TOKEN` authorizer's value, or the values of
    /// every header named `Authorization` in any case (`multiValueHeaders` when API Gateway sends them, as a
    /// REST API does, since `headers` keeps only the last of repeated headers). HTTP APIs join repeated
    /// headers with commas, which the bearer syntax refuses.
    pub fn authorization(&self, kind: Kind) -> Vec<&str> {
        if kind == Kind::RestToken {
            return self.authorization_token.as_deref().into_iter().collect();
        }
        self.header(kind, "authorization")
    }

    /// Every value of the header `name` (lower case) the request carried, read as [`Event::authorization`]
    /// reads `Authorization`. A `TOKEN` event carries no other header.
    pub fn header(&self, kind: Kind, name: &str) -> Vec<&str> {
        let headers = match kind {
            Kind::RestToken => None,
            _ => self.multi_value_headers.as_ref().or(self.headers.as_ref()),
        };
        let Some(headers) = headers else {
            return Vec::new();
        };
        headers
            .iter()
            .filter(|(header, _)| header.eq_ignore_ascii_case(name))
            .flat_map(|(_, value)| match value {
                Value::Array(values) => values.iter().filter_map(Value::as_str).collect(),
                value => value.as_str().into_iter().collect::<Vec<_>>(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(value: Value) -> Event {
        serde_json::from_value(value).unwrap()
    }

    const ARN: &str = "arn:aws:execute-api:us-east-1:123456789012:abcdef123/prod/GET/reports/7";

    #[test]
    fn each_kind_is_recognised_with_its_arn() {
        let cases = [
            (json!({"type": "TOKEN", "methodArn": ARN}), Kind::RestToken),
            (json!({"type": "REQUEST", "methodArn": ARN}), Kind::RestRequest),
            (json!({"version": "1.0", "type": "REQUEST", "methodArn": ARN}), Kind::HttpV1),
            (json!({"version": "2.0", "type": "REQUEST", "routeArn": ARN}), Kind::HttpV2),
        ];
        for (value, expected) in cases {
            let event = event(value);
            let (kind, arn) = event.route().unwrap();
            assert_eq!(kind, expected);
            assert_eq!(arn.base, "arn:aws:execute-api:us-east-1:123456789012:abcdef123/prod");
            assert_eq!(arn.method_and_path, "GET/reports/7");
        }
    }

    #[test]
    fn the_root_path_and_a_test_invocation_stage_are_read() {
        let arn = "arn:aws:execute-api:us-west-2:123456789012:ymy8tbxw7b/*/GET/";
        let event = event(json!({"type": "TOKEN", "methodArn": arn}));
        let (_, arn) = event.route().unwrap();
        assert_eq!(arn.base, "arn:aws:execute-api:us-west-2:123456789012:ymy8tbxw7b/*");
        assert_eq!(arn.method_and_path, "GET/");
    }

    #[test]
    fn other_events_are_not_authorizer_events() {
        for value in [
            json!({}),
            json!({"type": "TOKEN"}),
            json!({"type": "REQUEST", "version": "3.0", "methodArn": ARN}),
            json!({"type": "TOKEN", "methodArn": "arn:aws:lambda:us-east-1:1:function:f/x/GET/"}),
            json!({"type": "TOKEN", "methodArn": "arn:aws:execute-api:us-east-1:1:api"}),
            json!({"version": "2.0", "type": "REQUEST", "methodArn": ARN}),
            json!({"version": "2.0", "routeKey": "$default", "rawPath": "/"}),
        ] {
            assert!(event(value.clone()).route().is_err(), "{value}");
        }
    }

    #[test]
    fn authorization_values_come_from_every_header_of_that_name() {
        let token = event(json!({"type": "TOKEN", "authorizationToken": "Bearer a.b.c"}));
        assert_eq!(token.authorization(Kind::RestToken), ["Bearer a.b.c"]);
        let rest = event(json!({
            "headers": {"Authorization": "Bearer d.e.f"},
            "multiValueHeaders": {"Authorization": ["Bearer a.b.c", "Bearer d.e.f"]}
        }));
        assert_eq!(rest.authorization(Kind::RestRequest), ["Bearer a.b.c", "Bearer d.e.f"]);
        let cases = event(json!({"headers": {"authorization": "Bearer a.b.c", "AUTHORIZATION": "Bearer d.e.f"}}));
        assert_eq!(cases.authorization(Kind::HttpV1).len(), 2);
        let v2 = event(json!({"headers": {"authorization": "Bearer a.b.c,Bearer d.e.f", "accept": "*/*"}}));
        assert_eq!(v2.authorization(Kind::HttpV2), ["Bearer a.b.c,Bearer d.e.f"]);
        assert!(event(json!({"headers": null})).authorization(Kind::RestRequest).is_empty());
    }

    #[test]
    fn other_headers_are_read_the_same_way_and_a_token_event_has_none() {
        let rest = event(json!({"multiValueHeaders": {"DPoP": ["a.b.c", "d.e.f"], "Host": ["api.example.com"]}}));
        assert_eq!(rest.header(Kind::RestRequest, "dpop"), ["a.b.c", "d.e.f"]);
        assert_eq!(rest.header(Kind::RestRequest, "host"), ["api.example.com"]);
        assert!(rest.header(Kind::RestToken, "host").is_empty());
    }
}
