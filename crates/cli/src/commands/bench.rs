//! `lookalike bench ann`: recall, single-thread speed, build time and memory of the embedded
//! store (hnsw_rs + sled) on a vector file, against exact search. `scripts/bench_ann.py` runs it
//! beside hnswlib on the same data.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use clap::{Args, Subcommand};
use lookalike_index::{
    read_vectors, Durability, EmbeddedOptions, EmbeddedStore, Metadata, Metric, NewPoint,
    OpenTimings, Query, TopK, VectorStore,
};
use rayon::prelude::*;
use serde::Serialize;

use super::progress;

/// Benchmarks.
#[derive(Debug, Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    command: BenchCommand,
}

#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// Approximate nearest neighbours: recall@k against exact search, queries per second on one
    /// thread, build time, resident memory and reopening time of the embedded store.
    Ann(AnnArgs),
    /// Reopen an embedded store (a collection's `store/` folder, or one `bench ann --dir` built)
    /// and say where the time went.
    Reopen(ReopenArgs),
}

#[derive(Debug, Args)]
struct ReopenArgs {
    /// The store's folder (holding `db/` and `graph/`).
    dir: PathBuf,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct AnnArgs {
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
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Serialize)]
struct Run {
    ef: usize,
    recall: f64,
    qps: f64,
}

#[derive(Debug, Serialize)]
struct Report {
    base: usize,
    queries: usize,
    dimension: usize,
    k: usize,
    metric: Metric,
    m: usize,
    ef_construction: usize,
    build_threads: usize,
    build_seconds: f64,
    reopen_seconds: f64,
    reopen: OpenTimings,
    rss_mib: f64,
    peak_rss_mib: f64,
    index_rss_growth_mib: f64,
    runs: Vec<Run>,
}

/// Runs `lookalike bench ...`.
pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    match args.command {
        BenchCommand::Ann(a) => super::runtime()?.block_on(ann(a)),
        BenchCommand::Reopen(a) => super::runtime()?.block_on(reopen(a)),
    }
}

/// `VmRSS` and `VmHWM` of this process, in MiB (0 where /proc is missing).
fn memory_mib() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map(|kb| kb / 1024.0)
            .unwrap_or(0.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

async fn ann(a: AnnArgs) -> anyhow::Result<()> {
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
    let efs = if a.ef.is_empty() {
        vec![16, 32, 64, 128, 256]
    } else {
        a.ef.clone()
    };

    // Exact neighbours, in parallel.
    let truth: Vec<Vec<u64>> = query_rows
        .par_iter()
        .map(|q| {
            let mut top = TopK::new(a.k);
            for (i, v) in base_rows.iter().enumerate() {
                top.push(i as u64, metric.score(metric.distance(q, v)));
            }
            top.into_sorted().into_iter().map(|(id, _)| id).collect()
        })
        .collect();

    let tmp = tempfile::tempdir()?;
    let dir = a.dir.clone().unwrap_or_else(|| tmp.path().join("store"));
    let options = EmbeddedOptions {
        max_connections: a.m,
        ef_construction: a.ef_construction,
        ..EmbeddedOptions::default()
    };
    let (rss_before, _) = memory_mib();
    let store = EmbeddedStore::create(&dir, dim, metric, options)?;
    let bar = progress::bar(base_rows.len(), "building", a.json);
    let start = Instant::now();
    for chunk in base_rows.chunks(10_000) {
        let points = chunk
            .iter()
            .map(|v| NewPoint {
                vector: v.clone(),
                metadata: Metadata::new(),
                thumbnail: None,
            })
            .collect();
        store.insert(points, Durability::Buffered).await?;
        bar.inc(chunk.len() as u64);
    }
    store.flush().await?;
    let build_seconds = start.elapsed().as_secs_f64();
    bar.finish_and_clear();
    let (rss_mib, peak_rss_mib) = memory_mib();
    drop(store);
    let start = Instant::now();
    let store = EmbeddedStore::open(&dir, options)?;
    let reopen_seconds = start.elapsed().as_secs_f64();

    // Ids are assigned 0, 1, 2, ... in insertion order: the row numbers.
    let mut runs = Vec::new();
    for &ef in &efs {
        let start = Instant::now();
        let mut found = 0usize;
        for (q, want) in query_rows.iter().zip(&truth) {
            // Ids and scores only, as hnswlib returns them.
            let query = Query {
                ef: Some(ef),
                with_metadata: false,
                ..Query::nearest(q.clone(), a.k)
            };
            let hits = store.search(std::slice::from_ref(&query)).await?;
            found += hits[0].iter().filter(|h| want.contains(&h.id)).count();
        }
        let seconds = start.elapsed().as_secs_f64();
        runs.push(Run {
            ef,
            recall: found as f64 / (truth.len() * a.k) as f64,
            qps: query_rows.len() as f64 / seconds,
        });
    }
    let report = Report {
        base: base_rows.len(),
        queries: query_rows.len(),
        dimension: dim,
        k: a.k,
        metric,
        m: a.m,
        ef_construction: a.ef_construction,
        build_threads: rayon::current_num_threads(),
        build_seconds,
        reopen_seconds,
        reopen: store.open_timings(),
        rss_mib,
        peak_rss_mib,
        index_rss_growth_mib: rss_mib - rss_before,
        runs,
    };
    if a.json {
        super::emit(&serde_json::to_string_pretty(&report)?)?;
    } else {
        super::emit(&format!(
            "{} × {} ({}), k = {}: built in {:.1} s on {} threads, reopened in {:.2} s, the index grew RSS by {:.0} MiB",
            report.base, dim, metric, a.k, build_seconds, report.build_threads, reopen_seconds, report.index_rss_growth_mib
        ))?;
        for r in &report.runs {
            super::emit(&format!(
                "ef {:>4}: recall@{} {:.4}, {:.0} queries/s (one thread)",
                r.ef, a.k, r.recall, r.qps
            ))?;
        }
    }
    Ok(())
}

async fn reopen(a: ReopenArgs) -> anyhow::Result<()> {
    let start = Instant::now();
    let store = EmbeddedStore::open(&a.dir, EmbeddedOptions::default())
        .with_context(|| format!("opening {}", a.dir.display()))?;
    let seconds = start.elapsed().as_secs_f64();
    let info = store.info().await?;
    let t = store.open_timings();
    if a.json {
        let out = serde_json::json!({"seconds": seconds, "points": info.points, "timings": t, "warnings": info.warnings});
        super::emit(&serde_json::to_string_pretty(&out)?)?;
    } else {
        super::emit(&format!(
            "opened {} points in {seconds:.2} s: sled {:.2} s, checksums {:.2} s, graph load {:.2} s, replay {:.2} s, rebuild {:.2} s",
            info.points, t.sled, t.checksum, t.graph_load, t.replay, t.rebuild
        ))?;
    }
    Ok(())
}
