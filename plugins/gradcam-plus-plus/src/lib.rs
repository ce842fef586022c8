//! Grad-CAM++ (Chattopadhay et al. 2018) as a Lookalike plugin: only the channel weights differ
//! from Grad-CAM.
//!
//! `α^k_ij = g² / (2g² + (Σ_ab A^k_ab)·g³ + ε)`, with `α = 0` where `g = 0`, then
//! `w_k = Σ_ij α^k_ij · ReLU(g^k_ij)`. `ε = 1e-6` as in pytorch-grad-cam, whose maps the golden
//! tests match.

use lookalike_explain::{spatial_sum, Explainer};
use tch::{Kind, TchError, Tensor};

/// The Grad-CAM++ explainer, registered as `gradcam++`.
#[derive(Debug, Default, Clone, Copy)]
pub struct GradCamPlusPlus;

impl Explainer for GradCamPlusPlus {
    fn name(&self) -> &str {
        "gradcam++"
    }
    fn description(&self) -> &str {
        "Grad-CAM++: positive gradients weighted by a second- and third-order term"
    }
    fn weights(&self, activations: &Tensor, gradients: &Tensor) -> Result<Tensor, TchError> {
        let g2 = gradients.f_square()?;
        let g3 = g2.f_mul(gradients)?;
        let denominator = g2
            .f_mul_scalar(2.0)?
            .f_add(&spatial_sum(activations)?.f_mul(&g3)?)?
            .f_add_scalar(1e-6)?;
        let alpha = g2.f_div(&denominator)?;
        let alpha = alpha.f_where_self(&gradients.f_ne(0.0)?, &alpha.f_zeros_like()?)?;
        alpha
            .f_mul(&gradients.f_relu()?)?
            .f_sum_dim_intlist(&[2i64, 3][..], false, Kind::Float)
    }
}

/// The plugin's explainer, boxed for a registry.
pub fn explainer() -> Box<dyn Explainer> {
    Box::new(GradCamPlusPlus)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_gradients_give_the_closed_form() {
        // g constant c/Z over a 2×2 grid: w = ReLU(c) / (2 + p·c) with p the channel mean.
        let a = Tensor::from_slice(&[1f32, 2., 3., 4., 0., 0., 1., 1.]).view([1, 2, 2, 2]);
        let c = [0.8f32, -0.5];
        let (g0, g1) = (c[0] / 4.0, c[1] / 4.0);
        let g = Tensor::from_slice(&[g0, g0, g0, g0, g1, g1, g1, g1]).view([1, 2, 2, 2]);
        let w = Vec::<f32>::try_from(GradCamPlusPlus.weights(&a, &g).unwrap().view([-1])).unwrap();
        let expected = 0.8 / (2.0 + 2.5 * 0.8);
        assert!((w[0] - expected).abs() < 1e-4, "{} vs {expected}", w[0]);
        assert_eq!(w[1], 0.0);
    }
}
