//! `lookalike report --model MODEL_DIR --data DIR --out DIR`: an HTML report of a model on a
//! labelled folder (metrics, ROC curve, similarity histogram, explained example pairs,
//! faithfulness of every explainer). The work is `lookalike_engine::report`.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use lookalike_engine::evaluate::Subset;
use lookalike_engine::report::{write_report, ReportOptions, Stage};
use lookalike_engine::EmbedOptions;

use super::eval::SplitArg;
use super::explainers::{registry, MethodArgs};
use super::model::SimilarityArgs;
use super::progress;

/// Arguments of `lookalike report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    #[command(flatten)]
    pub model: SimilarityArgs,
    #[command(flatten)]
    pub method: MethodArgs,
    /// A labelled folder: one subfolder of images per class.
    #[arg(long)]
    pub data: PathBuf,
    /// The report folder (index.html and its images); an earlier report there is replaced.
    #[arg(long)]
    pub out: PathBuf,
    /// Which images, as `lookalike eval --split`; the pairs are drawn with --seed. Default: the
    /// held-out test split for a model trained by `lookalike train`, every image otherwise.
    #[arg(long, value_enum)]
    pub split: Option<SplitArg>,
    /// Same-class pairs whose explanations are measured for faithfulness (the slow part).
    #[arg(long, default_value_t = 8)]
    pub pairs: usize,
    /// Example pairs shown of each kind: confident same, confident different, near the
    /// threshold.
    #[arg(long, default_value_t = 3)]
    pub examples: usize,
    /// Steps of each deletion and insertion curve.
    #[arg(long, default_value_t = 12)]
    pub steps: usize,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Runs `lookalike report`.
pub fn run(args: ReportArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.data.is_dir(),
        "--data {}: no such folder (a labelled folder has one subfolder of images per class)",
        args.data.display()
    );
    let dir = std::path::Path::new(&args.model.model);
    if args.model.model != "zero-shot" {
        anyhow::ensure!(
            dir.is_dir(),
            "--model {}: no such folder (pass a folder written by `lookalike train`, or zero-shot)",
            dir.display()
        );
        anyhow::ensure!(
            dir.join("model.json").is_file(),
            "--model {}: not a model folder (no model.json; `lookalike train` writes one)",
            dir.display()
        );
    }
    let model = args.model.load()?;
    let trained = model.config().is_some_and(|c| c.training.is_some());
    let subset = match args.split {
        Some(SplitArg::All) => Subset::All,
        Some(SplitArg::Test) if !trained => anyhow::bail!(
            "--split test needs a model trained by `lookalike train`, which records its split"
        ),
        Some(SplitArg::Test) => Subset::Test,
        None if trained => Subset::Test,
        None => Subset::All,
    };
    let registry = registry();
    let (explainer, layer, boxes) = args.method.resolve(&registry, model.backbone().units())?;
    let options = ReportOptions {
        data: args.data.clone(),
        out: args.out.clone(),
        subset,
        seed: args.model.backbone.seed,
        examples: args.examples,
        pairs: args.pairs,
        steps: args.steps,
        explainer,
        methods: registry.all().collect(),
        layer,
        boxes,
        embed: EmbedOptions {
            preprocess: model.config().map(|c| c.preprocess()).unwrap_or_default(),
            ..EmbedOptions::default()
        },
    };
    let bar = progress::bar(0, "embedding", args.quiet);
    let report = write_report(&model, &options, |stage| match stage {
        Stage::Embedding(done, total) => {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        }
        Stage::Examples => bar.set_message("explaining examples"),
        Stage::Faithfulness(done, total) => {
            bar.set_message("faithfulness");
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        }
    })
    .with_context(|| format!("writing the report {}", args.out.display()))?;
    bar.finish_and_clear();
    let p = &report.evaluation.pairs;
    println!(
        "wrote {} ({} images, {} pairs: pair accuracy {:.3}, ROC AUC {}; {} example pairs; \
         faithfulness on {} pairs) in {:.1} s",
        args.out.join("index.html").display(),
        report.evaluation.images,
        p.pairs,
        p.pair_accuracy,
        p.roc_auc.map_or("n/a".into(), |a| format!("{a:.3}")),
        report.examples.len(),
        report.faithfulness.pairs,
        report.seconds
    );
    Ok(())
}
