//! The cold start both front doors share: logging, the configuration (with the secret from Secrets Manager
//! when its ARN is set), the front door built once, and the JWKS fetched before the first request.

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
    let front_door = match directives {
        Ok(_) => secrets::load_config(env, crate::aws::defaults).await,
        Err(error) => Err(error),
    }
    .and_then(|config| {
        config.log_summary();
        build(config)
    });
    let front_door = match front_door {
        Ok(front_door) => front_door,
        Err(error) => {
            tracing::error!(variable = error.variable, "invalid configuration: {error}");
            return None;
        }
    };
    // It lives as long as the process; leaking it gives every invocation a plain `&'static` borrow.
    let front_door: &'static T = Box::leak(Box::new(front_door));

    if let Prefetch::Failed(error) = authenticator(front_door).prefetch_keys().await {
        tracing::warn!(error = %error, "JWKS not fetched during init; it will be fetched on first need");
    }
    Some(front_door)
}
