//! Every route, in one table: the app registers it and the OpenAPI test checks the document
//! against it, so the document cannot drift from the routes.

mod collections;
mod explain;
mod images;
mod import;
mod ops;
mod products;
mod query;
mod search;
mod web;

use actix_web::http::Method;
use actix_web::{web as aw, Route};

/// `(method, path, handler)` for every route. Paths use actix's `{name}` syntax, which is also
/// OpenAPI's.
pub fn table() -> Vec<(Method, &'static str, Route)> {
    vec![
        (Method::GET, "/", aw::get().to(web::index)),
        (Method::GET, "/app.js", aw::get().to(web::script)),
        (Method::GET, "/style.css", aw::get().to(web::style)),
        (Method::GET, "/js/{name}", aw::get().to(web::module)),
        (Method::GET, "/css/{name}", aw::get().to(web::style_part)),
        (Method::GET, "/widget.js", aw::get().to(web::widget)),
        (Method::GET, "/healthz", aw::get().to(ops::healthz)),
        (Method::GET, "/metrics", aw::get().to(ops::metrics)),
        (Method::GET, "/openapi.json", aw::get().to(ops::openapi)),
        (
            Method::GET,
            "/api/explainers",
            aw::get().to(ops::explainers),
        ),
        (
            Method::GET,
            "/api/collections",
            aw::get().to(collections::list),
        ),
        (
            Method::GET,
            "/api/collections/{name}",
            aw::get().to(collections::show),
        ),
        (
            Method::POST,
            "/api/collections/{name}/images",
            aw::post().to(images::add),
        ),
        (
            Method::GET,
            "/api/collections/{name}/images/{id}",
            aw::get().to(images::show),
        ),
        (
            Method::PATCH,
            "/api/collections/{name}/images/{id}",
            aw::patch().to(images::update),
        ),
        (
            Method::DELETE,
            "/api/collections/{name}/images/{id}",
            aw::delete().to(images::remove),
        ),
        (
            Method::GET,
            "/api/collections/{name}/images/{id}/image",
            aw::get().to(images::file),
        ),
        (
            Method::GET,
            "/api/collections/{name}/images/{id}/thumbnail",
            aw::get().to(images::thumbnail),
        ),
        (
            Method::POST,
            "/api/collections/{name}/import",
            aw::post().to(import::import),
        ),
        (
            Method::GET,
            "/api/collections/{name}/products/{product}",
            aw::get().to(products::show),
        ),
        (
            Method::PATCH,
            "/api/collections/{name}/products/{product}",
            aw::patch().to(products::update),
        ),
        (
            Method::DELETE,
            "/api/collections/{name}/products/{product}",
            aw::delete().to(products::remove),
        ),
        (
            Method::POST,
            "/api/collections/{name}/search",
            aw::post().to(search::search),
        ),
        (
            Method::POST,
            "/api/collections/{name}/explain",
            aw::post().to(explain::explain),
        ),
    ]
}

/// The JSON view of a stored image: its id, metadata (without the server's file path) and URLs.
pub fn image_view(
    collection: &str,
    id: u64,
    metadata: &lookalike_index::Metadata,
) -> serde_json::Value {
    let mut metadata = metadata.clone();
    metadata.remove("path");
    serde_json::json!({
        "id": id,
        "metadata": metadata,
        "image_url": format!("/api/collections/{collection}/images/{id}/image"),
        "thumbnail_url": format!("/api/collections/{collection}/images/{id}/thumbnail"),
    })
}
