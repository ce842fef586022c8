//! `lookalike bench ann`: the embedded store built from a vector file and measured against exact
//! search, unsealed, sealed, and with more points added unsealed.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use lookalike_index::{
    read_vectors, Durability, EmbeddedOptions, EmbeddedStore, Metadata, Metric, NewPoint,
    OpenTimings, TopK, VectorStore,
};
use rayon::prelude::*;
use serde::Serialize;

use super::memory_mib;
use super::rounds::{measure, Rounds, Run};
use crate::commands::progress;

#[derive(Debug, Args)]
pub(super) struct AnnArgs {
    /// The vectors to index (.fvecs or .npy).
    #[arg(long)]
    base: PathBuf,
    /// The query vectors (.fvecs or .npy).
    #[arg(long)]
    queries: PathBuf,
    /// Neighbours per query.
    #[arg(short, long, default_value_t = 10)]
    k: usize,
    /// Search beam widths to measure (repeat; default 16 32 64 128 256).
    #[arg(long)]
    ef: Vec<usize>,
    /// Distance: l2, l1 or cosine.
    #[arg(long, default_value = "l2", value_parser = Metric::parse)]
    metric: Metric,
    /// HNSW links per node.
    #[arg(long, default_value_t = 16)]
    m: usize,
    /// HNSW beam width while building.
    #[arg(long, default_value_t = 200)]
    ef_construction: usize,
    /// Where to build the store (default: a temporary folder, removed afterwards).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Hold back the last N base vectors: they are added after the sealed measurement and stay
    /// in the mutable graph for the last one (whose recall is against all the base vectors).
    #[arg(long, default_value_t = 0)]
    extra: usize,
    /// Skip measuring the store before sealing (its mutable graph).
    #[arg(long)]
    no_mutable: bool,
    /// Measure every `ef` this many times and keep the fastest round (recall is the same in
    /// each): a slow moment of a shared machine then shows as noise, not as the result.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100))]
    rounds: u32,
    /// Take turns with a peer benchmark: before each round, print one JSON line
    /// `{"turn": PHASE, "round": R}` (PHASE: unsealed, sealed or extra) and wait for a line on
    /// standard input. `scripts/bench_ann.py` runs hnswlib's round meanwhile, so that both are
    /// measured in the same minutes.
    #[arg(long)]
    turns: bool,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Serialize)]
struct Report {
    /// Vectors sealed.
    base: usize,
    /// Vectors added unsealed afterwards.
    extra: usize,
    queries: usize,
    dimension: usize,
    k: usize,
    metric: Metric,
    m: usize,
    ef_construction: usize,
    build_threads: usize,
    /// Rounds per measurement (the fastest is kept).
    rounds: u32,
    /// Inserting through sled and the growing graph, then sealing.
    build_seconds: f64,
    /// Of which sealing (laying the growing graph out and writing the segment).
    seal_seconds: f64,
    reopen_seconds: f64,
    reopen: OpenTimings,
    rss_mib: f64,
    /// This process's peak resident memory while building.
    peak_rss_mib: f64,
    index_rss_growth_mib: f64,
    /// The segment files' size.
    sealed_bytes: usize,
    /// `bench reopen` in a fresh process, on the sealed store: where the time of opening goes
    /// and how much its resident memory grows (opening, then searching every query once).
    fresh_open: Option<serde_json::Value>,
    /// Before sealing: the growing graph.
    mutable_runs: Vec<Run>,
    /// Sealed: the headline figures.
    runs: Vec<Run>,
    /// Sealed, plus `extra` points added since.
    extra_runs: Vec<Run>,
}

/// The exact `k` nearest rows of `base` to each query, in parallel.
fn exact_neighbours(
    queries: &[Vec<f32>],
    base: &[Vec<f32>],
    k: usize,
    metric: Metric,
) -> Vec<Vec<u64>> {
    queries
        .par_iter()
        .map(|q| {
            let mut top = TopK::new(k);
            for (i, v) in base.iter().enumerate() {
                top.push(i as u64, metric.score(metric.distance(q, v)));
            }
            top.into_sorted().into_iter().map(|(id, _)| id).collect()
        })
        .collect()
}

/// Inserts rows in batches of 10,000 (buffered: the caller flushes).
async fn insert_rows(
    store: &EmbeddedStore,
    rows: &[Vec<f32>],
    mut done: impl FnMut(u64),
) -> anyhow::Result<()> {
    for chunk in rows.chunks(10_000) {
        let points = chunk
            .iter()
            .map(|v| NewPoint {
                vector: v.clone(),
                metadata: Metadata::new(),
                thumbnail: None,
            })
            .collect();
        store.insert(points, Durability::Buffered).await?;
        done(chunk.len() as u64);
    }
    Ok(())
}

