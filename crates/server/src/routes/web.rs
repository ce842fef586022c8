//! The web UI: the files of `web/` (the page, its base style sheet and the parts of it in
//! `web/css/`, `app.js` and the ES modules of `web/js/` it imports), compiled into the binary so
//! that it serves the same page wherever it runs, and the embeddable widget
//! `web/widget/widget.js` at `/widget.js`. Tests check that [`MODULES`] and [`STYLES`] name
//! every file of `web/js/` and `web/css/`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};

use crate::error::ApiError;

const INDEX: &str = include_str!("../../../../web/index.html");
const SCRIPT: &str = include_str!("../../../../web/app.js");
const STYLE: &str = include_str!("../../../../web/style.css");
const WIDGET: &str = include_str!("../../../../web/widget/widget.js");

fn file(content_type: &str, body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header(("Cache-Control", "no-cache"))
        .body(body)
}

/// `GET /`
pub async fn index() -> HttpResponse {
    file("text/html; charset=utf-8", INDEX)
}

/// `GET /app.js`
pub async fn script() -> HttpResponse {
    file("text/javascript; charset=utf-8", SCRIPT)
}

/// `GET /style.css`
pub async fn style() -> HttpResponse {
    file("text/css; charset=utf-8", STYLE)
}

/// `GET /widget.js`: the "similar products" widget for other sites' pages. A classic script, so
/// that a `<script src>` on any origin loads it without CORS.
pub async fn widget() -> HttpResponse {
    file("text/javascript; charset=utf-8", WIDGET)
}

/// The ES modules that `app.js` imports, by file name: `GET /js/{name}`.
pub const MODULES: &[(&str, &str)] = &[
    ("api.js", include_str!("../../../../web/js/api.js")),
    (
        "collections.js",
        include_str!("../../../../web/js/collections.js"),
    ),
    ("compare.js", include_str!("../../../../web/js/compare.js")),
    (
        "correspondence.js",
        include_str!("../../../../web/js/correspondence.js"),
    ),
    ("dom.js", include_str!("../../../../web/js/dom.js")),
    ("explain.js", include_str!("../../../../web/js/explain.js")),
    (
        "explainers.js",
        include_str!("../../../../web/js/explainers.js"),
    ),
    (
        "filter-builder.js",
        include_str!("../../../../web/js/filter-builder.js"),
    ),
    ("filters.js", include_str!("../../../../web/js/filters.js")),
    ("format.js", include_str!("../../../../web/js/format.js")),
    (
        "messages.js",
        include_str!("../../../../web/js/messages.js"),
    ),
    ("novelty.js", include_str!("../../../../web/js/novelty.js")),
    (
        "products.js",
        include_str!("../../../../web/js/products.js"),
    ),
    (
        "query-crop.js",
        include_str!("../../../../web/js/query-crop.js"),
    ),
    ("query.js", include_str!("../../../../web/js/query.js")),
    ("region.js", include_str!("../../../../web/js/region.js")),
    ("results.js", include_str!("../../../../web/js/results.js")),
    ("search.js", include_str!("../../../../web/js/search.js")),
    ("state.js", include_str!("../../../../web/js/state.js")),
];

/// The parts of the style sheet that `index.html` links after `/style.css`, by file name:
/// `GET /css/{name}`.
const STYLES: &[(&str, &str)] = &[
    (
        "compare.css",
        include_str!("../../../../web/css/compare.css"),
    ),
    (
        "controls.css",
        include_str!("../../../../web/css/controls.css"),
    ),
    ("layout.css", include_str!("../../../../web/css/layout.css")),
    (
        "messages.css",
        include_str!("../../../../web/css/messages.css"),
    ),
    ("query.css", include_str!("../../../../web/css/query.css")),
    (
        "results.css",
        include_str!("../../../../web/css/results.css"),
    ),
];

/// `name` from `table` as `content_type`, or a JSON 404 that names what is missing.
fn named(
    table: &[(&str, &'static str)],
    what: &str,
    name: &str,
    content_type: &str,
) -> HttpResponse {
    match table.iter().find(|(n, _)| *n == name) {
        Some((_, body)) => file(content_type, body),
        None => ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no {what} {name:?} in the web UI"),
        )
        .error_response(),
    }
}

/// `GET /js/{name}`
pub async fn module(name: actix_web::web::Path<String>) -> HttpResponse {
    named(MODULES, "module", &name, "text/javascript; charset=utf-8")
}

/// `GET /css/{name}`
pub async fn style_part(name: actix_web::web::Path<String>) -> HttpResponse {
    named(STYLES, "style sheet", &name, "text/css; charset=utf-8")
}

#[cfg(test)]
mod tests {
    /// The files of `web/{dir}` ending in `.{ext}`, sorted.
    fn files(dir: &str, ext: &str) -> Vec<String> {
        let dir = format!("{}/../../web/{dir}", env!("CARGO_MANIFEST_DIR"));
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(ext))
            .collect();
        files.sort();
        files
    }

    #[test]
    fn every_module_of_web_js_is_served() {
        let served: Vec<&str> = super::MODULES.iter().map(|(n, _)| *n).collect();
        assert_eq!(
            files("js", ".js"),
            served,
            "add new web/js modules to MODULES"
        );
    }

    #[test]
    fn every_part_of_web_css_is_served_and_linked() {
        let served: Vec<&str> = super::STYLES.iter().map(|(n, _)| *n).collect();
        assert_eq!(
            files("css", ".css"),
            served,
            "add new web/css files to STYLES"
        );
        for name in served {
            let link = format!("href=\"/css/{name}\"");
            assert!(
                super::INDEX.contains(&link),
                "index.html must link /css/{name}"
            );
        }
    }
}
