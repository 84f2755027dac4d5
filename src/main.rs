//! The Lambda entry point: logging, configuration, keys built once, then the runtime loop. Wiring only.

use std::process::ExitCode;

use auth0_lambda_api::{App, Config};
use lambda_http::service_fn;
use tracing_subscriber::filter::LevelFilter;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let level_problem = init_logging();
    if let Some(variable) = level_problem {
        tracing::error!(
            variable,
            "{variable}: must be one of error, warn, info, debug, trace"
        );
        return ExitCode::FAILURE;
    }

    // A bad configuration must fail the cold start (Lambda reports an init error), not every request.
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(error) => {
            tracing::error!(variable = error.variable, "invalid configuration: {error}");
            return ExitCode::FAILURE;
        }
    };
    let app = match App::new(config) {
        Ok(app) => app,
        Err(error) => {
            tracing::error!(
                variable = "AUTH0_CLIENT_SECRET",
                "cannot build the signing key: {error}"
            );
            return ExitCode::FAILURE;
        }
    };
    // The app lives as long as the process; leaking it gives every invocation a plain `&'static` borrow.
    let app: &'static App = Box::leak(Box::new(app));

    if let Err(error) = lambda_http::run(service_fn(|request| app.handle(request))).await {
        tracing::error!("Lambda runtime stopped: {error}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// JSON logs, one object per line, at the level of `RUST_LOG` or Lambda's `AWS_LAMBDA_LOG_LEVEL` (default
/// `info`). Returns the variable at fault when its level cannot be read; logging is then set to `info`.
fn init_logging() -> Option<&'static str> {
    let mut problem = None;
    let mut level = LevelFilter::INFO;
    for variable in ["RUST_LOG", "AWS_LAMBDA_LOG_LEVEL"] {
        if let Some(text) = std::env::var(variable)
            .ok()
            .filter(|text| !text.trim().is_empty())
        {
            match text.trim().parse::<LevelFilter>() {
                Ok(parsed) => level = parsed,
                Err(_) => problem = Some(variable),
            }
            break;
        }
    }
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_target(false)
        .with_max_level(level)
        .with_writer(std::io::stdout)
        .init();
    problem
}
