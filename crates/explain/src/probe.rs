//! What a perturbation explainer may ask of the model: the explained score of changed feature
//! maps, pooled vectors or pixels, for the pairs being explained.
//!
//! Rows follow the pipeline's convention: `2N` rows, the A sides of the `N` pairs first, then
//! the B sides. A [`Probe`] scores one side perturbed against the other side as it is
//! ("conditional", Sammani et al. 2023): that is what a map of one image means.

use lookalike_core::SimilarityModel;
use tch::{Kind, Tensor};

use crate::cam::ScoreTarget;
use crate::{Error, Result};

/// Options that only some explainers read.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ExplainOptions {
    /// The explained score.
    pub target: ScoreTarget,
    /// RISE: random masks per image (`None`: the explainer's default).
    pub masks: Option<usize>,
    /// RISE: the most masks anyone may ask for (a server's guard on its CPU time).
    pub max_masks: usize,
    /// RISE: the side of the coarse grid its masks are drawn on (`None`: [`DEFAULT_MASK_GRID`]).
    pub mask_grid: Option<usize>,
    /// RISE: the share of grid cells each mask keeps (`None`: [`DEFAULT_MASK_KEEP`]).
    pub mask_keep: Option<f64>,
    /// Only image A's maps are wanted (a conditional faithfulness run perturbs A alone):
    /// explainers whose cost is per image may leave B's maps out, as all-zero maps.
    pub only_a: bool,
    /// Seed of the random masks and permutations.
    pub seed: u64,
}

/// RISE's mask shape, checked: grid side and share of cells kept.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MaskShape {
    /// The coarse grid's side.
    pub grid: usize,
    /// The share of cells each mask keeps.
    pub keep: f64,
}

/// The default RISE mask count.
pub const DEFAULT_MASKS: usize = 500;
/// The default limit on RISE masks.
pub const DEFAULT_MAX_MASKS: usize = 2000;
/// The default side of RISE's coarse mask grid (RISE's 7 on a 224² input).
pub const DEFAULT_MASK_GRID: usize = 7;
/// The default share of RISE's grid cells a mask keeps (RISE's 0.5).
pub const DEFAULT_MASK_KEEP: f64 = 0.5;
/// The largest mask grid side: finer grids are no longer smooth masks.
pub const MAX_MASK_GRID: usize = 32;

impl Default for ExplainOptions {
    fn default() -> Self {
        ExplainOptions {
            target: ScoreTarget::Logit,
            masks: None,
            max_masks: DEFAULT_MAX_MASKS,
            mask_grid: None,
            mask_keep: None,
            only_a: false,
            seed: 0,
        }
    }
}

impl ExplainOptions {
    /// The RISE mask count asked for, checked against the limit.
    pub fn checked_masks(&self) -> Result<usize> {
        let masks = self.masks.unwrap_or(DEFAULT_MASKS.min(self.max_masks));
        if masks == 0 {
            return Err(Error::BadInput("RISE needs at least 1 mask".into()));
        }
        if masks > self.max_masks {
            return Err(Error::BadInput(format!(
                "{masks} RISE masks asked for, but the limit is {} (raise it with --max-masks)",
                self.max_masks
            )));
        }
        Ok(masks)
    }

    /// RISE's mask grid and keep share asked for, checked.
    pub fn checked_mask_shape(&self) -> Result<MaskShape> {
        let grid = self.mask_grid.unwrap_or(DEFAULT_MASK_GRID);
        if !(2..=MAX_MASK_GRID).contains(&grid) {
            return Err(Error::BadInput(format!(
                "a RISE mask grid of {grid}×{grid} cells: the side must be 2 to {MAX_MASK_GRID}"
            )));
        }
        let keep = self.mask_keep.unwrap_or(DEFAULT_MASK_KEEP);
        if !(keep > 0.0 && keep < 1.0) {
            return Err(Error::BadInput(format!(
                "RISE masks keeping {keep} of the cells: the share must lie strictly between 0 and 1"
            )));
        }
        Ok(MaskShape { grid, keep })
    }
}

