//! `lookalike train --data DIR --out MODEL_DIR`: a Siamese head on a labelled folder.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use lookalike_core::parse_device;
use lookalike_core::siamese::{HeadKind, Loss};
use lookalike_core::Preprocess;
use lookalike_engine::train::{train, ScratchOptions, TrainEvent, TrainOptions};
use lookalike_engine::EmbedOptions;

use super::model::ModelArgs;
use super::progress;

/// Arguments of `lookalike train`.
#[derive(Debug, Args)]
pub struct TrainArgs {
    /// A labelled folder: one subfolder of images per class. With --backbone conv4 also a
    /// grouped one, DIR/GROUP/CLASS/images (an alphabet of characters).
    #[arg(long)]
    pub data: PathBuf,
    /// The model folder to write (model.json, head.safetensors, backbone.safetensors).
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub model: ModelArgs,
    /// Pair head: metric (w ≥ 0, an L1 index ranks as the head) or paper (free w).
    #[arg(long, default_value = "metric", value_parser = HeadKind::parse)]
    pub head: HeadKind,
    /// Loss: bce (default; d is then a calibrated probability for the 0.5 threshold) or contrastive (the paper's, margin 2).
    #[arg(long, default_value = "bce", value_parser = Loss::parse)]
    pub loss: Loss,
    /// Adam's learning rate.
    #[arg(long, default_value_t = 1e-3)]
    pub lr: f64,
    /// Pairs per step.
    #[arg(long, default_value_t = 64)]
    pub batch_size: usize,
    /// At most this many epochs.
    #[arg(long, default_value_t = 60)]
    pub epochs: usize,
    /// Stop after this many epochs without a better validation ROC AUC.
    #[arg(long, default_value_t = 8)]
    pub patience: usize,
    /// Train, validation and test fractions of each class.
    #[arg(long, default_value = "0.7,0.15,0.15", value_parser = parse_split)]
    pub split: [f64; 3],
    /// Extra randomly augmented views of each training image (flip, crop, light).
    #[arg(long, default_value_t = 2)]
    pub augment: usize,
    /// Fine-tune the backbone's last N units (blocks) with the head, from cached feature
    /// maps; 0 keeps the backbone frozen. EfficientNet-Lite0 has 18 units (stem, 16 blocks,
    /// head): `--fine-tune 2` trains the last block and the head convolution.
    #[arg(long, default_value_t = 0)]
    pub fine_tune: usize,
    /// Dropout on the head's input while training.
    #[arg(long, default_value_t = 0.3)]
    pub dropout: f64,
    /// Weight decay (AdamW).
    #[arg(long, default_value_t = 0.0)]
    pub weight_decay: f64,
    /// "Same" when d < threshold.
    #[arg(long, default_value_t = 0.5)]
    pub threshold: f64,
    /// The network's input side in pixels (conv4: 28 by default; 56 or 105 keep more of a
    /// drawing for the explanations). Pretrained backbones: the crop (224).
    #[arg(long, value_name = "PX")]
    pub input_size: Option<u32>,
    /// Resize the whole image to the input size, with no 256 → 224 centre crop (which cuts 6 %
    /// of each side of a drawing).
    #[arg(long)]
    pub resize_only: bool,
    /// Invert the ink: dark strokes on white become bright on black.
    #[arg(long)]
    pub invert: bool,
    #[command(flatten)]
    pub one_shot: OneShotTrainArgs,
    /// Print the final summary as JSON.
    #[arg(long)]
    pub json: bool,
    /// No progress bar or per-epoch lines.
    #[arg(long, short)]
    pub quiet: bool,
}

/// How `--backbone conv4` trains one-shot, end to end.
#[derive(Debug, Args)]
pub struct OneShotTrainArgs {
    /// conv4: classes per episode (within one group), for --loss prototypical.
    #[arg(long, default_value_t = 20)]
    pub ways: usize,
    /// conv4: queries per class and episode.
    #[arg(long, default_value_t = 5)]
    pub queries: usize,
    /// conv4: training steps (episodes, or batches of pairs) per epoch.
    #[arg(long, default_value_t = 100)]
    pub steps: usize,
    /// conv4: the share of episodes drawn inside one group, and of negatives drawn from the
    /// anchor's own group (0 to 1).
    #[arg(long, default_value_t = 1.0)]
    pub within_group: f64,
    /// conv4: no rotation class expansion (by default each class also appears turned by 90°,
    /// 180° and 270°, as new classes).
    #[arg(long)]
    pub no_rotations: bool,
    /// conv4: no affine distortions (by default Koch et al.'s: rotation ±10°, shear ±0.3,
    /// scale 0.8–1.2, shift ±2 px; never a flip).
    #[arg(long)]
    pub no_distort: bool,
    /// conv4: groups held out of a grouped folder to choose the epoch by one-shot accuracy.
    #[arg(long, default_value_t = 1)]
    pub val_groups: usize,
    /// conv4: one-shot runs per held-out group after each epoch.
    #[arg(long, default_value_t = 40)]
    pub val_runs: usize,
    /// conv4: the learning rate halves every this many epochs.
    #[arg(long, default_value_t = 20)]
    pub lr_halving: usize,
}

