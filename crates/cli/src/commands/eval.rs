//! `lookalike eval --model MODEL_DIR --data DIR`: pair and retrieval metrics on a labelled
//! folder.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use lookalike_engine::evaluate::{evaluate_folder, Subset};
use lookalike_engine::EmbedOptions;

use super::model::SimilarityArgs;
use super::progress;

/// Which images to evaluate on.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SplitArg {
    /// Every image of the folder.
    All,
    /// The held-out test split of the model's own training (same folder, same seed).
    Test,
}

/// Arguments of `lookalike eval`.
#[derive(Debug, Args)]
pub struct EvalArgs {
    #[command(flatten)]
    pub model: SimilarityArgs,
    /// A labelled folder: one subfolder of images per class.
    #[arg(long)]
    pub data: PathBuf,
    /// Which images. The pairs are drawn with --seed; `--split test` with the training seed
    /// reproduces the test figures `train` recorded.
    #[arg(long, value_enum, default_value = "all")]
    pub split: SplitArg,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Runs `lookalike eval`.
pub fn run(args: EvalArgs) -> anyhow::Result<()> {
    let model = args.model.load()?;
    let subset = match args.split {
        SplitArg::All => Subset::All,
        SplitArg::Test => {
            anyhow::ensure!(
                model.config().is_some_and(|c| c.training.is_some()),
                "--split test needs a model trained by `lookalike train`, which records its split"
            );
            Subset::Test
        }
    };
    let bar = progress::bar(0, "embedding", args.quiet || args.json);
    let options = EmbedOptions {
        preprocess: model.config().map(|c| c.preprocess()).unwrap_or_default(),
        ..EmbedOptions::default()
    };
    let (eval, skipped) = evaluate_folder(
        &model,
        &args.data,
        subset,
        args.model.backbone.seed,
        &options,
        |p| {
            bar.set_length(p.total as u64);
            bar.set_position(p.done as u64);
        },
    )?;
    bar.finish_and_clear();
    for s in &skipped {
        eprintln!("skipped {}", s.error);
    }
    if args.json {
        println!("{}", serde_json::to_string(&eval)?);
    } else {
        let p = &eval.pairs;
        println!(
            "{} on {} ({} images, {} pairs, {} skipped)",
            model.describe(),
            args.data.display(),
            eval.images,
            p.pairs,
            skipped.len()
        );
        println!("pair accuracy   {:.4}", p.pair_accuracy);
        println!(
            "ROC AUC         {}",
            p.roc_auc.map_or("n/a".into(), |a| format!("{a:.4}"))
        );
        println!(
            "dissimilar: precision {:.4}  recall {:.4}  F1 {:.4}",
            p.precision, p.recall, p.f1
        );
        println!("precision@10    {:.4}", eval.precision_at_10);
        println!("mAP             {:.4}", eval.map);
    }
    Ok(())
}
