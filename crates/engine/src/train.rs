//! `lookalike train`: a Siamese head on a labelled folder, over a frozen pretrained backbone.
//!
//! 1. Embed every image once with the backbone (decoding in parallel; bad files skipped), plus
//!    `augment` random views of each training image.
//! 2. Split by image, per class, seeded, into train / validation / test.
//! 3. Each epoch, draw the paper's pairs from the training images afresh (one same-class and
//!    one different-class partner per anchor) and fit the head with Adam on cached features.
//! 4. Keep the weights with the best validation ROC AUC; stop after `patience` epochs without
//!    improvement.
//! 5. Measure the held-out test split and write the checkpoint (model.json written last).

use std::path::{Path, PathBuf};

use lookalike_core::backbone::{self, BackboneConfig};
use lookalike_core::dataset::{self, LabelledFolder, Pair};
use lookalike_core::image::{augment, decode_file};
use lookalike_core::metrics::PairMetrics;
use lookalike_core::siamese::checkpoint::{self, BACKBONE_FILE, HEAD_FILE};
use lookalike_core::siamese::{
    HeadKind, Loss, ModelConfig, SiameseHead, TrainingRecord, CHECKPOINT_FORMAT_VERSION,
};
use lookalike_core::{Backbone, BackboneKind, Error, Result, SimilarityModel};
use tch::nn::{self, OptimizerConfig, VarStore};
use tch::{Device, Kind, Tensor};

use crate::embed::{embed_with, EmbedOptions, Progress, Skipped};
use crate::evaluate::{embed_folder, evaluate_pooled, Evaluation};

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
}

/// Trains a Siamese head on `data` and writes the checkpoint to `out`.
pub fn train(
    data: &Path,
    out: &Path,
    opts: &TrainOptions,
    mut on_event: impl FnMut(TrainEvent),
) -> Result<TrainReport> {
    validate(opts)?;
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
        training: None,
    };
    let (head, head_vs) = head_on(&vs, backbone.device(), config.channels, opts.head)?;
    let model = SimilarityModel::siamese(backbone, head, head_vs, config.clone());
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
    });
    save(out, &vs, model.backbone(), &config)?;
    Ok(TrainReport {
        config,
        test,
        skipped: embedded.skipped,
        split_sizes: [split.train.len(), split.val.len(), split.test.len()],
    })
}

/// Cached pooled vectors of every image and view: row `i + N·v` is image `i`'s view `v`
/// (view 0 is the plain image).
pub struct FeatureViews {
    /// `[N·V, C]` on the CPU.
    pub table: Tensor,
    /// N.
    pub n_images: usize,
    /// V (1 without augmentation).
    pub n_views: usize,
}

/// A fitted head: its variables (`embed.*`, `pair.*`, `input.*`) and how training went.
pub struct FittedHead {
    /// The head's variables, on the CPU.
    pub vs: VarStore,
    /// The epoch whose weights were kept.
    pub best_epoch: usize,
    /// Its validation ROC AUC.
    pub val_auc: f64,
    /// Epochs run.
    pub epochs: usize,
}

/// The trainable last units of a backbone being fine-tuned, fed from cached feature maps.
pub struct Top<'a> {
    /// The backbone, loaded with `inference: false`, after [`Backbone::train_last`].
    pub backbone: &'a dyn Backbone,
    /// The first trainable unit; the cached rows are the feature maps after `from` units.
    pub from: usize,
    /// The shape of one cached map, `[C, h, w]`.
    pub shape: Vec<i64>,
}

impl Top<'_> {
    /// Pooled vectors of cached maps (rows of `[n, C·h·w]`), through the trainable units.
    fn pooled(&self, rows: &Tensor) -> Result<Tensor> {
        let mut shape = vec![rows.size()[0]];
        shape.extend(&self.shape);
        let x = rows
            .f_view(shape.as_slice())?
            .f_to_device(self.backbone.device())?;
        let map = self
            .backbone
            .forward_units(&x, self.from, self.backbone.units())?;
        Ok(map
            .f_mean_dim(&[2i64, 3][..], false, None)?
            .f_to_device(Device::Cpu)?)
    }
}

