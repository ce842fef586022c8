//! One conformance suite for every `VectorStore`: exact (`FlatStore`), embedded (hnsw_rs +
//! sled, with and without sealed segments) and PostgreSQL + pgvector on a real server. The exact
//! store is the reference.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use lookalike_e2e::postgres::PgServer;
use lookalike_index::{
    Durability, EmbeddedOptions, EmbeddedStore, Filter, FlatStore, Metadata, Metric, NewPoint,
    PgOptions, PgVectorStore, PointId, Query, StoreError, VectorStore,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;

pub(crate) const DIM: usize = 16;
pub(crate) const N: usize = 300;

pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Clustered vectors: 5 centres, one per label, plus noise.
pub(crate) fn points(seed: u64, n: usize, start: usize) -> Vec<NewPoint> {
    let mut rng = StdRng::seed_from_u64(seed);
    let centres: Vec<Vec<f32>> = (0..5)
        .map(|c| {
            let mut r = StdRng::seed_from_u64(1000 + c);
            (0..DIM).map(|_| r.random_range(-1.0..1.0)).collect()
        })
        .collect();
    (start..start + n)
        .map(|i| {
            let c = i % 5;
            let vector = centres[c]
                .iter()
                .map(|x| x + rng.random_range(-0.4..0.4))
                .collect();
            let metadata = json!({
                "label": format!("c{c}"),
                "n": i,
                "tags": if i % 7 == 0 { vec!["seven"] } else { vec![] },
            });
            NewPoint {
                vector,
                metadata: metadata.as_object().unwrap().clone(),
                thumbnail: Some(vec![i as u8; 3]),
            }
        })
        .collect()
}

pub(crate) fn query(seed: u64) -> Vec<f32> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..DIM).map(|_| rng.random_range(-1.0..1.0)).collect()
}

pub(crate) fn ids_of(hits: &[lookalike_index::Hit]) -> Vec<PointId> {
    hits.iter().map(|h| h.id).collect()
}

/// Everything every store must do, checked against `FlatStore` with the same writes.
async fn conformance(store: &dyn VectorStore, metric: Metric) {
    conformance_in_batches(store, metric, N).await
}

