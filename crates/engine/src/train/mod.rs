//! `lookalike train`: a Siamese head on a labelled folder, over a frozen pretrained backbone.
//!
//! 1. Embed every image once with the backbone (decoding in parallel; bad files skipped), plus
//!    `augment` random views of each training image.
//! 2. Split by image, per class, seeded, into train / validation / test.
//! 3. Each epoch, draw the paper's pairs from the training images afresh (one same-class and
//!    one different-class partner per anchor) and fit the head with Adam on cached features.
//! 4. Keep the weights with the best validation ROC AUC; stop after `patience` epochs without
//!    improvement.
//! 5. Calibrate the head's logit on the validation pairs (Platt scaling, [`calibrate`]).
//! 6. Measure the held-out test split and write the checkpoint (model.json written last).

use std::path::{Path, PathBuf};

use lookalike_core::backbone::{self, BackboneConfig};
use lookalike_core::dataset::{self, LabelledFolder};
use lookalike_core::image::{augment, decode_file};
use lookalike_core::metrics::PairMetrics;
use lookalike_core::siamese::checkpoint::{self, BACKBONE_FILE, HEAD_FILE};
use lookalike_core::siamese::{
    HeadKind, Loss, ModelConfig, SiameseHead, TrainingRecord, CHECKPOINT_FORMAT_VERSION,
};
use lookalike_core::{BackboneKind, Error, Result, SimilarityModel};
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

use crate::embed::{embed_with, EmbedOptions, Progress, Skipped};
use crate::evaluate::{embed_folder, evaluate_pooled, Evaluation};

pub mod calibrate;
mod fit;
pub mod scratch;

pub use fit::{fit_head, pooled_all, FeatureViews, FittedHead, Top};
pub use scratch::{OneShotRecord, ScratchOptions};

/// How to train.
#[derive(Debug, Clone)]
pub struct TrainOptions {
    /// The frozen backbone.
    pub backbone: BackboneKind,
    /// Its weights (`None`: the set-up's).
    pub weights: Option<PathBuf>,
    /// Where the backbone runs; the head trains on the CPU.
    pub device: Device,
    /// The pair head's form.
    pub head: HeadKind,
    /// The loss.
    pub loss: Loss,
    /// Adam's learning rate.
    pub learning_rate: f64,
    /// Pairs per step.
    pub batch_size: usize,
    /// At most this many epochs.
    pub epochs: usize,
    /// Stop after this many epochs without a better validation AUC.
    pub patience: usize,
    /// Seed of everything random.
    pub seed: u64,
    /// Train, validation and test fractions.
    pub split: [f64; 3],
    /// Extra augmented views per training image (0: none).
    pub augment: usize,
    /// Fine-tune the backbone's last this many units (0: frozen backbone).
    pub fine_tune: usize,
    /// Dropout on the head's input while training.
    pub dropout: f64,
    /// Adam's weight decay (decoupled, as AdamW).
    pub weight_decay: f64,
    /// "Same" when `d < threshold`.
    pub threshold: f64,
    /// Decoding and preprocessing.
    pub embed: EmbedOptions,
    /// Episodes, negatives, expansion and distortions of one-shot training from scratch
    /// (`conv4`).
    pub scratch: ScratchOptions,
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions {
            backbone: BackboneKind::EfficientNetLite0,
            weights: None,
            device: Device::Cpu,
            head: HeadKind::Metric,
            loss: Loss::Bce,
            learning_rate: 1e-3,
            batch_size: 64,
            epochs: 60,
            patience: 8,
            seed: 0,
            split: [0.7, 0.15, 0.15],
            augment: 2,
            fine_tune: 0,
            dropout: 0.3,
            weight_decay: 0.0,
            threshold: 0.5,
            embed: EmbedOptions::default(),
            scratch: ScratchOptions::default(),
        }
    }
}

/// What training reports as it goes.
#[derive(Debug, Clone)]
pub enum TrainEvent {
    /// Embedding images (`view` 0 is the plain images, then the augmented views).
    Embedding {
        /// Which view.
        view: usize,
        /// Progress within it.
        progress: Progress,
    },
    /// An epoch finished.
    Epoch(EpochReport),
}

