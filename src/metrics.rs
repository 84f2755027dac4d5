//! CloudWatch Embedded Metric Format: one JSON line per request on stdout, which CloudWatch Logs turns into
//! metrics without an API call on the request path. Only outcome codes, route templates and counts: never a
//! token, a secret or a claim value.

use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::jwks::{Counters, KeyStore};

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
    /// The `level` of every metric line: `AWS_LAMBDA_LOG_LEVEL`'s own (`INFO` without it). With Lambda's JSON
    /// log format, Lambda drops application lines below that level and counts a line without `level` as
    /// `INFO`: at the configured level itself, a metric line is never dropped.
    pub level: &'static str,
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
    pub jwks: Option<Counters>,
    /// Whether this is the first request of the instance: its line carries `ColdStart: 1`.
    pub cold_start: bool,
}

impl Metrics {
    /// The EMF line for one request, written straight into one string: this runs on every request, so it
    /// builds no JSON tree. Every string written is a fixed name, a validated namespace, an error code or a
    /// route template, except the function name, which is escaped.
    pub fn line(&self, record: &RequestRecord, timestamp_ms: u64) -> String {
        let mut line = String::with_capacity(400);
        let _ = write!(line, "{{\"level\":\"{}\",", self.level);
        for dimension in &self.dimensions {
            let value = match dimension {
                Dimension::Outcome => record.outcome,
                Dimension::Route => record.route.unwrap_or("unmatched"),
                Dimension::FunctionName => &self.function_name,
            };
            let _ = write!(line, "\"{}\":", dimension.name());
            push_json_string(&mut line, value);
            line.push(',');
        }
        let duration = u64::try_from(record.duration.as_micros()).unwrap_or(u64::MAX);
        let _ = write!(line, "\"Requests\":1,\"Duration\":{duration},");
        if let Some(Counters { fetches, misses }) = record.jwks {
            let _ = write!(line, "\"JwksFetches\":{fetches},\"JwksCacheMisses\":{misses},");
        }
        if record.cold_start {
            line.push_str("\"ColdStart\":1,");
        }
        let _ = write!(line, "\"_aws\":{{\"Timestamp\":{timestamp_ms},\"CloudWatchMetrics\":[{{\"Namespace\":");
        push_json_string(&mut line, &self.namespace);
        line.push_str(",\"Dimensions\":[[");
        for (index, dimension) in self.dimensions.iter().enumerate() {
            let separator = if index == 0 { "" } else { "," };
            let _ = write!(line, "{separator}\"{}\"", dimension.name());
        }
        line.push_str(r#"]],"Metrics":[{"Name":"Requests","Unit":"Count"},{"Name":"Duration","Unit":"Microseconds"}"#);
        if record.jwks.is_some() {
            line.push_str(r#",{"Name":"JwksFetches","Unit":"Count"},{"Name":"JwksCacheMisses","Unit":"Count"}"#);
        }
        if record.cold_start {
            line.push_str(r#",{"Name":"ColdStart","Unit":"Count"}"#);
        }
        line.push_str("]}]}}");
        line
    }

    /// Writes the line for one request to stdout, where the Lambda runtime hands it to CloudWatch Logs.
    pub fn emit(&self, record: &RequestRecord) {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |since| since.as_millis());
        let line = self.line(record, u64::try_from(now).unwrap_or(u64::MAX));
        // A metric that cannot be written is not worth failing a request for.
        let _ = writeln!(std::io::stdout().lock(), "{line}");
    }
}

/// The per-request metric bookkeeping of a front door: one line per request when metrics are on, each with
/// its own share of the key store's counters, and `ColdStart` on the instance's first.
#[derive(Debug)]
pub struct Reporter {
    metrics: Option<Metrics>,
    /// The key store's counters at the previous line.
    reported: Mutex<Counters>,
    /// Whether a request was reported yet.
    served: AtomicBool,
}

impl Reporter {
    /// A reporter for `metrics` (`None`: metrics are off and nothing is written).
    pub fn new(metrics: Option<Metrics>) -> Self {
        Self { metrics, reported: Mutex::new(Counters::default()), served: AtomicBool::new(false) }
    }

    /// Writes the line for one request that ended with `outcome` on `route`.
    pub fn report(
        &self,
        outcome: &'static str,
        route: Option<&'static str>,
        duration: Duration,
        keys: Option<&KeyStore>,
    ) {
        let Some(metrics) = &self.metrics else { return };
        let cold_start = !self.served.swap(true, Ordering::Relaxed);
        let jwks = keys.map(|keys| {
            let now = keys.counters();
            let mut reported = self.reported.lock().unwrap_or_else(PoisonError::into_inner);
            let delta = now.since(*reported);
            *reported = now;
            delta
        });
        metrics.emit(&RequestRecord { outcome, route, duration, jwks, cold_start });
    }
}

/// Appends `text` as a JSON string literal (RFC 8259 §7).
fn push_json_string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    trait Document {
        fn document(&self, record: &RequestRecord, timestamp_ms: u64) -> Value;
    }

    impl Document for Metrics {
        fn document(&self, record: &RequestRecord, timestamp_ms: u64) -> Value {
            serde_json::from_str(&self.line(record, timestamp_ms)).expect("the line is not JSON")
        }
    }

    fn metrics(dimensions: Vec<Dimension>) -> Metrics {
        Metrics { namespace: "Test".into(), dimensions, function_name: "fn".into(), level: "INFO" }
    }

    fn record() -> RequestRecord {
        RequestRecord {
            outcome: "token_expired",
            route: Some("/api/private"),
            duration: Duration::from_micros(42),
            jwks: None,
            cold_start: false,
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
        assert_eq!(document["level"], "INFO");
        let warn = Metrics { level: "WARN", ..metrics(vec![]) }.document(&record(), 0);
        assert_eq!(warn["level"], "WARN", "at Lambda's application log level, never below it");
    }

    #[test]
    fn jwks_counts_are_published_when_a_jwks_is_configured() {
        let record = RequestRecord { jwks: Some(Counters { fetches: 1, misses: 2 }), ..record() };
        let document = metrics(vec![Dimension::Outcome]).document(&record, 0);
        assert_eq!((document["JwksFetches"].as_u64(), document["JwksCacheMisses"].as_u64()), (Some(1), Some(2)));
        assert_eq!(document["_aws"]["CloudWatchMetrics"][0]["Metrics"].as_array().unwrap().len(), 4);
    }

    #[test]
    fn the_first_request_of_an_instance_counts_the_cold_start() {
        let document = metrics(vec![Dimension::Outcome]).document(&RequestRecord { cold_start: true, ..record() }, 0);
        assert_eq!(document["ColdStart"], 1);
        let names: Vec<&str> = document["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["Name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["Requests", "Duration", "ColdStart"]);
        let warm = metrics(vec![Dimension::Outcome]).document(&record(), 0);
        assert!(warm.get("ColdStart").is_none());
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
    fn a_function_name_with_quotes_stays_valid_json() {
        let metrics = Metrics { function_name: "a\"b\\c\n".into(), ..metrics(vec![Dimension::FunctionName]) };
        assert_eq!(metrics.document(&record(), 0)["FunctionName"], "a\"b\\c\n");
    }

    #[test]
    fn dimension_names_parse_exactly() {
        assert_eq!(Dimension::parse("Route"), Some(Dimension::Route));
        assert_eq!(Dimension::parse("route"), None);
    }
}
