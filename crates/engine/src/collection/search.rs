//! Query by image: embed the query, ask the store for candidates, re-rank them with the model's
//! exact head, page.

use std::path::Path;

use image::RgbImage;
use lookalike_core::image::{decode_bytes, load_for_model, to_pixels};
use lookalike_core::{DecodeLimits, Preprocess};
use lookalike_index::{Filter, Metadata, PointId, Query};
use serde::Serialize;
use tch::Tensor;

use super::region::{Crop, UsedBox};
use super::{Collection, CollectionError};

/// What to search for.
#[derive(Debug, Clone, Default)]
pub struct SearchRequest {
    /// Hits to return.
    pub k: usize,
    /// Best hits to skip first (paging).
    pub offset: usize,
    /// Only images whose metadata match.
    pub filter: Filter,
    /// HNSW beam width; `None` for the store's default.
    pub ef: Option<usize>,
}

/// One match.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SearchHit {
    /// The image's id in the collection.
    pub id: PointId,
    /// Its file, as it was added.
    pub path: String,
    /// The store's score (higher is more similar; its scale depends on the metric).
    pub score: f32,
    /// The model's similarity `s` in [0, 1]: the calibrated probability of "same" when the
    /// model is calibrated, what `lookalike compare` says.
    pub similarity: f64,
    /// The head's exact similarity logit `ℓ` (higher is more alike). Hits are ranked by it.
    pub logit: f64,
    /// The model's decision: `d < threshold`.
    pub same: bool,
    /// Its metadata (`label`, `sha256`, `width`, `height`, and the user's own keys).
    pub metadata: Metadata,
}

/// A page of hits, and whether the query is like anything in the collection.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SearchResults {
    /// The hits, best first.
    pub hits: Vec<SearchHit>,
    /// Where the best match falls among the catalogue's own nearest neighbours (`None` while
    /// the collection is too small to judge, or nothing matched).
    pub novelty: Option<super::Novelty>,
    /// Which shards and replica gave these hits.
    pub provenance: Provenance,
}

/// Where one answer's hits came from, told with the answer itself (not asked of the store
/// afterwards, when another request may have changed it).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Provenance {
    /// Shards that did not answer (a sharded store opened with `partial_ok`), as
    /// `shard N (URL): why`; empty when the answer is whole.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub missing_shards: Vec<String>,
    /// How far behind its primary the standby that answered was; `None` when the primary did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replica_lag: Option<lookalike_index::ReplicaLag>,
}

impl Provenance {
    /// Whether some shard's hits are missing.
    pub fn partial(&self) -> bool {
        !self.missing_shards.is_empty()
    }

    /// Adds another answer's: every missing shard once, and the larger lag.
    pub fn merge(&mut self, other: Provenance) {
        for shard in other.missing_shards {
            if !self.missing_shards.contains(&shard) {
                self.missing_shards.push(shard);
            }
        }
        self.replica_lag = match (self.replica_lag, other.replica_lag) {
            (Some(a), Some(b)) => Some(if b.bytes > a.bytes || b.seconds > a.seconds {
                b
            } else {
                a
            }),
            (a, b) => a.or(b),
        };
    }
}

/// A query image as the model sees it: the preprocessed crop (for overlays) and its pixels
/// `[1, 3, H, W]`. Decoded once, used to search and to explain.
#[derive(Debug)]
pub struct QueryImage {
    /// The resized and cropped image.
    pub crop: RgbImage,
    /// Its float pixels.
    pub pixels: Tensor,
}

impl QueryImage {
    /// An image file.
    pub fn from_file(
        path: &Path,
        limits: &DecodeLimits,
        preprocess: &Preprocess,
    ) -> Result<Self, CollectionError> {
        let (crop, pixels) = load_for_model(path, limits, preprocess)?;
        Ok(QueryImage { crop, pixels })
    }

    /// An image file, cut to `crop` first; returns the box used too.
    pub fn from_file_cropped(
        path: &Path,
        limits: &DecodeLimits,
        preprocess: &Preprocess,
        crop: Crop,
    ) -> Result<(Self, Option<UsedBox>), CollectionError> {
        let bytes = std::fs::read(path).map_err(|e| CollectionError::io(path, e))?;
        Self::from_bytes_cropped(
            &bytes,
            &path.display().to_string(),
            limits,
            preprocess,
            crop,
        )
    }

    /// Uploaded bytes, cut to `crop` first; returns the box used too.
    pub fn from_bytes_cropped(
        bytes: &[u8],
        name: &str,
        limits: &DecodeLimits,
        preprocess: &Preprocess,
        crop: Crop,
    ) -> Result<(Self, Option<UsedBox>), CollectionError> {
        let (image, used) =
            super::region::apply(decode_bytes(bytes, Path::new(name), limits)?, crop)?;
        let crop = preprocess.apply(&image);
        let pixels = to_pixels(std::slice::from_ref(&crop))?;
        Ok((QueryImage { crop, pixels }, used))
    }

