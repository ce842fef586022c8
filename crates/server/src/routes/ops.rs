//! Operations: health, metrics, the OpenAPI document, and which explainers there are.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use crate::auth::{check, Access};
use crate::error::ApiError;
use crate::state::AppState;

/// `GET /healthz`: the server answers and its collections are open.
pub async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "status": "ok",
        "collections": state.collections.len(),
    }))
}

/// `GET /metrics`: Prometheus text.
pub async fn metrics(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    check(&req, &state.config, Access::Read)?;
    for (name, collection) in &state.collections {
        if let Ok(info) = collection.store().info().await {
            state
                .metrics
                .collection_images
                .with_label_values(&[name])
                .set(info.points as i64);
        }
        if let Ok(Some(lag)) = collection.store().replica_lag().await {
            state.metrics.observe_lag(name, lag);
        }
    }
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(state.metrics.render()))
}

/// `GET /openapi.json`
pub async fn openapi() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(crate::openapi::DOCUMENT)
}

/// `GET /api/explainers`: the methods a search or an explanation may ask for.
pub async fn explainers(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    check(&req, &state.config, Access::Read)?;
    let methods: Vec<_> = state
        .registry
        .all()
        .map(|e| {
            json!({
                "name": e.name(),
                "description": e.description(),
                "cost": e.cost(49, &lookalike_explain::ExplainOptions::default()),
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({
        "default": "gradcam",
        "targets": ["logit", "probability"],
        "default_target": "logit",
        "max_masks": state.config.max_masks,
        "cost_grid": "costs are for a 7×7 feature map (EfficientNet-Lite0 and ResNets at 224 px)",
        "methods": methods,
    })))
}
