//! The example pairs of a report: both crops and their four maps (factual and counterfactual for
//! each image) as PNG overlays, from one batched explanation.

use std::path::Path;

use lookalike_core::image::load_for_model;
use lookalike_core::{DecodeLimits, Preprocess, SimilarityModel};
use lookalike_explain::render::{overlay_with_box, save_png};
use lookalike_explain::{explain_batch, BoxOptions, Explainer, Layer};
use serde::Serialize;
use tch::Tensor;

use super::data::ExamplePair;
use super::{Error, Result};

/// One example pair as the page shows it.
#[derive(Debug, Clone, Serialize)]
pub struct ExampleFigure {
    /// The pair and why it was picked.
    pub example: ExamplePair,
    /// Image A's path.
    pub a: std::path::PathBuf,
    /// Image B's path.
    pub b: std::path::PathBuf,
    /// A's class.
    pub class_a: String,
    /// B's class.
    pub class_b: String,
    /// The similarity the explanation was computed at (`1 − d`).
    pub similarity: f64,
    /// The model's decision: `d < threshold`.
    pub same: bool,
    /// Files relative to the report folder: A, B, A factual, A counterfactual, B factual,
    /// B counterfactual.
    pub files: [String; 6],
}

/// The six column headings of [`ExampleFigure::files`].
pub const COLUMNS: [&str; 6] = [
    "A",
    "B",
    "A factual",
    "A counterfactual",
    "B factual",
    "B counterfactual",
];

/// Side of the pictures on the page: the crops are shrunk to this (keeps a report of nine pairs
/// near 2 MB).
pub const PICTURE: u32 = 160;

fn small(picture: &image::RgbImage) -> image::RgbImage {
    image::imageops::resize(
        picture,
        PICTURE,
        PICTURE,
        image::imageops::FilterType::Triangle,
    )
}

/// Explains every example in one batch with `explainer` at `layer` and writes its crops and
/// overlays, [`PICTURE`] pixels square, under `out/pairs/`.
#[allow(clippy::too_many_arguments)]
pub fn write_examples(
    model: &SimilarityModel,
    examples: &[ExamplePair],
    images: &[std::path::PathBuf],
    classes: &[String],
    labels: &[usize],
    preprocess: &Preprocess,
    explainer: &dyn Explainer,
    layer: Layer,
    boxes: &BoxOptions,
    out: &Path,
) -> Result<Vec<ExampleFigure>> {
    if examples.is_empty() {
        return Ok(Vec::new());
    }
    let dir = out.join("pairs");
    std::fs::create_dir_all(&dir).map_err(|source| Error::Write {
        path: dir.clone(),
        source,
    })?;
    let limits = DecodeLimits::default();
    let (mut crops_a, mut crops_b, mut pixels_a, mut pixels_b) = (vec![], vec![], vec![], vec![]);
    for e in examples {
        let (crop, pixels) = load_for_model(&images[e.pair.a], &limits, preprocess)?;
        crops_a.push(crop);
        pixels_a.push(pixels);
        let (crop, pixels) = load_for_model(&images[e.pair.b], &limits, preprocess)?;
        crops_b.push(crop);
        pixels_b.push(pixels);
    }
    let a = Tensor::f_cat(&pixels_a, 0).map_err(lookalike_core::Error::from)?;
    let b = Tensor::f_cat(&pixels_b, 0).map_err(lookalike_core::Error::from)?;
    let explanations = explain_batch(model, &a, &b, explainer, layer)?;
    let mut figures = Vec::with_capacity(examples.len());
    for (i, (e, x)) in examples.iter().zip(&explanations).enumerate() {
        let stem = format!("pairs/{:02}", i + 1);
        let files = [
            format!("{stem}-a.png"),
            format!("{stem}-b.png"),
            format!("{stem}-a-factual.png"),
            format!("{stem}-a-counterfactual.png"),
            format!("{stem}-b-factual.png"),
            format!("{stem}-b-counterfactual.png"),
        ];
        save_png(&small(&crops_a[i]), &out.join(&files[0]))?;
        save_png(&small(&crops_b[i]), &out.join(&files[1]))?;
        let maps = [
            (&crops_a[i], &x.a.factual),
            (&crops_a[i], &x.a.counterfactual),
            (&crops_b[i], &x.b.factual),
            (&crops_b[i], &x.b.counterfactual),
        ];
        for ((crop, map), file) in maps.into_iter().zip(&files[2..]) {
            let (picture, _) = overlay_with_box(crop, map, boxes)?;
            save_png(&small(&picture), &out.join(file))?;
        }
        figures.push(ExampleFigure {
            example: *e,
            a: images[e.pair.a].clone(),
            b: images[e.pair.b].clone(),
            class_a: classes[labels[e.pair.a]].clone(),
            class_b: classes[labels[e.pair.b]].clone(),
            similarity: x.similarity,
            same: x.same,
            files,
        });
    }
    Ok(figures)
}
