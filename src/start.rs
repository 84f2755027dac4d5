//! The cold start both front doors share: logging, the configuration (with the secret from Secrets Manager
//! when its ARN is set), the front door built once, and the JWKS fetched before the first request.

use std::future::Future;
use std::pin::Pin;

use crate::auth::Authenticator;
use crate::config::{Config, ConfigError};
use crate::key_source::Prefetch;
use crate::{logging, secrets};

/// Runs the cold start and returns the front door for the life of the process, or `None` after logging
/// why the configuration is unusable (the binary then exits and Lambda reports an init error that names the
/// variable, instead of failing every request).
///
/// `build` makes the front door from the validated configuration; `authenticator` finds its authenticator,
/// whose JWKS is fetched before the first request. A failed fetch is not fatal: the instance serves HS256
/// tokens, answers the others as unavailable, and fetches again on first need.
pub async fn cold_start<T: 'static>(
    build: impl FnOnce(Config) -> Result<T, ConfigError>,
    authenticator: impl Fn(&T) -> &Authenticator,
) -> Option<&'static T> {
    // Logging starts first so that a configuration error reaches CloudWatch as a JSON line.
    let directives = logging::directives(|name| std::env::var(name).ok());
    logging::init(directives.clone().unwrap_or_else(|_| logging::fallback()));

    let env = |name: &str| std::env::var(name).ok();
    let config = match directives {
        Ok(_) => in_own_frame(secrets::load_config(env, crate::aws::defaults)).await,
        Err(error) => Err(error),
    };
    let front_door = front_door(config, build)?;

    if let Prefetch::Failed(error) = authenticator(front_door).prefetch_keys().await {
        tracing::warn!(error = %error, "JWKS not fetched during init; it will be fetched on first need");
    }
    Some(front_door)
}

/// The front door `build` makes from the configuration, for the life of the process, or `None` after logging
/// why the configuration is unusable. Not inlined: a configuration and a front door are a few kilobytes each and
/// are moved while they are made; in a frame of its own, that work's stack is not added to the cold start's
/// deepest (the JWKS fetch's).
#[inline(never)]
fn front_door<T: 'static>(
    config: Result<Config, ConfigError>,
    build: impl FnOnce(Config) -> Result<T, ConfigError>,
) -> Option<&'static T> {
    let front_door = config.and_then(|config| {
        config.log_summary();
        build(config)
    });
    match front_door {
        // It lives as long as the process; leaking it gives every invocation a plain `&'static` borrow.
        Ok(front_door) => Some(Box::leak(Box::new(front_door))),
        Err(error) => {
            tracing::error!(variable = error.variable, "invalid configuration: {error}");
            None
        }
    }
}

/// `future`, boxed and polled through a pointer, so that its poll function keeps a stack frame of its own
/// instead of being inlined into the caller's (a plain `Box::pin` is not enough: the poll of a boxed future of
/// a known type is still inlined). Each front door's `main` awaits the cold start and then the runtime loop:
/// inlined together, their polls made one function with a 32 KB stack frame, every page of which is probed, so
/// faulted in, on the first poll; the cold start reads its configuration this way too, for its 28 KB frame
/// (see docs/performance.md).
pub fn in_own_frame<'a, T>(future: impl Future<Output = T> + 'a) -> Pin<Box<dyn Future<Output = T> + 'a>> {
    Box::pin(future)
}
