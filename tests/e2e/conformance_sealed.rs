//! The embedded store with sealed segments beside its growing graph: the conformance suite on
//! both at once, searches that agree across sealing and reopening, a segment grown further
//! after sealing, recovery from a stale graph, and the settings it refuses. The shared suite and its data live in `conformance.rs`.

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
            let first = stats.sealed_points;
            assert!(first <= 300, "{stats:?}");

            // 150 more: the segment (at most 3 × seal_at) grows by them and is sealed again,
            // replacing itself: one graph, not two.
            let sealed = store
                .insert(points(21, 150, 2000), Durability::Flushed)
                .await
                .unwrap();
            let stats = store.index_stats();
            assert_eq!(
                (stats.segments, stats.sealed_points, stats.mutable_points),
                (1, first + 150, 0),
                "{stats:?}"
            );
            // Now above 3 × seal_at: 30 more start a growing graph of their own beside it.
            let mutable = store
                .insert(points(22, 30, 3000), Durability::Flushed)
                .await
                .unwrap();
            let stats = store.index_stats();
            assert_eq!(
                (stats.segments, stats.mutable_points, stats.absorbed_points),
                (1, 30, 0),
                "{stats:?}"
            );
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

/// A sealed store that grows by less than `seal_at` searches one graph: the last segment is read
/// back into the growing graph, which a reopen restores from its dump (or, before one, from the
/// log beside the segment), and the next seal replaces the segment.
#[test]
fn a_segment_grows_further_after_sealing_and_reopens_the_same() {
    runtime().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store");
        let options = EmbeddedOptions {
            seal_at: 100,
            ..EmbeddedOptions::default()
        };
        let store = EmbeddedStore::create(&path, DIM, Metric::L2, options).unwrap();
        let old = store
            .insert(points(31, 100, 0), Durability::Flushed)
            .await
            .unwrap();
        assert_eq!(store.index_stats().segments, 1, "sealed on arrival");
        let new = store
            .insert(points(32, 40, 500), Durability::Flushed)
            .await
            .unwrap();
        let stats = store.index_stats();
        assert_eq!(
            (stats.segments, stats.mutable_points, stats.absorbed_points),
            (0, 140, 100),
            "one graph: {stats:?}"
        );
        store
            .delete(&[old[3], old[50], new[0]], Durability::Flushed)
            .await
            .unwrap();
        let everything = [Query::nearest(query(4), 10_000)];
        let before = store.search(&everything).await.unwrap();
        assert_eq!(before[0].len(), 137, "every live point, once");

        // Reopened before any dump: the segment is searched, the log replayed beside it.
        drop(store);
        let store = EmbeddedStore::open(&path, options).unwrap();
        let stats = store.index_stats();
        // (The 40 less the one deleted since: a point added and deleted is not replayed.)
        assert_eq!((stats.segments, stats.mutable_points), (1, 39), "{stats:?}");
        assert_eq!(store.search(&everything).await.unwrap(), before);

        // Grown again, dumped, reopened: the dump holds the segment's points, so the segment
        // is not searched, and nothing is rebuilt.
        store
            .insert(points(33, 10, 700), Durability::Flushed)
            .await
            .unwrap();
        assert_eq!(
            store.index_stats().absorbed_points,
            0,
            "a graph was growing"
        );
        store.checkpoint().unwrap();
        let before = store.search(&everything).await.unwrap();
        drop(store);
        let store = EmbeddedStore::open(&path, options).unwrap();
        assert!(store.info().await.unwrap().warnings.is_empty());
        assert_eq!(store.open_timings().rebuild, 0.0);
        let stats = store.index_stats();
        assert_eq!((stats.segments, stats.mutable_points), (1, 49), "{stats:?}");
        // Seal that as a second segment, then grow it and dump the grown graph.
        store.seal().unwrap();
        store
            .insert(points(34, 20, 900), Durability::Flushed)
            .await
            .unwrap();
        let stats = store.index_stats();
        assert_eq!(
            (stats.segments, stats.mutable_points, stats.absorbed_points),
            (1, 69, 49),
            "{stats:?}"
        );
        store.checkpoint().unwrap();
        let grown = store.search(&everything).await.unwrap();
        assert_eq!(grown[0].len(), before[0].len() + 20);
        drop(store);
        let store = EmbeddedStore::open(&path, options).unwrap();
        assert!(store.info().await.unwrap().warnings.is_empty());
        assert_eq!(store.open_timings().rebuild, 0.0);
        let stats = store.index_stats();
        assert_eq!(
            (stats.segments, stats.mutable_points, stats.absorbed_points),
            (1, 69, 49),
            "{stats:?}"
        );
        assert_eq!(store.search(&everything).await.unwrap(), grown);

        // 100 points added to it: sealed, replacing the segment it grew from (49 + 100).
        store
            .insert(points(35, 80, 1100), Durability::Flushed)
            .await
            .unwrap();
        let stats = store.index_stats();
        assert_eq!(
            (stats.segments, stats.sealed_points, stats.mutable_points),
            (2, 100 + 149, 0),
            "{stats:?}"
        );
        let files: Vec<_> = std::fs::read_dir(path.join("segments"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "lks"))
            .collect();
        assert_eq!(
            files.len(),
            2,
            "the grown segment replaced the old: {files:?}"
        );
        let all = store.search(&everything).await.unwrap();
        assert_eq!(all[0].len(), grown[0].len() + 80);
        // The top 10 over both segments is (nearly) the top 10 of everything.
        let best: HashSet<PointId> = ids_of(&all[0][..10]).into_iter().collect();
        assert!(top_ids(&store, 4, 10).await.intersection(&best).count() >= 9);
        drop(store);
        let store = EmbeddedStore::open(&path, options).unwrap();
        assert!(store.info().await.unwrap().warnings.is_empty());
        assert_eq!(store.search(&everything).await.unwrap(), all);
    });
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
