//! Which map orders the pixels of a deletion or insertion curve: the map shown to a user (the
//! similarity direction after ReLU) or the signed evidence for similarity, the map towards
//! "same" minus the map towards "different". Under ReLU, every cell that argues against
//! similarity ties at zero and is deleted in raster order; the signed map deletes them last,
//! the most contrary last of all. For Grad-CAM the signed map is exactly the CAM before its
//! ReLU, since the two directions' gradients are each other's negation.

use lookalike_explain::{ImageMaps, PairExplanation, SaliencyMap};
use serde::Serialize;

/// Which of a method's maps orders the pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MapOrder {
    /// The signed evidence for similarity: the map towards "same" minus the map towards
    /// "different", before their ReLU (for Grad-CAM exactly the CAM before its ReLU). Pixels that
    /// argue against similarity come last, in order, instead of in raster order as ties at zero.
    #[default]
    Signed,
    /// The map a user is shown: the similarity direction after ReLU (factual when called the
    /// same, counterfactual otherwise); everything at zero ties, broken by position.
    Shown,
}

/// The map that explains the similarity, for each side: factual when called the same,
/// counterfactual otherwise; under [`MapOrder::Signed`], minus the map of the other direction.
pub(super) fn similarity_maps(e: &PairExplanation, order: MapOrder) -> (SaliencyMap, SaliencyMap) {
    let side = |s: &ImageMaps| {
        let (towards, against) = if e.same {
            (&s.factual, &s.counterfactual)
        } else {
            (&s.counterfactual, &s.factual)
        };
        match order {
            MapOrder::Shown => towards.clone(),
            MapOrder::Signed => signed(towards, against),
        }
    };
    (side(&e.a), side(&e.b))
}

/// A map before its ReLU, from its value (before normalising) at each cell.
fn raw_values(m: &SaliencyMap) -> Vec<f32> {
    if m.flat {
        return vec![0.0; m.values.len()];
    }
    m.values
        .iter()
        .map(|v| m.raw_min + v * (m.raw_max - m.raw_min))
        .collect()
}

/// `towards − against`, rescaled to [0, 1] (a monotone change, so the order is kept and the
/// bilinear upsampling commutes with it); flat only when the two maps cancel everywhere.
fn signed(towards: &SaliencyMap, against: &SaliencyMap) -> SaliencyMap {
    let diff: Vec<f32> = raw_values(towards)
        .iter()
        .zip(raw_values(against))
        .map(|(t, a)| t - a)
        .collect();
    let lo = diff.iter().copied().fold(f32::INFINITY, f32::min);
    let hi = diff.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let spread = hi - lo;
    if !lo.is_finite()
        || !hi.is_finite()
        || spread.is_nan()
        || spread <= 1e-6 * hi.abs().max(lo.abs())
    {
        return SaliencyMap::flat(
            towards.height,
            towards.width,
            "the maps towards and against similarity cancel everywhere",
        );
    }
    let values = diff.iter().map(|v| (v - lo) / (hi - lo)).collect();
    SaliencyMap {
        values,
        raw_min: lo,
        raw_max: hi,
        flat: false,
        flat_reason: None,
        fallback: towards.fallback.clone(),
        ..towards.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn relu_map(raw: &[f32]) -> SaliencyMap {
        SaliencyMap::from_raw(2, 2, raw)
    }

    #[test]
    fn the_signed_map_is_the_attribution_before_relu() {
        // An attribution of +3, +1, −2, −0.5 split into its two ReLU'd directions.
        let towards = relu_map(&[3.0, 1.0, 0.0, 0.0]);
        let against = relu_map(&[0.0, 0.0, 2.0, 0.5]);
        let m = signed(&towards, &against);
        assert!(!m.flat);
        // Rescaled from [−2, 3] to [0, 1]: the order is the attribution's, contrary cells last.
        let expected = [1.0, 0.6, 0.0, 0.3];
        for (v, e) in m.values.iter().zip(expected) {
            assert!((v - e).abs() < 1e-6, "{:?}", m.values);
        }
        assert_eq!((m.raw_min, m.raw_max), (-2.0, 3.0));
    }

    #[test]
    fn a_map_with_nothing_towards_similarity_still_orders_by_what_is_against_it() {
        let towards = relu_map(&[0.0; 4]);
        assert!(towards.flat);
        let m = signed(&towards, &relu_map(&[0.0, 1.0, 4.0, 2.0]));
        assert!(!m.flat);
        let mut order: Vec<usize> = (0..4).collect();
        order.sort_by(|&i, &j| m.values[j].total_cmp(&m.values[i]));
        assert_eq!(order, [0, 1, 3, 2]);
    }

    #[test]
    fn maps_that_cancel_are_flat_with_a_reason() {
        let m = signed(&relu_map(&[0.0; 4]), &relu_map(&[0.0; 4]));
        assert!(m.flat);
        assert!(m.flat_reason.unwrap().contains("cancel"));
    }
}
