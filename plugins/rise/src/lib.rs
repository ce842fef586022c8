//! RISE for similarity (Petsiuk et al. 2018), in its correlation form, as a Lookalike plugin.
//!
//! Each of `N` random masks keeps a random share of the cells of a coarse grid (by default half
//! of 7×7, RISE's own; `--mask-keep`, `--mask-grid`), upsampled bilinearly with a random
//! sub-cell shift into a smooth mask `M_i` at the input's size. One image is masked (the masked
//! pixels go black), the other stays as it is, and the explained score `t_i` is recorded. The
//! map is the covariance of score and mask over the masks, `Σ_i (t_i − t̄)(M_i − M̄) / N`:
//! positive where keeping the pixels raises the score. This is the debiased, correlation form
//! used for face verification (CorrRISE); plain RISE's `Σ t_i M_i` is biased by the mean score.
//!
//! It perturbs with black pixels; the faithfulness metric deletes to the mean colour and
//! inserts from a blur, so RISE is never scored with its own perturbation.
//!
//! Cost: `N` backbone forwards per image (the query's masked forwards are shared by all of its
//! hits). With the default 500 masks that is seconds per pair on a CPU: for reports and audits,
//! not for every search. The mask count is checked against a limit (`--max-masks`).

use lookalike_explain::probe::MaskShape;
use lookalike_explain::{Cost, ExplainOptions, Explainer, Probe, Result};
use rand::{Rng, SeedableRng};
use tch::{Kind, Tensor};

/// Masked images per forward batch on a CPU; a GPU takes more at once.
const BATCH: i64 = 25;
/// Masked images per forward batch on a CUDA device.
const CUDA_BATCH: i64 = 125;
/// The map's cells are this many pixels on a side.
const MAP_CELL: i64 = 8;

/// The RISE explainer, registered as `rise`.
#[derive(Debug, Default, Clone, Copy)]
pub struct Rise;

impl Explainer for Rise {
    fn name(&self) -> &str {
        "rise"
    }
    fn description(&self) -> &str {
        "RISE for similarity: random smooth masks on the input, the map is the covariance of \
         mask and score (slow: for reports and audits)"
    }
    fn cost(&self, _cells: usize, options: &ExplainOptions) -> Cost {
        let masks = options
            .masks
            .unwrap_or(lookalike_explain::probe::DEFAULT_MASKS);
        Cost {
            forward_passes: masks,
            head_evaluations: masks,
            backward: false,
            summary: format!(
                "{masks} backbone forwards per image (--masks; the query's are shared by its hits)"
            ),
        }
    }
    fn attribute(&self, probe: &Probe<'_>) -> Result<Option<Tensor>> {
        let _guard = tch::no_grad_guard();
        let masks = probe.options.checked_masks()?;
        let shape = probe.options.checked_mask_shape()?;
        let model = probe.model;
        let backbone = model.backbone();
        let size = probe.pixels_b.size();
        let (n, h, w) = (size[0], size[2], size[3]);
        let device = probe.pixels_b.device();
        let m = smooth_masks(masks, h, w, shape, probe.options.seed, device)?;
        let m_mean = m.f_mean_dim(0, true, None)?;
        let batch_size = if device.is_cuda() { CUDA_BATCH } else { BATCH };
        let cells = [(h / MAP_CELL).max(1), (w / MAP_CELL).max(1)];
        // Pooled vectors of the masked copies of each distinct image, [masks, C].
        let masked_pooled = |x: &Tensor| -> Result<Tensor> {
            let mut parts = Vec::new();
            for start in (0..masks as i64).step_by(batch_size as usize) {
                let len = batch_size.min(masks as i64 - start);
                let batch = x.f_mul(&m.f_narrow(0, start, len)?)?;
                parts.push(backbone.features(&batch)?.pooled);
            }
            Ok(Tensor::f_cat(&parts, 0)?)
        };
        let pooled = probe.pooled()?;
        // A search repeats its query on side A: mask it once.
        let a0 = probe.pixels_a.f_narrow(0, 0, 1)?;
        let shared_query = n > 1
            && probe
                .pixels_a
                .f_sub(&a0)?
                .f_abs()?
                .f_max()?
                .double_value(&[])
                == 0.0;
        let query_pooled = if shared_query {
            Some(masked_pooled(&a0)?)
        } else {
            None
        };
        let mut out = Vec::with_capacity(2 * n as usize);
        for r in 0..2 * n {
            if r >= n && probe.options.only_a {
                out.push(Tensor::f_zeros(
                    [1, cells[0], cells[1]],
                    (Kind::Float, device),
                )?);
                continue;
            }
            let variants = match (&query_pooled, r < n) {
                (Some(q), true) => q.shallow_clone(),
                (_, true) => masked_pooled(&probe.pixels_a.f_narrow(0, r, 1)?)?,
                (_, false) => masked_pooled(&probe.pixels_b.f_narrow(0, r - n, 1)?)?,
            };
            let t = probe
                .score_row_variants(&pooled, r as usize, &variants)?
                .f_to_kind(Kind::Float)?;
            let t = t
                .f_sub(&t.f_mean(Kind::Float)?)?
                .f_view([masks as i64, 1, 1, 1])?;
            let cov = t
                .f_mul(&m.f_sub(&m_mean)?)?
                .f_mean_dim(0, false, None)?
                .f_view([1, 1, h, w])?;
            out.push(
                cov.f_adaptive_avg_pool2d(cells)?
                    .f_view([1, cells[0], cells[1]])?,
            );
        }
        Ok(Some(Tensor::f_cat(&out, 0)?))
    }
}

