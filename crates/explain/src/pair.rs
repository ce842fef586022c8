//! Pair explanations: for each pair (A, B) and the model's decision, a factual and a
//! counterfactual map for each image, each from that image's own branch gradients.
//!
//! The factual map explains the decision: `s` when the pair is called the same, `d = 1 − s` when
//! it is called different. The counterfactual map explains the other one. Since `d = 1 − s`, its
//! gradient is the factual one negated: four maps from one forward and one backward. The score
//! is the logit by default ([`ScoreTarget`]); `s` and `d` above stand for either.
//! [`explain_pairs`] explains a query against its `k` hits in one batch.

use lookalike_core::SimilarityModel;
use serde::Serialize;
use tch::{Kind, Tensor};

use crate::cam::{score_gradients, GradientPath, Gradients, Layer, ScoreTarget, VANISHING};
use crate::probe::{maps_shape, to_cpu_f32, ExplainOptions, Probe};
use crate::{Explainer, Result};

/// One saliency map on the target layer's grid.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SaliencyMap {
    /// Rows of the grid.
    pub height: usize,
    /// Columns of the grid.
    pub width: usize,
    /// The map after ReLU, min-max normalised to [0, 1], row-major. All zeros when flat.
    pub values: Vec<f32>,
    /// The smallest value of the map after ReLU, before normalising.
    pub raw_min: f32,
    /// The largest value of the map after ReLU, before normalising: compare it across results.
    pub raw_max: f32,
    /// The map carries no information: nothing to normalise, so `values` are zeros instead of
    /// NaN. [`SaliencyMap::flat_reason`] says why.
    pub flat: bool,
    /// Why a flat map is flat, in words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flat_reason: Option<String>,
    /// The method that made this map when the asked one could not (every gradient zero, as for
    /// two identical images): `occlusion`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fallback: Option<String>,
}

impl SaliencyMap {
    /// Normalises a map that has been through ReLU (row-major `height × width`).
    pub fn from_raw(height: usize, width: usize, raw: &[f32]) -> Self {
        let finite = raw.iter().all(|v| v.is_finite());
        let min = raw.iter().copied().fold(f32::INFINITY, f32::min);
        let max = raw.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let range = max - min;
        // Nothing positive, or a range that is rounding noise next to the maximum: nothing to
        // show. (Vanishing gradients are caught before, by `Gradients::sensitivity`.)
        let flat = !finite || raw.is_empty() || max <= 0.0 || range <= 1e-6 * max;
        let values = if flat {
            vec![0.0; raw.len()]
        } else {
            raw.iter().map(|v| (v - min) / range).collect()
        };
        SaliencyMap {
            height,
            width,
            values,
            raw_min: if finite { min.max(0.0) } else { 0.0 },
            raw_max: if finite { max.max(0.0) } else { 0.0 },
            flat,
            flat_reason: flat.then(|| {
                if !finite {
                    "the map is not finite".to_string()
                } else {
                    "no region of this image supports this target: every contribution is zero or \
                     points the other way"
                        .to_string()
                }
            }),
            fallback: None,
        }
    }

    /// A map with nothing to show, and why.
    pub fn flat(height: usize, width: usize, reason: impl Into<String>) -> Self {
        SaliencyMap {
            height,
            width,
            values: vec![0.0; height * width],
            raw_min: 0.0,
            raw_max: 0.0,
            flat: true,
            flat_reason: Some(reason.into()),
            fallback: None,
        }
    }

    /// The raw values (after ReLU, before normalising), rebuilt from the normalised ones.
    pub fn raw(&self) -> Vec<f32> {
        self.values
            .iter()
            .map(|v| self.raw_min + v * (self.raw_max - self.raw_min))
            .collect()
    }
}

/// What a map explains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    /// The similarity `s`.
    Similarity,
    /// The distance `d = 1 − s`.
    Distance,
}

/// The two maps of one image.
#[derive(Debug, Clone, Serialize)]
pub struct ImageMaps {
    /// Explains the decision.
    pub factual: SaliencyMap,
    /// Explains the opposite of the decision.
    pub counterfactual: SaliencyMap,
}

