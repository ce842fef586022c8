//! Cross-origin access: which other sites' pages may call the API from a browser (the
//! "similar products" widget on a shop's pages), checked once at start-up, and the middleware
//! that answers for them.
//!
//! [`CorsPolicy::new`] refuses what a browser would refuse or what would leak: `*` together with
//! credentials, `*` mixed with named origins, and anything that is not a URL origin
//! (`https://shop.example[:port]`, nothing after the host). The middleware is actix-cors, the
//! actix project's own: preflights, `Vary: Origin`, and the header rules of the Fetch standard
//! are easy to get subtly wrong by hand.
//!
//! A page from an origin not in the list gets its answer without any CORS header (its browser
//! then withholds it from the page); the request itself is not refused, so that the server's
//! own web UI, whose browser also sends `Origin` on a POST, keeps working whatever the list.
//! A preflight from such an origin is answered 400.

use actix_cors::Cors;
use actix_web::http::header;

/// The origins allowed, as given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
enum Origins {
    /// No cross-origin access (the default).
    #[default]
    None,
    /// `*`: any page, without credentials.
    Any,
    /// These origins, exactly (`https://shop.example`).
    Listed(Vec<String>),
}

/// Which origins may call the API from a browser, and whether with credentials.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CorsPolicy {
    origins: Origins,
    credentials: bool,
}

/// A CORS setting that cannot work or would be unsafe.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum CorsError {
    /// `*` with credentials: browsers refuse it, and echoing any origin instead would let every
    /// site act with the user's credentials.
    #[error(
        "--cors-origin '*' cannot go with --cors-credentials: name the origins that may send \
         credentials (--cors-origin https://shop.example)"
    )]
    WildcardWithCredentials,
    /// `*` and named origins together.
    #[error("--cors-origin '*' already allows every origin: give either '*' or a list of origins, not both")]
    WildcardAmongOrigins,
    /// Credentials without any origin to send them from.
    #[error("--cors-credentials needs at least one --cors-origin")]
    CredentialsWithoutOrigins,
    /// Not `scheme://host[:port]`.
    #[error("--cors-origin {origin:?} is not a URL origin: {why}")]
    NotAnOrigin {
        /// What was given.
        origin: String,
        /// What is wrong with it.
        why: String,
    },
}

/// `origin` if it is exactly a serialised http(s) origin, else why not.
fn check_origin(origin: &str) -> Result<String, CorsError> {
    let bad = |why: String| CorsError::NotAnOrigin {
        origin: origin.to_string(),
        why,
    };
    let url = url::Url::parse(origin).map_err(|e| {
        bad(format!(
            "{e}; write scheme://host[:port], e.g. https://shop.example"
        ))
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad(format!(
            "the scheme must be http or https, not {:?}",
            url.scheme()
        )));
    }
    let serialised = url.origin().ascii_serialization();
    if serialised != origin {
        return Err(bad(format!(
            "an origin has no path, query, user or trailing slash and is lower case: write \
             {serialised:?}"
        )));
    }
    Ok(serialised)
}

impl CorsPolicy {
    /// The policy for `--cors-origin` values (`*` or origins) and `--cors-credentials`.
    pub fn new(origins: &[String], credentials: bool) -> Result<Self, CorsError> {
        let wildcard = origins.iter().any(|o| o == "*");
        let origins = match origins.len() {
            0 if credentials => return Err(CorsError::CredentialsWithoutOrigins),
            0 => Origins::None,
            1 if wildcard && credentials => return Err(CorsError::WildcardWithCredentials),
            1 if wildcard => Origins::Any,
            _ if wildcard => return Err(CorsError::WildcardAmongOrigins),
            _ => {
                let mut listed = origins
                    .iter()
                    .map(|o| check_origin(o))
                    .collect::<Result<Vec<_>, _>>()?;
                listed.sort();
                listed.dedup();
                Origins::Listed(listed)
            }
        };
        Ok(CorsPolicy {
            origins,
            credentials,
        })
    }

