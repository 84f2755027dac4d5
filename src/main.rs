//! The API front door's Lambda entry point: the shared cold start, then the runtime loop. Wiring only.

use std::process::ExitCode;

use auth0_lambda_api::{App, start};
use lambda_http::service_fn;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    // Both futures are boxed, each polled by its own function: inlined into `main`'s future, they made a poll
    // function with a 32 KB stack frame, and a cold start took about ten more page faults (docs/performance.md).
    let Some(app) = Box::pin(start::cold_start(App::new, App::authenticator)).await else {
        return ExitCode::FAILURE;
    };
    if let Err(error) = Box::pin(lambda_http::run(service_fn(|request| app.handle(request)))).await {
        tracing::error!("Lambda runtime stopped: {error}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
