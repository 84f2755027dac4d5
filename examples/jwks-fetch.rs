//! Fetches a JWKS `N` times with the function's own client (`HttpJwksClient`, the roots of `tls::Trust` plus
//! `AUTH0_EXTRA_CA_CERTS`), one new connection each, and prints each document's size. For measuring what a
//! fetch costs a warm process, against plain http and between full and resumed TLS handshakes:
//!
//! ```sh
//! cargo lambda build --release --example jwks-fetch
//! AUTH0_EXTRA_CA_CERTS=ca.pem \
//!   perf stat -x, -r 15 -e task-clock target/lambda/jwks-fetch/bootstrap https://127.0.0.1:8443/jwks.json 11 full
//! ```
//!
//! and the same with 1 fetch, in interleaved rounds: docs/performance.md has the method and the servers.
//!
//! The third argument: `full` gives each fetch a new client, so each handshake is a full one, as at a cold
//! start; `resumed` (the default) keeps one client, as a warm instance does, so each handshake after the first
//! resumes a session the server gave a ticket for. docs/performance.md has the figures.

use auth0_lambda_api::jwks::{HttpJwksClient, JwksClient};
use auth0_lambda_api::tls::{Trust, read_extra_roots};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: jwks-fetch URL [COUNT] [full|resumed]";
    let url: hyper::Uri = args.next().ok_or(usage)?.parse()?;
    let count: usize = args.next().map(|count| count.parse()).transpose()?.unwrap_or(1);
    let full = match args.next().as_deref() {
        None | Some("resumed") => false,
        Some("full") => true,
        Some(_) => return Err(usage.into()),
    };
    let roots = match std::env::var("AUTH0_EXTRA_CA_CERTS") {
        Ok(path) => read_extra_roots(&path)?,
        Err(_) => Vec::new(),
    };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let mut client = HttpJwksClient::new(url.clone(), Trust::new(roots.clone()));
    for _ in 0..count {
        if full {
            client = HttpJwksClient::new(url.clone(), Trust::new(roots.clone()));
        }
        println!("{}", runtime.block_on(client.fetch())?.len());
    }
    Ok(())
}
