//! The Lambda entry point: logging, configuration, keys built once, then the runtime loop. Wiring only.

use std::process::ExitCode;

use auth0_lambda_api::{App, logging, secrets};
use lambda_http::service_fn;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    // Logging starts first so that a configuration error reaches CloudWatch as a JSON line.
    let directives = logging::directives(|name| std::env::var(name).ok());
    logging::init(directives.clone().unwrap_or_else(|_| logging::fallback()));

    // A bad configuration must fail the cold start (Lambda reports an init error), not every request.
    let env = |name: &str| std::env::var(name).ok();
    let config = match directives {
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
    config.log_summary();
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
