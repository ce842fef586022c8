//! Products: a grouped search (`group_by` on `POST …/search`), and one product's images read,
//! updated and deleted together (`/api/collections/{name}/products/{product}`).

use std::sync::Arc;

use actix_web::{web, HttpRequest, HttpResponse};
use lookalike_engine::collection::{Collection, CollectionError, Crop, SearchRequest, PRODUCT_KEY};
use serde_json::{json, Value};

use super::image_view;
use super::query::{load_cropped, Source};
use crate::auth::{check, Access};
use crate::body;
use crate::error::ApiError;
use crate::state::{AppState, Job};

/// 404: no image has this product.
pub fn unknown_product(collection: &str, product: &str) -> ApiError {
    ApiError::new(
        actix_web::http::StatusCode::NOT_FOUND,
        "unknown_product",
        format!("collection {collection:?} has no image of product {product:?}"),
    )
}

/// A grouped search as asked.
pub struct GroupedSearch<'a> {
    /// The query image.
    pub source: Source,
    /// The part of it to search with.
    pub crop: Crop,
    /// k, offset, filter, ef.
    pub request: &'a SearchRequest,
    /// The metadata key to group by.
    pub group_by: &'a str,
    /// Groups whose best hit is less similar are left out.
    pub min_similarity: f64,
}

/// A grouped search's JSON: `groups`, each with its group value, best hit and other ids.
pub async fn search_groups(
    state: &web::Data<AppState>,
    collection: &Arc<Collection>,
    name: &str,
    asked: GroupedSearch<'_>,
) -> Result<Value, ApiError> {
    let GroupedSearch {
        source,
        crop,
        request,
        group_by,
        min_similarity,
    } = asked;
    if group_by.is_empty() || group_by.len() > 256 {
        return Err(ApiError::bad_request(
            "group_by must be a metadata key (1 to 256 bytes), e.g. \"product\"",
        ));
    }
    let mut used = None;
    let found = match source {
        Source::Stored(id) if crop == Crop::Whole => {
            let point = collection
                .store()
                .get(&[id])
                .await
                .map_err(CollectionError::from)?
                .pop()
                .ok_or_else(|| ApiError::unknown_image(name, id))?;
            collection
                .search_groups(
                    point.vector.clone(),
                    request,
                    group_by,
                    Some((id, &point.metadata)),
                )
                .await?
        }
        source => {
            let (_, vector, cut) =
                load_cropped(state, collection, name, source, true, crop).await?;
            used = cut;
            let vector = vector.ok_or_else(|| ApiError::internal("no query vector"))?;
            collection
                .search_groups(vector, request, group_by, None)
                .await?
        }
    };
    let groups: Vec<Value> = found
        .groups
        .iter()
        .filter(|g| g.best.similarity >= min_similarity)
        .map(|g| {
            let h = &g.best;
            let mut best = image_view(name, h.id, &h.metadata);
            best["score"] = json!(h.score);
            best["similarity"] = json!(h.similarity);
            best["logit"] = json!(h.logit);
            best["same"] = json!(h.same);
            json!({
                "group": g.group,
                "similarity": h.similarity,
                "best": best,
                "other_ids": g.other_ids,
            })
        })
        .collect();
    let mut answer = json!({
        "group_by": group_by,
        "groups": groups,
        "out_of_catalogue": found.novelty.is_some_and(|n| n.out_of_catalogue),
        "novelty": found.novelty,
        "threshold": collection.models().facts().threshold,
        "crop": used,
    });
    super::search::served_by(state, name, &found.provenance, &mut answer);
    Ok(answer)
}

fn target(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    path: web::Path<(String, String)>,
    access: Access,
) -> Result<(String, Arc<Collection>, String), ApiError> {
    check(req, &state.config, access)?;
    let (name, product) = path.into_inner();
    let collection = state.collection(&name)?;
    Ok((name, collection, product))
}

/// The JSON view of a product: its id and its images.
async fn product_view(
    collection: &Collection,
    name: &str,
    product: &str,
) -> Result<HttpResponse, ApiError> {
    let ids = collection.product_ids(product).await?;
    if ids.is_empty() {
        return Err(unknown_product(name, product));
    }
    let images: Vec<Value> = collection
        .store()
        .get(&ids)
        .await
        .map_err(CollectionError::from)?
        .iter()
        .map(|p| image_view(name, p.id, &p.metadata))
        .collect();
    Ok(HttpResponse::Ok().json(json!({ PRODUCT_KEY: product, "images": images })))
}

/// `GET /api/collections/{name}/products/{product}`: the product's images.
pub async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (name, collection, product) = target(&req, &state, path, Access::Read)?;
    product_view(&collection, &name, &product).await
}

/// `PATCH /api/collections/{name}/products/{product}`: merges a JSON object into the metadata
/// of every image of the product (`null` removes a key).
pub async fn update(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (name, collection, product) = target(&req, &state, path, Access::Write)?;
    let patch = body::metadata_patch(&req, payload, state.config.max_upload_bytes).await?;
    let renamed = patch
        .get(PRODUCT_KEY)
        .and_then(Value::as_str)
        .map(str::to_string);
    let (worker, p) = (collection.clone(), product.clone());
    let updated = state
        .run_async(Job::Store, move || async move {
            Ok(worker.update_product(&p, patch).await?)
        })
        .await?;
    if updated == 0 {
        return Err(unknown_product(&name, &product));
    }
    product_view(&collection, &name, renamed.as_deref().unwrap_or(&product)).await
}

/// `DELETE /api/collections/{name}/products/{product}`: deletes every image of the product.
pub async fn remove(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (name, collection, product) = target(&req, &state, path, Access::Write)?;
    let (worker, p) = (collection.clone(), product.clone());
    let removed = state
        .run_async(Job::Store, move || async move {
            Ok(worker.remove_product(&p).await?)
        })
        .await?;
    if removed == 0 {
        return Err(unknown_product(&name, &product));
    }
    Ok(HttpResponse::Ok().json(json!({ PRODUCT_KEY: product, "deleted": removed })))
}
