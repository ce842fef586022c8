//! The web UI: the files of `web/` (the page, its style, `app.js` and the ES modules of
//! `web/js/` it imports), compiled into the binary so that it serves the same page wherever it
//! runs, and the embeddable widget `web/widget/widget.js` at `/widget.js`. A test checks that
//! [`MODULES`] names every file of `web/js/`.

use actix_web::HttpResponse;

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

/// `GET /js/{name}`
pub async fn module(name: actix_web::web::Path<String>) -> HttpResponse {
    match MODULES.iter().find(|(n, _)| *n == name.as_str()) {
        Some((_, body)) => file("text/javascript; charset=utf-8", body),
        None => HttpResponse::NotFound()
            .content_type("application/json")
            .body(format!(
                "{{\"error\":\"no module {:?} in the web UI\"}}",
                name.as_str()
            )),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_module_of_web_js_is_served() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../web/js");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".js"))
            .collect();
        files.sort();
        let served: Vec<&str> = super::MODULES.iter().map(|(n, _)| *n).collect();
        assert_eq!(files, served, "add new web/js modules to MODULES");
    }
}
