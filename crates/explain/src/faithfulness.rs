//! Faithfulness of a map: deletion and insertion (Petsiuk et al. 2018, RISE's protocol).
//!
//! Deletion replaces image A's pixels, from the most to the least salient, by a constant (the
//! ImageNet mean colour, which is what RISE's zeros of the normalised input are) and records the
//! score after each step; a faithful map makes it fall fast (low area under the curve).
//! Insertion starts from a Gaussian blur of A (kernel 11, σ 5) and puts the sharp pixels back in
//! the same order; a faithful map makes the score rise fast (high area). Each step moves
//! `1/steps` of the pixels (RISE: 224 steps at 224², 224 pixels each).
//!
//! Both scores are recorded from the same forward passes: the head's logit (the explained score)
//! and the similarity (calibrated when the model is). "Conditional" perturbs A only, against B as
//! it is; "simultaneous" perturbs both images by their own maps at once (Sammani et al. 2023).
//! No explainer perturbs pixels this way: feature-level methods mask feature cells, RISE blacks
//! pixels out; so no method is scored with its own perturbation.

use lookalike_core::SimilarityModel;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use tch::{Kind, Tensor};

use crate::{Error, Result};

/// The constant deleted pixels become: the ImageNet mean colour, in 0..255.
pub const MEAN_COLOUR: [f64; 3] = [123.675, 116.28, 103.53];
/// The insertion's blur: kernel size and σ (RISE's).
pub const BLUR_KERNEL: i64 = 11;
/// The insertion's blur σ, in pixels.
pub const BLUR_SIGMA: f64 = 5.0;

/// One image of the pair, perturbed, or both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Only image A is perturbed; B stays as it is.
    #[default]
    Conditional,
    /// Both images are perturbed, each in the order of its own map.
    Simultaneous,
}

/// The scores along one curve: `steps + 1` points.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Scores {
    /// The similarity logit after each step.
    pub logit: Vec<f64>,
    /// The similarity after each step.
    pub similarity: Vec<f64>,
}

/// The deletion and insertion curves of one pair's maps.
#[derive(Debug, Clone, Serialize)]
pub struct Curves {
    /// After deleting `i/steps` of the pixels.
    pub deletion: Scores,
    /// After inserting `i/steps` of the pixels into the blurred image.
    pub insertion: Scores,
}

/// The trapezoid area under `y` sampled evenly on [0, 1].
pub fn auc(y: &[f64]) -> f64 {
    if y.len() < 2 {
        return y.first().copied().unwrap_or(0.0);
    }
    let h = 1.0 / (y.len() - 1) as f64;
    y.windows(2).map(|w| 0.5 * (w[0] + w[1]) * h).sum()
}

/// A smooth random map: uniform noise on a `height × width` grid (the explainer's), which the
/// caller upsamples like a real map. The literature's baseline, not per-pixel noise.
pub fn random_map(height: usize, width: usize, seed: u64) -> Vec<f32> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    (0..height * width).map(|_| rng.random::<f32>()).collect()
}

/// Gaussian blur of pixels `[N, 3, H, W]` (reflected borders), kernel [`BLUR_KERNEL`], σ
/// [`BLUR_SIGMA`].
pub fn blur(x: &Tensor) -> Result<Tensor> {
    let half = BLUR_KERNEL / 2;
    let weights: Vec<f32> = (-half..=half)
        .map(|i| (-((i * i) as f64) / (2.0 * BLUR_SIGMA * BLUR_SIGMA)).exp() as f32)
        .collect();
    let total: f32 = weights.iter().sum();
    let k = Tensor::from_slice(&weights.iter().map(|w| w / total).collect::<Vec<_>>())
        .f_to_device(x.device())?;
    let horizontal = k.f_view([1, 1, 1, BLUR_KERNEL])?.f_repeat([3, 1, 1, 1])?;
    let vertical = k.f_view([1, 1, BLUR_KERNEL, 1])?.f_repeat([3, 1, 1, 1])?;
    let padded = x.f_reflection_pad2d([half, half, half, half])?;
    let h = padded.f_conv2d(&horizontal, None::<Tensor>, [1, 1], [0, 0], [1, 1], 3)?;
    Ok(h.f_conv2d(&vertical, None::<Tensor>, [1, 1], [0, 0], [1, 1], 3)?)
}

/// `[steps + 1, 1, H, W]` masks: 1 where a pixel is among the first `i·cells/steps` of `heat`'s
/// order (most salient first, ties by index).
fn order_masks(heat: &[f32], h: i64, w: i64, steps: usize, device: tch::Device) -> Result<Tensor> {
    let cells = (h * w) as usize;
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
    Ok(rank
        .f_lt_tensor(&counts)?
        .f_to_kind(Kind::Float)?
        .f_view([steps as i64 + 1, 1, h, w])?)
}

