//! `lookalike serve`'s guards, over HTTP: every error the API promises (400, 401, 403, 404, 405,
//! 409, 413, 415, 422, 503), the API keys, and the timeout. After bad requests the server still
//! answers and nothing stored is lost.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use lookalike_e2e::server::{b64, catalogue, expect, images_in, png, TestServer, KEY};
use serde_json::{json, Value};

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
            &json!({"id": 0, "filter": {"tags": [{"a": 1}]}}),
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

/// An uploaded image whose kept file was removed behind the server's back: serving it and
/// explaining it each answer 404 `file_missing` with the image's id, and
/// the rest of the collection is unharmed.
#[test]
fn a_stored_image_whose_file_is_gone_is_a_404_that_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let data = catalogue(dir.path());
    let server = TestServer::start(&data, &["--api-key", KEY], &[]);
    let auth = [("X-API-Key", KEY)];
    let added = server.json(
        "POST",
        "/api/collections/shop/images",
        &auth,
        &json!({"images": [{"base64": b64(&png(901))}]}),
    );
    assert_eq!(added.status, 201, "{}", added.message());
    let id = added.json()["images"][0]["id"].as_u64().unwrap();
    let before = images_in(&server);
    let uploads = data.join("shop/uploads");
    for f in std::fs::read_dir(&uploads).unwrap() {
        std::fs::remove_file(f.unwrap().path()).unwrap();
    }
    let image = server.get(&format!("/api/collections/shop/images/{id}/image"));
    expect(
        &image,
        404,
        &format!("image {id}'s file is no longer there"),
    );
    assert!(image.body.windows(12).any(|w| w == b"file_missing"));
    let explained = server.json(
        "POST",
        "/api/collections/shop/explain",
        &[],
        &json!({"id": 1, "hit": id}),
    );
    expect(&explained, 404, &format!("image {id}'s file"));
    // Its metadata and thumbnail are still served, and nothing was lost.
    assert_eq!(
        server
            .get(&format!("/api/collections/shop/images/{id}"))
            .status,
        200
    );
    assert_eq!(images_in(&server), before);
}
