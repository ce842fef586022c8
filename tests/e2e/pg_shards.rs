//! A pgvector table spread over three shard servers through `postgres_fdw`, on loopback: the
//! same answers as one table and as exact search, the k-NN pushed down to every shard and run
//! at once, recall on 20,000 vectors, and a shard that stops.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use lookalike_e2e::postgres::PgServer;
use lookalike_index::{
    Durability, Filter, FlatStore, Metric, NewPoint, PgOptions, PgVectorStore, PointId, Query,
    StoreError, VectorStore,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;

const DIM: usize = 16;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn random_points(seed: u64, n: usize) -> Vec<NewPoint> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n)
        .map(|i| NewPoint {
            vector: (0..DIM).map(|_| rng.random_range(-1.0..1.0)).collect(),
            metadata: json!({"label": format!("c{}", i % 4), "n": i})
                .as_object()
                .unwrap()
                .clone(),
            thumbnail: None,
        })
        .collect()
}

/// The hits by their point's number (`n`), which every store keeps whatever ids it gives.
fn ns(hits: &[lookalike_index::Hit]) -> Vec<u64> {
    hits.iter()
        .map(|h| h.metadata["n"].as_u64().unwrap())
        .collect()
}

struct Cluster {
    coordinator: PgServer,
    shards: Vec<PgServer>,
}

impl Cluster {
    fn start() -> Cluster {
        Cluster {
            coordinator: PgServer::start(),
            shards: (0..3).map(|_| PgServer::start()).collect(),
        }
    }

    fn options(&self, partial_ok: bool) -> PgOptions {
        PgOptions {
            shards: self.shards.iter().map(PgServer::url).collect(),
            partial_ok,
            connect_timeout: Duration::from_secs(2),
            statement_timeout: Duration::from_secs(10),
            ef_search: 200,
            ..PgOptions::default()
        }
    }
}

#[test]
fn sharded_table_answers_like_one_table_and_exact_search() {
    let cluster = Cluster::start();
    runtime().block_on(async {
        let url = cluster.coordinator.url();
        let sharded = PgVectorStore::connect(&url, "sh", DIM, Metric::L2, cluster.options(false))
            .await
            .unwrap();
        let single = PgVectorStore::connect(
            &url,
            "single",
            DIM,
            Metric::L2,
            PgOptions {
                ef_search: 200,
                ..PgOptions::default()
            },
        )
        .await
        .unwrap();
        let flat = FlatStore::new(DIM, Metric::L2);
        let points = random_points(1, 600);
        let a = sharded
            .insert(points.clone(), Durability::Flushed)
            .await
            .unwrap();
        let b = single
            .insert(points.clone(), Durability::Flushed)
            .await
            .unwrap();
        flat.insert(points, Durability::Flushed).await.unwrap();
        assert_eq!(a, b);
        assert_eq!(sharded.info().await.unwrap().points, 600);

        // Every shard holds its hash partition, with its own HNSW index.
        let mut per_shard = 0;
        for (i, shard) in cluster.shards.iter().enumerate() {
            let n: usize = shard
                .psql(&format!("SELECT count(*) FROM lookalike_sh_p{i}"))
                .parse()
                .unwrap();
            assert!(n > 100, "shard {i} holds {n} of 600");
            per_shard += n;
            let index = shard.psql(&format!(
                "SELECT indexdef FROM pg_indexes WHERE tablename = 'lookalike_sh_p{i}' \
                 AND indexdef LIKE '%hnsw%'"
            ));
            assert!(index.contains("vector_l2_ops"), "{index}");
        }
        assert_eq!(per_shard, 600);

        let mut rng = StdRng::seed_from_u64(7);
        for round in 0..20 {
            let vector: Vec<f32> = (0..DIM).map(|_| rng.random_range(-1.0..1.0)).collect();
            let mut q = Query::nearest(vector, 10);
            if round % 2 == 1 {
                q.filter = Filter::parse(&["label=c1"]).unwrap();
            }
            let queries = [q];
            let got = ns(&sharded.search(&queries).await.unwrap()[0]);
            assert_eq!(got.len(), 10);
            assert_eq!(got, ns(&single.search(&queries).await.unwrap()[0]));
            assert_eq!(got, ns(&flat.search(&queries).await.unwrap()[0]));
        }

        // Deletes and metadata changes reach the shards.
        assert_eq!(
            sharded.delete(&a[..10], Durability::Flushed).await.unwrap(),
            10
        );
        assert_eq!(sharded.info().await.unwrap().points, 590);
        assert!(sharded.get(&a[..10]).await.unwrap().is_empty());
        let report = sharded.rebuild().await.unwrap();
        assert_eq!(report.points, 590);

        // The plan: one asynchronous foreign scan per shard, each sending the filter, the
        // ordering and the limit to its server.
        let mut q = Query::nearest(vec![0.0; DIM], 10);
        q.filter = Filter::parse(&["label=c2"]).unwrap();
        let plan = sharded.explain(&q).await.unwrap();
        assert_eq!(plan.matches("Async Foreign Scan").count(), 3, "{plan}");
        let remote: Vec<&str> = plan.lines().filter(|l| l.contains("Remote SQL")).collect();
        assert_eq!(remote.len(), 3, "{plan}");
        for line in remote {
            assert!(
                line.contains("metadata @> ANY"),
                "filter not pushed down: {line}"
            );
            assert!(
                line.contains("ORDER BY (embedding OPERATOR(public.<->)"),
                "ordering not pushed down: {line}"
            );
            assert!(line.contains("LIMIT 10"), "limit not pushed down: {line}");
        }
    });
}

