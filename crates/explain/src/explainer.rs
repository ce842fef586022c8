//! The [`Explainer`] trait, Grad-CAM (the default) and the [`Registry`] that finds explainers by
//! name.
//!
//! An explainer only says how to turn a layer's activations `A` and the gradients `g = ∂t/∂A` of
//! the explained scalar `t` into a map. Everything else (forward, backward, the choice of `t`,
//! ReLU, normalisation, upsampling) is the shared pipeline in [`crate::cam`] and
//! [`crate::pair`]. Most CAMs differ only in their channel weights, so that is the one method to
//! implement; element-wise methods (HiResCAM, LayerCAM) override [`Explainer::combine`] instead.

use tch::{Kind, TchError, Tensor};

use crate::{Error, Result};

/// A class-activation-map method. Object safe: the registry holds `Box<dyn Explainer>`.
pub trait Explainer: Send + Sync {
    /// The name users type (`gradcam`, `gradcam++`, ...), lower case.
    fn name(&self) -> &str;
    /// One line for `--help` and the docs.
    fn description(&self) -> &str;
    /// Channel weights `[N, K]` from activations and gradients, both `[N, K, h, w]`.
    fn weights(&self, activations: &Tensor, gradients: &Tensor) -> Result<Tensor, TchError>;
    /// The map before ReLU, `[N, h, w]`: by default `Σ_k w_k A^k`.
    fn combine(&self, activations: &Tensor, gradients: &Tensor) -> Result<Tensor, TchError> {
        let w = self.weights(activations, gradients)?;
        activations
            .f_mul(&w.f_unsqueeze(-1)?.f_unsqueeze(-1)?)?
            .f_sum_dim_intlist(1, false, Kind::Float)
    }
}

/// Grad-CAM (Selvaraju et al. 2017): `w_k = mean_ij g^k_ij`.
#[derive(Debug, Default, Clone, Copy)]
pub struct GradCam;

impl Explainer for GradCam {
    fn name(&self) -> &str {
        "gradcam"
    }
    fn description(&self) -> &str {
        "Grad-CAM: channels weighted by their mean gradient (the default)"
    }
    fn weights(&self, _activations: &Tensor, gradients: &Tensor) -> Result<Tensor, TchError> {
        gradients.f_mean_dim(&[2i64, 3][..], false, None)
    }
}

/// The sum of each channel over space, `[N, K, 1, 1]`: several methods normalise by it.
pub fn spatial_sum(activations: &Tensor) -> Result<Tensor, TchError> {
    activations.f_sum_dim_intlist(&[2i64, 3][..], true, Kind::Float)
}

/// Explainers by name.
#[derive(Default)]
pub struct Registry {
    explainers: Vec<Box<dyn Explainer>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.names()).finish()
    }
}

impl Registry {
    /// The built-in explainers: Grad-CAM.
    pub fn builtin() -> Self {
        let mut r = Registry::default();
        r.register(Box::new(GradCam));
        r
    }

    /// Adds an explainer; a later one with the same name replaces the earlier.
    pub fn register(&mut self, explainer: Box<dyn Explainer>) {
        self.explainers.retain(|e| e.name() != explainer.name());
        self.explainers.push(explainer);
    }

    /// The registered names, in registration order.
    pub fn names(&self) -> Vec<String> {
        self.explainers
            .iter()
            .map(|e| e.name().to_string())
            .collect()
    }

    /// Every explainer, in registration order.
    pub fn all(&self) -> impl Iterator<Item = &dyn Explainer> {
        self.explainers.iter().map(|e| e.as_ref())
    }

    /// The explainer called `name` (case-insensitive; `grad-cam` is `gradcam`).
    pub fn get(&self, name: &str) -> Result<&dyn Explainer> {
        let key = name.trim().to_ascii_lowercase().replace(['-', '_'], "");
        self.explainers
            .iter()
            .find(|e| e.name().replace(['-', '_'], "") == key)
            .map(|e| e.as_ref())
            .ok_or_else(|| Error::UnknownMethod {
                name: name.to_string(),
                known: self.names(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_finds_by_name_and_names_the_known_ones() {
        let r = Registry::builtin();
        assert_eq!(r.get("Grad-CAM").unwrap().name(), "gradcam");
        let err = r.get("nope").err().unwrap().to_string();
        assert!(err.contains("\"nope\"") && err.contains("gradcam"), "{err}");
    }

    #[test]
    fn gradcam_weights_are_mean_gradients() {
        let a = Tensor::ones([1, 2, 2, 2], (Kind::Float, tch::Device::Cpu));
        let g = Tensor::from_slice(&[1f32, 1., 1., 1., -1., -3., 0., 0.]).view([1, 2, 2, 2]);
        let w = GradCam.weights(&a, &g).unwrap();
        assert_eq!(Vec::<f32>::try_from(w.view([-1])).unwrap(), vec![1.0, -1.0]);
        let m = GradCam.combine(&a, &g).unwrap();
        assert_eq!(m.size(), [1, 2, 2]);
    }
}
