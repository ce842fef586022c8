//! `lookalike search NAME QUERY_IMAGE`: the images of a collection most like a query image.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use lookalike_core::{parse_device, BackboneKind, DecodeLimits};
use lookalike_engine::collection::{
    Collection, Crop, GroupResults, Provenance, QueryImage, Region, SearchHit, SearchRequest,
    UsedBox,
};
use lookalike_index::Filter;
use serde_json::json;

use super::explainers::{registry, write_pair, MethodArgs};
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
    /// Only images whose metadata match (repeat for several; all must hold): `label=bag`,
    /// `label!=bag`, `colour in (red, blue)`, `price<50`, `20<=price<=80`, `in_stock`,
    /// `brand exists`, `not COND`.
    #[arg(long = "filter", value_name = "CONDITION")]
    filters: Vec<String>,
    /// Return the k best groups of images sharing this metadata key (`product`): each with its
    /// best image and the ids of its other images.
    #[arg(long, value_name = "KEY", conflicts_with = "explain")]
    group_by: Option<String>,
    /// Search with this box of the query: X,Y,W,H in pixels, or in fractions of the image
    /// when all four are at most 1 (0.5,0,0.5,1 is the right half).
    #[arg(long, value_name = "X,Y,W,H", value_parser = Region::parse, conflicts_with = "auto_crop")]
    crop: Option<Region>,
    /// Search with the main object's box (the border-contrast object box; printed).
    #[arg(long)]
    auto_crop: bool,
    /// HNSW beam width (higher: better recall, slower).
    #[arg(long)]
    ef: Option<usize>,
    /// Use this model folder (it must be the one the collection was built with).
    #[arg(long, value_name = "MODEL_DIR")]
    model: Option<String>,
    /// Print JSON: the hits, each with id, path, score, similarity, same and metadata.
    #[arg(long)]
    json: bool,
    /// Explain every hit with this method (gradcam, gradcam++, xgradcam, hirescam, layercam):
    /// one batched forward and backward for all of them. Needs --out.
    #[arg(long, value_name = "METHOD", requires = "out")]
    explain: Option<String>,
    /// What --explain's maps explain: `logit` (default) or `probability`.
    #[arg(long, default_value = "logit", requires = "explain")]
    pub target: String,
    /// Target layer for --explain: `last` or a unit number.
    #[arg(long, default_value = "last", requires = "explain")]
    layer: String,
    /// Where --explain writes, one folder per hit (`RANK-ID/`): four overlays and
    /// explanation.json.
    #[arg(long, value_name = "DIR", requires = "explain")]
    out: Option<PathBuf>,
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
        for w in collection.store().warnings().await {
            eprintln!("warning: {w}");
        }
        let request = SearchRequest {
            k: a.k,
            offset: a.offset,
            filter,
            ef: a.ef,
        };
        let searching = || format!("searching {:?} for {}", a.name, a.query.display());
        // Decoded once: to search, and to explain.
        let crop = match (a.crop, a.auto_crop) {
            (Some(region), _) => Crop::Box(region),
            (None, true) => Crop::Auto,
            (None, false) => Crop::Whole,
        };
        let (query, used) = QueryImage::from_file_cropped(
            &a.query,
            &DecodeLimits::default(),
            &collection.preprocess(),
            crop,
        )
        .with_context(searching)?;
        if let (Some(b), false) = (used, a.json) {
            let [x, y, w, h] = b.rect;
            super::emit(&format!(
                "region ({}): {x},{y},{w},{h} of {}x{}",
                b.method, b.image_size[0], b.image_size[1]
            ))?;
        }
        let vector = collection.vector_of(&query).with_context(searching)?;
        if let Some(key) = &a.group_by {
            let found = collection
                .search_groups(vector, &request, key, None)
                .await
                .with_context(searching)?;
            partial_warning(&found.provenance);
            return print_groups(&a, &found, used);
        }
        let found = collection
            .search_vector(vector, &request)
            .await
            .with_context(searching)?;
        // A sharded store with --partial-ok says here which shard this answer lacks.
        partial_warning(&found.provenance);
        let hits = found.hits;
        let explanations = match (&a.explain, &a.out) {
            (Some(method), Some(out)) => {
                explain_hits(&collection, &query, &hits, &a, method, out).await?
            }
            _ => Vec::new(),
        };
        if a.json {
            let mut hits = serde_json::to_value(&hits)?;
            if let Some(list) = hits.as_array_mut() {
                for (hit, explanation) in list.iter_mut().zip(&explanations) {
                    hit["explanation"] = explanation.clone();
                }
            }
            let out = serde_json::json!({
                "crop": used,
                "collection": a.name,
                "query": a.query.display().to_string(),
                "k": a.k,
                "offset": a.offset,
                "out_of_catalogue": found.novelty.is_some_and(|n| n.out_of_catalogue),
                "novelty": found.novelty,
                "hits": hits,
            });
            super::emit(&serde_json::to_string_pretty(&out)?)?;
        } else {
            if let Some(n) = found.novelty.filter(|n| n.out_of_catalogue) {
                super::emit(&format!(
                    "nothing like this here: the best match is farther than {:.1}% of the catalogue's own nearest neighbours (percentile {:.2})",
                    100.0 - n.cutoff_percentile,
                    n.percentile
                ))?;
            }
            for (i, h) in hits.iter().enumerate() {
                let label = h
                    .metadata
                    .get("label")
                    .and_then(|l| l.as_str())
                    .unwrap_or("-");
                super::emit(&format!(
                    "{:>3}. {:.4} (logit {:>9.3}) {} {:>6} {:<12} {}",
                    a.offset + i + 1,
                    h.similarity,
                    h.logit,
                    if h.same { "same" } else { "diff" },
                    h.id,
                    label,
                    h.path
                ))?;
            }
            if hits.is_empty() {
                super::emit("no matches")?;
            }
            if let Some(out) = &a.out {
                super::emit(&format!(
                    "explained {} hits in {}",
                    explanations.len(),
                    out.display()
                ))?;
            }
        }
        Ok(())
    })
}

