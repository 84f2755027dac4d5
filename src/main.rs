//! The API front door's Lambda entry point: the shared cold start, then the runtime loop. Wiring only.

use std::process::ExitCode;

use auth0_lambda_api::{App, start};
use lambda_http::service_fn;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let Some(app) = start::in_own_frame(start::cold_start(App::new, App::authenticator)).await else {
        return ExitCode::FAILURE;
    };
    if let Err(error) = start::in_own_frame(lambda_http::run(service_fn(|request| app.handle(request)))).await {
        tracing::error!("Lambda runtime stopped: {error}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