/// [`conformance`], with the first points inserted `batch` at a time (so that an embedded store
/// with a small seal threshold holds sealed segments and a mutable graph at once).
pub(crate) async fn conformance_in_batches(store: &dyn VectorStore, metric: Metric, batch: usize) {
    let flat = FlatStore::new(DIM, metric);
    let all = points(1, N, 0);
    let mut ids = Vec::new();
    for chunk in all.chunks(batch) {
        let got = store
            .insert(chunk.to_vec(), Durability::Flushed)
            .await
            .unwrap();
        ids.extend(got);
    }
    let flat_ids = flat.insert(all, Durability::Flushed).await.unwrap();
    assert_eq!(ids.len(), N);
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids ascend");
    let to_flat = |id: PointId| flat_ids[ids.iter().position(|x| *x == id).unwrap()];
    assert_eq!(store.info().await.unwrap().points, N as u64);
    assert_eq!(store.info().await.unwrap().dimension, DIM);

    // Bad vectors are refused and change nothing.
    let bad = NewPoint {
        vector: vec![0.0; DIM + 1],
        ..points(2, 1, 0).remove(0)
    };
    let err = store
        .insert(vec![bad], Durability::Flushed)
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Dimension { expected: DIM, got } if got == DIM + 1),
        "{err}"
    );
    let mut nan = points(2, 1, 0).remove(0);
    nan.vector[3] = f32::NAN;
    assert!(store.insert(vec![nan], Durability::Flushed).await.is_err());
    let err = store
        .search(&[Query::nearest(vec![0.0; 3], 5)])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("dimension mismatch"), "{err}");
    assert_eq!(store.info().await.unwrap().points, N as u64);

    // Agreement with the exact store, sorted results, k capped by what exists.
    let queries: Vec<Query> = (0..20).map(|s| Query::nearest(query(s), 10)).collect();
    let got = store.search(&queries).await.unwrap();
    let want = flat.search(&queries).await.unwrap();
    let mut found = 0;
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(g.len(), 10);
        assert!(g.windows(2).all(|p| p[0].score >= p[1].score), "sorted");
        let w: HashSet<PointId> = ids_of(w).into_iter().collect();
        found += g.iter().filter(|h| w.contains(&to_flat(h.id))).count();
        for h in g {
            assert!(!h.metadata.is_empty(), "hits carry metadata");
        }
    }
    assert!(found >= 196, "recall@10 against exact: {found}/200");
    let scores_agree = got[0]
        .iter()
        .zip(&want[0])
        .all(|(g, w)| (g.score - w.score).abs() < 1e-4);
    assert!(
        scores_agree,
        "scores agree with exact: {:?} vs {:?}",
        got[0], want[0]
    );
    let all = store
        .search(&[Query::nearest(query(0), 10 * N)])
        .await
        .unwrap();
    assert_eq!(all[0].len(), N, "k is never more than what exists");

    // Paging.
    let page = |k, offset| Query {
        offset,
        ..Query::nearest(query(3), k)
    };
    let pages = store.search(&[page(10, 0), page(5, 5)]).await.unwrap();
    assert_eq!(ids_of(&pages[1]), ids_of(&pages[0])[5..]);

    // Filters, from common to very selective.
    let filtered = |conds: &[&str], k| Query {
        filter: Filter::parse(conds).unwrap(),
        ..Query::nearest(query(4), k)
    };
    let answers = store
        .search(&[
            filtered(&["label=c3"], 10),
            filtered(&["label=c3"], 1000),
            filtered(&["n=17"], 10),
            filtered(&["label=c3", "n=17"], 10),
            filtered(&["tags=seven"], 100),
            filtered(&["label=nope"], 10),
        ])
        .await
        .unwrap();
    assert!(answers[0].iter().all(|h| h.metadata["label"] == "c3"));
    assert_eq!(answers[0].len(), 10);
    assert_eq!(
        answers[1].len(),
        N / 5,
        "every matching point, even with k > matches"
    );
    assert_eq!(ids_of(&answers[2]).len(), 1);
    assert_eq!(answers[2][0].metadata["n"], 17);
    assert!(answers[3].is_empty());
    assert_eq!(answers[4].len(), N.div_ceil(7));
    assert!(answers[5].is_empty());
    let c3 = store
        .ids(&Filter::parse(&["label=c3"]).unwrap())
        .await
        .unwrap();
    assert_eq!(c3.len(), N / 5);

    // Vectors and thumbnails come back.
    let got = store.get(&[ids[5], 999_999, ids[6]]).await.unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].id, ids[5]);
    assert_eq!(got[0].thumbnail.as_deref(), Some(&[5u8, 5, 5][..]));
    assert_eq!(got[0].vector.len(), DIM);
    let with_vectors = store
        .search(&[Query {
            with_vectors: true,
            ..Query::nearest(query(5), 3)
        }])
        .await
        .unwrap();
    assert!(with_vectors[0]
        .iter()
        .all(|h| h.vector.as_ref().map(Vec::len) == Some(DIM)));

    // Deleted ids never come back.
    let doomed: Vec<PointId> = ids.iter().copied().step_by(6).collect();
    assert_eq!(
        store.delete(&doomed, Durability::Flushed).await.unwrap(),
        doomed.len() as u64
    );
    assert_eq!(store.delete(&doomed, Durability::Flushed).await.unwrap(), 0);
    let doomed_set: HashSet<PointId> = doomed.iter().copied().collect();
    let live = N - doomed.len();
    assert_eq!(store.info().await.unwrap().points, live as u64);
    let check_gone = |hits: &[lookalike_index::Hit]| {
        assert!(
            hits.iter().all(|h| !doomed_set.contains(&h.id)),
            "a deleted id came back"
        );
    };
    let after = store
        .search(&[
            Query::nearest(query(0), 10 * N),
            filtered(&["label=c0"], 1000),
        ])
        .await
        .unwrap();
    check_gone(&after[0]);
    check_gone(&after[1]);
    assert_eq!(after[0].len(), live);
    assert!(store.get(&doomed).await.unwrap().is_empty());
    let more = store
        .insert(points(9, 10, N), Durability::Flushed)
        .await
        .unwrap();
    assert!(
        more.iter().all(|id| *id > *ids.last().unwrap()),
        "ids are never reused"
    );

    // Metadata updates are seen by filters.
    let mut meta = Metadata::new();
    meta.insert("label".into(), json!("special"));
    assert_eq!(
        store
            .set_metadata(
                vec![(more[0], meta), (doomed[0], Metadata::new())],
                Durability::Flushed
            )
            .await
            .unwrap(),
        1
    );
    let special = store
        .search(&[filtered(&["label=special"], 10)])
        .await
        .unwrap();
    assert_eq!(ids_of(&special[0]), vec![more[0]]);

    // A rebuild drops tombstones and keeps answers.
    let before = store.search(&queries[..5]).await.unwrap();
    let report = store.rebuild().await.unwrap();
    assert_eq!(report.points, (live + 10) as u64);
    assert_eq!(store.info().await.unwrap().tombstones, 0);
    let after = store.search(&queries[..5]).await.unwrap();
    for (b, a) in before.iter().zip(&after) {
        check_gone(a);
        let b: HashSet<_> = ids_of(b).into_iter().collect();
        assert!(a.iter().filter(|h| b.contains(&h.id)).count() >= 9);
    }
    store.flush().await.unwrap();
}

