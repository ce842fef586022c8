//! API keys. Writes need a key; adding images from paths on the server needs an admin key;
//! reads are open unless the server locks them.
//!
//! A key comes as `Authorization: Bearer KEY` or `X-API-Key: KEY`. No key: 401. A key that is
//! not good enough: 403. Keys are compared in constant time (`constant_time_eq`).

use actix_web::http::StatusCode;
use actix_web::HttpRequest;
use constant_time_eq::constant_time_eq;

use crate::config::ServeConfig;
use crate::error::ApiError;

/// What a request needs to be allowed to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Look: collections, images, search, explanations.
    Read,
    /// Add, change and delete images.
    Write,
    /// Add images from paths on the server.
    Admin,
}

/// The key a request carries, if any.
fn presented(req: &HttpRequest) -> Option<&str> {
    let headers = req.headers();
    if let Some(v) = headers.get("x-api-key").and_then(|v| v.to_str().ok()) {
        return Some(v.trim());
    }
    let auth = headers.get("authorization")?.to_str().ok()?;
    let (scheme, key) = auth.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| key.trim())
}

fn is_one_of(key: &str, keys: &[String]) -> bool {
    // Check every key, so that the time taken does not say which one nearly matched.
    keys.iter().fold(false, |found, k| {
        constant_time_eq(k.as_bytes(), key.as_bytes()) | found
    })
}

/// Allows the request, or says why not.
pub fn check(req: &HttpRequest, config: &ServeConfig, need: Access) -> Result<(), ApiError> {
    if need == Access::Read && !config.lock_reads {
        return Ok(());
    }
    let forbidden = |m: &str| ApiError::new(StatusCode::FORBIDDEN, "forbidden", m);
    if need != Access::Read && config.api_keys.is_empty() && config.admin_keys.is_empty() {
        return Err(forbidden(
            "this server takes no writes: start it with --api-key KEY (or LOOKALIKE_API_KEYS)",
        ));
    }
    let Some(key) = presented(req) else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "this needs an API key: send `Authorization: Bearer KEY` or `X-API-Key: KEY`",
        ));
    };
    let admin = is_one_of(key, &config.admin_keys);
    let user = admin || is_one_of(key, &config.api_keys);
    match need {
        _ if !user => Err(forbidden("the API key is not valid")),
        Access::Admin if !admin => Err(forbidden(
            "adding images from paths on the server needs an admin key",
        )),
        _ => Ok(()),
    }
}
