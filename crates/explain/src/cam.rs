//! The shared CAM pipeline: the target layer's activations for both sides of every pair, and the
//! gradient of each pair's explained score with respect to them, in one forward and one backward.
//!
//! The explained score is a [`ScoreTarget`]: the head's similarity logit `ℓ` (the default: it
//! never saturates, so a far-away pair still has gradients) or the paper's probability `s`
//! (calibrated when the model is), whose sigmoid flattens every map of a pair far from the
//! training images.
//!
//! tch has no hooks, so the network is cut in two at the target layer: `forward_units(pixels, 0,
//! k)` runs without a graph, its output becomes a leaf that requires grad, and
//! `forward_units(leaf, k, units())` plus pooling and the head finish the forward. The backward
//! of `Σ s` then gives every row its own gradient, because each pair's `s` depends only on its own
//! two rows. Frozen (inference) weights do not matter: the leaf requires grad, the weights need not.
//!
//! At the last layer, followed by average pooling, the gradient is constant over space:
//! `g^k_ij = (1/Z)·∂s/∂p_k`. [`GradientPath::Auto`] then differentiates only the head with respect
//! to the pooled vector `p` and spreads the result, with no backward through any convolution.

use lookalike_core::SimilarityModel;
use tch::{Kind, Tensor};

use crate::{Error, Result};

/// Which feature map to explain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Layer {
    /// The backbone's last feature map (what the pooled vector averages).
    #[default]
    Last,
    /// The feature map after this many units (1 = after the stem, `units()` = the last).
    Unit(usize),
}

impl Layer {
    /// Parses `last` or a unit number.
    pub fn parse(s: &str) -> Result<Self> {
        let t = s.trim().to_ascii_lowercase();
        if t == "last" {
            return Ok(Layer::Last);
        }
        t.parse::<usize>().map(Layer::Unit).map_err(|_| {
            Error::BadInput(format!("layer {s:?} is neither `last` nor a unit number"))
        })
    }

    /// The unit count to run before the cut, checked against the backbone's `units`.
    pub fn resolve(self, units: usize) -> Result<usize> {
        match self {
            Layer::Last => Ok(units),
            Layer::Unit(k) if (1..=units).contains(&k) => Ok(k),
            Layer::Unit(k) => Err(Error::LayerOutOfRange {
                layer: k.to_string(),
                units,
            }),
        }
    }
}

impl std::fmt::Display for Layer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Layer::Last => f.write_str("last"),
            Layer::Unit(k) => write!(f, "{k}"),
        }
    }
}

/// What the maps explain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScoreTarget {
    /// The head's similarity logit `ℓ` (the cosine for zero-shot): never saturated.
    #[default]
    Logit,
    /// The similarity `s` in [0, 1], as the paper explains it (and pytorch-grad-cam on it).
    Probability,
}

impl ScoreTarget {
    /// Parses `logit` or `probability`.
    pub fn parse(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "logit" => Ok(ScoreTarget::Logit),
            "probability" | "similarity" => Ok(ScoreTarget::Probability),
            other => Err(Error::BadInput(format!(
                "unknown target {other:?}: expected logit or probability"
            ))),
        }
    }

    /// `logit` or `probability`.
    pub fn name(self) -> &'static str {
        match self {
            ScoreTarget::Logit => "logit",
            ScoreTarget::Probability => "probability",
        }
    }

    /// The explained score of row-aligned pooled vectors, `[N]`, and the logit beside it.
    pub fn score(
        self,
        model: &SimilarityModel,
        pa: &Tensor,
        pb: &Tensor,
    ) -> Result<(Tensor, Tensor)> {
        let logit = model.logit(&model.embed(pa)?, &model.embed(pb)?)?;
        let score = match self {
            ScoreTarget::Logit => logit.shallow_clone(),
            ScoreTarget::Probability => model.similarity_of(&logit)?,
        };
        Ok((score, logit))
    }
}