#[test]
fn flat_store_conforms() {
    runtime().block_on(async {
        for metric in [Metric::L1, Metric::L2, Metric::Cosine] {
            conformance(&FlatStore::new(DIM, metric), metric).await;
        }
    });
}

#[test]
fn embedded_store_conforms_and_survives_reopening() {
    runtime().block_on(async {
        for metric in [Metric::L1, Metric::Cosine] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("store");
            let options = EmbeddedOptions::default();
            let store = EmbeddedStore::create(&path, DIM, metric, options).unwrap();
            conformance(&store, metric).await;
            // Writes after the last dump are replayed on open.
            let late = store
                .insert(points(11, 5, 1000), Durability::Flushed)
                .await
                .unwrap();
            store.delete(&late[..2], Durability::Flushed).await.unwrap();
            let q = [Query::nearest(query(7), 50)];
            let before = store.search(&q).await.unwrap();
            let info = store.info().await.unwrap();
            // One writer at a time: a second open is refused while the first holds the store.
            let err = EmbeddedStore::open(&path, options).unwrap_err();
            assert!(err.to_string().contains("open in another process"), "{err}");
            drop(store);
            let store = EmbeddedStore::open(&path, options).unwrap();
            assert_eq!(store.info().await.unwrap().points, info.points);
            assert_eq!(store.search(&q).await.unwrap(), before);
            assert!(store.info().await.unwrap().warnings.is_empty());
            // The late points are in the mutable graph: dump it, to corrupt its dump below.
            store.flush().await.unwrap();

            // A store is opened with the dimension it was made with.
            drop(store);
            let err = EmbeddedStore::open_or_create(&path, DIM + 1, metric, options).unwrap_err();
            assert!(err.to_string().contains("16-dimensional"), "{err}");

            // A corrupt graph dump is rebuilt from sled, with a warning.
            let graph = path.join("graph/mutable.lks");
            let mut bytes = std::fs::read(&graph).unwrap();
            let mid = bytes.len() / 2;
            bytes[mid..].iter_mut().for_each(|b| *b = !*b);
            std::fs::write(&graph, bytes).unwrap();
            let store = EmbeddedStore::open(&path, options).unwrap();
            let info = store.info().await.unwrap();
            assert!(
                info.warnings
                    .iter()
                    .any(|w| w.contains("rebuilt it from sled")),
                "{info:?}"
            );
            assert_eq!(store.search(&q).await.unwrap(), before);
        }
    });
}

/// The ids of the top `k` for a query, as a set.
#[test]
fn pgvector_store_conforms() {
    let server = PgServer::start();
    runtime().block_on(async {
        for (name, metric) in [("conf_l1", Metric::L1), ("conf_cos", Metric::Cosine)] {
            let store =
                PgVectorStore::connect(&server.url(), name, DIM, metric, PgOptions::default())
                    .await
                    .unwrap();
            conformance(&store, metric).await;
        }
        // Reconnecting finds the table; another dimension is refused.
        let again = PgVectorStore::connect(
            &server.url(),
            "conf_l1",
            DIM,
            Metric::L1,
            PgOptions::default(),
        )
        .await
        .unwrap();
        assert_eq!(
            again.info().await.unwrap().points,
            (N - N.div_ceil(6) + 10) as u64
        );
        let err = PgVectorStore::connect(
            &server.url(),
            "conf_l1",
            DIM + 1,
            Metric::L1,
            PgOptions::default(),
        )
        .await
        .unwrap_err();
        assert!(err.to_string().contains("16-dimensional"), "{err}");
    });
}

#[test]
fn unreachable_postgres_fails_fast_naming_the_url() {
    runtime().block_on(async {
        let options = PgOptions {
            connect_timeout: Duration::from_secs(1),
            ..PgOptions::default()
        };
        // Nothing listens on port 1; 10.255.255.1 swallows packets (a hang without a timeout).
        for url in [
            "postgres://me:secret@127.0.0.1:1/db",
            "postgres://me:secret@10.255.255.1:5432/db",
        ] {
            let start = Instant::now();
            let err = PgVectorStore::connect(url, "x", DIM, Metric::L1, options.clone())
                .await
                .unwrap_err();
            let text = err.to_string();
            assert!(
                text.contains("cannot reach PostgreSQL at postgres://me:***@"),
                "{text}"
            );
            assert!(!text.contains("secret"), "{text}");
            assert!(
                start.elapsed() < Duration::from_secs(4),
                "took {:?}",
                start.elapsed()
            );
        }
    });
}
