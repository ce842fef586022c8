//! `lookalike serve` over HTTP, started on port 0 as a user starts it: every route end to end,
//! on the embedded store and on pgvector. The errors and the keys are in `server_guards.rs`.

use base64::Engine;
use lookalike_e2e::postgres::PgServer;
use lookalike_e2e::server::{
    b64, catalogue, catalogue_in, expect, images_in, png, TestServer, ADMIN, KEY,
};
use lookalike_e2e::shapes_dataset;
use serde_json::json;

fn decodes_as_png(data_url: &str) -> (u32, u32) {
    let b = data_url
        .strip_prefix("data:image/png;base64,")
        .expect("a PNG data URL");
    let bytes = base64::engine::general_purpose::STANDARD.decode(b).unwrap();
    let img = image::load_from_memory_with_format(&bytes, image::ImageFormat::Png).unwrap();
    (img.width(), img.height())
}

#[test]
fn every_route_works_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let data = catalogue(dir.path());
    let auth = [("Authorization", &*format!("Bearer {KEY}"))];
    let admin = [("X-API-Key", ADMIN)];
    let server = TestServer::start(
        &data,
        &[
            "--api-key",
            KEY,
            "--admin-key",
            ADMIN,
            "--instance",
            "api-1",
        ],
        &[],
    );

    // Operations and the UI.
    assert_eq!(server.get("/healthz").json()["status"], "ok");
    let page = server.get("/");
    assert!(page.status == 200 && page.content_type.starts_with("text/html"));
    assert_eq!(server.get("/app.js").status, 200);
    assert_eq!(server.get("/style.css").status, 200);
    let part = server.get("/css/results.css");
    assert_eq!(part.status, 200);
    assert!(
        part.content_type.starts_with("text/css"),
        "{}",
        part.content_type
    );
    assert!(String::from_utf8_lossy(&part.body).contains(".card-score"));
    let missing = server.get("/css/nothing%22here.css");
    assert_eq!(missing.status, 404);
    assert!(
        missing.message().contains("nothing\\\"here.css"),
        "{}",
        missing.message()
    );
    let doc = server.get("/openapi.json").json();
    assert!(doc["paths"]["/api/collections/{name}/search"]["post"].is_object());
    let methods = server.get("/api/explainers").json();
    let names: Vec<&str> = methods["methods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "gradcam",
            "occlusion",
            "gradcam++",
            "xgradcam",
            "hirescam",
            "layercam",
            "integrated-gradients",
            "shapley",
            "rise"
        ]
    );
    assert!(methods["methods"]
        .as_array()
        .unwrap()
        .iter()
        .all(|m| m["cost"]["summary"].is_string()));
    assert_eq!(server.get("/js/api.js").status, 200);
    assert_eq!(server.get("/js/nope.js").status, 404);

    // Collections.
    let list = server.get("/api/collections").json();
    assert_eq!(list["collections"][0]["name"], "shop");
    let shop = server.get("/api/collections/shop").json();
    assert_eq!(shop["images"], 24);
    assert_eq!(shop["store"]["kind"], "embedded");
    assert_eq!(shop["layers"], 4);

    // Add: multipart with metadata and a caller id, base64 JSON, a folder by path (admin).
    let added = server.form(
        "/api/collections/shop/images",
        &auth,
        &[
            ("image", Some("new.png"), &png(101)),
            ("metadata", None, br#"{"label":"extra","price":12}"#),
            ("id", None, b"sku-101"),
        ],
    );
    expect(&added, 201, "");
    let added = added.json();
    let new_id = added["images"][0]["id"].as_u64().unwrap();
    assert_eq!(added["images"][0]["external_id"], "sku-101");
    assert_eq!(added["images"][0]["created"], true);
    let again = server.form(
        "/api/collections/shop/images",
        &auth,
        &[("image", Some("same.png"), &png(101))],
    );
    expect(&again, 200, "");
    assert_eq!(again.json()["images"][0]["id"], new_id);
    assert_eq!(again.json()["images"][0]["created"], false);
    let by_json = server.json(
        "POST",
        "/api/collections/shop/images",
        &auth,
        &json!({"images": [{"base64": b64(&png(102)), "metadata": {"label": "extra"}, "id": "sku-102"}]}),
    );
    expect(&by_json, 201, "");
    let json_id = by_json.json()["images"][0]["id"].as_u64().unwrap();
    let folder = dir.path().join("more");
    shapes_dataset(&folder, 1, 3, 77);
    let by_path = server.json(
        "POST",
        "/api/collections/shop/images",
        &admin,
        &json!({"images": [{"path": folder, "metadata": {"source": "batch"}}]}),
    );
    expect(&by_path, 201, "");
    assert_eq!(by_path.json()["images"].as_array().unwrap().len(), 3);
    assert_eq!(images_in(&server), 24 + 2 + 3);

    // Show, update, the file and the thumbnail.
    let shown = server
        .get(&format!("/api/collections/shop/images/{new_id}"))
        .json();
    assert_eq!(shown["metadata"]["price"], 12);
    assert_eq!(shown["metadata"]["external_id"], "sku-101");
    assert!(
        shown["metadata"].get("path").is_none(),
        "server paths stay private"
    );
    let patched = server.json(
        "PATCH",
        &format!("/api/collections/shop/images/{new_id}"),
        &auth,
        &json!({"price": 10, "label": null, "colour": "red"}),
    );
    expect(&patched, 200, "");
    let m = &patched.json()["metadata"];
    assert_eq!(
        (m["price"].as_u64(), m["colour"].as_str()),
        (Some(10), Some("red"))
    );
    assert!(m.get("label").is_none());
    let file = server.get(&format!("/api/collections/shop/images/{new_id}/image"));
    assert_eq!(
        (file.status, file.content_type.as_str()),
        (200, "image/png")
    );
    assert_eq!(file.body, png(101), "the stored file is the upload");
    let thumb = server.get(&format!("/api/collections/shop/images/{new_id}/thumbnail"));
    assert_eq!(
        (thumb.status, thumb.content_type.as_str()),
        (200, "image/jpeg")
    );
    assert!(image::load_from_memory(&thumb.body).is_ok());

    // Search: upload, base64, more like this; k, offset, filters, minimum similarity.
    let query = std::fs::read(dir.path().join("images/disc/000.png")).unwrap();
    let up = server.form(
        "/api/collections/shop/search",
        &[],
        &[("image", Some("q.png"), &query), ("k", None, b"5")],
    );
    expect(&up, 200, "");
    let hits = up.json()["hits"].as_array().unwrap().clone();
    assert_eq!(hits.len(), 5);
    assert_eq!(
        hits[0]["similarity"].as_f64().map(|s| s > 0.999),
        Some(true)
    );
    for h in &hits {
        for key in [
            "id",
            "score",
            "similarity",
            "logit",
            "same",
            "metadata",
            "thumbnail_url",
            "image_url",
        ] {
            assert!(h.get(key).is_some(), "hit without {key}: {h}");
        }
        assert_eq!(
            server.get(h["thumbnail_url"].as_str().unwrap()).status,
            200,
            "a hit's thumbnail URL works"
        );
    }
    let top = hits[0]["id"].as_u64().unwrap();
    let b = server.json(
        "POST",
        "/api/collections/shop/search",
        &[],
        &json!({"image": b64(&query), "k": 5}),
    );
    assert_eq!(
        b.json()["hits"].as_array().unwrap(),
        &hits,
        "base64 = upload"
    );
    let paged = server.json(
        "POST",
        "/api/collections/shop/search",
        &[],
        &json!({"image": b64(&query), "k": 2, "offset": 3}),
    );
    assert_eq!(paged.json()["hits"].as_array().unwrap()[..], hits[3..5]);
    let like = server.json(
        "POST",
        "/api/collections/shop/search",
        &[],
        &json!({"id": top, "k": 4}),
    );
    let like = like.json()["hits"].as_array().unwrap().clone();
    assert_eq!(like.len(), 4);
    assert!(
        like.iter().all(|h| h["id"] != top),
        "more-like-this leaves the image out"
    );
    let filtered = server.json(
        "POST",
        "/api/collections/shop/search",
        &[],
        &json!({"image": b64(&query), "k": 10, "filter": {"label": "square"}}),
    );
    let filtered = filtered.json()["hits"].as_array().unwrap().clone();
    assert_eq!(filtered.len(), 6);
    assert!(filtered.iter().all(|h| h["metadata"]["label"] == "square"));
    let strict = server.json(
        "POST",
        "/api/collections/shop/search",
        &[],
        &json!({"image": b64(&query), "k": 10, "min_similarity": 0.999}),
    );
    let strict = strict.json()["hits"].as_array().unwrap().clone();
    assert!(
        !strict.is_empty()
            && strict
                .iter()
                .all(|h| h["similarity"].as_f64().unwrap() >= 0.999)
    );

    // Explain one hit: four maps as PNG with grids and boxes, and the cell correspondences.
    let e = server.form(
        "/api/collections/shop/explain",
        &[],
        &[
            ("image", Some("q.png"), &query),
            ("hit", None, hits[1]["id"].to_string().as_bytes()),
            ("method", None, b"gradcam"),
        ],
    );
    expect(&e, 200, "");
    let e = e.json();
    assert_eq!(e["method"], "gradcam");
    assert!(
        (e["similarity"].as_f64().unwrap() - hits[1]["similarity"].as_f64().unwrap()).abs() < 1e-4
    );
    for side in ["query", "hit"] {
        for kind in ["factual", "counterfactual"] {
            let map = &e[side][kind];
            assert_eq!(decodes_as_png(map["png"].as_str().unwrap()), (224, 224));
            let grid: Vec<usize> = serde_json::from_value(map["grid"].clone()).unwrap();
            assert_eq!(map["values"].as_array().unwrap().len(), grid[0] * grid[1]);
            assert!(map.get("box").is_some() && map.get("flat").is_some());
        }
    }
    assert_eq!(
        decodes_as_png(e["crops"]["hit"].as_str().unwrap()),
        (224, 224)
    );
    let top_matches = e["correspondence"]["top"].as_array().unwrap();
    assert_eq!(top_matches.len(), 10);
    let layer2 = server.json(
        "POST",
        "/api/collections/shop/explain",
        &[],
        &json!({"id": top, "hit": hits[2]["id"], "method": "gradcam++", "layer": 2}),
    );
    expect(&layer2, 200, "");
    assert_eq!(
        (
            layer2.json()["layer"].as_u64(),
            layer2.json()["method"].as_str()
        ),
        (Some(2), Some("gradcam++"))
    );

    // Search with every hit explained in one call.
    let explained = server.json(
        "POST",
        "/api/collections/shop/search",
        &[],
        &json!({"image": b64(&query), "k": 3, "explain": {"method": "xgradcam"}}),
    );
    expect(&explained, 200, "");
    for h in explained.json()["hits"].as_array().unwrap() {
        assert_eq!(h["explanation"]["method"], "xgradcam");
        assert_eq!(h["explanation"]["id"], h["id"]);
        assert_eq!(h["explanation"]["same"], h["same"]);
    }

    // Delete.
    let gone = server.call(
        "DELETE",
        &format!("/api/collections/shop/images/{json_id}"),
        &auth,
    );
    expect(&gone, 200, "");
    expect(
        &server.get(&format!("/api/collections/shop/images/{json_id}")),
        404,
        "no image",
    );
    assert_eq!(images_in(&server), 24 + 2 + 3 - 1);

    // Metrics saw all of it, by route pattern, each series naming this process.
    let scrape = server.get("/metrics");
    assert_eq!(scrape.header("x-lookalike-instance"), Some("api-1"));
    let metrics = String::from_utf8(scrape.body).unwrap();
    assert!(metrics.contains(
        r#"lookalike_http_requests_total{method="POST",route="/api/collections/{name}/search",status="200",instance="api-1"}"#
    ), "{metrics}");
    assert!(
        metrics.contains(r#"lookalike_collection_images{collection="shop",instance="api-1"} 28"#)
    );
    assert!(
        metrics.contains(r#"lookalike_explanations_total{method="xgradcam",instance="api-1"} 3"#)
    );
    assert!(metrics.contains(r#"lookalike_instance_info{version="#));
}

#[test]
fn a_pgvector_collection_is_served_like_an_embedded_one() {
    let pg = PgServer::start();
    let dir = tempfile::tempdir().unwrap();
    let data = catalogue_in(dir.path(), &["--store", "pgvector", "--url", &pg.url()]);
    let auth = [("X-API-Key", KEY)];
    let server = TestServer::start(&data, &["--api-key", KEY], &[]);
    let shop = server.get("/api/collections/shop").json();
    assert_eq!(
        (shop["store"]["kind"].as_str(), shop["images"].as_u64()),
        (Some("pgvector"), Some(24))
    );
    let query = std::fs::read(dir.path().join("images/square/002.png")).unwrap();
    let found = server.form(
        "/api/collections/shop/search",
        &[],
        &[
            ("image", Some("q.png"), &query),
            ("k", None, b"6"),
            ("filter", None, br#"{"label":"square"}"#),
        ],
    );
    expect(&found, 200, "");
    let hits = found.json()["hits"].as_array().unwrap().clone();
    assert_eq!(hits.len(), 6);
    assert!(hits[0]["similarity"].as_f64().unwrap() > 0.999);
    let added = server.json(
        "POST",
        "/api/collections/shop/images",
        &auth,
        &json!({"images": [{"base64": b64(&png(41)), "id": "sku-41"}]}),
    );
    expect(&added, 201, "");
    let id = added.json()["images"][0]["id"].as_u64().unwrap();
    let like = server.json(
        "POST",
        "/api/collections/shop/search",
        &[],
        &json!({"id": id, "k": 3, "explain": {}}),
    );
    expect(&like, 200, "");
    assert!(like.json()["hits"]
        .as_array()
        .unwrap()
        .iter()
        .all(|h| h["explanation"]["method"] == "gradcam"));
    expect(
        &server.call(
            "DELETE",
            &format!("/api/collections/shop/images/{id}"),
            &auth,
        ),
        200,
        "",
    );
    assert_eq!(images_in(&server), 24);
}

#[test]
fn a_sharded_search_over_http_says_which_shard_did_not_answer() {
    let coordinator = PgServer::start();
    let shards: Vec<PgServer> = (0..2).map(|_| PgServer::start()).collect();
    let urls: Vec<String> = shards.iter().map(PgServer::url).collect();
    let dir = tempfile::tempdir().unwrap();
    let data = catalogue_in(
        dir.path(),
        &[
            "--store",
            "pgvector",
            "--url",
            &coordinator.url(),
            "--shards",
            &urls.join(","),
            "--partial-ok",
        ],
    );
    let server = TestServer::start(&data, &[], &[]);
    let query = std::fs::read(dir.path().join("images/square/002.png")).unwrap();
    let search = || {
        let reply = server.form(
            "/api/collections/shop/search",
            &[],
            &[("image", Some("q.png"), &query), ("k", None, b"24")],
        );
        expect(&reply, 200, "");
        reply.json()
    };
    let whole = search();
    assert_eq!(whole["partial"], json!(false), "{whole}");
    assert!(whole.get("missing_shards").is_none());
    assert_eq!(whole["hits"].as_array().unwrap().len(), 24);

    shards[1].stop();
    let part = search();
    assert_eq!(part["partial"], json!(true), "{part}");
    let missing = part["missing_shards"].as_array().unwrap();
    assert_eq!(missing.len(), 1, "{part}");
    let named = missing[0].as_str().unwrap();
    assert!(named.contains("shard 1"), "{named}");
    assert!(named.contains(&shards[1].port().to_string()), "{named}");
    // What shard 0 holds is still found: fewer than the 24 images, but not none.
    let found = part["hits"].as_array().unwrap().len();
    assert!(
        (1..24).contains(&found),
        "{found} hits from one shard of two"
    );
}
