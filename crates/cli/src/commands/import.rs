//! `lookalike index import NAME FEED`: a shop's product feed (Merchant Center columns, as CSV,
//! TSV or JSON Lines) into a collection, idempotently, with a progress bar and a report of rows
//! added, updated, unchanged, pruned and failed (each failure with its line).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use lookalike_engine::collection::{ImportEvent, ImportOptions};
use lookalike_engine::feed::{FeedFormat, FetchOptions};

use super::index::DataDirArgs;
use super::progress;

/// Import a product feed.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The collection.
    name: String,
    /// The feed: .csv, .tsv or .jsonl, with Merchant Center's columns (id, image_link,
    /// additional_image_link, price, availability, brand, title, product_type, ...).
    feed: PathBuf,
    /// Where image paths in the feed are looked for (URLs are fetched).
    #[arg(long, value_name = "DIR")]
    images_root: Option<PathBuf>,
    /// Delete the products of earlier imports that this feed lacks.
    #[arg(long)]
    prune: bool,
    /// Fetch URLs that point at private or loopback addresses too (a local test server).
    #[arg(long)]
    allow_private_urls: bool,
    /// Allow this one private HOST:PORT (an internal image server; repeatable); every other
    /// private address stays refused, redirects included.
    #[arg(long, value_name = "HOST:PORT")]
    allow_private_host: Vec<String>,
    /// Seconds one image fetch may take, all in.
    #[arg(long, default_value_t = 20.0, value_name = "SECONDS")]
    timeout: f64,
    /// The largest image, in bytes.
    #[arg(long, default_value_t = 20 << 20, value_name = "BYTES")]
    max_image_bytes: u64,
    /// Images fetched at once.
    #[arg(long, default_value_t = 16)]
    fetchers: usize,
    /// Images per batch (one forward pass, one durable store write).
    #[arg(long, default_value_t = 32)]
    batch: usize,
    /// No progress bar.
    #[arg(long, short)]
    quiet: bool,
    /// Print the report as one JSON object (added, updated, unchanged, pruned, failed).
    #[arg(long)]
    json: bool,
    /// I/N: import (and prune) only this worker's share of the products (by product id), so
    /// that N processes, on N machines, import one feed into one pgvector collection at once.
    /// Re-running a worker that died completes its share.
    #[arg(long, value_name = "I/N", value_parser = super::index::parse_worker)]
    worker: Option<(usize, usize)>,
    #[command(flatten)]
    data: DataDirArgs,
}

/// Runs `lookalike index import`.
pub async fn run(a: ImportArgs) -> anyhow::Result<()> {
    let format = FeedFormat::of(&a.feed).map_err(anyhow::Error::msg)?;
    anyhow::ensure!(
        a.timeout > 0.0 && a.timeout.is_finite(),
        "--timeout must be a positive number of seconds"
    );
    if let Some(root) = &a.images_root {
        anyhow::ensure!(
            root.is_dir(),
            "--images-root {}: no such folder",
            root.display()
        );
    }
    let text = std::fs::read_to_string(&a.feed)
        .with_context(|| format!("reading the feed {}", a.feed.display()))?;
    let collection = a.data.open(&a.name).await?;
    let options = ImportOptions {
        fetch: FetchOptions {
            images_root: a.images_root.clone(),
            timeout: Duration::from_secs_f64(a.timeout),
            max_bytes: a.max_image_bytes,
            allow_private: a.allow_private_urls,
            allow_private_hosts: a.allow_private_host.clone(),
            ..FetchOptions::default()
        },
        prune: a.prune,
        worker: a.worker,
        fetchers: a.fetchers.max(1),
        add: lookalike_engine::collection::AddOptions {
            batch_size: a.batch.max(1),
            ..Default::default()
        },
    };
    let hidden = a.quiet || a.json;
    let mut bar = progress::bar(0, "importing", true);
    let report = collection
        .import_feed(&text, format, &options, |event| match event {
            ImportEvent::Planned { rows } => bar = progress::bar(rows, "importing", hidden),
            ImportEvent::Done(n) => bar.inc(n as u64),
            ImportEvent::Failed(e) if !hidden => {
                bar.suspend(|| eprintln!("line {}: {}", e.line, e.reason))
            }
            ImportEvent::Failed(_) => {}
        })
        .await
        .with_context(|| format!("importing {} into {:?}", a.feed.display(), a.name))?;
    bar.finish_and_clear();
    if a.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        let others = match a.worker {
            Some(_) => format!(", {} left to the other workers", report.other_workers),
            None => String::new(),
        };
        println!(
            "imported {} into {:?}: {} added, {} updated, {} unchanged, {} pruned, {} failed{others}",
            a.feed.display(),
            a.name,
            report.added,
            report.updated,
            report.unchanged,
            report.pruned,
            report.failed.len()
        );
        for e in &report.failed {
            println!("  line {}: {}", e.line, e.reason);
        }
    }
    Ok(())
}
