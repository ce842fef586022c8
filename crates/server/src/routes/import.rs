//! `POST /api/collections/{name}/import` (admin): a product feed in the body (`text/csv`,
//! `text/tab-separated-values` or `application/x-ndjson`; `?format=` overrides), imported as
//! `lookalike index import` does, with the server's images root and URL policy. `?prune=true`
//! deletes the products of earlier imports that the feed lacks.

use actix_web::http::header::CONTENT_TYPE;
use actix_web::{web, HttpRequest, HttpResponse};
use lookalike_engine::collection::{ImportOptions, ImportReport};
use lookalike_engine::feed::{FeedFormat, FetchOptions};
use serde::Deserialize;

use crate::auth::{check, Access};
use crate::error::ApiError;
use crate::state::{AppState, Job};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ImportQuery {
    format: Option<String>,
    prune: Option<bool>,
}

fn format_of(req: &HttpRequest, asked: Option<&str>) -> Result<FeedFormat, ApiError> {
    if let Some(name) = asked {
        return FeedFormat::parse(name).ok_or_else(|| {
            ApiError::bad_request(format!("format {name:?}: expected csv, tsv or jsonl"))
        });
    }
    let content_type = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    match content_type.split(';').next().unwrap_or("").trim() {
        "text/csv" => Ok(FeedFormat::Csv),
        "text/tab-separated-values" => Ok(FeedFormat::Tsv),
        "application/x-ndjson" | "application/jsonl" | "application/jsonlines" => {
            Ok(FeedFormat::JsonLines)
        }
        other => Err(ApiError::unsupported(format!(
            "Content-Type {other:?} is not a feed: send text/csv, text/tab-separated-values or \
             application/x-ndjson (or say ?format=csv|tsv|jsonl)"
        ))),
    }
}

/// `POST /api/collections/{name}/import`
pub async fn import(
    req: HttpRequest,
    state: web::Data<AppState>,
    name: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    check(&req, &state.config, Access::Admin)?;
    let query = web::Query::<ImportQuery>::from_query(req.query_string())
        .map_err(|e| ApiError::bad_request(format!("the query: {e} (format, prune)")))?;
    let collection = state.collection(&name)?;
    let format = format_of(&req, query.format.as_deref())?;
    let limit = state.config.max_upload_bytes;
    let bytes = payload
        .to_bytes_limited(limit)
        .await
        .map_err(|_| ApiError::too_large(limit))?
        .map_err(|e| ApiError::bad_request(format!("reading the body: {e}")))?;
    let text = String::from_utf8(bytes.to_vec())
        .map_err(|_| ApiError::bad_request("the feed is not UTF-8 text"))?;
    let options = ImportOptions {
        fetch: FetchOptions {
            images_root: state.config.images_root.clone(),
            allow_private: state.config.allow_private_urls,
            ..FetchOptions::default()
        },
        prune: query.prune.unwrap_or(false),
        ..ImportOptions::default()
    };
    let report: ImportReport = state
        .run_async(Job::Heavy, move || async move {
            Ok(collection
                .import_feed(&text, format, &options, |_| {})
                .await?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(report))
}
