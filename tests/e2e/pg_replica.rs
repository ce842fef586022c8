//! `lookalike serve --read-url`: searches on a streaming standby (`pg_basebackup -R`, on
//! loopback, replaying 3 s behind with `recovery_min_apply_delay`), writes on the primary. A new
//! image is found at once through a server reading the primary; through the standby only after
//! the lag, which each search answer reports (and /metrics) until it is caught up.

use std::time::{Duration, Instant};

use lookalike_e2e::postgres::PgServer;
use lookalike_e2e::server::{b64, png, TestServer};
use lookalike_e2e::{create_tiny_collection, lookalike, shapes_dataset, text};
use serde_json::{json, Value};

fn ok(args: &[&str]) {
    let run = lookalike(args);
    assert!(run.status.success(), "{args:?}: {}", text(&run).1);
}

fn search(server: &TestServer, image: &[u8], id: &str) -> Value {
    let reply = server.json(
        "POST",
        "/api/collections/shop/search",
        &[],
        &json!({"image": b64(image), "k": 5, "filter": {"external_id": id}}),
    );
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    reply.json()
}

#[test]
fn pg_replica_searches_a_standby_and_reports_its_lag() {
    let primary = PgServer::start();
    let standby = PgServer::standby_of(&primary, &[("recovery_min_apply_delay", "3s")]);
    assert_eq!(standby.psql("SELECT pg_is_in_recovery()"), "t");
    let dir = tempfile::tempdir().unwrap();
    let images = dir.path().join("shapes");
    shapes_dataset(&images, 2, 4, 9);
    let made = dir.path().join("made");
    let d = made.to_str().unwrap();
    create_tiny_collection(
        &made,
        "shop",
        &["--store", "pgvector", "--url", &primary.url()],
    );
    ok(&[
        "index",
        "add",
        "shop",
        images.to_str().unwrap(),
        "--data-dir",
        d,
        "-q",
    ]);
    // The standby has the table (and the catalogue) once it has replayed them.
    let started = Instant::now();
    while standby.psql("SELECT count(*) FROM pg_tables WHERE tablename = 'lookalike_shop'") != "1"
        || standby.psql("SELECT count(*) FROM lookalike_shop") != "8"
    {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the standby never caught up"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    let folder = |n: &str| {
        let p = dir.path().join(n);
        std::fs::create_dir_all(&p).unwrap();
        p
    };
    let on_primary = TestServer::start(
        &folder("a"),
        &["--pg", &primary.url(), "--api-key", "k"],
        &[],
    );
    let on_standby = TestServer::start(
        &folder("b"),
        &[
            "--pg",
            &primary.url(),
            "--read-url",
            &standby.url(),
            "--api-key",
            "k",
        ],
        &[],
    );
    // Caught up: no lag.
    let before = search(
        &on_standby,
        &std::fs::read(images.join("disc/001.png")).unwrap(),
        "x",
    );
    assert_eq!(before["partial"], json!(false));
    assert!(before["replica"]["lag_bytes"].is_u64(), "{before}");
    assert!(search(&on_primary, &png(1), "x").get("replica").is_none());

    // A write through the server that reads the standby goes to the primary.
    let new = png(42);
    // Taken before the add is sent: the standby replays its commit 3 s after the commit's own
    // time, which falls between the two, so "not before 3 s" is counted from here.
    let sent = Instant::now();
    let added = on_standby.json(
        "POST",
        "/api/collections/shop/images",
        &[("Authorization", "Bearer k")],
        &json!({"images": [{"base64": b64(&new), "id": "new-1"}]}),
    );
    assert_eq!(
        added.status,
        201,
        "{}",
        String::from_utf8_lossy(&added.body)
    );
    let id = added.json()["images"][0]["id"].as_u64().unwrap();
    let written = Instant::now();

    // On the primary at once.
    let hits = search(&on_primary, &new, "new-1");
    assert_eq!(hits["hits"][0]["id"].as_u64(), Some(id), "{hits}");
    // On the standby not yet, and the answer says it is behind.
    let behind = search(&on_standby, &new, "new-1");
    assert_eq!(behind["hits"].as_array().map(Vec::len), Some(0), "{behind}");
    assert!(
        behind["replica"]["lag_bytes"].as_u64().unwrap() > 0,
        "{behind}"
    );
    assert!(
        behind["replica"]["lag_seconds"].as_f64().unwrap() > 0.0,
        "{behind}"
    );
    let metrics = String::from_utf8(on_standby.get("/metrics").body).unwrap();
    let bytes_line = metrics
        .lines()
        .find(|l| l.starts_with("lookalike_replica_lag_bytes{"))
        .unwrap_or_else(|| panic!("no lag in {metrics}"));
    assert!(bytes_line.contains("collection=\"shop\""), "{bytes_line}");

    // Then, after the apply delay, found there too, and the lag back to nothing.
    let found = loop {
        let answer = search(&on_standby, &new, "new-1");
        if answer["hits"].as_array().is_some_and(|h| !h.is_empty()) {
            break answer;
        }
        assert!(
            written.elapsed() < Duration::from_secs(20),
            "never replayed: {answer}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        sent.elapsed() >= Duration::from_secs(3),
        "replayed before the delay"
    );
    assert_eq!(found["hits"][0]["id"].as_u64(), Some(id), "{found}");
    loop {
        std::thread::sleep(Duration::from_millis(250));
        let answer = search(&on_standby, &new, "new-1");
        if answer["replica"]["lag_bytes"] == json!(0)
            && answer["replica"]["lag_seconds"] == json!(0.0)
        {
            break;
        }
        assert!(
            written.elapsed() < Duration::from_secs(30),
            "lag never cleared: {answer}"
        );
    }

    // A read URL that is not a standby is refused: the collection is not served.
    let wrong = TestServer::start(
        &folder("c"),
        &["--pg", &primary.url(), "--read-url", &primary.url()],
        &[],
    );
    assert_eq!(wrong.get("/api/collections/shop").status, 404);
}
