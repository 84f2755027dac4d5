//! The baseline for the cold-start benchmark: a bare `lambda_http` function that answers every request with
//! a fixed text, no configuration, no verification. `benches/cold_start.rs` compares the API against it.

use lambda_http::{Body, Request, Response, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    lambda_http::run(service_fn(|_: Request| async {
        Ok::<_, std::convert::Infallible>(Response::new(Body::from("Hello World!")))
    }))
    .await
}
