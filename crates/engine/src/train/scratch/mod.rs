//! One-shot training from scratch: a network with no pretrained weights (`conv4`) and the head,
//! trained end to end on pixels so that training looks like the test.
//!
//! 1. Every drawing of the grouped folder is decoded once into memory ([`Drawings`]); whole
//!    groups (alphabets) are held out to choose the epoch (a fifth of the classes for a flat
//!    folder).
//! 2. With rotation class expansion each training class also appears turned by 90°, 180° and
//!    270°, as three new classes.
//! 3. Each step draws an N-way episode inside one group ([`draw_episode`]; the prototypical loss)
//!    or anchors with a positive and a negative of the same group at a configurable share
//!    ([`draw_triples`]; BCE or contrastive), and distorts every image with Koch et al.'s small
//!    affine maps ([`Distortion`]).
//! 4. After each epoch the held-out groups are scored by N-way one-shot accuracy (Lake's runs,
//!    the evaluator of `eval-oneshot`); the best epoch's weights are kept and training stops
//!    after `patience` epochs without a better one.
//! 5. The similarity is calibrated on pairs of the held-out groups and the checkpoint written,
//!    the trained backbone inside it.

mod distort;
mod drawings;
mod sampling;
mod validate;

use std::path::{Path, PathBuf};

use lookalike_core::backbone::{self, BackboneConfig};
use lookalike_core::dataset;
use lookalike_core::siamese::checkpoint;
use lookalike_core::siamese::{
    prototypical, ModelConfig, SiameseHead, TrainingRecord, CHECKPOINT_FORMAT_VERSION,
};
use lookalike_core::{Backbone, Error, Result, SimilarityModel};
use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};
use tch::nn::{self, OptimizerConfig, VarStore};
use tch::{Device, Kind, Tensor};

pub use distort::{gather_turned, Distortion};
pub use drawings::Drawings;
pub use sampling::{classes_by_group, draw_episode, draw_triples, Episode, Row, TrainClass};
use validate::{pooled_rows, score, validation};

use super::fit::{restore, snapshot, Snapshot};
use super::{head_on, save, EpochReport, TrainEvent, TrainOptions, TrainReport};
use crate::evaluate::evaluate_pooled;

/// How one-shot training from scratch draws its steps and chooses its epoch.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ScratchOptions {
    /// Classes per episode (fewer when a group has fewer).
    pub ways: usize,
    /// Queries per class and episode.
    pub queries: usize,
    /// Steps (episodes or batches of pairs) per epoch.
    pub steps: usize,
    /// Share of episodes inside one group, and of negatives from the anchor's group.
    pub within_group: f64,
    /// Quarter turns as new classes.
    pub rotations: bool,
    /// Koch et al.'s affine distortions.
    pub distort: bool,
    /// Groups held out for early stopping (nested folders).
    pub val_groups: usize,
    /// One-shot runs per held-out group, each epoch.
    pub val_runs: usize,
    /// The learning rate halves every this many epochs.
    pub lr_halving: usize,
}

impl Default for ScratchOptions {
    fn default() -> Self {
        ScratchOptions {
            ways: 20,
            queries: 5,
            steps: 100,
            within_group: 1.0,
            rotations: true,
            distort: true,
            val_groups: 1,
            val_runs: 40,
            lr_halving: 20,
        }
    }
}

/// What a one-shot model's `model.json` records of its training, beside [`TrainingRecord`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OneShotRecord {
    /// The options.
    pub options: ScratchOptions,
    /// The held-out groups (or classes, for a flat folder) that chose the epoch.
    pub held_out: Vec<String>,
    /// Their N-way one-shot accuracy with the kept weights.
    pub val_one_shot: f64,
    /// Trainable classes after rotation expansion.
    pub train_classes: usize,
}