/// The pairs being explained, as a perturbation method sees them.
pub struct Probe<'a> {
    /// The model.
    pub model: &'a SimilarityModel,
    /// The target layer's activations, `[2N, K, h, w]` (A sides, then B sides).
    pub activations: &'a Tensor,
    /// Pixels of the A sides, `[N, 3, H, W]` (the query repeated for a search).
    pub pixels_a: &'a Tensor,
    /// Pixels of the B sides, `[N, 3, H, W]`.
    pub pixels_b: &'a Tensor,
    /// The units run before the cut.
    pub unit: usize,
    /// Options.
    pub options: &'a ExplainOptions,
}

impl Probe<'_> {
    /// How many pairs.
    pub fn pairs(&self) -> usize {
        (self.activations.size()[0] / 2) as usize
    }

    /// Whether the cut is the backbone's last feature map (which is average-pooled).
    pub fn at_last_layer(&self) -> bool {
        self.unit == self.model.backbone().units()
    }

    /// The explained score of row-aligned pooled vectors, `[M]`.
    pub fn score_pooled(&self, pa: &Tensor, pb: &Tensor) -> Result<Tensor> {
        Ok(self.options.target.score(self.model, pa, pb)?.0)
    }

    /// The pooled vectors of feature maps at the cut, `[M, K, h, w]` → `[M, C]` (runs the rest
    /// of the backbone at an earlier layer).
    pub fn pool(&self, features: &Tensor) -> Result<Tensor> {
        let backbone = self.model.backbone();
        let units = backbone.units();
        let last = if self.unit == units {
            features.shallow_clone()
        } else {
            backbone.forward_units(features, self.unit, units)?
        };
        Ok(last.f_mean_dim(&[2i64, 3][..], false, None)?)
    }

    /// The explained score of row-aligned feature maps at the cut, `[M]`.
    pub fn score_features(&self, fa: &Tensor, fb: &Tensor) -> Result<Tensor> {
        self.score_pooled(&self.pool(fa)?, &self.pool(fb)?)
    }

    /// The explained score of row-aligned pixels (a full forward), `[M]`.
    pub fn score_pixels(&self, xa: &Tensor, xb: &Tensor) -> Result<Tensor> {
        let backbone = self.model.backbone();
        let pa = tch::no_grad(|| backbone.features(xa))?.pooled;
        let pb = tch::no_grad(|| backbone.features(xb))?.pooled;
        tch::no_grad(|| self.score_pooled(&pa, &pb))
    }

    /// Row `i` of the pooled vectors of the unperturbed activations, `[2N, C]`.
    pub fn pooled(&self) -> Result<Tensor> {
        tch::no_grad(|| self.pool(self.activations))
    }

    /// For a row `r` of the `2N` rows: its partner's row (the other image of its pair).
    pub fn partner(&self, r: usize) -> usize {
        let n = self.pairs();
        if r < n {
            r + n
        } else {
            r - n
        }
    }

    /// The score of row `r`'s pair when row `r`'s pooled vector is replaced by each row of
    /// `variants` (`[M, C]`) and its partner stays as it is: `[M]`. The score is symmetric in
    /// its two arguments only for symmetric heads, so the A side stays first.
    pub fn score_row_variants(
        &self,
        pooled: &Tensor,
        r: usize,
        variants: &Tensor,
    ) -> Result<Tensor> {
        let m = variants.size()[0];
        let partner = pooled
            .f_narrow(0, self.partner(r) as i64, 1)?
            .f_expand([m, pooled.size()[1]], false)?;
        if r < self.pairs() {
            self.score_pooled(variants, &partner)
        } else {
            self.score_pooled(&partner, variants)
        }
    }
}

/// A tensor as `[rows, h, w]` float on the CPU, checked.
pub(crate) fn maps_shape(t: &Tensor) -> Result<(i64, i64, i64)> {
    match t.size()[..] {
        [r, h, w] => Ok((r, h, w)),
        ref s => Err(Error::BadInput(format!(
            "an explainer returned a map of shape {s:?}, expected [rows, h, w]"
        ))),
    }
}

/// `t` as `f32` on the CPU.
pub(crate) fn to_cpu_f32(t: &Tensor) -> Result<Tensor> {
    Ok(t.f_to_kind(Kind::Float)?
        .f_to_device(tch::Device::Cpu)?
        .f_contiguous()?)
}
