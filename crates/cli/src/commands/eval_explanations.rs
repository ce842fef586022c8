//! `lookalike eval-explanations --model MODEL_DIR --data DIR`: how faithful each explanation
//! method is, by RISE's deletion and insertion on held-out pairs (half same-class, half
//! different), against smooth random maps, with bootstrap intervals and groups by starting
//! similarity (`lookalike_engine::faithfulness`).

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use lookalike_core::dataset::{self, LabelledFolder};
use lookalike_engine::faithfulness::{score_methods, MapOrder, Protocol};
use lookalike_explain::faithfulness::Mode;

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
    /// Evaluate every registered method but RISE (the default unless --method is given).
    #[arg(long)]
    pub all_methods: bool,
    /// With --all-methods, RISE too (slow: --masks backbone forwards per map).
    #[arg(long)]
    pub with_rise: bool,
    /// Evaluate these methods, comma-separated (e.g. gradcam,occlusion,shapley).
    #[arg(long, value_delimiter = ',', conflicts_with = "all_methods")]
    pub methods: Vec<String>,
    /// How many pairs, half same-class and half different (from the model's held-out test
    /// split when it has one).
    #[arg(long, default_value_t = 200)]
    pub pairs: usize,
    /// Steps of each deletion and insertion curve (RISE's protocol: 224, i.e. 1/224 of the
    /// pixels per step; fewer steps sample the same curve more coarsely).
    #[arg(long, default_value_t = 224)]
    pub steps: usize,
    /// Which map orders the pixels: `signed` (the evidence for similarity minus the evidence
    /// against it, before ReLU) or `shown` (the similarity-direction map a user sees, after ReLU).
    #[arg(long, default_value = "signed", value_parser = ["signed", "shown"])]
    pub order: String,
    /// `conditional` (perturb image A only) or `simultaneous` (both images).
    #[arg(long, default_value = "conditional", value_parser = ["conditional", "simultaneous"])]
    pub mode: String,
    /// `pair`: rescale each curve so the unperturbed score is 1 and the fully perturbed 0
    /// (SANE-style, per pair); `none`: raw scores.
    #[arg(long, default_value = "pair", value_parser = ["pair", "none"])]
    pub normalise: String,
    /// The score of the main table: `logit` (the explained score) or `similarity`. Both are
    /// always measured and printed with --json.
    #[arg(long, default_value = "logit", value_parser = ["logit", "similarity"])]
    pub score: String,
    /// Smooth random maps averaged into the baseline.
    #[arg(long, default_value_t = 3)]
    pub random_seeds: usize,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Balanced pairs: up to `n / 2` same-class and `n / 2` different-class pairs of `images`.
pub fn balanced_pairs(
    images: &[usize],
    labels: &[usize],
    n: usize,
    seed: u64,
) -> Vec<dataset::Pair> {
    let all = dataset::make_pairs(images, labels, &mut dataset::rng(seed));
    let same = all.iter().filter(|p| !p.different).take(n.div_ceil(2));
    let different = all.iter().filter(|p| p.different).take(n / 2);
    same.chain(different).copied().collect()
}

/// The protocol the options ask for.
pub fn protocol(
    args: &EvalExplanationsArgs,
    layer: lookalike_explain::Layer,
    seed: u64,
) -> anyhow::Result<Protocol> {
    anyhow::ensure!(args.steps >= 1, "--steps must be at least 1");
    anyhow::ensure!(args.random_seeds >= 1, "--random-seeds must be at least 1");
    let explain = args.method.options()?;
    let mut p = Protocol::new(layer, args.steps, seed);
    p.explain = explain;
    p.target = explain.target.name();
    p.mode = if args.mode == "simultaneous" {
        Mode::Simultaneous
    } else {
        Mode::Conditional
    };
    // A conditional run perturbs A alone, so only A's maps are needed.
    p.explain.only_a = p.mode == Mode::Conditional;
    p.normalise = args.normalise == "pair";
    p.order = if args.order == "shown" {
        MapOrder::Shown
    } else {
        MapOrder::Signed
    };
    p.score = if args.score == "similarity" {
        "similarity"
    } else {
        "logit"
    };
    p.random_seeds = args.random_seeds;
    Ok(p)
}

