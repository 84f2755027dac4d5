//! The authorizer front door's Lambda entry point: the shared cold start, then the runtime loop. Wiring only.

use std::process::ExitCode;

use auth0_lambda_api::authorizer::Authorizer;
use auth0_lambda_api::start;
use lambda_http::lambda_runtime::{self, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let Some(authorizer) =
        start::in_own_frame(start::cold_start(Authorizer::from_env, Authorizer::authenticator)).await
    else {
        return ExitCode::FAILURE;
    };
    if let Err(error) = start::in_own_frame(lambda_runtime::run(service_fn(|event| authorizer.handle(event)))).await {
        tracing::error!("Lambda runtime stopped: {error}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
