//! A backbone plus a way to compare embeddings: a trained Siamese head, or zero-shot cosine.

use std::path::Path;

use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

use super::checkpoint::{self, ModelConfig, BACKBONE_FILE, HEAD_FILE};
use super::{Calibration, SiameseHead};
use crate::backbone::{self, BackboneConfig};
use crate::{Backbone, Error, Result};

/// The answer to "are these two images alike?".
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Comparison {
    /// `s`, in [0, 1]: the calibrated probability of "same" when the model is calibrated.
    pub similarity: f64,
    /// The head's similarity logit `ℓ` (higher is more alike; the cosine for zero-shot). It
    /// never saturates: compare pairs by it.
    pub logit: f64,
    /// `d = 1 − s`, in [0, 1].
    pub distance: f64,
    /// `d < threshold`.
    pub same: bool,
}

/// Logit → similarity, as [`SimilarityModel::similarity_of`] does, in plain `f64`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scorer {
    /// The calibration, if any.
    pub calibration: Option<Calibration>,
    /// Zero-shot cosine (uncalibrated, the similarity is the cosine itself).
    pub zero_shot: bool,
}

impl Scorer {
    /// The similarity of logit `ℓ`, in [0, 1].
    pub fn similarity(&self, logit: f64) -> f64 {
        match (&self.calibration, self.zero_shot) {
            (Some(c), _) => c.probability(logit),
            (None, true) => logit.clamp(0.0, 1.0),
            (None, false) => super::calibration::sigmoid(logit),
        }
    }
}

/// What turns two pooled vectors into a distance.
#[derive(Debug)]
enum Comparer {
    /// `d = 1 − cos(p1, p2)`, no training.
    ZeroShot,
    /// The trained head.
    Siamese { head: SiameseHead, _vs: VarStore },
}

/// A backbone and a comparer, ready to embed and compare images.
pub struct SimilarityModel {
    backbone: Box<dyn Backbone>,
    comparer: Comparer,
    threshold: f64,
    calibration: Option<Calibration>,
    config: Option<ModelConfig>,
}

impl std::fmt::Debug for SimilarityModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimilarityModel")
            .field("backbone", &self.backbone.kind())
            .field("comparer", &self.comparer)
            .field("threshold", &self.threshold)
            .finish()
    }
}

/// The zero-shot threshold on `d = 1 − cos`. Measured with `lookalike eval --model zero-shot
/// --threshold T` on Flowers: 0.45 → 0.585 accuracy, 0.55 → 0.660, 0.65 → 0.655, 0.75 → 0.584
/// (docs/training.md). Override it with `--threshold`.
pub const ZERO_SHOT_THRESHOLD: f64 = 0.6;

impl SimilarityModel {
    /// Zero-shot: the backbone's pooled vectors compared by cosine, no training.
    pub fn zero_shot(backbone: Box<dyn Backbone>, threshold: Option<f64>) -> Self {
        SimilarityModel {
            backbone,
            comparer: Comparer::ZeroShot,
            threshold: threshold.unwrap_or(ZERO_SHOT_THRESHOLD),
            calibration: None,
            config: None,
        }
    }

    /// A trained head over `backbone`. The head's variables live in `vs`.
    pub fn siamese(
        backbone: Box<dyn Backbone>,
        head: SiameseHead,
        vs: VarStore,
        config: ModelConfig,
    ) -> Self {
        SimilarityModel {
            backbone,
            comparer: Comparer::Siamese { head, _vs: vs },
            threshold: config.threshold,
            calibration: config.calibration,
            config: Some(config),
        }
    }

    /// Loads a checkpoint folder written by `lookalike train`.
    pub fn load(dir: &Path, device: Device) -> Result<Self> {
        let config = checkpoint::read_config(dir)?;
        let weights = dir.join(BACKBONE_FILE);
        let backbone = backbone::load(&BackboneConfig {
            kind: config.backbone,
            weights: Some(&weights),
            device,
            inference: true,
            seed: 0,
        })?;
        if backbone.channels() != config.channels {
            return Err(Error::Checkpoint {
                path: dir.to_path_buf(),
                message: format!(
                    "model.json says {} channels but the {} backbone has {}",
                    config.channels,
                    config.backbone,
                    backbone.channels()
                ),
            });
        }
        let mut vs = VarStore::new(device);
        let head = SiameseHead::new(&vs.root(), config.channels, config.head);
        let head_path = dir.join(HEAD_FILE);
        vs.load(&head_path).map_err(|e| Error::Checkpoint {
            path: dir.to_path_buf(),
            message: format!(
                "{HEAD_FILE} does not fit a {} head over {} channels: {e}",
                config.backbone, config.channels
            ),
        })?;
        vs.freeze();
        Ok(Self::siamese(backbone, head, vs, config))
    }