/// `lookalike bench reopen DIR --queries Q --json` in a fresh process, so that the memory it
/// reports is the open index's alone; `None` if that fails.
fn fresh_reopen(dir: &Path, queries: &Path) -> Option<serde_json::Value> {
    let exe = std::env::current_exe().ok()?;
    // sled's background flusher may hold the store's lock a moment after the store is dropped.
    for _ in 0..20 {
        let out = std::process::Command::new(&exe)
            .args(["bench", "reopen", "--json", "--queries"])
            .arg(queries)
            .arg(dir)
            .output()
            .ok()?;
        if let Ok(report) = serde_json::from_slice(&out.stdout) {
            return Some(report);
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    None
}

pub(super) async fn ann(a: AnnArgs) -> anyhow::Result<()> {
    let base = read_vectors(&a.base).with_context(|| format!("reading {}", a.base.display()))?;
    let queries =
        read_vectors(&a.queries).with_context(|| format!("reading {}", a.queries.display()))?;
    anyhow::ensure!(
        base.dim == queries.dim,
        "dimension mismatch: the base vectors have {} dimensions, the queries {}",
        base.dim,
        queries.dim
    );
    anyhow::ensure!(a.k >= 1, "-k must be at least 1");
    let dim = base.dim;
    let metric = a.metric;
    let prepared = |data: &[f32]| -> Vec<Vec<f32>> {
        data.chunks(dim)
            .map(|r| metric.prepare(r.to_vec()))
            .collect()
    };
    let (base_rows, query_rows) = (prepared(&base.data), prepared(&queries.data));
    anyhow::ensure!(
        a.extra < base_rows.len(),
        "--extra {} leaves no base vector to seal",
        a.extra
    );
    let efs = if a.ef.is_empty() {
        vec![16, 32, 64, 128, 256]
    } else {
        a.ef.clone()
    };
    let sealed_rows = base_rows.len() - a.extra;
    let rounds = Rounds {
        rounds: a.rounds,
        turns: a.turns,
    };
    let truth = exact_neighbours(&query_rows, &base_rows, a.k, metric);
    let sealed_truth = if a.extra == 0 {
        truth.clone()
    } else {
        exact_neighbours(&query_rows, &base_rows[..sealed_rows], a.k, metric)
    };

    let tmp = tempfile::tempdir()?;
    let dir = a.dir.clone().unwrap_or_else(|| tmp.path().join("store"));
    let options = EmbeddedOptions {
        max_connections: a.m,
        ef_construction: a.ef_construction,
        // Sealed once, at the end, so that the graph is one segment.
        seal_at: usize::MAX,
        ..EmbeddedOptions::default()
    };
    let (rss_before, _) = memory_mib();
    let store = EmbeddedStore::create(&dir, dim, metric, options)?;
    let bar = progress::bar(sealed_rows, "building", a.json);
    let start = Instant::now();
    insert_rows(&store, &base_rows[..sealed_rows], |n| bar.inc(n)).await?;
    store.flush().await?;
    let inserted = start.elapsed();
    bar.finish_and_clear();
    let mutable_runs = if a.no_mutable {
        Vec::new()
    } else {
        measure(
            &store,
            &query_rows,
            &sealed_truth,
            &efs,
            a.k,
            "unsealed",
            &rounds,
        )
        .await?
    };
    let seal_start = Instant::now();
    store.seal()?;
    store.flush().await?;
    let seal_seconds = seal_start.elapsed().as_secs_f64();
    let build_seconds = inserted.as_secs_f64() + seal_seconds;
    let (rss_mib, peak_rss_mib) = memory_mib();
    drop(store);
    let fresh_open = fresh_reopen(&dir, &a.queries);
    let start = Instant::now();
    let store = EmbeddedStore::open(&dir, options)?;
    let reopen_seconds = start.elapsed().as_secs_f64();
    let sealed_bytes = store.index_stats().sealed_bytes;
    let runs = measure(
        &store,
        &query_rows,
        &sealed_truth,
        &efs,
        a.k,
        "sealed",
        &rounds,
    )
    .await?;
    let extra_runs = if a.extra > 0 {
        insert_rows(&store, &base_rows[sealed_rows..], |_| {}).await?;
        store.flush().await?;
        measure(&store, &query_rows, &truth, &efs, a.k, "extra", &rounds).await?
    } else {
        Vec::new()
    };
    let report = Report {
        base: sealed_rows,
        extra: a.extra,
        queries: query_rows.len(),
        dimension: dim,
        k: a.k,
        metric,
        m: a.m,
        ef_construction: a.ef_construction,
        build_threads: rayon::current_num_threads(),
        rounds: a.rounds,
        build_seconds,
        seal_seconds,
        reopen_seconds,
        reopen: store.open_timings(),
        rss_mib,
        peak_rss_mib,
        index_rss_growth_mib: rss_mib - rss_before,
        sealed_bytes,
        fresh_open,
        mutable_runs,
        runs,
        extra_runs,
    };
    if a.json {
        crate::commands::emit(&serde_json::to_string_pretty(&report)?)?;
    } else {
        crate::commands::emit(&format!(
            "{} × {} ({}), k = {}: built in {:.1} s (sealing {:.1} s) on {} threads, peak RSS {:.0} MiB, \
             reopened in {:.2} s, segment {:.0} MiB",
            report.base, dim, metric, a.k, build_seconds, seal_seconds, report.build_threads,
            peak_rss_mib, reopen_seconds, sealed_bytes as f64 / (1 << 20) as f64
        ))?;
        for (name, runs) in [
            ("unsealed", &report.mutable_runs),
            ("sealed", &report.runs),
            ("sealed + extra unsealed", &report.extra_runs),
        ] {
            for r in runs {
                crate::commands::emit(&format!(
                    "{name}, ef {:>4}: recall@{} {:.4}, {:.0} queries/s (one thread)",
                    r.ef, a.k, r.recall, r.qps
                ))?;
            }
        }
    }
    Ok(())
}