/// Pooled vectors of the plain view of every image: straight from the table when nothing is
/// fine-tuned, else through the current top units (without gradients, in chunks).
pub fn pooled_all(features: &FeatureViews, top: Option<&Top<'_>>) -> Result<Tensor> {
    let plain = features.table.f_narrow(0, 0, features.n_images as i64)?;
    let Some(top) = top else { return Ok(plain) };
    let _guard = tch::no_grad_guard();
    let mut parts = Vec::new();
    for start in (0..features.n_images as i64).step_by(128) {
        let len = 128.min(features.n_images as i64 - start);
        parts.push(top.pooled(&plain.f_narrow(0, start, len)?)?);
    }
    Ok(Tensor::f_cat(&parts, 0)?)
}

/// Fits a Siamese head with Adam on cached features, drawing the paper's pairs from
/// `split.train` afresh each epoch, keeping the weights with the best validation AUC and
/// stopping early. With a [`Top`], the backbone's last units train too (at a tenth of the
/// learning rate). A non-finite loss stops it with [`Error::Diverged`].
pub fn fit_head(
    features: &FeatureViews,
    labels: &[usize],
    split: &dataset::Split,
    opts: &TrainOptions,
    top: Option<&Top<'_>>,
    mut on_event: impl FnMut(EpochReport),
) -> Result<FittedHead> {
    validate(opts)?;
    let (table, n_images, n_views) = (&features.table, features.n_images, features.n_views);
    let pooled_rows = |rows: &[usize]| -> Result<Tensor> {
        let x = gather(table, rows)?;
        match top {
            None => Ok(x),
            Some(t) => t.pooled(&x),
        }
    };
    let pooled = pooled_all(features, top)?;
    tch::manual_seed(opts.seed as i64);
    let vs = VarStore::new(Device::Cpu);
    let mut head = SiameseHead::new(&vs.root(), pooled.size()[1], opts.head);
    head.set_input_statistics(&gather(&pooled, &split.train)?)?;
    let init_pairs = dataset::make_pairs(
        &split.train,
        labels,
        &mut dataset::rng(opts.seed.wrapping_add(4)),
    );
    let (ia, ib): (Vec<usize>, Vec<usize>) = init_pairs.iter().map(|p| (p.a, p.b)).unzip();
    head.center_bias(&gather(&pooled, &ia)?, &gather(&pooled, &ib)?)?;
    let adamw = nn::AdamW {
        wd: opts.weight_decay,
        ..Default::default()
    };
    let mut adam = adamw.build(&vs, opts.learning_rate)?;
    let mut top_adam = match top {
        Some(t) => Some(adamw.build(t.backbone.var_store(), opts.learning_rate * 0.1)?),
        None => None,
    };
    let mut rng = dataset::rng(opts.seed.wrapping_add(1));
    let val = val_pairs(labels, &split.val, opts.seed);
    let val_truth: Vec<bool> = val.iter().map(|p| p.different).collect();

    let mut best: Option<(usize, f64, Snapshot)> = None;
    let mut epochs_run = 0;
    for epoch in 1..=opts.epochs {
        epochs_run = epoch;
        let mut pairs = dataset::make_pairs(&split.train, labels, &mut rng);
        rand::seq::SliceRandom::shuffle(pairs.as_mut_slice(), &mut rng);
        let (mut loss_sum, mut steps) = (0.0, 0usize);
        for batch in pairs.chunks(opts.batch_size) {
            // Each image of a pair shows up as a random one of its views.
            let mut row = |i: usize| i + n_images * rand::Rng::random_range(&mut rng, 0..n_views);
            let (a, b): (Vec<usize>, Vec<usize>) =
                batch.iter().map(|p| (row(p.a), row(p.b))).unzip();
            let (fa, fb) = (pooled_rows(&a)?, pooled_rows(&b)?);
            let y = Tensor::from_slice(
                &batch
                    .iter()
                    .map(|p| f32::from(u8::from(p.different)))
                    .collect::<Vec<_>>(),
            );
            let (ea, eb) = (
                head.embed_train(&fa, opts.dropout)?,
                head.embed_train(&fb, opts.dropout)?,
            );
            let d = head.distance(&ea, &eb)?;
            // A NaN distance would make BCE fail inside libtorch; report it as what it is.
            if !all_finite(&d)? {
                return Err(Error::Diverged {
                    epoch,
                    loss: f64::NAN,
                });
            }
            let loss = opts.loss.compute(&d, &y)?;
            let value = loss.f_double_value(&[])?;
            if !value.is_finite() {
                return Err(Error::Diverged { epoch, loss: value });
            }
            adam.zero_grad();
            if let Some(o) = &mut top_adam {
                o.zero_grad();
            }
            loss.f_backward()?;
            adam.step();
            if let Some(o) = &mut top_adam {
                o.step();
            }
            loss_sum += value;
            steps += 1;
        }
        let pooled_now = if top.is_some() {
            pooled_all(features, top)?
        } else {
            pooled.shallow_clone()
        };
        let d = tch::no_grad(|| pair_distances(&head, &pooled_now, &val))?;
        let val_metrics = lookalike_core::metrics::pair_metrics(&d, &val_truth, opts.threshold);
        let auc = val_metrics.roc_auc.unwrap_or(0.5);
        let improved = best.as_ref().is_none_or(|(_, b, _)| auc > *b);
        if improved {
            let mut saved = snapshot(&vs);
            if let Some(t) = top {
                saved.extend(
                    snapshot(t.backbone.var_store())
                        .into_iter()
                        .map(|(k, v)| (format!("backbone/{k}"), v)),
                );
            }
            best = Some((epoch, auc, saved));
        }
        on_event(EpochReport {
            epoch,
            epochs: opts.epochs,
            loss: loss_sum / steps.max(1) as f64,
            val: val_metrics,
            best: improved,
        });
        if best
            .as_ref()
            .is_some_and(|(e, _, _)| epoch - e >= opts.patience)
        {
            break;
        }
    }
    let (best_epoch, val_auc, weights_kept) = best.expect("at least one epoch ran");
    let (backbone_kept, head_kept): (Snapshot, Snapshot) = weights_kept
        .into_iter()
        .partition(|(k, _)| k.starts_with("backbone/"));
    restore(&vs, &head_kept)?;
    if let Some(t) = top {
        let kept: Snapshot = backbone_kept
            .into_iter()
            .map(|(k, v)| (k.trim_start_matches("backbone/").to_string(), v))
            .collect();
        restore(t.backbone.var_store(), &kept)?;
    }
    if !vs
        .trainable_variables()
        .iter()
        .try_fold(true, |ok, t| all_finite(t).map(|f| ok && f))?
    {
        return Err(Error::Diverged {
            epoch: best_epoch,
            loss: f64::NAN,
        });
    }
    Ok(FittedHead {
        vs,
        best_epoch,
        val_auc,
        epochs: epochs_run,
    })
}

