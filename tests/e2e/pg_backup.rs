//! Backups, as `docs/deploy.md` tells an operator to take them: `pg_dump` of a database that a
//! server filled through HTTP uploads, `pg_restore` into a new PostgreSQL server, and a server
//! on an empty folder over the restored database serves the same collection: the same images,
//! their original files byte for byte, the same answers, and new adds after the old ids.

use lookalike_e2e::create_tiny_collection;
use lookalike_e2e::postgres::PgServer;
use lookalike_e2e::server::{b64, png, TestServer};
use serde_json::{json, Value};

fn ok(out: std::process::Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn upload(server: &TestServer, seeds: std::ops::Range<u32>) -> Vec<u64> {
    let images: Vec<Value> = seeds
        .map(|s| json!({"base64": b64(&png(s)), "id": format!("sku-{s}")}))
        .collect();
    let reply = server.json(
        "POST",
        "/api/collections/shop/images",
        &[("Authorization", "Bearer k")],
        &json!({ "images": images }),
    );
    assert_eq!(reply.status, 201, "{}", reply.message());
    reply.json()["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_u64().unwrap())
        .collect()
}

#[test]
fn pg_dump_and_pg_restore_carry_a_whole_collection_to_a_new_server() {
    let old = PgServer::start();
    let dir = tempfile::tempdir().unwrap();
    create_tiny_collection(
        &dir.path().join("made"),
        "shop",
        &["--store", "pgvector", "--url", &old.url()],
    );
    let before_dir = dir.path().join("before");
    std::fs::create_dir_all(&before_dir).unwrap();
    let before = TestServer::start(&before_dir, &["--pg", &old.url(), "--api-key", "k"], &[]);
    let ids = upload(&before, 0..12);
    let search = |server: &TestServer, seed: u32| -> Value {
        server
            .json(
                "POST",
                "/api/collections/shop/search",
                &[],
                &json!({"image": b64(&png(seed)), "k": 5}),
            )
            .json()
    };
    let answer_before = search(&before, 4);
    drop(before);

    // The commands of docs/deploy.md's "Backups".
    let dump = dir.path().join("shop.dump");
    ok(
        old.client(
            "pg_dump",
            &[
                "--format=custom",
                "--file",
                dump.to_str().unwrap(),
                &old.url(),
            ],
        ),
        "pg_dump",
    );
    let new = PgServer::start();
    ok(
        new.client(
            "pg_restore",
            &["--dbname", &new.url(), dump.to_str().unwrap()],
        ),
        "pg_restore",
    );
    drop(old);

    let after_dir = dir.path().join("after");
    std::fs::create_dir_all(&after_dir).unwrap();
    let after = TestServer::start(&after_dir, &["--pg", &new.url(), "--api-key", "k"], &[]);
    let info = after.get("/api/collections/shop").json();
    assert_eq!(info["images"].as_u64(), Some(12), "{info}");
    for (seed, id) in (0..12).zip(&ids) {
        let file = after.get(&format!("/api/collections/shop/images/{id}/image"));
        assert_eq!(file.status, 200, "image {id}: {}", file.message());
        assert!(file.body == png(seed), "image {id}: not the uploaded bytes");
    }
    // The same hits, ids and scores: the vectors and their index came across.
    let answer_after = search(&after, 4);
    let view = |a: &Value| -> Vec<(u64, String)> {
        a["hits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| (h["id"].as_u64().unwrap(), format!("{:.5}", h["logit"])))
            .collect()
    };
    assert_eq!(view(&answer_after), view(&answer_before));
    let explained = after.json(
        "POST",
        "/api/collections/shop/explain",
        &[],
        &json!({"id": ids[4], "hit": ids[5]}),
    );
    assert_eq!(explained.status, 200, "{}", explained.message());
    // The id sequence came across too: a new image gets a new id, an old one its own.
    let more = upload(&after, 10..14);
    assert_eq!(&more[..2], &ids[10..12]);
    assert!(
        more[2..].iter().all(|id| id > ids.iter().max().unwrap()),
        "{more:?}"
    );
}
