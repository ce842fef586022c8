//! Issue 16, part 5: what the embeddable widget needs from `lookalike serve`, over HTTP: the
//! script at `/widget.js`, read-only keys (`--read-key`), and CORS (`--cors-origin`): allowed
//! and other origins, preflights, credentials, and bad settings refused at start-up.
//! (The widget itself runs in Chromium in `tests/browser/widget.test.js`.)

use lookalike_e2e::server::{b64, catalogue, expect, png, Reply, TestServer, ADMIN, KEY};
use lookalike_e2e::{lookalike, text};
use serde_json::json;

const READ: &str = "widget-read-key";
const SHOP: &str = "http://127.0.0.1:5555";
const OTHER: &str = "http://shop-b.test:8000";
const EVIL: &str = "http://evil.test";
const SEARCH: &str = "/api/collections/shop/search";

fn search(server: &TestServer, headers: &[(&str, &str)]) -> Reply {
    server.json("POST", SEARCH, headers, &json!({"id": 1, "k": 3}))
}

fn preflight(server: &TestServer, origin: &str) -> Reply {
    server.call(
        "OPTIONS",
        SEARCH,
        &[
            ("Origin", origin),
            ("Access-Control-Request-Method", "POST"),
            ("Access-Control-Request-Headers", "x-api-key, content-type"),
        ],
    )
}

#[test]
fn widget_js_is_served_to_any_page_without_a_key() {
    let dir = tempfile::tempdir().unwrap();
    let data = catalogue(dir.path());
    let server = TestServer::start(&data, &["--read-key", READ], &[]);
    let script = server.call("GET", "/widget.js", &[("Origin", EVIL)]);
    assert_eq!(script.status, 200);
    assert_eq!(script.content_type, "text/javascript");
    let body = String::from_utf8(script.body).unwrap();
    assert!(body.contains("customElements.define('lookalike-similar'"));
    assert!(
        body.contains("attachShadow"),
        "the widget's style is isolated"
    );
}

#[test]
fn only_listed_origins_get_cors_headers_and_preflights() {
    let dir = tempfile::tempdir().unwrap();
    let data = catalogue(dir.path());
    let server = TestServer::start(&data, &["--read-key", READ, "--cors-origin", SHOP], &[]);
    let key = ("X-API-Key", READ);

    // An allowed origin: its own origin echoed, `Vary: Origin`, no credentials.
    let ok = search(&server, &[key, ("Origin", SHOP)]);
    expect(&ok, 200, "");
    assert_eq!(ok.json()["hits"].as_array().unwrap().len(), 3);
    assert_eq!(ok.header("access-control-allow-origin"), Some(SHOP));
    let vary = ok.header("vary").unwrap_or("").to_ascii_lowercase();
    assert!(vary.contains("origin"), "Vary: {vary}");
    assert_eq!(ok.header("access-control-allow-credentials"), None);

    // Another origin: answered (the server's own UI sends Origin too) but with no CORS header,
    // so its browser keeps the answer from the page.
    for origin in [EVIL, "http://127.0.0.1:5556", "https://127.0.0.1:5555"] {
        let other = search(&server, &[key, ("Origin", origin)]);
        assert_eq!(other.status, 200, "{origin}");
        for (name, _) in &other.headers {
            assert!(!name.starts_with("access-control-"), "{origin} got {name}");
        }
    }
    // No Origin (curl, a server): no CORS header either.
    let plain = search(&server, &[key]);
    expect(&plain, 200, "");
    assert_eq!(plain.header("access-control-allow-origin"), None);

    // The preflight of the widget's POST with its key header.
    let pre = preflight(&server, SHOP);
    assert_eq!(pre.status, 200, "{}", String::from_utf8_lossy(&pre.body));
    assert_eq!(pre.header("access-control-allow-origin"), Some(SHOP));
    let methods = pre.header("access-control-allow-methods").unwrap();
    assert!(
        methods.contains("POST") && methods.contains("GET"),
        "{methods}"
    );
    let headers = pre
        .header("access-control-allow-headers")
        .unwrap()
        .to_ascii_lowercase();
    assert!(
        headers.contains("x-api-key") && headers.contains("content-type"),
        "{headers}"
    );
    assert_eq!(pre.header("access-control-max-age"), Some("3600"));
    // (No key was sent: browsers never send one with a preflight.) A preflight from another
    // origin is refused, without CORS headers.
    let refused = preflight(&server, EVIL);
    assert!(refused.status >= 400, "{}", refused.status);
    assert_eq!(refused.header("access-control-allow-origin"), None);
    // A preflight asking for a header the API does not take.
    let odd = server.call(
        "OPTIONS",
        SEARCH,
        &[
            ("Origin", SHOP),
            ("Access-Control-Request-Method", "POST"),
            ("Access-Control-Request-Headers", "x-something-else"),
        ],
    );
    assert!(odd.status >= 400, "{}", odd.status);
}