/// One epoch's figures.
#[derive(Debug, Clone)]
pub struct EpochReport {
    /// 1-based.
    pub epoch: usize,
    /// The most epochs that will run.
    pub epochs: usize,
    /// Mean training loss.
    pub loss: f64,
    /// Validation pair metrics.
    pub val: PairMetrics,
    /// Whether these weights are the best so far.
    pub best: bool,
    /// N-way one-shot accuracy on the held-out groups (one-shot training from scratch).
    pub one_shot: Option<f64>,
}

/// The outcome of a training run.
#[derive(Debug)]
pub struct TrainReport {
    /// What was written to `model.json`.
    pub config: ModelConfig,
    /// The held-out test figures.
    pub test: Evaluation,
    /// Images left out because they could not be decoded.
    pub skipped: Vec<Skipped>,
    /// Images used, by split: train, validation, test.
    pub split_sizes: [usize; 3],
    /// Things the user should know (an uncalibrated similarity).
    pub notes: Vec<String>,
}

/// Trains a Siamese head on `data` and writes the checkpoint to `out`. A backbone without
/// pretrained weights (`conv4`) trains end to end with it, one-shot style ([`scratch`]).
pub fn train(
    data: &Path,
    out: &Path,
    opts: &TrainOptions,
    mut on_event: impl FnMut(TrainEvent),
) -> Result<TrainReport> {
    validate(opts)?;
    if opts.backbone.from_scratch() {
        return scratch::train_from_scratch(data, out, opts, on_event);
    }
    if opts.loss.needs_episodes() {
        return Err(Error::Dataset {
            path: PathBuf::from("options"),
            message: format!(
                "--loss prototypical trains on episodes, which only end-to-end training from                  scratch draws (--backbone conv4); with {} use bce or contrastive",
                opts.backbone
            ),
        });
    }
    if crate::oneshot::GroupedFolder::read(data).is_ok_and(|g| g.nested) {
        return Err(Error::Dataset {
            path: data.to_path_buf(),
            message: format!(
                "a grouped folder (DIR/GROUP/CLASS/images): one-shot training on groups trains                  from scratch (--backbone conv4); a pretrained {} trains on DIR/CLASS/images",
                opts.backbone
            ),
        });
    }
    let weights = lookalike_core::weights::resolve(opts.backbone, opts.weights.as_deref());
    let config = BackboneConfig {
        kind: opts.backbone,
        weights: weights.as_deref(),
        device: opts.device,
        // Fine-tuning trains the batch norms' scale and shift, so they stay unfolded.
        inference: opts.fine_tune == 0,
        seed: opts.seed as i64,
    };
    let mut backbone = backbone::load(&config)?;
    let units = backbone.units();
    if opts.fine_tune >= units {
        return Err(Error::Dataset {
            path: PathBuf::from("options"),
            message: format!(
                "--fine-tune {}: {} has {units} units; fine-tune at most {}",
                opts.fine_tune,
                opts.backbone,
                units - 1
            ),
        });
    }
    // What is cached: pooled vectors, or the maps the trainable units start from.
    let cut = (opts.fine_tune > 0).then(|| units - opts.fine_tune);
    let embedded = embed_folder(backbone.as_ref(), data, &opts.embed, cut, |p| {
        on_event(TrainEvent::Embedding {
            view: 0,
            progress: p,
        })
    })?;
    let folder = embedded.folder;
    check_classes(&folder)?;
    let split = dataset::split(&folder.labels, opts.split, opts.seed);
    if split.val.is_empty() || split.test.is_empty() {
        return Err(Error::Dataset {
            path: data.to_path_buf(),
            message:
                "too few images for a validation and a test split (each class needs at least 3)"
                    .into(),
        });
    }
    let views = augmented_views(
        backbone.as_ref(),
        &folder,
        &split.train,
        &embedded.pooled,
        cut,
        opts,
        &mut on_event,
    )?;
    // All views stacked: row `i + N·v` is image i's view v (view 0 is the plain image).
    let (n_images, n_views) = (folder.images.len(), views.len() + 1);
    let table = Tensor::f_cat(
        &std::iter::once(&embedded.pooled)
            .chain(&views)
            .collect::<Vec<_>>(),
        0,
    )?;
    let features = FeatureViews {
        table,
        n_images,
        n_views,
    };

    let shape = match cut {
        Some(k) => {
            backbone.train_last(opts.fine_tune)?;
            let probe = Tensor::f_zeros(
                [
                    1,
                    3,
                    i64::from(opts.embed.preprocess.crop),
                    i64::from(opts.embed.preprocess.crop),
                ],
                (Kind::Float, backbone.device()),
            )?;
            tch::no_grad(|| backbone.forward_units(&probe, 0, k))?.size()[1..].to_vec()
        }
        None => Vec::new(),
    };
    let top = cut.map(|from| Top {
        backbone: backbone.as_ref(),
        from,
        shape,
    });
    let fitted = fit_head(&features, &folder.labels, &split, opts, top.as_ref(), |e| {
        on_event(TrainEvent::Epoch(e))
    })?;
    let pooled = pooled_all(&features, top.as_ref())?;
    drop(top);
    let FittedHead {
        vs,
        best_epoch,
        val_auc,
        epochs: epochs_run,
    } = fitted;

    let mut config = ModelConfig {
        format: checkpoint::CHECKPOINT_FORMAT.into(),
        format_version: CHECKPOINT_FORMAT_VERSION,
        backbone: opts.backbone,
        channels: backbone.channels(),
        embedding_dim: lookalike_core::siamese::EMBEDDING_DIM,
        head: opts.head,
        threshold: opts.threshold,
        resize: opts.embed.preprocess.resize,
        crop: opts.embed.preprocess.crop,
        resize_only: opts.embed.preprocess.resize_only,
        invert: opts.embed.preprocess.invert,
        training: None,
        calibration: None,
        familiarity: None,
    };
    let (head, head_vs) = head_on(&vs, backbone.device(), config.channels, opts.head)?;
    let mut model = SimilarityModel::siamese(backbone, head, head_vs, config.clone());
    // Calibrated on the validation pairs, the ones that chose the epoch; the test split stays
    // unseen, so its calibration error is an honest one.
    // A split too small for it (fewer than two pairs of each kind) leaves the model
    // uncalibrated, with a note, rather than failing the training.
    let mut notes = Vec::new();
    match calibrate::fit_calibration(
        &model,
        &pooled,
        &fit::val_pairs(&folder.labels, &split.val, opts.seed),
    ) {
        Ok(calibration) => {
            model.set_calibration(Some(calibration));
            config.calibration = Some(calibration);
        }
        Err(e) => notes.push(format!("the similarity is not calibrated: {e}")),
    }
    // The transfer gate's reference: the validation images, of the trained classes but
    // never fitted, as a new catalogue's images would be.
    config.familiarity = crate::familiarity::fit_profile(&model, &pooled, &split.val)?;
    if config.familiarity.is_none() {
        notes.push(format!(
            "too few validation images ({}) to record how familiar a catalogue is; the transfer \
             gate stays off for this model",
            split.val.len()
        ));
    }
    let test = evaluate_pooled(&model, &pooled, &folder.labels, &split.test, opts.seed)?;
    config.training = Some(TrainingRecord {
        data: data.display().to_string(),
        classes: folder.classes.clone(),
        seed: opts.seed,
        split: opts.split,
        loss: opts.loss,
        learning_rate: opts.learning_rate,
        batch_size: opts.batch_size,
        augment: opts.augment,
        fine_tune: opts.fine_tune,
        dropout: opts.dropout,
        weight_decay: opts.weight_decay,
        epochs: epochs_run,
        best_epoch,
        val_auc,
        test: test.to_map(),
        one_shot: None,
    });
    save(out, &vs, model.backbone(), &config)?;
    Ok(TrainReport {
        config,
        test,
        skipped: embedded.skipped,
        split_sizes: [split.train.len(), split.val.len(), split.test.len()],
        notes,
    })
}