/// How to get the gradients at the last layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GradientPath {
    /// The pooled-vector shortcut at the last layer, the general path elsewhere.
    #[default]
    Auto,
    /// Always differentiate with respect to the activation tensor (for tests).
    General,
}

/// Activations and gradients for `N` pairs: rows `0..N` are the A side, rows `N..2N` the B side.
#[derive(Debug)]
pub struct Gradients {
    /// The target layer's activations, `[2N, K, h, w]`.
    pub activations: Tensor,
    /// `∂t/∂A` of the explained score `t`, the same shape.
    pub gradients: Tensor,
    /// What `t` is.
    pub target: ScoreTarget,
    /// `t` of each pair.
    pub score: Vec<f64>,
    /// The similarity logit `ℓ` of each pair.
    pub logit: Vec<f64>,
    /// `s` of each pair (calibrated when the model is).
    pub similarity: Vec<f64>,
    /// The unit count at the cut (`units()` for the last layer).
    pub unit: usize,
    /// Per row (`2N`), `‖g‖·‖A‖`: how much `t` moves for a relative change of the activations.
    /// Dimensionless; below [`VANISHING`] the gradient has vanished (a saturated probability,
    /// or two identical images, where `|e1 − e2| = 0`) and the maps are only float noise.
    pub sensitivity: Vec<f64>,
}

/// The sensitivity below which a row's gradient counts as vanished and its maps as flat.
pub const VANISHING: f64 = 1e-5;

impl Gradients {
    /// How many pairs.
    pub fn pairs(&self) -> usize {
        self.score.len()
    }
}

/// Checks pixels: `[N, 3, H, W]` with `H, W ≥ 16` (conv4's 28 px drawings pass; the
/// backbone refuses what it cannot pool down itself).
fn check_pixels(x: &Tensor, side: &str) -> Result<(i64, i64, i64)> {
    const MIN: i64 = lookalike_core::backbone::CONV4_MIN_INPUT;
    match x.size()[..] {
        [n, 3, h, w] if n >= 1 && h >= MIN && w >= MIN => Ok((n, h, w)),
        ref s => Err(Error::BadInput(format!(
            "{side}: expected pixels [N, 3, H, W] with H, W ≥ {MIN}, got {s:?}"
        ))),
    }
}

/// The activations at `layer` and `∂s/∂A` of the probability `s` for every pair `(a_i, b_i)`:
/// [`score_gradients`] with [`ScoreTarget::Probability`], what pytorch-grad-cam explains.
pub fn similarity_gradients(
    model: &SimilarityModel,
    a: &Tensor,
    b: &Tensor,
    layer: Layer,
    path: GradientPath,
) -> Result<Gradients> {
    score_gradients(model, a, b, layer, path, ScoreTarget::Probability)
}