fn parse_split(s: &str) -> Result<[f64; 3], String> {
    let parts: Vec<f64> = s
        .split(',')
        .map(|p| p.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    match parts[..] {
        [a, b, c] if parts.iter().all(|f| f.is_finite() && *f > 0.0) => Ok([a, b, c]),
        _ => Err("expected three positive fractions, like 0.7,0.15,0.15".into()),
    }
}

/// The preprocessing `--input-size`, `--resize-only` and `--invert` ask for.
fn preprocess(args: &TrainArgs) -> Preprocess {
    let default = Preprocess::default();
    let side = args
        .input_size
        .unwrap_or(if args.model.backbone.from_scratch() {
            28
        } else {
            default.crop
        });
    Preprocess {
        // The pretrained networks' 256 → 224 ratio, unless there is no crop.
        resize: if args.resize_only {
            side
        } else {
            (f64::from(side) * f64::from(default.resize) / f64::from(default.crop)).round() as u32
        },
        crop: side,
        resize_only: args.resize_only,
        invert: args.invert,
    }
}

/// Runs `lookalike train`.
pub fn run(args: TrainArgs) -> anyhow::Result<()> {
    let o = &args.one_shot;
    let opts = TrainOptions {
        backbone: args.model.backbone,
        weights: args.model.weights.clone(),
        device: parse_device(&args.model.device)?,
        head: args.head,
        loss: args.loss,
        learning_rate: args.lr,
        batch_size: args.batch_size,
        epochs: args.epochs,
        patience: args.patience,
        seed: args.model.seed,
        split: args.split,
        augment: args.augment,
        fine_tune: args.fine_tune,
        dropout: args.dropout,
        weight_decay: args.weight_decay,
        threshold: args.threshold,
        embed: EmbedOptions {
            preprocess: preprocess(&args),
            ..EmbedOptions::default()
        },
        scratch: ScratchOptions {
            ways: o.ways,
            queries: o.queries,
            steps: o.steps,
            within_group: o.within_group,
            rotations: !o.no_rotations,
            distort: !o.no_distort,
            val_groups: o.val_groups,
            val_runs: o.val_runs,
            lr_halving: o.lr_halving,
        },
    };
    let hidden = args.quiet || args.json;
    let mut bar = progress::bar(0, "embedding", hidden);
    let mut view = usize::MAX;
    let report = train(&args.data, &args.out, &opts, |event| match event {
        TrainEvent::Embedding { view: v, progress } => {
            if v != view {
                bar.finish_and_clear();
                let what = if v == 0 {
                    "embedding".to_string()
                } else {
                    format!("augmented view {v}/{}", opts.augment)
                };
                bar = progress::bar(progress.total, &what, hidden);
                view = v;
            }
            bar.set_position(progress.done as u64);
        }
        TrainEvent::Epoch(e) => {
            bar.finish_and_clear();
            if !hidden {
                // One-shot training chooses its epoch by one-shot accuracy; its head is not
                // calibrated yet, so a pair accuracy at the threshold would mean nothing.
                let figures = match e.one_shot {
                    Some(a) => format!("val one-shot {a:.3}"),
                    None => format!("val accuracy {:.3}", e.val.pair_accuracy),
                };
                eprintln!(
                    "epoch {:>3}/{}  loss {:.4}  {figures}  val AUC {:.3}{}",
                    e.epoch,
                    e.epochs,
                    e.loss,
                    e.val.roc_auc.unwrap_or(f64::NAN),
                    if e.best { "  *" } else { "" }
                );
            }
        }
    })
    .with_context(|| format!("training on {}", args.data.display()))?;
    for s in &report.skipped {
        eprintln!("skipped {}", s.error);
    }
    for note in &report.notes {
        eprintln!("note: {note}");
    }
    let training = report.config.training.as_ref().expect("train records how");
    if args.json {
        let summary = serde_json::json!({
            "model": args.out,
            "epochs": training.epochs,
            "best_epoch": training.best_epoch,
            "val_auc": training.val_auc,
            "skipped": report.skipped.len(),
            "split": report.split_sizes,
            "test": report.test,
            "calibration": report.config.calibration,
            "one_shot": training.one_shot,
        });
        println!("{summary}");
    } else {
        let t = &report.test;
        println!(
            "trained a {:?} head on {} ({} classes; {} train / {} val / {} test images, {} skipped) in {} epochs, kept epoch {} (val AUC {:.3})",
            opts.head,
            args.data.display(),
            training.classes.len(),
            report.split_sizes[0],
            report.split_sizes[1],
            report.split_sizes[2],
            report.skipped.len(),
            training.epochs,
            training.best_epoch,
            training.val_auc
        );
        println!(
            "test: pair accuracy {:.3}, ROC AUC {:.3}, F1 {:.3}, precision@10 {:.3}, mAP {:.3}, calibration error {:.3} ({} pairs)",
            t.pairs.pair_accuracy,
            t.pairs.roc_auc.unwrap_or(f64::NAN),
            t.pairs.f1,
            t.precision_at_10,
            t.map,
            t.ece,
            t.pairs.pairs
        );
        if let Some(c) = &report.config.calibration {
            println!(
                "calibrated on {} validation pairs: similarity = sigmoid({:.4} * logit + {:.4})",
                c.pairs, c.scale, c.offset
            );
        }
        println!("model: {}", args.out.display());
    }
    Ok(())
}
