//! Logging: one JSON object per line on stdout (Lambda sends it to CloudWatch Logs), filtered by `RUST_LOG` or
//! Lambda's `AWS_LAMBDA_LOG_LEVEL`. Every line written during an invocation carries its request id and X-Ray
//! trace id, and no level lets a token, a secret or an AWS credential through.

use std::str::FromStr;

use tracing::{Level, Metadata};
use tracing_subscriber::filter::{FilterExt, LevelFilter, Targets, filter_fn};
use tracing_subscriber::prelude::*;

use crate::config::{ConfigError, invalid, var};

/// Targets of dependencies that print what must never be logged at their most verbose levels, and the most
/// they may print whatever the configuration says:
/// - lambda_runtime logs each raw invocation event, `Authorization` header included, at TRACE;
/// - aws-sigv4 logs the canonical request it signs, with `x-amz-security-token`, at TRACE;
/// - aws-smithy-runtime and aws-config log requests, responses and credential sources at TRACE (the
///   responses of the credential providers they call hold credentials).
const CAPS: &[(&str, Level)] = &[
    ("lambda_runtime::layers::api_response", Level::DEBUG),
    ("aws_sigv4", Level::DEBUG),
    ("aws_smithy_runtime", Level::DEBUG),
    ("aws_smithy_runtime_api", Level::DEBUG),
    ("aws_config", Level::DEBUG),
];

/// The span lambda_runtime opens for each invocation, with `requestId` and `xrayTraceId`: always recorded, so
/// that every line inside an invocation names it, at any level.
const INVOCATION_SPAN_TARGET: &str = "lambda_runtime::layers::trace";

/// Which lines are written: `RUST_LOG`, in the usual directive syntax (`info`, `warn,hyper=debug`,
/// `auth0_lambda_api=trace`), else `AWS_LAMBDA_LOG_LEVEL` (set by Lambda's advanced logging controls: `TRACE`
/// to `FATAL`), else `info`. Read apart from [`crate::Config`] because logging starts before the
/// configuration is read, so that a configuration error can be logged.
pub fn directives(lookup: impl Fn(&str) -> Option<String>) -> Result<Targets, ConfigError> {
    let set = crate::config::set_values(lookup);
    if let Some(text) = set(var::RUST_LOG) {
        let text = text.trim();
        // Lambda's scale ends at FATAL; tracing's at ERROR.
        if text.eq_ignore_ascii_case("fatal") {
            return Ok(Targets::new().with_default(LevelFilter::ERROR));
        }
        // A bare word is a target enabled at every level in this syntax: a misspelt level would silently turn
        // every other line off, so each directive must be a level or `target=level`.
        let well_formed = text
            .split(',')
            .map(str::trim)
            .filter(|directive| !directive.is_empty())
            .all(|directive| directive.contains('=') || directive.parse::<LevelFilter>().is_ok());
        return Targets::from_str(text).ok().filter(|_| well_formed).ok_or_else(|| {
            invalid(
                var::RUST_LOG,
                "must be a level (error, warn, info, debug, trace, off) or directives such as info,hyper=warn",
            )
        });
    }
    let level = match set(var::LAMBDA_LOG_LEVEL).as_deref().map(str::trim) {
        None => LevelFilter::INFO,
        Some(fatal) if fatal.eq_ignore_ascii_case("fatal") => LevelFilter::ERROR,
        Some(level) => level
            .parse::<LevelFilter>()
            .map_err(|_| invalid(var::LAMBDA_LOG_LEVEL, "must be one of TRACE, DEBUG, INFO, WARN, ERROR, FATAL"))?,
    };
    Ok(Targets::new().with_default(level))
}

/// The default when the configured directives are invalid: the error about them is still written.
pub fn fallback() -> Targets {
    Targets::new().with_default(LevelFilter::INFO)
}

/// Installs the global subscriber. Not inlined into the cold start, for the reason of `start::front_door`.
#[inline(never)]
pub fn init(directives: Targets) {
    let format = tracing_subscriber::fmt::layer()
        .json()
        .flatten_event(true)
        // The invocation span (and any span inside it) as `spans`: its requestId and xrayTraceId on each line.
        .with_current_span(false)
        .with_span_list(true)
        .with_target(false)
        .with_writer(std::io::stdout);
    tracing_subscriber::registry().with(format.with_filter(filter(directives))).init();
}

