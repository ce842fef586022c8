//! Explaining hits: a query against stored images, all in one batch, with the four maps of each
//! pair and, if asked, which cells of the two images match.

use image::RgbImage;
use lookalike_core::DecodeLimits;
use lookalike_explain::correspondence::{correspondence, Correspondence};
use lookalike_explain::{explain_pairs, ExplainOptions, Explainer, Layer, PairExplanation};
use lookalike_index::PointId;

use super::{Collection, CollectionError, ImageSource, QueryImage};

/// Why the model decided what it did about the query and one stored image.
#[derive(Debug)]
pub struct HitExplanation {
    /// The stored image.
    pub id: PointId,
    /// It, as the model sees it (the crop the hit's maps lie on).
    pub crop: RgbImage,
    /// The decision and the four maps (`a` is the query, `b` the hit).
    pub pair: PairExplanation,
    /// Which cells of the query match which cells of the hit, when asked for.
    pub correspondence: Option<Correspondence>,
}

impl Collection {
    /// Explains `query` against stored images (`(id, file)`, as [`Collection::image_source`]
    /// and [`Collection::sources_of`] give them) with one batched forward and backward. Model
    /// work: runs on the caller's thread.
    pub fn explain_hits(
        &self,
        query: &QueryImage,
        hits: &[(PointId, ImageSource)],
        explainer: &dyn Explainer,
        layer: Layer,
        options: &ExplainOptions,
        with_correspondence: bool,
    ) -> Result<Vec<HitExplanation>, CollectionError> {
        if hits.is_empty() {
            return Ok(Vec::new());
        }
        layer.resolve(self.models.facts().units)?;
        let preprocess = self.preprocess();
        let mut crops = Vec::with_capacity(hits.len());
        let mut pixels = Vec::with_capacity(hits.len());
        for (id, source) in hits {
            let bytes = source.bytes().map_err(|e| CollectionError::FileMissing {
                id: *id,
                path: source.name().into_owned(),
                why: e.to_string(),
            })?;
            let image = QueryImage::from_bytes(
                &bytes,
                &source.name(),
                &DecodeLimits::default(),
                &preprocess,
            )
            .map_err(|e| {
                CollectionError::Invalid(format!(
                    "image {id} cannot be explained: its file is no longer readable ({e})"
                ))
            })?;
            crops.push(image.crop);
            pixels.push(image.pixels);
        }
        let batch = tch::Tensor::f_cat(&pixels, 0)?;
        self.models.with(|model| {
            let pairs = explain_pairs(model, &query.pixels, &batch, explainer, layer, options)?;
            let mut out = Vec::with_capacity(hits.len());
            for (i, ((pair, crop), (id, _))) in pairs.into_iter().zip(crops).zip(hits).enumerate() {
                let correspondence = if with_correspondence {
                    Some(correspondence(model, &query.pixels, &pixels[i], layer)?)
                } else {
                    None
                };
                out.push(HitExplanation {
                    id: *id,
                    crop,
                    pair,
                    correspondence,
                });
            }
            Ok(out)
        })?
    }
}