/// The activations at `layer` and `∂t/∂A` of the explained score `t` for every pair
/// `(a_i, b_i)`.
///
/// `a` is `[N, 3, H, W]`, or `[1, 3, H, W]` to pair one query with every row of `b` (its features
/// up to the cut are computed once and repeated). `b` is `[N, 3, H, W]`.
pub fn score_gradients(
    model: &SimilarityModel,
    a: &Tensor,
    b: &Tensor,
    layer: Layer,
    path: GradientPath,
    target: ScoreTarget,
) -> Result<Gradients> {
    let (na, ha, wa) = check_pixels(a, "image A")?;
    let (n, hb, wb) = check_pixels(b, "image B")?;
    if na != 1 && na != n {
        return Err(Error::BadInput(format!(
            "{na} images on side A for {n} on side B: expected 1 or {n}"
        )));
    }
    if (ha, wa) != (hb, wb) {
        return Err(Error::BadInput(format!(
            "both sides must share one size, got {ha}×{wa} and {hb}×{wb}"
        )));
    }
    let backbone = model.backbone();
    let units = backbone.units();
    let unit = layer.resolve(units)?;
    let device = backbone.device();
    let (a, b) = (a.f_to_device(device)?, b.f_to_device(device)?);

    let prefix = |x: &Tensor| tch::no_grad(|| backbone.forward_units(x, 0, unit));
    let mut act_a = prefix(&a)?;
    if na == 1 && n > 1 {
        let mut shape = act_a.size();
        shape[0] = n;
        act_a = act_a.f_expand(&shape, false)?;
    }
    let acts = Tensor::f_cat(&[act_a, prefix(&b)?], 0)?.f_detach()?;

    let (s, logit, gradients) = if unit == units && path == GradientPath::Auto {
        let pooled = acts
            .f_mean_dim(&[2i64, 3][..], false, None)?
            .f_detach()?
            .f_set_requires_grad(true)?;
        let (s, logit) = target.score(
            model,
            &pooled.f_narrow(0, 0, n)?,
            &pooled.f_narrow(0, n, n)?,
        )?;
        let c = backward(&s, &pooled)?;
        let size = acts.size();
        let z = (size[2] * size[3]) as f64;
        let g = c
            .f_div_scalar(z)?
            .f_unsqueeze(-1)?
            .f_unsqueeze(-1)?
            .f_expand(&size, false)?
            .f_contiguous()?;
        (s, logit, g)
    } else {
        let leaf = acts.f_set_requires_grad(true)?;
        let features = backbone.forward_units(&leaf, unit, units)?;
        let pooled = features.f_mean_dim(&[2i64, 3][..], false, None)?;
        let (s, logit) = target.score(
            model,
            &pooled.f_narrow(0, 0, n)?,
            &pooled.f_narrow(0, n, n)?,
        )?;
        let g = backward(&s, &leaf)?;
        (s, logit, g)
    };
    let score = to_vec(&s)?;
    let logit = to_vec(&logit)?;
    let similarity = logit
        .iter()
        .map(|&l| model.similarity_of_logit(l))
        .collect();
    let norm = |t: &Tensor| -> Result<Tensor> {
        Ok(t.f_flatten(1, -1)?
            .f_to_kind(Kind::Double)?
            .f_norm_scalaropt_dim(2, [1i64].as_slice(), false)?)
    };
    let sensitivity = to_vec(&norm(&gradients)?.f_mul(&norm(&acts)?)?)?;
    Ok(Gradients {
        activations: acts.f_detach()?,
        gradients,
        target,
        score,
        logit,
        similarity,
        unit,
        sensitivity,
    })
}

/// A tensor's values as `f64` on the CPU.
pub fn to_vec(t: &Tensor) -> Result<Vec<f64>> {
    let t = t
        .f_detach()?
        .f_to_kind(Kind::Double)?
        .f_to_device(tch::Device::Cpu)?;
    Ok(Vec::<f64>::try_from(t)?)
}

/// `∂(Σ s)/∂x`.
fn backward(s: &Tensor, x: &Tensor) -> Result<Tensor> {
    let total = s.f_sum(Kind::Float)?;
    let mut grads = Tensor::f_run_backward(&[total], &[x], false, false)?;
    grads
        .pop()
        .ok_or_else(|| Error::BadInput("the similarity does not depend on the layer".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_parse_and_resolve_with_clear_errors() {
        assert_eq!(Layer::parse("last").unwrap().resolve(18).unwrap(), 18);
        assert_eq!(Layer::parse(" 12 ").unwrap().resolve(18).unwrap(), 12);
        let e = Layer::parse("19")
            .unwrap()
            .resolve(18)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("layer 19 is out of range") && e.contains("1 to 18"),
            "{e}"
        );
        assert!(Layer::Unit(0).resolve(18).is_err());
        let e = Layer::parse("deep").unwrap_err().to_string();
        assert!(e.contains("\"deep\""), "{e}");
    }
}
