//! Sampled Shapley values of the feature map's cells (Castro et al. 2009) as a Lookalike plugin.
//!
//! The players are the `h·w` cells of one image's last feature map; a coalition `S` keeps its
//! cells and empties the rest, so its pooled vector is `Σ_{c∈S} A_c / Z` and its value is the
//! head's score against the other image as it is. Each sampled permutation adds the cells one
//! by one and credits each with its marginal change; half the permutations are the reverses of
//! the other half (antithetic sampling), which lowers the variance. The values add up exactly to
//! `t(A, B) − t(0, B)`, whatever the permutations. Every coalition is a head evaluation, so
//! [`PERMUTATIONS`] × 50 evaluations per image cost a fraction of one backbone forward.
//!
//! Only the last layer is average-pooled into the head, so only there is a coalition this cheap:
//! at another layer this explainer says so.

use lookalike_explain::{Cost, Error, ExplainOptions, Explainer, Probe, Result};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use tch::{Kind, Tensor};

/// Sampled permutations per image (half of them reversed copies of the other half).
pub const PERMUTATIONS: usize = 16;

/// The Shapley explainer, registered as `shapley`.
#[derive(Debug, Default, Clone, Copy)]
pub struct Shapley;

impl Explainer for Shapley {
    fn name(&self) -> &str {
        "shapley"
    }
    fn description(&self) -> &str {
        "sampled Shapley values of the last feature map's cells, scored by the head (antithetic \
         permutations; the values add up to the score's change)"
    }
    fn cost(&self, cells: usize, _options: &ExplainOptions) -> Cost {
        let evaluations = PERMUTATIONS * (cells + 1);
        Cost {
            forward_passes: 0,
            head_evaluations: evaluations,
            backward: false,
            summary: format!(
                "{evaluations} head evaluations per image ({PERMUTATIONS} permutations of {cells} \
                 cells); last layer only"
            ),
        }
    }
    fn attribute(&self, probe: &Probe<'_>) -> Result<Option<Tensor>> {
        if !probe.at_last_layer() {
            return Err(Error::BadInput(
                "shapley works on the last feature map only (layer last)".into(),
            ));
        }
        let _guard = tch::no_grad_guard();
        let acts = probe.activations;
        let size = acts.size();
        let (rows, k, h, w) = (size[0], size[1], size[2], size[3]);
        let cells = (h * w) as usize;
        let pooled = probe.pooled()?;
        let device = acts.device();
        let mut rng = rand::rngs::StdRng::seed_from_u64(probe.options.seed);
        let mut orders: Vec<Vec<usize>> = Vec::with_capacity(PERMUTATIONS);
        while orders.len() < PERMUTATIONS {
            let mut order: Vec<usize> = (0..cells).collect();
            order.shuffle(&mut rng);
            let reversed: Vec<usize> = order.iter().rev().copied().collect();
            orders.push(order);
            orders.push(reversed);
        }
        let mut out = Vec::with_capacity(rows as usize);
        for r in 0..rows {
            // Each cell's share of the pooled vector: [cells, K].
            let per_cell = acts
                .f_narrow(0, r, 1)?
                .f_view([k, cells as i64])?
                .f_transpose(0, 1)?
                .f_div_scalar(cells as f64)?;
            let mut coalitions = Vec::with_capacity(orders.len());
            for order in &orders {
                let index: Vec<i64> = order.iter().map(|&c| c as i64).collect();
                let index = Tensor::from_slice(&index).f_to_device(device)?;
                let prefix = per_cell
                    .f_index_select(0, &index)?
                    .f_cumsum(0, Kind::Float)?;
                let empty = Tensor::f_zeros([1, k], (Kind::Float, device))?;
                coalitions.push(Tensor::f_cat(&[empty, prefix], 0)?);
            }
            let all = Tensor::f_cat(&coalitions, 0)?;
            let scores = probe
                .score_row_variants(&pooled, r as usize, &all)?
                .f_to_kind(Kind::Double)?
                .f_to_device(tch::Device::Cpu)?;
            let scores = Vec::<f64>::try_from(&scores)?;
            let mut values = vec![0f64; cells];
            for (p, order) in orders.iter().enumerate() {
                let s = &scores[p * (cells + 1)..(p + 1) * (cells + 1)];
                for (i, &c) in order.iter().enumerate() {
                    values[c] += s[i + 1] - s[i];
                }
            }
            let values: Vec<f32> = values
                .iter()
                .map(|v| (v / orders.len() as f64) as f32)
                .collect();
            out.push(Tensor::from_slice(&values).f_view([1, h, w])?);
        }
        Ok(Some(Tensor::f_cat(&out, 0)?.f_to_device(device)?))
    }
}

/// The plugin's explainer, boxed for a registry.
pub fn explainer() -> Box<dyn Explainer> {
    Box::new(Shapley)
}
