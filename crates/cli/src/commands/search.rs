//! `lookalike search NAME QUERY_IMAGE`: the images of a collection most like a query image.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use lookalike_core::{parse_device, BackboneKind};
use lookalike_engine::collection::{Collection, SearchRequest};
use lookalike_index::Filter;

use super::index::{model_ref, DataDirArgs};

/// Query by image.
#[derive(Debug, Args)]
pub struct SearchArgs {
    /// The collection.
    name: String,
    /// The query image.
    query: PathBuf,
    /// How many hits.
    #[arg(short, long, default_value_t = 10)]
    k: usize,
    /// Skip this many of the best hits first (paging).
    #[arg(long, default_value_t = 0)]
    offset: usize,
    /// Only images whose metadata has key=value (repeat for several; all must hold).
    #[arg(long = "filter", value_name = "KEY=VALUE")]
    filters: Vec<String>,
    /// HNSW beam width (higher: better recall, slower).
    #[arg(long)]
    ef: Option<usize>,
    /// Use this model folder (it must be the one the collection was built with).
    #[arg(long, value_name = "MODEL_DIR")]
    model: Option<String>,
    /// Print JSON: the hits, each with id, path, score, similarity, same and metadata.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    data: DataDirArgs,
}

/// Runs `lookalike search`.
pub fn run(a: SearchArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        a.k >= 1 && a.k <= 10_000,
        "-k must be between 1 and 10000, got {}",
        a.k
    );
    let filter = Filter::parse(&a.filters).map_err(anyhow::Error::msg)?;
    super::runtime()?.block_on(async {
        let collection = match &a.model {
            None => a.data.open(&a.name).await?,
            Some(m) => {
                let device = parse_device(&a.data.device)?;
                let model = model_ref(m, BackboneKind::EfficientNetLite0, None, 0)?;
                Collection::open_with(&a.data.data_dir, &a.name, model, device)
                    .await
                    .with_context(|| format!("opening collection {:?}", a.name))?
            }
        };
        for w in collection.info().await?.store.warnings {
            eprintln!("warning: {w}");
        }
        let request = SearchRequest {
            k: a.k,
            offset: a.offset,
            filter,
            ef: a.ef,
        };
        let hits = collection
            .search_image(&a.query, &request)
            .await
            .with_context(|| format!("searching {:?} for {}", a.name, a.query.display()))?;
        if a.json {
            let out = serde_json::json!({
                "collection": a.name,
                "query": a.query.display().to_string(),
                "k": a.k,
                "offset": a.offset,
                "hits": hits,
            });
            super::emit(&serde_json::to_string_pretty(&out)?)?;
        } else {
            for (i, h) in hits.iter().enumerate() {
                let label = h
                    .metadata
                    .get("label")
                    .and_then(|l| l.as_str())
                    .unwrap_or("-");
                super::emit(&format!(
                    "{:>3}. {:.4} {} {:>6} {:<12} {}",
                    a.offset + i + 1,
                    h.similarity,
                    if h.same { "same" } else { "diff" },
                    h.id,
                    label,
                    h.path
                ))?;
            }
            if hits.is_empty() {
                super::emit("no matches")?;
            }
        }
        Ok(())
    })
}