/// Checks what only one-shot training from scratch needs.
pub(super) fn validate(opts: &TrainOptions) -> Result<()> {
    let bad = |m: String| {
        Err(Error::Dataset {
            path: PathBuf::from("options"),
            message: m,
        })
    };
    let name = opts.backbone.name();
    if let Some(w) = &opts.weights {
        return bad(format!(
            "--backbone {name} trains from scratch and has no pretrained weights, but --weights {} \
             asks for some; leave --weights out (a trained {name} model loads with --model DIR)",
            w.display()
        ));
    }
    if opts.fine_tune > 0 {
        return bad(format!(
            "--fine-tune {}: --backbone {name} trains every layer from scratch; leave --fine-tune out",
            opts.fine_tune
        ));
    }
    let side = i64::from(opts.embed.preprocess.crop);
    if side < lookalike_core::backbone::CONV4_MIN_INPUT {
        return bad(format!(
            "--input-size {side}: {name} halves its input four times (2×2 max-pools) and needs at \
             least {m} px; use 28, 56 or 105",
            m = lookalike_core::backbone::CONV4_MIN_INPUT
        ));
    }
    let s = &opts.scratch;
    if s.ways < 2 || s.queries == 0 || s.steps == 0 || s.val_runs == 0 || s.lr_halving == 0 {
        return bad(
            "--ways must be at least 2, and --queries, --steps, --val-runs at least 1".into(),
        );
    }
    if !(0.0..=1.0).contains(&s.within_group) {
        return bad(format!(
            "--within-group {}: a share, between 0 and 1",
            s.within_group
        ));
    }
    Ok(())
}

/// One step's images as a float batch on `device`, distorted when asked.
fn batch(
    d: &Drawings,
    rows: &[Row],
    distortion: Option<&Distortion>,
    device: Device,
    rng: &mut StdRng,
) -> Result<Tensor> {
    let x = gather_turned(&d.pixels, rows)?;
    let x = match distortion {
        Some(dist) => dist.apply(&x, rng)?,
        None => x,
    };
    Ok(x.f_to_device(device)?)
}

/// What every training step reads.
struct Step<'a> {
    backbone: &'a dyn Backbone,
    head: &'a SiameseHead,
    d: &'a Drawings,
    classes: &'a [TrainClass],
    by_group: &'a [Vec<usize>],
    opts: &'a TrainOptions,
    distortion: Option<&'a Distortion>,
}

/// The loss of one training step, or `None` when no episode can be drawn.
fn step_loss(step: &Step<'_>, rng: &mut StdRng) -> Result<Option<Tensor>> {
    let Step {
        backbone,
        head,
        d,
        classes,
        by_group,
        opts,
        distortion,
    } = *step;
    let s = &opts.scratch;
    let device = backbone.device();
    let embed = |rows: &[Row], rng: &mut StdRng| -> Result<Tensor> {
        let x = batch(d, rows, distortion, device, rng)?;
        let pooled = backbone.features(&x)?.pooled;
        Ok(head.embed_train(&pooled, opts.dropout)?)
    };
    if opts.loss.needs_episodes() {
        let Some(ep) = draw_episode(classes, by_group, s.ways, s.queries, s.within_group, rng)
        else {
            return Ok(None);
        };
        let all: Vec<Row> = ep.support.iter().chain(&ep.queries).copied().collect();
        let e = embed(&all, rng)?;
        let n = ep.support.len() as i64;
        let (support, queries) = (
            e.f_narrow(0, 0, n)?,
            e.f_narrow(0, n, all.len() as i64 - n)?,
        );
        let z = head.logit_matrix(&queries, &support)?;
        let target = Tensor::from_slice(&ep.target).f_to_device(device)?;
        return Ok(Some(prototypical(&z, &target)?));
    }
    let triples = draw_triples(classes, by_group, opts.batch_size, s.within_group, rng);
    if triples.is_empty() {
        return Ok(None);
    }
    let rows: Vec<Row> = (0..3)
        .flat_map(|k| triples.iter().map(move |t| t[k]))
        .collect();
    let e = embed(&rows, rng)?;
    let n = triples.len() as i64;
    let (a, p, q) = (
        e.f_narrow(0, 0, n)?,
        e.f_narrow(0, n, n)?,
        e.f_narrow(0, 2 * n, n)?,
    );
    let dist = Tensor::f_cat(&[head.distance(&a, &p)?, head.distance(&a, &q)?], 0)?;
    let y = Tensor::f_cat(
        &[
            Tensor::f_zeros([n], (Kind::Float, device))?,
            Tensor::f_ones([n], (Kind::Float, device))?,
        ],
        0,
    )?;
    Ok(Some(opts.loss.compute(&dist, &y)?))
}