/// The perturbed copies of one image: deletion to the mean colour and insertion from the blur.
fn perturbed(x: &Tensor, heat: &[f32], steps: usize) -> Result<(Tensor, Tensor)> {
    let size = x.size();
    let (h, w) = (size[2], size[3]);
    if heat.len() != (h * w) as usize || steps == 0 {
        return Err(Error::BadInput(format!(
            "a map of {} values for a {h}×{w} image in {steps} steps",
            heat.len()
        )));
    }
    let mask = order_masks(heat, h, w, steps, x.device())?;
    let keep = mask.f_neg()?.f_add_scalar(1.0)?;
    let mean = Tensor::from_slice(&MEAN_COLOUR.map(|c| c as f32))
        .f_to_device(x.device())?
        .f_view([1, 3, 1, 1])?;
    let deleted = x.f_mul(&keep)?.f_add(&mean.f_mul(&mask)?)?;
    let inserted = blur(x)?.f_mul(&keep)?.f_add(&x.f_mul(&mask)?)?;
    Ok((deleted, inserted))
}

/// Embeddings of many images, a few at a time (more at once on a GPU).
fn embed_all(model: &SimilarityModel, x: &Tensor) -> Result<Tensor> {
    let n = x.size()[0];
    let batch = if x.device().is_cuda() { 128 } else { 32 };
    let mut parts = Vec::new();
    for start in (0..n).step_by(batch as usize) {
        parts.push(model.embed_pixels(&x.f_narrow(0, start, batch.min(n - start))?)?);
    }
    Ok(Tensor::f_cat(&parts, 0)?)
}

fn scores(model: &SimilarityModel, ea: &Tensor, eb: &Tensor) -> Result<Scores> {
    let eb = if eb.size()[0] == 1 {
        eb.f_expand([ea.size()[0], eb.size()[1]], false)?
    } else {
        eb.shallow_clone()
    };
    let logit = tch::no_grad(|| model.logit(ea, &eb))?
        .f_to_kind(Kind::Double)?
        .f_to_device(tch::Device::Cpu)?;
    let logit = Vec::<f64>::try_from(logit)?;
    let similarity = logit
        .iter()
        .map(|&l| model.similarity_of_logit(l))
        .collect();
    Ok(Scores { logit, similarity })
}

/// Deletion and insertion curves for the pair (`a`, `b`), both `[1, 3, H, W]` pixels, ordered
/// by `heat_a` (A's map at A's size) and, in [`Mode::Simultaneous`], `heat_b` for B.
pub fn curves(
    model: &SimilarityModel,
    a: &Tensor,
    b: &Tensor,
    heat_a: &[f32],
    heat_b: Option<&[f32]>,
    steps: usize,
) -> Result<Curves> {
    match a.size()[..] {
        [1, 3, _, _] => {}
        ref s => {
            return Err(Error::BadInput(format!(
                "expected A as [1, 3, H, W], got {s:?}"
            )))
        }
    }
    let device = model.backbone().device();
    let (a, b) = (a.f_to_device(device)?, b.f_to_device(device)?);
    let (del_a, ins_a) = perturbed(&a, heat_a, steps)?;
    let (eb_del, eb_ins) = match heat_b {
        Some(heat_b) => {
            let (del_b, ins_b) = perturbed(&b, heat_b, steps)?;
            (embed_all(model, &del_b)?, embed_all(model, &ins_b)?)
        }
        None => {
            let eb = model.embed_pixels(&b)?;
            (eb.shallow_clone(), eb)
        }
    };
    Ok(Curves {
        deletion: scores(model, &embed_all(model, &del_a)?, &eb_del)?,
        insertion: scores(model, &embed_all(model, &ins_a)?, &eb_ins)?,
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

    #[test]
    fn the_blur_keeps_a_constant_image_and_smooths_an_edge() {
        let flat = Tensor::full([1, 3, 32, 32], 100.0, (Kind::Float, tch::Device::Cpu));
        let b = blur(&flat).unwrap();
        assert_eq!(b.size(), [1, 3, 32, 32]);
        assert!(f64::try_from((b - 100.0).abs().max()).unwrap() < 1e-3);
        let edge = Tensor::cat(
            &[
                Tensor::zeros([1, 3, 32, 16], (Kind::Float, tch::Device::Cpu)),
                Tensor::full([1, 3, 32, 16], 255.0, (Kind::Float, tch::Device::Cpu)),
            ],
            3,
        );
        let b = blur(&edge).unwrap();
        let mid = b.double_value(&[0, 0, 16, 15]);
        assert!(mid > 60.0 && mid < 195.0, "{mid}");
    }
}
