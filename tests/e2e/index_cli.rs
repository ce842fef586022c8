//! `lookalike index ...` and `lookalike search`, run as an operator runs them, on generated
//! images: incremental adds, search JSON, filters, paging, deletes, rebuilds, the pgvector store
//! on a real server, and the errors a user can cause.

use std::collections::HashSet;
use std::path::Path;
use std::time::{Duration, Instant};

use lookalike_e2e::postgres::PgServer;
use lookalike_e2e::{fails_with, lookalike, shapes_dataset, text};
use serde_json::Value;

fn ok(args: &[&str]) -> String {
    let run = lookalike(args);
    let (stdout, stderr) = text(&run);
    assert!(run.status.success(), "{args:?} failed:\n{stderr}");
    stdout
}

fn json(args: &[&str]) -> Value {
    let out = ok(args);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}):\n{out}"))
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `search --json` hits.
fn search(data: &str, name: &str, query: &Path, extra: &[&str]) -> Vec<Value> {
    let mut args = vec!["search", name, s(query), "--data-dir", data, "--json"];
    args.extend_from_slice(extra);
    json(&args)["hits"].as_array().unwrap().clone()
}

fn ids(hits: &[Value]) -> Vec<u64> {
    hits.iter().map(|h| h["id"].as_u64().unwrap()).collect()
}

/// Creates a zero-shot tiny-CNN collection and runs the whole operator workflow on it.
fn workflow(data: &str, name: &str, images: &Path, store: &[&str]) {
    let mut create = vec![
        "index",
        "create",
        name,
        "--model",
        "zero-shot",
        "--backbone",
        "tiny",
        "--data-dir",
        data,
    ];
    create.extend_from_slice(store);
    ok(&create);
    fails_with(&create, "already exists");

    let add = || {
        json(&[
            "index",
            "add",
            name,
            s(images),
            "--data-dir",
            data,
            "--json",
        ])
    };
    let report = add();
    assert_eq!(report["found"], 40);
    assert_eq!(report["added"], 40);
    // Adding again skips everything by content hash.
    let again = add();
    assert_eq!(again["added"], 0);
    assert_eq!(again["already_indexed"], 40);
    let info = json(&["index", "info", name, "--data-dir", data, "--json"]);
    assert_eq!(info["store"]["points"], 40);
    assert_eq!(info["store"]["dimension"], 64);

    // The query itself comes first, results are sorted, k is honoured, the JSON is complete.
    let query = images.join("disc/000.png");
    let hits = search(data, name, &query, &["-k", "10"]);
    assert_eq!(hits.len(), 10);
    assert!(hits[0]["path"].as_str().unwrap().ends_with("disc/000.png"));
    assert!((hits[0]["similarity"].as_f64().unwrap() - 1.0).abs() < 1e-4);
    for h in &hits {
        for key in ["id", "path", "score", "similarity", "same", "metadata"] {
            assert!(h.get(key).is_some(), "hit without {key}: {h}");
        }
        assert!(h["metadata"]["sha256"].as_str().unwrap().len() == 64);
    }
    let sims: Vec<f64> = hits
        .iter()
        .map(|h| h["similarity"].as_f64().unwrap())
        .collect();
    assert!(sims.windows(2).all(|w| w[0] >= w[1]), "sorted: {sims:?}");
    // The search's similarity is the model's: `lookalike compare` agrees.
    let other = hits[3]["path"].as_str().unwrap();
    let compared = json(&[
        "compare",
        "--model",
        "zero-shot",
        "--backbone",
        "tiny",
        s(&query),
        other,
        "--json",
    ]);
    let diff = compared["similarity"].as_f64().unwrap() - hits[3]["similarity"].as_f64().unwrap();
    assert!(diff.abs() < 1e-4, "search and compare disagree by {diff}");

    // Paging and k beyond what exists.
    let page = search(data, name, &query, &["-k", "5", "--offset", "5"]);
    assert_eq!(ids(&page), ids(&hits)[5..]);
    assert_eq!(search(data, name, &query, &["-k", "1000"]).len(), 40);

    // Filters: the class folder is the label; a very selective filter still fills k.
    let bars = search(data, name, &query, &["-k", "10", "--filter", "label=bars"]);
    assert_eq!(bars.len(), 10);
    assert!(bars.iter().all(|h| h["metadata"]["label"] == "bars"));
    let sha = hits[7]["metadata"]["sha256"].as_str().unwrap().to_string();
    let one = search(data, name, &query, &["--filter", &format!("sha256={sha}")]);
    assert_eq!(ids(&one), vec![hits[7]["id"].as_u64().unwrap()]);
    assert!(search(data, name, &query, &["--filter", "label=nothing"]).is_empty());

    // Metadata updates are seen by the next filtered search.
    let id = hits[4]["id"].to_string();
    ok(&[
        "index",
        "set",
        name,
        &id,
        "colour=red",
        "label=",
        "--data-dir",
        data,
    ]);
    let red = search(data, name, &query, &["--filter", "colour=red"]);
    assert_eq!(ids(&red), vec![hits[4]["id"].as_u64().unwrap()]);
    assert!(
        red[0]["metadata"].get("label").is_none(),
        "label= removes the key"
    );
    fails_with(
        &["index", "set", name, "999999", "a=b", "--data-dir", data],
        "no image with id 999999",
    );
    fails_with(
        &["index", "set", name, &id, "novalue", "--data-dir", data],
        "expected KEY=VALUE",
    );
    fails_with(
        &[
            "index",
            "set",
            name,
            &id,
            "sha256=forged",
            "--data-dir",
            data,
        ],
        "metadata key \"sha256\" is reserved",
    );

    // Deleted ids never come back, also after a rebuild; re-adding gives new ids.
    let gone: Vec<String> = ids(&hits[..3]).iter().map(u64::to_string).collect();
    let mut rm = vec!["index", "rm", name, "--data-dir", data];
    rm.extend(gone.iter().map(String::as_str));
    assert!(ok(&rm).contains("deleted 3 of 3"));
    let gone: HashSet<u64> = gone.iter().map(|g| g.parse().unwrap()).collect();
    let all = search(data, name, &query, &["-k", "100"]);
    assert_eq!(all.len(), 37);
    assert!(ids(&all).iter().all(|id| !gone.contains(id)));
    ok(&["index", "rebuild", name, "--data-dir", data]);
    let info = json(&["index", "info", name, "--data-dir", data, "--json"]);
    assert_eq!(info["store"]["points"], 37);
    assert_eq!(info["store"]["tombstones"], 0);
    let all = search(data, name, &query, &["-k", "100"]);
    assert!(ids(&all).iter().all(|id| !gone.contains(id)));
    let readd = add();
    assert_eq!(readd["added"], 3);
    let all = search(data, name, &query, &["-k", "100"]);
    assert_eq!(all.len(), 40);
    assert!(
        ids(&all).iter().all(|id| !gone.contains(id)),
        "ids are never reused"
    );
}

