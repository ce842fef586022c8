//! `lookalike bench`: measurements of the embedded store that `scripts/bench_ann.py` and the
//! docs rely on.
//! - `ann.rs`: `bench ann`, recall, single-thread speed, build time and memory on a vector file,
//!   against exact search: unsealed (the growing graph), sealed, then with more points added
//!   unsealed; `scripts/bench_ann.py` runs it beside hnswlib on the same data;
//! - `rounds.rs`: how one phase is measured: rounds, the fastest kept, in turns with a peer;
//! - `reopen.rs`: `bench reopen`, where the time of opening goes and how much memory the open
//!   index takes.

mod ann;
mod reopen;
mod rounds;

use clap::{Args, Subcommand};

use ann::AnnArgs;
use reopen::ReopenArgs;

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
    /// and say where the time went and how much memory it takes.
    Reopen(ReopenArgs),
}

/// Runs `lookalike bench ...`.
pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    match args.command {
        BenchCommand::Ann(a) => crate::commands::runtime()?.block_on(ann::ann(a)),
        BenchCommand::Reopen(a) => crate::commands::runtime()?.block_on(reopen::reopen(a)),
    }
}

/// `VmRSS` and `VmHWM` of this process, in MiB (0 where /proc is missing).
pub(super) fn memory_mib() -> (f64, f64) {
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
