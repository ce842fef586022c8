//! Images of a collection: add (upload, base64, or a path on the server for admins), show,
//! change metadata, delete, and serve the file and its thumbnail.

use std::path::PathBuf;
use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use lookalike_engine::collection::{AddEvent, AddOptions, Collection, Upload};
use lookalike_index::{Metadata, Point};
use serde::Deserialize;
use serde_json::{json, Value};

use super::image_view;
use crate::auth::{check, Access};
use crate::body::{self, base64_image, Body};
use crate::error::ApiError;
use crate::state::{AppState, Job};

/// The most images one request may add.
const MAX_IMAGES: usize = 256;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AddJson {
    images: Vec<ImageJson>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ImageJson {
    base64: Option<String>,
    path: Option<PathBuf>,
    metadata: Option<Metadata>,
    id: Option<String>,
}

/// Image ids in paths are numbers; anything else is an image that does not exist.
fn parse_id(name: &str, id: &str) -> Result<u64, ApiError> {
    id.parse().map_err(|_| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_image",
            format!("collection {name:?} has no image {id:?} (ids are numbers)"),
        )
    })
}

/// The collection and image a request names, once its key is checked.
fn target(
    req: &HttpRequest,
    state: &AppState,
    path: web::Path<(String, String)>,
    need: Access,
) -> Result<(String, Arc<Collection>, u64), ApiError> {
    check(req, &state.config, need)?;
    let (name, id) = path.into_inner();
    let collection = state.collection(&name)?;
    let id = parse_id(&name, &id)?;
    Ok((name, collection, id))
}

/// Stored image `id`, or 404.
async fn stored(collection: &Collection, name: &str, id: u64) -> Result<Point, ApiError> {
    collection
        .store()
        .get(&[id])
        .await
        .map_err(ApiError::internal)?
        .pop()
        .ok_or_else(|| ApiError::unknown_image(name, id))
}

fn metadata_of(value: Option<Value>, what: &str) -> Result<Metadata, ApiError> {
    match value {
        None => Ok(Metadata::new()),
        Some(Value::Object(m)) => Ok(m),
        Some(_) => Err(ApiError::bad_request(format!(
            "{what}: metadata must be a JSON object"
        ))),
    }
}

/// `POST /api/collections/{name}/images`
pub async fn add(
    req: HttpRequest,
    state: web::Data<AppState>,
    name: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    check(&req, &state.config, Access::Write)?;
    let name = name.into_inner();
    let collection = state.collection(&name)?;
    let mut uploads = Vec::new();
    let mut paths = Vec::new();
    match body::read(&req, payload, state.config.max_upload_bytes).await? {
        Body::Form(form) => {
            let metadata = metadata_of(form.json("metadata")?, "the form field \"metadata\"")?;
            let id = form.text("id").map(str::to_string);
            if form.files.is_empty() {
                return Err(ApiError::bad_request("the form has no image file part"));
            }
            if id.is_some() && form.files.len() > 1 {
                return Err(ApiError::bad_request(
                    "one `id` cannot name several files: send one image per request, or use JSON",
                ));
            }
            for file in form.files {
                uploads.push(Upload {
                    bytes: file.bytes,
                    name: file.name,
                    metadata: metadata.clone(),
                    external_id: id.clone(),
                });
            }
        }
        Body::Json(value) => {
            let j: AddJson = body::parse(value)?;
            if j.images.is_empty() || j.images.len() > MAX_IMAGES {
                return Err(ApiError::bad_request(format!(
                    "`images` must list 1 to {MAX_IMAGES} images"
                )));
            }
            for (i, item) in j.images.into_iter().enumerate() {
                let what = format!("images[{i}]");
                let metadata = item.metadata.unwrap_or_default();
                match (item.base64, item.path) {
                    (Some(text), None) => uploads.push(Upload {
                        bytes: base64_image(&text, &format!("{what}.base64"))?,
                        name: what,
                        metadata,
                        external_id: item.id,
                    }),
                    (None, Some(path)) if item.id.is_none() => paths.push((path, metadata)),
                    (None, Some(_)) => {
                        return Err(ApiError::bad_request(format!(
                            "{what}: an `id` names one uploaded image; a path may be a folder"
                        )))
                    }
                    _ => {
                        return Err(ApiError::bad_request(format!(
                            "{what}: give exactly one of `base64` and `path`"
                        )))
                    }
                }
            }
        }
    }
    if !paths.is_empty() {
        check(&req, &state.config, Access::Admin)?;
    }
    let options = AddOptions {
        limits: state.config.limits,
        ..AddOptions::default()
    };
    let worker = collection.clone();
    let (uploaded, from_paths) = state
        .run_async(Job::Heavy, move || async move {
            let uploaded = worker.add_uploads(uploads, options).await?;
            let mut from_paths = Vec::new();
            let mut already = 0;
            let mut skipped = Vec::new();
            for (path, metadata) in paths {
                let report = worker
                    .add_with_metadata(&[path], &metadata, options, |event| {
                        if let AddEvent::Added(batch) = event {
                            from_paths.extend(batch.iter().map(|(id, _)| *id));
                        }
                    })
                    .await?;
                already += report.already_indexed;
                skipped.extend(report.skipped);
            }
            Ok::<_, ApiError>((uploaded, (from_paths, already, skipped)))
        })
        .await?;
    let (from_paths, already_indexed, skipped) = from_paths;
    let created = uploaded.iter().filter(|u| u.created).count() + from_paths.len();
    state
        .metrics
        .images_added
        .with_label_values(&[&name])
        .inc_by(created as u64);
    let url = |id: u64| {
        (
            format!("/api/collections/{name}/images/{id}/image"),
            format!("/api/collections/{name}/images/{id}/thumbnail"),
        )
    };
    let mut images: Vec<Value> = uploaded
        .iter()
        .map(|u| {
            let (image_url, thumbnail_url) = url(u.id);
            json!({"id": u.id, "external_id": u.external_id, "created": u.created,
                   "image_url": image_url, "thumbnail_url": thumbnail_url})
        })
        .collect();
    images.extend(from_paths.iter().map(|&id| {
        let (image_url, thumbnail_url) = url(id);
        json!({"id": id, "external_id": null, "created": true,
               "image_url": image_url, "thumbnail_url": thumbnail_url})
    }));
    let status = if created > 0 {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(HttpResponse::build(status).json(json!({
        "images": images,
        "already_indexed": already_indexed,
        "skipped": skipped,
    })))
}

/// `GET /api/collections/{name}/images/{id}`
pub async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (name, collection, id) = target(&req, &state, path, Access::Read)?;
    let point = stored(&collection, &name, id).await?;
    Ok(HttpResponse::Ok().json(image_view(&name, id, &point.metadata)))
}

