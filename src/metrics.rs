//! CloudWatch Embedded Metric Format: one JSON line per request on stdout, which CloudWatch Logs turns into
//! metrics without an API call on the request path. Only outcome codes, route templates and counts: never a
//! token, a secret or a claim value.

use std::io::Write as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};

/// Default `AUTH0_METRICS_NAMESPACE`.
pub const DEFAULT_NAMESPACE: &str = "Auth0LambdaApi";

/// A dimension a metric line can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dimension {
    /// `ok` or the error code (`token_expired`, `not_found`...): a handful of values.
    Outcome,
    /// The route template (`/api/private`), or `unmatched`: never the raw path, which a client controls.
    Route,
    /// `AWS_LAMBDA_FUNCTION_NAME`.
    FunctionName,
}

impl Dimension {
    fn name(self) -> &'static str {
        match self {
            Self::Outcome => "Outcome",
            Self::Route => "Route",
            Self::FunctionName => "FunctionName",
        }
    }

    /// Parses a dimension name as written in `AUTH0_METRICS_DIMENSIONS`.
    pub fn parse(name: &str) -> Option<Self> {
        [Self::Outcome, Self::Route, Self::FunctionName].into_iter().find(|dimension| dimension.name() == name)
    }
}

/// The metrics configuration: namespace and dimensions, from `AUTH0_METRICS_*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metrics {
    /// The CloudWatch namespace.
    pub namespace: String,
    /// The one dimension set every metric is published under.
    pub dimensions: Vec<Dimension>,
    /// The value of the `FunctionName` dimension.
    pub function_name: String,
}

/// What one request did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestRecord {
    /// `ok` or the error code.
    pub outcome: &'static str,
    /// The matched route template.
    pub route: Option<&'static str>,
    /// How long it took.
    pub duration: Duration,
    /// JWKS fetches and key-cache misses since the previous line, when a JWKS is configured.
    pub jwks: Option<(u64, u64)>,
}

impl Metrics {
    /// The EMF document for one request.
    pub fn document(&self, record: &RequestRecord, timestamp_ms: u64) -> Value {
        let mut metrics =
            vec![json!({"Name": "Requests", "Unit": "Count"}), json!({"Name": "Duration", "Unit": "Microseconds"})];
        let mut document = Map::new();
        for dimension in &self.dimensions {
            let value = match dimension {
                Dimension::Outcome => record.outcome,
                Dimension::Route => record.route.unwrap_or("unmatched"),
                Dimension::FunctionName => &self.function_name,
            };
            document.insert(dimension.name().into(), json!(value));
        }
        document.insert("Requests".into(), json!(1));
        document.insert("Duration".into(), json!(u64::try_from(record.duration.as_micros()).unwrap_or(u64::MAX)));
        if let Some((fetches, misses)) = record.jwks {
            metrics.push(json!({"Name": "JwksFetches", "Unit": "Count"}));
            metrics.push(json!({"Name": "JwksCacheMisses", "Unit": "Count"}));
            document.insert("JwksFetches".into(), json!(fetches));
            document.insert("JwksCacheMisses".into(), json!(misses));
        }
        let dimension_names: Vec<&str> = self.dimensions.iter().map(|dimension| dimension.name()).collect();
        document.insert(
            "_aws".into(),
            json!({
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": self.namespace,
                    "Dimensions": [dimension_names],
                    "Metrics": metrics,
                }],
            }),
        );
        Value::Object(document)
    }

    /// Writes the line for one request to stdout, where the Lambda runtime hands it to CloudWatch Logs.
    pub fn emit(&self, record: &RequestRecord) {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |since| since.as_millis());
        let line = self.document(record, u64::try_from(now).unwrap_or(u64::MAX));
        // A metric that cannot be written is not worth failing a request for.
        let _ = writeln!(std::io::stdout().lock(), "{line}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metrics(dimensions: Vec<Dimension>) -> Metrics {
        Metrics { namespace: "Test".into(), dimensions, function_name: "fn".into() }
    }

    fn record() -> RequestRecord {
        RequestRecord {
            outcome: "token_expired",
            route: Some("/api/private"),
            duration: Duration::from_micros(42),
            jwks: None,
        }
    }

    #[test]
    fn a_line_declares_its_metrics_and_dimensions() {
        let document = metrics(vec![Dimension::Outcome, Dimension::Route]).document(&record(), 1_700_000_000_000);
        let declaration = &document["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(document["_aws"]["Timestamp"], 1_700_000_000_000u64);
        assert_eq!(declaration["Namespace"], "Test");
        assert_eq!(declaration["Dimensions"], json!([["Outcome", "Route"]]));
        let names: Vec<&str> =
            declaration["Metrics"].as_array().unwrap().iter().map(|m| m["Name"].as_str().unwrap()).collect();
        assert_eq!(names, ["Requests", "Duration"]);
        assert_eq!(document["Outcome"], "token_expired");
        assert_eq!(document["Route"], "/api/private");
        assert_eq!((document["Requests"].as_u64(), document["Duration"].as_u64()), (Some(1), Some(42)));
    }

    #[test]
    fn jwks_counts_are_published_when_a_jwks_is_configured() {
        let record = RequestRecord { jwks: Some((1, 2)), ..record() };
        let document = metrics(vec![Dimension::Outcome]).document(&record, 0);
        assert_eq!((document["JwksFetches"].as_u64(), document["JwksCacheMisses"].as_u64()), (Some(1), Some(2)));
        assert_eq!(document["_aws"]["CloudWatchMetrics"][0]["Metrics"].as_array().unwrap().len(), 4);
    }

    #[test]
    fn an_unmatched_request_is_not_published_under_its_raw_path() {
        let record = RequestRecord { route: None, outcome: "not_found", ..record() };
        let document = metrics(vec![Dimension::Route, Dimension::FunctionName]).document(&record, 0);
        assert_eq!(document["Route"], "unmatched");
        assert_eq!(document["FunctionName"], "fn");
    }

    #[test]
    fn no_dimensions_is_one_empty_set() {
        let document = metrics(vec![]).document(&record(), 0);
        assert_eq!(document["_aws"]["CloudWatchMetrics"][0]["Dimensions"], json!([[]]));
        assert!(document.get("Outcome").is_none());
    }

    #[test]
    fn dimension_names_parse_exactly() {
        assert_eq!(Dimension::parse("Route"), Some(Dimension::Route));
        assert_eq!(Dimension::parse("route"), None);
    }
}
