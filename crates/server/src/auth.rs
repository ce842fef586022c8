//! API keys. Writes need a key; adding images from paths on the server needs an admin key;
//! reads are open unless the server locks them (`--lock-reads`, or any `--read-key`).
//!
//! Three kinds of key, each allowing what the one before does and more: a read key (search,
//! explain, images, thumbnails: the widget's key, public on a shop's pages), an API key
//! (writes) and an admin key (images from paths on the server). A key comes as
//! `Authorization: Bearer KEY` or `X-API-Key: KEY`. No key: 401. A key that is not good
//! enough: 403, saying what it lacks. Keys are compared in constant time (`constant_time_eq`).

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
    if need == Access::Read && !config.reads_locked() {
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
    let reader = user || is_one_of(key, &config.read_keys);
    match need {
        _ if !reader => Err(forbidden("the API key is not valid")),
        Access::Read => Ok(()),
        _ if !user => Err(forbidden(
            "this is a read-only key: it may search, explain and fetch images, not change \
             anything; writes need an API key (--api-key)",
        )),
        Access::Admin if !admin => Err(forbidden(
            "adding images from paths on the server needs an admin key",
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn config(read: &[&str], lock_reads: bool) -> ServeConfig {
        ServeConfig {
            api_keys: vec!["user".into()],
            admin_keys: vec!["root".into()],
            read_keys: read.iter().map(|k| k.to_string()).collect(),
            lock_reads,
            ..ServeConfig::default()
        }
    }

    fn status(config: &ServeConfig, key: Option<&str>, need: Access) -> u16 {
        let mut req = TestRequest::default();
        if let Some(key) = key {
            req = req.insert_header(("X-API-Key", key));
        }
        match check(&req.to_http_request(), config, need) {
            Ok(()) => 200,
            Err(e) => e.status.as_u16(),
        }
    }

    #[test]
    fn a_read_key_reads_only_and_locks_reads() {
        let open = config(&[], false);
        assert_eq!(status(&open, None, Access::Read), 200);
        let c = config(&["widget"], false);
        assert_eq!(status(&c, None, Access::Read), 401);
        assert_eq!(status(&c, Some("nope"), Access::Read), 403);
        for key in ["widget", "user", "root"] {
            assert_eq!(status(&c, Some(key), Access::Read), 200, "{key}");
        }
        assert_eq!(status(&c, Some("widget"), Access::Write), 403);
        assert_eq!(status(&c, Some("widget"), Access::Admin), 403);
        assert_eq!(status(&c, Some("user"), Access::Write), 200);
        assert_eq!(status(&c, Some("user"), Access::Admin), 403);
        assert_eq!(status(&c, Some("root"), Access::Admin), 200);
        let req = TestRequest::default()
            .insert_header(("Authorization", "Bearer widget"))
            .to_http_request();
        let refused = check(&req, &c, Access::Write).unwrap_err();
        assert!(refused.message.contains("read-only key"), "{refused}");
    }
}
