//! One phase of `bench ann` measured: every `ef` over all queries, one query per call, for
//! `--rounds` rounds, the fastest kept; with `--turns`, each round waits for a peer's go.

use std::time::Instant;

use anyhow::Context;
use lookalike_index::{EmbeddedStore, Query, VectorStore};
use serde::Serialize;

/// One `ef`'s result: recall@k and single-thread queries per second.
#[derive(Debug, Serialize)]
pub(super) struct Run {
    pub(super) ef: usize,
    pub(super) recall: f64,
    pub(super) qps: f64,
}

/// Recall@k and single-thread queries per second at each `ef` (the fastest of `rounds`), one
/// query per call, ids and scores only (as hnswlib returns them). Ids are assigned 0, 1, 2, ...
/// in insertion order: the row numbers.
pub(super) async fn measure(
    store: &EmbeddedStore,
    queries: &[Vec<f32>],
    truth: &[Vec<u64>],
    efs: &[usize],
    k: usize,
    phase: &str,
    rounds: &Rounds,
) -> anyhow::Result<Vec<Run>> {
    let mut best: Vec<Run> = Vec::new();
    for round in 0..rounds.rounds {
        rounds.wait_turn(phase, round)?;
        let runs = measure_once(store, queries, truth, efs, k).await?;
        if best.is_empty() {
            best = runs;
        } else {
            for (b, r) in best.iter_mut().zip(runs) {
                b.qps = b.qps.max(r.qps);
            }
        }
    }
    Ok(best)
}

/// How often to measure, and whether to take turns with a peer (`--rounds`, `--turns`).
pub(super) struct Rounds {
    pub(super) rounds: u32,
    pub(super) turns: bool,
}

impl Rounds {
    /// With `--turns`: says which round of which phase is next, and waits for the peer's go.
    fn wait_turn(&self, phase: &str, round: u32) -> anyhow::Result<()> {
        if !self.turns {
            return Ok(());
        }
        crate::commands::emit(&serde_json::json!({ "turn": phase, "round": round }).to_string())?;
        let mut line = String::new();
        let read = std::io::stdin()
            .read_line(&mut line)
            .context("waiting for the peer's turn on standard input")?;
        anyhow::ensure!(read > 0, "standard input closed while waiting for a turn");
        Ok(())
    }
}

/// One round of [`measure`].
async fn measure_once(
    store: &EmbeddedStore,
    queries: &[Vec<f32>],
    truth: &[Vec<u64>],
    efs: &[usize],
    k: usize,
) -> anyhow::Result<Vec<Run>> {
    let mut runs = Vec::new();
    for &ef in efs {
        let start = Instant::now();
        let mut found = 0usize;
        for (q, want) in queries.iter().zip(truth) {
            let query = Query {
                ef: Some(ef),
                with_metadata: false,
                ..Query::nearest(q.clone(), k)
            };
            let hits = store.search(std::slice::from_ref(&query)).await?;
            found += hits[0].iter().filter(|h| want.contains(&h.id)).count();
        }
        let seconds = start.elapsed();
        runs.push(Run {
            ef,
            recall: found as f64 / (truth.len() * k) as f64,
            qps: queries.len() as f64 / seconds.as_secs_f64(),
        });
    }
    Ok(runs)
}
