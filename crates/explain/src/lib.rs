//! `lookalike-explain`: why the model called two images similar, or not.
//!
//! - [`Explainer`] (object safe) and its [`Registry`] by name, with [`GradCam`] and
//!   [`Occlusion`] built in. Other methods are plugins under `plugins/`: CAMs implement only
//!   their channel weights, perturbation methods their attribution through a [`Probe`].
//! - The explained score is a [`ScoreTarget`]: the head's logit by default, or the probability.
//! - [`occlusion`]: feature-level occlusion, also the fallback where every gradient is zero.
//! - [`cam`]: the shared pipeline. The backbone is cut at the target [`Layer`] with
//!   `forward_units`; the activations become a leaf that requires grad (tch has no hooks); one
//!   backward of the summed similarities gives every image its own gradients. At the last layer a
//!   shortcut differentiates only the head.
//! - [`pair`]: [`PairExplanation`], a factual and a counterfactual [`SaliencyMap`] for each image
//!   of a pair, conditioned on the model's decision, with raw magnitudes and an explicit `flat`
//!   flag; [`explain_pairs`] explains a query against its `k` hits in one batch.
//! - [`boxes`]: a box from a map (threshold fraction, largest connected component, padding).
//! - [`render`]: bilinear upsampling and RGB overlays with the Turbo colormap.
//! - [`faithfulness`]: deletion and insertion AUC (RISE) of the similarity score.
//! - [`correspondence`]: which region of A matches which region of B.

pub mod boxes;
pub mod cam;
pub mod correspondence;
mod error;
mod explainer;
pub mod faithfulness;
pub mod occlusion;
pub mod pair;
pub mod probe;
pub mod render;

pub use boxes::{box_from_map, BBox, BoxOptions};
pub use cam::{score_gradients, similarity_gradients, GradientPath, Gradients, Layer, ScoreTarget};
pub use error::{Error, Result};
pub use explainer::{spatial_sum, Cost, Explainer, GradCam, Occlusion, Registry};
pub use pair::{
    explain_batch, explain_batch_with, explain_pairs, ImageMaps, PairExplanation, SaliencyMap,
    Target,
};
pub use probe::{ExplainOptions, Probe};
