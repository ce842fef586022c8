//! Feature-level Integrated Gradients (Sundararajan et al. 2017) as a Lookalike plugin.
//!
//! One image's feature map `A` at the target layer moves along the straight path from a zero
//! map (no activation: ReLU features are non-negative, so zero is "nothing there") to itself,
//! the other image held fixed ("conditional"). The attribution of cell `ij` is
//! `Σ_k A^k_ij · mean_α ∂t/∂A^k_ij(α·A)`, a midpoint Riemann sum over [`STEPS`] points. The cells
//! add up to `t(A, B) − t(0, B)` (completeness), which the tests check.
//!
//! A blurred map is no baseline at the last layer: average pooling cannot tell it from the map
//! itself, so the path would carry no change at all.
//!
//! At the last layer each step is a head evaluation and a head backward: 32 steps cost about as
//! much as a thousandth of a forward pass each. At an earlier layer each step runs the rest of
//! the backbone forwards and backwards.

use lookalike_explain::{Cost, ExplainOptions, Explainer, Probe, Result};
use tch::{Kind, Tensor};

/// Points on the path.
pub const STEPS: usize = 32;

/// The feature-level Integrated Gradients explainer, registered as `integrated-gradients`.
#[derive(Debug, Default, Clone, Copy)]
pub struct IntegratedGradients;

impl Explainer for IntegratedGradients {
    fn name(&self) -> &str {
        "integrated-gradients"
    }
    fn description(&self) -> &str {
        "feature-level Integrated Gradients: the score's gradient averaged along the path from \
         an empty feature map, times the activations (its cells add up to the score's change)"
    }
    fn cost(&self, _cells: usize, _options: &ExplainOptions) -> Cost {
        Cost {
            forward_passes: 0,
            head_evaluations: STEPS,
            backward: true,
            summary: format!(
                "{STEPS} head evaluations and head backwards per image at the last layer; {STEPS} \
                 tail forwards and backwards at an earlier layer"
            ),
        }
    }
    fn attribute(&self, probe: &Probe<'_>) -> Result<Option<Tensor>> {
        let acts = probe.activations.f_detach()?;
        let n = probe.pairs() as i64;
        let a = acts.f_narrow(0, 0, n)?;
        let b = acts.f_narrow(0, n, n)?;
        let side = |moving: &Tensor, fixed: &Tensor, moving_first: bool| -> Result<Tensor> {
            let mut total = moving.f_zeros_like()?;
            for step in 0..STEPS {
                let alpha = (step as f64 + 0.5) / STEPS as f64;
                let leaf = moving
                    .f_mul_scalar(alpha)?
                    .f_detach()?
                    .f_set_requires_grad(true)?;
                let score = if moving_first {
                    probe.score_features(&leaf, fixed)?
                } else {
                    probe.score_features(fixed, &leaf)?
                };
                let sum = score.f_sum(Kind::Float)?;
                let mut grads = Tensor::f_run_backward(&[sum], &[&leaf], false, false)?;
                if let Some(g) = grads.pop() {
                    total = total.f_add(&g)?;
                }
            }
            Ok(moving
                .f_mul(&total.f_div_scalar(STEPS as f64)?)?
                .f_sum_dim_intlist(1, false, Kind::Float)?)
        };
        let attribution_a = side(&a, &b, true)?;
        let attribution_b = side(&b, &a, false)?;
        Ok(Some(Tensor::f_cat(&[attribution_a, attribution_b], 0)?))
    }
}

/// The plugin's explainer, boxed for a registry.
pub fn explainer() -> Box<dyn Explainer> {
    Box::new(IntegratedGradients)
}