pub(super) fn validate(opts: &TrainOptions) -> Result<()> {
    let bad = |m: &str| {
        Err(Error::Dataset {
            path: PathBuf::from("options"),
            message: m.into(),
        })
    };
    if !(opts.learning_rate.is_finite() && opts.learning_rate > 0.0 && opts.learning_rate <= 10.0) {
        return bad("--lr must be a positive number, at most 10");
    }
    if opts.batch_size == 0 || opts.epochs == 0 {
        return bad("--batch-size and --epochs must be at least 1");
    }
    if opts.split.iter().any(|f| !f.is_finite() || *f <= 0.0) {
        return bad("the split fractions must be positive");
    }
    if !(0.0..1.0).contains(&opts.dropout) || opts.weight_decay.is_nan() || opts.weight_decay < 0.0
    {
        return bad("--dropout must be in [0, 1) and --weight-decay at least 0");
    }
    if !(0.0..=1.0).contains(&opts.threshold) {
        return bad("--threshold must be between 0 and 1");
    }
    Ok(())
}

fn check_classes(folder: &LabelledFolder) -> Result<()> {
    for (c, name) in folder.classes.iter().enumerate() {
        if !folder.labels.contains(&c) {
            return Err(Error::Dataset {
                path: folder.root.clone(),
                message: format!("class {name:?} has no image that could be decoded"),
            });
        }
    }
    Ok(())
}