/// Trains `opts.backbone` (from scratch) and the head end to end on `data`; writes `out`.
pub(super) fn train_from_scratch(
    data: &Path,
    out: &Path,
    opts: &TrainOptions,
    mut on_event: impl FnMut(TrainEvent),
) -> Result<TrainReport> {
    validate(opts)?;
    let d = Drawings::read(data, &opts.embed.preprocess, &opts.embed.limits)?;
    let held = d.held_out(data, opts.scratch.val_groups, opts.seed)?;
    let turns: &[u8] = if opts.scratch.rotations {
        &[0, 1, 2, 3]
    } else {
        &[0]
    };
    let classes: Vec<TrainClass> = (0..d.classes.len())
        .filter(|&c| !held[c])
        .flat_map(|c| turns.iter().map(move |&t| (c, t)))
        .map(|(c, t)| TrainClass {
            images: d.images[c].clone(),
            turns: t,
            group: d.class_group[c],
        })
        .collect();
    let by_group = classes_by_group(&classes, d.groups.len());
    let val = validation(&d, &held, opts);

    let mut backbone = backbone::load(&BackboneConfig {
        kind: opts.backbone,
        weights: None,
        device: opts.device,
        inference: false,
        seed: opts.seed as i64,
    })?;
    tch::manual_seed(opts.seed as i64);
    let vs = VarStore::new(opts.device);
    let head = SiameseHead::new(&vs.root(), backbone.channels(), opts.head);
    let adam = nn::AdamW {
        wd: opts.weight_decay,
        ..Default::default()
    };
    let mut head_opt = adam.build(&vs, opts.learning_rate)?;
    let mut net_opt = adam.build(backbone.var_store(), opts.learning_rate)?;
    let distortion = opts.scratch.distort.then(Distortion::default);
    let mut rng = dataset::rng(opts.seed.wrapping_add(1));

    // The epoch, its one-shot accuracy, the head's and the network's weights.
    let mut best: Option<(usize, f64, Snapshot, Snapshot)> = None;
    let mut epochs_run = 0;
    for epoch in 1..=opts.epochs {
        epochs_run = epoch;
        let lr = opts.learning_rate * 0.5f64.powi(((epoch - 1) / opts.scratch.lr_halving) as i32);
        head_opt.set_lr(lr);
        net_opt.set_lr(lr);
        backbone.set_training(true)?;
        let (mut loss_sum, mut steps) = (0.0, 0usize);
        for _ in 0..opts.scratch.steps {
            let step = Step {
                backbone: backbone.as_ref(),
                head: &head,
                d: &d,
                classes: &classes,
                by_group: &by_group,
                opts,
                distortion: distortion.as_ref(),
            };
            let Some(loss) = step_loss(&step, &mut rng)? else {
                break;
            };
            let value = loss.f_double_value(&[])?;
            if !value.is_finite() {
                return Err(Error::Diverged { epoch, loss: value });
            }
            head_opt.zero_grad();
            net_opt.zero_grad();
            loss.f_backward()?;
            head_opt.step();
            net_opt.step();
            loss_sum += value;
            steps += 1;
        }
        backbone.set_training(false)?;
        let pooled = pooled_rows(backbone.as_ref(), &d, &val.rows)?;
        let (one_shot, metrics) =
            score(&head, &pooled, &val, opts.threshold, opts.seed, opts.device)?;
        let improved = best.as_ref().is_none_or(|(_, b, _, _)| one_shot > *b);
        if improved {
            best = Some((
                epoch,
                one_shot,
                snapshot(&vs),
                snapshot(backbone.var_store()),
            ));
        }
        on_event(TrainEvent::Epoch(EpochReport {
            epoch,
            epochs: opts.epochs,
            loss: loss_sum / steps.max(1) as f64,
            val: metrics,
            best: improved,
            one_shot: Some(one_shot),
        }));
        if best
            .as_ref()
            .is_some_and(|(e, ..)| epoch - e >= opts.patience)
        {
            break;
        }
    }
    let (best_epoch, val_one_shot, head_kept, net_kept) = best.expect("at least one epoch ran");
    restore(&vs, &head_kept)?;
    restore(backbone.var_store(), &net_kept)?;

    let pre = &opts.embed.preprocess;
    let mut config = ModelConfig {
        format: checkpoint::CHECKPOINT_FORMAT.into(),
        format_version: CHECKPOINT_FORMAT_VERSION,
        backbone: opts.backbone,
        channels: backbone.channels(),
        embedding_dim: lookalike_core::siamese::EMBEDDING_DIM,
        head: opts.head,
        threshold: opts.threshold,
        resize: pre.resize,
        crop: pre.crop,
        resize_only: pre.resize_only,
        invert: pre.invert,
        training: None,
        calibration: None,
        familiarity: None,
    };
    let pooled = pooled_rows(backbone.as_ref(), &d, &val.rows)?;
    let (head_copy, head_vs) = head_on(&vs, backbone.device(), config.channels, opts.head)?;
    let mut model = SimilarityModel::siamese(backbone, head_copy, head_vs, config.clone());
    let local: Vec<usize> = (0..val.rows.len()).collect();
    let mut notes = vec![format!(
        "the test figures are on the held-out {} ({}), which also chose the epoch",
        if d.nested { "groups" } else { "classes" },
        val.names.join(", ")
    )];
    let pairs = dataset::make_pairs(
        &local,
        &val.labels,
        &mut dataset::rng(opts.seed.wrapping_add(2)),
    );
    match super::calibrate::fit_calibration(&model, &pooled, &pairs) {
        Ok(c) => {
            model.set_calibration(Some(c));
            config.calibration = Some(c);
        }
        Err(e) => notes.push(format!("the similarity is not calibrated: {e}")),
    }
    let test = evaluate_pooled(&model, &pooled, &val.labels, &local, opts.seed)?;
    let held_classes = held.iter().filter(|&&h| h).count();
    let total = d.classes.len() as f64;
    config.training = Some(TrainingRecord {
        data: data.display().to_string(),
        classes: d.classes.clone(),
        seed: opts.seed,
        split: [
            (total - held_classes as f64) / total,
            held_classes as f64 / total,
            0.0,
        ],
        loss: opts.loss,
        learning_rate: opts.learning_rate,
        batch_size: opts.batch_size,
        augment: 0,
        fine_tune: 0,
        dropout: opts.dropout,
        weight_decay: opts.weight_decay,
        epochs: epochs_run,
        best_epoch,
        val_auc: test.pairs.roc_auc.unwrap_or(f64::NAN),
        test: test.to_map(),
        one_shot: Some(
            serde_json::to_value(OneShotRecord {
                options: opts.scratch,
                held_out: val.names.clone(),
                val_one_shot,
                train_classes: classes.len(),
            })
            .map_err(|e| Error::Checkpoint {
                path: out.to_path_buf(),
                message: e.to_string(),
            })?,
        ),
    });
    save(out, &vs, model.backbone(), &config)?;
    let train_images: usize = (0..d.classes.len())
        .filter(|&c| !held[c])
        .map(|c| d.images[c].len())
        .sum();
    Ok(TrainReport {
        config,
        test,
        skipped: d.skipped,
        split_sizes: [train_images, val.rows.len(), 0],
        notes,
    })
}
