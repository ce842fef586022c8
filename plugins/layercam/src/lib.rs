//! LayerCAM (Jiang et al. 2021) as a Lookalike plugin: an element-wise method,
//! `M = Σ_k ReLU(g^k) ⊙ A^k`, good at earlier layers where Grad-CAM's channel means blur.

use lookalike_explain::Explainer;
use tch::{Kind, TchError, Tensor};

/// The LayerCAM explainer, registered as `layercam`.
#[derive(Debug, Default, Clone, Copy)]
pub struct LayerCam;

impl Explainer for LayerCam {
    fn name(&self) -> &str {
        "layercam"
    }
    fn description(&self) -> &str {
        "LayerCAM: positive gradient times activation, element-wise"
    }
    fn weights(&self, _activations: &Tensor, gradients: &Tensor) -> Result<Tensor, TchError> {
        gradients.f_relu()?.f_mean_dim(&[2i64, 3][..], false, None)
    }
    fn combine(&self, activations: &Tensor, gradients: &Tensor) -> Result<Tensor, TchError> {
        activations
            .f_mul(&gradients.f_relu()?)?
            .f_sum_dim_intlist(1, false, Kind::Float)
    }
}

/// The plugin's explainer, boxed for a registry.
pub fn explainer() -> Box<dyn Explainer> {
    Box::new(LayerCam)
}