/// `augment` extra views of the training images (other rows copy the plain features).
fn augmented_views(
    backbone: &dyn lookalike_core::Backbone,
    folder: &LabelledFolder,
    train: &[usize],
    pooled: &Tensor,
    until: Option<usize>,
    opts: &TrainOptions,
    on_event: &mut impl FnMut(TrainEvent),
) -> Result<Vec<Tensor>> {
    let paths: Vec<PathBuf> = train.iter().map(|&i| folder.images[i].clone()).collect();
    let mut views = Vec::new();
    for view in 1..=opts.augment {
        let seed = opts
            .seed
            .wrapping_mul(1_000_003)
            .wrapping_add(view as u64 * 7919);
        let load = |j: usize, path: &Path| {
            decode_file(path, &opts.embed.limits).map(|img| {
                opts.embed
                    .preprocess
                    .apply(&augment(&img, seed.wrapping_add(train[j] as u64)))
            })
        };
        let done = embed_with(backbone, &paths, opts.embed.batch_size, until, load, |p| {
            on_event(TrainEvent::Embedding { view, progress: p })
        })?;
        if let Some(s) = done.skipped.first() {
            // Rows must line up with `train`: an image that decoded before must decode again.
            return Err(Error::Dataset {
                path: folder.root.clone(),
                message: format!("an image changed while training: {}", s.error),
            });
        }
        let fresh =
            Tensor::from_slice(&done.vectors).f_view([done.paths.len() as i64, done.dim as i64])?;
        let mut all = pooled.copy();
        let idx = Tensor::from_slice(&train.iter().map(|&i| i as i64).collect::<Vec<_>>());
        let _ = all.f_index_copy_(0, &idx, &fresh)?;
        views.push(all);
    }
    Ok(views)
}

/// A copy of the trained head on `device`, frozen, for evaluation.
pub(super) fn head_on(
    vs: &VarStore,
    device: Device,
    channels: i64,
    kind: HeadKind,
) -> Result<(SiameseHead, VarStore)> {
    let mut copy = VarStore::new(device);
    let head = SiameseHead::new(&copy.root(), channels, kind);
    copy.copy(vs)?;
    copy.freeze();
    Ok((head, copy))
}

/// Writes the checkpoint: weights first under temporary names, then `model.json`.
pub(super) fn save(
    out: &Path,
    head: &VarStore,
    backbone: &dyn lookalike_core::Backbone,
    config: &ModelConfig,
) -> Result<()> {
    let io = |e: std::io::Error| Error::Checkpoint {
        path: out.to_path_buf(),
        message: e.to_string(),
    };
    std::fs::create_dir_all(out).map_err(io)?;
    let head_path = out.join(HEAD_FILE);
    let backbone_path = out.join(BACKBONE_FILE);
    let (head_tmp, backbone_tmp) = (tmp_name(&head_path), tmp_name(&backbone_path));
    head.save(&head_tmp)?;
    backbone.save_weights(&backbone_tmp)?;
    std::fs::rename(&head_tmp, &head_path).map_err(io)?;
    std::fs::rename(&backbone_tmp, &backbone_path).map_err(io)?;
    checkpoint::write_config(out, config)
}

/// `x.safetensors` → `.x.tmp-PID.safetensors` (tch picks the format by extension).
fn tmp_name(path: &Path) -> PathBuf {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{stem}.tmp-{}.safetensors", std::process::id()))
}
