//! `POST /api/collections/{name}/explain`: why the model called a query and one stored image
//! the same or different: four maps, their grids and boxes, and the best cell matches.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::Value;

use super::query::{load, ExplainOptions, Source};
use crate::auth::{check, Access};
use crate::body::{self, Body};
use crate::error::ApiError;
use crate::explanation::view;
use crate::state::{AppState, Job};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExplainJson {
    image: Option<String>,
    id: Option<u64>,
    hit: Option<u64>,
    method: Option<String>,
    layer: Option<Value>,
    target: Option<String>,
    masks: Option<usize>,
}

/// `POST /api/collections/{name}/explain`
pub async fn explain(
    req: HttpRequest,
    state: web::Data<AppState>,
    name: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    check(&req, &state.config, Access::Read)?;
    let collection = state.collection(&name)?;
    let (source, hit, options) =
        match body::read(&req, payload, state.config.max_upload_bytes).await? {
            Body::Json(value) => {
                let j: ExplainJson = body::parse(value)?;
                let options = ExplainOptions {
                    method: j.method,
                    layer: j.layer,
                    target: j.target,
                    masks: j.masks,
                };
                (Source::from_json(j.image, j.id)?, j.hit, options)
            }
            Body::Form(mut form) => {
                let options = ExplainOptions::from_form(&form)?;
                let hit = form.number::<u64>("hit")?;
                (Source::from_form(&mut form)?, hit, options)
            }
        };
    let hit =
        hit.ok_or_else(|| ApiError::bad_request("say which stored image to explain: `hit`"))?;
    let method = options.check(&state, &collection)?;
    let file = collection
        .image_source(hit)
        .await?
        .ok_or_else(|| ApiError::unknown_image(&name, hit))?;
    let (query, _) = load(&state, &collection, &name, source, false).await?;
    let method_name = method.name.clone();
    let (state2, collection) = (state.clone(), collection.clone());
    let explained = state
        .run(Job::Heavy, move || {
            let explainer = state2.registry.get(&method.name)?;
            let explained = collection.explain_hits(
                &query,
                &[(hit, file)],
                explainer,
                method.layer,
                &method.options,
                true,
            )?;
            explained
                .first()
                .map(|e| view(&query.crop, e))
                .ok_or_else(|| ApiError::internal("no explanation came back"))?
        })
        .await?;
    state
        .metrics
        .explanations
        .with_label_values(&[&method_name])
        .inc();
    Ok(HttpResponse::Ok().json(explained))
}
