//! `lookalike index import` and `POST /api/collections/{name}/import` on feeds whose images
//! a local HTTP server (tiny_http) serves: a 10,000-row feed with 1% bad rows, re-imports that
//! change nothing or only metadata, pruning, and the fetch guards (private addresses, redirects
//! to them, a 50 MB body, a slow server, a page that is not an image).

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lookalike_e2e::server::{expect, TestServer, ADMIN, KEY};
use lookalike_e2e::{lookalike, picture, text};
use serde_json::Value;

/// A local image server: `/img/N.png` (a generated 32 × 32 PNG), `/page` (HTML), `/huge`
/// (50 MB of "PNG" without a length), `/slow` (a body dripping for 10 s), `/to/URL` (a
/// redirect to URL); it counts the requests per path.
struct Images {
    port: u16,
    hits: Arc<Mutex<HashMap<String, usize>>>,
}

fn png(n: u32) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    picture(32, 32, n)
        .write_to(&mut out, image::ImageFormat::Png)
        .unwrap();
    out.into_inner()
}

/// Reads slowly: one byte every 100 ms.
struct Drip(usize);

impl Read for Drip {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.0 == 0 || buf.is_empty() {
            return Ok(0);
        }
        std::thread::sleep(Duration::from_millis(100));
        self.0 -= 1;
        buf[0] = 0;
        Ok(1)
    }
}