    /// Uploaded bytes; `name` says where they came from in errors.
    pub fn from_bytes(
        bytes: &[u8],
        name: &str,
        limits: &DecodeLimits,
        preprocess: &Preprocess,
    ) -> Result<Self, CollectionError> {
        let crop = preprocess.apply(&decode_bytes(bytes, Path::new(name), limits)?);
        let pixels = to_pixels(std::slice::from_ref(&crop))?;
        Ok(QueryImage { crop, pixels })
    }
}

impl Collection {
    /// The index vector of a query image (model work: runs on the caller's thread).
    pub fn vector_of(&self, query: &QueryImage) -> Result<Vec<f32>, CollectionError> {
        let e = self
            .models
            .with(|model| -> Result<Vec<f32>, CollectionError> {
                let pixels = query.pixels.f_to_device(model.backbone().device())?;
                let e = model.embed_pixels(&pixels)?.f_to_device(tch::Device::Cpu)?;
                Ok(Vec::try_from(&e.f_view([-1])?)?)
            })??;
        Ok(self.space.vector(&e))
    }

    /// The index vector of an image file.
    pub fn vector_of_image(&self, path: &Path) -> Result<Vec<f32>, CollectionError> {
        let query = QueryImage::from_file(path, &DecodeLimits::default(), &self.preprocess())?;
        self.vector_of(&query)
    }

    /// The images most like the one at `path`.
    pub async fn search_image(
        &self,
        path: &Path,
        request: &SearchRequest,
    ) -> Result<SearchResults, CollectionError> {
        let vector = self.vector_of_image(path)?;
        self.search_vector(vector, request).await
    }

    /// More like a stored image: its nearest neighbours, itself left out. `None` if there is no
    /// image `id`.
    pub async fn search_like(
        &self,
        id: PointId,
        request: &SearchRequest,
    ) -> Result<Option<SearchResults>, CollectionError> {
        let Some(point) = self.store.get(&[id]).await?.pop() else {
            return Ok(None);
        };
        // Ask for one more from the top, so that leaving the image itself out keeps the page full.
        let wider = SearchRequest {
            k: request.offset + request.k + 1,
            offset: 0,
            ..request.clone()
        };
        let found = self.search_vector(point.vector, &wider).await?;
        let others: Vec<SearchHit> = found.hits.into_iter().filter(|h| h.id != id).collect();
        let novelty = self.novelty(others.first().map(|h| h.logit));
        Ok(Some(SearchResults {
            hits: others
                .into_iter()
                .skip(request.offset)
                .take(request.k)
                .collect(),
            novelty,
            provenance: found.provenance,
        }))
    }

    /// The images nearest an index vector, re-ranked by the exact head's logit.
    pub async fn search_vector(
        &self,
        vector: Vec<f32>,
        request: &SearchRequest,
    ) -> Result<SearchResults, CollectionError> {
        let want = request.k + request.offset;
        if want == 0 {
            return Ok(SearchResults {
                hits: Vec::new(),
                novelty: None,
                provenance: Provenance::default(),
            });
        }
        let query = Query {
            vector: vector.clone(),
            k: self.space.candidates(want),
            offset: 0,
            filter: request.filter.clone(),
            ef: request.ef,
            with_vectors: true,
            with_metadata: true,
        };
        let answers = self.store.search_answers(&[query]).await?;
        let provenance = Provenance {
            missing_shards: answers.missing_shards,
            replica_lag: answers.replica_lag,
        };
        let candidates = answers.hits.into_iter().next().unwrap_or_default();
        let facts = self.models.facts();
        let mut hits: Vec<SearchHit> = candidates
            .into_iter()
            .map(|h| {
                let logit = h
                    .vector
                    .as_ref()
                    .map(|x| self.space.logit(&vector, x))
                    .unwrap_or(f64::NEG_INFINITY);
                let similarity = facts.scorer.similarity(logit).clamp(0.0, 1.0);
                let path = h
                    .metadata
                    .get("path")
                    .and_then(|p| p.as_str())
                    .unwrap_or_default()
                    .to_string();
                SearchHit {
                    id: h.id,
                    path,
                    score: h.score,
                    similarity,
                    logit,
                    same: 1.0 - similarity < facts.threshold,
                    metadata: h.metadata,
                }
            })
            .collect();
        // By the exact logit, which never saturates (a similarity can read 0.000 for every hit
        // of a photo from another domain); ties only for equal logits, then by id.
        hits.sort_by(|a, b| b.logit.total_cmp(&a.logit).then(a.id.cmp(&b.id)));
        let novelty = self.novelty(hits.first().map(|h| h.logit));
        Ok(SearchResults {
            hits: hits
                .into_iter()
                .skip(request.offset)
                .take(request.k)
                .collect(),
            novelty,
            provenance,
        })
    }
}
