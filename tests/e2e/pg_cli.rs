//! `lookalike index` on PostgreSQL beyond one table, as an operator runs it on loopback: a
//! collection over three shards filled by three `--worker` processes at once (one SIGKILLed
//! and re-run), three feed-import workers on one collection, and passwords that never stay
//! in `collection.json`.

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

/// `index import --worker i/3` ×3 at once on one pgvector collection: each product imported by
/// exactly one worker, every image stored once; a worker run again changes nothing; a product
/// dropped from the feed is pruned by its own worker only.
#[test]
fn three_import_workers_fill_one_collection_each_product_once() {
    let pg = PgServer::start();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("photos");
    std::fs::create_dir_all(&root).unwrap();
    let products = 30;
    let mut feed = String::new();
    for p in 0..products {
        for j in 0..2 {
            let img = lookalike_e2e::picture(24, 24, (p * 2 + j) as u32);
            img.save(root.join(format!("{p}-{j}.png"))).unwrap();
        }
        feed.push_str(&format!(
            "{{\"id\": \"P{p}\", \"image_link\": \"{p}-0.png\", \"additional_image_link\": [\"{p}-1.png\"]}}\n"
        ));
    }
    let feed_path = dir.path().join("feed.jsonl");
    std::fs::write(&feed_path, &feed).unwrap();
    let data = dir.path().join("data");
    let d = s(&data);
    create(d, "shop", &["--url", &pg.url()]);
    let import = |worker: &str, feed: &Path, extra: &[&str]| {
        let mut args = vec![
            "index".to_string(),
            "import".into(),
            "shop".into(),
            s(feed).into(),
            "--images-root".into(),
            s(&root).into(),
            "--data-dir".into(),
            d.into(),
            "--json".into(),
            "--worker".into(),
            worker.into(),
        ];
        args.extend(extra.iter().map(|a| a.to_string()));
        Command::new(lookalike_bin())
            .args(&args)
            .output()
            .expect("lookalike runs")
    };
    // The three at once.
    let reports: Vec<Value> = std::thread::scope(|scope| {
        let runs: Vec<_> = (0..3)
            .map(|i| {
                let import = &import;
                let feed_path = &feed_path;
                scope.spawn(move || import(&format!("{i}/3"), feed_path, &[]))
            })
            .collect();
        runs.into_iter()
            .map(|r| {
                let out = r.join().unwrap();
                assert!(
                    out.status.success(),
                    "{}",
                    String::from_utf8_lossy(&out.stderr)
                );
                serde_json::from_slice(&out.stdout).unwrap()
            })
            .collect()
    });
    let added: Vec<u64> = reports
        .iter()
        .map(|r| r["added"].as_u64().unwrap())
        .collect();
    assert_eq!(added.iter().sum::<u64>(), products as u64, "{reports:?}");
    for (r, a) in reports.iter().zip(&added) {
        assert_eq!(
            r["other_workers"].as_u64().unwrap() + a,
            products as u64,
            "{r}"
        );
        assert!(*a > 0, "a worker had no share: {reports:?}");
    }
    assert_eq!(
        pg.psql(
            "SELECT count(*), count(DISTINCT metadata->>'sha256'), \
             count(DISTINCT metadata->>'product') FROM lookalike_shop"
        ),
        format!("{}|{}|{products}", 2 * products, 2 * products)
    );
    // Run again: nothing new.
    let again = import("1/3", &feed_path, &[]);
    let again: Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(again["unchanged"], reports[1]["added"], "{again}");
    assert_eq!(again["added"], 0);
    // P0 leaves the feed: only its own worker prunes it.
    let owner = lookalike_engine::collection::product_worker("P0", 3);
    let shorter = dir.path().join("shorter.jsonl");
    std::fs::write(
        &shorter,
        feed.lines().skip(1).collect::<Vec<_>>().join("\n") + "\n",
    )
    .unwrap();
    for i in (0..3).filter(|&i| i != owner) {
        let out = import(&format!("{i}/3"), &shorter, &["--prune"]);
        let r: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(r["pruned"], 0, "worker {i}: {r}");
    }
    let out = import(&format!("{owner}/3"), &shorter, &["--prune"]);
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["pruned"], 1, "{r}");
    assert_eq!(
        pg.psql("SELECT count(*) FROM lookalike_shop WHERE metadata->>'product' = 'P0'"),
        "0"
    );
}
