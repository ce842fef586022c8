//! `lookalike serve` over HTTP, started on port 0 as a user starts it: every route, every error
//! the API promises (400, 401, 403, 404, 409, 413, 415, 422, 503), and the API keys. After bad
//! requests the server still answers and nothing stored is lost.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

use base64::Engine;
use lookalike_e2e::postgres::PgServer;
use lookalike_e2e::server::{Reply, TestServer};
use lookalike_e2e::{lookalike, picture, shapes_dataset, text};
use serde_json::{json, Value};

const KEY: &str = "user-key-1";
const ADMIN: &str = "admin-key-1";

/// A tiny-CNN collection `shop` of 4 shapes × 6 images in a fresh data folder.
fn catalogue(dir: &Path) -> std::path::PathBuf {
    catalogue_in(dir, &[])
}

/// [`catalogue`], with extra `index create` options (another store).
fn catalogue_in(dir: &Path, store: &[&str]) -> std::path::PathBuf {
    let images = dir.join("images");
    shapes_dataset(&images, 4, 6, 3);
    let data = dir.join("data");
    let d = data.to_str().unwrap();
    let mut create = vec![
        "index",
        "create",
        "shop",
        "--model",
        "zero-shot",
        "--backbone",
        "tiny",
        "--data-dir",
        d,
    ];
    create.extend_from_slice(store);
    let add = vec![
        "index",
        "add",
        "shop",
        images.to_str().unwrap(),
        "--data-dir",
        d,
        "-q",
    ];
    for args in [create, add] {
        let run = lookalike(&args);
        assert!(run.status.success(), "{args:?}: {}", text(&run).1);
    }
    data
}

fn png(seed: u32) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    picture(64, 64, seed)
        .write_to(&mut out, image::ImageFormat::Png)
        .unwrap();
    out.into_inner()
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn expect(reply: &Reply, status: u16, needle: &str) {
    assert_eq!(
        reply.status,
        status,
        "expected {status}, got {}: {}",
        reply.status,
        String::from_utf8_lossy(&reply.body)
    );
    if !needle.is_empty() {
        let message = reply.message();
        assert!(
            message.contains(needle),
            "expected {needle:?} in {message:?}"
        );
    }
}

