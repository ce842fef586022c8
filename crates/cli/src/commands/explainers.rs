//! What the explanation commands share: the registry of explainers (built in plus plugins), the
//! options that pick a method and a layer, and loading an image as the model sees it.

use std::path::Path;

use anyhow::Context;
use clap::Args;
use lookalike_core::image::load_for_model;
use lookalike_core::{DecodeLimits, Preprocess};
use lookalike_explain::probe::DEFAULT_MAX_MASKS;
use lookalike_explain::render::{overlay_with_box, save_png};
use lookalike_explain::{
    BBox, BoxOptions, ExplainOptions, Explainer, Layer, PairExplanation, Registry, SaliencyMap,
    ScoreTarget,
};
use serde_json::json;

pub use lookalike_engine::explainers::registry;

/// Arguments of `lookalike explainers`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Cells of the target layer's grid the costs are stated for (7×7 = 49 for
    /// EfficientNet-Lite0 and the ResNets at 224 px).
    #[arg(long, default_value_t = 49)]
    pub cells: usize,
    /// RISE's mask count the costs are stated for.
    #[arg(long)]
    pub masks: Option<usize>,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Runs `lookalike explainers`: every method with its description and cost.
pub fn list(args: ListArgs) -> anyhow::Result<()> {
    let registry = registry();
    let options = ExplainOptions {
        masks: args.masks,
        ..ExplainOptions::default()
    };
    let methods: Vec<_> = registry
        .all()
        .map(|e| {
            json!({
                "name": e.name(),
                "description": e.description(),
                "cost": e.cost(args.cells, &options),
            })
        })
        .collect();
    if args.json {
        println!(
            "{}",
            json!({"default": "gradcam", "targets": ["logit", "probability"], "methods": methods})
        );
        return Ok(());
    }
    for e in registry.all() {
        println!("{:<22} {}", e.name(), e.description());
        println!("{:<22} cost: {}", "", e.cost(args.cells, &options).summary);
    }
    Ok(())
}

/// Which explainer, which layer, which boxes.
#[derive(Debug, Args)]
pub struct MethodArgs {
    /// Explanation method: gradcam (default), occlusion, gradcam++, xgradcam, hirescam,
    /// layercam, integrated-gradients, shapley or rise (`lookalike explainers` lists them
    /// with their cost).
    #[arg(long, default_value = "gradcam")]
    pub method: String,
    /// What the maps explain: `logit` (default; the head's raw score, never saturated) or
    /// `probability` (the similarity, as the paper does).
    #[arg(long, default_value = "logit")]
    pub target: String,
    /// RISE: random masks per image (default 500).
    #[arg(long)]
    pub masks: Option<usize>,
    /// RISE: the most masks allowed.
    #[arg(long, default_value_t = DEFAULT_MAX_MASKS)]
    pub max_masks: usize,
    /// RISE: the side of the coarse grid its masks are drawn on (default 7).
    #[arg(long)]
    pub mask_grid: Option<usize>,
    /// RISE: the share of grid cells each mask keeps (default 0.5).
    #[arg(long)]
    pub mask_keep: Option<f64>,
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
    /// The explanation options: the target (`--target`) and RISE's masks, checked.
    pub fn options(&self) -> anyhow::Result<ExplainOptions> {
        let target = ScoreTarget::parse(&self.target).map_err(|_| {
            anyhow::anyhow!(
                "unknown --target {:?}: expected logit or probability",
                self.target
            )
        })?;
        let options = ExplainOptions {
            target,
            masks: self.masks,
            max_masks: self.max_masks,
            mask_grid: self.mask_grid,
            mask_keep: self.mask_keep,
            ..ExplainOptions::default()
        };
        if self.masks.is_some() || self.method.to_ascii_lowercase().contains("rise") {
            options.checked_masks()?;
        }
        if self.mask_grid.is_some() || self.mask_keep.is_some() {
            options.checked_mask_shape()?;
        }
        Ok(options)
    }

    /// The explainer, the layer (checked against a backbone of `units` units) and the box options.
    pub fn resolve<'r>(
        &self,
        registry: &'r Registry,
        units: usize,
    ) -> anyhow::Result<(&'r dyn Explainer, Layer, BoxOptions)> {
        let explainer = registry.get(&self.method)?;
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

/// Finds a map's box on the crop and, if `png` is given, writes the overlay (box in white).
pub fn render(
    crop: &image::RgbImage,
    map: &SaliencyMap,
    boxes: &BoxOptions,
    png: Option<&Path>,
) -> anyhow::Result<Option<BBox>> {
    let (picture, bbox) = overlay_with_box(crop, map, boxes)?;
    if let Some(png) = png {
        save_png(&picture, png)?;
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
