//! Feature-level occlusion: mask one cell of the target layer's feature map, re-pool, re-run the
//! head, and see how much the explained score drops. No gradient is needed, so it works where
//! every gradient is zero: two identical images (`|e1 − e2| = 0`), or a saturated score.
//!
//! At the last layer the re-pooling is a subtraction (`p − A_ij / Z`), so a 7×7 map costs 49
//! head evaluations per image, batched: nearly free next to one backbone forward. At an earlier
//! layer each masked map runs the rest of the backbone (`h·w` tail forwards per image). This is
//! X-MIR's `SBSMFeature` (Hu et al. 2022) and the occlusion of Zeiler & Fergus (2014), applied
//! to the features rather than the pixels.

use tch::{Kind, Tensor};

use crate::probe::Probe;
use crate::Result;

/// How many masked maps go through the backbone's tail at once.
const TAIL_BATCH: i64 = 16;

/// `t(A, B) − t(A with cell ij masked, B)` for every row and cell: `[2N, h, w]`. Positive cells
/// support the score; negative ones hold it back.
pub fn feature_occlusion(probe: &Probe<'_>) -> Result<Tensor> {
    let _guard = tch::no_grad_guard();
    let acts = probe.activations;
    let size = acts.size();
    let (rows, k, h, w) = (size[0], size[1], size[2], size[3]);
    let cells = h * w;
    let pooled = probe.pooled()?;
    let base = {
        let n = probe.pairs() as i64;
        probe.score_pooled(&pooled.f_narrow(0, 0, n)?, &pooled.f_narrow(0, n, n)?)?
    };
    let mut out = Vec::with_capacity(rows as usize);
    for r in 0..rows {
        let row = acts.f_narrow(0, r, 1)?;
        let variants = if probe.at_last_layer() {
            // [cells, K]: each cell's own activations, divided by Z, taken off the pool.
            let per_cell = row
                .f_view([k, cells])?
                .f_transpose(0, 1)?
                .f_div_scalar(cells as f64)?;
            pooled.f_narrow(0, r, 1)?.f_sub(&per_cell)?
        } else {
            let mut parts = Vec::new();
            for start in (0..cells).step_by(TAIL_BATCH as usize) {
                let len = TAIL_BATCH.min(cells - start);
                // Row c of the identity marks cell c: keep everything else.
                let keep = Tensor::f_eye(cells, (Kind::Float, acts.device()))?
                    .f_narrow(0, start, len)?
                    .f_neg()?
                    .f_add_scalar(1.0)?
                    .f_view([len, 1, cells])?;
                let masked = row
                    .f_view([1, k, cells])?
                    .f_mul(&keep)?
                    .f_view([len, k, h, w])?;
                parts.push(probe.pool(&masked)?);
            }
            Tensor::f_cat(&parts, 0)?
        };
        let scores = probe.score_row_variants(&pooled, r as usize, &variants)?;
        let pair = if (r as usize) < probe.pairs() {
            r
        } else {
            r - probe.pairs() as i64
        };
        out.push(
            base.f_narrow(0, pair, 1)?
                .f_sub(&scores)?
                .f_view([1, h, w])?,
        );
    }
    Ok(Tensor::f_cat(&out, 0)?)
}
