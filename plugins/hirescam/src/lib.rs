//! HiResCAM (Draelos & Carin 2020) as a Lookalike plugin: an element-wise method, so it
//! overrides the whole combination, `M = Σ_k g^k ⊙ A^k`, instead of the channel weights.

use lookalike_explain::Explainer;
use tch::{Kind, TchError, Tensor};

/// The HiResCAM explainer, registered as `hirescam`.
#[derive(Debug, Default, Clone, Copy)]
pub struct HiResCam;

impl Explainer for HiResCam {
    fn name(&self) -> &str {
        "hirescam"
    }
    fn description(&self) -> &str {
        "HiResCAM: gradient times activation, summed over channels, element-wise"
    }
    fn weights(&self, _activations: &Tensor, gradients: &Tensor) -> Result<Tensor, TchError> {
        // Only meaningful as a summary; the map comes from `combine`.
        gradients.f_mean_dim(&[2i64, 3][..], false, None)
    }
    fn combine(&self, activations: &Tensor, gradients: &Tensor) -> Result<Tensor, TchError> {
        activations
            .f_mul(gradients)?
            .f_sum_dim_intlist(1, false, Kind::Float)
    }
}

/// The plugin's explainer, boxed for a registry.
pub fn explainer() -> Box<dyn Explainer> {
    Box::new(HiResCam)
}