fn validate(opts: &TrainOptions) -> Result<()> {
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

/// The validation pairs: fixed for the whole run, so epochs are compared on the same pairs.
fn val_pairs(labels: &[usize], val: &[usize], seed: u64) -> Vec<Pair> {
    dataset::make_pairs(val, labels, &mut dataset::rng(seed.wrapping_add(2)))
}

fn pair_distances(head: &SiameseHead, pooled: &Tensor, pairs: &[Pair]) -> Result<Vec<f64>> {
    let a: Vec<usize> = pairs.iter().map(|p| p.a).collect();
    let b: Vec<usize> = pairs.iter().map(|p| p.b).collect();
    let d = head.distance(
        &head.embed(&gather(pooled, &a)?)?,
        &head.embed(&gather(pooled, &b)?)?,
    )?;
    Ok(Vec::<f64>::try_from(&d.f_to_kind(Kind::Double)?)?)
}

fn gather(table: &Tensor, rows: &[usize]) -> Result<Tensor> {
    let idx = Tensor::from_slice(&rows.iter().map(|&i| i as i64).collect::<Vec<_>>());
    Ok(table.f_index_select(0, &idx)?)
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

fn all_finite(t: &Tensor) -> Result<bool> {
    Ok(bool::try_from(t.f_isfinite()?.f_all()?)?)
}

/// A copy of every variable, by name.
type Snapshot = Vec<(String, Tensor)>;

fn snapshot(vs: &VarStore) -> Snapshot {
    tch::no_grad(|| {
        vs.variables()
            .into_iter()
            .map(|(k, v)| (k, v.copy()))
            .collect()
    })
}

fn restore(vs: &VarStore, saved: &[(String, Tensor)]) -> Result<()> {
    let vars = vs.variables();
    tch::no_grad(|| -> Result<()> {
        for (name, value) in saved {
            if let Some(v) = vars.get(name) {
                let mut v = v.shallow_clone();
                v.f_copy_(value)?;
            }
        }
        Ok(())
    })
}

/// A copy of the trained head on `device`, frozen, for evaluation.
fn head_on(
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
fn save(
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
