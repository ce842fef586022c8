//! `lookalike eval-oneshot --model MODEL_DIR --data DIR`: N-way one-shot classification on
//! classes the model never saw (Koch et al.'s Omniglot benchmark), or `--lake-runs DIR`: Lake et
//! al.'s own 20 runs. `--model mhd` measures the Modified Hausdorff Distance on ink instead of a
//! network. The work is `lookalike_engine::oneshot`.

use std::path::PathBuf;

use clap::Args;
use lookalike_engine::oneshot::{evaluate_lake_runs, evaluate_one_shot, Measure, OneShotOptions};
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
    #[arg(
        long,
        required_unless_present = "lake_runs",
        conflicts_with = "lake_runs"
    )]
    pub data: Option<PathBuf>,
    /// Lake et al.'s 20 runs (Omniglot's all_runs.zip unpacked): `DIR/runNN/class_labels.txt`,
    /// `training/` and `test/`. Prints the error of each run and the mean.
    #[arg(long, value_name = "DIR")]
    pub lake_runs: Option<PathBuf>,
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
    let (flag, dir) = match (&args.data, &args.lake_runs) {
        (Some(d), _) => ("--data", d),
        (None, Some(d)) => ("--lake-runs", d),
        (None, None) => anyhow::bail!("give --data DIR or --lake-runs DIR"),
    };
    anyhow::ensure!(dir.is_dir(), "{flag} {}: no such folder", dir.display());
    let model = if args.model.model == "mhd" {
        None
    } else {
        Some(args.model.load()?)
    };
    let measure = match &model {
        Some(m) => Measure::Model(m),
        None => Measure::ModifiedHausdorff,
    };
    let embed = EmbedOptions {
        preprocess: model
            .as_ref()
            .and_then(|m| m.config())
            .map(|c| c.preprocess())
            .unwrap_or_default(),
        ..EmbedOptions::default()
    };
    let bar = progress::bar(0, "embedding", args.quiet || args.json);
    let on_progress = |p: lookalike_engine::Progress| {
        bar.set_length(p.total as u64);
        bar.set_position(p.done as u64);
    };
    if let Some(runs) = &args.lake_runs {
        let result = evaluate_lake_runs(&measure, runs, &embed, on_progress)?;
        bar.finish_and_clear();
        if args.json {
            return super::emit(&serde_json::to_string(&result)?);
        }
        let mut lines = vec![
            format!(
                "Lake's one-shot runs, {} on {} ({} runs, {} images)",
                result.measure,
                runs.display(),
                result.runs.len(),
                result.images
            ),
            format!(
                "mean error {:.1} % ± {:.1} % (standard error over runs); accuracy {:.4}",
                100.0 * result.mean_error,
                100.0 * result.standard_error,
                result.accuracy
            ),
        ];
        for r in &result.runs {
            lines.push(format!(
                "  {}  {:>3} queries  error {:.1} %",
                r.run,
                r.trials,
                100.0 * r.error
            ));
        }
        return super::emit(&lines.join("\n"));
    }
    let options = OneShotOptions {
        ways: args.ways as usize,
        runs: args.runs as usize,
        seed: args.model.backbone.seed,
    };
    let (result, skipped) = evaluate_one_shot(&measure, dir, &options, &embed, on_progress)?;
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
            measure.describe(),
            dir.display(),
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