/// Why the model decided what it did about one pair.
#[derive(Debug, Clone, Serialize)]
pub struct PairExplanation {
    /// `s`, in [0, 1] (calibrated when the model is).
    pub similarity: f64,
    /// The head's similarity logit `ℓ`.
    pub logit: f64,
    /// What the maps explain: the logit or the probability.
    pub target: ScoreTarget,
    /// `d = 1 − s`.
    pub distance: f64,
    /// `d < threshold`.
    pub same: bool,
    /// The explainer's name.
    pub method: String,
    /// The target layer: the feature map after this many backbone units.
    pub unit: usize,
    /// What the factual maps explain (the counterfactual ones explain the other).
    pub factual_target: Target,
    /// Image A's maps, from A's own gradients.
    pub a: ImageMaps,
    /// Image B's maps, from B's own gradients.
    pub b: ImageMaps,
}

/// Maps for every row of `grads` (`2N` rows: A sides, then B sides), explaining `sign[i]·s_i`
/// for pair `i` (`+1` explains `s`, `−1` explains `d`).
pub fn saliency(
    explainer: &dyn Explainer,
    grads: &Gradients,
    sign: &[f64],
) -> Result<Vec<SaliencyMap>> {
    let n = grads.pairs();
    let signs: Vec<f32> = sign.iter().chain(sign).map(|&s| s as f32).collect();
    let device = grads.gradients.device();
    let signs = Tensor::from_slice(&signs)
        .f_to_device(device)?
        .f_view([2 * n as i64, 1, 1, 1])?;
    let g = grads.gradients.f_mul(&signs)?;
    let maps = explainer
        .combine(&grads.activations, &g)?
        .f_relu()?
        .f_to_kind(Kind::Float)?
        .f_to_device(tch::Device::Cpu)?
        .f_contiguous()?;
    let size = maps.size();
    let (h, w) = (size[1] as usize, size[2] as usize);
    let flat = Vec::<f32>::try_from(maps.f_view([-1])?)?;
    Ok(flat
        .chunks(h * w)
        .zip(&grads.sensitivity)
        .map(|(c, &sensitivity)| {
            if sensitivity < VANISHING {
                SaliencyMap::flat(
                    h,
                    w,
                    "vanishing gradient: the explained score does not move",
                )
            } else {
                SaliencyMap::from_raw(h, w, c)
            }
        })
        .collect())
}

/// Maps from a signed attribution `[2N, h, w]` of the score, explaining `sign[i]·t_i`.
pub fn attribution_maps(attribution: &Tensor, sign: &[f64]) -> Result<Vec<SaliencyMap>> {
    let (rows, h, w) = maps_shape(attribution)?;
    let signs: Vec<f32> = sign.iter().chain(sign).map(|&s| s as f32).collect();
    let signs = Tensor::from_slice(&signs)
        .f_to_device(attribution.device())?
        .f_view([rows, 1, 1])?;
    let maps = to_cpu_f32(&attribution.f_mul(&signs)?.f_relu()?)?;
    let (h, w) = (h as usize, w as usize);
    let flat = Vec::<f32>::try_from(maps.f_view([-1])?)?;
    Ok(flat
        .chunks(h * w)
        .map(|c| SaliencyMap::from_raw(h, w, c))
        .collect())
}

/// Explains row-aligned pairs `(a_i, b_i)`: `a` is `[N, 3, H, W]`, or `[1, 3, H, W]` for one
/// query against every row of `b`. One forward and one backward for the whole batch, with the
/// default options (the logit explained).
pub fn explain_batch(
    model: &SimilarityModel,
    a: &Tensor,
    b: &Tensor,
    explainer: &dyn Explainer,
    layer: Layer,
) -> Result<Vec<PairExplanation>> {
    explain_batch_with(
        model,
        a,
        b,
        explainer,
        layer,
        GradientPath::Auto,
        &ExplainOptions::default(),
    )
}

