//! `lookalike index` on PostgreSQL beyond one table, as an operator runs it on loopback: a
//! collection over three shards filled by three `--worker` processes at once (one SIGKILLed
//! and re-run), and passwords that never stay in `collection.json`.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use lookalike_e2e::postgres::PgServer;
use lookalike_e2e::server::TestServer;
use lookalike_e2e::{lookalike, lookalike_bin, shapes_dataset, text};
use serde_json::Value;

fn ok(args: &[&str]) -> (String, String) {
    let run = lookalike(args);
    let (stdout, stderr) = text(&run);
    assert!(run.status.success(), "{args:?} failed:\n{stderr}");
    (stdout, stderr)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn create(data: &str, name: &str, store: &[&str]) -> (String, String) {
    let mut args = vec![
        "index",
        "create",
        name,
        "--model",
        "zero-shot",
        "--backbone",
        "tiny",
        "--data-dir",
        data,
        "--store",
        "pgvector",
    ];
    args.extend_from_slice(store);
    ok(&args)
}

#[test]
fn three_workers_fill_a_sharded_collection_each_image_once() {
    let coordinator = PgServer::start();
    let shards: Vec<PgServer> = (0..3).map(|_| PgServer::start()).collect();
    let dir = tempfile::tempdir().unwrap();
    let images = dir.path().join("shapes");
    shapes_dataset(&images, 4, 15, 3);
    let data = dir.path().join("data");
    let d = s(&data);
    let shard_urls: Vec<String> = shards.iter().map(PgServer::url).collect();
    create(
        d,
        "shop",
        &[
            "--url",
            &coordinator.url(),
            "--shards",
            &shard_urls.join(","),
        ],
    );

    let worker = |i: usize| {
        Command::new(lookalike_bin())
            .args(["index", "add", "shop", s(&images), "--data-dir", d])
            .args(["--worker", &format!("{i}/3"), "--batch", "2", "--verbose"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let mut running: Vec<_> = (0..3).map(worker).collect();
    // Worker 1 is killed once its first batch is stored.
    let mut victim = running.remove(1);
    let mut lines = BufReader::new(victim.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    assert!(first.starts_with("added "), "{first}");
    victim.kill().unwrap();
    victim.wait().unwrap();
    for child in running {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // Re-run, it completes its share and nothing else.
    let (stdout, _) = ok(&[
        "index",
        "add",
        "shop",
        s(&images),
        "--data-dir",
        d,
        "--worker",
        "1/3",
        "--json",
    ]);
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert!(report["already_indexed"].as_u64().unwrap() >= 2, "{report}");

    let counts = coordinator.psql(
        "SELECT count(*), count(DISTINCT metadata->>'sha256'), count(DISTINCT metadata->>'path') \
         FROM lookalike_shop",
    );
    assert_eq!(counts, "60|60|60");
    for (i, shard) in shards.iter().enumerate() {
        let n: u64 = shard
            .psql(&format!("SELECT count(*) FROM lookalike_shop_p{i}"))
            .parse()
            .unwrap();
        assert!(n > 0, "shard {i} is empty");
    }
    // Every image finds itself first through the shards.
    for class in ["disc", "bars", "square", "cross"] {
        let query = images.join(class).join("004.png");
        let (stdout, _) = ok(&[
            "search",
            "shop",
            s(&query),
            "--data-dir",
            d,
            "--json",
            "-k",
            "1",
        ]);
        let hits: Value = serde_json::from_str(&stdout).unwrap();
        let path = hits["hits"][0]["metadata"]["path"].as_str().unwrap();
        assert!(path.ends_with(&format!("{class}/004.png")), "{hits}");
    }
}

#[test]
fn passwords_never_stay_in_collection_json() {
    let server = PgServer::start();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = s(&data);
    // The server trusts loopback, so any password gets in: what matters is where it ends up.
    let with_password = server.url().replace("postgres@", "postgres:hunter2@");
    let (_, stderr) = create(d, "secret", &["--url", &with_password]);
    assert!(stderr.contains("not stored"), "{stderr}");
    let config = data.join("secret/collection.json");
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(!text.contains("hunter2"), "{text}");
    assert!(text.contains(&server.url()), "{text}");

    // A collection.json written with a password (by an older Lookalike) loses it on open.
    std::fs::write(&config, text.replace(&server.url(), &with_password)).unwrap();
    let (stdout, stderr) = ok(&["index", "info", "secret", "--data-dir", d]);
    assert!(stderr.contains("rewritten without it"), "{stderr}");
    assert!(!stdout.contains("hunter2"), "{stdout}");
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(!text.contains("hunter2"), "{text}");
    let (_, stderr) = ok(&["index", "info", "secret", "--data-dir", d]);
    assert!(!stderr.contains("warning"), "{stderr}");
}

#[test]
fn serve_pg_serves_the_collections_of_a_database_from_an_empty_folder() {
    let pg = PgServer::start();
    let dir = tempfile::tempdir().unwrap();
    let images = dir.path().join("shapes");
    shapes_dataset(&images, 2, 5, 5);
    let made_here = dir.path().join("made-here");
    create(s(&made_here), "remote", &["--url", &pg.url()]);
    ok(&[
        "index",
        "add",
        "remote",
        s(&images),
        "--data-dir",
        s(&made_here),
    ]);
    let recorded = pg.psql("SELECT name, config->'store'->>'kind' FROM lookalike_collections");
    assert_eq!(recorded, "remote|pgvector");

    // Another "machine": an empty data folder and the URL.
    let elsewhere = dir.path().join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let server = TestServer::start(&elsewhere, &["--pg", &pg.url()], &[]);
    let remote = server.get("/api/collections/remote").json();
    assert_eq!(remote["images"].as_u64(), Some(10), "{remote}");
    let query = std::fs::read(images.join("disc/003.png")).unwrap();
    let found = server.form(
        "/api/collections/remote/search",
        &[],
        &[("image", Some("q.png"), &query), ("k", None, b"1")],
    );
    let hits = found.json()["hits"].as_array().unwrap().clone();
    assert!(hits[0]["similarity"].as_f64().unwrap() > 0.999, "{hits:?}");
}
