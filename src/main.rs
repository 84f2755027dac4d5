//! The Lambda entry point: logging, configuration, keys built once, then the runtime loop. Wiring only.

use std::process::ExitCode;

use auth0_lambda_api::{App, config, secrets};
use lambda_http::service_fn;
use tracing_subscriber::filter::LevelFilter;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    // Logging starts first so that a configuration error reaches CloudWatch as a JSON line.
    let level = config::log_level(|name| std::env::var(name).ok());
    init_logging(*level.as_ref().unwrap_or(&LevelFilter::INFO));

    // A bad configuration must fail the cold start (Lambda reports an init error), not every request.
    let env = |name: &str| std::env::var(name).ok();
    let config = match level {
        Ok(_) => secrets::load_config(env, secrets::aws_defaults).await,
        Err(error) => Err(error),
    };
    let config = match config {
        Ok(config) => config,
        Err(error) => {
            tracing::error!(variable = error.variable, "invalid configuration: {error}");
            return ExitCode::FAILURE;
        }
    };
    let app = match App::new(config) {
        Ok(app) => app,
        Err(error) => {
            tracing::error!(variable = error.variable, "invalid configuration: {error}");
            return ExitCode::FAILURE;
        }
    };
    // The app lives as long as the process; leaking it gives every invocation a plain `&'static` borrow.
    let app: &'static App = Box::leak(Box::new(app));

    // The JWKS is fetched during init so that the first request does not pay for it. A failure is not fatal:
    // the instance serves HS256 tokens, answers 503 for the others, and fetches again on first need.
    if let Some(Err(error)) = app.prefetch_keys().await {
        tracing::warn!(error = %error, "JWKS not fetched during init; it will be fetched on first need");
    }

    if let Err(error) = lambda_http::run(service_fn(|request| app.handle(request))).await {
        tracing::error!("Lambda runtime stopped: {error}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// JSON logs, one object per line on stdout, which Lambda sends to CloudWatch Logs.
fn init_logging(level: LevelFilter) {
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_target(false)
        .with_max_level(level)
        .with_writer(std::io::stdout)
        .init();
}
