//! What the explanation commands share: the registry of explainers (built in plus plugins), the
//! options that pick a method and a layer, and loading an image as the model sees it.

use std::path::Path;

use anyhow::Context;
use clap::Args;
use lookalike_core::image::load_for_model;
use lookalike_core::{DecodeLimits, Preprocess, SimilarityModel};
use lookalike_explain::render::{draw_box, overlay, save_png, upsample};
use lookalike_explain::{
    box_from_map, BBox, BoxOptions, Explainer, Layer, PairExplanation, Registry, SaliencyMap,
};
use serde_json::json;

/// Grad-CAM plus every plugin under `plugins/`.
pub fn registry() -> Registry {
    let mut r = Registry::builtin();
    r.register(lookalike_gradcam_plus_plus::explainer());
    r.register(lookalike_xgradcam::explainer());
    r.register(lookalike_hirescam::explainer());
    r.register(lookalike_layercam::explainer());
    r
}

/// Which explainer, which layer, which boxes.
#[derive(Debug, Args)]
pub struct MethodArgs {
    /// Explanation method: gradcam (default), gradcam++, xgradcam, hirescam or layercam.
    #[arg(long, default_value = "gradcam")]
    pub method: String,
    /// Target layer: `last` (default) or the number of backbone units to run first
    /// (1 = after the stem; EfficientNet-Lite0 has 18, the tiny CNN 4).
    #[arg(long, default_value = "last")]
    pub layer: String,
    /// Boxes keep the map at or above this fraction of its maximum (the CAM paper's 0.2).
    #[arg(long, default_value_t = 0.2)]
    pub box_fraction: f32,
    /// Pixels of padding around each box.
    #[arg(long, default_value_t = 0)]
    pub box_padding: u32,
}

impl MethodArgs {
    /// The explainer, the layer (checked against the model) and the box options.
    pub fn resolve<'r>(
        &self,
        registry: &'r Registry,
        model: &SimilarityModel,
    ) -> anyhow::Result<(&'r dyn Explainer, Layer, BoxOptions)> {
        let explainer = registry.get(&self.method)?;
        let units = model.backbone().units();
        let layer = Layer::parse(&self.layer).map_err(|_| {
            anyhow::anyhow!(
                "--layer {:?} is not `last` or a unit number from 1 to {units}",
                self.layer
            )
        })?;
        layer.resolve(units)?;
        anyhow::ensure!(
            (0.0..=1.0).contains(&self.box_fraction),
            "--box-fraction must be between 0 and 1, got {}",
            self.box_fraction
        );
        Ok((
            explainer,
            layer,
            BoxOptions {
                fraction: self.box_fraction,
                padding: self.box_padding,
            },
        ))
    }
}

/// An image as the model sees it: the preprocessed crop and its pixels `[1, 3, H, W]`.
pub fn load_image(
    path: &Path,
    preprocess: &Preprocess,
) -> anyhow::Result<(image::RgbImage, tch::Tensor)> {
    load_for_model(path, &DecodeLimits::default(), preprocess)
        .with_context(|| format!("reading the image {}", path.display()))
}

/// Upsamples a map to the image, finds its box, and writes the overlay (box in white) to `png`.
pub fn render(
    crop: &image::RgbImage,
    map: &SaliencyMap,
    boxes: &BoxOptions,
    png: Option<&Path>,
) -> anyhow::Result<Option<BBox>> {
    let (w, h) = crop.dimensions();
    let heat = upsample(map, w, h)?;
    let bbox = if map.flat {
        None
    } else {
        box_from_map(&heat, w, h, boxes)
    };
    if let Some(png) = png {
        let mut img = overlay(crop, &heat, 0.5);
        if let Some(b) = &bbox {
            draw_box(&mut img, b, [255, 255, 255]);
        }
        save_png(&img, png)?;
    }
    Ok(bbox)
}

/// Writes a pair's four overlays into `out` (`a_factual.png`, `a_counterfactual.png`,
/// `b_factual.png`, `b_counterfactual.png`) and returns, per map, its summary (file, raw
/// magnitudes, flat flag, box) and its raw grid.
pub fn write_pair(
    out: &Path,
    crop_a: &image::RgbImage,
    crop_b: &image::RgbImage,
    e: &PairExplanation,
    boxes: &BoxOptions,
) -> anyhow::Result<(
    serde_json::Map<String, serde_json::Value>,
    serde_json::Map<String, serde_json::Value>,
)> {
    let mut maps = serde_json::Map::new();
    let mut grids = serde_json::Map::new();
    let sides = [
        ("a", crop_a, &e.a.factual, "factual"),
        ("a", crop_a, &e.a.counterfactual, "counterfactual"),
        ("b", crop_b, &e.b.factual, "factual"),
        ("b", crop_b, &e.b.counterfactual, "counterfactual"),
    ];
    for (side, crop, map, kind) in sides {
        let name = format!("{side}_{kind}.png");
        let bbox = render(crop, map, boxes, Some(&out.join(&name)))?;
        let key = format!("{side}_{kind}");
        maps.insert(
            key.clone(),
            json!({
                "png": name,
                "raw_max": map.raw_max,
                "raw_min": map.raw_min,
                "flat": map.flat,
                "box": bbox,
                "grid": [map.height, map.width],
            }),
        );
        grids.insert(key, serde_json::to_value(map)?);
    }
    Ok((maps, grids))
}
