//! Pair explanations: for each pair (A, B) and the model's decision, a factual and a
//! counterfactual map for each image, each from that image's own branch gradients.
//!
//! The factual map explains the decision: `s` when the pair is called the same, `d = 1 − s` when
//! it is called different. The counterfactual map explains the other one. Since `d = 1 − s`, its
//! gradient is the factual one negated: four maps from one forward and one backward.
//! [`explain_pairs`] explains a query against its `k` hits in one batch.

use lookalike_core::SimilarityModel;
use serde::Serialize;
use tch::{Kind, Tensor};

use crate::cam::{similarity_gradients, GradientPath, Gradients, Layer, VANISHING};
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
    /// The map carries no information (vanishing gradients, e.g. a saturated score): nothing
    /// to normalise, so `values` are zeros instead of NaN.
    pub flat: bool,
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
        }
    }

    /// A map with nothing to show.
    pub fn flat(height: usize, width: usize) -> Self {
        SaliencyMap {
            height,
            width,
            values: vec![0.0; height * width],
            raw_min: 0.0,
            raw_max: 0.0,
            flat: true,
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
    /// `s`, clamped to [0, 1].
    pub similarity: f64,
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
                SaliencyMap::flat(h, w)
            } else {
                SaliencyMap::from_raw(h, w, c)
            }
        })
        .collect())
}

/// Explains row-aligned pairs `(a_i, b_i)`: `a` is `[N, 3, H, W]`, or `[1, 3, H, W]` for one
/// query against every row of `b`. One forward and one backward for the whole batch.
pub fn explain_batch(
    model: &SimilarityModel,
    a: &Tensor,
    b: &Tensor,
    explainer: &dyn Explainer,
    layer: Layer,
) -> Result<Vec<PairExplanation>> {
    explain_batch_with(model, a, b, explainer, layer, GradientPath::Auto)
}

/// [`explain_batch`] with a choice of gradient path (the last-layer shortcut or not).
pub fn explain_batch_with(
    model: &SimilarityModel,
    a: &Tensor,
    b: &Tensor,
    explainer: &dyn Explainer,
    layer: Layer,
    path: GradientPath,
) -> Result<Vec<PairExplanation>> {
    let grads = similarity_gradients(model, a, b, layer, path)?;
    let n = grads.pairs();
    let threshold = model.threshold();
    let decisions: Vec<(f64, bool)> = grads
        .similarity
        .iter()
        .map(|&s| {
            let d = (1.0 - s).clamp(0.0, 1.0);
            (d, d < threshold)
        })
        .collect();
    let sign: Vec<f64> = decisions
        .iter()
        .map(|&(_, same)| if same { 1.0 } else { -1.0 })
        .collect();
    let counter: Vec<f64> = sign.iter().map(|s| -s).collect();
    let factual = saliency(explainer, &grads, &sign)?;
    let counterfactual = saliency(explainer, &grads, &counter)?;
    Ok((0..n)
        .map(|i| {
            let (d, same) = decisions[i];
            PairExplanation {
                similarity: 1.0 - d,
                distance: d,
                same,
                method: explainer.name().to_string(),
                unit: grads.unit,
                factual_target: if same {
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

/// Explains a query against its hits: `query` is `[1, 3, H, W]`, `hits` `[k, 3, H, W]` (decoded
/// and preprocessed like the query). One batched forward and one backward of the summed scores;
/// the query's features up to the target layer are computed once.
pub fn explain_pairs(
    model: &SimilarityModel,
    query: &Tensor,
    hits: &Tensor,
    explainer: &dyn Explainer,
    layer: Layer,
) -> Result<Vec<PairExplanation>> {
    explain_batch(model, query, hits, explainer, layer)
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
