//! XGrad-CAM (Fu et al. 2020) as a Lookalike plugin: only the channel weights differ from
//! Grad-CAM.
//!
//! `w_k = Σ_ij (A^k_ij / (Σ_ab A^k_ab + ε)) · g^k_ij`, with `ε = 1e-7` as in pytorch-grad-cam.

use lookalike_explain::{spatial_sum, Explainer};
use tch::{Kind, TchError, Tensor};

/// The XGrad-CAM explainer, registered as `xgradcam`.
#[derive(Debug, Default, Clone, Copy)]
pub struct XGradCam;

impl Explainer for XGradCam {
    fn name(&self) -> &str {
        "xgradcam"
    }
    fn description(&self) -> &str {
        "XGrad-CAM: gradients weighted by each channel's share of its activation"
    }
    fn weights(&self, activations: &Tensor, gradients: &Tensor) -> Result<Tensor, TchError> {
        let share = activations.f_div(&spatial_sum(activations)?.f_add_scalar(1e-7)?)?;
        share
            .f_mul(gradients)?
            .f_sum_dim_intlist(&[2i64, 3][..], false, Kind::Float)
    }
}

/// The plugin's explainer, boxed for a registry.
pub fn explainer() -> Box<dyn Explainer> {
    Box::new(XGradCam)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_gradients_give_the_gradient_itself() {
        let a = Tensor::from_slice(&[1f32, 2., 3., 4.]).view([1, 1, 2, 2]);
        let g = Tensor::from_slice(&[0.5f32; 4]).view([1, 1, 2, 2]);
        let w = XGradCam.weights(&a, &g).unwrap().double_value(&[0, 0]);
        assert!((w - 0.5).abs() < 1e-6, "{w}");
    }
}
