//! `lookalike-server`: the HTTP API (actix-web) and the query-by-image web UI in `web/`.
//!
//! - [`start`] opens every collection under a data folder, binds (port 0 works: tests use it)
//!   and returns a [`Running`] server with its address. `lookalike serve` is a thin wrapper.
//! - [`routes`] holds the one table of routes; handlers parse a request ([`body`]), check its
//!   key ([`auth`]), call one `lookalike-engine` function and map its error ([`error`]).
//! - [`cors`]: which other sites' pages may call the API (the widget at `/widget.js`).
//! - Model work (embedding a query, explaining, adding) runs on the blocking thread pool through
//!   [`state::AppState::run`], in slots by kind: searches and explanations each hold their own
//!   model replicas, so a slow explanation never stalls a search, and the async workers stay free
//!   for everything else. Every request has a timeout (503).
//! - [`metrics`] (Prometheus, every series labelled with the process's `instance`, which every
//!   response names too) and [`openapi`] (the document, tested against the route table).
//! - [`tls`]: HTTPS with the server's own certificate (`--tls-cert`, `--tls-key`), by rustls.

pub mod auth;
pub mod body;
pub mod config;
pub mod cors;
pub mod error;
pub mod explanation;
pub mod metrics;
pub mod openapi;
pub mod routes;
pub mod state;
pub mod tls;

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Instant;

use actix_web::body::BoxBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, App, HttpResponse, HttpServer, ResponseError};
use lookalike_engine::collection::{Collection, CONFIG_FILE};

pub use config::ServeConfig;
pub use error::ApiError;
use state::AppState;

/// The response header naming the process that answered ([`ServeConfig::instance`]).
pub const INSTANCE_HEADER: HeaderName = HeaderName::from_static("x-lookalike-instance");

/// Why a server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The data folder cannot be listed.
    #[error("cannot read the data folder {}: {reason}", path.display())]
    DataDir {
        /// The folder.
        path: std::path::PathBuf,
        /// Why. (Not the error's `source`: the message says it already.)
        reason: std::io::Error,
    },
    /// The certificate or key cannot be used.
    #[error("HTTPS: {0}")]
    Tls(#[from] tls::TlsError),
    /// The address cannot be bound.
    #[error("cannot listen on {addr}: {reason}")]
    Bind {
        /// The address.
        addr: String,
        /// Why. (Not the error's `source`: the message says it already.)
        reason: std::io::Error,
    },
}

/// A server that is running.
pub struct Running {
    /// Where it listens.
    pub addr: SocketAddr,
    /// `https` with a certificate, else `http`.
    pub scheme: &'static str,
    /// The collections it serves.
    pub collections: Vec<String>,
    /// Collections that could not be opened, with the reason.
    pub skipped: Vec<String>,
    /// The server; await it to serve until stopped.
    pub server: actix_web::dev::Server,
}

/// Opens every collection under the data folder. One that cannot be opened (open in another
/// process, its model changed) is left out and reported, so that the others are still served.
pub async fn open_collections(
    config: &ServeConfig,
) -> Result<(BTreeMap<String, Arc<Collection>>, Vec<String>), ServeError> {
    let dir = &config.data_dir;
    let entries = std::fs::read_dir(dir).map_err(|reason| ServeError::DataDir {
        path: dir.clone(),
        reason,
    })?;
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .filter(|e| e.path().join(CONFIG_FILE).is_file())
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .collect();
    names.sort();
    let mut open = BTreeMap::new();
    let mut skipped = Vec::new();
    for name in names {
        match Collection::open_reading(dir, &name, config.device, config.read_url.as_deref()).await
        {
            Ok(mut c) => {
                c.set_model_replicas(config.replicas());
                open.insert(name, Arc::new(c));
            }
            Err(e) => skipped.push(format!("{name}: {e}")),
        }
    }
    Ok((open, skipped))
}

/// The JSON answer to a path no route has.
async fn not_found(req: actix_web::HttpRequest) -> HttpResponse {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("no route {} {}", req.method(), req.path()),
    )
    .error_response()
}

/// The JSON answer to a method a route does not take, with the `Allow` header RFC 9110 asks for.
fn method_not_allowed(
    allowed: String,
) -> impl Fn(actix_web::HttpRequest) -> std::future::Ready<HttpResponse> + Clone {
    move |req| {
        let mut response = ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            format!(
                "{} is not allowed on {}: use {allowed}",
                req.method(),
                req.path()
            ),
        )
        .error_response();
        if let Ok(value) = actix_web::http::header::HeaderValue::from_str(&allowed) {
            response
                .headers_mut()
                .insert(actix_web::http::header::ALLOW, value);
        }
        std::future::ready(response)
    }
}