/// `PATCH /api/collections/{name}/images/{id}`: merges a JSON object into the metadata
/// (`null` removes a key).
pub async fn update(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (name, collection, id) = target(&req, &state, path, Access::Write)?;
    let patch = body::metadata_patch(&req, payload, state.config.max_upload_bytes).await?;
    let worker = collection.clone();
    let found = state
        .run_async(Job::Store, move || async move {
            Ok(worker.update_metadata(id, patch).await?)
        })
        .await?;
    if !found {
        return Err(ApiError::unknown_image(&name, id));
    }
    let point = stored(&collection, &name, id).await?;
    Ok(HttpResponse::Ok().json(image_view(&name, id, &point.metadata)))
}

/// `DELETE /api/collections/{name}/images/{id}`
pub async fn remove(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (name, collection, id) = target(&req, &state, path, Access::Write)?;
    let worker = collection.clone();
    let removed = state
        .run_async(Job::Store, move || async move {
            Ok(worker.remove(&[id]).await?)
        })
        .await?;
    if removed == 0 {
        return Err(ApiError::unknown_image(&name, id));
    }
    Ok(HttpResponse::Ok().json(json!({ "deleted": id })))
}

/// `GET /api/collections/{name}/images/{id}/image`: the file as it was added.
pub async fn file(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (name, collection, id) = target(&req, &state, path, Access::Read)?;
    let file = collection
        .image_source(id)
        .await?
        .ok_or_else(|| ApiError::unknown_image(&name, id))?;
    let bytes = web::block(move || file.into_bytes(id))
        .await
        .map_err(ApiError::internal)??;
    let content_type = image::guess_format(&bytes)
        .map(|f| f.to_mime_type())
        .unwrap_or("application/octet-stream");
    Ok(HttpResponse::Ok()
        .content_type(content_type)
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .body(bytes))
}

/// `GET /api/collections/{name}/images/{id}/thumbnail`: a JPEG, 128 px on its longer side.
pub async fn thumbnail(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (name, collection, id) = target(&req, &state, path, Access::Read)?;
    let point = stored(&collection, &name, id).await?;
    let thumbnail = point.thumbnail.ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "no_thumbnail",
            format!("image {id} has no thumbnail"),
        )
    })?;
    Ok(HttpResponse::Ok()
        .content_type("image/jpeg")
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .body(thumbnail))
}