impl Images {
    fn start() -> Images {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
        let port = server.server_addr().to_ip().unwrap().port();
        let hits = Arc::new(Mutex::new(HashMap::new()));
        for _ in 0..8 {
            let (server, hits) = (server.clone(), hits.clone());
            std::thread::spawn(move || {
                let header = |k: &str, v: &str| tiny_http::Header::from_bytes(k, v).unwrap();
                for request in server.incoming_requests() {
                    let url = request.url().to_string();
                    *hits.lock().unwrap().entry(url.clone()).or_insert(0) += 1;
                    let png_type = header("Content-Type", "image/png");
                    let _ = if let Some(n) = url
                        .strip_prefix("/img/")
                        .and_then(|s| s.strip_suffix(".png"))
                        .and_then(|s| s.parse::<u32>().ok())
                    {
                        request
                            .respond(tiny_http::Response::from_data(png(n)).with_header(png_type))
                    } else if url == "/page" {
                        request.respond(
                            tiny_http::Response::from_string("<html></html>")
                                .with_header(header("Content-Type", "text/html")),
                        )
                    } else if url == "/huge" {
                        let body = std::io::repeat(0).take(50 << 20);
                        request.respond(tiny_http::Response::new(
                            200.into(),
                            vec![png_type],
                            body,
                            None,
                            None,
                        ))
                    } else if url == "/slow" {
                        request.respond(tiny_http::Response::new(
                            200.into(),
                            vec![png_type],
                            Drip(100),
                            None,
                            None,
                        ))
                    } else if let Some(to) = url.strip_prefix("/to/") {
                        request.respond(
                            tiny_http::Response::empty(302).with_header(header("Location", to)),
                        )
                    } else {
                        request.respond(tiny_http::Response::empty(404))
                    };
                }
            });
        }
        Images { port, hits }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Requests for `/img/…` so far.
    fn image_requests(&self) -> usize {
        let hits = self.hits.lock().unwrap();
        hits.iter()
            .filter(|(k, _)| k.starts_with("/img/"))
            .map(|(_, n)| n)
            .sum()
    }
}

fn run(args: &[&str]) -> (bool, String, String) {
    let out = lookalike(args);
    let (stdout, stderr) = text(&out);
    (out.status.success(), stdout, stderr)
}

fn create(data: &str, name: &str) {
    lookalike_e2e::create_tiny_collection(Path::new(data), name, &[]);
}

fn import(data: &str, name: &str, feed: &Path, extra: &[&str]) -> Value {
    let mut args = vec![
        "index",
        "import",
        name,
        feed.to_str().unwrap(),
        "--data-dir",
        data,
        "--json",
    ];
    args.extend_from_slice(extra);
    let (ok, out, err) = run(&args);
    assert!(ok, "{args:?}: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

fn failed_lines(report: &Value) -> Vec<u64> {
    report["failed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["line"].as_u64().unwrap())
        .collect()
}

const HEADER: &str = "id,title,image_link,additional_image_link,price,availability,brand,stock\n";

/// Row `i` of the big feed; `None` marks the bad ones (1%), each bad in its own way.
fn row(images: &Images, i: u32, price_shift: u32) -> (String, bool) {
    let img = images.url(&format!("/img/{i}.png"));
    let extra = if i.is_multiple_of(10) {
        images.url(&format!("/img/{}.png", 100_000 + i))
    } else {
        String::new()
    };
    let price = format!("{}.99 EUR", (i + price_shift) % 100);
    let good = |img: &str, price: &str| {
        format!(
            "P{i},Item {i},{img},{extra},{price},in stock,B{},{}\n",
            i % 7,
            i % 5
        )
    };
    if i % 100 != 37 {
        return (good(&img, &price), true);
    }
    let bad = match (i / 100) % 4 {
        0 => good(&images.url("/missing.png"), &price),
        1 => format!(",No id,{img},,1 EUR,in stock,B,1\n"),
        2 => good(&img, "cheap"),
        _ => good(&images.url("/page"), &price),
    };
    (bad, false)
}

#[test]
fn a_ten_thousand_row_feed_then_idempotent_reimports() {
    let images = Images::start();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = data.to_str().unwrap();
    create(d, "shop");
    let feed = dir.path().join("feed.csv");
    let write = |shift_row: Option<u32>, drop_from: u32| -> Vec<u64> {
        let mut text = String::from(HEADER);
        let mut bad = Vec::new();
        for i in 0..drop_from {
            let shift = if Some(i) == shift_row { 1 } else { 0 };
            let (line, good) = row(&images, i, shift);
            if !good {
                bad.push(i as u64 + 2);
            }
            text.push_str(&line);
        }
        std::fs::write(&feed, text).unwrap();
        bad
    };
    let bad = write(None, 10_000);
    assert_eq!(bad.len(), 100);
    let first = import(d, "shop", &feed, &["--allow-private-urls"]);
    assert_eq!(first["added"], 9900, "{}", first["failed"]);
    assert_eq!(first["updated"], 0);
    assert_eq!(first["unchanged"], 0);
    assert_eq!(first["pruned"], 0);
    assert_eq!(failed_lines(&first), bad);
    let reasons: Vec<&str> = first["failed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["reason"].as_str().unwrap())
        .collect();
    assert!(
        reasons.iter().any(|r| r.contains("HTTP 404")),
        "{reasons:?}"
    );
    assert!(reasons.iter().any(|r| r.contains("no id")));
    assert!(reasons.iter().any(|r| r.contains("price")));
    assert!(reasons.iter().any(|r| r.contains("not an image")));
    let info: Value =
        serde_json::from_str(&run(&["index", "info", "shop", "--data-dir", d, "--json"]).1)
            .unwrap();
    // 9,900 main images and an additional one on every tenth good row.
    let extra = (0..10_000u32)
        .filter(|i| i % 10 == 0 && i % 100 != 37)
        .count();
    assert_eq!(info["store"]["points"], 9900 + extra as u64);

    // The same feed again changes nothing, and fetches no image of a good row.
    let fetched = images.image_requests();
    let second = import(d, "shop", &feed, &["--allow-private-urls"]);
    assert_eq!(
        (second["added"].as_u64(), second["updated"].as_u64()),
        (Some(0), Some(0))
    );
    assert_eq!(second["unchanged"], 9900);
    assert_eq!(failed_lines(&second), bad);
    let refetched = images.image_requests() - fetched;
    assert!(refetched <= 50, "{refetched} images fetched again");

    // A changed price updates that product's metadata only: nothing fetched or embedded.
    write(Some(5), 10_000);
    let before = images.image_requests();
    let third = import(d, "shop", &feed, &["--allow-private-urls"]);
    assert_eq!(third["updated"], 1);
    assert_eq!(third["unchanged"], 9899);
    assert!(images.image_requests() - before <= 50);
    let query = dir.path().join("q.png");
    std::fs::write(&query, png(5)).unwrap();
    let (ok, out, err) = run(&[
        "search",
        "shop",
        query.to_str().unwrap(),
        "-k",
        "1",
        "--filter",
        "product=P5",
        "--data-dir",
        d,
        "--json",
    ]);
    assert!(ok, "{err}");
    let hit: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(hit["hits"][0]["metadata"]["price"], 6.99);
    assert_eq!(hit["hits"][0]["metadata"]["currency"], "EUR");
    assert_eq!(hit["hits"][0]["metadata"]["stock"], 0);

    // Rows gone from the feed are kept, unless --prune.
    write(Some(5), 9_990);
    let kept = import(d, "shop", &feed, &["--allow-private-urls"]);
    assert_eq!(kept["pruned"], 0);
    let pruned = import(d, "shop", &feed, &["--allow-private-urls", "--prune"]);
    assert_eq!(pruned["pruned"], 10);
    assert_eq!(pruned["unchanged"], 9890);

    // The text report names each failure by line, and a progress bar ran.
    let (ok, out, _) = run(&[
        "index",
        "import",
        "shop",
        feed.to_str().unwrap(),
        "--data-dir",
        d,
        "--allow-private-urls",
    ]);
    assert!(ok);
    assert!(
        out.contains("0 added, 0 updated, 9890 unchanged, 0 pruned, 100 failed"),
        "{out}"
    );
    assert!(out.contains("line 39: image_link: "), "{out}");
}

#[test]
fn fetch_guards() {
    let images = Images::start();
    let other = Images::start();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = data.to_str().unwrap();
    create(d, "shop");
    let feed = dir.path().join("feed.csv");
    let rows = [
        images.url("/img/1.png"),
        // A redirect to another private server than the allowed one.
        images.url(&format!("/to/{}", other.url("/img/2.png"))),
        images.url("/huge"),
        images.url("/slow"),
        images.url("/page"),
        "file:///etc/passwd".to_string(),
        "../outside.png".to_string(),
    ];
    let mut text = String::from("id,image_link\n");
    for (i, link) in rows.iter().enumerate() {
        text.push_str(&format!("R{i},{link}\n"));
    }
    std::fs::write(&feed, &text).unwrap();

    // Without the flag, a loopback URL is refused before any connection.
    let refused = import(d, "shop", &feed, &[]);
    assert_eq!(refused["added"], 0);
    let first = &refused["failed"][0]["reason"];
    assert!(
        first
            .as_str()
            .unwrap()
            .contains("private or loopback address 127.0.0.1"),
        "{first}"
    );
    assert_eq!(images.image_requests(), 0);

    // With one server allowed: its image comes; its redirect to the other is refused; the
    // 50 MB body is cut off at the limit; the slow one times out.
    let allow = format!("127.0.0.1:{}", images.port);
    let report = import(
        d,
        "shop",
        &feed,
        &["--allow-private-host", &allow, "--timeout", "2"],
    );
    assert_eq!(report["added"], 1, "{report}");
    let reason = |line: usize| -> String {
        report["failed"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["line"] == line)
            .map(|f| f["reason"].as_str().unwrap().to_string())
            .unwrap_or_else(|| panic!("line {line} did not fail: {report}"))
    };
    assert!(reason(3).contains("private or loopback"), "{}", reason(3));
    assert_eq!(other.image_requests(), 0, "the redirect was never followed");
    assert!(
        reason(4).contains("larger than the limit of 20971520 bytes"),
        "{}",
        reason(4)
    );
    assert!(
        reason(5).contains("timed out") || reason(5).contains("Timed out"),
        "{}",
        reason(5)
    );
    assert!(reason(6).contains("not an image"), "{}", reason(6));
    assert!(reason(7).contains("only http and https"), "{}", reason(7));
    assert!(reason(8).contains("--images-root"), "{}", reason(8));

    // Paths under --images-root, as JSON Lines; a path may not leave the root.
    let root = dir.path().join("photos");
    std::fs::create_dir_all(root.join("a")).unwrap();
    std::fs::write(root.join("a/1.png"), png(11)).unwrap();
    std::fs::write(root.join("a/2.png"), png(12)).unwrap();
    let jsonl = dir.path().join("feed.jsonl");
    std::fs::write(
        &jsonl,
        "{\"id\": \"J1\", \"image_link\": \"a/1.png\", \"additional_image_link\": [\"a/2.png\"], \"price\": 4, \"on_sale\": true}\n\
         {\"id\": \"J2\", \"image_link\": \"../feed.csv\"}\n",
    )
    .unwrap();
    let local = import(
        d,
        "shop",
        &jsonl,
        &["--images-root", root.to_str().unwrap()],
    );
    assert_eq!(local["added"], 1, "{local}");
    assert_eq!(failed_lines(&local), [2]);
    assert!(local["failed"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("stay under"));

    // A feed that cannot be read at all fails as a whole, naming why.
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "title,link\nx,y\n").unwrap();
    let (ok, _, err) = run(&[
        "index",
        "import",
        "shop",
        bad.to_str().unwrap(),
        "--data-dir",
        d,
    ]);
    assert!(!ok);
    assert!(err.contains("no \"id\" column"), "{err}");
    let (ok, _, err) = run(&["index", "import", "shop", "feed.xml", "--data-dir", d]);
    assert!(!ok);
    assert!(err.contains(".csv, .tsv or .jsonl"), "{err}");
}

#[test]
fn import_through_the_api() {
    let images = Images::start();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    create(data.to_str().unwrap(), "shop");
    let server = TestServer::start(
        &data,
        &[
            "--api-key",
            KEY,
            "--admin-key",
            ADMIN,
            "--allow-private-urls",
        ],
        &[],
    );
    let mut feed = String::from("id,image_link,price,brand\n");
    for i in 0..20 {
        feed.push_str(&format!(
            "S{i},{},{i}.5 EUR,Acme\n",
            images.url(&format!("/img/{i}.png"))
        ));
    }
    feed.push_str("S20,http://127.0.0.1:1/none.png,1 EUR,Acme\n");
    let path = "/api/collections/shop/import";
    let admin = [("Authorization", &*format!("Bearer {ADMIN}"))];
    let user = [("X-API-Key", KEY)];
    expect(
        &server.send("POST", path, &user, "text/csv", feed.as_bytes()),
        403,
        "",
    );
    expect(
        &server.send("POST", path, &[], "text/csv", feed.as_bytes()),
        401,
        "",
    );
    expect(
        &server.send("POST", path, &admin, "text/plain", feed.as_bytes()),
        415,
        "not a feed",
    );
    let report = server.send("POST", path, &admin, "text/csv", feed.as_bytes());
    expect(&report, 200, "");
    let report = report.json();
    assert_eq!(report["added"], 20);
    assert_eq!(failed_lines(&report), [22]);
    let again = server
        .send("POST", path, &admin, "text/csv", feed.as_bytes())
        .json();
    assert_eq!(again["unchanged"], 20);
    // Pruning through the API, with the format given in the query.
    let short: String = feed.lines().take(11).map(|l| format!("{l}\n")).collect();
    let pruned = server.send(
        "POST",
        &format!("{path}?format=csv&prune=true"),
        &admin,
        "application/octet-stream",
        short.as_bytes(),
    );
    expect(&pruned, 200, "");
    assert_eq!(pruned.json()["pruned"], 10);
    let product = server.get("/api/collections/shop/products/S3");
    expect(&product, 200, "");
    assert_eq!(product.json()["images"][0]["metadata"]["price"], 3.5);
    expect(&server.get("/api/collections/shop/products/S15"), 404, "");
}
