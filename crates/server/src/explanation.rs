//! An explanation as the API returns it: the decision, the four maps as PNG overlays (data URLs)
//! with their raw grids and boxes, the two crops the maps lie on, and the best cell matches.

use base64::Engine;
use image::RgbImage;
use lookalike_engine::collection::HitExplanation;
use lookalike_explain::render::{overlay_with_box, png_bytes};
use lookalike_explain::{BBox, BoxOptions, SaliencyMap};
use serde::Serialize;
use serde_json::Value;

use crate::error::ApiError;

/// Cell matches returned per pair.
const TOP_MATCHES: usize = 10;

/// One map: its picture, its grid and its box.
#[derive(Debug, Serialize)]
pub struct MapView {
    /// The overlay on the crop, box in white, as a `data:image/png;base64,` URL.
    pub png: String,
    /// Rows and columns of the grid.
    pub grid: [usize; 2],
    /// The grid, row-major, normalised to [0, 1].
    pub values: Vec<f32>,
    /// The smallest raw value (after ReLU, before normalising).
    pub raw_min: f32,
    /// The largest raw value: compare it across maps.
    pub raw_max: f32,
    /// Nothing to show.
    pub flat: bool,
    /// Why it is flat.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flat_reason: Option<String>,
    /// The method that made it when the asked one had no gradient to work with (`occlusion`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fallback: Option<String>,
    /// The map's box on the crop, in pixels.
    #[serde(rename = "box")]
    pub bbox: Option<BBox>,
}

/// The two maps of one image.
#[derive(Debug, Serialize)]
pub struct SideView {
    /// Explains the decision.
    pub factual: MapView,
    /// Explains the opposite decision.
    pub counterfactual: MapView,
}

/// Why the model decided what it did about the query and one hit.
#[derive(Debug, Serialize)]
pub struct ExplanationView {
    /// The hit's id.
    pub id: u64,
    /// `s` (calibrated when the model is).
    pub similarity: f64,
    /// The head's similarity logit.
    pub logit: f64,
    /// What the maps explain: `logit` or `probability`.
    pub target: lookalike_explain::ScoreTarget,
    /// `d = 1 − s`.
    pub distance: f64,
    /// The decision.
    pub same: bool,
    /// The explainer.
    pub method: String,
    /// The target layer (backbone units run).
    pub layer: usize,
    /// What the factual maps explain: `similarity` or `distance`.
    pub factual_target: Value,
    /// The crops the maps lie on (the model's view), as PNG data URLs.
    pub crops: Value,
    /// The query's maps.
    pub query: SideView,
    /// The hit's maps.
    pub hit: SideView,
    /// The best cell matches, when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correspondence: Option<Value>,
}

fn data_url(image: &RgbImage) -> Result<String, ApiError> {
    let png = png_bytes(image)?;
    Ok(format!(
        "data:image/png;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(png)
    ))
}

fn map_view(crop: &RgbImage, map: &SaliencyMap) -> Result<MapView, ApiError> {
    let (picture, bbox) = overlay_with_box(crop, map, &BoxOptions::default())?;
    Ok(MapView {
        png: data_url(&picture)?,
        grid: [map.height, map.width],
        values: map.values.clone(),
        raw_min: map.raw_min,
        raw_max: map.raw_max,
        flat: map.flat,
        flat_reason: map.flat_reason.clone(),
        fallback: map.fallback.clone(),
        bbox,
    })
}

/// The API's view of one explained hit.
pub fn view(query_crop: &RgbImage, e: &HitExplanation) -> Result<ExplanationView, ApiError> {
    let p = &e.pair;
    let correspondence = e.correspondence.as_ref().map(|c| {
        serde_json::json!({
            "grid": [c.grid.0, c.grid.1],
            "cosine": c.cosine,
            "top": c.top(TOP_MATCHES),
        })
    });
    Ok(ExplanationView {
        id: e.id,
        similarity: p.similarity,
        logit: p.logit,
        target: p.target,
        distance: p.distance,
        same: p.same,
        method: p.method.clone(),
        layer: p.unit,
        factual_target: serde_json::to_value(p.factual_target).unwrap_or(Value::Null),
        crops: serde_json::json!({
            "query": data_url(query_crop)?,
            "hit": data_url(&e.crop)?,
        }),
        query: SideView {
            factual: map_view(query_crop, &p.a.factual)?,
            counterfactual: map_view(query_crop, &p.a.counterfactual)?,
        },
        hit: SideView {
            factual: map_view(&e.crop, &p.b.factual)?,
            counterfactual: map_view(&e.crop, &p.b.counterfactual)?,
        },
        correspondence,
    })
}