    /// The backbone.
    pub fn backbone(&self) -> &dyn Backbone {
        self.backbone.as_ref()
    }

    /// The config of a trained model; `None` for zero-shot.
    pub fn config(&self) -> Option<&ModelConfig> {
        self.config.as_ref()
    }

    /// "Same" when `d < threshold`.
    pub fn threshold(&self) -> f64 {
        self.threshold
    }

    /// Overrides the decision threshold.
    pub fn set_threshold(&mut self, threshold: f64) {
        self.threshold = threshold;
    }

    /// The calibration of the logit, if any.
    pub fn calibration(&self) -> Option<&Calibration> {
        self.calibration.as_ref()
    }

    /// Sets (or removes) the calibration: a zero-shot collection's, or one fitted in training.
    pub fn set_calibration(&mut self, calibration: Option<Calibration>) {
        self.calibration = calibration;
    }

    /// Whether this is zero-shot cosine (no trained head).
    pub fn is_zero_shot(&self) -> bool {
        matches!(self.comparer, Comparer::ZeroShot)
    }

    /// A short description: `siamese (efficientnet-lite0, metric head)` or `zero-shot (...)`.
    pub fn describe(&self) -> String {
        match &self.comparer {
            Comparer::ZeroShot => format!("zero-shot ({})", self.backbone.kind()),
            Comparer::Siamese { head, .. } => {
                format!("siamese ({}, {:?} head)", self.backbone.kind(), head.kind()).to_lowercase()
            }
        }
    }

    /// The surprise of each pooled vector `[N, C]` → `[N]` against the training images (see
    /// [`super::familiarity`]); `None` for zero-shot, which learnt from no images.
    pub fn surprise(&self, pooled: &Tensor) -> Result<Option<Tensor>> {
        Ok(match &self.comparer {
            Comparer::ZeroShot => None,
            Comparer::Siamese { head, .. } => Some(tch::no_grad(|| head.surprise(pooled))?),
        })
    }

    /// The surprise of the model's own validation images, recorded by `train`; `None` for
    /// zero-shot and for folders trained before it was recorded.
    pub fn familiarity(&self) -> Option<&super::FamiliarityProfile> {
        self.config.as_ref().and_then(|c| c.familiarity.as_ref())
    }

    /// Embeddings of pooled vectors: the head's `e`, or the unit-length pooled vector.
    pub fn embed(&self, pooled: &Tensor) -> Result<Tensor> {
        Ok(match &self.comparer {
            Comparer::ZeroShot => normalize(pooled)?,
            Comparer::Siamese { head, .. } => head.embed(pooled)?,
        })
    }

    /// The similarity logit `ℓ` for row-aligned embeddings, `[N]`: `−(w·|e1 − e2| + b)` for a
    /// trained head (so `σ(ℓ) = 1 − d` of the paper), the cosine for zero-shot. Higher is more
    /// alike, and it never saturates.
    pub fn logit(&self, e1: &Tensor, e2: &Tensor) -> Result<Tensor> {
        Ok(match &self.comparer {
            Comparer::ZeroShot => e1.f_mul(e2)?.f_sum_dim_intlist(1, false, Kind::Float)?,
            Comparer::Siamese { head, .. } => head.logit(e1, e2)?.f_neg()?,
        })
    }

    /// `ℓ` for every pair of rows, `[N, M]`.
    pub fn logit_matrix(&self, a: &Tensor, b: &Tensor) -> Result<Tensor> {
        Ok(match &self.comparer {
            Comparer::ZeroShot => a.f_matmul(&b.f_transpose(0, 1)?)?,
            Comparer::Siamese { head, .. } => head.logit_matrix(a, b)?.f_neg()?,
        })
    }