/// [`explain_batch`] with a choice of gradient path (the last-layer shortcut or not) and
/// options (the explained score, RISE's masks).
///
/// A CAM's row whose gradient has vanished (two identical images: `|e1 − e2| = 0`) gets the
/// feature-level occlusion map instead, marked [`SaliencyMap::fallback`]; a map is `flat` only
/// when it truly carries nothing, with [`SaliencyMap::flat_reason`] saying why.
pub fn explain_batch_with(
    model: &SimilarityModel,
    a: &Tensor,
    b: &Tensor,
    explainer: &dyn Explainer,
    layer: Layer,
    path: GradientPath,
    options: &ExplainOptions,
) -> Result<Vec<PairExplanation>> {
    let grads = score_gradients(model, a, b, layer, path, options.target)?;
    let n = grads.pairs();
    let decisions: Vec<_> = grads.logit.iter().map(|&l| model.decide(l)).collect();
    let sign: Vec<f64> = decisions
        .iter()
        .map(|c| if c.same { 1.0 } else { -1.0 })
        .collect();
    let counter: Vec<f64> = sign.iter().map(|s| -s).collect();
    let device = model.backbone().device();
    let pixels_a = a.f_to_device(device)?;
    let pixels_a = if pixels_a.size()[0] == 1 && n > 1 {
        let mut shape = pixels_a.size();
        shape[0] = n as i64;
        pixels_a.f_expand(&shape, false)?
    } else {
        pixels_a
    };
    let pixels_b = b.f_to_device(device)?;
    let probe = Probe {
        model,
        activations: &grads.activations,
        pixels_a: &pixels_a,
        pixels_b: &pixels_b,
        unit: grads.unit,
        options,
    };
    let (mut factual, mut counterfactual) = match explainer.attribute(&probe)? {
        Some(attribution) => (
            attribution_maps(&attribution, &sign)?,
            attribution_maps(&attribution, &counter)?,
        ),
        None => {
            let mut factual = saliency(explainer, &grads, &sign)?;
            let mut counterfactual = saliency(explainer, &grads, &counter)?;
            let vanished: Vec<usize> = (0..2 * n)
                .filter(|&r| grads.sensitivity[r] < VANISHING)
                .collect();
            if !vanished.is_empty() {
                let occlusion = crate::occlusion::feature_occlusion(&probe)?;
                let f = attribution_maps(&occlusion, &sign)?;
                let c = attribution_maps(&occlusion, &counter)?;
                for r in vanished {
                    factual[r] = fallback(f[r].clone());
                    counterfactual[r] = fallback(c[r].clone());
                }
            }
            (factual, counterfactual)
        }
    };
    if options.target == ScoreTarget::Probability {
        for (r, map) in factual
            .iter_mut()
            .chain(counterfactual.iter_mut())
            .enumerate()
        {
            let s = grads.similarity[r % n];
            if map.flat && !(1e-6..=1.0 - 1e-6).contains(&s) {
                map.flat_reason = Some(format!(
                    "the probability is saturated at {s:.6}: explain the logit instead (target logit)"
                ));
            }
        }
    }
    Ok((0..n)
        .map(|i| {
            let c = decisions[i];
            PairExplanation {
                similarity: c.similarity,
                logit: c.logit,
                target: options.target,
                distance: c.distance,
                same: c.same,
                method: explainer.name().to_string(),
                unit: grads.unit,
                factual_target: if c.same {
                    Target::Similarity
                } else {
                    Target::Distance
                },
                a: ImageMaps {
                    factual: factual[i].clone(),
                    counterfactual: counterfactual[i].clone(),
                },
                b: ImageMaps {
                    factual: factual[n + i].clone(),
                    counterfactual: counterfactual[n + i].clone(),
                },
            }
        })
        .collect())
}

fn fallback(mut map: SaliencyMap) -> SaliencyMap {
    map.fallback = Some("occlusion".into());
    if map.flat {
        map.flat_reason = Some(
            "every gradient is zero (identical images) and no masked region moves the score \
             this way"
                .into(),
        );
    }
    map
}

/// Explains a query against its hits: `query` is `[1, 3, H, W]`, `hits` `[k, 3, H, W]` (decoded
/// and preprocessed like the query). One batched forward and one backward of the summed scores;
/// the query's features up to the target layer are computed once.
pub fn explain_pairs(
    model: &SimilarityModel,
    query: &Tensor,
    hits: &Tensor,
    explainer: &dyn Explainer,
    layer: Layer,
    options: &ExplainOptions,
) -> Result<Vec<PairExplanation>> {
    explain_batch_with(
        model,
        query,
        hits,
        explainer,
        layer,
        GradientPath::Auto,
        options,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_zero_map_is_flat_not_nan() {
        let m = SaliencyMap::from_raw(2, 2, &[0.0; 4]);
        assert!(m.flat);
        assert_eq!(m.values, vec![0.0; 4]);
        let m = SaliencyMap::from_raw(1, 2, &[f32::NAN, 1.0]);
        assert!(m.flat && m.values.iter().all(|v| *v == 0.0));
    }

    #[test]
    fn maps_are_min_max_normalised_and_keep_their_magnitude() {
        let m = SaliencyMap::from_raw(1, 3, &[0.5, 1.0, 2.5]);
        assert!(!m.flat);
        assert_eq!(m.values, vec![0.0, 0.25, 1.0]);
        assert_eq!((m.raw_min, m.raw_max), (0.5, 2.5));
        assert_eq!(m.raw(), vec![0.5, 1.0, 2.5]);
    }
}
