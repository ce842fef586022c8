//! The embedded store with sealed segments beside its mutable graph: the conformance suite on
//! both at once, searches that agree across sealing and reopening, recovery from a stale graph,
//! and the settings it refuses. The shared suite and its data live in `conformance.rs`.

use std::collections::HashSet;

use lookalike_index::{
    Durability, EmbeddedOptions, EmbeddedStore, Metric, PointId, Query, VectorStore,
};

use super::conformance::*;

async fn top_ids(store: &EmbeddedStore, seed: u64, k: usize) -> HashSet<PointId> {
    let hits = store
        .search(&[Query::nearest(query(seed), k)])
        .await
        .unwrap();
    ids_of(&hits[0]).into_iter().collect()
}

#[test]
fn embedded_store_with_sealed_and_mutable_segments_conforms() {
    runtime().block_on(async {
        for metric in [Metric::L2, Metric::Cosine] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("store");
            // 120 + 120 points are sealed as they arrive, the last 60 stay mutable; deletes hit
            // both; the rebuild merges everything into one segment.
            let options = EmbeddedOptions {
                seal_at: 100,
                ..EmbeddedOptions::default()
            };
            let store = EmbeddedStore::create(&path, DIM, metric, options).unwrap();
            conformance_in_batches(&store, metric, 120).await;
            let stats = store.index_stats();
            assert_eq!((stats.segments, stats.mutable_points), (1, 0), "{stats:?}");

            // Sealed and mutable again: 150 sealed on arrival, 30 mutable; deletes in both.
            let sealed = store
                .insert(points(21, 150, 2000), Durability::Flushed)
                .await
                .unwrap();
            let mutable = store
                .insert(points(22, 30, 3000), Durability::Flushed)
                .await
                .unwrap();
            let stats = store.index_stats();
            assert_eq!((stats.segments, stats.mutable_points), (2, 30), "{stats:?}");
            let gone = [sealed[0], sealed[7], mutable[0], mutable[3]];
            store.delete(&gone, Durability::Flushed).await.unwrap();
            let live = store.info().await.unwrap().points as usize;
            let everything = [Query::nearest(query(1), 10_000)];
            let before = store.search(&everything).await.unwrap();
            assert_eq!(before[0].len(), live, "every live point, once");
            let unique: HashSet<PointId> = ids_of(&before[0]).into_iter().collect();
            assert_eq!(unique.len(), live, "no point twice");
            assert!(gone.iter().all(|id| !unique.contains(id)));
            let near = top_ids(&store, 2, 10).await;

            // Reopening maps the segments and loads the mutable dump: same answers, no warning.
            drop(store);
            let store = EmbeddedStore::open(&path, options).unwrap();
            assert!(store.info().await.unwrap().warnings.is_empty());
            let reopened = store.index_stats();
            assert_eq!(
                (
                    reopened.segments,
                    reopened.sealed_points,
                    reopened.sealed_bytes
                ),
                (stats.segments, stats.sealed_points, stats.sealed_bytes)
            );
            // The log's two deletes after the dump were replayed: those points are not re-added.
            assert_eq!(reopened.mutable_points, 28);
            assert_eq!(store.search(&everything).await.unwrap(), before);
            assert_eq!(top_ids(&store, 2, 10).await, near);
            assert!(
                store.open_timings().rebuild == 0.0,
                "reopening did not rebuild"
            );

            // A crash between a seal's manifest and its dump leaves a dump of the previous
            // generation: it is ignored, and the mutable part comes from sled, silently.
            let stale = dir.path().join("stale-graph");
            copy_dir(&path.join("graph"), &stale);
            store.seal().unwrap();
            drop(store);
            std::fs::remove_dir_all(path.join("graph")).unwrap();
            copy_dir(&stale, &path.join("graph"));
            let store = EmbeddedStore::open(&path, options).unwrap();
            assert!(store.info().await.unwrap().warnings.is_empty());
            assert_eq!(store.index_stats().mutable_points, 0);
            let after = store.search(&everything).await.unwrap();
            assert_eq!(
                ids_of(&after[0]).len(),
                live,
                "nothing lost, nothing doubled"
            );
            assert_eq!(
                ids_of(&after[0]).into_iter().collect::<HashSet<_>>(),
                unique
            );

            // A corrupt segment, then a missing one, is rebuilt from sled with a warning.
            drop(store);
            let segment = std::fs::read_dir(path.join("segments"))
                .unwrap()
                .map(|e| e.unwrap().path())
                .find(|p| p.extension().is_some_and(|x| x == "lks"))
                .unwrap();
            let mut bytes = std::fs::read(&segment).unwrap();
            let mid = bytes.len() / 2;
            bytes[mid] ^= 1;
            std::fs::write(&segment, bytes).unwrap();
            for round in 0..2 {
                let store = EmbeddedStore::open(&path, options).unwrap();
                let info = store.info().await.unwrap();
                assert!(
                    info.warnings
                        .iter()
                        .any(|w| w.contains("sealed segment is unusable")),
                    "{info:?}"
                );
                assert_eq!(info.points as usize, live);
                let hits = store.search(&everything).await.unwrap();
                assert_eq!(ids_of(&hits[0]).into_iter().collect::<HashSet<_>>(), unique);
                assert!(top_ids(&store, 2, 10).await.intersection(&near).count() >= 9);
                drop(store);
                if round == 0 {
                    // The rebuild wrote a new segment; now lose it.
                    for e in std::fs::read_dir(path.join("segments")).unwrap() {
                        let p = e.unwrap().path();
                        if p.extension().is_some_and(|x| x == "lks") {
                            std::fs::remove_file(p).unwrap();
                        }
                    }
                }
            }
        }
    });
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

#[test]
fn embedded_store_rejects_bad_settings() {
    let dir = tempfile::tempdir().unwrap();
    let bad = EmbeddedOptions {
        max_connections: 300,
        ..EmbeddedOptions::default()
    };
    let err = EmbeddedStore::create(&dir.path().join("s"), DIM, Metric::L1, bad).unwrap_err();
    assert!(err.to_string().contains("between 2 and 256"), "{err}");
    let err =
        EmbeddedStore::open(&dir.path().join("none"), EmbeddedOptions::default()).unwrap_err();
    assert!(err.to_string().contains("no vector store"), "{err}");
}