/// `masks` smooth random masks `[masks, 1, h, w]` in [0, 1] of the given shape, seeded.
pub fn smooth_masks(
    masks: usize,
    h: i64,
    w: i64,
    shape: MaskShape,
    seed: u64,
    device: tch::Device,
) -> Result<Tensor> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed ^ 0x5249_5345);
    let side = shape.grid as i64;
    let cell_h = (h + side - 1) / side;
    let cell_w = (w + side - 1) / side;
    let mut out = Vec::with_capacity(masks);
    for _ in 0..masks {
        let grid: Vec<f32> = (0..side * side)
            .map(|_| f32::from(u8::from(rng.random::<f64>() < shape.keep)))
            .collect();
        let up = Tensor::from_slice(&grid)
            .f_view([1, 1, side, side])?
            .f_upsample_bilinear2d(
                [(side + 1) * cell_h, (side + 1) * cell_w],
                false,
                None,
                None,
            )?;
        let dy = rng.random_range(0..cell_h);
        let dx = rng.random_range(0..cell_w);
        out.push(up.f_narrow(2, dy, h)?.f_narrow(3, dx, w)?);
    }
    Ok(Tensor::f_cat(&out, 0)?.f_to_device(device)?)
}

/// The plugin's explainer, boxed for a registry.
pub fn explainer() -> Box<dyn Explainer> {
    Box::new(Rise)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_are_smooth_seeded_and_keep_about_half() {
        let shape = ExplainOptions::default().checked_mask_shape().unwrap();
        let a = smooth_masks(64, 96, 96, shape, 3, tch::Device::Cpu).unwrap();
        let b = smooth_masks(64, 96, 96, shape, 3, tch::Device::Cpu).unwrap();
        assert_eq!(a.size(), [64, 1, 96, 96]);
        assert_eq!(
            f64::try_from(a.f_sub(&b).unwrap().abs().max()).unwrap(),
            0.0
        );
        let mean = f64::try_from(a.mean(Kind::Float)).unwrap();
        assert!((mean - 0.5).abs() < 0.08, "{mean}");
        // Smooth: neighbouring pixels differ by far less than a cell's jump.
        let step = a.narrow(3, 1, 95) - a.narrow(3, 0, 95);
        assert!(f64::try_from(step.abs().max()).unwrap() < 0.2);
    }

    #[test]
    fn the_grid_and_keep_share_shape_the_masks() {
        let sparse = MaskShape {
            grid: 4,
            keep: 0.25,
        };
        let m = smooth_masks(200, 64, 64, sparse, 1, tch::Device::Cpu).unwrap();
        let mean = f64::try_from(m.mean(Kind::Float)).unwrap();
        assert!((mean - 0.25).abs() < 0.05, "{mean}");
        // A coarser grid gives smoother masks than a fine one.
        let fine = MaskShape {
            grid: 16,
            keep: 0.25,
        };
        let f = smooth_masks(200, 64, 64, fine, 1, tch::Device::Cpu).unwrap();
        let roughness = |t: &Tensor| {
            let step = t.narrow(3, 1, 63) - t.narrow(3, 0, 63);
            f64::try_from(step.abs().mean(Kind::Float)).unwrap()
        };
        assert!(roughness(&m) < roughness(&f));
    }

    #[test]
    fn a_mask_shape_out_of_range_is_refused_by_name() {
        for (grid, keep) in [
            (Some(1), None),
            (Some(64), None),
            (None, Some(0.0)),
            (None, Some(1.0)),
        ] {
            let options = ExplainOptions {
                mask_grid: grid,
                mask_keep: keep,
                ..ExplainOptions::default()
            };
            let e = options.checked_mask_shape().unwrap_err().to_string();
            assert!(e.contains("RISE mask"), "{e}");
        }
    }
}