    /// Whether any other origin may call the API.
    pub fn enabled(&self) -> bool {
        self.origins != Origins::None
    }

    /// The allowed origins, for the start-up message (`*` for any).
    pub fn describe(&self) -> Vec<String> {
        match &self.origins {
            Origins::None => Vec::new(),
            Origins::Any => vec!["*".to_string()],
            Origins::Listed(list) => list.clone(),
        }
    }

    /// The middleware for this policy (wrap it only when [`enabled`](Self::enabled)).
    pub fn middleware(&self) -> Cors {
        let mut cors = Cors::default()
            .allowed_methods(["GET", "POST", "PATCH", "DELETE"])
            .allowed_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                header::ACCEPT,
                header::HeaderName::from_static("x-api-key"),
            ])
            .max_age(3600)
            .block_on_origin_mismatch(false);
        match &self.origins {
            Origins::None => {}
            Origins::Any => cors = cors.allow_any_origin().send_wildcard(),
            Origins::Listed(list) => {
                for origin in list {
                    cors = cors.allowed_origin(origin);
                }
            }
        }
        if self.credentials {
            cors = cors.supports_credentials();
        }
        cors
    }
}

/// Removes `Access-Control-Allow-Credentials` from an answer that allows no origin. actix-cors
/// adds it to every answer once credentials are on, whether the request's origin was allowed or
/// not; alone it grants nothing, but it says more than the policy does.
pub fn drop_stray_credentials(headers: &mut header::HeaderMap) {
    if !headers.contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN) {
        headers.remove(header::ACCESS_CONTROL_ALLOW_CREDENTIALS);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(origins: &[&str], credentials: bool) -> Result<CorsPolicy, CorsError> {
        let origins: Vec<String> = origins.iter().map(|s| s.to_string()).collect();
        CorsPolicy::new(&origins, credentials)
    }

    #[test]
    fn good_settings_are_kept() {
        assert!(!policy(&[], false).unwrap().enabled());
        assert_eq!(policy(&["*"], false).unwrap().describe(), ["*"]);
        let listed = policy(
            &[
                "https://shop.example",
                "http://127.0.0.1:5000",
                "https://shop.example",
            ],
            true,
        )
        .unwrap();
        assert_eq!(
            listed.describe(),
            ["http://127.0.0.1:5000", "https://shop.example"]
        );
    }

    #[test]
    fn credentials_go_only_with_an_allowed_origin() {
        let mut stray = header::HeaderMap::new();
        stray.insert(
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            header::HeaderValue::from_static("true"),
        );
        let mut allowed = stray.clone();
        allowed.insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            header::HeaderValue::from_static("https://shop.example"),
        );
        drop_stray_credentials(&mut stray);
        drop_stray_credentials(&mut allowed);
        assert!(stray.is_empty());
        assert_eq!(allowed.len(), 2);
    }

    #[test]
    fn bad_settings_name_the_problem() {
        assert_eq!(
            policy(&["*"], true),
            Err(CorsError::WildcardWithCredentials)
        );
        assert_eq!(
            policy(&["*", "https://a.example"], false),
            Err(CorsError::WildcardAmongOrigins)
        );
        assert_eq!(policy(&[], true), Err(CorsError::CredentialsWithoutOrigins));
        for (origin, needle) in [
            ("shop.example", "scheme://host"),
            ("ftp://shop.example", "http or https"),
            ("https://shop.example/", "\"https://shop.example\""),
            ("https://shop.example/page", "no path"),
            ("https://Shop.example", "\"https://shop.example\""),
            ("https://user@shop.example", "no path, query, user"),
        ] {
            let e = policy(&[origin], false).unwrap_err().to_string();
            assert!(e.contains(needle), "{origin}: {e}");
            assert!(e.contains(origin), "{origin}: {e}");
        }
    }
}
