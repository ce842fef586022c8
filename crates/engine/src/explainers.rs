//! Every explainer Lookalike ships: Grad-CAM (built in) and the plugins under `plugins/`, in one
//! registry that the CLI and the server both use.

use lookalike_explain::Registry;

/// Grad-CAM and occlusion (built in) plus every plugin: Grad-CAM++, XGrad-CAM, HiResCAM,
/// LayerCAM, feature-level Integrated Gradients, sampled Shapley values and RISE.
pub fn registry() -> Registry {
    let mut r = Registry::builtin();
    r.register(lookalike_gradcam_plus_plus::explainer());
    r.register(lookalike_xgradcam::explainer());
    r.register(lookalike_hirescam::explainer());
    r.register(lookalike_layercam::explainer());
    r.register(lookalike_integrated_gradients::explainer());
    r.register(lookalike_shapley::explainer());
    r.register(lookalike_rise::explainer());
    r
}

/// The explainers that finish in about the time of a Grad-CAM: every one but RISE, whose
/// masks cost a backbone forward each. `--all-methods` and the report compare these, plus RISE
/// when asked.
pub fn is_fast(name: &str) -> bool {
    name != "rise"
}