fn images_in(server: &TestServer) -> u64 {
    server.get("/api/collections/shop").json()["images"]
        .as_u64()
        .unwrap()
}

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
    let server = TestServer::start(&data, &["--api-key", KEY, "--admin-key", ADMIN], &[]);

    // Operations and the UI.
    assert_eq!(server.get("/healthz").json()["status"], "ok");
    let page = server.get("/");
    assert!(page.status == 200 && page.content_type.starts_with("text/html"));
    assert_eq!(server.get("/app.js").status, 200);
    assert_eq!(server.get("/style.css").status, 200);
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
        ["gradcam", "gradcam++", "xgradcam", "hirescam", "layercam"]
    );

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

    // Metrics saw all of it, by route pattern.
    let metrics = String::from_utf8(server.get("/metrics").body).unwrap();
    assert!(metrics.contains(
        r#"lookalike_http_requests_total{method="POST",route="/api/collections/{name}/search",status="200"}"#
    ));
    assert!(metrics.contains(r#"lookalike_collection_images{collection="shop"} 28"#));
    assert!(metrics.contains(r#"lookalike_explanations_total{method="xgradcam"} 3"#));
}

#[test]
fn bad_input_gets_a_4xx_that_names_it_and_the_server_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let data = catalogue(dir.path());
    let auth = [("X-API-Key", KEY)];
    let mut server = TestServer::start(
        &data,
        &[
            "--api-key",
            KEY,
            "--max-upload-bytes",
            "200000",
            "--max-pixels",
            "1000000",
        ],
        &[],
    );
    let search = "/api/collections/shop/search";
    let good = std::fs::read(dir.path().join("images/disc/001.png")).unwrap();

    // 413: an upload over the limit, as a form and as JSON.
    let big = vec![7u8; 300_000];
    expect(
        &server.form(search, &[], &[("image", Some("big.png"), &big)]),
        413,
        "limit of 200000 bytes",
    );
    expect(
        &server.json(
            "POST",
            search,
            &[],
            &json!({"image": b64(&vec![0u8; 600_000])}),
        ),
        413,
        "limit",
    );
    // 415: a content type, or image bytes, the server does not take.
    expect(
        &server.send("POST", search, &[], "text/plain", b"hello"),
        415,
        "text/plain",
    );
    expect(
        &server.form(
            search,
            &[],
            &[("image", Some("notes.txt"), b"just some text")],
        ),
        415,
        "not an image in a supported format",
    );
    // 422: undecodable, or too many pixels (a header claiming 5000 × 5000).
    let mut truncated = png(5);
    truncated.truncate(truncated.len() / 2);
    expect(
        &server.form(search, &[], &[("image", Some("cut.png"), &truncated)]),
        422,
        "truncated",
    );
    let bomb = lookalike_e2e::png_header_only(5000, 5000);
    expect(
        &server.form(search, &[], &[("image", Some("bomb.png"), &bomb)]),
        422,
        "more than the limit",
    );
    expect(
        &server.form(
            "/api/collections/shop/images",
            &auth,
            &[("image", Some("cut.png"), &truncated)],
        ),
        422,
        "truncated",
    );
    // 404: unknown collection, unknown image, unknown route.
    expect(
        &server.form(
            "/api/collections/nope/search",
            &[],
            &[("image", Some("q.png"), &good)],
        ),
        404,
        "unknown collection \"nope\"",
    );
    expect(
        &server.json("POST", search, &[], &json!({"id": 99999})),
        404,
        "no image 99999",
    );
    expect(
        &server.get("/api/collections/shop/images/abc"),
        404,
        "ids are numbers",
    );
    expect(
        &server.get("/api/collections/shop/images/99999/thumbnail"),
        404,
        "no image",
    );
    expect(
        &server.call("DELETE", "/api/collections/shop/images/99999", &auth),
        404,
        "no image",
    );
    expect(
        &server.json(
            "POST",
            "/api/collections/shop/explain",
            &[],
            &json!({"id": 0, "hit": 424242}),
        ),
        404,
        "no image 424242",
    );
    expect(&server.get("/no/such/route"), 404, "no route");
    // 400: malformed JSON and bad parameters.
    expect(
        &server.send("POST", search, &[], "application/json", b"{\"k\": "),
        400,
        "malformed JSON",
    );
    expect(
        &server.json("POST", search, &[], &json!({"id": 0, "kk": 3})),
        400,
        "unknown field `kk`",
    );
    expect(
        &server.json("POST", search, &[], &json!({"id": 0, "k": 0})),
        400,
        "k must be between 1 and 1000",
    );
    expect(
        &server.json("POST", search, &[], &json!({"k": 3})),
        400,
        "exactly one query",
    );
    expect(
        &server.json("POST", search, &[], &json!({"image": "%%%"})),
        400,
        "not valid base64",
    );
    expect(
        &server.json("POST", search, &[], &json!({"id": 0, "ef": 100000000})),
        400,
        "ef must be between 1 and 10000",
    );
    expect(
        &server.json("POST", search, &[], &json!({"id": 0, "min_similarity": 2})),
        400,
        "min_similarity",
    );
    expect(
        &server.json(
            "POST",
            search,
            &[],
            &json!({"id": 0, "filter": {"tags": [1]}}),
        ),
        400,
        "filter \"tags\"",
    );
    expect(
        &server.json(
            "POST",
            search,
            &[],
            &json!({"id": 0, "k": 51, "explain": {}}),
        ),
        400,
        "at most 50 hits",
    );
    expect(
        &server.json(
            "POST",
            "/api/collections/shop/explain",
            &[],
            &json!({"id": 0, "hit": 1, "method": "nope"}),
        ),
        400,
        "unknown explanation method \"nope\"",
    );
    expect(
        &server.json(
            "POST",
            "/api/collections/shop/explain",
            &[],
            &json!({"id": 0, "hit": 1, "layer": 9}),
        ),
        400,
        "out of range",
    );
    expect(
        &server.form(
            search,
            &[],
            &[("image", Some("q.png"), &good), ("k", None, b"ten")],
        ),
        400,
        "not a valid number",
    );
    expect(
        &server.json(
            "PATCH",
            "/api/collections/shop/images/0",
            &auth,
            &json!({"sha256": "x"}),
        ),
        400,
        "cannot be changed",
    );
    expect(
        &server.json(
            "POST",
            "/api/collections/shop/images",
            &auth,
            &json!({"images": [{"base64": b64(&png(9)), "metadata": {"path": "/etc"}}]}),
        ),
        400,
        "reserved",
    );
    // 409: a caller id already in use.
    let first = server.json(
        "POST",
        "/api/collections/shop/images",
        &auth,
        &json!({"images": [{"base64": b64(&png(11)), "id": "sku-1"}]}),
    );
    expect(&first, 201, "");
    expect(
        &server.json(
            "POST",
            "/api/collections/shop/images",
            &auth,
            &json!({"images": [{"base64": b64(&png(12)), "id": "sku-1"}]}),
        ),
        409,
        "already used",
    );
    // 405: a method a route does not take.
    expect(
        &server.call("PUT", "/api/collections/shop", &[]),
        405,
        "not allowed",
    );

    // Still serving, nothing lost, and nothing half-added by the refused requests.
    assert!(server.alive());
    assert_eq!(server.get("/healthz").status, 200);
    assert_eq!(images_in(&server), 25);
    let ok = server.form(search, &[], &[("image", Some("q.png"), &good)]);
    expect(&ok, 200, "");
}

#[test]
fn api_keys_guard_writes_and_can_lock_reads() {
    let dir = tempfile::tempdir().unwrap();
    let data = catalogue(dir.path());
    let add = |server: &TestServer, headers: &[(&str, &str)]| {
        server.json(
            "POST",
            "/api/collections/shop/images",
            headers,
            &json!({"images": [{"base64": b64(&png(31))}]}),
        )
    };
    let by_path = json!({"images": [{"path": dir.path().join("images/disc")}]});

    // No keys configured: reads work, writes are refused, saying how to allow them.
    {
        let server = TestServer::start(&data, &[], &[]);
        assert_eq!(server.get("/api/collections").status, 200);
        expect(&add(&server, &[]), 403, "--api-key");
        expect(
            &server.call(
                "DELETE",
                "/api/collections/shop/images/0",
                &[("X-API-Key", "x")],
            ),
            403,
            "takes no writes",
        );
    }
    // Keys from the environment: none sent → 401, a wrong one → 403, a user key may not add
    // server paths, an admin key may.
    {
        let server = TestServer::start(
            &data,
            &[],
            &[
                ("LOOKALIKE_API_KEYS", "k-a, k-b"),
                ("LOOKALIKE_ADMIN_KEYS", "root-1"),
            ],
        );
        let none = add(&server, &[]);
        expect(&none, 401, "needs an API key");
        expect(
            &add(&server, &[("Authorization", "Bearer wrong")]),
            403,
            "not valid",
        );
        expect(&add(&server, &[("Authorization", "Bearer k-b")]), 201, "");
        expect(
            &server.json(
                "POST",
                "/api/collections/shop/images",
                &[("X-API-Key", "k-a")],
                &by_path,
            ),
            403,
            "admin key",
        );
        expect(
            &server.json(
                "POST",
                "/api/collections/shop/images",
                &[("X-API-Key", "root-1")],
                &by_path,
            ),
            200,
            "",
        );
        expect(
            &server.call("DELETE", "/api/collections/shop/images/0", &[]),
            401,
            "",
        );
        expect(
            &server.call(
                "DELETE",
                "/api/collections/shop/images/0",
                &[("X-API-Key", "k-a")],
            ),
            200,
            "",
        );
    }
    // Locked reads: every read needs a key, health stays open.
    {
        let server = TestServer::start(&data, &["--api-key", KEY, "--lock-reads"], &[]);
        expect(&server.get("/api/collections"), 401, "");
        expect(
            &server.json(
                "POST",
                "/api/collections/shop/search",
                &[],
                &json!({"id": 1}),
            ),
            401,
            "",
        );
        expect(
            &server.call("GET", "/api/collections", &[("X-API-Key", "nope")]),
            403,
            "",
        );
        assert_eq!(
            server
                .call("GET", "/api/collections", &[("X-API-Key", KEY)])
                .status,
            200
        );
        let found = server.json(
            "POST",
            "/api/collections/shop/search",
            &[("X-API-Key", KEY)],
            &json!({"id": 1}),
        );
        expect(&found, 200, "");
        assert_eq!(server.get("/healthz").status, 200);
    }
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
fn a_request_that_takes_too_long_is_answered_503() {
    let dir = tempfile::tempdir().unwrap();
    let data = catalogue(dir.path());
    let server = TestServer::start(&data, &["--timeout-secs", "1"], &[]);
    // A client that announces a body and never sends it.
    let addr = server.url.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    write!(
        stream,
        "POST /api/collections/shop/search HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{\"id\":"
    )
    .unwrap();
    let mut response = String::new();
    let mut buf = [0u8; 4096];
    while !response.contains("\r\n\r\n{") {
        let n = stream.read(&mut buf).unwrap();
        assert!(n > 0, "the server closed without answering: {response:?}");
        response.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    assert!(response.starts_with("HTTP/1.1 503"), "{response}");
    // It still serves others.
    assert_eq!(server.get("/healthz").status, 200);
    let _: Value = server.get("/api/collections").json();
}