#[test]
fn several_origins_a_wildcard_and_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let data = catalogue(dir.path());
    // Two origins from the environment, with credentials: each echoed, with the credentials header.
    {
        let server = TestServer::start(
            &data,
            &["--cors-credentials"],
            &[("LOOKALIKE_CORS_ORIGINS", &format!("{SHOP}, {OTHER}"))],
        );
        for origin in [SHOP, OTHER] {
            let ok = search(&server, &[("Origin", origin)]);
            expect(&ok, 200, "");
            assert_eq!(ok.header("access-control-allow-origin"), Some(origin));
            assert_eq!(ok.header("access-control-allow-credentials"), Some("true"));
        }
        let other = search(&server, &[("Origin", EVIL)]);
        assert_eq!(other.header("access-control-allow-origin"), None);
        assert_eq!(other.header("access-control-allow-credentials"), None);
    }
    // `*`: any page, as `*`, never with credentials.
    {
        let server = TestServer::start(&data, &["--cors-origin", "*"], &[]);
        let any = search(&server, &[("Origin", EVIL)]);
        expect(&any, 200, "");
        assert_eq!(any.header("access-control-allow-origin"), Some("*"));
        assert_eq!(any.header("access-control-allow-credentials"), None);
        assert_eq!(
            preflight(&server, OTHER).header("access-control-allow-origin"),
            Some("*")
        );
    }
    // No --cors-origin: no CORS at all.
    {
        let server = TestServer::start(&data, &[], &[]);
        let none = search(&server, &[("Origin", SHOP)]);
        expect(&none, 200, "");
        assert_eq!(none.header("access-control-allow-origin"), None);
        assert_eq!(
            preflight(&server, SHOP).header("access-control-allow-origin"),
            None
        );
    }
}

#[test]
fn a_read_key_may_read_but_never_write() {
    let dir = tempfile::tempdir().unwrap();
    let data = catalogue(dir.path());
    let server = TestServer::start(
        &data,
        &["--api-key", KEY, "--admin-key", ADMIN],
        &[("LOOKALIKE_READ_KEYS", &format!("other-read-key,{READ}"))],
    );
    let read = [("X-API-Key", READ)];

    // Read keys lock the reads: none → 401, a wrong one → 403; read, API and admin keys read.
    expect(&search(&server, &[]), 401, "needs an API key");
    expect(&search(&server, &[("X-API-Key", "nope")]), 403, "not valid");
    for k in [READ, "other-read-key", KEY, ADMIN] {
        expect(
            &search(&server, &[("Authorization", &format!("Bearer {k}"))]),
            200,
            "",
        );
    }
    // Everything the widget does: a grouped search, a thumbnail, an image, an explanation.
    let grouped = server.json(
        "POST",
        SEARCH,
        &read,
        &json!({"id": 0, "k": 2, "group_by": "product"}),
    );
    expect(&grouped, 200, "");
    assert_eq!(grouped.json()["groups"].as_array().unwrap().len(), 2);
    let thumb = server.call("GET", "/api/collections/shop/images/0/thumbnail", &read);
    expect(&thumb, 200, "");
    assert!(thumb.content_type.starts_with("image/"));
    expect(
        &server.call("GET", "/api/collections/shop/images/0/image", &read),
        200,
        "",
    );
    expect(
        &server.call("GET", "/api/collections/shop/images/0/thumbnail", &[]),
        401,
        "",
    );
    let why = server.json(
        "POST",
        "/api/collections/shop/explain",
        &read,
        &json!({"id": 0, "hit": 1}),
    );
    expect(&why, 200, "");
    assert!(why.json()["hit"]["factual"]["png"]
        .as_str()
        .unwrap()
        .starts_with("data:image/png;base64,"));

    // Every write is refused with a 403 that says the key only reads.
    let add = json!({"images": [{"base64": b64(&png(5))}]});
    let refusals = [
        server.json("POST", "/api/collections/shop/images", &read, &add),
        server.json(
            "PATCH",
            "/api/collections/shop/images/0",
            &read,
            &json!({"metadata": {"price": 1}}),
        ),
        server.call("DELETE", "/api/collections/shop/images/0", &read),
        server.call("DELETE", "/api/collections/shop/products/P1", &read),
        server.send(
            "POST",
            "/api/collections/shop/import",
            &read,
            "text/csv",
            b"id,image_link\nP1,a.png\n",
        ),
    ];
    for refused in &refusals {
        expect(refused, 403, "read-only key");
    }
    let info = server.call("GET", "/api/collections/shop", &read).json();
    assert_eq!(info["images"], 24, "nothing was written");
    // The API key still writes.
    expect(
        &server.json(
            "POST",
            "/api/collections/shop/images",
            &[("X-API-Key", KEY)],
            &add,
        ),
        201,
        "",
    );
}

#[test]
fn bad_cors_settings_stop_the_server_at_start() {
    let dir = tempfile::tempdir().unwrap();
    // A data folder that does not exist: if the settings were not checked first, the server would
    // fail on it with another message (and never serve).
    let missing = dir.path().join("no-such-data");
    let m = missing.to_str().unwrap();
    for (args, needle) in [
        (
            vec!["--cors-origin", "*", "--cors-credentials"],
            "'*' cannot go with --cors-credentials",
        ),
        (
            vec!["--cors-origin", "*", "--cors-origin", SHOP],
            "either '*' or a list",
        ),
        (
            vec!["--cors-credentials"],
            "needs at least one --cors-origin",
        ),
        (
            vec!["--cors-origin", "shop.example"],
            "\"shop.example\" is not a URL origin",
        ),
        (
            vec!["--cors-origin", "https://shop.example/"],
            "write \"https://shop.example\"",
        ),
        (
            vec!["--cors-origin", "https://shop.example/page?x=1"],
            "no path, query",
        ),
        (vec!["--cors-origin", "file:///tmp"], "http or https"),
    ] {
        let mut all = vec!["serve", "--data-dir", m, "--bind", "127.0.0.1:0"];
        all.extend(&args);
        let run = lookalike(&all);
        let (_, stderr) = text(&run);
        assert!(!run.status.success(), "{args:?} started");
        assert!(stderr.contains("bad CORS settings"), "{args:?}: {stderr}");
        assert!(
            stderr.contains(needle),
            "{args:?}: expected {needle:?} in {stderr}"
        );
    }
}
