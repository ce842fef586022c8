//! One query on a fixed sealed segment, at `ef` 16 and 64, through `VectorStore::search` (ids and
//! scores, as `bench ann` measures it), so that a regression of the sealed loop shows in numbers;
//! and the same graph before sealing (the growing graph).
//!
//! `cargo bench -p lookalike-index --bench sealed_search`
//!
//! The segment: 10,000 clustered 128-dimensional vectors (a seeded generator), M 16,
//! ef_construction 100, inserted in batches of 50 (below the parallel threshold, so the graph
//! is the same on every run), then sealed.

use criterion::{criterion_main, BenchmarkId, Criterion};
use lookalike_index::{
    Durability, EmbeddedOptions, EmbeddedStore, Metadata, Metric, NewPoint, Query, VectorStore,
};

const N: usize = 10_000;
const DIM: usize = 128;

/// xorshift64*: a fixed stream of numbers in [-1, 1).
struct Numbers(u64);

impl Numbers {
    fn next(&mut self) -> f32 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let x = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d);
        (x >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }
}

/// 50 cluster centres, points around them.
fn vectors(n: usize, seed: u64) -> Vec<Vec<f32>> {
    let mut centres = Numbers(7);
    let centres: Vec<Vec<f32>> = (0..50)
        .map(|_| (0..DIM).map(|_| centres.next()).collect())
        .collect();
    let mut noise = Numbers(seed);
    (0..n)
        .map(|i| {
            centres[i % 50]
                .iter()
                .map(|c| c + 0.3 * noise.next())
                .collect()
        })
        .collect()
}

fn sealed_search(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    let dir = tempfile::tempdir().expect("a temporary folder");
    let options = EmbeddedOptions {
        ef_construction: 100,
        seal_at: usize::MAX,
        ..EmbeddedOptions::default()
    };
    let store = EmbeddedStore::create(&dir.path().join("store"), DIM, Metric::L2, options)
        .expect("a store");
    for chunk in vectors(N, 1).chunks(50) {
        let points = chunk
            .iter()
            .map(|v| NewPoint {
                vector: v.clone(),
                metadata: Metadata::new(),
                thumbnail: None,
            })
            .collect();
        rt.block_on(store.insert(points, Durability::Buffered))
            .expect("insert");
    }
    let queries = vectors(100, 99);
    assert_eq!(store.index_stats().mutable_points, N);
    bench_group(
        c,
        &rt,
        &store,
        &queries,
        "unsealed search, 10,000 x 128, k 10",
    );
    store.seal().expect("seal");
    assert_eq!(store.index_stats().mutable_points, 0);
    bench_group(
        c,
        &rt,
        &store,
        &queries,
        "sealed search, 10,000 x 128, k 10",
    );
}

fn bench_group(
    c: &mut Criterion,
    rt: &tokio::runtime::Runtime,
    store: &EmbeddedStore,
    queries: &[Vec<f32>],
    name: &str,
) {
    let mut group = c.benchmark_group(name);
    for ef in [16, 64] {
        let mut i = 0;
        group.bench_with_input(BenchmarkId::new("ef", ef), &ef, |b, &ef| {
            b.iter(|| {
                i = (i + 1) % queries.len();
                let q = Query {
                    ef: Some(ef),
                    with_metadata: false,
                    ..Query::nearest(queries[i].clone(), 10)
                };
                rt.block_on(store.search(std::slice::from_ref(&q)))
                    .expect("search")
            })
        });
    }
    group.finish();
}

// criterion's macro defines an undocumented `benches` function.
#[allow(missing_docs)]
mod group {
    criterion::criterion_group!(benches, super::sealed_search);
}
use group::benches;
criterion_main!(benches);
