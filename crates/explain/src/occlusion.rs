//! Feature-level occlusion: mask one cell of the target layer's feature map, re-pool, re-run the
//! head, and see how much the explained score drops. No gradient is needed, so it works where
//! every gradient is zero: two identical images (`|e1 − e2| = 0`), or a saturated score.
//!
//! At the last layer the re-pooling is a subtraction (`p − A_ij / Z`), so a 7×7 map costs 49
//! head evaluations per image, batched: nearly free next to one backbone forward. At an earlier
//! layer each masked map runs the rest of the backbone, so cells are masked in blocks, at most
//! [`MAX_BLOCKS_PER_SIDE`]² of them: a 112×112 map would otherwise cost 12,544 tail forwards per
//! image (minutes on a CPU, past any request's timeout). Every cell of a block gets the block's
//! drop, so such a map is as coarse as the last layer's, whatever the layer. This is
//! X-MIR's `SBSMFeature` (Hu et al. 2022) and the occlusion of Zeiler & Fergus (2014), applied
//! to the features rather than the pixels.

use tch::{Kind, Tensor};

use crate::probe::Probe;
use crate::Result;

/// How many masked maps go through the backbone's tail at once.
const TAIL_BATCH: i64 = 16;

/// Below the last layer, cells are masked in blocks on a grid of at most this many per side.
pub const MAX_BLOCKS_PER_SIDE: i64 = 7;

/// The block of every cell of an `h × w` map, row-major, on a grid of at most
/// [`MAX_BLOCKS_PER_SIDE`] per side, and how many blocks there are.
fn block_grid(h: i64, w: i64) -> (Vec<i64>, i64) {
    let (bh, bw) = (h.min(MAX_BLOCKS_PER_SIDE), w.min(MAX_BLOCKS_PER_SIDE));
    let of = (0..h)
        .flat_map(|i| (0..w).map(move |j| (i * bh / h) * bw + j * bw / w))
        .collect();
    (of, bh * bw)
}

/// `t(A, B) − t(A with cell ij masked, B)` for every row and cell (below the last layer, with
/// the block of cell ij masked): `[2N, h, w]`. Positive cells
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
        // The pooled vectors with one part masked, and at an earlier layer the block of each cell.
        let (variants, cell_block) = if probe.at_last_layer() {
            // [cells, K]: each cell's own activations, divided by Z, taken off the pool.
            let per_cell = row
                .f_view([k, cells])?
                .f_transpose(0, 1)?
                .f_div_scalar(cells as f64)?;
            (pooled.f_narrow(0, r, 1)?.f_sub(&per_cell)?, None)
        } else {
            let (of, blocks) = block_grid(h, w);
            let block_of = Tensor::from_slice(&of).f_to_device(acts.device())?;
            // keep[b, c] = 0 where cell c is in block b, 1 elsewhere.
            let keep = Tensor::f_arange(blocks, (Kind::Int64, acts.device()))?
                .f_unsqueeze(1)?
                .f_ne_tensor(&block_of.f_unsqueeze(0)?)?
                .f_to_kind(Kind::Float)?;
            let mut parts = Vec::new();
            for start in (0..blocks).step_by(TAIL_BATCH as usize) {
                let len = TAIL_BATCH.min(blocks - start);
                let masked = row
                    .f_view([1, k, cells])?
                    .f_mul(&keep.f_narrow(0, start, len)?.f_view([len, 1, cells])?)?
                    .f_view([len, k, h, w])?;
                parts.push(probe.pool(&masked)?);
            }
            (Tensor::f_cat(&parts, 0)?, Some(block_of))
        };
        let scores = probe.score_row_variants(&pooled, r as usize, &variants)?;
        // Every cell gets its block's score.
        let scores = match cell_block {
            Some(block_of) => scores.f_index_select(0, &block_of)?,
            None => scores,
        };
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_maps_keep_their_cells_and_large_ones_get_blocks() {
        let (of, n) = block_grid(7, 7);
        assert_eq!(n, 49);
        assert_eq!(of, (0..49).collect::<Vec<_>>());
        let (of, n) = block_grid(112, 112);
        assert_eq!(n, 49);
        assert_eq!(of.len(), 112 * 112);
        // 16 × 16 cells per block, row-major.
        assert_eq!(of[0], 0);
        assert_eq!(of[15], 0);
        assert_eq!(of[16], 1);
        assert_eq!(of[16 * 112], 7);
        assert_eq!(of[112 * 112 - 1], 48);
        for b in 0..49 {
            assert_eq!(of.iter().filter(|&&x| x == b).count(), 256);
        }
        let (of, n) = block_grid(3, 10);
        assert_eq!(n, 21);
        assert_eq!(*of.iter().max().unwrap(), 20);
    }
}
