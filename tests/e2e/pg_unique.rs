//! Adds that stay idempotent when many processes write one pgvector collection at once: each
//! content hash stored once and each external id held by one image, on one table (unique
//! indexes, `ON CONFLICT`) and on three `postgres_fdw` shards (advisory locks on the
//! coordinator), and tables made before the constraint migrated on open, or refused, naming
//! their duplicates.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use lookalike_e2e::postgres::PgServer;
use lookalike_index::{
    Durability, Inserted, Metric, NewPoint, PgOptions, PgVectorStore, StoreError, VectorStore,
};
use serde_json::json;

const DIM: usize = 8;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap()
}

/// Image `i`: its vector, content hash and external id.
fn image(i: usize) -> NewPoint {
    NewPoint {
        vector: (0..DIM)
            .map(|d| ((i * 31 + d * 7) % 97) as f32 + 1.0)
            .collect(),
        metadata: json!({"sha256": format!("hash-{i}"), "external_id": format!("sku-{i}")})
            .as_object()
            .unwrap()
            .clone(),
        thumbnail: None,
    }
}

/// 8 connections (as 8 server processes hold) add the same 300 images at once, each in its own
/// order and batches, every image given by all 8; returns what each was answered.
async fn race(stores: &[Arc<PgVectorStore>]) -> Vec<Vec<(usize, Inserted)>> {
    let mut tasks = Vec::new();
    for (w, store) in stores.iter().enumerate() {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut order: Vec<usize> = (0..300).collect();
            order.rotate_left(w * 37);
            if w % 2 == 1 {
                order.reverse();
            }
            let mut answers = Vec::new();
            for batch in order.chunks(7 + w) {
                let points = batch.iter().map(|&i| image(i)).collect();
                let got = store
                    .insert_unique(points, Durability::Flushed)
                    .await
                    .unwrap();
                answers.extend(batch.iter().copied().zip(got));
            }
            answers
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.push(t.await.unwrap());
    }
    all
}

/// Every image was created exactly once, and every answer for it names that one id.
fn check_once(all: &[Vec<(usize, Inserted)>]) {
    let mut created: HashMap<usize, u64> = HashMap::new();
    for answers in all {
        for &(i, a) in answers {
            if let Inserted::New(id) = a {
                assert!(created.insert(i, id).is_none(), "image {i} created twice");
            }
        }
    }
    assert_eq!(created.len(), 300);
    for answers in all {
        for &(i, a) in answers {
            assert_eq!(a.id(), created[&i], "image {i}: {a:?}");
        }
    }
}

async fn stores(url: &str, options: &PgOptions, n: usize) -> Vec<Arc<PgVectorStore>> {
    let mut out = Vec::new();
    for _ in 0..n {
        let s = PgVectorStore::connect(url, "race", DIM, Metric::L2, options.clone())
            .await
            .unwrap();
        out.push(Arc::new(s));
    }
    out
}

#[test]
fn pg_unique_concurrent_adds_store_each_image_once_on_one_table() {
    let pg = PgServer::start();
    runtime().block_on(async {
        let all = stores(&pg.url(), &PgOptions::default(), 8).await;
        check_once(&race(&all).await);
        // Another image under a held external id is refused, and nothing of its batch stays.
        let mut thief = image(1000);
        thief.metadata.insert("external_id".into(), json!("sku-5"));
        let err = all[0]
            .insert_unique(vec![image(1001), thief], Durability::Flushed)
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)), "{err}");
        assert!(
            err.to_string()
                .contains("\"sku-5\" is already used by image"),
            "{err}"
        );
    });
    assert_eq!(
        pg.psql(
            "SELECT count(*), count(DISTINCT metadata->>'sha256'), \
             count(DISTINCT metadata->>'external_id') FROM lookalike_race"
        ),
        "300|300|300"
    );
}

#[test]
fn pg_unique_concurrent_adds_store_each_image_once_over_three_shards() {
    let coordinator = PgServer::start();
    let shards: Vec<PgServer> = (0..3).map(|_| PgServer::start()).collect();
    let options = PgOptions {
        shards: shards.iter().map(PgServer::url).collect(),
        connect_timeout: Duration::from_secs(5),
        ..PgOptions::default()
    };
    runtime().block_on(async {
        let all = stores(&coordinator.url(), &options, 8).await;
        check_once(&race(&all).await);
        let mut thief = image(1000);
        thief.metadata.insert("external_id".into(), json!("sku-7"));
        let err = all[3]
            .insert_unique(vec![image(1001), thief], Durability::Flushed)
            .await
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("\"sku-7\" is already used by image"),
            "{err}"
        );
    });
    assert_eq!(
        coordinator.psql(
            "SELECT count(*), count(DISTINCT metadata->>'sha256'), \
             count(DISTINCT metadata->>'external_id') FROM lookalike_race"
        ),
        "300|300|300"
    );
    for (i, shard) in shards.iter().enumerate() {
        let indexes = shard.psql(&format!(
            "SELECT string_agg(indexname, ',' ORDER BY indexname) FROM pg_indexes \
             WHERE tablename = 'lookalike_race_p{i}' AND indexdef LIKE 'CREATE UNIQUE%'"
        ));
        assert_eq!(
            indexes,
            format!("lookalike_race_p{i}_external_id,lookalike_race_p{i}_pkey,lookalike_race_p{i}_sha256")
        );
    }
}

#[test]
fn pg_unique_old_tables_get_the_constraint_or_name_their_duplicates() {
    let pg = PgServer::start();
    let url = pg.url();
    let open = || async {
        PgVectorStore::connect(&url, "old", DIM, Metric::L2, PgOptions::default()).await
    };
    let rt = runtime();
    rt.block_on(async {
        let store = open().await.unwrap();
        store
            .insert(vec![image(1), image(2), image(3)], Durability::Flushed)
            .await
            .unwrap();
    });
    // As an older Lookalike left it: no unique indexes, no `unique` in the comment, and the
    // same image stored twice (two processes that raced).
    pg.psql(
        "DROP INDEX lookalike_old_sha256; DROP INDEX lookalike_old_external_id; \
         COMMENT ON TABLE lookalike_old IS \
         '{\"format\":\"lookalike-pgvector\",\"dimension\":8,\"metric\":\"l2\",\"shards\":0}'; \
         INSERT INTO lookalike_old (embedding, metadata) \
         SELECT embedding, metadata FROM lookalike_old WHERE metadata->>'sha256' = 'hash-2'",
    );
    let err = rt.block_on(open()).unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("holds the same sha256 more than once")
            && message.contains("\"hash-2\" as ids 2, 4")
            && message.contains("WHERE id IN (4)"),
        "{message}"
    );
    pg.psql("DELETE FROM lookalike_old WHERE id = 4");
    rt.block_on(async {
        let store = open().await.unwrap();
        let again = store
            .insert_unique(vec![image(2), image(9)], Durability::Flushed)
            .await
            .unwrap();
        assert_eq!(again[0], Inserted::Existing(2));
        assert!(matches!(again[1], Inserted::New(_)), "{again:?}");
    });
    assert_eq!(
        pg.psql(
            "SELECT count(*) FROM pg_indexes WHERE tablename = 'lookalike_old' \
             AND indexdef LIKE 'CREATE UNIQUE%((metadata ->> %'"
        ),
        "2"
    );
    assert!(pg
        .psql("SELECT obj_description('lookalike_old'::regclass)")
        .contains("\"unique\":true"));
}