/// Registers every route of [`routes::table`], grouped by path.
fn configure(cfg: &mut web::ServiceConfig) {
    let mut by_path: Vec<(&'static str, Vec<String>, Vec<actix_web::Route>)> = Vec::new();
    for (method, path, route) in routes::table() {
        match by_path.iter_mut().find(|(p, _, _)| *p == path) {
            Some((_, methods, routes)) => {
                methods.push(method.to_string());
                routes.push(route);
            }
            None => by_path.push((path, vec![method.to_string()], vec![route])),
        }
    }
    for (path, methods, routes) in by_path {
        let mut resource = web::resource(path);
        for route in routes {
            resource = resource.route(route);
        }
        let allowed = methods.join(", ");
        cfg.service(resource.default_service(web::to(method_not_allowed(allowed))));
    }
}

/// Opens the collections, binds `bind` and starts serving.
pub async fn start(config: ServeConfig, bind: &str) -> Result<Running, ServeError> {
    // Before the collections: a bad certificate is found at once.
    let tls = config.tls.as_ref().map(tls::server_config).transpose()?;
    let (collections, skipped) = open_collections(&config).await?;
    let names = collections.keys().cloned().collect();
    let listener = TcpListener::bind(bind).map_err(|reason| ServeError::Bind {
        addr: bind.to_string(),
        reason,
    })?;
    let addr = listener.local_addr().map_err(|reason| ServeError::Bind {
        addr: bind.to_string(),
        reason,
    })?;
    let workers = config.workers.max(1);
    let state = web::Data::new(AppState::new(
        collections,
        lookalike_engine::explainers::registry(),
        config,
    ));
    let cors = state.config.cors.clone();
    let server = HttpServer::new(move || {
        let state = state.clone();
        let timeout = state.config.timeout;
        let instance = HeaderValue::from_str(&state.config.instance).ok();
        App::new()
            .app_data(state.clone())
            .configure(configure)
            .default_service(web::to(not_found))
            .wrap_fn(move |req, srv| {
                // Nothing may hold a clone of the request here: routing needs it unshared.
                let started = Instant::now();
                let method = req.method().to_string();
                let state = state.clone();
                let instance = instance.clone();
                let call = srv.call(req);
                async move {
                    let Ok(result) = actix_web::rt::time::timeout(timeout, call).await else {
                        state.metrics.observe(
                            "timeout",
                            &method,
                            503,
                            started.elapsed().as_secs_f64(),
                        );
                        // An error from a middleware is answered with its `error_response`.
                        return Err(ApiError::timed_out(timeout.as_secs_f64()).into());
                    };
                    let mut response: ServiceResponse<BoxBody> = result?.map_into_boxed_body();
                    if let Some(name) = &instance {
                        response.headers_mut().insert(INSTANCE_HEADER, name.clone());
                    }
                    let route = response
                        .request()
                        .match_pattern()
                        .unwrap_or_else(|| "unmatched".into());
                    state.metrics.observe(
                        &route,
                        &method,
                        response.status().as_u16(),
                        started.elapsed().as_secs_f64(),
                    );
                    Ok(response)
                }
            })
            // Outermost, so that a preflight is answered before routing and every answer to an
            // allowed origin carries its headers.
            .wrap(actix_web::middleware::Condition::new(
                cors.enabled(),
                cors.middleware(),
            ))
            // Outside actix-cors: it sends the credentials header even to an origin it did not
            // allow; an answer without an allowed origin carries no CORS header at all.
            .wrap_fn(|req, srv| {
                let call = srv.call(req);
                async move {
                    let mut response = call.await?;
                    cors::drop_stray_credentials(response.headers_mut());
                    Ok(response)
                }
            })
    })
    .workers(workers);
    let scheme = if tls.is_some() { "https" } else { "http" };
    let bound = match tls {
        Some(tls) => server.listen_rustls_0_23(listener, tls),
        None => server.listen(listener),
    };
    let server = bound
        .map_err(|reason| ServeError::Bind {
            addr: bind.to_string(),
            reason,
        })?
        .run();
    Ok(Running {
        addr,
        scheme,
        collections: names,
        skipped,
        server,
    })
}
