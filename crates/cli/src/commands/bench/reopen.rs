//! `lookalike bench reopen`: where the time of opening an embedded store goes, and how much
//! resident memory the open index (and searching it) takes.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use lookalike_index::{read_vectors, EmbeddedOptions, EmbeddedStore, Query, VectorStore};

use super::memory_mib;

#[derive(Debug, Args)]
pub(super) struct ReopenArgs {
    /// The store's folder (holding `db/`, `graph/` and `segments/`).
    dir: PathBuf,
    /// Query vectors (.fvecs or .npy) to search once each after opening (k 10, ef 64), so that
    /// the memory figure includes what searching touches.
    #[arg(long)]
    queries: Option<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

pub(super) async fn reopen(a: ReopenArgs) -> anyhow::Result<()> {
    let queries = match &a.queries {
        Some(path) => {
            Some(read_vectors(path).with_context(|| format!("reading {}", path.display()))?)
        }
        None => None,
    };
    let (rss_before, _) = memory_mib();
    let start = Instant::now();
    let store = EmbeddedStore::open(&a.dir, EmbeddedOptions::default())
        .with_context(|| format!("opening {}", a.dir.display()))?;
    let seconds = start.elapsed().as_secs_f64();
    let (rss_open, _) = memory_mib();
    let searching = Instant::now();
    let mut searched = 0usize;
    if let Some(queries) = &queries {
        for q in queries.data.chunks(queries.dim.max(1)) {
            let query = Query {
                ef: Some(64),
                with_metadata: false,
                ..Query::nearest(q.to_vec(), 10)
            };
            store.search(std::slice::from_ref(&query)).await?;
            searched += 1;
        }
    }
    let search_seconds = searching.elapsed().as_secs_f64();
    let (rss_searched, _) = memory_mib();
    let info = store.info().await?;
    let stats = store.index_stats();
    let t = store.open_timings();
    if a.json {
        let out = serde_json::json!({
            "seconds": seconds,
            "points": info.points,
            "timings": t,
            "index": stats,
            "rss_growth_open_mib": rss_open - rss_before,
            "rss_growth_searched_mib": rss_searched - rss_before,
            "queries": searched,
            "search_seconds": search_seconds,
            "warnings": info.warnings,
        });
        crate::commands::emit(&serde_json::to_string_pretty(&out)?)?;
    } else {
        crate::commands::emit(&format!(
            "opened {} points in {seconds:.2} s: sled {:.2} s, sealed segments {:.2} s \
             ({} segments, {} points, {:.0} MiB mapped), graph dump checksums {:.2} s, graph load \
             {:.2} s ({} mutable points), replay {:.2} s, rebuild {:.2} s; resident memory grew \
             {:.0} MiB ({:.0} MiB after {searched} queries in {search_seconds:.3} s, one thread)",
            info.points,
            t.sled,
            t.segments,
            stats.segments,
            stats.sealed_points,
            stats.sealed_bytes as f64 / (1 << 20) as f64,
            t.checksum,
            t.graph_load,
            stats.mutable_points,
            t.replay,
            t.rebuild,
            rss_open - rss_before,
            rss_searched - rss_before
        ))?;
    }
    Ok(())
}
