//! Which region of A matches which region of B (Stylianou et al. 2019; Zhu et al. 2021).
//!
//! With average pooling and cosine similarity the score splits exactly over pairs of cells:
//! `p_A = (1/Z_A)·Σ_i a_i`, `p_B = (1/Z_B)·Σ_j b_j`, so
//! `cos(p_A, p_B) = Σ_ij a_i·b_j / (Z_A·Z_B·‖p_A‖·‖p_B‖)`. Each term `C_ij` is how much cell `i`
//! of A and cell `j` of B together contribute, and the matrix sums to the similarity. This is the
//! zero-shot model's score exactly; for a trained head it decomposes the backbone's cosine, which
//! the head is trained on top of (the head's L1 distance of a ReLU embedding has no exact
//! split over cell pairs).

use lookalike_core::SimilarityModel;
use serde::Serialize;
use tch::{Kind, Tensor};

use crate::cam::Layer;
use crate::{Error, Result};

/// One cell-to-cell contribution.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Match {
    /// Cell of A: (row, column) on A's grid.
    pub a: (usize, usize),
    /// Cell of B: (row, column) on B's grid.
    pub b: (usize, usize),
    /// Its share of the cosine similarity.
    pub contribution: f32,
}

/// The contributions of every pair of cells, `[h·w of A] × [h·w of B]`, row-major.
#[derive(Debug, Clone, Serialize)]
pub struct Correspondence {
    /// Rows and columns of the grids (both images share one size).
    pub grid: (usize, usize),
    /// `C[i·(h·w) + j]`, for cell `i` of A and cell `j` of B.
    pub matrix: Vec<f32>,
    /// The sum of the matrix: the cosine of the pooled vectors.
    pub cosine: f32,
}

impl Correspondence {
    /// The `k` largest contributions, largest first.
    pub fn top(&self, k: usize) -> Vec<Match> {
        let (h, w) = self.grid;
        let cells = h * w;
        let mut idx: Vec<usize> = (0..self.matrix.len()).collect();
        idx.sort_by(|&x, &y| self.matrix[y].total_cmp(&self.matrix[x]));
        idx.into_iter()
            .take(k)
            .map(|m| {
                let (i, j) = (m / cells, m % cells);
                Match {
                    a: (i / w, i % w),
                    b: (j / w, j % w),
                    contribution: self.matrix[m],
                }
            })
            .collect()
    }
}

/// The cell-pair decomposition of `cos(p_A, p_B)` at `layer`, for single images `[1, 3, H, W]`.
pub fn correspondence(
    model: &SimilarityModel,
    a: &Tensor,
    b: &Tensor,
    layer: Layer,
) -> Result<Correspondence> {
    if a.size() != b.size() || a.size().len() != 4 || a.size()[0] != 1 {
        return Err(Error::BadInput(format!(
            "correspondence needs two single images of one size, got {:?} and {:?}",
            a.size(),
            b.size()
        )));
    }
    let backbone = model.backbone();
    let unit = layer.resolve(backbone.units())?;
    let device = backbone.device();
    let both = Tensor::f_cat(&[a, b], 0)?.f_to_device(device)?;
    let maps = tch::no_grad(|| backbone.forward_units(&both, 0, unit))?.f_to_kind(Kind::Float)?;
    let size = maps.size();
    let (k, h, w) = (size[1], size[2], size[3]);
    let cells = maps.f_view([2, k, h * w])?;
    let (ca, cb) = (cells.f_get(0)?, cells.f_get(1)?);
    let z = (h * w) as f64;
    let norm = |c: &Tensor| -> Result<f64> {
        Ok(c.f_mean_dim(1, false, None)?
            .f_norm()?
            .f_double_value(&[])?)
    };
    let scale = z * z * norm(&ca)?.max(1e-12) * norm(&cb)?.max(1e-12);
    let matrix = ca
        .f_transpose(0, 1)?
        .f_matmul(&cb)?
        .f_div_scalar(scale)?
        .f_to_device(tch::Device::Cpu)?
        .f_contiguous()?
        .f_view([-1])?;
    let matrix = Vec::<f32>::try_from(matrix)?;
    let cosine = matrix.iter().sum();
    Ok(Correspondence {
        grid: (h as usize, w as usize),
        matrix,
        cosine,
    })
}
