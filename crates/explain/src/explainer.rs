//! The [`Explainer`] trait, Grad-CAM (the default) and the [`Registry`] that finds explainers by
//! name.
//!
//! A CAM explainer only says how to turn a layer's activations `A` and the gradients `g = ∂t/∂A`
//! of the explained scalar `t` into a map. Everything else (forward, backward, the choice of `t`,
//! ReLU, normalisation, upsampling) is the shared pipeline in [`crate::cam`] and
//! [`crate::pair`]. Most CAMs differ only in their channel weights, so that is the one method to
//! implement; element-wise methods (HiResCAM, LayerCAM) override [`Explainer::combine`] instead.
//!
//! A perturbation explainer (occlusion, Integrated Gradients, RISE) overrides
//! [`Explainer::attribute`] instead: it gets a [`Probe`] that scores changed features, pooled
//! vectors or pixels, and returns the signed attribution of `t` per cell. Every explainer says
//! what it costs ([`Explainer::cost`]).

use serde::Serialize;
use tch::{Kind, TchError, Tensor};

use crate::probe::{ExplainOptions, Probe};
use crate::{Error, Result};

/// What explaining one pair costs, beyond the forward pass every method shares.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cost {
    /// Extra backbone forward passes per explained image.
    pub forward_passes: usize,
    /// Head evaluations per explained image (a head evaluation is a 1280×256 product: about a
    /// thousandth of a forward pass).
    pub head_evaluations: usize,
    /// Whether it needs a backward pass (through the head only, at the last layer).
    pub backward: bool,
    /// In words, for `lookalike explainers` and `/api/explainers`.
    pub summary: String,
}

impl Cost {
    /// The cost of a CAM: one backward of the summed scores for the whole batch.
    pub fn cam() -> Self {
        Cost {
            forward_passes: 0,
            head_evaluations: 0,
            backward: true,
            summary: "1 forward + 1 backward for the whole batch (at the last layer the backward \
                      runs through the head only)"
                .into(),
        }
    }
}

/// A class-activation-map method. Object safe: the registry holds `Box<dyn Explainer>`.
pub trait Explainer: Send + Sync {
    /// The name users type (`gradcam`, `gradcam++`, ...), lower case.
    fn name(&self) -> &str;
    /// One line for `--help` and the docs.
    fn description(&self) -> &str;
    /// What one explained pair costs, for a target layer of `cells` cells.
    fn cost(&self, cells: usize, options: &ExplainOptions) -> Cost {
        let _ = (cells, options);
        Cost::cam()
    }
    /// Channel weights `[N, K]` from activations and gradients, both `[N, K, h, w]`. The
    /// default is Grad-CAM's mean gradient; a perturbation method never reaches it.
    fn weights(&self, activations: &Tensor, gradients: &Tensor) -> Result<Tensor, TchError> {
        let _ = activations;
        gradients.f_mean_dim(&[2i64, 3][..], false, None)
    }
    /// The map before ReLU, `[N, h, w]`: by default `Σ_k w_k A^k`.
    fn combine(&self, activations: &Tensor, gradients: &Tensor) -> Result<Tensor, TchError> {
        let w = self.weights(activations, gradients)?;
        activations
            .f_mul(&w.f_unsqueeze(-1)?.f_unsqueeze(-1)?)?
            .f_sum_dim_intlist(1, false, Kind::Float)
    }
    /// A perturbation method's signed attribution of the explained score `t` to each cell,
    /// `[2N, h, w]` (A sides, then B sides; positive supports `t`). `None`, the default, makes
    /// the pipeline use [`Explainer::combine`] on the gradients.
    fn attribute(&self, probe: &Probe<'_>) -> Result<Option<Tensor>> {
        let _ = probe;
        Ok(None)
    }
}

/// Feature-level occlusion of the last map's cells ([`crate::occlusion`]): built in, because the
/// pipeline falls back to it where every gradient is zero.
#[derive(Debug, Default, Clone, Copy)]
pub struct Occlusion;

impl Explainer for Occlusion {
    fn name(&self) -> &str {
        "occlusion"
    }
    fn description(&self) -> &str {
        "feature-level occlusion: each cell of the feature map masked, re-pooled and re-scored \
         by the head (exact with respect to the head, no gradient)"
    }
    fn cost(&self, cells: usize, _options: &ExplainOptions) -> Cost {
        Cost {
            forward_passes: 0,
            head_evaluations: cells,
            backward: false,
            summary: format!(
                "{cells} head evaluations per image at the last layer (one per cell); {cells} \
                 tail forwards per image at an earlier layer"
            ),
        }
    }
    fn attribute(&self, probe: &Probe<'_>) -> Result<Option<Tensor>> {
        crate::occlusion::feature_occlusion(probe).map(Some)
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
    /// The built-in explainers: Grad-CAM and feature-level occlusion.
    pub fn builtin() -> Self {
        let mut r = Registry::default();
        r.register(Box::new(GradCam));
        r.register(Box::new(Occlusion));
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