/// Prints a grouped search: one line per group, or the JSON object.
/// Tells the user on stderr which shards an answer lacks.
fn partial_warning(from: &Provenance) {
    for shard in &from.missing_shards {
        eprintln!("warning: partial answer: {shard} did not answer");
    }
}

fn print_groups(a: &SearchArgs, found: &GroupResults, used: Option<UsedBox>) -> anyhow::Result<()> {
    if a.json {
        let out = json!({
            "crop": used,
            "collection": a.name,
            "query": a.query.display().to_string(),
            "k": a.k,
            "offset": a.offset,
            "group_by": found.group_by,
            "out_of_catalogue": found.novelty.is_some_and(|n| n.out_of_catalogue),
            "novelty": found.novelty,
            "groups": found.groups,
        });
        return super::emit(&serde_json::to_string_pretty(&out)?);
    }
    for (i, g) in found.groups.iter().enumerate() {
        let h = &g.best;
        super::emit(&format!(
            "{:>3}. {:.4} (logit {:>9.3}) {} {:<16} best {:>6} (+{} more) {}",
            a.offset + i + 1,
            h.similarity,
            h.logit,
            if h.same { "same" } else { "diff" },
            g.group.as_deref().unwrap_or("-"),
            h.id,
            g.other_ids.len(),
            h.path
        ))?;
    }
    if found.groups.is_empty() {
        super::emit("no matches")?;
    }
    Ok(())
}

/// Explains the query against every hit in one batch and writes `OUT/RANK-ID/`; returns each
/// hit's summary (folder, similarity, decision, maps with boxes).
async fn explain_hits(
    collection: &Collection,
    query: &QueryImage,
    hits: &[SearchHit],
    a: &SearchArgs,
    method: &str,
    out: &Path,
) -> anyhow::Result<Vec<serde_json::Value>> {
    let (query_path, offset) = (&a.query, a.offset);
    let registry = registry();
    let args = MethodArgs {
        method: method.to_string(),
        target: a.target.clone(),
        masks: None,
        max_masks: lookalike_explain::probe::DEFAULT_MAX_MASKS,
        mask_grid: None,
        mask_keep: None,
        layer: a.layer.clone(),
        box_fraction: 0.2,
        box_padding: 0,
    };
    let (explainer, layer, boxes) = args.resolve(&registry, collection.models().facts().units)?;
    let options = args.options()?;
    let asked: Vec<_> = hits
        .iter()
        .map(|h| (h.id, h.path.as_str(), &h.metadata))
        .collect();
    let files = collection
        .sources_of(&asked)
        .await
        .context("reading the hits' files")?;
    let explained = collection
        .explain_hits(query, &files, explainer, layer, &options, false)
        .context("explaining the hits")?;
    let mut summaries = Vec::with_capacity(hits.len());
    for (i, (h, explained)) in hits.iter().zip(&explained).enumerate() {
        let e = &explained.pair;
        let dir = out.join(format!("{:03}-{}", offset + i + 1, h.id));
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("creating the output folder {}", dir.display()))?;
        let (maps, grids) = write_pair(&dir, &query.crop, &explained.crop, e, &boxes)?;
        let summary = json!({
            "dir": dir,
            "similarity": e.similarity,
            "logit": e.logit,
            "same": e.same,
            "method": e.method,
            "layer": e.unit,
            "factual_target": e.factual_target,
            "maps": maps,
        });
        let mut full = summary.clone();
        full["query"] = json!(query_path);
        full["hit"] = json!(h);
        full["grids"] = serde_json::Value::Object(grids);
        let path = dir.join("explanation.json");
        std::fs::write(&path, serde_json::to_string_pretty(&full)?)
            .with_context(|| format!("writing {}", path.display()))?;
        summaries.push(summary);
    }
    Ok(summaries)
}
