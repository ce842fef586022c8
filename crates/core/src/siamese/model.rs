//! A backbone plus a way to compare embeddings: a trained Siamese head, or zero-shot cosine.

use std::path::Path;

use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

use super::checkpoint::{self, ModelConfig, BACKBONE_FILE, HEAD_FILE};
use super::SiameseHead;
use crate::backbone::{self, BackboneConfig};
use crate::{Backbone, Error, Result};

/// The answer to "are these two images alike?".
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Comparison {
    /// `s = 1 − d`, in [0, 1].
    pub similarity: f64,
    /// `d`, in [0, 1].
    pub distance: f64,
    /// `d < threshold`.
    pub same: bool,
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

    /// A short description: `siamese (efficientnet-lite0, metric head)` or `zero-shot (...)`.
    pub fn describe(&self) -> String {
        match &self.comparer {
            Comparer::ZeroShot => format!("zero-shot ({})", self.backbone.kind()),
            Comparer::Siamese { head, .. } => {
                format!("siamese ({}, {:?} head)", self.backbone.kind(), head.kind()).to_lowercase()
            }
        }
    }

    /// Embeddings of pooled vectors: the head's `e`, or the unit-length pooled vector.
    pub fn embed(&self, pooled: &Tensor) -> Result<Tensor> {
        Ok(match &self.comparer {
            Comparer::ZeroShot => normalize(pooled)?,
            Comparer::Siamese { head, .. } => head.embed(pooled)?,
        })
    }

    /// `d` for row-aligned embeddings, `[N]`.
    pub fn distance(&self, e1: &Tensor, e2: &Tensor) -> Result<Tensor> {
        Ok(match &self.comparer {
            Comparer::ZeroShot => e1
                .f_mul(e2)?
                .f_sum_dim_intlist(1, false, Kind::Float)?
                .f_neg()?
                .f_add_scalar(1.0)?,
            Comparer::Siamese { head, .. } => head.distance(e1, e2)?,
        })
    }

    /// `d` for every pair of rows, `[N, M]`.
    pub fn distance_matrix(&self, a: &Tensor, b: &Tensor) -> Result<Tensor> {
        Ok(match &self.comparer {
            Comparer::ZeroShot => a
                .f_matmul(&b.f_transpose(0, 1)?)?
                .f_neg()?
                .f_add_scalar(1.0)?,
            Comparer::Siamese { head, .. } => head.distance_matrix(a, b)?,
        })
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

    /// Compares two images given as float pixels `[1, 3, H, W]`.
    pub fn compare(&self, a: &Tensor, b: &Tensor) -> Result<Comparison> {
        let both = Tensor::f_cat(&[a, b], 0)?.f_to_device(self.backbone.device())?;
        let e = self.embed_pixels(&both)?;
        let d = tch::no_grad(|| self.distance(&e.f_narrow(0, 0, 1)?, &e.f_narrow(0, 1, 1)?))?;
        let distance = d.f_double_value(&[0])?.clamp(0.0, 1.0);
        Ok(Comparison {
            similarity: 1.0 - distance,
            distance,
            same: distance < self.threshold,
        })
    }
}

fn normalize(x: &Tensor) -> Result<Tensor> {
    let norm = x
        .f_norm_scalaropt_dim(2, [1i64].as_slice(), true)?
        .f_clamp_min(1e-12)?;
    Ok(x.f_div(&norm)?)
}
