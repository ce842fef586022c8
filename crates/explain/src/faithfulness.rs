//! Faithfulness of a map: deletion and insertion (Petsiuk et al. 2018, RISE) on the similarity.
//!
//! Deletion greys out image A's pixels from the most to the least salient and records `s(A', B)`
//! after each step; a faithful map makes it fall fast (low area under the curve). Insertion starts
//! from a blurred A and puts the pixels back in the same order; a faithful map makes `s` rise fast
//! (high area). A random map is the baseline. All the steps of one curve run as one batch.

use lookalike_core::SimilarityModel;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use tch::{Kind, Tensor};

use crate::{Error, Result};

/// The two curves of one map and their areas.
#[derive(Debug, Clone, Serialize)]
pub struct Curves {
    /// `s` after deleting `i/steps` of the pixels, `i = 0..=steps`.
    pub deletion: Vec<f64>,
    /// `s` after inserting `i/steps` of the pixels into the blurred image.
    pub insertion: Vec<f64>,
    /// Area under the deletion curve (lower is better).
    pub deletion_auc: f64,
    /// Area under the insertion curve (higher is better).
    pub insertion_auc: f64,
}

/// The trapezoid area under `y` sampled evenly on [0, 1].
pub fn auc(y: &[f64]) -> f64 {
    if y.len() < 2 {
        return y.first().copied().unwrap_or(0.0);
    }
    let h = 1.0 / (y.len() - 1) as f64;
    y.windows(2).map(|w| 0.5 * (w[0] + w[1]) * h).sum()
}

/// A random map of `len` cells (the baseline), seeded.
pub fn random_map(len: usize, seed: u64) -> Vec<f32> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    (0..len).map(|_| rng.random::<f32>()).collect()
}

/// Deletion and insertion curves of `heat` (row-major, A's size) for the pair (`a`, `b`), both
/// `[1, 3, H, W]` pixels, in `steps` steps.
pub fn curves(
    model: &SimilarityModel,
    a: &Tensor,
    b: &Tensor,
    heat: &[f32],
    steps: usize,
) -> Result<Curves> {
    let size = a.size();
    let (h, w) = match size[..] {
        [1, 3, h, w] => (h, w),
        _ => {
            return Err(Error::BadInput(format!(
                "expected A as [1, 3, H, W], got {size:?}"
            )))
        }
    };
    let cells = (h * w) as usize;
    if heat.len() != cells || steps == 0 {
        return Err(Error::BadInput(format!(
            "a map of {} values for a {h}×{w} image in {steps} steps",
            heat.len()
        )));
    }
    let device = model.backbone().device();
    // rank[i] = position of pixel i in the order of decreasing saliency (ties by index).
    let mut order: Vec<usize> = (0..cells).collect();
    order.sort_by(|&i, &j| heat[j].total_cmp(&heat[i]).then(i.cmp(&j)));
    let mut rank = vec![0f32; cells];
    for (r, &i) in order.iter().enumerate() {
        rank[i] = r as f32;
    }
    let rank = Tensor::from_slice(&rank)
        .f_to_device(device)?
        .f_view([1, cells as i64])?;
    let counts: Vec<f32> = (0..=steps).map(|i| (i * cells / steps) as f32).collect();
    let counts = Tensor::from_slice(&counts)
        .f_to_device(device)?
        .f_view([steps as i64 + 1, 1])?;
    let mask =
        rank.f_lt_tensor(&counts)?
            .f_to_kind(Kind::Float)?
            .f_view([steps as i64 + 1, 1, h, w])?;
    let keep = mask.f_neg()?.f_add_scalar(1.0)?;
    let a = a.f_to_device(device)?;
    let grey = a.f_full_like(127.5)?;
    let blurred = a
        .f_adaptive_avg_pool2d([(h / 16).max(1), (w / 16).max(1)])?
        .f_upsample_bilinear2d([h, w], false, None, None)?;
    let deleted = a.f_mul(&keep)?.f_add(&grey.f_mul(&mask)?)?;
    let inserted = blurred.f_mul(&keep)?.f_add(&a.f_mul(&mask)?)?;
    let score = |x: &Tensor| -> Result<Vec<f64>> {
        let e = model.embed_pixels(x)?;
        let eb = model.embed_pixels(&b.f_to_device(device)?)?;
        let eb = eb.f_expand([e.size()[0], eb.size()[1]], false)?;
        let d = tch::no_grad(|| model.distance(&e, &eb))?;
        let d = Vec::<f64>::try_from(d.f_to_kind(Kind::Double)?.f_to_device(tch::Device::Cpu)?)?;
        Ok(d.into_iter().map(|d| 1.0 - d.clamp(0.0, 1.0)).collect())
    };
    let deletion = score(&deleted)?;
    let insertion = score(&inserted)?;
    Ok(Curves {
        deletion_auc: auc(&deletion),
        insertion_auc: auc(&insertion),
        deletion,
        insertion,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_is_the_trapezoid_area() {
        assert!((auc(&[1.0, 1.0, 1.0]) - 1.0).abs() < 1e-12);
        assert!((auc(&[1.0, 0.0]) - 0.5).abs() < 1e-12);
        assert!((auc(&[0.0, 0.5, 1.0]) - 0.5).abs() < 1e-12);
    }
}
