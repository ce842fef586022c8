//! `lookalike eval --model MODEL_DIR --data DIR`: pair and retrieval metrics on a labelled
//! folder, with the pretrained backbone's zero-shot figures beside a trained model's.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, ValueEnum};
use lookalike_engine::evaluate::{
    evaluate_folder_scored, zero_shot_baseline, Evaluation, Subset, ZeroShotBaseline,
};
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
    /// Test-time augmentation: each image's pooled vector is the mean of its own and its mirror
    /// image's (not for drawings, where a mirror can be another character).
    #[arg(long)]
    pub tta: bool,
    /// Leave out the zero-shot figures that a trained model's are shown beside.
    #[arg(long)]
    pub no_zero_shot: bool,
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
        mirror_views: args.tta,
        ..EmbedOptions::default()
    };
    let done = evaluate_folder_scored(
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
    let baseline = if args.no_zero_shot {
        None
    } else {
        zero_shot_baseline(
            &model,
            std::path::Path::new(&args.model.model),
            &done,
            args.model.backbone.seed,
            &options,
            |p| {
                bar.set_message("embedding for zero-shot");
                bar.set_length(p.total as u64);
                bar.set_position(p.done as u64);
            },
        )
        .context("the zero-shot figures beside the model's (--no-zero-shot leaves them out)")?
    };
    bar.finish_and_clear();
    if baseline.is_none() && !args.no_zero_shot {
        if let Some(c) = model.config() {
            eprintln!(
                "note: no zero-shot figures beside the model's: {}",
                if c.backbone.from_scratch() {
                    format!(
                        "{} trains from scratch, so it has no pretrained weights to compare with",
                        c.backbone
                    )
                } else {
                    format!(
                        "the model fine-tuned its {}, and the set-up has no pretrained weights for it",
                        c.backbone
                    )
                }
            );
        }
    }
    let familiarity =
        lookalike_engine::familiarity::judge(&model, &done.embedded.pooled, Some(&done.indices))?;
    let gate = familiarity.map(|f| Gate::new(f, &done.evaluation, baseline.as_ref()));
    let (eval, skipped) = (done.evaluation, done.embedded.skipped);
    for s in &skipped {
        eprintln!("skipped {}", s.error);
    }
    if args.json {
        let out = JsonOut {
            eval: &eval,
            zero_shot: baseline.as_ref(),
            gate: gate.as_ref(),
        };
        println!("{}", serde_json::to_string(&out)?);
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
        print_figures(&eval, baseline.as_ref(), gate.as_ref());
        if let Some(g) = &gate {
            println!("gate: {}", g.familiarity.explain());
            println!(
                "gate: ranks with the {}{}",
                g.ranks_with,
                if g.figures.is_none() {
                    " (its figures are left out: --no-zero-shot)"
                } else {
                    ""
                }
            );
        }
    }
    Ok(())
}

/// The transfer gate on the evaluated images: which ranking it picks, and its figures.
#[derive(serde::Serialize)]
struct Gate {
    #[serde(flatten)]
    familiarity: lookalike_core::siamese::Familiarity,
    /// `head` or `zero-shot`.
    ranks_with: &'static str,
    /// The figures of the ranking it picks (absent when it picks zero-shot and
    /// `--no-zero-shot` left those out).
    #[serde(skip_serializing_if = "Option::is_none")]
    figures: Option<Evaluation>,
}

impl Gate {
    fn new(
        familiarity: lookalike_core::siamese::Familiarity,
        model: &Evaluation,
        baseline: Option<&ZeroShotBaseline>,
    ) -> Self {
        if familiarity.falls_back() {
            Gate {
                familiarity,
                ranks_with: "zero-shot",
                figures: baseline.map(|b| b.figures.clone()),
            }
        } else {
            Gate {
                familiarity,
                ranks_with: "head",
                figures: Some(model.clone()),
            }
        }
    }
}

/// `eval --json`: the model's figures, and the zero-shot ones as `zero_shot`.
#[derive(serde::Serialize)]
struct JsonOut<'a> {
    #[serde(flatten)]
    eval: &'a Evaluation,
    #[serde(skip_serializing_if = "Option::is_none")]
    zero_shot: Option<&'a ZeroShotBaseline>,
    /// The transfer gate (absent for models without a familiarity profile).
    #[serde(skip_serializing_if = "Option::is_none")]
    gate: Option<&'a Gate>,
}

/// One figure of an evaluation, formatted.
type Figure = fn(&Evaluation) -> String;

/// The figures, one per line, with a zero-shot column when there is one.
fn print_figures(eval: &Evaluation, baseline: Option<&ZeroShotBaseline>, gate: Option<&Gate>) {
    let rows: [(&str, Figure); 7] = [
        ("pair accuracy", |e| format!("{:.4}", e.pairs.pair_accuracy)),
        ("ROC AUC", |e| {
            e.pairs.roc_auc.map_or("n/a".into(), |a| format!("{a:.4}"))
        }),
        ("precision (dissimilar)", |e| {
            format!("{:.4}", e.pairs.precision)
        }),
        ("recall (dissimilar)", |e| format!("{:.4}", e.pairs.recall)),
        ("F1 (dissimilar)", |e| format!("{:.4}", e.pairs.f1)),
        ("precision@10", |e| format!("{:.4}", e.precision_at_10)),
        ("mAP", |e| format!("{:.4}", e.map)),
    ];
    match baseline {
        None => {
            for (name, f) in rows {
                println!("{name:<24}{}", f(eval));
            }
        }
        Some(b) => {
            println!("{:<24}{:<10}zero-shot", "", "model");
            for (name, f) in rows {
                println!("{name:<24}{:<10}{}", f(eval), f(&b.figures));
            }
            println!("zero-shot: {}", b.note);
            let (m, z) = (eval.precision_at_10, b.figures.precision_at_10);
            if m < z && !gate.is_some_and(|g| g.familiarity.falls_back()) {
                println!(
                    "note: on this folder the zero-shot backbone ranks better (precision@10 {z:.4} \
                     against {m:.4}); for a catalogue like it, consider `--model zero-shot`"
                );
            }
        }
    }
}