/// The configured directives, plus the invocation span, minus what [`CAPS`] withholds.
fn filter(
    directives: Targets,
) -> impl tracing_subscriber::layer::Filter<tracing_subscriber::Registry> + Send + Sync + 'static {
    let invocation_span = filter_fn(|metadata| metadata.is_span() && metadata.target() == INVOCATION_SPAN_TARGET);
    directives.or(invocation_span).and(filter_fn(within_caps))
}

/// Whether a line or span may be written at all.
fn within_caps(metadata: &Metadata<'_>) -> bool {
    !capped(metadata.target(), metadata.level())
}

/// Whether [`CAPS`] withholds this target at this level. A cap covers its target's whole path segments:
/// `aws_sigv4` and `aws_sigv4::sign`, not `aws_sigv4_extra`.
fn capped(target: &str, level: &Level) -> bool {
    CAPS.iter().any(|(prefix, most)| {
        let under = target.strip_prefix(prefix).is_some_and(|rest| rest.is_empty() || rest.starts_with("::"));
        under && level > most
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn read(vars: &[(&str, &str)]) -> Result<Targets, ConfigError> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect();
        directives(|name| map.get(name).cloned())
    }

    fn enables(targets: &Targets, target: &str, level: Level) -> bool {
        targets.would_enable(target, &level)
    }

    #[test]
    fn info_by_default_and_rust_log_before_lambdas_level() {
        let default = read(&[]).unwrap();
        assert!(enables(&default, "auth0_lambda_api", Level::INFO) && !enables(&default, "hyper", Level::DEBUG));
        let lambda = read(&[("AWS_LAMBDA_LOG_LEVEL", "DEBUG")]).unwrap();
        assert!(enables(&lambda, "auth0_lambda_api", Level::DEBUG));
        let fatal = read(&[("AWS_LAMBDA_LOG_LEVEL", "FATAL")]).unwrap();
        assert!(enables(&fatal, "x", Level::ERROR) && !enables(&fatal, "x", Level::WARN));
        let both = read(&[("RUST_LOG", "warn"), ("AWS_LAMBDA_LOG_LEVEL", "DEBUG")]).unwrap();
        assert!(enables(&both, "x", Level::WARN) && !enables(&both, "x", Level::INFO));
    }

    #[test]
    fn rust_log_takes_the_usual_directives() {
        let targets = read(&[("RUST_LOG", "info,hyper=warn,auth0_lambda_api::jwks=trace")]).unwrap();
        assert!(enables(&targets, "auth0_lambda_api::routes", Level::INFO));
        assert!(!enables(&targets, "auth0_lambda_api::routes", Level::DEBUG));
        assert!(enables(&targets, "auth0_lambda_api::jwks", Level::TRACE));
        assert!(!enables(&targets, "hyper::client", Level::INFO));
        assert!(enables(&targets, "hyper::client", Level::WARN));
        let upper = read(&[("RUST_LOG", "DEBUG")]).unwrap();
        assert!(enables(&upper, "x", Level::DEBUG));
    }

    #[test]
    fn invalid_values_name_their_variable() {
        assert_eq!(read(&[("RUST_LOG", "verbose")]).unwrap_err().variable, "RUST_LOG");
        assert_eq!(read(&[("RUST_LOG", "info,debgu")]).unwrap_err().variable, "RUST_LOG");
        assert_eq!(read(&[("RUST_LOG", "hyper=loud")]).unwrap_err().variable, "RUST_LOG");
        assert_eq!(read(&[("AWS_LAMBDA_LOG_LEVEL", "LOUD")]).unwrap_err().variable, "AWS_LAMBDA_LOG_LEVEL");
        assert_eq!(read(&[("AWS_LAMBDA_LOG_LEVEL", "info,hyper=warn")]).unwrap_err().variable, "AWS_LAMBDA_LOG_LEVEL");
    }

    #[test]
    fn caps_hold_their_targets_and_only_them() {
        assert!(capped("lambda_runtime::layers::api_response", &Level::TRACE));
        assert!(!capped("lambda_runtime::layers::api_response", &Level::DEBUG));
        assert!(capped("aws_sigv4", &Level::TRACE));
        assert!(capped("aws_sigv4::http_request::sign", &Level::TRACE));
        assert!(!capped("aws_sigv4_extra", &Level::TRACE), "a prefix matches whole path segments only");
        assert!(!capped("lambda_runtime::runtime", &Level::TRACE));
        assert!(!capped("auth0_lambda_api::jwks", &Level::TRACE));
    }
}