    /// The similarity `s` in [0, 1] of logits `ℓ`: the calibrated `σ(a·ℓ + c)` when there is a
    /// calibration; otherwise `σ(ℓ)` for a trained head and the cosine (clamped) for zero-shot.
    pub fn similarity_of(&self, logit: &Tensor) -> Result<Tensor> {
        Ok(match (&self.calibration, &self.comparer) {
            (Some(c), _) => logit
                .f_mul_scalar(c.scale)?
                .f_add_scalar(c.offset)?
                .f_sigmoid()?,
            (None, Comparer::ZeroShot) => logit.f_clamp(0.0, 1.0)?,
            (None, Comparer::Siamese { .. }) => logit.f_sigmoid()?,
        })
    }

    /// [`SimilarityModel::similarity_of`] for one logit, in plain `f64`.
    pub fn similarity_of_logit(&self, logit: f64) -> f64 {
        self.scorer().similarity(logit)
    }

    /// What turns a logit into a similarity, detached from the model (for code that ranks
    /// stored vectors without libtorch).
    pub fn scorer(&self) -> Scorer {
        Scorer {
            calibration: self.calibration,
            zero_shot: self.is_zero_shot(),
        }
    }

    /// `d = 1 − s` for row-aligned embeddings, `[N]`.
    pub fn distance(&self, e1: &Tensor, e2: &Tensor) -> Result<Tensor> {
        Ok(self
            .similarity_of(&self.logit(e1, e2)?)?
            .f_neg()?
            .f_add_scalar(1.0)?)
    }

    /// `d` for every pair of rows, `[N, M]`.
    pub fn distance_matrix(&self, a: &Tensor, b: &Tensor) -> Result<Tensor> {
        Ok(self
            .similarity_of(&self.logit_matrix(a, b)?)?
            .f_neg()?
            .f_add_scalar(1.0)?)
    }

    /// The pair head's weights `w`, bias `b` and kind, for comparing embeddings outside
    /// libtorch (a vector index re-ranking its candidates); `None` for zero-shot.
    pub fn pair_head(&self) -> Result<Option<(Vec<f32>, f64, super::HeadKind)>> {
        match &self.comparer {
            Comparer::ZeroShot => Ok(None),
            Comparer::Siamese { head, .. } => {
                let w = tch::no_grad(|| head.pair_weights())?
                    .f_to_device(Device::Cpu)?
                    .f_to_kind(Kind::Float)?;
                Ok(Some((
                    Vec::<f32>::try_from(&w)?,
                    head.pair_bias(),
                    head.kind(),
                )))
            }
        }
    }

    /// Embeds float pixels `[N, 3, H, W]` (backbone, then [`SimilarityModel::embed`]).
    pub fn embed_pixels(&self, pixels: &Tensor) -> Result<Tensor> {
        let pooled = tch::no_grad(|| self.backbone.features(pixels))?.pooled;
        tch::no_grad(|| self.embed(&pooled))
    }

    /// Compares two images given as float pixels `[V, 3, H, W]`: one view each, or several
    /// views of each (test-time augmentation), whose pooled vectors are averaged before the
    /// head.
    pub fn compare(&self, a: &Tensor, b: &Tensor) -> Result<Comparison> {
        let (va, vb) = (a.size()[0], b.size()[0]);
        if va < 1 || va != vb {
            return Err(Error::BadInput(vec![va, vb]));
        }
        let both = Tensor::f_cat(&[a, b], 0)?.f_to_device(self.backbone.device())?;
        let pooled = tch::no_grad(|| self.backbone.features(&both))?.pooled;
        let mean = |from: i64| -> Result<Tensor> {
            Ok(pooled
                .f_narrow(0, from, va)?
                .f_mean_dim(0, true, Kind::Float)?)
        };
        let e = tch::no_grad(|| self.embed(&Tensor::f_cat(&[mean(0)?, mean(va)?], 0)?))?;
        let logit = tch::no_grad(|| self.logit(&e.f_narrow(0, 0, 1)?, &e.f_narrow(0, 1, 1)?))?
            .f_to_kind(Kind::Double)?
            .f_double_value(&[0])?;
        Ok(self.decide(logit))
    }

    /// The similarity, distance and decision of one logit.
    pub fn decide(&self, logit: f64) -> Comparison {
        let similarity = self.similarity_of_logit(logit).clamp(0.0, 1.0);
        let distance = 1.0 - similarity;
        Comparison {
            similarity,
            logit,
            distance,
            same: distance < self.threshold,
        }
    }
}

fn normalize(x: &Tensor) -> Result<Tensor> {
    let norm = x
        .f_norm_scalaropt_dim(2, [1i64].as_slice(), true)?
        .f_clamp_min(1e-12)?;
    Ok(x.f_div(&norm)?)
}
