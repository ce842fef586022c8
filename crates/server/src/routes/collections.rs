//! `GET /api/collections` and `GET /api/collections/{name}`: what is served.

use actix_web::{web, HttpRequest, HttpResponse};
use lookalike_engine::collection::Collection;
use serde_json::{json, Value};

use crate::auth::{check, Access};
use crate::error::ApiError;
use crate::state::AppState;

async fn describe(collection: &Collection) -> Result<Value, ApiError> {
    let info = collection.info().await?;
    let config = collection.config();
    let images = info.store.points;
    Ok(json!({
        "name": info.name,
        "model": info.model,
        "fingerprint": info.fingerprint,
        "threshold": info.threshold,
        "dimension": config.dimension,
        "metric": config.metric,
        "layers": collection.models().facts().units,
        "images": images,
        "store": info.store,
        "familiarity": info.familiarity,
    }))
}

/// `GET /api/collections`
pub async fn list(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    check(&req, &state.config, Access::Read)?;
    let mut all = Vec::with_capacity(state.collections.len());
    for collection in state.collections.values() {
        all.push(describe(collection).await?);
    }
    Ok(HttpResponse::Ok().json(json!({ "collections": all })))
}

/// `GET /api/collections/{name}`
pub async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    check(&req, &state.config, Access::Read)?;
    let collection = state.collection(&name)?;
    Ok(HttpResponse::Ok().json(describe(&collection).await?))
}
