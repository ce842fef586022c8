//! Every explainer Lookalike ships: Grad-CAM (built in) and the plugins under `plugins/`, in one
//! registry that the CLI and the server both use.

use lookalike_explain::Registry;

/// Grad-CAM plus every plugin: Grad-CAM++, XGrad-CAM, HiResCAM and LayerCAM.
pub fn registry() -> Registry {
    let mut r = Registry::builtin();
    r.register(lookalike_gradcam_plus_plus::explainer());
    r.register(lookalike_xgradcam::explainer());
    r.register(lookalike_hirescam::explainer());
    r.register(lookalike_layercam::explainer());
    r
}
