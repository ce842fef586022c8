//! `lookalike eval-oneshot --model MODEL_DIR --data DIR`: N-way one-shot classification on
//! classes the model never saw (Koch et al.'s Omniglot benchmark). The work is
//! `lookalike_engine::oneshot`.

use std::path::PathBuf;

use clap::Args;
use lookalike_engine::oneshot::{evaluate_one_shot, OneShotOptions};
use lookalike_engine::EmbedOptions;

use super::model::SimilarityArgs;
use super::progress;

/// Arguments of `lookalike eval-oneshot`.
#[derive(Debug, Args)]
pub struct EvalOneShotArgs {
    #[command(flatten)]
    pub model: SimilarityArgs,
    /// Groups of classes, `DIR/GROUP/CLASS/images` (an alphabet of characters: runs stay inside
    /// one group), or `DIR/CLASS/images` (one group).
    #[arg(long)]
    pub data: PathBuf,
    /// Classes per run: a query is told apart from this many examples, one per class.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(2..=1000))]
    pub ways: u32,
    /// Runs per group; each run is `ways` trials.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub runs: u32,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Runs `lookalike eval-oneshot`.
pub fn run(args: EvalOneShotArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.data.is_dir(),
        "--data {}: no such folder (give DIR/GROUP/CLASS/images or DIR/CLASS/images)",
        args.data.display()
    );
    let model = args.model.load()?;
    let options = OneShotOptions {
        ways: args.ways as usize,
        runs: args.runs as usize,
        seed: args.model.backbone.seed,
    };
    let embed = EmbedOptions {
        preprocess: model.config().map(|c| c.preprocess()).unwrap_or_default(),
        ..EmbedOptions::default()
    };
    let bar = progress::bar(0, "embedding", args.quiet || args.json);
    let (result, skipped) = evaluate_one_shot(&model, &args.data, &options, &embed, |p| {
        bar.set_length(p.total as u64);
        bar.set_position(p.done as u64);
    })?;
    bar.finish_and_clear();
    for s in &skipped {
        eprintln!("skipped {}", s.error);
    }
    if args.json {
        return super::emit(&serde_json::to_string(&result)?);
    }
    let mut lines = vec![
        format!(
            "{}-way one-shot, {} on {} ({} group(s), {} trials, {} images, seed {})",
            result.ways,
            model.describe(),
            args.data.display(),
            result.groups.len(),
            result.trials,
            result.images,
            result.seed
        ),
        format!(
            "accuracy {:.4} ± {:.4} (one standard error; chance {:.4}; {} tied trial(s))",
            result.accuracy, result.standard_error, result.chance, result.tied_trials
        ),
    ];
    let width = result
        .groups
        .iter()
        .map(|g| g.group.len())
        .max()
        .unwrap_or(0);
    for g in &result.groups {
        lines.push(format!(
            "  {:width$}  {:>4} classes  {:>5} trials  {:.4}",
            g.group, g.classes, g.trials, g.accuracy
        ));
    }
    for l in &result.left_out {
        lines.push(format!("left out {}: {}", l.group, l.reason));
    }
    super::emit(&lines.join("\n"))
}