#[test]
fn embedded_collection_workflow() {
    let dir = tempfile::tempdir().unwrap();
    let images = dir.path().join("shapes");
    shapes_dataset(&images, 4, 10, 1);
    let data = dir.path().join("data");
    workflow(s(&data), "shapes", &images, &[]);

    // Every hit explained, in one batch: four overlays and a summary per hit, and the
    // explainer's similarity is the search's.
    let why = dir.path().join("why");
    let explained = search(
        s(&data),
        "shapes",
        &images.join("cross/002.png"),
        &["-k", "3", "--explain", "gradcam", "--out", s(&why)],
    );
    assert_eq!(explained.len(), 3);
    for (rank, hit) in explained.iter().enumerate() {
        let e = &hit["explanation"];
        let folder = why.join(format!("{:03}-{}", rank + 1, hit["id"]));
        assert_eq!(e["dir"].as_str().unwrap(), s(&folder));
        for png in [
            "a_factual",
            "a_counterfactual",
            "b_factual",
            "b_counterfactual",
        ] {
            assert!(
                folder.join(format!("{png}.png")).is_file(),
                "{png} for hit {rank}"
            );
            assert!(e["maps"][png].get("flat").is_some());
        }
        assert!(folder.join("explanation.json").is_file());
        let diff = e["similarity"].as_f64().unwrap() - hit["similarity"].as_f64().unwrap();
        assert!(diff.abs() < 1e-4, "explainer and search disagree by {diff}");
    }
    let explain = |extra: &[&str]| {
        let query = images.join("cross/002.png");
        let mut args = vec![
            "search",
            "shapes",
            s(&query),
            "--data-dir",
            s(&data),
            "--explain",
        ];
        args.extend_from_slice(extra);
        args.iter().map(|a| a.to_string()).collect::<Vec<_>>()
    };
    let args = explain(&["gradcam"]);
    fails_with(
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
        "--out",
    );
    let args = explain(&["nope", "--out", s(&why)]);
    fails_with(
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
        "unknown explanation method",
    );

    // A corrupt graph dump: a warning, a rebuild from sled, the same answers.
    let query = images.join("bars/003.png");
    let before = search(s(&data), "shapes", &query, &["-k", "8"]);
    let graph = data.join("shapes/store/graph/mutable.lks");
    std::fs::write(&graph, b"not a graph").unwrap();
    let run = lookalike(&[
        "search",
        "shapes",
        s(&query),
        "--data-dir",
        s(&data),
        "--json",
        "-k",
        "8",
    ]);
    let (stdout, stderr) = text(&run);
    assert!(run.status.success(), "{stderr}");
    assert!(
        stderr.contains("warning: the HNSW graph dump is unusable"),
        "{stderr}"
    );
    let after: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(ids(after["hits"].as_array().unwrap()), ids(&before));
}

