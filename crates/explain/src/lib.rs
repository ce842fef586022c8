//! `lookalike-explain`: why the model called two images similar, or not.
//!
//! This crate will hold the object-safe `Explainer` trait and its registry, the shared CAM
//! pipeline (forward with the target layer's activations, backward of the chosen score, combine,
//! ReLU, upsample, normalise), Grad-CAM as the default, heatmap rendering and boxes. Extra
//! explainers (Grad-CAM++, XGrad-CAM, ...) are plugins under `plugins/`, each depending only on
//! this crate.
//!
//! It builds on [`lookalike_core::Features`]: every backbone already returns its last feature
//! map beside the pooled vector, which is what a CAM needs at the last layer.
//!
//! Nothing is implemented yet: see the explanations issue.

pub use lookalike_core::Features;
