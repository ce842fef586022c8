//! `lookalike explain --model MODEL_DIR A B --out DIR`: why the model called two images the same
//! or different. Writes four overlays (factual and counterfactual, for each image) and a JSON
//! summary with the similarity, the decision, the method, the layer, boxes, raw magnitudes, flat
//! flags, the raw grids, and the ten cell pairs of A and B that contribute most to the cosine of
//! their pooled features (see `lookalike_explain::correspondence`).

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use lookalike_explain::correspondence::correspondence;
use lookalike_explain::explain_pairs;
use serde_json::json;

use super::explainers::{load_image, registry, write_pair, MethodArgs};
use super::model::SimilarityArgs;

/// Arguments of `lookalike explain`.
#[derive(Debug, Args)]
pub struct ExplainArgs {
    #[command(flatten)]
    pub model: SimilarityArgs,
    #[command(flatten)]
    pub method: MethodArgs,
    /// The first image.
    pub a: PathBuf,
    /// The second image.
    pub b: PathBuf,
    /// Folder for the overlays and `explanation.json` (created if missing).
    #[arg(long)]
    pub out: PathBuf,
    /// Print the JSON summary (without the grids) instead of a sentence.
    #[arg(long)]
    pub json: bool,
}

/// Runs `lookalike explain`.
pub fn run(args: ExplainArgs) -> anyhow::Result<()> {
    let model = args.model.load()?;
    let registry = registry();
    let (explainer, layer, boxes) = args.method.resolve(&registry, model.backbone().units())?;
    let options = args.method.options()?;
    let preprocess = model.config().map(|c| c.preprocess()).unwrap_or_default();
    let (crop_a, a) = load_image(&args.a, &preprocess)?;
    let (crop_b, b) = load_image(&args.b, &preprocess)?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating the output folder {}", args.out.display()))?;
    let e = explain_pairs(&model, &a, &b, explainer, layer, &options)
        .context("explaining the pair")?
        .pop()
        .context("no explanation came back")?;

    let (maps, grids) = write_pair(&args.out, &crop_a, &crop_b, &e, &boxes)?;
    let units = model.backbone().units();
    let corr = correspondence(&model, &a, &b, layer).context("decomposing the similarity")?;
    let mut report = json!({
        "a": args.a,
        "b": args.b,
        "model": model.describe(),
        "similarity": e.similarity,
        "logit": e.logit,
        "target": e.target,
        "distance": e.distance,
        "threshold": model.threshold(),
        "same": e.same,
        "method": e.method,
        "layer": e.unit,
        "units": units,
        "factual_target": e.factual_target,
        "box_fraction": boxes.fraction,
        "maps": maps,
        "image_size": [crop_a.width(), crop_a.height()],
        "correspondences": {
            "grid": corr.grid,
            "cosine": corr.cosine,
            "top": corr.top(10),
        },
    });
    let summary_text = serde_json::to_string(&report)?;
    report["grids"] = serde_json::Value::Object(grids);
    let path = args.out.join("explanation.json");
    std::fs::write(&path, serde_json::to_string_pretty(&report)?)
        .with_context(|| format!("writing {}", path.display()))?;
    if args.json {
        println!("{summary_text}");
    } else {
        println!(
            "{}: similarity {:.4} (logit {:.3}), distance {:.4} (threshold {}) with {}; {} of the \
             {} at layer {}/{}: factual maps explain the {:?}; wrote 4 overlays and \
             explanation.json to {}",
            if e.same { "same" } else { "different" },
            e.similarity,
            e.logit,
            e.distance,
            model.threshold(),
            model.describe(),
            e.method,
            e.target.name(),
            e.unit,
            units,
            e.factual_target,
            args.out.display()
        );
    }
    Ok(())
}