/// Runs `lookalike eval-explanations`.
pub fn run(args: EvalExplanationsArgs) -> anyhow::Result<()> {
    let model = args.model.load()?;
    let registry = registry();
    let (_, layer, _) = args.method.resolve(&registry, model.backbone().units())?;
    let methods: Vec<_> = if args.all_methods {
        registry
            .all()
            .filter(|e| args.with_rise || lookalike_engine::explainers::is_fast(e.name()))
            .collect()
    } else if !args.methods.is_empty() {
        args.methods
            .iter()
            .map(|m| registry.get(m))
            .collect::<Result<_, _>>()?
    } else {
        vec![registry.get(&args.method.method)?]
    };
    let seed = args.model.backbone.seed;
    let protocol = protocol(&args, layer, seed)?;
    let folder = LabelledFolder::read(&args.data)
        .with_context(|| format!("reading the labelled folder {}", args.data.display()))?;
    let held_out: Vec<usize> = match model.config().and_then(|c| c.training.as_ref()) {
        Some(t) => dataset::split(&folder.labels, t.split, t.seed).test,
        None => (0..folder.images.len()).collect(),
    };
    let pairs = balanced_pairs(&held_out, &folder.labels, args.pairs, seed);
    anyhow::ensure!(!pairs.is_empty(), "no pairs in {}", args.data.display());
    let preprocess = model.config().map(|c| c.preprocess()).unwrap_or_default();
    let images: Vec<_> = pairs
        .iter()
        .map(|p| (folder.images[p.a].clone(), folder.images[p.b].clone()))
        .collect();
    let bar = progress::bar(pairs.len(), "explaining", args.quiet || args.json);
    let result = score_methods(&model, &images, &methods, &protocol, &preprocess, |done| {
        bar.set_position(done as u64)
    })
    .context("measuring faithfulness")?;
    bar.finish_and_clear();
    let same = pairs.iter().filter(|p| !p.different).count();
    if args.json {
        let mut out = serde_json::to_value(&result)?;
        out["model"] = serde_json::json!(model.describe());
        out["data"] = serde_json::json!(args.data);
        out["layer"] = serde_json::json!(layer.resolve(model.backbone().units())?);
        out["steps"] = serde_json::json!(args.steps);
        out["same_pairs"] = serde_json::json!(same);
        // Which images were measured, so that a run can be checked or repeated elsewhere.
        out["pair_images"] = pairs
            .iter()
            .zip(&images)
            .map(|(p, (a, b))| serde_json::json!({"a": a, "b": b, "same": !p.different}))
            .collect();
        println!("{out}");
        return Ok(());
    }
    println!(
        "{} on {} pairs of {} ({same} same, {} different; layer {layer}; {:?} maps of the {}; {} \
         steps, {:?}, {} normalisation; scored by the {}; baseline: {} smooth random maps)",
        model.describe(),
        pairs.len(),
        args.data.display(),
        pairs.len() - same,
        protocol.order,
        protocol.target,
        args.steps,
        protocol.mode,
        if protocol.normalise { "per-pair" } else { "no" },
        protocol.score,
        protocol.random_seeds,
    );
    println!(
        "{:<22} {:>8} {:>19} {:>8} {:>19} {:>6} {:>5}",
        "method", "del AUC", "del / random [95%]", "ins AUC", "ins / random [95%]", "pairs", "flat"
    );
    for (name, s) in &result.methods {
        if s.pairs == 0 {
            println!(
                "{name:<22} {:>8} {:>19} {:>8} {:>19} {:>6} {:>5}",
                "n/a", "", "n/a", "", 0, s.flat
            );
            continue;
        }
        println!(
            "{name:<22} {:>8.4} {:>5.3} [{:.3}, {:.3}] {:>8.4} {:>5.3} [{:.3}, {:.3}] {:>6} {:>5}",
            s.deletion_auc,
            s.deletion_ratio,
            s.deletion_ratio_ci[0],
            s.deletion_ratio_ci[1],
            s.insertion_auc,
            s.insertion_ratio,
            s.insertion_ratio_ci[0],
            s.insertion_ratio_ci[1],
            s.pairs,
            s.flat
        );
    }
    for g in &result.groups {
        if g.pairs == 0 {
            continue;
        }
        let cells: Vec<String> = g
            .methods
            .iter()
            .map(|(n, [d, i])| format!("{n} {d:.3}/{i:.3}"))
            .collect();
        println!(
            "similarity {:.2}-{:.2} ({} pairs), deletion/insertion: {}",
            g.similarity[0],
            g.similarity[1],
            g.pairs,
            cells.join(", ")
        );
    }
    if result.left_out > 0 {
        println!(
            "{} pairs left out: a flat map, or a score that does not move when the image is fully perturbed",
            result.left_out
        );
    }
    Ok(())
}
