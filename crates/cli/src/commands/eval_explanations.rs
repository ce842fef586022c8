//! `lookalike eval-explanations --model MODEL_DIR --data DIR`: how faithful each explanation
//! method is, by deletion and insertion AUC (RISE) of the similarity on held-out same-class pairs,
//! against a random-map baseline.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use lookalike_core::dataset::{self, LabelledFolder};
use lookalike_engine::faithfulness::score_methods;

use super::explainers::{registry, MethodArgs};
use super::model::SimilarityArgs;
use super::progress;

/// Arguments of `lookalike eval-explanations`.
#[derive(Debug, Args)]
pub struct EvalExplanationsArgs {
    #[command(flatten)]
    pub model: SimilarityArgs,
    #[command(flatten)]
    pub method: MethodArgs,
    /// A labelled folder: one subfolder of images per class.
    #[arg(long)]
    pub data: PathBuf,
    /// Evaluate every registered method (the default unless --method is given explicitly).
    #[arg(long)]
    pub all_methods: bool,
    /// How many same-class pairs (from the model's held-out test split when it has one).
    #[arg(long, default_value_t = 30)]
    pub pairs: usize,
    /// Steps of each deletion and insertion curve.
    #[arg(long, default_value_t = 16)]
    pub steps: usize,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Runs `lookalike eval-explanations`.
pub fn run(args: EvalExplanationsArgs) -> anyhow::Result<()> {
    let model = args.model.load()?;
    let registry = registry();
    let (_, layer, _) = args.method.resolve(&registry, model.backbone().units())?;
    let methods: Vec<_> = if args.all_methods {
        registry.all().collect()
    } else {
        vec![registry.get(&args.method.method)?]
    };
    anyhow::ensure!(args.steps >= 1, "--steps must be at least 1");
    let folder = LabelledFolder::read(&args.data)
        .with_context(|| format!("reading the labelled folder {}", args.data.display()))?;
    let seed = args.model.backbone.seed;
    let held_out: Vec<usize> = match model.config().and_then(|c| c.training.as_ref()) {
        Some(t) => dataset::split(&folder.labels, t.split, t.seed).test,
        None => (0..folder.images.len()).collect(),
    };
    let mut rng = dataset::rng(seed);
    let pairs: Vec<_> = dataset::make_pairs(&held_out, &folder.labels, &mut rng)
        .into_iter()
        .filter(|p| !p.different)
        .take(args.pairs)
        .collect();
    anyhow::ensure!(
        !pairs.is_empty(),
        "no same-class pairs in {}",
        args.data.display()
    );
    let preprocess = model.config().map(|c| c.preprocess()).unwrap_or_default();
    let images: Vec<_> = pairs
        .iter()
        .map(|p| (folder.images[p.a].clone(), folder.images[p.b].clone()))
        .collect();
    let bar = progress::bar(pairs.len(), "explaining", args.quiet || args.json);
    let scores = score_methods(
        &model,
        &images,
        &methods,
        layer,
        args.steps,
        seed,
        &preprocess,
        |done| bar.set_position(done as u64),
    )
    .context("measuring faithfulness")?;
    bar.finish_and_clear();
    if args.json {
        println!(
            "{}",
            serde_json::json!({
                "model": model.describe(),
                "data": args.data,
                "layer": layer.resolve(model.backbone().units())?,
                "pairs": pairs.len(),
                "steps": args.steps,
                "methods": scores,
            })
        );
    } else {
        println!(
            "{} on {} same-class pairs of {} (layer {layer}, {} steps)",
            model.describe(),
            pairs.len(),
            args.data.display(),
            args.steps
        );
        println!(
            "{:<12} {:>14} {:>15} {:>6} {:>5}",
            "method", "deletion AUC ↓", "insertion AUC ↑", "pairs", "flat"
        );
        let mean = |v: f64, pairs: usize| {
            if pairs == 0 {
                "n/a".to_string()
            } else {
                format!("{v:.4}")
            }
        };
        for (name, s) in &scores {
            println!(
                "{name:<12} {:>14} {:>15} {:>6} {:>5}",
                mean(s.deletion_auc, s.pairs),
                mean(s.insertion_auc, s.pairs),
                s.pairs,
                s.flat
            );
        }
        if scores.values().any(|s| s.flat > 0) {
            println!(
                "a pair where any method's map is flat (a saturated head: no gradient) is left out for every method"
            );
        }
    }
    Ok(())
}
