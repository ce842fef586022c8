//! Fitting the head on cached features: the epochs, the validation that picks the best of
//! them, and the snapshots that keep it.

use lookalike_core::dataset::{self, Pair};
use lookalike_core::siamese::SiameseHead;
use lookalike_core::{Backbone, Error, Result};
use tch::nn::{self, OptimizerConfig, VarStore};
use tch::{Device, Kind, Tensor};

use super::{validate, EpochReport, TrainOptions};

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
            one_shot: None,
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

/// The validation pairs: fixed for the whole run, so epochs are compared on the same pairs.
pub(super) fn val_pairs(labels: &[usize], val: &[usize], seed: u64) -> Vec<Pair> {
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

fn all_finite(t: &Tensor) -> Result<bool> {
    Ok(bool::try_from(t.f_isfinite()?.f_all()?)?)
}

/// A copy of every variable, by name.
pub(super) type Snapshot = Vec<(String, Tensor)>;

pub(super) fn snapshot(vs: &VarStore) -> Snapshot {
    tch::no_grad(|| {
        vs.variables()
            .into_iter()
            .map(|(k, v)| (k, v.copy()))
            .collect()
    })
}

pub(super) fn restore(vs: &VarStore, saved: &[(String, Tensor)]) -> Result<()> {
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