#[test]
fn pgvector_collection_workflow() {
    let server = PgServer::start();
    let dir = tempfile::tempdir().unwrap();
    let images = dir.path().join("shapes");
    shapes_dataset(&images, 4, 10, 1);
    let data = dir.path().join("data");
    let url = server.url();
    workflow(
        s(&data),
        "pg-shapes",
        &images,
        &["--store", "pgvector", "--url", &url],
    );
}

#[test]
fn collection_errors_name_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = s(&data);
    let images = dir.path().join("shapes");
    shapes_dataset(&images, 2, 4, 2);
    let query = images.join("disc/000.png");
    fails_with(
        &["search", "nope", s(&query), "--data-dir", d],
        "unknown collection \"nope\"",
    );
    fails_with(
        &["index", "info", "nope", "--data-dir", d],
        "unknown collection \"nope\"",
    );
    fails_with(
        &[
            "index",
            "create",
            "bad/name",
            "--model",
            "zero-shot",
            "--data-dir",
            d,
        ],
        "bad collection name",
    );
    fails_with(
        &[
            "index",
            "create",
            "m",
            "--model",
            s(&dir.path().join("no-model")),
            "--data-dir",
            d,
        ],
        "reading the model",
    );
    fails_with(
        &[
            "index",
            "create",
            "p",
            "--model",
            "zero-shot",
            "--store",
            "pgvector",
            "--data-dir",
            d,
        ],
        "needs --url",
    );

    // A folder that is not a collection is never taken over (nor cleaned up).
    let photos = data.join("photos");
    std::fs::create_dir_all(&photos).unwrap();
    std::fs::write(photos.join("mine.jpg"), b"precious").unwrap();
    fails_with(
        &[
            "index",
            "create",
            "photos",
            "--model",
            "zero-shot",
            "--backbone",
            "tiny",
            "--data-dir",
            d,
        ],
        "exists and is not a collection",
    );
    assert_eq!(std::fs::read(photos.join("mine.jpg")).unwrap(), b"precious");

    // Unreachable PostgreSQL: an error naming the URL, quickly, and nothing left behind.
    let start = Instant::now();
    fails_with(
        &[
            "index",
            "create",
            "pg",
            "--model",
            "zero-shot",
            "--backbone",
            "tiny",
            "--store",
            "pgvector",
            "--url",
            "postgres://shop:secret@127.0.0.1:1/catalogue",
            "--data-dir",
            d,
        ],
        "cannot reach PostgreSQL at postgres://shop:***@127.0.0.1:1/catalogue",
    );
    assert!(start.elapsed() < Duration::from_secs(20));
    assert!(
        !data.join("pg").exists(),
        "a failed create leaves nothing behind"
    );

    // Train two tiny models; a collection built by one refuses the other.
    let train = |out: &Path, seed: &str| {
        ok(&[
            "train",
            "--data",
            s(&images),
            "--out",
            s(out),
            "--backbone",
            "tiny",
            "--seed",
            seed,
            "--epochs",
            "2",
        ]);
    };
    let (m1, m2) = (dir.path().join("m1"), dir.path().join("m2"));
    train(&m1, "1");
    train(&m2, "2");
    ok(&[
        "index",
        "create",
        "trained",
        "--model",
        s(&m1),
        "--data-dir",
        d,
    ]);
    ok(&["index", "add", "trained", s(&images), "--data-dir", d, "-q"]);
    let hits = search(d, "trained", &query, &["--model", s(&m1), "-k", "3"]);
    assert_eq!(hits.len(), 3);
    fails_with(
        &[
            "search",
            "trained",
            s(&query),
            "--data-dir",
            d,
            "--model",
            s(&m2),
        ],
        "was created by the model",
    );
    // Changing the model's files under the collection is caught too.
    std::fs::copy(m2.join("head.safetensors"), m1.join("head.safetensors")).unwrap();
    fails_with(
        &["search", "trained", s(&query), "--data-dir", d],
        "is not the one collection was built with",
    );
    // Bad queries and filters.
    fails_with(
        &[
            "search",
            "shapes",
            s(&query),
            "--data-dir",
            d,
            "--filter",
            "price<<3",
        ],
        "bad filter \"price<<3\"",
    );
    ok(&[
        "index",
        "create",
        "z",
        "--model",
        "zero-shot",
        "--backbone",
        "tiny",
        "--data-dir",
        d,
    ]);
    fails_with(
        &[
            "search",
            "z",
            s(&dir.path().join("missing.png")),
            "--data-dir",
            d,
        ],
        "missing.png",
    );
    fails_with(
        &[
            "index",
            "add",
            "z",
            s(&dir.path().join("missing")),
            "--data-dir",
            d,
        ],
        "no such file or folder",
    );
}