#[test]
fn sharded_recall_on_20000_vectors() {
    let cluster = Cluster::start();
    runtime().block_on(async {
        let sharded = PgVectorStore::connect(
            &cluster.coordinator.url(),
            "big",
            DIM,
            Metric::L2,
            PgOptions {
                ef_search: 64,
                ef_construction: 64,
                statement_timeout: Duration::from_secs(120),
                ..cluster.options(false)
            },
        )
        .await
        .unwrap();
        let flat = FlatStore::new(DIM, Metric::L2);
        let points = random_points(2, 20_000);
        for chunk in points.chunks(1_000) {
            sharded
                .insert(chunk.to_vec(), Durability::Buffered)
                .await
                .unwrap();
            flat.insert(chunk.to_vec(), Durability::Buffered)
                .await
                .unwrap();
        }
        let mut rng = StdRng::seed_from_u64(3);
        let queries: Vec<Query> = (0..50)
            .map(|_| Query::nearest((0..DIM).map(|_| rng.random_range(-1.0..1.0)).collect(), 10))
            .collect();
        let got = sharded.search(&queries).await.unwrap();
        let want = flat.search(&queries).await.unwrap();
        let mut found = 0;
        for (g, w) in got.iter().zip(&want) {
            let w: HashSet<u64> = ns(w).into_iter().collect();
            found += ns(g).iter().filter(|n| w.contains(n)).count();
        }
        let recall = found as f64 / 500.0;
        assert!(recall >= 0.95, "recall@10 {recall}");
    });
}

#[test]
fn a_stopped_shard_is_named_or_left_out_when_partial_answers_are_ok() {
    let cluster = Cluster::start();
    runtime().block_on(async {
        let url = cluster.coordinator.url();
        let strict = PgVectorStore::connect(&url, "down", DIM, Metric::L2, cluster.options(false))
            .await
            .unwrap();
        let partial = PgVectorStore::connect(&url, "down", DIM, Metric::L2, cluster.options(true))
            .await
            .unwrap();
        let all = strict
            .insert(random_points(4, 300), Durability::Flushed)
            .await
            .unwrap();
        let on_1: HashSet<PointId> = cluster.shards[1]
            .psql("SELECT id FROM lookalike_down_p1")
            .lines()
            .map(|l| l.parse().unwrap())
            .collect();
        assert!(!on_1.is_empty());
        let flat = FlatStore::new(DIM, Metric::L2);
        let kept: Vec<NewPoint> = random_points(4, 300)
            .into_iter()
            .zip(&all)
            .filter(|(_, id)| !on_1.contains(id))
            .map(|(p, _)| p)
            .collect();
        flat.insert(kept, Durability::Flushed).await.unwrap();

        cluster.shards[1].stop();
        let q = [Query::nearest(vec![0.1; DIM], 10)];
        let start = Instant::now();
        let err = strict.search(&q).await.unwrap_err();
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "took {:?}",
            start.elapsed()
        );
        match &err {
            StoreError::Shard { shard, url, .. } => {
                assert_eq!(*shard, 1, "{err}");
                assert_eq!(url, &cluster.shards[1].url(), "{err}");
            }
            other => panic!("expected a shard error, got {other}"),
        }
        assert!(err.to_string().starts_with("shard 1 ("), "{err}");

        let answers = partial.search_answers(&q).await.unwrap();
        let (hits, missing) = (answers.hits, answers.missing_shards);
        assert_eq!(missing.len(), 1, "{missing:?}");
        assert!(missing[0].starts_with("shard 1 ("), "{missing:?}");
        // The store keeps no state between answers: the next one tells its own.
        let again = partial.search_answers(&q).await.unwrap();
        assert_eq!(again.missing_shards, missing);
        // The answer is the exact top 10 of the shards that answered.
        assert_eq!(ns(&hits[0]), ns(&flat.search(&q).await.unwrap()[0]));
    });
}
